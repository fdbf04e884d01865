"""The Jupyter project's own kernel conformance suite (jupyter_kernel_test)
against kmq-jupyter: every test of it runs, each with samples for kernelmq.

Run by tests/it_jupyter.sh with JUPYTER_PATH pointing at a kernelspec named
"kernelmq" whose broker the script started:
    /usr/bin/python3 tests/jupyter/kernel_test.py RESULTS_FILE
prints one line per test, "ok   jupyter_kernel_test NAME" (skips with their
reason) or "FAIL jupyter_kernel_test NAME: why", writes unittest's own
verbose report to RESULTS_FILE, and exits non-zero on any failure.
"""
import sys
import unittest

import jupyter_kernel_test


class KernelmqTests(jupyter_kernel_test.KernelTests):
    kernel_name = "kernelmq"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"

    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "from json import JSONDeco", "matches": {"JSONDecodeError", "JSONDecoder"}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2", "for i in range(3):"]
    invalid_code_samples = ["import = 7q"]

    code_generate_error = "raise ValueError('kernelmq')"

    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "[n*n for n in range(1, 4)]", "result": "[1, 4, 9]"},
    ]
    code_display_data = [
        {"code": "import pandas as pd\ndisplay(pd.DataFrame({'a': [1, 2]}))",
         "mime": "text/html"},
        {"code": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])", "mime": "image/png"},
    ]

    # The kernel keeps every cell's code (protocol.md: history); no outputs.
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "zip"

    # kernelmq's clear_output builtin (IPython's, without IPython): a
    # display event the bridge turns into IOPub clear_output.
    code_clear_output = "clear_output()"

    def test_pager(self):
        raise unittest.SkipTest(
            "kernelmq has no pager payloads: `obj?` is IPython syntax, not "
            "Python; help comes from inspect_request (test_inspect)")


if __name__ == "__main__":
    with open(sys.argv[1], "w") as results:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(KernelmqTests)
        names = [test._testMethodName for test in suite]   # run() empties suite
        outcome = unittest.TextTestRunner(stream=results, verbosity=2).run(suite)
    # One line per test: a test fails when it or any of its subtests did
    def method(test):
        return getattr(test, "test_case", test)._testMethodName

    verdicts = {name: ("ok", "") for name in names}
    for test, reason in outcome.skipped:
        if not hasattr(test, "test_case"):      # the whole test, not a subtest
            verdicts[method(test)] = ("skip", reason)
    for test, trace in outcome.failures + outcome.errors:
        verdicts[method(test)] = ("fail", trace.strip().splitlines()[-1])
    for name in sorted(verdicts):
        verdict, why = verdicts[name]
        if verdict == "fail":
            print("FAIL jupyter_kernel_test %s: %s" % (name, why))
        elif verdict == "skip":
            print("ok   jupyter_kernel_test %s (skipped: %s)" % (name, why))
        else:
            print("ok   jupyter_kernel_test %s" % name)
    sys.exit(0 if outcome.wasSuccessful() else 1)
