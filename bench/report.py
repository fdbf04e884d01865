#!/usr/bin/python3
"""Prints the `make bench` table from the JSON results bench/run.sh left in
RESULTS_DIR (one NAME.json per benchmark; a missing one is a failed step).

usage: report.py RESULTS_DIR
"""
import json, os, sys

RES = sys.argv[1]


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


def lat(r):
    if not r:
        return FAILED
    return f"{r['median_ms']:.3f} / {r['p99_ms']:.2f} ms"


def lat_s(r):
    if not r:
        return FAILED
    return f"{r['median_ms']:.0f} / {r['p99_ms']:.0f} ms"


def met(ok):
    return "yes" if ok else "NO"


rows = []   # (figure, kernelmq, anchor, ratio, target, met)

floor, kmq_c, kmq_py, ipy = (load(n) for n in ("floor_rtt", "kmq_rtt_c", "kmq_rtt_py", "ipy_rtt"))
calls = (kmq_c or kmq_py or ipy or floor or {}).get("calls", "?")
if kmq_c and ipy:
    x = ipy["median_ms"] / kmq_c["median_ms"]
    r, m = f"{x:.1f}x faster", met(x >= 15)
else:
    r, m = "-", "?"
rows.append((f"1 execute x=1 RTT, med / p99 ({calls} calls), kmq C client (libkmq)",
             lat(kmq_c), "ipykernel (jupyter_client): " + lat(ipy), r,
             ">= 15x faster than ipykernel", m))
if kmq_c and floor:
    x = kmq_c["median_ms"] / floor["median_ms"]
    r, m = f"{x:.2f}x the floor", met(x <= 1.6)
else:
    r, m = "-", "?"
rows.append(("1 execute x=1 RTT vs the floor (same figure)", lat(kmq_c),
             "C 2-hop echo via ROUTER/ROUTER proxy: " + lat(floor), r,
             "<= 1.6x the two-hop echo", m))
if kmq_py and ipy:
    r = f"{ipy['median_ms'] / kmq_py['median_ms']:.1f}x faster than ipykernel"
else:
    r = "-"
rows.append(("1 execute x=1 RTT, kmq raw Python DEALER client (info)", lat(kmq_py),
             "", r, "-", "-"))

ks, ips = load("kmq_sessions"), load("ipy_sessions")
n = (ks or {}).get("sessions", "?")
ni = (ips or {}).get("sessions", "?")
if ks and ips:
    x = ips["start"]["median_ms"] / ks["start"]["median_ms"]
    r = f"{x:.1f}x faster"
    med = ks["start"]["median_ms"]
    m = met(med <= 20) + ("" if med <= 20 else f" ({med / 20:.1f}x over 20 ms)")
else:
    r, m = "-", "?"
rows.append((f"2 new session to first result, med / p99 ({n} sessions), "
             "default broker (zygote, pool 2, back to back)",
             lat_s((ks or {}).get("start")),
             f"ipykernel start to reply of first cell `import pandas as pd` "
             f"(kmq's first cell is the same) ({ni} kernels): " + lat_s((ips or {}).get("start")),
             r, "<= 20 ms (pool empty) / 5 ms (warm)", m))
knz = load("kmq_sessions_nozyg")
if knz:
    rows.append((f"2 new session to first result, --zygote false (kernel forks its own "
                 f"executor: CPython + pandas import) ({knz['sessions']} sessions)",
                 lat_s(knz["start"]), "ipykernel, as above",
                 f"{ips['start']['median_ms'] / knz['start']['median_ms']:.1f}x faster" if ips else "-",
                 "-", "-"))
has_zygote = os.path.exists(os.path.join(RES, "has_zygote"))
for name, label, limit in (("kmq_sessions_warm", "warm pool (--zygote, pool 2, starts 0.5 s apart)", 5),
                           ("kmq_sessions_empty", "pool empty (--zygote, pool 0)", 20)):
    z = load(name)
    if z:
        med = z["start"]["median_ms"]
        r = f"{ips['start']['median_ms'] / med:.0f}x faster" if ips else "-"
        m = met(med <= limit) + ("" if med <= limit else f" ({med / limit:.1f}x over)")
        rows.append((f"2 new session to first result, {label}",
                     f"{med:.1f} / {z['start']['p99_ms']:.1f} ms",
                     "ipykernel, as above", r, f"<= {limit} ms median", m))
    else:
        rows.append((f"2 new session to first result, {label.split(' (')[0]}",
                     FAILED if has_zygote else "n/a (no zygote yet)", "", "-",
                     f"<= {limit} ms median", "?" if has_zygote else "n/a"))

if ks:
    kmem = (f"USS {ks['uss_mib']:.1f} MiB (monitor {ks['monitor_uss_mib']:.1f} + "
            f"executor {ks['executor_uss_mib']:.1f}), PSS {ks['pss_mib']:.1f} MiB")
else:
    kmem = FAILED
imem = (f"ipykernel, pandas imported ({ni} idle): USS {ips['uss_mib']:.1f} MiB, "
        f"PSS {ips['pss_mib']:.1f} MiB") if ips else "ipykernel: " + FAILED
if ks and ips:
    r = f"USS {ips['uss_mib'] / ks['uss_mib']:.2f}x smaller"
    m = met(ks["uss_mib"] <= 8) + ("" if ks["uss_mib"] <= 8 else
                                   f" ({ks['uss_mib'] / 8:.1f}x over)")
else:
    r, m = "-", "?"
rows.append((f"3 memory per idle session, median over {n} live sessions, default broker "
             "(zygote on; monitor + executor via stats executor_pid, smaps_rollup)",
             kmem, imem, r, "<= 8 MiB USS", m))
if knz:
    x = knz["uss_mib"]
    rows.append((f"3 memory per idle session, --zygote false ({knz['sessions']} sessions)",
                 f"USS {x:.1f} MiB (monitor {knz['monitor_uss_mib']:.1f} + executor "
                 f"{knz['executor_uss_mib']:.1f}), PSS {knz['pss_mib']:.1f} MiB",
                 "ipykernel, as above",
                 f"USS {ips['uss_mib'] / x:.2f}x smaller" if ips else "-", "<= 8 MiB USS",
                 met(x <= 8) + ("" if x <= 8 else f" ({x / 8:.1f}x over)")))

live, lstop = load("kmq_live"), load("live_stop")
if live:
    reached, target = live["reached"], live["target"]
    a = live["active"]
    kl = (f"{reached} of {target} reached in {live['open_s']:.0f} s ({live['inflight']} in flight, "
          f"open med {live['open']['median_ms']:.0f} ms; errors {live['errors']}"
          + (f", first {live['first_error']}" if live["first_error"] else "") + "); "
          f"x=1 on one of them: {a['median_ms']:.2f} / p99 {a['p99_ms']:.2f} ms ({a['calls']} calls); "
          f"PSS total {live['pss_total_mib'] / 1024:.2f} GiB = monitors "
          f"{live['monitors_pss_mib']:.0f} + executors {live['executors_pss_mib']:.0f} + zygote "
          f"{live['zygote_pss_mib']:.0f} MiB ({live['pss_per_session_mib']:.1f} MiB/session); "
          f"MemAvailable {live['memavail_before_mib'] / 1024:.1f} -> "
          f"{live['memavail_after_mib'] / 1024:.1f} GiB of {live['mem_total_mib'] / 1024:.1f}")
    if lstop:
        kl += f"; kmq shutdown --sessions: {lstop['stop_s']} s, {lstop['left']} processes left then"
    ok = reached >= 1000 and a["p99_ms"] <= 5
    m = met(ok) + ("" if ok else f" ({reached} sessions, p99 {a['p99_ms']:.1f} ms)")
    r = "-"
else:
    kl, m, r = FAILED, "?", "-"
rows.append(("4 live sessions each with a small DataFrame, default broker (zygote on)", kl,
             "", r, ">= 1000 on 24 GiB, active p99 <= 5 ms", m))

up, ip = load("kmq_upload"), load("inproc_csv")
mb = (up or ip or {}).get("bytes", 0) / 1e6
if up and ip:
    x = up["upload_s"] / ip["read_csv_s"]
    rows.append((f"5 upload {mb:.0f} MB CSV -> DataFrame ({up['rows']} rows x {up['columns']}), "
                 f"median of {len(up['upload_all_s'])}",
                 f"{up['upload_s']:.2f} s", f"pandas.read_csv(BytesIO) in-process: "
                 f"{ip['read_csv_s']:.2f} s", f"{x:.2f}x", "<= 1.15x in-process",
                 met(x <= 1.15) + ("" if x <= 1.15 else f" ({x / 1.15:.2f}x over)")))
    rows.append(("5 download the same frame as csv (to_csv in the executor)",
                 f"{up['download_s']:.2f} s", f"df.to_csv(index=False) in-process: "
                 f"{ip['to_csv_s']:.2f} s", f"{up['download_s'] / ip['to_csv_s']:.2f}x",
                 "-", "-"))
else:
    rows.append(("5 upload / download CSV", FAILED if not up else "", FAILED if not ip else "",
                 "-", "<= 1.15x in-process", "?"))

fr = load("kmq_frame")
if fr:
    pickle_s = fr["pickle_dumps_s"] + fr["pickle_loads_s"]
    anchor = (f"pickle dumps+loads in-process: {pickle_s:.3f} s; df.copy(): {fr['copy_s']:.3f} s; "
              f"through kmq as csv: down {fr['csv_down_s']:.2f} s, up {fr['csv_up_s']:.2f} s")
    for way, key, csv_key in (("download", "frame_down_s", "csv_down_s"),
                              ("upload", "frame_up_s", "csv_up_s")):
        x, y = fr[key] / pickle_s, fr[csv_key] / fr[key]
        ok = x <= 3 and y >= 10
        rows.append((f"5 {way} a {fr['mb']:.0f} MB numeric DataFrame as frame (Python client, "
                     f"{fr['rows']} rows x 8), median", f"{fr[key]:.3f} s", anchor,
                     f"{x:.2f}x pickle, {y:.0f}x faster than csv",
                     "<= 3x pickle, >= 10x faster than csv",
                     met(ok) + ("" if x <= 3 else f" ({x / 3:.2f}x over 3x pickle)")))
        anchor = "(same run)"
else:
    rows.append(("5 DataFrame up and down as frame", FAILED, "", "-",
                 "<= 3x pickle, >= 10x faster than csv", "?"))

hb, hbf, st, ex, exf = (load(n) for n in ("kmq_tput_hb", "floor_tput_hb", "kmq_tput_stats",
                                          "kmq_tput_exec", "floor_tput_exec"))


def rate(r):
    return f"{r['rate'] / 1000:.1f} k/s" if r else FAILED


if hb:
    cfg = f"{hb['clients']} DEALERs x {hb['window']} in flight"
    m = met(hb["rate"] >= 150_000) + ("" if hb["rate"] >= 150_000 else
                                     f" ({hb['rate'] / 150_000:.2f}x of target)")
else:
    cfg, m = "4 DEALERs x 16 in flight", "?"
rows.append((f"6 broker routing: client heartbeats answered by the broker ({cfg}, C load gen)",
             rate(hb), "raw libzmq ROUTER echoing each message, same load: " + rate(hbf),
             f"{hb['rate'] / hbf['rate']:.2f}x raw" if hb and hbf else "-",
             ">= 150 k msg/s", m))
rows.append(("6 broker: stats requests answered by the broker (info)", rate(st), "", "-", "-", "-"))
if ex:
    rows.append((f"6 small executes x=1 through kernels ({ex['clients']} clients x "
                 f"{ex['sessions'] // ex['clients']} sessions, {ex['window_per_session']} "
                 f"in flight per session, Python client; errors {ex['errors']})",
                 rate(ex), "C echo via proxy + 1 worker (4 clients x 16 in flight): " + rate(exf),
                 "-", "-", "-"))
else:
    rows.append(("6 small executes through kernels", FAILED, "", "-", "-", "-"))

hr, ht = load("http_rtt"), load("http_tput_exec")
if hr:
    rows.append(("7 HTTP execute x=1 RTT through kmq-http, keep-alive (Python http.client)",
                 lat(hr), "kmq C client: " + lat(kmq_c) + "; Python DEALER: " + lat(kmq_py),
                 f"{hr['median_ms'] / kmq_c['median_ms']:.2f}x the C client" if kmq_c else "-",
                 "-", "-"))
else:
    rows.append(("7 HTTP execute RTT through kmq-http", FAILED, "", "-", "-", "-"))
if ht:
    rows.append((f"7 HTTP executes x=1 per second through kmq-http ({ht['connections']} "
                 f"connections, one session each, one request at a time; errors {ht['errors']})",
                 rate(ht), "ZeroMQ Python client, as in 6: " + rate(ex),
                 f"{ht['rate'] / ex['rate']:.2f}x the ZeroMQ client" if ex else "-", "-", "-"))
else:
    rows.append(("7 HTTP executes per second through kmq-http", FAILED, "", "-", "-", "-"))

rs = load("kmq_restart")
if rs:
    ok = rs["first_answer_s"] <= 1.0 and rs["intact"] == rs["sessions"]
    rows.append((f"8 broker SIGKILLed and restarted with {rs['sessions']} live sessions: "
                 "kill to the first answered request; then len(df) on every session",
                 f"{rs['first_answer_s'] * 1000:.0f} ms; {rs['intact']} of {rs['sessions']} "
                 f"intact, {rs['state_lost']} lost, {rs['errors']} errors (all checked "
                 f"{rs['all_checked_s']:.1f} s after the kill)",
                 "-", "-", "<= 1 s, all intact",
                 met(ok) + ("" if ok else f" ({rs['first_answer_s']:.2f} s)")))
else:
    rows.append(("8 broker restart with live sessions", FAILED, "", "-", "<= 1 s, all intact", "?"))
sn = load("kmq_snapshot")
if sn:
    pk = sn["pickle_dump_s"] + sn["pickle_load_s"]
    rows.append((f"8 a {sn['mb']:.0f} MB numeric DataFrame evicted and restored: "
                 "snapshot stored / the restoring request",
                 f"{sn['snapshot_s'] * 1000:.0f} / {sn['restore_first_request_s'] * 1000:.0f} ms "
                 f"(blob {sn['blob_bytes'] / 1e6:.0f} MB)",
                 f"pickle dumps + loads in-process {pk * 1000:.0f} ms; a fresh session's "
                 f"first request {sn['fresh_first_request_s'] * 1000:.0f} ms",
                 f"{(sn['snapshot_s'] + sn['restore_first_request_s']) / pk:.1f}x pickle",
                 "-", "-"))
else:
    rows.append(("8 snapshot and restore of a DataFrame", FAILED, "", "-", "-", "-"))

head = ("figure", "kernelmq", "anchor (same run)", "ratio", "DESIGN 7 target", "met")
print(f"kernelmq benchmarks  {info('date')}")
print(f"machine: {info('machine')}")
print(f"load average before / after: {info('load_before')} / {info('load_after')}")
print()
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" for _ in head) + "|")
for row in rows:
    print("| " + " | ".join(str(c) for c in row) + " |")
print()
print("Notes: latencies are client-side wall time, median / p99. msg/s counts requests "
      "answered per second (each is one message into the broker and one out). "
      "RTT clients send one request at a time. The floor and the throughput load "
      "generator are bench/zbench.c (raw libzmq, frames built by the kmq codec). "
      "Memory: USS = Private_Clean + Private_Dirty (zygote-forked executors share "
      "pages with the zygote, so PSS splits them). This machine is shared: compare ratios within one run.")
