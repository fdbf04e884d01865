"""nbclient runs a notebook end to end on a kmq-jupyter kernel and the
outputs are checked cell by cell.

Usage: nbclient_test.py KERNEL_NAME OUT.ipynb
Prints "ok   NAME" / "FAIL NAME: why" lines; writes the executed notebook
to OUT.ipynb (for the browser test and for a person to look at).
"""
import base64
import json
import sys

import nbformat
from nbclient import NotebookClient

kernel_name, out_path = sys.argv[1:3]

CELLS = [
    'import pandas as pd\n'
    'df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp_c": [3, 19, 31]})\n'
    'df',
    'import matplotlib.pyplot as plt\n'
    'fig, ax = plt.subplots(figsize=(4, 3))\n'
    'ax.plot(df["temp_c"], marker="o")\n'
    'ax.set_title("kernelmq sandbox")\n'
    'plt.show()',
    'import plotly.graph_objects as go\n'
    'go.Figure(go.Bar(x=list(df["city"]), y=list(df["temp_c"])))',
    'print("before the error")\n'
    '1 / 0',
    'display(df.describe())\n'
    'print("after display")',
    'print("first, then cleared")\n'
    'clear_output(wait=True)\n'
    'print("second survives")',
    'print("rows:", len(df), "mean:", df["temp_c"].mean())',
]


def check(name, cond, why=""):
    print(("ok   %s" if cond else "FAIL %s: " + why) % name, flush=True)


def outputs_of(cell, kind):
    return [o for o in cell.outputs if o.output_type == kind]


def text_of(cell):
    return "".join(o.get("text", "") for o in outputs_of(cell, "stream"))


nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3 (kernelmq sandbox)",
                             "language": "python"}
nb.cells = [nbformat.v4.new_code_cell(code) for code in CELLS]
client = NotebookClient(nb, kernel_name=kernel_name, timeout=120, allow_errors=True,
                        startup_timeout=60)
client.execute()
nbformat.write(nb, out_path)
cells = nb.cells

results = outputs_of(cells[0], "execute_result")
html = results[0].data.get("text/html", "") if results else ""
check("nbclient: the DataFrame cell's result has an HTML table",
      "<table" in html and "<td>Oslo</td>" in html and "dataframe" in html, html[:200])
check("nbclient: the DataFrame cell's text/plain too",
      results and "Lima" in results[0].data.get("text/plain", ""))
check("nbclient: execution counts are the kernel's, in order",
      [c.execution_count for c in cells] == list(range(cells[0].execution_count,
                                                       cells[0].execution_count + len(cells))),
      repr([c.execution_count for c in cells]))

pngs = [o.data["image/png"] for o in outputs_of(cells[1], "display_data")
        if "image/png" in o.data]
png = base64.b64decode(pngs[0]) if pngs else b""
check("nbclient: the matplotlib figure arrives as a base64 PNG", png[:8] == b"\x89PNG\r\n\x1a\n",
      repr(png[:16]))
check("nbclient: the PNG is a real image (IHDR, a few KB)",
      png[12:16] == b"IHDR" and len(png) > 2000, "%d bytes" % len(png))

plotly = [o.data.get("application/vnd.plotly.v1+json") for o in outputs_of(cells[2], "execute_result")]
check("nbclient: plotly's figure is JSON data (a Bar trace)",
      plotly and isinstance(plotly[0], dict) and plotly[0]["data"][0]["type"] == "bar",
      repr(plotly)[:200])

errors = outputs_of(cells[3], "error")
check("nbclient: the error cell shows ZeroDivisionError (allow_errors)",
      errors and errors[0].ename == "ZeroDivisionError" and any("1 / 0" in line for line in errors[0].traceback),
      repr(errors)[:300])
check("nbclient: output before the error is kept", text_of(cells[3]) == "before the error\n",
      repr(text_of(cells[3])))

shown = outputs_of(cells[4], "display_data")
check("nbclient: display() gives display_data with HTML, then the print",
      shown and "<table" in shown[0].data.get("text/html", "")
      and text_of(cells[4]) == "after display\n"
      and cells[4].outputs[0].output_type == "display_data", repr(cells[4].outputs)[:300])

check("nbclient: clear_output(wait=True) leaves only what came after",
      text_of(cells[5]) == "second survives\n"
      and all(o.output_type == "stream" for o in cells[5].outputs),
      repr(cells[5].outputs))
check("nbclient: the namespace carries across cells",
      text_of(cells[6]) == "rows: 3 mean: 17.666666666666668\n", repr(text_of(cells[6])))
json.dumps(nb)      # the notebook is plain JSON all through
