import base64
import hashlib
import re
from pathlib import Path

from sqlalchemy import select

from data_access.models import AuditLog, User
from data_access.refresh import refresh
from tests.helpers import build_dataset, login, make_admin


def test_passwords_are_stored_with_a_kdf(app):
    engine = app.extensions["yanxiu"].engine
    account = make_admin(engine, "region_training", "350000")
    with engine.connect() as conn:
        stored = conn.scalar(select(User.password_hash).where(User.account == account))
    assert stored.startswith(("scrypt:", "pbkdf2:")) and "Passw0rd!x" not in stored


def test_audit_log_records_without_personal_data(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    account = make_admin(engine, "region_training", "350000", "13812344708")
    login(client, account, "wrong-password")
    login(client, account)
    client.get("/export/training/T2022/regions.csv?region=350300")
    client.get("/export/training/T2022/regions.csv?region=110000")
    with engine.connect() as conn:
        rows = conn.execute(select(AuditLog.action, AuditLog.outcome, AuditLog.actor,
                                   AuditLog.detail, AuditLog.scope_region)).all()
    actions = [(a, o) for a, o, *_ in rows]
    assert ("login", "failed") in actions and ("login", "ok") in actions
    assert ("export", "ok") in actions and ("export_denied", "denied") in actions
    export = next(r for r in rows if r.action == "export")
    assert export.scope_region == "350300" and '"rows": ' in export.detail
    for r in rows:
        assert "13812344708" not in f"{r.actor}{r.detail}"
    assert any(r.actor == "138****4708" for r in rows)


def test_audit_page_and_download_show_only_the_own_scope(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    login(app.test_client(), make_admin(engine, "region_training", "350400", "sanming-admin"))
    login(client, make_admin(engine, "region_training", "350300", "putian-admin"))
    client.get("/export/training/T2022/regions.csv")
    text = client.get("/export/audit.csv").get_data(as_text=True)
    assert text.startswith("\ufeff操作日志")
    assert "莆田市" in text and "导出" in text
    assert "三明市" not in text


def test_database_outage_gives_a_clear_error_and_recovers(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from data_access import accounts

    engine = app.extensions["yanxiu"].engine
    login(client, make_admin(engine, "region_training", "350000"))
    real = accounts.load_session

    def down(*_a, **_k):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(accounts, "load_session", down)
    page = client.get("/")
    assert page.status_code == 503 and "数据库暂时无法连接" in page.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 503
    monkeypatch.setattr(accounts, "load_session", real)
    assert client.get("/").status_code == 200


def _policy(answer) -> dict[str, list[str]]:
    header = answer.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def _inline_script_hashes(html: str) -> set[str]:
    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)  # not executed
    scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>",
                         html, flags=re.S)
    return {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in scripts}


def test_every_answer_carries_a_content_security_policy(app, client, login_as):
    anonymous = [client.get("/login"), client.get("/register")]
    login_as("region_training", "350000")
    page = client.get("/training/T2022")
    answers = anonymous + [page, client.get("/"), client.get("/_dash-layout"),
                           client.get("/assets/yanxiu.css"), client.get("/bind")]
    inline = _inline_script_hashes(page.get_data(as_text=True))
    assert len(inline) >= 2  # Dash's renderer start and the pages' title callback
    for answer in answers:
        policy = _policy(answer)
        assert policy["default-src"] == ["'none'"]
        assert policy["script-src"][0] == "'self'"
        assert set(policy["script-src"][1:]) == inline  # Dash's inline scripts, by hash only
        assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
        assert policy["img-src"] == ["'self'", "data:"]
        assert policy["connect-src"] == ["'self'"]
        assert policy["form-action"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        header = answer.headers["Content-Security-Policy"]
        assert "unsafe-eval" not in header and "http" not in header and "*" not in header


def test_templates_have_no_inline_script_or_event_handler():
    templates = Path(__file__).resolve().parents[2] / "dashboard" / "templates"
    for path in templates.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text, path.name
        assert not re.search(r"\son[a-z]+\s*=", text, flags=re.I), path.name
        assert "javascript:" not in text.lower(), path.name
        assert 'style="' not in text, path.name
