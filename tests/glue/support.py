"""What every glue unit test shares: kernel/glue loaded as the package
_kmq (as kmq-kernel embeds it), with a stand-in for the executor's C
module _kmq_io that records display events instead of writing them.

Importing this module, before anything imports matplotlib: MPLBACKEND=Agg,
a scratch MPLCONFIGDIR, and the working directory moved to a scratch
directory (reset empties the working directory; it must never be the
repository). GlueTest gives each test a fresh session, no recorded events
and the scratch directory empty.
"""

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
import types
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLUE_DIR = os.path.join(ROOT, "kernel", "glue")
#  kmq_frame (common/kmq_frame.py) is embedded beside the glue in kmq-kernel
sys.path.insert(0, os.path.join(ROOT, "common"))

SCRATCH = tempfile.mkdtemp(prefix="kmq-glue-test-")
WORKDIR = os.path.join(SCRATCH, "work")
os.mkdir(WORKDIR)
os.chdir(WORKDIR)
atexit.register(lambda: (os.chdir("/"), shutil.rmtree(SCRATCH, ignore_errors=True)))
os.environ["MPLBACKEND"] = "Agg"
os.environ["MPLCONFIGDIR"] = os.path.join(SCRATCH, "matplotlib")

#  What the test process had before any glue ran, to put back after each
#  test (the glue's renewal and the cells replace them).
_SAVED_STDIO = (sys.stdin, sys.stdout, sys.stderr)


class FakeIO(types.ModuleType):
    """Stands in for _kmq_io (kernel/executor_request.c): send_event checks
    its arguments as the C module does and records each event as a list of
    (mime, bytes) while in_flight, else returns False as the C module does
    between requests. payload_limit (max_payload) makes a bigger payload a
    ValueError and bounds a download in parts;
    next_part answers from pieces."""

    def __init__(self):
        super().__init__("_kmq_io")
        self.events = []
        self.inputs = []
        self.in_flight = True
        self.payload_limit = None   # the kernel's max_payload (None: 1 GiB)
        self.pieces = []            # next_part's answers: bytes, or an exception
        self.parts = []             # send_part's (part, bytes)

    def send_event(self, mime, payloads):
        if not isinstance(mime, list) or not isinstance(payloads, list):
            raise TypeError("send_event: lists expected")
        if len(mime) != len(payloads):
            raise ValueError("send_event: %d MIME types for %d payloads"
                             % (len(mime), len(payloads)))
        if not all(isinstance(m, str) for m in mime) \
                or not all(isinstance(p, bytes) for p in payloads):
            raise TypeError("send_event: MIME types must be str, payloads bytes")
        if self.payload_limit is not None and any(len(p) > self.payload_limit
                                                for p in payloads):
            raise ValueError("the output is more than the kernel's max_payload")
        if not self.in_flight:
            return False
        self.events.append(list(zip(mime, payloads)))
        return True

    def send_input(self, request_type, fields, payload):
        """Records ("input", request_type, fields, payload) as the C module
        writes an input event (protocol.md 4.5)."""
        if not isinstance(request_type, str) or not isinstance(fields, dict):
            raise TypeError("send_input: a str and a dict expected")
        if payload is not None and not isinstance(payload, bytes):
            raise TypeError("send_input: payload must be bytes or None")
        if not self.in_flight:
            return False
        self.inputs.append((request_type, fields, payload))
        return True

    def send_part(self, part, piece):
        """Records (part, bytes) as the C module writes a part event."""
        if not self.in_flight:
            return False
        self.parts.append((part, bytes(piece)))
        return True

    def max_payload(self):
        return self.payload_limit if self.payload_limit is not None else 1 << 30

    def next_part(self):
        """The next piece of an upload in parts, from self.pieces (an
        exception there is raised, as a SIGINT during the wait does)."""
        item = self.pieces.pop(0) if self.pieces else b""
        if isinstance(item, BaseException):
            raise item
        return item


fake_io = FakeIO()
sys.modules["_kmq_io"] = fake_io


def _load_glue():
    """kernel/glue as the package _kmq, from its files."""
    spec = importlib.util.spec_from_file_location(
        "_kmq", os.path.join(GLUE_DIR, "__init__.py"),
        submodule_search_locations=[GLUE_DIR])
    package = importlib.util.module_from_spec(spec)
    sys.modules["_kmq"] = package
    spec.loader.exec_module(package)


sys.dont_write_bytecode = True     # nothing written into kernel/glue
_load_glue()
from _kmq import entry, session, streams  # noqa: E402 -- after the stand-in

_MAX_DEPTH = 8      # executor_request.c's S_MAX_DEPTH


def _packable(value, depth=0):
    """True when executor_request.c's s_pack_value can write value."""
    if depth > _MAX_DEPTH:
        return False
    if value is None or isinstance(value, (bool, int, float, str)):
        return not isinstance(value, int) or -2**63 <= value < 2**64
    if isinstance(value, (list, tuple)):
        return all(_packable(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _packable(item, depth + 1)
                   for key, item in value.items())
    return False


def empty_workdir():
    """Empties the scratch working directory (and only that)."""
    assert os.path.realpath(WORKDIR).startswith(os.path.realpath(SCRATCH))
    for name in os.listdir(WORKDIR):
        path = os.path.join(WORKDIR, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


class GlueTest(unittest.TestCase):
    """A fresh session in the scratch directory for each test."""

    def setUp(self):
        os.chdir(WORKDIR)
        empty_workdir()
        entry.SESSION.renew(used=False)
        fake_io.events.clear()
        fake_io.inputs.clear()
        fake_io.parts.clear()
        fake_io.in_flight = True
        fake_io.payload_limit = None

    def tearDown(self):
        sys.stdin, sys.stdout, sys.stderr = _SAVED_STDIO
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")
        os.chdir(WORKDIR)

    def call(self, function, *args):
        """function(*args), checked to be a reply tuple the C side takes."""
        result = function(*args)
        self.assertIsInstance(result, tuple)
        self.assertEqual(len(result), 4)
        error, message, fields, payloads = result
        if error is None:
            self.assertIsNone(message)
        else:
            self.assertIsInstance(error, str)
            self.assertIsInstance(message, str)
        self.assertIsInstance(fields, dict)
        self.assertTrue(_packable(fields), fields)
        self.assertIsInstance(payloads, list)
        for payload in payloads:
            #  bytes, or a contiguous buffer (the frame codec's views of
            #  pandas' arrays), as executor_request.c accepts
            self.assertIsInstance(payload, (bytes, memoryview))
            if isinstance(payload, memoryview):
                self.assertTrue(payload.contiguous)
        if "mime" in fields:
            self.assertEqual(len(fields["mime"]), len(payloads))
        return result

    def ok(self, function, *args):
        """fields and payloads of an ok reply."""
        error, message, fields, payloads = self.call(function, *args)
        self.assertIsNone(error, message)
        return fields, payloads

    def error(self, function, *args):
        """(error, message, fields) of an error reply."""
        error, message, fields, payloads = self.call(function, *args)
        self.assertIsNotNone(error, fields)
        self.assertEqual(payloads, [])
        return error, message, fields

    def result(self, code):
        """{mime: bytes} of the cell's result."""
        fields, payloads = self.ok(entry.execute, code)
        return dict(zip(fields["mime"], payloads))

    def events(self):
        """The display events so far, each a {mime: bytes}."""
        return [dict(event) for event in fake_io.events]

    def reset(self):
        """entry.reset(), only ever in the scratch directory."""
        self.assertEqual(os.path.realpath(os.getcwd()), os.path.realpath(WORKDIR))
        return self.call(entry.reset)
