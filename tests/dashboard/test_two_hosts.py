"""Two `yanxiu serve` hosts on one database (and one broker, in the broker mode), as in the
two-host deployment of docs/operations.md: a session opened on one is valid on the other, and
an export job requested through one is listed and downloaded through the other."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from data_access.refresh import refresh
from tests.helpers import PASSWORD, build_dataset, make_admin

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_hosts(app, job_worker):
    state = app.extensions["yanxiu"]
    build_dataset(state.engine)
    refresh(state.engine)
    env = job_worker.environment()
    env["YANXIU_INLINE_EXPORT_LIMIT"] = "1"
    procs, urls = [], []
    for _ in range(2):
        port = _free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port)], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True))
        urls.append(f"http://127.0.0.1:{port}")
    if job_worker.mode == "broker":
        job_worker.start()  # the worker host
    try:
        for url, proc in zip(urls, procs):
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, "serve stopped"
                try:
                    # A worker's first answer builds the app: slow on a busy machine.
                    if requests.get(f"{url}/login", timeout=10).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    pass
                assert time.monotonic() < deadline, f"{url} never answered"
                time.sleep(0.3)
        yield state, urls
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)


def test_a_job_made_on_one_host_is_listed_and_downloaded_on_the_other(two_hosts):
    state, (host_a, host_b) = two_hosts
    account = make_admin(state.engine, "region_training", "350000")
    browser = requests.Session()
    form = browser.get(f"{host_a}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    resp = browser.post(f"{host_a}/login", data={"account": account, "password": PASSWORD,
                                                 "csrf_token": token}, timeout=10)
    assert resp.status_code == 200 and resp.url.rstrip("/") != f"{host_a}/login"

    # the session cookie of host A opens host B (the hosts share the database, not memory)
    assert browser.get(f"{host_b}/export/jobs", timeout=10).status_code == 200
    csrf = browser.cookies.get("_csrf_token")
    resp = browser.post(f"{host_a}/export/jobs", json={
        "url": "/export/training/T2022/teachers.csv?uncertified=include"},
        headers={"X-CSRFToken": csrf}, timeout=30)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job_id"]

    deadline = time.monotonic() + 90
    while True:
        jobs = browser.get(f"{host_b}/export/jobs", timeout=10).json()["jobs"]
        job = next(j for j in jobs if j["id"] == job_id)
        if job["status"] in ("已完成", "失败") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["status"] == "已完成", job
    resp = browser.get(f"{host_b}{job['url']}", timeout=30)
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert lines[1][0] == "账号" and len(lines) == 2 + 9
    # and the same file through host A
    assert browser.get(f"{host_a}{job['url']}", timeout=30).content == resp.content
    # logging out on one host ends the session on both
    browser.post(f"{host_b}/logout", data={"csrf_token": browser.cookies.get("_csrf_token")},
                 timeout=10)
    assert browser.get(f"{host_a}/export/jobs", timeout=10,
                       allow_redirects=False).status_code in (302, 401, 403)
