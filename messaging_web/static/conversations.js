// Conversation threads: keep each message once, and follow new messages when the reader is at the end.
(function () {
  "use strict";
  var nearEnd = true;
  function atEnd() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  }
  // A swap from a request names its target; one from the live stream fires on the element it fills.
  function targetOf(event) { return (event.detail && event.detail.target) || event.target; }
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (targetOf(event) && targetOf(event).id === "messages") nearEnd = atEnd();
  });
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (event.target && event.target.id === "messages") nearEnd = atEnd();
  });
  // A poll, a post and the live stream can all bring the same new message; the first copy stays.
  document.addEventListener("htmx:afterSwap", function (event) {
    var list = document.getElementById("messages");
    var target = targetOf(event);
    if (!list || !target || !list.contains(target) && target !== list) return;
    var seen = {};
    list.querySelectorAll("li[data-message-id]").forEach(function (item) {
      var id = item.getAttribute("data-message-id");
      if (seen[id]) item.remove(); else seen[id] = true;
    });
    if (target === list && nearEnd) {
      var composer = document.getElementById("composer");
      if (composer) composer.scrollIntoView({block: "end"});
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var composer = document.getElementById("composer");
    if (composer && document.getElementById("messages")) composer.scrollIntoView({block: "end"});
  });
})();
