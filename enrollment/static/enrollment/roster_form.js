// The roster form: the month field's earliest and latest months (and their explanation) follow the
// contract chosen. Without the script the page shows the first contract's; the server checks anyway.
document.addEventListener("DOMContentLoaded", () => {
  const select = document.querySelector("select[data-month-bounds]");
  if (!select) return;
  const months = JSON.parse(select.dataset.monthBounds);
  const month = select.form.querySelector("input[name=month]");
  const help = document.getElementById(`${month.id}_helptext`);
  const follow = () => {
    const bounds = months[select.value];
    if (!bounds) return;
    month.min = bounds.min;
    month.max = bounds.max;
    if (help) help.textContent = bounds.text;
  };
  select.addEventListener("change", follow);
  follow();
});
