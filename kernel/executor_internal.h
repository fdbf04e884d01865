/*  executor_internal — what the executor's two files share.

    executor_process.c is the process: the fork into the sandbox
    (executor_spawn), the child's fds, signals and environment, and the
    sandbox's layers around Python, and the zygote's pool children.
    executor.c is the interpreter: CPython, the glue and the request loop.
    Used by kernel/executor* and the zygote (kernel/zygote*.c) only.
*/
#ifndef KMQ_EXECUTOR_INTERNAL_H
#define KMQ_EXECUTOR_INTERNAL_H

#include <signal.h>
#include "executor.h"
#include "sandbox.h"

//  Where the child's request socket lands after the fork (0-2 are stdio).
#define EXECUTOR_SOCK_FD        3

//  Exit statuses of a child that could not start, as the monitor sees them.
#define EXECUTOR_EXIT_SETUP     120     //  fds, signals, sandbox, environment
#define EXECUTOR_EXIT_PYTHON    121     //  CPython or the glue would not start
#define EXECUTOR_EXIT_STREAM    122     //  the request stream from the monitor broke

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
