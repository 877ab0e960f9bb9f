/* 按学员查看 导出: ask the server; it answers with a download URL (up to 20,000 rows) or
   starts a background job whose file then appears in 导出管理. */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.yanxiu = Object.assign({}, window.dash_clientside.yanxiu, {
    requestExport: function (nCsv, nXlsx, state) {
      var ctx = window.dash_clientside.callback_context;
      if (!ctx.triggered_id || !state) {
        return window.dash_clientside.no_update;
      }
      var format = ctx.triggered_id === "st-export-job-xlsx" ? "xlsx" : "csv";
      var match = document.cookie.match(/(?:^|; )_csrf_token=([^;]*)/);
      var body = {
        table: "teachers", format: format, training: state.training || "",
        // A school picked in the table narrows the list to that school (the server checks it
        // lies inside the caller's scope).
        region: state.school ? "" : (state.region || ""), school: state.school || "",
        stage: state.stage || "", subject: state.subject || "",
        q: state.q || "", uncertified: state.uncertified || "include"
      };
      return fetch("/export/jobs", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json",
                  "X-CSRFToken": match ? decodeURIComponent(match[1]) : ""},
        body: JSON.stringify(body)
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
