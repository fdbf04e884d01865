# Trust (README: Trust; protocol.md 13): CURVE on tcp by default,
# keys made on first start and found by every client with no flags; a
# client without an allowed key is refused at the handshake (and logged,
# rate-limited); sessions belong to the key that made them, and another
# allowed key gets FORBIDDEN until the owner shares; --insecure says so.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
PROBE="$(dirname "$0")/trust_probe.py"
start_broker || exit 1
CFG=$KMQ_CONFIG_DIR

# --- keys made on first start, private ---------------------------------
check "config dir is 0700" [ "$(stat -c %a "$CFG")" == 700 ]
check "broker key pair made" [ -f "$CFG/broker.key" -a -f "$CFG/broker.key_secret" ]
check "broker secret key private" [ "$(stat -c %a "$CFG/broker.key_secret")" == 600 ]
check "owner's client key allowed" [ -f "$CFG/clients/client-owner.key" ]
expect_contains "broker says CURVE is on" "CURVE on tcp" "$(cat "$T/broker.log")"

# --- allowed clients work with no flags ---------------------------------
run_kmq exec -s t1 'x = 6 * 7; print(x)'
expect_eq "CLI with the owner's key" "42" "$OUT"
out=$(PYTHONPATH=client/python $PY -c '
import sys, kernelmq
with kernelmq.Client(sys.argv[1]) as c:
    print(c.session("t1").run("x + 1").text)' "$ENDPOINT" 2>&1)
expect_eq "Python client with the owner's key" "43" "$out"
out=$("$KMQ_BIN/kmq-testpeer" "$ENDPOINT" huge-timeout t1 2>&1; echo "rc=$?")
expect_contains "kmq-testpeer (libkmq's keys) gets answers" "rc=0" "$out"

# --- strangers are refused at the handshake ------------------------------
n=$($PY "$PROBE" "$ENDPOINT" goodkey 5)
expect_eq "control: the probe with the allowed key is answered" "5" "$n"
# One of each first: the log's burst (auth.h) shows both kinds
n=$($PY "$PROBE" "$ENDPOINT" nokey 1)$($PY "$PROBE" "$ENDPOINT" wrongkey 1)
expect_eq "a client without a key, one with a wrong key: not answered" "00" "$n"
n=$($PY "$PROBE" "$ENDPOINT" nokey 499)
expect_eq "499 more clients without a key: none answered" "0" "$n"
n=$($PY "$PROBE" "$ENDPOINT" wrongkey 499)
expect_eq "499 more clients with a key nobody allowed: none answered" "0" "$n"
check "broker survives 1,000 refused handshakes" kill -0 "$BROKER_PID"
run_kmq exec -s t1 'print(x)'
expect_eq "the allowed client is still served" "42" "$OUT"
log=$(cat "$T/broker.log")
expect_contains "refused key is logged with its key" "is not in $CFG/clients/" "$log"
expect_contains "keyless peer is logged" "frontend: refused a peer" "$log"
lines=$(grep -cE "auth: .*refused" "$T/broker.log")
check "refusals are rate-limited ($lines lines for 1,000)" [ "$lines" -le 20 ]
expect_contains "the rest are counted" "the rest of this window is counted" "$log"
refusals=$(kmq stats --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["auth_refusals"])')
check "stats counts the refusals ($refusals)" [ "$refusals" -ge 1000 ]
KMQ_CONFIG_DIR="$T/nobody" "$KMQ_BIN/kmq" -e "$ENDPOINT" stats > "$T/out" 2> "$T/err"
rc=$?
expect_eq "CLI without the broker's key fails" "3" "$rc"
expect_contains "and says the key may be why" "no broker key found" "$(cat "$T/err")"

# --- a second allowed key: FORBIDDEN until shared -------------------------
BOB="$T/bob"
mkdir -p "$BOB"; chmod 700 "$BOB"
cp "$CFG/broker.key" "$BOB/"
bob_key=$(KMQ_CONFIG_DIR="$BOB" "$KMQ_BIN/kmq" keys | sed -n 's/^your client key: \([^ ]*\) .*/\1/p')
check "bob has a key of his own" [ ${#bob_key} == 40 ]
run_kmq keys allow "$BOB/client.key" bob
expect_contains "owner allows bob's key" "clients/bob.key" "$OUT"
bob() { KMQ_CONFIG_DIR="$BOB" "$KMQ_BIN/kmq" -e "$ENDPOINT" "$@" > "$T/out" 2> "$T/err"; RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err"); }
bob exec -s bob1 'print("mine")'
expect_eq "bob's own session works" "mine" "$OUT"
bob exec -s t1 'print(x)'
expect_eq "bob: execute in alice's session refused" "3" "$RC"
expect_contains "with FORBIDDEN" "FORBIDDEN" "$ERR"
expect_contains "which says how to share" "kmq share -s t1 --with $bob_key" "$ERR"
bob upload -s t1 df "$PROBE"
expect_contains "bob: upload refused" "FORBIDDEN" "$ERR"
bob attach -s t1
expect_contains "bob: attach refused" "FORBIDDEN" "$ERR"
bob close -s t1
expect_contains "bob: close refused" "FORBIDDEN" "$ERR"
bob share -s t1 --with "$BOB/client.key"
expect_contains "bob cannot share alice's session" "FORBIDDEN" "$ERR"
bob shutdown
expect_contains "bob cannot stop the broker" "FORBIDDEN" "$ERR"
bob stats --json
check "bob's stats do not list alice's session" [ "$(echo "$OUT" | grep -c '"t1"')" == 0 ]
run_kmq exec -s t1 'print(x)'
expect_eq "alice's session untouched" "42" "$OUT"

run_kmq share -s t1 --with "$bob_key"
expect_eq "alice shares t1 with bob" "session t1: shared" "$OUT"
bob exec -s t1 'x += 1; print(x)'
expect_eq "bob: execute once shared" "43" "$OUT"
KMQ_CONFIG_DIR="$BOB" "$KMQ_BIN/kmq" -e "$ENDPOINT" attach -s t1 > "$T/bob-attach.out" 2>&1 &
attach=$!
sleep 1
run_kmq exec -s t1 'print("seen by bob")'
sleep 0.5
kill "$attach"; wait "$attach" 2>/dev/null
expect_contains "bob: attach once shared sees alice's cell" "seen by bob" "$(cat "$T/bob-attach.out")"

# The Python client: Session.share / Forbidden, and revoke
out=$(PYTHONPATH=client/python KMQ_CONFIG_DIR="$BOB" $PY -c '
import sys, kernelmq
with kernelmq.Client(sys.argv[1]) as c:
    try:
        c.session("bob1").share(sys.argv[2] + "/client.key")   # bob shares his own
        c.session("t2").run("1")
        print("no error")
    except kernelmq.Forbidden as e:
        print("Forbidden:", e)' "$ENDPOINT" "$CFG" 2>&1)
expect_eq "Python: bob's t2 is free for him" "no error" "$out"
out=$(PYTHONPATH=client/python $PY -c '
import sys, kernelmq
with kernelmq.Client(sys.argv[1]) as c:
    print(c.session("bob1").run("print(1)").stdout.strip())
    try:
        c.session("t2").run("1")
    except kernelmq.Forbidden:
        print("Forbidden")
    print(c.session("t1").share(sys.argv[2], revoke=True))' "$ENDPOINT" "$bob_key" 2>&1)
expect_eq "Python: Session.share, Forbidden, revoke" "1
Forbidden
[]" "$out"
bob exec -s t1 'print(x)'
expect_contains "bob: refused again after revoke" "FORBIDDEN" "$ERR"

# --- HTTP: a token acts for the key its line names (http_token.h) -------
printf 'token-alice\ntoken-bob bob\n' > "$CFG/http_token"; chmod 600 "$CFG/http_token"
port=$(free_port)
"$KMQ_BIN/kmq-http" --listen "127.0.0.1:$port" --endpoint "$ENDPOINT" > "$T/http.log" 2>&1 &
http_pid=$!
wait_until 100 'curl -s -o /dev/null "http://127.0.0.1:$port/v1/health"'
# post TOKEN SESSION CODE: prints the HTTP status, then the body
post() { curl -s -w '\n%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
         -H 'Accept: application/json' -d "{\"code\": \"$3\"}" \
         "http://127.0.0.1:$port/v1/sessions/$2/execute"; }
run_kmq exec -s h1 'h = 5'
out=$(post token-alice h1 'print(h)')
expect_eq "HTTP: the owner's token uses the owner's session" "200" "$(echo "$out" | tail -1)"
out=$(post token-bob h1 'print(h)')
expect_eq "HTTP: bob's token on alice's unshared session: 403" "403" "$(echo "$out" | tail -1)"
expect_contains "... with error FORBIDDEN" '"error":"FORBIDDEN"' "$(echo "$out" | tr -d ' ')"
run_kmq share -s h1 --with "$bob_key"
out=$(post token-bob h1 'print(h * 2)')
expect_eq "HTTP: bob's token once shared: 200" "200" "$(echo "$out" | tail -1)"
expect_contains "... and runs there" "10" "$out"
out=$(post token-bob hb 'print(7)')
expect_eq "HTTP: bob's token makes bob's session" "200" "$(echo "$out" | tail -1)"
run_kmq exec -s hb 'print(1)'
expect_contains "... which alice cannot use" "FORBIDDEN" "$ERR"
bob exec -s hb 'print(8)'
expect_eq "... and bob's CLI can" "8" "$OUT"
# A client key that is no gateway cannot act for another key
out=$(PYTHONPATH=client/python $PY - "$ENDPOINT" "$bob_key" <<'PY'
import sys, zmq
from kernelmq import _keys
from kernelmq._protocol import encode, decode
sock = zmq.Context().socket(zmq.DEALER)
_keys.apply(sock, sys.argv[1])
sock.connect(sys.argv[1])
sock.send_multipart(encode({"type": "vars", "id": 9, "session": "hb", "as": sys.argv[2]}))
print(decode(sock.recv_multipart()).header.get("error") if sock.poll(5000) else "no answer")
PY
)
expect_eq "a client key (not in gateways/) sending as: FORBIDDEN" "FORBIDDEN" "$out"
kill -TERM "$http_pid"; wait "$http_pid" 2>/dev/null

# Owners and shares outlive a broker restart (the owners log, owners.h)
run_kmq share -s t1 --with "$bob_key"
bob exec -s bob3 'print(3)' 
stop_broker_only
restart_broker || exit 1
wait_until 100 'kmq exec -s t1 "print(x)" 2>/dev/null | grep -q 43'
bob exec -s t1 'print(x)'
expect_eq "after a restart: shared still works, state kept" "43" "$OUT"
bob exec -s bob3 'print(2)'
expect_eq "after a restart: bob's own" "2" "$OUT"
run_kmq exec -s bob3 'print(2)'
expect_contains "after a restart: alice refused on bob's" "FORBIDDEN" "$ERR"
bob close -s t1
expect_eq "bob closes the shared session" "0" "$RC"

# --- --insecure: said at every start; a plain client gets in ---------------
INSECURE="tcp://127.0.0.1:$(free_port)"
"$KMQ_BIN/kmq-broker" --frontend "$INSECURE" --runtime-dir "$T/rt-insecure" --insecure \
    --host false > "$T/insecure.log" 2>&1 &
insecure_pid=$!
wait_until 50 'grep -q "clients on" "$T/insecure.log"'
expect_contains "--insecure logs its warning" "--insecure: tcp endpoints" "$(cat "$T/insecure.log")"
n=$($PY "$PROBE" "$INSECURE" nokey 3)
expect_eq "control: without CURVE the keyless probe is answered" "3" "$n"
n=$(KMQ_INSECURE=1 "$KMQ_BIN/kmq" -e "$INSECURE" stats --json > /dev/null 2>&1; echo $?)
expect_eq "KMQ_INSECURE=1 clients talk to it" "0" "$n"
kill -TERM "$insecure_pid"; wait "$insecure_pid" 2>/dev/null
