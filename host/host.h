/*  host — kmq-host, a kernel host: runs the kernels of a broker's sessions
    on one machine (protocol.md section 12).

    It connects to the broker's backend as a DEALER (routing id
    "host:<host_id>"), says `host_ready`, and then heartbeats with
    `host_status`. On `start` it spawns a session's `kmq-kernel` (the
    kernel connects to the broker itself, so the host is never on a
    request's path), on `stop` it ends one, on `shutdown` it ends them all
    and exits. It owns the zygote and restarts it, reaps every child, and
    reports each kernel's end as `kernel_exited`.

    It outlives the broker: when the broker is silent it waits
    broker_grace_s (its kernels too), and a restarted broker that asks who
    it is (`reregister`) hears `host_ready` again. Past the grace it ends
    its sessions and exits.

    One host per runtime dir: it holds the runtime dir's host lock
    (common/host_lock.h) for its life, which is also how a broker tells
    that a local host already runs.

    The model, and why (the README's DESIGN notes): one monitor process per
    session under the host, as containerd runs a shim per container. A
    fault in one session (an executor that floods, hangs, crashes or sends
    garbage) stays in that session's monitor; the host's loop never talks
    to an executor, so it never blocks on one; and the broker sees the host's
    death as "host lost" for each of its sessions.
*/
#ifndef KMQ_HOST_H
#define KMQ_HOST_H

#include <stdbool.h>
#include "config.h"

typedef struct _host_t host_t;

//  Takes the runtime dir's lock, creates the work root, starts the zygote
//  (when configured) and connects to the broker. Borrows cfg. Returns NULL
//  after logging why (another host holds the lock: *already set).
host_t *host_new (config_t *cfg, bool *already);

//  Runs until SIGTERM or SIGINT (then its kernels end), the broker's
//  `shutdown`, or a broker silent past broker_grace_s. Returns 0, or -1
//  when polling failed.
int host_run (host_t *self);

//  Ends every kernel still running (SIGTERM, kill_grace_ms, SIGKILL) and
//  the zygote, reaps them, releases the lock. No-op on NULL.
void host_destroy (host_t **self_p);

#endif
