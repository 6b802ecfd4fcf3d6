# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: shared
short_description: Run every task inside a shared, human-visible tmux session
description:
  - Wraps another connection plugin (the I(inner transport), e.g. C(ansible.builtin.ssh) or
    C(ansible.builtin.local)) and routes every command through a pane of a shared tmux session
    on the managed host, so a person can C(tmux attach -t ops) and watch each task happen.
  - The run reuses the session C(ops) when its pane is idle, otherwise the first C(opsN) that
    does not exist or is idle, creates the windows C(sys), C(deploy), C(logs), and keeps that
    session for all its tasks.
  - Each command is ONE round trip of the inner transport. The pane receives one short typed
    line that runs a job script; the job prints a banner (task, host, become user), runs the
    command with stdout and stderr shown in the pane and appended to
    C(/tmp/agent-<session>-YYYYmmdd-HHMMSS.log), and signals a C(tmux wait-for) channel unique
    to that command. stdout, stderr and the exit code come back to Ansible byte for byte.
  - A C(no_log) task shows only C(output hidden (no_log)) in the pane and writes none of its
    output to the log.
  - Nothing is ever typed into a busy pane, and no password is ever typed. Privilege escalation
    uses the sudo ticket a person created in the pane (sudo tickets are per terminal); when sudo
    answers C(a password is required) the task fails at once and says which pane to use.
    M(opsdeck.tmux.sudo_gate) makes the play wait for that person instead.
  - C(put_file) and C(fetch_file) go straight through the inner transport.
version_added: 0.1.0
author: opsdeck.tmux contributors (@opsdeck)
extends_documentation_fragment:
  - opsdeck.tmux.shared.connection
  - connection_pipelining
options:
  transport:
    description:
      - The inner connection plugin that reaches the managed host. Any connection plugin name
        works; its own variables (C(ansible_host), C(ansible_user), C(ansible_port),
        C(ansible_ssh_private_key_file)...) apply as usual.
    type: str
    default: ansible.builtin.ssh
    vars:
      - name: ansible_tmux_transport
    env:
      - name: ANSIBLE_TMUX_TRANSPORT
    ini:
      - section: opsdeck_tmux
        key: transport
  sudo_gate:
    description:
      - When a become task finds no valid sudo ticket in the pane (sudo answers C(a password is required)),
        open the sudo gate (see M(opsdeck.tmux.sudo_gate)) and wait for a person to authorize sudo in that
        pane, then run the command once more. When V(false), such a task fails at once, naming the pane.
    type: bool
    default: true
    vars:
      - name: ansible_tmux_sudo_gate
    env:
      - name: ANSIBLE_TMUX_SUDO_GATE
  sudo_gate_timeout:
    description:
      - Seconds the automatic sudo gate waits for a person.
    type: int
    default: 300
    vars:
      - name: ansible_tmux_sudo_gate_timeout
    env:
      - name: ANSIBLE_TMUX_SUDO_GATE_TIMEOUT
  pane_view:
    description:
      - What the pane shows a person. V(readable) shows, for each task, the banner, the command as the task
        wrote it (a multi-line script as its lines) and its output as the program prints it, for C(raw), C(script),
        C(command) and C(shell); for any other module a readable result (ok, changed, failed or skipped, C(msg),
        the path or package it touched, with C(--diff) the diff, capped at 40 lines; C(setup) says how many facts
        it gathered); and Ansible's own plumbing (temporary directories, C(chmod), interpreter discovery) as one
        dim line each. A module's result is rendered on the managed host by the module's own interpreter after
        Ansible has its answer, so it costs the play nothing.
      - V(raw) shows every command as sent, and its raw output (module JSON included) as it is printed.
      - Either way the log file is the faithful record, for an agent or an audit - every command exactly as
        run, its raw stdout and stderr including module JSON, and its rc.
    type: str
    default: readable
    choices: [readable, raw]
    vars:
      - name: ansible_tmux_pane_view
    env:
      - name: ANSIBLE_TMUX_PANE_VIEW
    ini:
      - section: opsdeck_tmux
        key: pane_view
  reconnect_timeout:
    description:
      - Seconds to keep reconnecting when the inner transport fails while a command is sent or runs
        (for example an ssh connection that drops during a long C(apt) run). The command keeps running in
        the pane; once the host answers again, the same command is sent again and the target hands back
        that command's result (rc, stdout and stderr, byte for byte) instead of running it a second time.
      - Retries back off from half a second to ten seconds. V(0) fails at the first error.
      - The result of a C(no_log) task is not kept on the target, so it cannot be collected.
    type: int
    default: 120
    vars:
      - name: ansible_tmux_reconnect_timeout
    env:
      - name: ANSIBLE_TMUX_RECONNECT_TIMEOUT
    ini:
      - section: opsdeck_tmux
        key: reconnect_timeout
notes:
  - Needs tmux and a POSIX C(/bin/sh) on the managed host, nothing else.
  - O(command_timeout) bounds every command; a pane or session that disappears while a command
    runs ends the task within about two seconds.
  - A person pressing Ctrl-C in the pane fails the task with C(interrupted in pane %N (Ctrl-C)).
  - Keys are typed only into a pane whose cursor line is exactly its empty prompt (the prompt recorded
    when opsdeck last saw the pane idle, or for a pane it has never seen a conservative prompt shape);
    tmux checks that the cursor has not moved and types in one step.
  - Options that are not specific to this plugin (pipelining, the inner transport's options) behave
    exactly as with the inner transport alone.
seealso:
  - module: opsdeck.tmux.sudo_gate
"""

EXAMPLES = r"""
# inventory: every task on these hosts runs in the shared session "ops" on the host
# [web]
# web1 ansible_host=192.0.2.10
#
# [web:vars]
# ansible_connection=opsdeck.tmux.shared
# ansible_tmux_transport=ansible.builtin.ssh

- name: Deploy visibly
  hosts: web
  tasks:
    - name: Build the release (in window deploy)
      ansible.builtin.command: make release
      args:
        chdir: /srv/app
        creates: /srv/app/release.tar.gz
      vars:
        ansible_tmux_window: deploy

- name: Run on this machine, watched with 'tmux attach -t ops'
  hosts: localhost
  connection: opsdeck.tmux.shared
  vars:
    ansible_tmux_transport: ansible.builtin.local
  tasks:
    - name: Say hello in the pane
      ansible.builtin.command: echo hello
      changed_when: false
"""

import base64
import json
import pathlib
import socket
import time
import typing as t
import uuid

from ansible import constants as C
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.connection import ConnectionBase
from ansible.plugins.loader import connection_loader
from ansible.utils.display import Display
from ansible_collections.opsdeck.tmux.plugins.module_utils._sudo import PASSWORD_REQUIRED
from ansible_collections.opsdeck.tmux.plugins.module_utils._tmux import (
    Header,
    Job,
    ProtocolError,
    TmuxNameError,
    join_commands,
    shorten,
    split_output,
)
from ansible_collections.opsdeck.tmux.plugins.plugin_utils._run import (
    controller_run_id,
    owner_is_alive,
)
from ansible_collections.opsdeck.tmux.plugins.plugin_utils._view import COMMAND_LIKE, LIVE_ACTIONS, View, classify, short_action

display = Display()

# The renderer of module results, sent with module runs: read as text, never imported here.
# Ansible compiles a collection's Python from source in every forked worker, so this plugin
# imports only what every command needs; the gate and the diff are imported when used.
RENDER_SOURCE = (pathlib.Path(__file__).resolve().parent.parent / "plugin_utils" / "_render.py").read_text(encoding="utf-8")

# files larger than this get no diff in the pane
DIFF_LIMIT = 1 << 20


def slurped_content(stdout: bytes) -> bytes | None:
    """The file content a slurp module run returned (base64 in its JSON result)."""
    try:
        result = json.loads(stdout[stdout.index(b"{") :])
        return base64.b64decode(result["content"]) if result.get("encoding") == "base64" else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# statuses of the target script that mean the host could not be used at all
UNREACHABLE = {"NOTMUX", "NOSTATE", "GONE", "LOST"}


class Connection(ConnectionBase):
    """Route each command through a pane of the shared tmux session."""

    transport = "opsdeck.tmux.shared"
    has_pipelining = True
    has_tty = False  # commands run in the pane; we never answer a password prompt

    def __init__(self, play_context: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(play_context, *args, **kwargs)
        # TaskExecutor names the run (the ansible-playbook process) and the task
        self._playbook_pid = kwargs.get("ansible_playbook_pid")
        self._task_uuid = kwargs.get("task_uuid")
        # TaskExecutor fills the inner plugin's options (ansible_host, ansible_user...)
        # through this attribute, as it does for network_cli.
        self.ssh_type_conn: ConnectionBase | None = None
        self._task_keys: dict[str, t.Any] = {}
        # one connection object per task: its id groups the task's commands under one banner
        self._task_id = uuid.uuid4().hex[:12]
        self.last_header: Header | None = None
        self._gate_open = False
        # --diff for copy/template: the action computes the diff here on the controller from the
        # file it slurped and the file it puts; the pane shows it with the module that writes the file
        self._view: View | None = None
        self._slurped: bytes | None = None
        self._put: bytes | None = None

    # -- options and the inner transport ------------------------------------

    def set_options(self, task_keys: t.Any = None, var_options: t.Any = None, direct: t.Any = None) -> None:
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        if task_keys:
            self._task_keys = {k: task_keys.get(k) for k in ("name", "action", "args", "changed_when", "failed_when")}
        self._load_inner()

    def _load_inner(self) -> ConnectionBase:
        name = self.get_option("transport")
        if self.ssh_type_conn is not None and name in (self.ssh_type_conn._load_name, getattr(self.ssh_type_conn, "ansible_name", None)):
            return self.ssh_type_conn
        if name in ("opsdeck.tmux.shared", "shared"):
            raise AnsibleError("ansible_tmux_transport cannot be opsdeck.tmux.shared itself; use e.g. ansible.builtin.ssh")
        # the same arguments TaskExecutor gives a connection (new_stdin: some plugins still require it)
        inner = connection_loader.get(
            name,
            self._play_context,
            new_stdin=None,
            shell=self._shell,
            task_uuid=self._task_uuid,
            ansible_playbook_pid=self._playbook_pid,
        )
        if inner is None:
            raise AnsibleError(f"ansible_tmux_transport: connection plugin {name!r} was not found")
        self.ssh_type_conn = inner
        self.has_pipelining = bool(getattr(inner, "has_pipelining", False))
        return inner

    def _connect(self) -> Connection:
        inner = self._load_inner()
        if not self._connected:
            display.vvv(f"ESTABLISH OPSDECK SHARED CONNECTION via {inner._load_name}", host=self._play_context.remote_addr)
            inner._connect()
            self._connected = True
        return self

    # -- commands -----------------------------------------------------------

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        if sudoable and self.become is not None and self.become.expect_prompt():
            # sudo would read the password from the pane's stdin: refuse rather than type it
            raise AnsibleError(
                "opsdeck.tmux.shared never sends a become password (ansible_become_password or -K is set). "
                "Remove it: a person authorizes sudo in the pane, see opsdeck.tmux.sudo_gate."
            )
        stale: list[str] = []
        live: list[str] = []
        for _attempt in range(5):
            job = self._job(cmd, in_data, live, stale)
            display.vvv(f"EXEC (tmux {job.base}/{job.window}) {to_text(cmd)}", host=self._play_context.remote_addr)
            rc, header, stdout, stderr = self._send(job, in_data)
            if header.status != "CHECK":
                break
            # a session is owned by an earlier run from this controller: alive or not?
            owner = to_text(stdout).strip()
            (live if owner_is_alive(owner) else stale).append(owner)
        else:
            raise AnsibleConnectionFailure("could not settle the ownership of the shared session after 5 attempts")
        self.last_header = header
        if header.status == "OK" and rc == 0 and self._view is not None and self._view.module == "slurp":
            self._slurped = slurped_content(stdout)
        if header.status != "OK":
            # the script's own message follows its header on stdout; stderr is the transport's
            self._fail(header, to_text(stdout).strip() or to_text(stderr).strip())
        if sudoable and self.become is not None and rc != 0 and PASSWORD_REQUIRED.encode() in stderr:
            if not self.get_option("sudo_gate") or self._gate_open:
                self._password_required(header)
            # the ticket expired or was never given: wait for a person, then retry once
            self._gate_open = True
            from ansible_collections.opsdeck.tmux.plugins.plugin_utils._gate import GateClosed, SudoGate

            try:
                SudoGate(self, self._play_context.remote_addr or "host", self.get_option("sudo_gate_timeout")).run()
                return self.exec_command(cmd, in_data=in_data, sudoable=sudoable)
            except GateClosed as exc:
                raise AnsibleError(f"opsdeck.tmux.shared: {exc}") from None
            finally:
                self._gate_open = False
        display.vvvv(f"opsdeck.tmux.shared: rc={rc} in {header.where}, log {header.log}", host=self._play_context.remote_addr)
        return rc, stdout, stderr

    def _send(self, job: Job, in_data: bytes | None) -> tuple[int, Header, bytes, bytes]:
        """Run the wrapper through the inner transport; when the connection drops, send the
        same wrapper again (bounded, with backoff). On the target a command's channel runs at
        most once: a second attempt collects the first one's result instead of running it again."""
        line = job.command_line()
        deadline: float | None = None
        delay = 0.5
        while True:
            try:
                rc, stdout, stderr = self._load_inner().exec_command(line, in_data=in_data, sudoable=False)
                try:
                    header, rest = split_output(stdout)
                    return rc, header, rest, stderr
                except ProtocolError as exc:
                    first = f"the shared tmux wrapper did not answer (rc={rc}, first line {exc}): {to_text(stderr).strip()}"
                    # ssh's own failure is 255; anything else is not a dropped connection
                    if rc != 255:
                        raise AnsibleConnectionFailure(first) from None
                    error = first
            except AnsibleConnectionFailure as exc:
                error = to_text(exc)
            limit = int(self.get_option("reconnect_timeout"))
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + limit
            if now >= deadline:
                raise AnsibleConnectionFailure(
                    f"opsdeck.tmux.shared: the connection to the host failed and did not come back within {limit} s "
                    "(ansible_tmux_reconnect_timeout). A command that had started keeps running in the shared session: "
                    f"look at its pane and its log on the host. Last error: {error}"
                )
            display.warning(
                f"opsdeck.tmux.shared: the connection to {self._play_context.remote_addr} failed while a command was sent "
                f"or ran in the shared session; reconnecting to collect its result ({shorten(error, 200)})"
            )
            time.sleep(min(delay, max(0.0, deadline - now)))
            delay = min(delay * 2, 10.0)
            inner = self._load_inner()
            inner.close()
            try:
                inner._connect()
            except AnsibleConnectionFailure as exc:
                display.vvv(f"opsdeck.tmux.shared: reconnect failed: {exc}", host=self._play_context.remote_addr)

    # -- outside the pane: reads for the sudo gate ----------------------------

    def exec_outside(self, cmd: str) -> bytes:
        """Run a read-only command through the inner transport, NOT in the pane."""
        return self._load_inner().exec_command(cmd, sudoable=False)[1]

    def _outside(self, **kwargs: t.Any) -> list[str]:
        job = self._job("", None, [], [])
        for key, value in kwargs.items():
            setattr(job, key, value)
        try:
            job.validate()
        except TmuxNameError as exc:
            raise AnsibleError(f"opsdeck.tmux.shared: {exc}") from None
        rc, stdout, stderr = self._load_inner().exec_command(job.command_line(), sudoable=False)
        try:
            header, rest = split_output(stdout)
        except ProtocolError as exc:
            raise AnsibleConnectionFailure(f"the shared tmux wrapper did not answer (rc={rc}, first line {exc}): {to_text(stderr).strip()}") from None
        if header.status != "OK":
            self._fail(header, to_text(rest).strip())
        return to_text(rest).splitlines()

    def pane_position(self, pane: str) -> int:
        """Absolute line of the pane's cursor (history + screen row): later lines are new."""
        lines = self._outside(mode="position", panes=[pane])
        return int(lines[0].split()[1])

    def watch_pane(self, pane: str, marker: str, from_line: int, timeout: int) -> int | None:
        """Wait on the target for a line exactly `marker` at or below `from_line`; its line, or None on timeout."""
        lines = self._outside(mode="watch", panes=[pane], marker=marker, from_line=from_line, timeout=max(1, timeout))
        head = lines[0].split() if lines else ["TIMEOUT"]
        return int(head[1]) if head[0] == "FOUND" else None

    def _job(self, cmd: str, in_data: bytes | None, live: list[str], stale: list[str]) -> Job:
        no_log = bool(self._play_context.no_log)
        if no_log:
            view = classify("", "", None, raw_view=True)
            view.step = "\033[2m$ (command hidden: no_log)\033[0m"
        else:
            action, args = str(self._task_keys.get("action") or ""), self._task_keys.get("args")
            view = classify(cmd, action, args, self.get_option("pane_view") == "raw", in_data)
            view.step += self._controller_diff(view, action)
        self._view = view
        try:
            job = Job(
                cmd=cmd,
                run_id=self.get_option("run_id") or controller_run_id(self._playbook_pid),
                channel="od" + uuid.uuid4().hex,
                controller=socket.gethostname(),
                now=int(time.time()),
                window=self.get_option("window"),
                base=self.get_option("session"),
                windows=list(self.get_option("windows")),
                max_suffix=self.get_option("max_sessions"),
                executable=self.get_option("tmux_executable"),
                socket_name=self.get_option("socket_name") or None,
                socket_path=self.get_option("socket_path") or None,
                log_dir=self.get_option("log_dir") or "",
                timeout=self.get_option("command_timeout"),
                busy_wait=self.get_option("busy_timeout"),
                # a local inner transport cannot drop: no claim to collect by
                claim=getattr(self._load_inner(), "ansible_name", None) != "ansible.builtin.local",
                lease=self.get_option("lease"),
                has_in=in_data is not None,
                no_log=no_log,
                task=self._task_id,
                banner=self._banner(),
                step=view.step,
                live=live,
                stale=stale,
                shell=self._command_shell(),
                user=self._target_user(),
                view="raw" if self.get_option("pane_view") == "raw" else view.kind,
                py=view.interpreter,
                rmod=view.module,
                rkind=view.render_kind,
                # changed_when/failed_when are decided on the controller: the pane cannot know
                decided=("c" if self._task_keys.get("changed_when") else "") + ("f" if self._task_keys.get("failed_when") else ""),
                render=RENDER_SOURCE if view.kind == "module" else "",
            )
            job.validate()
        except (TmuxNameError, ValueError) as exc:
            raise AnsibleError(f"opsdeck.tmux.shared: {exc}") from None
        return job

    def _controller_diff(self, view: View, action: str) -> str:
        """With --diff, the lines copy/template would change, shown with the module that writes them."""
        if view.kind != "module" or view.module != "copy" or short_action(action) not in ("copy", "template"):
            return ""
        if not self._play_context.diff or self._put is None:
            return ""
        before, after = self._slurped or b"", self._put
        self._slurped = self._put = None
        if len(after) > DIFF_LIMIT or b"\0" in after or b"\0" in before:
            return "\n  (binary or large file: no diff shown)"
        dest = str((self._task_keys.get("args") or {}).get("dest") or "")
        change = {"before": before.decode("utf-8", "replace"), "after": after.decode("utf-8", "replace"), "before_header": dest, "after_header": dest}
        from ansible_collections.opsdeck.tmux.plugins.plugin_utils._render import diff_lines

        lines = diff_lines(change)
        return "".join("\n  " + line for line in lines)

    def _target_user(self) -> str:
        """Who runs the wrapper on the target, when known here (saves an `id` per command)."""
        inner = self._load_inner()
        if getattr(inner, "ansible_name", None) == "ansible.builtin.local":
            return getattr(inner, "default_user", "") or ""
        try:
            return str(inner.get_option("remote_user") or "")
        except KeyError:
            return ""

    def _command_shell(self) -> str:
        """The shell the inner transport runs a command with: local uses /bin/sh -c,
        remote transports hand the command to the user's login shell."""
        if getattr(self._load_inner(), "ansible_name", None) == "ansible.builtin.local":
            return (C.DEFAULT_EXECUTABLE or "/bin/sh").split()[0]
        return ""

    def _banner(self) -> str:
        action = self._task_keys.get("action") or "command"
        name = self._task_keys.get("name")
        what = f"TASK [{name}] ({action})" if name and name != action else f"TASK [{action}]"
        host = self._play_context.remote_addr or "?"
        who = ""
        if self.become is not None:
            try:
                who = f" as {self.become.get_option('become_user') or 'root'} (become)"
            except KeyError:
                who = " (become)"
        stamp = time.strftime("%H:%M:%S")
        banner = f"\u25b6 {stamp} {what} on {host}{who}"
        args = self._task_keys.get("args")
        shows_command = short_action(str(action)) in COMMAND_LIKE | LIVE_ACTIONS and self.get_option("pane_view") != "raw"
        if args and not self._play_context.no_log and not shows_command:
            # "what I'm about to do", in the task's own words
            if args.get("_raw_params"):
                summary = str(args["_raw_params"])
            else:
                summary = " ".join(f"{k}={v}" for k, v in args.items() if not str(k).startswith("_"))
            banner += "\n  \u2937 " + shorten(summary, 300)
        return banner

    def _fail(self, header: Header, message: str) -> None:
        where = "" if header.session == "-" else f" [{header.where}]"
        text = f"opsdeck.tmux.shared: {message}{where}"
        if header.status == "BUSY":
            text += ". Nothing was typed into it; finish or leave what is running there and retry."
        if header.status == "INTERRUPTED":
            raise AnsibleError(f"opsdeck.tmux.shared: {message}")
        if header.status in UNREACHABLE:
            raise AnsibleConnectionFailure(text)
        raise AnsibleError(text)

    def _password_required(self, header: Header) -> None:
        join = join_commands(header.session)
        raise AnsibleError(
            f"sudo needs a person's authorization in pane {header.pane} (window {header.window} of session "
            f"{header.session}): sudo tickets are per terminal, so it must be given in that pane. "
            f"Join with '{join['attach']}', select window {header.window} and run: sudo -v && echo SUDO_READY . "
            "Add an opsdeck.tmux.sudo_gate task before the become tasks to make the play wait for that."
        )

    # -- files: straight through the inner transport ------------------------

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        if self._play_context.diff and short_action(str(self._task_keys.get("action") or "")) in ("copy", "template"):
            # the file the module is about to write: the "after" of the diff (the action removes it later)
            try:
                with open(in_path, "rb") as f:
                    self._put = f.read(DIFF_LIMIT + 1)
            except OSError:
                self._put = None
        display.vvv(f"PUT {in_path} TO {out_path} (via {self._load_inner()._load_name})", host=self._play_context.remote_addr)
        self._load_inner().put_file(in_path, out_path)

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path} (via {self._load_inner()._load_name})", host=self._play_context.remote_addr)
        self._load_inner().fetch_file(in_path, out_path)

    def reset(self) -> None:
        if self.ssh_type_conn is not None:
            self.ssh_type_conn.reset()

    def close(self) -> None:
        if self.ssh_type_conn is not None:
            self.ssh_type_conn.close()
        self._connected = False
