"""Two Jupyter clients on one shared kernelmq session: two jupyter_client
connections to two kmq-jupyter processes started with the same --session.
Each sees the other's execute_input and outputs on its IOPub, under the
other's parent header, and they share one namespace.

Usage: shared_test.py KERNEL_NAME (a kernelspec with --session)
"""
import sys
import time
from queue import Empty

from jupyter_client.manager import start_new_kernel

kernel_name = sys.argv[1]


def check(name, cond, why=""):
    print(("ok   %s" if cond else "FAIL %s: " + why) % name, flush=True)


def ex(kc, code):
    """execute_interactive without printing the outputs (the lines this
    script prints are the test's own)."""
    return kc.execute_interactive(code, output_hook=lambda msg: None, timeout=60)


def drain(kc, until, seconds=20):
    """IOPub messages until one satisfies until (or the time is out)."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except Empty:
            continue
        seen.append(msg)
        if until(msg):
            break
    return seen


km1, kc1 = start_new_kernel(kernel_name=kernel_name, startup_timeout=60)
km2, kc2 = start_new_kernel(kernel_name=kernel_name, startup_timeout=60)
try:
    for kc in (kc1, kc2):
        drain(kc, lambda m: False, seconds=1)
    reply = ex(kc1, "shared_x = 21\nprint('one says hi')")
    one = reply["parent_header"]["msg_id"]
    seen = drain(kc2, lambda m: m["msg_type"] == "stream"
                 and "one says hi" in m["content"]["text"])
    streams = [m for m in seen if m["msg_type"] == "stream"]
    inputs = [m for m in seen if m["msg_type"] == "execute_input"]
    check("shared: client 2 sees client 1's output live",
          any("one says hi" in m["content"]["text"] for m in streams),
          repr([(m["msg_type"], m["content"]) for m in seen])[:400])
    check("shared: client 2 sees client 1's execute_input (code and count)",
          inputs and "shared_x = 21" in inputs[0]["content"]["code"]
          and inputs[0]["content"]["execution_count"] == reply["content"]["execution_count"],
          repr([m["content"] for m in inputs]))
    check("shared: under client 1's own parent header, not one of client 2's",
          streams and streams[0]["parent_header"]["msg_id"] not in ("", None)
          and streams[0]["parent_header"]["msg_id"].startswith("kmq-"),
          repr(streams[0]["parent_header"] if streams else None))
    reply2 = ex(kc2, "shared_x * 2")
    check("shared: one namespace (client 2 reads client 1's variable)",
          reply2["content"]["status"] == "ok")
    seen = drain(kc1, lambda m: m["msg_type"] == "execute_result", seconds=10)
    results = [m for m in seen if m["msg_type"] == "execute_result"]
    check("shared: client 1 sees client 2's execute_result",
          results and results[0]["content"]["data"]["text/plain"] == "42",
          repr([(m["msg_type"], m["content"]) for m in seen])[:400])
    ex(kc2, "1/0")
    seen = drain(kc1, lambda m: m["msg_type"] == "error", seconds=10)
    check("shared: client 1 sees client 2's error",
          any(m["msg_type"] == "error" and m["content"]["ename"] == "ZeroDivisionError"
              for m in seen))
    # A restart from one client resets the shared session: same key, fresh
    # namespace, and both clients carry on
    kc1.stop_channels()
    km1.restart_kernel(now=False)
    kc1 = km1.client()
    kc1.start_channels()
    kc1.wait_for_ready(timeout=60)
    reply = ex(kc2, "'shared_x' in globals()")
    seen = drain(kc2, lambda m: False, seconds=0.5)
    content = ex(kc1, "shared_y = 1")["content"]
    check("shared: a restart resets the session for every client, both carry on",
          reply["content"]["status"] == "ok" and content["status"] == "ok"
          and reply["content"]["execution_count"] == 1, repr(reply["content"]))
finally:
    for kc, km in ((kc1, km1), (kc2, km2)):
        kc.stop_channels()
        km.shutdown_kernel()
