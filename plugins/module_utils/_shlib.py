# Copyright (c) opsdeck.tmux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to the opsdeck.tmux collection: the POSIX shell that runs on the target.

Everything that touches tmux on the managed host goes through this one script:
the connection plugin sends it through its inner transport (one round trip per
command), and the modules run it with ``sh -c`` on the host. It acquires the
shared session (``ops`` -> ``ops1``...), decides whether a pane is idle, types
ONE short line into the pane (run job script N), and waits for the job on a
unique ``tmux wait-for`` channel, bounded by a watchdog.

Protocol: the first line on stdout is ``OPSDECK1 <status> <session> <pane>
<window> <log>``; for status ``OK`` the command's stdout follows byte for byte,
its stderr is on stderr and the exit code is the command's. Any other status
is an error whose message is on stderr and the exit code is 0.
"""

from __future__ import annotations

import shlex
import typing as t

PROTOCOL = "OPSDECK1"

# The job script: run by the pane's own shell (`/bin/sh <dir>/j.<server>.<pane>.job`),
# so it runs on the pane's tty (sudo tickets are per tty) and is visible there.
JOB = r"""
umask 077
# shellcheck source=/dev/null
. "${0%.job}.env" || exit 125
j=$OD_J ch=$OD_CH log=$OD_LOG nolog=$OD_NOLOG task=$OD_TASK pane=$OD_PANE claim=$OD_CLAIMF
banner=$OD_BANNER step=$OD_STEP cwd=$OD_CWD hasin=$OD_HAS_IN cmd=$OD_CMD exe=$OD_EXEC bg=$OD_MODE
view=$OD_VIEW py=$OD_PY render=$OD_RENDERF rmod=$OD_RMOD rkind=$OD_RKIND erase=$OD_ERASE
tm=$OD_TMUX sn=$OD_SOCKET_NAME sp=$OD_SOCKET_PATH
unset OD_J OD_CH OD_LOG OD_NOLOG OD_TASK OD_PANE OD_BANNER OD_STEP OD_CWD OD_HAS_IN OD_CMD OD_EXEC OD_MODE OD_CLAIMF
unset OD_VIEW OD_PY OD_RENDERF OD_RMOD OD_RKIND OD_ERASE
# the readable view takes the typed line back (one row: the wrapper checked it fits)
[ "$erase" = 1 ] && printf '\033[1A\r\033[2K'
unset OD_TMUX OD_SOCKET_NAME OD_SOCKET_PATH TMUX TMUX_PANE
# the job has started: a timeout can now honestly say "still running"
printf '%s\n' "$ch" >"$j.st"
od_t() {
  if [ -n "$sp" ]; then "$tm" -S "$sp" "$@"
  elif [ -n "$sn" ]; then "$tm" -L "$sn" "$@"
  else "$tm" "$@"; fi
}
# The end: mark it, wake the waiter, and a collector that asked (a wrapper
# re-sent after the connection dropped), then release the command's claim.
od_end() {
  printf '%s\n' "$ch" >"$j.end"
  od_t wait-for -S "$ch"
  [ -s "$j.collect" ] && od_t wait-for -S "$ch-c"
  # in the background: the pane's prompt (and the next command) need not wait for it
  [ -n "$claim" ] && rm -f "$claim" &
}
od_fin() { [ -s "$j.rc" ] || echo "$1" >"$j.rc"; od_end; exit "$1"; }
# the pane died (HUP) or someone killed the job: still answer the waiter
trap 'echo gone >"$j.why"; od_fin 129' HUP
trap 'od_fin 143' TERM
# Ctrl-C in the pane interrupts the command (default action in children), not
# the job: it records that a person interrupted it, then rc, and signals.
trap 'printf int >"$j.int"' INT
last=
[ -f "$j.t" ] && IFS= read -r last <"$j.t"
if [ "$last" != "$task" ]; then
  printf '%s\n' "$task" >"$j.t"
  printf '\033[1;36m%b\033[0m\n' "$banner"
  [ -n "$log" ] && printf '%b\n' "$banner" >>"$log"
fi
# the pane shows the step as the controller styled it (the command as written,
# or one dim line); the log, the faithful record, gets the command exactly as run
printf '%b\n' "$step"
if [ -n "$log" ]; then
  if [ "$nolog" = 1 ]; then printf '$ (command hidden: no_log)\n' >>"$log"; else printf '$ %s\n' "$cmd" >>"$log"; fi
fi
# stdin is a pipe, as with the plain transports (python reads a script from a
# pipe much faster than from a regular file, and commands see what they would)
od_run() {
  if [ "$hasin" = 1 ]; then cat "$j.in" | "$exe" -c "$cmd"; else "$exe" -c "$cmd" </dev/null; fi
}
# tell the command where it runs (a task can print the attach command or read its log)
OPSDECK_SESSION=$OD_SESSION OPSDECK_PANE=$pane OPSDECK_LOG=$log
export OPSDECK_SESSION OPSDECK_PANE OPSDECK_LOG
unset OD_SESSION
cd "$cwd" 2>/dev/null || :
if [ "$bg" = background ]; then
  # nobody waits for a background job: its output goes to the pane and the log only
  [ -n "$log" ] || log=/dev/null
  od_run 2>&1 | tee -ai "$log"
  exit 0
elif [ "$nolog" = 1 ]; then
  od_run >"$j.out" 2>"$j.err"
  echo $? >"$j.rc"
  : >"$j.in"
  printf '  output hidden (no_log)\n'
  [ -n "$log" ] && printf '  output hidden (no_log)\n' >>"$log"
elif [ "$view" = live ] || [ "$view" = raw ]; then
  # what the program prints appears in the pane at once, and in the log
  [ -n "$log" ] || log=/dev/null
  { { trap ':' INT; od_run 4>&-; echo $? >"$j.rc"; } 2>&1 1>&4 4>&- |
      tee -ai "$log" "$j.err" >&2 4>&-; } 4>&1 | tee -ai "$log" "$j.out"
  if [ -s "$j.out" ] && [ -n "$(tail -c 1 "$j.out")" ]; then
    printf '\n'; [ "$log" = /dev/null ] || printf '\n' >>"$log"
  fi
  [ "$log" = /dev/null ] && log=
  : >"$j.in"
else
  # a module run or Ansible's plumbing: Ansible gets its answer first; the log
  # gets the raw output and the pane a readable result after that
  od_run >"$j.out" 2>"$j.err"
  echo $? >"$j.rc"
  : >"$j.in"
  IFS= read -r rc <"$j.rc"
  od_end
  [ -n "$log" ] && cat "$j.out" "$j.err" >>"$log" && printf '\342\224\224 rc=%s\n' "$rc" >>"$log"
  if [ "$view" = module ] && [ -s "$j.int" ]; then
    printf '\033[2m\342\224\224 rc=%s (interrupted with Ctrl-C)\033[0m\n' "$rc"
  elif [ "$view" = module ] && [ -n "$py" ] && [ -f "$render" ] &&
    "$py" -I -S "$render" "$j.out" "$j.err" "$rc" "$rmod" "$rkind" 2>/dev/null; then
    :
  elif [ "$view" = note ]; then
    :
  elif [ "$rc" != 0 ]; then
    # plumbing that failed (or a module result that could not be rendered): say so
    tail -n 5 "$j.err" 2>/dev/null | sed 's/^/  /'
    printf '\033[2m\342\224\224 rc=%s\033[0m \302\267 \033[31mfailed\033[0m\n' "$rc"
  elif [ "$view" = module ]; then
    printf '\033[2m\342\224\224 rc=%s\033[0m\n' "$rc"
  fi
  exit 0
fi
IFS= read -r rc <"$j.rc"
if [ -s "$j.int" ]; then
  printf '\033[2m\342\224\224 rc=%s (interrupted with Ctrl-C)\033[0m\n' "$rc"
elif [ "$nolog" = 1 ] || [ "$view" = raw ]; then
  printf '\033[2m\342\224\224 rc=%s\033[0m\n' "$rc"
elif [ "${rkind%f}" != "$rkind" ] || { [ "${rkind%-c}" != "$rkind" ] && [ "$rc" = 0 ]; }; then
  # changed_when / failed_when decide on the controller
  printf '\033[2m\342\224\224 rc=%s\033[0m \302\267 \033[32mdone\033[0m\n' "$rc"
elif [ "$rc" = 0 ]; then
  printf '\033[2m\342\224\224 rc=%s\033[0m \302\267 \033[32mok\033[0m\n' "$rc"
else
  printf '\033[2m\342\224\224 rc=%s\033[0m \302\267 \033[31mfailed\033[0m\n' "$rc"
fi
[ -n "$log" ] && printf '\342\224\224 rc=%s\n' "$rc" >>"$log"
od_end
"""

# The wrapper: runs as the connecting user, outside the pane.
LIB = r"""
set -f
unset TMUX TMUX_PANE
umask 077
nl='
'
tab='	'
sep='|'
od_sess=- od_pane=- od_log=- od_win=$OD_WINDOW od_claim='' od_cstate=''
# lock descriptors 8 and 9 must not leak into a tmux server started from here
od_t() {
  if [ -n "$OD_SOCKET_PATH" ]; then "$OD_TMUX" -u -S "$OD_SOCKET_PATH" "$@" 8>&- 9>&-
  elif [ -n "$OD_SOCKET_NAME" ]; then "$OD_TMUX" -u -L "$OD_SOCKET_NAME" "$@" 8>&- 9>&-
  else "$OD_TMUX" -u "$@" 8>&- 9>&-; fi
}
od_done() {
  # nothing was typed for this command: give its claim back, so a re-sent
  # attempt runs it (a typed job releases its claim itself when it ends)
  [ "$od_cstate" = pending ] && rm -f "$od_claim"
  printf '%s %s %s %s %s %s\n' "$OD_PROTO" "$1" "$od_sess" "$od_pane" "$od_win" "$od_log"
  shift
  [ $# -gt 0 ] && printf '%s\n' "$*"
  exit 0
}
od_try_state() {
  S=$1/opsdeck-$2
  # the path is typed into panes and given to tmux: plain characters only
  case $S in *[!A-Za-z0-9_./-]*) return 1 ;; esac
  [ -d "$S" ] || mkdir -m 700 "$S" 2>/dev/null
  [ -d "$S" ] && [ ! -L "$S" ] && [ -O "$S" ]
}
# $USER (or the controller's hint OD_USER) saves a fork on every command; the
# ownership test decides, and the uid is the fallback when the name is wrong
od_statedir() {
  u=${USER:-${LOGNAME:-$OD_USER}}
  od_tmp=${TMPDIR:-/tmp}
  [ -n "$u" ] && od_try_state "$od_tmp" "$u" && return 0
  od_try_state "$od_tmp" "$(id -u)" && return 0
  od_try_state /tmp "$(id -u)" && return 0
  od_done NOSTATE "cannot use a private state directory $S (it must be a directory owned by $(id -un), not a link)"
}
# od_len TEXT: its length in characters, in od_l (a fork only for non-ASCII text)
od_len() {
  od_l=${#1}
  case $1 in
    *[!\ -~]*)
      od_l=$(printf '%s' "$1" | LC_ALL=C.UTF-8 wc -m)
      od_l=${od_l#"${od_l%%[! ]*}"}
      ;;
  esac
}
# od_probe PANE: pane facts, the cursor line and the row above it, in ONE tmux call
od_probe() {
  od_f="#{pane_pid}|#{pane_in_mode}|#{pane_dead}|#{cursor_x}|#{cursor_y}|#{history_size}|#{pane_width}"
  od_f="$od_f|#{@opsdeck_run}|#{session_name}|#{pane_current_command}|#{@opsdeck_prompt}"
  od_raw=$(od_t display-message -p -t "$1" "$od_f" \; capture-pane -p -N -S -1 -t "$1" 2>/dev/null) || return 1
  [ -n "$od_raw" ] || return 1
  od_head=${od_raw%%"$nl"*}
  IFS=$sep read -r od_pid od_mode od_dead od_cx od_cy od_hs od_pw od_prun od_psess od_cmd od_x <<EOF
$od_head
EOF
  # the prompt recorded when this pane was last known idle: "<cursor x>|<line>"
  od_pp=$od_head od_i=0
  while [ "$od_i" -lt 10 ]; do od_pp=${od_pp#*"$sep"}; od_i=$((od_i + 1)); done
  [ "$od_pp" = "$od_head" ] && od_pp=
  od_rest=${od_raw#*"$nl"}
  [ "$od_rest" = "$od_raw" ] && od_rest=
  # capture-pane -S -1 starts one history line up when there is history
  od_n=$od_cy
  [ "$od_hs" -gt 0 ] && od_n=$((od_n + 1))
  od_prev='' od_i=0
  while [ "$od_i" -lt "$od_n" ]; do
    od_prev=${od_rest%%"$nl"*}
    case $od_rest in *"$nl"*) od_rest=${od_rest#*"$nl"} ;; *) od_rest= ;; esac
    od_i=$((od_i + 1))
  done
  od_line=${od_rest%%"$nl"*}
  # without the blanks after the text (erased characters leave blank cells)
  od_lt=${od_line%"${od_line##*[! ]}"}
  return 0
}
# od_shape: is the cursor line a prompt with nothing typed after it?
# Conservative, for a pane whose prompt opsdeck has not recorded: text, then ONE
# prompt character, the cursor one space after it and nothing beyond. `echo $ `,
# `echo #`, `ls >` and a bare continuation prompt `> ` are not prompts.
od_shape() {
  od_prompt_char || return 1
  # a second "<prompt character> " before it: a person typed after the prompt
  for od_pr in $OD_PROMPTS; do
    case $od_before in *"$od_pr "*) return 1 ;; esac
  done
  od_at_end 1
}
# od_fresh_shape: the first prompt of a shell this call started (nobody else
# has typed there): a line ending in a prompt character, the cursor after it
od_fresh_shape() {
  od_prompt_char || return 1
  od_at_end 1 || od_at_end 0
}
od_prompt_char() {
  od_pc=''
  for od_pr in $OD_PROMPTS; do
    case $od_lt in *"$od_pr") od_pc=$od_pr ;; esac
  done
  [ -n "$od_pc" ] || return 1
  od_before=${od_lt%"$od_pc"}
  case $od_before in *[!\ ]*) return 0 ;; esac
  return 1
}
# od_at_end N: the cursor is N cells after the line's last character
od_at_end() {
  # the row above filled to the edge: this row may continue a wrapped line
  if [ "${#od_prev}" -ge "$od_pw" ]; then
    od_len "$od_prev"
    [ "$od_l" -ge "$od_pw" ] && return 1
  fi
  od_len "$od_lt"
  [ $((od_l + $1)) = "$od_cx" ]
}
# od_idle PANE: 0 idle, 1 busy (reason in od_why), 2 gone. When unsure: busy.
od_idle() {
  od_q=$1
  od_probe "$od_q" || { od_why="pane $od_q no longer exists"; return 2; }
  [ "$od_dead" = 1 ] && { od_why="the program in pane $od_q has exited"; return 1; }
  [ "$od_mode" = 1 ] && { od_why="pane $od_q is in copy mode (someone is scrolling)"; return 1; }
  c=${od_cmd#-}
  c=${c##*/}
  case " $OD_SHELLS " in
    *" $c "*) ;;
    *) od_why="pane $od_q is running '$od_cmd'"; return 1 ;;
  esac
  if [ -r "/proc/$od_pid/stat" ]; then
    IFS= read -r st <"/proc/$od_pid/stat"
    set -- ${st##*) }
    [ "${6:-}" = "$od_pid" ] || { od_why="pane $od_q has a foreground job running (process group ${6:-?}, '$od_cmd')"; return 1; }
  fi
  # the prompt line as it was when this pane was last known idle
  [ "$od_cx|$od_lt" = "$od_pp" ] && return 0
  od_shape && return 0
  [ "${od_fresh_ok:-}" = 1 ] && od_fresh_shape && return 0
  od_why="pane $od_q is not at an empty shell prompt (cursor line: '$od_lt', cursor at column $od_cx)"
  return 1
}
# od_wait_idle PANE SECONDS: settle wait (a shell redrawing its prompt, a
# person finishing a line); returns at once when idle or gone. No event says
# when a shell has drawn its prompt: look again after 10 ms for the first tenth
# of a second (the previous job's shell is usually just drawing it), then every 50 ms.
od_wait_idle() {
  od_k=0
  od_lim=$(($2 * 20 + 8))
  while :; do
    od_idle "$1"
    r=$?
    [ $r -ne 1 ] && return $r
    [ "$od_k" -ge "$od_lim" ] && return 1
    if [ "$od_k" -lt 10 ]; then sleep 0.01; else sleep 0.05; fi
    od_k=$((od_k + 1))
  done
}
# od_type: type the job line into od_pane only if the pane is exactly as the
# last probe saw it (cursor, history, mode, shell): tmux decides that and types
# in ONE server-side step, so a key a person presses in between is never
# followed by ours. Records the prompt for the next idle test. 0 typed, 1 not.
od_type() {
  od_cond="#{&&:#{==:#{cursor_x},$od_cx},#{&&:#{==:#{cursor_y},$od_cy},#{&&:#{==:#{history_size},$od_hs},#{&&:#{==:#{pane_in_mode},0},#{==:#{pane_current_command},$od_cmd}}}}}"
  # (the answer goes through a file: a command substitution would fork a subshell)
  od_t if-shell -F -t "$od_pane" "$od_cond" \
    "send-keys -t $od_pane -l ' /bin/sh $J.job' ; send-keys -t $od_pane Enter ; set-option -p -t $od_pane @opsdeck_typed $OD_CH" \; \
    display-message -p -t "$od_pane" '#{@opsdeck_typed}' \; \
    set-option -p -t "$od_pane" @opsdeck_prompt "$od_cx|$od_lt" \; \
    set-option -t "=$od_sess:" @opsdeck_seen "$OD_NOW" >"$J.typed" 2>/dev/null || return 1
  IFS= read -r od_typed <"$J.typed" || return 1
  [ "$od_typed" = "$OD_CH" ]
}
od_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  flock -w "$2" "$1"
}
# od_pane_of WINDOW: active pane id of WINDOW in $od_wl
od_pane_of() {
  od_p=
  oifs=$IFS
  IFS=$nl
  for ln in $od_wl; do
    IFS=$oifs
    [ "${ln#*"$sep"}" = "$1" ] && { od_p=${ln%%"$sep"*}; return 0; }
  done
  IFS=$oifs
  return 1
}
# od_windows SESSION: create the missing windows of OD_WINDOWS and OD_WINDOW in ONE call
od_windows() {
  set --
  for w in $OD_WINDOWS $OD_WINDOW; do
    case "$nl$od_wl$nl" in *"$sep$w$nl"*) continue ;; esac
    case " $* " in *" -n $w "*) continue ;; esac
    [ $# -gt 0 ] && set -- "$@" \;
    set -- "$@" new-window -d -t "=$od_s:" -n "$w" -c "$od_home" -P -F "#{pane_id}|#{window_name}"
  done
  [ $# -eq 0 ] && return 0
  od_changed=1
  case " $* " in *" -n $OD_WINDOW "*) od_fresh=1 ;; esac
  if [ "$OD_DRY" = 1 ]; then
    # check mode: say what would be created, create nothing
    for w in $OD_WINDOWS $OD_WINDOW; do od_wl="$od_wl$nl%new|$w"; done
    return 0
  fi
  od_new=$(od_t "$@") || return 1
  od_wl="$od_wl$nl$od_new"
}
od_new_session() {
  od_first=
  for w in $OD_WINDOWS $OD_WINDOW; do od_first=$w; break; done
  od_changed=1 od_fresh=1 od_created=1
  if [ "$OD_DRY" = 1 ]; then
    od_wl="%new|$od_first"
    return 0
  fi
  od_wl=$(od_t new-session -d -s "$od_s" -n "$od_first" -x 200 -y 50 -c "$od_home" -P -F "#{pane_id}|#{window_name}") || return 1
}
# od_pick: take session $od_s for window OD_WINDOW if it can be used
od_pick() {
  if [ "$OD_REQUIRE_IDLE" = 1 ] && [ "$od_created" != 1 ] && od_pane_of "$OD_WINDOW"; then
    if [ "$od_owner" = "$OD_RUN" ]; then
      od_wait_idle "$od_p" "$OD_BUSY_WAIT" || return 1
    else
      od_idle "$od_p" || return 1
    fi
  fi
  od_windows || return 1
  od_pane_of "$OD_WINDOW" || return 1
  od_sess=$od_s od_pane=$od_p
  [ "$OD_DRY" = 1 ] && return 0
  if [ "$od_fresh" = 1 ]; then
    # A shell this call started: wait (once, bounded) for its first prompt,
    # never flee to the next session; keys typed before it would be lost.
    od_fresh_ok=1
    od_wait_idle "$od_p" "$OD_BUSY_WAIT"
    r=$?
    od_fresh_ok=
    [ $r -eq 0 ] || od_done BUSY "the new shell in pane $od_p (session $od_s) did not show a prompt within $OD_BUSY_WAIT s" \
      "(ansible_tmux_busy_timeout / busy_timeout); last seen: $od_why"
    # remember its prompt: the next call knows this pane is idle at once
    od_t set-option -p -t "$od_p" @opsdeck_prompt "$od_cx|$od_lt" >/dev/null 2>&1
  fi
  if [ "$OD_MARK" = 1 ]; then
    od_t set-option -t "=$od_s:" @opsdeck_run "$OD_RUN" \; set-option -t "=$od_s:" @opsdeck_source ansible \; \
      set-option -t "=$od_s:" @opsdeck_seen "$OD_NOW" || return 1
  elif [ "$od_created" = 1 ]; then
    od_t set-option -t "=$od_s:" @opsdeck_source ansible || return 1
  fi
}
od_acquire() {
  n=0
  while [ "$n" -le "$OD_MAX" ]; do
    if [ "$n" -eq 0 ]; then od_s=$OD_BASE; else od_s=$OD_BASE$n; fi
    n=$((n + 1))
    od_owner='' od_created='' od_fresh=0
    if ! od_info=$(od_t display-message -p -t "=$od_s:" "#{@opsdeck_seen}|#{@opsdeck_run}" \; \
      list-windows -t "=$od_s" -F "#{pane_id}|#{window_name}" 2>/dev/null); then
      od_new_session || continue
      od_owner=$OD_RUN
      od_pick && return 0
      continue
    fi
    od_h=${od_info%%"$nl"*}
    od_seen=${od_h%%"$sep"*}
    od_owner=${od_h#*"$sep"}
    od_wl=${od_info#*"$nl"}
    if [ -n "$od_owner" ] && [ "$od_owner" != "$OD_RUN" ]; then
      case " $OD_STALE " in
        *" $od_owner "*) ;;
        *)
          case " $OD_LIVE " in *" $od_owner "*) continue ;; esac
          [ "${od_owner%%.*}" = "$OD_HOST" ] && od_done CHECK "$od_owner"
          [ -n "$od_seen" ] && [ $((OD_NOW - od_seen)) -lt "$OD_LEASE" ] && continue
          ;;
      esac
    fi
    od_pick && return 0
    [ "$od_owner" = "$OD_RUN" ] && od_done BUSY "$od_why"
    [ "$OD_MAX" = 0 ] && od_done BUSY "$od_why"
  done
  od_done NOSESSION "no usable session among $OD_BASE, ${OD_BASE}1 .. $OD_BASE$OD_MAX:" \
    "each is busy or owned by another run (last: ${od_why:-})"
}
# od_checklog: the log's place is usable, checked before any session is made
od_checklog() {
  if [ -n "$OD_LOG_PATH" ]; then
    od_ld=${OD_LOG_PATH%/*}
    [ -d "${od_ld:-/}" ] && [ -w "${od_ld:-/}" ] || { [ -e "$OD_LOG_PATH" ] && [ -w "$OD_LOG_PATH" ]; } ||
      od_done NOLOG "cannot write log file $OD_LOG_PATH: its directory ${od_ld:-/} is missing or not writable"
  elif [ -n "$OD_LOGDIR" ]; then
    [ -d "$OD_LOGDIR" ] || mkdir -p "$OD_LOGDIR" 2>/dev/null ||
      od_done NOLOG "cannot create log directory $OD_LOGDIR (ansible_tmux_log_dir)"
    [ -w "$OD_LOGDIR" ] || od_done NOLOG "cannot write to log directory $OD_LOGDIR (ansible_tmux_log_dir)"
  fi
}
od_newlog() {
  if [ -n "$OD_LOG_PATH" ]; then
    # a log given by the caller, shared by several tasks
    od_log=$OD_LOG_PATH
    if [ -e "$od_log" ] && { [ -L "$od_log" ] || [ ! -O "$od_log" ]; }; then
      od_done NOLOG "refusing log file $od_log: it is a link or belongs to another user"
    fi
    [ -e "$od_log" ] || { : >>"$od_log" && chmod 600 "$od_log"; } || od_done NOLOG "cannot write log file $od_log"
    return 0
  fi
  od_lf=$S/l.$OD_SERVER.$OD_RUN.$od_sess
  if [ "$OD_RECORD" = 1 ] && [ -f "$od_lf" ]; then
    IFS= read -r od_log <"$od_lf"
    [ -f "$od_log" ] && return 0
  fi
  [ -n "$OD_LOGDIR" ] || { od_log=; return 0; }
  od_log=$OD_LOGDIR/agent-$od_sess-$(date +%Y%m%d-%H%M%S).log
  if [ -e "$od_log" ] && { [ -L "$od_log" ] || [ ! -O "$od_log" ]; }; then
    od_done NOLOG "refusing log file $od_log: it is a link or belongs to another user"
  fi
  : >>"$od_log" || od_done NOLOG "cannot write log file $od_log"
  chmod 600 "$od_log"
  [ "$OD_RECORD" = 1 ] && printf '%s\n' "$od_log" >"$od_lf"
  return 0
}
# od_housekeep: after an acquisition, drop the state of runs that no longer own
# their session, the job files of panes that are gone, the files of tmux servers
# (named with -L) whose socket is gone, and anything older than a day (or twice
# the command timeout), in one pass over the directory and one rm
od_housekeep() {
  od_hk=$(od_t display-message -p -t "=$od_sess:" "k|#{socket_path}" \; list-sessions -F "s|#{session_name}|#{@opsdeck_run}" \; \
    list-panes -a -F "p|#{pane_id}" 2>/dev/null) || return 0
  od_sockdir=${od_hk#k|}
  od_sockdir=${od_sockdir%%"$nl"*}
  od_sockdir=${od_sockdir%/*}
  set --
  # the wrapper runs with globbing off (set -f); this loop needs it
  set +f
  for f in "$S"/*; do
    set -f
    od_n=${f#"$S"/}
    case $od_n in r.* | l.* | j.* | p.* | lock.*) ;; *) continue ;; esac
    od_x=${od_n#*.}
    od_key=${od_x%%.*}
    if [ "$od_key" != "$OD_SERVER" ]; then
      # another server: a socket path's key starts with "_" (kept until it is old)
      case $od_key in _* | '') continue ;; esac
      od_sn=$od_key
      while :; do case $od_sn in *+*) od_sn=${od_sn%%+*}.${od_sn#*+} ;; *) break ;; esac; done
      [ -S "$od_sockdir/$od_sn" ] || set -- "$@" "$f"
      continue
    fi
    od_x=${od_x#*.}
    case $od_n in
      r.*)
        IFS=$tab read -r od_hs_ od_y <"$f" || continue
        case "$nl$od_hk$nl" in *"${nl}s|$od_hs_|${od_x%.*}$nl"*) ;; *) set -- "$@" "$f" ;; esac
        ;;
      l.*)
        case "$nl$od_hk$nl" in *"${nl}s|${od_x##*.}|${od_x%.*}$nl"*) ;; *) set -- "$@" "$f" ;; esac
        ;;
      j.* | p.*)
        # j.<server>.<pane>.<part>, p.<server>.<pane>.lock: the pane still there?
        case "$nl$od_hk$nl" in *"${nl}p|%${od_x%%.*}$nl"*) ;; *) set -- "$@" "$f" ;; esac
        ;;
    esac
  done
  set -f
  [ $# -gt 0 ] && rm -f "$@"
  od_age=1440
  [ $((OD_TIMEOUT / 30)) -gt "$od_age" ] && od_age=$((OD_TIMEOUT / 30))
  find "$S" -maxdepth 1 -type f -mmin +"$od_age" ! -name 'lock*' ! -name '*.lock' -exec rm -f {} + 2>/dev/null
  return 0
}

od_init() {
  command -v "$OD_TMUX" >/dev/null 2>&1 ||
    od_done NOTMUX "tmux ($OD_TMUX) was not found on the target's PATH ($PATH);" \
      "install tmux there (the role opsdeck.tmux.ops_host does)"
  od_home=${OD_START_DIR:-${HOME:-/}}
  [ -d "$od_home" ] || od_home=/
  od_statedir
}
# od_claim: a command (its channel) runs at most once. The wrapper may be sent
# again for the same command when the connection dropped: that attempt finds
# the first one's job and collects its result instead of running it again.
# The claim file holds "<pid of the attempt>	<job files>"; the job removes it
# when it ends, an attempt that gives up before typing removes it too.
od_claim() {
  od_claim=$S/c.$OD_CH
  od_scan
  od_k=0
  while :; do
    set -C
    if printf '%s\n' "$$" 2>/dev/null >"$od_claim"; then
      set +C
      od_cstate=pending
      return 0
    fi
    set +C
    IFS=$tab read -r od_x od_y <"$od_claim" 2>/dev/null || od_x=
    od_scan
    case $od_x in
      '' | *[!0-9]*) ;;
      *)
        if ! kill -0 "$od_x" 2>/dev/null; then
          # that attempt died: if its job started, collect it; else take over
          if [ -n "$od_y" ] && IFS= read -r od_z <"$od_y.st" 2>/dev/null && [ "$od_z" = "$OD_CH" ]; then
            J=$od_y od_claim=''
            od_collect
          fi
          rm -f "$od_claim"
          continue
        fi
        ;;
    esac
    # an earlier attempt is still before typing: it types or gives up soon
    [ "$od_k" -ge $((OD_BUSY_WAIT * 20 + 400)) ] &&
      od_done LOST "an earlier attempt of this command (pid $od_x) still waits for its pane; whether it ran is unknown"
    sleep 0.05
    od_k=$((od_k + 1))
  done
}
# od_scan: a job of this channel was typed already: collect it (does not return).
# The run's pane for this window is in its record: one file to read, no directory scan.
od_scan() {
  od_rec=$S/r.$OD_SERVER.$OD_RUN.$OD_WINDOW
  if [ -f "$od_rec" ]; then
    IFS=$tab read -r od_z od_y od_z <"$od_rec"
    f=$S/j.$OD_SERVER.${od_y#%}.ch
    if [ -f "$f" ] && IFS=$tab read -r od_z od_sess od_pane od_log <"$f" && [ "$od_z" = "$OD_CH" ]; then
      J=${f%.ch} od_claim=''
      od_collect
    fi
  fi
  od_sess=- od_pane=- od_log=-
}
# od_collect: wait for the job J of this channel to end, then answer with its result
od_collect() {
  [ "$OD_NOLOG" = 1 ] && od_done LOST "the connection dropped during a no_log task; its output is not kept on the target," \
    "so its result cannot be collected: see pane $od_pane of session $od_sess for what happened"
  printf '%s\n' "$OD_CH" >"$J.collect"
  IFS= read -r od_x <"$J.end" 2>/dev/null || od_x=
  if [ "$od_x" != "$OD_CH" ]; then
    od_waitch "$OD_CH-c"
    IFS= read -r od_x <"$J.end" 2>/dev/null || od_x=
    [ "$od_x" = "$OD_CH" ] || echo timeout >"$J.why"
  fi
  od_deliver
}
# od_waitch CHANNEL: wait for a tmux wait-for signal, bounded by OD_TIMEOUT
od_waitch() {
  if command -v timeout >/dev/null 2>&1; then
    if [ -n "$OD_SOCKET_PATH" ]; then
      timeout "$OD_TIMEOUT" "$OD_TMUX" -S "$OD_SOCKET_PATH" wait-for "$1" </dev/null >/dev/null 2>&1 8>&- 9>&-
    elif [ -n "$OD_SOCKET_NAME" ]; then
      timeout "$OD_TIMEOUT" "$OD_TMUX" -L "$OD_SOCKET_NAME" wait-for "$1" </dev/null >/dev/null 2>&1 8>&- 9>&-
    else
      timeout "$OD_TIMEOUT" "$OD_TMUX" wait-for "$1" </dev/null >/dev/null 2>&1 8>&- 9>&-
    fi
    [ $? -eq 124 ] && echo timeout >"$J.why"
  else
    (
      sleep "$OD_TIMEOUT"
      echo timeout >"$J.why"
      od_t wait-for -S "$1"
    ) </dev/null >/dev/null 2>&1 8>&- 9>&- &
    od_wd=$!
    od_t wait-for "$1" </dev/null >/dev/null 2>&1
    kill "$od_wd" 2>/dev/null
  fi
}
# od_take_pane: the pane this command types into, idle, with its lock held (fd 8)
od_take_pane() {
od_rec=$S/r.$OD_SERVER.$OD_RUN.$OD_WINDOW
if [ "$OD_RECORD" = 1 ] && [ -f "$od_rec" ]; then
  IFS=$tab read -r od_sess od_pane od_log <"$od_rec"
  exec 8>"$S/p.$OD_SERVER.${od_pane#%}.lock"
  od_lock 8 "$OD_TIMEOUT" || od_done BUSY "another command of this run still holds pane $od_pane"
  od_wait_idle "$od_pane" "$OD_BUSY_WAIT"
  r=$?
  # a pane id from a tmux server that has since restarted names another pane
  [ $r -eq 0 ] && { [ "$od_psess" != "$od_sess" ] || [ "$od_prun" != "$OD_RUN" ]; } && r=2
  case $r in
    1) od_done BUSY "$od_why" ;;
    2) rm -f "$od_rec"; od_sess=- od_pane=- od_log=- ;;
  esac
fi
if [ "$od_pane" = - ]; then
  exec 9>"$S/lock.$OD_SERVER"
  od_lock 9 60 || od_done BUSY "another opsdeck command held this tmux server's acquisition lock for 60 s"
  od_acquire
  od_newlog
  [ "$OD_RECORD" = 1 ] && printf '%s\t%s\t%s\n' "$od_sess" "$od_pane" "$od_log" >"$od_rec"
  [ "$OD_RECORD" = 1 ] && od_housekeep
  exec 9>&-
  exec 8>"$S/p.$OD_SERVER.${od_pane#%}.lock"
  od_lock 8 "$OD_TIMEOUT" || od_done BUSY "another command of this run still holds pane $od_pane"
  od_wait_idle "$od_pane" "$OD_BUSY_WAIT" || od_done BUSY "$od_why"
fi
}
od_run_job() {
# one set of job files per tmux server and pane (the pane lock is held):
# overwritten by the next command, never removed while the pane lives
J=$S/j.$OD_SERVER.${od_pane#%}
: >"$J.rc"
: >"$J.why"
: >"$J.out"
: >"$J.err"
: >"$J.int"
: >"$J.st"
: >"$J.end"
: >"$J.collect"
[ "$OD_HAS_IN" = 1 ] && cat >"$J.in"
printf '%s\n' "$OD_JOB" >"$J.job"
# the command runs with the shell the inner transport would have used:
# /bin/sh for local, the login shell for ssh and the like
OD_J=$J OD_LOG=$od_log OD_PANE=$od_pane OD_SESSION=$od_sess OD_CWD=${OD_CHDIR:-$PWD} OD_EXEC=${OD_EXEC:-${SHELL:-/bin/sh}}
OD_CLAIMF=$od_claim OD_RENDERF=
# the module result renderer, written once per version (only module runs carry it)
if [ "$OD_VIEW" = module ] && [ -n "$OD_RHASH" ]; then
  OD_RENDERF=$S/render-$OD_RHASH.py
  [ -f "$OD_RENDERF" ] || printf '%s' "$OD_RENDER" >"$OD_RENDERF"
fi
# the typed line fits on the prompt's row: the job may take it back
OD_ERASE=0
[ "$OD_VIEW" != raw ] && [ $((od_cx + ${#J} + 14)) -lt "$od_pw" ] && OD_ERASE=1
export OD_VIEW OD_PY OD_RENDERF OD_RMOD OD_RKIND OD_ERASE
export OD_J OD_CH OD_LOG OD_NOLOG OD_TASK OD_PANE OD_SESSION OD_BANNER OD_STEP OD_CWD OD_HAS_IN OD_CMD OD_EXEC OD_MODE OD_CLAIMF
export OD_TMUX OD_SOCKET_NAME OD_SOCKET_PATH
export -p >"$J.env"
[ -n "$od_claim" ] && printf '%s\t%s\n' "$$" "$J" >"$od_claim"
# type it now if the pane is still as od_take_pane saw it; else wait (bounded)
od_k=0
until od_type; do
  od_why="pane $od_pane changed just before the command was typed (someone is typing there)"
  while :; do
    [ "$od_k" -ge $((OD_BUSY_WAIT * 20)) ] && od_done BUSY "$od_why"
    sleep 0.05
    od_k=$((od_k + 1))
    od_idle "$od_pane"
    case $? in
      0) break ;;
      2) od_done GONE "pane $od_pane disappeared before the command was typed" ;;
    esac
  done
done
od_cstate=typed
printf '%s\t%s\t%s\t%s\n' "$OD_CH" "$od_sess" "$od_pane" "$od_log" >"$J.ch"
if [ "$OD_MODE" = background ]; then
  # a long-running service (journalctl -f, docker logs -f): typed, return
  printf '%s OK %s %s %s %s\n' "$OD_PROTO" "$od_sess" "$od_pane" "$od_win" "$od_log"
  exit 0
fi
# Completion is the job's signal on a channel unique to this command, bounded
# by timeout(1); a killed pane makes the job's HUP trap signal, and a dead
# server ends the waiting client.
od_waitch "$OD_CH"
od_deliver
}
# od_deliver: the result of job J (this channel), as the protocol says
od_deliver() {
if [ -s "$J.rc" ] && [ ! -s "$J.why" ]; then
  IFS= read -r od_rc <"$J.rc"
  # killed by a signal: was it the pane going away (SIGHUP may reach only the command)?
  if [ "$od_rc" -gt 128 ] && ! od_t display-message -p -t "$od_pane" '' >/dev/null 2>&1; then
    echo gone >"$J.why"
  fi
fi
if [ -s "$J.rc" ] && [ ! -s "$J.why" ]; then
  [ -s "$J.int" ] && od_done INTERRUPTED "the command was interrupted in pane $od_pane (Ctrl-C), rc $od_rc;" \
    "a person stopped it in session $od_sess, window $od_win"
  printf '%s OK %s %s %s %s\n' "$OD_PROTO" "$od_sess" "$od_pane" "$od_win" "$od_log"
  [ -s "$J.out" ] && cat "$J.out"
  [ -s "$J.err" ] && cat "$J.err" >&2
  # a no_log task's output is kept nowhere (a dropped connection cannot collect it)
  [ "$OD_NOLOG" = 1 ] && { : >"$J.out"; : >"$J.err"; }
  exit "$od_rc"
fi
IFS= read -r od_w <"$J.why" 2>/dev/null
if [ "${od_w:-}" = timeout ]; then
  IFS= read -r od_x <"$J.st" 2>/dev/null || od_x=
  [ "$od_x" = "$OD_CH" ] && od_done TIMEOUT "the command did not finish within $OD_TIMEOUT s (ansible_tmux_command_timeout);" \
    "it is still running in pane $od_pane of session $od_sess, which stays busy until it ends"
  od_done TIMEOUT "the command did not start within $OD_TIMEOUT s: the line typed into pane $od_pane of session $od_sess" \
    "did not run its job (someone may have typed on that line); look at that pane"
fi
od_done GONE "pane $od_pane (session $od_sess) disappeared while the command was running"
}
# od_acquire_only: the session module's acquisition (nothing is typed)
od_acquire_only() {
  exec 9>"$S/lock.$OD_SERVER"
  od_lock 9 60 || od_done BUSY "another opsdeck command held this tmux server's acquisition lock for 60 s"
  od_changed=0
  od_acquire
  printf '%s OK %s %s %s %s\n' "$OD_PROTO" "$od_sess" "$od_pane" "$od_win" -
  printf 'changed=%s\ncreated=%s\n%s\n' "$od_changed" "${od_created:-0}" "$od_wl"
  exit 0
}
# od_idle_report: idle or busy, and why, for each pane in OD_PANES
od_idle_report() {
  printf '%s OK - - - -\n' "$OD_PROTO"
  for od_ip in $OD_PANES; do
    od_why=
    od_idle "$od_ip"
    printf '%s|%s|%s\n' "$od_ip" "$?" "$od_why"
  done
  exit 0
}
# od_watch: the sudo gate waits here, on the target, for a line that is exactly
# OD_MARKER in pane OD_PANES below absolute line OD_FROM (history + screen). It
# reads the pane (capture-pane), it never types into it.
od_watch() {
  od_pane=$OD_PANES
  od_end=$(($(date +%s) + OD_TIMEOUT))
  while :; do
    od_hs=$(od_t display-message -p -t "$od_pane" '#{history_size}' 2>/dev/null) ||
      od_done GONE "pane $od_pane disappeared while waiting for $OD_MARKER"
    od_rel=$((OD_FROM - od_hs))
    od_text=$(od_t capture-pane -p -J -t "$od_pane" -S "$od_rel" -E - 2>/dev/null) ||
      od_done GONE "pane $od_pane disappeared while waiting for $OD_MARKER"
    od_i=0
    oifs=$IFS
    IFS=$nl
    for ln in $od_text; do
      # capture-pane drops trailing blanks; a line with anything else is not the marker
      if [ "${ln%"${ln##*[! ]}"}" = "$OD_MARKER" ]; then
        IFS=$oifs
        printf '%s OK - %s - -\nFOUND %s\n' "$OD_PROTO" "$od_pane" "$((OD_FROM + od_i))"
        exit 0
      fi
      od_i=$((od_i + 1))
    done
    IFS=$oifs
    [ "$(date +%s)" -ge "$od_end" ] && { printf '%s OK - %s - -\nTIMEOUT\n' "$OD_PROTO" "$od_pane"; exit 0; }
    sleep 0.25
  done
}
# od_position: absolute line of the pane's cursor (history lines + cursor row)
od_position() {
  od_pos=$(od_t display-message -p -t "$OD_PANES" '#{history_size} #{cursor_y}' 2>/dev/null) ||
    od_done GONE "pane $OD_PANES does not exist"
  printf '%s OK - %s - -\nPOS %s\n' "$OD_PROTO" "$OD_PANES" "$((${od_pos% *} + ${od_pos#* }))"
  exit 0
}
od_init
case $OD_MODE in
  watch) od_watch ;;
  position) od_position ;;
  exec | background)
    od_checklog
    [ "$OD_CLAIM" = 1 ] && od_claim
    od_take_pane
    od_run_job
    ;;
  acquire) od_acquire_only ;;
  idle) od_idle_report ;;
  *) od_done USAGE "unknown mode $OD_MODE" ;;
esac
"""


def quote(value: object) -> str:
    """Quote one value for a POSIX shell assignment (always quoted: `OD_MODE=exec` reads like a command)."""
    text = str(value)
    quoted = shlex.quote(text)
    return quoted if quoted.startswith("'") else "'" + text + "'"


def minify(script: str) -> str:
    """Drop comment lines and indentation: the script travels with every command
    (a shorter one is faster to send and leaves more of the kernel's 128 KiB
    argument limit to the command itself). The scripts have no here-document or
    quoted text whose lines start with blanks or '#'."""
    kept = []
    for line in script.splitlines():
        text = line.lstrip()
        if text and not (text.startswith("#") and not text.startswith("# shellcheck")):
            kept.append(text)
    return "\n".join(kept) + "\n"


_JOB = minify(JOB)
_LIB = minify(LIB)


def build_script(params: t.Mapping[str, object]) -> str:
    """Return the complete wrapper: parameter assignments, then the library."""
    lines = [f"OD_PROTO={PROTOCOL}", f"OD_JOB={quote(_JOB)}"]
    lines.extend(f"{key}={quote(value)}" for key, value in params.items())
    return "\n".join(lines) + "\n" + _LIB


def command_line(params: t.Mapping[str, object]) -> str:
    """The one command line the inner transport runs."""
    return "/bin/sh -c " + quote(build_script(params))
