#!/usr/bin/python
# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sudo_info
short_description: Sudo discovery, as the shared-session rules ask before any sudo
description:
  - Is sudo valid without a password right now (C(sudo -n true)), in the shared session's pane and
    outside it? Is sudo needed at all (already root, C(NOPASSWD) rules)? How long does a ticket last
    and what is it tied to (the authentication timestamp timeout and timestamp type), where sudo reveals them?
  - sudo tickets are per terminal by default (C(timestamp_type=tty)), so a ticket a person created in a
    pane is valid in that pane only. The pane check types C(sudo -n true) into an idle pane of the
    session, as M(opsdeck.tmux.command) does; it never types or reads a password.
  - Where sudo does not reveal a value (as a non-root user C(sudo -V) hides the timeout), the value is
    V(null) and a C(*_reason) field says why.
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
  check_pane:
    description:
      - Also run C(sudo -n true) in a pane of the shared session (O(session), O(window)).
    type: bool
    default: true
  session:
    description:
      - Session of the pane to check (acquired like M(opsdeck.tmux.session) does).
    type: str
    default: ops
  window:
    description:
      - Window of the pane to check.
    type: str
    default: sys
"""

EXAMPLES = r"""
- name: Discover sudo before asking anyone for it
  opsdeck.tmux.sudo_info:
  register: sudo

- name: Ask for the sudo gate only when it is needed
  opsdeck.tmux.sudo_gate:
  when: sudo.needed and not sudo.valid_in_pane
"""

RETURN = r"""
user:
  description: The user the module runs as.
  returned: always
  type: str
is_root:
  description: Whether that user is root (sudo is then not needed).
  returned: always
  type: bool
sudo_installed:
  description: Whether a sudo binary was found.
  returned: always
  type: bool
valid_outside:
  description: Whether C(sudo -n true) succeeds outside any pane (NOPASSWD, or a ticket not tied to a tty).
  returned: always
  type: bool
valid_in_pane:
  description: Whether C(sudo -n true) succeeds in the session's pane; null when not checked.
  returned: always
  type: bool
pane:
  description: The pane that was checked, with its session and window.
  returned: when O(check_pane=true)
  type: dict
needed:
  description: Whether a person has to authorize sudo (not root, and sudo fails without a password outside).
  returned: always
  type: bool
nopasswd:
  description: Whether the user has NOPASSWD rules; null when sudo would not list the rules without a password.
  returned: always
  type: bool
timeout_minutes:
  description: Authentication timestamp timeout in minutes; null when sudo does not reveal it.
  returned: always
  type: float
timeout_reason:
  description: Where RV(timeout_minutes) came from, or why it is null.
  returned: always
  type: str
timestamp_type:
  description: What a ticket is tied to (V(tty), V(ppid), V(global)); null when sudo does not reveal it.
  returned: always
  type: str
timestamp_type_reason:
  description: Where RV(timestamp_type) came from, or why it is null.
  returned: always
  type: str
version:
  description: The sudo version, when revealed.
  returned: always
  type: str
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsdeck.tmux.plugins.module_utils._module import SERVER_ARGS, TmuxModule, env_user
from ansible_collections.opsdeck.tmux.plugins.module_utils._sudo import discover
from ansible_collections.opsdeck.tmux.plugins.module_utils._tmux import MAX_SUFFIX


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            check_pane=dict(type="bool", default=True),
            session=dict(type="str", default="ops"),
            window=dict(type="str", default="sys"),
            **SERVER_ARGS,
        ),
        supports_check_mode=True,
    )
    p = module.params
    tm = TmuxModule(module)
    tm.check_names(("session name", p["session"]), ("window name", p["window"]))
    is_root = os.geteuid() == 0
    sudo = shutil.which("sudo")
    result: dict = dict(
        changed=False,
        user=env_user(),
        is_root=is_root,
        sudo_installed=bool(sudo),
        valid_outside=False,
        valid_in_pane=None,
        nopasswd=None,
        timeout_minutes=None,
        timestamp_type=None,
        version=None,
    )
    if not sudo:
        result.update(
            needed=not is_root,
            timeout_reason="sudo is not installed",
            timestamp_type_reason="sudo is not installed",
        )
        module.exit_json(**result)

    rc = module.run_command([sudo, "-n", "true"])[0]
    result["valid_outside"] = rc == 0

    version_text = module.run_command([sudo, "-V"])[1]
    rc, list_text, dummy_err = module.run_command([sudo, "-n", "-l"])
    result.update(discover(version_text, list_text if rc == 0 else None, is_root))

    if p["check_pane"]:
        job = tm.job(
            cmd=f"{sudo} -n true",
            base=p["session"],
            window=p["window"],
            max_suffix=MAX_SUFFIX,
            timeout=30,
            task="sudo-info",
            banner="\u25b6 opsdeck.tmux.sudo_info: is there a sudo ticket in this pane? (sudo -n true, no password)",
            step=f"$ {sudo} -n true",
        )
        rc, header = tm.run(job)[:2]
        result["valid_in_pane"] = rc == 0
        result["pane"] = {"session": header.session, "window": header.window, "id": header.pane}
    result["needed"] = not is_root and not result["valid_outside"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
