/* Client-side callbacks (namespace "yanxiu"): pure UI changes that need no server round trip. */
/* Left menu: highlight the entry of the current screen. The same rule as
   layouts.shell.menu_entry_active: the training list also owns the statistics pages. */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.yanxiu = Object.assign({}, window.dash_clientside.yanxiu, {
  highlightMenu: function (pathname, ids) {
    var path = pathname || "/";
    return (ids || []).map(function (id) {
      var href = id.href;
      var active = href === "/"
        ? (path === "/" || path.indexOf("/training/") === 0)
        : (path === href || path.indexOf(href + "/") === 0);
      return active ? "menu-item active" : "menu-item";
    });
  }
});

/* 统计详情: show the panel, search box and export buttons of the chosen tab. */
window.dash_clientside.yanxiu = Object.assign({}, window.dash_clientside.yanxiu, {
  showViewPanels: function (tab) {
    var shown = {}, hidden = {display: "none"};
    var teachers = tab === "teachers";
    return [teachers ? hidden : shown, teachers ? shown : hidden, teachers ? shown : hidden,
            teachers ? hidden : shown, teachers ? shown : hidden];
  }
});
