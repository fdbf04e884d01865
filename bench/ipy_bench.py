#!/usr/bin/python3
"""The ipykernel anchors: Debian's python3 kernel (python3-ipykernel) driven
through jupyter_client (KernelManager + BlockingKernelClient). Each mode
prints one JSON line. Every kernel started is shut down on exit (also on
SIGTERM), and its pid is appended to PIDFILE so bench/run.sh can kill it
should this script itself be killed.

usage:
  ipy_bench.py rtt CALLS PIDFILE
      execute `x=1` + wait for its execute_reply on shell, on one warm kernel.
  ipy_bench.py sessions N PIDFILE
      starts N kernels one after another, each timed from start_kernel()
      to the execute_reply of its first cell, `import pandas as pd`; then,
      all N idle, USS and PSS of each kernel process (smaps_rollup).
"""
import json, os, queue, signal, statistics, sys, time

os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
from jupyter_client import KernelManager  # noqa: E402

TIMEOUT_S = 60
KERNEL_NAME = "python3"          # /usr/share/jupyter/kernels/python3: /usr/bin/python3


def on_term(signum, frame):
    raise SystemExit(1)


signal.signal(signal.SIGTERM, on_term)


def latency(ms):
    ms = sorted(ms)
    return {"calls": len(ms), "median_ms": statistics.median(ms),
            "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
            "min_ms": ms[0], "max_ms": ms[-1]}


def smaps_rollup(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0) \
        + fields.get("Private_Hugetlb", 0)
    return uss, fields.get("Pss", 0)


class Kernel:
    def __init__(self, pidfile):
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel()
        self.pid = self.km.provisioner.process.pid
        with open(pidfile, "a") as f:
            f.write(f"{self.pid}\n")
        self.kc = self.km.client()
        self.kc.start_channels()

    def execute(self, code):
        """Sends code and waits for its execute_reply on shell."""
        msg_id = self.kc.execute(code, store_history=True)
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.001, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(f"execute failed: {reply['content']}")
                return reply

    def drain_iopub(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0)
            except queue.Empty:
                return

    def shutdown(self):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)


def mode_rtt(calls, pidfile):
    k = Kernel(pidfile)
    try:
        k.execute("x=1")
        for _ in range(calls // 10):
            k.execute("x=1")
        k.drain_iopub()
        times = []
        for i in range(calls):
            t = time.perf_counter()
            k.execute("x=1")
            times.append((time.perf_counter() - t) * 1000)
            if i % 100 == 99:
                k.drain_iopub()            # outside the timed part
        return latency(times)
    finally:
        k.shutdown()


def mode_sessions(n, pidfile):
    kernels, times = [], []
    try:
        for _ in range(n):
            t = time.perf_counter()
            k = Kernel(pidfile)
            kernels.append(k)
            k.execute("import pandas as pd")
            times.append((time.perf_counter() - t) * 1000)
        time.sleep(1.0)
        for k in kernels:
            k.drain_iopub()
        mem = [smaps_rollup(k.pid) for k in kernels]
        mib = 1 << 20
        return {"sessions": n, "start": latency(times),
                "uss_mib": statistics.median(u for u, _ in mem) / mib,
                "pss_mib": statistics.median(p for _, p in mem) / mib}
    finally:
        for k in kernels:
            try:
                k.shutdown()
            except Exception as e:           # keep shutting the others down
                print(f"ipy_bench: shutdown of kernel {k.pid}: {e}", file=sys.stderr)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "rtt":
        out = mode_rtt(int(args[0]), args[1])
    elif mode == "sessions":
        out = mode_sessions(int(args[0]), args[1])
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


main()
