/* Cell renderers for dash-ag-grid (looked up by name from columnDefs). */
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
  window.dashAgGridComponentFunctions || {});

/* 学习进度: a bar with its percentage, or — with a tooltip when 专任教师数 is missing. */
dagcomponentfuncs.ProgressBar = function (props) {
  var value = props.data ? props.data.progress_value : null;
  if (value === null || value === undefined) {
    return React.createElement(
      "span",
      { className: "missing", title: "缺少专任教师数" },
      props.value
    );
  }
  var width = Math.max(0, Math.min(100, value));
  return React.createElement("div", { className: "progress-cell" }, [
    React.createElement(
      "div",
      { className: "progress-track", key: "track" },
      React.createElement("div", {
        className: "progress-fill",
        style: { width: width + "%" },
      })
    ),
    React.createElement("span", { className: "progress-text", key: "text" }, props.value),
  ]);
};

/* 区域名称: drillable rows look like links; a click is handled by the cellClicked callback. */
dagcomponentfuncs.RegionName = function (props) {
  var drill = props.data && props.data.kind === "region";
  return React.createElement(
    "span",
    { className: drill ? "drill" : "plain", title: drill ? "点击查看下一级" : null },
    props.value
  );
};

/* 导出管理: a download link for finished jobs (the URL comes from the server). */
dagcomponentfuncs.DownloadLink = function (props) {
  var url = props.data ? props.data.download_url : null;
  if (!url) {
    return React.createElement("span", { className: "missing" }, props.value || "");
  }
  return React.createElement("a", { href: url, className: "download-link" }, "下载");
};
