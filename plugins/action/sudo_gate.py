# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sudo gate: wait until a person has authorized sudo in the play's pane."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.opsdeck.tmux.plugins.plugin_utils._gate import DEFAULT_TIMEOUT, GateClosed, SudoGate


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("timeout",))
    _requires_connection = True

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(
            argument_spec={"timeout": {"type": "int", "default": DEFAULT_TIMEOUT}},
        )
        if args["timeout"] < 1:
            raise AnsibleActionFail("timeout must be at least 1 second")
        if getattr(self._connection, "transport", None) != "opsdeck.tmux.shared":
            raise AnsibleActionFail(
                "opsdeck.tmux.sudo_gate needs ansible_connection=opsdeck.tmux.shared: sudo tickets are per terminal, "
                "so the person's sudo and the become tasks must run in the same pane of the shared session"
            )
        if self._play_context.check_mode:
            result.update(changed=False, skipped=True, msg="the sudo gate does not wait in check mode")
            return result
        host = (task_vars or {}).get("inventory_hostname") or self._play_context.remote_addr or "host"
        try:
            gate = SudoGate(self._connection, host, args["timeout"]).run()
        except GateClosed as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(gate.as_dict())
        return result
