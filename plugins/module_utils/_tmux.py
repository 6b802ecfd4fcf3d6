# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to the opsdeck.tmux collection: the tmux layer.

Names and their validation, tmux command lines (socket aware), ``-F`` format
parsing, and the parameters of the target-side script in ``_shlib``. Used by
the connection plugin on the controller and by the modules on the host, so it
imports nothing but the standard library.
"""

from __future__ import annotations

import hashlib
import re
import typing as t
from dataclasses import dataclass

from ansible_collections.opsdeck.tmux.plugins.module_utils._shlib import PROTOCOL, build_script, command_line

DEFAULT_BASE = "ops"
DEFAULT_WINDOWS = ("sys", "deploy", "logs")
DEFAULT_WINDOW = "sys"
# pane_current_command values that are interactive shells
SHELLS = ("sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "ash", "yash", "tcsh", "csh", "busybox")
# a cursor line that ends with one of these is an empty prompt
PROMPT_ENDINGS = ("$", "#", "%", ">", "\u276f", "\u00bb")

# Session and window names end up in tmux targets (`=ops:deploy`) and in file
# names: `:` and `.` separate target parts, a leading `-` is an option, `;`
# separates tmux commands, and quotes/spaces/`$` would need shell quoting.
# Always used with fullmatch: `$` would also match before a final newline.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
SOCKET_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
RUN_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,3}")
CHANNEL_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
PANE_RE = re.compile(r"%[0-9]{1,9}")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
INTERPRETER_RE = re.compile(r"/[A-Za-z0-9_./+-]{1,255}")
MODULE_RE = re.compile(r"[A-Za-z0-9_.]{1,100}")
MAX_SUFFIX = 99


class TmuxNameError(ValueError):
    """A session, window or socket name that tmux would misparse."""


def check_name(value: str, what: str = "session name") -> str:
    """Return ``value`` if it is a safe tmux name, else raise with the reason."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise TmuxNameError(
            f"invalid {what} {value!r}: use 1-64 characters from A-Z a-z 0-9 _ -, "
            "not starting with '-' (':' '.' ';' spaces and quotes are parsed by tmux or the shell)"
        )
    return value


def check_socket_name(value: str) -> str:
    if not isinstance(value, str) or not SOCKET_NAME_RE.fullmatch(value):
        raise TmuxNameError(f"invalid tmux socket name {value!r}: use A-Z a-z 0-9 _ . - (not starting with '-' or '.')")
    return value


def check_socket_path(value: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "'\"\\") or not value.isprintable():
        raise TmuxNameError(f"invalid tmux socket path {value!r}: it must be absolute, with no quotes or control characters")
    return value


def tmux_argv(executable: str = "tmux", socket_name: str | None = None, socket_path: str | None = None) -> list[str]:
    """The tmux client argv prefix for a server: `-S path` wins over `-L name`."""
    argv = [executable]
    if socket_path:
        argv += ["-S", check_socket_path(socket_path)]
    elif socket_name:
        argv += ["-L", check_socket_name(socket_name)]
    return argv


def parse_format(output: str, fields: t.Sequence[str], sep: str = "\t") -> list[dict[str, str]]:
    """Parse lines printed with ``-F`` built by :func:`format_string`."""
    rows = []
    for line in output.splitlines():
        if not line:
            continue
        values = line.split(sep, len(fields) - 1)
        values += [""] * (len(fields) - len(values))
        rows.append(dict(zip(fields, values, strict=True)))
    return rows


def format_string(fields: t.Sequence[str], sep: str = "\t") -> str:
    return sep.join("#{" + f + "}" for f in fields)


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, for banners."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "\u2026"


# the command as written: at most this many lines in the pane
SHOWN_LINES = 30
SHOWN_WIDTH = 400
BOLD = "\033[1m"
DIM = "\033[2m"
RESET = "\033[0m"


def as_written(text: str, prompt: str = "$ ") -> str:
    """A command for the pane as the task wrote it: its lines (not flattened), the first after
    `$ `, the rest indented; a long script is cut at SHOWN_LINES (the log has it whole)."""
    lines = text.rstrip("\n").split("\n")
    # each line at most SHOWN_WIDTH characters: the step travels octal-escaped in the wrapper
    shown = [line if len(line) <= SHOWN_WIDTH else line[: SHOWN_WIDTH - 1] + "\u2026" for line in lines[:SHOWN_LINES]]
    out = [BOLD + prompt + RESET + shown[0]] + ["  " + line for line in shown[1:]]
    if len(lines) > SHOWN_LINES:
        out.append(DIM + f"  \u2026 {len(lines) - SHOWN_LINES} more lines (the log has them all)" + RESET)
    return "\n".join(out)


def octal_escape(text: str) -> str:
    """Encode text for the job's `printf %b`.

    The banner and the command shown in the pane travel in the wrapper's argv;
    escaped, they cannot match a `pkill -f` or `pgrep -f` pattern of the task itself.
    """
    return "".join(f"\\0{b:03o}" for b in text.encode("utf-8", "surrogateescape"))


def join_commands(session: str) -> dict[str, str]:
    """What a person runs to watch a session, as the seed words it."""
    return {
        "attach": f"tmux attach -t {session}",
        "new_or_attach": f"tmux new-session -A -s {session}",
        "list": "tmux ls",
    }


@dataclass
class Header:
    """First line of the target script's output."""

    status: str
    session: str
    pane: str
    window: str
    log: str

    @property
    def where(self) -> str:
        return f"{self.session}:{self.window} (pane {self.pane})"


class ProtocolError(Exception):
    pass


def split_output(stdout: bytes) -> tuple[Header, bytes]:
    """Separate the header line from the command's own stdout (byte exact)."""
    head, sep, rest = stdout.partition(b"\n")
    parts = head.decode("utf-8", "replace").split(" ", 5)
    if not sep or len(parts) < 6 or parts[0] != PROTOCOL:
        raise ProtocolError(head[:200].decode("utf-8", "replace"))
    status, session, pane, window, log = parts[1:]
    return Header(status, session, pane, window, "" if log == "-" else log), rest


@dataclass
class Job:
    """Everything the target script needs for one command."""

    cmd: str
    run_id: str
    channel: str
    controller: str
    now: int
    window: str = DEFAULT_WINDOW
    base: str = DEFAULT_BASE
    windows: t.Sequence[str] = DEFAULT_WINDOWS
    max_suffix: int = 20
    executable: str = "tmux"
    socket_name: str | None = None
    socket_path: str | None = None
    log_dir: str = "/tmp"
    timeout: int = 3600
    busy_wait: int = 10
    lease: int = 900
    has_in: bool = False
    no_log: bool = False
    task: str = ""
    banner: str = ""
    step: str = ""
    chdir: str = ""
    # shell that runs the command; empty: the target user's login shell ($SHELL)
    shell: str = ""
    # exec: run and wait; background: type and return; acquire: session only; idle: report panes
    mode: str = "exec"
    # the connection marks the session with its run and keeps per-run records; modules do not
    mark: bool = True
    record: bool = True
    require_idle: bool = True
    # the connection claims each command on the target, so that sending the
    # same wrapper again after a dropped connection collects instead of re-running
    claim: bool = False
    # what the pane shows (see plugin_utils/_view): live, module, plumbing, or raw (the plain view)
    view: str = "live"
    # module view: the module's interpreter renders its result with this script
    py: str = ""
    rmod: str = ""
    rkind: str = "module"
    render: str = ""
    # the task has changed_when ("c") and/or failed_when ("f"): the controller decides those,
    # so the pane says "done" where it cannot know
    decided: str = ""
    dry_run: bool = False
    log_path: str = ""
    start_dir: str = ""
    panes: t.Sequence[str] = ()
    # the target user's name when the controller knows it (names the state directory)
    user: str = ""
    # watch mode: the line to wait for, below this absolute line of the pane
    marker: str = ""
    from_line: int = 0
    live: t.Sequence[str] = ()
    stale: t.Sequence[str] = ()

    def validate(self) -> None:
        check_name(self.base, "base session name")
        check_name(self.window, "window name")
        for w in self.windows:
            check_name(w, "window name")
        if self.socket_name:
            check_socket_name(self.socket_name)
        if self.socket_path:
            check_socket_path(self.socket_path)
        if not isinstance(self.run_id, str) or not RUN_ID_RE.fullmatch(self.run_id):
            raise TmuxNameError(f"invalid run id {self.run_id!r}")
        if not CHANNEL_RE.fullmatch(self.channel):
            raise TmuxNameError(f"invalid channel {self.channel!r}")
        if self.log_dir and (not self.log_dir.startswith("/") or not self.log_dir.isprintable()):
            raise TmuxNameError(f"invalid log directory {self.log_dir!r}: it must be an absolute path")
        for what, value in (("timeout", self.timeout), ("busy wait", self.busy_wait)):
            if int(value) < 1:
                raise TmuxNameError(f"{what} must be at least 1 second, not {value!r}")
        if self.mode not in ("exec", "background", "acquire", "idle", "watch", "position"):
            raise TmuxNameError(f"unknown mode {self.mode!r}")
        for pane in self.panes:
            if not PANE_RE.fullmatch(pane):
                raise TmuxNameError(f"invalid pane id {pane!r}: expected %<number>")
        if self.log_path and (not self.log_path.startswith("/") or not self.log_path.isprintable()):
            raise TmuxNameError(f"invalid log path {self.log_path!r}: it must be an absolute path")
        if self.view not in ("live", "module", "plumbing", "note", "raw") or self.rkind not in ("module", "command", "quiet"):
            raise TmuxNameError(f"unknown pane view {self.view!r}/{self.rkind!r}")
        if self.decided not in ("", "c", "f", "cf"):
            raise TmuxNameError(f"invalid decided flags {self.decided!r}")
        if self.py and not INTERPRETER_RE.fullmatch(self.py):
            raise TmuxNameError(f"invalid interpreter path {self.py!r}")
        if self.rmod and not MODULE_RE.fullmatch(self.rmod):
            raise TmuxNameError(f"invalid module name {self.rmod!r}")
        if not 0 <= int(self.max_suffix) <= MAX_SUFFIX:
            raise TmuxNameError(f"max suffix must be 0..{MAX_SUFFIX}")

    @property
    def server_key(self) -> str:
        """Names the tmux server in the target's state files (records are per server).

        A -L name (or the default server) keeps its name, "." written "+", so the target can
        tell from the key whether that server's socket still exists; a socket path becomes a
        key that starts with "_"."""
        if self.socket_path:
            return re.sub(r"[^A-Za-z0-9_-]", "_", self.socket_path)[-80:]
        return (self.socket_name or "default").replace(".", "+")

    def params(self) -> dict[str, object]:
        return {
            "OD_SERVER": self.server_key,
            "OD_TMUX": self.executable,
            "OD_SOCKET_NAME": self.socket_name or "",
            "OD_SOCKET_PATH": self.socket_path or "",
            "OD_BASE": self.base,
            "OD_WINDOW": self.window,
            "OD_WINDOWS": " ".join(self.windows),
            "OD_MAX": int(self.max_suffix),
            "OD_RUN": self.run_id,
            "OD_HOST": self.run_id.split(".", 1)[0],
            "OD_LIVE": " ".join(self.live),
            "OD_STALE": " ".join(self.stale),
            "OD_NOW": int(self.now),
            "OD_LEASE": int(self.lease),
            "OD_CH": self.channel,
            "OD_TASK": self.task,
            "OD_LOGDIR": self.log_dir,
            "OD_TIMEOUT": int(self.timeout),
            "OD_BUSY_WAIT": int(self.busy_wait),
            "OD_CLAIM": 1 if self.claim else 0,
            "OD_VIEW": self.view,
            "OD_PY": self.py,
            "OD_RMOD": self.rmod,
            "OD_RKIND": self.rkind + ("-" + self.decided if self.decided else ""),
            "OD_RENDER": self.render if self.view == "module" else "",
            "OD_RHASH": hashlib.sha256(self.render.encode()).hexdigest()[:16] if self.view == "module" and self.render else "",
            "OD_NOLOG": 1 if self.no_log else 0,
            "OD_HAS_IN": 1 if self.has_in else 0,
            "OD_BANNER": octal_escape(self.banner),
            "OD_STEP": octal_escape(self.step),
            "OD_CHDIR": self.chdir,
            "OD_EXEC": self.shell,
            "OD_PROMPTS": " ".join(PROMPT_ENDINGS),
            "OD_SHELLS": " ".join(SHELLS),
            "OD_CMD": self.cmd,
            "OD_MODE": self.mode,
            "OD_MARK": 1 if self.mark else 0,
            "OD_RECORD": 1 if self.record else 0,
            "OD_REQUIRE_IDLE": 1 if self.require_idle else 0,
            "OD_DRY": 1 if self.dry_run else 0,
            "OD_LOG_PATH": self.log_path,
            "OD_START_DIR": self.start_dir,
            "OD_PANES": " ".join(self.panes),
            "OD_USER": self.user if USER_RE.fullmatch(self.user or "") else "",
            "OD_MARKER": self.marker,
            "OD_FROM": int(self.from_line),
        }

    def command_line(self) -> str:
        self.validate()
        return command_line(self.params())

    def script(self) -> str:
        self.validate()
        return build_script(self.params())
