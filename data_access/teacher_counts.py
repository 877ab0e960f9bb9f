"""专任教师数 (SPEC §1.5, §4.5): the figures of a region's subtree, the regions whose 参训率
and 学习进度 show `—`, and the console's upload — previewed, then committed — through the same
importer as `yanxiu import teacher-counts`.

Every function takes an already-authorized region (``scope.authorize_region``).

- **Figures** are read live from ``teacher_counts``: the screen answers "what have we
  entered", and an upload shows at once. The statistics read the snapshot of the last
  refresh, so the screen says that new figures count from the next 数据更新.
- **Effective figure**, per region and 学段 key, is the refresh's own rule
  (``refresh.effective_teacher_counts``): the region's figure, else the sum of its children's
  when every child has one, else missing. The missing list is that rule for all stages (the
  statistics' default view), with the reason: no figure of its own, and which children lack
  one.
- **Upload**: a CSV or XLSX of at most :data:`UPLOAD_MAX_BYTES`, checked as an import with
  the admin's region as the bound (a row outside it is an error) and blank 专任教师数 rows
  skipped (the template lists every region, filled in or not). The preview is a dry run of
  that import plus the file's rows as read; 确认导入 runs the same import for real — all rows
  in one transaction or nothing.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from . import vocab
from .importers import FILE_COLUMN, ImportRefused, ImportResult, RowError, columns
from .importers import import_file, read_records
from .metrics import MINUTE_TIME, integer
from .models import Region, TeacherCount, User
from .privacy import person_label
from .refresh import effective_teacher_counts
from .regions import RegionRow
from .rules import in_subtree

KIND = "teacher-counts"
ALL_STAGES = vocab.ALL_STAGES
CLI_UPDATER = "平台运维（命令行）"
UPLOAD_MAX_BYTES = 2 * 1024 * 1024
# Data rows of one upload: a province's template is about 100 regions × 8 学段 keys; the whole
# country is the platform operator's import (`yanxiu import teacher-counts`).
UPLOAD_MAX_ROWS = 5000
UPLOAD_SUFFIXES = (".csv", ".xlsx")
NONE = "—"
# How many missing children a reason names before "等 N 个".
NAMED_CHILDREN = 3

STATUS_OWN, STATUS_SUM, STATUS_MISSING = "本级填报", "下级合计", "缺少专任教师数"


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class FigureRow:
    """One row of 当前专任教师数: a region for all stages (always present) or for one 学段
    it has a figure for."""

    region_code: str
    region_name: str
    path: str  # below the scope's region: 莆田市/仙游县 for a province admin; the top by name
    stage: str  # '' = all stages
    own: int | None  # the region's own figure for this stage key
    effective: int | None  # what the statistics use; None = missing (`—`)
    reason: str  # why it is missing, or where the effective figure comes from
    source: str  # 上传：file.xlsx | 导入：file.csv | —
    updater: str
    updated_at: datetime | None

    @property
    def missing(self) -> bool:
        """The statistics show `—`: no figure, or a figure of 0 (no denominator)."""
        return not self.effective

    @property
    def status(self) -> str:
        if self.own is not None:
            return STATUS_OWN
        return STATUS_MISSING if self.effective is None else STATUS_SUM


def _subtree(conn: Connection, region: RegionRow) -> list[tuple[str, str, str | None]]:
    """(code, name, parent) of the region and every region below it, parents first and
    siblings in code order (the order of the catalogue)."""
    rows = conn.execute(
        select(Region.code, Region.name, Region.parent_code)
        .where(in_subtree(region.code, Region.code))
    ).all()
    kids: dict[str | None, list[tuple[str, str, str | None]]] = {}
    for code, name, parent in rows:
        kids.setdefault(parent if code != region.code else None, []).append((code, name, parent))
    ordered, stack = [], sorted(kids.get(None, []), reverse=True)
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(sorted(kids.get(node[0], []), reverse=True))
    return ordered


def _stage_order(stage: str) -> int:
    return -1 if stage == "" else (vocab.STAGES.index(stage) if stage in vocab.STAGES
                                   else len(vocab.STAGES))


def figures_table(conn: Connection, region: RegionRow) -> list[FigureRow]:
    """Every region of the subtree with its all-stages figure (given or not), followed by
    its per-学段 figures, in tree order."""
    regions = _subtree(conn, region)
    codes = [code for code, _, _ in regions]
    stored = conn.execute(
        select(TeacherCount.region_code, TeacherCount.stage, TeacherCount.count,
               TeacherCount.source, TeacherCount.updated_by, TeacherCount.updated_at)
        .where(in_subtree(region.code, TeacherCount.region_code))
    ).all()
    figures = {(r.region_code, r.stage or ""): r.count for r in stored}
    details = {(r.region_code, r.stage or ""): r for r in stored}
    # The subtree's top has no parent here: the rule only looks down.
    effective = effective_teacher_counts(
        [(code, parent if code != region.code else None) for code, _, parent in regions],
        figures)
    names = {code: name for code, name, _ in regions}
    kids: dict[str, list[str]] = {}
    for code, _, parent in regions:
        if code != region.code:
            kids.setdefault(parent, []).append(code)
    paths: dict[str, str] = {}
    for code, name, parent in regions:  # parents come first
        paths[code] = (f"{paths[parent]}/{name}" if code != region.code and parent != region.code
                       else name)
    updaters = _updaters(conn, {r.updated_by for r in stored if r.updated_by is not None})

    def row(code: str, stage: str) -> FigureRow:
        d = details.get((code, stage))
        value = effective.get((code, stage))
        return FigureRow(
            region_code=code, region_name=names[code], path=paths[code],
            stage=stage, own=d.count if d else None, effective=value,
            reason=_reason(code, stage, d is not None, value, kids, effective, names),
            source=_source(d), updater=_updater(d, updaters),
            updated_at=d.updated_at if d else None)

    out = []
    stages_of: dict[str, list[str]] = {}
    for code, stage in figures:
        if stage:
            stages_of.setdefault(code, []).append(stage)
    for code in codes:
        out.append(row(code, ""))
        for stage in sorted(stages_of.get(code, ()), key=_stage_order):
            out.append(row(code, stage))
    return out


def _reason(code, stage, has_own, value, kids, effective, names) -> str:
    if value == 0:
        return "专任教师数为 0，参训率和学习进度无法计算"
    if has_own:
        return ""
    children = kids.get(code, [])
    if value is not None:
        return f"由 {len(children)} 个下级区域合计"
    what = "本级未填报专任教师数" if not stage else f"本级未填报{stage}专任教师数"
    if not children:
        return f"{what}，且没有下级区域"
    lacking = [c for c in children if (c, stage) not in effective]
    named = "、".join(names[c] for c in lacking[:NAMED_CHILDREN])
    more = f"等 {len(lacking)} 个" if len(lacking) > NAMED_CHILDREN else ""
    return f"{what}，下级区域{named}{more}缺少专任教师数"


def missing_regions(rows: list[FigureRow]) -> list[FigureRow]:
    """The regions whose 参训率 and 学习进度 show `—` in the statistics' default view (all
    stages), in tree order."""
    return [r for r in rows if r.stage == "" and r.missing]


def _updaters(conn: Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {uid: person_label(name, account) for uid, name, account in conn.execute(
        select(User.id, User.name, User.account).where(User.id.in_(sorted(ids))))}


def _source(d) -> str:
    if d is None or not d.source:
        return NONE
    return f"{'上传' if d.updated_by is not None else '导入'}：{d.source}"


def _updater(d, updaters: dict[int, str]) -> str:
    if d is None:
        return NONE
    if d.updated_by is None:
        return CLI_UPDATER
    return updaters.get(d.updated_by) or f"用户 #{d.updated_by}"


# The table of the screen and of its download (SPEC §6: the same rows and columns).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("区域代码", "region_code"),
    ("区域", "path"),
    ("学段", "stage"),
    ("专任教师数", "own"),
    ("统计用专任教师数", "effective"),
    ("来源", "source"),
    ("更新人", "updater"),
    ("更新时间", "updated_at"),
)
COUNT_FIELDS = ("own", "effective")


def figure_record(r: FigureRow) -> dict[str, str]:
    return {
        "row_id": f"{r.region_code}|{r.stage}",
        "region_code": r.region_code,
        "region_name": r.region_name,
        "path": r.path,
        "stage": r.stage or ALL_STAGES,
        "own": NONE if r.own is None else integer(r.own),
        "effective": NONE if r.effective is None else integer(r.effective),
        "status": r.status,
        "reason": r.reason or NONE,
        "source": r.source,
        "updater": r.updater,
        "updated_at": r.updated_at.strftime(MINUTE_TIME) if r.updated_at else NONE,
    }


def figure_values(r: FigureRow) -> list[str]:
    record = figure_record(r)
    return [record[key] for _, key in COLUMNS]


# --------------------------------------------------------------------------- template


def template_header() -> list[str]:
    """The importer's Chinese labels, required ones marked `*` (the importer ignores it)."""
    return [label + ("*" if required else "") for _, label, required in columns(KIND)]


def template_rows(rows: list[FigureRow]) -> list[list[str]]:
    """One row per figure row: 区域代码, 区域名称, 学段 (blank = all), the current figure
    (blank where there is none) — filled in and uploaded as it is."""
    return [[r.region_code, r.region_name, r.stage, "" if r.own is None else str(r.own)]
            for r in rows]


# --------------------------------------------------------------------------- upload


class UploadRefused(ValueError):
    """The upload itself is not acceptable (size, type); the message is Chinese."""


def clean_filename(raw: object) -> str:
    """The uploaded file's name as it is stored and shown: its last path part, printable,
    at most 100 characters; refused unless it ends in .csv or .xlsx."""
    name = raw if isinstance(raw, str) else ""
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise UploadRefused("只能上传 CSV 或 XLSX 文件（扩展名 .csv 或 .xlsx）")
    if len(name) > 100:
        stem, dot, suffix = name.rpartition(".")
        name = stem[: 99 - len(suffix)] + dot + suffix
    return name


def check_size(size: int) -> None:
    if size > UPLOAD_MAX_BYTES:
        raise UploadRefused(f"文件过大：{size / 2**20:.1f} MB，最大 {UPLOAD_MAX_BYTES // 2**20} MB")
    if size == 0:
        raise UploadRefused("文件为空")


@dataclass(frozen=True)
class PreviewRow:
    row: int
    region_code: str
    region_name: str
    stage: str
    count: str
    current: str
    outcome: str  # 新增 | 修改 | 不变 | 未填写，不导入 | 有错误
    errors: tuple[str, ...] = ()


@dataclass
class Preview:
    filename: str
    rows: list[PreviewRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # Chinese, in row order
    error_total: int = 0
    result: ImportResult | None = None

    @property
    def ok(self) -> bool:
        return self.error_total == 0 and self.result is not None

    @property
    def changes(self) -> int:
        return 0 if self.result is None else self.result.inserted + self.result.updated


OUTCOME_NEW, OUTCOME_CHANGED, OUTCOME_SAME = "新增", "修改", "不变"
OUTCOME_BLANK, OUTCOME_ERROR = "未填写，不导入", "有错误"
# After the first SHOWN_ERRORS errors the import stops listing them: a later row may have one.
OUTCOME_UNLISTED = "未逐行核对"


class ConcurrentChange(UploadRefused):
    """Another admin wrote a figure of the same region and 学段 at the same moment."""


def _import(engine: Engine, region: RegionRow, path: Path, filename: str, id_key: bytes,
            *, dry_run: bool, user_id: int | None = None,
            before_commit=None) -> ImportResult:
    try:
        return import_file(engine, KIND, path, id_key=id_key, dry_run=dry_run,
                           source=filename, updated_by=user_id, within=region.code,
                           skip_blank_counts=True, max_rows=UPLOAD_MAX_ROWS,
                           before_commit=before_commit,
                           errors_file=path.with_name(path.name + ".errors.csv"))
    except IntegrityError:
        raise ConcurrentChange("其他管理员刚刚修改了同一区域的专任教师数，请重新上传文件并核对后再确认导入"
                               ) from None


def _check_rows(path: Path) -> None:
    """UploadRefused for a file of more than UPLOAD_MAX_ROWS data rows, read no further."""
    rows = sum(1 for _ in itertools.islice(read_records(KIND, path), UPLOAD_MAX_ROWS + 1))
    if rows > UPLOAD_MAX_ROWS:
        raise UploadRefused(f"文件超过 {UPLOAD_MAX_ROWS} 行，请分成几个文件上传")


def preview_upload(engine: Engine, region: RegionRow, path: Path, filename: str,
                   id_key: bytes) -> Preview:
    """Every row of the file with its parsed values and what 确认导入 would do with it, and
    every error in Chinese (a dry run of the import: nothing is written)."""
    _check_rows(path)
    preview = Preview(filename)
    errors: list[RowError] = []
    try:
        preview.result = _import(engine, region, path, filename, id_key, dry_run=True)
    except ImportRefused as refused:
        errors, preview.error_total = refused.errors, refused.total
    finally:
        path.with_name(path.name + ".errors.csv").unlink(missing_ok=True)
    preview.errors = [chinese_message(e) for e in errors]
    # Rows after the last listed error may have errors of their own that were not listed.
    unlisted_after = (max((e.row for e in errors), default=1)
                      if preview.error_total > len(errors) else None)
    by_row: dict[int, list[str]] = {}
    for e in errors:
        by_row.setdefault(e.row, []).append(chinese_message(e, with_row=False))
    # Names and figures of the admin's own subtree only: a row naming another region shows
    # what the file says and nothing stored.
    with engine.connect() as conn:
        names = dict(conn.execute(
            select(Region.code, Region.name)
            .where(in_subtree(region.code, Region.code))).all())
        current = {(r, s or ""): n for r, s, n in conn.execute(
            select(TeacherCount.region_code, TeacherCount.stage, TeacherCount.count)
            .where(in_subtree(region.code, TeacherCount.region_code)))}
    for row_no, v in itertools.islice(read_records(KIND, path), UPLOAD_MAX_ROWS):
        code, stage, count = v.get("region_code", ""), v.get("stage", ""), v.get("count", "")
        stage = "" if stage == ALL_STAGES else stage
        now = current.get((code, stage))
        if row_no in by_row:
            outcome = OUTCOME_ERROR
        elif unlisted_after is not None and row_no > unlisted_after:
            outcome = OUTCOME_UNLISTED
        elif not count:
            outcome = OUTCOME_BLANK
        elif now is None:
            outcome = OUTCOME_NEW
        elif preview.error_total:
            # Nothing is imported until every error is fixed; what the row would do then.
            outcome = OUTCOME_SAME if count == str(now) else OUTCOME_CHANGED
        else:
            outcome = OUTCOME_SAME if int(count) == now else OUTCOME_CHANGED
        preview.rows.append(PreviewRow(
            row=row_no, region_code=code,
            region_name=v.get("region_name") or names.get(code, ""),
            stage=stage or (ALL_STAGES if code else ""), count=count,
            current=NONE if now is None else integer(now), outcome=outcome,
            errors=tuple(by_row.get(row_no, ()))))
    return preview


def commit_upload(engine: Engine, region: RegionRow, path: Path, filename: str,
                  id_key: bytes, user_id: int, before_commit=None) -> ImportResult:
    """确认导入: the same import for real, in one transaction (raises ImportRefused and
    writes nothing when anything is wrong, e.g. the figures changed since the preview).
    ``before_commit(conn, result)`` runs in that transaction (the audit entry)."""
    _check_rows(path)
    try:
        return _import(engine, region, path, filename, id_key, dry_run=False, user_id=user_id,
                       before_commit=before_commit)
    finally:
        path.with_name(path.name + ".errors.csv").unlink(missing_ok=True)


# --------------------------------------------------------------------------- messages

_LABELS = {key: label for key, label, _ in columns(KIND)}

# The importer's reasons (English, for the CLI's reports) as the console says them. Each
# pattern is matched against the whole reason; the groups are quoted values.
_REASONS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p), zh) for p, zh in (
    (r"required value is missing", "必填，不能为空"),
    (r"unknown region code '(.*)'", "区域代码「{0}」不存在"),
    (r"region '(.*)' is outside your scope", "区域代码「{0}」不在您的管理范围内"),
    (r"does not match region code '(.*)' \('(.*)'\)", "与区域代码「{0}」不符（该代码是「{1}」）"),
    (r"'(.*)' is not allowed; expected one of: (.*)", "「{0}」不是有效的值，应为：{1}"),
    (r"'(.*)' is not a whole number", "「{0}」不是整数"),
    (r"must not be negative", "不能为负数"),
    (r"number is too large", "数值过大"),
    (r"duplicate of row (\d+)", "与第 {0} 行重复（同一区域、同一学段只能有一行）"),
    (r"longer than (\d+) characters", "超过 {0} 个字符"),
    (r"contains a control character \((.*)\)", "含有控制字符（{0}）"),
    (r"contains control characters \((.*)\)", "含有控制字符（{0}）"),
    (r"value in a column without a header", "表头为空的列中有内容"),
    (r"unknown column", "无法识别的列，应为：区域代码、区域名称、学段、专任教师数"),
    (r"column appears more than once", "该列出现了多次"),
    (r"required column is missing", "缺少必需的列"),
    (r"the file is empty", "文件是空的"),
    (r"cannot read the file: it is UTF-16 or UTF-32 text.*",
     "无法读取文件：文件是 UTF-16/UTF-32 编码，请在 Excel 中另存为「CSV UTF-8」或 XLSX"),
    (r"cannot read the file: its encoding is not UTF-8, GBK or GB18030.*",
     "无法读取文件：编码不是 UTF-8、GBK 或 GB18030，请在 Excel 中另存为「CSV UTF-8」或 XLSX"),
    (r"malformed CSV: .*", "CSV 格式错误（引号不成对或字段过长），请在 Excel 中重新另存为 CSV"),
    (r"legacy \.xls files are not supported.*", "不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV"),
    (r"cannot read the XLSX file.*", "无法读取 XLSX 文件：文件已损坏或不是 Excel 工作簿"),
    (r"cannot open the file.*", "无法打开文件"),
    (r"the XLSX file .*decompression bomb.*", "XLSX 文件压缩比异常，已拒绝（疑似压缩炸弹）"),
    (r"the XLSX file unpacks to .*", "XLSX 文件解压后过大，请另存为「CSV UTF-8」后上传"),
    (r"the XLSX file holds .* parts.*", "XLSX 文件结构异常（部件过多），已拒绝"),
    (r"more than (\d+) data rows", "文件超过 {0} 行，请分成几个文件上传"),
    (r"the XLSX file uses an unsupported compression method.*",
     "XLSX 文件使用了不支持的压缩方式，请在 Excel 中重新保存"),
))
UNKNOWN_REASON = "该值无效"


def chinese_reason(reason: str) -> str:
    for pattern, zh in _REASONS:
        m = pattern.fullmatch(reason)
        if m:
            return zh.format(*(g.replace(", ", "、") for g in m.groups()))
    return UNKNOWN_REASON


def chinese_message(error: RowError, with_row: bool = True) -> str:
    """`第 3 行，列「专任教师数」：「abc」不是整数` (SPEC §4.5); file problems name the file."""
    reason = chinese_reason(error.reason)
    if error.column == FILE_COLUMN:
        return f"文件：{reason}" if error.row == 1 else f"第 {error.row} 行：{reason}"
    if error.column == "stage" and reason != UNKNOWN_REASON:
        reason += "（留空或填「全部学段」表示全部学段）"
    label = _LABELS.get(error.column, error.column)
    where = f"第 {error.row} 行，" if with_row else ""
    return f"{where}列「{label}」：{reason}"
