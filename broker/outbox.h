/*  outbox — what the broker owes clients whose frontend queue is full.

    The frontend is a ROUTER whose sends never block (ROUTER_MANDATORY, a
    send timeout of 0): a client that reads slower than its session writes
    (a cell printing 200,000 lines to a Python client over CURVE) fills
    its queue, and a send then fails with EAGAIN. A requester's events and
    its reply must not be lost that way, so the message waits here, in
    order behind anything already waiting for that client, and is sent
    once its queue takes messages again (outbox_flush, from the broker's
    loop, which polls again soon while anything waits).

    Bounded: past OUTBOX_MAX_BYTES waiting for one client (a client that
    stopped reading altogether), its further messages are dropped, said
    once per outage. Keyed by routing id; a client found gone
    (EHOSTUNREACH) loses what waited for it.
*/
#ifndef KMQ_OUTBOX_H
#define KMQ_OUTBOX_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#define OUTBOX_MAX_BYTES  (512u << 20)

typedef struct _outbox_t outbox_t;

outbox_t *outbox_new (void);
//  Destroys what still waits. No-op on NULL.
void outbox_destroy (outbox_t **self_p);

//  Sends *msg_p (taken) to client on router, or keeps it behind what
//  already waits for client. Returns 0 (sent or kept), or -1 with errno:
//  EHOSTUNREACH (client gone: what waited for it is dropped too), ENOBUFS
//  (over OUTBOX_MAX_BYTES: dropped), or the send's error.
int outbox_send (outbox_t *self, zsock_t *router, zframe_t *client, zmsg_t **msg_p);

//  Sends *msg_p (taken) to client on router now, or drops it: a message
//  a slow client may miss (an attached client's copy, a notice), which
//  never overtakes what waits for it. Returns 0, or -1 with errno EAGAIN
//  (its queue is full, or messages wait for it) or the send's error.
int outbox_send_or_drop (outbox_t *self, zsock_t *router, zframe_t *client,
                         zmsg_t **msg_p);

//  Sends what waits, per client in order, while their queues take it.
//  Clients found gone are appended (routing id copies) to gone when it is
//  not NULL.
void outbox_flush (outbox_t *self, zsock_t *router, zlistx_t *gone);

//  Messages waiting for all clients.
size_t outbox_waiting (outbox_t *self);

//  Selftest.
void outbox_test (bool verbose);

#endif
