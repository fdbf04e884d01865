# Snapshots (protocol.md 10.3): an evicted session comes back with its
# variables, DataFrames, functions, classes, modules and /work files, and
# says by name what it could not keep; one over its quota comes back empty
# with a notice naming the quota; a hostile pickle restored in the session's
# own sandbox reaches nothing outside it; a host stopped with SIGTERM keeps
# its sessions the same way.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/client/python"
FLAGS=(--idle-timeout-s 2 --heartbeat-ivl-ms 300 --heartbeat-liveness 3)
start_broker "${FLAGS[@]}" || exit 1
STATE="$RT/state"

# evicted KEY: waits until the broker has evicted the session (it leaves
# the session list) and its snapshot, or the reason it failed, is stored.
in_stats() { kmq stats --json | grep -q "\"session\":\"$1\""; }
evicted() {
    for _ in $(seq 1 100); do
        in_stats "$1" || break
        sleep 0.1
    done
    ! in_stats "$1" && wait_for 100 test ! -e "$STATE/s-$1.pending" \
        && wait_for 100 test -e "$STATE/s-$1.snap" -o -e "$STATE/s-$1.failed"
}

# --- everything a notebook holds comes back ---
run_kmq exec -s nb 'import numpy as np
import pandas as pd
n = 41
df = pd.DataFrame({"name": ["a", "b"], "when": pd.to_datetime(["2026-01-01", "2026-06-30"])})
def double(x): return x * 2
class Point:
    def __init__(self, x, y): self.x, self.y = x, y
    def __repr__(self): return "Point(%d, %d)" % (self.x, self.y)
p = Point(1, 2)
open("data.txt", "w").write("kept file")
gen = (i for i in range(3))
fh = open("data.txt")
n + 1'
expect_eq "a session with state runs" 42 "$OUT"
check "the idle session is evicted with a snapshot in state_dir" evicted nb
expect_eq "the snapshot is private to the host (0600)" 600 "$(stat -c %a "$STATE/s-nb.snap")"
expect_eq "state_dir is private (0700)" 700 "$(stat -c %a "$STATE")"
run_kmq exec -s nb 'print(n, df["name"].tolist(), df["when"].dt.month.tolist(), df.dtypes["when"])
print(double(21), p, Point(3, 4), isinstance(p, Point), np.arange(3).sum(), open("data.txt").read())'
expect_eq "an evicted session comes back with its variables, DataFrame (strings, datetimes), \
function, class, instance, module alias and /work file" \
    "41 ['a', 'b'] [1, 6] datetime64[ns]
42 Point(1, 2) Point(3, 4) True 3 kept file" "$OUT"
expect_contains "the first reply says the session was restored" "restored from its snapshot" "$ERR"
expect_contains "... and names the generator as not kept" "gen (generator objects cannot be pickled)" "$ERR"
expect_contains "... and the open file" "fh (open files cannot be kept" "$ERR"
check "no state_lost after a restore" test -z "$(grep 'state was lost' <<< "$ERR")"
check "the snapshot is taken once: gone from state_dir" test ! -e "$STATE/s-nb.snap"
run_kmq exec -s nb 'n'
check "the second reply has no notice" test -z "$ERR"

# The Python client sees restored and the notice too; a request right after
# the eviction waits for the snapshot still being written.
out=$(/usr/bin/python3 - "$ENDPOINT" <<'PY'
import sys, time, json
import kernelmq
with kernelmq.Client(sys.argv[1]) as c:
    s = c.session("py")
    s.run("import numpy as np\nbig = np.arange(4_000_000)\nlabel = 'py'")
    while any(e["session"] == "py" for e in c.stats().session_list):
        time.sleep(0.05)
    ex = s.run("print(label, int(big.sum()))")      # right after the eviction
    print(ex.restored, ex.state_lost, ex.stdout.strip())
    print(ex.notice)
PY
)
expect_contains "Python: a request right after the eviction gets the restored session" \
    "True False py 7999998000000" "$out"

# --- over the quota: evicted without its state, told why ---
stop_broker
start_broker "${FLAGS[@]}" --snapshot-quota 1M || exit 1
run_kmq exec -s q 'import numpy as np
huge = np.random.default_rng(1).random(1_000_000)
small = 1'
check "a session over the snapshot quota is evicted" evicted q
run_kmq exec -s q 'print("small" in dir())'
expect_eq "over the quota, the session starts empty" False "$OUT"
expect_contains "... with state_lost" "state was lost" "$ERR"
expect_contains "... and a notice that names the quota" "snapshot_quota" "$ERR"
expect_contains "... and the biggest item" "huge" "$ERR"

# --- a hostile pickle restored inside the session's own sandbox ---
run_kmq exec -s victim 'secret = "victim data"'
mark="kmq-pwned-$$"
run_kmq exec -s evil "import os
class Evil:
    def __reduce__(self):
        return (exec, ('''
import os, signal
for path in ('/tmp/$mark', '$T/$mark'):
    try: open(path, 'w').write('x')
    except Exception: pass
try: os.kill($BROKER_PID, signal.SIGKILL)
except Exception: pass
try: stolen = open('$STATE/s-victim.snap', 'rb').read()
except Exception as e: stolen = repr(e)
open('stolen.txt', 'w').write(str(stolen)[:200])
''',))
evil = Evil()
'ok'"
expect_eq "a cell plants an object with a hostile __reduce__" "'ok'" "$OUT"
run_kmq exec -s victim 'secret'
check "both sessions are evicted" evicted evil
run_kmq exec -s evil 'print(open("stolen.txt").read())'
expect_contains "the hostile pickle ran at restore, inside the sandbox: no state_dir there" \
    "Error" "$OUT"
check "it wrote nothing in the host's /tmp" test ! -e "/tmp/$mark"
check "it wrote nothing in the test's directory" test ! -e "$T/$mark"
check "the broker survived it" kill -0 "$BROKER_PID"
run_kmq exec -s victim 'secret'
expect_eq "the other session is intact" "'victim data'" "$OUT"

# --- a kernel host stopped with SIGTERM snapshots every session ---
run_kmq exec -s keep 'kept_value = 7'
host=$(host_pid)
kill -TERM "$host"
check "the host exits on SIGTERM" wait_gone "$host" 300
check "its session was snapshotted" test -e "$STATE/s-keep.snap"
run_kmq exec -s keep 'kept_value * 6'
expect_eq "after the host's restart the session is back" 42 "$OUT"
expect_contains "... and says it was restored" "restored from its snapshot" "$ERR"
exit 0
