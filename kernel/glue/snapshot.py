"""snapshot and restore (protocol.md 10.3): a session's state as one blob,
written by its executor when the session is evicted or its host stops
gracefully, and read back by the fresh executor of the next request.

Contract: take(session, quota) returns (fields, [blob]) with fields
bytes, kept, dropped, file_count and execution_count; it raises RequestError
TOO_LARGE (the blob would pass quota bytes: the message names the quota and
the biggest items; fields bytes and largest) or BAD_REQUEST (quota not a
non-negative int), and leaves the session as it was either way.
restore(session, blob) returns (fields, []) with kept, dropped, file_count,
execution_count and notice; it raises RequestError BAD_REQUEST, before it changes
anything, for a blob that is not a snapshot. An item that fails alone
(a name, a path, an entry, an import, a pickle) is listed in dropped with
its reason, never fatal. restore is meant for a fresh session: it adds to
the namespace and working directory as they are, and sets the counter.

The blob: a zip (stdlib zipfile, ZIP_STORED, entries dated 1980-01-01):

    manifest.json        what follows, in order (below)
    vars/NAME.kmqf       a DataFrame or Series (kind frame or series), as a
                         .kmqf file (protocol.md 11.7)
    vars/NAME.pickle     any other value (kind pickle): pickling.py's
                         pickles, loaded in manifest order with one memo
    files/PATH           a regular file of the working directory
    cells/N.py           the code of cell N, UTF-8 (tracebacks and history)

    manifest.json: {"format": "kmq-snapshot", "version": 1,
      "execution_count": 12,
      "modules": {"np": "numpy", "pd": "pandas"},
      "vars": [{"name": "df", "kind": "frame", "bytes": 4120},
               {"name": "s", "kind": "series", "bytes": 96, "series_name": "price"},
               {"name": "f", "kind": "pickle", "bytes": 310}],
      "dirs": ["data"], "files": [{"path": "data/a.csv", "bytes": 18}],
      "cells": [1, 2, 5],
      "dropped": [{"name": "g", "reason": "generator objects cannot be pickled"}]}

What is kept: the namespace's names that are identifiers not starting with
_ (the others are named in dropped, except dunder names and _, which are
the kernel's); a module as its import name; a DataFrame or Series in the
frame format when it comes back identical (same dtypes, index and column
types and names, no attrs, no freq, missing str values only NaN), else by
pickle; everything else by pickle; every regular file and directory below
the working directory (symbolic links, fifos, sockets and devices are
named in dropped); the last cells' code within 512 KiB. The snapshot's
dropped list travels in the manifest, so restore's dropped names
everything the session lost: what the snapshot left out, then what failed
to come back.

Restore treats the blob as hostile (a session can rewrite the glue that
writes it): the zip's entries must be stored, unencrypted, unique,
declare no more bytes than the blob holds and each be named by the
manifest; the manifest is at most 16 MiB of JSON with no key twice and the
types above; names must be identifiers, module names dotted identifiers,
paths relative with no "..", "." or empty component (workdir.check_path),
and files and directories are created through directory descriptors that
never follow a symbolic link. The pickles are another matter: unpickling
runs whatever code they name, and that is by design. Restore runs in the
session's own fresh executor, inside the same sandbox as its cells, on
bytes only that session wrote: a hostile pickle reaches nothing that a
cell of that session could not reach by itself. The blob never goes
through any other process's Python: the supervisor stores it as bytes.
"""

import importlib
import io
import json
import keyword
import linecache
import os
import sys
import types
import zipfile

from . import pickling, workdir
from .errors import RequestError, exc_summary, one_line
from .libs import kmq_frame, numpy, pandas
from .session import cell_filename

FORMAT = "kmq-snapshot"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST = 16 << 20         # bytes of manifest.json
MAX_VARS = 10000                # variables and modules
MAX_FILES = 10000               # files and directories of the working directory
MAX_DEPTH = 32                  # directories below the working directory
MAX_CELLS = 10000
CELL_BUDGET = 512 * 1024        # characters of cell code kept (as history's reply)
MAX_DROPPED = 200               # entries of a dropped list; the last sums up the rest
MAX_EXECUTION_COUNT = 2 ** 53
MAX_MODULE_NAME = 256
MAX_NAME = 255                  # characters of a variable's name
_MAX_LABEL = 120
_STAMP = (1980, 1, 1, 0, 0, 0)
#  Bytes a stored entry adds besides its data and twice its name: its
#  local header (30) with a zip64 extra (20, force_zip64), its central
#  record (46); and the end of the central directory (22). Exact while no
#  offset passes 4 GiB; the blob's real size is checked at the end anyway.
_ENTRY_OVERHEAD = 96
_END_OVERHEAD = 22
_KINDS = ("frame", "series", "pickle")
_TYPE_NAMES = {int: "an integer", str: "a string", dict: "a map", list: "an array"}


def _human(size):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return ("%d %s" if unit == "bytes" else "%.1f %s") % (size, unit)
        size /= 1024.0
    return ""


def _exact(size):
    return "%d bytes" % size if size < 10240 else "%d bytes (%s)" % (size, _human(size))


def _label(name):
    """A name for a reply: as it is when printable and short, else its
    repr shortened (a hostile manifest's names are shown, never trusted)."""
    text = name if isinstance(name, str) and name.isprintable() else repr(name)
    return text if len(text) <= _MAX_LABEL else text[:_MAX_LABEL - 3] + "..."


def _file_label(path):
    """How a path of the working directory is named in replies."""
    return "/work/" + _label(path)


def _cap(dropped):
    """dropped as [{"name", "reason"}], at most MAX_DROPPED entries."""
    rows = [{"name": _label(name), "reason": one_line(reason)}
            for name, reason in dropped]
    if len(rows) > MAX_DROPPED:
        rest = len(rows) - (MAX_DROPPED - 1)
        rows = rows[:MAX_DROPPED - 1]
        rows.append({"name": "...", "reason": "%d more items were not kept" % rest})
    return rows


def _is_text(value, limit):
    """True for a str of at most limit characters that UTF-8 can carry."""
    if not isinstance(value, str) or len(value) > limit:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_user_name(name):
    return (isinstance(name, str) and len(name) <= MAX_NAME and name.isidentifier()
            and not keyword.iskeyword(name) and not name.startswith("_"))


def _is_module_name(name):
    return (isinstance(name, str) and 0 < len(name) <= MAX_MODULE_NAME
            and all(part.isidentifier() for part in name.split(".")))


#  --- DataFrames and Series in the frame format ---------------------------

def _missing_only_nan(values):
    """True unless values, an index or a column, has numpy's object dtype
    and holds a missing value other than NaN (None, NA, NaT), which the
    frame format gives back as NaN."""
    dtype = values.dtype
    if not isinstance(dtype, numpy.dtype) or dtype.kind != "O":
        return True
    values = values.to_numpy()
    return all(isinstance(value, float) for value in values[pandas.isna(values)].tolist())


def _frame_faithful(df):
    """True when df comes back from the frame format as it is (the
    module's docstring says what is checked); the values of other dtypes
    are carried exactly (protocol.md 11.2)."""
    if type(df) is not pandas.DataFrame or df.attrs \
            or not df.flags.allows_duplicate_labels \
            or getattr(df.index, "freq", None) is not None:
        return False
    try:
        back = kmq_frame.decode(*kmq_frame.encode(df.iloc[:0]))
    except kmq_frame.FrameError:
        return False
    if not (type(back.columns) is type(df.columns) and back.columns.equals(df.columns)
            and back.columns.names == df.columns.names
            and type(back.index) is type(df.index) and back.index.dtype == df.index.dtype
            and back.index.names == df.index.names
            and back.dtypes.tolist() == df.dtypes.tolist()):
        return False
    return _missing_only_nan(df.index) and all(
        _missing_only_nan(df.iloc[:, position]) for position in range(df.shape[1]))


def _as_frame(value):
    """(kind, DataFrame, extra manifest keys) when value goes in the frame
    format, else None."""
    if kmq_frame is None or pandas is None:
        return None
    if type(value) is pandas.Series:
        if value.attrs or not (value.name is None or _is_text(value.name, MAX_NAME)):
            return None
        frame = value.to_frame(name="values")
        if _frame_faithful(frame):
            return "series", frame, {"series_name": value.name}
        return None
    if isinstance(value, pandas.DataFrame) and _frame_faithful(value):
        return "frame", value, {}
    return None


#  --- take -----------------------------------------------------------------

class _Blob:
    """The zip being written while it fits in the quota; past it, only the
    sizes of what it would hold, to name the biggest."""

    def __init__(self, quota):
        self.quota = quota
        self.buffer = io.BytesIO()
        self.zip = zipfile.ZipFile(self.buffer, "w", zipfile.ZIP_STORED)
        self.sizes = []         # (label, bytes)
        self.total = _END_OVERHEAD

    def add(self, label, arcname, size, parts):
        """Counts size bytes for label and, while under the quota, writes
        the entry from parts(), an iterable of byte pieces (called only
        then). Returns the bytes written (a file may have changed size
        since it was measured), or None when over the quota."""
        self.sizes.append((label, size))
        self.total += size + _ENTRY_OVERHEAD + 2 * len(arcname.encode("utf-8"))
        if self.zip is not None and self.total > self.quota:
            self.zip = self.buffer = None       # over: measure only, free the bytes
        if self.zip is None:
            return None
        info = zipfile.ZipInfo(arcname, _STAMP)
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = size
        with self.zip.open(info, "w", force_zip64=True) as out:
            for part in parts():
                out.write(part)
        return info.file_size

    def too_large(self, total):
        sizes = {}
        for label, size in self.sizes:
            sizes[label] = sizes.get(label, 0) + size
        largest = sorted(sizes.items(), key=lambda item: -item[1])[:3]
        raise RequestError(
            "TOO_LARGE",
            "snapshot: the session needs %s, more than snapshot_quota, %s; the "
            "biggest items: %s. Delete what is no longer needed (del NAME, or the "
            "files) or raise snapshot_quota"
            % (_exact(total), _exact(self.quota),
               ", ".join("%s (%s)" % (_label(name), _human(size))
                         for name, size in largest)),
            {"bytes": int(total),
             "largest": [{"name": _label(name), "bytes": int(size)}
                         for name, size in largest]})


class _Take:
    """One snapshot of a session (see the module's contract)."""

    def __init__(self, session, quota):
        self.session = session
        self.blob = _Blob(quota)
        self.dumper = None
        self.modules = {}
        self.vars = []
        self.dropped = []

    def _pickle(self, name, value):
        if self.dumper is None:
            self.dumper = pickling.Dumper(self.session.namespace)
        try:
            data = self.dumper.dump(value)
        except pickling.Refused as exc:
            self.dropped.append((name, str(exc)))
            return
        self.blob.add(name, "vars/%s.pickle" % name, len(data), lambda: [data])
        self.vars.append({"name": name, "kind": "pickle", "bytes": len(data)})

    def _value(self, name, value):
        if isinstance(value, types.ModuleType):
            module = getattr(value, "__name__", None)
            if _is_module_name(module) and sys.modules.get(module) is value:
                self.modules[name] = module
            else:
                self.dropped.append((name, "a module that was not imported (made in "
                                           "a cell): it cannot be imported again"))
            return
        framed = _as_frame(value)
        if framed is not None:
            kind, frame, extra = framed
            try:
                parts = kmq_frame.kmqf_parts(*kmq_frame.encode(frame))
            except kmq_frame.FrameError:
                parts = None
            if parts is not None:
                size = sum(len(part) for part in parts)
                self.blob.add(name, "vars/%s.kmqf" % name, size, lambda: parts)
                self.vars.append(dict({"name": name, "kind": kind, "bytes": size}, **extra))
                return
        self._pickle(name, value)

    def namespace(self):
        count = 0
        for name, value in list(self.session.namespace.items()):
            if isinstance(name, str) and (name == "_" or (name.startswith("__")
                                                          and name.endswith("__"))):
                continue        # the kernel's own: __builtins__, __name__, _
            if not _is_user_name(name):
                self.dropped.append((name, "names starting with _ are not kept"
                                     if isinstance(name, str) and name.startswith("_")
                                     else "not a Python identifier of at most %d "
                                          "characters" % MAX_NAME))
            elif count >= MAX_VARS:
                self.dropped.append((name, "the snapshot keeps at most %d variables"
                                     % MAX_VARS))
            else:
                count += 1
                self._value(name, value)

    def workdir(self):
        dirs, files, dropped = workdir.walk(MAX_FILES, MAX_DEPTH)
        self.dropped += [(_file_label(path), reason) for path, reason in dropped]
        kept = []
        for path, _ in files:
            label = _file_label(path)
            try:
                source = workdir.open_read(path)
            except OSError as exc:
                self.dropped.append((label, "the file could not be read (%s)"
                                     % (exc.strerror or exc)))
                continue
            with source:
                size = os.fstat(source.fileno()).st_size
                #  A read that fails half-way raises out: the entry is
                #  written and the zip no longer whole (INTERNAL).
                written = self.blob.add(label, "files/" + path, size,
                                        lambda: iter(lambda: source.read(1 << 20), b""))
            kept.append({"path": path, "bytes": size if written is None else written})
        return dirs, kept

    def cells(self):
        kept = self.session.history(0, CELL_BUDGET)[0][-MAX_CELLS:]
        for count, code in kept:
            data = code.encode("utf-8", "surrogatepass")
            self.blob.add("cell history", "cells/%d.py" % count, len(data),
                          lambda data=data: [data])
        return [count for count, _ in kept]

    def run(self):
        self.namespace()
        dirs, files = self.workdir()
        cells = self.cells()
        manifest = json.dumps({
            "format": FORMAT, "version": VERSION,
            "execution_count": self.session.count, "modules": self.modules,
            "vars": self.vars, "dirs": dirs, "files": files, "cells": cells,
            "dropped": _cap(self.dropped)}, ensure_ascii=False).encode("utf-8")
        if len(manifest) > MAX_MANIFEST:
            raise RequestError("TOO_LARGE", "snapshot: its manifest would be %s, more "
                               "than the %s a restore reads (so many files, with such "
                               "long paths?)" % (_exact(len(manifest)), _exact(MAX_MANIFEST)),
                               {"bytes": len(manifest), "largest": [
                                   {"name": "the manifest", "bytes": len(manifest)}]})
        self.blob.add("the manifest", MANIFEST, len(manifest), lambda: [manifest])
        if self.blob.zip is None:
            self.blob.too_large(self.blob.total)
        self.blob.zip.close()
        data = self.blob.buffer.getvalue()
        if len(data) > self.blob.quota:
            self.blob.too_large(len(data))
        kept = sorted([entry["name"] for entry in self.vars] + list(self.modules))
        return ({"bytes": len(data), "kept": kept, "dropped": _cap(self.dropped),
                 "file_count": len(files), "execution_count": self.session.count},
                [data])


def take(session, quota):
    """The session's snapshot, at most quota bytes (see the contract)."""
    if not isinstance(quota, int) or isinstance(quota, bool) or quota < 0:
        raise RequestError("BAD_REQUEST", "snapshot: the quota must be a "
                           "non-negative number of bytes, not %r" % (quota,))
    return _Take(session, quota).run()


#  --- restore: the blob, checked before anything changes -----------------

def _refuse(problem):
    raise RequestError("BAD_REQUEST", "restore: %s: not a snapshot this kernel "
                       "can read (protocol.md 10.3)" % problem)


def _open_zip(blob):
    """(ZipFile, {name: ZipInfo}) of a blob that passes the zip checks."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        _refuse("the snapshot is a %s, not bytes" % type(blob).__name__)
    size = memoryview(blob).nbytes
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
        infos = archive.infolist()
    except Exception as exc:     # noqa: BLE001 -- zipfile raises many kinds on bad input
        _refuse("not a zip (%s)" % exc_summary(exc))
    if len(infos) > 2 + 2 * MAX_VARS + MAX_FILES + MAX_CELLS:
        _refuse("%d entries" % len(infos))
    entries, declared = {}, 0
    for info in infos:
        if info.filename in entries:
            _refuse("entry %s appears twice" % _label(info.filename))
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            _refuse("entry %s is compressed or encrypted" % _label(info.filename))
        if info.file_size != info.compress_size:
            _refuse("entry %s declares %d bytes but stores %d"
                    % (_label(info.filename), info.file_size, info.compress_size))
        declared += info.file_size
        entries[info.filename] = info
    if declared > size:
        _refuse("the entries declare %d bytes, more than the %d of the snapshot"
                % (declared, size))
    return archive, entries


def _unique_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("key %s appears twice" % _label(key))
        result[key] = value
    return result


def _expect(value, kind, where, limit=None):
    """value when it is of kind (bool is not an int) and within limit
    items; BAD_REQUEST else."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        _refuse("manifest: %s is not %s" % (where, _TYPE_NAMES[kind]))
    if limit is not None and len(value) > limit:
        _refuse("manifest: %s has more than %d entries" % (where, limit))
    return value


def _read_manifest(archive, entries):
    """The manifest, its structure checked (its names and paths are
    checked item by item as they are restored)."""
    info = entries.get(MANIFEST)
    if info is None:
        _refuse("no %s" % MANIFEST)
    if info.file_size > MAX_MANIFEST:
        _refuse("%s is %d bytes, more than %d" % (MANIFEST, info.file_size, MAX_MANIFEST))
    try:
        manifest = json.loads(archive.read(info).decode("utf-8"),
                              object_pairs_hook=_unique_keys)
    except Exception as exc:     # noqa: BLE001 -- CRC, UTF-8, JSON, nesting
        _refuse("%s does not read (%s)" % (MANIFEST, exc_summary(exc)))
    _expect(manifest, dict, "the manifest")
    if manifest.get("format") != FORMAT or type(manifest.get("version")) is not int \
            or manifest["version"] != VERSION:
        _refuse("format %s version %s, not %s %d"
                % (_label(manifest.get("format")), _label(manifest.get("version")),
                   FORMAT, VERSION))
    count = _expect(manifest.get("execution_count"), int, "execution_count")
    if not 0 <= count <= MAX_EXECUTION_COUNT:
        _refuse("manifest: execution_count %d is out of range" % count)
    modules = _expect(manifest.get("modules"), dict, "modules", MAX_VARS)
    for alias, module in modules.items():
        _expect(module, str, "module %s" % _label(alias))
    for key, limit in (("vars", MAX_VARS), ("files", MAX_FILES), ("dirs", MAX_FILES),
                       ("cells", MAX_CELLS), ("dropped", MAX_DROPPED)):
        _expect(manifest.get(key), list, key, limit)
    for item in manifest["vars"]:
        _expect(item, dict, "an entry of vars")
        _expect(item.get("name"), str, "a variable's name")
        if item.get("kind") not in _KINDS:
            _refuse("manifest: variable %s has kind %s"
                    % (_label(item["name"]), _label(item.get("kind"))))
        _expect(item.get("bytes"), int, "the bytes of %s" % _label(item["name"]))
        if item["kind"] == "series" and item.get("series_name") is not None:
            _expect(item["series_name"], str, "series_name of %s" % _label(item["name"]))
    for item in manifest["files"]:
        _expect(item, dict, "an entry of files")
        _expect(item.get("path"), str, "a file's path")
        _expect(item.get("bytes"), int, "the bytes of %s" % _label(item["path"]))
    for path in manifest["dirs"]:
        _expect(path, str, "a directory's path")
    for number in manifest["cells"]:
        _expect(number, int, "a cell number")
    for item in manifest["dropped"]:
        _expect(item, dict, "an entry of dropped")
        _expect(item.get("name"), str, "a dropped name")
        _expect(item.get("reason"), str, "a dropped reason")
    named = {MANIFEST}
    named.update("vars/%s.%s" % (item["name"], "pickle" if item["kind"] == "pickle"
                                 else "kmqf") for item in manifest["vars"])
    named.update("files/" + item["path"] for item in manifest["files"])
    named.update("cells/%d.py" % number for number in manifest["cells"])
    stray = sorted(set(entries) - named)
    if stray:
        _refuse("entry %s is not in the manifest" % _label(stray[0]))
    return manifest


#  --- restore: item by item ------------------------------------------------

class _Failed(Exception):
    """One item that does not come back; str(exc) is why."""


class _Restore:
    """One restore of a checked blob into a session."""

    def __init__(self, session, archive, entries, manifest):
        self.session = session
        self.archive = archive
        self.entries = entries
        self.manifest = manifest
        self.loader = None
        self.files = 0
        self.restored = []
        self.names = set()
        self.dropped = [(item["name"], item["reason"]) for item in manifest["dropped"]]

    def _entry(self, arcname, declared=None):
        info = self.entries.get(arcname)
        if info is None:
            raise _Failed("its entry %s is missing from the snapshot" % arcname)
        if declared is not None and declared != info.file_size:
            raise _Failed("the manifest says %d bytes, the entry holds %d"
                          % (declared, info.file_size))
        try:
            return self.archive.read(info)
        except Exception as exc:     # noqa: BLE001 -- a bad CRC and kin
            raise _Failed("its entry does not read (%s)" % exc_summary(exc)) from None

    def _guard(self, label, step, *args):
        """step(*args); a failure of any kind is label's entry in dropped."""
        try:
            step(*args)
        except KeyboardInterrupt:
            raise
        except _Failed as exc:
            self.dropped.append((label, str(exc)))
        except BaseException as exc:     # noqa: BLE001 -- user code runs here: SystemExit too
            self.dropped.append((label, "could not be restored: %s" % exc_summary(exc)))

    def _claim(self, name):
        if not _is_user_name(name):
            raise _Failed("not a Python identifier of at most %d characters, "
                          "not starting with _" % MAX_NAME)
        if name in self.names:
            raise _Failed("named twice in the snapshot")
        self.names.add(name)

    def _dir(self, path):
        reason = workdir.check_path(path)
        if reason:
            raise _Failed(reason)
        workdir.make_dir(path)

    def _file(self, item):
        reason = workdir.check_path(item["path"])
        if reason:
            raise _Failed(reason)
        data = self._entry("files/" + item["path"], item["bytes"])
        with workdir.open_write(item["path"]) as out:
            out.write(data)
        self.files += 1

    def _module(self, alias, module):
        self._claim(alias)
        if not _is_module_name(module):
            raise _Failed("%s is not a module name" % _label(module))
        self.session.namespace[alias] = importlib.import_module(module)
        self.restored.append(alias)

    def _frame(self, item, data):
        if kmq_frame is None:
            raise _Failed("this kernel has no frame codec (pandas missing?)")
        try:
            frame = kmq_frame.from_kmqf(data)
        except kmq_frame.FrameError as exc:
            raise _Failed(str(exc)) from None
        if item["kind"] == "frame":
            return frame
        if frame.shape[1] != 1:
            raise _Failed("a series entry holds %d columns, not 1" % frame.shape[1])
        series = frame.pop(frame.columns[0])
        series.name = item.get("series_name")
        return series

    def _var(self, item):
        self._claim(item["name"])
        kind = item["kind"]
        data = self._entry("vars/%s.%s" % (item["name"], "pickle" if kind == "pickle"
                                            else "kmqf"), item["bytes"])
        if kind == "pickle":
            if self.loader is None:
                self.loader = pickling.Loader(self.session.namespace)
            value = self.loader.load(data)
        else:
            value = self._frame(item, data)
        self.session.namespace[item["name"]] = value
        self.restored.append(item["name"])

    def _cells(self):
        count, used, previous = self.manifest["execution_count"], 0, 0
        for number in self.manifest["cells"]:
            label = "the code of cell %d" % number
            if not previous < number <= count:
                self.dropped.append((label, "cell numbers must increase up to "
                                            "execution_count"))
                continue
            try:
                code = self._entry("cells/%d.py" % number).decode("utf-8")
            except (_Failed, UnicodeDecodeError) as exc:
                self.dropped.append((label, str(exc)))
                continue
            used += len(code)
            if used > CELL_BUDGET:
                self.dropped.append((label, "the cells' code is over %d characters"
                                     % CELL_BUDGET))
                break
            filename = cell_filename(number)
            linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
            self.session.cells.append(number)
            previous = number

    def run(self):
        #  Files first: a value's __setstate__ may read them. Modules before
        #  variables, for the same reason.
        for path in self.manifest["dirs"]:
            self._guard(_file_label(path), self._dir, path)
        for item in self.manifest["files"]:
            self._guard(_file_label(item["path"]), self._file, item)
        for alias, module in self.manifest["modules"].items():
            self._guard(alias, self._module, alias, module)
        for item in self.manifest["vars"]:
            self._guard(item["name"], self._var, item)
        self._cells()
        self.session.count = self.manifest["execution_count"]
        dropped = _cap(self.dropped)
        return ({"kept": sorted(self.restored), "dropped": dropped,
                 "file_count": self.files, "execution_count": self.session.count,
                 "notice": _restore_notice(len(self.restored), self.files, dropped)}, [])


def _restore_notice(names, files, dropped):
    """What the session's first reply says after a restore: what came back,
    and every item that did not, by name."""
    text = ("the session was restored from its snapshot: %d name%s and %d file%s"
            % (names, "" if names == 1 else "s", files, "" if files == 1 else "s"))
    if not dropped:
        return text + "; nothing was dropped"
    return text + "; not kept: " + "; ".join(
        "%s (%s)" % (row["name"], row["reason"]) for row in dropped)


def restore(session, blob):
    """The snapshot blob restored into session (see the contract)."""
    archive, entries = _open_zip(blob)
    manifest = _read_manifest(archive, entries)
    return _Restore(session, archive, entries, manifest).run()
