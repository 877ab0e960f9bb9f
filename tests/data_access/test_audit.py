"""操作日志 in words: every action becomes one Chinese sentence whose names come from the
database, and the actor is named with a masked account — while the log itself keeps only ids."""

import ast
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from data_access import accounts, audit, codes
from data_access.models import AuditLog
from data_access.privacy import mask_account
from data_access.scope import scope_of
from tests.helpers import build_dataset

ROOT = Path(__file__).resolve().parents[2]
# Letters allowed in a sentence: file formats, a permission-code hint, a masked login.
# A 学校标识码 is data, whatever its letters.
ALLOWED_LATIN = re.compile(r"\b(CSV|XLSX)\b|\*{4}-[0-9A-Z]{4}|[\w.@-]*\*{3,}[\w.@-]*"
                           r"|学校标识码：[^）]+）|文件「[^」]*」")


def _audit_calls():
    """(action, detail keys) of every `audit.record(...)` in the product code, the keys
    including those a calling function puts into the dict it passes as `detail`."""
    found = []
    for folder in ("dashboard", "callbacks", "data_access"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for func in ast.walk(tree):
                if not isinstance(func, ast.FunctionDef):
                    continue
                calls = [n for n in ast.walk(func) if isinstance(n, ast.Call)
                         and isinstance(n.func, ast.Attribute) and n.func.attr == "record"
                         and isinstance(n.func.value, ast.Name) and n.func.value.id == "audit"]
                if not calls:
                    continue
                dicts = [kw.value for c in calls for kw in c.keywords if kw.arg == "detail"]
                dicts += [n.value for n in ast.walk(func) if isinstance(n, ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == "detail" for t in n.targets)]
                keys = {k.value for d in dicts if isinstance(d, ast.Dict)
                        for k in d.keys if isinstance(k, ast.Constant)}
                keys |= {n.slice.value for n in ast.walk(func) if isinstance(n, ast.Subscript)
                         and isinstance(n.ctx, ast.Store) and isinstance(n.slice, ast.Constant)
                         and isinstance(n.value, ast.Name) and n.value.id == "detail"}
                for call in calls:
                    action = call.args[1].value
                    found.append((f"{path.relative_to(ROOT)}:{call.lineno}", action, keys))
    return found


def test_every_recorded_action_and_detail_key_has_chinese_words():
    calls = _audit_calls()
    assert len(calls) >= 15
    for where, action, keys in calls:
        assert action in audit.ACTION_LABELS, where
        # keys a sentence may print through the generic `名称：值` part need a label
        assert keys <= set(audit.KEY_LABELS), (where, keys - set(audit.KEY_LABELS))


@pytest.fixture
def world(engine):
    build_dataset(engine)
    with engine.begin() as conn:
        sup = accounts.create_user(conn, "putian", "莆田注册名", "Passw0rd!x", "13900000009")
        sup_binding = accounts.grant(conn, sup, "region_super", "350300",
                                     contact_name="林志强", contact_phone="13900000001",
                                     org_title="莆田市教育局")
        scope = scope_of(conn, sup, sup_binding)
        region_code = codes.issue(conn, scope, "region_training", "350300")
        school_code = codes.issue(conn, scope, "school_admin", "S-XY-1")
        redeemer = accounts.create_user(conn, "xyprincipal", "注册名", "Passw0rd!x")
        redeemed = codes.redeem(conn, redeemer, school_code.code, contact_name="王校长",
                                contact_phone="13900000002", org_title="校长")
        cli_user = accounts.create_user(conn, "ops", "运维创建的用户", "Passw0rd!x")
        cli_binding = accounts.grant(conn, cli_user, "region_training", "350322")
    return {"sup": sup, "scope": scope, "region_code": region_code, "school_code": school_code,
            "redeemer": redeemer, "redeemed": redeemed, "cli_user": cli_user,
            "cli_binding": cli_binding}


def _entries(engine, region="350000"):
    with engine.connect() as conn:
        return audit.entries_in_scope(conn, region)


def test_every_action_reads_as_a_chinese_sentence(engine, world):
    w = world
    sup, actor = w["sup"], mask_account("putian")
    rc, sc, red = w["region_code"], w["school_code"], w["redeemed"]
    cases = {
        # action: (entry as the product writes it, words the sentence must say)
        "login": [
            (dict(user_id=sup, actor=actor, region_code="350300"), ["登录成功"]),
            (dict(actor=mask_account("putian"), region_code="350300", outcome="failed"),
             ["登录失败", "账号或密码错误"]),
            (dict(actor=mask_account("putian"), region_code="350300", outcome="limited"),
             ["次数过多"]),
        ],
        "register": [(dict(user_id=w["redeemer"], actor="xy***al", school_code="S-XY-1"),
                      ["注册新账号"])],
        "user_create": [(dict(actor="cli", region_code="350322",
                              detail={"user_id": w["cli_user"]}),
                         ["通过命令行创建用户", "运维创建的用户（o***s）"])],
        "grant": [(dict(actor="cli", region_code="350322",
                        detail={"user_id": w["cli_user"], "role": "region_training",
                                "binding_id": w["cli_binding"]}),
                   ["通过命令行授予", "运维创建的用户", "「区域教师研修管理员」", "管理范围：仙游县"])],
        "code_issue": [
            (dict(user_id=sup, actor=actor, region_code="350300",
                  detail={"code_id": rc.id, "role": "region_training"}),
             ["生成「区域教师研修管理员」权限码", f"****-{rc.code[-4:]}", "对象：莆田市"]),
            (dict(actor="cli", school_code="S-XY-1",
                  detail={"code_id": sc.id, "role": "school_admin"}),
             ["生成「学校管理员」权限码", "对象：仙游县第一中学"]),
        ],
        "code_redeem": [
            (dict(user_id=w["redeemer"], actor="xy***al", school_code="S-XY-1",
                  detail={"code_id": red.code_id, "role": "school_admin",
                          "binding_id": red.binding_id}),
             ["绑定「学校管理员」权限码", "管理范围：仙游县第一中学"]),
            (dict(user_id=w["redeemer"], actor="xy***al", school_code="S-XY-1",
                  outcome="failed", detail={"reason": "权限码无效或已被使用"}),
             ["绑定权限码失败：权限码无效或已被使用"]),
            (dict(user_id=w["redeemer"], actor="xy***al", school_code="S-XY-1",
                  outcome="limited"), ["绑定权限码尝试次数过多"]),
        ],
        "code_revoke": [(dict(user_id=sup, actor=actor, region_code="350300",
                              detail={"code_id": rc.id, "role": "region_training"}),
                         ["撤销「区域教师研修管理员」权限码", "对象：莆田市"])],
        "admin_remove": [(dict(user_id=sup, actor=actor, school_code="S-XY-1",
                               detail={"binding_id": red.binding_id, "role": "school_admin"}),
                          ["删除「学校管理员」王校长（xy***al）", "管理范围：仙游县第一中学"])],
        "export": [
            (dict(user_id=sup, actor=actor, region_code="350322",
                  detail={"table": "teachers", "training": "T2022", "format": "csv",
                          "stage": "初中", "subject": "", "certified_only": False,
                          "rows": 148605, "name": "教**"}),
             ["导出「按学员查看」CSV，148605 行", "学段：初中", "姓名：教**",
              "培训：2022年“暑期教师研修”专题"]),
            (dict(user_id=sup, actor=actor, school_code="S-XY-1",
                  detail={"table": "teachers", "training": "T2022", "format": "xlsx",
                          "stage": "", "subject": "语文", "certified_only": True, "rows": 25000,
                          "school": "S-XY-1", "job_id": 12}),
             ["导出「按学员查看」XLSX，25000 行", "学科领域：语文", "未通过认证教师：不包含",
              "后台任务 #12"]),
            (dict(user_id=sup, actor=actor, region_code="350300",
                  detail={"table": "audit", "format": "csv", "rows": 7}),
             ["导出「操作日志」CSV，7 行"]),
            (dict(user_id=sup, actor=actor, region_code="350322",
                  detail={"table": "schools", "format": "xlsx", "rows": 12, "kind": "学校",
                          "urban_rural": "未填写", "activated": False, "q": "实验"}),
             ["导出「学校管理」XLSX，12 行", "机构类型：学校", "城乡类型：未填写", "是否激活：未激活",
              "搜索：实验"]),
        ],
        "export_denied": [
            (dict(user_id=sup, actor=actor, region_code="350300", outcome="denied",
                  detail={"training": "T2022", "reason": "region outside scope",
                          "region": "350400", "school": ""}),
             ["拒绝导出：请求的区域不在管理范围内", "请求的区域：三明市"]),
            (dict(user_id=sup, actor=actor, region_code="350300", outcome="denied",
                  detail={"training": "T2022", "reason": "school outside scope",
                          "region": "", "school": "S-SM-1"}),
             ["请求的学校不在管理范围内", "请求的学校：宁化县第一中学"]),
            (dict(user_id=sup, actor=actor, region_code="350300", outcome="denied",
                  detail={"table": "audit", "reason": "no region scope"}),
             ["拒绝导出：当前管理身份不能导出该表", "表：操作日志"]),
        ],
        "export_download": [(dict(user_id=sup, actor=actor, region_code="350322",
                                  detail={"job_id": 12, "table": "teachers", "format": "xlsx",
                                          "rows": 25000}),
                             ["下载后台任务 #12 的导出文件「按学员查看」XLSX，25000 行"])],
        "denied": [(dict(user_id=sup, actor=actor, region_code="350300", outcome="denied",
                         detail={"view": "training", "training": "T2022", "region": "350400"}),
                    ["拒绝访问统计详情：三明市不在管理范围内",
                     "培训：2022年“暑期教师研修”专题"])],
        "scope_switch": [(dict(user_id=sup, actor=actor, region_code="350300",
                               detail={"binding_id": world["cli_binding"]}),
                          ["切换到「区域教师研修管理员」仙游县"])],
        "school_create": [(dict(user_id=sup, actor=actor, region_code="350322",
                                school_code="S-XY-2",
                                detail={"school": "S-XY-2", "name": "仙游县实验小学",
                                        "new": {"region_code": "350322", "kind": "学校",
                                                "urban_rural": None, "name": "仙游县实验小学"}}),
                           ["新增学校「仙游县实验小学」（学校标识码：S-XY-2）", "所在区域：仙游县",
                            "机构类型：学校"])],
        "school_update": [(dict(user_id=sup, actor=actor, region_code="350322",
                                school_code="S-XY-2",
                                detail={"school": "S-XY-2", "name": "仙游县实验小学",
                                        "old": {"urban_rural": None},
                                        "new": {"urban_rural": "乡村"}}),
                           ["编辑学校「仙游县实验小学」", "城乡类型由「—」改为「乡村」"])],
        "school_delete": [(dict(user_id=sup, actor=actor, region_code="350322",
                                school_code="S-XY-1",
                                detail={"school": "S-XY-1", "name": "仙游县第一中学",
                                        "old": {"region_code": "350322"},
                                        "binding_id": red.binding_id, "codes_revoked": 1}),
                           ["删除学校「仙游县第一中学」", "其学校管理员 王校长（xy***al） 的绑定同时结束",
                            "撤销未使用的权限码 1 个"])],
        "school_move": [(dict(user_id=sup, actor=actor, region_code="350322",
                              school_code="S-XY-1",
                              detail={"school": "S-XY-1", "name": "仙游县第一中学",
                                      "old": {"region_code": "350322"},
                                      "new": {"region_code": "350304"},
                                      "binding_id": red.binding_id}),
                         ["调整学校「仙游县第一中学」（学校标识码：S-XY-1）的隶属：由「仙游县」调整到「荔城区」",
                          "王校长（xy***al） 的管理范围随之调整"])],
        "teacher_counts_import": [(dict(user_id=sup, actor=actor, region_code="350300",
                                        detail={"file": "专任教师数.xlsx", "rows": 12,
                                                "inserted": 3, "updated": 2, "unchanged": 7,
                                                "skipped": 0}),
                                   ["导入专任教师数：文件「专任教师数.xlsx」，共 12 行",
                                    "新增 3，修改 2，不变 7，未填写 0"])],
        "cert_decision": [(dict(user_id=sup, actor=actor, region_code="350322",
                                school_code="S-XY-1",
                                detail={"status": "未通过", "teachers": 2,
                                        "accounts": ["139****0014", "139****0015"],
                                        "reason": "证件照片不清晰"}),
                           ["认证审核：2 名教师设为「未通过」",
                            "教师账号：139****0014、139****0015", "原因：证件照片不清晰"])],
        "screen_token_issue": [
            (dict(user_id=sup, actor=actor, region_code="350322",
                  detail={"token_id": 3, "label": "三楼会议室", "training": ""}),
             ["生成大屏链接「三楼会议室」（#3）", "区域：仙游县", "培训：当前培训（自动跟随）"]),
            (dict(actor="cli", region_code="350300",
                  detail={"token_id": 4, "label": "大厅", "training": "T2022"}),
             ["生成大屏链接「大厅」（#4）", "区域：莆田市", "培训：2022年“暑期教师研修”专题"]),
        ],
        "screen_token_revoke": [(dict(user_id=sup, actor=actor, region_code="350322",
                                      detail={"token_id": 3, "label": "三楼会议室",
                                              "training": ""}),
                                 ["撤销大屏链接「三楼会议室」（#3）", "区域：仙游县"])],
    }
    assert set(cases) == set(audit.ACTION_LABELS)
    expected = []
    with engine.begin() as conn:
        conn.execute(AuditLog.__table__.delete())
        for action, entries in cases.items():
            for kwargs, words in entries:
                audit.record(conn, action, **kwargs)
                expected.append((action, words))
    rows = list(reversed(_entries(engine)))  # oldest first, as recorded
    assert len(rows) == len(expected)
    for row, (action, words) in zip(rows, expected):
        assert row.action == audit.ACTION_LABELS[action]
        for word in words:
            assert word in row.detail, (action, word, row.detail)
        assert not re.search(r'[{}\[\]"]', row.detail), row.detail
        latin = ALLOWED_LATIN.sub("", row.detail)
        assert not re.search(r"[A-Za-z]{2,}", latin), row.detail
        assert row.outcome in audit.OUTCOME_LABELS.values()


def test_actor_is_named_with_a_masked_account(engine, world):
    with engine.begin() as conn:
        audit.record(conn, "login", user_id=world["sup"], actor="******", region_code="350300")
        audit.record(conn, "login", user_id=world["redeemer"], actor="x", region_code="350322")
        audit.record(conn, "grant", actor="cli", region_code="350322",
                     detail={"user_id": world["cli_user"], "role": "region_training",
                             "binding_id": world["cli_binding"]})
        audit.record(conn, "login", actor=mask_account("nobody-typed"), region_code="350300",
                     outcome="failed")
    failed, grant, redeemer, sup = _entries(engine)
    # the contact name given at binding, the login masked so that it is told apart
    assert sup.actor == "林志强（pu***an）"
    assert redeemer.actor == "王校长（xy***al）"
    assert grant.actor == "平台运维（命令行）"
    assert failed.actor == "nob***ped"
    assert all("******" not in r.actor for r in (failed, grant, redeemer, sup))


def test_unknown_actions_keys_and_malformed_details_stay_readable(engine, world):
    with engine.begin() as conn:
        audit.record(conn, "export", user_id=world["sup"], region_code="350300",
                     detail={"table": "pupils", "format": "csv", "rows": 3,
                             "sort": ["学校", "教研机构"], "flags": {"archived": True}})
        audit.record(conn, "code_revoke", user_id=world["sup"], region_code="350300",
                     detail={"code_id": [1], "role": {"x": 1}, "binding_id": [2],
                             "user_id": {"id": 3}})
        audit.record(conn, "admin_remove", user_id=world["sup"], region_code="350300",
                     detail={"binding_id": ["x"], "role": ["school_admin"]})
        audit.record(conn, "school_merge", user_id=world["sup"], region_code="350300",
                     detail={"school": "S-XY-1", "region": "350304", "note": None})
        conn.execute(AuditLog.__table__.insert().values(
            at=audit.datetime.now(), action="code_issue", scope_region="350300",
            detail="not json", outcome="ok"))
    broken, moved, removed, revoked, exported = _entries(engine, "350300")
    assert revoked.detail.startswith("撤销「x：1」权限码 #1") and "用户：用户 #id：3" in revoked.detail
    assert removed.detail.startswith("删除「school_admin」—")
    assert exported.detail.startswith("导出「pupils」CSV，3 行")
    assert "sort：学校、教研机构" in exported.detail and "flags：archived：是" in exported.detail
    assert moved.action == "其他操作"
    assert moved.detail.startswith("其他操作，")
    assert {"学校：仙游县第一中学", "区域：荔城区", "note：—"} <= set(moved.detail.split("，"))
    assert "详情：not json" in broken.detail
    for row in (broken, moved, removed, revoked, exported):
        assert not re.search(r'[{}\[\]"]', row.detail), row.detail


def test_names_come_from_the_database_and_the_log_keeps_only_ids(engine, world):
    with engine.begin() as conn:
        audit.record(conn, "denied", user_id=world["sup"], region_code="350300",
                     outcome="denied",
                     detail={"view": "training", "training": "NOPE", "region": "999999"})
        stored = conn.execute(select(AuditLog.actor, AuditLog.detail)).all()
    row = _entries(engine, "350300")[0]
    assert "区域代码「999999」（不存在）" in row.detail and "培训代码「NOPE」（不存在）" in row.detail
    for actor, detail in stored:
        assert "林志强" not in f"{actor}{detail}" and "putian" not in f"{actor}{detail}"


def test_hostile_stored_requests_are_shown_harmlessly(engine, world):
    """A denied request is logged as sent: control characters and odd codes must neither
    break the lookup (a NUL byte is refused by PostgreSQL) nor reach the screen raw."""
    with engine.begin() as conn:
        for region in ("\x00", "35\x0003", "\u202e350400", "x" * 40, "' OR 1=1 --"):
            audit.record(conn, "export_denied", user_id=world["sup"], region_code="350300",
                         outcome="denied",
                         detail={"training": region, "reason": "region outside scope",
                                 "region": region, "school": ""})
    rows = _entries(engine, "350300")
    assert len(rows) == 5
    for row in rows:
        assert row.detail.startswith("拒绝导出：请求的区域不在管理范围内")
        assert all(c.isprintable() for c in row.detail), repr(row.detail)
    assert any("区域代码「' OR 1=1 --」（不存在）" in r.detail for r in rows)
