// Template editors: the preview's sample values are kept per template in this browser (localStorage),
// so the values someone typed for a template are there again next time; "Reset" brings back the defaults.
(function () {
  "use strict";
  function refreshPreview(sample) {
    sample.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function setup() {
    var sample = document.getElementById("sample");
    if (!sample || !sample.dataset.sampleKey) return;
    var key = "template-sample:" + sample.dataset.sampleKey;
    var defaults = sample.value;
    var saved = null;
    try { saved = window.localStorage.getItem(key); } catch (e) { return; }
    if (saved !== null && saved !== sample.value) {
      sample.value = saved;
      refreshPreview(sample);
    }
    sample.addEventListener("input", function () {
      try { window.localStorage.setItem(key, sample.value); } catch (e) { /* storage full or disabled */ }
    });
    var reset = document.getElementById("sample-reset");
    if (reset) {
      reset.addEventListener("click", function () {
        try { window.localStorage.removeItem(key); } catch (e) { /* nothing stored */ }
        sample.value = defaults;
        refreshPreview(sample);
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
