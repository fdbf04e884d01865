"""The executor's standard streams: a stdin that fails at once instead of
blocking (there is no terminal; data comes by upload), an input() that
fails the same way, the executor's own stdout and stderr (its pipes to the
monitor) put back when user code replaced or closed them, and flush()
before every message to the monitor.

Contract: install() at import (keeps a working stdout/stderr the code
set), restore() when a session starts afresh (puts the executor's own
back); flush() and warn() never raise.
"""

import builtins
import io
import sys

_STDIN_MESSAGE = "stdin is not available in kernelmq: pass data with upload"


class _NoStdin(io.TextIOBase):
    """sys.stdin for an executor: every read fails at once, never blocks."""

    def readable(self):
        return True

    def read(self, size=-1):
        raise OSError(_STDIN_MESSAGE)

    def readline(self, size=-1):
        raise OSError(_STDIN_MESSAGE)

    def readlines(self, hint=-1):
        raise OSError(_STDIN_MESSAGE)

    def fileno(self):
        raise io.UnsupportedOperation(_STDIN_MESSAGE)

    def isatty(self):
        return False


def _no_input(prompt=""):
    raise OSError(_STDIN_MESSAGE)


_STDIN = _NoStdin()
#  The executor's pipes, as CPython opened them (unbuffered).
STDOUT = sys.stdout
STDERR = sys.stderr


def install():
    """stdin and input() that fail; stdout/stderr back only when None or
    closed."""
    sys.stdin = _STDIN
    builtins.input = _no_input
    if sys.stdout is None or getattr(sys.stdout, "closed", False):
        sys.stdout = STDOUT
    if sys.stderr is None or getattr(sys.stderr, "closed", False):
        sys.stderr = STDERR


def restore():
    """install(), and the executor's own stdout and stderr whatever the
    code set."""
    install()
    sys.stdout, sys.stderr = STDOUT, STDERR


def flush():
    """Pushes buffered output into the pipes before a message is written."""
    for stream in (sys.stdout, sys.stderr, STDOUT, STDERR):
        try:
            stream.flush()
        except Exception:       # noqa: BLE001 -- user may have replaced or closed it
            pass


def warn(text):
    """'kmq: text' on the code's stderr: a problem of the kernel's own
    that the user should see but that does not fail the request."""
    try:
        sys.stderr.write("kmq: %s\n" % text)
    except Exception:           # noqa: BLE001
        pass
