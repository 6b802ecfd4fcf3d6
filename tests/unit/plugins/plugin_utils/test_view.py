"""What the pane shows for each command Ansible sends, and how a module's result reads there."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from ansible_collections.opsdeck.tmux.plugins.plugin_utils import _render, _view

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(text: str) -> str:
    return ANSI.sub("", text)


PLUMBING = {
    "/bin/sh -c 'echo ~ && sleep 0'": "find the remote home directory",
    "/bin/sh -c 'echo ~opsdeck-ci && sleep 0'": "find the remote home directory",
    '/bin/sh -c \'( umask 77 && mkdir -p "` echo /root/.ansible/tmp `"&& mkdir "` echo /root/.ansible/tmp/ansible-tmp-1-2-3 `" '
    '&& echo ansible-tmp-1-2-3="` echo /root/.ansible/tmp/ansible-tmp-1-2-3 `" ) && sleep 0\'': "make a temporary directory",
    "/bin/sh -c 'chmod u+x /root/.ansible/tmp/ansible-tmp-1/ /root/.ansible/tmp/ansible-tmp-1/AnsiballZ_stat.py && sleep 0'": "make the module executable",
    "/bin/sh -c 'rm -f -r /root/.ansible/tmp/ansible-tmp-1-2-3/ > /dev/null 2>&1 && sleep 0'": "remove the temporary directory",
    "/bin/sh -c 'echo PLATFORM; uname; echo FOUND; command -v '\"'\"'python3'\"'\"'; echo ENDFOUND && sleep 0'": "find the Python interpreter",
}


@pytest.mark.parametrize("cmd", sorted(PLUMBING))
def test_ansible_plumbing_is_one_dim_line(cmd: str) -> None:
    view = _view.classify(cmd, "ansible.builtin.copy", {"dest": "/x"})
    assert view.kind == "plumbing"
    assert plain(view.step) == "\u00b7 ansible: " + PLUMBING[cmd]
    assert "mkdir" not in view.step and "chmod" not in view.step


def test_pipelined_module_names_the_module_from_its_payload() -> None:
    payload = b"#!/usr/bin/python3\ncode...\n\nif __name__ == '__main__':\n    _ansiballz_main(\nansible_module='stat',\nmodule_fqn='ansible.modules.stat',\n"
    view = _view.classify("/bin/sh -c '/usr/bin/python3 && sleep 0'", "ansible.builtin.copy", {}, in_data=payload)
    # copy's stat is a helper: quiet in the pane unless it fails
    assert (view.kind, view.interpreter, view.module, view.render_kind) == ("module", "/usr/bin/python3", "stat", "quiet")
    assert plain(view.step) == "\u00b7 ansible: run the stat module (python3)"


def test_become_and_non_pipelined_module() -> None:
    cmd = (
        "/bin/sh -c 'sudo -H -S -n  -u root /bin/sh -c '\"'\"'echo BECOME-SUCCESS-abcdef ; "
        "/usr/bin/python3.11 /home/u/.ansible/tmp/ansible-tmp-1/AnsiballZ_apt.py'\"'\"' && sleep 0'"
    )
    view = _view.classify(cmd, "ansible.builtin.apt", {"name": "nginx"})
    assert (view.kind, view.interpreter, view.module) == ("module", "/usr/bin/python3.11", "apt")


def test_command_and_shell_show_the_command_as_written() -> None:
    script = "set -e\nfor n in 1 2; do\n  echo $n\ndone\n"
    view = _view.classify("/bin/sh -c '/usr/bin/python3 && sleep 0'", "ansible.builtin.shell", {"_raw_params": script})
    assert view.kind == "module" and view.render_kind == "command"
    assert plain(view.step).split("\n") == ["$ set -e", "  for n in 1 2; do", "    echo $n", "  done"]
    argv = _view.classify("/bin/sh -c '/usr/bin/python3 && sleep 0'", "command", {"argv": ["ls", "-l", "a b"]})
    assert plain(argv.step) == "$ ls -l 'a b'"


def test_raw_and_unknown_commands_are_live_as_written() -> None:
    view = _view.classify("echo one\necho two", "ansible.builtin.raw", {"_raw_params": "echo one\necho two"})
    assert view.kind == "live"
    assert plain(view.step).split("\n") == ["$ echo one", "  echo two"]
    assert _view.classify("uptime", "some.collection.action", {}).kind == "live"


def test_raw_view_is_the_command_as_sent() -> None:
    view = _view.classify("/bin/sh -c '/usr/bin/python3 && sleep 0'", "ansible.builtin.setup", {}, raw_view=True)
    assert view.kind == "live" and plain(view.step) == "$ /bin/sh -c '/usr/bin/python3 && sleep 0'"


def test_long_scripts_and_lines_are_capped_in_the_pane() -> None:
    step = plain(_view.classify("x", "ansible.builtin.raw", {"_raw_params": "\n".join(f"echo {i}" for i in range(100))}).step)
    assert step.count("\n") == 30 and "70 more lines" in step
    wide = plain(_view.classify("x", "ansible.builtin.raw", {"_raw_params": "a" * 100000}).step)
    assert len(wide) < 500


# -- the renderer ------------------------------------------------------------------


def rendered(result: object, rc: int = 0, module: str = "copy", kind: str = "module", raw: str | None = None) -> list[str]:
    out = raw if raw is not None else "\n" + json.dumps(result) + "\n"
    return [plain(line) for line in _render.render(out, "", rc, module, kind)]


def test_setup_says_how_many_facts_not_what_they_are() -> None:
    lines = rendered({"ansible_facts": {f"f{i}": "secret-ish" for i in range(57)}, "changed": False}, module="setup")
    assert lines == ["  gathered 57 facts", "\u2514 rc=0 \u00b7 ok"]


def test_changed_with_path_and_a_capped_diff() -> None:
    before = "".join(f"line {i}\n" for i in range(100))
    after = before.replace("line 5\n", "line five\n").replace("line 90\n", "")
    lines = rendered({"changed": True, "dest": "/etc/app.conf", "diff": [{"before": before, "after": after, "before_header": "/etc/app.conf"}]})
    assert lines[0] == "  dest: /etc/app.conf"
    assert "  -line 5" in lines and "  +line five" in lines
    assert lines[-1] == "\u2514 rc=0 \u00b7 changed"
    short = rendered({"changed": True, "diff": {"before": "".join(f"{i}\n" for i in range(60)), "after": "".join(f"x{i}\n" for i in range(60))}})
    assert any(re.fullmatch(r"  \u2026 \d+ more lines", line) for line in short)


def test_failed_module_and_failed_command() -> None:
    lines = rendered({"failed": True, "msg": "file (/x/y) is absent, cannot continue", "path": "/x/y"}, rc=1, module="file")
    assert "  msg: file (/x/y) is absent, cannot continue" in lines and lines[-1] == "\u2514 rc=1 \u00b7 failed"
    cmd = rendered(
        {"failed": True, "rc": 2, "stdout": "", "stderr": "ls: cannot access 'x': No such file or directory", "msg": "non-zero return code"},
        rc=1,
        kind="command",
    )
    assert cmd == ["  ls: cannot access 'x': No such file or directory", "\u2514 rc=2 \u00b7 failed"]


def test_command_output_is_shown_as_printed() -> None:
    lines = rendered({"changed": True, "rc": 0, "stdout": "ünïcødé ✓\n日本語", "stderr": "warn"}, kind="command")
    assert lines == ["  ünïcødé ✓", "  日本語", "  warn", "\u2514 rc=0 \u00b7 changed"]
    # changed_when / failed_when are the controller's: the pane says "done" where it cannot know
    assert rendered({"changed": True, "rc": 0, "stdout": "x"}, kind="command-c")[-1] == "\u2514 rc=0 \u00b7 done"
    assert rendered({"failed": True, "rc": 1, "stdout": "x"}, rc=1, kind="command-c")[-1] == "\u2514 rc=1 \u00b7 failed"
    assert rendered({"failed": True, "rc": 1, "stdout": "x"}, rc=1, kind="command-cf")[-1] == "\u2514 rc=1 \u00b7 done"


def test_a_helper_module_is_quiet_unless_it_fails() -> None:
    assert rendered({"changed": False, "stat": {"exists": True}}, module="stat", kind="quiet") == ["\u2514 rc=0 \u00b7 ok"]
    assert rendered({"failed": True, "msg": "Permission denied"}, rc=1, module="stat", kind="quiet")[-2:] == [
        "  msg: Permission denied",
        "\u2514 rc=1 \u00b7 failed",
    ]


def test_output_that_is_not_a_module_result() -> None:
    lines = rendered(None, rc=127, raw="/bin/sh: 1: /usr/bin/python9: not found\n")
    assert lines == ["/bin/sh: 1: /usr/bin/python9: not found", "\u2514 rc=127 \u00b7 failed"]


def test_the_renderer_runs_as_a_script_with_the_system_python(tmp_path: object) -> None:
    """On the target the renderer is a file run by the module's interpreter, isolated (-I -S)."""
    import pathlib

    work = pathlib.Path(str(tmp_path))
    (work / "out").write_text(json.dumps({"changed": False, "path": "/srv"}))
    (work / "err").write_text("")
    proc = subprocess.run(
        ["/usr/bin/python3", "-I", "-S", _render.__file__, str(work / "out"), str(work / "err"), "0", "file", "module"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert plain(proc.stdout).splitlines() == ["  path: /srv", "\u2514 rc=0 \u00b7 ok"]


def test_the_sudo_gate_speaks_to_the_person_not_in_commands() -> None:
    check = _view.classify("sudo -n true", "opsdeck.tmux.sudo_gate", {})
    assert (check.kind, plain(check.step)) == ("note", "\u00b7 opsdeck: is sudo already authorized in this pane? (sudo -n true)")
    note = _view.classify("printf '%s\\n' 'opsdeck: waiting for a person to run here:  sudo -v && echo SUDO_READY'", "ansible.builtin.apt", {})
    assert (note.kind, plain(note.step)) == ("note", "opsdeck: waiting for a person to run here:  sudo -v && echo SUDO_READY")
