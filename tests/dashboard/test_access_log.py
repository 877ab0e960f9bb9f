"""`yanxiu serve`'s access log keeps name searches out: no query string, no Referer (the URLs
of 统计详情 carry teachers' names)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.app.base import BaseApplication

from dashboard.cli import _serve
from dashboard.settings import Settings

NAME = "张三"
ENCODED = "%E5%BC%A0%E4%B8%89"
URL = f"/export/training/T2022/teachers.csv?region=350322&q={ENCODED}"
REFERER = f"http://127.0.0.1:8050/training/T2022?view=teachers&q={ENCODED}&page=3"


@pytest.fixture
def serve_config(monkeypatch):
    """The gunicorn configuration `yanxiu serve` runs with (gunicorn itself not started)."""
    seen = {}
    monkeypatch.setattr(BaseApplication, "run", lambda self: seen.setdefault("cfg", self.cfg))
    _serve("127.0.0.1", 8050, 2, Settings(database_url="sqlite://",
                                           secret_key="access-log-test-0123456789"))
    return seen["cfg"]


def access_line(cfg, tmp_path, url: str = URL) -> str:
    log_file = tmp_path / "access.log"
    cfg.set("accesslog", str(log_file))
    logger = cfg.logger_class(cfg)
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": url, "PATH_INFO": url.split("?")[0],
        "QUERY_STRING": (url.split("?") + [""])[1], "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.1.2.3", "HTTP_REFERER": REFERER, "HTTP_USER_AGENT": "Mozilla/5.0",
    }
    request = SimpleNamespace(headers=[("REFERER", REFERER), ("USER-AGENT", "Mozilla/5.0")])
    response = SimpleNamespace(status="200 OK", sent=5120,
                               headers=[("Content-Type", "text/csv; charset=utf-8")])
    logger.access(response, request, environ, timedelta(milliseconds=42))
    for handler in logger.access_log.handlers:
        handler.flush()
    text = log_file.read_text(encoding="utf-8")
    for handler in list(logger.access_log.handlers):
        logger.access_log.removeHandler(handler)
        handler.close()
    return text


def assert_no_search(line: str) -> None:
    for secret in (NAME, "张", ENCODED, "%E5%BC%A0", "q=", "view=teachers", "region=350322"):
        assert secret not in line, (secret, line)


def test_access_log_line_has_the_path_but_no_query_and_no_referer(serve_config, tmp_path):
    line = access_line(serve_config, tmp_path)
    assert '"GET /export/training/T2022/teachers.csv HTTP/1.1" 200 5120 42ms' in line, line
    assert line.startswith("10.1.2.3 ")
    assert_no_search(line)


def test_no_access_log_format_can_bring_the_query_back(serve_config, tmp_path):
    serve_config.set("access_log_format", '%(r)s %(q)s %(f)s %({referer}i)s %({query_string}e)s '
                     '%({raw_uri}e)s %({http_referer}e)s %({request_uri}e)s')
    line = access_line(serve_config, tmp_path)
    assert "GET /export/training/T2022/teachers.csv HTTP/1.1" in line, line
    assert_no_search(line)


def test_serve_keeps_its_other_settings(serve_config):
    assert serve_config.bind == ["127.0.0.1:8050"]
    assert serve_config.workers == 2 and serve_config.timeout == 120
    assert serve_config.accesslog == "-"


def test_a_kiosk_links_token_stays_out_of_the_log(serve_config, tmp_path):
    token = "Zq3x" + "k" * 28
    serve_config.set("access_log_format", '%(r)s %(U)s')
    line = access_line(serve_config, tmp_path, f"/screen/{token}")
    assert "/screen/Zq3x… " in line and token not in line and "kkkk" not in line, line


def test_no_environ_atom_carries_a_kiosk_token(serve_config, tmp_path):
    token = "Zq3x" + "k" * 28
    serve_config.set("access_log_format", '%({path_info}e)s %({raw_uri}e)s %(U)s')
    line = access_line(serve_config, tmp_path, f"/screen/{token}")
    assert token not in line and "/screen/Zq3x…" in line, line
