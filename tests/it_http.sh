# kmq-http (issue 14) against a real broker: the /v1 API (tests/http/api_test.py),
# the OpenAPI file against the routes, tokens, slow clients, a malformed-request
# battery, both compat modes driven by clients in their own style, TLS, and a
# broker that goes away. The Python cases print their own ok/FAIL lines.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
start_broker --max-sessions 3 --max-queue 2 || exit 1

HTTP_PIDS=()
HTTP_LOGS=()
# start_http NAME FLAGS...: kmq-http on a free loopback port, logging to
# $T/NAME.log; sets HTTP_URL. Waits (bounded) until it answers health.
start_http() {
    local name=$1; shift
    local port; port=$(free_port)
    HTTP_URL="http://127.0.0.1:$port"
    "$KMQ_BIN/kmq-http" --listen "127.0.0.1:$port" --endpoint "$ENDPOINT" -v "$@" \
        > "$T/$name.log" 2>&1 &
    HTTP_PIDS+=($!)
    HTTP_LOGS+=("$T/$name.log")
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$HTTP_URL/v1/health" && return 0
        kill -0 "${HTTP_PIDS[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "kmq-http $name did not start:"; cat "$T/$name.log"
    return 1
}
stop_http() {
    for pid in "${HTTP_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then fail "kmq-http $pid exits on SIGTERM"; kill -KILL "$pid"; fi
        wait "$pid" 2>/dev/null
    done
    # Under make check: what the sanitizers said when each one exited
    for log in "${HTTP_LOGS[@]}"; do
        if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log"; then
            fail "kmq-http exits clean under the sanitizers ($(basename "$log"))" \
                 "$(grep -m3 -E "Sanitizer|runtime error" "$log")"
        fi
    done
    HTTP_PIDS=()
    HTTP_LOGS=()
}
trap 'stop_http; cleanup' EXIT

"$KMQ_BIN/kmq-http" --error-table > "$T/errors.json"
"$KMQ_BIN/kmq-http" --all-routes > "$T/routes.txt"

# --- the OpenAPI file -----------------------------------------------------------
$PY tests/http/openapi_check.py client/http/openapi.json "$T/routes.txt" "$T/errors.json"

# --- tokens: made on first start, 0600; --no-auth only on loopback -----------------
READ_TIMEOUT=8
start_http main --token-file "$T/cfg/kernelmq/http_token" --max-body 1M \
    --read-timeout-s $READ_TIMEOUT \
    || exit 1
MAIN_URL=$HTTP_URL
expect_eq "the token file is made 0600" "600" "$(stat -c %a "$T/cfg/kernelmq/http_token")"
expect_eq "in a 0700 directory" "700" "$(stat -c %a "$T/cfg/kernelmq")"
check "it holds one token of 64 hex digits" grep -qxE '[0-9a-f]{64}' "$T/cfg/kernelmq/http_token"
out=$("$KMQ_BIN/kmq-http" --listen 0.0.0.0:1 --no-auth 2>&1); rc=$?
expect_eq "--no-auth on a public address is refused (exit 2)" "2" "$rc"
expect_contains "and says why" "only on a loopback --listen" "$out"
cp "$T/cfg/kernelmq/http_token" "$T/open_token"; chmod 644 "$T/open_token"
out=$(timeout 10 "$KMQ_BIN/kmq-http" --listen 127.0.0.1:1 --token-file "$T/open_token" 2>&1); rc=$?
expect_eq "a token file others may read is refused (exit 3)" "3" "$rc"
export KMQ_HTTP="$MAIN_URL" KMQ_HTTP_TOKEN; KMQ_HTTP_TOKEN=$(cat "$T/cfg/kernelmq/http_token")

# --- the API ---------------------------------------------------------------------
timeout 280 $PY tests/http/api_test.py "$T/errors.json" || fail "api_test.py exits 0"

# --- 1,000 slow clients; a malformed-request battery --------------------------------
timeout 120 $PY tests/http/slow_clients.py 1000 $READ_TIMEOUT || fail "slow_clients.py exits 0"
timeout 120 $PY tests/http/malformed.py $READ_TIMEOUT || fail "malformed.py exits 0"
check "kmq-http is still running after the battery" kill -0 "${HTTP_PIDS[0]}"

# --- compat: each sandbox's own client, unmodified ------------------------------------
start_http dfdict --compat df-dict --no-auth --compat-session dfd || exit 1
expect_contains "--no-auth logs a warning at start" "--no-auth: anyone who can reach" \
    "$(cat "$T/dfdict.log")"
timeout 120 $PY tests/http/df_dict_client.py "$HTTP_URL" || fail "df_dict_client.py exits 0"
start_http codesandbox --compat code-sandbox --no-auth --compat-session csb || exit 1
timeout 120 $PY tests/http/code_sandbox_client.py "$HTTP_URL" || fail "code_sandbox_client.py exits 0"
# (the broker allows 3 sessions: end these two)
for s in dfd csb; do
    curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $KMQ_HTTP_TOKEN" "$MAIN_URL/v1/sessions/$s"
done
# One session per token: two tokens, two sessions
printf 'token-one\ntoken-two\n' > "$T/two_tokens"; chmod 600 "$T/two_tokens"
start_http pertoken --compat code-sandbox --token-file "$T/two_tokens" --compat-session per-token || exit 1
for t in one two; do
    curl -s -H "Authorization: Bearer token-$t" -H 'Content-Type: application/json' \
         "$HTTP_URL/upload_data/who" -d "\"$t\"" > /dev/null
done
one=$(curl -s -H "Authorization: Bearer token-one" "$HTTP_URL/get_data/who")
two=$(curl -s -H "Authorization: Bearer token-two" "$HTTP_URL/get_data/who")
expect_eq "per-token: each token has its own session" '{"key":"who","data":"one"} {"key":"who","data":"two"}' "$one $two"
expect_eq "per-token: no token, no answer" "401" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/get_data/who")"
for t in one two; do
    curl -s -o /dev/null -X POST -H "Authorization: Bearer token-$t" "$HTTP_URL/clear_data"
done
kmq stats --json | $PY -c '
import json, subprocess, sys
for e in json.load(sys.stdin)["session_list"]:
    if e["session"].startswith("compat-"):
        subprocess.run([sys.argv[1], "-e", sys.argv[2], "close", "-s", e["session"]],
                       capture_output=True)' "$KMQ_BIN/kmq" "$ENDPOINT"

# --- TLS --------------------------------------------------------------------------------------
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.crt" -days 1 \
       -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 > "$T/openssl.log" 2>&1; then
    port=$(free_port)
    "$KMQ_BIN/kmq-http" --listen "127.0.0.1:$port" --endpoint "$ENDPOINT" --no-auth \
        --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" > "$T/tls.log" 2>&1 &
    HTTP_PIDS+=($!)
    HTTP_LOGS+=("$T/tls.log")
    wait_for 50 curl -s -o /dev/null --cacert "$T/tls.crt" "https://127.0.0.1:$port/v1/health"
    out=$(curl -s --cacert "$T/tls.crt" "https://127.0.0.1:$port/v1/sessions/tls/execute" -d '{"code":"6*7"}')
    expect_contains "TLS: execute over https with --tls-cert and --tls-key" '"text":"42"' "$out"
    expect_eq "TLS: plain http is not answered" "000" \
        "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$port/v1/health")"
    curl -s --cacert "$T/tls.crt" -X DELETE "https://127.0.0.1:$port/v1/sessions/tls" > /dev/null
else
    fail "openssl makes a test certificate" "$(tail -3 "$T/openssl.log")"
fi

# --- every route of the OpenAPI file was exercised ---------------------------------------
$PY tests/http/route_check.py client/http/openapi.json "$T"/main.log "$T"/dfdict.log \
    "$T"/codesandbox.log "$T"/pertoken.log

# --- the broker goes away: 503 BROKER_LOST, no crash ---------------------------------------
kmq shutdown --sessions > /dev/null 2>&1
for _ in $(seq 1 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
lost() { [ "$(curl -s -o "$T/lost.json" -w '%{http_code}' "$MAIN_URL/v1/health")" = 503 ]; }
check "a broker that is gone: health answers 503" wait_for 150 lost
expect_contains "with error BROKER_LOST" '"error":"BROKER_LOST"' "$(cat "$T/lost.json")"
check "kmq-http is still running without its broker" kill -0 "${HTTP_PIDS[0]}"

stop_http
