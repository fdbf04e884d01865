"""The client's API beyond the seeds: asyncio, threads, attach, files,
completion, typed errors, a broker that goes silent, against the broker at
argv[1] (its max_payload is 8M) and private ones."""
import asyncio
import os
import signal
import socket
import threading

from harness import case, check, endpoint, finish
import kernelmq


def expect_raises(name, cls, function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except cls as exc:
        return check(name, True) and exc
    except Exception as exc:    # noqa: BLE001
        check(name, False, "raised %r" % exc)
        return None
    check(name, False, "nothing raised")
    return None


def threads():
    """One Client, six threads, each its own session, at once."""
    results = {}
    with kernelmq.Client(endpoint()) as c:
        def work(i):
            s = c.session("thread-%d" % i)
            chunks = []
            ex = s.run("import time\nfor k in range(3):\n    print(k, flush=True)\n"
                       "    time.sleep(0.05)\n%d * 10" % i, on_stdout=chunks.append)
            results[i] = (ex.text, "".join(chunks), threading.get_ident())
            s.close()
        workers = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
    check("threads: six threads share one client",
          sorted(results) == list(range(6))
          and all(results[i][0] == str(i * 10) for i in results), results)
    check("threads: each thread's callbacks saw its own output",
          all(results[i][1] == "0\n1\n2\n" for i in results), results)


async def async_many():
    async with kernelmq.AsyncClient(endpoint()) as c:
        sessions = [c.session("async-%d" % i) for i in range(5)]
        runs = await asyncio.gather(*[s.run("import time\ntime.sleep(0.2)\n%d + 100" % i)
                                      for i, s in enumerate(sessions)])
        check("asyncio: one client drives five sessions concurrently",
              [ex.text for ex in runs] == [str(i + 100) for i in range(5)], runs)
        s = sessions[0]
        await s.upload("t", b"a,b\n1,2\n", format="csv")
        check("asyncio: upload and vars",
              [v.name for v in await s.vars()] == ["t"])
        check("asyncio: download", (await s.download("t", format="csv")) == b"a,b\n1,2\n")
        check("asyncio: complete", "groupby" in (await s.complete("t.gro")).matches)
        async with s.attach() as events:
            other = kernelmq.Client(endpoint())
            thread = threading.Thread(target=lambda: other.session(s.key).run(
                "print('seen')\ndisplay(7)"))
            thread.start()
            got = []
            while not any(isinstance(e, kernelmq.StatusEvent) and e.state == "idle"
                          for e in got):
                event = await events.next(30)
                if event is None:
                    break
                got.append(event)
            thread.join(60)
            other.close()
        check("asyncio: attach sees another client's output and display",
              any(isinstance(e, kernelmq.StreamEvent) and "seen" in e.text for e in got)
              and any(isinstance(e, kernelmq.DisplayEvent) and e.result.text == "7"
                      for e in got), got)
        try:
            await c.session("async-never-started").interrupt()
            check("asyncio: typed errors", False)
        except kernelmq.NoSuchSession:
            check("asyncio: typed errors", True)
        for s in sessions:
            await s.close()


def asyncio_client():
    asyncio.run(async_many())


def attach_sync():
    with kernelmq.Client(endpoint(), client_name="watcher") as watcher, \
            kernelmq.Client(endpoint(), client_name="alice") as worker:
        s = worker.session("watched")
        s.run("x = 1")
        with watcher.session("watched").attach() as events:
            thread = threading.Thread(target=lambda: s.run(
                "import sys\nprint('out')\nprint('err', file=sys.stderr)\ndisplay(x)"))
            thread.start()
            got = []
            while not any(isinstance(e, kernelmq.StatusEvent) and e.state == "idle"
                          for e in got):
                event = events.next(30)
                if event is None:
                    break
                got.append(event)
            thread.join(60)
        kinds = {(type(e).__name__, getattr(e, "name", "")) for e in got}
        check("attach: typed events of another client's request",
              {("StreamEvent", "stdout"), ("StreamEvent", "stderr"), ("DisplayEvent", "")}
              <= kinds, got)
        inputs = [e for e in got if isinstance(e, kernelmq.InputEvent)]
        check("attach: the cell's input, with its number, code and requester",
              inputs and inputs[0].execution_count == 2 and "print('out')" in inputs[0].code
              and inputs[0].client == "alice" and inputs[0].id == 0 and inputs[0].request > 0,
              inputs)
        states = [e.state for e in got if isinstance(e, kernelmq.StatusEvent)]
        check("attach: busy, then idle", states == ["busy", "idle"], states)
        outcome = [e for e in got if isinstance(e, kernelmq.OutcomeEvent)][0]
        check("attach: the outcome, ok with its execution_count",
              outcome.ok and outcome.execution_count == 2 and outcome.client == "alice",
              outcome)
        check("history: every client's cells", [n for n, _ in s.history()] == [1, 2])
        check("history: the last one", s.history(1)[0][0] == 2)
        check("is_complete: an open block wants more, indented",
              s.is_complete("for i in range(3):") == ("incomplete", "    "))
        check("is_complete: a finished statement", s.is_complete("x = 1")[0] == "complete")
        check("is_complete: a syntax error", s.is_complete("import = 7q")[0] == "invalid")
        s.close()
        events = watcher.session("watched-gone")
        expect_raises("attach to a session with no kernel: NoSuchSession",
                      kernelmq.NoSuchSession, events.attach)


def files_and_friends():
    with kernelmq.Client(endpoint()) as c, c.session() as s:
        check("c.session() draws a random 128-bit key", len(s.key) == 32, s.key)
        s.upload("blob.bin", b"\x00\x01" * 500)
        s.run("import os\nos.mkdir('out')")
        before = s.run("1").execution_count
        listing = s.files()
        check("files(): the working directory, with sizes",
              [(f.name, f.kind, f.bytes) for f in listing]
              == [("blob.bin", "file", 1000), ("out", "dir", None)], listing)
        check("files() runs no cell", s.run("1").execution_count == before + 1)
        check("download of a file gives its bytes",
              s.download("blob.bin", format="file") == b"\x00\x01" * 500)
        s.run("import pandas as pd")
        inspection = s.inspect("pd.read_csv")
        check("inspect: signature and docstring",
              inspection.found and "read_csv(" in inspection.text, inspection)
        completion = s.complete("import pandas as pd\npd.read_c", 29)
        check("complete: cursor offsets in characters",
              "read_csv" in completion.matches and completion.cursor_start == 23, completion)
        expect_raises("download of a missing name: NotFound", kernelmq.NotFound,
                      s.download, "nosuch")
        expect_raises("an invalid session key: BadRequest", kernelmq.BadRequest,
                      c.session, "no spaces")
        expect_raises("bytes that do not parse: PythonError", kernelmq.PythonError,
                      s.upload, "bad", b"\xff\xfe{", format="json")
        big = b"x" * (c.max_payload + 1)
        expect_raises("an upload over max_payload: TooLarge before sending",
                      kernelmq.TooLarge, s.upload, "big.bin", big)
        exc = expect_raises("a cell past its timeout: Timeout", kernelmq.Timeout,
                            s.run, "import time\ntime.sleep(30)", timeout=0.5)
        check("... the kernel stopped it and kept the namespace",
              exc is not None and not exc.killed and isinstance(exc, TimeoutError), exc)
        check("... the session still answers", s.run("2 + 2").text == "4")


def limits_and_loss():
    with kernelmq.Client.local(max_sessions=1, heartbeat_ivl_ms=300) as c:
        c.session("only").run("1")
        expect_raises("a session over max_sessions: SessionLimit", kernelmq.SessionLimit,
                      c.session("second").run, "1")
        broker = c._local.process
        errors = []

        def stop_broker(text):
            broker.send_signal(signal.SIGSTOP)

        try:
            c.session("only").run("print('go', flush=True)\nimport time\ntime.sleep(30)",
                                  on_stdout=stop_broker)
        except kernelmq.Error as exc:
            errors.append(exc)
        finally:
            broker.send_signal(signal.SIGCONT)
        check("a broker gone silent mid-request: BrokerUnreachable, not a hang",
              len(errors) == 1 and isinstance(errors[0], kernelmq.BrokerUnreachable), errors)
        check("... with the output so far", errors and errors[0].execution.stdout.startswith("go"))
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    expect_raises("no broker at the endpoint: BrokerUnreachable", kernelmq.BrokerUnreachable,
                  kernelmq.Client, "tcp://127.0.0.1:%d" % port, hello_timeout=0.3)
    c = kernelmq.Client(endpoint())
    s = c.session()
    c.close()
    expect_raises("a closed client: ClientClosed", kernelmq.ClientClosed, s.run, "1")
    old = os.environ.get("KMQ_ENDPOINT")
    os.environ["KMQ_ENDPOINT"] = endpoint()
    try:
        with kernelmq.Client() as c:
            check("the default endpoint is $KMQ_ENDPOINT", c.endpoint == endpoint())
    finally:
        if old is None:
            del os.environ["KMQ_ENDPOINT"]


for test in (threads, asyncio_client, attach_sync, files_and_friends, limits_and_loss):
    case(test)
finish()
