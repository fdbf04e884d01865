/*  auth — the broker's CURVE servers and its ZAP handler.

    Every tcp endpoint the broker binds is a CURVE server (unless
    --insecure) whose ZAP domain names its allowlist in the config dir
    (keys.h): the frontend's is "clients" (clients/, and gateways/, since a
    gateway is a client too), the backend's "hosts" (hosts/). The handler
    answers libzmq's ZAP requests (RFC 27) in the broker's own loop: a key
    in the allowlist gets 200 with its z85 public key as User-Id, which the
    broker reads from each message (zframe_meta) as the sender's identity;
    any other key gets 400 and the handshake fails, so the peer never
    delivers a message. The allowlists are czmq certificate stores, which
    notice files added or removed while the broker runs.

    A peer that comes without CURVE to a CURVE endpoint fails before ZAP
    (mechanism mismatch): a socket monitor on each CURVE endpoint reports
    those. Refusals are logged one line each, at most AUTH_LOG_BURST lines
    per AUTH_LOG_WINDOW_MS for each kind (a key denied, a peer without
    CURVE), then one line that counts the rest, so a thousand attempts
    cost a few lines and a flood of one kind never hides the other.
*/
#ifndef KMQ_AUTH_H
#define KMQ_AUTH_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define AUTH_LOG_BURST      5
#define AUTH_LOG_WINDOW_MS  10000

typedef struct _auth_t auth_t;

//  Binds the ZAP handler (inproc://zeromq.zap.01) in czmq's context; it
//  must exist before a CURVE server socket takes a connection. dir is the
//  config dir (borrowed, must outlive self). Returns NULL after logging.
auth_t *auth_new (const char *dir);
void auth_destroy (auth_t **self_p);

//  Makes sock, before it binds endpoint, a CURVE server with cert in ZAP
//  domain ("clients" or "hosts") when endpoint is tcp; watches it for
//  peers without CURVE. Call auth_watch after the bind. No-op for ipc.
void auth_server (auth_t *self, zsock_t *sock, const char *endpoint, zcert_t *cert,
                  const char *domain);
//  Starts the monitor of a bound CURVE server socket (what: its name in
//  logs). Returns 0 or -1 (logged; the endpoint still works).
int auth_watch (auth_t *self, zsock_t *sock, const char *what);

//  The sockets the broker polls: the ZAP handler's and the monitors'.
//  Fills items (at most AUTH_POLL_MAX), returns how many.
#define AUTH_POLL_MAX 3
size_t auth_poll_items (auth_t *self, zmq_pollitem_t *items);
//  Answers every waiting ZAP request and reads every monitor event,
//  without blocking.
void auth_handle (auth_t *self);

//  True when identity is a key in gateways/ (may speak for others).
bool auth_is_gateway (auth_t *self, const char *identity);

//  Refusals seen so far (ZAP denials and failed handshakes).
uint64_t auth_refusals (auth_t *self);

//  Selftest.
void auth_test (bool verbose);

#endif
