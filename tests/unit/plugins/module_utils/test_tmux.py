"""The private tmux layer: names, formats, the output protocol, the generated shell."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible_collections.opsdeck.tmux.plugins.module_utils import _shlib, _tmux


@pytest.mark.parametrize("name", ["ops", "ops1", "my_session", "deploy-2", "A" * 64])
def test_good_names(name: str) -> None:
    assert _tmux.check_name(name) == name


@pytest.mark.parametrize("name", ["", "-t", "ops;rm -rf /", "a:b", "a.b", "a b", "x" * 65, "x" * 300, "a'b", 'a"b', "$x", "é"])
def test_bad_names(name: str) -> None:
    with pytest.raises(_tmux.TmuxNameError, match="invalid session name"):
        _tmux.check_name(name)


CONTROL = {"LF": "\n", "CR": "\r", "TAB": "\t", "NUL": "\x00"}


def _job(**kwargs: object) -> _tmux.Job:
    base: dict[str, object] = {"cmd": "true", "run_id": "h.1.2", "channel": "odabc", "controller": "h", "now": 0}
    base.update(kwargs)
    return _tmux.Job(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("char", CONTROL.values(), ids=CONTROL.keys())
def test_every_validator_refuses_a_trailing_control_character(char: str) -> None:
    """`re.match` with `$` accepts "ops\n": every validator must look at the whole value."""
    with pytest.raises(_tmux.TmuxNameError):
        _tmux.check_name("ops" + char)
    with pytest.raises(_tmux.TmuxNameError):
        _tmux.check_name("ops" + char + "1")
    with pytest.raises(_tmux.TmuxNameError):
        _tmux.check_socket_name("sock" + char)
    with pytest.raises(_tmux.TmuxNameError):
        _tmux.check_socket_path("/tmp/sock" + char)
    bad_jobs = [
        _job(base="ops" + char),
        _job(window="sys" + char),
        _job(windows=["sys", "logs" + char]),
        _job(run_id="h.1.2" + char),
        _job(channel="odabc" + char),
        _job(panes=["%1" + char]),
        _job(log_dir="/tmp" + char),
        _job(log_path="/tmp/x.log" + char),
        _job(socket_name="s" + char),
        _job(socket_path="/tmp/s" + char),
    ]
    for job in bad_jobs:
        with pytest.raises(_tmux.TmuxNameError):
            job.validate()
    # the user name is only a hint: a bad one is dropped, never passed on
    assert _job(user="root" + char).params()["OD_USER"] == ""
    assert _job(user="root").params()["OD_USER"] == "root"


def test_tmux_argv_socket_precedence() -> None:
    assert _tmux.tmux_argv() == ["tmux"]
    assert _tmux.tmux_argv(socket_name="s1") == ["tmux", "-L", "s1"]
    assert _tmux.tmux_argv(socket_name="s1", socket_path="/tmp/x") == ["tmux", "-S", "/tmp/x"]
    with pytest.raises(_tmux.TmuxNameError):
        _tmux.tmux_argv(socket_name="-bad")


def test_parse_format_roundtrip() -> None:
    fields = ["session_name", "window_name", "pane_id"]
    assert _tmux.format_string(fields) == "#{session_name}\t#{window_name}\t#{pane_id}"
    rows = _tmux.parse_format("ops\tsys\t%1\nops\tdeploy\t%2\n", fields)
    assert rows == [
        {"session_name": "ops", "window_name": "sys", "pane_id": "%1"},
        {"session_name": "ops", "window_name": "deploy", "pane_id": "%2"},
    ]


def test_split_output_is_byte_exact() -> None:
    body = b"\xff\xfe raw\nbytes\n"
    header, rest = _tmux.split_output(b"OPSDECK1 OK ops %3 sys /tmp/log file.log\n" + body)
    assert rest == body
    assert (header.status, header.session, header.pane, header.window, header.log) == ("OK", "ops", "%3", "sys", "/tmp/log file.log")
    with pytest.raises(_tmux.ProtocolError):
        _tmux.split_output(b"Permission denied\n")


def test_job_validation_refuses_bad_input() -> None:
    job = _tmux.Job(cmd="true", run_id="h.1.2", channel="odabc", controller="h", now=0, window="a:b")
    with pytest.raises(_tmux.TmuxNameError, match="window name"):
        job.command_line()
    job = _tmux.Job(cmd="true", run_id="h.1.2", channel="odabc", controller="h", now=0, log_dir="relative")
    with pytest.raises(_tmux.TmuxNameError, match="absolute"):
        job.command_line()


def test_generated_shell_is_posix_and_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.fail("shellcheck is required (apt-get install shellcheck)", pytrace=False)
    job = _tmux.Job(cmd="echo 'x'", run_id="h.1.2", channel="odabc", controller="h", now=0)
    script = _shlib.build_script(job.params())
    # SC2016/SC2089/SC2090: quoted text that is meant to stay literal (the job script, the command)
    for text in (script, "#!/bin/sh\n" + _shlib.JOB):
        proc = subprocess.run(
            [shellcheck, "--shell=sh", "--severity=warning", "--exclude=SC2016,SC2089,SC2090", "-"], input=text, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stdout
    # dash is what /bin/sh is on Debian: the script must at least parse there
    assert subprocess.run(["sh", "-n"], input=script, text=True, check=False).returncode == 0
