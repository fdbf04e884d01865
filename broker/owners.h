/*  owners — which key a session belongs to, and whom it is shared with.

    A session belongs to the identity (keys.h: a z85 public key, or "local"
    for every peer without CURVE) of the request that created it. Its
    owner, and the identities it shared it with, may use it; anyone else
    gets FORBIDDEN (protocol.md 13.2). Only the owner shares or unshares.

    A claim outlives the session's kernel: it holds while the session is
    evicted (its snapshot is its owner's alone) and across broker restarts
    (hosts re-register kernels by session key only), and ends when the
    session is closed. So it is kept in a log file of its own in the
    broker's runtime dir (0700), one line per change:

        claim SESSION IDENTITY | share SESSION IDENTITY |
        unshare SESSION IDENTITY | forget SESSION

    appended as it happens (a line, not the file, per change) and
    compacted when loaded. Sessions whose every user is "local" (ipc,
    --insecure) are not recorded: every client there is the same one.
*/
#ifndef KMQ_OWNERS_H
#define KMQ_OWNERS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _owners_t owners_t;

//  Loads (and compacts) the log at path, creating it when missing; NULL
//  path keeps claims in memory only. Never NULL; a log that cannot be
//  read or written is logged, and claims are then kept in memory.
owners_t *owners_new (const char *path);
void owners_destroy (owners_t **self_p);

//  May identity use session? True when it owns it or it was shared with
//  it, or when nobody has claimed it: then, with claim, identity becomes
//  its owner.
bool owners_check (owners_t *self, const char *session, const char *identity, bool claim);

//  The owner's identity, NULL when unclaimed (owned by self).
const char *owners_owner (owners_t *self, const char *session);

//  Shares session with identity with (or stops, with revoke). Returns 0;
//  -1 when by is not the owner (FORBIDDEN), -2 when nobody owns session.
int owners_share (owners_t *self, const char *session, const char *by,
                  const char *with, bool revoke);

//  The identities session is shared with (a fresh list of strings the
//  caller destroys with zlistx_destroy), empty when none.
zlistx_t *owners_shared (owners_t *self, const char *session);

//  Ends the claim (the session was closed).
void owners_forget (owners_t *self, const char *session);

size_t owners_size (owners_t *self);

//  Selftest.
void owners_test (bool verbose);

#endif
