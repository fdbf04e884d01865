# kmq-http (issue 14) against a real broker: the /v1 API (tests/http/api_test.py),
# the OpenAPI file against the routes, tokens, slow clients, a malformed-request
# battery, both compat modes driven by clients in their own style, TLS, and a
# broker that goes away. The Python cases print their own ok/FAIL lines.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
start_broker --max-sessions 3 --max-queue 2 || exit 1

HTTP_PIDS=()
# start_http NAME FLAGS...: kmq-http on a free loopback port, logging to
# $T/NAME.log; sets HTTP_URL. Waits (bounded) until it answers health.
start_http() {
    local name=$1; shift
    local port; port=$(free_port)
    HTTP_URL="http://127.0.0.1:$port"
    "$KMQ_BIN/kmq-http" --listen "127.0.0.1:$port" --endpoint "$ENDPOINT" -v "$@" \
        > "$T/$name.log" 2>&1 &
    HTTP_PIDS+=($!)
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
    HTTP_PIDS=()
}
trap 'stop_http; cleanup' EXIT

"$KMQ_BIN/kmq-http" --error-table > "$T/errors.json"
"$KMQ_BIN/kmq-http" --all-routes > "$T/routes.txt"

# --- the OpenAPI file -----------------------------------------------------------
$PY tests/http/openapi_check.py client/http/openapi.json "$T/routes.txt" "$T/errors.json"

# --- tokens: made on first start, 0600; --no-auth only on loopback -----------------
start_http main --token-file "$T/cfg/kernelmq/http_token" --max-body 1M --read-timeout-s 4 \
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

stop_http
