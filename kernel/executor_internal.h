/*  executor_internal — what the executor's files share, grouped by the
    process each part runs in.

    executor_handle.c   the supervisor's handle on an executor (the
                        monitor's): forked here or got from the zygote,
                        signalled, reaped. Its API is executor.h.
    executor_child.c    the child's one set-up sequence, from the fork to
                        the interpreter, for a fresh executor and for a
                        zygote's pool child alike.
    executor.c          the interpreter: CPython, the glue, preload,
                        hand-over, the request loop.
    executor_request.c  each request: decoding, the glue's entry points,
                        replies, _kmq_io's events.

    This header holds no Python type: executor_python.h, which only the
    files that embed Python include, declares what they share besides.
    Used by kernel/executor* and the zygote (kernel/zygote.c) only.
*/
#ifndef KMQ_EXECUTOR_INTERNAL_H
#define KMQ_EXECUTOR_INTERNAL_H

#include <signal.h>
#include "executor.h"
#include "sandbox.h"

//  Where the child's request socket lands after the fork (0-2 are stdio).
#define EXECUTOR_SOCK_FD        3

//  A fallback executor's argv (executor_handle.c writes it, executor_main.c
//  reads it): the program, then these words, "--executor PARENT SOCK OUT
//  ERR", then the kernel contract's flags of its session.
#define EXECUTOR_EXEC_WORDS     5

//  Exit statuses of a child that could not start, as the monitor sees them.
#define EXECUTOR_EXIT_SETUP     120     //  fds, signals, sandbox, environment
#define EXECUTOR_EXIT_PYTHON    121     //  CPython or the glue would not start
#define EXECUTOR_EXIT_STREAM    122     //  the request stream from the monitor broke

//  --- the child (executor_child.c) ---------------------------------------

//  Writes "kmq executor: <message>" on stderr (the monitor logs it) and
//  _exits with status. For the child only.
void executor_die (int status, const char *format, ...)
    __attribute__ ((noreturn, format (printf, 2, 3)));

//  Every signal at its default disposition, none blocked: an inherited
//  SIG_IGN on SIGINT would keep KeyboardInterrupt from ever happening.
//  Returns 0, or -1 with errno set. The zygote calls it before Python
//  starts, so the handlers Python installs are a fresh executor's.
int executor_reset_signals (void);

//  The executor's environment, nothing of the host's (the operator's
//  HOME, the broker's settings and secrets stay outside): a fixed PATH,
//  HOME=home, UTF-8, matplotlib's Agg. Returns 0, or -1 with errno set.
//  The zygote sets it before Python starts, so os.environ holds it in
//  every child.
int executor_environment (const char *home);

//  In a child executor_spawn just made with sandbox_fork (which returned
//  0): the set-up (parent death, signals, fds with sock on 3 and out_w,
//  err_w on 1 and 2, sandbox_enter, environment), then CPython and the
//  glue, the seal, and requests until the monitor goes. Never returns.
void executor_child_fresh (const executor_config_t *config, pid_t parent,
                           int sock, int out_w, int err_w, sandbox_report_t *report)
    __attribute__ ((noreturn));

typedef struct _executor_python_t executor_python_t;

//  In a child the zygote just made with sandbox_fork (which returned 0),
//  with executor_python_before_fork called before it: Python's fork
//  bookkeeping, then the same set-up as a fresh executor (with sock on 3
//  and the zygote's stderr on 1 and 2) plus Python's signal handlers from
//  python_signals (the zygote's table, NSIG entries, taken right after
//  Python started), prepare and seal. Then it blocks on sock until the
//  zygote hands it a session (protocol.md 10), and serves it. Never
//  returns.
void executor_pool_child (const executor_config_t *zygote_config,
                          executor_python_t *python, pid_t parent, int sock,
                          const struct sigaction *python_signals,
                          sandbox_report_t *report)
    __attribute__ ((noreturn));

//  --- the interpreter (executor.c), in the order a child uses it --------
//  A fresh executor: start, prepare, seal, serve. The zygote: start and
//  preload once; each child it forks: after_fork, its set-up, prepare,
//  seal, then at its hand-over: handover, serve.

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

//  A sealed pool child, while it waits for its session: runs what a
//  session's first requests run (glue pool_prewarm), so the pages they
//  write are copied from the zygote's now rather than on the first
//  request's clock. Dies when the glue raises.
void executor_python_prewarm (executor_python_t *python);

//  A pool child given to a session: config (session key, state_lost) is
//  the session's; the glue's session state starts from nothing.
void executor_python_handover (executor_python_t *python, const executor_config_t *config);

//  Writes `ready` with the report, then serves requests until the monitor
//  goes. Never returns.
void executor_python_serve (executor_python_t *python, sandbox_report_t *report)
    __attribute__ ((noreturn));

#endif
