"""The fault matrix: what happens when a person, the network or the machine does something unexpected.

Real tmux servers (one per test), a real sshd on 127.0.0.1, real ansible-playbook
runs. The person is played by the test: it types with `tmux send-keys`, presses
Ctrl-C, kills panes and servers, and drops ssh connections. Every wait is bounded.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import typing as t

import pytest
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from conftest import SYSTEM_PYTHON, SSHTarget, ansible_env, assert_ok, run_playbook, shared_connection, state_dir, wait_for
from libtmux.server import Server

LOCAL = f"ansible_connection=opsdeck.tmux.shared ansible_tmux_transport=ansible.builtin.local ansible_python_interpreter={SYSTEM_PYTHON}"


def tmux(server: Server, *args: str) -> str:
    """One tmux client call against the test's server, output exactly as printed."""
    where = ["-S", str(server.socket_path)] if server.socket_path else ["-L", str(server.socket_name)]
    proc = subprocess.run(["tmux", *where, *args], capture_output=True, text=True, timeout=20, check=False)
    assert proc.returncode == 0, f"tmux {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def shared(server: Server, tmp_path: pathlib.Path, **options: t.Any) -> t.Any:
    return shared_connection(str(server.socket_name), tmp_path, **options)


def cursor_line(server: Server, target: str) -> str:
    """The cursor's row up to the cursor (ASCII prompts in these tests)."""
    cx, cy = map(int, tmux(server, "display-message", "-p", "-t", target, "#{cursor_x} #{cursor_y}").split())
    rows = tmux(server, "capture-pane", "-p", "-N", "-t", target).split("\n")
    return rows[cy][:cx] if cy < len(rows) else ""


def at_prompt(server: Server, target: str) -> t.Callable[[], bool]:
    return lambda: cursor_line(server, target).endswith(("$ ", "# "))


def person_session(server: Server, name: str = "ops") -> str:
    """A person's own session with the seed's windows, its shell prompt drawn; returns the sys target."""
    session = server.new_session(name, window_name="sys", attach=False)
    session.new_window("deploy", attach=False)
    session.new_window("logs", attach=False)
    target = f"={name}:=sys"
    wait_for(at_prompt(server, target), 15, f"the person's prompt in {target}")
    return target


def running(server: Server, target: str, command: str) -> t.Callable[[], bool]:
    """Is `command` running on the pane's terminal (the job's shell runs it in a pipeline)?"""

    def check() -> bool:
        tty = tmux(server, "display-message", "-p", "-t", target, "#{pane_tty}").strip().removeprefix("/dev/")
        return subprocess.run(["pgrep", "-t", tty, "-x", command], capture_output=True, check=False).returncode == 0

    return check


def in_thread(call: t.Callable[[], t.Any]) -> tuple[threading.Thread, list[t.Any]]:
    box: list[t.Any] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:
            box.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, box


# -- a person's half-typed line -------------------------------------------------

HALF_TYPED = ["echo half", "echo $", "echo #", "ls >", "echo $ "]


def person_typing(server: Server, typed: str) -> tuple[str, str]:
    """A person's ops with `typed` on the prompt line, Enter not pressed: (its sys target, its screen)."""
    target = person_session(server)
    tmux(server, "send-keys", "-t", target, "-l", typed)
    wait_for(lambda: cursor_line(server, target).endswith(typed), 5, f"{typed!r} on the person's line")
    return target, tmux(server, "capture-pane", "-p", "-N", "-t", target)


@pytest.mark.parametrize("typed", HALF_TYPED)
def test_half_typed_line_gets_no_key_and_the_run_moves_on(server: Server, tmp_path: pathlib.Path, typed: str) -> None:
    target, before = person_typing(server, typed)

    conn = shared(server, tmp_path, busy_timeout=1)
    assert conn.exec_command("echo landed-elsewhere")[:2] == (0, b"landed-elsewhere\n")
    assert conn.last_header.session == "ops1"
    # the command finished in ops1: anything typed into ops would be on its screen by now
    assert tmux(server, "capture-pane", "-p", "-N", "-t", target) == before
    assert cursor_line(server, target).endswith(typed)


@pytest.mark.parametrize("typed", HALF_TYPED)
def test_half_typed_line_in_a_fixed_session_fails_with_the_reason(server: Server, tmp_path: pathlib.Path, typed: str) -> None:
    target, before = person_typing(server, typed)
    start = time.monotonic()
    with pytest.raises(AnsibleError, match="not at an empty shell prompt") as info:
        shared(server, tmp_path, max_sessions=0, busy_timeout=1).exec_command("echo never")
    assert "Nothing was typed into it" in str(info.value)
    assert time.monotonic() - start < 10
    assert tmux(server, "capture-pane", "-p", "-N", "-t", target) == before
    assert [s.session_name for s in server.sessions] == ["ops"]


def test_a_line_typed_then_erased_is_idle_again(server: Server, tmp_path: pathlib.Path) -> None:
    target = person_session(server)
    prompt = cursor_line(server, target)
    tmux(server, "send-keys", "-t", target, "-l", "echo half")
    wait_for(lambda: cursor_line(server, target).endswith("echo half"), 5, "the typed text")
    tmux(server, "send-keys", "-t", target, *["BSpace"] * len("echo half"))
    wait_for(lambda: cursor_line(server, target) == prompt, 5, "the line erased back to the prompt")
    conn = shared(server, tmp_path)
    assert conn.exec_command("echo in-the-persons-ops")[:2] == (0, b"in-the-persons-ops\n")
    assert conn.last_header.session == "ops"


def test_typing_in_the_runs_own_pane_holds_the_next_task(server: Server, tmp_path: pathlib.Path) -> None:
    conn = shared(server, tmp_path, busy_timeout=1)
    conn.exec_command("echo first")
    pane = conn.last_header.pane
    wait_for(at_prompt(server, pane), 5, "the prompt after the first task")
    tmux(server, "send-keys", "-t", pane, "-l", "echo half")
    wait_for(lambda: cursor_line(server, pane).endswith("echo half"), 5, "the person's typing")
    with pytest.raises(AnsibleError, match="not at an empty shell prompt"):
        shared(server, tmp_path, busy_timeout=1).exec_command("echo never-typed")
    assert cursor_line(server, pane).endswith("echo half")
    assert "never-typed" not in tmux(server, "capture-pane", "-p", "-S", "-", "-t", pane)
    # the person clears the line: the run goes on in the same pane
    tmux(server, "send-keys", "-t", pane, "C-u")
    again = shared(server, tmp_path, busy_timeout=5)
    assert again.exec_command("echo second")[:2] == (0, b"second\n")
    assert again.last_header.pane == pane


# -- names ----------------------------------------------------------------------

CONTROL = ["\n", "\r", "\t", "\x00"]


@pytest.mark.parametrize("char", CONTROL, ids=["LF", "CR", "TAB", "NUL"])
def test_control_characters_in_names_change_nothing(server: Server, tmp_path: pathlib.Path, char: str) -> None:
    for option, value in (("session", "ops"), ("window", "sys"), ("socket_name", "sock"), ("run_id", "unit.1.1")):
        with pytest.raises(AnsibleError, match="invalid"):
            shared(server, tmp_path, **{option: value + char}).exec_command("echo never")
    with pytest.raises(AnsibleError, match="invalid"):
        shared(server, tmp_path, socket_path="/tmp/sock" + char).exec_command("echo never")
    assert not server.is_alive(), "a refused name must not start or touch the tmux server"


def test_module_refuses_a_session_name_with_a_newline(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}\n")
    play = tmp_path / "newline.yml"
    play.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - opsdeck.tmux.command:\n"
        '        cmd: echo never\n        session: "ops\\n"\n'
        f"        socket_name: {server.socket_name}\n"
        "      register: bad\n      ignore_errors: true\n"
        "    - ansible.builtin.assert:\n        that:\n          - bad is failed\n          - \"'invalid session name' in bad.msg\"\n"
    )
    proc = run_playbook(play, inventory, user_path)
    assert_ok(proc)
    assert not server.is_alive(), "no session may be created for a refused name"


# -- acquisition ----------------------------------------------------------------


def slow_home(tmp_path: pathlib.Path, seconds: float) -> pathlib.Path:
    """A HOME whose login shell takes `seconds` before it draws its prompt (a heavy .bashrc)."""
    home = tmp_path / "slowhome"
    home.mkdir()
    (home / ".bash_profile").write_text(f"sleep {seconds}\nPS1='slow\\$ '\n")
    (home / ".tmux.conf").write_text("set -g default-shell /bin/bash\n")
    return home


def test_session_module_is_idempotent_20_times_with_a_slow_shell(server: Server, tmp_path: pathlib.Path) -> None:
    home = slow_home(tmp_path, 0.4)
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}\n")
    (tmp_path / "pair.yml").write_text(
        "- name: First call creates the session\n"
        f'  opsdeck.tmux.session: {{session: "idem{{{{ item }}}}", socket_name: {server.socket_name}}}\n'
        "  register: first\n"
        "- name: Second call right after it\n"
        f'  opsdeck.tmux.session: {{session: "idem{{{{ item }}}}", socket_name: {server.socket_name}}}\n'
        "  register: second\n"
        "- name: Created then unchanged, the same session\n"
        "  ansible.builtin.assert:\n    that:\n"
        "      - first is changed\n      - second is not changed\n"
        '      - first.session == "idem" ~ item\n      - second.session == first.session\n'
    )
    play = tmp_path / "idem.yml"
    play.write_text(
        '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_tasks: pair.yml\n      loop: "{{ range(20) | list }}"\n'
    )
    proc = run_playbook(play, inventory, home, env=ansible_env(home))
    assert_ok(proc)
    names = sorted(s.session_name for s in server.sessions)
    assert names == sorted(f"idem{i}" for i in range(20)), f"a second call fled to another session: {names}"


def test_a_slow_prompt_costs_one_bounded_wait_not_a_walk(server: Server, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(slow_home(tmp_path, 60)))
    start = time.monotonic()
    with pytest.raises(AnsibleError, match="did not show a prompt within 2 s"):
        shared(server, tmp_path, busy_timeout=2).exec_command("echo never")
    assert time.monotonic() - start < 8
    assert [s.session_name for s in server.sessions] == ["ops"]


def test_unusable_log_dir_is_refused_before_any_session(server: Server, tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    with pytest.raises(AnsibleError, match="log directory"):
        shared(server, tmp_path, log_dir=str(blocker / "logs")).exec_command("echo never")
    assert not server.is_alive(), "the log directory must be checked before a session is made"


# -- interruptions ----------------------------------------------------------------


def test_ctrl_c_in_the_pane_says_who_stopped_what(server: Server, tmp_path: pathlib.Path) -> None:
    conn = shared(server, tmp_path)
    conn.exec_command("true")
    pane = conn.last_header.pane
    worker, box = in_thread(lambda: shared(server, tmp_path).exec_command("sleep 60"))
    wait_for(running(server, pane, "sleep"), 10, "the sleep in the pane")
    tmux(server, "send-keys", "-t", pane, "C-c")
    worker.join(15)
    assert not worker.is_alive(), "exec_command hung after Ctrl-C"
    assert isinstance(box[0], AnsibleError), box
    assert f"interrupted in pane {pane} (Ctrl-C), rc 130" in str(box[0])
    assert "(interrupted with Ctrl-C)" in tmux(server, "capture-pane", "-p", "-S", "-", "-t", pane)


@pytest.mark.parametrize("how", ["kill-pane", "kill-server"])
def test_pane_or_server_killed_mid_command_fails_fast(server: Server, tmp_path: pathlib.Path, how: str) -> None:
    conn = shared(server, tmp_path)
    conn.exec_command("true")
    pane = conn.last_header.pane
    worker, box = in_thread(lambda: shared(server, tmp_path).exec_command("sleep 60"))
    wait_for(running(server, pane, "sleep"), 10, "the sleep in the pane")
    start = time.monotonic()
    tmux(server, how, *(["-t", pane] if how == "kill-pane" else []))
    worker.join(15)
    assert not worker.is_alive(), f"exec_command hung after {how}"
    assert time.monotonic() - start < 5
    assert isinstance(box[0], AnsibleConnectionFailure | AnsibleError), box
    assert "disappeared" in str(box[0])


def _playbook(tmp_path: pathlib.Path, name: str, tasks: str) -> pathlib.Path:
    play = tmp_path / name
    play.write_text(f"- hosts: shared\n  gather_facts: false\n  tasks:\n{tasks}")
    return play


def _local_inventory(tmp_path: pathlib.Path, server: Server, **extra: str) -> pathlib.Path:
    inv = tmp_path / "inventory.ini"
    more = " ".join(f"{k}={v}" for k, v in extra.items())
    inv.write_text(f"[shared]\nlocalhost {LOCAL} ansible_tmux_socket_name={server.socket_name} ansible_tmux_log_dir={tmp_path / 'logs'} {more}\n")
    return inv


def _popen_playbook(play: pathlib.Path, inventory: pathlib.Path, home: pathlib.Path, *args: str) -> subprocess.Popen[str]:
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory), str(play), *args]
    return subprocess.Popen(cmd, env=ansible_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_controller_killed_then_a_new_run(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    inventory = _local_inventory(tmp_path, server)
    long = _playbook(tmp_path, "long.yml", "    - name: A long task\n      ansible.builtin.raw: sleep 300\n")
    first = _popen_playbook(long, inventory, user_path)
    try:
        wait_for(lambda: server.is_alive() and bool(server.sessions) and running(server, "=ops:=sys", "sleep")(), 60, "the first run's sleep in ops")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    short = _playbook(tmp_path, "short.yml", "    - name: The next run\n      ansible.builtin.raw: echo second-run-marker\n")
    proc = run_playbook(short, inventory, user_path, timeout=120)
    assert_ok(proc)
    # the killed run's command still holds ops: the new run used ops1 and typed nothing into ops
    assert running(server, "=ops:=sys", "sleep")()
    assert "second-run-marker" in tmux(server, "capture-pane", "-p", "-S", "-", "-t", "=ops1:=sys")
    assert "second-run-marker" not in tmux(server, "capture-pane", "-p", "-S", "-", "-t", "=ops:=sys")


def test_two_concurrent_runs_get_a_session_each(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    inventory = _local_inventory(tmp_path, server)
    tasks = "".join(f"    - name: Step {i}\n      ansible.builtin.raw: echo {{{{ tag }}}}-step-{i}\n      register: out\n" for i in range(5))
    tasks += "    - ansible.builtin.assert:\n        that: out.stdout == tag ~ '-step-4\\r\\n' or out.stdout == tag ~ '-step-4\\n'\n"
    play = _playbook(tmp_path, "concurrent.yml", tasks)
    runs = {tag: _popen_playbook(play, inventory, user_path, "-e", f"tag={tag}") for tag in ("alpha", "bravo")}
    outputs = {tag: proc.communicate(timeout=180)[0] for tag, proc in runs.items()}
    for tag, proc in runs.items():
        assert proc.returncode == 0, outputs[tag][-4000:]
    assert sorted(s.session_name for s in server.sessions) == ["ops", "ops1"]
    screens = {name: tmux(server, "capture-pane", "-p", "-S", "-", "-t", f"={name}:=sys") for name in ("ops", "ops1")}
    for tag in ("alpha", "bravo"):
        holders = [name for name, text in screens.items() if f"{tag}-step-" in text]
        assert len(holders) == 1, f"{tag}'s output is in {holders}"
        assert all(f"{tag}-step-{i}" in screens[holders[0]] for i in range(5))


# -- soak and housekeeping ---------------------------------------------------------


def _files_of(server: Server) -> list[str]:
    return sorted(p.name for p in state_dir().glob(f"*.{server.socket_name}.*"))


def _claims_since(start: float) -> list[str]:
    return [p.name for p in state_dir().glob("c.od*") if p.stat().st_mtime >= start - 1]


def test_soak_200_commands_exact_steady_and_tidy(server: Server, tmp_path: pathlib.Path) -> None:
    start = time.time()
    times = []
    after_first: list[str] = []
    for i in range(200):
        begin = time.monotonic()
        # a new connection object per command, as Ansible makes one per task
        got = shared(server, tmp_path).exec_command(f"echo soak-{i}; printf 'err-{i}' >&2; exit {i % 3}")
        times.append(time.monotonic() - begin)
        assert got == (i % 3, f"soak-{i}\n".encode(), f"err-{i}".encode()), f"command {i}"
        if i == 0:
            after_first = _files_of(server)
    early, late = statistics.median(times[:50]), statistics.median(times[-50:])
    assert late < early * 1.5 + 0.02, f"slowed down: median {early * 1000:.1f} ms for the first 50, {late * 1000:.1f} ms for the last 50"
    wait_for(lambda: not _claims_since(start), 5, "the commands' claims to be released")
    # the run's state is a fixed set of files (its records, one pane's job files and lock): nothing per command
    assert _files_of(server) == after_first, f"state files grew: {sorted(set(_files_of(server)) ^ set(after_first))}"
    assert len([f for f in after_first if f.startswith("r.")]) == 1 and len([f for f in after_first if f.startswith("l.")]) == 1, after_first
    assert len({name.split(".")[2] for name in after_first if name.startswith(("j.", "p."))}) == 1, after_first


def test_soak_200_tasks_in_a_play(server: Server, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    play = _playbook(
        tmp_path,
        "soak.yml",
        "    - name: Soak\n      ansible.builtin.raw: echo soak-{{ item }}\n      loop: '{{ range(200) | list }}'\n      register: soak\n"
        "    - name: Every output exact\n      ansible.builtin.assert:\n        that: soak.results | map(attribute='stdout') | list == "
        "range(200) | map('regex_replace', '^(.*)$', 'soak-\\\\1\\n') | list\n        quiet: true\n",
    )
    start = time.time()
    proc = run_playbook(play, _local_inventory(tmp_path, server), user_path, timeout=280)
    assert_ok(proc)
    wait_for(lambda: not _claims_since(start), 5, "the commands' claims to be released")


def test_state_of_ended_runs_is_removed_by_the_next_run(server: Server, tmp_path: pathlib.Path) -> None:
    from ansible_collections.opsdeck.tmux.plugins.plugin_utils._run import controller_host, controller_run_id

    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = f"{controller_host()}.{gone.pid}.0"
    shared(server, tmp_path, run_id=dead).exec_command("true")
    srv = server.socket_name
    assert {p.name[:2] for p in state_dir().glob(f"[rl].{srv}.{dead}.*")} == {"r.", "l."}
    ancient = state_dir() / f"c.odancient{secrets.token_hex(4)}"
    ancient.write_text("1\n")
    os.utime(ancient, (time.time() - 2 * 86400,) * 2)

    alive = controller_run_id(os.getpid())
    conn = shared(server, tmp_path, run_id=alive)
    conn.exec_command("true")
    assert conn.last_header.session == "ops", "the next run takes over the ended run's session"
    assert not list(state_dir().glob(f"[rl].{srv}.{dead}.*")), "the ended run's records are still there"
    assert list(state_dir().glob(f"r.{srv}.{alive}.*"))
    assert not ancient.exists(), "state files older than a day are removed"


def test_two_tmux_servers_of_one_user_do_not_share_job_files(server: Server, TestServer: t.Callable[..., Server], tmp_path: pathlib.Path) -> None:
    other = TestServer()
    first_a = shared(server, tmp_path)
    first_a.exec_command("true")
    first_b = shared(other, tmp_path)
    first_b.exec_command("true")
    assert first_a.last_header.pane == first_b.last_header.pane, "both servers' first pane should have the same id"
    worker, box = in_thread(lambda: shared(server, tmp_path).exec_command("sleep 3; echo from-a"))
    wait_for(running(server, first_a.last_header.pane, "sleep"), 10, "server a's command")
    begin = time.monotonic()
    assert shared(other, tmp_path).exec_command("echo from-b")[:2] == (0, b"from-b\n")
    assert time.monotonic() - begin < 2, "server b waited for server a's pane lock"
    worker.join(15)
    assert box and box[0][:2] == (0, b"from-a\n"), box


# -- a dropped ssh connection ----------------------------------------------------------


def _sshd_sessions(user: str) -> list[int]:
    proc = subprocess.run(["pgrep", "-f", f"^sshd: {user}"], capture_output=True, text=True, check=False)
    return [int(pid) for pid in proc.stdout.split()]


@pytest.mark.parametrize("module", ["raw", "shell"])
def test_dropped_ssh_connection_collects_the_same_result(sshd: SSHTarget, tmp_path: pathlib.Path, user_path: pathlib.Path, module: str) -> None:
    socket_name = "drop-" + secrets.token_hex(4)
    counter = f"/tmp/opsdeck-drop-{secrets.token_hex(4)}"
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[shared]\n" + sshd.inventory_line(ansible_tmux_socket_name=socket_name, ansible_pipelining="true") + "\n")
    play = _playbook(
        tmp_path,
        "drop.yml",
        "    - name: A command the connection drops under\n"
        f"      ansible.builtin.{module}: echo run >> {counter}; sleep 6; echo done-after-drop; echo 'on stderr' >&2\n"
        "      register: long\n"
        "    - name: Its result came back whole\n      ansible.builtin.assert:\n        that:\n"
        "          - long.rc == 0\n          - \"'done-after-drop' in long.stdout\"\n"
        "    - name: And the play goes on\n      ansible.builtin.raw: echo after-reconnect\n      changed_when: false\n",
    )
    remote = Server(socket_path=sshd.tmux_socket(socket_name))
    proc = _popen_playbook(play, inventory, user_path)
    try:
        wait_for(lambda: remote.is_alive() and bool(remote.sessions) and running(remote, "=ops:=sys", "sleep")(), 60, "the command to run in the pane")
        killed = _sshd_sessions(sshd.user)
        assert killed, "no sshd session process of the test user to kill"
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        output = proc.communicate(timeout=150)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        assert proc.returncode == 0, output[-5000:]
        assert "reconnecting to collect its result" in output
        assert pathlib.Path(counter).read_text() == "run\n", "the command ran more than once"
    finally:
        pathlib.Path(counter).unlink(missing_ok=True)
        remote.kill()
