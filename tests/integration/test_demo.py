"""README's first command: the demo playbook, on an isolated tmux server."""

from __future__ import annotations

import pathlib
import re

from conftest import REPO, assert_ok, run_playbook
from libtmux.server import Server


def test_demo_runs_and_prints_attach_command_and_log(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    proc = run_playbook(
        REPO / "playbooks" / "demo.yml",
        REPO / "playbooks" / "inventory" / "localhost.ini",
        user_path,
        "-e",
        f"ansible_tmux_socket_name={server.socket_name}",
        "-e",
        f"ansible_tmux_log_dir={tmp_path}",
        "-e",
        f"demo_dir={tmp_path / 'demo'}",
    )
    assert_ok(proc)
    assert "Watch the session:  tmux attach -t ops" in proc.stdout
    log = re.search(r"Read the log:\s+tail -n 200 ([^\s\"]+)", proc.stdout)
    assert log, proc.stdout[-2000:]
    text = pathlib.Path(log.group(1)).read_text()
    assert "build step 8/8" in text and "TASK [Copy a file into place]" in text
    assert (tmp_path / "demo" / "hello.txt").read_text().startswith("Written by the opsdeck demo")
    deploy = "\n".join(server.cmd("capture-pane", "-p", "-J", "-S", "-", "-t", "=ops:=deploy").stdout)
    assert "build finished" in deploy
    # what a person attaching sees: every task's banner and result line, no JSON, no plumbing commands
    panes = "\n".join(
        "\n".join(server.cmd("capture-pane", "-p", "-J", "-S", "-", "-t", pane).stdout) for pane in server.cmd("list-panes", "-a", "-F", "#{pane_id}").stdout
    )
    for task in ("Say what is about to happen", "Gather a few facts", "Create the demo directory", "Copy a file into place", "A build that streams output"):
        banner = panes.index(f"TASK [{task}")
        assert "\u2514 rc=0" in panes[banner:], f"no result line after {task!r}"
    assert re.search(r"^  gathered \d+ facts$", panes, re.M)
    for raw in ('{"', "ansible_facts", "AnsiballZ", "/bin/sh -c", "mkdir"):
        assert raw not in panes, f"{raw!r} in the demo's panes"
