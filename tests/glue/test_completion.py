"""completion: complete and inspect; variables: vars."""

from .support import GlueTest, entry


class Complete(GlueTest):

    def setUp(self):
        super().setUp()
        self.ok(entry.execute, "import pandas as pd, os\n"
                               "df = pd.DataFrame({'alpha': [1], 'beta': [2]})\n"
                               "d = {'key1': 1, 'key2': 2, 3: 'x'}\n"
                               "_private = 1\nprinter = 2")

    def complete(self, code, cursor=None):
        data = code.encode("utf-8")
        fields, payloads = self.ok(entry.complete, data,
                                   len(data) if cursor is None else cursor)
        self.assertEqual(payloads, [])
        return fields

    def test_attributes_after_a_dot(self):
        fields = self.complete("df.gro")
        self.assertEqual(fields, {"matches": ["groupby"], "cursor_start": 3,
                                  "cursor_end": 6})
        self.assertIn("path", self.complete("os.pa")["matches"])

    def test_names_builtins_and_keywords(self):
        matches = self.complete("pri")["matches"]
        self.assertEqual(matches, ["print", "printer"])
        self.assertIn("while", self.complete("whi")["matches"])

    def test_private_names_only_for_a_private_prefix(self):
        self.assertNotIn("_private", self.complete("")["matches"])
        self.assertIn("_private", self.complete("_pri")["matches"])

    def test_dict_keys_and_frame_columns(self):
        self.assertEqual(self.complete("d['ke")["matches"], ["key1", "key2"])
        self.assertEqual(self.complete('df["al')["matches"], ["alpha"])

    def test_modules_after_import_and_from(self):
        # (split so that tests/deps_check.py does not take it for an import)
        self.assertIn("pandas", self.complete("import " + "pan")["matches"])
        self.assertIn("path", self.complete("import os.pa")["matches"])
        self.assertIn("DataFrame", self.complete("from pandas import Data")["matches"])

    def test_nothing_is_evaluated_before_a_dot(self):
        self.ok(entry.execute, "calls = []\ndef f():\n    calls.append(1)\n    return 'x'")
        self.assertEqual(self.complete("f().up")["matches"], [])
        self.assertEqual(self.result("calls"), {"text/plain": b"[]"})

    def test_cursor_is_a_byte_offset(self):
        self.ok(entry.execute, "\u00e9t\u00e9 = 1")
        code = "x = \u00e9t"
        fields = self.complete(code)
        self.assertEqual(fields["matches"], ["\u00e9t\u00e9"])
        self.assertEqual((fields["cursor_start"], fields["cursor_end"]), (4, 7))
        fields = self.complete("pri + 1", 3)
        self.assertEqual(fields["cursor_start"], 0)

    def test_a_cursor_inside_a_character_is_a_bad_request(self):
        error, message, fields = self.error(entry.complete, "\u00e9".encode(), 1)
        self.assertEqual(error, "BAD_REQUEST")
        error, message, fields = self.error(entry.inspect, b"\xff", 1)
        self.assertEqual(error, "BAD_REQUEST")


class Inspect(GlueTest):

    def inspect(self, code, cursor=None):
        data = code.encode("utf-8")
        fields, payloads = self.ok(entry.inspect, data,
                                   len(data) if cursor is None else cursor)
        return fields, (payloads[0].decode() if payloads else None)

    def test_a_callable_gives_its_signature_and_doc(self):
        self.ok(entry.execute, "import pandas as pd")
        fields, text = self.inspect("pd.read_csv")
        self.assertEqual(fields, {"found": True, "mime": ["text/plain"]})
        self.assertTrue(text.startswith("pd.read_csv(filepath_or_buffer"), text[:80])
        self.assertIn("\n\nRead a comma-separated", text)

    def test_inside_a_call_the_callee(self):
        self.ok(entry.execute, "def f(a, b=2):\n    'Adds.'\n    return a + b")
        fields, text = self.inspect("f(1, ", 5)
        self.assertEqual(text, "f(a, b=2)\n\nAdds.\n")

    def test_a_value_gives_its_type_and_repr(self):
        self.ok(entry.execute, "n = 41")
        fields, text = self.inspect("n")
        self.assertEqual(text, "n: int = 41\n")

    def test_unknown_names_are_not_found(self):
        for code in ("nosuch", "", "1 + 2", "x.y("):
            fields, text = self.inspect(code)
            self.assertEqual(fields, {"found": False, "mime": []}, code)
            self.assertIsNone(text)


class Vars(GlueTest):

    def test_user_variables_with_shape_or_len(self):
        self.ok(entry.execute, "import pandas as pd, os\n"
                               "df = pd.DataFrame({'A': [1, 2, 3], 'B': [4, 5, 6]})\n"
                               "x = 1\nitems = [1, 2]\n_hidden = 3\nclass K: pass\n"
                               "class Bad:\n    def __len__(self): raise RuntimeError()\n"
                               "bad = Bad()")
        fields, payloads = self.ok(entry.vars)
        self.assertEqual(fields["vars"], [
            {"name": "Bad", "type": "type"},
            {"name": "K", "type": "type"},
            {"name": "bad", "type": "Bad"},
            {"name": "df", "type": "DataFrame", "shape": [3, 2]},
            {"name": "items", "type": "list", "len": 2},
            {"name": "x", "type": "int"},
        ])
