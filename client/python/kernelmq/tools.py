"""A `python` tool for LLM function calling, backed by a kernelmq session.

    from kernelmq import tools
    tools.openai_tool()          # {"type": "function", "function": {...}}
    tools.anthropic_tool()       # {"name": ..., "description": ..., "input_schema": {...}}
    observation = tools.run_tool(session, {"code": "df.describe()"})

run_tool runs the code in the session (its state persists between calls, as
in a notebook) and returns one compact string for the model: stdout and
stderr, each cut in the middle with a marker when long, the cell's result
text, the last lines of a traceback, and one line per rich output (image,
HTML table, plotly figure) saved as a file in output_dir. The whole
observation is at most max_chars characters.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Union

from . import errors
from ._types import PLOTLY_MIME, Execution, Result

NAME = "python"
DESCRIPTION = (
    "Run Python code in a persistent, sandboxed Jupyter-like session. Variables, "
    "imports and DataFrames persist between calls. pandas, numpy, matplotlib and "
    "plotly are available; there is no network. The value of the last expression "
    "is returned, as in a notebook; print() output is returned too. Figures and "
    "HTML tables are saved to files and named in the result.")
PARAMETERS: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string",
                 "description": "Python code to run, as one notebook cell."},
    },
    "required": ["code"],
    "additionalProperties": False,
}

MAX_CHARS = 4000
TRACEBACK_LINES = 8
#  Rich outputs saved to files, in the order looked for; the first present
#  in a bundle names the file's type.
_SAVED = (("image/png", "png"), ("image/jpeg", "jpg"), ("image/svg+xml", "svg"),
          (PLOTLY_MIME, "plotly.json"), ("text/html", "html"))
#  Failures of the service that the model cannot work around.
_FATAL = (errors.BrokerUnreachable, errors.ClientClosed, errors.ProtocolError)


def schema() -> Dict[str, Any]:
    """The tool as a plain JSON-schema function description."""
    return {"name": NAME, "description": DESCRIPTION, "parameters": PARAMETERS}


def openai_tool() -> Dict[str, Any]:
    """The tool in OpenAI's chat-completions `tools` format."""
    return {"type": "function", "function": schema()}


def anthropic_tool() -> Dict[str, Any]:
    """The tool in Anthropic's messages `tools` format."""
    return {"name": NAME, "description": DESCRIPTION, "input_schema": PARAMETERS}


def code_of(arguments: Union[str, Dict[str, Any]]) -> str:
    """The code from tool-call arguments: a dict or its JSON text. Raises
    ValueError when there is none."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError as exc:
            raise ValueError("tool arguments are not JSON: %s" % exc) from None
    code = arguments.get("code") if isinstance(arguments, dict) else None
    if not isinstance(code, str):
        raise ValueError('tool arguments need "code", a string')
    return code


def clip(text: str, limit: int) -> str:
    """text, or its head and tail around a marker saying how much was cut,
    at most limit characters (the tail gets more room: errors and final
    output are usually there)."""
    if len(text) <= limit:
        return text
    marker = "\n...[%d characters truncated]...\n" % len(text)
    keep = max(0, limit - len(marker))
    marker = "\n...[%d characters truncated]...\n" % (len(text) - keep)
    head = keep // 3
    return text[:head] + marker + (text[len(text) - (keep - head):] if keep > head else "")


def _output_dir(session_key: str, output_dir: Optional[str]) -> str:
    path = output_dir or os.path.join(tempfile.gettempdir(), "kmq-outputs-" + session_key)
    os.makedirs(path, exist_ok=True)
    return path


def _save(result: Result, path_stem: str) -> List[str]:
    """Writes each savable MIME entry of result; returns lines naming them."""
    lines = []
    for mime, suffix in _SAVED:
        data = result.mime.get(mime)
        if data is None:
            continue
        path = "%s.%s" % (path_stem, suffix)
        with open(path, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        lines.append("saved %s to %s (%d bytes)" % (mime, path, os.path.getsize(path)))
    return lines


def observe(ex: Execution, session_key: str, *, output_dir: Optional[str] = None,
            max_chars: int = MAX_CHARS) -> str:
    """The observation for an Execution (see the module docstring)."""
    fixed: List[str] = []
    directory = None
    for index, result in enumerate(ex.results, 1):
        label = "result" if result.is_main_result else "display %d" % index
        saved: List[str] = []
        if any(mime in result.mime for mime, _ in _SAVED):
            directory = directory or _output_dir(session_key, output_dir)
            stem = os.path.join(directory, "cell%s-%d" % (ex.execution_count or 0, index))
            saved = _save(result, stem)
        text = result.text or ""
        if any(mime in result.mime for mime, _ in _SAVED[:4]) and "\n" in text:
            #  A figure's repr says nothing the saved file doesn't.
            text = text.split("\n", 1)[0][:120] + " ..."
        fixed.append("[%s]\n%s" % (label, clip(text, max_chars // 4)) if text else "[%s]" % label)
        fixed += ["  " + line for line in saved]
    if ex.error is not None:
        tail = ex.error.traceback[-TRACEBACK_LINES:]
        fixed.append("[error] %s\n%s" % (ex.error, "\n".join(tail)))
    if ex.truncated is not None:
        fixed.append("[note] output over %d bytes was dropped by the kernel" % ex.truncated)
    if ex.state_lost:
        fixed.append("[note] the session's earlier state was lost (%s): define your "
                     "variables again" % (ex.notice or "kernel restarted"))
    streams = [(name, text) for name, text in (("stdout", ex.stdout), ("stderr", ex.stderr))
               if text]
    return _assemble(fixed, streams, max_chars) or "[no output]"


def _assemble(fixed: List[str], streams: List[tuple], max_chars: int) -> str:
    """Streams share what the fixed sections leave; the whole is clipped last."""
    fixed_text = "\n".join(fixed)
    room = max(0, max_chars - len(fixed_text) - 40)
    parts = []
    for name, text in streams:
        share = room // len(streams)
        parts.append("[%s]\n%s" % (name, clip(text.rstrip("\n"), max(0, share - 10))))
    return clip("\n".join(parts + ([fixed_text] if fixed_text else [])), max_chars)


def failure(exc: errors.Error) -> str:
    """The observation for a service error the model can react to."""
    text = "[%s] %s" % (exc.code, exc.message)
    if exc.state_lost:
        text += "\n[note] the session's state was lost: define your variables again"
    return text


def _service_failure(session: Any, exc: errors.Error, output_dir: Optional[str],
                     max_chars: int) -> str:
    """What the model sees of a failed run: the partial output and the
    failure; the failures it cannot work around are raised again."""
    if isinstance(exc, _FATAL):
        raise exc
    partial = observe(exc.execution, session.key, output_dir=output_dir,
                      max_chars=max_chars // 2) if exc.execution else ""
    return clip((partial + "\n" if partial else "") + failure(exc), max_chars)


def run_tool(session: Any, arguments: Union[str, Dict[str, Any]], *,
             timeout: Optional[float] = None, output_dir: Optional[str] = None,
             max_chars: int = MAX_CHARS) -> str:
    """Runs the tool call's code in session (a kernelmq Session) and returns
    the observation, at most max_chars characters. A timeout, an interrupt
    or a dead kernel become an observation too; BrokerUnreachable,
    ClientClosed and ProtocolError raise (the model cannot fix them).
    Malformed arguments become an observation saying so."""
    try:
        ex = session.run(code_of(arguments), timeout=timeout)
    except ValueError as exc:
        return "[bad arguments] %s" % exc
    except errors.Error as exc:
        return _service_failure(session, exc, output_dir, max_chars)
    return observe(ex, session.key, output_dir=output_dir, max_chars=max_chars)


async def run_tool_async(session: Any, arguments: Union[str, Dict[str, Any]], *,
                         timeout: Optional[float] = None, output_dir: Optional[str] = None,
                         max_chars: int = MAX_CHARS) -> str:
    """run_tool for an AsyncSession."""
    try:
        ex = await session.run(code_of(arguments), timeout=timeout)
    except ValueError as exc:
        return "[bad arguments] %s" % exc
    except errors.Error as exc:
        return _service_failure(session, exc, output_dir, max_chars)
    return observe(ex, session.key, output_dir=output_dir, max_chars=max_chars)
