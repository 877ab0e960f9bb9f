/* The 大屏 (served only by the kiosk app under /screen/): canvas scaling, the highlighted
   sub-region and the clock (client-side callbacks, namespace "wall"), the 数据连接中断 note
   and the planned reload. */
(function () {
  "use strict";
  var WIDTH = 1920, HEIGHT = 1080;
  var WEEKDAYS = ["日", "一", "二", "三", "四", "五", "六"];

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.wall = {
    rotate: function (n, data, figure) {
      var none = window.dash_clientside.no_update;
      if (!data || !data.ranking || !data.ranking.length) {
        return ["—", "", "—", "—", "—", none];
      }
      var ranking = data.ranking;
      var i = (n || 0) % ranking.length;
      var unit = ranking[i];
      var out = none;
      if (figure && figure.data && figure.data.length &&
          figure.data[0].y && figure.data[0].y.length === ranking.length) {
        // Bars run bottom-up (the best on top): unit i is bar length-1-i.
        var colors = ranking.map(function (_, k) {
          return k === ranking.length - 1 - i ? "#ffc53d" : "#38d1ff";
        });
        var trace = Object.assign({}, figure.data[0], {
          marker: Object.assign({}, figure.data[0].marker, {color: colors})
        });
        out = Object.assign({}, figure, {data: [trace]});
      }
      return [unit.name, "第 " + unit.rank + " 名 / 共 " + data.units + " 个" + data.unit_label,
              unit.share_text, unit.participants, unit.completed, out];
    },
    clock: function () {
      var d = new Date();
      return d.getFullYear() + "年" + pad(d.getMonth() + 1) + "月" + pad(d.getDate()) + "日 星期" +
        WEEKDAYS[d.getDay()] + " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" +
        pad(d.getSeconds());
    }
  };

  /* The 1920×1080 canvas, scaled to the window with its aspect kept and centred. */
  function fit() {
    var canvas = document.getElementById("wall-canvas");
    if (!canvas) { return false; }
    var scale = Math.min(window.innerWidth / WIDTH, window.innerHeight / HEIGHT);
    canvas.style.transform = "translate(" + (window.innerWidth - WIDTH * scale) / 2 + "px," +
      (window.innerHeight - HEIGHT * scale) / 2 + "px) scale(" + scale + ")";
    return true;
  }
  window.addEventListener("resize", fit);
  var fitting = setInterval(function () { if (fit()) { clearInterval(fitting); } }, 50);

  /* 数据连接中断: a poll that fails (no answer, or the server's 5xx) marks the page; the next
     answer clears it. The numbers on screen stay as they were. */
  var realFetch = window.fetch.bind(window);
  function polls(input) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    return url.indexOf("_dash-update-component") !== -1;
  }
  function mark(offline) {
    document.documentElement.classList.toggle("wall-is-offline", offline);
  }
  window.fetch = function (input, init) {
    var watched = polls(input);
    return realFetch(input, init).then(function (response) {
      if (watched) { mark(response.status >= 500); }
      return response;
    }, function (error) {
      if (watched) { mark(true); }
      throw error;
    });
  };

  /* The planned reload (a fresh page every few hours keeps a screen running for weeks). It
     happens only when the server answers: a reload while it is unreachable would replace
     the last numbers with the browser's error page. */
  function reloadWhenReachable() {
    realFetch(window.location.pathname, {cache: "no-store", credentials: "same-origin"})
      .then(function (response) {
        if (response.ok) { window.location.reload(); } else { retry(); }
      }, retry);
  }
  function retry() { setTimeout(reloadWhenReachable, 60 * 1000); }
  var planning = setInterval(function () {
    var config = document.getElementById("wall-config");
    if (!config) { return; }
    clearInterval(planning);
    var ms = parseInt(config.getAttribute("data-reload-ms"), 10);
    if (ms > 0) { setTimeout(reloadWhenReachable, ms); }
  }, 200);
})();
