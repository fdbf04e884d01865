"""Tests of common/kmq_frame.py, the frame format's Python codec
(protocol.md section 11): round trips of every dtype it carries, refusals
that name the column, and descriptions and buffers from a lying peer.

Run with /usr/bin/python3 (Debian's pandas and numpy). As a script it prints
one "ok   NAME" or "FAIL NAME" line per test (tests/it_frame.sh).
"""

import ast
import copy
import os
import struct
import sys
import tracemalloc
import unittest

import numpy
import pandas

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "common"))
import kmq_frame                                    # noqa: E402
from kmq_frame import FrameError                    # noqa: E402

assert_frame_equal = pandas.testing.assert_frame_equal
SAME = object()                 # Hostile.refused: the valid description or buffers


def round_trip(df):
    description, buffers = kmq_frame.encode(df)
    return kmq_frame.decode(description, [bytes(b) for b in buffers])


def every_dtype(rows=5):
    """A frame with one column of each kind the format carries, with
    missing values where the dtype has them."""
    n = numpy.arange(rows)
    def gaps(values):
        return [None if i % 3 == 1 else v for i, v in enumerate(values)]
    columns = {name: numpy.arange(rows, dtype=name) for name in (
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")}
    columns["uint64"][-1:] = 2 ** 64 - 1
    columns["int64"][:1] = -2 ** 63
    columns.update({
        "float32": numpy.where(n % 2 == 0, n / 3, numpy.nan).astype("float32"),
        "float64": numpy.where(n % 2 == 0, n / 7, numpy.nan),
        "bool": n % 2 == 0,
        "naive": pandas.to_datetime(gaps(["2024-02-29 12:00:00.000000001"] * rows)),
        "aware": pandas.to_datetime(gaps(["2024-03-31 01:30"] * rows)).tz_localize(
            "UTC").tz_convert("Europe/Paris"),
        "delta": pandas.to_timedelta(gaps([-1.5] * rows), unit="s"),
        "str": gaps(["é%d" % i for i in range(rows)]),
        "nan_str": [numpy.nan if i % 2 else "x" * i for i in range(rows)],
        "cat": pandas.Categorical(gaps(["b", "a"] * rows)[:rows]),
        "ordered": pandas.Categorical(n % 3, categories=[2, 0, 1], ordered=True),
        "Int64": pandas.array(gaps(list(n)), dtype="Int64"),
        "UInt8": pandas.array(gaps(list(n)), dtype="UInt8"),
        "Float64": pandas.array(gaps(list(n / 2)), dtype="Float64"),
        "boolean": pandas.array(gaps(list(n % 2 == 0)), dtype="boolean"),
        "string": pandas.array(gaps(["s%d" % i for i in range(rows)]), dtype="string"),
    })
    return pandas.DataFrame(columns)


class RoundTrip(unittest.TestCase):

    def test_every_dtype(self):
        df = every_dtype()
        back = round_trip(df)
        assert_frame_equal(back, df)
        self.assertEqual(list(back.dtypes), list(df.dtypes))

    def test_missing_str_comes_back_as_nan(self):
        back = round_trip(pandas.DataFrame({"s": ["a", None, numpy.nan]}))
        self.assertEqual(back["s"][0], "a")
        self.assertTrue(numpy.isnan(back["s"][1]) and numpy.isnan(back["s"][2]))
        self.assertEqual(back["s"].dtype, object)

    def test_nat_and_nan_positions_kept(self):
        df = every_dtype(7)
        back = round_trip(df)
        for name in df.columns:
            self.assertEqual(list(back[name].isna()), list(df[name].isna()), name)

    def test_tz_aware_values_are_the_same_instants(self):
        df = pandas.DataFrame({"t": pandas.to_datetime(
            ["2024-10-27 00:30", "2024-10-27 01:30"]).tz_localize("UTC").tz_convert(
            "Europe/Paris")})
        description, _ = kmq_frame.encode(df)
        self.assertEqual(description["columns"][0]["tz"], "Europe/Paris")
        back = round_trip(df)
        self.assertEqual(str(back["t"].dt.tz), "Europe/Paris")
        self.assertTrue((back["t"] == df["t"]).all())

    def test_empty_frame(self):
        back = round_trip(pandas.DataFrame())
        self.assertEqual(back.shape, (0, 0))

    def test_zero_rows_of_every_dtype(self):
        df = every_dtype().iloc[:0]
        back = round_trip(df)
        assert_frame_equal(back, df)

    def test_rows_without_columns(self):
        df = pandas.DataFrame(index=pandas.RangeIndex(4))
        back = round_trip(df)
        self.assertEqual(back.shape, (4, 0))

    def test_range_index_kept(self):
        df = pandas.DataFrame({"a": [1, 2, 3]},
                              index=pandas.RangeIndex(10, 4, -2, name="k"))
        description, buffers = kmq_frame.encode(df)
        self.assertEqual(description["index"], {"kind": "range", "start": 10,
                                                "stop": 4, "step": -2, "name": "k"})
        self.assertEqual(len(buffers), 1)
        assert_frame_equal(round_trip(df), df)

    def test_non_range_indexes(self):
        for index in (pandas.Index(["r1", None, "r3"], name="row"),
                      pandas.to_datetime(["2024-01-01", "2024-01-02", None]),
                      pandas.Index([3, 1, 2], dtype="int64"),
                      pandas.CategoricalIndex(["a", "b", "a"]),
                      pandas.Index(pandas.array([1, None, 3], dtype="Int64"))):
            df = pandas.DataFrame({"v": [1.0, 2.0, 3.0]}, index=index)
            with self.subTest(index=str(index.dtype)):
                assert_frame_equal(round_trip(df), df)

    def test_duplicate_column_names(self):
        df = pandas.DataFrame([[1, "x"], [2, "y"]], columns=["a", "a"])
        assert_frame_equal(round_trip(df), df)

    def test_million_rows(self):
        rows = 1_000_000
        n = numpy.arange(rows)
        df = pandas.DataFrame({"i": n, "f": n / 3.0,
                               "s": pandas.Series(n % 1000).astype(str),
                               "c": pandas.Categorical.from_codes(n % 3, ["x", "y", "z"])})
        back = kmq_frame.from_kmqf(kmq_frame.to_kmqf(df))
        #  equals, not assert_frame_equal: that takes seconds on 1M str
        self.assertTrue(back.equals(df))
        self.assertEqual(list(back.dtypes), list(df.dtypes))
        self.assertEqual(back["s"][999_999], "999")

    def test_big_endian_column_is_sent_little_endian(self):
        df = pandas.DataFrame({"b": numpy.arange(3, dtype=">i4")})
        _, buffers = kmq_frame.encode(df)
        self.assertEqual(bytes(buffers[0]), struct.pack("<3i", 0, 1, 2))
        self.assertEqual(list(round_trip(df)["b"]), [0, 1, 2])

    def test_numeric_buffers_are_not_copied(self):
        df = pandas.DataFrame({"f": numpy.arange(1000) / 3.0})
        _, buffers = kmq_frame.encode(df)
        self.assertTrue(numpy.shares_memory(numpy.frombuffer(buffers[0]),
                                            df["f"].to_numpy()))

    def test_decoded_frame_is_writable_and_owns_its_data(self):
        df = every_dtype()
        description, buffers = kmq_frame.encode(df)
        buffers = [bytearray(b) for b in buffers]
        back = kmq_frame.decode(description, buffers)
        back.loc[0, "int64"] = 9
        back.loc[0, "Int64"] = 9
        back.loc[0, "float64"] = 9.5
        for buffer in buffers:
            buffer[:] = b"\xff" * len(buffer)
        self.assertEqual(back.loc[0, "Int64"], 9)
        self.assertEqual(back.loc[2, "uint8"], 2)

    def test_kmqf_layout(self):
        df = pandas.DataFrame({"a": numpy.array([1, 2], dtype="int16")})
        data = kmq_frame.to_kmqf(df)
        self.assertEqual(data[:4], struct.pack(">I", 3))
        self.assertEqual(data[4:12], struct.pack(">Q", 5))
        self.assertEqual(data[12:17], b"KMQF1")
        self.assertEqual(data[-12:], struct.pack(">Q", 4) + b"\x01\x00\x02\x00")
        description, buffers = kmq_frame.read_kmqf(data)
        self.assertEqual(description, kmq_frame.encode(df)[0])

    def test_description_packs_as_msgpack_does(self):
        description, _ = kmq_frame.encode(every_dtype())
        packed = kmq_frame.pack_description(description)
        self.assertEqual(kmq_frame.unpack_description(packed), description)
        try:
            import msgpack      # python3-msgpack: an independent reader
        except ImportError:
            self.skipTest("python3-msgpack is not installed")
        self.assertEqual(msgpack.unpackb(packed), description)
        self.assertEqual(kmq_frame.unpack_description(msgpack.packb(description)),
                         description)


class Refusals(unittest.TestCase):
    """What the format can't carry is refused, naming the column, with a
    way out."""

    def refused(self, df, *needles):
        with self.assertRaises(FrameError) as caught:
            kmq_frame.encode(df)
        message = str(caught.exception)
        for needle in needles:
            self.assertIn(needle, message)
        return message

    def test_mixed_object_column(self):
        self.refused(pandas.DataFrame({"ok": [1, 2], "mix": ["a", 1]}),
                     "column 'mix'", "mixed-integer", "csv")

    def test_non_str_column_names(self):
        self.refused(pandas.DataFrame([[1, 2]]), "column 0 (a int)", "astype(str)",
                     "csv")
        self.refused(pandas.DataFrame({"a": [1], 2.5: [2]}), "column 1 (a float)")

    def test_nested_objects(self):
        self.refused(pandas.DataFrame({"nest": [[1, 2], [3]]}), "column 'nest'", "csv")
        self.refused(pandas.DataFrame({"d": [{"k": 1}, None]}), "column 'd'", "csv")
        self.refused(pandas.DataFrame({"raw": [b"x", b"y"]}), "column 'raw'", "bytes")

    def test_dtypes_without_a_kind(self):
        self.refused(pandas.DataFrame({"h": numpy.zeros(2, dtype="float16")}),
                     "column 'h'", "float16", "csv")
        self.refused(pandas.DataFrame({"z": numpy.zeros(2, dtype=complex)}),
                     "column 'z'", "complex128")
        self.refused(pandas.DataFrame({"p": pandas.period_range("2024-01", periods=2,
                                                               freq="M")}),
                     "column 'p'", "period")

    def test_multiindex_and_odd_index_names(self):
        df = pandas.DataFrame({"a": [1, 2]}, index=pandas.MultiIndex.from_tuples(
            [(1, 2), (3, 4)]))
        self.refused(df, "MultiIndex", "reset_index")
        df = pandas.DataFrame([[1]], columns=pandas.MultiIndex.from_tuples([("a", "b")]))
        self.refused(df, "MultiIndex", "csv")
        df = pandas.DataFrame({"a": [1]}, index=pandas.Index([0], name=5))
        self.refused(df, "index's name", "csv")

    def test_lone_surrogate(self):
        self.refused(pandas.DataFrame({"u": ["\udc80"]}), "column 'u'", "Unicode")

    def test_not_a_dataframe(self):
        with self.assertRaises(FrameError):
            kmq_frame.encode([1, 2])


class Hostile(unittest.TestCase):
    """Descriptions and buffers from a lying peer: each is refused with a
    FrameError before anything is built from it."""

    def setUp(self):
        self.df = pandas.DataFrame({
            "n": numpy.array([1, 2, 3], dtype="int64"),
            "s": ["a", None, "ccc"],
            "c": pandas.Categorical(["x", "y", None]),
            "b": [True, False, True]})
        description, buffers = kmq_frame.encode(self.df)
        self.description = description
        self.buffers = [bytes(b) for b in buffers]
        #  buffers: n data, s bitmap, s offsets, s data, c codes,
        #  c categories offsets, c categories data, b data
        self.assertEqual(len(self.buffers), 8)

    def refused(self, description=SAME, buffers=SAME, *needles):
        description = self.description if description is SAME else description
        buffers = self.buffers if buffers is SAME else buffers
        with self.assertRaises(FrameError) as caught:
            kmq_frame.decode(description, buffers)
        message = str(caught.exception)
        for needle in needles:
            self.assertIn(needle, message)
        return message

    def column(self, position):
        description = copy.deepcopy(self.description)
        return description, description["columns"][position]

    def test_the_valid_one_decodes(self):
        assert_frame_equal(kmq_frame.decode(self.description, self.buffers), self.df)

    def test_truncated_buffer(self):
        buffers = list(self.buffers)
        buffers[0] = buffers[0][:-1]
        self.refused(SAME, buffers, "column 'n'", "23 bytes", "exactly 24")

    def test_oversized_buffer(self):
        buffers = list(self.buffers)
        buffers[0] = buffers[0] + b"\0"
        self.refused(SAME, buffers, "column 'n'", "25 bytes")

    def test_missing_and_extra_buffers(self):
        self.refused(SAME, self.buffers[:-1], "column 'b'", "only 7")
        self.refused(SAME, self.buffers + [b""], "take 8 buffers", "has 9")
        self.refused(SAME, [], "column 'n'")

    def test_lying_row_counts(self):
        for rows in (0, 2, 4, 24):
            description = dict(self.description, rows=rows)
            description["index"] = dict(description["index"], stop=rows)
            with self.subTest(rows=rows):
                self.refused(description, SAME, "column 'n'", "exactly %d" % (rows * 8))
        description = dict(self.description, rows=3)
        description["index"] = dict(description["index"], stop=5)
        self.refused(description, SAME, "the index", "range(0, 5, 1)")
        for start, stop, step, fits in ((-2 ** 63, 2 ** 63 - 1, 1, False),
                                        (2 ** 63 - 1, -2 ** 63, -1, False),
                                        (0, 6, 2, True), (3, 0, -1, True),
                                        (0, 9, 3, True), (5, 5, 1, False)):
            description["index"] = {"kind": "range", "start": start, "stop": stop,
                                    "step": step}
            with self.subTest(range=(start, stop, step)):
                if fits:
                    back = kmq_frame.decode(description, self.buffers)
                    self.assertEqual(list(back.index), list(range(start, stop, step)))
                else:
                    self.refused(description, SAME, "the index", "does not have")

    def test_huge_rows_do_not_allocate(self):
        tracemalloc.start()
        try:
            for rows in (kmq_frame.MAX_ROWS, 2 ** 40, 2 ** 64 - 1):
                description = dict(self.description, rows=rows)
                description["index"] = dict(description["index"], stop=rows)
                with self.assertRaises(FrameError):
                    kmq_frame.decode(description, self.buffers)
            description = copy.deepcopy(self.description)
            description["columns"][2]["count"] = kmq_frame.MAX_ROWS
            with self.assertRaises(FrameError):
                kmq_frame.decode(description, self.buffers)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 1 << 20)
        self.refused(dict(self.description, rows=2 ** 31), SAME, "more than")

    def test_offsets_out_of_range(self):
        buffers = list(self.buffers)
        buffers[2] = struct.pack("<4q", 0, 1, 1, 99)
        self.refused(SAME, buffers, "column 's'", "data (buffer 3) is 4 bytes",
                     "exactly 99")
        buffers[2] = struct.pack("<4q", 0, 1, 1, -4)
        self.refused(SAME, buffers, "column 's'", "negative")
        buffers[2] = struct.pack("<4q", 1, 1, 1, 4)
        self.refused(SAME, buffers, "column 's'", "first offset is 1")

    def test_offsets_not_monotonic(self):
        buffers = list(self.buffers)
        buffers[2] = struct.pack("<4q", 0, 3, 1, 4)
        buffers[1] = b"\x07"
        self.refused(SAME, buffers, "column 's'", "decrease at value 1")

    def test_missing_string_must_be_empty(self):
        buffers = list(self.buffers)
        buffers[2] = struct.pack("<4q", 0, 1, 2, 5)
        buffers[3] = b"abccc"
        self.refused(SAME, buffers, "column 's'", "missing value 1 is not empty")

    def test_codes_out_of_range(self):
        for code in (2, 127, -2, -128):
            buffers = list(self.buffers)
            buffers[4] = struct.pack("<3b", 0, code, 1)
            with self.subTest(code=code):
                self.refused(SAME, buffers, "column 'c'", "code %d of value 1" % code)

    def test_invalid_utf8(self):
        for bad in (b"\xff", b"\xc3", b"\xed\xa0\x80"):
            buffers = list(self.buffers)
            buffers[3] = b"a" + bad + b"cc"
            buffers[2] = struct.pack("<4q", 0, 1, 1, 3 + len(bad))
            with self.subTest(bad=bad):
                self.refused(SAME, buffers, "column 's'", "not valid UTF-8")
        #  valid as a whole, but split inside a character
        buffers = list(self.buffers)
        buffers[3] = "aé".encode() + b"c"
        buffers[2] = struct.pack("<4q", 0, 2, 2, 4)
        self.refused(SAME, buffers, "column 's'", "value 0 is not valid UTF-8")

    def test_bool_bytes(self):
        buffers = list(self.buffers)
        buffers[7] = b"\x01\x02\x00"
        self.refused(SAME, buffers, "column 'b'", "value 1 is the byte 2")

    def test_wrong_kinds_in_the_description(self):
        cases = [
            (0, "kind", "pickle", "unknown kind 'pickle'"),
            (0, "kind", 7, "'kind' is a int, not a str"),
            (0, "dtype", "object", "dtype 'object' is not one of kind 'numeric'"),
            (0, "dtype", "O", "dtype 'O'"),
            (0, "kind", "range", "only for the index"),
            (1, "validity", 1, "'validity' is a int, not a bool"),
            (2, "codes", "float64", "codes 'float64'"),
            (2, "count", -1, "not an unsigned integer"),
            (2, "count", True, "not an unsigned integer"),
            (2, "ordered", None, "'ordered' is a nil, not a bool"),
            (2, "categories", [], "'categories' is a array, not a map"),
            (0, "name", 3, "'name' is a int, not a str"),
        ]
        for position, key, value, needle in cases:
            description, column = self.column(position)
            column[key] = value
            with self.subTest(key=key, value=value):
                self.refused(description, SAME, needle)
        description, column = self.column(0)
        del column["dtype"]
        self.refused(description, SAME, "column 'n'", "has no 'dtype'")

    def test_categories_that_pandas_would_refuse(self):
        description, column = self.column(2)
        column["categories"] = {"kind": "categorical", "dtype": "category"}
        self.refused(description, SAME, "categories of kind 'categorical'")
        buffers = list(self.buffers)
        buffers[6] = b"xx"
        self.refused(SAME, buffers, "column 'c'", "repeat")
        description, column = self.column(2)
        column["categories"] = {"kind": "numeric", "dtype": "float64"}
        buffers = self.buffers[:5] + [struct.pack("<2d", 1.0, float("nan")),
                                      self.buffers[7]]
        self.refused(description, buffers, "column 'c'", "missing")

    def test_time_zones(self):
        df = pandas.DataFrame({"t": pandas.to_datetime(["2024-01-01"]).tz_localize("UTC")})
        description, buffers = kmq_frame.encode(df)
        for tz, needle in (("../../etc/passwd", "is not 1-64"),
                           ("/etc/localtime", "is not 1-64"),
                           ("Nowhere/Atlantis", "not known here"),
                           ("x" * 65, "is not 1-64")):
            bad = copy.deepcopy(description)
            bad["columns"][0]["tz"] = tz
            with self.subTest(tz=tz):
                with self.assertRaises(FrameError) as caught:
                    kmq_frame.decode(bad, buffers)
                self.assertIn("column 't'", str(caught.exception))
                self.assertIn(needle, str(caught.exception))

    def test_description_that_is_not_a_map(self):
        for description in (None, [], "frame", b"\x80", 3):
            with self.subTest(description=description):
                self.refused(description, SAME, "not a map")
        self.refused(dict(self.description, rows="3"), SAME, "'rows' is a str")
        self.refused(dict(self.description, columns={}), SAME, "'columns' is a map")
        self.refused({"rows": 0, "columns": []}, SAME, "no 'index'")
        self.refused(dict(self.description, columns=[1]), SAME, "column 0",
                     "int, not a map")

    def test_buffers_that_are_not_bytes(self):
        self.refused(SAME, "abc", "not a list")
        self.refused(SAME, [1] * 8, "buffer 0 is a int")
        self.refused(SAME, [b""] * (kmq_frame.MAX_BUFFERS + 1), "4097 buffers")


class Mutants(unittest.TestCase):
    """Random lies: whatever a peer changes, decoding ends in a DataFrame
    or a FrameError, never another exception."""

    ODD_VALUES = (None, True, -1, 0, 3, 2 ** 31, 2 ** 64 - 1, -2 ** 63, 1.5, "",
                  "int8", "string", "range", "category", [], {}, [1], {"kind": "range"})

    def mutate(self, value, rng, depth=0):
        """value with one random field replaced, deep inside."""
        if isinstance(value, dict) and value and depth < 4:
            value = dict(value)
            key = rng.choice(sorted(value))
            if rng.random() < 0.15:
                del value[key]
            elif rng.random() < 0.5:
                value[key] = rng.choice(self.ODD_VALUES)
            else:
                value[key] = self.mutate(value[key], rng, depth + 1)
            return value
        if isinstance(value, list) and value and depth < 4:
            value = list(value)
            position = rng.randrange(len(value))
            value[position] = self.mutate(value[position], rng, depth + 1)
            return value
        return rng.choice(self.ODD_VALUES)

    def test_only_frame_errors(self):
        import random
        rng = random.Random(5)
        df = every_dtype(4)
        df.index = pandas.Index(["a", "b", None, "d"], name="k")
        description, buffers = kmq_frame.encode(df)
        buffers = [bytes(b) for b in buffers]
        kmqf = kmq_frame.write_kmqf(description, buffers)
        outcomes = set()
        for round in range(3000):
            try:
                if round % 2:
                    data = bytearray(kmqf)
                    for _ in range(1 + round % 5):
                        data[rng.randrange(len(data))] = rng.randrange(256)
                    kmq_frame.from_kmqf(bytes(data))
                else:
                    lie = self.mutate(description, rng)
                    cut = list(buffers)
                    if round % 7 == 0:
                        cut.pop(rng.randrange(len(cut)))
                    kmq_frame.decode(lie, cut)
                outcomes.add("decoded")
            except FrameError:
                outcomes.add("refused")
        self.assertEqual(outcomes, {"decoded", "refused"})


class Msgpack(unittest.TestCase):
    """The description's own msgpack reader, for .kmqf files and the kernel."""

    def bad(self, data, needle):
        with self.assertRaises(FrameError) as caught:
            kmq_frame.unpack_description(data)
        self.assertIn(needle, str(caught.exception))

    def test_malformed(self):
        good = kmq_frame.pack_description({"rows": 1, "k": [1, "x", None]})
        for cut in range(len(good)):
            with self.assertRaises(FrameError):
                kmq_frame.unpack_description(good[:cut])
        self.bad(good + b"\0", "trailing bytes")
        self.bad(b"\x81\xa1k\xc4\x01x", "bin, ext")
        self.bad(b"\x81\xa1k\xd4\x01\x00", "bin, ext")
        self.bad(b"\x81\xa1k\xc1", "0xc1")
        self.bad(b"\x82\xa1k\x01\xa1k\x02", "the key 'k' twice")
        self.bad(b"\x81\x01\x01", "not a str")
        self.bad(b"\x81\xa1k\xa2\xff\xfe", "not UTF-8")
        self.bad(b"\x93\x01\x02\x03", "not a map")
        self.bad(b"\x81\xa1k" + b"\x91" * 20 + b"\xc0", "nesting")
        self.bad(b"\x00" * (kmq_frame.MAX_DESCRIPTION + 1), "more than")

    def test_huge_counts_do_not_allocate(self):
        tracemalloc.start()
        try:
            for data in (b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff",
                         b"\xdb\xff\xff\xff\xff", b"\x81\xa1k\xdd\x7f\xff\xff\xff"):
                with self.assertRaises(FrameError):
                    kmq_frame.unpack_description(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 1 << 16)

    def test_kmqf_framing(self):
        good = kmq_frame.to_kmqf(pandas.DataFrame({"a": [1, 2]}))
        for cut in (0, 3, 4, 11, 17, len(good) - 1):
            with self.assertRaises(FrameError):
                kmq_frame.read_kmqf(good[:cut])
        with self.assertRaises(FrameError) as caught:
            kmq_frame.read_kmqf(good + b"x")
        self.assertIn("1 bytes after the last frame", str(caught.exception))
        with self.assertRaises(FrameError) as caught:
            kmq_frame.read_kmqf(good[:12] + b"KMQF2" + good[17:])
        self.assertIn("signature", str(caught.exception))
        for count in (0, 1, 2 + kmq_frame.MAX_BUFFERS + 1, 2 ** 32 - 1):
            with self.assertRaises(FrameError):
                kmq_frame.read_kmqf(struct.pack(">I", count) + good[4:])
        huge = good[:12] + b"KMQF1" + struct.pack(">Q", 2 ** 63) + good[25:]
        with self.assertRaises(FrameError) as caught:
            kmq_frame.read_kmqf(huge)
        self.assertIn("announces", str(caught.exception))


class NothingRuns(unittest.TestCase):
    """The codec imports only the standard library, numpy and pandas, and
    names nothing that could run or unpickle a peer's bytes."""

    def test_imports_and_names(self):
        path = os.path.join(HERE, "..", "..", "common", "kmq_frame.py")
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        imported = set()
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module)
            elif isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                self.fail("allow_pickle appears in a call")
        self.assertEqual(imported, {"struct", "numpy", "pandas"})
        for forbidden in ("pickle", "eval", "exec", "compile", "loads", "load",
                          "__import__", "getattr", "read_pickle", "fromstring"):
            self.assertNotIn(forbidden, names)


class LineResult(unittest.TextTestResult):
    """One 'ok   NAME' / 'FAIL NAME' line per test, as tests/run.sh counts."""

    def addSuccess(self, test):
        super().addSuccess(test)
        print("ok   frame codec: %s" % test.id().split(".", 1)[1], flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print("ok   frame codec: %s (skipped: %s)" % (test.id().split(".", 1)[1],
                                                      reason), flush=True)

    def _failed(self, test, err):
        print("FAIL frame codec: %s: %s" % (test.id().split(".", 1)[1],
                                            self._exc_info_to_string(err, test)),
              flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._failed(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._failed(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._failed(subtest, err)


if __name__ == "__main__":
    runner = unittest.TextTestRunner(resultclass=LineResult, verbosity=0,
                                     stream=open(os.devnull, "w"))
    result = runner.run(unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[__name__]))
    sys.exit(0 if result.wasSuccessful() else 1)
