"""The modules' integration targets, run by real ansible-playbook against isolated tmux servers."""

from __future__ import annotations

import pathlib
import secrets
import subprocess

import pytest
from conftest import REPO, SYSTEM_PYTHON, TARGETS, SSHTarget, ansible_env, assert_ok
from libtmux.server import Server

RUNNER = REPO / "tests" / "integration" / "run_target.yml"


def run_target(target: str, inventory: str, home: pathlib.Path, tmp_path: pathlib.Path, **extra: str) -> subprocess.CompletedProcess[str]:
    inv = tmp_path / "inventory.ini"
    inv.write_text(inventory)
    args = ["-e", f"target={target}", "-e", f"work_dir={tmp_path}", "-e", f"log_path={tmp_path / 'shared.log'}"]
    for key, value in extra.items():
        args += ["-e", f"{key}={value}"]
    env = ansible_env(home, ANSIBLE_ROLES_PATH=str(TARGETS))
    cmd = [str(pathlib.Path(env["PATH"].split(":")[0]) / "ansible-playbook"), "-i", str(inv), str(RUNNER), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=str(RUNNER.parent), check=False)


def local(server: Server) -> str:
    return f"localhost ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}\n"


@pytest.mark.parametrize("target", ["module_session", "module_command", "module_capture", "module_session_info"])
def test_module_target(target: str, server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    secret = "s3cr3t-" + secrets.token_hex(6)
    proc = run_target(target, local(server), user_path, tmp_path, tmux_socket=server.socket_name, secret=secret)
    assert_ok(proc)
    assert "failed=0" in proc.stdout
    assert secret not in proc.stdout
    if target == "module_command":
        for pane in server.cmd("list-panes", "-a", "-F", "#{pane_id}").stdout:
            screen = "\n".join(server.cmd("capture-pane", "-p", "-S", "-", "-t", pane).stdout)
            assert secret not in screen
        log = tmp_path / "shared.log"
        assert log.stat().st_mode & 0o777 == 0o600


def test_sudo_info_as_root(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    proc = run_target("module_sudo_info", local(server), user_path, tmp_path, tmux_socket=server.socket_name, expect_root="true")
    assert_ok(proc)


def test_sudo_info_as_user_with_password_sudo(sshd: SSHTarget, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    socket_name = "it-sudoinfo-" + secrets.token_hex(4)
    line = sshd.inventory_line("sshtarget", ansible_connection="ansible.builtin.ssh")
    proc = run_target("module_sudo_info", line + "\n", user_path, tmp_path, tmux_socket=socket_name, expect_root="false", target_hosts="sshtarget")
    try:
        assert_ok(proc)
        assert sshd.password not in proc.stdout
    finally:
        Server(socket_path=sshd.tmux_socket(socket_name)).kill()
