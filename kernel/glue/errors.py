"""The one exception the glue's handlers raise to end a request with an
error reply, the one-line summary of an exception, and any text made one
line (one_line) for a reply.

Contract: a handler either returns (fields, payloads) or raises
RequestError(code, message, fields); entry.py turns the latter into the
error tuple (code, message, fields, []). code is a protocol error name
(protocol.md section 6), message the reply's sentence (what happened and
what to do), fields the extra header fields (ename, execution_count, ...).
"""

import traceback


class RequestError(Exception):
    """The request ends with the error reply code/message/fields."""

    def __init__(self, code, message, fields=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.fields = dict(fields or {})


def one_line(text, limit=300):
    """text on one line (runs of whitespace as one space), cut to limit
    characters with "..." when longer."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def exc_summary(exc):
    """'ZeroDivisionError: division by zero', one line."""
    lines = traceback.format_exception_only(type(exc), exc)
    return (lines[-1] if lines else type(exc).__name__).strip()
