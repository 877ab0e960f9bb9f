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

/* 区域名称: regions drill down, schools open their teachers (按学员查看); both look like
   links. A click is handled by the cellClicked callback. */
dagcomponentfuncs.RegionName = function (props) {
  var kind = props.data ? props.data.kind : null;
  var title = kind === "region" ? "点击查看下一级" : (kind === "school" ? "点击查看该校学员" : null);
  return React.createElement(
    "span",
    { className: title ? "drill" : "plain", title: title },
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

/* 操作 (学校管理, 教师管理): one link per action the server allows for the row (props.data.actions);
   a click hands the action's name to the grid's cellRendererData, read by the callbacks,
   which check it again on the server. */
dagcomponentfuncs.RowActions = function (props) {
  var actions = props.data && Array.isArray(props.data.actions) ? props.data.actions : [];
  return React.createElement(
    "span",
    { className: "row-actions" },
    actions.map(function (name) {
      return React.createElement(
        "button",
        {
          key: name,
          type: "button",
          className: "row-action" + (name === "删除" || name === "不通过" || name === "撤销" ? " danger" : ""),
          onClick: function () { props.setData(name); },
        },
        name
      );
    })
  );
};
