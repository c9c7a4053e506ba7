// Copy buttons: <button type="button" class="copy-button" data-copy-target="#id" hidden>Copy</button>.
// The button stays hidden without JavaScript (the text can still be selected by hand). The target's
// <code> elements are copied one per line, or its own text when it has none.
(function () {
  "use strict";

  const COPIED = "Copied";
  const SELECTED = "Selected: press Ctrl+C";
  const RESET_AFTER_MS = 3000;

  function textOf(target) {
    const codes = target.matches("code") ? [target] : Array.from(target.querySelectorAll("code"));
    const parts = codes.length ? codes.map((code) => code.textContent.trim()) : [target.textContent.trim()];
    return parts.join("\n");
  }

  function selectContents(target) {
    const selection = window.getSelection();
    selection.removeAllRanges();
    const range = document.createRange();
    range.selectNodeContents(target);
    selection.addRange(range);
  }

  function fallbackCopy(target) {
    selectContents(target);
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function show(button, label, state) {
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.textContent = label;
    button.dataset.copyState = state;
    window.clearTimeout(Number(button.dataset.resetTimer || 0));
    button.dataset.resetTimer = String(window.setTimeout(() => {
      button.textContent = button.dataset.label;
      delete button.dataset.copyState;
    }, RESET_AFTER_MS));
  }

  async function copy(button) {
    const target = document.querySelector(button.dataset.copyTarget);
    if (!target) return;
    const text = textOf(target);
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard API");
      await navigator.clipboard.writeText(text);
      show(button, COPIED, "copied");
    } catch (error) {
      if (fallbackCopy(target)) show(button, COPIED, "copied");
      else show(button, SELECTED, "selected");
    }
  }

  function enable(root) {
    root.querySelectorAll("button[data-copy-target][hidden]").forEach((button) => {
      button.hidden = false;
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy-target]");
    if (button) copy(button);
  });
  document.addEventListener("DOMContentLoaded", () => enable(document));
  document.addEventListener("htmx:load", (event) => enable(event.target));
})();
