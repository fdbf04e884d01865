#!/usr/bin/env bash
# Runs every test: the module selftests, then each integration script
# (tests/it_*.sh) against the binaries in BIN (default: bin). Each script runs
# with a time bound and reports its own cases; this runner adds them up and
# ends with the closing line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BIN=$(cd "${1:-bin}" && pwd)
export KMQ_BIN="$BIN"
only="${KMQ_TEST_ONLY:-}"          # e.g. KMQ_TEST_ONLY=it_seed to run one script
passed=0
failed=0
failures=()

echo "== selftests ($BIN/kmq-selftest)"
if timeout 120 "$BIN/kmq-selftest"; then
    passed=$((passed + 1)); echo "ok   selftests"
else
    failed=$((failed + 1)); failures+=("selftests"); echo "FAIL selftests"
fi

for script in tests/it_*.sh; do
    name=$(basename "$script" .sh)
    [ -n "$only" ] && [[ "$name" != *"$only"* ]] && continue
    echo "== $name"
    out=$(mktemp)
    timeout --kill-after=10 "${KMQ_TEST_TIMEOUT:-300}" bash "$script" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    p=$(grep -c '^ok   ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    passed=$((passed + p)); failed=$((failed + f))
    grep '^FAIL ' "$out" | sed "s/^FAIL /$name: /" > "$out.f"
    while IFS= read -r line; do failures+=("$line"); done < "$out.f"
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        failed=$((failed + 1)); failures+=("$name: script exited $status")
        echo "FAIL $name exited with status $status"
    fi
    rm -f "$out" "$out.f"
done

if [ "${#failures[@]}" -gt 0 ]; then
    echo "failures:"; printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
