#!/usr/bin/python3
"""Execute round trip and session start of kernelmq, measured from a raw
ZeroMQ DEALER speaking protocol v1 (Debian's python3-zmq and python3-msgpack).

usage: kmq_rtt.py ENDPOINT [CALLS]
Prints: session start to first reply (ms), then the median and p99 of CALLS
round trips of `x=1` on that warm session."""
import statistics, sys, time, uuid
import msgpack, zmq

def request(sock, header, payloads=()):
    sock.send_multipart([b"KMQ1", msgpack.packb(header), *payloads])
    while True:
        frames = sock.recv_multipart()
        reply = msgpack.unpackb(frames[1])
        if reply.get("type") == "reply" and reply.get("id") == header["id"]:
            return reply

def main():
    endpoint = sys.argv[1]
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    session = "bench-" + uuid.uuid4().hex[:8]
    t0 = time.perf_counter()
    reply = request(sock, {"type": "execute", "id": 1, "session": session}, [b"x = 1"])
    start_ms = (time.perf_counter() - t0) * 1000
    assert reply["status"] == "ok", reply
    times = []
    for i in range(calls):
        t = time.perf_counter()
        reply = request(sock, {"type": "execute", "id": 2 + i, "session": session}, [b"x = 1"])
        times.append((time.perf_counter() - t) * 1000)
        assert reply["status"] == "ok", reply
    request(sock, {"type": "close", "id": calls + 2, "session": session})
    times.sort()
    print(f"session start to first reply: {start_ms:.1f} ms")
    print(f"execute x=1 round trip over {calls} calls: median {statistics.median(times):.3f} ms, "
          f"p99 {times[int(len(times) * 0.99) - 1]:.3f} ms")

main()
