// The page's language in script: texts written by the server in the reader's language (#page-texts), the
// time-zone offer of a first sign-in, the language switcher, and relative times kept current.
(function () {
  "use strict";
  var texts = null;
  // messagingText("uploading", {percent: 40}): the server's words for `key`, its %(name)s filled in.
  window.messagingText = function (key, values, fallback) {
    if (texts === null) {
      var box = document.getElementById("page-texts");
      texts = box ? box.dataset : {};
    }
    var text = texts[key] || fallback || key;
    return text.replace(/%\((\w+)\)s/g, function (_, name) {
      return values && name in values ? String(values[name]) : "";
    });
  };

  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }

  function offerZone() {
    var offer = document.querySelector("[data-zone-offer]");
    var zone = browserZone();
    if (offer && zone && zone !== offer.getAttribute("data-current-zone")) {
      offer.querySelector("[data-browser-zone]").textContent = zone;
      var input = offer.querySelector("[data-zone-input]");
      input.value = zone;
      var keep = offer.querySelector("[data-zone-keep]");
      if (keep) keep.addEventListener("click", function () { input.value = offer.getAttribute("data-current-zone"); });
      offer.hidden = false;
    }
    var hint = document.querySelector("[data-browser-zone-hint]");
    if (hint && zone) {
      hint.querySelector("[data-browser-zone]").textContent = zone;
      hint.hidden = false;
    }
  }

  function languageSwitcher() {
    var form = document.querySelector("[data-language-switcher]");
    if (!form) return;
    var select = form.querySelector("select");
    var apply = form.querySelector("[data-language-apply]");
    if (apply) apply.classList.add("sr-only");  // with script the choice applies itself
    select.addEventListener("change", function () { form.submit(); });
  }

  // <time data-relative> says "3 minutes ago" in the page's language; rewritten each minute so it stays true.
  function refreshRelativeTimes(root) {
    if (!window.Intl || !Intl.RelativeTimeFormat) return;
    var format = new Intl.RelativeTimeFormat(document.documentElement.lang || "en", { numeric: "always" });
    var now = Date.now();
    (root || document).querySelectorAll("time[data-relative]").forEach(function (tag) {
      var seconds = (now - Date.parse(tag.getAttribute("datetime"))) / 1000;
      if (seconds >= 86400) { tag.textContent = tag.getAttribute("title"); tag.removeAttribute("data-relative"); return; }
      if (seconds < 60) return;  // "just now", as the server wrote it
      var text = seconds < 3600 ? format.format(-Math.floor(seconds / 60), "minute")
                                : format.format(-Math.floor(seconds / 3600), "hour");
      if (tag.textContent !== text) tag.textContent = text;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    offerZone();
    languageSwitcher();
    setInterval(refreshRelativeTimes, 60000);
  });
})();
