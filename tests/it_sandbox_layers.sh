# Each sandbox layer is load-bearing: with the test-only kernel
# (kmq-kernel-testsw, built with KMQ_SANDBOX_TEST_SWITCHES), a probe is
# contained with every layer on and is NOT contained when that one layer
# alone is switched off. The probes are harmless (no attack runs with a
# layer off); tests/it_sandbox.sh is the attack battery itself.
source "$(dirname "$0")/lib.sh"

# One broker per mask: the switch is read from the kernel's environment.
with_mask() {
    local mask=$1; shift
    KMQ_SANDBOX_SKIP=$mask start_broker --kernel-path "$KMQ_BIN/kmq-kernel-testsw" \
        --sandbox-require none || exit 1
    "$@"
    stop_broker
}

# run_probe LAYER MASK CODE CONTAINED THROUGH: the cell prints CONTAINED with
# every layer on, and THROUGH with layer MASK alone switched off.
run_probe() {
    local layer=$1 mask=$2 code=$3 contained=$4 through=$5
    with_mask 0 probe_half "$layer" 0 "$code" "$contained"
    with_mask "$mask" probe_half "$layer" "$mask" "$code" "$through"
}

probe_half() {
    local layer=$1 skip=$2 code=$3 expected=$4
    run_kmq exec -s "probe" "$code"
    if [ "$skip" = 0 ]; then
        expect_eq "$layer on: contained" "0:$expected" "$RC:$OUT"
    else
        expect_eq "$layer off: the probe gets through" "0:$expected" "$RC:$OUT"
        run_kmq stats --json
        expect_contains "$layer off: stats names the layer missing" "$layer" \
            "$(echo "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["session_list"][0]["sandbox_missing"])')"
    fi
}

# namespaces: the executor is pid 1 of its own pid namespace
run_probe namespaces 1 'import os; os.getpid() == 1' True False
# filesystem: the host's /etc/shadow does not exist in the private root
run_probe filesystem 2 'import os; os.path.exists("/etc/shadow")' False True
# caps: no capability left, even inside the user namespace
run_probe caps 4 'int([l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1], 16) == 0' True False
# rlimits: the address space is capped (memory_limit, 2 GiB by default)
if [[ "$KMQ_BIN" == */asan ]]; then
    echo "skip rlimits probe: no address-space limit in ASan builds"
else
    run_probe rlimits 8 $'import mmap\ntry:\n    m = mmap.mmap(-1, 3 << 30); m.close(); r = "mapped"\nexcept OSError: r = "refused"\nr' "'refused'" "'mapped'"
fi
# landlock: the private root's top is not listable
run_probe landlock 32 $'import os\ntry:\n    os.listdir("/"); r = "listed"\nexcept PermissionError: r = "refused"\nr' "'refused'" "'listed'"
# seccomp: fork is refused
run_probe seccomp 64 $'import os\ntry:\n    pid = os.fork()\n    if pid == 0: os._exit(0)\n    os.waitpid(pid, 0); r = "forked"\nexcept PermissionError: r = "refused"\nr' "'refused'" "'forked'"
# cgroup: the executor sits in its kernel's group under the host's (where
# the host may make groups: root with cgroup v1 or a delegated v2)
if [ -w /sys/fs/cgroup/memory ] || [ -w /sys/fs/cgroup/cgroup.subtree_control ]; then
    run_probe cgroup 128 '"/kmq/" in open("/proc/self/cgroup").read()' True False
else
    echo "skip cgroup probe: no cgroup hierarchy this host may use"
fi

# sandbox_require (default: every layer but landlock and cgroup) refuses a
# kernel that lacks one, and says which.
KMQ_SANDBOX_SKIP=64 start_broker --kernel-path "$KMQ_BIN/kmq-kernel-testsw" || exit 1
run_kmq exec -s required '1 + 1'
expect_eq "a kernel without seccomp is refused: exit 3" 3 "$RC"
expect_contains "the refusal names sandbox_require and the layer" \
    "sandbox_require: the kernel lacks seccomp" "$ERR"
expect_contains "the broker log names the missing layer" "seccomp: skipped" "$(cat "$T/broker.log")"
stop_broker
