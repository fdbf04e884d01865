# Broker lifecycle and CLI contract: SIGTERM leaves nothing behind, exit codes.
source "$(dirname "$0")/lib.sh"

run_kmq_at() { "$KMQ_BIN/kmq" -e "$1" "${@:2}" > "$T/out" 2> "$T/err"; RC=$?; ERR=$(cat "$T/err"); }

# No broker: service error, one clear line.
run_kmq_at "tcp://127.0.0.1:$(free_port)" exec -s s '1'
expect_eq "unreachable broker: exit 3" 3 "$RC"
expect_contains "unreachable broker: says so" "did not answer" "$ERR"

run_kmq_at "tcp://127.0.0.1:1" frobnicate
expect_eq "unknown command: exit 2" 2 "$RC"
run_kmq_at "tcp://127.0.0.1:1" exec '1'
expect_eq "exec without -s: exit 2" 2 "$RC"

start_broker || exit 1
kmq exec -s one 'a = 1' > /dev/null
kmq exec -s two 'b = 2' > /dev/null
run_kmq stats
expect_contains "stats counts sessions" "sessions" "$OUT"
run_kmq stats --json
n=$(echo "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"])')
expect_eq "stats --json: two sessions" 2 "$n"

kpids=$(kernel_pids)
check "kernels and executors are running" test -n "$kpids"
rt="$RT"
stop_broker
wait_until 30 '[ -z "$(kernel_pids)" ]'
left=$(kernel_pids)
expect_eq "kmq shutdown --sessions leaves no kmq-host, kmq-kernel or executor" "" "$left"
# The runtime dir is stable (a restarted broker finds its host through it)
# and private: kept, mode 0700, and nothing listens on it any more.
expect_eq "the runtime directory stays, mode 0700" 700 "$(stat -c %a "$rt")"

# The README's configuration table is the broker's own.
readme_table=$(sed -n '/^<!-- config-table/,/^<!-- \/config-table/p' README.md | sed '1d;$d')
expect_eq "README configuration table matches kmq-broker --config-table" \
    "$("$KMQ_BIN/kmq-broker" --config-table)" "$readme_table"
