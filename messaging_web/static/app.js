// Site-wide behaviour, loaded as a file so that the CSP needs no inline script.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // Every HTMX request carries the CSRF token as a header (Flask-WTF reads X-CSRFToken).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
  // An HTMX request that failed shows its reason instead of doing nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("flashes");
    if (!box) return;
    var xhr = event.detail.xhr;
    var text = window.messagingText("requestFailed", { status: xhr.status }, "The request failed (" + xhr.status + "). Please try again.");
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var msg = doc.querySelector(".flash, .error-page p:not(.status)");
    if (msg && msg.textContent.trim()) text = msg.textContent.trim();
    var div = document.createElement("div");
    div.className = "flash flash-error";
    div.setAttribute("role", "alert");
    div.textContent = text;
    box.appendChild(div);
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("flashes");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "flash flash-error";
    div.textContent = window.messagingText("unreachable", null, "The server could not be reached. Check your connection and try again.");
    box.appendChild(div);
  });
  // Buttons with data-confirm ask before they submit (no inline onclick under our CSP).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);
})();
