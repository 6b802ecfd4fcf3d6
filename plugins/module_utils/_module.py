# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to the opsdeck.tmux collection: what the modules share on the managed host.

The modules run the same target-side script as the connection plugin (see
``_shlib``), locally with ``/bin/sh -c``, and read tmux with argv built by
``_tmux.tmux_argv``. Standard library and AnsibleModule only.
"""

from __future__ import annotations

import os
import time
import typing as t
import uuid

from ansible_collections.opsdeck.tmux.plugins.module_utils._tmux import (
    DEFAULT_WINDOWS,
    Header,
    Job,
    ProtocolError,
    TmuxNameError,
    check_name,
    format_string,
    parse_format,
    split_output,
    tmux_argv,
)

if t.TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule

# argument_spec entries every module shares (documented in the opsdeck.tmux.shared.server fragment)
SERVER_ARGS: dict[str, dict[str, t.Any]] = {
    "tmux_executable": {"type": "str", "default": "tmux"},
    "socket_name": {"type": "str"},
    "socket_path": {"type": "path"},
}


# Separates -F fields: tmux 3.5 escapes control characters (\x1f becomes "\037")
# in format output, while this printable symbol (U+241F) passes unchanged with -u.
FIELD_SEP = "\u241f"


class TmuxModule:
    """Small manager shared by the modules: validation, the script, tmux reads."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        p = module.params
        try:
            self.argv = tmux_argv(p["tmux_executable"], p.get("socket_name"), p.get("socket_path"))
        except TmuxNameError as exc:
            module.fail_json(msg=str(exc))

    def check_names(self, *pairs: tuple[str, str | None]) -> None:
        """Refuse bad names before anything is typed anywhere."""
        for what, value in pairs:
            if value is None:
                continue
            try:
                check_name(value, what)
            except TmuxNameError as exc:
                self.module.fail_json(msg=str(exc))

    def job(self, **kwargs: t.Any) -> Job:
        p = self.module.params
        defaults: dict[str, t.Any] = {
            "cmd": "",
            "run_id": "module." + uuid.uuid4().hex[:12],
            "channel": "od" + uuid.uuid4().hex,
            "controller": "module",
            "now": int(time.time()),
            "executable": p["tmux_executable"],
            "socket_name": p.get("socket_name"),
            "socket_path": p.get("socket_path"),
            "mark": False,
            "record": False,
            "shell": "/bin/sh",
            "windows": list(DEFAULT_WINDOWS),
            "user": env_user(),
        }
        defaults.update(kwargs)
        return Job(**defaults)

    def run(self, job: Job, stdin: bytes | None = None) -> tuple[int, Header, bytes, bytes]:
        """Run the target script here; returns (rc, header, stdout, stderr), failing on script errors."""
        try:
            job.validate()
        except TmuxNameError as exc:
            self.module.fail_json(msg=str(exc))
        rc, out, err = self.module.run_command(
            ["/bin/sh", "-c", job.script()],
            data=stdin,
            binary_data=True,
            encoding=None,
        )
        try:
            header, rest = split_output(out)
        except ProtocolError:
            self.module.fail_json(msg="the tmux script did not answer", rc=rc, stderr=err.decode("utf-8", "replace"))
        if header.status != "OK":
            text = rest.decode("utf-8", "replace").strip() or err.decode("utf-8", "replace").strip()
            self.module.fail_json(msg=f"{text} [{header.status}]", status=header.status, session=header.session, pane=header.pane)
        return rc, header, rest, err

    def tmux(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        rc, out, err = self.module.run_command([*self.argv, "-u", *args])
        if check and rc != 0:
            self.module.fail_json(msg=f"tmux {' '.join(args)} failed: {err.strip()}", rc=rc)
        return rc, out, err

    def rows(self, command: str, fields: t.Sequence[str], *args: str) -> list[dict[str, str]]:
        """tmux list-* with a -F format of ``fields``; no server means no rows."""
        rc, out, err = self.tmux(command, *args, "-F", format_string(fields, FIELD_SEP), check=False)
        if rc != 0:
            if "no server running" in err or "error connecting" in err or "can't find" in err:
                return []
            self.module.fail_json(msg=f"tmux {command} failed: {err.strip()}", rc=rc)
        return parse_format(out, fields, FIELD_SEP)

    def idle_report(self, panes: t.Sequence[str]) -> dict[str, tuple[bool, str]]:
        """The connection's idle test, for each pane: {pane: (idle, why)}."""
        if not panes:
            return {}
        dummy_rc, dummy_header, out, dummy_err = self.run(self.job(mode="idle", panes=list(panes)))
        report = {}
        for line in out.decode("utf-8", "replace").splitlines():
            pane, code, why = [*line.split("|", 2), "", ""][:3]
            report[pane] = (code == "0", why)
        return report


def env_user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
