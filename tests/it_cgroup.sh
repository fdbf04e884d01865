# Resource control (DESIGN.md §4, layer 8): each executor in its own cgroup
# holds memory_limit over heap + tmpfs + page cache together; an OOM kill
# is named; threads stop at pids.max; CPU is shared equally and capped by
# cpu_quota; stats shows each session's CPU. Without cgroups, the tmpfs
# quotas count in each session's worst case and the host admits no more
# sessions than host_memory holds. Executors get distinct outside uids
# from the configured range.
#
# Memory is measured as the host sees it, not as the cgroup says:
# tests/cgroup_held.py sums each executor's private heap (Pss_Anon) and
# what its /work, /tmp and /dev/shm hold, polled while the sessions fill
# them. With the executor left out of its group (the test kernel's switch),
# the same cells hold far more: the bound below is what the layer buys.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
MIB=$((1024 * 1024))
SLACK=32            # MiB per session: the executor's own pages, counted by PSS
# Sanitizer builds set no RLIMIT_AS (ASan reserves terabytes of shadow), so
# without a cgroup nothing bounds their heap: those cases are skipped there.
case "$KMQ_BIN" in *asan*) ASAN=yes ;; *) ASAN="" ;; esac

if [ ! -w /sys/fs/cgroup/memory ] || [ ! -w /sys/fs/cgroup/pids ]; then
    CGROUPS=""
    echo "note: no writable cgroup v1 memory/pids hierarchy: cgroup cases skipped"
else
    CGROUPS=yes
fi

# The fill cell: /work, /tmp and /dev/shm until they refuse, then the heap
# until MemoryError, then it holds everything for HOLD seconds and prints
# which errors it met.
fill_cell() {
    cat <<EOF
import time
chunk = b"x" * (8 << 20)
seen = []
for d in ("/work", "/tmp", "/dev/shm"):
    try:
        with open(d + "/fill", "wb") as f:
            while True:
                f.write(chunk)
                f.flush()
    except OSError as e:
        seen.append("OSError: " + str(e.strerror))
heap = []
try:
    for i in range(48):             # 384 MiB: past any memory_limit here
        heap.append(bytearray(8 << 20))
except MemoryError:
    seen.append("MemoryError")
time.sleep($1)
print(sorted(set(seen)))
EOF
}

# The outside uid of a process (first field of Uid: in its status).
outside_uid() { awk '/^Uid:/ {print $2}' "/proc/$1/status"; }

# A field of SESSION's stats entry ("" when absent).
session_field() {
    kmq stats --json | $PY -c '
import json, sys
for e in json.load(sys.stdin).get("session_list", []):
    if e["session"] == sys.argv[1]:
        print(e.get(sys.argv[2], ""))' "$1" "$2"
}

# The directory of PID's group in the v1 hierarchy CONTROLLER.
group_dir() {
    local rel; rel=$(awk -F: -v c="$2" '$2 == c {print $3}' "/proc/$1/cgroup")
    echo "/sys/fs/cgroup/$2$rel"
}

# fill_sessions LABEL BOUND_MIB EXPECT_DEATH: three sessions fill together;
# the memory they hold stays within 3 x (BOUND + SLACK) MiB, and each gets
# clean errors or (EXPECT_DEATH) a KERNEL_DIED naming the memory limit.
fill_sessions() {
    local label=$1 bound=$2 pids="" clis="" i
    for i in 1 2 3; do
        kmq exec -s "fill$i" 'x = 1' > /dev/null
        pids="$pids $(session_executor_pid "fill$i")"
    done
    for i in 1 2 3; do
        kmq exec -s "fill$i" "$(fill_cell 3)" > "$T/fill$i.out" 2> "$T/fill$i.err" &
        clis="$clis $!"
    done
    # shellcheck disable=SC2086
    peak=$($PY "$(dirname "$0")/cgroup_held.py" 10 $pids)
    # shellcheck disable=SC2086
    wait $clis
    local limit=$((3 * (bound + SLACK)))
    if [ "${3:-}" = "placement off" ]; then
        if [ "$peak" -gt "$limit" ]; then ok "$label: without the cgroup the same cells hold more than 3 x (256+$SLACK) MiB ($peak MiB)"
        else fail "$label: without the cgroup the cells held $peak MiB, not more than $limit: the test would not see a missing layer"; fi
        return
    fi
    if [ "$peak" -le "$limit" ]; then ok "$label: three filling sessions held at most 3 x ($bound+$SLACK) MiB ($peak MiB)"
    else fail "$label: three filling sessions held $peak MiB, over 3 x ($bound+$SLACK) = $limit MiB"; fi
    for i in 1 2 3; do
        local out err; out=$(cat "$T/fill$i.out"); err=$(cat "$T/fill$i.err")
        if [[ "$err" == *"KERNEL_DIED"* ]]; then
            expect_contains "$label: session $i's death names the memory limit" \
                "memory limit (256 MiB) exceeded" "$err"
        else
            expect_contains "$label: session $i's tmpfs refused cleanly" "No space left" "$out"
            expect_contains "$label: session $i's heap refused cleanly" "MemoryError" "$out"
        fi
    done
}

if [ -n "$CGROUPS" ]; then
    # A stale group of a host that crashed (a pid that cannot run) goes at start
    stale=/sys/fs/cgroup/pids/kmq/crashed.2147483000.1
    mkdir -p "$stale/k1-dead"
    start_broker --memory-limit 256M --max-threads 64 --pool-size 1 || exit 1
    wait_until 50 '[ ! -d "$stale" ]'
    check "a crashed host's stale groups are removed at start" test ! -d "$stale"
    rmdir "$stale/k1-dead" "$stale" 2>/dev/null

    # The layer is applied and reported
    kmq exec -s a 'x = 1' > /dev/null
    expect_contains "stats reports the cgroup layer applied" "cgroup" "$(session_field a sandbox)"
    epid=$(session_executor_pid a)
    mem=$(group_dir "$epid" memory)
    expect_eq "the executor's memory group holds memory_limit" $((256 * MIB)) \
        "$(cat "$mem/memory.limit_in_bytes")"
    expect_contains "the executor's group is the host's child for its kernel" "/kmq/local." "$mem"
    pids_dir=$(group_dir "$epid" pids)
    expect_eq "pids.max is max_threads" 64 "$(cat "$pids_dir/pids.max")"

    # Pool executors wait inside spare groups that already hold the session's
    # limits (forked there by the zygote; a kernel renames its spare to its
    # own group instead of moving the executor, which costs a grace period)
    zyg=$(zygote_pid)
    spare_children() {
        local child d
        for child in $(pgrep -P "$zyg"); do
            d=$(group_dir "$child" memory)
            case "$d" in */spare-*) echo "$child:$d" ;; esac
        done
    }
    wait_until 100 '[ -n "$(spare_children)" ]'
    pooled=$(spare_children | head -1)
    check "the zygote's pool executor waits in a spare group (${pooled:-none})" test -n "$pooled"
    [ -n "$pooled" ] && expect_eq "the spare group holds memory_limit" $((256 * MIB)) \
        "$(cat "${pooled#*:}/memory.limit_in_bytes")"
    check "the session's executor is in its kernel's group ($(basename "$mem")), not a spare" \
        $PY -c 'import re, sys; sys.exit(0 if re.match(r"k[0-9]+-[0-9a-f]+$", sys.argv[1]) else 1)' \
        "$(basename "$mem")"

    # Threads past pids.max are refused; the session lives on
    run_kmq exec -s a $'import threading\nev = threading.Event()\nn = 0\ntry:\n    while n < 10000:\n        threading.Thread(target=ev.wait).start()\n        n += 1\nexcept RuntimeError as e:\n    print("refused", e)\nev.set()\nprint(n < 64)'
    expect_contains "a thread bomb is refused" "refused can't start new thread" "$OUT"
    expect_contains "a thread bomb stays under pids.max" "True" "$OUT"
    if [ -f "$pids_dir/pids.peak" ]; then
        check "the group never held more than pids.max tasks" \
            test "$(cat "$pids_dir/pids.peak")" -le 64
    fi
    run_kmq exec -s a 'x + 1'
    expect_eq "the session survives its thread bomb" "0:2" "$RC:$OUT"

    # An OOM kill is named, and the next request gets a fresh kernel
    run_kmq exec -s oom $'chunk = b"x" * (8 << 20)\nwith open("/work/f", "wb") as f:\n    for i in range(40):\n        f.write(chunk)'
    expect_eq "filling /work past memory_limit: exit 3" 3 "$RC"
    expect_contains "KERNEL_DIED names the memory limit, not signal 9" \
        "KERNEL_DIED: the kernel died (memory limit (256 MiB) exceeded" "$ERR"
    run_kmq exec -s oom '1'
    expect_eq "the next request runs on a fresh kernel" "0:1" "$RC:$OUT"

    # Heap, tmpfs and page cache of three sessions together
    fill_sessions "cgroup" 256

    # Outside uids: in the configured range, one per live executor
    kmq exec -s b 'x = 1' > /dev/null
    ua=$(outside_uid "$(session_executor_pid a)")
    ub=$(outside_uid "$(session_executor_pid b)")
    check "executor uids lie in the default range from 2^31" \
        test "$ua" -ge 2147483648 -a "$ua" -lt $((2147483648 + 4194304))
    check "two live executors never share an outside uid" test "$ua" != "$ub"
    instance=$(dirname "$mem")
    stop_broker
    for c in memory pids cpu cpuacct; do
        check "groups removed in $c when the host ends" test ! -d "/sys/fs/cgroup/$c/kmq/$(basename "$instance")"
    done

    # With the executor left out of its group (the test kernel's switch),
    # the same three sessions hold far more: the bound above is the layer's
    KMQ_SANDBOX_SKIP=128 start_broker --kernel-path "$KMQ_BIN/kmq-kernel-testsw" \
        --sandbox-require none --memory-limit 256M || exit 1
    kmq exec -s x 'x = 1' > /dev/null
    expect_contains "the test switch reports the layer missing" "cgroup: skipped" \
        "$(session_field x sandbox_missing)"
    fill_sessions "cgroup off" 256 "placement off"
    stop_broker

    # CPU: equal weight per session. A 16-thread hog (hashing releases the
    # GIL, so its threads really run) beside a quiet session: the quiet
    # one's cell takes at most 3 x its time alone (medians of three runs
    # each, so background load counts on both sides; without the cgroup the
    # ratio is about 15 here).
    start_broker --memory-limit 512M || exit 1
    quiet=$'import time\nt = time.perf_counter()\ns = 0\nfor i in range(3000000):\n    s += i\nprint(time.perf_counter() - t)'
    hog=$'import hashlib, threading, time\ndata = b"x" * (1 << 20)\ndef spin():\n    end = time.monotonic() + 12\n    while time.monotonic() < end:\n        hashlib.sha256(data).digest()\nts = [threading.Thread(target=spin) for i in range(16)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint("done")'
    kmq exec -s hog 'x = 1' > /dev/null
    alone=()
    for _ in 1 2 3; do alone+=("$(kmq exec -s quiet "$quiet")"); done
    kmq exec -s hog "$hog" > "$T/hog.out" 2>&1 &
    hog_cli=$!
    sleep 2
    busy=()
    for _ in 1 2 3; do busy+=("$(kmq exec -s quiet "$quiet")"); done
    hog_cpus=$(session_field hog cpus)
    hog_share=$(session_field hog cpu_share)
    quiet_cpu=$(session_field quiet cpu_s)
    ratio=$($PY -c 'import sys, statistics
a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
print(round(statistics.median(b) / statistics.median(a), 2))' "${alone[*]}" "${busy[*]}")
    echo "   quiet cell alone ${alone[*]} s, beside the hog ${busy[*]} s: ratio $ratio"
    check "the quiet session's cell takes at most 3 x its time alone beside a 16-thread hog ($ratio)" \
        $PY -c "import sys; sys.exit(0 if $ratio <= 3 else 1)"
    check "stats reports the hog's CPU ($hog_cpus CPUs, share $hog_share)" \
        $PY -c "import sys; sys.exit(0 if 0.25 <= float('$hog_cpus') and 0 < float('$hog_share') <= 1 else 1)"
    check "stats reports the quiet session's CPU seconds ($quiet_cpu)" \
        $PY -c "import sys; sys.exit(0 if float('$quiet_cpu') > 0.1 else 1)"
    wait "$hog_cli"
    stop_broker

    # cpu_quota caps a session however many threads it runs
    start_broker --memory-limit 512M --cpu-quota 0.5 || exit 1
    kmq exec -s hog 'x = 1' > /dev/null
    kmq exec -s hog "${hog/+ 12/+ 5}" > /dev/null 2>&1 &
    hog_cli=$!
    sleep 3
    capped=$(session_field hog cpus)
    check "cpu_quota 0.5 holds a 16-thread hog to at most 0.6 CPU ($capped)" \
        $PY -c "import sys; sys.exit(0 if 0.3 <= float('$capped') <= 0.6 else 1)"
    wait "$hog_cli"
    stop_broker
fi

# Without cgroups: the tmpfs quotas count in the worst case (256 M heap +
# 256 M /work + 256 M /tmp + 64 M /dev/shm + 4 M scratch = 836 MiB), three
# such sessions hold no more than that each, and host_memory admits three:
# the fourth gets SESSION_LIMIT saying why.
worst=836
if [ -n "$ASAN" ]; then
    echo "note: sanitizer build: no RLIMIT_AS, no-cgroup memory cases skipped"
    exit 0
fi
start_broker --cgroup none --memory-limit 256M --host-memory $((3 * worst + 100))M \
    --executor-uid-base 3000000000 || exit 1
fill_sessions "no cgroup" $worst
expect_contains "without cgroups the layer is reported missing, and why" \
    "cgroup: the kernel host placed the executor in no control group" \
    "$(session_field fill1 sandbox_missing)"
u1=$(outside_uid "$(session_executor_pid fill1)")
check "executor uids follow executor_uid_base" test "$u1" -ge 3000000000 -a "$u1" -lt $((3000000000 + 4194304))
run_kmq exec -s fourth '1'
expect_eq "the fourth session is refused: exit 3" 3 "$RC"
expect_contains "the refusal is SESSION_LIMIT naming host memory" \
    "SESSION_LIMIT: session fourth: kernel host local is full: host memory: 4 sessions × worst case $worst MiB would exceed host_memory $((3 * worst + 100)) MiB" "$ERR"
kmq close -s fill3 > /dev/null 2>&1
wait_until 50 '[ "$(kmq exec -s fourth 1 2>/dev/null)" = 1 ]'
run_kmq exec -s fourth '2'
expect_eq "once a session closes, a new one is admitted" "0:2" "$RC:$OUT"
stop_broker
