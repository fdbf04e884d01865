"""A session's variables as pickles and back, for snapshots (snapshot.py,
protocol.md 10.3): plain pickle where it works, dill for what pickle can
only name (functions, lambdas and classes defined in cells).

Contract:

    dumper = Dumper(namespace)     data = dumper.dump(value)    bytes
    loader = Loader(namespace)     value = loader.load(data)

dump raises Refused(reason) for a value it will not or cannot pickle, with
a one-line reason ("generator objects cannot be pickled"); the value is
untouched and the dumper stays usable. load raises whatever unpickling
raised; the loader stays usable and the value is simply not restored.

- One memo. The pickles of one Dumper share its memo, so an object reached
  from two variables (a class and its instance, two names for one list) is
  written once and is one object again when one Loader loads the pickles in
  the same order. A pickle that failed to dump leaves no trace in the memo.
  Protocol 3 because its memo indices are explicit (BINPUT n): a pickle
  that fails to load leaves a hole that a later pickle needing it reports
  ("Memo value not found at index n") instead of silently taking another
  object, as protocol 4's positional MEMOIZE would.
- Two picklers, one memo. The C pickler goes first (25-60 times faster on
  lists and dicts of plain values); what it can only name, functions and
  classes defined in cells and whatever holds them, goes to dill's
  pickler, which continues the same memo (Dumper says how).
- Cell code is rebound. Functions and classes defined in cells have
  __module__ "__main__" and the session namespace as their globals: dill
  pickles them by value, and the namespace itself is a persistent id, so
  after loading their globals are the namespace they were loaded into (a
  function calling another cell function finds the restored one). A
  variable holding the namespace (g = globals()) comes back as it, too.
- Refused, wherever they sit in a value: generators and coroutines, file
  objects, threads, locks, sockets, memory maps, frames and tracebacks.
  dill would pickle some of them (a file as its path and position, a lock
  as a new lock, held if it was), which restores something that only looks
  like the original. Anything whose pickling raises is refused with the
  error's summary.
- Loading runs whatever the pickle says: by design only inside the
  session's own sandbox (snapshot.py), where it reaches nothing a cell
  could not.

dill is imported when a value first needs it, at either end: an idle
session never pays for it, nor one whose pickles are all plain.
"""

import io
import pickle
import sys
import types
import warnings

from .errors import exc_summary, one_line

#  Explicit memo indices: see the module's contract.
PROTOCOL = 3
_NAMESPACE_ID = "namespace"


class Refused(Exception):
    """A value that is not pickled; str(exc) is the one-line reason."""


class _Holder:
    """An object whose __dict__ is the namespace, standing in for dill's
    main module (see _dill_pickler)."""

    def __init__(self, namespace):
        self.__dict__ = namespace


def _dill():
    import dill                 # noqa: PLC0415 -- first use only (see the contract)
    return dill


_FILE_TYPES = (io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom,
               io.BufferedRWPair, io.TextIOWrapper)


def _refused_types():
    """(types, reason) pairs of what is refused, from the modules already
    imported: an object of a module's type exists only once it is."""
    import _thread              # noqa: PLC0415 -- builtin, costs nothing
    pairs = [((types.GeneratorType, types.AsyncGeneratorType),
              "generator objects cannot be pickled"),
             ((types.CoroutineType,), "coroutines cannot be pickled"),
             (_FILE_TYPES, "open files cannot be kept: open the file again after "
                           "the restore"),
             ((_thread.LockType, _thread.RLock), "locks cannot be kept"),
             ((types.FrameType, types.TracebackType),
              "frames and tracebacks cannot be kept")]
    for module, name, reason in (
            ("threading", "Thread", "threads cannot be kept: start it again"),
            ("socket", "socket", "sockets cannot be kept"),
            ("mmap", "mmap", "memory maps cannot be kept"),
            ("select", "epoll", "epoll objects cannot be kept")):
        kind = getattr(sys.modules.get(module), name, None)
        if isinstance(kind, type):
            pairs.append(((kind,), reason))
    return pairs


class _Hooks:
    """What both picklers share: the namespace as a persistent id, the
    refused types refused. Needs self.namespace and self.refused."""

    def persistent_id(self, obj):
        return _NAMESPACE_ID if obj is self.namespace else None

    def reducer_override(self, obj):
        for kinds, reason in self.refused:
            if isinstance(obj, kinds):
                if kinds is _FILE_TYPES and obj.closed:
                    reason = "a closed file object: there is nothing to keep"
                raise Refused(reason) from None
        return NotImplemented


class _FastPickler(_Hooks, pickle.Pickler):
    """The C pickler, tried first: 25-60 times faster than dill's pure
    Python one on lists and dicts of plain values."""

    def __init__(self, file, namespace, refused):
        super().__init__(file, protocol=PROTOCOL)
        self.namespace = namespace
        self.refused = refused


def _dill_pickler(dill):
    """dill's Pickler (pure Python) with the hooks, for what the C pickler
    can only name: functions and classes defined in cells, and what holds
    them."""

    class Pickler(_Hooks, dill.Pickler):

        def __init__(self, file, namespace, refused):
            super().__init__(file, protocol=PROTOCOL)
            self.namespace = namespace
            self.refused = refused
            #  dill 0.3.x pickles a function whose globals are
            #  _original_main.__dict__ with _main.__dict__ as its globals, by
            #  a plain save() of that dict (what dump_session relies on);
            #  with the namespace there, that save is the persistent id.
            #  Tested by tests/glue/test_snapshot.py (rebinding).
            holder = _Holder(namespace)
            self._main = self._original_main = holder
            self._main_modified = True

    return Pickler


class _Sink:
    """The C pickler's file: collects one dump's bytes at a time."""

    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(data)
        return len(data)

    def take(self):
        data = b"".join(self.parts)
        self.parts = []
        return data


class Dumper:
    """Pickles values of one namespace with one memo (see the contract).

    Each value goes to the C pickler first; when that fails (cell code, or
    a real failure), the memo is rolled back to what the pickles so far
    wrote and dill tries from there, with a copy of it; only its success
    hands the memo back. The C pickler's memo can be read and replaced
    but not measured, so after each success a fresh empty list is dumped
    and its memo index read from its 2-8 bytes: the memo's size."""

    def __init__(self, namespace):
        self._namespace = namespace
        self._refused = _refused_types()
        self._sink = _Sink()
        self._fast = _FastPickler(self._sink, namespace, self._refused)
        self._size = 0          # memo entries that the pickles so far wrote
        self._dill = None

    def dump(self, value):
        """The pickle of value; Refused(reason) when it is not pickled."""
        try:
            self._fast.dump(value)
            data = self._sink.take()
        except KeyboardInterrupt:
            self._rollback()
            raise
        except Refused as exc:
            self._rollback()
            raise Refused(self._reason(value, exc)) from None
        except BaseException:       # noqa: BLE001 -- user __reduce__ may raise anything
            self._rollback()
            data = self._dump_dill(value)
        self._measure()
        return data

    def _rollback(self):
        """Forgets what a failed dump added to the memo: a later pickle
        must not refer to objects whose bytes were thrown away."""
        self._sink.take()
        memo = self._fast.memo.copy()
        if len(memo) != self._size:
            self._fast.memo = {key: entry for key, entry in memo.items()
                               if entry[0] < self._size}

    def _measure(self):
        self._fast.dump([])
        data = self._sink.take()
        #  PROTO 3, EMPTY_LIST, then BINPUT n (q, 1 byte) or LONG_BINPUT n
        #  (r, 4 bytes little-endian), STOP
        if data[3:4] == b"q":
            index = data[4]
        else:
            index = int.from_bytes(data[4:8], "little")
        self._size = index + 1

    def _dump_dill(self, value):
        if self._dill is None:
            self._dill = _dill_pickler(_dill())
        out = io.BytesIO()
        pickler = self._dill(out, self._namespace, self._refused)
        pickler.memo = self._fast.memo.copy()
        try:
            with warnings.catch_warnings():
                #  dill warns on stderr before some failures; the reason
                #  goes to dropped instead
                warnings.simplefilter("ignore")
                pickler.dump(value)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:    # noqa: BLE001 -- as in dump
            raise Refused(self._reason(value, exc)) from None
        self._fast.memo = pickler.memo
        return out.getvalue()

    def _reason(self, value, exc):
        if isinstance(exc, Refused):
            if any(isinstance(value, kinds) for kinds, _ in self._refused):
                return str(exc)     # the value itself
            return one_line("it holds an object that cannot be kept (%s)" % exc)
        if isinstance(exc, RecursionError):
            return "too deeply nested to pickle"
        return one_line("pickling failed: %s" % exc_summary(exc))


class _Unpickler(pickle.Unpickler):
    """The C unpickler, with the namespace for its persistent id and the
    two globals dill's pickles may name that are not importable as such
    (dill's own Unpickler does the same); dill itself is imported only
    when a pickle names it."""

    def __init__(self, file, namespace):
        super().__init__(file)
        self.namespace = namespace

    def persistent_load(self, pid):
        if pid == _NAMESPACE_ID:
            return self.namespace
        raise pickle.UnpicklingError("unknown persistent id %r" % (pid,))

    def find_class(self, module, name):
        if (module, name) == ("__builtin__", "__main__"):
            return self.namespace       # a dict equal to the namespace (dill's D1)
        if (module, name) == ("__builtin__", "NoneType"):
            return type(None)
        if module == "dill.dill":
            module = "dill._dill"
        return super().find_class(module, name)


class Loader:
    """Loads the pickles of one Dumper, in their order, into namespace."""

    def __init__(self, namespace):
        self._namespace = namespace
        #  The last unpickler that succeeded: its memo is where the next
        #  pickle's references point. Copied through the memo proxy, the one
        #  way CPython 3.11 copies an unpickler's memo correctly (assigning
        #  a dict loses it, and an empty dict crashes the interpreter).
        self._last = None

    def load(self, data):
        """The value in data; raises what unpickling raised."""
        source = io.BytesIO(data)
        unpickler = _Unpickler(source, self._namespace)
        if self._last is not None:
            unpickler.memo = self._last.memo
        value = unpickler.load()
        if source.tell() != len(data):
            raise ValueError("%d bytes after the end of the pickle"
                             % (len(data) - source.tell()))
        self._last = unpickler
        return value
