# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to the opsdeck.tmux collection (controller side): the sudo gate.

Used by the action plugin opsdeck.tmux.sudo_gate and by the connection plugin
when a become task finds the ticket expired. Everything runs through an
opsdeck.tmux.shared connection: `sudo -n true` in the run's pane (tickets are
per tty), reads of that pane through the inner transport (never typed), and
one wait on the target for a line that is exactly SUDO_READY.
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass, field

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.utils.display import Display
from ansible_collections.opsdeck.tmux.plugins.module_utils._sudo import PASSWORD_REQUIRED, discover, validity_seconds
from ansible_collections.opsdeck.tmux.plugins.module_utils._tmux import join_commands

if t.TYPE_CHECKING:
    from ansible_collections.opsdeck.tmux.plugins.connection.shared import Connection

MARKER = "SUDO_READY"
TRIGGER = "sudo -v && echo SUDO_READY"
DEFAULT_TIMEOUT = 300

display = Display()


class GateClosed(AnsibleError):
    """The gate timed out or could not be opened; the message says what to do."""


@dataclass
class GateResult:
    changed: bool
    reason: str
    session: str
    window: str
    pane: str
    waited: float = 0.0
    timeout_minutes: float | None = None
    timeout_reason: str = ""
    ticket_valid_for: int | None = None
    join: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "changed": self.changed,
            "msg": self.reason,
            "session": self.session,
            "window": self.window,
            "pane": self.pane,
            "waited": round(self.waited, 1),
            "timeout_minutes": self.timeout_minutes,
            "timeout_reason": self.timeout_reason,
            "ticket_valid_for": self.ticket_valid_for,
            "join": self.join,
            "trigger": TRIGGER,
        }


def instructions(host: str, session: str, window: str, pane: str, timeout: int) -> str:
    """The exact text a person sees (also in README)."""
    join = join_commands(session)
    return (
        f"opsdeck.tmux.sudo_gate: {host} waits for a person to authorize sudo (timeout {timeout} s)\n"
        "\n"
        "  1. Join the session the play runs in, at the window it uses:\n"
        "\n"
        f"       tmux attach -t {session}:{window}\n"
        "\n"
        f"     (or {join['new_or_attach']}, then window {window}; the pane is {pane})\n"
        "\n"
        "  2. Run this there and type your password at sudo's prompt:\n"
        "\n"
        "     ```bash\n"
        f"     {TRIGGER}\n"
        "     ```\n"
        "\n"
        f"  The play continues once {MARKER} appears in that pane and sudo works there.\n"
        "  Ansible never sees, types or stores your password."
    )


class SudoGate:
    def __init__(self, connection: Connection, host: str, timeout: int = DEFAULT_TIMEOUT) -> None:
        self.conn = connection
        self.host = host
        self.timeout = int(timeout)

    def _in_pane(self, cmd: str) -> tuple[int, str]:
        rc, dummy_out, err = self.conn.exec_command(cmd, sudoable=False)
        return rc, to_text(err)

    def _discover_timeout(self) -> tuple[float | None, str]:
        """The ticket timeout where sudo reveals it (run outside the pane: nothing to see there)."""
        out = to_text(self.conn.exec_outside("id -u; sudo -V 2>/dev/null; echo '--opsdeck--'; sudo -n -l 2>/dev/null || echo '--failed--'"))
        uid, rest = [*out.split("\n", 1), ""][:2]
        version, listed = [*rest.split("--opsdeck--", 1), ""][:2]
        facts = discover(version, None if "--failed--" in listed else listed, uid.strip() == "0")
        return facts["timeout_minutes"], facts["timeout_reason"]

    def run(self) -> GateResult:
        start = time.monotonic()
        rc, err = self._in_pane("sudo -n true")
        header = self.conn.last_header
        if header is None:  # exec_command always sets it; a guard for type checkers
            raise GateClosed("the shared connection did not report its pane")
        session, window, pane = header.session, header.window, header.pane
        minutes, minutes_reason = self._discover_timeout()
        base = dict(
            session=session,
            window=window,
            pane=pane,
            timeout_minutes=minutes,
            timeout_reason=minutes_reason,
            ticket_valid_for=validity_seconds(minutes),
            join=join_commands(session),
        )
        if rc == 0:
            return GateResult(changed=False, reason=f"sudo -n true already succeeds in pane {pane} ({session}:{window}): no person needed", **base)
        if PASSWORD_REQUIRED not in err and "sudo" in err and ("not found" in err or "command not found" in err):
            raise GateClosed(f"sudo is not installed on {self.host}: {err.strip()}")

        text = instructions(self.host, session, window, pane, self.timeout)
        # the pane says it too, for the person who is already watching it
        self._in_pane(f"printf '%s\\n' 'opsdeck: waiting for a person to run here:  {TRIGGER}'")
        position = self.conn.pane_position(pane)
        display.display(text, color="bright yellow")
        deadline = start + self.timeout
        while True:
            remaining = int(deadline - time.monotonic())
            if remaining <= 0:
                break
            found = self.conn.watch_pane(pane, MARKER, position, remaining)
            if found is None:
                break
            rc, err = self._in_pane("sudo -n true")
            if rc == 0:
                return GateResult(changed=True, reason=f"a person authorized sudo in pane {pane} ({session}:{window})", waited=time.monotonic() - start, **base)
            # SUDO_READY without a ticket (typed by hand, printed by something else): keep waiting
            display.warning(f"{self.host}: {MARKER} appeared in pane {pane}, but sudo -n true fails there; still waiting for {TRIGGER}")
            position = self.conn.pane_position(pane)
        raise GateClosed(f"nobody authorized sudo within {self.timeout} s.\n\n{text}")
