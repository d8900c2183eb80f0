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
