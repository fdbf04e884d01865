/*  zygote_proc — the kernel host's zygote: one `kmq-kernel --zygote SOCKET`
    process that forks executors (from a warm pool) for the host's kernels.

    The host starts it, and restarts it when it exits, at most once per
    restart interval (1 s), logging each death and each restart; meanwhile
    kernels fork their executors themselves. It runs in its own process
    group, like a kernel, and dies with the host (PR_SET_PDEATHSIG). At
    shutdown the host takes its pid (zygote_proc_release) and stops it
    with the kernels.

    This module only spawns and tracks the process; the caller reaps
    children and hands this module the zygote's exit (zygote_proc_exited).
*/
#ifndef KMQ_ZYGOTE_PROC_H
#define KMQ_ZYGOTE_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"

typedef struct _zygote_proc_t zygote_proc_t;

//  Milliseconds between a zygote's death and its restart (and between two
//  restarts at most once per this interval).
#define ZYGOTE_PROC_RESTART_MS  1000

//  Creates the zygote tracker (no process yet). Borrows config; the socket
//  is <runtime_dir>/zygote.sock. Never NULL.
zygote_proc_t *zygote_proc_new (config_t *config, const char *runtime_dir);

//  The parent groups whose spare-N children the zygote forks its pool
//  in (host_kernels_spares; taken, NULL for none): from its next start.
void zygote_proc_set_spares (zygote_proc_t *self, char *list);

//  Destroys the tracker; does not touch the process (release and stop it
//  first). No-op on NULL.
void zygote_proc_destroy (zygote_proc_t **self_p);

//  Starts the zygote now. Returns 0 (logged "zygote PID started (pool N)"),
//  or -1 when it could not be spawned (logged; a restart is scheduled).
int zygote_proc_start (zygote_proc_t *self, int64_t now);

//  If pid is the zygote, records its death (logged as a warning with its
//  status), schedules the restart and returns true; else false.
bool zygote_proc_exited (zygote_proc_t *self, pid_t pid, int status, int64_t now);

//  Restarts the zygote when a restart is due. Returns the ms until the next
//  restart is due, or -1 when none is pending.
int64_t zygote_proc_tick (zygote_proc_t *self, int64_t now);

//  Stops tracking the zygote and returns its pid (0 when none runs), so the
//  caller can stop and reap it; no restart follows.
pid_t zygote_proc_release (zygote_proc_t *self);

//  The zygote's pid (0 when none runs), restarts so far, and its socket
//  path (what kernels get as --zygote).
pid_t zygote_proc_pid (zygote_proc_t *self);
uint64_t zygote_proc_restarts (zygote_proc_t *self);
const char *zygote_proc_socket (zygote_proc_t *self);

//  Selftest.
void zygote_proc_test (bool verbose);

#endif
