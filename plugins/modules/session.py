#!/usr/bin/python
# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: session
short_description: Ensure a shared tmux session exists, the way the shared-session rules acquire it
description:
  - Reuses the session V(ops) when its pane is idle; when V(ops) is busy (a foreground job,
    copy mode, text on the prompt line) it uses the first of V(ops1), V(ops2)... that does not
    exist or is idle, and creates the windows V(sys), V(deploy), V(logs) when missing.
  - Returns the session actually used, its windows and panes, and the exact commands a person
    runs to join it.
  - Nothing is ever typed into any pane.
version_added: 0.1.0
author: opsdeck.tmux contributors (@opsdeck)
extends_documentation_fragment:
  - opsdeck.tmux.shared.server
  - opsdeck.tmux.shared.session
  - opsdeck.tmux.shared.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  chdir:
    description:
      - Start directory of the windows this module creates. Defaults to the user's home directory.
    type: path
  state:
    description:
      - V(present) ensures the session and its windows exist. V(absent) kills exactly the session
        O(session) (no acquisition) if it exists.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Idle is decided from the pane's foreground process group against its shell, copy mode and an
    empty prompt line, the same test the connection plugin M(opsdeck.tmux.shared) uses.
seealso:
  - module: opsdeck.tmux.session_info
  - module: opsdeck.tmux.command
"""

EXAMPLES = r"""
- name: Get a shared session (ops, or ops1... when ops is busy)
  opsdeck.tmux.session:
  register: ops

- name: Tell a person where to watch
  ansible.builtin.debug:
    msg: "Join with: {{ ops.join.attach }}"

- name: A fixed session with its own windows, started in /srv/app
  opsdeck.tmux.session:
    session: release
    acquire: false
    windows: [code, tests, logs]
    chdir: /srv/app

- name: Remove a session
  opsdeck.tmux.session:
    session: release
    state: absent
"""

RETURN = r"""
session:
  description: The session used (or that would be used, in check mode).
  returned: always
  type: str
  sample: ops1
created:
  description: Whether the session was created by this task.
  returned: always
  type: bool
windows:
  description: Windows of the session with their panes.
  returned: when state is present and not in check mode
  type: list
  elements: dict
  contains:
    name:
      description: Window name.
      type: str
    index:
      description: Window index.
      type: int
    panes:
      description: Panes of the window.
      type: list
      elements: dict
      contains:
        id:
          description: Pane id, usable as a tmux target.
          type: str
        current_command:
          description: The pane's foreground command as tmux names it.
          type: str
join:
  description: What a person runs to watch the session.
  returned: when state is present
  type: dict
  contains:
    attach:
      description: Attach to the session.
      type: str
      sample: tmux attach -t ops1
    new_or_attach:
      description: Attach, or create it first.
      type: str
      sample: tmux new-session -A -s ops1
    list:
      description: List sessions.
      type: str
      sample: tmux ls
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsdeck.tmux.plugins.module_utils._module import SERVER_ARGS, TmuxModule
from ansible_collections.opsdeck.tmux.plugins.module_utils._tmux import MAX_SUFFIX, join_commands

PANE_FIELDS = ("window_index", "window_name", "pane_id", "pane_current_command")


def describe(tm: TmuxModule, session: str) -> list[dict]:
    windows: dict[str, dict] = {}
    for row in tm.rows("list-panes", PANE_FIELDS, "-s", "-t", f"={session}"):
        win = windows.setdefault(row["window_index"], {"name": row["window_name"], "index": int(row["window_index"]), "panes": []})
        win["panes"].append({"id": row["pane_id"], "current_command": row["pane_current_command"]})
    return sorted(windows.values(), key=lambda w: w["index"])


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            session=dict(type="str", default="ops"),
            acquire=dict(type="bool", default=True),
            windows=dict(type="list", elements="str", default=["sys", "deploy", "logs"]),
            chdir=dict(type="path"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            **SERVER_ARGS,
        ),
        supports_check_mode=True,
    )
    p = module.params
    tm = TmuxModule(module)
    tm.check_names(("session name", p["session"]), *(("window name", w) for w in p["windows"]))
    if not p["windows"]:
        module.fail_json(msg="windows must name at least one window")

    if p["state"] == "absent":
        exists = tm.tmux("has-session", "-t", f"={p['session']}", check=False)[0] == 0
        if exists and not module.check_mode:
            tm.tmux("kill-session", "-t", f"={p['session']}")
        module.exit_json(changed=exists, session=p["session"], created=False)

    job = tm.job(
        mode="acquire",
        base=p["session"],
        window=p["windows"][0],
        windows=p["windows"],
        max_suffix=MAX_SUFFIX if p["acquire"] else 0,
        require_idle=p["acquire"],
        dry_run=module.check_mode,
        start_dir=p["chdir"] or "",
    )
    dummy_rc, header, out, dummy_err = tm.run(job)
    lines = out.decode("utf-8", "replace").splitlines()
    result = dict(
        changed="changed=1" in lines[:2],
        created="created=1" in lines[:2],
        session=header.session,
        join=join_commands(header.session),
    )
    if not module.check_mode:
        result["windows"] = describe(tm, header.session)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
