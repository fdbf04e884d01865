/*  kernel_proc — kmq-kernel processes: spawn, signal, reap, describe.

    Kernels run in their own process group, so a terminal's Ctrl-C reaches
    the broker only; the broker decides how kernels end. A kernel starts
    with an empty signal mask and default dispositions, whatever the broker
    has blocked or ignored.
*/
#ifndef KMQ_KERNEL_PROC_H
#define KMQ_KERNEL_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "config.h"

//  Starts path with argv (NULL-terminated, argv [0] included) in a new
//  process group. Returns the pid, or -1 with errno set (e.g. ENOENT when
//  path does not exist).
pid_t kernel_proc_spawn (const char *path, char *const argv []);

//  How many limit flags kernel_proc_limit_args appends (each with a value).
#define KERNEL_PROC_LIMITS 7

//  The text of the limit values, which the argv points into.
typedef struct {
    char value [KERNEL_PROC_LIMITS][24];
} kernel_proc_limits_t;

//  Appends the limit flags a kernel and the zygote both take, from cfg:
//  --memory-limit, --cpu-limit-s, --max-payload, --work-quota, --tmp-quota,
//  --max-threads and --max-files, each with its value (2 * KERNEL_PROC_LIMITS
//  entries) at argv [argc]. The values are written in *limits, which must
//  outlive argv. Returns the new argc.
int kernel_proc_limit_args (const config_t *cfg, kernel_proc_limits_t *limits,
                            char **argv, int argc);

//  Sends sig to the kernel: with group, to its whole process group (the
//  executor too), else to the process alone. Returns 0 or -1 with errno
//  (ESRCH when it is already gone).
int kernel_proc_signal (pid_t pid, int sig, bool group);

//  Reaps one exited child without blocking. Returns its pid and fills
//  *status, or 0 when no child has exited, or -1 (errno ECHILD: no
//  children at all).
pid_t kernel_proc_reap (int *status);

//  Describes a wait status: "exit status 3", "signal 9 (Killed)".
void kernel_proc_describe (int status, char *buf, size_t size);

//  Selftest.
void kernel_proc_test (bool verbose);

#endif
