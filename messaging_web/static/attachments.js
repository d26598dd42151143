// Attachments in the message composer: pick or drop files, see each one (or why it was refused), watch
// the upload progress. The server checks every file again by its content; this only spares a wasted upload.
(function () {
  "use strict";

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + (bytes === 1 ? " byte" : " bytes");
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(bytes < 10240 ? 1 : 0).replace(/\.0$/, "") + " KB";
    return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB";
  }

  function limits(widget) {
    return {
      maxFiles: parseInt(widget.getAttribute("data-max-files"), 10) || 10,
      maxSize: parseInt(widget.getAttribute("data-max-size"), 10) || 10485760,
      maxTotal: parseInt(widget.getAttribute("data-max-total"), 10) || 26214400,
      extensions: (widget.getAttribute("data-extensions") || "").split(",").filter(Boolean)
    };
  }

  function extensionOf(name) {
    var dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  }

  // The chosen files live in a DataTransfer so that picking twice, dropping and removing all add up;
  // the files refused on the way stay listed with their reason until the composer is sent.
  var chosen = new WeakMap();
  var refusedSoFar = new WeakMap();

  function selection(widget) {
    var transfer = chosen.get(widget);
    if (!transfer) {
      transfer = new DataTransfer();
      chosen.set(widget, transfer);
    }
    return transfer;
  }

  function input(widget) {
    return widget.querySelector("input[type=file]");
  }

  function render(widget, refusedNow) {
    var refused = (refusedSoFar.get(widget) || []).concat(refusedNow || []);
    refusedSoFar.set(widget, refused);
    var list = widget.querySelector(".attach-list");
    var transfer = selection(widget);
    list.textContent = "";
    Array.prototype.forEach.call(transfer.files, function (file, index) {
      var item = document.createElement("li");
      item.className = "attach-item";
      var name = document.createElement("span");
      name.className = "attach-name";
      name.textContent = file.name;
      var size = document.createElement("span");
      size.className = "muted";
      size.textContent = " " + formatSize(file.size) + " ";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link attach-remove";
      remove.setAttribute("data-index", String(index));
      remove.setAttribute("aria-label", "Remove " + file.name);
      remove.textContent = window.messagingText("remove", null, "Remove");
      item.appendChild(name);
      item.appendChild(size);
      item.appendChild(remove);
      list.appendChild(item);
    });
    refused.forEach(function (refusal) {
      var item = document.createElement("li");
      item.className = "attach-item attach-refused";
      item.setAttribute("role", "alert");
      item.textContent = refusal.name + ": " + refusal.reason;
      list.appendChild(item);
    });
    // The server's reasons from the last attempt are stale once the choice changes.
    var serverReasons = widget.querySelector(".attach-server-refusals");
    if (serverReasons) serverReasons.remove();
  }

  function addFiles(widget, files) {
    var transfer = selection(widget);
    var rule = limits(widget);
    var refused = [];
    var total = 0;
    Array.prototype.forEach.call(transfer.files, function (f) { total += f.size; });
    Array.prototype.forEach.call(files, function (file) {
      if (rule.extensions.length && rule.extensions.indexOf(extensionOf(file.name)) < 0) {
        refused.push({ name: file.name, reason: window.messagingText("refusedKind", null, "this kind of file is not accepted.") });
      } else if (file.size === 0) {
        refused.push({ name: file.name, reason: window.messagingText("refusedEmpty", null, "the file is empty.") });
      } else if (file.size > rule.maxSize) {
        refused.push({ name: file.name, reason: window.messagingText("refusedSize", { size: formatSize(file.size), limit: formatSize(rule.maxSize) }) });
      } else if (transfer.files.length >= rule.maxFiles) {
        refused.push({ name: file.name, reason: window.messagingText("refusedCount", { count: rule.maxFiles }) });
      } else if (total + file.size > rule.maxTotal) {
        refused.push({ name: file.name, reason: window.messagingText("refusedTotal", { limit: formatSize(rule.maxTotal) }) });
      } else {
        transfer.items.add(file);
        total += file.size;
      }
    });
    input(widget).files = transfer.files;
    render(widget, refused);
  }

  function widgetOf(node) {
    return node && node.closest ? node.closest("[data-attach]") : null;
  }

  document.addEventListener("change", function (event) {
    var widget = widgetOf(event.target);
    if (!widget || event.target.type !== "file") return;
    // The input now holds only the newly picked files; merge them into the selection.
    var picked = Array.prototype.slice.call(event.target.files);
    event.target.files = selection(widget).files;
    addFiles(widget, picked);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".attach-remove");
    var widget = widgetOf(button);
    if (!widget) return;
    var transfer = selection(widget);
    var keep = new DataTransfer();
    var drop = parseInt(button.getAttribute("data-index"), 10);
    Array.prototype.forEach.call(transfer.files, function (file, index) {
      if (index !== drop) keep.items.add(file);
    });
    chosen.set(widget, keep);
    input(widget).files = keep.files;
    render(widget, []);
  });

  // Drop anywhere on the composer form.
  function dropTarget(event) {
    var form = event.target.closest && event.target.closest("form");
    return form ? form.querySelector("[data-attach]") : null;
  }

  document.addEventListener("dragover", function (event) {
    var widget = dropTarget(event);
    if (!widget || !event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") < 0) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    widget.closest("form").classList.add("attach-dragging");
  });

  document.addEventListener("dragleave", function (event) {
    var widget = dropTarget(event);
    if (widget && !widget.closest("form").contains(event.relatedTarget)) {
      widget.closest("form").classList.remove("attach-dragging");
    }
  });

  document.addEventListener("drop", function (event) {
    var widget = dropTarget(event);
    if (!widget || !event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    widget.closest("form").classList.remove("attach-dragging");
    addFiles(widget, event.dataTransfer.files);
  });

  // Upload progress: htmx reports the XHR's upload events on the form that sent it.
  function progressOf(form) {
    return form && form.querySelector ? form.querySelector(".attach-progress") : null;
  }

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target;
    var bar = progressOf(form);
    var widget = form.querySelector && form.querySelector("[data-attach]");
    if (!bar || !widget || !selection(widget).files.length || !event.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    var label = form.querySelector(".attach-progress-label");
    if (label) {
      label.hidden = false;
      label.textContent = window.messagingText("uploading", { percent: bar.value }, "Uploading… " + bar.value + "%");
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var bar = progressOf(event.target);
    if (!bar) return;
    bar.hidden = true;
    var label = event.target.querySelector(".attach-progress-label");
    if (label) label.hidden = true;
  });

  // A composer swapped in fresh (after a post, or with the server's refusals) starts a new selection.
  document.addEventListener("htmx:load", function (event) {
    var root = event.detail && event.detail.elt;
    if (!root || !root.querySelectorAll) return;
    var widgets = root.matches && root.matches("[data-attach]") ? [root] : root.querySelectorAll("[data-attach]");
    Array.prototype.forEach.call(widgets, function (widget) {
      chosen.delete(widget);
      refusedSoFar.delete(widget);
    });
  });
})();
