"""One session's state in an executor, and the one way to start it afresh.

Contract: a Session owns the namespace the cells run in, the cell counter
(execution_count of the last cell, 0 before the first), the cells run so
far (history) and the figures shown in the cell running now. renew() is the single path back to a fresh
session, shared by the reset request and the zygote's hand-over of a pool
child: a fresh namespace, the counter at 0, every figure closed, the
executor's own streams back, numpy's global generator reseeded. What only a
used session has, its files and its garbage, goes too (renew(used=True),
reset): the working directory is emptied and the old namespace collected.
A pool child at its hand-over (used=False) has neither, and both would
harm: its /work is the empty tmpfs its sandbox mounted after the fork, or,
without the filesystem layer (test builds), the zygote's cwd, a directory
of the host its siblings share; and a full collection there writes to
pages it shares with the zygote (~0.1 MiB more per session). renew
returns the entries of the working directory it could not remove.
"""

import builtins
import gc
import linecache
import os
import shutil

from . import mpl_hook, streams
from .libs import numpy


def cell_filename(count):
    """The name a cell's code goes by in tracebacks and the linecache."""
    return "<cell-%d>" % count


def _fresh_namespace():
    return {"__name__": "__main__", "__builtins__": builtins}


def _reseed_numpy():
    """random reseeds itself at fork; numpy's global RandomState does not,
    and two sessions forked from one zygote, or one session before and
    after reset, must not draw the same numbers."""
    if numpy is None:
        return
    try:
        numpy.random.seed()
    except Exception:           # noqa: BLE001
        pass


def empty_directory(path="."):
    """Removes everything in path (read-only subdirectories too); returns
    the entries it could not remove as 'name (reason)'."""
    def retry(func, failed_path, exc_info):
        try:
            os.chmod(os.path.dirname(failed_path) or ".", 0o700)
            func(failed_path)
        except OSError:
            raise exc_info[1]
    failed = []
    for entry in os.scandir(path):
        try:
            if entry.is_dir(follow_symlinks=False):
                os.chmod(entry.path, 0o700)
                shutil.rmtree(entry.path, onerror=retry)
            else:
                os.unlink(entry.path)
        except OSError as exc:
            failed.append("%s (%s)" % (entry.name, exc.strerror or exc))
    return failed


class Session:
    """The namespace, the cell counter and the figures of one session."""

    def __init__(self):
        self.namespace = _fresh_namespace()
        self.count = 0
        #  Figures shown in the current cell (display() or the result), so
        #  the cell-end flush does not send them twice.
        self.shown_figures = []
        #  The numbers of the cells run, for history. Their text is the
        #  linecache's (cells.py registers every cell there for tracebacks),
        #  so a long session does not hold each cell twice.
        self.cells = []

    def next_cell(self):
        """Counts a new cell and returns its number."""
        self.count += 1
        del self.shown_figures[:]
        self.cells.append(self.count)
        return self.count

    def history(self, last=0, budget=512 * 1024):
        """(execution_count, code) of the last cells (all when last is 0),
        oldest first, whose code fits in budget characters; and whether
        older ones were left out. A cell whose lines the user dropped from
        the linecache is left out."""
        counts = self.cells[-last:] if last else self.cells
        kept, used = [], 0
        for count in reversed(counts):
            entry = linecache.cache.get(cell_filename(count))
            if not entry or len(entry) != 4:
                continue
            code = "".join(entry[2])
            used += len(code)
            if used > budget:
                break
            kept.append((count, code))
        kept.reverse()
        return kept, len(kept) < len(counts)

    def renew(self, used=True):
        """Back to a fresh session (see the module's contract); used says
        whether this one ran anything. The working directory is the current
        one, as the executor's cwd is /work. Returns the entries of it that
        could not be removed."""
        self.namespace = _fresh_namespace()
        self.count = 0
        del self.shown_figures[:]
        del self.cells[:]
        for name in [name for name in linecache.cache if name.startswith("<cell-")]:
            del linecache.cache[name]
        mpl_hook.close_figures()
        streams.restore()
        _reseed_numpy()
        if not used:
            return []
        failed = empty_directory()
        gc.collect()
        return failed
