"""Session: reset and the zygote's hand-over renew a session by one path."""

import builtins
import os
import sys
import unittest.mock

import matplotlib.pyplot as plt
import numpy

from .support import GlueTest, WORKDIR, entry, session, streams


class Renewal(GlueTest):

    def _dirty(self):
        """Leaves every kind of session state behind."""
        self.ok(entry.execute, "x = 41")
        self.ok(entry.execute, "import io, sys\nsys.stdout = io.StringIO()\n"
                               "sys.stderr = io.StringIO()\nsys.stdin = io.StringIO('typed')\n"
                               "input = lambda prompt='': 'typed'")
        builtins.input = lambda prompt="": "typed"
        figure = plt.figure()
        entry.SESSION.shown_figures.append(figure)
        numpy.random.seed(0)
        with open(os.path.join(WORKDIR, "left.txt"), "w") as f:
            f.write("left")

    def _state(self):
        """What a fresh session must look like, as comparable values."""
        numpy.random.seed(0)
        seeded = numpy.random.random()
        numpy.random.seed(0)
        return {
            "names": sorted(entry.SESSION.namespace),
            "count": entry.SESSION.count,
            "shown_figures": len(entry.SESSION.shown_figures),
            "open_figures": plt.get_fignums(),
            "stdout": sys.stdout is streams.STDOUT,
            "stderr": sys.stderr is streams.STDERR,
            "stdin_fails": self._fails(lambda: sys.stdin.read()),
            "input_fails": self._fails(lambda: builtins.input()),
            "seeded_draw_differs": seeded,
        }

    @staticmethod
    def _fails(read):
        try:
            read()
        except OSError:
            return True
        return False

    def _renewed_by(self, renew):
        self._dirty()
        numpy.random.seed(0)
        renew()
        draw = numpy.random.random()
        state = self._state()
        state["seeded_draw_differs"] = draw != state["seeded_draw_differs"]
        state["workdir"] = sorted(os.listdir(WORKDIR))
        return state

    def test_reset_and_handover_give_the_same_fresh_session(self):
        after_reset = self._renewed_by(self.reset)
        after_handover = self._renewed_by(entry.fresh_session)
        fresh = {"names": ["__builtins__", "__name__"], "count": 0,
                 "shown_figures": 0, "open_figures": [], "stdout": True,
                 "stderr": True, "stdin_fails": True, "input_fails": True,
                 "seeded_draw_differs": True}
        self.assertEqual({k: after_reset[k] for k in fresh}, fresh)
        self.assertEqual({k: after_handover[k] for k in fresh}, fresh)
        #  The one difference, on purpose: see the next test.
        self.assertEqual(after_reset["workdir"], [])
        self.assertEqual(after_handover["workdir"], ["left.txt"])

    def test_handover_leaves_the_working_directory_alone(self):
        # A pool child's /work is empty by construction; without the
        # filesystem layer its cwd is a directory the zygote's children share.
        with open("shared.txt", "w") as f:
            f.write("not ours")
        entry.fresh_session()
        self.assertEqual(os.listdir(WORKDIR), ["shared.txt"])

    def test_reset_empties_the_working_directory(self):
        os.makedirs("deep/er")
        with open("deep/er/f", "w") as f:
            f.write("x")
        os.chmod("deep/er", 0o500)
        os.chmod("deep", 0o500)
        os.symlink("/etc/passwd", "link")
        error, message, fields, payloads = self.reset()
        self.assertIsNone(error, message)
        self.assertEqual(os.listdir(WORKDIR), [])
        self.assertTrue(os.path.exists("/etc/passwd"))

    def test_reset_says_what_it_could_not_remove(self):
        with open("stuck", "w") as f:
            f.write("x")
        with unittest.mock.patch("os.unlink",
                                 side_effect=PermissionError(13, "Permission denied")):
            error, message, fields = self.error(entry.reset)
        self.assertEqual(error, "INTERNAL")
        self.assertIn("stuck (Permission denied)", message)
        self.assertEqual(sorted(entry.SESSION.namespace), ["__builtins__", "__name__"])

    def test_execution_count_restarts_after_reset(self):
        self.ok(entry.execute, "1")
        fields, _ = self.ok(entry.execute, "2")
        self.assertEqual(fields["execution_count"], 2)
        self.reset()
        fields, _ = self.ok(entry.execute, "3")
        self.assertEqual(fields["execution_count"], 1)

    def test_count_is_readable_as_entry_count(self):
        # executor_request.c reads _count for an INTERRUPTED that escaped.
        self.ok(entry.execute, "1")
        self.ok(entry.execute, "2")
        self.assertEqual(entry._count, 2)
        with self.assertRaises(AttributeError):
            entry.no_such_attribute  # noqa: B018

    def test_a_new_session_object_is_fresh(self):
        fresh = session.Session()
        self.assertEqual(fresh.count, 0)
        self.assertEqual(sorted(fresh.namespace), ["__builtins__", "__name__"])
        self.assertIs(fresh.namespace["__builtins__"], builtins)
        self.assertEqual(fresh.next_cell(), 1)

    def test_variables_from_before_reset_are_gone(self):
        self.ok(entry.execute, "kept = 1")
        self.reset()
        error, message, fields = self.error(entry.execute, "kept")
        self.assertEqual(fields["ename"], "NameError")


class EntryPoints(GlueTest):

    def test_every_function_the_c_side_looks_up_is_there(self):
        # kernel/executor.c: s_glue_load and s_glue_call
        for name in ("execute", "upload", "download", "reset", "vars", "complete",
                     "inspect", "flush", "zygote_preload", "fresh_session"):
            self.assertTrue(callable(getattr(entry, name)), name)

    def test_display_is_a_builtin(self):
        self.assertIs(builtins.display.__module__, entry.__name__)
        self.assertEqual(builtins.display.__name__, "display")

    def test_flush_survives_closed_streams(self):
        import io
        closed = io.StringIO()
        closed.close()
        sys.stdout = closed
        entry.flush()
