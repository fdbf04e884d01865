"""A battery of malformed requests: each gets a 4xx (or, for a request line
no HTTP server could parse, a closed connection), none crashes the gateway,
and nothing reaches a session: the session key they name never starts.
Usage: malformed.py READ_TIMEOUT_S   (KMQ_HTTP, KMQ_HTTP_TOKEN set)"""
import socket
import sys
import time
import urllib.parse

from common import BASE, TOKEN, check, finish, jrequest, request

READ_TIMEOUT = int(sys.argv[1])
url = urllib.parse.urlsplit(BASE)
V = "/v1/sessions/victim"
AUTH = ("Authorization: Bearer %s\r\n" % TOKEN).encode()


def raw(data, timeout=15):
    """The status code answered to raw bytes, or 0 for a connection closed unanswered."""
    s = socket.create_connection((url.hostname, url.port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        got = b""
    finally:
        s.close()
    parts = got.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def head(path, extra=b"", body=b"", method=b"POST"):
    return (method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n" + AUTH + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


cases = [
    ("garbage instead of a request line", b"GARBAGE\r\n\r\n"),
    ("a request line with no version", b"GET /v1/health\r\n\r\n"),
    ("HTTP/1.1 without Host", b"GET /v1/health HTTP/1.1\r\n\r\n"),
    ("a header line without a colon", b"GET /v1/health HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n"),
    ("a header over --max-header", b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: "
     + b"a" * 100000 + b"\r\n\r\n"),
    ("a URL over --max-header", b"GET " + V.encode() + b"/" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("a negative Content-Length", b"POST " + V.encode() + b"/execute HTTP/1.1\r\nHost: x\r\n"
     + AUTH + b"Content-Length: -1\r\n\r\n"),
    ("a Content-Length over --max-body", b"POST " + V.encode() + b"/execute HTTP/1.1\r\nHost: x\r\n"
     + AUTH + b"Content-Length: 99999999999\r\n\r\n"),
    ("a broken chunked body", b"POST " + V.encode() + b"/execute HTTP/1.1\r\nHost: x\r\n" + AUTH
     + b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\n\r\n"),
    ("a chunked body over --max-body", b"POST " + V.encode() + b"/execute HTTP/1.1\r\nHost: x\r\n"
     + AUTH + b"Transfer-Encoding: chunked\r\n\r\n" + (b"100000\r\n" + b"a" * 0x100000 + b"\r\n") * 2
     + b"0\r\n\r\n"),
    ("a NUL in the path", head(V.encode() + b"/exe\x00cute", body=b'{"code":"1"}')),
    ("a body that is a JSON array", head(V.encode() + b"/execute", body=b"[1]")),
    ("code that is not a string", head(V.encode() + b"/execute", body=b'{"code": 5}')),
    ("no code", head(V.encode() + b"/execute", body=b'{"timeout_ms": 5}')),
    ("a negative timeout_ms", head(V.encode() + b"/execute", body=b'{"code":"1","timeout_ms":-1}')),
    ("a timeout_ms over 32 bits", head(V.encode() + b"/execute", body=b'{"code":"1","timeout_ms":1e20}')),
    ("a key twice", head(V.encode() + b"/execute", body=b'{"code":"1","code":"2"}')),
    ("a JSON string that is not UTF-8", head(V.encode() + b"/execute", body=b'{"code":"\xff\xfe"}')),
    ("a NUL escaped in the code", head(V.encode() + b"/execute", body=b'{"code":"a\\u0000b"}')),
    ("JSON nested 100000 deep", head(V.encode() + b"/execute", body=b"[" * 100000)),
    ("a truncated JSON body", head(V.encode() + b"/execute", body=b'{"code": "1')),
    ("an empty body", head(V.encode() + b"/execute")),
    ("a form body", head(V.encode() + b"/execute", b"Content-Type: multipart/form-data; boundary=x\r\n",
                         b"--x--")),
    ("a session key of 129 characters", head(b"/v1/sessions/" + b"k" * 129 + b"/execute",
                                             body=b'{"code":"1"}')),
    ("a session key with an escaped slash", head(b"/v1/sessions/vic%2Ftim/execute", body=b'{"code":"1"}')),
    ("a session key with a space", head(b"/v1/sessions/vic%20tim/execute", body=b'{"code":"1"}')),
    ("a name with dots", head(V.encode() + b"/data/..?format=file", method=b"GET")),
    ("a variable name that is no identifier", head(V.encode() + b"/data/1x?format=csv", body=b"A\n1\n",
                                                   method=b"PUT")),
    ("an unknown format", head(V.encode() + b"/data/df?format=pickle", body=b"x", method=b"PUT")),
    ("no format at all", head(V.encode() + b"/data/df", body=b"x", method=b"PUT")),
    ("a frame that is not a .kmqf", head(V.encode() + b"/data/df?format=frame", body=b"KMQF1junk",
                                         method=b"PUT")),
    ("a method no route takes", head(V.encode() + b"/execute", method=b"BREW")),
    ("a bearer token of 10000 bytes", b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
     + b"t" * 10000 + b"\r\n\r\n"),
]
for name, data in cases:
    status = raw(data)
    check("malformed: %s gets a 4xx (%d)" % (name, status), 400 <= status < 500
          or (status == 0 and name.startswith("garbage")))

# A client that sends nothing is cut off at the read deadline
s = socket.create_connection((url.hostname, url.port), timeout=READ_TIMEOUT + 10)
started = time.time()
try:
    data = s.recv(100)
except OSError:
    data = b""
s.close()
check("malformed: a client that sends nothing is closed by the read deadline",
      data == b"" and time.time() - started < READ_TIMEOUT + 10)

status, body = jrequest("GET", "/v1/health")
check("malformed: the gateway still serves after the battery", status == 200, body)
status, body = jrequest("GET", "/v1/stats")
sessions = [e["session"] for e in body["broker"].get("session_list", [])]
check("malformed: nothing reached a session (victim never started)", "victim" not in sessions
      and not any(s.startswith("vic") for s in sessions), sessions)
status, _, data = request("GET", "/metrics")
check("malformed: the refusals are counted by reason", b'kmq_http_rejected_total{reason="bad_json"}'
      in data and b'kmq_http_rejected_total{reason="bad_key"}' in data)
finish()
