"""The role refuses bad input with a clear message before any task changes anything."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from conftest import SYSTEM_PYTHON, assert_ok, run_playbook

CASES = {
    "project name with a space": ({"ops_host_wezterm_projects": [{"name": "bad name", "dir": "/srv"}]}, "project names and window names must be"),
    "project name with metacharacters": ({"ops_host_wezterm_projects": [{"name": "x;rm -rf /", "dir": "/srv"}]}, "project names and window names must be"),
    "window name with a dot": ({"ops_host_project_windows": ["shell", "ed.itor"]}, "project names and window names must be"),
    "project dir with a quote": ({"ops_host_wezterm_projects": [{"name": "ok", "dir": "/srv/it's"}]}, "project dirs must not contain"),
    "wrong type": ({"ops_host_tmux_history_limit": "lots"}, "ops_host_tmux_history_limit"),
    "unknown project key": ({"ops_host_wezterm_projects": [{"name": "ok", "dir": "/srv", "colour": "red"}]}, "colour"),
    "service not in this release": ({"ops_host_session_service_enabled": True}, "not in\nthis release"),
}


def play(tmp_path: pathlib.Path, role_vars: dict) -> pathlib.Path:
    path = tmp_path / "play.yml"
    marker = tmp_path / "changed-anything"
    path.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Apply the role with bad input",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": SYSTEM_PYTHON},
                    "tasks": [
                        {"name": "Apply", "ansible.builtin.include_role": {"name": "opsdeck.tmux.ops_host"}, "vars": role_vars},
                        {"name": "Never reached", "ansible.builtin.file": {"path": str(marker), "state": "touch", "mode": "0644"}},
                    ],
                }
            ]
        )
    )
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_role_refuses_bad_input(case: str, tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    role_vars, message = CASES[case]
    proc = run_playbook(play(tmp_path, role_vars), "localhost,", user_path, "-c", "local")
    assert proc.returncode != 0, proc.stdout[-3000:]
    out = " ".join(proc.stdout.split())
    assert " ".join(message.split()) in out, proc.stdout[-3000:]
    assert "changed=0" in proc.stdout
    assert not (tmp_path / "changed-anything").exists()


def test_role_argument_spec_is_documented(tmp_path: pathlib.Path, user_path: pathlib.Path) -> None:
    import subprocess
    import sys

    doc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible-doc"), "-t", "role", "opsdeck.tmux.ops_host"],
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "HOME": str(user_path)},
    )
    assert_ok(doc)
    assert "ops_host_wezterm_projects" in doc.stdout and "ops_host_tmux_history_limit" in doc.stdout
