// s2svpn's hand-written JavaScript (no inline scripts or handlers: the Content-Security-Policy
// allows none): the copy button for the generated PSK, confirmations, keeping state across swaps.

// A form with data-confirm asks before it is sent (instead of an inline onsubmit handler).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  const status = button.parentElement.querySelector(".copy-status");
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.value);
    if (status) status.textContent = "Copied.";
  } catch (err) {
    source.select();
    const ok = document.execCommand && document.execCommand("copy");
    if (status) status.textContent = ok ? "Copied." : "Select the key and press Ctrl+C.";
  }
});

// The progress page re-renders itself every second (htmx polling, outerHTML swap). Keep what the
// user was doing: the log panels they opened and the element that had the keyboard focus.
let kept = { open: [], focus: null };
document.addEventListener("htmx:beforeSwap", () => {
  kept = {
    open: [...document.querySelectorAll("details[open][id]")].map((d) => d.id),
    focus: document.activeElement && document.activeElement.id ? document.activeElement.id : null,
  };
});
document.addEventListener("htmx:afterSettle", () => {
  for (const id of kept.open) {
    const details = document.getElementById(id);
    if (details) details.open = true;
  }
  if (kept.focus && (!document.activeElement || document.activeElement === document.body)) {
    const target = document.getElementById(kept.focus);
    if (target) target.focus({ preventScroll: true });
  }
});
