# The seed scenario and notebook-style state, through the real kmq CLI.
source "$(dirname "$0")/lib.sh"
start_broker || exit 1

printf 'A,B\n1,4\n2,5\n3,6\n' > "$T/df.csv"
run_kmq upload -s seed df "$T/df.csv"
expect_eq "upload csv as df exits 0" 0 "$RC"

run_kmq vars -s seed
expect_contains "vars lists df" "df" "$OUT"
expect_contains "vars shows DataFrame type" "DataFrame" "$OUT"

run_kmq download -s seed df --format json -o "$T/df.json"
expect_eq "download json exits 0" 0 "$RC"
records=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$T/df.json")
expect_eq "download json records match upload" \
    "[{'A': 1, 'B': 4}, {'A': 2, 'B': 5}, {'A': 3, 'B': 6}]" "$records"

run_kmq exec -s seed 'result = df["A"].sum()'
expect_eq "exec assignment prints nothing" "0:" "$RC:$OUT"
run_kmq exec -s seed result
expect_eq "exec result prints 6" "0:6" "$RC:$OUT"

run_kmq reset -s seed
expect_eq "reset exits 0" 0 "$RC"
run_kmq exec -s seed df
expect_eq "df after reset exits 1" 1 "$RC"
expect_contains "df after reset is a NameError" "NameError" "$ERR"

# Notebook semantics: state persists, sessions are separate.
kmq exec -s alpha 'x = 41' > /dev/null
run_kmq exec -s alpha 'x + 1'
expect_eq "state persists across calls" "0:42" "$RC:$OUT"
run_kmq exec -s beta 'x'
expect_eq "another session does not see x" 1 "$RC"
expect_contains "another session gets NameError for x" "NameError" "$ERR"

# An exception returns its traceback and keeps the namespace.
kmq exec -s alpha 'keep = [1, 2, 3]' > /dev/null
run_kmq exec -s alpha $'def f():\n    return 1 / 0\nf()'
expect_eq "exception exits 1" 1 "$RC"
expect_contains "traceback names the exception" "ZeroDivisionError" "$ERR"
expect_contains "traceback shows the user's frame" "return 1 / 0" "$ERR"
run_kmq exec -s alpha 'keep, x'
expect_eq "namespace survives the exception" "0:([1, 2, 3], 41)" "$RC:$OUT"

# stdout and stderr come back on their own streams, result after them.
run_kmq exec -s alpha $'import sys\nprint("to out")\nprint("to err", file=sys.stderr)\n7 * 6'
expect_eq "stdout then result" $'to out\n42' "$OUT"
expect_eq "stderr captured" "to err" "$ERR"

# Files: upload as a file, use it, download it back byte for byte.
head -c 100000 /dev/urandom > "$T/blob.bin"
run_kmq upload -s alpha blob.bin "$T/blob.bin" --format file
expect_eq "upload file exits 0" 0 "$RC"
run_kmq exec -s alpha 'import os; os.path.getsize("blob.bin")'
expect_eq "uploaded file is in the working directory" "100000" "$OUT"
run_kmq download -s alpha blob.bin --format file -o "$T/blob.back"
check "downloaded file matches byte for byte" cmp -s "$T/blob.bin" "$T/blob.back"

run_kmq download -s alpha nosuch --format csv
expect_eq "download of a missing name is a service error" 3 "$RC"
expect_contains "missing name says NOT_FOUND" "NOT_FOUND" "$ERR"

# json upload, csv download round trip
printf '[{"k":"a","v":1.5},{"k":"b","v":2.5}]' > "$T/recs.json"
run_kmq upload -s alpha recs "$T/recs.json"
run_kmq download -s alpha recs --format csv
expect_eq "json upload, csv download" $'k,v\na,1.5\nb,2.5' "$OUT"

run_kmq close -s alpha
expect_eq "close exits 0" 0 "$RC"
run_kmq exec -s alpha 'x'
expect_eq "a closed session starts fresh" 1 "$RC"

# Execution time, as the kernel measured it (the reply's duration_ms)
run_kmq exec -s timed --time 'import time; time.sleep(0.2); 1'
expect_eq "exec --time prints the result" "1" "$OUT"
if [[ "$ERR" =~ "kmq: cell 1 ran in "([0-9]+)" ms" ]] && [ "${BASH_REMATCH[1]}" -ge 200 ]; then
    ok "exec --time says how long the cell ran (at least its sleep)"
else
    fail "exec --time says how long the cell ran (at least its sleep)" "$ERR"
fi
