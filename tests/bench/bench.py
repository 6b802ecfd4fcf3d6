"""Benchmark: opsdeck.tmux.shared against its plain inner transport, in the same run.

Not a test (no pass/fail): `make bench` prints and writes docs/benchmarks.md.

1. Playbook: 30 `ansible.builtin.command: true` tasks, pipelining on, run alternately
   through opsdeck.tmux.shared and through the plain transport (local, and ssh to
   127.0.0.1), N runs each; the median wall-time ratio.
2. Latency: a loop of direct exec_command calls on one connection object, shared
   against plain; the added time per command (median and p95).

The ssh half needs root (it creates the test user and starts sshd on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import COLLECTIONS, SYSTEM_PYTHON, SSHTarget, ansible_env, start_sshd  # noqa: E402


def playbook(path: pathlib.Path, tasks: int) -> None:
    body = "".join(f"    - name: Task {i}\n      ansible.builtin.command: 'true'\n      changed_when: false\n" for i in range(tasks))
    path.write_text(f"- hosts: bench\n  gather_facts: false\n  tasks:\n{body}")


def inventory(path: pathlib.Path, shared: bool, transport: str, socket_name: str, ssh: SSHTarget | None) -> None:
    if ssh is not None:
        line = ssh.inventory_line("benchhost", ansible_tmux_socket_name=socket_name, ansible_pipelining="true")
        if not shared:
            line = line.replace("ansible_connection='opsdeck.tmux.shared'", "ansible_connection='ansible.builtin.ssh'")
    else:
        conn = "opsdeck.tmux.shared" if shared else transport
        line = (
            f"localhost ansible_connection={conn} ansible_tmux_transport={transport} ansible_tmux_socket_name={socket_name} "
            f"ansible_python_interpreter={SYSTEM_PYTHON} ansible_pipelining=true"
        )
    path.write_text(f"[bench]\n{line}\n")


def run_play(play: pathlib.Path, inv: pathlib.Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv), str(play)], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark play failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def playbook_ratio(work: pathlib.Path, env: dict[str, str], runs: int, tasks: int, ssh: SSHTarget | None, socket_name: str) -> dict[str, t.Any]:
    play = work / "bench.yml"
    playbook(play, tasks)
    transport = "ansible.builtin.ssh" if ssh else "ansible.builtin.local"
    shared_inv, plain_inv = work / "shared.ini", work / "plain.ini"
    inventory(shared_inv, True, transport, socket_name, ssh)
    inventory(plain_inv, False, transport, socket_name, ssh)
    run_play(play, shared_inv, env)  # warm-up: acquires the session, fills caches
    run_play(play, plain_inv, env)
    shared_t, plain_t = [], []
    for dummy in range(runs):
        shared_t.append(run_play(play, shared_inv, env))
        plain_t.append(run_play(play, plain_inv, env))
    return {
        "transport": transport,
        "shared_median": statistics.median(shared_t),
        "plain_median": statistics.median(plain_t),
        "ratio": statistics.median(shared_t) / statistics.median(plain_t),
        "runs": runs,
        "tasks": tasks,
    }


def exec_latency(socket_name: str, log_dir: str, loops: int, ssh: SSHTarget | None) -> dict[str, t.Any]:
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader, init_plugin_loader

    init_plugin_loader([str(COLLECTIONS)])
    pc = PlayContext()
    inner_options: dict[str, t.Any] = {}
    transport = "ansible.builtin.local"
    if ssh is not None:
        transport = "ansible.builtin.ssh"
        pc.remote_addr = ssh.host
        inner_options = {
            "host": ssh.host,
            "port": ssh.port,
            "remote_user": ssh.user,
            "private_key_file": str(ssh.key),
            "ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        }
    shared = connection_loader.get("opsdeck.tmux.shared", pc)
    shared.set_options(direct={"transport": transport, "socket_name": socket_name, "log_dir": log_dir, "run_id": "bench.1.1"})
    shared.ssh_type_conn.set_options(direct=inner_options)
    plain = connection_loader.get(transport, PlayContext())
    plain.set_options(direct=inner_options)
    for c in (shared, plain):
        c._connect()
        c.exec_command("true")  # warm-up (session, ControlMaster)
    added, shared_t, plain_t = [], [], []
    for dummy in range(loops):
        t0 = time.perf_counter()
        shared.exec_command("true")
        t1 = time.perf_counter()
        plain.exec_command("true")
        t2 = time.perf_counter()
        shared_t.append(t1 - t0)
        plain_t.append(t2 - t1)
        added.append((t1 - t0) - (t2 - t1))
    added.sort()
    shared.close()
    plain.close()
    return {
        "transport": transport,
        "loops": loops,
        "shared_median_ms": statistics.median(shared_t) * 1000,
        "plain_median_ms": statistics.median(plain_t) * 1000,
        "added_median_ms": statistics.median(added) * 1000,
        "added_p95_ms": added[int(0.95 * (len(added) - 1))] * 1000,
    }


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    tmux = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False).stdout.strip()
    import ansible

    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, {platform.freedesktop_os_release().get('PRETTY_NAME', '')}, "
        f"{tmux}, Python {platform.python_version()}, ansible-core {ansible.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--loops", type=int, default=200)
    parser.add_argument("--no-ssh", action="store_true")
    parser.add_argument("--write", type=pathlib.Path)
    args = parser.parse_args()

    rows_play, rows_exec = [], []
    # the killed tmux server's shells may still write their history into HOME while it is removed
    with tempfile.TemporaryDirectory(prefix="opsdeck-bench-", ignore_cleanup_errors=True) as tmp:
        work = pathlib.Path(tmp)
        home = work / "home"
        home.mkdir()
        env = ansible_env(home)
        os.environ["HOME"] = str(home)
        socket_name = f"bench{os.getpid()}"
        try:
            rows_play.append(playbook_ratio(work, env, args.runs, args.tasks, None, socket_name))
            rows_exec.append(exec_latency(socket_name, str(work), args.loops, None))
            if not args.no_ssh:
                (work / "sshd").mkdir()
                with start_sshd(work / "sshd") as ssh:
                    rows_play.append(playbook_ratio(work, env, args.runs, args.tasks, ssh, socket_name))
                    rows_exec.append(exec_latency(socket_name, "/tmp", args.loops, ssh))
        finally:
            subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True, check=False)

    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        "`make bench` (tests/bench/bench.py) runs opsdeck.tmux.shared against its plain inner transport in the",
        "same run, alternating, and rewrites this page. Targets: ratio <= 1.05, <= 15 ms added per command.",
        "",
        f"Measured {when} on: {machine()}.",
        "",
        f"## Playbook: {args.tasks} `ansible.builtin.command: true` tasks, pipelining on, {args.runs} runs each",
        "",
        "| inner transport | shared (median s) | plain (median s) | ratio |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {r['transport']} | {r['shared_median']:.2f} | {r['plain_median']:.2f} | {r['ratio']:.3f} |" for r in rows_play]
    lines += [
        "",
        f"## Added latency per command: {args.loops} direct `exec_command('true')` calls each",
        "",
        "| inner transport | shared (median ms) | plain (median ms) | added median (ms) | added p95 (ms) |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['transport']} | {r['shared_median_ms']:.1f} | {r['plain_median_ms']:.1f} | {r['added_median_ms']:.1f} | {r['added_p95_ms']:.1f} |"
        for r in rows_exec
    ]
    lines += [
        "",
        "## Where the time goes",
        "",
        "Per command the wrapper starts these processes on the target: one tmux client for the idle test",
        "(display-message + capture-pane in one call), flock for the pane, one tmux client that checks the",
        "pane is unchanged and types in the same step (if-shell -F + send-keys), timeout + a tmux client for",
        "wait-for, cat for stdout (and stderr when there is any). Through a remote transport a noclobber claim",
        "file per command makes a re-sent wrapper collect instead of re-running. In the pane, the shell forks",
        "the job: for raw/script/unknown commands it runs the command in a pipeline with two tee processes;",
        "for a module run it writes stdout/stderr to files (no tee on the critical path), signals with a tmux",
        "client for wait-for -S, and only then appends the raw output to the log and renders the result with",
        "the module's Python (about 26 ms, off Ansible's critical path, before the pane's prompt returns).",
        "Each tmux client round trip costs about 2.5 ms on this machine, a fork+exec about 1 ms. Completion",
        "is event-driven; the only waits are the bounded settle wait for a prompt (10 ms steps for the first",
        "100 ms, then 50 ms). A pipelined module reaches the command through a pipe, as with the plain",
        "transports: python reads a script from a regular file markedly slower than from a pipe (measured",
        "140 ms against 104 ms for a 170 KB payload), which is why the job feeds stdin with `cat file |`.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
