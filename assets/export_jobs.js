/* 导出 of a table that may be large: send its stable download URL (built by the server,
   `data_access.download_tables.url_for`) to POST /export/jobs; the server checks the scope and
   answers with the URL to download at once (up to 20,000 rows) or starts a background job
   whose file then appears in 导出管理. Any download table's buttons can use it. */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.yanxiu = Object.assign({}, window.dash_clientside.yanxiu, {
    requestExport: function (nCsv, nXlsx, urls) {
      var ctx = window.dash_clientside.callback_context;
      if (!ctx.triggered_id || !urls) {
        return window.dash_clientside.no_update;
      }
      var format = /xlsx$/.test(ctx.triggered_id) ? "xlsx" : "csv";
      if (!urls[format]) {
        return window.dash_clientside.no_update;
      }
      var match = document.cookie.match(/(?:^|; )_csrf_token=([^;]*)/);
      return fetch("/export/jobs", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json",
                  "X-CSRFToken": match ? decodeURIComponent(match[1]) : ""},
        body: JSON.stringify({url: urls[format]})
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (j.mode === "inline") { window.location.assign(j.url); return ""; }
          if (j.mode === "job") {
            return "共 " + j.rows + " 条记录，已在后台生成导出文件，完成后请到【导出管理】下载。";
          }
          if (r.status === 429) { return "导出任务过多，请等已有任务完成后再试。"; }
          return j.error || "导出失败，请稍后重试。";
        });
      }).catch(function () { return "导出失败，请检查网络后重试。"; });
    }
});
