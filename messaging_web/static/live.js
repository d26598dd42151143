// Live conversations, around the page's one event stream (the htmx SSE extension on <body>, web/live_views.py):
// polling only while the stream is down, "is typing" sent and cleared, and the collision warning.
(function () {
  "use strict";
  var TYPING_EVERY_MS = 3000;
  var connected = false;
  var ended = false; // the server said bye (signed out, access lost): neither stream nor polls go on
  var fallbackTimer = null;
  var fallbackTicks = 0;

  function byId(id) { return document.getElementById(id); }
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // --- falling back to polls while the stream is down -------------------------------------------------
  function pollSeconds() {
    var el = byId("thread-poller") || byId("inbox-results");
    var seconds = el ? parseInt(el.getAttribute("data-poll-seconds"), 10) : 0;
    return seconds > 0 ? seconds : 3;
  }
  function pollOnce() {
    ["thread-poller", "inbox-results"].forEach(function (id) {
      var el = byId(id);
      if (el) window.htmx.trigger(el, "live-poll");
    });
    // The badge every fifth poll (15 s at the default 3 s), as before there was a stream.
    var badge = byId("unread-total");
    if (badge && fallbackTicks % 5 === 0) window.htmx.trigger(badge, "live-poll-badge");
    fallbackTicks += 1;
  }
  function startFallback() {
    if (fallbackTimer || ended) return;
    fallbackTimer = window.setInterval(function () {
      if (!connected && !ended) pollOnce();
    }, pollSeconds() * 1000);
  }
  function stopFallback() {
    if (fallbackTimer) window.clearInterval(fallbackTimer);
    fallbackTimer = null;
  }
  window.messagingLive = { isConnected: function () { return connected; } };

  document.addEventListener("htmx:sseOpen", function () {
    connected = true;
    stopFallback();
    document.body.setAttribute("data-live", "connected");
  });
  document.addEventListener("htmx:sseError", function () {
    connected = false;
    document.body.setAttribute("data-live", "reconnecting");
    // The browser reconnects by itself (with Last-Event-ID); polls cover the gap if that takes long.
    startFallback();
  });
  document.addEventListener("htmx:sseClose", function (event) {
    connected = false;
    if (event.detail && event.detail.type === "message") {
      ended = true;
      stopFallback();
      document.body.setAttribute("data-live", "ended");
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (typeof window.EventSource === "undefined") startFallback();
  });

  // --- "is typing": sent at most every 3 s while the composer changes; shown for a few seconds ----------
  var lastTypingSent = 0;
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field || field.id !== "content") return;
    var thread = byId("thread");
    var seen = document.querySelector("[data-composer-seen]");
    // A draft begins: the last message seen now is what a colleague's reply is compared with.
    if (seen && field.value.trim() && field.getAttribute("data-draft") !== "1") {
      var after = byId("thread-after");
      if (after) seen.value = after.value;
    }
    field.setAttribute("data-draft", field.value.trim() ? "1" : "0");
    if (!thread || !field.value.trim() || !connected) return;
    var now = Date.now();
    if (now - lastTypingSent < TYPING_EVERY_MS) return;
    lastTypingSent = now;
    var body = new FormData();
    body.append("csrf_token", csrfToken());
    window.fetch(thread.getAttribute("data-typing-url"), {
      method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
    }).catch(function () { /* typing is a courtesy: a lost signal costs nothing */ });
  });

  var typingTimer = null;
  function clearTyping() {
    var line = byId("typing");
    if (line) line.innerHTML = "";
  }

  // --- messages arriving: clear the typing line, warn of a colleague's reply during a draft ------------
  var warned = {};
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = (event.detail && event.detail.target) || event.target;
    if (!target) return;
    if (target.id === "typing") {
      var shown = target.querySelector("[data-seconds]");
      var seconds = shown ? parseInt(shown.getAttribute("data-seconds"), 10) || 5 : 5;
      if (typingTimer) window.clearTimeout(typingTimer);
      typingTimer = window.setTimeout(clearTyping, seconds * 1000);
      return;
    }
    if (target.id !== "messages") return;
    clearTyping();
    var thread = byId("thread");
    var field = byId("content");
    var seen = document.querySelector("[data-composer-seen]");
    var status = byId("composer-status");
    if (!thread || !field || !seen || !status || !field.value.trim()) return;
    var side = thread.getAttribute("data-viewer-side");
    var seenId = parseInt(seen.value, 10) || 0;
    target.querySelectorAll("li.side-" + side + ":not(.mine):not(.system):not(.deleted)").forEach(function (item) {
      var id = parseInt(item.getAttribute("data-message-id"), 10);
      if (id <= seenId || warned[id]) return;
      warned[id] = true;
      var sender = item.querySelector(".sender");
      var body = item.querySelector(".body");
      var box = document.createElement("div");
      box.className = "collision";
      box.setAttribute("role", "alert");
      var title = document.createElement("p");
      var strong = document.createElement("strong");
      strong.textContent = window.messagingText("colleagueReplied", { name: sender ? sender.textContent : window.messagingText("aColleague") });
      title.appendChild(strong);
      box.appendChild(title);
      if (body) {
        var quote = document.createElement("blockquote");
        quote.className = "collision-reply";
        quote.textContent = body.textContent.trim();
        box.appendChild(quote);
      }
      status.appendChild(box);
    });
  });
})();
