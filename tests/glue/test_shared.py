"""What shared sessions and the Jupyter bridge need from the glue: the
`input` event at the start of a request, is_complete and history."""

from .support import GlueTest, entry, fake_io


class Input(GlueTest):

    def test_a_cell_announces_its_number_and_code_first(self):
        self.ok(entry.execute, "print('hi')")
        self.assertEqual(fake_io.inputs, [("execute", {"execution_count": 1},
                                           "print('hi')".encode())])

    def test_uploads_and_resets_announce_themselves(self):
        self.ok(entry.upload, "a.txt", "file", b"abc")
        self.reset()
        self.assertEqual([i[0] for i in fake_io.inputs], ["upload", "reset"])
        self.assertEqual(fake_io.inputs[0][1], {"name": "a.txt", "format": "file",
                                                "bytes": 3})


class IsComplete(GlueTest):

    def answer(self, code):
        fields, _ = self.ok(entry.is_complete, code.encode())
        return fields.get("completeness"), fields.get("indent")

    def test_jupyter_kernel_tests_samples(self):
        for code in ("1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"):
            self.assertEqual(self.answer(code)[0], "complete", code)
        for code in ("print('''hello", "def f(x):\n  x*2"):
            self.assertEqual(self.answer(code)[0], "incomplete", code)
        self.assertEqual(self.answer("import = 7q")[0], "invalid")

    def test_the_indent_follows_the_block(self):
        self.assertEqual(self.answer("for i in range(3):"), ("incomplete", "    "))
        self.assertEqual(self.answer("if x:\n    for i in y:"), ("incomplete", "        "))
        self.assertEqual(self.answer("f(1,"), ("incomplete", ""))

    def test_nothing_runs(self):
        self.answer("import os; os.mkdir('never')")
        self.assertEqual(entry.SESSION.count, 0)


class History(GlueTest):

    def test_every_cell_oldest_first_and_the_last_n(self):
        for code in ("x = 1", "1/0", "x + 1"):
            entry.execute(code)
        fields, _ = self.ok(entry.history, 0)
        self.assertEqual(fields["cells"], [{"execution_count": 1, "code": "x = 1"},
                                           {"execution_count": 2, "code": "1/0"},
                                           {"execution_count": 3, "code": "x + 1"}])
        fields, _ = self.ok(entry.history, 1)
        self.assertEqual([c["execution_count"] for c in fields["cells"]], [3])

    def test_reset_starts_it_afresh(self):
        entry.execute("x = 1")
        self.reset()
        fields, _ = self.ok(entry.history, 0)
        self.assertEqual(fields["cells"], [])

    def test_a_long_history_is_cut_to_the_newest(self):
        for i in range(3):
            entry.execute("# %d\n" % i + "x" * 300000)
        fields, _ = self.ok(entry.history, 0)
        self.assertTrue(fields["truncated"])
        self.assertEqual([c["execution_count"] for c in fields["cells"]], [3])
