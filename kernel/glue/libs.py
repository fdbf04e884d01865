"""The third-party libraries the glue uses when they are installed, and
JSON that understands their values.

Contract: numpy, pandas and kmq_frame (the frame format's codec) are the
modules, or None when they fail to import (a kernel without them still
runs code). Debian keeps them in
dist-packages, which CPython's isolated config leaves off sys.path, so
importing this module appends it. matplotlib is deliberately not here: the
kernel never imports it for a session (see mpl_hook and zygote).
"""

import os
import sys

_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
if _DIST_PACKAGES not in sys.path and os.path.isdir(_DIST_PACKAGES):
    sys.path.append(_DIST_PACKAGES)

try:
    import numpy
except Exception:               # noqa: BLE001 -- a kernel without numpy still runs code
    numpy = None
try:
    import pandas
except Exception:               # noqa: BLE001
    pandas = None
try:
    #  common/kmq_frame.py, embedded beside the glue (the Makefile's PY_EMBED)
    import kmq_frame
except Exception:               # noqa: BLE001 -- it needs numpy and pandas
    kmq_frame = None


def json_default(obj):
    """json.dumps' default=: numpy scalars and arrays as Python values;
    raises TypeError for anything else, as json does."""
    if numpy is not None and isinstance(obj, (numpy.generic, numpy.ndarray)):
        return obj.tolist()
    raise TypeError("Object of type %s is not JSON serializable"
                    % type(obj).__name__)
