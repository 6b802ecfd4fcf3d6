"""The sudo gate end to end: a real non-root user whose sudo needs a password, over ssh.

The test plays the person exactly as one would: it waits for the gate's
instructions, types `sudo -v && echo SUDO_READY` into the announced pane with
tmux send-keys, then types the password at sudo's prompt.
"""

from __future__ import annotations

import os
import pathlib
import re
import secrets
import subprocess
import sys
import threading
import time
import typing as t

import pytest
from conftest import TARGETS, SSHTarget, ansible_env, wait_for
from libtmux.server import Server

PLAY = TARGETS / "sudo_gate" / "gate.yml"
PANE_RE = re.compile(r"tmux attach -t (\S+):(\S+)\s+\(or tmux new-session -A -s \S+, then window \S+; the pane is (%\d+)\)")


class Play:
    """ansible-playbook in the background, its output collected line by line."""

    def __init__(self, inventory: pathlib.Path, home: pathlib.Path, *args: str, env: dict[str, str] | None = None) -> None:
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory), str(PLAY), *args]
        self.proc = subprocess.Popen(
            cmd, env=env or ansible_env(home, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(PLAY.parent)
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_gate(self, count: int = 1, timeout: float = 90) -> tuple[str, str, str]:
        wait_for(lambda: len(PANE_RE.findall(self.output)) >= count or self.proc.poll() is not None, timeout, f"gate instructions #{count}")
        found = PANE_RE.findall(self.output)
        assert len(found) >= count, f"the play ended without showing the gate:\n{self.output[-4000:]}"
        return found[count - 1]

    def finish(self, timeout: float = 180) -> int:
        rc = self.proc.wait(timeout)
        self.reader.join(10)
        return rc


class Person:
    """Somebody at a terminal attached to the user's tmux server."""

    def __init__(self, target: SSHTarget, socket_name: str) -> None:
        self.target = target
        self.server = Server(socket_path=target.tmux_socket(socket_name))

    def screen(self, pane: str, history: bool = False) -> str:
        args = ["capture-pane", "-p", "-J", "-t", pane] + (["-S", "-"] if history else [])
        return "\n".join(self.server.cmd(*args).stdout)

    def type(self, pane: str, text: str) -> None:
        self.server.cmd("send-keys", "-t", pane, "-l", text)
        self.server.cmd("send-keys", "-t", pane, "Enter")

    def authorize(self, pane: str) -> None:
        before = self.screen(pane, history=True).count("password for")
        self.type(pane, "sudo -v && echo SUDO_READY")
        wait_for(lambda: self.screen(pane, history=True).count("password for") > before, 20, "sudo's password prompt in the pane")
        self.type(pane, self.target.password)


def inventory(tmp_path: pathlib.Path, target: SSHTarget, socket_name: str) -> pathlib.Path:
    inv = tmp_path / "inventory.ini"
    inv.write_text("[shared]\n" + target.inventory_line(ansible_tmux_socket_name=socket_name) + "\n")
    return inv


def no_password_anywhere(target: SSHTarget, person: Person, output: str) -> None:
    assert target.password not in output
    for log in pathlib.Path("/tmp").glob("agent-*.log"):
        assert target.password not in log.read_text(errors="replace"), f"password found in {log}"
    for pane in person.server.cmd("list-panes", "-a", "-F", "#{pane_id}").stdout:
        assert target.password not in person.screen(pane, history=True), f"password found in pane {pane}"


@pytest.fixture
def socket_name(sshd: SSHTarget) -> t.Iterator[str]:
    name = "it-gate-" + secrets.token_hex(4)
    yield name
    Server(socket_path=sshd.tmux_socket(name)).kill()


def test_gate_person_authorizes_and_become_runs_in_that_pane(sshd: SSHTarget, socket_name: str, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    root_file = f"/root/opsdeck-gate-{secrets.token_hex(4)}"
    play = Play(inventory(tmp_path, sshd, socket_name), user_path, "-e", f"root_file={root_file}")
    person = Person(sshd, socket_name)
    try:
        session, window, pane = play.wait_gate()
        assert "```bash\n     sudo -v && echo SUDO_READY\n     ```" in play.output
        assert play.output.count("waits for a person to authorize sudo") == 1
        person.authorize(pane)
        rc = play.finish()
        assert rc == 0, play.output[-5000:]
        st = os.stat(root_file)
        assert st.st_uid == 0
        # the become tasks ran in the pane the person used
        assert "TASK [Become root in the same pane]" in person.screen(pane, history=True)
        assert (session, window) == ("ops", "sys")
        no_password_anywhere(sshd, person, play.output)
    finally:
        if play.proc.poll() is None:
            play.proc.kill()
        pathlib.Path(root_file).unlink(missing_ok=True)


def test_gate_times_out_closed_with_instructions(sshd: SSHTarget, socket_name: str, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    start = time.monotonic()
    play = Play(inventory(tmp_path, sshd, socket_name), user_path, "-e", "gate_timeout=4", "-e", "root_file=/root/never")
    rc = play.finish(120)
    elapsed = time.monotonic() - start
    assert rc != 0
    assert "nobody authorized sudo within 4 s" in play.output
    assert play.output.count("sudo -v && echo SUDO_READY") >= 2  # announced, and repeated in the failure
    assert "tmux attach -t ops:sys" in play.output
    assert elapsed < 60
    assert not pathlib.Path("/root/never").exists()


def test_gate_is_not_fooled(sshd: SSHTarget, socket_name: str, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    inv = inventory(tmp_path, sshd, socket_name)
    person = Person(sshd, socket_name)
    # the run's pane already shows SUDO_READY before the gate opens
    warm = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible"), "-i", str(inv), "shared", "-m", "ansible.builtin.raw", "-a", "echo SUDO_READY"],
        env=ansible_env(user_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert warm.returncode == 0, warm.stdout + warm.stderr
    play = Play(inv, user_path, "-e", "gate_timeout=15", "-e", "root_file=/root/never")
    try:
        session, dummy_window, pane = play.wait_gate()
        # SUDO_READY in another window of the same session
        person.type(f"={session}:=logs", "echo SUDO_READY")
        time.sleep(1.5)
        # SUDO_READY typed in the right pane, without any sudo
        person.type(pane, "echo SUDO_READY")
        rc = play.finish(120)
    finally:
        if play.proc.poll() is None:
            play.proc.kill()
    assert rc != 0, play.output[-4000:]
    assert "nobody authorized sudo within 15 s" in play.output
    # only the echo in the gate's own pane was even checked, and it was refused
    assert play.output.count("but sudo -n true fails there") == 1, play.output[-4000:]
    assert not pathlib.Path("/root/never").exists()


def test_expired_ticket_reopens_the_gate(sshd: SSHTarget, socket_name: str, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    sudoers = pathlib.Path("/etc/sudoers.d/opsdeck-ci-expiry")
    sudoers.write_text("Defaults:opsdeck-ci timestamp_timeout=0.1\n")  # 6 seconds
    sudoers.chmod(0o440)
    root_file = f"/root/opsdeck-gate-{secrets.token_hex(4)}"
    play = Play(inventory(tmp_path, sshd, socket_name), user_path, "-e", f"root_file={root_file}", "-e", "expire_wait=9")
    person = Person(sshd, socket_name)
    try:
        pane = play.wait_gate(1)[2]
        person.authorize(pane)
        pane2 = play.wait_gate(2, timeout=120)[2]
        assert pane2 == pane
        person.authorize(pane2)
        rc = play.finish()
        assert rc == 0, play.output[-5000:]
        assert play.output.count("waits for a person to authorize sudo") == 2
        no_password_anywhere(sshd, person, play.output)
    finally:
        sudoers.unlink()
        if play.proc.poll() is None:
            play.proc.kill()
        pathlib.Path(root_file).unlink(missing_ok=True)


def test_two_hosts_wait_at_once_with_forks_and_free_strategy(sshd: SSHTarget, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    sockets = {"gate-a": "it-gate-a-" + secrets.token_hex(3), "gate-b": "it-gate-b-" + secrets.token_hex(3)}
    inv = tmp_path / "inventory.ini"
    inv.write_text("[shared]\n" + "\n".join(sshd.inventory_line(host, ansible_tmux_socket_name=sock) for host, sock in sockets.items()) + "\n")
    root_file = f"/root/opsdeck-gate-{secrets.token_hex(4)}"
    env = ansible_env(user_path, PYTHONUNBUFFERED="1", ANSIBLE_STRATEGY="free")
    play = Play(inv, user_path, "-f", "2", "-e", f"root_file={root_file}", env=env)
    try:
        play.wait_gate(2)
        blocks = re.findall(r"opsdeck.tmux.sudo_gate: (gate-[ab]) waits for a person.*?Ansible never sees, types or stores your password\.", play.output, re.S)
        assert sorted(blocks) == ["gate-a", "gate-b"], play.output[-4000:]
        # each block is whole: nothing of the other host's text inside it
        for host in blocks:
            block = re.search(rf"opsdeck.tmux.sudo_gate: {host} waits.*?stores your password\.", play.output, re.S).group(0)
            other = "gate-b" if host == "gate-a" else "gate-a"
            assert other not in block
            assert block.count("sudo -v && echo SUDO_READY") == 1
        for sock in sockets.values():
            person = Person(sshd, sock)
            pane = person.server.cmd("display-message", "-p", "-t", "=ops:=sys", "#{pane_id}").stdout[0]
            person.authorize(pane)
        rc = play.finish()
        assert rc == 0, play.output[-5000:]
        assert play.output.count("ok=6") == 2 or play.output.count("failed=0") == 2, play.output[-3000:]
    finally:
        if play.proc.poll() is None:
            play.proc.kill()
        for sock in sockets.values():
            Server(socket_path=sshd.tmux_socket(sock)).kill()
        pathlib.Path(root_file).unlink(missing_ok=True)
