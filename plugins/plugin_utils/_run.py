# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to the opsdeck.tmux collection (controller side): which playbook run is this?

Ansible forks a worker per task and host and the connection object dies with
it, so the run is identified by the process that forked the workers: the
controller's host name, that process's pid and its start time (pids are
reused). The target stores this id on the session it acquired.
"""

from __future__ import annotations

import os
import re
import socket


def _start_time(pid: int) -> str:
    """Start time of a process in clock ticks since boot ('0' where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return "0"
    return stat.rsplit(")", 1)[1].split()[19]


def controller_host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:64] or "controller"


def controller_run_id(playbook_pid: str | int | None = None) -> str:
    """Id of the current run: <host>.<pid of ansible-playbook>.<its start time>.

    TaskExecutor tells connections the pid (``ansible_playbook_pid``); the worker's
    parent is the same process when it does not."""
    pid = int(playbook_pid) if playbook_pid and str(playbook_pid).isdigit() else os.getppid()
    return f"{controller_host()}.{pid}.{_start_time(pid)}"


def owner_is_alive(run_id: str) -> bool:
    """Is the run that owns a session still running? Only decidable for this controller."""
    parts = run_id.split(".")
    if len(parts) != 3 or parts[0] != controller_host() or not parts[1].isdigit():
        return True
    pid = int(parts[1])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _start_time(pid) == parts[2]
