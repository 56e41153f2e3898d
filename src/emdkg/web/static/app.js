// emdkg pages: small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Search suggestions: fill the shared <datalist> from /api/search as the user types.
  var list = document.getElementById("search-suggestions");
  var timer = null;
  var lastAsked = "";
  function suggest(input) {
    var q = input.value.trim();
    if (!list || q.length < 2 || q === lastAsked) return;
    lastAsked = q;
    fetch("/api/search?limit=8&q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (body) {
        if (input.value.trim() !== q) return;
        list.textContent = "";
        body.results.forEach(function (hit) {
          var option = document.createElement("option");
          option.value = hit.label;
          option.label = (hit.kind ? hit.kind + " · " : "") + hit.curie;
          list.appendChild(option);
        });
      })
      .catch(function () { /* suggestions are optional */ });
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest]"), function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { suggest(input); }, 150);
    });
  });

  // The query editor: line numbers, Tab indents, Ctrl/Cmd+Enter runs, examples load in place.
  var editor = document.getElementById("query");
  var lines = document.getElementById("editor-lines");
  var form = document.getElementById("query-form");
  if (!editor || !form) return;
  function renumber() {
    var n = editor.value.split("\n").length;
    var out = [];
    for (var i = 1; i <= n; i++) out.push(i);
    lines.textContent = out.join("\n");
    lines.scrollTop = editor.scrollTop;
  }
  editor.addEventListener("input", renumber);
  editor.addEventListener("scroll", function () { lines.scrollTop = editor.scrollTop; });
  editor.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.submit();
    } else if (event.key === "Tab" && !event.shiftKey) {
      event.preventDefault();
      var start = editor.selectionStart, end = editor.selectionEnd;
      editor.value = editor.value.slice(0, start) + "  " + editor.value.slice(end);
      editor.selectionStart = editor.selectionEnd = start + 2;
      renumber();
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll("a[data-example]"), function (link) {
    link.addEventListener("click", function (event) {
      var template = document.getElementById("example-" + link.getAttribute("data-example"));
      if (!template) return;
      event.preventDefault();
      editor.value = template.content.textContent;
      renumber();
      editor.focus();
    });
  });
  renumber();
})();
