/*  executor_internal — what the executor's two files share.

    executor_process.c is the process: the fork into the sandbox
    (executor_spawn), the child's fds, signals and environment, and the
    sandbox's layers around Python. executor.c is the interpreter: CPython,
    the glue and the request loop. Neither is used outside kernel/executor*.
*/
#ifndef KMQ_EXECUTOR_INTERNAL_H
#define KMQ_EXECUTOR_INTERNAL_H

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

//  Runs the interpreter in the set-up child: never returns.
void executor_child_run (const executor_config_t *config, sandbox_report_t *report)
    __attribute__ ((noreturn));

#endif
