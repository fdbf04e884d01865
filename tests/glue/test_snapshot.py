"""snapshot and restore (protocol.md 10.3): a session taken on eviction and
given back to a fresh executor, as the supervisor does; over the quota;
and blobs a hostile session could have written."""

import io
import json
import os
import subprocess
import sys
import warnings
import zipfile

import numpy
import pandas
from pandas.testing import assert_frame_equal, assert_series_equal

from .support import ROOT, SCRATCH, WORKDIR, GlueTest, entry

#  One session with every kind of state, over three cells.
STATE = [
    "import numpy as np\n"
    "import pandas as pd\n"
    "n = 42\n"
    "df = pd.DataFrame({'s': ['a', 'b', 'c'], 'k': pd.Categorical(['x', 'y', 'x']),\n"
    "                   'naive': pd.date_range('2024-03-01', periods=3, freq='h'),\n"
    "                   'aware': pd.date_range('2024-03-30 23:00', periods=3, freq='h',\n"
    "                                          tz='Europe/Paris')},\n"
    "                  index=pd.Index(['r1', 'r2', 'r3'], name='row'))\n"
    "holes = pd.DataFrame({'s': ['a', None], 'n': pd.array([1, None], dtype='Int64')})\n"
    "masked = pd.DataFrame({'n': pd.array([1, None], dtype='Int64'),\n"
    "                       's': pd.array(['a', None], dtype='string')})\n"
    "ser = pd.Series([1.5, float('nan')], name='price')",
    "def helper(x):\n    return x * 2\n"
    "def f(x):\n    return helper(x) + 1\n"
    "class Point:\n"
    "    def __init__(self, x):\n        self.x = x\n"
    "    def double(self):\n        return helper(self.x)\n"
    "p = Point(3)\n"
    "sq = lambda v: v * v\n"
    "def make(k):\n    def add(v):\n        return v + k\n    return add\n"
    "add5 = make(5)\n"
    "nested = {'list': [1, 2.5, 'three', None, (4, 5)], 'point': p, 'set': {1, 2}}",
    "import os\n"
    "gen = (i for i in range(3))\n"
    "fh = open('notes.txt', 'w')\n"
    "fh.write('written before the eviction\\n')\n"
    "fh.flush()\n"
    "os.mkdir('data')\n"
    "with open('data/raw.bin', 'wb') as out:\n    out.write(bytes(range(256)))\n"
    "del out",
]


class _Snapshots(GlueTest):

    def run_cells(self, *cells):
        for code in cells:
            self.ok(entry.execute, code)

    def take(self, quota=1 << 30):
        fields, payloads = self.ok(entry.snapshot, quota)
        self.assertEqual(len(payloads), 1)
        self.assertIsInstance(payloads[0], bytes)
        self.assertEqual(fields["bytes"], len(payloads[0]))
        return fields, payloads[0]

    def evict(self):
        """What the supervisor does between the snapshot and the restore:
        the session ends, a fresh executor starts in an empty /work."""
        entry.SESSION.renew(used=True)
        self.assertEqual(os.listdir(WORKDIR), [])
        self.assertEqual(sorted(entry.SESSION.namespace), ["__builtins__", "__name__"])

    def value(self, name):
        return entry.SESSION.namespace[name]

    def dropped(self, fields):
        return {row["name"]: row["reason"] for row in fields["dropped"]}


class RoundTrip(_Snapshots):

    def setUp(self):
        super().setUp()
        self.run_cells(*STATE)
        self.before = dict(entry.SESSION.namespace)
        self.taken, blob = self.take()
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            self.manifest = json.loads(archive.read("manifest.json"))
        self.evict()
        self.restored = self.ok(entry.restore, blob)[0]

    def test_the_replies_name_what_was_kept_and_what_was_not(self):
        kept = ["Point", "add5", "df", "f", "helper", "holes", "make", "masked", "n",
                "nested", "np", "os", "p", "pd", "ser", "sq"]
        self.assertEqual(self.taken["kept"], kept)
        self.assertEqual(self.taken["execution_count"], 3)
        self.assertEqual(self.taken["file_count"], 2)
        self.assertEqual(self.restored["kept"], kept)
        self.assertEqual(self.restored["execution_count"], 3)
        self.assertEqual(self.restored["file_count"], 2)
        dropped = {"gen": "generator objects cannot be pickled",
                   "fh": "open files cannot be kept: open the file again after "
                         "the restore"}
        self.assertEqual(self.dropped(self.taken), dropped)
        self.assertEqual(self.dropped(self.restored), dropped)
        self.assertNotIn("gen", entry.SESSION.namespace)

    def test_frames_and_series_come_back_equal(self):
        kinds = {item["name"]: item["kind"] for item in self.manifest["vars"]}
        self.assertEqual([kinds[name] for name in ("df", "masked", "ser", "holes", "n")],
                         ["frame", "frame", "series", "pickle", "pickle"])
        for name in ("df", "holes", "masked"):
            assert_frame_equal(self.value(name), self.before[name], check_freq=True)
        assert_series_equal(self.value("ser"), self.before["ser"])
        self.assertEqual(str(self.value("df")["aware"].dt.tz), "Europe/Paris")
        #  None in a str column is not NaN: that frame went by pickle
        self.assertIsNone(self.value("holes")["s"][1])

    def test_plain_values_and_module_aliases(self):
        self.assertEqual(self.value("n"), 42)
        self.assertEqual(self.value("nested")["list"], [1, 2.5, "three", None, (4, 5)])
        self.assertEqual(self.value("nested")["set"], {1, 2})
        self.assertIs(self.value("np"), numpy)
        self.assertIs(self.value("pd"), pandas)

    def test_cell_functions_classes_lambdas_and_closures_work(self):
        self.assertEqual(self.result("(f(3), p.double(), sq(4), add5(1), "
                                     "isinstance(p, Point), nested['point'] is p)"),
                         {"text/plain": b"(7, 6, 16, 6, True, True)"})

    def test_cell_code_is_bound_to_the_restored_namespace(self):
        namespace = entry.SESSION.namespace
        for name in ("f", "helper", "sq", "add5"):
            self.assertIs(self.value(name).__globals__, namespace, name)
        self.assertIs(self.value("Point").double.__globals__, namespace)
        #  f calls whatever helper is now, as it did before the eviction
        self.assertEqual(self.result("def helper(x):\n    return -x\nf(3), p.double()"),
                         {"text/plain": b"(-2, -3)"})

    def test_files_and_directories_come_back(self):
        with open(os.path.join(WORKDIR, "notes.txt")) as f:
            self.assertEqual(f.read(), "written before the eviction\n")
        with open(os.path.join(WORKDIR, "data", "raw.bin"), "rb") as f:
            self.assertEqual(f.read(), bytes(range(256)))

    def test_the_counter_and_the_history_continue(self):
        fields, _ = self.ok(entry.execute, "n + 1")
        self.assertEqual(fields["execution_count"], 4)
        cells = self.ok(entry.history, 0)[0]["cells"]
        self.assertEqual([cell["execution_count"] for cell in cells], [1, 2, 3, 4])
        self.assertEqual(cells[1]["code"], STATE[1])

    def test_a_restored_function_shows_its_source_in_tracebacks(self):
        error, message, fields = self.error(entry.execute, "f('x')")
        self.assertEqual(error, "PYTHON_ERROR")
        self.assertIn("    return helper(x) + 1", "\n".join(fields["traceback"]))

    def test_a_restored_series_is_its_own(self):
        self.run_cells("ser[0] = 9.5")
        self.assertEqual(self.value("ser")[0], 9.5)


class Dropped(_Snapshots):

    def test_what_cannot_be_kept_is_named_with_its_reason(self):
        self.run_cells(
            "import threading, os\n"
            "lock = threading.Lock()\n"
            "thread = threading.Thread(target=lambda: None)\n"
            "holder = {'g': (i for i in range(2))}\n"
            "class Stubborn:\n"
            "    def __reduce__(self):\n"
            "        raise TypeError('not today')\n"
            "stubborn = Stubborn()\n"
            "_private = 1\n"
            "with open('closed.txt', 'w') as closed:\n"
            "    pass\n"
            "kept = 'yes'\n"
            "globals()['x' * 256] = 1\n"
            "open(b'bad\\xff', 'w').close()\n"
            "os.symlink('/etc/passwd', 'link')")
        fields, blob = self.take()
        dropped = self.dropped(fields)
        self.assertEqual(dropped["lock"], "locks cannot be kept")
        self.assertEqual(dropped["thread"], "threads cannot be kept: start it again")
        self.assertEqual(dropped["holder"], "it holds an object that cannot be kept "
                                            "(generator objects cannot be pickled)")
        self.assertEqual(dropped["stubborn"], "pickling failed: TypeError: not today")
        self.assertEqual(dropped["_private"], "names starting with _ are not kept")
        self.assertEqual(dropped["closed"], "a closed file object: there is nothing to keep")
        self.assertEqual(dropped["/work/link"], "a symbolic link: links are not kept")
        self.assertEqual(dropped["x" * 117 + "..."],
                         "not a Python identifier of at most 255 characters")
        self.assertEqual(dropped["/work/'bad\\udcff'"], "the path is not valid UTF-8")
        self.assertIn("kept", fields["kept"])
        self.evict()
        fields = self.ok(entry.restore, blob)[0]
        self.assertEqual(self.dropped(fields), dropped)
        self.assertEqual(fields["kept"], ["Stubborn", "kept", "os", "threading"])

    def test_a_value_that_fails_to_load_is_dropped_alone(self):
        self.run_cells("class Fragile:\n"
                       "    def __setstate__(self, state):\n"
                       "        raise ValueError('cannot come back')\n"
                       "a = [1]\n"
                       "fragile = Fragile()\n"
                       "fragile.x = 1\n"
                       "b = a")
        _, blob = self.take()
        self.evict()
        fields = self.ok(entry.restore, blob)[0]
        self.assertEqual(self.dropped(fields),
                         {"fragile": "could not be restored: ValueError: cannot come back"})
        self.assertEqual(fields["kept"], ["Fragile", "a", "b"])
        self.assertIs(self.value("a"), self.value("b"))


class Sharing(_Snapshots):
    """One memo across the variables, across the C pickler and dill."""

    def restore(self, *cells):
        self.run_cells(*cells)
        _, blob = self.take()
        self.evict()
        return self.ok(entry.restore, blob)[0]

    def test_shared_objects_stay_shared(self):
        self.restore("data = [1, 2]\n"
                     "class Box:\n    pass\n"
                     "boxes = [Box(), data]\n"
                     "def uses(x=data):\n    return x\n"
                     "alias = data\n"
                     "box_class = Box\n"
                     "g = globals()")
        data = self.value("data")
        self.assertIs(self.value("alias"), data)
        self.assertIs(self.value("boxes")[1], data)
        self.assertIs(self.value("uses")(), data)
        self.assertIs(self.value("box_class"), self.value("Box"))
        self.assertIsInstance(self.value("boxes")[0], self.value("Box"))
        self.assertIs(self.value("g"), entry.SESSION.namespace)

    def test_more_kinds_of_cell_code(self):
        self.restore("import collections, dataclasses, functools\n"
                     "@dataclasses.dataclass\n"
                     "class DC:\n    x: int\n"
                     "    y: list = dataclasses.field(default_factory=list)\n"
                     "NT = collections.namedtuple('NT', 'a b')\n"
                     "class Slotted:\n    __slots__ = ('a',)\n"
                     "    def __init__(self):\n        self.a = 5\n"
                     "class Kinds(dict):\n"
                     "    @property\n    def p(self):\n        return 1\n"
                     "    @staticmethod\n    def s():\n        return 2\n"
                     "    @classmethod\n    def c(cls):\n        return cls\n"
                     "def deco(f):\n    @functools.wraps(f)\n"
                     "    def inner(*a):\n        return f(*a) * 10\n    return inner\n"
                     "@deco\ndef wrapped(x):\n    return x\n"
                     "counts = collections.defaultdict(lambda: 0, {'a': 1})\n"
                     "values = (DC(1), NT(1, 2), Slotted(), Kinds(k=1))")
        self.assertEqual(
            self.result("dc, nt, sl, kinds = values\n"
                        "(dc == DC(1), isinstance(nt, NT), sl.a, kinds.p, kinds.s(), "
                        "kinds.c() is Kinds, kinds['k'], wrapped(2), counts['new'])"),
            {"text/plain": b"(True, True, 5, 1, 2, True, 1, 20, 0)"})

    def test_a_refused_value_leaves_no_hole_for_the_next(self):
        #  first's dict is pickled, then its generator refused: second and
        #  third must not refer to the dict's bytes that were thrown away
        #  (past 256 memo entries, whose indices take 4 bytes)
        fields = self.restore("many = [str(i) for i in range(300)]\n"
                              "first = [{'k': [1]}, (i for i in range(2))]\n"
                              "def fn():\n    return third\n"
                              "second = [first[0], fn]\n"
                              "third = first[0]\n"
                              "again = [many, third]")
        self.assertEqual(list(self.dropped(fields)), ["first"])
        self.assertIs(self.value("again")[0], self.value("many"))
        self.assertIs(self.value("again")[1], self.value("third"))
        self.assertEqual(self.value("third"), {"k": [1]})
        self.assertIs(self.value("second")[0], self.value("third"))
        self.assertIs(self.value("second")[1](), self.value("third"))

    def test_dill_is_imported_only_when_a_value_needs_it(self):
        code = ("import sys\n"
                "sys.path[:0] = [%r, %r]\n"
                "entry = __import__('tests.glue.support', fromlist=['entry']).entry\n"
                "entry.execute('x = [1, {2: 3}]')\n"
                "blob = entry.snapshot(10 ** 6)[3][0]\n"
                "entry.SESSION.renew(used=True)\n"
                "print(entry.restore(blob)[2]['kept'], 'dill' in sys.modules)\n"
                % (ROOT, os.path.join(ROOT, "tests")))
        out = subprocess.run([sys.executable, "-c", code], cwd=WORKDIR, timeout=120,
                             capture_output=True, text=True)
        self.assertEqual(out.stdout, "['x'] False\n", out.stderr)


class Quota(_Snapshots):

    def test_over_the_quota_is_too_large_and_keeps_the_session(self):
        self.run_cells("big = bytes(300000)\nsmall = 1",
                       "with open('file.bin', 'wb') as f:\n    f.write(bytes(200000))")
        namespace = dict(entry.SESSION.namespace)
        error, message, fields = self.error(entry.snapshot, 100000)
        self.assertEqual(error, "TOO_LARGE")
        self.assertIn("more than snapshot_quota, 100000 bytes (97.7 KiB)", message)
        self.assertIn("big (293.0 KiB), /work/file.bin (195.3 KiB)", message)
        self.assertEqual([row["name"] for row in fields["largest"]][:2],
                         ["big", "/work/file.bin"])
        self.assertGreater(fields["bytes"], 500000)
        self.assertEqual(entry.SESSION.namespace, namespace)
        self.assertEqual(os.listdir(WORKDIR), ["file.bin"])
        self.assertEqual(entry.SESSION.count, 2)
        self.take()

    def test_the_quota_is_exact(self):
        self.run_cells("x = list(range(100))")
        size = self.take()[0]["bytes"]
        self.take(size)
        self.assertEqual(self.error(entry.snapshot, size - 1)[0], "TOO_LARGE")

    def test_a_bad_quota_is_a_bad_request(self):
        for quota in (-1, "10", None, True):
            self.assertEqual(self.error(entry.snapshot, quota)[0], "BAD_REQUEST", quota)


class ContainedCode(_Snapshots):
    """A pickle's __reduce__ names a callable that runs when it is loaded.
    That is by design: restore runs in the session's own executor, inside
    its sandbox, so the code reaches nothing a cell of that session could
    not. This shows where it runs: in the restore call, not at snapshot."""

    def test_reduce_code_runs_only_inside_restore(self):
        self.run_cells("class Trap:\n"
                       "    def __reduce__(self):\n"
                       "        return (exec, (\"open('trap-ran', 'w').close()\",))\n"
                       "trap = Trap()")
        _, blob = self.take()
        self.assertFalse(os.path.exists(os.path.join(WORKDIR, "trap-ran")))
        self.evict()
        self.assertFalse(os.path.exists(os.path.join(WORKDIR, "trap-ran")))
        self.ok(entry.restore, blob)
        self.assertTrue(os.path.exists(os.path.join(WORKDIR, "trap-ran")))


def _manifest(**changes):
    manifest = {"format": "kmq-snapshot", "version": 1, "execution_count": 0,
                "modules": {}, "vars": [], "dirs": [], "files": [], "cells": [],
                "dropped": []}
    manifest.update(changes)
    return manifest


def _zip(entries, compression=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")         # a name twice, on purpose
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def _blob(manifest, *entries):
    data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    return _zip([("manifest.json", data)] + list(entries))


class Hostile(_Snapshots):
    """Blobs a hostile session could write: refused whole or item by item,
    never an exception, never a file outside the working directory."""

    def setUp(self):
        super().setUp()
        self.outside = sorted(os.listdir(SCRATCH))

    def tearDown(self):
        self.assertEqual(sorted(os.listdir(SCRATCH)), self.outside)
        super().tearDown()

    def refused(self, blob, words):
        error, message, fields = self.error(entry.restore, blob)
        self.assertEqual(error, "BAD_REQUEST", message)
        self.assertIn(words, message)
        self.assertEqual(sorted(entry.SESSION.namespace), ["__builtins__", "__name__"])
        self.assertEqual(entry.SESSION.count, 0)

    def test_what_is_not_a_snapshot_is_refused(self):
        self.refused(b"", "not a zip")
        self.refused(b"PK\x03\x04 and then nothing", "not a zip")
        self.refused("a str", "not bytes")
        self.refused(_zip([("other.txt", b"x")]), "no manifest.json")
        self.refused(_zip([("manifest.json", b"{}")], zipfile.ZIP_DEFLATED),
                     "compressed or encrypted")

    def test_a_bad_manifest_is_refused(self):
        nested = b"[" * 100000 + b"]" * 100000
        for manifest, words in (
                (b"{not json", "does not read"),
                (nested, "does not read"),
                (b'{"format": "kmq-snapshot", "format": "x"}', "appears twice"),
                ([], "the manifest is not a map"),
                (_manifest(version=2), "version 2"),
                (_manifest(version=True), "version True"),
                (_manifest(execution_count="7"), "execution_count is not an integer"),
                (_manifest(execution_count=-1), "out of range"),
                (_manifest(vars={}), "vars is not an array"),
                (_manifest(vars=[{"name": "x", "kind": "exe", "bytes": 1}]), "kind exe"),
                (_manifest(files=[{"path": 7, "bytes": 1}]), "a file's path"),
                (_manifest(vars=[{"name": "x", "kind": "pickle"}] * 10001),
                 "more than 10000"),
                (_manifest(dropped=[{"name": "x"}]), "a dropped reason")):
            self.refused(_blob(manifest), words)

    def test_entries_the_manifest_does_not_name_are_refused(self):
        self.refused(_blob(_manifest(), ("../../escape.txt", b"x")),
                     "entry ../../escape.txt is not in the manifest")
        self.refused(_blob(_manifest(), ("manifest.json", b"{}")), "appears twice")

    def test_huge_declared_sizes(self):
        manifest = _manifest(files=[{"path": "a.txt", "bytes": 10 ** 15}])
        fields = self.ok(entry.restore, _blob(manifest, ("files/a.txt", b"abc")))[0]
        self.assertEqual(self.dropped(fields),
                         {"/work/a.txt": "the manifest says 1000000000000000 bytes, the "
                                         "entry holds 3"})
        self.assertEqual(os.listdir(WORKDIR), [])
        #  a central directory that announces more than the blob holds
        blob = bytearray(_blob(_manifest(), ))
        record = blob.rindex(b"PK\x01\x02")
        blob[record + 20:record + 28] = (2 ** 31).to_bytes(4, "little") * 2
        self.refused(bytes(blob), "more than the")

    def test_unsafe_paths_are_dropped_and_nothing_lands_outside(self):
        os.symlink(SCRATCH, "link")
        paths = ["../escape.txt", "/tmp/escape.txt", "a/../../escape.txt", "./x", "a//b",
                 "link/escape.txt", "link", "x\0y"]
        manifest = _manifest(files=[{"path": path, "bytes": 1} for path in paths],
                             dirs=["../escape-dir", "link/escape-dir"])
        #  zipfile cuts an entry's name at a NUL: that one has no entry
        blob = _blob(manifest, *[("files/" + path, b"x") for path in paths[:-1]])
        fields = self.ok(entry.restore, blob)[0]
        dropped = self.dropped(fields)
        self.assertEqual(len(dropped), len(paths) + 2, dropped)
        self.assertEqual(fields["file_count"], 0)
        self.assertEqual(os.listdir(WORKDIR), ["link"])
        self.assertTrue(os.path.islink("link"))

    def test_bad_names_are_dropped_and_the_namespace_is_kept(self):
        names = ["os.system", "__builtins__", "a b", "class", "_hidden", "1x"]
        manifest = _manifest(vars=[{"name": name, "kind": "pickle", "bytes": 4}
                                   for name in names],
                             modules={"__name__": "os", "sys": "os, sys",
                                      "ok": "json"})
        blob = _blob(manifest, *[("vars/%s.pickle" % name, b"\x80\x03K\x01.")
                                 for name in names])
        fields = self.ok(entry.restore, blob)[0]
        self.assertEqual(fields["kept"], ["ok"])
        self.assertEqual(sorted(self.dropped(fields)),
                         sorted(names + ["__name__", "sys"]))
        self.assertEqual(entry.SESSION.namespace["__name__"], "__main__")

    def test_a_broken_pickle_or_frame_is_dropped_alone(self):
        manifest = _manifest(vars=[{"name": "p", "kind": "pickle", "bytes": 3},
                                   {"name": "q", "kind": "frame", "bytes": 3},
                                   {"name": "r", "kind": "pickle", "bytes": 5}],
                             execution_count=5, cells=[2, 9])
        blob = _blob(manifest, ("vars/p.pickle", b"\x80\x03("), ("vars/q.kmqf", b"bad"),
                     ("vars/r.pickle", b"\x80\x03K\x07."), ("cells/2.py", b"r = 7"),
                     ("cells/9.py", b"late"))
        fields = self.ok(entry.restore, blob)[0]
        self.assertEqual(fields["kept"], ["r"])
        self.assertEqual(sorted(self.dropped(fields)), ["p", "q", "the code of cell 9"])
        self.assertEqual(self.value("r"), 7)
        self.assertEqual(entry.SESSION.count, 5)
        self.assertEqual(entry.SESSION.cells, [2])
