/*  broker_internal — what the broker's files share: broker.c (the loop,
    sockets, frontend dispatch), broker_recv.c (the frontend's receive
    path and its allocation-free heartbeat answer), broker_attached.c (clients sharing a session),
    broker_kernel.c (kernels: starting, routing, deaths, timers),
    broker_hosts.c (kernel hosts) and broker_resume.c (a restarted broker).
    Not for other modules.                                                */
#ifndef KMQ_BROKER_INTERNAL_H
#define KMQ_BROKER_INTERNAL_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "broker.h"
#include "config.h"
#include "proto.h"
#include "session.h"
#include "clients.h"
#include "outbox.h"
#include "signal_pipe.h"
#include "hosts.h"
#include "auth.h"
#include "owners.h"
#include "keys.h"

struct _broker_t {
    config_t *cfg;                  //  borrowed
    zsock_t *frontend;              //  ROUTER, clients
    zsock_t *backend;               //  ROUTER, kernel hosts and kernels
    auth_t *auth;                   //  ZAP handler of the CURVE endpoints
    owners_t *owners;               //  whose each session is, shared with whom
    char *owner_key;                //  the owner's client key: may shutdown (NULL: anyone)
    session_table_t *sessions;
    hosts_t *hosts;                 //  the kernel hosts connected
    clients_t *clients;             //  labels, owed `detached` notices
    outbox_t *outbox;               //  what waits for clients whose queue is full
    zlistx_t *resumes;              //  broker_resume_t *: parked until settled
    zhashx_t *retired;              //  kernel id -> (intptr_t) until: ignore it
    zhashx_t *snapshots;            //  session key -> host id: evicted with a
                                    //  snapshot there, restored by its next kernel
    signal_pipe_t *signals;         //  SIGTERM, SIGINT wake the loop
    bool stopping;                  //  `shutdown` asked: the loop ends
    zframe_t *shutdown_client;      //  a shutdown with sessions waiting for the
    uint64_t shutdown_id;           //  hosts to settle (broker_shutdown_check)
    uint64_t epoch;                 //  random, this broker process's: in hello
                                    //  and heartbeats, so clients see a restart
    zmsg_t *heartbeat_reply;        //  {type:heartbeat, epoch}, built once
    uint64_t kernel_seq;
    uint64_t host_seq;              //  ids of our requests to hosts
    int64_t started_at;
    int64_t no_host_since;          //  when the last host went (or started_at)
    int64_t next_heartbeat;
    int64_t next_idle_check;
    int64_t next_housekeeping;
    int64_t next_local_host;        //  when to look for (or start) the local host
    uint64_t local_host_starts;     //  how often we started it
};

//  A `resume` that waits for the hosts to settle (protocol.md 12.2).
typedef struct {
    zframe_t *client;
    uint64_t id;                    //  the resume's id
    uint64_t request;               //  the request resumed
    char session [PROTO_SESSION_MAX + 1];
    int64_t deadline;               //  answered LOST past it, settled or not
} broker_resume_t;

#define broker_debug(self, ...) \
    do { if ((self)->cfg->verbose) zsys_debug (__VA_ARGS__); } while (0)

//  --- broker.c: sending ----------------------------------------------------

//  Sends *msg_p (taken) to the client with routing id client (borrowed),
//  never blocking: when its queue is full the message waits in the
//  outbox, in order (outbox.h). Returns 0 (sent or waiting), or -1 with
//  errno EHOSTUNREACH (it is gone) or ENOBUFS (far too much waits for
//  it); the message is then dropped.
int broker_send_client (broker_t *self, zframe_t *client, zmsg_t **msg_p);
//  The same for a message a slow client may miss (an attached client's
//  copy, a notice): never kept, and never ahead of what waits for it.
//  -1 with errno EAGAIN when its queue is full or messages wait for it.
int broker_send_droppable (broker_t *self, zframe_t *client, zmsg_t **msg_p);
//  Sends *msg_p to session's kernel (its routing id prefixed); a failed
//  send drops it (the kernel's liveness timer deals with a dead kernel).
void broker_send_kernel (broker_t *self, session_t *session, zmsg_t **msg_p);
//  After a send to client failed with error (a zmq errno): a gone client
//  is forgotten (EHOSTUNREACH), a full queue noted at debug.
void broker_send_failed (broker_t *self, zframe_t *client, int error);
//  Decodes and dispatches *msg_p (taken): a client's request, routing id
//  first. user is the CURVE key that sent it ("" without CURVE).
void broker_frontend_message (broker_t *self, zmsg_t **msg_p, const char *user);
//  Error reply to a client; session may be NULL, cause NULL.
void broker_send_error (broker_t *self, zframe_t *client, uint64_t id,
                        const char *session, proto_error_t code,
                        const char *cause, const char *message);
//  Answers a request with an error and destroys it.
void broker_fail_request (broker_t *self, session_t *session,
                          session_request_t **req_p, proto_error_t code,
                          const char *cause, const char *message);
//  Answers every queued request of session with the same error.
void broker_fail_queue (broker_t *self, session_t *session, proto_error_t code,
                        const char *cause, const char *message);
//  --- broker_recv.c: the frontend's receive path ---------------------------

//  Builds self->heartbeat_reply from self->epoch (broker_new, once).
void broker_recv_prepare (broker_t *self);
//  Receives one message from the frontend without blocking and handles it:
//  a client's heartbeat is answered at once, anything else goes to
//  broker_frontend_message. Returns 0, or -1 when there was none (EAGAIN)
//  or a signal came (EINTR).
int broker_recv_frontend (broker_t *self);

//  --- broker_attached.c: the attached clients (protocol.md 4.5) -------

//  Sends *msg_p (taken) to every client attached to session but requester
//  (may be NULL). A client whose queue is full is detached everywhere and
//  owed a `detached` notice; a gone one is detached.
void broker_fanout (broker_t *self, session_t *session, zframe_t *requester,
                    zmsg_t **msg_p);
//  True when a client other than requester is attached to session.
bool broker_has_peers (session_t *session, zframe_t *requester);
//  The re-addressed copy of msg (an event or reply of req; event renames
//  it, e.g. "outcome") for the attached clients other than req's client.
void broker_fanout_copy (broker_t *self, session_t *session, session_request_t *req,
                         const proto_msg_t *msg, const char *event);
//  `status` busy or idle for req, to the attached clients but its client.
void broker_tell_status (broker_t *self, session_t *session, session_request_t *req,
                         const char *state);
//  An event (id 0) with message and, when not NULL, state, to every
//  attached client: `evicted`, `kernel` (starting, died).
void broker_tell_attached (broker_t *self, session_t *session, const char *event,
                           const char *state, const char *message);
//  client is gone (its routing id unreachable): detached everywhere.
void broker_client_gone (broker_t *self, zframe_t *client);
//  Tries to send the owed `detached` notices; drops those sent or past
//  their time.
void broker_send_notices (broker_t *self, int64_t now);

//  Carries out a `shutdown` with sessions that waited for the hosts to
//  settle, once they have (broker.c; called by the timers).
void broker_shutdown_check (broker_t *self, int64_t now);

//  --- broker_kernel.c: kernels (the kernel contract, broker side) -------

//  Moves the session forward: starts a kernel when requests wait and there
//  is none, or sends the next request to an idle kernel.
void broker_dispatch (broker_t *self, session_t *session);
//  Handles one message from the backend (routing id first): a kernel's,
//  or a host's (passed to broker_host_message).
void broker_backend_message (broker_t *self, zmsg_t **msg_p);
//  How a kernel is sent on its way out.
typedef enum {
    BROKER_RETIRE_KILL,             //  its host SIGKILLs it at once
    BROKER_RETIRE_CLOSE,            //  `close`: it ends its executor and exits
    BROKER_RETIRE_SNAPSHOT          //  `close {snapshot}`: it stores the session's
                                    //  state first (protocol.md 10.3)
} broker_retire_t;

//  Sends a kernel on its way out as how says, and `stop` to its host,
//  which SIGKILLs it if it lingers past kill_grace_ms (plus the snapshot's
//  time bound for a snapshot; at once for a kill). Unbinds it.
void broker_kernel_retire (broker_t *self, session_t *session, broker_retire_t how);
//  The session's kernel is gone or going (the caller dealt with the
//  process): unbinds it, answers what it held, tells the attached clients
//  and starts a fresh kernel for what is queued.
void broker_kernel_lost (broker_t *self, session_t *session, const char *cause);
//  Dispatches every session that waits for a kernel (after a host came, or
//  the hosts settled).
void broker_dispatch_waiting (broker_t *self);
//  A session whose kernel never came up, with nothing to keep (no state,
//  no clients, nothing queued), is forgotten so failures don't fill the
//  table. Callers must not use session afterwards.
void broker_forget_if_empty (broker_t *self, session_t *session);
//  A start that would give a session a second kernel waits: true while
//  requests for sessions without a kernel must not start one.
bool broker_kernel_starts_wait (broker_t *self, int64_t now);
//  The sandbox report of a ready kernel (fresh or resumed): recorded, and
//  a kernel lacking a layer of sandbox_require refused (retired, lost).
//  Returns true when it may serve.
bool broker_sandbox_accepted (broker_t *self, session_t *session, proto_msg_t *ready);
//  Runs the timers that are due; returns ms until the next one.
int64_t broker_timers (broker_t *self);

//  --- broker_hosts.c: kernel hosts (protocol.md 12.1) --------------------

//  Asks a host to start session's kernel (bound at once, STARTING). With no
//  host to take it, the session waits (none connected yet) or its queue
//  is answered KERNEL_DIED; returns -1 then (the session may be gone).
int broker_host_start_kernel (broker_t *self, session_t *session);
//  Asks session's host to end kernel_id, SIGKILL after grace_ms.
void broker_host_stop_kernel (broker_t *self, const char *host, const char *session,
                              const char *kernel_id, uint64_t grace_ms);
//  A message from routing id route "host:<id>" (decoded; borrowed).
void broker_host_message (broker_t *self, zframe_t *route, proto_msg_t *msg);
//  Heartbeats every host.
void broker_hosts_heartbeat (broker_t *self);
//  Loses hosts silent too long (their sessions' kernels with them), starts
//  the local host when it should run and does not, and answers requests
//  that waited too long for any host.
void broker_hosts_check (broker_t *self, int64_t now);
//  True while a restarted broker waits for kernels to come back.
bool broker_hosts_settling (broker_t *self, int64_t now);
//  Sends every host `shutdown` (end your sessions and exit).
void broker_hosts_shutdown (broker_t *self);
//  Adds the hosts and the local host's zygote to a stats reply.
void broker_hosts_stats (broker_t *self, proto_builder_t *builder);

//  --- broker_resume.c: a broker that restarted (protocol.md 12.2) -------

//  A kernel this broker does not know sent ready (resumed): binds it, or
//  closes it when its session has another kernel.
void broker_kernel_resumed (broker_t *self, const char *kernel_id, proto_msg_t *ready);
//  A reply from session's kernel that no request in flight waits for: the
//  answer to a client's resume (resent reply). Returns true when it was.
bool broker_resend_reply (broker_t *self, session_t *session, proto_msg_t *reply);
//  The kernel of session is gone: answers the clients waiting for a
//  reply it held.
void broker_resend_fail (broker_t *self, session_t *session);
//  The client request `resume`.
void broker_resume (broker_t *self, zframe_t *client, proto_msg_t *req);
//  Answers the parked resumes once the hosts settled or past their time.
void broker_resumes_check (broker_t *self, int64_t now);
//  kid was unbound from its session (retired, lost): for a while, its last
//  messages are ignored, never taken for a kernel that comes back.
void broker_kernel_retired (broker_t *self, const char *kid);
bool broker_kernel_was_retired (broker_t *self, const char *kid);
//  Forgets the retired kernels past their while.
void broker_retired_purge (broker_t *self, int64_t now);

//  --- broker_trust.c: identities, owners, shares (protocol.md 13) ---

//  Who sent req: the key its connection proved (user, the message's
//  User-Id; "local" when none), or the key a gateway's `as` names. Fills
//  identity; false after answering req with an error (an `as` from a key
//  that is no gateway, or one that is not a key).
bool broker_identity (broker_t *self, zframe_t *client, proto_msg_t *req,
                      const char *user, char *identity, size_t size);
//  May identity send req (session-bound) to its session? A request that
//  may start a session claims it. False after answering FORBIDDEN.
bool broker_permitted (broker_t *self, zframe_t *client, proto_msg_t *req,
                       const char *identity);
//  May identity stop the broker (`shutdown`)? Its owner's key (the config
//  dir's client.key) or, without CURVE, anyone. False after FORBIDDEN.
bool broker_may_shutdown (broker_t *self, zframe_t *client, proto_msg_t *req,
                          const char *identity);
//  `share`: answers req.
void broker_share (broker_t *self, zframe_t *client, proto_msg_t *req,
                   const char *identity);

#endif
