"""Shared fixtures: real tmux servers, a real sshd on 127.0.0.1, real ansible-playbook runs.

Nothing here skips: a missing tmux, sshd or root privilege fails the test with
a message saying what to install or how to run it (`make test` under root, as
.ci/run does).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
import typing as t

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".cache" / "collections"
TARGETS = REPO / "tests" / "integration" / "targets"
SYSTEM_PYTHON = "/usr/bin/python3"

# Load ansible_collections.opsdeck.tmux (and the plugin loader) from the installed link.
from ansible.plugins.loader import init_plugin_loader  # noqa: E402

init_plugin_loader([str(COLLECTIONS)])
TEST_USER = "opsdeck-ci"


def shared_connection(server_socket: str, log_dir: pathlib.Path, /, **options: t.Any) -> t.Any:
    """opsdeck.tmux.shared over transport local, on the tmux server `server_socket`, connected."""
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    conn = connection_loader.get("opsdeck.tmux.shared", PlayContext())
    direct = {
        "transport": "ansible.builtin.local",
        "socket_name": server_socket,
        "run_id": "unit.1.1",
        "log_dir": str(log_dir),
        "command_timeout": 60,
    }
    direct.update(options)
    conn.set_options(direct=direct)
    conn._connect()
    return conn


def state_dir() -> pathlib.Path:
    """The wrapper's private state directory for this user (as the target script names it)."""
    import getpass

    return pathlib.Path(os.environ.get("TMPDIR") or "/tmp") / f"opsdeck-{os.environ.get('USER') or getpass.getuser()}"


def need(tool: str, hint: str) -> str:
    path = shutil.which(tool) or (tool if os.path.exists(tool) else None)
    if not path:
        raise RuntimeError(f"{tool} is required for this test and was not found: {hint}")
    return path


def _ensure_collection() -> None:
    link = COLLECTIONS / "ansible_collections" / "opsdeck" / "tmux"
    if not (link / "galaxy.yml").exists():
        pytest.fail(f"the collection is not installed at {link}; run the tests with `make test`", pytrace=False)


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, user_path: pathlib.Path) -> None:
    """tmux servers and shells started by a test read the plugin's config from this HOME."""
    try:
        need("tmux", "apt-get install tmux")
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    _ensure_collection()
    monkeypatch.setenv("HOME", str(user_path))
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))


def ansible_env(home: pathlib.Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_NOCOWS="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_HOST_KEY_CHECKING="0",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCAL_TEMP=str(home / ".ansible-local"),
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    )
    env.pop("TMUX", None)
    env.update(extra)
    return env


def run_playbook(
    playbook: pathlib.Path | str,
    inventory: pathlib.Path | str,
    home: pathlib.Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: int = 300,
) -> subprocess.CompletedProcess[str]:
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory), str(playbook), *args]
    return subprocess.run(
        cmd, env=env or ansible_env(home), capture_output=True, text=True, timeout=timeout, cwd=str(pathlib.Path(playbook).parent), check=False
    )


def assert_ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, f"ansible-playbook failed (rc={proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"


def wait_for(predicate: t.Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class SSHTarget(t.NamedTuple):
    host: str
    port: int
    user: str
    uid: int
    home: pathlib.Path
    key: pathlib.Path
    password: str

    def tmux_socket(self, name: str) -> str:
        return f"/tmp/tmux-{self.uid}/{name}"

    def inventory_line(self, name: str = "sshtarget", **extra: str) -> str:
        base = {
            "ansible_connection": "opsdeck.tmux.shared",
            "ansible_tmux_transport": "ansible.builtin.ssh",
            "ansible_host": self.host,
            "ansible_port": str(self.port),
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": SYSTEM_PYTHON,
        }
        base.update(extra)
        return name + " " + " ".join(f"{k}='{v}'" for k, v in base.items())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_user(password: str) -> pwd.struct_passwd:
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", TEST_USER], check=True)
        entry = pwd.getpwnam(TEST_USER)
    subprocess.run(["chpasswd"], input=f"{TEST_USER}:{password}\n", text=True, check=True)
    # sudo needs this user's password; tickets are per tty (Debian's default, stated explicitly)
    sudoers = pathlib.Path("/etc/sudoers.d/opsdeck-ci")
    sudoers.write_text(f"Defaults:{TEST_USER} timestamp_type=tty\n{TEST_USER} ALL=(ALL:ALL) ALL\n")
    sudoers.chmod(0o440)
    return entry


@contextlib.contextmanager
def start_sshd(work: pathlib.Path) -> t.Iterator[SSHTarget]:
    """A real sshd on 127.0.0.1 for a real non-root user (key auth), whose sudo needs a password."""
    if os.geteuid() != 0:
        raise RuntimeError("the ssh tests create a user and run sshd: run them as root (make test under sudo, as .ci/run does)")
    sshd_bin = need("/usr/sbin/sshd", "apt-get install openssh-server")
    need("sudo", "apt-get install sudo")
    need("ssh-keygen", "apt-get install openssh-client")
    password = "Pw-" + secrets.token_urlsafe(12)
    user = _ensure_user(password)
    home = pathlib.Path(user.pw_dir)
    os.chmod(work, 0o755)
    hostkey = work / "hostkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True)
    key = work / "client_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text((work / "client_key.pub").read_text())
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(ssh_dir)], check=True)
    os.makedirs("/run/sshd", exist_ok=True)
    port = _free_port()
    config = work / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {hostkey}\nPidFile {work}/sshd.pid\n"
        f"AllowUsers {TEST_USER}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nUsePAM yes\nStrictModes no\nMaxSessions 50\nMaxStartups 50:30:100\n"
        "Subsystem sftp internal-sftp\n"
    )
    with open(work / "sshd.log", "wb") as log:
        proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(config)], stderr=log)

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, 15, f"sshd on 127.0.0.1:{port} (log: {work}/sshd.log)")
        yield SSHTarget("127.0.0.1", port, TEST_USER, user.pw_uid, home, key, password)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        subprocess.run(["pkill", "-u", TEST_USER, "tmux"], check=False)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[SSHTarget]:
    try:
        with start_sshd(tmp_path_factory.mktemp("sshd")) as target:
            yield target
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
