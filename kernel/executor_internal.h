/*  executor_internal — what the executor's files share.

    executor_process.c is the process: the fork into the sandbox
    (executor_spawn), the child's fds, signals and environment, and the
    sandbox's layers around Python, and the zygote's pool children.
    executor.c is the interpreter's life: CPython, the glue, preload,
    hand-over and the request loop. executor_request.c handles each
    request: decoding, the glue's entry points, replies and _kmq_io's
    display events. executor_zygote.c is the monitor's side of an executor
    the zygote makes.
    Used by kernel/executor* and the zygote (kernel/zygote*.c) only.
*/
#ifndef KMQ_EXECUTOR_INTERNAL_H
#define KMQ_EXECUTOR_INTERNAL_H

#include <signal.h>
#include "executor.h"
#include "proto_stream.h"
#include "sandbox.h"

//  Where the child's request socket lands after the fork (0-2 are stdio).
#define EXECUTOR_SOCK_FD        3

//  Exit statuses of a child that could not start, as the monitor sees them.
#define EXECUTOR_EXIT_SETUP     120     //  fds, signals, sandbox, environment
#define EXECUTOR_EXIT_PYTHON    121     //  CPython or the glue would not start
#define EXECUTOR_EXIT_STREAM    122     //  the request stream from the monitor broke

//  Closes *fd when open and sets it to -1.
void executor_close_fd (int *fd);

//  Sets O_NONBLOCK on fd. Returns 0, or -1 with errno set.
int executor_set_nonblock (int fd);

//  Writes "kmq executor: <message>" on stderr (the monitor logs it) and
//  _exits with status. For the child only.
void executor_die (int status, const char *format, ...)
    __attribute__ ((noreturn, format (printf, 2, 3)));

//  Seals the sandbox (seccomp) once Python and its imports are loaded;
//  dies when a layer that should work fails.
void executor_child_seal (const executor_config_t *config, sandbox_report_t *report);

//  The layers in force as "namespaces,filesystem,..." and why any other is
//  missing ("" when none is), for the executor's `ready`.
void executor_sandbox_lists (const sandbox_report_t *report,
                             char *applied, size_t applied_size,
                             char *missing, size_t missing_size);

//  --- the interpreter (executor.c), in the order a child uses it --------
//  A fresh executor: start, prepare, seal, serve (executor_child_run).
//  The zygote: start and preload once; each child it forks: after_fork,
//  its set-up, prepare, seal, then at its hand-over: handover, serve.

typedef struct _executor_python_t executor_python_t;

//  Starts CPython, makes _kmq_io and loads the glue (which imports pandas
//  and numpy). Dies on failure. Once per process.
executor_python_t *executor_python_start (void);

//  The zygote's extra imports (matplotlib), then gc.freeze(). Dies on failure.
void executor_python_preload (executor_python_t *python);

//  Around a fork of a process running Python (PyOS_BeforeFork and
//  PyOS_AfterFork_*): call before with the GIL held, after in both.
void executor_python_before_fork (void);
void executor_python_after_fork (bool in_child);

//  Makes the request reader for config (it allocates: before the seal).
//  config must outlive the executor.
void executor_python_prepare (executor_python_t *python, const executor_config_t *config);

//  A pool child given to a session: config (session key, state_lost) is
//  the session's; the glue's session state starts from nothing.
void executor_python_handover (executor_python_t *python, const executor_config_t *config);

//  Writes `ready` with the report, then serves requests until the monitor
//  goes. Never returns.
void executor_python_serve (executor_python_t *python, sandbox_report_t *report)
    __attribute__ ((noreturn));

//  Runs the interpreter in the set-up child: never returns.
void executor_child_run (const executor_config_t *config, sandbox_report_t *report)
    __attribute__ ((noreturn));

//  --- inside the interpreter (executor.c and executor_request.c) --------
//  Only for files that include Python.h first.
#ifdef Py_PYTHON_H

//  The glue's entry points, looked up once.
typedef struct {
    PyObject *execute;
    PyObject *upload;
    PyObject *download;
    PyObject *reset;
    PyObject *vars;
    PyObject *files;
    PyObject *is_complete;
    PyObject *history;
    PyObject *complete;
    PyObject *inspect;
    PyObject *flush;
    PyObject *module;           //  _kmq.entry, for its cell counter _count
} executor_glue_t;

struct _executor_python_t {
    const executor_config_t *config;
    executor_glue_t glue;
    proto_reader_t *reader;
    bool replied;               //  false until the first reply is written
    //  The request in flight, for display events. Read and written with
    //  the GIL held, so a thread's event can't straddle the reply.
    bool in_flight;
    uint64_t req_id;
    const char *req_session;    //  owned by executor_handle while in flight
};

//  One line for the current Python exception; clears it (executor.c).
void executor_python_describe (char *buffer, size_t size);

//  Writes *msg_p to the monitor; exits as the request loop does (status 0)
//  when the monitor's end of the socket is gone, dies on another error.
void executor_write_or_die (zmsg_t **msg_p, const char *what);

//  Reads the next whole message from the monitor (blocking; no Python
//  API, so callable without the GIL). Exits 0 when the monitor's end is
//  gone; dies (EXECUTOR_EXIT_STREAM) naming what on a broken stream.
zmsg_t *executor_read_or_die (proto_reader_t *reader, const char *what);

//  Creates _kmq_io bound to self and registers it in sys.modules. Dies on
//  failure.
void executor_io_install (executor_python_t *self);

//  A SIGINT that arrived while idle (or after the last request's code
//  finished) must not hit the next request.
void executor_drop_stray_interrupt (void);

//  The reply to one request, or NULL for messages that get none.
zmsg_t *executor_handle (executor_python_t *self, zmsg_t **request_p);

#endif

//  --- pool children (executor_process.c), for the zygote ----------------

//  In a child the zygote just made with sandbox_fork (which returned 0),
//  with executor_python_before_fork called before it: Python's fork
//  bookkeeping, then the set-up of a fresh executor (parent death,
//  signals, fds with sock on 3 and the zygote's stderr on 1 and 2,
//  sandbox_enter, environment), Python's signal handlers from
//  python_signals (the zygote's table, NSIG entries, taken right after
//  Python started), prepare and seal. Then it blocks on sock until the
//  zygote hands it a session (protocol.md 10), and serves it. Never returns.
void executor_pool_child (const executor_config_t *zygote_config,
                          executor_python_t *python, pid_t parent, int sock,
                          const struct sigaction *python_signals,
                          sandbox_report_t *report)
    __attribute__ ((noreturn));

#endif
