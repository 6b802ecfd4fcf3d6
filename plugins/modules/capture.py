#!/usr/bin/python
# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: capture
short_description: Read what a pane of the shared session shows, or the tail of its log
description:
  - Reads a pane with C(tmux capture-pane) (the seed's method B) or the tail of the session's log file
    C(/tmp/agent-<session>-YYYYmmdd-HHMMSS.log) (method A), so a play can reason over output
    without anyone relaying it.
  - Read-only; nothing is typed anywhere.
version_added: 0.1.0
author: opsdeck.tmux contributors (@opsdeck)
extends_documentation_fragment:
  - opsdeck.tmux.shared.server
  - opsdeck.tmux.shared.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  session:
    description:
      - Session to read.
    type: str
    default: ops
  window:
    description:
      - Window of O(session) whose active pane is read.
    type: str
    default: sys
  pane:
    description:
      - A pane id (V(%3)) to read instead of O(session)/O(window).
    type: str
  source:
    description:
      - V(pane) reads the pane's scrollback, V(log) the tail of a log file.
    type: str
    choices: [pane, log]
    default: pane
  lines:
    description:
      - How many of the last lines to return.
    type: int
    default: 200
  join:
    description:
      - Join lines that the pane wrapped (C(capture-pane -J)).
    type: bool
    default: true
  escapes:
    description:
      - Keep the escape sequences for colours and attributes (C(capture-pane -e)).
    type: bool
    default: false
  log_path:
    description:
      - Log file to read with O(source=log). Defaults to the newest C(<log_dir>/agent-<session>-*.log).
    type: path
  log_dir:
    description:
      - Where to look for the session's logs with O(source=log).
    type: path
    default: /tmp
"""

EXAMPLES = r"""
- name: Read the last 50 lines of ops:deploy
  opsdeck.tmux.capture:
    window: deploy
    lines: 50
  register: screen

- name: Did the build finish?
  ansible.builtin.assert:
    that: "'build finished' in screen.text"

- name: Tail the session's log
  opsdeck.tmux.capture:
    source: log
    lines: 200
"""

RETURN = r"""
text:
  description: The captured text, lines joined with newlines.
  returned: always
  type: str
lines:
  description: The captured lines.
  returned: always
  type: list
  elements: str
source:
  description: Where the text came from.
  returned: always
  type: str
target:
  description: The pane (V(pane) source) or the log file (V(log) source) that was read.
  returned: always
  type: str
"""

import glob
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsdeck.tmux.plugins.module_utils._module import SERVER_ARGS, TmuxModule


def tail(path: str, count: int) -> list[str]:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        block = min(size, max(65536, count * 512))
        f.seek(size - block)
        data = f.read()
    return data.decode("utf-8", "replace").splitlines()[-count:]


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            session=dict(type="str", default="ops"),
            window=dict(type="str", default="sys"),
            pane=dict(type="str"),
            source=dict(type="str", default="pane", choices=["pane", "log"]),
            lines=dict(type="int", default=200),
            join=dict(type="bool", default=True),
            escapes=dict(type="bool", default=False),
            log_path=dict(type="path"),
            log_dir=dict(type="path", default="/tmp"),
            **SERVER_ARGS,
        ),
        supports_check_mode=True,
    )
    p = module.params
    tm = TmuxModule(module)
    tm.check_names(("session name", p["session"]), ("window name", p["window"]))
    if p["pane"] is not None and not re.fullmatch(r"%[0-9]+", p["pane"]):
        module.fail_json(msg=f"invalid pane id {p['pane']!r}: expected %<number>, e.g. %3")
    if p["lines"] < 1:
        module.fail_json(msg="lines must be at least 1")

    if p["source"] == "log":
        path = p["log_path"]
        if not path:
            logs = glob.glob(os.path.join(p["log_dir"], f"agent-{p['session']}-*.log"))
            if not logs:
                module.fail_json(msg=f"no log agent-{p['session']}-*.log in {p['log_dir']}")
            path = max(logs, key=os.path.getmtime)
        try:
            lines = tail(path, p["lines"])
        except OSError as exc:
            module.fail_json(msg=f"cannot read {path}: {exc}")
        module.exit_json(changed=False, text="\n".join(lines), lines=lines, source="log", target=path)

    target = p["pane"] or f"={p['session']}:={p['window']}"
    args = ["capture-pane", "-p", "-t", target, "-S", f"-{p['lines'] + 200}"]
    if p["join"]:
        args.append("-J")
    if p["escapes"]:
        args.append("-e")
    rc, out, err = tm.tmux(*args, check=False)
    if rc != 0:
        module.fail_json(msg=f"cannot read pane {target}: {err.strip()}")
    lines = out.rstrip("\n").split("\n")
    # the visible screen below the last output is empty rows, not output
    while lines and not lines[-1].strip():
        lines.pop()
    lines = lines[-p["lines"] :]
    module.exit_json(changed=False, text="\n".join(lines), lines=lines, source="pane", target=target)


if __name__ == "__main__":
    main()
