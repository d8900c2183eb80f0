// Small progressive enhancements; pages work without them. No inline handlers (CSP-friendly).
document.documentElement.classList.add("js");

// Under 768 px the main navigation folds behind its Menu button (CSS); the button opens it.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".nav-toggle");
  if (!toggle) return;
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.closest(".mainnav").classList.toggle("open", open);
  });
});
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("[data-autosubmit]") && el.form) el.form.requestSubmit();
});

// A form with data-confirm asks before it is sent (publish, retire, propose, terminate, approve):
// the message says what will happen. Capture phase, so a cancelled submit never reaches htmx.
document.addEventListener(
  "submit",
  (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);

// An editing grid (table.grid-edit) moves like a spreadsheet: Tab walks along a row, Enter or the
// down arrow goes to the same column in the next row, Shift+Enter or the up arrow to the previous
// one, and Escape puts back the value last saved (each cell saves on change, i.e. when it is left).
document.addEventListener("keydown", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.closest("table.grid-edit")) return;
  if (event.key === "Escape") {
    input.value = input.defaultValue;
    return;
  }
  const down = event.key === "ArrowDown" || (event.key === "Enter" && !event.shiftKey);
  const up = event.key === "ArrowUp" || (event.key === "Enter" && event.shiftKey);
  if (!down && !up) return;
  event.preventDefault();
  const cell = input.closest("td");
  const row = cell.parentElement;
  const column = Array.prototype.indexOf.call(row.cells, cell);
  const rows = Array.from(row.parentElement.rows);
  for (let i = rows.indexOf(row) + (down ? 1 : -1); i >= 0 && i < rows.length; i += down ? 1 : -1) {
    const next = rows[i].cells[column] && rows[i].cells[column].querySelector("input");
    if (next) {
      next.focus();
      next.select();
      return;
    }
  }
});
