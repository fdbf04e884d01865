"""Runs the glue's unit tests (tests/glue/test_*.py) and prints one line a
test case, "ok   NAME" or "FAIL NAME" (tests/run.sh counts those), the
failure's traceback after its FAIL line, and a closing count.

Usage: /usr/bin/python3 tests/glue/run.py [PATTERN]   (PATTERN: a part of
the test names to run, e.g. test_cells). Exits 1 when any case failed.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class _LineResult(unittest.TestResult):
    """One line per case on out; tracebacks after FAIL lines."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def _name(self, test):
        return test.id().replace("glue.", "", 1)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.out.write("ok   %s\n" % self._name(test))

    def _failed(self, test, err):
        self.out.write("FAIL %s\n%s" % (self._name(test), self._exc_info_to_string(err, test)))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._failed(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._failed(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.out.write("skip %s: %s\n" % (self._name(test), reason))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.out.write("FAIL %s: passed but was expected to fail\n" % self._name(test))


def _matching(suite, pattern):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _matching(test, pattern)
        elif pattern in test.id():
            yield test


def main(argv):
    #  The report goes to the real stdout; what the tested cells print
    #  goes nowhere (the glue keeps whatever sys.stdout is at its import).
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = open(os.devnull, "w")
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py",
                                                top_level_dir=os.path.dirname(HERE))
    pattern = argv[1] if len(argv) > 1 else ""
    result = _LineResult(out)
    unittest.TestSuite(_matching(suite, pattern)).run(result)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    out.write("glue unit tests: %d run, %d failed\n" % (result.testsRun, failed))
    return 1 if failed or result.testsRun == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
