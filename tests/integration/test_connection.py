"""Real ansible-playbook runs through opsdeck.tmux.shared, over transport local and ssh.

The targets live in tests/integration/targets/ (ansible-test layout); these
tests write their inventories, run them, and then look at the tmux server
itself: which session the run used, what the panes show, what the log holds.
"""

from __future__ import annotations

import os
import pathlib
import re
import secrets
import subprocess
import time
import typing as t

import pytest
from conftest import SYSTEM_PYTHON, TARGETS, SSHTarget, ansible_env, assert_ok, run_playbook, wait_for
from libtmux.server import Server

LOCAL_VARS = f"ansible_connection=opsdeck.tmux.shared ansible_tmux_transport=ansible.builtin.local ansible_python_interpreter={SYSTEM_PYTHON}"


def local_inventory(tmp_path: pathlib.Path, server: Server, **extra: str) -> pathlib.Path:
    inv = tmp_path / "inventory.ini"
    more = " ".join(f"{k}={v}" for k, v in extra.items())
    inv.write_text(f"[shared]\nlocalhost {LOCAL_VARS} ansible_tmux_socket_name={server.socket_name} ansible_tmux_log_dir={tmp_path / 'logs'} {more}\n")
    return inv


def ssh_inventory(tmp_path: pathlib.Path, target: SSHTarget, socket_name: str, **extra: str) -> pathlib.Path:
    inv = tmp_path / "inventory.ini"
    line = target.inventory_line(ansible_tmux_socket_name=socket_name, **extra)
    # delegate_to: localhost in the targets runs on the controller directly
    inv.write_text(f"[shared]\n{line}\n\n[local]\nlocalhost ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}\n")
    return inv


def screen(server: Server, target: str) -> str:
    return "\n".join(server.cmd("capture-pane", "-p", "-J", "-S", "-", "-t", target).stdout)


def runme(target: str, inventory: pathlib.Path, home: pathlib.Path, tmp_path: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = ansible_env(home, INVENTORY=str(inventory), LOCAL_TMP=str(tmp_path), REMOTE_TMP="/tmp")
    return subprocess.run(["bash", str(TARGETS / target / "runme.sh")], cwd=TARGETS / target, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_connection_target_transport_local(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    proc = runme("connection_shared", local_inventory(tmp_path, server), user_path, tmp_path)
    assert_ok(proc)
    assert proc.stdout.count("failed=0") == 2, "both runs (pipelining on and off) must pass"
    text = screen(server, "=ops:=sys")
    # every task was visible in the pane, with its banner
    for name in ("Raw with unicode arg and output", "Copy local file with unicode filename and content", "Check mode passes through"):
        assert f"TASK [{name}]" in text
    assert "汉语" in text


def test_connection_target_transport_ssh(sshd: SSHTarget, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    socket_name = "it-ssh-" + secrets.token_hex(4)
    proc = runme("connection_shared", ssh_inventory(tmp_path, sshd, socket_name), user_path, tmp_path)
    assert_ok(proc)
    assert proc.stdout.count("failed=0") == 2, "both runs (pipelining on and off) must pass"
    remote = Server(socket_path=sshd.tmux_socket(socket_name))
    try:
        text = screen(remote, "=ops:=sys")
        assert "TASK [Fetch remote file with unicode filename and content]" in text
        assert f"on {sshd.host}" in text
        owner = remote.cmd("display-message", "-p", "-t", "=ops:", "#{@opsdeck_run}\t#{@opsdeck_source}").stdout
        assert owner and owner[0].split("\t")[1] == "ansible"
        logs = sorted(pathlib.Path("/tmp").glob("agent-ops-*.log"), key=os.path.getmtime)
        mine = [p for p in logs if p.stat().st_uid == sshd.uid]
        assert mine, "the ssh user's run wrote no /tmp/agent-ops-*.log"
        assert mine[-1].stat().st_mode & 0o777 == 0o600
    finally:
        remote.kill()


def _type(server: Server, target: str, line: str) -> None:
    """A person typing a line and pressing Enter."""
    server.cmd("send-keys", "-t", target, "-l", line)
    server.cmd("send-keys", "-t", target, "Enter")


def _prompt_ready(server: Server, target: str) -> t.Callable[[], bool]:
    def ready() -> bool:
        lines = [ln for ln in server.cmd("capture-pane", "-p", "-t", target).stdout if ln.strip()]
        return bool(lines) and lines[-1].rstrip().endswith(("$", "#"))

    return ready


def test_busy_pane_gets_no_keystroke_and_run_keeps_ops1(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    # A person's session "ops": deploy runs a long sleep in the foreground.
    history = tmp_path / "human_history"
    session = server.new_session("ops", window_name="sys", attach=False)
    session.new_window("deploy", attach=False)
    session.new_window("logs", attach=False)
    deploy = "=ops:=deploy"
    wait_for(_prompt_ready(server, deploy), 10, "the person's shell prompt")
    setup = f"HISTFILE={history}; PROMPT_COMMAND='history -a'"
    _type(server, deploy, setup)
    wait_for(lambda: history.exists() or _prompt_ready(server, deploy)(), 10, "history setup")
    _type(server, deploy, "sleep 3141")
    wait_for(lambda: server.cmd("display-message", "-p", "-t", deploy, "#{pane_current_command}").stdout == ["sleep"], 10, "the sleep to hold the foreground")
    before = screen(server, deploy)

    proc = run_playbook(TARGETS / "connection_shared_session" / "busy.yml", local_inventory(tmp_path, server), user_path)
    assert_ok(proc)

    names = sorted(s.session_name for s in server.sessions)
    assert names == ["ops", "ops1"], names
    ops1 = screen(server, "=ops1:=deploy")
    assert "task-one-marker" in ops1
    # ops became idle after task two, yet the run kept ops1 for task three
    assert "task-three-marker" in ops1
    wait_for(_prompt_ready(server, deploy), 10, "the person's prompt after the sleep ended")
    after = screen(server, deploy)
    assert after.startswith(before.rstrip()), "the busy pane's content changed beyond the sleep ending"
    assert "opsdeck" not in after and "marker" not in after
    typed = history.read_text().splitlines()
    assert typed == [setup, "sleep 3141"], f"the busy pane's shell history shows keystrokes that were not the person's: {typed}"


def test_log_file_and_no_log(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    secret = "s3cr3t-" + secrets.token_hex(6)
    started = time.time()
    proc = run_playbook(TARGETS / "connection_shared_session" / "log.yml", local_inventory(tmp_path, server), user_path, "-e", f"secret={secret}")
    assert_ok(proc)
    logs = list((tmp_path / "logs").iterdir())
    assert len(logs) == 1, f"one log per session per run, got {logs}"
    log = logs[0]
    assert re.fullmatch(r"agent-ops-\d{8}-\d{6}\.log", log.name), log.name
    stamp = time.mktime(time.strptime(log.name[10:25], "%Y%m%d-%H%M%S"))
    assert abs(stamp - started) < 60
    assert log.stat().st_mode & 0o777 == 0o600
    text = log.read_text()
    for name in ("Log marker alpha", "Log marker with stderr", "A secret task", "Streaming output for a few seconds"):
        assert f"TASK [{name}]" in text
    for output in ("alpha-output-line", "beta-stderr-line", "tick 1", "tick 3"):
        assert output in text
    assert "output hidden (no_log)" in text
    assert secret not in text
    for pane in server.cmd("list-panes", "-a", "-F", "#{pane_id}").stdout:
        assert secret not in screen(server, pane)
    assert secret not in proc.stdout


def test_become_without_ticket_fails_fast_with_directions(sshd: SSHTarget, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    socket_name = "it-become-" + secrets.token_hex(4)
    start = time.monotonic()
    # the automatic sudo gate would wait for a person; switched off, the task fails at once
    inv = ssh_inventory(tmp_path, sshd, socket_name, ansible_tmux_sudo_gate="false")
    proc = run_playbook(TARGETS / "connection_shared_session" / "become.yml", inv, user_path)
    elapsed = time.monotonic() - start
    try:
        assert proc.returncode != 0
        out = proc.stdout
        assert "sudo -v && echo SUDO_READY" in out
        assert "tmux attach -t ops" in out
        assert "opsdeck.tmux.sudo_gate" in out
        assert elapsed < 60
        assert sshd.password not in out and sshd.password not in proc.stderr
    finally:
        Server(socket_path=sshd.tmux_socket(socket_name)).kill()


@pytest.mark.parametrize("bad", ["ops;rm -rf /", "-t", "a:b"])
def test_bad_session_name_refused_in_a_play(bad: str, server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    inv = tmp_path / "inventory.ini"
    inv.write_text(f"[shared]\nlocalhost {LOCAL_VARS} ansible_tmux_socket_name={server.socket_name}\n")
    play = tmp_path / "play.yml"
    play.write_text(
        f"- hosts: shared\n  gather_facts: false\n  tasks:\n    - ansible.builtin.raw: echo never-typed\n      vars:\n        ansible_tmux_session: {bad!r}\n"
    )
    proc = run_playbook(play, inv, user_path)
    assert proc.returncode != 0
    assert "invalid base session name" in proc.stdout
    assert not server.is_alive()
