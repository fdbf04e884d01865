"""kmq_frame -- the frame format (protocol.md section 11): a pandas DataFrame
as a small description and raw column buffers, and back, with no pickle.

    description, buffers = encode(df)      # dict, list of memoryview
    df = decode(description, buffers)      # validates everything first
    data = to_kmqf(df); df = from_kmqf(data)        # .kmqf files (11.7)
    parts = kmqf_parts(*encode(df))         # a .kmqf in pieces, not joined

The same file runs in a kernel (upload: the bytes come from a client) and in
the `kernelmq` client (download: the bytes come from a kernel), so decode()
trusts neither: it checks the kind of every description field, every
buffer's exact size, then every value that could mislead pandas (offsets,
codes, UTF-8, bool bytes) before it builds anything. It only ever views the
buffers with numpy.frombuffer, builds no object column but one of str, and
never unpickles or evaluates. Every refusal is a FrameError whose message
names the column and says what to do.

It imports nothing but the standard library, numpy and pandas: the kernel
loads it from its own binary, the client ships it as is.
"""

import struct

import numpy
import pandas

__all__ = ["FrameError", "encode", "decode", "pack_description",
           "unpack_description", "kmqf_parts", "write_kmqf", "read_kmqf",
           "to_kmqf", "from_kmqf", "MAX_ROWS", "MAX_BUFFERS", "KMQF_SIGNATURE"]

MAX_ROWS = 2 ** 31 - 1              # rows, and categories of a categorical
MAX_BUFFERS = 4096                  # PROTO_MAX_FRAME_PAYLOADS
MAX_DESCRIPTION = 1 << 20           # PROTO_MAX_HEADER
MAX_DEPTH = 8                       # nesting of the description
MAX_TZ = 64
KMQF_SIGNATURE = b"KMQF1"
_NAT = -2 ** 63
_INT64 = (-2 ** 63, 2 ** 63 - 1)
_TZ_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789_+-:/")
_REDO = ("the frame does not follow protocol.md section 11: encode it again "
         "with kmq_frame, or send csv")
_USE_CSV = ("the frame format carries str, numbers, bools, datetimes, "
            "timedeltas and categoricals")

#  dtype name -> little-endian numpy dtype, per kind (protocol.md 11.2)
_NUMERIC = {name: numpy.dtype(code) for name, code in (
    ("int8", "<i1"), ("int16", "<i2"), ("int32", "<i4"), ("int64", "<i8"),
    ("uint8", "<u1"), ("uint16", "<u2"), ("uint32", "<u4"), ("uint64", "<u8"),
    ("float32", "<f4"), ("float64", "<f8"), ("bool", "|b1"))}
_MASKED = {"Int8": "int8", "Int16": "int16", "Int32": "int32", "Int64": "int64",
           "UInt8": "uint8", "UInt16": "uint16", "UInt32": "uint32",
           "UInt64": "uint64", "Float32": "float32", "Float64": "float64",
           "boolean": "bool"}
_CODES = ("int8", "int16", "int32", "int64")
_DTYPES = {"numeric": tuple(_NUMERIC), "masked": tuple(_MASKED),
           "datetime": ("datetime64[ns]",), "timedelta": ("timedelta64[ns]",),
           "string": ("object", "string"), "categorical": ("category",)}


class FrameError(ValueError):
    """A DataFrame the frame format can't carry, or a description or buffer
    that breaks protocol.md section 11. The message names the column."""


def _fail(where, problem, hint=_REDO):
    raise FrameError("%s: %s; %s" % (where, problem, hint))


def _label(name, position):
    """'column 'x'' for messages; long or odd names shortened."""
    if not isinstance(name, str):
        return "column %d" % position
    shown = name if len(name) <= 40 else name[:40] + "..."
    return "column %r" % shown


# --- encode ---------------------------------------------------------------


def _flat(array):
    """A little-endian, contiguous array's bytes, without a copy when pandas
    already holds them so."""
    want = array.dtype.newbyteorder("<")
    if array.dtype != want:
        array = array.astype(want)
    array = numpy.ascontiguousarray(array)
    return memoryview(array).cast("B")


def _bitmap(valid):
    return memoryview(numpy.packbits(valid, bitorder="little")).cast("B")


def _encode_strings(values, where, buffers):
    """values: an object ndarray of str and missing values."""
    missing = numpy.asarray(pandas.isna(values), dtype=bool)
    try:
        parts = [b"" if gone else value.encode("utf-8")
                 for value, gone in zip(values.tolist(), missing.tolist())]
    except UnicodeEncodeError:
        _fail(where, "a value is not valid Unicode (a lone surrogate)",
              "fix the string, or use csv")
    except AttributeError:
        _fail(where, "an object column holds values that are not str",
              "convert it with .astype(str), or use csv")
    count = len(parts)
    offsets = numpy.zeros(count + 1, dtype="<i8")
    numpy.cumsum(numpy.fromiter(map(len, parts), dtype="<i8", count=count),
                 out=offsets[1:])
    entry = {"validity": bool(missing.any())}
    if entry["validity"]:
        buffers.append(_bitmap(~missing))
    buffers.append(memoryview(offsets).cast("B"))
    buffers.append(b"".join(parts))
    return entry


def _encode_object(series, where, buffers):
    inferred = pandas.api.types.infer_dtype(series, skipna=True)
    if inferred not in ("string", "empty"):
        _fail(where, "an object column of %s values, not all str" % inferred,
              "%s: convert it (.astype(str)) or use csv" % _USE_CSV)
    entry = {"kind": "string", "dtype": "object"}
    entry.update(_encode_strings(numpy.asarray(series, dtype=object), where,
                                 buffers))
    return entry


def _tz_name(tz, where):
    name = str(tz)
    try:
        ok = _tz_syntax(name) and pandas.DatetimeTZDtype(tz=name).tz is not None
    except Exception:           # noqa: BLE001 -- pandas raises several kinds
        ok = False
    if not ok:
        _fail(where, "its time zone %r has no name a receiver can resolve" % name,
              "convert it (.dt.tz_convert('UTC')) or use csv")
    return name


def _encode_datetimelike(array, dtype, where, buffers):
    """datetime64 (naive or tz-aware) and timedelta64, as int64 ns."""
    is_time = isinstance(dtype, pandas.DatetimeTZDtype) or dtype.kind == "M"
    target = "datetime64[ns]" if is_time else "timedelta64[ns]"
    tz_aware = isinstance(dtype, pandas.DatetimeTZDtype)
    unit = dtype.unit if tz_aware else numpy.datetime_data(dtype)[0]
    if unit != "ns":
        try:
            array = array.astype(pandas.DatetimeTZDtype("ns", dtype.tz)
                                 if tz_aware else target)
        except (OverflowError, ValueError):
            _fail(where, "its %s values do not fit in nanoseconds" % dtype,
                  "use csv")
    entry = {"kind": "datetime" if is_time else "timedelta", "dtype": target}
    if tz_aware:
        entry["tz"] = _tz_name(dtype.tz, where)
    elif is_time:
        entry["tz"] = None
    buffers.append(_flat(numpy.asarray(array.asi8)))
    return entry


def _encode_values(values, where, buffers):
    """The entry of a Series or Index (without name); appends its buffers."""
    dtype = values.dtype
    array = values.array
    if isinstance(dtype, pandas.CategoricalDtype):
        categories = array.categories
        inner_buffers = []
        inner = _encode_values(categories, where + " categories", inner_buffers)
        if inner["kind"] in ("masked", "categorical") or inner.get("validity"):
            _fail(where, "its categories have dtype %s" % categories.dtype,
                  "convert the column (.astype(str)) or use csv")
        codes = numpy.asarray(array.codes)
        buffers.append(_flat(codes))
        buffers.extend(inner_buffers)
        return {"kind": "categorical", "dtype": "category",
                "ordered": bool(array.ordered), "codes": codes.dtype.name,
                "count": len(categories), "categories": inner}
    if isinstance(dtype, pandas.DatetimeTZDtype) or (
            isinstance(dtype, numpy.dtype) and dtype.kind in "mM"):
        return _encode_datetimelike(array, dtype, where, buffers)
    if isinstance(array, (pandas.arrays.IntegerArray, pandas.arrays.FloatingArray,
                          pandas.arrays.BooleanArray)):
        #  _data and _mask are pandas' own two arrays of a masked column
        mask = numpy.asarray(array._mask, dtype=bool)
        entry = {"kind": "masked", "dtype": dtype.name,
                 "validity": bool(mask.any())}
        if entry["validity"]:
            buffers.append(_bitmap(~mask))
        buffers.append(_flat(numpy.asarray(array._data)))
        return entry
    if isinstance(dtype, pandas.StringDtype):
        entry = {"kind": "string", "dtype": "string"}
        entry.update(_encode_strings(array.to_numpy(dtype=object), where, buffers))
        return entry
    if isinstance(dtype, numpy.dtype) and dtype.name in _NUMERIC:
        buffers.append(_flat(numpy.asarray(array)))
        return {"kind": "numeric", "dtype": dtype.name}
    if isinstance(dtype, numpy.dtype) and dtype.kind == "O":
        return _encode_object(values, where, buffers)
    _fail(where, "dtype %s" % dtype, "%s: convert it or use csv" % _USE_CSV)


def encode(df):
    """(description, buffers) for a DataFrame: description is a dict ready
    for msgpack, buffers a list of bytes-like objects (memoryviews over
    pandas' own arrays where they are contiguous and little-endian).
    Raises FrameError, naming the column, for what the format can't carry."""
    if not isinstance(df, pandas.DataFrame):
        raise FrameError("the frame format carries a DataFrame, not a %s; "
                         "convert it or use json" % type(df).__name__)
    if len(df) > MAX_ROWS:
        raise FrameError("the DataFrame has %d rows, more than the frame "
                         "format's %d; use csv or send it in parts"
                         % (len(df), MAX_ROWS))
    if isinstance(df.columns, pandas.MultiIndex):
        raise FrameError("the columns are a MultiIndex; flatten them "
                         "(df.columns = ['_'.join(map(str, c)) for c in "
                         "df.columns]) or use csv")
    for position, name in enumerate(df.columns):
        if not isinstance(name, str):
            raise FrameError(
                "column %d (a %s) has no str name: rename the columns "
                "(df.columns = df.columns.astype(str)) or use csv"
                % (position, type(name).__name__))
    buffers = []
    index = df.index
    if isinstance(index, pandas.MultiIndex):
        raise FrameError("the index is a MultiIndex; reset it (df.reset_index()) "
                         "or use csv")
    if index.name is not None and not isinstance(index.name, str):
        raise FrameError("the index's name is a %s, not a str; rename it "
                         "(df.index.name = None) or use csv"
                         % type(index.name).__name__)
    if isinstance(index, pandas.RangeIndex):
        index_entry = {"kind": "range", "start": int(index.start),
                       "stop": int(index.stop), "step": int(index.step)}
    else:
        index_entry = _encode_values(index, "the index", buffers)
    index_entry["name"] = index.name
    columns = []
    for position, name in enumerate(df.columns):
        entry = {"name": name}
        entry.update(_encode_values(df.iloc[:, position],
                                    _label(name, position), buffers))
        columns.append(entry)
    description = {"rows": len(df), "index": index_entry, "columns": columns}
    return description, buffers


# --- decode: the description ------------------------------------------------


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _field(entry, key, where, kinds, required=True, default=None):
    if key not in entry:
        if required:
            _fail(where, "the description has no %r" % key)
        return default
    value = entry[key]
    if kinds == "uint":
        if not _is_int(value) or value < 0:
            _fail(where, "%r is a %s, not an unsigned integer"
                  % (key, type(value).__name__))
    elif kinds == "int":
        if not _is_int(value) or not _INT64[0] <= value <= _INT64[1]:
            _fail(where, "%r is not a 64-bit integer" % key)
    elif not isinstance(value, kinds) or (kinds is not bool and isinstance(value, bool)):
        names = kinds if isinstance(kinds, tuple) else (kinds,)
        _fail(where, "%r is a %s, not a %s" % (key, _kind_name(type(value)),
                                              " or ".join(map(_kind_name, names))))
    return value


def _kind_name(kind):
    """A Python type as msgpack calls its kind."""
    return {dict: "map", list: "array", type(None): "nil"}.get(kind, kind.__name__)


def _tz_syntax(tz):
    return (0 < len(tz) <= MAX_TZ and not tz.startswith("/")
            and all(c in _TZ_CHARS for c in tz))


class _Entry:
    """One parsed entry: its kind, dtype, length and the buffers it took."""

    def __init__(self):
        self.validity = self.data = self.offsets = self.categories = None


class _Buffers:
    """The payloads, handed out in order, each checked for its exact size."""

    def __init__(self, buffers):
        if not isinstance(buffers, (list, tuple)):
            raise FrameError("frame: the buffers are a %s, not a list; %s"
                             % (type(buffers).__name__, _REDO))
        if len(buffers) > MAX_BUFFERS:
            raise FrameError("frame: %d buffers, more than the %d a frame may "
                             "have; use csv" % (len(buffers), MAX_BUFFERS))
        self.views = []
        for position, buffer in enumerate(buffers):
            try:
                view = memoryview(buffer)
                if view.ndim != 1 or view.itemsize != 1:
                    view = view.cast("B")
            except (TypeError, ValueError):
                raise FrameError("frame: buffer %d is a %s, not bytes; %s"
                                 % (position, type(buffer).__name__, _REDO)) from None
            self.views.append(view)
        self.next = 0

    def take(self, where, what, size):
        if self.next >= len(self.views):
            _fail(where, "its %s is buffer %d, but the frame has only %d"
                  % (what, self.next, len(self.views)))
        view = self.views[self.next]
        if len(view) != size:
            _fail(where, "its %s (buffer %d) is %d bytes; it must be exactly %d"
                  % (what, self.next, len(view), size))
        self.next += 1
        return view


def _parse_entry(entry, where, length, buffers, role):
    """role: 'column', 'index' or 'categories'. Checks the entry's fields and
    takes its buffers (sizes only; the values are checked when built)."""
    if not isinstance(entry, dict):
        _fail(where, "its entry is a %s, not a map" % type(entry).__name__)
    parsed = _Entry()
    parsed.where = where
    parsed.length = length
    kind = parsed.kind = _field(entry, "kind", where, str)
    if kind == "range":
        if role != "index":
            _fail(where, "kind 'range' is only for the index")
        parsed.start = _field(entry, "start", where, "int")
        parsed.stop = _field(entry, "stop", where, "int")
        parsed.step = _field(entry, "step", where, "int")
        if parsed.step == 0:
            _fail(where, "a range with step 0")
        #  len (range (...)) raises OverflowError past sys.maxsize
        step = parsed.step
        count = (max(0, (parsed.stop - parsed.start + step - 1) // step) if step > 0
                 else max(0, (parsed.start - parsed.stop - step - 1) // -step))
        if count != length:
            _fail(where, "range(%d, %d, %d) does not have the frame's %d rows"
                  % (parsed.start, parsed.stop, parsed.step, length))
        return parsed
    if kind not in _DTYPES:
        _fail(where, "unknown kind %r" % kind[:40])
    dtype = parsed.dtype = _field(entry, "dtype", where, str)
    if dtype not in _DTYPES[kind]:
        _fail(where, "dtype %r is not one of kind %r (%s)"
              % (dtype[:40], kind, ", ".join(_DTYPES[kind])))
    if role == "categories" and kind not in ("numeric", "datetime", "timedelta",
                                             "string"):
        _fail(where, "categories of kind %r" % kind)
    bitmap = (length + 7) // 8
    if kind in ("masked", "string"):
        has_validity = _field(entry, "validity", where, bool, False, False)
        if has_validity and role == "categories":
            _fail(where, "categories with a validity bitmap (categories can't "
                  "be missing)")
        if has_validity:
            parsed.validity = buffers.take(where, "validity bitmap", bitmap)
    if kind == "numeric":
        parsed.data = buffers.take(where, "data", length * _NUMERIC[dtype].itemsize)
    elif kind == "masked":
        width = _NUMERIC[_MASKED[dtype]].itemsize
        parsed.data = buffers.take(where, "data", length * width)
    elif kind in ("datetime", "timedelta"):
        if kind == "datetime":
            parsed.tz = _field(entry, "tz", where, (str, type(None)), False, None)
            if parsed.tz is not None and not _tz_syntax(parsed.tz):
                _fail(where, "time zone %r is not 1-%d of A-Z a-z 0-9 _ + - : /"
                      % (parsed.tz[:40], MAX_TZ))
        parsed.data = buffers.take(where, "data", length * 8)
    elif kind == "string":
        parsed.offsets = buffers.take(where, "offsets", (length + 1) * 8)
        end = int(numpy.frombuffer(parsed.offsets, "<i8", count=1, offset=length * 8)[0])
        if end < 0:
            _fail(where, "its last offset is negative (%d)" % end)
        parsed.data = buffers.take(where, "data", end)
    else:
        parsed.ordered = _field(entry, "ordered", where, bool)
        parsed.codes = _field(entry, "codes", where, str)
        if parsed.codes not in _CODES:
            _fail(where, "codes %r is not one of %s" % (parsed.codes[:40],
                                                        ", ".join(_CODES)))
        count = parsed.count = _field(entry, "count", where, "uint")
        if count > MAX_ROWS:
            _fail(where, "%d categories, more than %d" % (count, MAX_ROWS))
        parsed.data = buffers.take(where, "codes",
                                   length * _NUMERIC[parsed.codes].itemsize)
        parsed.categories = _parse_entry(
            _field(entry, "categories", where, dict), where + " categories",
            count, buffers, "categories")
    return parsed


def _parse(description, buffers):
    """(rows, index entry, [(name, column entry)]) after every description
    and size check."""
    if not isinstance(description, dict):
        raise FrameError("frame: the description is a %s, not a map; %s"
                         % (type(description).__name__, _REDO))
    buffers = _Buffers(buffers)
    rows = _field(description, "rows", "frame", "uint")
    if rows > MAX_ROWS:
        _fail("frame", "%d rows, more than the format's %d" % (rows, MAX_ROWS))
    index = _field(description, "index", "frame", dict)
    columns = _field(description, "columns", "frame", list)
    if len(columns) > MAX_BUFFERS:
        _fail("frame", "%d columns, more than %d" % (len(columns), MAX_BUFFERS))
    index_name = _field(index, "name", "the index", (str, type(None)), False, None)
    parsed_index = _parse_entry(index, "the index", rows, buffers, "index")
    parsed_columns = []
    for position, column in enumerate(columns):
        where = "column %d" % position
        if not isinstance(column, dict):
            _fail(where, "its entry is a %s, not a map" % type(column).__name__)
        name = _field(column, "name", where, str)
        parsed_columns.append((name, _parse_entry(column, _label(name, position),
                                                  rows, buffers, "column")))
    if buffers.next != len(buffers.views):
        _fail("frame", "the entries take %d buffers, but the frame has %d"
              % (buffers.next, len(buffers.views)))
    return rows, (index_name, parsed_index), parsed_columns


# --- decode: the values -------------------------------------------------------


def _owned(view, dtype, count):
    """A writable copy of count values: the buffers are borrowed."""
    return numpy.frombuffer(view, dtype=dtype, count=count).copy()


def _valid_mask(entry):
    """bool array, True where valid (None when every value is)."""
    if entry.validity is None:
        return None
    bits = numpy.frombuffer(entry.validity, dtype=numpy.uint8)
    return numpy.unpackbits(bits, count=entry.length, bitorder="little").astype(bool)


def _check_bools(entry):
    raw = numpy.frombuffer(entry.data, dtype=numpy.uint8)
    if raw.size and raw.max() > 1:
        position = int(numpy.argmax(raw > 1))
        _fail(entry.where, "value %d is the byte %d; bools are 0 or 1"
              % (position, raw[position]))


def _build_strings(entry):
    count = entry.length
    offsets = numpy.frombuffer(entry.offsets, dtype="<i8", count=count + 1)
    if offsets[0] != 0:
        _fail(entry.where, "its first offset is %d, not 0" % offsets[0])
    steps = numpy.diff(offsets)
    if steps.size and steps.min() < 0:
        _fail(entry.where, "its offsets decrease at value %d"
              % int(numpy.argmax(steps < 0)))
    valid = _valid_mask(entry)
    if valid is not None and (steps[~valid] != 0).any():
        _fail(entry.where, "missing value %d is not empty"
              % int(numpy.argmax((steps != 0) & ~valid)))
    data = bytes(entry.data)
    bounds = offsets.tolist()
    if data.isascii():
        text = data.decode("ascii")
        values = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    else:
        values = []
        for position, (a, b) in enumerate(zip(bounds, bounds[1:])):
            try:
                values.append(data[a:b].decode("utf-8"))
            except UnicodeDecodeError:
                _fail(entry.where, "value %d is not valid UTF-8" % position)
    array = numpy.empty(count, dtype=object)
    array[:] = values
    if entry.dtype == "string":
        if valid is not None:
            array[~valid] = None
        return pandas.array(array, dtype=pandas.StringDtype())
    if valid is not None:
        array[~valid] = numpy.nan
    return array


def _build_datetimelike(entry):
    values = _owned(entry.data, "<i8", entry.length)
    if entry.kind == "timedelta":
        return values.view("m8[ns]")
    values = values.view("M8[ns]")
    if entry.tz is None:
        return values
    try:
        tz = pandas.DatetimeTZDtype(tz=entry.tz).tz
    except Exception:           # noqa: BLE001 -- pandas raises several kinds
        _fail(entry.where, "time zone %r is not known here" % entry.tz,
              "use a known IANA name, or csv")
    return pandas.DatetimeIndex(values).tz_localize("UTC").tz_convert(tz).array


def _build_categorical(entry):
    codes = _owned(entry.data, _NUMERIC[entry.codes], entry.length)
    if codes.size and (codes.min() < -1 or codes.max() >= entry.count):
        bad = int(numpy.argmax((codes < -1) | (codes >= entry.count)))
        _fail(entry.where, "code %d of value %d is outside [-1, %d)"
              % (codes[bad], bad, entry.count))
    categories = pandas.Index(_build(entry.categories))
    if categories.hasnans:
        _fail(entry.where, "a category is missing (NaN or NaT)")
    if not categories.is_unique:
        _fail(entry.where, "its categories repeat a value")
    dtype = pandas.CategoricalDtype(categories, ordered=entry.ordered)
    return pandas.Categorical.from_codes(codes, dtype=dtype)


def _build(entry):
    """The values of a parsed entry (an ndarray or a pandas array)."""
    if entry.kind == "numeric":
        if entry.dtype == "bool":
            _check_bools(entry)
        return _owned(entry.data, _NUMERIC[entry.dtype], entry.length)
    if entry.kind == "masked":
        inner = _MASKED[entry.dtype]
        if inner == "bool":
            _check_bools(entry)
        values = _owned(entry.data, _NUMERIC[inner], entry.length)
        valid = _valid_mask(entry)
        mask = numpy.zeros(entry.length, dtype=bool) if valid is None else ~valid
        if inner == "bool":
            return pandas.arrays.BooleanArray(values, mask)
        if inner.startswith("float"):
            return pandas.arrays.FloatingArray(values, mask)
        return pandas.arrays.IntegerArray(values, mask)
    if entry.kind in ("datetime", "timedelta"):
        return _build_datetimelike(entry)
    if entry.kind == "string":
        return _build_strings(entry)
    return _build_categorical(entry)


def decode(description, buffers):
    """The DataFrame of a description (dict) and its buffers (bytes-like, in
    order). Checks everything protocol.md 11.6 lists before building;
    raises FrameError, naming the column, at the first thing wrong."""
    rows, (index_name, index_entry), columns = _parse(description, buffers)
    if index_entry.kind == "range":
        index = pandas.RangeIndex(index_entry.start, index_entry.stop,
                                  index_entry.step, name=index_name)
    else:
        index = pandas.Index(_build(index_entry), name=index_name)
    arrays = {position: _build(entry) for position, (_, entry) in enumerate(columns)}
    df = pandas.DataFrame(arrays, index=index, copy=False)
    df.columns = pandas.Index([name for name, _ in columns], dtype=object)
    return df


# --- the description as msgpack (for .kmqf files and the kernel) --------------


def _pack(value, out, depth):
    if depth > MAX_DEPTH:
        raise FrameError("frame: the description nests deeper than %d" % MAX_DEPTH)
    if value is None:
        out.append(b"\xc0")
    elif value is True or value is False:
        out.append(b"\xc3" if value else b"\xc2")
    elif _is_int(value):
        if 0 <= value < 128:
            out.append(struct.pack("B", value))
        elif -32 <= value < 0:
            out.append(struct.pack("b", value))
        elif 0 <= value < 2 ** 64:
            out.append(b"\xcf" + struct.pack(">Q", value))
        elif _INT64[0] <= value < 0:
            out.append(b"\xd3" + struct.pack(">q", value))
        else:
            raise FrameError("frame: the integer %d does not fit in msgpack" % value)
    elif isinstance(value, float):
        out.append(b"\xcb" + struct.pack(">d", value))
    elif isinstance(value, str):
        data = value.encode("utf-8")
        if len(data) < 32:
            out.append(struct.pack("B", 0xa0 | len(data)))
        else:
            out.append(b"\xdb" + struct.pack(">I", len(data)))
        out.append(data)
    elif isinstance(value, (list, tuple)):
        out.append(b"\xdd" + struct.pack(">I", len(value)))
        for item in value:
            _pack(item, out, depth + 1)
    elif isinstance(value, dict):
        out.append(b"\xdf" + struct.pack(">I", len(value)))
        for key, item in value.items():
            if not isinstance(key, str):
                raise FrameError("frame: a description key is a %s, not a str"
                                 % type(key).__name__)
            _pack(key, out, depth + 1)
            _pack(item, out, depth + 1)
    else:
        raise FrameError("frame: the description holds a %s" % type(value).__name__)


def pack_description(description):
    """The description as msgpack bytes (nil, bool, int, float, str, arrays
    and maps with str keys only)."""
    out = []
    _pack(description, out, 0)
    return b"".join(out)


class _Unpacker:
    """msgpack for the description only: every length is checked against
    the bytes left before anything is built, nesting is bounded, and bin,
    ext and non-str map keys are refused."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def _bad(self, problem):
        raise FrameError("frame: the description is not valid: %s at byte %d; %s"
                         % (problem, self.pos, _REDO))

    def _read(self, size):
        if size > len(self.data) - self.pos:
            self._bad("truncated msgpack")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def _number(self, code):
        return struct.unpack(code, self._read(struct.calcsize(code)))[0]

    def _count(self, size, per_item):
        #  every value takes at least one byte: no honest count exceeds this
        if size * per_item > len(self.data) - self.pos:
            self._bad("a length of %d past the end" % size)
        return size

    def value(self, depth=0):
        if depth > MAX_DEPTH:
            self._bad("nesting deeper than %d" % MAX_DEPTH)
        byte = self._read(1)[0]
        if byte <= 0x7f:
            return byte
        if byte >= 0xe0:
            return byte - 0x100
        if 0xa0 <= byte <= 0xbf:
            return self._str(byte & 0x1f)
        if 0x90 <= byte <= 0x9f:
            return self._array(byte & 0x0f, depth)
        if 0x80 <= byte <= 0x8f:
            return self._map(byte & 0x0f, depth)
        simple = {0xc0: None, 0xc2: False, 0xc3: True}
        if byte in simple:
            return simple[byte]
        numbers = {0xca: ">f", 0xcb: ">d", 0xcc: ">B", 0xcd: ">H", 0xce: ">I",
                   0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}
        if byte in numbers:
            return self._number(numbers[byte])
        lengths = {0xd9: ">B", 0xda: ">H", 0xdb: ">I"}
        if byte in lengths:
            return self._str(self._number(lengths[byte]))
        if byte in (0xdc, 0xdd):
            return self._array(self._number(">H" if byte == 0xdc else ">I"), depth)
        if byte in (0xde, 0xdf):
            return self._map(self._number(">H" if byte == 0xde else ">I"), depth)
        self._bad("msgpack byte 0x%02x (bin, ext or never used) where the "
                  "description holds only nil, bool, int, float, str, array "
                  "and map" % byte)

    def _str(self, size):
        try:
            return bytes(self._read(size)).decode("utf-8")
        except UnicodeDecodeError:
            self._bad("a string that is not UTF-8")

    def _array(self, size, depth):
        return [self.value(depth + 1) for _ in range(self._count(size, 1))]

    def _map(self, size, depth):
        result = {}
        for _ in range(self._count(size, 2)):
            key = self.value(depth + 1)
            if not isinstance(key, str):
                self._bad("a map key that is not a str")
            if key in result:
                self._bad("the key %r twice in one map" % key[:40])
            result[key] = self.value(depth + 1)
        return result


def unpack_description(data):
    """The description (a dict) from msgpack bytes; FrameError when they
    are not exactly one map of at most 1 MiB."""
    if len(data) > MAX_DESCRIPTION:
        raise FrameError("frame: the description is %d bytes, more than %d; "
                         "send fewer columns, or csv" % (len(data), MAX_DESCRIPTION))
    data = bytes(data)
    unpacker = _Unpacker(data)
    description = unpacker.value()
    if unpacker.pos != len(data):
        unpacker._bad("trailing bytes after the map")
    if not isinstance(description, dict):
        raise FrameError("frame: the description is a %s, not a map; %s"
                         % (type(description).__name__, _REDO))
    return description


# --- .kmqf files (protocol.md 11.7) ----------------------------------------------


def kmqf_parts(description, buffers):
    """The pieces of a .kmqf file, in order, to be written one after the
    other without joining them: small bytes for the framing and the
    description, the buffers themselves as byte memoryviews (no copy)."""
    frames = [KMQF_SIGNATURE, pack_description(description)]
    frames += [memoryview(buffer).cast("B") for buffer in buffers]
    out = [struct.pack(">I", len(frames))]
    for frame in frames:
        out.append(struct.pack(">Q", len(frame)))
        out.append(frame)
    return out


def write_kmqf(description, buffers):
    """The bytes of a .kmqf file holding description and buffers."""
    return b"".join(kmqf_parts(description, buffers))


def read_kmqf(data):
    """(description, buffers) of a .kmqf file's bytes; the buffers are
    memoryviews into data. Checks the framing only: decode() checks the
    rest. FrameError when it is not a .kmqf file."""
    view = memoryview(data).cast("B")
    size = len(view)

    def bad(problem):
        raise FrameError(".kmqf: %s; the file is not a whole .kmqf (protocol.md "
                         "11.7): download it again" % problem)
    if size < 4:
        bad("%d bytes, shorter than a frame count" % size)
    count = struct.unpack(">I", view[:4])[0]
    if count < 2 or count > 2 + MAX_BUFFERS:
        bad("%d frames; a .kmqf has 2 to %d" % (count, 2 + MAX_BUFFERS))
    frames = []
    at = 4
    for position in range(count):
        if size - at < 8:
            bad("truncated in the size of frame %d" % position)
        length = struct.unpack(">Q", view[at:at + 8])[0]
        at += 8
        if length > size - at:
            bad("frame %d announces %d bytes, only %d follow"
                % (position, length, size - at))
        frames.append(view[at:at + length])
        at += length
    if at != size:
        bad("%d bytes after the last frame" % (size - at))
    if bytes(frames[0]) != KMQF_SIGNATURE:
        bad("it does not start with the signature KMQF1")
    return unpack_description(bytes(frames[1])), frames[2:]


def to_kmqf(df):
    """A DataFrame as the bytes of a .kmqf file."""
    return write_kmqf(*encode(df))


def from_kmqf(data):
    """The DataFrame in a .kmqf file's bytes, validated as decode() does."""
    return decode(*read_kmqf(data))
