// The composer's saved-reply picker: "Saved replies" or "/" in an empty message opens it; typing searches (the
// list comes from the server, filled in for this conversation); arrows and Enter choose; Esc closes.
(function () {
  "use strict";

  function parts(node) {
    var box = node && node.closest ? node.closest("[data-saved-replies]") : null;
    if (!box) return null;
    var form = box.closest("form");
    return {
      box: box, picker: box.querySelector(".saved-reply-picker"), search: box.querySelector("input[type=search]"),
      toggle: box.querySelector("[data-saved-replies-open]"), textarea: form && form.querySelector("textarea")
    };
  }

  function open(p) {
    p.picker.hidden = false;
    p.toggle.setAttribute("aria-expanded", "true");
    p.search.focus();
  }

  function close(p, refocus) {
    p.picker.hidden = true;
    p.toggle.setAttribute("aria-expanded", "false");
    if (refocus && p.textarea) p.textarea.focus();
  }

  function insert(p, text) {
    var area = p.textarea;
    var start = area.selectionStart || 0, end = area.selectionEnd || 0;
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    area.selectionStart = area.selectionEnd = start + text.length;
    area.dispatchEvent(new Event("input", { bubbles: true }));
    close(p, true);
  }

  function choices(p) {
    return Array.prototype.slice.call(p.box.querySelectorAll(".saved-reply-insert"));
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-saved-replies-open]");
    if (toggle) {
      var p = parts(toggle);
      if (p.picker.hidden) open(p); else close(p, true);
      return;
    }
    var choice = event.target.closest && event.target.closest(".saved-reply-insert");
    if (choice) insert(parts(choice), choice.getAttribute("data-text"));
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.matches && target.matches("#composer textarea") && event.key === "/" && !target.value) {
      var composer = parts(target.form.querySelector("[data-saved-replies]"));
      if (composer) {
        event.preventDefault();
        open(composer);
      }
      return;
    }
    var p = parts(target);
    if (!p || p.picker.hidden) return;
    var list = choices(p);
    var at = list.indexOf(target);
    if (event.key === "Escape") {
      event.preventDefault();
      close(p, true);
    } else if (event.key === "ArrowDown" && list.length) {
      event.preventDefault();
      list[Math.min(at + 1, list.length - 1)].focus();
    } else if (event.key === "ArrowUp" && list.length) {
      event.preventDefault();
      if (at <= 0) p.search.focus(); else list[at - 1].focus();
    } else if (event.key === "Enter" && target === p.search) {
      // Enter in the search chooses the first reply (it never sends the message): the first of the answer to
      // what is typed now, not of a list on screen that may be a keystroke behind.
      event.preventDefault();
      // Asked directly rather than through the htmx swap: a swap of an earlier answer (the list shown on focus,
      // a debounced keystroke) may still settle after this Enter and would pick the wrong reply.
      var url = new URL(p.search.getAttribute("hx-get"), window.location.href);
      url.searchParams.set("q", p.search.value);
      var query = p.search.value;
      fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (p.picker.hidden || p.search.value !== query) return;
          var answer = document.createElement("template");
          answer.innerHTML = html;
          var first = answer.content.querySelector(".saved-reply-insert");
          if (first) insert(p, first.getAttribute("data-text"));
        });
    }
  });
})();
