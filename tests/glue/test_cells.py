"""cells: execute as a notebook cell."""

from .support import GlueTest, entry


def _glue_lines(traceback):
    return [line for line in traceback
            if "kernel/glue" in line or "<kmq-kernel>" in line or "_kmq" in line]


class Results(GlueTest):

    def test_last_expression_is_the_result(self):
        fields, payloads = self.ok(entry.execute, "x = 41\nx + 1")
        self.assertEqual(fields["mime"], ["text/plain"])
        self.assertEqual(payloads, [b"42"])
        self.assertEqual(fields["execution_count"], 1)

    def test_result_is_bound_to_underscore(self):
        self.ok(entry.execute, "6 * 7")
        self.assertEqual(self.result("_"), {"text/plain": b"42"})

    def test_none_and_statements_give_no_result(self):
        for code in ("None", "x = 1", "def f():\n    return 1", "print('hi')", ""):
            fields, payloads = self.ok(entry.execute, code)
            self.assertEqual((fields["mime"], payloads), ([], []), code)

    def test_semicolon_hides_the_result(self):
        for code in ("1;", "1 ;  # a comment", "x = 2\nx;\n\n"):
            fields, _ = self.ok(entry.execute, code)
            self.assertEqual(fields["mime"], [], code)

    def test_semicolon_elsewhere_does_not(self):
        for code, shown in (("'a;'", b"'a;'"), ("x = 1; x", b"1"),
                            ("1  # trailing;", b"1"), ("y = 3;\ny", b"3")):
            self.assertEqual(self.result(code), {"text/plain": shown}, code)

    def test_namespace_persists_between_cells(self):
        self.ok(entry.execute, "import math\nr = math.sqrt(16)")
        self.assertEqual(self.result("r"), {"text/plain": b"4.0"})

    def test_execution_count_counts_every_cell(self):
        self.ok(entry.execute, "1")
        self.error(entry.execute, "1/0")
        self.error(entry.execute, "1 +")
        fields, _ = self.ok(entry.execute, "2")
        self.assertEqual(fields["execution_count"], 4)

    def test_duration_ms_is_measured(self):
        fields, _ = self.ok(entry.execute, "import time\ntime.sleep(0.05)")
        self.assertIsInstance(fields["duration_ms"], int)
        self.assertGreaterEqual(fields["duration_ms"], 50)
        fields, _ = self.ok(entry.execute, "1")
        self.assertGreaterEqual(fields["duration_ms"], 0)

    def test_duration_ms_is_on_errors_whose_code_ran(self):
        for code in ("import time\ntime.sleep(0.02)\n1/0",
                     "import time\ntime.sleep(0.02)\nraise KeyboardInterrupt"):
            error, message, fields = self.error(entry.execute, code)
            self.assertGreaterEqual(fields["duration_ms"], 20, error)

    def test_display_builtin_sends_each_object_in_order(self):
        self.ok(entry.execute, "display(1, 'two', metadata={'x': 1})\nprint('after')")
        self.assertEqual(self.events(), [{"text/plain": b"1"},
                                         {"text/plain": b"'two'"}])

    def test_stdin_fails_at_once(self):
        for code in ("input()", "import sys\nsys.stdin.read()"):
            error, message, fields = self.error(entry.execute, code)
            self.assertEqual(fields["ename"], "OSError", code)
            self.assertIn("stdin is not available", fields["evalue"])


class Errors(GlueTest):

    def test_exception_gives_python_error_with_user_frames_only(self):
        error, message, fields = self.error(
            entry.execute, "def f():\n    return 1 / 0\nf()")
        self.assertEqual(error, "PYTHON_ERROR")
        self.assertEqual(message, "ZeroDivisionError: division by zero")
        self.assertEqual(fields["ename"], "ZeroDivisionError")
        self.assertEqual(fields["evalue"], "division by zero")
        self.assertEqual(fields["execution_count"], 1)
        traceback = fields["traceback"]
        self.assertEqual(traceback[0], "Traceback (most recent call last):")
        self.assertIn('  File "<cell-1>", line 3, in <module>', traceback)
        self.assertIn("    return 1 / 0", traceback)
        self.assertEqual(traceback[-1], "ZeroDivisionError: division by zero")
        self.assertEqual(_glue_lines(traceback), [])

    def test_syntax_error_shows_the_line_not_the_glue(self):
        error, message, fields = self.error(entry.execute, "x = (1,\ny = 2 +")
        self.assertEqual(fields["ename"], "SyntaxError")
        self.assertIn("<cell-1>", "\n".join(fields["traceback"]))
        self.assertEqual(_glue_lines(fields["traceback"]), [])

    def test_repr_from_an_earlier_cell_shows_its_frame(self):
        self.ok(entry.execute, "class A:\n    def __repr__(self):\n"
                               "        raise ValueError('bad repr')")
        error, message, fields = self.error(entry.execute, "A()")
        self.assertEqual(fields["ename"], "ValueError")
        text = "\n".join(fields["traceback"])
        self.assertIn('File "<cell-1>", line 3, in __repr__', text)
        self.assertIn("raise ValueError('bad repr')", text)
        self.assertEqual(_glue_lines(fields["traceback"]), [])

    def test_system_exit_is_reported_not_obeyed(self):
        error, message, fields = self.error(entry.execute, "import sys\nsys.exit(3)")
        self.assertEqual((error, fields["ename"], fields["evalue"]),
                         ("PYTHON_ERROR", "SystemExit", "3"))
        self.assertEqual(self.result("'still here'"), {"text/plain": b"'still here'"})

    def test_keyboard_interrupt_is_interrupted_and_keeps_the_namespace(self):
        self.ok(entry.execute, "kept = 1")
        error, message, fields = self.error(entry.execute, "raise KeyboardInterrupt")
        self.assertEqual(error, "INTERRUPTED")
        self.assertIn("namespace is kept", message)
        self.assertEqual(fields["execution_count"], 2)
        self.assertEqual(self.result("kept"), {"text/plain": b"1"})

    def test_a_failing_repr_of_the_result_is_the_cells_error(self):
        self.ok(entry.execute, "class B:\n    def __repr__(self):\n        return 1")
        error, message, fields = self.error(entry.execute, "B()")
        self.assertEqual(fields["ename"], "TypeError")

    def test_lone_surrogates_in_output_do_not_break_the_reply(self):
        self.assertEqual(self.result("'\\udc80'"), {"text/plain": b"'\\udc80'"})
        error, message, fields = self.error(entry.execute, "raise ValueError('\\udc80')")
        self.assertEqual(fields["evalue"], "\udc80")
