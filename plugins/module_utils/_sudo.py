# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to the opsdeck.tmux collection: reading what sudo reveals about itself.

Shared by the sudo_info module (on the host) and the sudo gate (on the controller,
over the connection). Pure parsing: no processes are started here.
"""

from __future__ import annotations

import re
import typing as t

# `sudo -V` as root: "Authentication timestamp timeout: 15.0 minutes"
TIMEOUT_RE = re.compile(r"Authentication timestamp timeout:\s*(-?[0-9.]+)\s*minutes", re.I)
TYPE_RE = re.compile(r"Type of authentication timestamp record:\s*(\S+)", re.I)
# `sudo -n -l` shows the Defaults that match the user, e.g. "timestamp_timeout=5, timestamp_type=tty"
DEFAULT_TIMEOUT_RE = re.compile(r"\btimestamp_timeout\s*=\s*(-?[0-9.]+)")
DEFAULT_TYPE_RE = re.compile(r"\btimestamp_type\s*=\s*(\w+)")
# `sudo -n -l` when the tty_tickets flag is listed the old way
TTY_TICKETS_RE = re.compile(r"(?<![!\w])tty_tickets\b")
PASSWORD_REQUIRED = "a password is required"


def parse_version_output(text: str) -> dict[str, t.Any]:
    """Timeout (minutes) and timestamp type from `sudo -V` (only revealed to root)."""
    out: dict[str, t.Any] = {}
    m = TIMEOUT_RE.search(text)
    if m:
        out["timeout_minutes"] = float(m.group(1))
    m = TYPE_RE.search(text)
    if m:
        out["timestamp_type"] = m.group(1)
    first = text.splitlines()[0] if text else ""
    if first.lower().startswith("sudo version"):
        out["version"] = first.split()[-1]
    return out


def parse_list_output(text: str) -> dict[str, t.Any]:
    """What `sudo -n -l` tells a user: matching Defaults and whether rules are NOPASSWD."""
    out: dict[str, t.Any] = {}
    m = DEFAULT_TIMEOUT_RE.search(text)
    if m:
        out["timeout_minutes"] = float(m.group(1))
    m = DEFAULT_TYPE_RE.search(text)
    if m:
        out["timestamp_type"] = m.group(1)
    out["nopasswd"] = "NOPASSWD" in text
    return out


def discover(version_text: str, list_text: str | None, is_root: bool) -> dict[str, t.Any]:
    """What sudo reveals, with where each value came from or why it is unknown.

    `version_text` is the output of `sudo -V`, `list_text` that of `sudo -n -l`
    (None when it failed: listing needed a password). `sudo -V` shows the timeout
    and timestamp type to root only; a user sees them in the matching Defaults.
    """
    facts = parse_version_output(version_text)
    listed = parse_list_output(list_text) if list_text is not None else {}
    hidden = "sudo -V reveals it only to root" if not is_root else "sudo -V did not show it"
    if list_text is None and not is_root:
        hidden += "; sudo -n -l needs a password, so the rules and Defaults stay hidden"
    out: dict[str, t.Any] = {"version": facts.get("version"), "nopasswd": listed.get("nopasswd")}
    for key, reason_key in (("timeout_minutes", "timeout_reason"), ("timestamp_type", "timestamp_type_reason")):
        if key in facts:
            out[key], out[reason_key] = facts[key], "sudo -V"
        elif key in listed:
            out[key], out[reason_key] = listed[key], "sudo -l (matching Defaults)"
        else:
            out[key], out[reason_key] = None, hidden
    return out


def validity_seconds(timeout_minutes: float | None) -> int | None:
    """How long a fresh ticket lasts; None when unknown, 0 when sudo asks every time."""
    if timeout_minutes is None:
        return None
    if timeout_minutes < 0:
        return None  # never expires
    return int(timeout_minutes * 60)
