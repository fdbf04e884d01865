"""kernel/embed_zip.py and kernel/embed_finder.py: the glue built into one
deterministic zip and imported from memory, as kmq-kernel does."""

import io
import marshal
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

from .support import ROOT, SCRATCH

KERNEL = os.path.join(ROOT, "kernel")
EMBED_ZIP = os.path.join(KERNEL, "embed_zip.py")


def _build(out, *specs, cwd=ROOT):
    return subprocess.run([sys.executable, EMBED_ZIP, out, *specs], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


class Zip(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=SCRATCH)

    def _path(self, name):
        return os.path.join(self.dir, name)

    def test_the_same_sources_give_the_same_bytes(self):
        first, second = self._path("a.zip"), self._path("b.zip")
        self.assertEqual(_build(first, "_kmq=kernel/glue").returncode, 0)
        os.utime(os.path.join(KERNEL, "glue", "__init__.py"))
        self.assertEqual(_build(second, "_kmq=kernel/glue").returncode, 0)
        with open(first, "rb") as a, open(second, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_entries_are_sorted_stored_and_timeless(self):
        out = self._path("g.zip")
        self.assertEqual(_build(out, "_kmq=kernel/glue").returncode, 0)
        with zipfile.ZipFile(out) as archive:
            infos = archive.infolist()
        names = [info.filename for info in infos]
        self.assertEqual(names, sorted(names))
        self.assertIn("_kmq/__init__.py", names)
        self.assertIn("_kmq/entry.py", names)
        sources = [name for name in os.listdir(os.path.join(KERNEL, "glue"))
                   if name.endswith(".py")]
        self.assertEqual(names, sorted("_kmq/" + name + end for name in sources
                                       for end in ("", "c")))
        for info in infos:
            self.assertEqual(info.date_time, (1980, 1, 1, 0, 0, 0))
            self.assertEqual(info.compress_type, zipfile.ZIP_STORED)

    def test_extra_top_level_modules_come_from_other_folders(self):
        module = self._path("companion.py")
        with open(module, "w") as f:
            f.write("VALUE = 7\n")
        out = self._path("c.zip")
        self.assertEqual(_build(out, "_kmq=kernel/glue", "companion=" + module).returncode, 0)
        with zipfile.ZipFile(out) as archive:
            self.assertIn("companion.py", archive.namelist())

    def test_what_it_refuses(self):
        bad_syntax = self._path("bad.py")
        with open(bad_syntax, "w") as f:
            f.write("def (:\n")
        for spec in ("_kmq=kernel", "glue", "a.b=kernel/glue", "x=nosuch.py",
                     "bad=" + bad_syntax):
            result = _build(self._path("x.zip"), spec)
            self.assertEqual(result.returncode, 1, spec)
            self.assertTrue(result.stderr.startswith("embed_zip: "), result.stderr)
        result = _build(self._path("x.zip"), "_kmq=kernel/glue", "_kmq=kernel/glue")
        self.assertIn("embedded twice", result.stderr)
        self.assertFalse(os.path.exists(self._path("x.zip")))


#  Runs in a fresh interpreter as kernel/executor.c does: the finder from
#  its source, the zip's bytes from memory (the file is gone by then), the
#  glue imported from a directory where kernel/ is out of reach.
_IN_MEMORY = r'''
import sys, os, traceback
finder_source, zip_path = sys.argv[1], sys.argv[2]
with open(zip_path, "rb") as f:
    blob = f.read()
os.unlink(zip_path)
with open(finder_source) as f:
    finder_code = compile(f.read(), "<kmq-kernel>/embed_finder.py", "exec")
opened, compiled = [], []
def audit(event, args):
    if event == "open":
        opened.append(str(args[0]))
    elif event == "compile" and str(args[1]).startswith("<kmq-kernel>/_kmq"):
        compiled.append(args[1])
sys.addaudithook(audit)
namespace = {"__name__": "_kmq_embed"}
exec(finder_code, namespace)
finder = namespace["install"](memoryview(blob))
import importlib
import _kmq.entry
companion = importlib.import_module("companion")
print("file", _kmq.entry.__file__)
print("companion", companion.VALUE, companion.__file__)
print("names", ",".join(finder.names()))
try:
    _kmq.entry.cells._compile_cell(None, "<cell-0>")
except TypeError:
    lines = traceback.format_exc().splitlines()
    at = [i for i, line in enumerate(lines) if "cells.py" in line][0]
    print("traceback", lines[at].strip())
    print("source", lines[at + 1].strip())
import inspect
print("getsource", inspect.getsource(_kmq.entry.execute).splitlines()[0])
print("opened", [p for p in opened if "glue" in p or p.endswith(".zip")])
print("compiled", compiled)
'''


class Finder(unittest.TestCase):

    def test_the_glue_imports_from_memory_with_sensible_filenames(self):
        directory = tempfile.mkdtemp(dir=SCRATCH)
        companion = os.path.join(directory, "companion.py")
        with open(companion, "w") as f:
            f.write("VALUE = 7\n")
        out = os.path.join(directory, "k.zip")
        self.assertEqual(_build(out, "_kmq=kernel/glue", "companion=" + companion).returncode, 0)
        os.unlink(companion)
        env = dict(os.environ, MPLBACKEND="Agg")
        result = subprocess.run(
            [sys.executable, "-I", "-c", _IN_MEMORY,
             os.path.join(KERNEL, "embed_finder.py"), out],
            cwd=directory, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
        self.assertEqual(lines["file"], "<kmq-kernel>/_kmq/entry.py")
        self.assertEqual(lines["companion"], "7 <kmq-kernel>/companion.py")
        self.assertIn("_kmq.cells", lines["names"].split(","))
        self.assertIn('File "<kmq-kernel>/_kmq/cells.py"', lines["traceback"])
        self.assertIn("in _compile_cell", lines["traceback"])
        self.assertEqual(lines["source"], 'tree = ast.parse(code, filename, "exec")')
        self.assertEqual(lines["getsource"], "def execute(code):")
        self.assertEqual(lines["opened"], "[]")
        self.assertEqual(lines["compiled"], "[]")      # the .pyc entries were used


def _load_finder_module():
    """kernel/embed_finder.py as a module of its own (no import statement:
    it is not on sys.path)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "_kmq_embed_under_test", os.path.join(KERNEL, "embed_finder.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CompiledEntries(unittest.TestCase):
    """The finder takes a module's code from its .pyc only when that was
    made by this Python from this very source."""

    def _finder(self, pyc_of):
        directory = tempfile.mkdtemp(dir=SCRATCH)
        path = os.path.join(directory, "m.py")
        with open(path, "w") as f:
            f.write("WHERE = 'source'\n")
        out = os.path.join(directory, "m.zip")
        self.assertEqual(_build(out, "m=" + path).returncode, 0)
        with zipfile.ZipFile(out) as archive:
            entries = {name: archive.read(name) for name in archive.namelist()}
        entries["m.pyc"] = pyc_of(entries["m.pyc"])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in entries.items():
                archive.writestr(name, data)
        return _load_finder_module().EmbeddedFinder(buffer.getvalue())

    def _where(self, finder):
        namespace = {}
        exec(finder.get_code("m"), namespace)
        return namespace["WHERE"]

    @staticmethod
    def _with_code(pyc, text):
        return pyc[:16] + marshal.dumps(compile(text, "<kmq-kernel>/m.py", "exec"))

    def test_a_matching_pyc_is_used(self):
        finder = self._finder(lambda pyc: self._with_code(pyc, "WHERE = 'pyc'"))
        self.assertEqual(self._where(finder), "pyc")

    def test_another_source_or_python_falls_back_to_the_source(self):
        other_hash = lambda pyc: self._with_code(pyc[:8] + b"\0" * 8 + pyc[16:], "WHERE = 'pyc'")
        other_magic = lambda pyc: self._with_code(b"\0\0\r\n" + pyc[4:], "WHERE = 'pyc'")
        for change in (other_hash, other_magic):
            self.assertEqual(self._where(self._finder(change)), "source")
