# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to the opsdeck.tmux collection (controller side): what the pane shows for a command.

Two audiences, two views. The log file gets every command exactly as run and its
raw output. The pane is for a person: for each command Ansible sends, this decides
whether the pane shows

* ``live``: the command as written in the task, then its output as the program
  prints it (raw, script, and any command we do not recognise);
* ``module``: a module run: one dim line, then, after Ansible has its answer, the
  result made readable on the target by ``_render`` with the module's interpreter;
* ``plumbing``: Ansible's own housekeeping (home directory, temp dirs, chmod,
  interpreter discovery): one dim line, nothing else unless it fails.
"""

from __future__ import annotations

import re
import shlex
import typing as t
from dataclasses import dataclass

from ansible_collections.opsdeck.tmux.plugins.module_utils._tmux import DIM, RESET, as_written

# modules whose result is a command's output: shown as printed, not as a summary
COMMAND_LIKE = {"command", "shell", "opsdeck.tmux.command"}
# the module that does an action's real work, where its name differs; any other module an action
# runs (copy's stat, file and slurp) is a helper: quiet in the pane unless it fails
MAIN_MODULE = {"template": "copy", "shell": "command", "gather_facts": "setup", "opsdeck.tmux.command": "command"}
LIVE_ACTIONS = {"raw", "script"}

_BECOME = re.compile(r"^echo BECOME-SUCCESS-[a-z]+ ?; ?")
_SLEEP = re.compile(r"\s*&&\s*sleep 0\s*$")
_PYTHON = re.compile(r"^(?P<py>/\S*python[0-9.]*)(?:\s+(?P<script>\S+))?(?:\s+(?P<rest>.*))?$")
# the sudo gate's line for the person in the pane: printf '%s\n' 'opsdeck: ...'
_GATE_MESSAGE = re.compile(r"^printf '%s\\n' '(?P<text>opsdeck: [^']*)'$")
_ANSIBALLZ = re.compile(r"AnsiballZ_(?P<module>\w+)\.py$")
# a pipelined module's payload names it: `ansible_module='stat',` in the AnsiballZ wrapper's arguments
_PAYLOAD_MODULE = re.compile(rb"\n\s*ansible_module='(?P<module>[A-Za-z0-9_.]{1,100})',")
_PLUMBING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^echo ~\S*$"), "find the remote home directory"),
    (re.compile(r"umask 77 && mkdir -p "), "make a temporary directory"),
    (re.compile(r"^chmod u\+[rwx]+ .*ansible-tmp-"), "make the module executable"),
    (re.compile(r"^(setfacl|chown|chgrp|chmod) .*ansible-tmp-"), "give the become user the module"),
    (re.compile(r"^rm -f -r \S*ansible-tmp-"), "remove the temporary directory"),
    (re.compile(r"^echo PLATFORM"), "find the Python interpreter"),
    (re.compile(r"AnsiballZ_async_wrapper\.py|async_wrapper"), "start an async job"),
    (re.compile(r"^(test -e|/bin/ls|ls) .*ansible-tmp-"), "check a temporary file"),
)


@dataclass
class View:
    kind: str  # "live", "module", "plumbing" or "note" (the step only, no output, no rc)
    step: str  # shown in the pane before the command runs (may hold ANSI styles)
    interpreter: str = ""
    module: str = ""
    render_kind: str = "module"  # "command": show the module's stdout/stderr as printed


def short_action(action: str) -> str:
    """ansible.builtin.apt -> apt, ansible.legacy.command -> command, opsdeck.tmux.command stays whole."""
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if action.startswith(prefix):
            return action[len(prefix) :]
    return action


def unwrap(cmd: str) -> str:
    """The command inside the shell and become wrappers Ansible puts around it."""
    inner = cmd.strip()
    for _depth in range(4):
        inner = _SLEEP.sub("", inner).strip()
        try:
            words = shlex.split(inner)
        except ValueError:
            break
        # `/bin/sh -c '...'` (the shell plugin) and `sudo ... /bin/sh -c '...'` (become)
        if len(words) >= 3 and words[-2] == "-c" and re.search(r"(^|/)(ba|da|z|k)?sh$", words[-3]):
            inner = words[-1].strip()
            inner = _BECOME.sub("", inner)
            continue
        break
    return _SLEEP.sub("", inner).strip()


def task_command(action: str, args: t.Mapping[str, t.Any] | None) -> str | None:
    """The command a command-like or raw/script task wrote, when it wrote one."""
    args = args or {}
    if args.get("_raw_params"):
        return str(args["_raw_params"])
    if args.get("cmd"):
        return str(args["cmd"])
    if args.get("argv"):
        return " ".join(shlex.quote(str(a)) for a in args["argv"])
    return None


def plumbing(text: str) -> str:
    return DIM + "\u00b7 ansible: " + text + RESET


def payload_module(in_data: bytes | None) -> str | None:
    """The module a pipelined payload runs (an action like copy runs stat first)."""
    found = _PAYLOAD_MODULE.search(in_data[:65536]) if in_data else None
    return found.group("module").decode() if found else None


def classify(cmd: str, action: str, args: t.Mapping[str, t.Any] | None, raw_view: bool = False, in_data: bytes | None = None) -> View:
    """Decide what the pane shows for `cmd`, a command Ansible sends for a task running `action`."""
    if raw_view:
        one = " ".join(cmd.split())
        return View("live", DIM + "$ " + (one if len(one) <= 400 else one[:399] + "\u2026") + RESET)
    name = short_action(action or "")
    inner = unwrap(cmd)
    # the sudo gate's own commands (the action's, or the connection's automatic gate)
    if inner == "sudo -n true":
        return View("note", DIM + "\u00b7 opsdeck: is sudo already authorized in this pane? (sudo -n true)" + RESET)
    message = _GATE_MESSAGE.match(inner)
    if message:
        return View("note", "\033[1;33m" + message.group("text") + RESET)
    for pattern, what in _PLUMBING:
        if pattern.search(inner):
            return View("plumbing", plumbing(what))
    python = _PYTHON.match(inner)
    if python and (python.group("script") is None or _ANSIBALLZ.search(python.group("script") or "")):
        found = _ANSIBALLZ.search(python.group("script") or "")
        module = found.group("module") if found else payload_module(in_data) or name
        module = short_action(module)
        # the task's own command, when this run is that command (not, say, a stat before it)
        written = task_command(name, args) if name in COMMAND_LIKE and module in ("command", name.rsplit(".", 1)[-1]) else None
        if written is not None:
            step = as_written(written)
        else:
            step = plumbing(f"run the {module} module ({python.group('py').rsplit('/', 1)[-1]})")
        main = MAIN_MODULE.get(name, name).rsplit(".", 1)[-1]
        kind = "command" if written is not None else "module" if module == main or not name else "quiet"
        return View("module", step, python.group("py"), module, kind)
    written = task_command(name, args) if name in LIVE_ACTIONS else None
    return View("live", as_written(written if written is not None else cmd))
