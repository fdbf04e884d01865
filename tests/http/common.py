"""What the kmq-http tests share: where the gateway is, its token, a small
HTTP client on the standard library, and the ok/FAIL lines tests/lib.sh
counts. Environment: KMQ_HTTP (http://127.0.0.1:PORT), KMQ_HTTP_TOKEN."""
import http.client
import json
import os
import sys
import urllib.parse

BASE = os.environ.get("KMQ_HTTP", "http://127.0.0.1:8080")
TOKEN = os.environ.get("KMQ_HTTP_TOKEN", "")
FAILED = 0


def ok(name):
    print("ok   " + name, flush=True)


def fail(name, why=""):
    global FAILED
    FAILED += 1
    print("FAIL " + name + (": " + str(why)[:800] if why else ""), flush=True)


def check(name, cond, why=""):
    if cond:
        ok(name)
    else:
        fail(name, why)
    return cond


def connection(timeout=60):
    url = urllib.parse.urlsplit(BASE)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)


def request(method, path, body=None, headers=None, token=True, timeout=60):
    """(status, headers dict, body bytes) of one request on a fresh connection."""
    h = dict(headers or {})
    if token and TOKEN:
        h.setdefault("Authorization", "Bearer " + TOKEN)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    conn = connection(timeout)
    try:
        conn.request(method, path, body=body, headers=h)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def jrequest(method, path, body=None, headers=None, token=True, timeout=60):
    """(status, parsed JSON or None) of one request."""
    status, _, data = request(method, path, body, headers, token, timeout)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, None


def sse_events(response):
    """Yields (event, data) of a text/event-stream response as they come."""
    event, data = None, []
    while True:
        line = response.readline()
        if not line:
            return
        line = line.decode().rstrip("\r\n")
        if line == "":
            if event is not None or data:
                yield event, json.loads("\n".join(data)) if data else None
            event, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def finish():
    sys.exit(1 if FAILED else 0)
