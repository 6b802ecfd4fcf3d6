# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to the opsdeck.tmux collection: a module's result, readable, for the pane.

This file is not imported on the target: the connection sends its text with a
module's command, and the job runs it with the module's own interpreter AFTER it
has answered Ansible (off the critical path). It reads the module's raw stdout
and prints what a person wants to see: ok / changed / failed / skipped, msg, the
path or package touched, a capped diff, the output of command-like modules as
printed, and the rc line. Standard library only; Python 3.6 syntax, since the
managed host's Python may be older than the controller's.

Usage: python -I -S _render.py STDOUT_FILE STDERR_FILE RC MODULE KIND
(KIND: "command" for command-like modules whose stdout/stderr is shown, "quiet" for a helper
module an action runs (only its status, details when it fails), else "module"; with
"-c", "-f" or "-cf" when the task has changed_when / failed_when, which only the controller can
apply: the status then reads "done" where the pane cannot know it).
"""

import difflib
import json
import sys

RESET = "\033[0m"
DIM = "\033[2m"
RED = "\033[31m"
GREEN = "\033[32m"
YELLOW = "\033[33m"
CYAN = "\033[36m"
LIMIT = 40
# result keys that name what a module touched, in the order a person reads them
TOUCHED = ("dest", "path", "name", "pkg", "package", "service", "url", "state")
STATUS_COLOR = {"ok": GREEN, "changed": YELLOW, "failed": RED, "skipped": CYAN, "done": GREEN}


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def parse(text):
    """The module's JSON object: the first line that starts one and decodes (modules may print noise first)."""
    decoder = json.JSONDecoder()
    tries = 0
    pos = 0
    while tries < 5:
        start = text.find("{", pos)
        if start < 0:
            return None
        if start == 0 or text[start - 1] == "\n":
            tries += 1
            try:
                value = decoder.raw_decode(text, start)[0]
            except ValueError:
                value = None
            if isinstance(value, dict):
                return value
        pos = start + 1
    return None


def capped(lines, limit=LIMIT):
    if len(lines) > limit:
        return [*lines[:limit], DIM + f"\u2026 {len(lines) - limit} more lines" + RESET]
    return lines


def one_line(value, limit=200):
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def status_of(result, rc):
    if result.get("failed") or result.get("unreachable"):
        return "failed"
    if result.get("skipped"):
        return "skipped"
    if rc != 0:
        return "failed"
    if result.get("changed"):
        return "changed"
    return "ok"


def as_text(value):
    if isinstance(value, dict):
        return "".join(f"{k}: {value[k]}\n" for k in sorted(value))
    return "" if value is None else str(value)


def diff_lines(diff):
    lines = []
    for item in diff if isinstance(diff, list) else [diff]:
        if not isinstance(item, dict):
            continue
        if item.get("prepared"):
            lines.extend(str(item["prepared"]).splitlines())
            continue
        before, after = as_text(item.get("before")), as_text(item.get("after"))
        if before == after:
            continue
        for line in difflib.unified_diff(
            before.splitlines(True),
            after.splitlines(True),
            str(item.get("before_header") or "before"),
            str(item.get("after_header") or "after"),
        ):
            lines.append(line.rstrip("\n"))
    colored = []
    for line in lines:
        if line.startswith(("+++", "---")):
            colored.append(DIM + line + RESET)
        elif line.startswith("+"):
            colored.append(GREEN + line + RESET)
        elif line.startswith("-"):
            colored.append(RED + line + RESET)
        elif line.startswith("@@"):
            colored.append(CYAN + line + RESET)
        else:
            colored.append(line)
    return capped(colored)


def render(out, err, rc, module, kind):
    """The lines a person sees for one module run (without the banner, which the job printed)."""
    kind, dummy, decided = kind.partition("-")
    result = parse(out)
    if result is None:
        # not a module result (a crash, a missing interpreter): what it printed, then the rc
        body = [line for line in (out + err).splitlines() if line.strip()]
        tail = body[-20:]
        lines = ([DIM + f"\u2026 {len(body) - 20} earlier lines in the log" + RESET] if len(body) > 20 else []) + tail
        status = "ok" if rc == 0 else "failed"
        return [*lines, final(rc, status)]
    status = status_of(result, rc)
    if kind == "quiet" and status != "failed":
        # a helper module of an action: its status, not its details
        return [final(rc, status)]
    lines = []
    if kind == "command":
        lines.extend(capped(str(result.get("stdout") or "").splitlines()))
        lines.extend(RED + line + RESET for line in capped(str(result.get("stderr") or "").splitlines()))
        msg = result.get("msg")
        if msg and status == "failed" and msg != "non-zero return code":
            lines.append(RED + "msg: " + one_line(msg, 400) + RESET)
        code = result.get("rc", rc)
    else:
        facts = result.get("ansible_facts")
        if isinstance(facts, dict) and facts:
            what = "gathered" if module in ("setup", "gather_facts") else "set"
            lines.append(f"{what} {len(facts)} facts")
        for key in TOUCHED:
            value = result.get(key)
            if isinstance(value, list) and value and all(not isinstance(v, (dict, list)) for v in value):
                value = ", ".join(str(v) for v in value)
            if value not in (None, "", []) and not isinstance(value, (dict, list, bool)):
                lines.append(f"{key}: {one_line(value)}")
        msg = result.get("msg")
        if msg:
            lines.append((RED if status == "failed" else "") + "msg: " + one_line(msg, 400) + (RESET if status == "failed" else ""))
        if result.get("diff"):
            lines.extend(diff_lines(result["diff"]))
        code = rc
    for warning in result.get("warnings") or []:
        lines.append(YELLOW + "warning: " + one_line(warning, 300) + RESET)
    # changed_when / failed_when decide on the controller
    if ("f" in decided and status in ("ok", "changed", "failed")) or ("c" in decided and status in ("ok", "changed")):
        status = "done"
    return ["  " + line for line in lines] + [final(code, status)]


def final(rc, status):
    return DIM + f"\u2514 rc={rc}" + RESET + " \u00b7 " + STATUS_COLOR.get(status, "") + status + RESET


def main(argv):
    out_path, err_path, rc_text, module, kind = argv[1:6]
    rc = int(rc_text) if rc_text.isdigit() else 1
    lines = render(read(out_path), read(err_path), rc, module, kind)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
