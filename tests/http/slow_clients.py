"""1,000 clients that send their headers a byte at a time do not stop a
normal client from being served, and are cut off at the read deadline.
Usage: slow_clients.py N READ_TIMEOUT_S   (KMQ_HTTP, KMQ_HTTP_TOKEN set)"""
import socket
import sys
import threading
import time
import urllib.parse

from common import BASE, check, finish, jrequest

N, READ_TIMEOUT = int(sys.argv[1]), int(sys.argv[2])
url = urllib.parse.urlsplit(BASE)
sockets = []
for i in range(N):
    s = socket.create_connection((url.hostname, url.port), timeout=10)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    s.setblocking(False)
    sockets.append(s)
stop = threading.Event()


def drip():
    """One more header byte on every connection, every 0.5 s, never the end."""
    while not stop.is_set():
        for s in sockets:
            try:
                s.send(b"a")
            except OSError:
                pass
        stop.wait(0.5)


dripper = threading.Thread(target=drip, daemon=True)
dripper.start()
status, stats = jrequest("GET", "/v1/stats", timeout=10)
connected = stats["gateway"]["connections"] if status == 200 else 0
check("%d slow clients are connected at once (the gateway counts %d)" % (N, connected),
      connected >= N)
status, health = jrequest("GET", "/v1/health", timeout=10)
check("a normal client's health check is served beside them", status == 200, health)
status, ex = jrequest("POST", "/v1/sessions/beside/execute", {"code": "6 * 7"}, timeout=20)
check("a normal client's execute is served beside them", status == 200 and ex["text"] == "42", ex)
status, stats = jrequest("GET", "/v1/stats", timeout=10)
check("the slow clients were still connected then", status == 200
      and stats["gateway"]["connections"] >= N, stats)
jrequest("DELETE", "/v1/sessions/beside")
# The read deadline: every slow connection is cut, whatever it drips
deadline = time.time() + READ_TIMEOUT + 15
dropped = 0
while time.time() < deadline:
    status, stats = jrequest("GET", "/v1/stats", timeout=10)
    dropped = stats["gateway"]["slow_clients_dropped"] if status == 200 else 0
    if dropped >= N:
        break
    time.sleep(0.5)
check("all %d are cut off at the read deadline (%d were)" % (N, dropped), dropped >= N)
stop.set()
dripper.join(5)
closed = 0
for s in sockets:
    try:
        s.setblocking(True)
        s.settimeout(5)
        data = s.recv(4096)
        closed += data == b"" or not data.startswith(b"HTTP/1.1 2")
    except OSError:
        closed += 1
    s.close()
check("their sockets are closed, none was answered 2xx", closed == N, closed)
finish()
