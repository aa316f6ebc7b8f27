// s2svpn: the one bit of hand-written JavaScript — the copy button for the generated PSK.
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
