/*  kernel_proc — kmq-kernel processes: spawn, signal, reap, describe.

    Kernels run in their own process group, so a terminal's Ctrl-C reaches
    the kernel host only; the host decides how kernels end. A kernel starts
    with an empty signal mask and default dispositions, whatever the broker
    has blocked or ignored.
*/
#ifndef KMQ_KERNEL_PROC_H
#define KMQ_KERNEL_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "config.h"
#include "kernel_contract.h"

//  Starts path with argv (NULL-terminated, argv [0] included) in a new
//  process group. Returns the pid, or -1 with errno set (e.g. ENOENT when
//  path does not exist).
pid_t kernel_proc_spawn (const char *path, char *const argv []);

//  The same, with the child's stdin the read end of a new pipe whose
//  write end (close-on-exec) is returned in *feed_fd.
pid_t kernel_proc_spawn_fed (const char *path, char *const argv [], int *feed_fd);

//  Fills *settings (common/kernel_contract.h) with what cfg decides for
//  every kernel and for the zygote: the endpoint, heartbeats, timeouts,
//  limits, pool size and verbosity; the rest at the contract's defaults.
//  The caller adds the session's identity (or the zygote's socket) and
//  starts it with kernel_proc_start. Strings are borrowed from cfg.
void kernel_proc_settings (const config_t *cfg, kernel_settings_t *settings);

//  Starts path as a kernel (or the zygote) with settings: kernel_proc_spawn
//  of the argv kernel_contract_argv builds. Returns the pid, or -1 with
//  errno set.
pid_t kernel_proc_start (const char *path, const kernel_settings_t *settings);

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
