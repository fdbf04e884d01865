/*  broker — the kmq-broker loop: one thread, two ROUTER sockets.

    The frontend ROUTER takes client requests; the backend ROUTER talks to
    one kmq-kernel per session. The loop polls both, drains whichever is
    ready, reaps exited kernels and runs the timers (heartbeats, liveness,
    start timeouts, idle eviction). See protocol.md and the kernel contract
    for what each message does.
*/
#ifndef KMQ_BROKER_H
#define KMQ_BROKER_H

#include <signal.h>
#include "config.h"

typedef struct _broker_t broker_t;

//  Creates the runtime directory and binds both sockets. Borrows config
//  (it must outlive the broker). Returns NULL after logging why.
broker_t *broker_new (config_t *config);

//  Stops every kernel (SIGTERM, kill_grace_ms, then SIGKILL), reaps them,
//  closes the sockets and removes the runtime directory. No-op on NULL.
void broker_destroy (broker_t **self_p);

//  Runs the loop until *stop becomes non-zero (set it from a signal
//  handler). Returns 0, or -1 if polling failed.
int broker_run (broker_t *self, volatile sig_atomic_t *stop);

#endif
