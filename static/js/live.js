// Live pages (htmx's ws extension): show the "updates paused" marker while the socket is down,
// and tell a bot page's socket which tab is on screen, so its updates refresh what is shown.
(function () {
  "use strict";
  var socket = null;
  var sentTab = null;
  var FINAL = { 4401: "Signed out: reload the page to sign in again.", 4404: "This bot is gone: reload the page." };

  function marker(show, text) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      if (text) el.textContent = text;
      el.hidden = !show;
    });
  }

  function sendTab() {
    var panel = document.querySelector("[data-live-tab]");
    if (!socket || !panel || panel.dataset.liveTab === sentTab) return;
    sentTab = panel.dataset.liveTab;
    socket.send(JSON.stringify({ tab: sentTab }));
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    sentTab = null; // a new connection knows nothing yet
    marker(false);
    sendTab();
  });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event && event.detail.event.code;
    marker(true, FINAL[code]);
  });
  document.addEventListener("htmx:wsError", function () { marker(true); });
  // The ws extension swaps each top-level element of a message by itself, so a table row (which
  // must ride in a <template>, or the parser drops it outside a table) would lose its id. htmx's
  // own swap reads out-of-band elements inside templates too: the whole message goes through it.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var source = event.target;
    var message = event.detail.message;
    if (typeof message !== "string" || !window.htmx) return;
    event.preventDefault();
    htmx.swap(source, message, { swapStyle: "none" }, { contextElement: source });
    htmx.trigger(source, "htmx:wsAfterMessage", { message: message, socketWrapper: event.detail.socketWrapper });
  });
  // A re-rendered form keeps what the trader already set in it: a ticked "Sell the base" or an
  // open emergency panel must survive the socket's (re)connect, or Stop would do less than asked.
  function controls(root) {
    return Array.prototype.slice.call(root.querySelectorAll("input[type=checkbox], details"));
  }
  function sameControl(a, b) {
    return a.tagName === b.tagName && a.getAttribute("name") === b.getAttribute("name");
  }
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var incoming = event.detail.fragment.firstElementChild;
    if (!incoming) return;
    var before = controls(event.detail.target);
    var after = controls(incoming);
    if (before.length !== after.length) return; // another form altogether: nothing carries over
    before.forEach(function (el, i) {
      if (!sameControl(el, after[i])) return;
      if (el.tagName === "DETAILS") after[i].open = el.open;
      else after[i].checked = el.checked;
    });
  });
  document.addEventListener("htmx:afterSettle", sendTab);
  // A tab rendered for the socket must not replace the panel while the trader is switching
  // tabs (the click's own answer brings fresh content), nor show another tab than the one open.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var shown = event.detail.target.getAttribute("data-live-tab");
    var incoming = event.detail.fragment.firstElementChild;
    if (!shown || !incoming) return;
    if (event.detail.target.querySelector(".htmx-request") || incoming.getAttribute("data-live-tab") !== shown) {
      event.detail.shouldSwap = false;
    }
  });
})();
