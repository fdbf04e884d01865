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
- Cell code is rebound. Functions and classes defined in cells have
  __module__ "__main__" and the session namespace as their globals: dill
  pickles them by value, and the namespace itself is a persistent id, so
  after loading their globals are the namespace they were loaded into (a
  function calling another cell function finds the restored one).
- Refused, wherever they sit in a value: generators and coroutines, file
  objects, threads, locks, sockets, memory maps, frames and tracebacks.
  dill would pickle some of them (a file as its path and position, a lock
  as a new lock, held if it was), which restores something that only looks
  like the original. Anything whose pickling raises is refused with the
  error's summary.
- Loading runs whatever the pickle says: by design only inside the
  session's own sandbox (snapshot.py), where it reaches nothing a cell
  could not.

dill is imported on first use: an idle session never pays for it.
"""

import io
import pickle
import sys
import types

from .errors import exc_summary

#  Explicit memo indices: see the module's contract.
PROTOCOL = 3
_NAMESPACE_ID = "namespace"
_MAX_REASON = 300


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


def _one_line(text):
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON - 3] + "..."


def _dill_pickler(dill):
    """dill's Pickler, with the namespace as a persistent id and the
    refused types refused."""

    class Pickler(dill.Pickler):

        def __init__(self, file, namespace, refused):
            super().__init__(file, protocol=PROTOCOL)
            self.namespace = namespace
            self.refused = refused
            #  dill 0.3.x pickles a function whose globals are
            #  _original_main.__dict__ with _main.__dict__ as its globals, by
            #  a plain save() of that dict (what dump_session relies on);
            #  with the namespace there, that save is the persistent id
            #  below. Tested by tests/glue/test_snapshot.py (rebinding).
            holder = _Holder(namespace)
            self._main = self._original_main = holder
            self._main_modified = True

        def persistent_id(self, obj):
            return _NAMESPACE_ID if obj is self.namespace else None

        def reducer_override(self, obj):
            for kinds, reason in self.refused:
                if isinstance(obj, kinds):
                    if kinds is _FILE_TYPES and obj.closed:
                        reason = "a closed file object: there is nothing to keep"
                    raise Refused(reason) from None
            return NotImplemented

    return Pickler


class Dumper:
    """Pickles values of one namespace with one memo (see the contract)."""

    def __init__(self, namespace):
        self._pickler = _dill_pickler(_dill())
        self._namespace = namespace
        self._refused = _refused_types()
        self._memo = {}

    def dump(self, value):
        """The pickle of value; Refused(reason) when it is not pickled."""
        out = io.BytesIO()
        pickler = self._pickler(out, self._namespace, self._refused)
        pickler.memo = self._memo
        mark = len(self._memo)
        try:
            pickler.dump(value)
        except BaseException as exc:    # noqa: BLE001 -- user __reduce__ may raise anything
            #  The memo is filled in index order: forget what this failed
            #  pickle added, or a later pickle would refer to it.
            for key in list(self._memo)[mark:]:
                del self._memo[key]
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise Refused(self._reason(value, exc)) from None
        return out.getvalue()

    def _reason(self, value, exc):
        if isinstance(exc, Refused):
            if any(isinstance(value, kinds) for kinds, _ in self._refused):
                return str(exc)     # the value itself
            return _one_line("it holds an object that cannot be kept (%s)" % exc)
        if isinstance(exc, RecursionError):
            return "too deeply nested to pickle"
        return _one_line("pickling failed: %s" % exc_summary(exc))


def _dill_unpickler(dill):

    class Unpickler(dill.Unpickler):

        def __init__(self, file, namespace):
            #  ignore: dill would otherwise swap the class of a loaded
            #  __main__ object for the real __main__'s attribute of that name.
            super().__init__(file, ignore=True)
            self.namespace = namespace
            self._main = _Holder(namespace)

        def persistent_load(self, pid):
            if pid == _NAMESPACE_ID:
                return self.namespace
            raise pickle.UnpicklingError("unknown persistent id %r" % (pid,))

    return Unpickler


class Loader:
    """Loads the pickles of one Dumper, in their order, into namespace."""

    def __init__(self, namespace):
        self._unpickler = _dill_unpickler(_dill())
        self._namespace = namespace
        #  The last unpickler that succeeded: its memo is where the next
        #  pickle's references point. Copied through the memo proxy, the one
        #  way CPython 3.11 copies an unpickler's memo correctly (assigning
        #  a dict loses it, and an empty dict crashes the interpreter).
        self._last = None

    def load(self, data):
        """The value in data; raises what unpickling raised."""
        source = io.BytesIO(data)
        unpickler = self._unpickler(source, self._namespace)
        if self._last is not None:
            unpickler.memo = self._last.memo
        value = unpickler.load()
        if source.tell() != len(data):
            raise ValueError("%d bytes after the end of the pickle"
                             % (len(data) - source.tell()))
        self._last = unpickler
        return value
