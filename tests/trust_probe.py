"""Knocks on a kmq-broker's frontend COUNT times the way a stranger would and
prints how many knocks were answered (a refused one never is).

usage: trust_probe.py ENDPOINT nokey|wrongkey|goodkey COUNT

nokey: a plain ZeroMQ DEALER (no CURVE); wrongkey: CURVE with the broker's
public key but a fresh client key nobody allowed; goodkey: the keys of
$KMQ_CONFIG_DIR, as every kernelmq client finds them (the control: it must be
answered). Each knock sends a well-formed hello; sockets go in batches of 200
so a thousand knocks take a few seconds.
"""
import os
import sys
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "client", "python"))
from kernelmq import _keys  # noqa: E402
from kernelmq._protocol import encode  # noqa: E402

BATCH = 100
WAIT_S = 1.5


def knock(ctx, endpoint, mode, server):
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if mode == "wrongkey":
        public, secret = zmq.curve_keypair()
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.curve_serverkey = server.encode()
    elif mode == "goodkey":
        _keys.apply(sock, endpoint)
    sock.connect(endpoint)
    try:
        sock.send_multipart(encode({"type": "hello", "id": 1, "version": 1,
                                    "client": "probe"}), zmq.NOBLOCK)
    except zmq.Again:
        pass            # not even queued: it cannot be answered either
    return sock


def main():
    endpoint, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    server = _keys.read_cert(os.path.join(_keys.config_dir(), "broker.key"))[0] or ""
    ctx = zmq.Context()
    answered = 0
    left = count
    while left > 0:
        socks = [knock(ctx, endpoint, mode, server) for _ in range(min(BATCH, left))]
        left -= len(socks)
        poller = zmq.Poller()
        for s in socks:
            poller.register(s, zmq.POLLIN)
        deadline = time.monotonic() + WAIT_S
        pending = set(socks)
        while pending and time.monotonic() < deadline:
            for s, _ in poller.poll(100):
                if s in pending:
                    s.recv_multipart()
                    pending.discard(s)
                    poller.unregister(s)
                    answered += 1
        for s in socks:
            s.close(0)
    ctx.term()
    print(answered)


if __name__ == "__main__":
    main()
