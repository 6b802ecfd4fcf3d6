# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option docs shared by the connection, the modules and the sudo gate."""

from __future__ import annotations


class ModuleDocFragment:
    # Where the tmux server is: shared by every plugin of the collection.
    SERVER = r"""
options:
  tmux_executable:
    description:
      - The tmux client on the managed host.
    type: str
    default: tmux
  socket_name:
    description:
      - Name of the tmux server socket (C(tmux -L)). Empty means the user's default server,
        which is the one a person reaches with a plain C(tmux attach -t ops).
      - Ignored when O(socket_path) is set.
    type: str
  socket_path:
    description:
      - Full path of the tmux server socket (C(tmux -S)). Wins over O(socket_name).
    type: path
"""

    # Session acquisition and logging: the connection's ansible_tmux_* variables.
    CONNECTION = r"""
options:
  tmux_executable:
    description:
      - The tmux client on the managed host.
    type: str
    default: tmux
    vars:
      - name: ansible_tmux_executable
    env:
      - name: ANSIBLE_TMUX_EXECUTABLE
    ini:
      - section: opsdeck_tmux
        key: executable
  socket_name:
    description:
      - Name of the tmux server socket on the managed host (C(tmux -L)). Unset means the
        connecting user's default server, the one a person reaches with C(tmux attach -t ops).
      - Ignored when O(socket_path) is set.
    type: str
    vars:
      - name: ansible_tmux_socket_name
    env:
      - name: ANSIBLE_TMUX_SOCKET_NAME
    ini:
      - section: opsdeck_tmux
        key: socket_name
  socket_path:
    description:
      - Full path of the tmux server socket on the managed host (C(tmux -S)). Wins over O(socket_name).
    type: str
    vars:
      - name: ansible_tmux_socket_path
    env:
      - name: ANSIBLE_TMUX_SOCKET_PATH
    ini:
      - section: opsdeck_tmux
        key: socket_path
  session:
    description:
      - Base name of the shared session. The run reuses it when its pane is idle, and otherwise
        takes the first of V(<session>1), V(<session>2)... that does not exist or is idle.
      - 1-64 characters from C(A-Z a-z 0-9 _ -), not starting with C(-).
    type: str
    default: ops
    vars:
      - name: ansible_tmux_session
    env:
      - name: ANSIBLE_TMUX_SESSION
    ini:
      - section: opsdeck_tmux
        key: session
  window:
    description:
      - Window of the session the command runs in (created when missing). The seed's
        convention is V(sys) for packages, users and files, V(deploy) for builds and
        releases, V(logs) for following logs. Set it per task with C(vars).
    type: str
    default: sys
    vars:
      - name: ansible_tmux_window
    env:
      - name: ANSIBLE_TMUX_WINDOW
  windows:
    description:
      - Windows every acquired session gets, created when missing.
    type: list
    elements: str
    default: [sys, deploy, logs]
    vars:
      - name: ansible_tmux_windows
    ini:
      - section: opsdeck_tmux
        key: windows
  max_sessions:
    description:
      - Highest suffix tried when the base session is busy (V(ops1) .. V(ops<max_sessions>)).
    type: int
    default: 20
    vars:
      - name: ansible_tmux_max_sessions
  log_dir:
    description:
      - Directory on the managed host for the run's log, C(<log_dir>/agent-<session>-YYYYmmdd-HHMMSS.log)
        (mode 0600, one per session per playbook run). Set it to an empty string to log nothing.
    type: str
    default: /tmp
    vars:
      - name: ansible_tmux_log_dir
    env:
      - name: ANSIBLE_TMUX_LOG_DIR
    ini:
      - section: opsdeck_tmux
        key: log_dir
  command_timeout:
    description:
      - Seconds a command may run in the pane before the task fails. The command keeps running
        in the pane (where a person can see and stop it); the pane counts as busy until it ends.
    type: int
    default: 3600
    vars:
      - name: ansible_tmux_command_timeout
    env:
      - name: ANSIBLE_TMUX_COMMAND_TIMEOUT
    ini:
      - section: opsdeck_tmux
        key: command_timeout
  busy_timeout:
    description:
      - Seconds to wait for the run's own pane to come back to an idle prompt (a person typing
        or scrolling in it) before the task fails. Nothing is typed into a busy pane.
      - Also the one bounded wait for the first prompt of a shell the run has just started in a new
        session or window; a shell that shows no prompt by then fails the task with that reason.
    type: int
    default: 10
    vars:
      - name: ansible_tmux_busy_timeout
  lease:
    description:
      - Seconds after its last command that a session owned by a run from another controller
        still counts as taken. Runs from this controller are checked exactly (is the process alive).
    type: int
    default: 900
    vars:
      - name: ansible_tmux_lease
  run_id:
    description:
      - Identifies one playbook run; the run keeps the session it acquired for all its tasks.
        Derived from the controller's host name and the C(ansible-playbook) process by default.
      - Set it only to make separate runs share one session.
    type: str
    vars:
      - name: ansible_tmux_run_id
    env:
      - name: ANSIBLE_TMUX_RUN_ID
"""

    # attributes every module declares (support is set per module)
    ATTRIBUTES = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(diff_mode)), when in diff mode.
"""

    # the session and window a module works in
    SESSION = r"""
options:
  session:
    description:
      - Session name. With O(acquire=true) it is the base name of the seed's acquisition;
        the session is used when the pane to type into is idle, otherwise the first of
        V(<session>1), V(<session>2)... that does not exist or is idle.
      - 1-64 characters from C(A-Z a-z 0-9 _ -), not starting with C(-).
    type: str
    default: ops
  acquire:
    description:
      - Follow the acquisition algorithm (V(true)), or use exactly O(session) (V(false)),
        failing when its pane is busy.
    type: bool
    default: true
  windows:
    description:
      - Windows the session gets, created when missing.
    type: list
    elements: str
    default: [sys, deploy, logs]
"""
