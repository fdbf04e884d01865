#!/usr/bin/python3
"""kernelmq benchmarks from a raw ZeroMQ DEALER speaking protocol v1
(Debian's python3-zmq and python3-msgpack). Each mode prints one JSON line.

usage:
  kmq_bench.py rtt ENDPOINT CALLS
      execute `x = 1` round trips on one warm session (this raw DEALER).
  kmq_bench.py pyrtt ENDPOINT CALLS
      the same through the Python client (client/python: kernelmq.Client).
  kmq_bench.py sessions ENDPOINT N PIDFILE [GAP_S [nomem]]
      starts N sessions one after another (GAP_S seconds apart, default 0),
      each timed from its first execute (`import pandas as pd`) to the
      reply; then, all N idle, USS and PSS of each session's monitor +
      executor (smaps_rollup), unless nomem.
  kmq_bench.py live ENDPOINT TARGET BUDGET_S PIDFILE [KEYSFILE|- [CLIENTS
                  [INFLIGHT [CALLS [FLOOR_MIB]]]]]
      opens up to TARGET sessions in parallel (CLIENTS DEALERs, default 4,
      INFLIGHT requests in flight on each, default 8), each holding a small
      DataFrame, until BUDGET_S runs out (or MemAvailable falls under
      FLOOR_MIB, default max(2 GiB, 10%): the machine is shared); then the execute latency of
      `x = 1` on one of them over CALLS calls (default 500) with all the
      others held, and the PSS of all monitors + executors + the zygote,
      with MemAvailable before / after. Writes the session keys to KEYSFILE
      and leaves them open.
  kmq_bench.py upload ENDPOINT CSVFILE REPEATS
      upload the CSV as a DataFrame (format csv) through the Python client,
      then download it as csv.
  kmq_bench.py execload ENDPOINT CLIENTS SESSIONS_PER_CLIENT SECONDS WINDOW
      small executes (`x = 1`) pipelined through several clients and
      sessions: replies per second.
  kmq_bench.py restart ENDPOINT KEYSFILE KILLED_AT
      after `live` (which writes its session keys to KEYSFILE), the broker
      was SIGKILLed and started again at KILLED_AT (time.time()): the time
      from the kill to the first answered request on one of the sessions,
      then `len(df)` on every one: how many came back intact.
  kmq_bench.py snapshot ENDPOINT STATE_DIR MB
      against a broker with --idle-timeout-s 1: a session holding a numeric
      DataFrame of MB is evicted; the time from its eviction to its
      snapshot being stored, and its next request's wall time (a fresh
      kernel plus the restore), beside a fresh session's first request and
      pickle.dumps + loads of the same DataFrame in this process.
"""
import json, os, signal, statistics, sys, time, uuid
import msgpack, zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client",
                                "python"))
from kernelmq import _keys  # noqa: E402

REQUEST_TIMEOUT_S = 60


def on_term(signum, frame):
    raise SystemExit(1)


signal.signal(signal.SIGTERM, on_term)


class Client:
    def __init__(self, endpoint):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        _keys.apply(self.sock, endpoint)    # CURVE on tcp, the user's keys
        self.sock.connect(endpoint)
        self.next_id = 1

    def send(self, header, payloads=()):
        header = dict(header, id=self.next_id)
        self.next_id += 1
        self.sock.send_multipart([b"KMQ1", msgpack.packb(header), *payloads])
        return header["id"]

    def wait(self, rid, timeout_s=REQUEST_TIMEOUT_S):
        """The reply (header, payloads) of request rid; events are skipped."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                raise RuntimeError(f"no reply to request {rid} within {timeout_s} s")
            frames = self.sock.recv_multipart()
            header = msgpack.unpackb(frames[1])
            if header.get("type") == "reply" and header.get("id") == rid:
                return header, frames[2:]

    def request(self, header, payloads=(), timeout_s=REQUEST_TIMEOUT_S):
        return self.wait(self.send(header, payloads), timeout_s)

    def ok(self, header, payloads=(), timeout_s=REQUEST_TIMEOUT_S):
        reply, frames = self.request(header, payloads, timeout_s)
        if reply.get("status") != "ok":
            raise RuntimeError(f"{header['type']} failed: {reply}")
        return reply, frames


def replies_waiting(sock):
    """The header of every message sock holds now, without waiting."""
    while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
        yield msgpack.unpackb(sock.recv_multipart()[1])


def latency(ms):
    ms = sorted(ms)
    return {"calls": len(ms), "median_ms": statistics.median(ms),
            "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
            "min_ms": ms[0], "max_ms": ms[-1]}


def smaps_rollup(pid):
    """(USS, PSS) of pid in bytes from /proc/PID/smaps_rollup."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0) \
        + fields.get("Private_Hugetlb", 0)
    return uss, fields.get("Pss", 0)


def children(pid):
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += [int(p) for p in f.read().split()]
    return kids


def session_pids(entry, pidfile=None):
    """(monitor, executor) host pids of a stats session_list entry: the
    executor from its executor_pid (a zygote's child), else the monitor's
    only child (a kernel that forked its executor itself)."""
    monitor = entry["pid"]
    executor = entry.get("executor_pid") or 0
    if not executor:
        kids = children(monitor)
        if len(kids) != 1:
            raise RuntimeError(f"monitor {monitor} has children {kids} and stats gives "
                               "no executor_pid: expected one executor")
        executor = kids[0]
    if pidfile:
        with open(pidfile, "a") as f:
            f.write(f"{monitor}\n{executor}\n")
    return monitor, executor


def ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def meminfo():
    with open("/proc/meminfo") as f:
        return {l.split(":")[0]: int(l.split()[1]) * 1024 for l in f}


def mode_rtt(endpoint, calls):
    c = Client(endpoint)
    session = "bench-rtt-" + uuid.uuid4().hex[:8]
    c.ok({"type": "execute", "session": session}, [b"x = 1"])
    for _ in range(calls // 10):
        c.ok({"type": "execute", "session": session}, [b"x = 1"])
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        c.ok({"type": "execute", "session": session}, [b"x = 1"])
        times.append((time.perf_counter() - t) * 1000)
    c.request({"type": "close", "session": session})
    return latency(times)


def mode_pyrtt(endpoint, calls):
    """The same round trip through the Python client (client/python,
    `kernelmq.Client`), what an agent uses."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "client", "python"))
    import kernelmq
    with kernelmq.Client(endpoint) as client:
        s = client.session("bench-pyrtt-" + uuid.uuid4().hex[:8])
        s.run("x = 1")
        for _ in range(calls // 10):
            s.run("x = 1")
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            s.run("x = 1")
            times.append((time.perf_counter() - t) * 1000)
        s.close()
    return latency(times)


def mode_sessions(endpoint, n, pidfile, gap_s=0.0, mem=True):
    c = Client(endpoint)
    keys, times = [], []
    code = b"import pandas as pd"
    try:
        for i in range(n):
            key = f"bench-s{i}-" + uuid.uuid4().hex[:8]
            t = time.perf_counter()
            c.ok({"type": "execute", "session": key}, [code])
            times.append((time.perf_counter() - t) * 1000)
            keys.append(key)
            time.sleep(gap_s)
        if not mem:
            return {"sessions": n, "gap_s": gap_s, "start": latency(times)}
        time.sleep(1.0)                   # let them settle: idle sessions
        stats, _ = c.ok({"type": "stats"})
        pids = {s["session"]: s for s in stats["session_list"]}
        per = []
        for key in keys:
            monitor, executor = session_pids(pids[key], pidfile)
            m_uss, m_pss = smaps_rollup(monitor)
            e_uss, e_pss = smaps_rollup(executor)
            per.append({"monitor_uss": m_uss, "monitor_pss": m_pss,
                        "executor_uss": e_uss, "executor_pss": e_pss,
                        "uss": m_uss + e_uss, "pss": m_pss + e_pss})
        mib = 1 << 20
        return {"sessions": n, "start": latency(times),
                "uss_mib": statistics.median(p["uss"] for p in per) / mib,
                "pss_mib": statistics.median(p["pss"] for p in per) / mib,
                "pss_mean_mib": statistics.mean(p["pss"] for p in per) / mib,
                "monitor_uss_mib": statistics.median(p["monitor_uss"] for p in per) / mib,
                "executor_uss_mib": statistics.median(p["executor_uss"] for p in per) / mib,
                "mem_total_mib": meminfo()["MemTotal"] / mib}
    finally:
        for key in keys:
            try:
                c.request({"type": "close", "session": key}, timeout_s=10)
            except RuntimeError:
                pass


def mode_upload(endpoint, path, repeats):
    """The upload through the Python client, as an agent makes it (in
    parts: protocol.md 5, upload); the download from the raw DEALER."""
    import kernelmq
    with open(path, "rb") as f:
        data = f.read()
    c = Client(endpoint)
    session = "bench-up-" + uuid.uuid4().hex[:8]
    c.ok({"type": "execute", "session": session}, [b"import pandas as pd"])
    agent = kernelmq.Client(endpoint)
    up, down = [], []
    rows = cols = nbytes = 0
    try:
        for _ in range(repeats):
            t = time.perf_counter()
            done = agent.session(session).upload("df", data, format="csv")
            up.append(time.perf_counter() - t)
            rows, cols = done.rows, done.columns
            t = time.perf_counter()
            reply, frames = c.ok({"type": "download", "session": session,
                                  "name": "df", "format": "csv"}, timeout_s=120)
            down.append(time.perf_counter() - t)
            nbytes = len(frames[0])
    finally:
        agent.close()
        c.request({"type": "close", "session": session}, timeout_s=10)
    return {"bytes": len(data), "rows": rows, "columns": cols,
            "upload_s": statistics.median(up), "upload_all_s": up,
            "download_s": statistics.median(down), "download_all_s": down,
            "download_bytes": nbytes}


def mode_execload(endpoint, nclients, per_client, seconds, window):
    clients = [Client(endpoint) for _ in range(nclients)]
    sessions = [[f"bench-l{c}-{s}-" + uuid.uuid4().hex[:6] for s in range(per_client)]
                for c in range(nclients)]
    poller = zmq.Poller()
    for cl in clients:
        poller.register(cl.sock, zmq.POLLIN)
    try:
        for cl, keys in zip(clients, sessions):      # start every kernel first
            for key in keys:
                cl.ok({"type": "execute", "session": key}, [b"x = 1"])
        outstanding = {id(cl): 0 for cl in clients}
        rr = {id(cl): 0 for cl in clients}

        def refill(cl, keys):
            while outstanding[id(cl)] < window * len(keys):
                key = keys[rr[id(cl)] % len(keys)]
                rr[id(cl)] += 1
                cl.send({"type": "execute", "session": key}, [b"x = 1"])
                outstanding[id(cl)] += 1

        for cl, keys in zip(clients, sessions):
            refill(cl, keys)
        by_sock = {cl.sock: (cl, keys) for cl, keys in zip(clients, sessions)}
        t_start = time.perf_counter()
        t_count, counted, replies, errors = t_start + 0.5, None, 0, 0
        end = t_count + seconds
        while True:
            now = time.perf_counter()
            if counted is None and now >= t_count:
                counted, t_count = replies, now
            if now >= end:
                break
            ready = dict(poller.poll(5000))
            if not ready:
                raise RuntimeError("no reply within 5 s")
            for sock in ready:
                cl, keys = by_sock[sock]
                for header in replies_waiting(sock):
                    if header.get("type") != "reply":
                        continue
                    replies += 1
                    errors += header.get("status") != "ok"
                    outstanding[id(cl)] -= 1
                refill(cl, keys)
        elapsed = time.perf_counter() - t_count
        return {"clients": nclients, "sessions": nclients * per_client,
                "window_per_session": window, "replies": replies - counted,
                "errors": errors, "seconds": elapsed,
                "rate": (replies - counted) / elapsed}
    finally:
        for cl, keys in zip(clients, sessions):
            for key in keys:
                try:
                    cl.send({"type": "close", "session": key})
                except zmq.ZMQError:
                    pass
        time.sleep(0.2)


def mode_live(endpoint, target, budget_s, pidfile, keysfile=None, nclients=4, inflight=8,
              calls=500, mem_floor_mib=None):
    """Opens up to target sessions, each holding a small DataFrame, in
    parallel: nclients DEALER connections with inflight requests each, until
    budget_s runs out, too many fail, or MemAvailable drops under
    mem_floor_mib (the machine is shared: never push it into the OOM
    killer). Then, all of them live, the execute latency of `x = 1` on one
    of them (the active session) and the PSS of every kernel. The sessions
    are left open: the caller stops the broker."""
    clients = [Client(endpoint) for _ in range(nclients)]
    poller = zmq.Poller()
    for cl in clients:
        poller.register(cl.sock, zmq.POLLIN)
    by_sock = {cl.sock: cl for cl in clients}
    mib = 1 << 20
    before = meminfo()
    if mem_floor_mib is None:
        mem_floor_mib = max(2048, before["MemTotal"] / mib * 0.10)
    code = b'import pandas as pd; df = pd.DataFrame({"a": range(100)})'
    tag = uuid.uuid4().hex[:6]
    pending = {cl.sock: {} for cl in clients}
    opened, times = [], []
    errors, first_error, issued = 0, None, 0
    stopped_by = "target"
    low_mem = False
    t_start = time.monotonic()
    t_end = t_start + budget_s
    t_mem = 0.0
    while True:
        now = time.monotonic()
        if now >= t_end and issued < target and stopped_by == "target":
            stopped_by = "budget"
        if now - t_mem >= 0.25:
            t_mem = now
            if meminfo()["MemAvailable"] / mib < mem_floor_mib:
                low_mem = True
                stopped_by = "memory floor"
        total_errors_cap = nclients * inflight
        if errors >= total_errors_cap and stopped_by == "target":
            stopped_by = "errors"
        for cl in clients:
            mine = pending[cl.sock]
            while (issued < target and len(mine) < inflight and errors < total_errors_cap
                   and not low_mem and now < t_end):
                key = f"bench-live{issued}-{tag}"
                rid = cl.send({"type": "execute", "session": key}, [code])
                mine[rid] = (key, time.perf_counter())
                issued += 1
        if not any(pending.values()):
            break
        ready = dict(poller.poll(REQUEST_TIMEOUT_S * 1000))
        if not ready:
            raise RuntimeError(f"no reply within {REQUEST_TIMEOUT_S} s with "
                               f"{len(opened)} sessions open")
        for sock in ready:
            for header in replies_waiting(sock):
                mine = pending[sock]
                if header.get("type") != "reply" or header.get("id") not in mine:
                    continue
                key, t0 = mine.pop(header["id"])
                if header.get("status") == "ok":
                    opened.append(key)
                    times.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1
                    first_error = first_error or {k: header.get(k)
                                                  for k in ("status", "code", "message")}
    open_s = time.monotonic() - t_start
    if not opened:
        raise RuntimeError(f"no session opened: {first_error}")
    if keysfile:
        with open(keysfile, "w") as f:
            f.write("\n".join(opened))
    c = clients[0]
    time.sleep(1.0)
    active = opened[len(opened) // 2]
    for _ in range(50):
        c.ok({"type": "execute", "session": active}, [b"x = 1"])
    exec_ms = []
    for _ in range(calls):
        t = time.perf_counter()
        c.ok({"type": "execute", "session": active}, [b"x = 1"])
        exec_ms.append((time.perf_counter() - t) * 1000)
    stats, _ = c.ok({"type": "stats"}, timeout_s=30)
    mine = [e for e in stats["session_list"] if e["session"].endswith(tag)]
    mon_pss = exe_pss = 0
    zygotes = set()
    gone = 0
    for e in mine:
        try:
            monitor, executor = session_pids(e, pidfile)
            mon_pss += smaps_rollup(monitor)[1]
            exe_pss += smaps_rollup(executor)[1]
            parent = ppid(executor)
            if parent != monitor:
                zygotes.add(parent)
        except (OSError, RuntimeError):
            gone += 1
    zyg_pss = 0
    for z in zygotes:
        try:
            zyg_pss += smaps_rollup(z)[1]
        except OSError:
            pass
    after = meminfo()
    total = mon_pss + exe_pss + zyg_pss
    measured = max(1, len(mine) - gone)
    return {"target": target, "budget_s": budget_s, "clients": nclients,
            "inflight": nclients * inflight, "stopped_by": stopped_by,
            "mem_floor_mib": mem_floor_mib,
            "reached": len(opened), "live_in_stats": len(mine), "unmeasured": gone,
            "errors": errors, "first_error": first_error,
            "open_s": open_s, "open": latency(times),
            "active": latency(exec_ms),
            "pss_total_mib": total / mib, "monitors_pss_mib": mon_pss / mib,
            "executors_pss_mib": exe_pss / mib, "zygote_pss_mib": zyg_pss / mib,
            "zygotes": len(zygotes),
            "pss_per_session_mib": total / mib / measured,
            "memavail_before_mib": before["MemAvailable"] / mib,
            "memavail_after_mib": after["MemAvailable"] / mib,
            "mem_total_mib": before["MemTotal"] / mib}


def mode_restart(endpoint, keysfile, killed_at):
    with open(keysfile) as f:
        keys = f.read().split()
    c = Client(endpoint)
    probe = keys[len(keys) // 2]
    while True:
        reply, _ = c.request({"type": "execute", "session": probe}, [b"len(df)"],
                             timeout_s=120)
        if reply.get("status") == "ok":
            break
        time.sleep(0.01)            #  the broker is up but still settling
    first_s = time.time() - killed_at
    intact = lost = errors = 0
    pending, issued = {}, 0
    while issued < len(keys) or pending:
        while issued < len(keys) and len(pending) < 8:
            rid = c.send({"type": "execute", "session": keys[issued]}, [b"len(df)"])
            pending[rid] = keys[issued]
            issued += 1
        if not c.sock.poll(REQUEST_TIMEOUT_S * 1000):
            raise RuntimeError("no reply within %d s" % REQUEST_TIMEOUT_S)
        frames = c.sock.recv_multipart()
        header = msgpack.unpackb(frames[1])
        if header.get("type") != "reply" or header.get("id") not in pending:
            continue
        pending.pop(header["id"])
        if header.get("status") != "ok":
            errors += 1
        elif header.get("state_lost"):
            lost += 1
        else:
            intact += 1
    return {"sessions": len(keys), "first_answer_s": first_s, "intact": intact,
            "state_lost": lost, "errors": errors,
            "all_checked_s": time.time() - killed_at}


def mode_snapshot(endpoint, state_dir, mb):
    import pickle
    import numpy as np
    import pandas as pd
    cols = 8
    rows = int(mb * 1e6 / 8 / cols)
    code = ("import numpy as np, pandas as pd\n"
            "df = pd.DataFrame(np.random.default_rng(1).random((%d, %d)), "
            "columns=[f'c{i}' for i in range(%d)])" % (rows, cols, cols)).encode()
    local = pd.DataFrame(np.random.default_rng(1).random((rows, cols)),
                         columns=[f"c{i}" for i in range(cols)])
    t = time.perf_counter()
    blob = pickle.dumps(local, protocol=5)
    pickle_dump_s = time.perf_counter() - t
    t = time.perf_counter()
    pickle.loads(blob)
    pickle_load_s = time.perf_counter() - t
    del blob, local
    c = Client(endpoint)
    key = "bench-snap-" + uuid.uuid4().hex[:6]
    c.ok({"type": "execute", "session": key}, [code], timeout_s=120)
    while any(e["session"] == key for e in c.ok({"type": "stats"})[0]["session_list"]):
        time.sleep(0.01)
    evicted_at = time.perf_counter()
    snap = os.path.join(state_dir, "s-%s.snap" % key)
    pending = os.path.join(state_dir, "s-%s.pending" % key)
    while not os.path.exists(snap) or os.path.exists(pending):
        if time.perf_counter() - evicted_at > 120:
            raise RuntimeError("no snapshot stored within 120 s")
        time.sleep(0.005)
    snapshot_s = time.perf_counter() - evicted_at
    size = os.path.getsize(snap)
    t = time.perf_counter()
    reply, _ = c.ok({"type": "execute", "session": key}, [b"df.shape[0]"], timeout_s=180)
    restore_s = time.perf_counter() - t
    if not reply.get("restored"):
        raise RuntimeError("the session did not come back restored: %s" % reply)
    fresh = key + "-fresh"
    t = time.perf_counter()
    c.ok({"type": "execute", "session": fresh}, [b"1"])
    fresh_s = time.perf_counter() - t
    for k in (key, fresh):
        c.request({"type": "close", "session": k})
    return {"mb": mb, "blob_bytes": size, "snapshot_s": snapshot_s,
            "restore_first_request_s": restore_s, "fresh_first_request_s": fresh_s,
            "pickle_dump_s": pickle_dump_s, "pickle_load_s": pickle_load_s}


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "rtt":
        out = mode_rtt(args[0], int(args[1]))
    elif mode == "sessions":
        out = mode_sessions(args[0], int(args[1]), args[2],
                            float(args[3]) if len(args) > 3 else 0.0,
                            not (len(args) > 4 and args[4] == "nomem"))
    elif mode == "live":
        out = mode_live(args[0], int(args[1]), float(args[2]), args[3],
                        keysfile=args[4] if len(args) > 4 and args[4] != "-" else None,
                        nclients=int(args[5]) if len(args) > 5 else 4,
                        inflight=int(args[6]) if len(args) > 6 else 8,
                        calls=int(args[7]) if len(args) > 7 else 500,
                        mem_floor_mib=float(args[8]) if len(args) > 8 and args[8] else None)
    elif mode == "pyrtt":
        out = mode_pyrtt(args[0], int(args[1]))
    elif mode == "restart":
        out = mode_restart(args[0], args[1], float(args[2]))
    elif mode == "snapshot":
        out = mode_snapshot(args[0], args[1], float(args[2]))
    elif mode == "upload":
        out = mode_upload(args[0], args[1], int(args[2]))
    elif mode == "execload":
        out = mode_execload(args[0], int(args[1]), int(args[2]), float(args[3]),
                            int(args[4]))
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


main()
