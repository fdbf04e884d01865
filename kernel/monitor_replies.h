/*  monitor_replies — what a kernel remembers of the requests it answered,
    so a client can learn their outcome after the broker restarted
    (protocol.md 12.2).

    It holds copies of the last MONITOR_REPLIES_KEPT replies (at most
    MONITOR_REPLIES_BYTES together: the oldest go first) and the ids of the
    last MONITOR_REPLIES_SEEN requests received. Pure data; lives as long
    as the kernel process.
*/
#ifndef KMQ_MONITOR_REPLIES_H
#define KMQ_MONITOR_REPLIES_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define MONITOR_REPLIES_KEPT   16
#define MONITOR_REPLIES_BYTES  (64u << 20)
#define MONITOR_REPLIES_SEEN   1024

typedef struct _monitor_replies_t monitor_replies_t;

//  An empty record. Never NULL.
monitor_replies_t *monitor_replies_new (void);
//  Frees it and the replies it holds. No-op on NULL.
void monitor_replies_destroy (monitor_replies_t **self_p);

//  A request with id arrived.
void monitor_replies_received (monitor_replies_t *self, uint64_t id);
//  Keeps a copy of reply (borrowed) as the answer to id. A reply bigger
//  than MONITOR_REPLIES_BYTES is not kept.
void monitor_replies_keep (monitor_replies_t *self, uint64_t id, zmsg_t *reply);

//  A copy of the reply to id (the caller owns it), or NULL when not held.
zmsg_t *monitor_replies_copy (monitor_replies_t *self, uint64_t id);
//  True when a request with id was received (among the last ones).
bool monitor_replies_seen (monitor_replies_t *self, uint64_t id);
//  The ids of the replies held, oldest first, into ids (at most
//  MONITOR_REPLIES_KEPT); returns how many.
size_t monitor_replies_ids (monitor_replies_t *self, uint64_t *ids);

//  The ids of the requests received, oldest first, into ids (at most
//  MONITOR_REPLIES_SEEN); returns how many.
size_t monitor_replies_seen_ids (monitor_replies_t *self, uint64_t *ids);

//  Selftest.
void monitor_replies_test (bool verbose);

#endif
