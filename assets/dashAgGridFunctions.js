/* Functions referenced by name from columnDefs ({"function": "name"}). */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

function displayedNumber(text) {
  /* "146999", "33.03%", "7.5" → number; "—", "--" or empty → null (missing). */
  if (text === null || text === undefined) { return null; }
  var n = parseFloat(String(text).replace("%", ""));
  return isNaN(n) ? null : n;
}

/* Sort the table's displayed numbers; a missing value stays last in both directions. */
dagfuncs.compareDisplayedNumbers = function (a, b, nodeA, nodeB, isDescending) {
  var x = displayedNumber(a), y = displayedNumber(b);
  if (x === null && y === null) { return 0; }
  if (x === null) { return isDescending ? -1 : 1; }
  if (y === null) { return isDescending ? 1 : -1; }
  return x - y;
};

/* Names in the order a Chinese reader expects (pinyin), not by code point. */
dagfuncs.compareChineseText = function (a, b) {
  return String(a || "").localeCompare(String(b || ""), "zh-CN");
};
