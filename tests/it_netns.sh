# A kernel host on another "machine" (issue 12): kmq-host runs in a network
# namespace of its own and reaches the broker only over a veth pair on
# addresses this test makes, the backend on tcp with CURVE. Its key goes on
# the broker's hosts/ allowlist and sessions run there. A second host in a
# second namespace, with a key nobody allowed, is refused at the handshake:
# it never registers and never gets a session. The test removes the
# namespaces and links it made, whatever happens.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if [ "$(id -u)" != 0 ] || ! command -v ip > /dev/null; then
    echo "ok   skipped: needs root and ip (iproute2) for network namespaces"
    exit 0
fi

tag=$$
net=$((tag % 200 + 20))                 # 10.213.<net>.0/29: two /30 links
NS1="kmq-ns1-$tag"; NS2="kmq-ns2-$tag"
V1="kmqa$tag"; V2="kmqb$tag"            # the broker's ends; peers get a p suffix
BROKER_ADDR="10.213.$net.1"; HOST_ADDR="10.213.$net.2"
ROGUE_GW="10.213.$net.5"; ROGUE_ADDR="10.213.$net.6"
HOST_PID=""; ROGUE_PID=""

netns_cleanup() {
    for pid in $HOST_PID $ROGUE_PID; do
        kill -TERM "$pid" 2>/dev/null
        wait_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null
    done
    ip link del "$V1" 2>/dev/null
    ip link del "$V2" 2>/dev/null
    ip netns del "$NS1" 2>/dev/null
    ip netns del "$NS2" 2>/dev/null
}
trap 'netns_cleanup; cleanup' EXIT

# link NS VETH BROKER_SIDE/30 NS_SIDE/30: a namespace with one veth to us
link() {
    ip netns add "$1" && ip link add "$2" type veth peer name "${2}p" \
    && ip link set "${2}p" netns "$1" \
    && ip addr add "$3/30" dev "$2" && ip link set "$2" up \
    && ip -n "$1" addr add "$4/30" dev "${2}p" && ip -n "$1" link set "${2}p" up \
    && ip -n "$1" link set lo up \
    && ip -n "$1" route add default via "$3"
}
check "namespace 1 and its veth made" link "$NS1" "$V1" "$BROKER_ADDR" "$HOST_ADDR"
check "namespace 2 and its veth made" link "$NS2" "$V2" "$ROGUE_GW" "$ROGUE_ADDR"
check "namespace 1 cannot reach loopback services of ours" \
    ip netns exec "$NS1" $PY -c '
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", 22)) != 0 else 1)'

BACKEND="tcp://$BROKER_ADDR:$(free_port)"
start_broker --host false --backend "$BACKEND" || exit 1
CFG=$KMQ_CONFIG_DIR

# A host's config dir: the broker's public key, and the host key kmq-host
# makes on first start
HCFG="$T/host1"; RCFG="$T/rogue"
for d in "$HCFG" "$RCFG"; do mkdir -p "$d"; chmod 700 "$d"; cp "$CFG/broker.key" "$d/"; done

# start_ns_host NS CFG ID: kmq-host inside NS, its pid in $!
start_ns_host() {
    ip netns exec "$1" env KMQ_CONFIG_DIR="$2" "$KMQ_BIN/kmq-host" --backend "$BACKEND" \
        --runtime-dir "$T/rt-$3" --host-id "$3" \
        >> "$T/$3.log" 2>&1 &
}
start_ns_host "$NS1" "$HCFG" nshost
HOST_PID=$!
wait_until 50 '[ -f "$HCFG/host.key" ]'
check "the host made its key" [ -f "$HCFG/host.key_secret" ]
# Not allowed yet: refused, and it keeps trying
wait_until 50 'grep -q "refused a kernel host from $HOST_ADDR" "$T/broker.log"'
expect_contains "host with a key not yet allowed: refused and logged" \
    "refused a kernel host from $HOST_ADDR" "$(cat "$T/broker.log")"
run_kmq keys allow --host "$HCFG/host.key" nshost
expect_contains "the owner allows the host's key" "hosts/nshost.key" "$OUT"
# libzmq does not retry a handshake its peer refused: the host starts again
kill -TERM "$HOST_PID"; wait "$HOST_PID" 2>/dev/null
start_ns_host "$NS1" "$HCFG" nshost
HOST_PID=$!
hosts() { kmq stats --json 2>/dev/null | $PY -c '
import json, sys
print(" ".join(sorted(h["host"] for h in json.load(sys.stdin).get("hosts", []))))'; }
wait_until 100 '[ "$(hosts)" == nshost ]'
expect_eq "the allowed host registers over the veth" "nshost" "$(hosts)"

run_kmq exec -s n1 'import socket; print(socket.gethostname() != "", 6 * 7)'
expect_eq "a session runs on the namespaced host" "True 42" "$OUT"
host_of() { kmq stats --json | $PY -c '
import json, sys
print([s["host"] for s in json.load(sys.stdin)["session_list"] if s["session"] == sys.argv[1]][0])' "$1"; }
expect_eq "and stats places it there" "nshost" "$(host_of n1)"
kernel=$(pgrep -f "kmq-kernel.*$T/rt-nshost" | head -1)
check "its kernel lives in namespace 1" [ -n "$kernel" ] && \
    check "(same net namespace as the host)" \
        [ "$(readlink /proc/"$kernel"/ns/net)" == "$(readlink /proc/"$HOST_PID"/ns/net)" ]

# --- a rogue host: its own key, never allowed ----------------------------
start_ns_host "$NS2" "$RCFG" rogue
ROGUE_PID=$!
wait_until 50 'grep -q "refused a kernel host from $ROGUE_ADDR" "$T/broker.log"'
expect_contains "rogue host refused at the handshake, logged" \
    "refused a kernel host from $ROGUE_ADDR" "$(cat "$T/broker.log")"
# A client key is no host key (the allowlists are apart)
kill -TERM "$ROGUE_PID"; wait "$ROGUE_PID" 2>/dev/null
cp "$CFG/client.key" "$CFG/client.key_secret" "$RCFG/"
ip netns exec "$NS2" env KMQ_CONFIG_DIR="$RCFG" KMQ_HOST_KEY="$RCFG/client.key" \
    "$KMQ_BIN/kmq-host" --backend "$BACKEND" --runtime-dir "$T/rt-rogue" --host-id rogue \
    >> "$T/rogue.log" 2>&1 &
ROGUE_PID=$!
for i in 1 2 3 4 5; do kmq exec -s "r$i" 'print(1)' > /dev/null; done
sleep 1
expect_eq "rogue never registers" "nshost" "$(hosts)"
placed=$(for i in 1 2 3 4 5; do host_of "r$i"; done | sort -u | tr '\n' ' ')
expect_eq "every new session went to the allowed host" "nshost " "$placed"
check "rogue holds no session kernel" [ -z "$(pgrep -f "kmq-kernel --endpoint.*host rogue")" ]
expect_contains "rogue with a client's key refused too" \
    "key $(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$CFG/client.key") is not in $CFG/hosts/" \
    "$(cat "$T/broker.log")"
run_kmq exec -s n1 'print(6 * 7)'
expect_eq "the namespaced host still serves" "42" "$OUT"
