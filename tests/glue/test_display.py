"""display: MIME bundles and display events; mpl_hook: figures."""

import json
import os

import matplotlib.pyplot as plt

from .support import GlueTest, entry, fake_io
from _kmq import display

PNG = b"\x89PNG\r\n\x1a\n"


def _mimes(obj):
    return [mime for mime, _ in display.bundle(obj)]


class Bundles(GlueTest):

    def test_dataframe_has_html(self):
        result = self.result("import pandas as pd\npd.DataFrame({'A': [1, 2], 'B': [4, 5]})")
        self.assertEqual(list(result), ["text/plain", "text/html"])
        self.assertIn(b"A  B", result["text/plain"])
        self.assertTrue(result["text/html"].startswith(b"<div>"))

    def test_series_gets_the_table_of_its_frame(self):
        result = self.result("import pandas as pd\npd.Series([1, 2], name='s')")
        self.assertEqual(list(result), ["text/plain", "text/html"])
        self.assertIn(b"<table", result["text/html"])
        self.assertIn(b"<th>s</th>", result["text/html"])

    def test_plotly_figure_is_its_json_not_html(self):
        result = self.result("import plotly.graph_objects as go\n"
                             "go.Figure(data=[go.Bar(y=[1, 2])])")
        self.assertEqual(list(result), ["text/plain", "application/vnd.plotly.v1+json"])
        figure = json.loads(result["application/vnd.plotly.v1+json"])
        self.assertEqual(figure["data"][0]["type"], "bar")

    def test_rich_reprs_in_bundle_order(self):
        self.ok(entry.execute, "class R:\n"
                               "    def _repr_json_(self): return {'n': 1}\n"
                               "    def _repr_png_(self): return b'\\x89PNG-bytes'\n"
                               "    def _repr_markdown_(self): return ('**md**', {'meta': 1})\n"
                               "    def _repr_html_(self): return '<b>html</b>'\n"
                               "    def __repr__(self): return 'R()'")
        result = self.result("R()")
        self.assertEqual(list(result), ["text/plain", "text/html", "text/markdown",
                                        "image/png", "application/json"])
        self.assertEqual(result["text/markdown"], b"**md**")
        self.assertEqual(json.loads(result["application/json"]), {"n": 1})

    def test_base64_png_is_decoded(self):
        class Encoded:
            def _repr_png_(self):
                return "iVBORw0KGgo="
        self.assertEqual(dict(display.bundle(Encoded()))["image/png"], PNG)

    def test_failing_or_wrong_reprs_only_drop_their_type(self):
        class Broken:
            def _repr_html_(self):
                raise RuntimeError("broken")

            def _repr_markdown_(self):
                return None

            def _repr_latex_(self):
                return 42

            def _repr_png_(self):
                return "not base64!"

            def _repr_svg_(self):
                return b"\xff\xfe"

            def _repr_json_(self):
                return {1: object()}
        self.assertEqual(_mimes(Broken()), ["text/plain"])

    def test_classes_and_catch_all_objects_get_text_only(self):
        class Html:
            def _repr_html_(self):
                return "<b>x</b>"

        class Anything:
            def __getattr__(self, name):
                return lambda: "<b>x</b>"

        class Raising:
            def __getattr__(self, name):
                raise RuntimeError(name)
        self.assertEqual(_mimes(Html), ["text/plain"])
        self.assertEqual(_mimes(Anything()), ["text/plain"])
        self.assertEqual(_mimes(Raising()), ["text/plain"])
        self.assertEqual(_mimes(Html()), ["text/plain", "text/html"])

    def test_numpy_values_in_json(self):
        import numpy

        class J:
            def _repr_json_(self):
                return {"a": numpy.int64(3), "b": numpy.arange(2)}
        self.assertEqual(json.loads(dict(display.bundle(J()))["application/json"]),
                         {"a": 3, "b": [0, 1]})

    def test_display_outside_a_request_is_dropped(self):
        fake_io.in_flight = False
        self.assertFalse(display.send(display.bundle(1)))
        self.assertEqual(self.events(), [])


class Figures(GlueTest):

    def test_figure_as_result_is_png_and_not_sent_again(self):
        result = self.result("import matplotlib.pyplot as plt\nfig = plt.figure()\n"
                             "plt.plot([1, 2])\nfig")
        self.assertEqual(list(result), ["text/plain", "image/png"])
        self.assertTrue(result["image/png"].startswith(PNG))
        self.assertEqual(self.events(), [])
        self.assertEqual(plt.get_fignums(), [])

    def test_open_figures_are_sent_at_cell_end_and_closed(self):
        fields, _ = self.ok(entry.execute, "import matplotlib.pyplot as plt\n"
                                           "plt.plot([1, 2]);\nplt.figure();\nplt.plot([3])")
        events = self.events()
        self.assertEqual(len(events), 2)
        for event in events:
            self.assertEqual(list(event), ["text/plain", "image/png"])
            self.assertTrue(event["image/png"].startswith(PNG))
        self.assertEqual(plt.get_fignums(), [])

    def test_figures_are_sent_even_when_the_cell_raises(self):
        error, message, fields = self.error(entry.execute, "import matplotlib.pyplot as plt\n"
                                                           "plt.plot([1])\n1/0")
        self.assertEqual(fields["ename"], "ZeroDivisionError")
        self.assertEqual(len(self.events()), 1)

    def test_show_sends_now_and_closes(self):
        self.ok(entry.execute, "import matplotlib.pyplot as plt\nplt.plot([1])\n"
                               "plt.show()\nopen_after_show = len(plt.get_fignums())")
        self.assertEqual(len(self.events()), 1)
        self.assertEqual(self.result("open_after_show"), {"text/plain": b"0"})

    def test_displayed_figure_is_sent_once(self):
        self.ok(entry.execute, "import matplotlib.pyplot as plt\nfig = plt.figure()\n"
                               "plt.plot([1])\ndisplay(fig)")
        self.assertEqual(len(self.events()), 1)

    def test_a_figure_over_max_payload_is_skipped_with_a_warning(self):
        fake_io.payload_limit = 10
        import io
        import sys
        sys.stderr = io.StringIO()
        fields, _ = self.ok(entry.execute, "import matplotlib.pyplot as plt\nplt.plot([1])")
        warning = sys.stderr.getvalue()
        self.assertIn("kmq: figure 1 not sent", warning)
        self.assertEqual(self.events(), [])
        self.assertEqual(plt.get_fignums(), [])

    def test_kernel_itself_never_imports_pyplot(self):
        import subprocess
        import sys
        from .support import ROOT
        code = ("import sys, os\nsys.path.insert(0, %r)\n"
                "from glue import support\n"
                "print('matplotlib.pyplot' in sys.modules)" % os.path.join(ROOT, "tests"))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(out.stdout.strip(), "False", out.stderr)


class ClearOutput(GlueTest):

    def test_clear_output_is_a_display_event_of_its_own_type(self):
        self.ok(entry.execute, "print('x')\nclear_output(wait=True)\nclear_output()")
        self.assertEqual(self.events(), [
            {"text/plain": b"", display.CLEAR_OUTPUT_MIME: b'{"wait": true}'},
            {"text/plain": b"", display.CLEAR_OUTPUT_MIME: b'{"wait": false}'}])
