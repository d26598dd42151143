// Conversation threads: keep each message once, and follow new messages when the reader is at the end.
(function () {
  "use strict";
  var nearEnd = true;
  function atEnd() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "messages") nearEnd = atEnd();
  });
  // A poll and a post can both bring the same new message; the first copy stays.
  document.addEventListener("htmx:afterSwap", function (event) {
    var list = document.getElementById("messages");
    if (!list || !event.detail.target || !list.contains(event.detail.target) && event.detail.target !== list) return;
    var seen = {};
    list.querySelectorAll("li[data-message-id]").forEach(function (item) {
      var id = item.getAttribute("data-message-id");
      if (seen[id]) item.remove(); else seen[id] = true;
    });
    if (event.detail.target === list && nearEnd) {
      var composer = document.getElementById("composer");
      if (composer) composer.scrollIntoView({block: "end"});
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var composer = document.getElementById("composer");
    if (composer && document.getElementById("messages")) composer.scrollIntoView({block: "end"});
  });
})();
