/*  broker_internal — what broker.c (sockets, frontend) and broker_kernel.c
    (kernel lifecycle, backend, timers) share. Not for other modules.      */
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
#include "signal_pipe.h"
#include "zygote_proc.h"

//  A kernel on its way out (closed, evicted, killed): no longer any
//  session's, but still a child to SIGKILL if it lingers and to reap.
typedef struct {
    pid_t pid;
    char kernel_id [64];
    int64_t kill_at;                //  when to SIGKILL; 0 = already sent
} broker_doomed_t;

struct _broker_t {
    config_t *cfg;                  //  borrowed
    zsock_t *frontend;              //  ROUTER, clients
    zsock_t *backend;               //  ROUTER, kernels
    session_table_t *sessions;
    zlistx_t *doomed;               //  broker_doomed_t *
    zygote_proc_t *zygote;          //  NULL when the setting zygote is off
    clients_t *clients;             //  labels, owed `detached` notices
    signal_pipe_t *signals;         //  SIGTERM, SIGINT, SIGCHLD wake the loop
    char *runtime_dir;              //  absolute
    char *work_root;                //  <runtime_dir>/work
    bool runtime_dir_ours;          //  we created it, so we remove it all
    uint64_t kernel_seq;
    int64_t started_at;
    int64_t next_heartbeat;
    int64_t next_idle_check;
    int64_t next_housekeeping;
};

#define broker_debug(self, ...) \
    do { if ((self)->cfg->verbose) zsys_debug (__VA_ARGS__); } while (0)

//  --- broker.c: sending ----------------------------------------------------

//  Sends *msg_p (taken) to the client with routing id client (borrowed),
//  never blocking. Returns 0, or -1 with errno EAGAIN (its queue is full)
//  or EHOSTUNREACH (it is gone); the message is then dropped.
int broker_send_client (broker_t *self, zframe_t *client, zmsg_t **msg_p);
//  Sends *msg_p to session's kernel (its routing id prefixed); a failed
//  send drops it (the kernel's liveness timer deals with a dead kernel).
void broker_send_kernel (broker_t *self, session_t *session, zmsg_t **msg_p);
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
//  --- broker_attached.c: the attached clients (protocol.md 4.5) -------

//  Sends *msg_p (taken) to every client attached to session but requester
//  (may be NULL). A client whose queue is full is detached everywhere and
//  owed a `detached` notice; a gone one is detached.
void broker_fanout (broker_t *self, session_t *session, zframe_t *requester,
                    zmsg_t **msg_p);
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

//  --- broker_kernel.c: kernels ------------------------------------------

//  Moves the session forward: starts a kernel when requests wait and there
//  is none, or sends the next request to an idle kernel.
void broker_dispatch (broker_t *self, session_t *session);
//  Handles one message from the backend (routing id first).
void broker_backend_message (broker_t *self, zmsg_t **msg_p);
//  Sends a kernel on its way out: after close (send_close) or SIGTERM, it
//  gets kill_grace_ms before SIGKILL. Unbinds it from the session.
void broker_kernel_retire (broker_t *self, session_t *session, bool send_close);
//  Reaps exited children and handles each death.
void broker_reap (broker_t *self);
//  Runs the timers that are due; returns ms until the next one.
int64_t broker_timers (broker_t *self);
//  Stops every kernel and waits for them (shutdown).
void broker_stop_kernels (broker_t *self);
//  Creates runtime_dir (0700) and its work dir. Returns 0 or -1 (logged).
int broker_runtime_dir_create (broker_t *self);
//  Removes the runtime dir (all of it when we created it).
void broker_runtime_dir_remove (broker_t *self);
//  Starts the zygote when the setting zygote is on. Returns 0, or -1 when it
//  could not be spawned (logged; it is retried, sessions still start).
int broker_zygote_start (broker_t *self);

#endif
