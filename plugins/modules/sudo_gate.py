#!/usr/bin/python
# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sudo_gate
short_description: Pause the play until a person authorizes sudo in the play's tmux pane
description:
  - The shared-session rules' sudo gate, automated. Sudo is never executed silently; a person
    authorizes it once, in the pane where the play runs, and the play's C(become) tasks then run in
    that same pane while the ticket is valid (sudo tickets are per terminal, C(timestamp_type=tty)).
  - B(Discovery first.) C(sudo -n true) runs in the play's pane. If it succeeds (root, NOPASSWD, a fresh
    ticket) the gate passes at once with C(changed=false) and says why.
  - B(Otherwise it asks once.) It prints, once per host and in one piece, the command to join the right
    session and window and the trigger C(sudo -v && echo SUDO_READY) in a code block.
  - B(It watches, it does not ask the controller's terminal.) On the managed host it reads the pane
    (C(capture-pane), never typing into it) for a line that is exactly C(SUDO_READY) below the point
    where the gate opened. The typed command line, a C(SUDO_READY) printed earlier, or one in another
    pane or window does not count.
  - B(It verifies.) After the marker, C(sudo -n true) runs in that same pane; the gate passes only if it
    succeeds (a C(SUDO_READY) without a ticket is ignored and the gate keeps waiting).
  - B(It times out closed.) After O(timeout) seconds the task fails; the message repeats the join
    command and the trigger.
  - Nothing ever waits on the controller's stdin, so it works without a TTY (CI, AWX), with forks,
    C(serial) and the C(free) strategy. It never reads, receives or types a password.
  - When a later C(become) task finds the ticket expired, the connection plugin opens the gate again by
    itself (option C(sudo_gate) of M(opsdeck.tmux.shared)) and retries the command once.
version_added: 0.1.0
author: opsdeck.tmux contributors (@opsdeck)
extends_documentation_fragment:
  - opsdeck.tmux.shared.attributes
attributes:
  check_mode:
    support: none
    details: In check mode the gate does not wait and reports skipped.
  diff_mode:
    support: none
  action:
    description: Runs on the controller as an action plugin, through the play's connection.
    support: full
options:
  timeout:
    description:
      - Seconds to wait for a person before the task fails.
    type: int
    default: 300
notes:
  - Needs C(ansible_connection=opsdeck.tmux.shared) on the host.
  - Do not set C(ansible_become_password); the connection refuses to send it anywhere.
seealso:
  - module: opsdeck.tmux.sudo_info
"""

EXAMPLES = r"""
- name: Changes that need root, authorized by a person
  hosts: web
  vars:
    ansible_connection: opsdeck.tmux.shared
  tasks:
    - name: Wait until someone has run 'sudo -v && echo SUDO_READY' in the pane
      opsdeck.tmux.sudo_gate:
        timeout: 600

    - name: Install nginx (runs in the same pane, with that person's ticket)
      ansible.builtin.apt:
        name: nginx
      become: true
"""

RETURN = r"""
msg:
  description: Why the gate passed.
  returned: always
  type: str
  sample: a person authorized sudo in pane %3 (ops:sys)
session:
  description: Session of the pane the gate used.
  returned: always
  type: str
window:
  description: Window of that pane.
  returned: always
  type: str
pane:
  description: The pane where sudo was authorized and where become tasks run.
  returned: always
  type: str
  sample: "%3"
waited:
  description: Seconds the gate waited for the person.
  returned: always
  type: float
timeout_minutes:
  description: sudo's authentication timestamp timeout in minutes, where sudo reveals it; null otherwise.
  returned: always
  type: float
timeout_reason:
  description: Where RV(timeout_minutes) came from, or why it is null.
  returned: always
  type: str
ticket_valid_for:
  description: Seconds a fresh ticket stays valid (each sudo use extends it); null when unknown.
  returned: always
  type: int
join:
  description: The commands a person runs to join the session.
  returned: always
  type: dict
trigger:
  description: The command the person runs in the pane.
  returned: always
  type: str
  sample: sudo -v && echo SUDO_READY
"""
