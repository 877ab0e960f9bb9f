"""The audit log: who did what, when, over which scope. No raw personal data is written.

An entry stores ids and codes (a user id, a permission code id, a region or training code),
never names, phone numbers or searched names. The 操作日志 screen and its download turn an
entry into Chinese at read time: the actor's name and masked account, and one sentence per
entry whose names (regions, schools, trainings, role labels) are looked up in the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, insert, or_, select

from .display_tokens import CURRENT_TRAINING_LABEL
from .metrics import integer
from .models import (
    AuditLog,
    Binding,
    PermissionCode,
    Region,
    School,
    Training,
    User,
)
from .privacy import person_label
from .rules import in_subtree
from .vocab import ROLE_LABELS


def record(
    conn: Connection,
    action: str,
    *,
    user_id: int | None = None,
    actor: str | None = None,
    region_code: str | None = None,
    school_code: str | None = None,
    detail: dict | None = None,
    ip: str | None = None,
    outcome: str = "ok",
    now: datetime | None = None,
) -> None:
    conn.execute(
        insert(AuditLog).values(
            at=now or datetime.now(),
            user_id=user_id,
            actor=actor,
            action=action,
            scope_region=region_code,
            scope_school=school_code,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
            ip=ip,
            outcome=outcome,
        )
    )


ACTION_LABELS = {
    "login": "登录",
    "register": "注册",
    "user_create": "创建用户",
    "grant": "授权",
    "code_issue": "生成权限码",
    "code_redeem": "绑定权限码",
    "code_revoke": "撤销权限码",
    "admin_remove": "删除管理员",
    "export": "导出",
    "export_denied": "拒绝导出",
    "export_download": "下载导出文件",
    "denied": "拒绝访问",
    "scope_switch": "切换管理范围",
    "school_create": "新增学校",
    "school_update": "编辑学校",
    "school_delete": "删除学校",
    "school_move": "调整隶属",
    "teacher_counts_import": "导入专任教师数",
    "cert_decision": "认证审核",
    "screen_token_issue": "大屏链接生成",
    "screen_token_revoke": "大屏链接撤销",
}
OTHER_ACTION = "其他操作"
OUTCOME_LABELS = {"ok": "成功", "failed": "失败", "denied": "拒绝", "limited": "限流"}
CLI_ACTOR = "cli"
CLI_LABEL = "平台运维（命令行）"

def export_table_labels() -> dict[str, str]:
    """按区域查看 …: the label of every download table, by the name the log stores."""
    from .download_tables import TABLES  # the tables read this module's columns

    return {name: table.label for name, table in TABLES.items()}


DENIED_REASONS = {
    "no region scope": "当前管理身份不能导出该表",
    "region outside scope": "请求的区域不在管理范围内",
    "school outside scope": "请求的学校不在管理范围内",
}
VIEW_LABELS = {"training": "统计详情", "activation": "激活进度"}
# Labels of detail keys for whatever a sentence does not say itself (also unknown actions).
KEY_LABELS = {
    "table": "表", "training": "培训", "format": "格式", "rows": "行数", "stage": "学段",
    "subject": "学科领域", "certified_only": "未通过认证教师", "school": "学校",
    "region": "区域", "name": "姓名", "job_id": "后台任务", "code_id": "权限码",
    "role": "角色", "binding_id": "绑定记录", "user_id": "用户", "reason": "原因",
    "view": "页面",
    "old": "原值", "new": "新值", "codes_revoked": "撤销的权限码", "kind": "机构类型",
    "urban_rural": "城乡类型", "activated": "是否激活", "q": "搜索",
    "file": "文件", "inserted": "新增", "updated": "修改", "unchanged": "不变",
    "skipped": "未填写",
    "status": "审核结果", "teachers": "教师人数", "cert_status": "审核状态", "title": "职称",
    "accounts": "教师账号",
    "token_id": "大屏链接", "label": "大屏名称",
}
#: Fields of a school as the 学校管理 sentences name them.
SCHOOL_FIELD_LABELS = {
    "code": "学校标识码", "name": "学校名称", "region_code": "所在区域", "kind": "机构类型",
    "urban_rural": "城乡类型", "address": "学校地址", "phone": "联系电话", "principal": "校长姓名",
}

TIME_FORMAT = "%Y.%m.%d %H:%M:%S"
COLUMNS = (("at", "时间"), ("actor", "操作人"), ("action", "操作"), ("scope", "范围"),
           ("outcome", "结果"), ("detail", "详情"))


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str  # `林志强（fu***an）`, the platform operator, or the masked login typed
    action: str
    scope_name: str
    detail: str  # one Chinese sentence
    outcome: str

    def cells(self) -> dict[str, str]:
        """The row as the screen and the download show it (keys of COLUMNS)."""
        return {"at": self.at.strftime(TIME_FORMAT), "actor": self.actor,
                "action": self.action, "scope": self.scope_name, "outcome": self.outcome,
                "detail": self.detail}


# --------------------------------------------------------------------------- names


@dataclass
class Names:
    """Names of what entries refer to, fetched in a few batched queries."""

    regions: dict[str, str] = field(default_factory=dict)
    schools: dict[str, str] = field(default_factory=dict)
    trainings: dict[str, str] = field(default_factory=dict)
    people: dict[int, str] = field(default_factory=dict)  # user id → person label
    codes: dict[int, tuple] = field(default_factory=dict)  # id → (hint, role, region, school)
    bindings: dict[int, tuple] = field(default_factory=dict)  # id → (label, role, scope name)

    def region(self, code) -> str:
        return _get(self.regions, code) or f"区域代码「{_text(code)}」（不存在）"

    def school(self, code) -> str:
        return _get(self.schools, code) or f"学校代码「{_text(code)}」（不存在）"

    def training(self, code) -> str:
        return _get(self.trainings, code) or f"培训代码「{_text(code)}」（不存在）"

    def person(self, user_id) -> str:
        return _get(self.people, user_id) or f"用户 #{_text(user_id)}"

    def code(self, code_id) -> str:
        found = _get(self.codes, code_id)
        return f"****-{found[0]}" if found else f"#{_text(code_id)}"

    def code_target(self, code_id) -> str | None:
        found = _get(self.codes, code_id)
        if not found:
            return None
        return self.school(found[3]) if found[3] else self.region(found[2])


_BATCH = 500


def _get(mapping: dict, key):
    """`mapping[key]` for a stored value of any JSON type (a list or a dict names nothing)."""
    return mapping.get(key) if isinstance(key, (str, int)) else None


def _batched(values):
    values = sorted(v for v in values if v is not None)
    for i in range(0, len(values), _BATCH):
        yield values[i:i + _BATCH]


def _str_values(details, key):
    """Codes to look up; a stored request may hold anything (a NUL byte cannot even be sent to
    PostgreSQL), and only printable short codes can name something."""
    return {v for d in details if isinstance(v := d.get(key), str) and 0 < len(v) <= 40
            and v.isprintable()}


def _int_values(details, key):
    return {d.get(key) for d in details
            if isinstance(d.get(key), int) and not isinstance(d.get(key), bool)}


def _load_names(conn: Connection, entries: list[tuple[int | None, dict]]) -> Names:
    details = [d for _, d in entries]
    names = Names()
    for ids in _batched(_int_values(details, "code_id")):
        for r in conn.execute(select(PermissionCode.id, PermissionCode.hint, PermissionCode.role,
                                     PermissionCode.region_code, PermissionCode.school_code)
                              .where(PermissionCode.id.in_(ids))):
            names.codes[r.id] = (r.hint, r.role, r.region_code, r.school_code)
    binding_rows = {}
    for ids in _batched(_int_values(details, "binding_id")):
        for r in conn.execute(select(Binding.id, Binding.user_id, Binding.contact_name,
                                     Binding.role, Binding.region_code, Binding.school_code)
                              .where(Binding.id.in_(ids))):
            binding_rows[r.id] = r
    user_ids = ({u for u, _ in entries if u is not None} | _int_values(details, "user_id")
                | {b.user_id for b in binding_rows.values()})
    changes = [v for d in details for key in ("old", "new")
               if isinstance(v := d.get(key), dict)]
    region_codes = (_str_values(details, "region") | _str_values(changes, "region_code")
                    | {c[2] for c in names.codes.values() if c[2]}
                    | {b.region_code for b in binding_rows.values() if b.region_code})
    school_codes = (_str_values(details, "school")
                    | {c[3] for c in names.codes.values() if c[3]}
                    | {b.school_code for b in binding_rows.values() if b.school_code})
    for codes in _batched(region_codes):
        names.regions.update(conn.execute(
            select(Region.code, Region.name).where(Region.code.in_(codes))).all())
    for codes in _batched(school_codes):
        names.schools.update(conn.execute(
            select(School.code, School.name).where(School.code.in_(codes))).all())
    for codes in _batched(_str_values(details, "training")):
        names.trainings.update(conn.execute(
            select(Training.code, Training.name).where(Training.code.in_(codes))).all())
    accounts, contact = {}, {}
    for ids in _batched(user_ids):
        for r in conn.execute(select(User.id, User.name, User.account).where(User.id.in_(ids))):
            accounts[r.id] = (r.name, r.account)
        # A person is named as they introduced themselves at their latest binding.
        for r in conn.execute(select(Binding.user_id, Binding.contact_name)
                              .where(Binding.user_id.in_(ids), Binding.contact_name.is_not(None))
                              .order_by(Binding.id)):
            contact[r.user_id] = r.contact_name
    for uid, (name, account) in accounts.items():
        names.people[uid] = person_label(contact.get(uid) or name, account)
    for bid, b in binding_rows.items():
        name, account = accounts.get(b.user_id, (None, None))
        scope = names.school(b.school_code) if b.school_code else names.region(b.region_code)
        names.bindings[bid] = (person_label(b.contact_name or name, account), b.role, scope)
    return names


# --------------------------------------------------------------------------- sentences


def _text(value) -> str:
    """Any stored value as plain words: never JSON."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "，".join(f"{_key_label(k)}：{_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "、".join(_text(v) for v in value)
    # what a request carried is shown, its control characters made visible
    return "".join(c if c.isprintable() else "�" for c in str(value))


def _key_label(key) -> str:
    return KEY_LABELS.get(key, str(key))


def _role(value) -> str:
    return _get(ROLE_LABELS, value) or _text(value)


def _rest(detail: dict, names: Names) -> list[str]:
    """Whatever the sentence did not use, as `名称：值` parts."""
    parts = []
    for key, value in detail.items():
        if key == "training":
            parts.append(f"培训：{names.training(value)}")
        elif key == "region":
            parts.append(f"区域：{names.region(value)}")
        elif key == "school":
            parts.append(f"学校：{names.school(value)}")
        elif key == "user_id":
            parts.append(f"用户：{names.person(value)}")
        elif key == "code_id":
            parts.append(f"权限码：{names.code(value)}")
        elif key == "role":
            parts.append(f"角色：{_role(value)}")
        elif key == "table":
            parts.append(f"表：{_get(export_table_labels(), value) or _text(value)}")
        elif key == "job_id":
            parts.append(f"后台任务 #{_text(value)}")
        else:
            parts.append(f"{_key_label(key)}：{_text(value)}")
    return parts


def _sentence(head: str, *parts: str) -> str:
    return "，".join(p for p in (head, *parts) if p)


def _export_parts(detail: dict, names: Names) -> list[str]:
    """`「按学员查看」CSV，148605 行，培训：…，学段：初中` — filters only when set."""
    table = detail.pop("table", None)
    fmt = detail.pop("format", None)
    rows = detail.pop("rows", None)
    parts = [f"「{_get(export_table_labels(), table) or _text(table)}」{_text(fmt).upper()}"]
    if isinstance(rows, int) and not isinstance(rows, bool):
        parts.append(f"{integer(rows)} 行")
    if "training" in detail:
        parts.append(f"培训：{names.training(detail.pop('training'))}")
    for key, label in (("stage", "学段"), ("subject", "学科领域"), ("kind", "机构类型"),
                       ("urban_rural", "城乡类型"), ("q", "搜索")):
        value = detail.pop(key, None)
        if value:
            parts.append(f"{label}：{_text(value)}")
    activated = detail.pop("activated", None)  # 学校管理's filter
    if isinstance(activated, bool):
        parts.append(f"是否激活：{'已激活' if activated else '未激活'}")
    elif activated is not None:
        parts.append(f"是否激活：{_text(activated)}")
    if detail.pop("certified_only", False) is True:
        parts.append("未通过认证教师：不包含")
    # The school is the entry's 范围 already; a name filter is stored as `教**`.
    detail.pop("school", None)
    if detail.get("name"):
        parts.append(f"姓名：{_text(detail.pop('name'))}")
    if "job_id" in detail:
        parts.append(f"后台任务 #{_text(detail.pop('job_id'))}")
    return parts


def describe(action: str, outcome: str, detail: dict, names: Names, scope_name: str = "") -> str:
    """One Chinese sentence for an entry."""
    d = dict(detail)
    limited, failed = outcome == "limited", outcome == "failed"
    if action == "login":
        head = ("登录尝试次数过多，已暂时限制登录" if limited
                else "登录失败：账号或密码错误" if failed else "登录成功")
        return _sentence(head, *_rest(d, names))
    if action == "register":
        return _sentence("注册新账号", *_rest(d, names))
    if action == "user_create":
        return _sentence(f"通过命令行创建用户 {names.person(d.pop('user_id', None))}",
                         *_rest(d, names))
    if action == "grant":
        who = names.person(d.pop("user_id", None))
        d.pop("binding_id", None)
        return _sentence(f"通过命令行授予 {who}「{_role(d.pop('role', None))}」权限",
                         f"管理范围：{scope_name or '—'}", *_rest(d, names))
    if action in ("code_issue", "code_redeem", "code_revoke"):
        if limited:
            return _sentence("绑定权限码尝试次数过多，已暂时限制", *_rest(d, names))
        if failed:
            return _sentence(f"绑定权限码失败：{_text(d.pop('reason', None))}", *_rest(d, names))
        code_id = d.pop("code_id", None)
        known = _get(names.codes, code_id)
        role = d.pop("role", None) or (known[1] if known else None)
        d.pop("binding_id", None)
        for key in ("region", "school"):  # the code's target, named below
            d.pop(key, None)
        verb = {"code_issue": "生成", "code_redeem": "绑定", "code_revoke": "撤销"}[action]
        target = names.code_target(code_id) or scope_name or "—"
        place = "管理范围" if action == "code_redeem" else "对象"
        return _sentence(f"{verb}「{_role(role)}」权限码 {names.code(code_id)}",
                         f"{place}：{target}", *_rest(d, names))
    if action == "admin_remove":
        binding = _get(names.bindings, d.pop("binding_id", None))
        role = d.pop("role", None) or (binding[1] if binding else None)
        who = binding[0] if binding else "—"
        scope = binding[2] if binding else scope_name or "—"
        return _sentence(f"删除「{_role(role)}」{who}", f"管理范围：{scope}", *_rest(d, names))
    if action == "export":
        what, *parts = _export_parts(d, names)
        return _sentence("导出" + what, *parts, *_rest(d, names))
    if action == "export_download":
        job = d.pop("job_id", None)
        what, *parts = _export_parts(d, names)
        return _sentence(f"下载后台任务 #{_text(job)} 的导出文件{what}", *parts, *_rest(d, names))
    if action == "export_denied":
        reason = d.pop("reason", None)
        parts = [f"拒绝导出：{_get(DENIED_REASONS, reason) or _text(reason)}"]
        for key, label, lookup in (("region", "请求的区域", names.region),
                                   ("school", "请求的学校", names.school)):
            value = d.pop(key, None)
            if value:
                parts.append(f"{label}：{lookup(value)}")
        if "table" in d:
            table = d.pop("table")
            parts.append(f"表：{_get(export_table_labels(), table) or _text(table)}")
        if d.get("training"):
            parts.append(f"培训：{names.training(d.pop('training'))}")
        d.pop("training", None)
        return _sentence(*parts, *_rest(d, names))
    if action == "denied":
        view = d.pop("view", None)
        view = _get(VIEW_LABELS, view) or ("页面" if view is None else f"页面「{_text(view)}」")
        region = d.pop("region", None)
        head = (f"拒绝访问{view}：{names.region(region)}不在管理范围内" if region
                else f"拒绝访问{view}")
        parts = []
        if d.get("training"):
            parts.append(f"培训：{names.training(d.pop('training'))}")
        d.pop("training", None)
        return _sentence(head, *parts, *_rest(d, names))
    if action in SCHOOL_SENTENCES:
        return _school_sentence(action, d, names)
    if action == "teacher_counts_import":
        return _sentence(_teacher_counts_head(d), *_rest(d, names))
    if action == "cert_decision":
        status, count = d.pop("status", None), d.pop("teachers", None)
        accounts = d.pop("accounts", None)
        head = "认证审核"
        if isinstance(count, int) and not isinstance(count, bool):
            head += f"：{count} 名教师"
        if isinstance(status, str):
            head += f"设为「{_text(status)}」"
        parts = []
        if isinstance(accounts, list) and accounts:
            parts.append("教师账号：" + "、".join(_text(a) for a in accounts))
        return _sentence(head, *parts, *_rest(d, names))
    if action in ("screen_token_issue", "screen_token_revoke"):
        return _screen_token_sentence(action, d, names, scope_name)
    if action == "scope_switch":
        binding = _get(names.bindings, d.pop("binding_id", None))
        head = (f"切换到「{_role(binding[1])}」{binding[2]}" if binding else "切换管理范围")
        return _sentence(head, *_rest(d, names))
    return _sentence(ACTION_LABELS.get(action, OTHER_ACTION), *_rest(d, names))


def _screen_token_sentence(action: str, d: dict, names: Names, scope_name: str) -> str:
    """`生成大屏链接「三楼会议室」（#3），区域：仙游县，培训：当前培训（自动跟随）`. The token itself
    is never logged; the link is named by its label and id."""
    verb = "生成" if action == "screen_token_issue" else "撤销"
    token_id, label = d.pop("token_id", None), d.pop("label", None)
    head = f"{verb}大屏链接「{_text(label)}」"
    if isinstance(token_id, int) and not isinstance(token_id, bool):
        head += f"（#{token_id}）"
    parts = [f"区域：{scope_name or '—'}"]
    if "training" in d:
        training = d.pop("training")
        parts.append("培训：" + (names.training(training) if training else CURRENT_TRAINING_LABEL))
    return _sentence(head, *parts, *_rest(d, names))


def _teacher_counts_head(d: dict) -> str:
    """`导入专任教师数：文件「专任教师数.xlsx」，共 12 行（新增 3，修改 2，不变 7）`."""
    file = d.pop("file", None)
    counts = [(label, d.pop(key, None)) for key, label in (
        ("rows", "行"), ("inserted", "新增"), ("updated", "修改"), ("unchanged", "不变"),
        ("skipped", "未填写"))]
    numbers = {label: v for label, v in counts
               if isinstance(v, int) and not isinstance(v, bool)}
    head = f"导入专任教师数：文件「{_text(file)}」" if file else "导入专任教师数"
    if "行" in numbers:
        head += f"，共 {numbers.pop('行')} 行"
    if numbers:
        head += "（" + "，".join(f"{k} {v}" for k, v in numbers.items()) + "）"
    return head


def _school_value(key, value, names: Names) -> str:
    if key == "region_code":
        return names.region(value)
    return _text(value)


def _in_form_order(values: dict) -> list[tuple]:
    """A stored dict's items in the order of the form (the log stores keys sorted)."""
    order = list(SCHOOL_FIELD_LABELS)
    return sorted(values.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order
                                                  else len(order), str(kv[0])))


def _school_values(values: dict, names: Names, skip=()) -> list[str]:
    return [f"{_get(SCHOOL_FIELD_LABELS, k) or _text(k)}：{_school_value(k, v, names)}"
            for k, v in _in_form_order(values) if k not in skip and v not in (None, "")]


def _school_sentence(action: str, d: dict, names: Names) -> str:
    """学校管理's four changes, e.g. `编辑学校「仙游县第一中学」（学校标识码：S1）：城乡类型由「—」改为
    「乡村」`. The school is named as it was called at the time of the change."""
    code = d.pop("school", None)
    name = d.pop("name", None)
    old = d.pop("old", None)
    new = d.pop("new", None)
    old = old if isinstance(old, dict) else {}
    new = new if isinstance(new, dict) else {}
    school = f"「{_text(name) if name else names.school(code)}」（学校标识码：{_text(code)}）"
    binding = _get(names.bindings, d.pop("binding_id", None))
    revoked = d.pop("codes_revoked", None)
    parts = []
    if action == "school_create":
        head = f"新增学校{school}"
        parts = _school_values(new, names, skip=("name",))
    elif action == "school_update":
        changes = [f"{_get(SCHOOL_FIELD_LABELS, k) or _text(k)}"
                   f"由「{_school_value(k, old.get(k), names)}」改为「{_school_value(k, v, names)}」"
                   for k, v in _in_form_order(new)]
        head = f"编辑学校{school}：" + "；".join(changes) if changes else f"编辑学校{school}"
    elif action == "school_delete":
        head = f"删除学校{school}（软删除，历史数据保留）"
        parts = _school_values(old, names, skip=("name",))
        if binding:
            parts.append(f"其学校管理员 {binding[0]} 的绑定同时结束")
        if isinstance(revoked, int) and not isinstance(revoked, bool) and revoked:
            parts.append(f"撤销未使用的权限码 {revoked} 个")
    else:
        head = (f"调整学校{school}的隶属：由「{names.region(old.get('region_code'))}」"
                f"调整到「{names.region(new.get('region_code'))}」")
        if binding:
            parts.append(f"其学校管理员 {binding[0]} 的管理范围随之调整")
    return _sentence(head, *parts, *_rest(d, names))


SCHOOL_SENTENCES = ("school_create", "school_update", "school_delete", "school_move")


def _parse(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"详情": text}
    return value if isinstance(value, dict) else {"详情": value}


# --------------------------------------------------------------------------- the list


def entries_in_scope(conn: Connection, region_code: str, limit: int = 1000) -> list[AuditRow]:
    """Audit entries about the region's subtree (its regions and their schools), newest first."""
    stmt = (
        select(AuditLog.at, AuditLog.user_id, AuditLog.actor, AuditLog.action,
               Region.name.label("region_name"), School.name.label("school_name"),
               AuditLog.detail, AuditLog.outcome)
        .outerjoin(Region, Region.code == AuditLog.scope_region)
        .outerjoin(School, School.code == AuditLog.scope_school)
        .where(or_(in_subtree(region_code, AuditLog.scope_region),
                   in_subtree(region_code, School.region_code)))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    rows = conn.execute(stmt).all()
    details = [_parse(r.detail) for r in rows]
    names = _load_names(conn, [(r.user_id, d) for r, d in zip(rows, details)])
    out = []
    for r, detail in zip(rows, details):
        scope = r.school_name or r.region_name or ""
        out.append(AuditRow(
            at=r.at, actor=_actor(r.user_id, r.actor, names), scope_name=scope,
            action=ACTION_LABELS.get(r.action, OTHER_ACTION),
            detail=describe(r.action, r.outcome, detail, names, scope),
            outcome=OUTCOME_LABELS.get(r.outcome, _text(r.outcome))))
    return out


def _actor(user_id: int | None, stored: str | None, names: Names) -> str:
    if user_id is not None and user_id in names.people:
        return names.people[user_id]
    if stored == CLI_ACTOR:
        return CLI_LABEL
    return stored or "—"
