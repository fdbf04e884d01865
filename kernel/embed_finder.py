"""Serves the Python modules embedded in kmq-kernel to import, from memory.

kernel/embed_zip.py builds one zip of them at build time and
kernel/glue_blob.S puts its bytes in the binary; kernel/executor.c runs
this file first and calls install() with those bytes. Once the sandbox
hides the host's files (pivot_root), the glue and its companions still
import: nothing here reads a file.

Contract: install(blob) reads every entry out of the zip in blob (any
bytes-like) at once, keeps them as bytes (not the zip) and puts one finder
first on sys.meta_path, so nothing on sys.path shadows an
embedded module. It serves ``P/__init__.py`` as package P, ``P/M.py`` as
P.M and ``M.py`` as the top-level module M, with __file__
``<kmq-kernel>/P/M.py`` and get_source(), so tracebacks and inspect show
the source lines. Its code comes from the entry's compiled twin
``P/M.pyc`` (PEP 552, hash-based) when that was made for this Python and
this source, else from compiling the source: either gives the same code. Any other name is left to the other finders. Returns
the finder. (Reading the zip as modules are imported instead left ~70 KiB
more private memory in each executor the zygote forks: its garbage lands
between the pages the children share.)
"""

import importlib.util
import io
import marshal
import sys
import zipfile
from importlib.machinery import ModuleSpec

#  The prefix of every embedded module's __file__ and co_filename: not a
#  path of the host, and not <...>, which linecache would not ask us about.
PREFIX = "<kmq-kernel>/"


class EmbeddedFinder:
    """Finder and loader of the modules of one zip, kept in memory."""

    def __init__(self, blob):
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            entries = {name: archive.read(name) for name in archive.namelist()}
        self._sources = {name: data for name, data in entries.items()
                         if name.endswith(".py")}
        self._compiled = {name: entries.get(name + "c") for name in self._sources}
        #  module name -> (name in the archive, is a package)
        self._modules = {}
        for name in self._sources:
            parts = name[:-3].split("/")
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            self._modules[".".join(parts)] = (name, is_package)

    def names(self):
        """The module names served, sorted."""
        return sorted(self._modules)

    def find_spec(self, fullname, path=None, target=None):
        found = self._modules.get(fullname)
        if found is None:
            return None
        archived, is_package = found
        spec = ModuleSpec(fullname, self, origin=PREFIX + archived,
                          is_package=is_package)
        spec.has_location = True        # sets __file__
        if is_package:
            spec.submodule_search_locations = [PREFIX + archived.rpartition("/")[0]]
        return spec

    def create_module(self, spec):
        return None                     # the default module object

    def exec_module(self, module):
        exec(self.get_code(module.__spec__.name), module.__dict__)

    def is_package(self, fullname):
        return self._entry(fullname)[1]

    def get_filename(self, fullname):
        return PREFIX + self._entry(fullname)[0]

    def get_source(self, fullname):
        return importlib.util.decode_source(self._sources[self._entry(fullname)[0]])

    def get_code(self, fullname):
        archived = self._entry(fullname)[0]
        source = self._sources[archived]
        compiled = self._compiled[archived]
        if compiled is not None and compiled[:4] == importlib.util.MAGIC_NUMBER \
                and compiled[8:16] == importlib.util.source_hash(source):
            return marshal.loads(compiled[16:])
        return compile(source, PREFIX + archived, "exec", dont_inherit=True)

    def _entry(self, fullname):
        try:
            return self._modules[fullname]
        except KeyError:
            raise ImportError("%s is not embedded in kmq-kernel" % fullname,
                              name=fullname) from None


def install(blob):
    """Puts a finder over the zip in blob first on sys.meta_path."""
    finder = EmbeddedFinder(blob)
    sys.meta_path.insert(0, finder)
    return finder
