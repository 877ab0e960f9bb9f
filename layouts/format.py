"""Display helpers shared by layouts (numbers themselves are formatted by data_access.metrics)."""

import dash_ag_grid as dag
from dash import dcc

UNCERTIFIED_OPTIONS = [{"label": "包含", "value": "include"}, {"label": "不包含", "value": "exclude"}]
ALL = "全部"


def options(values, all_label: str = ALL) -> list[dict]:
    return [{"label": all_label, "value": ""}] + [{"label": v, "value": v} for v in values]


def grid_locale(no_rows: str = "暂无数据") -> dict:
    """AG Grid texts in Chinese (plain strings: templates are blocked as a script risk),
    including the ones only screen readers announce."""
    return {
        "noRowsToShow": no_rows,
        "loadingOoo": "加载中…",
        "loadingError": "加载出错",
        "page": "页",
        "of": "/",
        "to": "-",
        "more": "更多",
        "firstPage": "首页",
        "lastPage": "末页",
        "nextPage": "下一页",
        "previousPage": "上一页",
        "pageLastRowUnknown": "?",
        "pageSizeSelectorLabel": "每页条数:",
        "ariaPageSizeSelectorLabel": "每页条数",
        "ariaSortableColumn": "按回车键排序",
        "ariaSortAscending": "升序",
        "ariaSortDescending": "降序",
        "ariaSortNone": "未排序",
        "ariaRowSelect": "按空格键选择此行",
        # the checkboxes of grids with row selection (教师管理)
        "ariaRowDeselect": "按空格键取消选择此行",
        "ariaRowToggleSelection": "按空格键切换此行的选择",
        "ariaRowSelectAll": "按空格键切换全部行的选择",
        "ariaRowSelectionDisabled": "此行不可选择",
        "ariaHeaderSelection": "选择列",
        "ariaChecked": "已选中",
        "ariaUnchecked": "未选中",
        "ariaIndeterminate": "部分选中",
        "ariaHidden": "隐藏",
        "ariaVisible": "可见",
        "ariaSearch": "搜索",
        "ariaLabelColumnMenu": "列菜单",
        "ariaLabelCellEditor": "单元格编辑",
        "ariaLabelDialog": "对话框",
        "ariaLabelTooltip": "提示",
    }


def grid_options(empty: str = "暂无数据", page_size: int | None = None) -> dict:
    """The options every table shares; ``page_size`` turns on the grid's own paging (for
    lists that arrive whole)."""
    # No row animation: new numbers replace the old ones at once, with no fading rows left.
    # Every column is drawn (tables have a dozen at most), so none is missing from the page.
    options = {"domLayout": "autoHeight", "suppressCellFocus": True, "tooltipShowDelay": 200,
               "animateRows": False, "suppressColumnVirtualisation": True,
               "localeText": grid_locale(empty)}
    if page_size:
        options.update(pagination=True, paginationPageSize=page_size,
                       paginationPageSizeSelector=False)
    return options


DROPDOWN_LABELS = {
    "select_all": "全选",
    "deselect_all": "取消全选",
    "selected_count": "已选 {num_selected} 项",
    "search": "搜索",
    "clear_search": "清除搜索",
    "clear_selection": "清除选择",
    "no_options_found": "无匹配选项",
}


def dropdown(**kwargs):
    """dcc.Dropdown with its built-in texts in Chinese."""
    return dcc.Dropdown(labels=DROPDOWN_LABELS, **kwargs)


def data_grid(grid_id: str, columns: list[dict], row_id: str, *, empty: str = "暂无数据",
              page_size: int | None = None, **extra):
    """Every table of the app: AG Grid, read-only, server-ordered, texts in Chinese.
    ``page_size`` turns on the grid's own paging (for lists that arrive whole)."""
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        defaultColDef={"sortable": False, "resizable": True, "suppressMovable": True,
                       "wrapHeaderText": True, "autoHeaderHeight": True},
        dashGridOptions=grid_options(empty, page_size),
        getRowId=row_id,
        className="grid",
        **extra,
    )
