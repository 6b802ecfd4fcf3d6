"""What a person sees in the pane, read back with `capture-pane -p -S -` after real runs.

The same play (tests/integration/targets/connection_shared_view/view.yml) runs with
--diff over transport local and over ssh to a real sshd; the test then reads every
pane of the run's tmux server, and the run's log, as a person and an agent would.
"""

from __future__ import annotations

import pathlib
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

import pytest
from conftest import SYSTEM_PYTHON, TARGETS, SSHTarget, ansible_env, assert_ok, run_playbook, wait_for
from libtmux.server import Server

PLAY = TARGETS / "connection_shared_view" / "view.yml"
LOCAL = f"ansible_connection=opsdeck.tmux.shared ansible_tmux_transport=ansible.builtin.local ansible_python_interpreter={SYSTEM_PYTHON}"


def all_panes(where: list[str]) -> str:
    """The whole scrollback of every pane of a tmux server, as a person would scroll through it."""
    panes = subprocess.run(["tmux", *where, "list-panes", "-a", "-F", "#{pane_id}"], capture_output=True, text=True, check=True).stdout.split()
    return "\n".join(
        subprocess.run(["tmux", *where, "capture-pane", "-p", "-J", "-S", "-", "-t", p], capture_output=True, text=True, check=True).stdout for p in panes
    )


def run_view(tmp_path: pathlib.Path, user_path: pathlib.Path, transport: str, sshd: SSHTarget | None, *extra: str) -> tuple[str, str, str]:
    """Run the play; return (all panes' text, the run's log, ansible's output)."""
    socket_name = "view-" + secrets.token_hex(4)
    # the ssh user must reach it: not below pytest's private tmp_path
    log_dir = pathlib.Path(tempfile.mkdtemp(prefix="opsdeck-view-logs-", dir="/tmp"))
    log_dir.chmod(0o1777)
    inventory = tmp_path / "inventory.ini"
    if transport == "ssh":
        assert sshd is not None
        line = sshd.inventory_line(ansible_tmux_socket_name=socket_name, ansible_tmux_log_dir=str(log_dir), ansible_pipelining="true")
        where = ["-S", sshd.tmux_socket(socket_name)]
    else:
        line = f"localhost {LOCAL} ansible_tmux_socket_name={socket_name} ansible_tmux_log_dir={log_dir} ansible_pipelining=true"
        where = ["-L", socket_name]
    inventory.write_text(f"[shared]\n{line}\n")
    proc = run_playbook(PLAY, inventory, user_path, "--diff", "-e", f"view_token={secrets.token_hex(4)}", *extra)
    try:
        assert_ok(proc)
        panes = all_panes(where)
        logs = list(log_dir.glob("agent-ops-*.log"))
        assert len(logs) == 1, logs
        return panes, logs[0].read_text(errors="replace"), proc.stdout
    finally:
        Server(socket_path=where[1]).kill() if where[0] == "-S" else Server(socket_name=socket_name).kill()
        shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(params=["local", "ssh"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_readable_pane(transport: str, tmp_path: pathlib.Path, user_path: pathlib.Path, request: pytest.FixtureRequest) -> None:
    sshd = request.getfixturevalue("sshd") if transport == "ssh" else None
    panes, log, dummy_output = run_view(tmp_path, user_path, transport, sshd)
    lines = panes.splitlines()

    # a multi-line shell script: its lines as lines, its output as printed (unicode, stderr), then the rc line
    start = lines.index('$ echo "first line: ünïcødé ✓"')
    assert lines[start + 1 : start + 4] == ["  for n in 1 2; do", '    echo "loop $n 日本語"', "  done"]
    after = lines[start:]
    for shown in ("  first line: ünïcødé ✓", "  loop 1 日本語", "  loop 2 日本語", "  a line on stderr"):
        assert shown in after, f"{shown!r} missing after the script"
    assert any(line.startswith("\u2514 rc=0") for line in after[5:12])
    assert "\\u" not in panes and "\\n" not in panes, "output shown JSON-escaped"

    # a script: the task's words, then what it printed
    script = lines.index("$ hello.sh world")
    assert "hello from a script: world" in lines[script + 1 : script + 4]

    # setup: one line; no module JSON anywhere in any pane
    assert re.search(r"^  gathered \d+ facts$", panes, re.M)
    assert "ansible_facts" not in panes and '"changed"' not in panes and '{"' not in panes

    # the copy with --diff: the diff lines
    assert "  -port=80" in lines and "  +port=8080" in lines

    # a failing module says failed and its msg; a failing command shows its stderr and rc
    assert re.search(r"^  msg: file \(.*/missing/file\.txt\) is absent, cannot continue$", panes, re.M)
    assert re.search(r"^\u2514 rc=1 \u00b7 failed$", panes, re.M)
    assert re.search(r"^  ls: cannot access '.*/no-such-thing': No such file or directory$", panes, re.M)
    assert re.search(r"^\u2514 rc=2 \u00b7 failed$", panes, re.M)

    # the non-pipelined module: one dim line per plumbing step, not the command
    for plumbing in ("\u00b7 ansible: make a temporary directory", "\u00b7 ansible: make the module executable", "\u00b7 ansible: run the stat module"):
        assert plumbing in panes
    for command_text in ("mkdir", "chmod", "AnsiballZ", "sleep 0", "/bin/sh -c"):
        assert command_text not in panes, f"Ansible plumbing {command_text!r} shown in the pane"

    # the log of the same run is the faithful record: every command exactly as run, raw module JSON
    assert '"ansible_facts"' in log and '"changed": true' in log
    assert "umask 77 && mkdir -p" in log and "AnsiballZ_stat.py" in log
    assert "/bin/sh -c '/usr/bin/python3 && sleep 0'" in log
    assert "a line on stderr" in log


def test_raw_pane_view_shows_commands_and_output_as_sent(tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    panes, log, dummy_output = run_view(tmp_path, user_path, "local", None, "-e", "ansible_tmux_pane_view=raw")
    assert "$ /bin/sh -c '/usr/bin/python3 && sleep 0'" in panes
    assert '"ansible_facts"' in panes
    assert "umask 77 && mkdir -p" in panes
    assert '"ansible_facts"' in log


def test_raw_output_reaches_the_pane_while_the_command_runs(tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    socket_name = "live-" + secrets.token_hex(4)
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"[shared]\nlocalhost {LOCAL} ansible_tmux_socket_name={socket_name} ansible_tmux_log_dir={tmp_path}\n")
    play = tmp_path / "live.yml"
    play.write_text(
        "- hosts: shared\n  gather_facts: false\n  tasks:\n"
        "    - name: Streams\n      ansible.builtin.raw: echo live-one; sleep 4; echo live-two\n      changed_when: false\n"
    )
    server = Server(socket_name=socket_name)
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(play)]
    proc = subprocess.Popen(cmd, env=ansible_env(user_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:

        def shown() -> list[str]:
            # the lines the program printed (the command as written is on its own line above them)
            return all_panes(["-L", socket_name]).splitlines() if server.is_alive() else []

        wait_for(lambda: "live-one" in shown(), 30, "the first line in the pane")
        assert "live-two" not in shown(), "the first line appeared only when the command had ended"
        output = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, output[-3000:]
        assert "live-two" in shown()
    finally:
        if proc.poll() is None:
            proc.kill()
        server.kill()
