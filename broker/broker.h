/*  broker — the kmq-broker loop: one thread, two ROUTER sockets.

    The frontend ROUTER takes client requests; the backend ROUTER talks to
    one kmq-kernel per session. The loop polls both, drains whichever is
    ready, reaps exited kernels and runs the timers (heartbeats, liveness,
    start timeouts, idle eviction). See protocol.md and the kernel contract
    for what each message does.
*/
#ifndef KMQ_BROKER_H
#define KMQ_BROKER_H

#include "config.h"

typedef struct _broker_t broker_t;

//  Creates the runtime directory and binds both sockets. Borrows config
//  (it must outlive the broker). Returns NULL after logging why.
broker_t *broker_new (config_t *config);

//  Stops every kernel (SIGTERM, kill_grace_ms, then SIGKILL), reaps them,
//  closes the sockets and removes the runtime directory. No-op on NULL.
void broker_destroy (broker_t **self_p);

//  Runs the loop until SIGTERM or SIGINT. The loop polls a signal_pipe
//  (installed by broker_new for SIGTERM, SIGINT and SIGCHLD, SIGPIPE
//  ignored, until broker_destroy), so a
//  signal that lands anywhere, even just before the poll, wakes it at
//  once: an exited kernel is reaped and a stop is noticed without waiting
//  for a timer. Returns 0, or -1 if polling failed (logged).
int broker_run (broker_t *self);

#endif
