"""execute: one notebook cell (protocol.md section 5, execute).

Contract: run(session, code) counts the cell on the session, runs its
statements in the session's namespace and, when the last statement is an
expression whose value is not None and the cell does not end with ';',
binds the value to _ and returns its bundle as the result. Figures still
open at the end are sent (mpl_hook), even when the code raised. Returns
(fields, payloads) with execution_count, duration_ms and mime; raises
RequestError PYTHON_ERROR (ename, evalue, traceback trimmed to the user's
frames) or INTERRUPTED, both with execution_count and duration_ms.
duration_ms is the monotonic time from compiling the cell to its result's
bundle and the figures sent.
"""

import ast
import io
import linecache
import os
import time
import tokenize
import traceback

from . import display, mpl_hook
from .session import cell_filename
from .errors import RequestError, exc_summary

#  Frames of the glue's own files are stripped from user tracebacks.
_GLUE_DIR = os.path.dirname(__file__) + "/"


def _compile_cell(code, filename):
    """(statements, last expression or None) compiled from the cell."""
    tree = ast.parse(code, filename, "exec")
    expr = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop()
        expr = compile(ast.Expression(last.value), filename, "eval",
                       dont_inherit=True)
    body = compile(tree, filename, "exec", dont_inherit=True)
    return body, expr


def _ends_with_semicolon(code):
    """True if the cell's last token is ';', which hides its result as in
    IPython."""
    lines = code.rstrip().splitlines()
    if not lines or ";" not in lines[-1]:
        return False
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skip = (tokenize.ENDMARKER, tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT,
            tokenize.INDENT, tokenize.DEDENT)
    for token in reversed(tokens):
        if token.type not in skip:
            return token.type == tokenize.OP and token.string == ";"
    return False


def _is_glue(tb):
    return tb.tb_frame.f_code.co_filename.startswith(_GLUE_DIR)


def _user_traceback(exc, filename):
    """The formatted traceback lines, starting at the cell's own frame (the
    glue and ast.parse frames above it are ours, not the user's)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None and not isinstance(exc, SyntaxError):
        #  Raised outside the cell's frame (a __repr__ from an earlier cell):
        #  show everything but the glue.
        tb = exc.__traceback__
        while tb is not None and _is_glue(tb):
            tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return text.splitlines()


def _python_error(exc, filename, fields):
    fields = dict(fields)
    fields["ename"] = type(exc).__name__
    fields["evalue"] = str(exc)
    fields["traceback"] = _user_traceback(exc, filename)
    return RequestError("PYTHON_ERROR", exc_summary(exc), fields)


def _ms_since(started):
    return (time.monotonic_ns() - started) // 1000000


def run(session, code):
    """Runs code as the session's next cell; see the module's contract."""
    count = session.next_cell()
    fields = {"execution_count": count}
    display.send_input("execute", {"execution_count": count}, code.encode("utf-8"))
    filename = cell_filename(count)
    #  Registered before parsing so SyntaxErrors and later calls into
    #  functions of this cell show source lines.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    items = []
    started = time.monotonic_ns()
    try:
        try:
            body, expr = _compile_cell(code, filename)
            exec(body, session.namespace)
            if expr is not None:
                value = eval(expr, session.namespace)
                if value is not None and not _ends_with_semicolon(code):
                    session.namespace["_"] = value
                    items = display.bundle(value)
                    if display.is_figure(value):
                        session.shown_figures.append(value)
        finally:
            #  Even when the cell raised, as the inline backend does.
            mpl_hook.flush_figures(session)
        fields["duration_ms"] = _ms_since(started)
    except KeyboardInterrupt:
        fields["duration_ms"] = _ms_since(started)
        raise RequestError("INTERRUPTED",
                           "execution was interrupted (KeyboardInterrupt); "
                           "the namespace is kept", fields) from None
    except BaseException as exc:   # noqa: BLE001 -- SystemExit too: report, never exit
        fields["duration_ms"] = _ms_since(started)
        raise _python_error(exc, filename, fields) from None
    fields["mime"] = [mime for mime, _ in items]
    return fields, [data for _, data in items]
