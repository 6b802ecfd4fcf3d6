"""The role's templates rendered with real Jinja2, then checked by real tools:
bash -n and shellcheck for the helper scripts, luac and lua (with a stand-in
`wezterm` module) for the WezTerm configuration."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import jinja2
import pytest
import yaml
from conftest import REPO

ROLE = REPO / "roles" / "ops_host"
SCRIPTS = ("tmux-project.sh", "list-sessions.sh", "sync-sessions.sh")

# a stand-in for WezTerm's Lua API: records what the config asks for
WEZTERM_STUB = r"""
local stub = {}
stub.action = setmetatable({}, { __index = function(_, name)
  return function(arg) return { action = name, arg = arg } end
end })
stub.action_callback = function(f) return { callback = f } end
stub.config_builder = function() return {} end
package.preload["wezterm"] = function() return stub end

local config = dofile(arg[1])
print("SSH_OPTIONS identities_only=" .. tostring(config.ssh_options.identities_only))
for _, k in ipairs(config.keys) do
  local spawned = ""
  if k.action.action == "SpawnCommandInNewTab" then spawned = table.concat(k.action.arg.args, " ") end
  print("KEY " .. k.mods .. "+" .. k.key .. " " .. k.action.action .. " " .. spawned)
  if k.action.action == "InputSelector" then
    for _, c in ipairs(k.action.arg.choices) do
      -- choose each entry the way a person would, and record the tab it opens
      local window = { perform_action = function(_, a) print("CHOICE " .. c.id .. " -> " .. table.concat(a.arg.args, " ")) end }
      k.action.arg.action.callback(window, nil, c.id, c.label)
    end
  end
end
"""


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is required (apt-get install {'lua5.4' if 'lua' in tool else tool})", pytrace=False)
    return path


def render(name: str, **overrides: object) -> str:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    values = {k: v for k, v in defaults.items() if "{{" not in str(v)}
    values.update(ansible_managed="managed by test", inventory_hostname="host1", ops_host_wezterm_ssh_host="ops.example", ops_host_wezterm_ssh_user="deploy")
    values.update(overrides)
    return env.get_template(name + ".j2").render(**values)


@pytest.mark.parametrize("script", SCRIPTS)
def test_helper_scripts_parse_and_pass_shellcheck(script: str, tmp_path: pathlib.Path) -> None:
    path = tmp_path / script
    path.write_text(render(script))
    assert subprocess.run([need("bash"), "-n", str(path)], capture_output=True, text=True, check=False).returncode == 0
    proc = subprocess.run([need("shellcheck"), "--severity=warning", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_helper_scripts_usage_and_bad_arguments(tmp_path: pathlib.Path) -> None:
    for script in SCRIPTS:
        (tmp_path / script).write_text(render(script, ops_host_scripts_dir=str(tmp_path)))
        (tmp_path / script).chmod(0o755)
    ok = subprocess.run([str(tmp_path / "tmux-project.sh"), "--help"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("Usage: tmux-project.sh <project-name> [options]")
    for argv, rc in (
        (["tmux-project.sh", "bad name"], 2),
        (["tmux-project.sh", "p;rm -rf /"], 2),
        (["tmux-project.sh", "demo", "--windows=a b"], 2),
        (["tmux-project.sh"], 2),
        (["list-sessions.sh", "--nope"], 2),
        (["sync-sessions.sh", "--nope"], 2),
        (["tmux-project.sh", "demo", "--register"], 3),
    ):
        proc = subprocess.run([str(tmp_path / argv[0]), *argv[1:]], capture_output=True, text=True, check=False)
        assert proc.returncode == rc, (argv, proc.stdout, proc.stderr)
        assert proc.stderr, f"{argv} must say why it refused"


def test_wezterm_config_is_valid_lua_with_the_guides_keys(tmp_path: pathlib.Path) -> None:
    projects = [{"name": "demo", "dir": "/srv", "windows": ["code", "tests"]}, {"name": "site", "dir": "/var/www"}]
    config = tmp_path / "wezterm.lua"
    config.write_text(render("wezterm.lua", ops_host_wezterm_projects=projects))
    luac = subprocess.run([need("luac5.4"), "-p", str(config)], capture_output=True, text=True, check=False)
    assert luac.returncode == 0, luac.stderr
    stub = tmp_path / "stub.lua"
    stub.write_text(WEZTERM_STUB)
    proc = subprocess.run([need("lua5.4"), str(stub), str(config)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "SSH_OPTIONS identities_only=false" in lines
    keys = [ln for ln in lines if ln.startswith("KEY ")]
    assert keys == [
        "KEY ALT+p InputSelector ",
        "KEY ALT+l SpawnCommandInNewTab ssh -t deploy@ops.example /usr/local/bin/list-sessions.sh; read -r -p 'Enter closes this tab' _",
        "KEY ALT+n SpawnCommandInNewTab ssh -t deploy@ops.example tmux new-session",
        "KEY ALT|SHIFT+S SpawnCommandInNewTab ssh -t deploy@ops.example /usr/local/bin/sync-sessions.sh; read -r -p 'Enter closes this tab' _",
    ]
    choices = [ln for ln in lines if ln.startswith("CHOICE ")]
    assert choices == [
        "CHOICE demo -> ssh -t deploy@ops.example /usr/local/bin/tmux-project.sh demo --dir=/srv --windows=code,tests",
        "CHOICE site -> ssh -t deploy@ops.example /usr/local/bin/tmux-project.sh site --dir=/var/www",
        "CHOICE general-shell -> ssh -t deploy@ops.example tmux new-session -A -s general-shell",
    ]


def test_argument_specs_mirror_defaults() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(specs)
    for key, value in defaults.items():
        assert specs[key]["default"] == value, key
        assert key.startswith("ops_host_")
