#!/usr/bin/python
# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: command
short_description: Run a command visibly in a window of the shared tmux session
description:
  - Types ONE short line into an idle pane of the shared session (V(ops), or V(ops1)... when busy),
    which runs a job script that prints what it is about to do, runs the command with its output shown in the
    pane and appended to the log C(/tmp/agent-<session>-YYYYmmdd-HHMMSS.log), and signals a
    C(tmux wait-for) channel. The module returns the command's exact rc, stdout and stderr.
  - For playbooks that reach hosts over any connection (plain ssh too) and want to drive the shared
    session explicitly. With the connection plugin M(opsdeck.tmux.shared) every task already runs
    in the session.
  - Never types into a busy pane.
version_added: 0.1.0
author: opsdeck.tmux contributors (@opsdeck)
extends_documentation_fragment:
  - opsdeck.tmux.shared.server
  - opsdeck.tmux.shared.session
  - opsdeck.tmux.shared.attributes
attributes:
  check_mode:
    support: partial
    details: In check mode the command is not run; O(creates) and O(removes) still decide whether it would be.
  diff_mode:
    support: none
options:
  cmd:
    description:
      - The command, run by C(/bin/sh -c). Mutually exclusive with O(argv).
    type: str
  argv:
    description:
      - The command as a list of arguments, quoted for the shell by the module.
    type: list
    elements: str
  window:
    description:
      - Window to run in; one of O(windows).
    type: str
    default: sys
  chdir:
    description:
      - Change into this directory before running the command.
    type: path
  creates:
    description:
      - A path; when it exists, the command is not run.
    type: path
  removes:
    description:
      - A path; when it does not exist, the command is not run.
    type: path
  timeout:
    description:
      - Seconds to wait for the command; it keeps running in the pane after that.
    type: int
    default: 3600
  busy_timeout:
    description:
      - Seconds to wait for a pane of a fixed session (O(acquire=false)) to become idle.
    type: int
    default: 10
  log_path:
    description:
      - Append to this log file (mode 0600) instead of a new C(<log_dir>/agent-<session>-YYYYmmdd-HHMMSS.log),
        so that several tasks of one play share one log as the seed asks.
    type: path
  log_dir:
    description:
      - Directory of the log file when O(log_path) is not given.
    type: path
    default: /tmp
  background:
    description:
      - Start a long-running command (C(journalctl -f), C(docker logs -f)) and return at once with the pane
        it runs in; its output goes to the pane and the log. The pane stays busy while it runs.
    type: bool
    default: false
notes:
  - The command's output is shown in the pane as it is printed and kept in the log file. Use C(no_log)
    on the task for commands whose output must stay secret; it then goes to neither.
seealso:
  - module: opsdeck.tmux.session
  - module: opsdeck.tmux.capture
"""

EXAMPLES = r"""
- name: Upgrade packages where a person can watch (window sys)
  opsdeck.tmux.command:
    cmd: apt-get -y upgrade
    log_path: /tmp/agent-ops-upgrade.log

- name: Build a release (window deploy), once
  opsdeck.tmux.command:
    argv: [make, release]
    chdir: /srv/app
    creates: /srv/app/dist/release.tar.gz
    window: deploy

- name: Follow the service's log in the logs window
  opsdeck.tmux.command:
    cmd: journalctl -u nginx -f
    window: logs
    background: true
"""

RETURN = r"""
rc:
  description: Exit code of the command.
  returned: when the command ran in the foreground
  type: int
  sample: 0
stdout:
  description: Standard output, exactly as the command printed it.
  returned: when the command ran in the foreground
  type: str
stderr:
  description: Standard error, exactly as the command printed it.
  returned: when the command ran in the foreground
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: when the command ran in the foreground
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: when the command ran in the foreground
  type: list
  elements: str
cmd:
  description: The command line that ran.
  returned: always
  type: str
session:
  description: Session the command ran in.
  returned: when the command ran
  type: str
  sample: ops
window:
  description: Window the command ran in.
  returned: always
  type: str
pane:
  description: Pane the command ran in.
  returned: when the command ran
  type: str
  sample: "%3"
log:
  description: Log file the output was appended to.
  returned: when the command ran
  type: str
  sample: /tmp/agent-ops-20260218-213045.log
delta:
  description: How long the command took.
  returned: when the command ran in the foreground
  type: str
"""

import datetime
import os
import shlex

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsdeck.tmux.plugins.module_utils._module import SERVER_ARGS, TmuxModule
from ansible_collections.opsdeck.tmux.plugins.module_utils._tmux import MAX_SUFFIX, as_written


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            cmd=dict(type="str"),
            argv=dict(type="list", elements="str"),
            session=dict(type="str", default="ops"),
            acquire=dict(type="bool", default=True),
            windows=dict(type="list", elements="str", default=["sys", "deploy", "logs"]),
            window=dict(type="str", default="sys"),
            chdir=dict(type="path"),
            creates=dict(type="path"),
            removes=dict(type="path"),
            timeout=dict(type="int", default=3600),
            busy_timeout=dict(type="int", default=10),
            log_path=dict(type="path"),
            log_dir=dict(type="path", default="/tmp"),
            background=dict(type="bool", default=False),
            **SERVER_ARGS,
        ),
        mutually_exclusive=[("cmd", "argv")],
        required_one_of=[("cmd", "argv")],
        supports_check_mode=True,
    )
    p = module.params
    tm = TmuxModule(module)
    tm.check_names(("session name", p["session"]), ("window name", p["window"]), *(("window name", w) for w in p["windows"]))
    if p["window"] not in p["windows"]:
        module.fail_json(msg=f"unknown window {p['window']!r}: use one of {', '.join(p['windows'])} (option windows)")
    if p["timeout"] < 1 or p["busy_timeout"] < 1:
        module.fail_json(msg="timeout and busy_timeout must be at least 1 second")
    cmd = p["cmd"] if p["cmd"] is not None else " ".join(shlex.quote(a) for a in p["argv"])
    if not cmd.strip():
        module.fail_json(msg="the command is empty")
    result = dict(cmd=cmd, window=p["window"], changed=False)

    if p["creates"] and os.path.exists(p["creates"]):
        module.exit_json(msg=f"skipped, since {p['creates']} exists", rc=0, stdout="", stderr="", **result)
    if p["removes"] and not os.path.exists(p["removes"]):
        module.exit_json(msg=f"skipped, since {p['removes']} does not exist", rc=0, stdout="", stderr="", **result)
    if p["chdir"] and not os.path.isdir(p["chdir"]):
        module.fail_json(msg=f"chdir {p['chdir']} is not a directory", **result)
    if module.check_mode:
        result["changed"] = True
        module.exit_json(msg="the command would run (check mode)", skipped=True, **result)

    job = tm.job(
        cmd=cmd,
        mode="background" if p["background"] else "exec",
        base=p["session"],
        window=p["window"],
        windows=p["windows"],
        max_suffix=MAX_SUFFIX if p["acquire"] else 0,
        timeout=p["timeout"],
        busy_wait=p["busy_timeout"],
        log_dir=p["log_dir"] or "",
        log_path=p["log_path"] or "",
        chdir=p["chdir"] or os.getcwd(),
        task="command-" + os.urandom(6).hex(),
        no_log=module.no_log,
        banner=f"\u25b6 {datetime.datetime.now():%H:%M:%S} opsdeck.tmux.command in window {p['window']}",
        step="\033[2m$ (command hidden: no_log)\033[0m" if module.no_log else as_written(cmd),
    )
    start = datetime.datetime.now()
    rc, header, out, err = tm.run(job)
    result.update(changed=True, session=header.session, pane=header.pane, log=header.log)
    if p["background"]:
        module.exit_json(msg=f"started in pane {header.pane}", **result)
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace")
    result.update(rc=rc, stdout=stdout, stderr=stderr, stdout_lines=stdout.splitlines(), stderr_lines=stderr.splitlines())
    result["delta"] = str(datetime.datetime.now() - start)
    if rc != 0:
        module.fail_json(msg="non-zero return code", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
