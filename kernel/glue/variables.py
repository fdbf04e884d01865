"""vars and files (protocol.md section 5): what a session holds.

Contract: listing(session) returns one map per variable, sorted by name,
for names not starting with _ and values that are not modules: name, type,
and shape (a .shape of non-negative ints) or len (a sized object) where
they apply. User objects whose shape or len raise are listed without.
files() returns the working directory's entries, sorted by name: name,
kind ("file", "dir" or "other"; symlinks are not followed) and, for
files, bytes. It runs no cell: the counter and namespace are untouched.
"""

import os
import stat
import types


def _describe(name, value):
    entry = {"name": name, "type": type(value).__name__}
    if isinstance(value, type):
        return entry
    try:
        shape = getattr(value, "shape", None)
        if isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0
                                            for n in shape):
            entry["shape"] = [int(n) for n in shape]
            return entry
        if hasattr(type(value), "__len__"):
            size = len(value)
            if size >= 0:
                entry["len"] = int(size)
    except Exception:           # noqa: BLE001 -- user objects may raise anything
        pass
    return entry


def listing(session):
    """The vars reply's list (see the module's contract)."""
    result = []
    for name in sorted(session.namespace):
        if not isinstance(name, str) or name.startswith("_"):
            continue
        value = session.namespace[name]
        if isinstance(value, types.ModuleType):
            continue
        result.append(_describe(name, value))
    return result


def files():
    listing = []
    for entry in sorted(os.scandir("."), key=lambda entry: entry.name):
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue            # removed while we listed
        kind = ("file" if stat.S_ISREG(info.st_mode)
                else "dir" if stat.S_ISDIR(info.st_mode) else "other")
        row = {"name": entry.name, "kind": kind}
        if kind == "file":
            row["bytes"] = int(info.st_size)
        listing.append(row)
    return listing
