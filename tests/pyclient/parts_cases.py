"""Uploads in parts (protocol.md 5, upload), against the broker at argv[1]
(tests/it_parts.sh: max_payload 8M, the test kernel waiting 1 s for a
piece): the Python client's uploads of csv, json and files in pieces, and
from a raw DEALER what a client can get wrong or try: pieces sent while
the upload waits, too few or too many bytes, a piece that never comes, an
interrupt meanwhile, another client's piece, bad headers."""
import hashlib
import os
import struct
import time
import uuid

import msgpack
import pandas as pd
import zmq

from harness import case, check, endpoint, finish
import kernelmq
from kernelmq import _data, _keys, _ops

MAX_PAYLOAD = 8 << 20


class Raw:
    """A bare DEALER speaking protocol v1."""

    def __init__(self):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        _keys.apply(self.sock, endpoint())
        self.sock.connect(endpoint())
        self.next_id = 100

    def send(self, header, payloads=(), id=None):
        if id is None:
            self.next_id += 1
            id = self.next_id
        self.sock.send_multipart([b"KMQ1", msgpack.packb(dict(header, id=id)), *payloads])
        return id

    def piece(self, session, id, part, data):
        self.send({"type": "upload_part", "session": session, "part": part}, [data], id=id)

    def upload(self, session, name, format, pieces, size, parts=None):
        """An upload in parts announcing parts pieces (default: as many as
        given) and size bytes: pieces[0] with the request, the others
        after it; its id."""
        id = self.send({"type": "upload", "session": session, "name": name,
                        "format": format, "parts": parts or len(pieces), "bytes": size},
                       [pieces[0]])
        for part, piece in enumerate(pieces[1:], 1):
            self.piece(session, id, part, piece)
        return id

    def messages(self, id, timeout_s=60):
        """Every message of request id up to its reply: [(header, payloads)]."""
        got = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.sock.poll(200):
                continue
            frames = self.sock.recv_multipart()
            header = msgpack.unpackb(frames[1])
            if header.get("id") == id:
                got.append((header, frames[2:]))
                if header.get("type") == "reply":
                    break
        return got

    def reply(self, id, timeout_s=60):
        got = self.messages(id, timeout_s)
        if got and got[-1][0].get("type") == "reply":
            return got[-1][0]
        return {"status": "no reply", "message": "none within %d s" % timeout_s}

    def run(self, session, code, timeout_s=60):
        return self.reply(self.send({"type": "execute", "session": session},
                                    [code.encode()]), timeout_s)

    def close(self):
        self.sock.close()


def key():
    return "parts-" + uuid.uuid4().hex[:8]


def sample_csv(rows):
    frame = pd.DataFrame({"id": range(rows), "x": [i * 0.5 for i in range(rows)],
                          "note": ['line "%d"\nsecond line, with a comma' % i
                                   for i in range(rows)]})
    return frame, frame.to_csv(index=False).encode()


def client_csv_json_file():
    frame, data = sample_csv(120000)
    check("the client sends a %d-byte upload in pieces" % len(data),
          len(_data.upload_pieces("csv", [data])) > 1, len(data))
    with kernelmq.Client(endpoint()) as c:
        s = c.session(key())
        done = s.upload("df", data, format="csv")
        check("client: a csv upload in parts becomes the DataFrame",
              (done.rows, done.columns, done.bytes) == (120000, 3, len(data)), done)
        same = s.run("import hashlib\nhashlib.sha256(df.to_csv(index=False).encode())"
                     ".hexdigest()").text
        check("client: every row survives the pieces' seams (quoted newlines too)",
              same.strip("'") == hashlib.sha256(data).hexdigest(), same)
        blob = os.urandom(5 << 20)
        done = s.upload("blob.bin", blob)
        digest = s.run("import hashlib\nhashlib.sha256(open('blob.bin','rb').read())"
                       ".hexdigest()").text
        check("client: a file upload in parts is written whole",
              done.bytes == len(blob) and digest.strip("'") == hashlib.sha256(blob).hexdigest(),
              (done, digest))
        wide = pd.DataFrame({"n": range(300000), "s": ["value"] * 300000})
        done = s.upload("j", wide, format="json")
        check("client: a json upload in parts becomes the DataFrame",
              (done.rows, done.columns) == (300000, 2) and done.bytes > 4 << 20, done)
        try:
            s.upload("big.bin", b"x" * (MAX_PAYLOAD + 1))
            check("client: an upload in parts over max_payload is refused", False,
                  "nothing raised")
        except kernelmq.errors.TooLarge as exc:
            check("client: an upload in parts over max_payload is refused before "
                  "it is sent", "max_payload" in str(exc), exc)
        check("client: the session goes on", s.run("1 + 1").text == "2")
        s.close()


def raw_queued_and_small_pieces():
    """Pieces sent while the upload waits behind a running cell are held
    with it; five-byte pieces cut through the middle of fields."""
    raw = Raw()
    s = key()
    raw.run(s, "import pandas as pd")
    busy = raw.send({"type": "execute", "session": s}, [b"import time; time.sleep(1)"])
    frame, data = sample_csv(40)
    pieces = [data[at:at + 5] for at in range(0, len(data), 5)]
    up = raw.upload(s, "df", "csv", pieces, len(data))
    check("raw: the cell before the upload finishes", raw.reply(busy).get("status") == "ok")
    reply = raw.reply(up)
    check("raw: an upload whose %d pieces came while it waited is parsed whole"
          % len(pieces), reply.get("status") == "ok" and reply.get("rows") == 40
          and reply.get("bytes") == len(data), reply)
    last = raw.run(s, "print(df.note.iloc[39])")
    check("raw: the DataFrame is the CSV's", last.get("status") == "ok", last)
    raw.close()


def raw_wrong_totals():
    raw = Raw()
    s = key()
    raw.run(s, "import pandas as pd")
    up = raw.upload(s, "short", "csv", [b"a,b\n", b"1,2\n"], 100)
    reply = raw.reply(up)
    check("raw: pieces with fewer bytes than announced: BAD_REQUEST naming both",
          reply.get("error") == "BAD_REQUEST" and "held 8 bytes" in reply.get("message", "")
          and "announced 100" in reply.get("message", ""), reply)
    # piece 1 goes past the 8 bytes: the broker drops it
    up = raw.upload(s, "long", "file", [b"1234", b"56789", b"0"], 8)
    reply = raw.reply(up)
    check("raw: a piece past the bytes announced is dropped, and the upload fails "
          "for want of it", reply.get("error") == "BAD_REQUEST"
          and "piece 1 did not come" in reply.get("message", ""), reply)
    files = raw.run(s, "import os; print(sorted(os.listdir('.')))")
    check("raw: the session runs on after both", files.get("status") == "ok", files)
    raw.close()


def raw_missing_piece_and_interrupt():
    raw = Raw()
    s = key()
    raw.run(s, "import pandas as pd")
    up = raw.upload(s, "df", "csv", [b"a,b\n", b"1,2\n"], 12, parts=3)
    started = time.monotonic()
    reply = raw.reply(up, 30)
    check("raw: a piece that never comes fails the upload with BAD_REQUEST naming it",
          reply.get("error") == "BAD_REQUEST" and "piece 2 did not come within 1 s"
          in reply.get("message", ""), reply)
    check("raw: ... after the kernel's wait (1 s in the test kernel), not the "
          "client's patience", time.monotonic() - started < 20)
    raw.piece(s, up, 2, b"3,4\n")           # too late: dropped
    after = raw.run(s, "'df' in dir()")
    check("raw: a late piece is dropped and the session runs on, df unbound",
          after.get("status") == "ok", after)

    up = raw.upload(s, "df", "csv", [b"a,b\n", b"1,2\n"], 12, parts=3)
    time.sleep(0.3)                         # the kernel waits for piece 2 now
    stop = raw.send({"type": "interrupt", "session": s})
    check("raw: interrupt answers while an upload waits for a piece",
          raw.reply(stop).get("interrupted") is True)
    reply = raw.reply(up)
    check("raw: the waiting upload ends INTERRUPTED", reply.get("error") == "INTERRUPTED",
          reply)
    raw.piece(s, up, 2, b"3,4\n")
    after = raw.run(s, "print('alive')")
    check("raw: the session runs on after the interrupted upload",
          after.get("status") == "ok", after)
    raw.close()


def raw_other_clients_piece():
    """Only the client that sent an upload feeds it: another's piece with
    the same id is dropped, whatever it holds."""
    owner, other = Raw(), Raw()
    s = key()
    owner.run(s, "import pandas as pd")
    up = owner.upload(s, "df", "csv", [b"a,b\n"], 8, parts=2)
    other.piece(s, up, 1, b"6,6\n")
    reply = owner.reply(up)
    check("raw: another client's piece is not taken into my upload",
          reply.get("error") == "BAD_REQUEST"
          and "piece 1 did not come" in reply.get("message", ""), reply)
    up = owner.upload(s, "df", "csv", [b"a,b\n", b"1,2\n"], 8)
    reply = owner.reply(up)
    check("raw: the owner's own pieces are", reply.get("status") == "ok"
          and reply.get("rows") == 1, reply)
    owner.close()
    other.close()


def raw_bad_headers():
    raw = Raw()
    s = key()
    cases = [
        ("a frame upload in parts without sizes",
         {"type": "upload", "session": s, "name": "t", "format": "frame", "parts": 2,
          "bytes": 8, "frame": {"rows": 0, "columns": []}}, [b"12345678"],
         "BAD_REQUEST", "'sizes' is missing"),
        ("a frame upload in parts whose sizes miss bytes",
         {"type": "upload", "session": s, "name": "t", "format": "frame", "parts": 2,
          "bytes": 16, "sizes": [8, 4], "frame": {"rows": 0, "columns": []}},
         [b"12345678"], "BAD_REQUEST", "its sizes add up to 12"),
        ("a frame upload in parts with two payloads",
         {"type": "upload", "session": s, "name": "t", "format": "frame", "parts": 2,
          "bytes": 16, "sizes": [16], "frame": {"rows": 0, "columns": []}},
         [b"12345678", b"12345678"], "BAD_REQUEST", "carries 2 payloads"),
        ("parts without bytes", {"type": "upload", "session": s, "name": "t",
                                 "format": "csv", "parts": 2}, [b"a\n"],
         "BAD_REQUEST", "'bytes'"),
        ("parts: 0", {"type": "upload", "session": s, "name": "t", "format": "csv",
                      "parts": 0, "bytes": 2}, [b"a\n"], "BAD_REQUEST", "'parts'"),
        ("a first piece over bytes", {"type": "upload", "session": s, "name": "t",
                                      "format": "csv", "parts": 2, "bytes": 1}, [b"a\n"],
         "BAD_REQUEST", "more than the upload's 'bytes'"),
        ("upload_part with part 0", {"type": "upload_part", "session": s, "part": 0},
         [b"x"], "BAD_REQUEST", "'part'"),
        ("bytes over max_payload", {"type": "upload", "session": s, "name": "t",
                                    "format": "file", "parts": 9, "bytes": MAX_PAYLOAD + 1},
         [b"x"], "TOO_LARGE", "max_payload"),
    ]
    for name, header, payloads, error, text in cases:
        reply = raw.reply(raw.send(header, payloads), 20)
        check("raw: %s: %s" % (name, error), reply.get("error") == error
              and text in reply.get("message", ""), reply)
    up = raw.upload(s, "1x", "csv", [b"a,b\n", b"1,2\n"], 8)
    reply = raw.reply(up)
    check("raw: an upload in parts that fails on its name answers BAD_REQUEST",
          reply.get("error") == "BAD_REQUEST" and "identifier" in reply.get("message", ""),
          reply)
    after = raw.run(s, "2 + 2")
    check("raw: its piece is dropped and the session runs on", after.get("status") == "ok",
          after)
    raw.close()


def sample_frame(rows):
    """A frame whose buffers are of several sizes, with nulls and strings."""
    return pd.DataFrame({"x": [i * 0.25 for i in range(rows)],
                         "n": pd.array([None if i % 7 == 0 else i for i in range(rows)],
                                       dtype="Int64"),
                         "s": ["row %d, é" % i for i in range(rows)],
                         "c": pd.Categorical(["a", "b", "c"] * (rows // 3) + ["a"] * (rows % 3))})


def client_frame():
    frame = sample_frame(300000)
    op = _ops.UploadOp("k", "df", frame, None)
    check("client: a %d-byte frame goes in %d parts with its sizes"
          % (op.header.get("bytes", 0), op.header.get("parts", 0)),
          op.header.get("parts", 0) > 4 and len(op.header.get("sizes", [])) > 4
          and sum(op.header["sizes"]) == op.header["bytes"], op.header.get("sizes"))
    with kernelmq.Client(endpoint()) as c:
        s = c.session(key())
        done = s.upload("df", frame)
        check("client: a frame upload in parts becomes the DataFrame",
              (done.rows, done.columns) == (300000, 4)
              and done.bytes == op.header.get("bytes"), done)
        back = s.download("df")
        check("client: it comes back equal, nulls, strings and categories too",
              back.equals(frame), back.dtypes.to_dict())
        # Over max_payload in all (8M here), each buffer within it: one message
        big = pd.DataFrame({"a": range(700000), "b": [0.5] * 700000})
        done = s.upload("big", big)
        check("client: a frame over max_payload in all still goes, as one message",
              (done.rows, done.bytes) == (700000, 11200000), done)
        check("client: ... and is the same frame",
              s.run("int(big.a.sum()), float(big.b.sum())").text == "(244999650000, 350000.0)")
        s.close()


def raw_frame_pieces():
    """A frame in pieces cut through its buffers; pieces short of bytes;
    sizes that do not match the description."""
    raw = Raw()
    s = key()
    raw.run(s, "import pandas as pd")
    description = {"rows": 3, "index": {"kind": "range", "start": 0, "stop": 3, "step": 1},
                   "columns": [{"name": "x", "kind": "numeric", "dtype": "float64"},
                               {"name": "i", "kind": "numeric", "dtype": "int64"}]}
    data = (struct.pack("<3d", 1.5, -2.0, 3.25) + struct.pack("<3q", 7, 8, 9))
    pieces = [data[at:at + 5] for at in range(0, len(data), 5)]

    def upload(name, sizes, pieces, size):
        id = raw.send({"type": "upload", "session": s, "name": name, "format": "frame",
                       "parts": len(pieces), "bytes": size, "sizes": sizes,
                       "frame": description}, [pieces[0]])
        for part, piece in enumerate(pieces[1:], 1):
            raw.piece(s, id, part, piece)
        return raw.reply(id)

    reply = upload("f", [24, 24], pieces, 48)
    check("raw: a frame in %d five-byte pieces, seams inside values, is built"
          % len(pieces), reply.get("status") == "ok" and reply.get("rows") == 3
          and reply.get("bytes") == 48, reply)
    values = raw.run(s, "assert f.x.tolist() == [1.5, -2.0, 3.25], f.x.tolist()\n"
                        "assert f.i.tolist() == [7, 8, 9], f.i.tolist()")
    check("raw: ... with its values", values.get("status") == "ok", values)
    reply = upload("g", [24, 24], pieces[:4], 48)
    check("raw: a frame whose pieces hold fewer bytes: BAD_REQUEST naming both",
          reply.get("error") == "BAD_REQUEST" and "held 20 bytes" in reply.get("message", "")
          and "announced 48" in reply.get("message", ""), reply)
    reply = upload("h", [16, 32], pieces, 48)
    check("raw: sizes that do not fit the description: BAD_REQUEST naming the column",
          reply.get("error") == "BAD_REQUEST" and "'x'" in reply.get("message", "")
          and "exactly 24" in reply.get("message", ""), reply)
    after = raw.run(s, "assert 'g' not in dir() and 'h' not in dir()")
    check("raw: nothing bound for the failed ones, and the session runs on",
          after.get("status") == "ok", after)
    raw.close()


def download_in_parts():
    """A 5.6 MB frame asked for in parts comes as part events and a reply
    that cuts them; an attached client gets the outcome, not the bytes."""
    raw, watcher = Raw(), Raw()
    s = key()
    raw.run(s, "import numpy as np, pandas as pd\n"
               "big = pd.DataFrame({'x': np.arange(700000, dtype='float64')})")
    attached = watcher.reply(watcher.send({"type": "attach", "session": s}))
    check("raw: a second client attaches", attached.get("status") == "ok", attached)
    id = raw.send({"type": "download", "session": s, "name": "big", "format": "frame",
                   "in_parts": True})
    got = raw.messages(id)
    parts = [(h, p) for h, p in got if h.get("event") == "part"]
    reply, payloads = got[-1] if got else ({}, [])
    check("raw: the frame came as %d part events, in order, one piece each"
          % len(parts), len(parts) > 4
          and [h.get("part") for h, _ in parts] == list(range(len(parts)))
          and all(len(p) == 1 and 0 < len(p[0]) <= 1 << 20 for _, p in parts), len(parts))
    check("raw: the reply says parts and sizes and carries no payload",
          reply.get("status") == "ok" and reply.get("parts") == len(parts)
          and reply.get("sizes") == [5600000] and reply.get("bytes") == 5600000
          and payloads == [], reply)
    joined = b"".join(p[0] for _, p in parts)
    check("raw: the pieces are the buffer", joined == struct.pack("<700000d", *range(700000)))
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if watcher.sock.poll(200):
            frames = watcher.sock.recv_multipart()
            header = msgpack.unpackb(frames[1])
            seen.append((header.get("event"), header.get("parts"), len(frames) - 2))
            if header.get("event") == "outcome":
                break
    check("raw: the attached client gets no part event, and an outcome with parts "
          "and no payload", ("outcome", len(parts), 0) in seen
          and not any(event == "part" for event, _, _ in seen), seen)
    plain = raw.messages(raw.send({"type": "download", "session": s, "name": "big",
                                   "format": "frame"}))
    check("raw: without in_parts the reply carries the buffer",
          len(plain) == 1 and plain[0][0].get("parts") is None
          and plain[0][1] == [joined], [h for h, _ in plain])
    with kernelmq.Client(endpoint()) as c:
        back = c.session(s).download("big")
        check("client: a frame downloaded in parts is the kernel's",
              back.shape == (700000, 1) and float(back.x.sum()) == 244999650000.0
              and back.x.values.flags.writeable, back.shape)
    raw.close()
    watcher.close()


def hostile_part_events():
    """Part events are a download's, within max_payload: an executor that
    sends them otherwise is killed (protocol.md 4.4)."""
    raw = Raw()
    s = key()
    reply = raw.run(s, "import _kmq_io\n_kmq_io.send_part(0, b'forged piece')")
    check("attack: a cell that sends a part event kills its executor: KERNEL_DIED",
          reply.get("error") == "KERNEL_DIED" and "protocol violation"
          in reply.get("message", "") + reply.get("cause", ""), reply)
    raw.run(s, "import numpy as np, pandas as pd, _kmq.display as d\n"
               "d.max_payload = lambda: 1 << 40\n"
               "big = pd.DataFrame({'x': np.arange(1200000, dtype='float64')})")
    id = raw.send({"type": "download", "session": s, "name": "big", "format": "frame",
                   "in_parts": True})
    got = raw.messages(id)
    reply = got[-1][0] if got else {}
    check("attack: a download whose pieces pass max_payload (8M) kills its "
          "executor: KERNEL_DIED", reply.get("error") == "KERNEL_DIED", reply)
    sent = sum(len(p[0]) for h, p in got if h.get("event") == "part")
    check("attack: ... after some pieces, at most max_payload of them",
          0 < sent <= MAX_PAYLOAD, sent)
    raw.run(s, "import numpy as np, pandas as pd, _kmq.transfer as t\n"
               "_real = t.download\n"
               "t.download = lambda session, name, format, in_parts=False: "
               "_real(session, name, format, True)\n"
               "big = pd.DataFrame({'x': np.arange(700000, dtype='float64')})")
    got = raw.messages(raw.send({"type": "download", "session": s, "name": "big",
                                 "format": "frame"}))
    reply = got[-1][0] if got else {}
    check("attack: pieces for a download that did not ask for parts kill the "
          "executor: KERNEL_DIED, and no piece reaches the client",
          reply.get("error") == "KERNEL_DIED"
          and not any(h.get("event") == "part" for h, _ in got), [h for h, _ in got])
    after = raw.run(s, "1 + 1")
    check("attack: the session runs on in a fresh kernel", after.get("status") == "ok"
          and after.get("state_lost") is True, after)
    raw.close()


for function in (client_csv_json_file, raw_queued_and_small_pieces, raw_wrong_totals,
                 raw_missing_piece_and_interrupt, raw_other_clients_piece, raw_bad_headers,
                 client_frame, raw_frame_pieces, download_in_parts, hostile_part_events):
    case(function)
finish()
