"""matplotlib in a kernel, as a notebook's inline backend does it: every
figure still open when a cell ends is sent as a display event and closed,
and pyplot.show() sends the open figures at once.

Contract: the kernel never imports matplotlib. install(show) puts one
meta-path finder first that, when (and only when) user code imports
matplotlib.pyplot, runs pyplot's own loader and then points pyplot.show at
show. flush_figures(session) sends the open figures not in
session.shown_figures, then clears that list and closes every figure; it
does nothing unless pyplot is imported. close_figures() closes them
without sending. Neither raises for a figure that fails.
"""

import importlib.abc
import sys

from . import display, streams


def flush_figures(session):
    """Sends every open pyplot figure not shown yet, then closes them all."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if pyplot is None or helpers is None:
        return
    try:
        managers = sorted(helpers.Gcf.get_all_fig_managers(), key=lambda m: m.num)
        for manager in managers:
            fig = manager.canvas.figure
            if any(fig is shown for shown in session.shown_figures):
                continue
            try:
                display.send(display.bundle(fig))
            except ValueError as exc:   # over max_payload
                streams.warn("figure %s not sent: %s" % (manager.num, exc))
    finally:
        del session.shown_figures[:]
        close_figures()


def close_figures():
    """pyplot.close("all") when the code imported pyplot."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    try:
        pyplot.close("all")
    except Exception:           # noqa: BLE001
        pass


class _PyplotLoader(importlib.abc.Loader):
    """Runs pyplot's own loader, then points pyplot.show at show."""

    def __init__(self, loader, show):
        self._loader = loader
        self._show = show

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        module.show = self._show

    def __getattr__(self, name):    # get_source, get_filename, ...
        return getattr(self._loader, name)


class _PyplotHook(importlib.abc.MetaPathFinder):
    """Patches matplotlib.pyplot when (and only if) user code imports it."""

    def __init__(self, show):
        self._show = show

    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.pyplot":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PyplotLoader(spec.loader, self._show)
        return spec


def install(show):
    """Puts the pyplot hook first on sys.meta_path, once per process."""
    if not any(isinstance(finder, _PyplotHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PyplotHook(show))
