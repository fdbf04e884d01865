"""kernelmq's executor glue: the Python half of every executor.

Embedded in kmq-kernel as package ``_kmq`` (kernel/embed_zip.py builds the
zip, kernel/embed_finder.py serves it from memory), so an executor reads no
file of the host once its sandbox hides them; tracebacks name its files
``<kmq-kernel>/_kmq/MODULE.py``. The C side (kernel/executor.c,
kernel/executor_request.c) imports and calls ``_kmq.entry`` only.

Modules, from the bottom up (each one's docstring gives its contract):

    errors       RequestError, the one exception handlers raise
    libs         numpy and pandas when installed; JSON for numpy values
    streams      stdin that fails at once, stdout/stderr kept, flush
    display      MIME bundles (protocol.md 4.3) and display events
    mpl_hook     pyplot patched on import; open figures sent at cell end
    session      Session: namespace, cell counter, figures; renew()
    cells        execute: one notebook cell
    transfer     upload and download (csv, json, file)
    variables    vars: the user's variables
    completion   complete and inspect
    pickling     variables as pickles (dill for cell code) and back
    workdir      the working directory's tree, never through a symlink
    snapshot     snapshot and restore: the session as one blob
    zygote       the zygote's preload before it forks
    entry        the C-facing functions; the only place replies are built

Importing this package runs nothing.
"""
