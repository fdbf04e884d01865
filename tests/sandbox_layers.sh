#!/usr/bin/env bash
# Which attack of the battery gets through when one sandbox layer alone is
# switched off? Runs tests/it_sandbox.sh against the test-only kernel
# (bin/kmq-kernel-testsw) once per layer and prints, per layer, the battery
# cases that then fail. Not part of `make test` (about 3 minutes per layer);
# its output is quoted in the sandbox issue's closing note.
#   usage: tests/sandbox_layers.sh [BIN]
set -u
cd "$(dirname "$0")/.."
BIN=$(cd "${1:-bin}" && pwd)
declare -A layers=([filesystem]=2 [caps]=4 [rlimits]=8 [no_new_privs]=16
                   [landlock]=32 [seccomp]=64)
for layer in namespaces filesystem caps rlimits no_new_privs landlock seccomp; do
    if [ "$layer" = namespaces ]; then
        # Without its own namespaces the executor is the host's root: the
        # battery refuses to attack (its first check), which is the finding.
        mask=1
    else
        mask=${layers[$layer]}
    fi
    out=$(KMQ_SANDBOX_SKIP=$mask KMQ_KERNEL="$BIN/kmq-kernel-testsw" KMQ_BIN="$BIN" \
          timeout 900 bash tests/it_sandbox.sh 2>&1)
    # Files the quota attacks wrote where /work and /tmp are the host's.
    rm -f /tmp/fill* /tmp/big /tmp/b 2>/dev/null
    failed=$(echo "$out" | grep '^FAIL ' | grep -v ': session still answers\|: witness session\|: nothing written' | sed 's/^FAIL /    /; s/: expected.*//')
    echo "$layer off (mask $mask): $(echo "$out" | grep -c '^ok   ') ok, $(echo "$out" | grep -c '^FAIL ') failed"
    [ -n "$failed" ] && echo "$failed"
done
