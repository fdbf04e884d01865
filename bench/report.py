#!/usr/bin/python3
"""Prints the `make bench` table from the JSON results bench/run.sh left in
RESULTS_DIR (one NAME.json per benchmark; a missing one is a failed step).
Every figure stands beside its anchors of the same run and against its
target from issue 13 (DESIGN.md section 7): "met", or "short by N×", N being
how far the figure is from the target (for a "≤" target figure / target,
for a "≥" one target / figure; the larger when a row has several).
Latencies are median / p99.

usage: report.py RESULTS_DIR
"""
import json, os, sys

RES = sys.argv[1]
try:
    sys.stdout.reconfigure(encoding="utf-8")
except AttributeError:
    pass


def load(name):
    try:
        with open(os.path.join(RES, name + ".json")) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def info(name):
    try:
        with open(os.path.join(RES, name)) as f:
            return f.read().strip()
    except OSError:
        return "?"


FAILED = "failed (see log)"
INFO = "- (no issue-13 target)"
QUICK = os.path.exists(os.path.join(RES, "quick"))


def lat(r):
    if not r:
        return FAILED
    return f"{r['median_ms']:.3f} / p99 {r['p99_ms']:.2f} ms"


def lat_s(r):
    if not r:
        return FAILED
    return f"{r['median_ms']:.1f} / p99 {r['p99_ms']:.1f} ms"


def secs(median, every):
    """median / worst of every run, in seconds (a p99 needs more runs than these)."""
    if every and len(every) > 1:
        return f"{median:.3f} / worst {max(every):.3f} s (of {len(every)})"
    return f"{median:.3f} s"


def verdict(*shortfalls):
    """shortfalls: figure/target (for <=) or target/figure (for >=), each
    <= 1 when met. "met" or "short by N×" with N the largest."""
    worst = max(shortfalls)
    if worst <= 1.0:
        return "met"
    return f"short by {worst:.2f}×" if worst < 10 else f"short by {worst:.0f}×"


def row(figure, kmq, anchor, ratio, target, met):
    rows.append((figure, kmq, anchor, ratio, target, met))


rows = []   # (figure, kernelmq, anchor, ratio, target, verdict)

# ---------------------------------------------------------------- 1. round trip
floor, floor_curve, kmq_c, kmq_py, kmq_pc, ipy = (load(n) for n in (
    "floor_rtt", "floor_rtt_curve", "kmq_rtt_c", "kmq_rtt_py", "kmq_rtt_pyclient", "ipy_rtt"))
calls = (kmq_c or kmq_pc or kmq_py or ipy or floor or {}).get("calls", "?")
ipy_s = "ipykernel (jupyter_client): " + lat(ipy)
# kmq's client hop is CURVE (tcp): its like-for-like floor is the echo with
# CURVE on the same hop; the plain echo is shown beside it.
if kmq_c and floor_curve:
    x = kmq_c["median_ms"] / floor_curve["median_ms"]
    r = (f"{x:.2f}× the CURVE echo" + (f" ({kmq_c['median_ms'] / floor['median_ms']:.2f}× the "
                                        "plain one)" if floor else "")
         + (f"; {ipy['median_ms'] / kmq_c['median_ms']:.1f}× faster than ipykernel" if ipy else ""))
    m = verdict(x / 1.6)
else:
    r, m = "-", FAILED
row(f"1 execute x=1 round trip ({calls} calls), C client (libkmq), CURVE on the client hop",
    lat(kmq_c), "C two-hop echo via ROUTER/ROUTER proxy, CURVE on the client hop: "
    + lat(floor_curve) + "; the same without CURVE: " + lat(floor) + "; " + ipy_s, r,
    "≤ 1.6× the two-hop C echo", m)
if kmq_pc and kmq_c:
    x = kmq_pc["median_ms"] / kmq_c["median_ms"]
    r, m = f"{x:.2f}× the C client", verdict(x / 1.3)
else:
    r, m = "-", FAILED
row("1 execute x=1 round trip, Python client (client/python kernelmq.Client)", lat(kmq_pc),
    "C client, as above: " + lat(kmq_c) + "; " + ipy_s, r, "≤ 1.3× the C client", m)
if kmq_py and kmq_c:
    r = (f"{kmq_py['median_ms'] / kmq_c['median_ms']:.2f}× the C client"
         + (f"; {ipy['median_ms'] / kmq_py['median_ms']:.1f}× faster than ipykernel" if ipy else ""))
else:
    r = "-"
row("1 execute x=1 round trip, raw Python DEALER (pyzmq + msgpack, no client library)",
    lat(kmq_py), "C client, as above", r, INFO, "-" if kmq_py else FAILED)

# ---------------------------------------------------------------- 2. session start
ks, ips = load("kmq_sessions"), load("ipy_sessions")
ni = (ips or {}).get("sessions", "?")
ips_start = (f"ipykernel start to the reply of its first cell `import pandas as pd` "
             f"({ni} kernels): " + lat_s((ips or {}).get("start")))


def faster(z):
    return f"{ips['start']['median_ms'] / z['start']['median_ms']:.0f}× faster than ipykernel" \
        if ips and z else "-"


has_zygote = os.path.exists(os.path.join(RES, "has_zygote"))
for name, label, med_limit, p99_ratio in (
        ("kmq_sessions_warm", "warm pool (--zygote, pool 2, starts 0.5 s apart)", 5, 2),
        ("kmq_sessions_empty", "pool empty (--zygote, pool 0)", 15, None)):
    z = load(name)
    target = f"≤ {med_limit} ms median" + (f", p99 ≤ {p99_ratio}× median" if p99_ratio else "")
    if z:
        med, p99 = z["start"]["median_ms"], z["start"]["p99_ms"]
        short = [med / med_limit] + ([p99 / med / p99_ratio] if p99_ratio else [])
        r = faster(z) + (f"; p99 {p99 / med:.1f}× median" if p99_ratio else "")
        row(f"2 new session to first result ({z['sessions']} sessions), {label}",
            lat_s(z["start"]), ips_start, r, target, verdict(*short))
        ips_start = "ipykernel, as above"
    else:
        row(f"2 new session to first result, {label}",
            FAILED if has_zygote else "n/a (no zygote)", ips_start, "-", target,
            FAILED if has_zygote else "n/a")
row(f"2 new session to first result ({(ks or {}).get('sessions', '?')} sessions), default "
    "broker (zygote, pool 2), back to back (the pool drains)",
    lat_s((ks or {}).get("start")), "ipykernel, as above", faster(ks), INFO,
    "-" if ks else FAILED)
knz = load("kmq_sessions_nozyg")
if knz:
    row(f"2 new session to first result ({knz['sessions']} sessions), --zygote false (each "
        "kernel forks its own executor: CPython + pandas import)",
        lat_s(knz["start"]), "ipykernel, as above", faster(knz), INFO, "-")

# ---------------------------------------------------------------- 3. memory
imem = (f"ipykernel, pandas imported ({ni} idle): USS {ips['uss_mib']:.1f} MiB, "
        f"PSS {ips['pss_mib']:.1f} MiB") if ips else "ipykernel: " + FAILED
if ks:
    row(f"3 memory per idle session, median over {ks['sessions']} live sessions, default "
        "broker (monitor + executor via stats executor_pid, smaps_rollup)",
        f"PSS {ks['pss_mib']:.1f} MiB; USS {ks['uss_mib']:.1f} MiB (monitor "
        f"{ks['monitor_uss_mib']:.1f} + executor {ks['executor_uss_mib']:.1f})", imem,
        f"PSS {ips['pss_mib'] / ks['pss_mib']:.1f}× smaller" if ips else "-",
        "≤ 6 MiB PSS", verdict(ks["pss_mib"] / 6))
else:
    row("3 memory per idle session", FAILED, imem, "-", "≤ 6 MiB PSS", FAILED)
if knz:
    row(f"3 memory per idle session, --zygote false ({knz['sessions']} sessions)",
        f"PSS {knz['pss_mib']:.1f} MiB; USS {knz['uss_mib']:.1f} MiB (monitor "
        f"{knz['monitor_uss_mib']:.1f} + executor {knz['executor_uss_mib']:.1f})",
        "ipykernel, as above",
        f"PSS {ips['pss_mib'] / knz['pss_mib']:.1f}× smaller" if ips else "-", INFO, "-")

# ---------------------------------------------------------------- 4. live sessions
live, lstop = load("kmq_live"), load("live_stop")
want = 3000
if live:
    reached, asked = live["reached"], live["target"]
    if QUICK:
        want = min(want, asked)
    a = live["active"]
    pss = live["pss_per_session_mib"]
    kl = (f"{reached} held; active session x=1 {a['median_ms']:.3f} / p99 {a['p99_ms']:.2f} ms "
          f"({a['calls']} calls); PSS {pss:.1f} MiB/session")
    detail = (f"{reached} of {asked} opened in {live['open_s']:.1f} s ({live['clients']} "
              f"connections, {live['inflight']} in flight; open {live['open']['median_ms']:.0f} / "
              f"p99 {live['open']['p99_ms']:.0f} ms; stopped by {live['stopped_by']}; errors "
              f"{live['errors']}" + (f", first {live['first_error']}" if live["first_error"] else "")
              + f"); PSS total {live['pss_total_mib'] / 1024:.2f} GiB = monitors "
              f"{live['monitors_pss_mib']:.0f} + executors {live['executors_pss_mib']:.0f} + "
              f"zygote {live['zygote_pss_mib']:.0f} MiB; MemAvailable "
              f"{live['memavail_before_mib'] / 1024:.1f} -> {live['memavail_after_mib'] / 1024:.1f} "
              f"GiB of {live['mem_total_mib'] / 1024:.1f}")
    if lstop:
        detail += (f"; kmq shutdown --sessions: {lstop['stop_s']} s (deadline "
                   f"{lstop.get('deadline_s', '?')} s), {lstop['left']} processes then killed")
    m = verdict(want / max(1, reached), a["p99_ms"] / 2, pss / 6)
    row("4 live sessions, each holding a small DataFrame, default broker (zygote on)"
        + f": {detail}", kl, "-", "-",
        f"≥ {want:,} held" + (" (quick run: 3,000 in the full run)" if QUICK else "")
        + ", active p99 ≤ 2 ms, ≤ 6 MiB PSS each", m)
else:
    row("4 live sessions, each holding a small DataFrame", FAILED, "-", "-",
        "≥ 3,000 held, active p99 ≤ 2 ms, ≤ 6 MiB PSS each", FAILED)

# ---------------------------------------------------------------- 5. upload, download
up, ip = load("kmq_upload"), load("inproc_csv")
mb = (up or ip or {}).get("bytes", 0) / 1e6
if up and ip:
    x = up["upload_s"] / ip["read_csv_s"]
    row(f"5 upload a {mb:.0f} MB CSV -> DataFrame ({up['rows']} rows x {up['columns']})",
        secs(up["upload_s"], up.get("upload_all_s")),
        "pandas.read_csv(BytesIO) in-process: " + secs(ip["read_csv_s"], ip.get("read_all_s")),
        f"{x:.2f}× in-process", "≤ 1.10× in-process read_csv", verdict(x / 1.10))
    row("5 download the same frame as csv (to_csv in the executor)",
        secs(up["download_s"], up.get("download_all_s")),
        "df.to_csv(index=False) in-process: " + secs(ip["to_csv_s"], ip.get("to_csv_all_s")),
        f"{up['download_s'] / ip['to_csv_s']:.2f}× in-process", INFO, "-")
else:
    row(f"5 upload a {mb:.0f} MB CSV -> DataFrame", FAILED if not up else "",
        "pandas.read_csv in-process: " + (FAILED if not ip else f"{ip['read_csv_s']:.3f} s"),
        "-", "≤ 1.10× in-process read_csv", FAILED)

fr = load("kmq_frame")
if fr:
    pickle_s = fr["pickle_dumps_s"] + fr["pickle_loads_s"]
    anchor = (f"pickle dumps+loads in-process: {pickle_s:.3f} s; df.copy(): {fr['copy_s']:.3f} s; "
              f"through kmq as csv: down {fr['csv_down_s']:.2f} s, up {fr['csv_up_s']:.2f} s")
    for way, key, csv_key in (("download", "frame_down_s", "csv_down_s"),
                              ("upload", "frame_up_s", "csv_up_s")):
        x, y = fr[key] / pickle_s, fr[csv_key] / fr[key]
        row(f"5 {way} a {fr['mb']:.0f} MB numeric DataFrame as frame (Python client, "
            f"{fr['rows']} rows x 8)", secs(fr[key], fr.get(key.replace("_s", "_all_s"))),
            anchor, f"{x:.2f}× pickle, {y:.0f}× faster than csv",
            "≤ 3× pickle, ≥ 10× faster than csv", verdict(x / 3, 10 / y))
        anchor = "(same run)"
else:
    row("5 DataFrame up and down as frame (Python client)", FAILED, "", "-",
        "≤ 3× pickle, ≥ 10× faster than csv", FAILED)

# ---------------------------------------------------------------- 6. throughput
hb, hbf, st, ex, exf, hbc, hbi = (load(n) for n in (
    "kmq_tput_hb", "floor_tput_hb", "kmq_tput_stats", "kmq_tput_exec", "floor_tput_exec",
    "floor_tput_hb_curve", "kmq_tput_hb_insecure"))


def rate(r):
    return f"{r['rate'] / 1000:.1f} k msg/s" if r else FAILED


cfg = f"{hb['clients']} DEALERs x {hb['window']} in flight" if hb else "4 DEALERs x 16 in flight"
# Like for like: the default broker (CURVE) against the echo with CURVE, and
# the broker run --insecure against the plain echo; the row meets its target
# only if both pairs do.
if hb and hbc and hbi and hbf:
    x, y = hb["rate"] / hbc["rate"], hbi["rate"] / hbf["rate"]
    r, m = (f"{x:.2f}× the CURVE echo; --insecure {y:.2f}× the plain echo (default broker "
            f"{hb['rate'] / hbf['rate']:.2f}× the plain echo)"), verdict(0.6 / x, 0.6 / y)
else:
    r, m = "-", FAILED
row(f"6 broker routing, small messages: client heartbeats answered by the broker ({cfg}, "
    "C load generator): default broker (CURVE); --insecure broker", rate(hb) + "; --insecure "
    + rate(hbi), "raw libzmq ROUTER echoing each message, same load: CURVE " + rate(hbc)
    + "; plain " + rate(hbf), r, "≥ 0.6× the raw ROUTER echo", m)
row("6 broker: stats requests answered by the broker", rate(st), "", "-", INFO,
    "-" if st else FAILED)
if ex:
    row(f"6 small executes x=1 through kernels ({ex['clients']} clients x "
        f"{ex['sessions'] // ex['clients']} sessions, {ex['window_per_session']} in flight per "
        f"session, raw Python DEALER; errors {ex['errors']})", rate(ex),
        "C echo via proxy + 1 worker (4 clients x 16 in flight): " + rate(exf), "-", INFO, "-")
else:
    row("6 small executes through kernels", FAILED, "", "-", INFO, FAILED)

# ---------------------------------------------------------------- 7. HTTP
hr, ht = load("http_rtt"), load("http_tput_exec")
if hr:
    row("7 HTTP execute x=1 round trip through kmq-http, keep-alive (Python http.client)",
        lat(hr), "kmq C client: " + lat(kmq_c) + "; Python client: " + lat(kmq_pc),
        f"{hr['median_ms'] / kmq_c['median_ms']:.2f}× the C client" if kmq_c else "-", INFO, "-")
else:
    row("7 HTTP execute round trip through kmq-http", FAILED, "", "-", INFO, FAILED)
if ht:
    hl = ht.get("latency")
    row(f"7 HTTP executes x=1 through kmq-http under load ({ht['connections']} connections, one "
        f"session each, one request at a time; errors {ht['errors']}): rate; latency",
        rate(ht) + "; " + (lat(hl) if hl else "no latency recorded"),
        "raw Python DEALER, as in 6: " + rate(ex),
        f"{ht['rate'] / ex['rate']:.2f}× the ZeroMQ client" if ex else "-", INFO, "-")
else:
    row("7 HTTP executes per second through kmq-http", FAILED, "", "-", INFO, FAILED)

# ---------------------------------------------------------------- 8. restart, snapshots
rs = load("kmq_restart")
if rs:
    row(f"8 broker SIGKILLed and restarted with {rs['sessions']} live sessions: kill to the "
        "first answered request (one measurement); then len(df) on every session",
        f"{rs['first_answer_s'] * 1000:.0f} ms; {rs['intact']} of {rs['sessions']} intact, "
        f"{rs['state_lost']} lost, {rs['errors']} errors (all checked "
        f"{rs['all_checked_s']:.1f} s after the kill)", "-", "-",
        "≤ 1 s, all intact (DESIGN 7)",
        verdict(rs["first_answer_s"] / 1.0, rs["sessions"] / max(1, rs["intact"])))
else:
    row("8 broker restart with live sessions", FAILED, "", "-", "≤ 1 s, all intact (DESIGN 7)",
        FAILED)
sn = load("kmq_snapshot")
if sn:
    pk = sn["pickle_dump_s"] + sn["pickle_load_s"]
    row(f"8 a {sn['mb']:.0f} MB numeric DataFrame evicted and restored: snapshot stored / the "
        "restoring request (one measurement each)",
        f"{sn['snapshot_s'] * 1000:.0f} / {sn['restore_first_request_s'] * 1000:.0f} ms "
        f"(blob {sn['blob_bytes'] / 1e6:.0f} MB)",
        f"pickle dumps + loads in-process {pk * 1000:.0f} ms; a fresh session's first request "
        f"{sn['fresh_first_request_s'] * 1000:.0f} ms",
        f"{(sn['snapshot_s'] + sn['restore_first_request_s']) / pk:.1f}× pickle", INFO, "-")
else:
    row("8 snapshot and restore of a DataFrame", FAILED, "", "-", INFO, FAILED)

head = ("figure", "kernelmq", "anchor (same run)", "ratio", "issue-13 target", "met?")
title = "kernelmq benchmarks"
if QUICK:
    title += f"  -- QUICK RUN (KMQ_BENCH_QUICK=1: {info('quick')}): for development, not figures"
print(f"{title}  {info('date')}")
print(f"machine: {info('machine')}")
print(f"load average before / after: {info('load_before')} / {info('load_after')}")
print()
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" for _ in head) + "|")
for r in rows:
    print("| " + " | ".join(str(c) for c in r) + " |")
print()
short = sum(1 for r in rows if r[5].startswith("short"))
met_n = sum(1 for r in rows if r[5] == "met")
failed = sum(1 for r in rows if r[5] == FAILED or r[1] == FAILED)
print(f"Targets: {met_n} met, {short} short, {failed} rows failed."
      + (" QUICK RUN: small sizes, few calls; do not quote these figures." if QUICK else ""))
print("Notes: latencies are client-side wall time, median / p99 (figures of a few runs: median / "
      "worst). \"short by N×\": how far from the target (figure / target for a ceiling, target "
      "/ figure for a floor; the largest of a row's parts). msg/s counts requests answered per "
      "second (each is one message into the broker and one out). Round-trip clients send one "
      "request at a time. The two-hop echo and the throughput load generator are "
      "bench/zbench.c (raw libzmq, frames built by the kmq codec). Memory: PSS from "
      "smaps_rollup (zygote-forked executors share pages with the zygote, so PSS splits them); "
      "USS = Private_Clean + Private_Dirty. This machine is shared: compare ratios within one run.")
