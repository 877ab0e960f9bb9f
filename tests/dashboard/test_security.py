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
