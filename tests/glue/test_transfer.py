"""transfer: upload and download."""

import json
import os

from .support import GlueTest, WORKDIR, entry, fake_io


class Upload(GlueTest):

    def test_csv_becomes_a_dataframe(self):
        data = b"A,B\n1,4\n2,5\n3,6\n"
        fields, payloads = self.ok(entry.upload, "df", "csv", data)
        self.assertEqual(fields, {"name": "df", "kind": "dataframe", "bytes": len(data),
                                  "rows": 3, "columns": 2})
        self.assertEqual(payloads, [])
        self.assertEqual(self.result("int(df['B'].sum())"), {"text/plain": b"15"})

    def test_json_in_records_columns_and_split_layouts(self):
        layouts = (b'[{"k": "a", "v": 1}, {"k": "b", "v": 2}]',
                   b'{"k": {"0": "a", "1": "b"}, "v": {"0": 1, "1": 2}}',
                   b'{"columns": ["k", "v"], "index": [0, 1], "data": [["a", 1], ["b", 2]]}')
        for data in layouts:
            fields, _ = self.ok(entry.upload, "t", "json", data)
            self.assertEqual((fields["rows"], fields["columns"]), (2, 2), data)
            self.assertEqual(self.result("list(t['k'])"), {"text/plain": b"['a', 'b']"})

    def test_bytes_that_do_not_parse_are_a_python_error(self):
        error, message, fields = self.error(entry.upload, "t", "json", b"{not json")
        self.assertEqual(error, "PYTHON_ERROR")
        self.assertIn("upload t: the bytes are not valid json", message)
        self.assertIn("ename", fields)
        self.assertNotIn("t", entry.SESSION.namespace)

    def test_file_lands_in_the_working_directory(self):
        data = bytes(range(256)) * 10
        fields, _ = self.ok(entry.upload, "blob.bin", "file", data)
        self.assertEqual(fields, {"name": "blob.bin", "kind": "file", "bytes": len(data)})
        with open(os.path.join(WORKDIR, "blob.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.stat(os.path.join(WORKDIR, "blob.bin")).st_mode & 0o777, 0o600)

    def test_file_upload_never_follows_a_symlink(self):
        target = os.path.join(WORKDIR, "..", "outside")
        os.symlink(target, "link")
        error, message, fields = self.error(entry.upload, "link", "file", b"x")
        self.assertEqual(error, "PYTHON_ERROR")
        self.assertFalse(os.path.exists(target))

    def test_bad_names_and_formats(self):
        for name, format in (("../x", "file"), (".hidden", "file"), ("a/b", "file"),
                             ("", "file"), ("..", "file"), ("x" * 256, "file"),
                             ("1x", "csv"), ("class", "json"), ("a-b", "csv"),
                             ("df", "parquet")):
            error, message, fields = self.error(entry.upload, name, format, b"A\n1\n")
            self.assertEqual(error, "BAD_REQUEST", (name, format))
        self.assertEqual(os.listdir(WORKDIR), [])


class InParts(GlueTest):
    """An upload in parts: the glue reads the pieces after the first
    through _kmq_io.next_part (the stand-in answers from a list)."""

    def feed(self, pieces):
        fake_io.pieces = list(pieces)
        self.addCleanup(setattr, fake_io, "pieces", [])

    def test_csv_pieces_cut_anywhere_make_the_dataframe(self):
        data = b'A,B\n1,"x\ny"\n2,"z"\n'
        self.feed([data[4:9], data[9:10], data[10:]])
        fields, _ = self.ok(entry.upload, "df", "csv", data[:4], 4, len(data))
        self.assertEqual((fields["rows"], fields["bytes"]), (2, len(data)))
        self.assertEqual(self.result("df.B[0]"), {"text/plain": b"'x\\ny'"})

    def test_file_pieces_are_written_in_order(self):
        self.feed([b"cd", b"ef"])
        fields, _ = self.ok(entry.upload, "p.bin", "file", b"ab", 3, 6)
        self.assertEqual(fields["bytes"], 6)
        with open(os.path.join(WORKDIR, "p.bin"), "rb") as f:
            self.assertEqual(f.read(), b"abcdef")

    def test_pieces_short_of_the_bytes_announced_are_a_bad_request(self):
        self.feed([b"1\n"])
        error, message, _ = self.error(entry.upload, "df", "csv", b"A\n", 2, 50)
        self.assertEqual(error, "BAD_REQUEST")
        self.assertIn("held 4 bytes, and it announced 50", message)
        self.assertNotIn("df", entry.SESSION.namespace)

    def test_frame_pieces_cut_through_buffers_make_the_dataframe(self):
        import kmq_frame
        import pandas as pd
        df = pd.DataFrame({"x": [1.5, None, 3.0], "s": ["a", "bé", "c"]})
        description, buffers = kmq_frame.encode(df)
        sizes = [len(b) for b in buffers]
        joined = b"".join(bytes(b) for b in buffers)
        self.feed([joined[at:at + 3] for at in range(3, len(joined), 3)])
        data = (kmq_frame.pack_description(description), [joined[:3]], sizes)
        fields, _ = self.ok(entry.upload, "df", "frame", data,
                            1 + (len(joined) - 1) // 3, len(joined))
        self.assertEqual((fields["rows"], fields["bytes"]), (3, len(joined)))
        self.assertTrue(entry.SESSION.namespace["df"].equals(df))

    def test_frame_pieces_past_the_bytes_announced_are_a_bad_request(self):
        import kmq_frame
        import pandas as pd
        description, buffers = kmq_frame.encode(pd.DataFrame({"x": [1.5, 2.5]}))
        self.feed([b"\0" * 8, b"extra"])
        data = (kmq_frame.pack_description(description), [b"\0" * 8], [16])
        error, message, _ = self.error(entry.upload, "df", "frame", data, 3, 16)
        self.assertEqual(error, "BAD_REQUEST")
        self.assertIn("held more than 16 bytes, and it announced 16", message)
        self.assertNotIn("df", entry.SESSION.namespace)

    def test_an_interrupt_while_waiting_is_not_turned_into_a_parse_error(self):
        self.feed([KeyboardInterrupt()])
        with self.assertRaises(KeyboardInterrupt):
            entry.upload("df", "csv", b"A\n", 2, 5)
        self.assertNotIn("df", entry.SESSION.namespace)


class DownloadInParts(GlueTest):
    """A frame of 4 MiB or more, asked for in parts, goes as part events."""

    def setUp(self):
        super().setUp()
        self.ok(entry.execute, "import pandas as pd, numpy as np\n"
                               "big = pd.DataFrame({'x': np.arange(400000, dtype='float64'),"
                               " 's': ['v%d' % i for i in range(400000)]})\n"
                               "small = big.head(3)")

    def test_big_frame_goes_as_pieces_the_reply_cuts_by_sizes(self):
        import kmq_frame
        fields, payloads = self.ok(entry.download, "big", "frame", True)
        self.assertEqual(payloads, [])
        self.assertEqual(fields["parts"], len(fake_io.parts))
        self.assertEqual([part for part, _ in fake_io.parts], list(range(fields["parts"])))
        self.assertTrue(all(0 < len(piece) <= 1 << 20 for _, piece in fake_io.parts))
        joined = b"".join(piece for _, piece in fake_io.parts)
        self.assertEqual((sum(fields["sizes"]), len(joined)), (fields["bytes"],) * 2)
        buffers, at = [], 0
        for size in fields["sizes"]:
            buffers.append(joined[at:at + size])
            at += size
        back = kmq_frame.decode(fields["frame"], buffers)
        self.assertTrue(back.equals(entry.SESSION.namespace["big"]))

    def test_small_frames_and_frames_over_max_payload_go_whole(self):
        fields, payloads = self.ok(entry.download, "small", "frame", True)
        self.assertNotIn("parts", fields)
        self.assertTrue(payloads)
        fake_io.payload_limit = 4 << 20
        fields, payloads = self.ok(entry.download, "big", "frame", True)
        self.assertNotIn("parts", fields)
        self.assertEqual(len(payloads), len(fields["frame"]["columns"]) + 1)
        self.assertEqual(fake_io.parts, [])

    def test_without_in_parts_the_reply_carries_the_buffers(self):
        fields, payloads = self.ok(entry.download, "big", "auto")
        self.assertNotIn("parts", fields)
        self.assertEqual(fields["bytes"], sum(len(memoryview(p).cast("B")) for p in payloads))


class Download(GlueTest):

    def test_csv_of_a_frame_with_and_without_its_index(self):
        self.ok(entry.execute, "import pandas as pd\n"
                               "plain = pd.DataFrame({'A': [1, 2]})\n"
                               "named = plain.set_index(pd.Index(['x', 'y'], name='i'))\n"
                               "s = pd.Series([3, 4], name='s')")
        for name, expected in (("plain", b"A\n1\n2\n"), ("named", b"i,A\nx,1\ny,2\n"),
                               ("s", b",s\n0,3\n1,4\n")):
            fields, payloads = self.ok(entry.download, name, "csv")
            self.assertEqual(payloads, [expected], name)
            self.assertEqual(fields, {"name": name, "format": "csv", "bytes": len(expected)})

    def test_json_of_frames_series_and_plain_values(self):
        self.ok(entry.execute, "import pandas as pd, numpy as np\n"
                               "df = pd.DataFrame({'A': [1, 2]})\n"
                               "s = pd.Series({'a': 1})\n"
                               "d = {'n': np.int64(3), 'l': np.arange(2)}")
        expected = {"df": [{"A": 1}, {"A": 2}], "s": {"a": 1},
                    "d": {"n": 3, "l": [0, 1]}}
        for name, value in expected.items():
            fields, payloads = self.ok(entry.download, name, "json")
            self.assertEqual(json.loads(payloads[0]), value, name)

    def test_what_a_format_cannot_carry_is_a_bad_request(self):
        self.ok(entry.execute, "n = 5\nobj = object()")
        error, message, fields = self.error(entry.download, "n", "csv")
        self.assertEqual(error, "BAD_REQUEST")
        self.assertIn("n is a int: csv needs a DataFrame or Series", message)
        error, message, fields = self.error(entry.download, "obj", "json")
        self.assertEqual(error, "BAD_REQUEST")
        self.assertIn("obj is a object and can't be written as json", message)

    def test_missing_variables_and_files_are_not_found(self):
        self.assertEqual(self.error(entry.download, "nosuch", "csv")[0], "NOT_FOUND")
        self.assertEqual(self.error(entry.download, "nosuch.txt", "file")[0], "NOT_FOUND")

    def test_file_round_trip(self):
        data = b"\x00\x01binary\xff"
        self.ok(entry.upload, "f.bin", "file", data)
        fields, payloads = self.ok(entry.download, "f.bin", "file")
        self.assertEqual(payloads, [data])
        self.assertEqual(fields, {"name": "f.bin", "format": "file", "bytes": len(data)})

    def test_symlinks_directories_and_bad_names_are_refused(self):
        os.symlink("/etc/hostname", "link")
        os.mkdir("dir")
        for name in ("link", "dir", "../etc", ".hidden", "x/y"):
            error, message, fields = self.error(entry.download, name, "file")
            self.assertEqual(error, "BAD_REQUEST", name)
        self.assertEqual(self.error(entry.download, "df", "xml")[0], "BAD_REQUEST")
        self.assertEqual(self.error(entry.download, "not-a-name", "csv")[0], "BAD_REQUEST")


class Frame(GlueTest):
    """The frame format through the glue, with kmq_frame as the client has it."""

    def test_a_frame_goes_up_and_comes_back(self):
        import kmq_frame
        import pandas
        df = pandas.DataFrame({"A": [1, 2, 3], "when": pandas.to_datetime(
            ["2026-01-01", None, "2026-03-01"]), "s": ["x", None, "z"]},
            index=pandas.Index([10, 20, 30], name="k"))
        description, buffers = kmq_frame.encode(df)
        data = (kmq_frame.pack_description(description), [bytes(b) for b in buffers])
        fields, _ = self.ok(entry.upload, "df", "frame", data)
        self.assertEqual((fields["rows"], fields["columns"]), (3, 3))
        fields, payloads = self.ok(entry.download, "df", "frame")
        self.assertEqual(fields["format"], "frame")
        back = kmq_frame.decode(fields["frame"], payloads)
        pandas.testing.assert_frame_equal(back, df)

    def test_auto_is_frame_for_tables_and_json_for_the_rest(self):
        self.result("import pandas as pd\ndf = pd.DataFrame({'A': [1]})\nn = {'a': 1}")
        fields, _ = self.ok(entry.download, "df", "auto")
        self.assertEqual(fields["format"], "frame")
        fields, payloads = self.ok(entry.download, "n", "auto")
        self.assertEqual(fields["format"], "json")
        self.assertEqual(json.loads(payloads[0]), {"a": 1})

    def test_a_lying_description_is_a_bad_request(self):
        data = (b"\x81\xa4rows\x05", [b"junk"])
        error, message, _ = self.error(entry.upload, "df", "frame", data)
        self.assertEqual(error, "BAD_REQUEST")
        self.assertIn("upload df:", message)
        self.assertNotIn("df", entry.SESSION.namespace)


class Files(GlueTest):

    def test_files_lists_the_working_directory_without_running_a_cell(self):
        self.ok(entry.upload, "b.bin", "file", b"12345")
        os.mkdir(os.path.join(WORKDIR, "sub"))
        count = entry.SESSION.count
        fields, _ = self.ok(entry.files)
        self.assertEqual(fields["files"], [{"name": "b.bin", "kind": "file", "bytes": 5},
                                           {"name": "sub", "kind": "dir"}])
        self.assertEqual(entry.SESSION.count, count)
