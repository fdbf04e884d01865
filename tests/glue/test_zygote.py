"""zygote: the preload before the zygote forks."""

import gc
import os
import tempfile
import unittest.mock

from .support import GlueTest, SCRATCH, entry


class Preload(GlueTest):

    def _preload_in(self, directory):
        with unittest.mock.patch.object(tempfile, "tempdir", directory):
            entry.zygote_preload()
        gc.unfreeze()

    def test_matplotlib_config_dir_is_a_throwaway_one(self):
        directory = tempfile.mkdtemp(dir=SCRATCH)
        configured = os.environ.get("MPLCONFIGDIR")
        self._preload_in(directory)
        self.assertEqual(os.environ.get("MPLCONFIGDIR"), configured)
        self.assertEqual(os.listdir(directory), [])
        with unittest.mock.patch.dict(os.environ):
            del os.environ["MPLCONFIGDIR"]
            self._preload_in(directory)
            self.assertNotIn("MPLCONFIGDIR", os.environ)

    def test_the_warm_up_leaves_a_fresh_session(self):
        import linecache
        self._preload_in(SCRATCH)
        self.assertEqual(entry.SESSION.count, 0)
        self.assertEqual(sorted(entry.SESSION.namespace), ["__builtins__", "__name__"])
        self.assertEqual([name for name in linecache.cache if name.startswith("<cell-")], [])
        self.assertEqual(os.listdir(SCRATCH + "/work"), [])

    def test_the_heap_is_frozen(self):
        gc.unfreeze()
        with unittest.mock.patch.object(tempfile, "tempdir", SCRATCH):
            entry.zygote_preload()
        self.assertGreater(gc.get_freeze_count(), 0)
        gc.unfreeze()

    def test_matplotlib_is_imported_but_not_pyplot(self):
        import subprocess
        import sys
        from .support import ROOT
        code = ("import sys\nsys.path.insert(0, %r)\n"
                "from glue.support import entry\nentry.zygote_preload()\n"
                "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
                % os.path.join(ROOT, "tests"))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(out.stdout.strip(), "True False", out.stderr)
