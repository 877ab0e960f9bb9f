"""How `yanxiu serve` runs gunicorn, and what its access log may contain.

The statistics pages carry teachers' names in their URLs (`?q=张…`), and so does the Referer
of the request that follows. The access log therefore records the method, the path without
its query string, the status, the size and the duration — never the query string, never the
Referer. A 大屏's kiosk path is cut to the first characters of its token.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

# gunicorn's default minus `%(r)s` (the request line with its query) and `%(f)s` (the
# Referer), plus the duration.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
WORKER_TIMEOUT_S = 120  # an XLSX of a million rows is written inside the request

# Atoms of gunicorn's access-log format that would carry the query string or the Referer
# (`%({referer}i)s`, `%({query_string}e)s`, …); they log as "-".
_HIDDEN_ATOMS = ("q", "f", "{referer}i", "{query_string}e", "{raw_uri}e", "{request_uri}e",
                 "{http_referer}e")


# A kiosk link's path is its credential (SPEC §4.6: stored only as a hash): the log keeps
# four characters of it, enough to tell screens apart.
_KIOSK_TOKEN = re.compile(r"^(/screen/[A-Za-z0-9_-]{4})[A-Za-z0-9_-]+")


_KIOSK_ANYWHERE = re.compile(r"(/screen/[A-Za-z0-9_-]{4})[A-Za-z0-9_-]+")


def loggable_path(path: str) -> str:
    return _KIOSK_TOKEN.sub(r"\1…", path)


class AccessLogger(Logger):
    """gunicorn's logger with the request line cut at the path: a format changed later (even
    one with `%(r)s`, or one naming a header or environ key) still cannot write a name search
    to the log."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = loggable_path(environ.get("RAW_URI", "").split("?", 1)[0].split("#", 1)[0] or "-")
        atoms["U"] = loggable_path(atoms.get("U", "-"))
        atoms["r"] = f"{environ.get('REQUEST_METHOD', '-')} {path} " \
                     f"{environ.get('SERVER_PROTOCOL', '-')}"
        for key in _HIDDEN_ATOMS:
            atoms.pop(key, None)
        for key, value in atoms.items():  # any atom holding the path (`{path_info}e`, …)
            if isinstance(value, str) and "/screen/" in value:
                atoms[key] = _KIOSK_ANYWHERE.sub(r"\1…", value)
        return atoms


def gunicorn_options(host: str, port: int, workers: int) -> dict:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "timeout": WORKER_TIMEOUT_S,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": AccessLogger,
    }
