"""The connection plugin against a real tmux server, command by command.

Every command runs twice: through opsdeck.tmux.shared (transport local) and
through the plain ansible.builtin.local, and the two results must be equal
byte for byte. The tmux server is libtmux's isolated test server.
"""

from __future__ import annotations

import pathlib
import threading
import time
import typing as t

import pytest
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader
from conftest import shared_connection

if t.TYPE_CHECKING:
    from libtmux.server import Server


def shared(server: Server, tmp_path: pathlib.Path, **options: t.Any) -> t.Any:
    return shared_connection(server.socket_name, tmp_path, **options)


def plain() -> t.Any:
    conn = connection_loader.get("ansible.builtin.local", PlayContext())
    conn.set_options()
    conn._connect()
    return conn


FIDELITY = {
    "quotes": """printf '%s\\n' "double \\" quote" 'single '"'"' quote'""",
    "dollar_and_backticks": "echo '$HOME `id -u` $(whoami)'; echo \"$((1+2))\"",
    "trailing_semicolon": "echo trailing;",
    "leading_dash": "-x 2>/dev/null; echo after-dash",
    "newlines": "printf 'a\\n\\nb\\n'; printf 'no-final-newline'",
    "unicode": "echo 汉语 ünïcødé ✓; echo 'stderr ✗' >&2",
    "invalid_utf8": "printf '\\377\\376 bad \\300\\n'; printf '\\377' >&2",
    "stderr_only": "echo only-err >&2",
    "empty": "true",
    "big_output": "head -c 1048576 /dev/zero | tr '\\0' 'x'; echo; head -c 300000 /dev/zero | tr '\\0' 'e' >&2",
    "rc_1": "exit 1",
    "rc_127": "no-such-command-opsdeck",
    "rc_255": "echo out; exit 255",
    "tabs_and_cr": "printf 'a\\tb\\r\\nc'",
}


@pytest.mark.parametrize("name", sorted(FIDELITY))
def test_fidelity_matches_plain_transport(server: Server, tmp_path: pathlib.Path, name: str) -> None:
    cmd = FIDELITY[name]
    expected = plain().exec_command(cmd)
    got = shared(server, tmp_path).exec_command(cmd)
    assert got[0] == expected[0], f"rc differs for {name}"
    assert got[1] == expected[1], f"stdout differs for {name}"
    assert got[2] == expected[2], f"stderr differs for {name}"


def test_exit_codes_are_exact(server: Server, tmp_path: pathlib.Path) -> None:
    conn = shared(server, tmp_path)
    assert [conn.exec_command(f"exit {rc}")[0] for rc in (0, 1, 127, 255)] == [0, 1, 127, 255]


def test_stdin_is_passed_exactly(server: Server, tmp_path: pathlib.Path) -> None:
    data = b"line one\n\x00\xff binary\n" + "汉语".encode() + b"x" * 200000
    rc, out, err = shared(server, tmp_path).exec_command("cat; echo done >&2", in_data=data)
    assert (rc, out, err) == (0, data, b"done\n")


def test_runs_in_the_pane_and_reuses_it(server: Server, tmp_path: pathlib.Path) -> None:
    conn = shared(server, tmp_path)
    conn.exec_command("echo first-marker")
    first = conn.last_header
    conn2 = shared(server, tmp_path)
    conn2.exec_command("echo second-marker")
    assert conn2.last_header.pane == first.pane
    assert first.session == "ops"
    session = server.sessions.get(session_name="ops")
    assert {w.window_name for w in session.windows} >= {"sys", "deploy", "logs"}
    text = "\n".join(server.cmd("capture-pane", "-p", "-S", "-", "-t", first.pane).stdout)
    assert "first-marker" in text and "second-marker" in text


def test_bad_names_are_refused_before_tmux_is_touched(server: Server, tmp_path: pathlib.Path) -> None:
    for bad in ("ops;rm -rf /", "-t", "a:b", "a.b", "", "x" * 300, "a b", "a'b"):
        with pytest.raises(AnsibleError, match="invalid"):
            shared(server, tmp_path, session=bad).exec_command("echo never")
    with pytest.raises(AnsibleError, match="invalid window name"):
        shared(server, tmp_path, window="de:ploy").exec_command("echo never")
    assert not server.is_alive(), "a refused name must not start or touch the tmux server"


def test_command_timeout_is_bounded(server: Server, tmp_path: pathlib.Path) -> None:
    conn = shared(server, tmp_path, command_timeout=2)
    start = time.monotonic()
    with pytest.raises(AnsibleError, match="did not finish within 2 s"):
        conn.exec_command("sleep 30")
    assert time.monotonic() - start < 6


def test_pane_killed_mid_command_fails_fast(server: Server, tmp_path: pathlib.Path) -> None:
    conn = shared(server, tmp_path)
    conn.exec_command("true")
    pane = conn.last_header.pane
    errors: list[BaseException] = []

    def run() -> None:
        try:
            shared(server, tmp_path).exec_command("sleep 60")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    start = time.monotonic()
    worker.start()
    time.sleep(1)
    server.cmd("kill-session", "-t", "=ops")
    worker.join(15)
    assert not worker.is_alive(), "exec_command hung after its session was killed"
    assert time.monotonic() - start < 8
    assert errors and isinstance(errors[0], AnsibleConnectionFailure | AnsibleError), errors
    assert "disappeared" in str(errors[0]) or pane in str(errors[0])


def test_no_log_output_goes_nowhere(server: Server, tmp_path: pathlib.Path) -> None:
    conn = shared(server, tmp_path)
    conn._play_context.no_log = True
    rc, out = conn.exec_command("echo s3cr3t-value; echo s3cr3t-err >&2")[:2]
    assert (rc, out) == (0, b"s3cr3t-value\n")
    log = pathlib.Path(conn.last_header.log)
    assert log.stat().st_mode & 0o777 == 0o600
    assert b"s3cr3t" not in log.read_bytes()
    screen = "\n".join(server.cmd("capture-pane", "-p", "-S", "-", "-t", conn.last_header.pane).stdout)
    assert "output hidden (no_log)" in screen
    assert "s3cr3t" not in screen


def test_missing_tmux_is_a_clear_connection_failure(server: Server, tmp_path: pathlib.Path) -> None:
    with pytest.raises(AnsibleConnectionFailure, match="was not found on the target"):
        shared(server, tmp_path, tmux_executable="tmux-not-installed").exec_command("true")
