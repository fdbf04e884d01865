"""Build tool (not embedded): writes the zip of Python modules that
kmq-kernel carries (kernel/glue_blob.S, served by kernel/embed_finder.py).

Usage: /usr/bin/python3 kernel/embed_zip.py OUT NAME=PATH...

    NAME=DIR      the .py files under DIR as package NAME (DIR/__init__.py
                  must exist; subdirectories with one are subpackages)
    NAME=FILE.py  FILE.py as the top-level module NAME

Each source goes in twice: as M.py (for tracebacks and inspect) and
compiled by this Python as M.pyc (PEP 552, unchecked hash-based: magic,
flags, the source's hash, marshalled code), which kernel/embed_finder.py
loads instead of compiling when its Python has the same magic number. So
a syntax error fails the build, not an executor, and an executor does
not spend ~10 ms compiling the glue.

The same sources give the same bytes: entries sorted by name, stored
uncompressed, with a fixed timestamp (1980-01-01) and mode. OUT is
replaced atomically. Exits 1 with one line on stderr on a problem.
"""

import importlib.util
import marshal
import os
import runpy
import sys
import zipfile

#  The finder's prefix of every embedded module's filename, from the one
#  place it is written (the finder is not on any import path here).
PREFIX = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "embed_finder.py"))["PREFIX"]

_EPOCH = (1980, 1, 1, 0, 0, 0)


def _package_files(name, directory):
    """[(archive name, path)] of the package in directory."""
    if not os.path.isfile(os.path.join(directory, "__init__.py")):
        raise ValueError("%s: no __init__.py, so it is no package" % directory)
    files = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs
                         if os.path.isfile(os.path.join(root, d, "__init__.py")))
        inner = os.path.relpath(root, directory)
        prefix = name if inner == "." else name + "/" + inner.replace(os.sep, "/")
        files += [(prefix + "/" + n, os.path.join(root, n))
                  for n in names if n.endswith(".py")]
    return files


def collect(specs):
    """[(archive name, path)] for NAME=PATH specs, sorted by archive name."""
    files = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError("%r: give NAME=PATH with NAME a top-level module name"
                             % spec)
        if os.path.isdir(path):
            files += _package_files(name, path)
        elif path.endswith(".py") and os.path.isfile(path):
            files.append((name + ".py", path))
        else:
            raise ValueError("%s: neither a package directory nor a .py file" % path)
    names = [archived for archived, _ in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError("embedded twice: %s" % ", ".join(duplicates))
    return sorted(files)


def _compiled(archived, source):
    """The PEP 552 pyc of source (unchecked hash-based: flags 0b01), with
    the filename the finder gives the module."""
    code = compile(source, PREFIX + archived, "exec", dont_inherit=True)
    return (importlib.util.MAGIC_NUMBER + (0b01).to_bytes(4, "little")
            + importlib.util.source_hash(source) + marshal.dumps(code))


def _entry(archive, name, data):
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.external_attr = 0o100644 << 16
    info.create_system = 3      # unix, whatever builds it
    archive.writestr(info, data)


def write(out, files):
    """Writes the zip of files to out (atomically)."""
    entries = {}
    for archived, path in files:
        with open(path, "rb") as f:
            source = f.read()
        try:
            entries[archived + "c"] = _compiled(archived, source)
        except SyntaxError as exc:
            raise ValueError("%s: %s" % (path, exc)) from None
        entries[archived] = source
    temporary = out + ".tmp"
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(entries):
            _entry(archive, name, entries[name])
    os.replace(temporary, out)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        write(argv[1], collect(argv[2:]))
    except (OSError, ValueError) as exc:
        sys.stderr.write("embed_zip: %s\n" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
