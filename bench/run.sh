#!/bin/bash
# `make bench`: bench/run.sh BIN. Runs every kernelmq benchmark beside its
# anchor, measured in the same run, and prints one table (bench/report.py).
#
# Each figure is printed against its issue-13 target ("met" or "short by
# N×"), with a p99 beside every latency. Each step has its own timeout and all
# of them share one budget (BUDGET_S, default 840 s), so the whole run stays
# under 15 minutes. Every kmq step starts its own broker on a free port with
# its own --runtime-dir. Every process started here is killed by its pid on
# exit (and whatever still names this run's temp dir), also on failure or ^C.
# The script exits 0; a failed step shows as "failed (see log)" in the table
# and its log is printed after it.
#
# Knobs (environment; the defaults in brackets are KMQ_BENCH_QUICK=1's):
#   KMQ_BENCH_QUICK     1: a short run for development: every step, small
#                       sizes, the same table marked QUICK (default 0)
#   KMQ_BENCH_SESSIONS  sessions started and held for figures 2-3 (20 [5])
#   KMQ_BENCH_CALLS     execute round trips for figures 1 and 7 (2000 [200])
#   KMQ_BENCH_CSV_MB    size of the CSV and of the DataFrame for figures 5
#                       and 8 (100 [10])
#   KMQ_BENCH_SECONDS   length of each throughput run (5 [1])
#   KMQ_BENCH_LIVE      sessions figure 4 tries to hold at once (3000 [40]);
#                       the live broker gets --max-sessions and
#                       --host-max-sessions LIVE + 10. It stops opening
#                       early if MemAvailable falls under the floor:
#   KMQ_BENCH_LIVE_FLOOR_MIB  that floor in MiB (default max(2 GiB, 10% of RAM))
#   KMQ_BENCH_LIVE_S    seconds figure 4 may spend opening them (300 [30],
#                       less if the budget is short)
#   KMQ_BENCH_LIVE_CLIENTS   DEALER connections figure 4 opens them over (4)
#   KMQ_BENCH_LIVE_INFLIGHT  requests in flight on each of them (8)
#   KMQ_BENCH_BUDGET_S  total time budget (840 [360])
set -u
BIN=$(cd "${1:-bin}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3                     # Debian's python3, never the pyenv one
QUICK=${KMQ_BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    d_sessions=5 d_calls=200 d_csv=10 d_secs=1 d_budget=360 d_live=40 d_live_s=30 d_live_calls=200 LIVE_RESERVE_S=60
else
    QUICK=0
    d_sessions=20 d_calls=2000 d_csv=100 d_secs=5 d_budget=840 d_live=3000 d_live_s=300 d_live_calls=2000 LIVE_RESERVE_S=200
fi
SESSIONS=${KMQ_BENCH_SESSIONS:-$d_sessions}
CALLS=${KMQ_BENCH_CALLS:-$d_calls}
CSV_MB=${KMQ_BENCH_CSV_MB:-$d_csv}
SECONDS_TPUT=${KMQ_BENCH_SECONDS:-$d_secs}
BUDGET_S=${KMQ_BENCH_BUDGET_S:-$d_budget}
LIVE=${KMQ_BENCH_LIVE:-$d_live}
LIVE_S=${KMQ_BENCH_LIVE_S:-$d_live_s}
LIVE_CLIENTS=${KMQ_BENCH_LIVE_CLIENTS:-4}
LIVE_INFLIGHT=${KMQ_BENCH_LIVE_INFLIGHT:-8}
LIVE_FLOOR_MIB=${KMQ_BENCH_LIVE_FLOOR_MIB:-}
LIVE_CALLS=$d_live_calls
export PYDEVD_DISABLE_FILE_VALIDATION=1

T=$(mktemp -d /tmp/kmq-bench.XXXXXX)
# A private copy of the binaries, so a rebuild of BIN during the run does not
# swap the broker or the kernel under a benchmark.
mkdir -p "$T/bin"
for f in kmq-broker kmq-host kmq-kernel kmq-executor kmq kmq-http libkmq.a; do
    cp "$BIN/$f" "$T/bin/" || { echo "bench: $BIN/$f is missing: run make" >&2; rm -rf "$T"; exit 0; }
done
BIN="$T/bin"
RES="$T/res"
PIDS="$T/pids"              # every pid we started or saw started for us
mkdir -p "$RES"
: > "$PIDS"
START=$(date +%s)
FAILED_STEPS=""

log() { echo "bench: $*" >&2; }

# kill_pid PID [PATTERN]: TERM, then KILL after 5 s; with PATTERN, only if
# the process's command line still matches (the pid may have been reused).
kill_pid() {
    local pid=$1 pat=${2:-}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    if [ -n "$pat" ] && ! { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$pat"; then
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

# kill_rundir DIR/: SIGKILL every process whose command line names DIR/
# (only this run's temp dir and what is under it), by pid, in one call.
kill_rundir() {
    local pids
    pids=$(pgrep -f -- "$1" | grep -vx "$$")
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    return 0
}

cleanup() {
    trap - EXIT INT TERM
    local pid pat
    # Steps first (newest first), then what they left: kernels, helpers.
    while read -r pid pat; do
        kill_pid "$pid" "$pat"
    done < <(tac "$PIDS"; sed 's/$/ ipykernel/' "$T/ipy.pids" 2>/dev/null;
             sed 's/$/ kmq-kernel/' "$T/kmq.pids" 2>/dev/null)
    # Whatever is left that names this run's temp dir (brokers' runtime dirs,
    # kernel hosts, zygotes, monitors, executors) is ours: killed by its pid.
    kill_rundir "$T/"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# remaining WANT: seconds this step may take: WANT, capped by the budget.
remaining() {
    local left=$((BUDGET_S - ($(date +%s) - START)))
    [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

# step NAME TIMEOUT CMD...: runs CMD bounded; its last stdout line is the
# JSON result $RES/NAME.json; stderr goes to $T/NAME.err.
step() {
    local name=$1 want=$2; shift 2
    local t; t=$(remaining "$want")
    if [ "$t" -le 5 ]; then
        log "$name: skipped, the time budget is spent"
        FAILED_STEPS="$FAILED_STEPS $name"
        return 1
    fi
    log "$name (at most ${t}s)"
    # In the background so that an interrupted run can kill it by its pid
    # (timeout passes the TERM on to the command).
    timeout -k 5 "$t" "$@" > "$T/$name.out" 2> "$T/$name.err" &
    local pid=$!
    echo "$pid timeout" >> "$PIDS"
    if wait "$pid" && tail -n 1 "$T/$name.out" | $PY -c 'import json,sys; json.loads(sys.stdin.read())' 2>/dev/null; then
        tail -n 1 "$T/$name.out" > "$RES/$name.json"
        return 0
    fi
    log "$name: failed (exit $?)"
    FAILED_STEPS="$FAILED_STEPS $name"
    return 1
}

# start_http: kmq-http (no tokens, loopback) in front of the broker at
# ENDPOINT; sets HTTP_URL and HTTP_PID.
start_http() {
    local port; port=$(free_port)
    HTTP_URL="http://127.0.0.1:$port"
    "$BIN/kmq-http" --listen "127.0.0.1:$port" --endpoint "$ENDPOINT" --no-auth \
        > "$T/http.log" 2>&1 &
    HTTP_PID=$!
    echo "$HTTP_PID kmq-http" >> "$PIDS"
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$HTTP_URL/v1/health" && return 0
        kill -0 "$HTTP_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "kmq-http did not come up (log: $T/http.log)"
    return 1
}

# start_broker NAME [FLAGS...]: a fresh kmq-broker (which starts its kernel
# host); sets ENDPOINT, BROKER_PID and BROKER_RT. restart_broker NAME
# [FLAGS...] starts one again on the same endpoint and runtime dir.
start_broker() {
    local port; port=$(free_port)
    ENDPOINT="tcp://127.0.0.1:$port"
    restart_broker "$@"
}

restart_broker() {
    local name=$1; shift
    BROKER_RT="$T/$name.rt"
    "$BIN/kmq-broker" --frontend "$ENDPOINT" --runtime-dir "$BROKER_RT" "$@" \
        >> "$T/$name.broker.log" 2>&1 &
    BROKER_PID=$!
    echo "$BROKER_PID kmq-broker" >> "$PIDS"
    for _ in $(seq 1 100); do
        if timeout 5 "$BIN/kmq" -e "$ENDPOINT" stats > /dev/null 2>&1; then return 0; fi
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "$name: the broker did not come up (log: $T/$name.broker.log)"
    return 1
}

# stop_broker: ends the broker with its sessions and kernel host (`kmq
# shutdown --sessions`), then kills whatever still names its runtime dir.
stop_broker() {
    [ -n "$BROKER_PID" ] && timeout 10 "$BIN/kmq" -e "$ENDPOINT" shutdown --sessions \
        > /dev/null 2>&1
    for _ in $(seq 1 100); do
        kill -0 "$BROKER_PID" 2>/dev/null || pgrep -f "$BROKER_RT/" > /dev/null || break
        sleep 0.1
    done
    kill_pid "$BROKER_PID" kmq-broker; BROKER_PID=""
    kill_rundir "$BROKER_RT/"
}

# start_bg PATTERN CMD...: a helper process we kill at the end; sets BG_PID.
start_bg() {
    local pat=$1; shift
    "$@" > /dev/null 2>> "$T/bg.err" &
    BG_PID=$!
    echo "$BG_PID $pat" >> "$PIDS"
}

# ---------------------------------------------------------------- machine
{
    echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
         "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo),"\
         "Linux $(uname -r), $($PY -c 'import sys, zmq, pandas; print("Python", sys.version.split()[0], "pandas", pandas.__version__, "libzmq", zmq.zmq_version())')"
} > "$RES/machine"
date -u '+%Y-%m-%d %H:%M UTC' > "$RES/date"
[ "$QUICK" = 1 ] && echo "$SESSIONS sessions, $CALLS calls, ${CSV_MB} MB CSV, $LIVE live sessions" > "$RES/quick"
cut -d' ' -f1-3 /proc/loadavg > "$RES/load_before"
log "results in $T; budget ${BUDGET_S}s; $SESSIONS sessions, $CALLS calls, ${CSV_MB} MB CSV, $LIVE live$([ "$QUICK" = 1 ] && echo '; QUICK')"

# ---------------------------------------------------------------- build zbench
ZB="$T/zbench"
if ! cc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT/common" -I"$ROOT/client" \
        "$HERE/zbench.c" "$BIN/libkmq.a" -o "$ZB" \
        $(pkg-config --cflags --libs libczmq libzmq msgpack) 2> "$T/zbench.build.err"; then
    log "zbench did not compile:"; cat "$T/zbench.build.err" >&2
    ZB=false
fi

# ---------------------------------------------------------------- 1. round trip
# The floor: client DEALER -> ROUTER/ROUTER proxy -> DEALER echo worker,
# backend over ipc:// as kmq's is.
FLOOR_FE="tcp://127.0.0.1:$(free_port)"
start_bg "zbench proxy" "$ZB" proxy "$FLOOR_FE" "ipc://$T/floor-backend"; FLOOR_PROXY=$BG_PID
start_bg "zbench worker" "$ZB" worker "ipc://$T/floor-backend"; FLOOR_WORKER=$BG_PID
sleep 0.3
step floor_rtt 60 "$ZB" rtt "$FLOOR_FE" "$CALLS"

if start_broker rtt; then
    step kmq_rtt_c 120 "$ZB" kmqrtt "$ENDPOINT" bench-rtt-c "$CALLS"
    step kmq_rtt_py 120 $PY "$HERE/kmq_bench.py" rtt "$ENDPOINT" "$CALLS"
    step kmq_rtt_pyclient 120 $PY "$HERE/kmq_bench.py" pyrtt "$ENDPOINT" "$CALLS"
    if start_http; then
        step http_rtt 120 $PY "$HERE/http_bench.py" rtt "$HTTP_URL" "$CALLS"
        kill_pid "$HTTP_PID" kmq-http
    fi
    # The same floor with CURVE on its client hop, as the broker has it on
    # tcp (its keys exist now that a broker ran: ZBENCH_CURVE, zbench.c).
    CURVE_FE="tcp://127.0.0.1:$(free_port)"
    start_bg "zbench proxy" env ZBENCH_CURVE=1 "$ZB" proxy "$CURVE_FE" "ipc://$T/curve-backend"
    CURVE_PROXY=$BG_PID
    start_bg "zbench worker" "$ZB" worker "ipc://$T/curve-backend"; CURVE_WORKER=$BG_PID
    sleep 0.3
    step floor_rtt_curve 60 env ZBENCH_CURVE=1 "$ZB" rtt "$CURVE_FE" "$CALLS"
    kill_pid "$CURVE_WORKER" "zbench worker"; kill_pid "$CURVE_PROXY" "zbench proxy"
    stop_broker
fi
step ipy_rtt 150 $PY "$HERE/ipy_bench.py" rtt "$CALLS" "$T/ipy.pids"

# ---------------------------------------------------------------- 2+3. sessions, memory
# The default broker (zygote on, pool 2), then the old path (--zygote false:
# each kernel forks its own executor), both with memory.
if start_broker sessions; then
    step kmq_sessions 150 $PY "$HERE/kmq_bench.py" sessions "$ENDPOINT" "$SESSIONS" "$T/kmq.pids"
    stop_broker
fi
if "$BIN/kmq-broker" --help 2>/dev/null | grep -q -- '--zygote' && start_broker nozyg --zygote false; then
    step kmq_sessions_nozyg 120 $PY "$HERE/kmq_bench.py" sessions "$ENDPOINT" "$SESSIONS" "$T/kmq.pids"
    stop_broker
fi
# With a zygote (a broker that knows --zygote): a warm pool (2 executors
# forked ahead; starts 0.5 s apart so it refills) and an empty one (0).
if "$BIN/kmq-broker" --help 2>/dev/null | grep -q -- '--zygote'; then
    touch "$RES/has_zygote"
    if start_broker zyg_warm --zygote true --pool-size 2; then
        sleep 2
        step kmq_sessions_warm 60 $PY "$HERE/kmq_bench.py" sessions "$ENDPOINT" "$SESSIONS" "$T/kmq.pids" 0.5 nomem
        stop_broker
    fi
    if start_broker zyg_empty --zygote true --pool-size 0; then
        sleep 1
        step kmq_sessions_empty 60 $PY "$HERE/kmq_bench.py" sessions "$ENDPOINT" "$SESSIONS" "$T/kmq.pids" 0.2 nomem
        stop_broker
    fi
fi
step ipy_sessions 180 $PY "$HERE/ipy_bench.py" sessions "$SESSIONS" "$T/ipy.pids"

# ---------------------------------------------------------------- 5. upload, download
CSV="$T/data.csv"
if step csv_gen 90 $PY "$HERE/inproc.py" gen "$CSV" "$CSV_MB"; then
    step inproc_csv 120 $PY "$HERE/inproc.py" csv "$CSV" 5
    if start_broker upload; then
        step kmq_upload 150 $PY "$HERE/kmq_bench.py" upload "$ENDPOINT" "$CSV" 5
        stop_broker
    fi
    rm -f "$CSV"
fi

# A numeric DataFrame of CSV_MB up and down as frame and as csv, beside
# pickle and df.copy() in the same process.
if start_broker frame; then
    step kmq_frame 240 $PY "$HERE/frame_bench.py" "$ENDPOINT" "$CSV_MB" 3
    stop_broker
fi

# ---------------------------------------------------------------- 7. snapshots
# A session holding a CSV_MB numeric DataFrame is evicted (idle 1 s) and
# comes back: the snapshot's time and the restoring request's, beside a
# fresh session's first request and in-process pickle of the same frame.
if start_broker snap --idle-timeout-s 1; then
    step kmq_snapshot 300 $PY "$HERE/kmq_bench.py" snapshot "$ENDPOINT" "$BROKER_RT/state" "$CSV_MB"
    stop_broker
fi

# ---------------------------------------------------------------- 6. throughput
step floor_tput_exec 30 "$ZB" load "$FLOOR_FE" 4 "$SECONDS_TPUT" 16 exec
kill_pid "$FLOOR_WORKER" "zbench worker"; kill_pid "$FLOOR_PROXY" "zbench proxy"
ECHO_FE="tcp://127.0.0.1:$(free_port)"
start_bg "zbench selfecho" "$ZB" selfecho "$ECHO_FE"; ECHO_PID=$BG_PID
sleep 0.3
step floor_tput_hb 30 "$ZB" load "$ECHO_FE" 4 "$SECONDS_TPUT" 16 hb
kill_pid "$ECHO_PID" "zbench selfecho"
ECHO_FE="tcp://127.0.0.1:$(free_port)"
start_bg "zbench selfecho" env ZBENCH_CURVE=1 "$ZB" selfecho "$ECHO_FE"; ECHO_PID=$BG_PID
sleep 0.3
step floor_tput_hb_curve 30 env ZBENCH_CURVE=1 "$ZB" load "$ECHO_FE" 4 "$SECONDS_TPUT" 16 hb
kill_pid "$ECHO_PID" "zbench selfecho"
# The broker without CURVE (--insecure; kmq's clients then need
# KMQ_INSECURE), beside the plain floor.
if KMQ_INSECURE=1 start_broker tput_insecure --insecure --pool-size 0; then
    step kmq_tput_hb_insecure 30 "$ZB" load "$ENDPOINT" 4 "$SECONDS_TPUT" 16 hb
    KMQ_INSECURE=1 stop_broker
fi
if start_broker tput; then
    step kmq_tput_hb 30 "$ZB" kmqload "$ENDPOINT" 4 "$SECONDS_TPUT" 16 hb
    step kmq_tput_stats 30 "$ZB" kmqload "$ENDPOINT" 4 "$SECONDS_TPUT" 16 stats
    step kmq_tput_exec 60 $PY "$HERE/kmq_bench.py" execload "$ENDPOINT" 4 2 "$SECONDS_TPUT" 4
    if start_http; then
        step http_tput_exec 60 $PY "$HERE/http_bench.py" load "$HTTP_URL" 8 "$SECONDS_TPUT"
        kill_pid "$HTTP_PID" kmq-http
    fi
    stop_broker
fi

# ---------------------------------------------------------------- 4. live sessions
# Last, with what is left of the budget (at most LIVE_S to open sessions,
# LIVE_RESERVE_S kept for the restart and the stop). LIVE sessions opened in parallel
# (LIVE_CLIENTS connections x LIVE_INFLIGHT in flight) on a broker and host
# that take that many (their defaults are 1000), then one active session's
# execute latency with all the others held, and their PSS. Stopping: `kmq
# shutdown --sessions` within a hard deadline (at most 90 s), then SIGKILL
# of everything that names the broker's runtime dir (monitors, executors,
# the zygote and the host all do).
live_left=$((BUDGET_S - ($(date +%s) - START) - LIVE_RESERVE_S))
[ "$live_left" -lt "$LIVE_S" ] && LIVE_S=$live_left
LIVE_FLAGS=(--max-sessions $((LIVE + 10)) --host-max-sessions $((LIVE + 10)) --idle-timeout-s 1000000)
if [ "$LIVE_S" -ge 10 ] && start_broker live "${LIVE_FLAGS[@]}"; then
    sleep 1
    step kmq_live $((LIVE_S + 150)) $PY "$HERE/kmq_bench.py" live "$ENDPOINT" "$LIVE" "$LIVE_S" \
        "$T/kmq.pids" "$T/live.keys" "$LIVE_CLIENTS" "$LIVE_INFLIGHT" "$LIVE_CALLS" \
        "$LIVE_FLOOR_MIB"
    # The broker is killed with every session live, and started again: how
    # long until a session answers, and how many come back intact.
    if [ -s "$T/live.keys" ]; then
        kill -KILL "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null
        killed_at=$($PY -c 'import time; print(time.time())')
        restart_broker live "${LIVE_FLAGS[@]}"
        step kmq_restart 180 $PY "$HERE/kmq_bench.py" restart "$ENDPOINT" "$T/live.keys" "$killed_at"
    fi
    t0=$(date +%s)
    deadline=$(remaining 90); [ "$deadline" -lt 10 ] && deadline=10
    timeout -k 2 "$deadline" "$BIN/kmq" -e "$ENDPOINT" shutdown --sessions > /dev/null 2>&1
    while [ $(( $(date +%s) - t0 )) -lt "$deadline" ]; do
        kill -0 "$BROKER_PID" 2>/dev/null || pgrep -f -- "$T/live.rt/" > /dev/null || break
        sleep 0.2
    done
    left=$(pgrep -f -- "$T/live.rt/" | wc -l)
    echo "{\"stop_s\": $(( $(date +%s) - t0 )), \"left\": $left, \"deadline_s\": $deadline}" > "$RES/live_stop.json"
    kill -KILL "$BROKER_PID" 2>/dev/null
    kill_rundir "$T/live.rt/"
    wait "$BROKER_PID" 2>/dev/null; BROKER_PID=""
else
    log "kmq_live: skipped ($LIVE_S s of budget left)"
    FAILED_STEPS="$FAILED_STEPS kmq_live"
fi

# ---------------------------------------------------------------- table
cut -d' ' -f1-3 /proc/loadavg > "$RES/load_after"
echo
$PY "$HERE/report.py" "$RES"
echo "(N = $SESSIONS sessions for figures 2-3: set KMQ_BENCH_SESSIONS; $LIVE live sessions asked for figure 4; took $(( $(date +%s) - START )) s of a ${BUDGET_S} s budget$([ "$QUICK" = 1 ] && echo '; QUICK run: KMQ_BENCH_QUICK=1'))"
for name in $FAILED_STEPS; do
    echo
    echo "--- $name failed; its stderr (last lines):"
    tail -n 15 "$T/$name.err" 2>/dev/null
done
exit 0
