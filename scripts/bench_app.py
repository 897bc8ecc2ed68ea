#!/usr/bin/env python3
"""The desktop app's start-up and idle cost (issue 6's targets; results in BENCHMARKS.md).

Runs the real o365-auth-app binary ROUNDS times from a fresh home each (a new store and keyring
entry, the cost a first start pays) and measures, from the moment the process is spawned:
  - tray ready: the app's "tray ready" log line (its tray icon is built);
  - service ready: "token service started" (store opened through the keyring, scheduler on,
    IPC socket bound).
Then, once, started hidden (--hidden, as "start at login" does) and left idle for IDLE_S seconds:
  - resident memory of the app and of its whole process tree (WebKit runs the page in child
    processes), from /proc/<pid>/status VmRSS;
  - wake-ups: voluntary + involuntary context switches of every thread of the tree over the
    idle window, per minute.

Needs an X display, a D-Bus session and an unlocked Secret Service (scripts/bench-app.sh sets
them up). Usage: bench_app.py BINARY [ROUNDS] [IDLE_S]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def spawn(binary, home, hidden):
    env = dict(os.environ)
    runtime = os.path.join(home, "run")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    env.update(
        HOME=home,
        XDG_DATA_HOME=os.path.join(home, "data"),
        XDG_CONFIG_HOME=os.path.join(home, "config"),
        XDG_RUNTIME_DIR=runtime,
        RUST_LOG="info",
    )
    args = [binary] + (["--hidden"] if hidden else [])
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return process, started


def wait_for_lines(process, started, wanted, timeout=60):
    """Seconds from spawn to each wanted log line."""
    seen = {}
    done = threading.Event()

    def read():
        for line in process.stderr:
            for text in wanted:
                if text in line and text not in seen:
                    seen[text] = time.perf_counter() - started
            if len(seen) == len(wanted):
                done.set()
                # Keep draining so the app never blocks on a full pipe.
        done.set()

    threading.Thread(target=read, daemon=True).start()
    done.wait(timeout)
    missing = [text for text in wanted if text not in seen]
    if missing:
        raise SystemExit(f"the app never logged {missing}")
    return seen


def tree(pid):
    pids = [pid]
    for child in open(f"/proc/{pid}/task/{pid}/children").read().split():
        pids.extend(tree(int(child)))
    return pids


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def switches(pids):
    total = 0
    for pid in pids:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                for line in open(f"/proc/{pid}/task/{task}/status"):
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
            except FileNotFoundError:
                pass
    return total


def stop(process):
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main():
    binary = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    idle = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    tray, service = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="o365-auth-bench-") as home:
            process, started = spawn(binary, home, hidden=True)
            try:
                seen = wait_for_lines(process, started, ["tray ready", "token service started"])
            finally:
                stop(process)
            tray.append(seen["tray ready"])
            service.append(seen["token service started"])
    print(f"rounds: {rounds}")
    print(f"spawn -> tray ready:     median {statistics.median(tray) * 1000:.0f} ms "
          f"(min {min(tray) * 1000:.0f}, max {max(tray) * 1000:.0f})")
    print(f"spawn -> service ready:  median {statistics.median(service) * 1000:.0f} ms "
          f"(min {min(service) * 1000:.0f}, max {max(service) * 1000:.0f})")

    with tempfile.TemporaryDirectory(prefix="o365-auth-bench-") as home:
        process, started = spawn(binary, home, hidden=True)
        try:
            wait_for_lines(process, started, ["token service started"])
            time.sleep(5)  # let start-up work settle before the idle window
            pids = tree(process.pid)
            before = switches(pids)
            time.sleep(idle)
            pids = tree(process.pid)
            after = switches(pids)
            app_rss = rss_kib(process.pid)
            tree_rss = sum(rss_kib(pid) for pid in pids)
        finally:
            stop(process)
    print(f"idle, hidden, after {idle} s: RSS app {app_rss / 1024:.1f} MiB, "
          f"with its {len(pids) - 1} WebKit processes {tree_rss / 1024:.1f} MiB")
    print(f"wake-ups (context switches, all threads of the tree): {(after - before) * 60 / idle:.0f} per minute")


if __name__ == "__main__":
    main()
