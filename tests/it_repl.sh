# `kmq repl` driven through a real terminal (tmux): line editing, TAB
# completion through the live session, history, Ctrl-C interrupt.
source "$(dirname "$0")/lib.sh"
start_broker || exit 1

if ! command -v tmux > /dev/null; then
    fail "tmux is installed (needed to drive the repl)"; exit 1
fi
SOCK="kmq-it-repl-$$"                  # a private tmux server, ours alone
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null; cleanup' EXIT

# The visible screen, blank lines dropped.
screen() { tm capture-pane -p -t repl | grep -v '^$'; }

# wait_screen TEXT: until the screen shows TEXT (fixed string), at most ~20 s.
wait_screen() {
    for _ in $(seq 1 200); do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    return 1
}

# expect_screen NAME TEXT
expect_screen() {
    if wait_screen "$2"; then ok "$1"
    else fail "$1" "screen: $(screen | tail -6 | tr '\n' '|')"; fi
}

tm new-session -d -s repl -x 200 -y 50 \
    "LC_ALL=C.UTF-8 '$KMQ_BIN/kmq' -e '$ENDPOINT' repl -s replsess"
expect_screen "repl shows its first prompt" "In [1]:"

tm send-keys -t repl 'unique_name_value = 4242' Enter
expect_screen "a cell runs and the count moves on" "In [2]:"

# TAB completes the name from the live namespace; Enter runs it
tm send-keys -t repl 'unique_na' Tab
expect_screen "TAB completes a namespace name" "In [2]: unique_name_value"
tm send-keys -t repl Enter
expect_screen "the completed name's value is printed" "Out[2]: 4242"

# Several candidates: the first TAB lists them
tm send-keys -t repl 'alpha_one = 1; alpha_two = 2' Enter
expect_screen "second cell ran" "In [4]:"
tm send-keys -t repl 'alpha_' Tab
expect_screen "TAB lists several candidates" "alpha_one  alpha_two"
tm send-keys -t repl C-u

# Attribute completion through the session
tm send-keys -t repl 'import os' Enter
expect_screen "an import runs" "In [5]:"
tm send-keys -t repl 'os.getcw' Tab
expect_screen "TAB completes an attribute" "In [5]: os.getcwd"
tm send-keys -t repl C-u

# Ctrl-C interrupts a running cell; the namespace stays
tm send-keys -t repl 'import time; time.sleep(60)' Enter
busy=no
for _ in $(seq 1 200); do
    if kmq stats --json | /usr/bin/python3 -c '
import json, sys
s = [e["state"] for e in json.load(sys.stdin)["session_list"] if e["session"] == "replsess"]
sys.exit(0 if s == ["busy"] else 1)'; then busy=yes; break; fi
    sleep 0.1
done
expect_eq "the sleeping cell makes the session busy" yes "$busy"
tm send-keys -t repl C-c
expect_screen "Ctrl-C interrupts the running cell" "INTERRUPTED"
tm send-keys -t repl 'unique_name_value + 1' Enter
expect_screen "namespace kept after Ctrl-C" "4243"

# History: Up recalls the last cell
tm send-keys -t repl Up
recalled=0
for _ in $(seq 1 100); do
    recalled=$(screen | grep -c '^In \[[0-9]*\]: unique_name_value + 1$')
    [ "$recalled" -ge 2 ] && break
    sleep 0.1
done
expect_eq "Up recalls the previous line at the new prompt" 2 "$recalled"
tm send-keys -t repl C-u C-d
for _ in $(seq 1 50); do tm has-session -t repl 2>/dev/null || break; sleep 0.1; done
if tm has-session -t repl 2>/dev/null; then fail "Ctrl-D leaves the repl"
else ok "Ctrl-D leaves the repl"; fi
