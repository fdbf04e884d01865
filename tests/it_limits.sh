# The per-request CPU limit (request_cpu_s), enforced by the monitor from the
# executor's CPU time, also on the first request of a fresh executor.
source "$(dirname "$0")/lib.sh"
start_broker --request-cpu-s 1 --kill-grace-ms 1000 || exit 1

run_kmq exec -s cpu $'x = 7\nwhile True: pass'
expect_eq "a CPU-bound first request is stopped: exit 3" 3 "$RC"
expect_contains "the reply is TIMEOUT naming CPU time" "CPU time" "$ERR"
run_kmq exec -s cpu 'x'
expect_eq "the namespace is kept after the CPU limit" "0:7" "$RC:$OUT"
run_kmq exec -s cpu $'import time\ntime.sleep(2)\n"slept"'
expect_eq "sleeping is not CPU time" "0:'slept'" "$RC:$OUT"
