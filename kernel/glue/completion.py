"""complete, inspect and is_complete (protocol.md section 5): what a name
at the cursor could be, what it is, and whether a cell being typed is
finished, from the live namespace without running code.

is_complete(session, data) follows Python's own interactive console
(codeop): "complete" when the code compiles as it is and its last line is
not inside a block (a block ends at a blank line), "incomplete" (with the
indent the next line wants) when more lines could make it compile (an
open block, bracket or string) or its last line is in a block, "invalid"
for a syntax error more lines cannot fix.

Contract: complete(session, data, cursor) and inspect(session, data,
cursor) take the code's UTF-8 bytes and a byte cursor (at most their
length) and return (fields, payloads) as the protocol's ok replies; they
raise RequestError BAD_REQUEST when the bytes up to the cursor are not
UTF-8 or the cursor splits a character. Only name lookups, getattr and
dir touch the namespace (properties and __getattr__ may run); nothing
before a dot is evaluated beyond a plain dotted name.
"""

import builtins
import codeop
import functools
import inspect as _pyinspect
import keyword
import pkgutil
import re
import sys
import types

from .errors import RequestError, exc_summary
from .libs import pandas

_NAME = r"[^\W\d]\w*"
_DOTTED = re.compile(r"%s(?:\.%s)*\Z" % (_NAME, _NAME))
#  "a.b.c" before a dot, then the partial attribute
_ATTRIBUTE = re.compile(r"(?<![\w.])((?:%s\.)+)(\w*)\Z" % _NAME)
_WORD = re.compile(r"\w*\Z")
#  d["key or d['key, with d a dotted name
_DICT_KEY = re.compile(r"(?<![\w.])(%s(?:\.%s)*)\s*\[\s*(['\"])([^'\"\\\\]*)\Z"
                       % (_NAME, _NAME))
_IMPORT = re.compile(r"\s*(?:import\s+(?:[\w.]+(?:\s+as\s+\w+)?\s*,\s*)*|from\s+)"
                     r"([\w.]*)\Z")
_FROM_IMPORT = re.compile(r"\s*from\s+([\w.]+)\s+import\s+\(?\s*"
                          r"(?:\w+(?:\s+as\s+\w+)?\s*,\s*)*(\w*)\Z")


def _decode_at(data, cursor):
    """(code, code before the cursor) from the request's bytes and byte
    cursor; raises BAD_REQUEST."""
    try:
        code = data.decode("utf-8")
        before = data[:cursor].decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("BAD_REQUEST",
                           "the code is not valid UTF-8 up to cursor_pos %d, or the "
                           "cursor splits a character; send UTF-8 and a byte offset "
                           "at a character boundary" % cursor) from None
    return code, before


def _resolve(namespace, path):
    """The object a dotted name names in the namespace (or builtins), by
    lookup and getattr only; raises LookupError when it names nothing."""
    if not _DOTTED.match(path):
        raise LookupError(path)
    head, *rest = path.split(".")
    if head in namespace:
        obj = namespace[head]
    elif hasattr(builtins, head):
        obj = getattr(builtins, head)
    else:
        raise LookupError(path)
    for part in rest:
        try:
            obj = getattr(obj, part)
        except Exception:       # noqa: BLE001 -- properties may raise anything
            raise LookupError(path) from None
    return obj


def _visible(names, prefix):
    """Names starting with prefix; private ones only for a private prefix."""
    hide = not prefix.startswith("_")
    return sorted({name for name in names
                   if isinstance(name, str) and name.startswith(prefix)
                   and not (hide and name.startswith("_"))})


def _attributes(obj):
    try:
        return dir(obj)
    except Exception:           # noqa: BLE001
        return []


@functools.lru_cache(maxsize=None)
def _module_names():
    """Top-level importable modules, listed once per executor."""
    names = set(sys.builtin_module_names)
    names.update(name.partition(".")[0] for name in list(sys.modules))
    try:
        names.update(module.name for module in pkgutil.iter_modules())
    except Exception:           # noqa: BLE001 -- an unreadable sys.path entry
        pass
    return frozenset(names)


def _submodules(package_name):
    package = sys.modules.get(package_name)
    path = getattr(package, "__path__", None)
    if path is None:
        return []
    try:
        return [module.name for module in pkgutil.iter_modules(path)]
    except Exception:           # noqa: BLE001
        return []


def _import_candidates(line):
    """(matches, token length) after import or from, or None."""
    found = _FROM_IMPORT.match(line)
    if found:
        module_name, prefix = found.groups()
        names = _submodules(module_name)
        module = sys.modules.get(module_name)
        if module is not None:
            names = names + _attributes(module)
        return _visible(names, prefix), len(prefix)
    found = _IMPORT.match(line)
    if found:
        parent, dot, prefix = found.group(1).rpartition(".")
        if dot:
            #  Submodules on disk, and modules bound as attributes (os.path)
            module = sys.modules.get(parent)
            names = _submodules(parent) + [
                name for name in _attributes(module)
                if isinstance(getattr(module, name, None), types.ModuleType)]
        else:
            names = _module_names()
        return _visible(names, prefix), len(prefix)
    return None


def _candidates(namespace, before):
    """(matches, length of the token they replace) for the text before the
    cursor; never runs the user's code beyond attribute lookups."""
    imported = _import_candidates(before.rpartition("\n")[2])
    if imported is not None:
        return imported
    found = _DICT_KEY.search(before)
    if found:
        path, quote, prefix = found.groups()
        try:
            obj = _resolve(namespace, path)
        except LookupError:
            return [], len(prefix)
        keys = []
        if isinstance(obj, dict):
            keys = list(obj)
        elif pandas is not None and isinstance(obj, pandas.DataFrame):
            keys = list(obj.columns)
        return sorted({key for key in keys if isinstance(key, str)
                       and key.startswith(prefix) and quote not in key
                       and "\\" not in key}), len(prefix)
    found = _ATTRIBUTE.search(before)
    if found:
        path, prefix = found.group(1)[:-1], found.group(2)
        try:
            obj = _resolve(namespace, path)
        except LookupError:
            return [], len(prefix)
        return _visible(_attributes(obj), prefix), len(prefix)
    prefix = _WORD.search(before).group(0)
    start = len(before) - len(prefix)
    if start > 0 and before[start - 1] == ".":
        return [], len(prefix)      # an attribute of something we won't evaluate
    if prefix and prefix[0].isdigit():
        return [], len(prefix)
    names = list(namespace) + dir(builtins) + keyword.kwlist
    return _visible(names, prefix), len(prefix)


def complete(session, data, cursor):
    """matches, cursor_start and cursor_end for the token at the cursor."""
    code, before = _decode_at(data, cursor)
    matches, length = _candidates(session.namespace, before)
    start = cursor - len(before[len(before) - length:].encode("utf-8"))
    return {"matches": matches, "cursor_start": start, "cursor_end": cursor}, []


def _name_at(code, pos):
    """The dotted name at pos: the one the cursor is in or just after, or
    else the one called by the innermost open parenthesis before pos."""
    end = pos
    while end < len(code) and (code[end].isalnum() or code[end] == "_"):
        end += 1
    start = pos
    while start > 0 and (code[start - 1].isalnum() or code[start - 1] in "_."):
        start -= 1
    name = code[start:end].strip(".")
    if _DOTTED.match(name):
        return name
    depth = 0
    for i in range(pos - 1, -1, -1):
        if code[i] == ")":
            depth += 1
        elif code[i] == "(":
            if depth == 0:
                found = re.search(r"(%s(?:\s*\.\s*%s)*)\s*\Z" % (_NAME, _NAME),
                                  code[:i])
                return re.sub(r"\s+", "", found.group(1)) if found else None
            depth -= 1
    return None


def _short_repr(obj, limit=1000):
    try:
        text = repr(obj)
    except Exception:           # noqa: BLE001
        return "<repr failed>"
    return text if len(text) <= limit else text[:limit] + "..."


def _describe_object(name, obj):
    """text/plain of inspect: signature or type and value, then the doc."""
    if isinstance(obj, types.ModuleType):
        head = "module %s" % obj.__name__
        doc = _pyinspect.getdoc(obj)
    elif callable(obj):
        try:
            signature = str(_pyinspect.signature(obj))
        except (TypeError, ValueError):
            signature = "(...)"
        head = name + signature
        if isinstance(obj, type):
            head = "class " + head
        doc = _pyinspect.getdoc(obj)
    else:
        head = "%s: %s = %s" % (name, type(obj).__name__, _short_repr(obj))
        doc = None
        if type(obj).__module__ != "builtins":
            doc = _pyinspect.getdoc(type(obj))
    return head + ("\n\n" + doc if doc else "") + "\n"


def inspect(session, data, cursor):
    """found, and when found the text/plain description of the name at the
    cursor."""
    code, before = _decode_at(data, cursor)
    name = _name_at(code, len(before))
    try:
        if name is None:
            raise LookupError(code)
        obj = _resolve(session.namespace, name)
        text = _describe_object(name, obj)
    except LookupError:
        return {"found": False, "mime": []}, []
    except Exception as exc:    # noqa: BLE001 -- a signature or doc that breaks
        text = "%s\n\n(inspect failed: %s)\n" % (name, exc_summary(exc))
    return ({"found": True, "mime": ["text/plain"]},
            [text.encode("utf-8", "backslashreplace")])


def _indent_after(code):
    """The whitespace the next line of code should start with."""
    lines = code.rstrip("\n").split("\n")
    last = lines[-1] if lines else ""
    indent = last[:len(last) - len(last.lstrip())]
    if last.rstrip().endswith((":", "(", "[", "{", ",", "\\")):
        return indent + "    " if last.rstrip().endswith(":") else indent
    return indent


def is_complete(session, data):
    """completeness (and indent when incomplete) of the code's UTF-8 bytes."""
    try:
        code = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("BAD_REQUEST", "the code is not valid UTF-8; send it "
                           "as UTF-8 text") from None
    try:
        #  symbol "exec": a cell, not the console's single statement
        compiled = codeop.compile_command(code, "<cell>", "exec")
    except (SyntaxError, OverflowError, ValueError):
        return {"completeness": "invalid"}, []
    if compiled is None:
        return {"completeness": "incomplete", "indent": _indent_after(code)}, []
    #  It compiles, but a cell whose last line is inside a block stays open
    #  until a blank line, as in Python's console and IPython's
    last = code.rstrip("\n").split("\n")[-1]
    if last[:1] in (" ", "\t") and not code.endswith("\n\n"):
        return {"completeness": "incomplete", "indent": _indent_after(code)}, []
    return {"completeness": "complete"}, []
