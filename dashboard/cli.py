"""The `yanxiu` command line (SPEC §7.3)."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import click

from data_access.db import make_engine
from data_access.vocab import ROLE_REGION_SUPER, ROLE_REGION_TRAINING, ROLE_SCHOOL_ADMIN

from .settings import Settings, instance_dir

DEMO_PASSWORD = "Demo@2026"


@dataclass(frozen=True)
class DemoUser:
    account: str
    name: str  # a person's name: the audit log and 管理员列表 show who did what
    role: str
    scope: str  # a region code; for a school admin a key of data_access.demo.DEMO_SCHOOLS


DEMO_USERS = (
    DemoUser("fujian", "林志强", ROLE_REGION_TRAINING, "350000"),
    DemoUser("putian", "陈淑珍", ROLE_REGION_TRAINING, "350300"),
    DemoUser("xianyou", "黄文斌", ROLE_REGION_TRAINING, "350322"),
    DemoUser("sanming", "吴海燕", ROLE_REGION_SUPER, "350400"),
    DemoUser("xianyou-school", "郑晓峰", ROLE_SCHOOL_ADMIN, "xianyou-middle"),
    DemoUser("kindergarten", "张丽萍", ROLE_SCHOOL_ADMIN, "putian-kindergarten"),
    DemoUser("school-info", "刘建国", ROLE_SCHOOL_ADMIN, "urban-rural-missing"),
)


def _settings() -> Settings:
    return Settings.from_env()


def _engine():
    return make_engine(_settings().database_url)


@click.group()
def main() -> None:
    """研修管理工作台 — command line."""


# --------------------------------------------------------------------------- database


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the schema to the newest version and load the region catalogue."""
    from data_access.schema import upgrade

    settings = _settings()
    _ensure_sqlite_dir(settings.database_url)
    added = upgrade(make_engine(settings.database_url))
    click.echo(f"schema is current; {added} catalogue regions added")


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@main.command("import")
@click.argument("kind")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate only; write nothing.")
@click.option("--errors-file", type=click.Path(dir_okay=False), default=None,
              help="Where to write the error report of a refused file (default: a new "
                   "FILE-errors-TIME.csv next to FILE).")
def import_cmd(kind: str, file: str, dry_run: bool, errors_file: str | None) -> None:
    """Import a regions|schools|teachers|trainings|records|teacher-counts file."""
    from data_access.importers import KINDS, ImportRefused, import_file

    if kind not in KINDS:
        raise click.UsageError(f"KIND must be one of: {', '.join(KINDS)}")
    from .progress import Progress, count_lines

    settings = _settings()
    started = time.perf_counter()
    shown = Progress(f"{'checking' if dry_run else 'importing'} {kind}",
                     total=count_lines(file))
    try:
        result = import_file(make_engine(settings.database_url), kind, file,
                             id_key=settings.id_hash_key.encode(), dry_run=dry_run,
                             errors_file=errors_file, progress=shown.rows)
    except ImportRefused as exc:
        shown.done()
        for err in exc.errors:
            click.echo(str(err), err=True)
        if exc.unlisted:
            click.echo(f"… and {exc.unlisted} more error(s), not shown here", err=True)
        if exc.report_path is not None:
            click.echo(f"every error is listed in {exc.report_path}", err=True)
        elif exc.report_problem:
            click.echo(exc.report_problem, err=True)
        click.echo(f"refused: {exc.total} error(s); nothing was written", err=True)
        sys.exit(1)
    shown.done()
    verb = "checked" if dry_run else "imported"
    click.echo(
        f"{verb} {result.rows} {kind} rows: {result.inserted} new, {result.updated} updated, "
        f"{result.unchanged} unchanged ({time.perf_counter() - started:.1f} s)"
    )
    if result.kept_decisions:
        click.echo(f"kept {result.kept_decisions} certification decision(s) of 教师管理 "
                   "(a row with a later 申请时间 is a new application)")


@main.command()
def refresh() -> None:
    """Rebuild the statistics aggregates into a new snapshot and switch to it."""
    from data_access.refresh import RefreshError
    from data_access.refresh import refresh as run_refresh

    engine = _engine()
    shown = _refresh_progress(engine)
    try:
        result = run_refresh(engine, progress=shown.stage)
    except RefreshError as exc:
        shown.done()
        raise click.ClickException(str(exc)) from exc
    shown.done()
    click.echo(f"snapshot {result.snapshot_id} ready in {result.seconds:.1f} s "
               f"({result.trainings} trainings, {result.region_rows} region rows)")


def _refresh_progress(engine):
    from data_access.refresh import STAGES, last_refresh_seconds

    from .progress import Progress

    try:
        with engine.connect() as conn:
            expected = last_refresh_seconds(conn)
    except Exception:  # a database without the tables yet: no estimate
        expected = None
    return Progress("refresh", stages=len(STAGES), expected_s=expected)


@main.command("gen-demo")
@click.option("--scale", type=click.Choice(["small", "province", "national"]), default="province")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True)
@click.option("--seed", type=int, default=2022)
def gen_demo(scale: str, out_dir: str, seed: int) -> None:
    """Write the six import files of a demo data set."""
    from data_access.demo import expected_teachers, generate

    from .progress import Progress

    started = time.perf_counter()
    shown = Progress(f"gen-demo {scale}: teachers", total=expected_teachers(scale))
    files = generate(scale, out_dir, seed=seed, progress=shown.rows)
    shown.done()
    for kind, path in files.items():
        click.echo(f"{kind}: {path}")
    click.echo(f"done in {time.perf_counter() - started:.1f} s")


# --------------------------------------------------------------------------- accounts


@main.group()
def user() -> None:
    """Admin user accounts."""


@user.command("create")
@click.option("--account", required=True)
@click.option("--name", required=True)
@click.option("--phone", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_create(account: str, name: str, phone: str | None, password_stdin: bool) -> None:
    from data_access import accounts, audit

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt=True)
    try:
        with _engine().begin() as conn:
            uid = accounts.create_user(conn, account, name, password, phone)
            audit.record(conn, "user_create", actor="cli", detail={"user_id": uid})
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {account} created")


@main.command()
@click.option("--account", required=True)
@click.option("--role", type=click.Choice(["region_super", "region_training", "school_admin"]),
              required=True)
@click.option("--scope", "scope_code", required=True, help="Region code, or school code for school_admin.")
def grant(account: str, role: str, scope_code: str) -> None:
    """Bind a user to a role over a region or school (operator shortcut)."""
    from data_access import accounts, audit

    with _engine().begin() as conn:
        u = accounts.user_by_account(conn, account)
        if u is None:
            raise click.ClickException(f"no user {account}")
        try:
            bid = accounts.grant(conn, u.id, role, scope_code)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        audit.record(conn, "grant", actor="cli",
                     region_code=None if role == "school_admin" else scope_code,
                     school_code=scope_code if role == "school_admin" else None,
                     detail={"user_id": u.id, "role": role, "binding_id": bid})
    click.echo(f"{account} is now {role} of {scope_code}")


@main.group()
def code() -> None:
    """Permission codes (权限码)."""


@code.command("issue")
@click.option("--role", type=click.Choice(["region_super", "region_training", "school_admin"]),
              required=True)
@click.option("--scope", "scope_code", required=True, help="Region code, or school code for school_admin.")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 365))
def code_issue(role: str, scope_code: str, days: int) -> None:
    """Issue a code as the platform operator; prints it (it is shown only this once)."""
    from datetime import timedelta

    from data_access import audit, codes

    try:
        with _engine().begin() as conn:
            issued = codes.issue(conn, None, role, scope_code, ttl=timedelta(days=days))
            audit.record(conn, "code_issue", actor="cli",
                         region_code=None if role == "school_admin" else scope_code,
                         school_code=scope_code if role == "school_admin" else None,
                         detail={"code_id": issued.id, "role": role})
    except codes.CodeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{role} code for {scope_code}, valid until {issued.expires_at:%Y-%m-%d %H:%M}:")
    click.echo(issued.code)


@main.group("screen-token")
def screen_token() -> None:
    """Kiosk links of the wall screen (大屏)."""


@screen_token.command("issue")
@click.option("--region", "region_code", required=True, help="Region code the screen shows.")
@click.option("--training", "training_code", default=None,
              help="Training code; without it the screen follows the current training.")
@click.option("--label", required=True, help="Where the screen hangs, e.g. 三楼会议室.")
@click.option("--expires", default=None,
              help="Last day the link works (YYYY-MM-DD); without it the link does not expire.")
def screen_token_issue(region_code: str, training_code: str | None, label: str,
                       expires: str | None) -> None:
    """Issue a kiosk link as the platform operator; prints its path (shown only this once)."""
    from datetime import date

    from data_access import audit, display_tokens

    try:
        expires_on = date.fromisoformat(expires) if expires else None
    except ValueError as exc:
        raise click.ClickException("有效期格式应为 YYYY-MM-DD，如 2026-12-31") from exc
    try:
        with _engine().begin() as conn:
            issued = display_tokens.issue(conn, None, user_id=None, region_code=region_code,
                                          training_code=training_code, label=label,
                                          expires_on=expires_on)
            row = display_tokens.list_tokens(conn, None, token_id=issued.id)[0]
            audit.record(conn, "screen_token_issue", actor="cli", region_code=row.region_code,
                         detail={"token_id": issued.id, "label": row.label,
                                 "training": row.training_code or ""})
    except display_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    until = f"{row.expires_at:%Y-%m-%d}" if row.expires_at else "长期有效"
    click.echo(f"大屏链接 #{issued.id}「{row.label}」：{row.region_name}，{row.training_name}，"
               f"有效期至 {until}")
    click.echo(issued.path)
    click.echo("该链接只显示这一次：请在服务器地址后加上这个路径，在大屏设备的浏览器中打开。")


@screen_token.command("list")
def screen_token_list() -> None:
    """Every kiosk link, newest first."""
    from data_access import display_tokens

    with _engine().connect() as conn:
        rows = display_tokens.list_tokens(conn, None)
    table = [("ID", "大屏名称", "区域", "培训", "签发时间", "有效期至", "最近访问", "访问IP", "状态")]
    for r in rows:
        table.append((str(r.id), r.label, r.region_name, r.training_name,
                      f"{r.created_at:%Y-%m-%d %H:%M}",
                      f"{r.expires_at:%Y-%m-%d}" if r.expires_at else "长期有效",
                      f"{r.last_seen_at:%Y-%m-%d %H:%M}" if r.last_seen_at else "从未访问",
                      r.last_seen_ip or "—", r.status))
    if not rows:
        click.echo("暂无大屏链接")
        return
    widths = [max(_display_width(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        click.echo("  ".join(_pad(cell, w) for cell, w in zip(r, widths)).rstrip())


@screen_token.command("revoke")
@click.argument("token_id")
def screen_token_revoke(token_id: str) -> None:
    """Revoke a kiosk link by its ID (see `yanxiu screen-token list`)."""
    from data_access import audit, display_tokens

    # Anything but a plain number is passed on as it is, for revoke's own refusal.
    token_id = int(token_id) if token_id.isascii() and token_id.isdigit() else token_id
    try:
        with _engine().begin() as conn:
            row = display_tokens.revoke(conn, None, token_id, user_id=None)
            audit.record(conn, "screen_token_revoke", actor="cli", region_code=row.region_code,
                         detail={"token_id": row.id, "label": row.label,
                                 "training": row.training_code or ""})
    except display_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"已撤销大屏链接 #{row.id}「{row.label}」")


# --------------------------------------------------------------------------- exports


@main.command()
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
              help="exports written at once (with a broker)")
@click.option("--parent-pid", type=int, default=None, hidden=True)
def worker(concurrency: int, parent_pid: int | None) -> None:
    """Run background exports: a Celery worker on YANXIU_BROKER_URL, on any host; without a
    broker, the local worker (which `serve` and `demo` also start themselves)."""
    from .task_queue import worker as run_worker

    settings = _settings()
    if parent_pid is None:
        where = settings.broker_url and _without_password(settings.broker_url)
        click.echo(f"导出任务处理程序：{'任务队列 ' + where if where else '本机（无任务队列）'}；"
                   f"导出文件目录 {settings.export_dir}", err=True)
    run_worker(settings, concurrency=concurrency, parent_pid=parent_pid)


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can read; say nothing of it
        return url.split("@")[-1]


@main.group()
def exports() -> None:
    """Background export files (导出管理)."""


@exports.command("purge")
@click.option("--export-dir", type=click.Path(file_okay=False), default=None)
def exports_purge(export_dir: str | None) -> None:
    """Delete expired export files (kept 7 days) and stray files; run it daily from cron."""
    from data_access.export_jobs import purge_expired

    settings = _settings()
    folder = Path(export_dir) if export_dir else settings.export_dir
    with _engine().begin() as conn:
        removed = purge_expired(conn, folder)
    click.echo(f"{removed} export file(s) removed from {folder}")


# --------------------------------------------------------------------------- serving


def _serve(host: str, port: int, workers: int, settings: Settings) -> None:
    from gunicorn.app.base import BaseApplication

    from .app import create_app
    from .serving import gunicorn_options

    from .task_queue import LocalWorkerProcess

    class _Server(BaseApplication):
        def load_config(self):
            for name, value in gunicorn_options(host, port, workers).items():
                self.cfg.set(name, value)

        def load(self):
            return create_app(settings)

    # Without a broker, background exports run in a local worker next to the web workers.
    local_worker = None if settings.broker_url else LocalWorkerProcess(settings).start()
    try:
        _Server().run()
    finally:
        if local_worker is not None:
            local_worker.stop()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(2, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve with a production WSGI server (gunicorn, at least 2 workers)."""
    settings = _settings()
    if not settings.has_real_secret:
        raise click.ClickException(
            "YANXIU_SECRET_KEY is missing or is the default: set a random secret of 16+ characters")
    if os.environ.get("FLASK_DEBUG") or os.environ.get("DASH_DEBUG"):
        raise click.ClickException("serve refuses debug mode (unset FLASK_DEBUG / DASH_DEBUG)")
    _serve(host, port, workers, settings)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--scale", type=click.Choice(["small", "province"]), default="province",
              show_default=True)
def demo(host: str, port: int, scale: str) -> None:
    """Create a SQLite database with demo data (first run only), refresh, print the demo
    logins and serve."""
    folder = instance_dir() / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "yanxiu-demo.db"
    key_file = folder / "secret.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32))
    secret = key_file.read_text().strip()
    settings = Settings(database_url=f"sqlite:///{db_path}", secret_key=secret,
                        export_dir=folder / "exports")
    if not db_path.exists():
        _build_demo(settings, folder, scale)
    else:
        _upgrade_demo(settings)
    _echo_demo_logins(settings, folder)
    click.echo(f"\n打开 http://{host}:{port}/ 登录（端口被占用时用 --port 换一个，如 --port 8060）\n")
    _serve(host, port, 2, settings)


def _upgrade_demo(settings: Settings) -> None:
    """A demo database built by an earlier version: migrate it, and rebuild its statistics
    when a migration left none (e.g. 0008 moves them into snapshot files)."""
    from data_access.refresh import current_snapshot
    from data_access.refresh import refresh as run_refresh
    from data_access.schema import upgrade

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            missing = current_snapshot(conn) is None
        if missing:
            click.echo("rebuilding the demo statistics for this version …")
            run_refresh(engine)
    finally:
        engine.dispose()


def _echo_demo_logins(settings: Settings, folder: Path) -> None:
    """The demo accounts as the database holds them: account, role, scope and name."""
    from data_access import accounts
    from data_access.vocab import ROLE_LABELS

    rows = [("账号", "角色", "管理范围", "姓名")]
    missing = []
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            for demo_user in DEMO_USERS:
                user = accounts.user_by_account(conn, demo_user.account)
                bindings = accounts.active_bindings(conn, user.id) if user else []
                if not bindings:
                    missing.append(demo_user.account)
                for b in bindings:
                    rows.append((user.account, ROLE_LABELS[b.role], b.scope_name, user.name))
    finally:
        engine.dispose()
    widths = [max(_display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    click.echo(f"\n演示账号（密码均为 {DEMO_PASSWORD}）：")
    for r in rows:
        click.echo("  " + "  ".join(_pad(cell, w) for cell, w in zip(r, widths)).rstrip())
    if missing:
        click.echo(f"  此演示数据库建于旧版本，没有 {'、'.join(missing)}；"
                   f"删除 {folder} 后重新运行即可重建。")


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _display_width(text))


def _build_demo(settings: Settings, folder: Path, scale: str) -> None:
    from data_access import accounts
    from data_access.demo import (IMPORT_ORDER, demo_schools, generate, seed_admins,
                                  seed_history, seed_review_backlog)
    from data_access.importers import import_file
    from data_access.refresh import refresh as run_refresh
    from data_access.schema import upgrade

    tmp_db = folder / "building.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_db}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{tmp_db}")
    click.echo("creating the demo database (first run only) …")
    upgrade(engine)
    from data_access.demo import expected_teachers

    from .progress import Progress, count_lines

    started = time.perf_counter()
    shown = Progress("  demo files: teachers", total=expected_teachers(scale))
    files = generate(scale, folder / "data", progress=shown.rows)
    shown.done()
    click.echo(f"  demo files written ({time.perf_counter() - started:.1f} s)")
    for kind in IMPORT_ORDER:
        t = time.perf_counter()
        shown = Progress(f"  {kind}", total=count_lines(files[kind]))
        result = import_file(engine, kind, files[kind], id_key=settings.id_hash_key.encode(),
                             progress=shown.rows)
        shown.done()
        click.echo(f"  {kind}: {result.rows} rows ({time.perf_counter() - t:.1f} s)")
    shown = _refresh_progress(engine)
    result = run_refresh(engine, progress=shown.stage)
    shown.done()
    click.echo(f"  refresh: {result.seconds:.1f} s")
    schools = demo_schools(files["schools"])
    with engine.begin() as conn:
        for u in DEMO_USERS:
            uid = accounts.create_user(conn, u.account, u.name, DEMO_PASSWORD)
            scope = schools[u.scope][0] if u.role == ROLE_SCHOOL_ADMIN else u.scope
            accounts.grant(conn, uid, u.role, scope)
        seeded = seed_admins(conn)
        backlog = seed_review_backlog(conn, schools["xianyou-middle"][0])
        history = seed_history(conn, result.started_at.date())
    click.echo(f"  admin accounts: {seeded.school_admins} school admins, "
               f"{seeded.region_admins} region admins")
    click.echo(f"  教师管理 of {schools['xianyou-middle'][1]}: {backlog.pending} 未审核, "
               f"{backlog.rejected} 未通过")
    click.echo(f"  daily history since each training began: {history} rows")
    engine.dispose()
    # Only a complete database takes the final name, so an interrupted first run starts over.
    # Its snapshot files (data_access/snapshot_store.py) follow it.
    final = folder / "yanxiu-demo.db"
    shutil.rmtree(f"{final}.snapshots", ignore_errors=True)
    Path(f"{tmp_db}.snapshots").rename(f"{final}.snapshots")
    tmp_db.rename(final)
    for suffix in ("-wal", "-shm", ".refresh-lock"):
        Path(f"{tmp_db}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":  # pragma: no cover
    main()
