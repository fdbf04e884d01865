# kmq-jupyter with real notebook software: nbclient runs a notebook end to
# end on a shared session while `kmq attach` watches its transcript; two
# jupyter_client connections share one session.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/jupyter/lib_jupyter.sh"
PY=/usr/bin/python3
start_broker || exit 1
jupyter_env || { fail "kmq-jupyter install writes the kernelspecs"; exit 1; }

# --- nbclient, with kmq attach watching the session ----------------------------------
run_kmq vars -s "$SHARED_SESSION"          # starts the session's kernel, runs no cell
expect_eq "the shared session starts" 0 "$RC"
"$KMQ_BIN/kmq" -e "$ENDPOINT" attach -s "$SHARED_SESSION" > "$T/attach.out" 2> "$T/attach.err" &
attach_pid=$!
sleep 0.5
timeout 200 $PY tests/jupyter/nbclient_test.py kernelmq-shared "$T/run.ipynb" \
    > "$T/nbclient.out" 2> "$T/nbclient.err"
nb_rc=$?
cat "$T/nbclient.out"
[ "$nb_rc" -eq 0 ] || fail "nbclient_test.py exits 0" "status $nb_rc: $(grep -v '^[IW]:' "$T/nbclient.err" | tail -15)"
sleep 0.5
kill "$attach_pid" 2>/dev/null; wait "$attach_pid" 2>/dev/null
transcript=$(cat "$T/attach.out"; cat "$T/attach.err")
expect_contains "kmq attach: the DataFrame cell's code" 'df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"]' "$transcript"
expect_contains "kmq attach: the DataFrame result" "Oslo" "$transcript"
expect_contains "kmq attach: the cells are numbered" "In [" "$transcript"
expect_contains "kmq attach: the error cell's output and error" "before the error" "$transcript"
expect_contains "kmq attach: the error" "ZeroDivisionError" "$transcript"
expect_contains "kmq attach: display() and print output" "after display" "$transcript"
expect_contains "kmq attach: the last cell" "rows: 3 mean: 17.666666666666668" "$transcript"
expect_contains "kmq attach: who ran them" "kmq-jupyter" "$transcript"

# --- two Jupyter clients on one session -------------------------------------------------
"$KMQ_BIN/kmq-jupyter" install --prefix "$T/jupyter/prefix" --name kernelmq-pair \
    --session nb-pair --endpoint "$ENDPOINT" > /dev/null
run_kmq vars -s nb-pair
timeout 150 $PY tests/jupyter/shared_test.py kernelmq-pair > "$T/shared.out" 2> "$T/shared.err"
shared_rc=$?
cat "$T/shared.out"
[ "$shared_rc" -eq 0 ] || fail "shared_test.py exits 0" "status $shared_rc: $(grep -v '^[IW]:' "$T/shared.err" | tail -15)"
exit 0
