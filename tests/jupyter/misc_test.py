"""kmq-jupyter where things go wrong, through jupyter_client:

  broker-down  a kernelspec whose broker does not run: the kernel still
               starts and answers heartbeats; the first cell ends with an
               error that says what to do, within the hello timeout
  signature    a shell message with a wrong HMAC is dropped (no reply) and
               the kernel goes on answering correctly signed ones
  stdin        input() is refused with a clear error in the cell
  queue        executes sent back to back run in order; after a failure,
               those waiting are aborted (stop_on_error), unless it is off
  broker-gone  the broker is killed while a cell runs: the cell ends with
               an error (BROKER_LOST) within the broker's liveness window
               (last: the broker stays dead)

Usage: misc_test.py KERNEL_NAME_UP KERNEL_NAME_DOWN DOWN_ENDPOINT BROKER_PID
Prints "ok   NAME" / "FAIL NAME: why" lines, as the shell tests do.
"""
import os
import signal
import sys
import time
from queue import Empty

from jupyter_client.manager import start_new_kernel
from jupyter_client.session import Session

up, down, down_endpoint, broker_pid = sys.argv[1:5]


def check(name, cond, why=""):
    print(("ok   %s" if cond else "FAIL %s: " + why) % name, flush=True)


def run(kc, code, timeout=60):
    """Executes code; returns (reply content, iopub messages of the cell)."""
    outputs = []
    reply = kc.execute_interactive(code, output_hook=outputs.append, timeout=timeout,
                                   allow_stdin=False)
    return reply["content"], outputs


# --- the broker does not answer ---------------------------------------------------
km, kc = start_new_kernel(kernel_name=down, startup_timeout=30)
try:
    check("broker down: the kernel starts and answers kernel_info", kc.is_alive())
    started = time.monotonic()
    content, outputs = run(kc, "1 + 1", timeout=30)
    errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
    want = "kernelmq broker at %s did not answer: start it with make run" % down_endpoint
    check("broker down: the first cell ends with an error", content["status"] == "error",
          repr(content))
    check("broker down: the error says which broker and what to do",
          content.get("evalue") == want and errors and errors[0]["evalue"] == want,
          repr(content.get("evalue")))
    check("broker down: answered within the hello timeout, not a hang",
          time.monotonic() - started < 20, "%.1f s" % (time.monotonic() - started))
    check("broker down: heartbeats still answered", km.is_alive() and kc.hb_channel.is_beating())
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)

# --- a forged message ---------------------------------------------------------------
km, kc = start_new_kernel(kernel_name=up, startup_timeout=60)
try:
    forger = Session(key=b"not-the-key", username="mallory")
    forged = forger.msg("execute_request", {"code": "print('forged')", "silent": False,
                                            "store_history": True, "user_expressions": {},
                                            "allow_stdin": False})
    forger.send(kc.shell_channel.socket, forged)
    try:
        reply = kc.get_shell_msg(timeout=3)
        check("a message with a wrong signature gets no reply", False,
              "got %s" % reply["msg_type"])
    except Empty:
        check("a message with a wrong signature gets no reply", True)
    content, outputs = run(kc, "print('genuine')")
    texts = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    check("the forged code did not run, a signed cell does",
          content["status"] == "ok" and texts == "genuine\n", repr(texts))

    # --- stdin: refused in the cell, with the reason ----------------------------------
    content, outputs = run(kc, "x = input('name? ')")
    check("input() is refused with an error in the cell",
          content["status"] == "error" and "stdin is not available in kernelmq"
          in content.get("evalue", ""), repr(content.get("evalue")))
    # --- executes queued behind a failing one ----------------------------------------
    def replies(ids):
        got = {}
        while len(got) < len(ids):
            reply = kc.get_shell_msg(timeout=60)
            got[reply["parent_header"]["msg_id"]] = reply["content"]
        return [got[i] for i in ids]

    ids = [kc.execute("queued = 1"), kc.execute("1/0"), kc.execute("queued = 2"),
           kc.execute("queued = 3")]
    statuses = [c["status"] for c in replies(ids)]
    check("queue: after a failure, the executes waiting are aborted (stop_on_error)",
          statuses == ["ok", "error", "aborted", "aborted"], repr(statuses))
    ids = [kc.execute("1/0", stop_on_error=False), kc.execute("print(queued)")]
    statuses = [c["status"] for c in replies(ids)]
    check("queue: with stop_on_error false the next one runs (the aborted never ran)",
          statuses == ["error", "ok"], repr(statuses))
    content, outputs = run(kc, "queued")
    results = [m["content"]["data"]["text/plain"] for m in outputs
               if m["msg_type"] == "execute_result"]
    check("queue: the aborted cells did not run", results == ["1"], repr(results))

    # --- restart: a private session's kernel is replaced by a fresh one -----------------
    kc.stop_channels()
    km.restart_kernel(now=False)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    content, outputs = run(kc, "queued")
    check("restart: the kernel comes back fresh (the old variables are gone)",
          content["status"] == "error" and content["ename"] == "NameError"
          and content["execution_count"] == 1, repr(content))
finally:
    kc.stop_channels()
    km.shutdown_kernel()

# --- the broker dies while a cell runs ------------------------------------------------
km, kc = start_new_kernel(kernel_name=up, startup_timeout=60)
try:
    run(kc, "x = 1")
    msg_id = kc.execute("import time; time.sleep(60)")
    time.sleep(2)
    os.kill(int(broker_pid), signal.SIGKILL)
    started = time.monotonic()
    try:
        reply = kc.get_shell_msg(timeout=30)
        content = reply["content"]
    except Empty:
        content = {}
    check("broker gone: the running cell ends with an error, not silence",
          content.get("status") == "error" and content.get("ename") == "BROKER_LOST"
          and "stopped answering" in content.get("evalue", ""), repr(content))
    check("broker gone: within the liveness window", time.monotonic() - started < 15,
          "%.1f s" % (time.monotonic() - started))
    check("broker gone: heartbeats still answered", kc.hb_channel.is_beating())
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
