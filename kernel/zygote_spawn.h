/*  zygote_spawn — the `spawn` a zygote reads (protocol.md 10.2), decoded
    and checked in one place.

    Two readers take a spawn: the zygote, from a monitor's connection, and a
    pool child, from the zygote's hand-over. Both need the same answer to
    "is this a spawn I may act on", and the zygote's copy faces a peer it
    does not control, so the answer lives here, apart from the sockets and
    forks, where a fuzz harness (fuzz/zygote_spawn.c) can reach it.
*/
#ifndef KMQ_ZYGOTE_SPAWN_H
#define KMQ_ZYGOTE_SPAWN_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto.h"

//  Descriptors a spawn carries: the executor's socket, stdout, stderr.
#define ZYGOTE_SPAWN_FDS 3

typedef struct {
    uint64_t id;                            //  the spawn's id, to echo
    char session [PROTO_SESSION_MAX + 1];   //  its session key, "" if none
    char *notice;                           //  its state_lost text, owned;
                                            //  NULL when it carries none
} zygote_spawn_t;

//  Decodes *raw_p (taken and cleared), a datagram's message that came with
//  nfds descriptors, as a spawn: type spawn, exactly ZYGOTE_SPAWN_FDS
//  descriptors and, when fingerprint is not NULL, a `sandbox_config`
//  byte-for-byte equal to it. Fills *spawn as far as the message decoded,
//  so a refusal can still name the session and echo the id. Returns 0, or
//  -1 with why filled with a sentence for the error reply. Either way the
//  caller clears *spawn (zygote_spawn_clear).
int zygote_spawn_decode (zmsg_t **raw_p, size_t nfds, const char *fingerprint,
                         zygote_spawn_t *spawn, char *why, size_t why_size);

//  Frees what *spawn owns and zeroes it. No-op on a zeroed spawn.
void zygote_spawn_clear (zygote_spawn_t *spawn);

//  Selftest.
void zygote_spawn_test (bool verbose);

#endif
