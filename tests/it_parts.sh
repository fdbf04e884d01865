# Uploads in parts (protocol.md 5, upload): a broker with max_payload 8M
# and the test kernel (bin/kmq-kernel-testsw), whose monitor waits 1 s
# for a piece instead of 30 (KMQ_TEST_FAULTS=short_part_wait), so a piece
# that never comes is a one-second case. The cases live in
# tests/pyclient/parts_cases.py and print their own ok/FAIL lines.
source "$(dirname "$0")/lib.sh"
KMQ_TEST_FAULTS=short_part_wait start_broker --max-payload 8M --verbose \
    --kernel-path "$KMQ_BIN/kmq-kernel-testsw" || exit 1
cd "$(dirname "$0")/.."
timeout 240 /usr/bin/python3 tests/pyclient/parts_cases.py "$ENDPOINT" \
    || fail "parts_cases.py exits 0"
# libkmq sends a big upload in pieces too: the kmq CLI's upload of a
# 6 MB CSV, checked row by row in the kernel.
/usr/bin/python3 -c '
import pandas as pd, sys
pd.DataFrame({"n": range(300000), "s": ["a,\"b\"\nc"] * 300000}).to_csv(sys.argv[1], index=False)' \
    "$T/big.csv"
size=$(stat -c %s "$T/big.csv")
out=$(kmq upload -s cli big "$T/big.csv" 2>&1)
expect_contains "kmq upload of a $size-byte CSV (libkmq, in parts) is ok" "300000 rows" "$out"
out=$(kmq exec -s cli 'print(int(big.n.sum()), big.s.iloc[-1] == "a,\"b\"\nc")' 2>&1)
expect_contains "... and the kernel holds every row whole" "44999850000 True" "$out"
pieces=$(grep -c "frontend: upload_part id .* session 'cli'" "$T/broker.log")
check "... sent as the request and $(( (size - 1) / 1048576 )) upload_part pieces" \
    test "$pieces" -eq $(( (size - 1) / 1048576 ))
stop_broker
exit 0
