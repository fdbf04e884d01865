"""The seeds' own jobs through the kernelmq package, against the broker at
argv[1] (started by tests/it_pyclient.sh) and, for seed 004, against a
private one from Client.local()."""
import logging
import os
import signal
import subprocess
import sys

from harness import ROOT, case, check, endpoint, finish
import kernelmq
from kernelmq import tools


def frame_ab():
    import pandas as pd
    return pd.DataFrame({"A": [1, 2, 3], "B": [4, 5, 6]})


def seed000_code_session():
    """CodeSession: a DataFrame up, listed, down, used, state cleared."""
    df = frame_ab()
    with kernelmq.Client(endpoint()) as c:
        s = c.session("seed000")
        up = s.upload("df", df)
        check("seed000: upload of a DataFrame says 3 rows x 2 columns",
              (up.kind, up.rows, up.columns) == ("dataframe", 3, 2), up)
        listed = {v.name: v for v in s.vars()}
        check("seed000: vars lists df as a 3x2 DataFrame",
              "df" in listed and listed["df"].type == "DataFrame"
              and listed["df"].shape == (3, 2), listed)
        back = s.download("df")
        check("seed000: download gives the same DataFrame back", back.equals(df), back)
        check("seed000: dtypes are kept", dict(back.dtypes) == dict(df.dtypes), back.dtypes)
        ex = s.run("result = df['A'].sum()")
        check("seed000: an assignment has no result", ex.text is None and ex.error is None, ex)
        check("seed000: result is 6", s.run("result").text == "6")
        s.reset()
        check("seed000: reset clears the state", s.vars() == [])
        ex = s.run("df")
        check("seed000: df after reset is a NameError",
              ex.error is not None and ex.error.name == "NameError", ex)
        s.close()


def seed001_code_sandbox():
    """code-sandbox: code with input data; result, stdout, stderr, time."""
    with kernelmq.Client(endpoint()) as c, c.session() as s:
        s.upload("data.csv", b"city,temp\nOslo,4\nRome,17\n", format="file")
        ex = s.run("import sys\nimport pandas as pd\ndf = pd.read_csv('data.csv')\n"
                   "print(df)\nprint('rows:', len(df), file=sys.stderr)\ndf['temp'].max()")
        check("seed001: the result", ex.text == "17", ex)
        check("seed001: a pandas print(df) is in stdout",
              "city" in ex.stdout and "Rome" in ex.stdout and "temp" in ex.stdout, ex.stdout)
        check("seed001: stderr", ex.stderr == "rows: 2\n", ex.stderr)
        check("seed001: execution time measured by the client",
              isinstance(ex.wall_ms, int) and ex.wall_ms >= 0, ex.wall_ms)
        check("seed001: execution time from the executor when the kernel reports it",
              ex.duration_ms is None or (isinstance(ex.duration_ms, int)
                                         and ex.duration_ms <= ex.wall_ms + 1000), ex)
        check("seed001: execution_count counts cells", ex.execution_count == 1, ex)


def seed002_mark_agent():
    """The Mark agent: several turns share state; CSV in, pandas, a plotly
    figure and a matplotlib PNG out; a later turn uses earlier variables."""
    with kernelmq.Client(endpoint()) as c, c.session() as s:
        s.upload("sales.csv", os.path.join(ROOT, "examples", "sales.csv"))
        ex = s.run("import pandas as pd\nsales = pd.read_csv('sales.csv')\n"
                   "sales['revenue'] = sales['units'] * sales['price']\n"
                   "by_region = sales.groupby('region')['revenue'].sum()\nby_region")
        check("turn 1: a CSV uploaded as a file loads and transforms",
              ex.error is None and "157.5" in (ex.text or ""), ex)
        ex = s.run("import plotly.express as px\n"
                   "px.bar(by_region.reset_index(), x='region', y='revenue')")
        plotly = ex.main_result.plotly if ex.main_result else None
        check("turn 2: a plotly figure as application/vnd.plotly.v1+json",
              plotly is not None and plotly["data"][0]["type"] == "bar", ex)
        ex = s.run("import matplotlib.pyplot as plt\nplt.plot(by_region.values)\nNone")
        pngs = [r.png for r in ex.results if r.png]
        check("turn 3: a matplotlib figure as a PNG",
              len(pngs) == 1 and pngs[0].startswith(b"\x89PNG"), ex)
        ex = s.run("round(by_region['north'] / by_region.sum() * 100, 1)")
        check("turn 4 uses the earlier turns' variables", ex.text == "54.8", ex)
        check("state kept across turns: the cell count", ex.execution_count == 4, ex)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "agent_replay.py"),
                          "--endpoint", endpoint(), "--outputs",
                          os.path.join(os.environ.get("T", "/tmp"), "agent-outputs")],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "client", "python")))
    check("examples/agent_replay.py runs with no network",
          out.returncode == 0 and "54.8" in out.stdout, out.stdout[-800:] + out.stderr[-800:])
    check("the replayed agent saved a PNG and a plotly figure",
          ".png" in out.stdout and ".plotly.json" in out.stdout, out.stdout[-800:])


def secure_script(c, label):
    """seed 004's script: the same code against any broker."""
    with c.session() as s:
        ex = s.run("import os\ntotal = sum(range(10))\nprint('pid', os.getpid())\ntotal")
        check("seed004 (%s): runs and returns" % label, ex.text == "45", ex)
        ex = s.run("import socket\nsocket.socket()")
        check("seed004 (%s): the sandbox refuses a socket" % label,
              ex.error is not None and ex.error.name == "PermissionError", ex)
        ex = s.run("open('/etc/shadow').read()")
        check("seed004 (%s): host files are out of reach" % label,
              ex.error is not None and ex.error.name in ("FileNotFoundError", "PermissionError"),
              ex)
        check("seed004 (%s): state survives the errors" % label, s.run("total").text == "45")


def seed004_secure_sandbox():
    with kernelmq.Client.local() as c:
        check("Client.local() starts a private broker on ipc",
              c.endpoint.startswith("ipc://"), c.endpoint)
        secure_script(c, "Client.local()")
        directory = os.path.dirname(c.endpoint[len("ipc://"):])
    check("Client.local() removes its directory on close", not os.path.exists(directory))
    with kernelmq.Client(endpoint()) as c:
        secure_script(c, "separate broker")


def streaming():
    """on_stdout sees the first line while the cell is still running: the
    callback interrupts a cell that would otherwise sleep for a minute."""
    with kernelmq.Client(endpoint()) as c, c.session() as s:
        seen = []

        def on_stdout(text):
            seen.append(text)
            if len(seen) == 1:
                seen.append(("interrupted", s.interrupt()))

        try:
            s.run("kept = 1\nprint('first line', flush=True)\nimport time\ntime.sleep(60)\n"
                  "print('never')", on_stdout=on_stdout)
            check("streaming: the cell was interrupted from the callback", False, seen)
        except kernelmq.Interrupted as exc:
            check("streaming: on_stdout got the first line while the cell ran",
                  seen[0].startswith("first line") and seen[1] == ("interrupted", True), seen)
            #  print() writes the text and the newline apart; the interrupt
            #  may land between the two
            check("streaming: Interrupted carries the output so far",
                  exc.execution.stdout in ("first line", "first line\n"), exc.execution)
        check("streaming: the namespace is kept after the interrupt", s.run("kept").text == "1")


class Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


def errors_and_death():
    warnings = Warnings()
    logging.getLogger("kernelmq").addHandler(warnings)
    with kernelmq.Client(endpoint()) as c, c.session() as s:
        s.run("keep = [1, 2, 3]")
        ex = s.run("1/0")
        check("1/0 gives ex.error.name ZeroDivisionError",
              ex.error is not None and ex.error.name == "ZeroDivisionError", ex)
        check("the error has its traceback lines",
              any("1/0" in line for line in ex.error.traceback), ex.error.traceback)
        check("the namespace is kept after the error", s.run("keep").text == "[1, 2, 3]")
        executor = [row["executor_pid"] for row in c.stats().session_list
                    if row["session"] == s.key][0]

        killed = []

        def kill_on_first_line(text):
            #  print() writes its text and its newline apart: on a loaded
            #  machine they may come as two events, the second after the
            #  executor is gone
            if not killed:
                killed.append(text)
                os.kill(executor, signal.SIGKILL)

        try:
            s.run("print('ready', flush=True)\nimport time\ntime.sleep(60)",
                  on_stdout=kill_on_first_line)
            check("killing the executor mid-run raises KernelDied", False)
        except kernelmq.KernelDied as exc:
            check("killing the executor mid-run raises KernelDied",
                  "signal 9" in exc.cause and exc.state_lost, exc.cause)
        ex = s.run("1 + 1")
        check("the next call reports state_lost", ex.state_lost and ex.text == "2", ex)
        check("... with a notice", bool(ex.notice), ex.notice)
        check("... and a logged warning",
              any("state lost" in text for text in warnings.records), warnings.records)
        check("the old variables are gone", s.run("keep").error.name == "NameError")


def tool_flood():
    with kernelmq.Client(endpoint()) as c, c.session() as s:
        limit = 3000
        observation = tools.run_tool(s, {"code": "for i in range(200000):\n    print(i)"},
                                     max_chars=limit)
        check("tool helper: a flood gives an observation shorter than its limit",
              len(observation) < limit, len(observation))
        check("tool helper: with a truncation marker", "truncated]" in observation,
              observation[:300])
        check("tool helper: the flood's tail is kept", "199999" in observation)


def frame_round_trip():
    """DataFrames travel as frame by default: an index, datetimes with a
    time zone and NaT, strings with None, a categorical, a nullable int
    column and 1 million rows come back exactly; a plain value comes back
    as itself; a kernel's lie raises ProtocolError, never anything else."""
    import numpy as np
    import pandas as pd
    df = pd.DataFrame({
        "when": pd.to_datetime(["2026-01-01 10:00", None, "2026-03-01"]).tz_localize("Europe/Paris"),
        "s": ["a", None, "ç€"], "cat": pd.Categorical(["x", "y", None]),
        "n": pd.array([1, None, 3], dtype="Int64"), "f": [1.5, np.nan, -0.0]},
        index=pd.Index([10, 20, 30], name="k"))
    with kernelmq.Client(endpoint()) as c:
        s = c.session("frames")
        up = s.upload("df", df)
        check("frame: the upload went as frame", up.format == "frame", up)
        back = s.download("df")
        try:
            pd.testing.assert_frame_equal(back, df)
            same = True
        except AssertionError as exc:
            same = exc
        check("frame: index, tz datetimes, strings, categorical and Int64 come back exactly",
              same is True, same)
        check("frame: the kernel sees the same frame",
              s.run("str(df['when'].dt.tz), int(df['n'].isna().sum())").text
              == "('Europe/Paris', 1)")
        s.run("import numpy as np, pandas as pd\n"
              "big = pd.DataFrame({'i': np.arange(1_000_000), 'x': np.random.rand(1_000_000)})\n"
              "n = {'a': [1, 2]}")
        big = s.download("big")
        check("frame: a million rows come back", big.shape == (1_000_000, 2)
              and int(big["i"].iloc[-1]) == 999_999, big.shape)
        check("frame: a plain value comes back as itself", s.download("n") == {"a": [1, 2]})
        check("frame: asking for csv still gives csv bytes",
              s.download("df", format="csv").startswith(b"k,when,"))
        s.run("import kmq_frame\n"
              "kmq_frame.encode = lambda df, _real=kmq_frame.encode: "
              "(dict(_real(df)[0], rows=7), _real(df)[1])")
        try:
            s.download("df")
            check("frame: a lying kernel is refused", False)
        except kernelmq.ProtocolError as exc:
            check("frame: a lying kernel is refused with ProtocolError", "df" in str(exc), exc)
        s.close()


for test in (seed000_code_session, seed001_code_sandbox, seed002_mark_agent,
             seed004_secure_sandbox, streaming, errors_and_death, tool_flood,
             frame_round_trip):
    case(test)
finish()
