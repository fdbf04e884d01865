"""Counts the `input` events a requester gets for its own execute, with and
without `input: false` (protocol.md 4.5).

Usage: /usr/bin/python3 tests/input_events.py ENDPOINT SESSION
Prints "default N" and "input_false N": the input events of one execute
each way. Exit 0.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
import zmq                                  # noqa: E402
from kernelmq import _keys                  # noqa: E402
from kernelmq import _protocol as protocol  # noqa: E402


def inputs_of(sock, rid, header):
    sock.send_multipart(protocol.encode(header, [b"x = 1"]))
    count = 0
    while True:
        message = protocol.decode(sock.recv_multipart())
        if message.get("id") != rid:
            continue
        if message.type == "event" and message.get("event") == "input":
            count += 1
        if message.type == "reply":
            return count


def main():
    endpoint, session = sys.argv[1:3]
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 30000)
    _keys.apply(sock, endpoint)
    sock.connect(endpoint)
    sock.send_multipart(protocol.encode({"type": "hello", "id": 1, "version": 1,
                                         "client": "inputs"}))
    protocol.decode(sock.recv_multipart())
    base = {"type": "execute", "session": session}
    print("default", inputs_of(sock, 2, dict(base, id=2)))
    print("input_false", inputs_of(sock, 3, dict(base, id=3, input=False)))
    sock.close()
    context.term()


main()
