"""The sans-I/O core without any broker: decoding hostile input, request
state, heartbeats and liveness on a fake clock."""
import msgpack

from harness import case, check, finish
from kernelmq import _ops, _protocol as p, errors


def frames(header, *payloads, signature=b"KMQ1"):
    return [signature, msgpack.packb(header), *payloads]


def rejects(name, message_frames, needle=""):
    try:
        p.decode(message_frames)
    except p.Malformed as exc:
        check(name, needle in str(exc), exc)
        return
    check(name, False, "decoded")


def test_decode():
    reply = {"type": "reply", "id": 3, "status": "ok"}
    check("decode: a plain ok reply", p.decode(frames(reply)).id == 3)
    rejects("decode: wrong signature", frames(reply, signature=b"KMQ2"), "KMQ1")
    rejects("decode: one frame", [b"KMQ1"], "2 frames")
    rejects("decode: header not a map", [b"KMQ1", msgpack.packb([1, 2])], "not a map")
    rejects("decode: trailing bytes", [b"KMQ1", msgpack.packb(reply) + b"\x01"], "msgpack")
    rejects("decode: non-string key", [b"KMQ1", msgpack.packb({1: 2, "type": "reply"})],
            "msgpack")
    rejects("decode: ext type refused",
            [b"KMQ1", msgpack.packb({"type": "reply", "x": msgpack.ExtType(1, b"a")})],
            "msgpack")
    rejects("decode: id of the wrong kind", frames(dict(reply, id="3")), "'id'")
    rejects("decode: mime of the wrong kind", frames(dict(reply, mime=[1])), "array of")
    rejects("decode: mime and payloads differ", frames(dict(reply, mime=["text/plain"])),
            "payloads")
    rejects("decode: a MIME type twice",
            frames(dict(reply, mime=["text/plain", "text/plain"]), b"a", b"b"), "twice")
    rejects("decode: bad status", frames(dict(reply, status="maybe")), "status")
    rejects("decode: too many payloads", frames(reply, *([b"x"] * 65)), "payload frames")
    rejects("decode: header over 1 MiB", [b"KMQ1", b"\x80" * ((1 << 20) + 1)], "header")
    try:
        p.decode(frames(reply, b"x" * 11), max_payload=10)
        check("decode: payload over max_payload", False)
    except p.Malformed as exc:
        check("decode: payload over max_payload", exc.id == 3, exc)
    check("decode: unknown keys are ignored",
          p.decode(frames(dict(reply, future={"a": [1]}))).get("future") == {"a": [1]})


def test_requests():
    conn = p.Connection("test://")
    waiter = conn.start(_ops.VarsOp("nb1"), 0.0)
    header = msgpack.unpackb(waiter.frames[1])
    check("a request carries a fresh id, its type and session",
          header == {"type": "vars", "session": "nb1", "id": waiter.id}, header)
    check("ids start at a random 48-bit number (unique across clients)",
          0 < waiter.id < 2 ** 48 + 1 and p.Connection("x").next_id != conn.next_id - 1)
    event = frames({"type": "event", "id": waiter.id, "session": "nb1", "event": "stream",
                    "name": "stdout"}, b"hi")
    check("an event goes to its request", conn.receive(event, 0.1) == [waiter])
    check("another request's reply is dropped",
          conn.receive(frames({"type": "reply", "id": 99, "status": "ok"}), 0.2) == [])
    conn.receive(frames({"type": "reply", "id": waiter.id, "session": "nb1", "status": "ok",
                         "vars": [{"name": "x", "type": "int"}]}), 0.3)
    outputs, result = waiter.process(waiter.take(), 0.3)
    check("the reply becomes the op's result",
          p.done(result) and result[0].name == "x" and result[0].type == "int", result)
    second = conn.start(_ops.VarsOp("nb1"), 0.4)
    conn.receive(frames({"type": "reply", "id": second.id, "status": "ok", "mime": [7]}), 0.5)
    try:
        second.process(second.take(), 0.5)
        check("a malformed reply to our request fails it", False)
    except errors.ProtocolError:
        check("a malformed reply to our request fails it", True)
    third = conn.start(_ops.VarsOp("nb1"), 0.6)
    conn.receive(frames({"type": "reply", "id": third.id, "status": "error",
                         "error": "SOMETHING_NEW", "message": "from the future"}), 0.7)
    try:
        third.process(third.take(), 0.7)
    except errors.Internal as exc:
        check("an unknown error name is Internal", exc.fields.get("error") == "SOMETHING_NEW")
    for code, cls in (("KERNEL_DIED", errors.KernelDied), ("QUEUE_FULL", errors.QueueFull),
                      ("TIMEOUT", errors.Timeout), ("SESSION_LIMIT", errors.SessionLimit)):
        exc = errors.from_reply({"error": code, "message": "m", "cause": "signal 9"})
        check("error %s is %s" % (code, cls.__name__), type(exc) is cls)
    check("KernelDied says its cause and that state is lost",
          errors.from_reply({"error": "KERNEL_DIED", "cause": "signal 9 (Killed)"}).cause
          == "signal 9 (Killed)")
    try:
        conn.start(_ops.ExecuteOp("nb1", "x" * (conn.max_payload + 1), None, None, None,
                                  None), 1.0)
        check("a payload over max_payload is refused locally", False)
    except errors.TooLarge:
        check("a payload over max_payload is refused locally", not conn.waiters.get(4))


def test_liveness():
    conn = p.Connection("test://")
    conn.heartbeat_ivl, conn.liveness = 1.0, 3
    waiter = conn.start(_ops.VarsOp("nb1"), 100.0)
    beats, failed = conn.tick(100.5)
    check("no heartbeat before the interval", beats == [] and failed == [])
    beats, failed = conn.tick(101.0)
    check("a heartbeat each interval while waiting",
          len(beats) == 1 and msgpack.unpackb(beats[0][1]) == {"type": "heartbeat"})
    conn.receive(frames({"type": "heartbeat"}), 102.5)
    beats, failed = conn.tick(105.0)
    check("any message is life", failed == [])
    stats = conn.start(_ops.StatsOp(), 105.0)
    beats, failed = conn.tick(105.6)
    check("silence fails what cannot resume (stats) at once", failed == [stats])
    try:
        stats.process(stats.take(), 105.6)
    except errors.BrokerUnreachable as exc:
        check("... with BrokerUnreachable", "stopped answering" in str(exc))
    conn.forget(stats, 105.6)
    check("... while a session's request waits for the broker to come back",
          not waiter.finished and conn.resuming_until == 105.6 + p.RESUME_S)
    #  A broker answers: hello, then resume for the request
    conn.receive(frames({"type": "heartbeat"}), 110.0)
    sent, _ = conn.tick(110.0)
    headers = [msgpack.unpackb(frame[1]) for frame in sent]
    check("the broker back: hello, then resume with the request's id",
          headers[0]["type"] == "hello"
          and headers[1] == {"type": "resume", "id": headers[1]["id"], "session": "nb1",
                             "request": waiter.id}, headers)
    check("resume says running: the request goes on waiting",
          conn.receive(frames({"type": "reply", "id": headers[1]["id"], "session": "nb1",
                               "status": "ok", "state": "running"}), 110.1) == []
          and not waiter.finished)
    #  The broker goes again, and a new one answers LOST
    beats, failed = conn.tick(114.0)
    conn.receive(frames({"type": "heartbeat"}), 120.0)
    sent, _ = conn.tick(120.0)
    resume_id = msgpack.unpackb(sent[1][1])["id"]
    conn.receive(frames({"type": "reply", "id": resume_id, "session": "nb1",
                         "status": "error", "error": "LOST", "ran": False,
                         "message": "it never reached the kernel"}), 120.1)
    try:
        waiter.process(waiter.take(), 120.1)
        check("LOST fails the request", False)
    except errors.Lost as exc:
        check("LOST fails the request with Lost, saying whether it ran", exc.ran is False)
    conn.forget(waiter, 120.1)
    lone = p.Connection("test://")
    lone.heartbeat_ivl, lone.liveness = 1.0, 3
    w = lone.start(_ops.VarsOp("nb1"), 0.0)
    lone.tick(3.1)
    _, failed = lone.tick(3.1 + p.RESUME_S)
    check("no broker within the resume bound: BrokerUnreachable", failed == [w])
    idle = p.Connection("test://")
    check("an idle connection does nothing", idle.tick(1e9) == ([], []))


def test_execute_op():
    op = _ops.ExecuteOp("nb1", "print('é')", 2.5, None, None, None)
    check("execute carries timeout_ms", op.header["timeout_ms"] == 2500)
    seen = []
    op.callbacks["stdout"] = seen.append
    data = "é€".encode()
    for chunk in (data[:1], data[1:3], data[3:]):
        op.on_event(p.Message({"type": "event", "event": "stream", "name": "stdout"}, [chunk]))
    ex = op.on_reply(p.Message({"type": "reply", "status": "error", "error": "PYTHON_ERROR",
                                "ename": "ValueError", "evalue": "bad", "traceback": ["t"],
                                "execution_count": 4}))
    check("stream chunks that split a character decode whole", "".join(seen) == "é€", seen)
    check("PYTHON_ERROR is a value, not an exception",
          ex.error.name == "ValueError" and ex.execution_count == 4 and ex.stdout == "é€")


def test_field_table():
    """The client checks header fields with the same kinds as the C codec:
    its table is compared with common/proto_names.c's, key by key."""
    import os
    import re
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "common", "proto_names.c")
    with open(source) as f:
        rows = re.findall(r'\{ "(\w+)", K_(\w+), K_(\w+) \}', f.read())
    kinds = {"STR": p._STR, "UINT": p._UINT, "BOOL": p._BOOL, "ARRAY": p._ARRAY,
             "MAP": p._MAP}
    c_table = {name: (kinds[kind],) + ((kinds[elem],) if elem != "NONE" else ())
               for name, kind, elem in rows}
    check("the C codec's field table was read", len(c_table) > 40, len(c_table))
    differ = sorted(k for k in set(c_table) | set(p._FIELDS)
                    if c_table.get(k) != p._FIELDS.get(k))
    check("the Python client's field kinds are the C codec's", not differ, differ)


def test_frame_limit():
    many = [b"x"] * 65
    rejects("decode: 65 payloads without a frame", frames({"type": "reply", "id": 1,
            "status": "ok"}, *many), "over 64")
    message = p.decode(frames({"type": "reply", "id": 1, "status": "ok", "format": "frame",
                               "frame": {"rows": 0}}, *many))
    check("decode: a frame reply may carry more", len(message.payloads) == 65)


for test in (test_decode, test_requests, test_liveness, test_execute_op, test_field_table,
             test_frame_limit):
    case(test)
finish()
