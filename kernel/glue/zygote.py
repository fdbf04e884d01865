"""The zygote's side of the glue (kernel/zygote.c): what every executor
would import anyway, loaded once before the zygote forks, so the pages
are shared copy-on-write. A child's hand-over to a session is
Session.renew (entry.fresh_session).

Contract: preload(warm_up) imports matplotlib (not pyplot) when
installed, with a throwaway MPLCONFIGDIR so the host's is never touched,
and restores the environment; then it calls warm_up(), which runs the
glue's request paths so CPython specialises their bytecode here, once,
instead of in every child (it writes into the code objects: a child would
copy each page of them it runs); then it collects and freezes the heap
(gc.freeze: a child's first full collection would otherwise copy every
page). Never raises for a host without matplotlib.
"""

import gc
import os
import shutil
import tempfile


def preload(warm_up):
    """matplotlib reads and memoises its config dir at import; the zygote's
    is a throwaway one. Executors find MPLCONFIGDIR back at /tmp/matplotlib
    (their own /tmp) when pyplot needs a cache. pyplot itself is not
    imported: the kernel flushes figures only for code that imported it
    (mpl_hook)."""
    configured = os.environ.get("MPLCONFIGDIR")
    private = tempfile.mkdtemp(prefix="kmq-zygote-mpl-")
    os.environ["MPLCONFIGDIR"] = private
    try:
        import matplotlib       # noqa: F401 -- preloaded for the children
    except Exception:           # noqa: BLE001 -- a host without matplotlib
        pass
    finally:
        if configured is None:
            del os.environ["MPLCONFIGDIR"]
        else:
            os.environ["MPLCONFIGDIR"] = configured
        shutil.rmtree(private, ignore_errors=True)
    warm_up()
    gc.collect()
    gc.freeze()
