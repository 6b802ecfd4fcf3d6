#!/usr/bin/python
# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: session_info
short_description: List the tmux sessions of the host, as list-sessions.sh shows them, as data
description:
  - For every session its name, project, source (V(ssh), V(web), V(ansible), V(unknown)), whether a
    client is attached, its window count and creation time, and for each pane whether it is idle or
    busy (the same test the connection plugin uses) and its current command.
  - Project and source are the session's tmux user options C(@opsdeck_project) and C(@opsdeck_source),
    set by the collection's plugins and by the helper scripts of the role M(opsdeck.tmux.ops_host).
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
  name:
    description:
      - Only sessions whose name matches this regular expression (searched, not anchored).
    type: str
  active_only:
    description:
      - Only sessions with at least one attached client.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Which sessions are there, and which panes are busy?
  opsdeck.tmux.session_info:
  register: info

- name: Only the ops sessions
  opsdeck.tmux.session_info:
    name: '^ops[0-9]*$'
"""

RETURN = r"""
sessions:
  description: The sessions, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Session name.
      type: str
    project:
      description: Project recorded on the session, or null.
      type: str
    source:
      description: Who made the session.
      type: str
      choices: [ssh, web, ansible, unknown]
    attached:
      description: Whether a client is attached.
      type: bool
    attached_clients:
      description: How many clients are attached.
      type: int
    windows:
      description: Number of windows.
      type: int
    created:
      description: Creation time, ISO 8601 in UTC.
      type: str
    created_epoch:
      description: Creation time in seconds since the epoch.
      type: int
    panes:
      description: Every pane of the session.
      type: list
      elements: dict
      contains:
        id:
          description: Pane id.
          type: str
        window:
          description: Name of the pane's window.
          type: str
        window_index:
          description: Index of the pane's window.
          type: int
        current_command:
          description: The foreground command as tmux names it.
          type: str
        idle:
          description: Whether it is safe to type into the pane.
          type: bool
        busy_reason:
          description: Why the pane is busy (empty when idle).
          type: str
"""

import datetime
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsdeck.tmux.plugins.module_utils._module import SERVER_ARGS, TmuxModule

SESSION_FIELDS = ("session_name", "session_attached", "session_windows", "session_created", "@opsdeck_source", "@opsdeck_project")
PANE_FIELDS = ("session_name", "window_index", "window_name", "pane_id", "pane_current_command")
SOURCES = ("ssh", "web", "ansible")


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(name=dict(type="str"), active_only=dict(type="bool", default=False), **SERVER_ARGS),
        supports_check_mode=True,
    )
    p = module.params
    tm = TmuxModule(module)
    try:
        pattern = re.compile(p["name"]) if p["name"] else None
    except re.error as exc:
        module.fail_json(msg=f"name is not a valid regular expression: {exc}")

    sessions = {}
    for row in tm.rows("list-sessions", SESSION_FIELDS):
        name = row["session_name"]
        if pattern and not pattern.search(name):
            continue
        attached = int(row["session_attached"] or 0)
        if p["active_only"] and not attached:
            continue
        created = int(row["session_created"] or 0)
        sessions[name] = {
            "name": name,
            "project": row["@opsdeck_project"] or None,
            "source": row["@opsdeck_source"] if row["@opsdeck_source"] in SOURCES else "unknown",
            "attached": attached > 0,
            "attached_clients": attached,
            "windows": int(row["session_windows"] or 0),
            "created": datetime.datetime.fromtimestamp(created, datetime.UTC).isoformat(),
            "created_epoch": created,
            "panes": [],
        }
    panes = [row for row in tm.rows("list-panes", PANE_FIELDS, "-a") if row["session_name"] in sessions]
    report = tm.idle_report([row["pane_id"] for row in panes])
    for row in panes:
        idle, why = report.get(row["pane_id"], (False, "unknown"))
        sessions[row["session_name"]]["panes"].append(
            {
                "id": row["pane_id"],
                "window": row["window_name"],
                "window_index": int(row["window_index"]),
                "current_command": row["pane_current_command"],
                "idle": idle,
                "busy_reason": "" if idle else why,
            }
        )
    module.exit_json(changed=False, sessions=[sessions[k] for k in sorted(sessions)])


if __name__ == "__main__":
    main()
