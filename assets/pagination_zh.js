/* dash-bootstrap-components' Pagination carries fixed English labels for screen readers
   ("First", "Previous", "(current)" …) that no prop can change: say them in Chinese as the
   pager appears. React never rewrites these text nodes (they never change), so the
   translation holds. */
(function () {
  var LABELS = {"First": "首页", "Previous": "上一页", "Next": "下一页", "Last": "末页",
                "(current)": "（当前页）", "More": "更多"};
  function translate(root) {
    var spans = root.querySelectorAll ? root.querySelectorAll(".pagination .visually-hidden") : [];
    for (var i = 0; i < spans.length; i++) {
      var text = spans[i].textContent.trim();
      if (LABELS[text]) { spans[i].textContent = LABELS[text]; }
    }
  }
  var observer = new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      for (var j = 0; j < records[i].addedNodes.length; j++) {
        var node = records[i].addedNodes[j];
        if (node.nodeType === 1) { translate(node.parentNode || node); }
      }
    }
  });
  function start() {
    translate(document);
    observer.observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
