"""Starting background exports outside the web worker (SPEC §8.3).

`start_job` spawns `python -m dashboard.cli export-run JOB_ID` in its own session: the export
runs in a separate process at a lower CPU priority, so the request worker answers at once
and other users' callbacks are not slowed by it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from flask import current_app

from data_access.export_jobs import ERR_INTERNAL, mark_failed


def job_command(job_id: int, export_dir) -> list[str]:
    return [sys.executable, "-m", "dashboard.cli", "export-run", str(int(job_id)),
            "--export-dir", str(export_dir)]


def start_job(job_id: int) -> None:
    state = current_app.extensions["yanxiu"]
    settings = state.settings
    env = dict(os.environ)
    # The database URL travels in the environment (never on the command line, where other
    # local users could read a password).
    env["YANXIU_DATABASE_URL"] = settings.database_url
    try:
        proc = subprocess.Popen(
            job_command(job_id, settings.export_dir),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        mark_failed(state.engine, job_id, ERR_INTERNAL)
        raise
    # Reap the child when it ends so that no zombie is left behind in the worker.
    threading.Thread(target=proc.wait, name=f"export-job-{job_id}", daemon=True).start()
