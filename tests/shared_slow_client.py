"""A client that attaches to a session and then stops reading.

Usage: /usr/bin/python3 tests/shared_slow_client.py ENDPOINT SESSION READY_FILE SLEEP_S

Says hello as "slow", attaches to SESSION, writes READY_FILE, then reads
nothing for SLEEP_S seconds (with the smallest queues ZeroMQ and the kernel
allow, so the broker's queue for it fills). Then it reads everything that
arrived and prints one line per event kind it saw, "kind count", and the
`detached` notice's message if one came. Exit 0.
"""
import collections
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
import zmq                                  # noqa: E402
from kernelmq import _keys                  # noqa: E402
from kernelmq import _protocol as protocol  # noqa: E402


def main():
    endpoint, session, ready_file, sleep_s = sys.argv[1:5]
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.RCVHWM, 1)
    sock.setsockopt(zmq.RCVBUF, 4096)
    sock.setsockopt(zmq.LINGER, 0)
    _keys.apply(sock, endpoint)             # CURVE on tcp, the test's keys
    sock.connect(endpoint)
    sock.send_multipart(protocol.encode({"type": "hello", "id": 1, "version": 1,
                                         "client": "slow"}))
    sock.send_multipart(protocol.encode({"type": "attach", "id": 2, "session": session}))
    replies = 0
    while replies < 2:
        message = protocol.decode(sock.recv_multipart())
        if message.type == "reply":
            replies += 1
    with open(ready_file, "w") as f:
        f.write("attached\n")
    time.sleep(float(sleep_s))
    seen = collections.Counter()
    notice = ""
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 3:
        if not sock.poll(200):
            continue
        quiet_since = time.monotonic()
        message = protocol.decode(sock.recv_multipart())
        kind = message.get("event", message.type)
        seen[kind] += 1
        if kind == "detached":
            notice = message.get("message", "")
    for kind, count in sorted(seen.items()):
        print(kind, count)
    if notice:
        print("notice", notice)
    sock.close()
    context.term()


if __name__ == "__main__":
    main()
