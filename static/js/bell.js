// The bell's unread count, kept current over a socket of its own (`ws/notifications/`).
// Without JavaScript the bell is a link showing the count of the page's render.
(function () {
  "use strict";
  var SIGNED_OUT = 4401;
  var delay = 1000;

  function show(unread) {
    document.querySelectorAll("[data-bell-count]").forEach(function (el) {
      el.textContent = unread > 99 ? "99+" : String(unread);
      el.hidden = unread === 0;
    });
    document.querySelectorAll("[data-bell-unread-label]").forEach(function (el) {
      el.textContent = ", " + unread + " unread";
    });
  }

  function connect(bell, path) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + path);
    socket.addEventListener("open", function () {
      delay = 1000;
      bell.dataset.live = "open";
    });
    socket.addEventListener("message", function (event) {
      try {
        var data = JSON.parse(event.data);
        if (typeof data.unread === "number") show(data.unread);
      } catch (ignored) { /* not for the bell */ }
    });
    socket.addEventListener("close", function (event) {
      bell.dataset.live = "closed";
      if (event.code === SIGNED_OUT || (event.code >= 4000 && event.code < 5000)) return;
      setTimeout(function () { connect(bell, path); }, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var bell = document.querySelector("[data-bell-socket]");
    if (bell) connect(bell, bell.dataset.bellSocket);
  });
})();
