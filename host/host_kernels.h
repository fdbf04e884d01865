/*  host_kernels — the kernel processes a kernel host runs: one `kmq-kernel`
    per session, started on the broker's `start`, ended on its `stop` or
    the host's shutdown, reaped here.

    Each kernel is a child of the host, in its own process group, dying with
    the host (its PR_SET_PDEATHSIG). Ending one is SIGTERM, then SIGKILL to
    its group (its executor too) when it lingers past its grace. Its work
    dir (<work_root>/<kernel id>) goes when it is reaped; the kernel removes
    it itself when it can. Pure bookkeeping and signals: the host's loop
    reaps children and says what happened to the broker.
*/
#ifndef KMQ_HOST_KERNELS_H
#define KMQ_HOST_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cgroup.h"
#include "config.h"

typedef struct _host_kernels_t host_kernels_t;

//  What the host learns of a reaped kernel.
typedef struct {
    char session [129];
    char kernel_id [64];
    pid_t pid;
    int status;                     //  the raw wait status
    char cause [96];                //  "exit status 0", "signal 9 (Killed)"
} host_kernel_exit_t;

//  A table for cfg's kernels (borrowed), whose work dirs go under work_root
//  (copied), in groups of cgroups (borrowed; NULL: no groups). Never NULL.
host_kernels_t *host_kernels_new (config_t *cfg, const char *work_root,
                                  cgroup_host_t *cgroups);

//  With cgroup v1 and a zygote: makes the spare groups its pool
//  executors are forked in (cgroup.h), keeps them made after each start,
//  and returns the parent group list the zygote takes as --cgroup-spares
//  (the caller's); NULL without (no cgroups, or v2).
char *host_kernels_spares (host_kernels_t *self);
//  Forgets the table; kills nothing (call host_kernels_stop_all first).
//  No-op on NULL.
void host_kernels_destroy (host_kernels_t **self_p);

//  Starts the kernel of session with routing id kernel_id; notice (may be
//  NULL) is its first reply's state_lost notice, zygote (may be NULL) the
//  zygote's socket. Returns its pid, or -1 with a sentence in why. A
//  kernel id already running is refused.
pid_t host_kernels_start (host_kernels_t *self, const char *session,
                          const char *kernel_id, const char *notice, bool restore,
                          const char *zygote, char *why, size_t why_size);

//  Ends kernel_id, which was asked to exit already (the broker's close, or
//  not at all when grace_ms is 0): SIGKILL to its group when it still runs
//  grace_ms from now (0: now). Returns false when it runs no such kernel.
bool host_kernels_stop (host_kernels_t *self, const char *kernel_id, uint64_t grace_ms,
                        int64_t now);
//  Ends every kernel, and lets the standby kernels go (no session will come
//  for them): SIGTERM now when term (a kernel then snapshots its
//  session when snapshots are on), SIGKILL to its group after grace_ms (0:
//  SIGKILL now).
void host_kernels_stop_all (host_kernels_t *self, uint64_t grace_ms, bool term,
                            int64_t now);

//  If pid is one of ours: forgets it, removes its work dir, fills *exit
//  and returns true.
bool host_kernels_reaped (host_kernels_t *self, pid_t pid, int status,
                          host_kernel_exit_t *exit);

//  Sends the SIGKILLs that are due. Returns ms until the next one, or -1.
int64_t host_kernels_tick (host_kernels_t *self, int64_t now);

//  Kernels running (not yet reaped).
size_t host_kernels_count (host_kernels_t *self);

//  One kernel's CPU use, from its group.
typedef struct {
    const char *kernel_id;          //  borrowed until the table changes
    double cpu_s;                   //  CPU seconds its executor used in all
    double cpus;                    //  CPUs it used since the last sample
                                    //  (1.0 = one CPU all the time)
} host_kernel_cpu_t;

//  Samples the CPU time of every kernel in a group at now (ms, monotonic)
//  and fills out with those that used any since the last sample (at most
//  max). Returns how many were filled; 0 without groups.
size_t host_kernels_cpu (host_kernels_t *self, int64_t now, host_kernel_cpu_t *out,
                         size_t max);

//  Selftest.
void host_kernels_test (bool verbose);

#endif
