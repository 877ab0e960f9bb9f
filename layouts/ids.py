"""Every component id of the app, in one place."""

from enum import StrEnum


class Shell(StrEnum):
    NAV = "shell-nav"  # dcc.Location used by callbacks to navigate without a reload
    SCOPE_SWITCHER = "shell-scope-switcher"
    SCOPE_SWITCH_RELOAD = "shell-scope-reload"
    MENU_ITEM = "shell-menu-item"  # pattern-matching id type: {"type": MENU_ITEM, "href": …}
    PAGES_LOCATION = "_pages_location"  # Dash pages' own dcc.Location (in page_container)


class TrainingList(StrEnum):
    STATUS = "tl-status"
    DATE_RANGE = "tl-date-range"
    KEYWORD = "tl-keyword"
    PAGE = "tl-page"
    GRID = "tl-grid"
    PAGER = "tl-pager"
    TOTAL = "tl-total"


class Stats(StrEnum):
    HASH = "st-hash"  # the URL hash holds the chart's 指标选择 (changing it re-renders nothing)
    CARDS = "st-cards"
    HELP = "st-help"
    CHART = "st-chart"
    CHART_DATA = "st-chart-data"
    DISTRIBUTION = "st-distribution"  # 各学段/学科参训人数分布 (a school's page only)
    DISTRIBUTION_PANEL = "st-distribution-panel"
    CHART_HINT = "st-chart-hint"
    INDICATORS = "st-indicators"
    TABS = "st-tabs"
    REGION_PANEL = "st-region-panel"
    TEACHER_PANEL = "st-teacher-panel"
    NAME = "st-name"
    TEACHER_GRID = "st-teacher-grid"
    PAGER = "st-pager"
    PAGE_SIZE = "st-page-size"
    JUMP = "st-jump"
    GO = "st-go"
    SUMMARY = "st-summary"
    EXPORT_XLSX = "st-export-xlsx"
    EXPORT_JOB_CSV = "st-export-job-csv"
    EXPORT_JOB_XLSX = "st-export-job-xlsx"
    EXPORT_MESSAGE = "st-export-message"
    # The stable download URLs of the teacher list as shown ({"csv": …, "xlsx": …}), set by
    # the server; the 导出 buttons send them to POST /export/jobs.
    TEACHER_EXPORT_URLS = "st-teacher-export-urls"
    # The page's own navigation: every output of `navigate` lies inside the page, so the
    # renderer never calls it when the page is (re)built.
    NAV = "st-nav"
    STATE = "st-state"  # the whole view state named by the URL
    REGION_STATE = "st-region-state"  # its part the cards, chart and region table depend on
    TEACHER_STATE = "st-teacher-state"  # its part the teacher list depends on (None: not shown)
    SCHOOL_FILTER = "st-school-filter"
    SCHOOL_FILTER_BOX = "st-school-filter-box"
    CLEAR_SCHOOL = "st-clear-school"
    REGION_EXPORTS = "st-region-exports"
    TEACHER_EXPORTS = "st-teacher-exports"
    HEADER = "st-header"
    ERROR = "st-error"
    UNCERTIFIED = "st-uncertified"
    BREADCRUMB = "st-breadcrumb"
    STAGE = "st-stage"
    SUBJECT = "st-subject"
    FILTER = "st-filter"
    EXPORT = "st-export"
    GRID = "st-region-grid"
    BODY = "st-body"


class Codes(StrEnum):
    ROLE = "codes-role"
    TARGET = "codes-target"
    ISSUE = "codes-issue"
    ISSUED = "codes-issued"
    GRID = "codes-grid"
    MESSAGE = "codes-message"
    RELOAD = "codes-reload"


class Admins(StrEnum):
    GRID = "admins-grid"
    CONFIRM = "admins-confirm"
    PENDING = "admins-pending"
    MESSAGE = "admins-message"
    RELOAD = "admins-reload"


class Audit(StrEnum):
    GRID = "audit-grid"
    LOAD = "audit-load"


class WallAdmin(StrEnum):
    """大屏管理: the kiosk links of the wall screen."""

    LABEL = "wa-label"
    REGION = "wa-region"
    TRAINING = "wa-training"
    EXPIRES = "wa-expires"
    ISSUE = "wa-issue"
    ISSUED = "wa-issued"  # the new link, shown once
    ISSUED_VALUE = "wa-issued-value"
    MESSAGE = "wa-message"
    LOAD = "wa-load"  # fills the form's choices when the page opens
    RELOAD = "wa-reload"
    GRID = "wa-grid"
    CONFIRM = "wa-confirm"
    PENDING = "wa-pending"  # the link the 撤销 dialog is about (checked again on submit)


class Exports(StrEnum):
    GRID = "exports-grid"
    TICK = "exports-tick"


class Activation(StrEnum):
    NAV = "act-nav"
    STATE = "act-state"  # the whole view state named by the URL
    TABLE_STATE = "act-table-state"  # its part the table depends on (the region)
    LIST_STATE = "act-list-state"  # its part the 未激活学校 list depends on (None: not shown)
    ERROR = "act-error"
    BODY = "act-body"
    BREADCRUMB = "act-breadcrumb"
    TABS = "act-tabs"
    TABLE_PANEL = "act-table-panel"
    TABLE_TITLE = "act-table-title"
    EXPORT_CSV = "act-export-csv"
    EXPORT_XLSX = "act-export-xlsx"
    GRID = "act-grid"
    SCHOOL_BOX = "act-school-box"
    SCHOOL_GRID = "act-school-grid"
    NOTE = "act-note"
    LIST_PANEL = "act-list-panel"
    SEARCH = "act-search"
    SEARCH_GO = "act-search-go"
    LIST_EXPORT_CSV = "act-list-export-csv"
    LIST_EXPORT_XLSX = "act-list-export-xlsx"
    LIST_EXPORT_URLS = "act-list-export-urls"
    LIST_EXPORT_MESSAGE = "act-list-export-message"
    ISSUED = "act-issued"
    MESSAGE = "act-message"
    RELOAD = "act-reload"
    LIST_GRID = "act-list-grid"
    SUMMARY = "act-summary"
    PAGER = "act-pager"
    PAGE_SIZE = "act-page-size"
class Schools(StrEnum):
    ADD = "schools-add"
    EXPORT_CSV = "schools-export-csv"
    EXPORT_XLSX = "schools-export-xlsx"
    REGION = "schools-region"
    KIND = "schools-kind"
    URBAN = "schools-urban"
    ACTIVATED = "schools-activated"
    QUERY = "schools-query"
    MESSAGE = "schools-message"
    ISSUED = "schools-issued"
    RELOAD = "schools-reload"
    GRID = "schools-grid"
    TOTAL = "schools-total"
    PAGER = "schools-pager"
    FORM = "schools-form"
    FORM_TITLE = "schools-form-title"
    FORM_MESSAGE = "schools-form-message"
    FORM_SAVE = "schools-form-save"
    FORM_CANCEL = "schools-form-cancel"
    EDITING = "schools-editing"  # the school being edited (None: a new one)
    DELETE = "schools-delete"
    DELETE_TEXT = "schools-delete-text"
    DELETE_CONFIRM = "schools-delete-confirm"
    DELETE_CANCEL = "schools-delete-cancel"
    DELETING = "schools-deleting"
    MOVE = "schools-move"
    MOVE_TEXT = "schools-move-text"
    MOVE_TARGET = "schools-move-target"
    MOVE_MESSAGE = "schools-move-message"
    MOVE_CONFIRM = "schools-move-confirm"
    MOVE_CANCEL = "schools-move-cancel"
    MOVING = "schools-moving"

    @staticmethod
    def field(key: str) -> str:
        """The form control of a school field (data_access.schools.FORM_FIELDS)."""
        return f"schools-field-{key}"

    @staticmethod
    def feedback(key: str) -> str:
        """The message next to a form field."""
        return f"schools-feedback-{key}"


class TeacherCounts(StrEnum):
    RELOAD = "tc-reload"  # counter: the figures are read again after an import
    UPDATED = "tc-updated"
    UPLOAD = "tc-upload"
    UPLOAD_MESSAGE = "tc-upload-message"
    PREVIEW_PANEL = "tc-preview-panel"
    PREVIEW_SUMMARY = "tc-preview-summary"
    PREVIEW_ERRORS = "tc-preview-errors"
    PREVIEW_GRID = "tc-preview-grid"
    CONFIRM = "tc-confirm"
    CANCEL = "tc-cancel"
    RESULT = "tc-result"
    MISSING_SUMMARY = "tc-missing-summary"
    MISSING_GRID = "tc-missing-grid"
    FIGURES_SUMMARY = "tc-figures-summary"
    FIGURES_GRID = "tc-figures-grid"


class SchoolInfo(StrEnum):
    RELOAD = "si-reload"  # counter: the school is read again after a save
    BANNER = "si-banner"
    VIEW = "si-view"
    FORM = "si-form"
    EDIT = "si-edit"
    SAVE = "si-save"
    CANCEL = "si-cancel"
    MESSAGE = "si-message"

    @staticmethod
    def value(key: str) -> str:
        """The shown value of a school field (view mode)."""
        return f"si-value-{key}"

    @staticmethod
    def field(key: str) -> str:
        """The form control of an editable field (data_access.schools.INFO_EDITABLE)."""
        return f"si-field-{key}"

    @staticmethod
    def feedback(key: str) -> str:
        return f"si-feedback-{key}"


class Certification(StrEnum):
    STATUS = "ct-status"
    TITLE = "ct-title"
    STAGE = "ct-stage"
    RELOAD = "ct-reload"
    LOCKED = "ct-locked"  # the note shown while the school's 城乡类型 is empty
    MESSAGE = "ct-message"
    BATCH_PASS = "ct-batch-pass"
    BATCH_REJECT = "ct-batch-reject"
    EXPORT_CSV = "ct-export-csv"
    EXPORT_XLSX = "ct-export-xlsx"
    GRID = "ct-grid"
    TOTAL = "ct-total"
    PAGER = "ct-pager"
    REJECT = "ct-reject"  # the 不通过 dialog
    REJECT_TEXT = "ct-reject-text"
    REJECT_REASON = "ct-reject-reason"
    REJECT_CONFIRM = "ct-reject-confirm"
    REJECT_CANCEL = "ct-reject-cancel"
    REJECTING = "ct-rejecting"  # the teachers the dialog is about (ids, checked again)


class Wall(StrEnum):
    """The 大屏 (its own Dash app under /screen/)."""

    URL = "wall-url"
    POLL = "wall-poll"  # checks for a new snapshot
    ROTATE = "wall-rotate"  # moves the highlighted sub-region on
    CLOCK_TICK = "wall-clock-tick"
    DATA = "wall-data"  # the screen data on display
    SHOWN = "wall-shown"  # the key of what is on display: region, training and snapshot
    CONFIG = "wall-config"  # data-* attributes read by assets/wall_screen.js
    CANVAS = "wall-canvas"
    TITLE = "wall-title"
    PERIOD = "wall-period"
    CLOCK = "wall-clock"
    UPDATED = "wall-updated"
    OFFLINE = "wall-offline"
    KPIS = "wall-kpis"
    RANKING = "wall-ranking"
    RANKING_TITLE = "wall-ranking-title"
    TREND = "wall-trend"
    LAGGING = "wall-lagging"
    LAGGING_TITLE = "wall-lagging-title"
    # 重点关注: the highlighted sub-region, moved on in the browser (assets/wall_screen.js)
    FOCUS_NAME = "wall-focus-name"
    FOCUS_RANK = "wall-focus-rank"
    FOCUS_SHARE = "wall-focus-share"
    FOCUS_PARTICIPANTS = "wall-focus-participants"
    FOCUS_COMPLETED = "wall-focus-completed"
    NOTICE = "wall-notice"  # full-screen: 该大屏链接已失效 / 暂无统计数据 / preview refused
    TRAINING = "wall-training"  # the preview's training chooser
    PREVIEW_BAR = "wall-preview-bar"
