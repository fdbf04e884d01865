"""A tiny harness for the Python client's tests: each case prints
"ok   NAME" or "FAIL NAME: why" (tests/run.sh counts them). A case that
raises fails with the exception and the rest still run."""
import os
import sys
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "client", "python"))

failed = 0


def check(name, condition, detail=""):
    """Reports one case; returns condition."""
    global failed
    if condition:
        print("ok   %s" % name, flush=True)
    else:
        failed += 1
        print("FAIL %s%s" % (name, ": " + str(detail)[:600] if detail else ""), flush=True)
    return bool(condition)


def case(function):
    """Runs function(); an exception fails a case named after it."""
    try:
        function()
    except Exception:           # noqa: BLE001 -- report and go on
        #  The exception's own line first: check() keeps 600 characters
        exc_line = traceback.format_exc().rstrip().splitlines()[-1]
        check(function.__name__ + " ran to the end", False,
              exc_line + "\n" + traceback.format_exc()[-1500:])


def endpoint():
    """The broker this test drives: argv[1] (tests/it_pyclient.sh starts it)."""
    return sys.argv[1]


def finish():
    sys.exit(0)
