/*  broker — the loop, the sockets and the frontend (see broker.h).
    Kernels, the backend and the timers live in broker_kernel.c, kernel
    hosts in broker_hosts.c, a restarted broker's work in broker_resume.c. */
#include "broker_internal.h"
#include "mem.h"
#include "signal_pipe.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BROKER_NAME     "kmq-broker 0.1.0"
#define S_DRAIN_BATCH   256         //  messages per socket per poll, for fairness
#define S_MAX_CLIENTS   100000      //  client labels remembered at most
#define S_LINGER_MS     1000        //  at exit, for the last replies to leave
#define S_BACKLOG       4096        //  connections waiting to be accepted (s_bind)
#define S_OUTBOX_RETRY_MS 2         //  while messages wait for a slow client

//  --- sending ------------------------------------------------------------

//  To client through the outbox: kept when its queue is full (keep), or
//  dropped then (a copy a slow client may miss).
static int
s_send_client (broker_t *self, zframe_t *client, zmsg_t **msg_p, bool keep)
{
    assert (msg_p && *msg_p);
    if (!client) {
        zmsg_destroy (msg_p);
        errno = EHOSTUNREACH;
        return -1;
    }
    int rc = keep? outbox_send (self->outbox, self->frontend, client, msg_p)
                 : outbox_send_or_drop (self->outbox, self->frontend, client, msg_p);
    if (rc == 0)
        return 0;
    int error = errno;
    broker_send_failed (self, client, error);
    errno = error;
    return -1;
}

int
broker_send_client (broker_t *self, zframe_t *client, zmsg_t **msg_p)
{
    return s_send_client (self, client, msg_p, true);
}

int
broker_send_droppable (broker_t *self, zframe_t *client, zmsg_t **msg_p)
{
    return s_send_client (self, client, msg_p, false);
}

void
broker_send_failed (broker_t *self, zframe_t *client, int error)
{
    //  ROUTER_MANDATORY and a send timeout of 0: never blocks
    if (error == EHOSTUNREACH)
        broker_client_gone (self, client);
    else
        broker_debug (self, "client %s: a message is dropped: %s",
                      clients_label (self->clients, client), zmq_strerror (error));
}

//  An error reply (cause may be NULL).
static zmsg_t *
s_error_reply (uint64_t id, const char *session, proto_error_t code,
               const char *cause, const char *message)
{
    proto_builder_t *builder = proto_reply_error_begin (id, session, code, message);
    if (cause)
        proto_builder_str (builder, "cause", cause);
    return proto_builder_finish (&builder);
}

void
broker_send_error (broker_t *self, zframe_t *client, uint64_t id,
                   const char *session, proto_error_t code,
                   const char *cause, const char *message)
{
    zmsg_t *msg = s_error_reply (id, session, code, cause, message);
    broker_send_client (self, client, &msg);
}

void
broker_fail_request (broker_t *self, session_t *session, session_request_t **req_p,
                     proto_error_t code, const char *cause, const char *message)
{
    assert (req_p);
    session_request_t *req = *req_p;
    if (!req)
        return;
    zmsg_t *reply = s_error_reply (req->id, session_key (session), code, cause, message);
    if (!req->msg && zlistx_size (session_attached (session)) > 0) {
        //  It was running: the others saw it start, so they see it end
        zmsg_t *copy = zmsg_dup (reply);
        proto_msg_t *decoded = proto_decode (&copy, NULL);
        if (decoded)
            broker_fanout_copy (self, session, req, decoded, "outcome");
        proto_msg_destroy (&decoded);
        broker_tell_status (self, session, req, "idle");
    }
    broker_send_client (self, req->client, &reply);
    session_request_destroy (req_p);
}

void
broker_fail_queue (broker_t *self, session_t *session, proto_error_t code,
                   const char *cause, const char *message)
{
    session_request_t *req;
    while ((req = session_dequeue (session)))
        broker_fail_request (self, session, &req, code, cause, message);
}

static void
s_send_ok (broker_t *self, zframe_t *client, uint64_t id, const char *session)
{
    zmsg_t *msg = proto_encode_ok (id, session);
    broker_send_client (self, client, &msg);
}

//  --- frontend requests ------------------------------------------------

static void
s_hello (broker_t *self, zframe_t *client, proto_msg_t *req)
{
    uint64_t id = proto_msg_id (req);
    uint64_t version = proto_msg_uint (req, "version", 0);
    if (version == 0) {
        broker_send_error (self, client, id, NULL, PROTO_E_UNSUPPORTED_VERSION, NULL,
                           "hello: version 0 is not a protocol version; this broker "
                           "speaks version 1, upgrade the client");
        return;
    }
    clients_set_label (self->clients, client, proto_msg_str (req, "client"));
    broker_debug (self, "client %s: hello version %" PRIu64,
                  clients_label (self->clients, client), version);
    proto_builder_t *builder = proto_reply_ok_begin (id, NULL);
    proto_builder_uint (builder, "version", version < PROTO_VERSION ? version : PROTO_VERSION);
    proto_builder_str (builder, "broker", BROKER_NAME);
    proto_builder_uint (builder, "heartbeat_ivl_ms", self->cfg->heartbeat_ivl_ms);
    proto_builder_uint (builder, "heartbeat_liveness", self->cfg->heartbeat_liveness);
    proto_builder_uint (builder, "max_payload", self->cfg->max_payload);
    proto_builder_uint (builder, "epoch", self->epoch);
    zmsg_t *msg = proto_builder_finish (&builder);
    broker_send_client (self, client, &msg);
}

//  A request as stats shows it: {request, client, request_type}.
static void
s_pack_request (broker_t *self, proto_builder_t *builder, session_request_t *req)
{
    proto_builder_val_map (builder, 3);
    proto_builder_val_str (builder, "request");
    proto_builder_val_uint (builder, req->id);
    proto_builder_val_str (builder, "client");
    proto_builder_val_str (builder, clients_label (self->clients, req->client));
    proto_builder_val_str (builder, "request_type");
    proto_builder_val_str (builder, proto_type_name ((proto_type_t) req->type));
}

static void
s_stats (broker_t *self, zframe_t *client, proto_msg_t *req, const char *identity)
{
    int64_t now = zclock_mono ();
    //  The list names only the sessions this key may use; the counts are
    //  the broker's
    zlistx_t *all = session_table_list (self->sessions);
    zlistx_t *list = zlistx_new ();
    for (session_t *s = (session_t *) zlistx_first (all); s;
         s = (session_t *) zlistx_next (all))
        if (owners_check (self->owners, session_key (s), identity, false))
            zlistx_add_end (list, s);
    zlistx_destroy (&all);
    proto_builder_t *builder = proto_reply_ok_begin (proto_msg_id (req), NULL);
    proto_builder_uint (builder, "version", PROTO_VERSION);
    proto_builder_str (builder, "broker", BROKER_NAME);
    proto_builder_uint (builder, "uptime_ms", (uint64_t) (now - self->started_at));
    proto_builder_uint (builder, "sessions", session_table_size (self->sessions));
    proto_builder_uint (builder, "kernels", session_table_kernels (self->sessions));
    proto_builder_uint (builder, "queued", session_table_queued (self->sessions));
    proto_builder_uint (builder, "max_sessions", self->cfg->max_sessions);
    proto_builder_uint (builder, "auth_refusals", self->auth ? auth_refusals (self->auth) : 0);
    broker_hosts_stats (self, builder);
    proto_builder_key (builder, "session_list");
    proto_builder_val_array (builder, (uint32_t) zlistx_size (list));
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list)) {
        session_request_t *running = session_inflight (s);
        bool cpu = session_cpu_s (s) >= 0;
        proto_builder_val_map (builder, (running? 13: 12) + (cpu? 3: 0));
        proto_builder_val_str (builder, "session");
        proto_builder_val_str (builder, session_key (s));
        proto_builder_val_str (builder, "state");
        proto_builder_val_str (builder, session_state_name (session_state (s)));
        proto_builder_val_str (builder, "pid");
        proto_builder_val_uint (builder, (uint64_t) session_pid (s));
        proto_builder_val_str (builder, "executor_pid");
        proto_builder_val_uint (builder, (uint64_t) session_executor_pid (s));
        proto_builder_val_str (builder, "host");
        proto_builder_val_str (builder, session_host (s));
        proto_builder_val_str (builder, "queued");
        proto_builder_val_uint (builder, session_queued (s));
        proto_builder_val_str (builder, "idle_ms");
        proto_builder_val_uint (builder, (uint64_t) session_idle_ms (s, now));
        proto_builder_val_str (builder, "requests");
        proto_builder_val_uint (builder, session_answered (s));
        proto_builder_val_str (builder, "sandbox");
        proto_builder_val_str (builder, session_sandbox (s));
        proto_builder_val_str (builder, "sandbox_missing");
        proto_builder_val_str (builder, session_sandbox_missing (s));
        if (cpu) {
            proto_builder_val_str (builder, "cpu_s");
            proto_builder_val_float (builder, session_cpu_s (s));
            proto_builder_val_str (builder, "cpus");
            proto_builder_val_float (builder, session_cpus (s));
            proto_builder_val_str (builder, "cpu_share");
            proto_builder_val_float (builder, session_cpu_share (s));
        }
        if (running) {
            proto_builder_val_str (builder, "running");
            s_pack_request (self, builder, running);
        }
        proto_builder_val_str (builder, "waiting");
        zlistx_t *waiting = session_waiting (s);
        proto_builder_val_array (builder, (uint32_t) zlistx_size (waiting));
        for (session_request_t *req = (session_request_t *) zlistx_first (waiting); req;
             req = (session_request_t *) zlistx_next (waiting))
            s_pack_request (self, builder, req);
        proto_builder_val_str (builder, "attached");
        proto_builder_val_uint (builder, zlistx_size (session_attached (s)));
    }
    zlistx_destroy (&list);
    zmsg_t *msg = proto_builder_finish (&builder);
    broker_send_client (self, client, &msg);
}

static void s_no_such_session (broker_t *self, zframe_t *client, uint64_t id,
                               const char *key, const char *what);

//  execute, upload, download, reset, vars, files: into the session's FIFO, which
//  starts the session (and its kernel) when the key is new; complete and
//  inspect: into the FIFO of a live session only.
static void
s_queue_request (broker_t *self, zframe_t *client, proto_msg_t **req_p)
{
    proto_msg_t *req = *req_p;
    const char *key = proto_msg_session (req);
    uint64_t id = proto_msg_id (req);
    int type = (int) proto_msg_type (req);
    int64_t now = zclock_mono ();
    if (!proto_session_valid (key, strlen (key))) {
        char text [128];
        snprintf (text, sizeof text, "%s: field session must be 1-%d bytes of "
                  "[A-Za-z0-9._:-]", proto_type_name ((proto_type_t) type),
                  PROTO_SESSION_MAX);
        broker_send_error (self, client, id, NULL, PROTO_E_BAD_REQUEST, NULL, text);
        return;
    }
    session_t *session = session_table_lookup (self->sessions, key);
    if (!session && (type == PROTO_COMPLETE || type == PROTO_INSPECT
                  || type == PROTO_IS_COMPLETE || type == PROTO_HISTORY)) {
        //  Completion of a session that does not exist has nothing to
        //  complete from: no kernel is started for it.
        s_no_such_session (self, client, id, key, proto_type_name ((proto_type_t) type));
        return;
    }
    if (!session) {
        session = session_table_create (self->sessions, key, now);
        if (!session) {
            char text [256];
            snprintf (text, sizeof text, "session %s: %" PRIu64 " sessions are live, the "
                      "limit; close one or raise max_sessions", key, self->cfg->max_sessions);
            broker_send_error (self, client, id, key, PROTO_E_SESSION_LIMIT, NULL, text);
            return;
        }
        zsys_info ("session %s: created%s", key,
                   session_state_lost (session) ? " (state lost earlier)" : "");
    }
    bool no_input = !proto_msg_bool (req, "input", true);
    uint64_t parts = type == PROTO_UPLOAD? proto_msg_uint (req, "parts", 1): 1;
    uint64_t bytes = proto_msg_uint (req, "bytes", 0);
    if (parts > 1 && bytes > self->cfg->max_payload) {
        //  In parts or not, an upload is bounded as one payload is
        char text [256];
        snprintf (text, sizeof text, "upload %s: %" PRIu64 " bytes, over max_payload "
                  "(%" PRIu64 "); send less or raise max_payload",
                  proto_msg_str (req, "name"), bytes, self->cfg->max_payload);
        broker_send_error (self, client, id, key, PROTO_E_TOO_LARGE, NULL, text);
        return;
    }
    size_t first_size = parts > 1? zframe_size (proto_msg_payload (req, 0)): 0;
    zmsg_t *frames = proto_msg_release (req_p);
    zframe_t *requester = zframe_dup (client);
    session_request_t *queued = session_request_new (&requester, &frames, id, type);
    queued->no_input = no_input;
    queued->parts = (uint32_t) parts;
    queued->bytes = bytes;
    queued->bytes_seen = first_size;
    if (session_enqueue (session, &queued)) {
        char text [256];
        snprintf (text, sizeof text, "session %s: %" PRIu64 " requests are already "
                  "waiting, the limit; wait for replies, then retry",
                  session_key (session), self->cfg->max_queue);
        broker_send_error (self, client, id, session_key (session), PROTO_E_QUEUE_FULL,
                           NULL, text);
        session_request_destroy (&queued);
        return;
    }
    session_touch (session, now);
    broker_dispatch (self, session);
}

//  The next piece of an upload in parts: after the upload to its kernel
//  when the upload runs, held with it while it waits. A piece nobody
//  waits for (its upload failed, was answered or never came; another
//  client's; out of order; past the bytes announced) is dropped: the
//  upload's own reply says what became of it, and a kernel missing a
//  piece ends the upload with an error (protocol.md 5, upload).
static void
s_upload_part (broker_t *self, zframe_t *client, proto_msg_t **part_p)
{
    proto_msg_t *part = *part_p;
    const char *key = proto_msg_session (part);
    uint64_t id = proto_msg_id (part);
    uint64_t number = proto_msg_uint (part, "part", 0);
    session_t *session = session_table_lookup (self->sessions, key);
    session_request_t *upload = session? session_inflight (session): NULL;
    bool running = upload && upload->id == id && zframe_eq (upload->client, client);
    if (session && !running) {
        zlistx_t *waiting = session_waiting (session);
        for (upload = (session_request_t *) zlistx_first (waiting); upload;
             upload = (session_request_t *) zlistx_next (waiting))
            if (upload->id == id && zframe_eq (upload->client, client))
                break;
    }
    if (!upload || !session_request_part_due (upload, number,
                                              zframe_size (proto_msg_payload (part, 0)))) {
        broker_debug (self, "session %s: dropped part %" PRIu64 " of upload %" PRIu64
                      ": no upload of this client waits for it", key, number, id);
        return;
    }
    session_touch (session, zclock_mono ());
    zmsg_t *frames = proto_msg_release (part_p);
    if (running)
        broker_send_kernel (self, session, &frames);
    else
        session_request_hold_part (upload, &frames);
}

static void
s_no_such_session (broker_t *self, zframe_t *client, uint64_t id, const char *key,
                   const char *what)
{
    char text [256];
    snprintf (text, sizeof text, "%s: no session %s is live; start one with execute",
              what, key);
    broker_send_error (self, client, id, key, PROTO_E_NO_SUCH_SESSION, NULL, text);
}

static void
s_interrupt (broker_t *self, zframe_t *client, proto_msg_t **req_p)
{
    proto_msg_t *req = *req_p;
    char key [PROTO_SESSION_MAX + 1];
    snprintf (key, sizeof key, "%s", proto_msg_session (req));
    uint64_t id = proto_msg_id (req);
    session_t *session = session_table_lookup (self->sessions, key);
    if (!session) {
        s_no_such_session (self, client, id, key, "interrupt");
        return;
    }
    session_state_t state = session_state (session);
    bool running = state == SESSION_BUSY && session_inflight (session);
    if (state == SESSION_IDLE || state == SESSION_BUSY) {
        //  The kernel never answers an interrupt; we do, below
        zmsg_t *frames = proto_msg_release (req_p);
        broker_send_kernel (self, session, &frames);
    }
    zsys_info ("session %s: interrupt (%s)", key, running ? "request running" : "nothing running");
    proto_builder_t *builder = proto_reply_ok_begin (id, key);
    proto_builder_bool (builder, "interrupted", running);
    zmsg_t *msg = proto_builder_finish (&builder);
    broker_send_client (self, client, &msg);
}

static void
s_close (broker_t *self, zframe_t *client, proto_msg_t *req)
{
    char key [PROTO_SESSION_MAX + 1];
    snprintf (key, sizeof key, "%s", proto_msg_session (req));
    uint64_t id = proto_msg_id (req);
    session_t *session = session_table_lookup (self->sessions, key);
    if (!session) {
        s_no_such_session (self, client, id, key, "close");
        return;
    }
    char text [256];
    snprintf (text, sizeof text, "session %s was closed before this request finished; "
              "resend it to start a fresh session", key);
    session_request_t *inflight = session_take_inflight (session);
    broker_fail_request (self, session, &inflight, PROTO_E_CLOSED, NULL, text);
    broker_fail_queue (self, session, PROTO_E_CLOSED, NULL, text);
    if (*session_kernel_id (session))
        broker_kernel_retire (self, session, BROKER_RETIRE_CLOSE);
    zsys_info ("session %s: closed by a client", key);
    owners_forget (self->owners, key);
    session_table_remove (self->sessions, &session, NULL);
    s_send_ok (self, client, id, key);
}

static void
s_attach (broker_t *self, zframe_t *client, proto_msg_t *req, bool attach)
{
    const char *key = proto_msg_session (req);
    uint64_t id = proto_msg_id (req);
    session_t *session = session_table_lookup (self->sessions, key);
    if (!session) {
        s_no_such_session (self, client, id, key, attach ? "attach" : "detach");
        return;
    }
    if (attach)
        session_attach (session, client);
    else
        session_detach (session, client);
    broker_debug (self, "session %s: client %s", key, attach ? "attached" : "detached");
    s_send_ok (self, client, id, key);
}

//  `shutdown` (protocol.md 12.2): the broker stops after this reply; with
//  end_sessions it first ends every session and asks its hosts to exit.
static void
s_shutdown_now (broker_t *self, zframe_t *client, uint64_t id, bool end_sessions)
{
    size_t count = session_table_size (self->sessions);
    zsys_info ("kmq-broker: %s asked it to shut down%s", clients_label (self->clients, client),
               end_sessions? ", ending every session": "; sessions stay with their hosts");
    if (end_sessions) {
        const char *text = "the broker was shut down with its sessions (kmq shutdown "
                           "--sessions); start it again and resend";
        zlistx_t *list = session_table_list (self->sessions);
        for (session_t *s = (session_t *) zlistx_first (list); s;
             s = (session_t *) zlistx_next (list)) {
            session_request_t *inflight = session_take_inflight (s);
            broker_fail_request (self, s, &inflight, PROTO_E_CLOSED, NULL, text);
            broker_fail_queue (self, s, PROTO_E_CLOSED, NULL, text);
            if (*session_kernel_id (s))
                broker_kernel_retire (self, s, BROKER_RETIRE_CLOSE);
            owners_forget (self->owners, session_key (s));
            session_table_remove (self->sessions, &s, NULL);
        }
        zlistx_destroy (&list);
        broker_hosts_shutdown (self);
    }
    proto_builder_t *ok = proto_reply_ok_begin (id, NULL);
    proto_builder_uint (ok, "sessions", end_sessions? count: 0);
    zmsg_t *msg = proto_builder_finish (&ok);
    broker_send_client (self, client, &msg);
    self->stopping = true;
}

//  Ending every session needs to know them all: a broker that has just
//  started waits until its hosts have settled (their kernels said ready
//  again), bounded by the settling time, so no host is left running.
static void
s_shutdown (broker_t *self, zframe_t *client, proto_msg_t *req)
{
    bool end_sessions = proto_msg_bool (req, "end_sessions", false);
    if (end_sessions && broker_hosts_settling (self, zclock_mono ()) && !self->shutdown_client) {
        zsys_info ("kmq-broker: shutdown with its sessions: waiting for the kernel hosts "
                   "to report theirs first");
        self->shutdown_client = zframe_dup (client);
        self->shutdown_id = proto_msg_id (req);
        return;
    }
    s_shutdown_now (self, client, proto_msg_id (req), end_sessions);
}

void
broker_shutdown_check (broker_t *self, int64_t now)
{
    if (!self->shutdown_client || broker_hosts_settling (self, now))
        return;
    s_shutdown_now (self, self->shutdown_client, self->shutdown_id, true);
    zframe_destroy (&self->shutdown_client);
}

//  Payload frames over max_payload are refused here: ZMQ_MAXMSGSIZE has
//  a header allowance on top of max_payload. Returns true if one was.
static bool
s_too_large (broker_t *self, zframe_t *client, proto_msg_t *req)
{
    size_t count = proto_msg_payload_count (req);
    for (size_t i = 0; i < count; i++) {
        size_t size = zframe_size (proto_msg_payload (req, i));
        if (size > self->cfg->max_payload) {
            char text [256];
            snprintf (text, sizeof text, "payload %zu is %zu bytes, over max_payload "
                      "(%" PRIu64 "); send less or raise max_payload",
                      i, size, self->cfg->max_payload);
            const char *key = proto_msg_session (req);
            broker_send_error (self, client, proto_msg_id (req), *key ? key : NULL,
                               PROTO_E_TOO_LARGE, NULL, text);
            return true;
        }
    }
    return false;
}

void
broker_frontend_message (broker_t *self, zmsg_t **msg_p, const char *user)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zframe_t *client = zmsg_pop (msg);
    if (!client || zmsg_size (msg) == 0) {
        zframe_destroy (&client);
        zmsg_destroy (&msg);
        return;
    }
    proto_fault_t fault;
    proto_msg_t *req = proto_decode (&msg, &fault);
    if (!req) {
        broker_debug (self, "frontend: malformed message: %s", fault.text);
        proto_error_t code = fault.code == PROTO_E_TOO_LARGE ? PROTO_E_TOO_LARGE
                                                             : PROTO_E_BAD_REQUEST;
        broker_send_error (self, client, fault.has_id ? fault.id : 0, NULL, code, NULL,
                           fault.text);
        zframe_destroy (&client);
        return;
    }
    proto_type_t type = proto_msg_type (req);
    broker_debug (self, "frontend: %s id %" PRIu64 " session '%s'", proto_type_name (type),
                  proto_msg_id (req), proto_msg_session (req));
    bool refused = s_too_large (self, client, req);
    if (!refused && proto_type_is_session_bound (type) && !*proto_msg_session (req)) {
        char text [128];
        snprintf (text, sizeof text, "%s: field session is missing or empty",
                  proto_type_name (type));
        broker_send_error (self, client, proto_msg_id (req), NULL, PROTO_E_BAD_REQUEST,
                           NULL, text);
        refused = true;
    }
    char identity [KEYS_Z85_LEN + 1];
    if (!refused)
        refused = !broker_identity (self, client, req, user, identity, sizeof identity);
    if (!refused && proto_type_is_session_bound (type))
        refused = !broker_permitted (self, client, req, identity);
    if (!refused && type == PROTO_SHUTDOWN)
        refused = !broker_may_shutdown (self, client, req, identity);
    if (!refused)
    switch (type) {
        case PROTO_HELLO:     s_hello (self, client, req); break;
        case PROTO_STATS:     s_stats (self, client, req, identity); break;
        case PROTO_SHARE:     broker_share (self, client, req, identity); break;
        case PROTO_HEARTBEAT: {
            //  One with more than broker_recv.c's fast path reads
            zmsg_t *msg = zmsg_dup (self->heartbeat_reply);
            broker_send_client (self, client, &msg);
            break;
        }
        case PROTO_EXECUTE:
        case PROTO_UPLOAD:
        case PROTO_DOWNLOAD:
        case PROTO_RESET:
        case PROTO_VARS:
        case PROTO_FILES:
        case PROTO_COMPLETE:
        case PROTO_INSPECT:
        case PROTO_IS_COMPLETE:
        case PROTO_HISTORY:   s_queue_request (self, client, &req); break;
        case PROTO_UPLOAD_PART: s_upload_part (self, client, &req); break;
        case PROTO_INTERRUPT: s_interrupt (self, client, &req); break;
        case PROTO_CLOSE:     s_close (self, client, req); break;
        case PROTO_ATTACH:    s_attach (self, client, req, true); break;
        case PROTO_RESUME:    broker_resume (self, client, req); break;
        case PROTO_SHUTDOWN:  s_shutdown (self, client, req); break;
        case PROTO_DETACH:    s_attach (self, client, req, false); break;
        default: {
            char text [128];
            snprintf (text, sizeof text, "%s is not a request a client can send",
                      proto_type_name (type));
            broker_send_error (self, client, proto_msg_id (req), NULL,
                               PROTO_E_BAD_REQUEST, NULL, text);
        }
    }
    proto_msg_destroy (&req);
    zframe_destroy (&client);
}

//  --- lifecycle ----------------------------------------------------------

//  The runtime dir holds the backend socket and the hosts' lock: made
//  0700 when missing; one that exists must be a directory of ours that
//  nobody else can enter (it is stable, and /tmp is everyone's).
static int
s_runtime_dir_check (const char *dir)
{
    if (mkdir (dir, 0700) == -1 && errno != EEXIST) {
        zsys_error ("kmq-broker: mkdir %s: %s (create its parent or choose another "
                    "--runtime-dir)", dir, strerror (errno));
        return -1;
    }
    struct stat st;
    if (lstat (dir, &st) || !S_ISDIR (st.st_mode) || st.st_uid != getuid ()) {
        zsys_error ("kmq-broker: runtime dir %s exists but is not a directory of ours; "
                    "choose another --runtime-dir", dir);
        return -1;
    }
    if (st.st_mode & 077) {
        zsys_error ("kmq-broker: runtime dir %s is open to others (mode %03o); "
                    "chmod 700 it or choose another --runtime-dir", dir,
                    (unsigned) (st.st_mode & 0777));
        return -1;
    }
    return 0;
}

//  A ROUTER bound to endpoint whose sends never block, holding up to
//  sndhwm messages per peer: with mandatory a peer's full queue or its
//  absence is an error the caller sees (ROUTER_MANDATORY); without, such
//  messages are dropped silently.
//  A tcp endpoint is a CURVE server in ZAP domain (auth.h) unless cert is
//  NULL (--insecure).
static zsock_t *
s_bind (broker_t *self, const char *what, const char *endpoint, int64_t maxmsgsize,
        int sndhwm, bool mandatory, zcert_t *cert, const char *domain)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    if (!sock) {
        zsys_error ("%s: cannot create a ZeroMQ socket: %s", what, zmq_strerror (zmq_errno ()));
        return NULL;
    }
    if (cert)
        auth_server (self->auth, sock, endpoint, cert, domain);
    zsock_set_linger (sock, 0);
    zsock_set_rcvtimeo (sock, 0);           //  recv never blocks: we drain
    zsock_set_sndtimeo (sock, 0);           //  send never blocks either
    zsock_set_router_mandatory (sock, mandatory);
    zsock_set_sndhwm (sock, sndhwm);
    if (maxmsgsize > 0)
        zsock_set_maxmsgsize (sock, (int) maxmsgsize);
    //  A restarted broker is reconnected to by every kernel and client at
    //  once. libzmq's listen backlog of 100 refused all but the first 100,
    //  which tried again 100-200 ms later, round after round: 3,000
    //  kernels took 0.8 s to be back (the kernel caps it at somaxconn)
    zsock_set_backlog (sock, S_BACKLOG);
    if (zsock_bind (sock, "%s", endpoint) == -1) {
        zsys_error ("%s: cannot bind %s: %s (another broker there? pick another "
                    "endpoint)", what, endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    if (cert)
        auth_watch (self->auth, sock, what);
    return sock;
}

//  CURVE for the tcp endpoints: the keys (made on first start) and the ZAP
//  handler. *cert_p stays NULL with --insecure, or when no endpoint is tcp.
static int
s_trust_init (broker_t *self, zcert_t **cert_p)
{
    config_t *config = self->cfg;
    bool tcp = keys_endpoint_needs_curve (config->frontend)
            || keys_endpoint_needs_curve (config->backend);
    if (config->insecure) {
        if (tcp)
            zsys_warning ("kmq-broker: --insecure: tcp endpoints (%s, %s) take anyone "
                          "who reaches them, without a key; use it only on a network "
                          "that only you can reach", config->frontend, config->backend);
        return 0;
    }
    if (!tcp)
        return 0;
    char error [512];
    *cert_p = keys_broker_init (config->config_dir, error, sizeof error);
    if (!*cert_p) {
        zsys_error ("kmq-broker: %s (or run with --insecure)", error);
        return -1;
    }
    self->auth = auth_new (config->config_dir);
    if (!self->auth)
        return -1;
    char *path = mem_sprintf ("%s/client.key", config->config_dir);
    self->owner_key = keys_public_from (path);
    free (path);
    zsys_info ("kmq-broker: CURVE on tcp; keys and allowlists in %s (clients/, hosts/)",
               config->config_dir);
    return 0;
}

broker_t *
broker_new (config_t *config)
{
    assert (config);
    broker_t *self = (broker_t *) zmalloc (sizeof (broker_t));
    self->cfg = config;
    self->sessions = session_table_new (config->max_sessions, config->max_queue);
    self->hosts = hosts_new ();
    self->snapshots = zhashx_new ();
    zhashx_set_destructor (self->snapshots, (zhashx_destructor_fn *) zstr_free);
    self->clients = clients_new (S_MAX_CLIENTS);
    self->outbox = outbox_new ();
    self->started_at = zclock_mono ();
    self->no_host_since = self->started_at;
    self->next_local_host = self->started_at;
    self->next_heartbeat = self->started_at + (int64_t) config->heartbeat_ivl_ms;
    self->next_idle_check = self->started_at + 1000;
    self->next_housekeeping = self->started_at + 100;
    srandom ((unsigned) (time (NULL) ^ getpid ()));
    if (getrandom (&self->epoch, sizeof self->epoch, 0) != (ssize_t) sizeof self->epoch)
        self->epoch = (uint64_t) zclock_usecs () ^ ((uint64_t) getpid () << 20);
    self->epoch = (self->epoch & 0xffffffffffffull) | 1;    //  never 0: "unknown"
    broker_recv_prepare (self);
    //  For the whole life of the broker, shutdown included
    self->signals = signal_pipe_new ("kmq-broker");
    if (!self->signals || s_runtime_dir_check (config->runtime_dir))
        goto fail;
    //  Beside the backend socket: it lives as long as the sessions do
    char *owners_path = mem_sprintf ("%s/owners", config->runtime_dir);
    self->owners = owners_new (owners_path);
    free (owners_path);
    //  Room for the header frame on top of the largest payload
    int64_t maxmsg = (int64_t) config->max_payload;
    if (maxmsg < (int64_t) PROTO_MAX_HEADER)
        maxmsg = PROTO_MAX_HEADER;
    maxmsg += 4096;
    zcert_t *cert = NULL;
    if (s_trust_init (self, &cert))
        goto fail;
    self->frontend = s_bind (self, "frontend", config->frontend, maxmsg,
                             (int) config->client_hwm, true, cert, "clients");
    if (self->frontend)
        self->backend = s_bind (self, "backend", config->backend, 0,
                                (int) config_backend_hwm (config->max_sessions), false, cert, "hosts");
    zcert_destroy (&cert);
    if (!self->frontend || !self->backend)
        goto fail;
    zsys_info ("kmq-broker: clients on %s, kernel hosts and kernels on %s",
               config->frontend, config->backend);
    broker_hosts_check (self, self->started_at);    //  the local host, at once
    return self;
fail:
    broker_destroy (&self);
    return NULL;
}

void
broker_destroy (broker_t **self_p)
{
    assert (self_p);
    broker_t *self = *self_p;
    if (!self)
        return;
    //  The sessions stay with their hosts for the next broker (unless a
    //  shutdown ended them). What it never passed on is answered now; a
    //  request running is resumed by its client (protocol.md 12.2).
    zlistx_t *list = session_table_list (self->sessions);
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list))
        broker_fail_queue (self, s, PROTO_E_LOST, NULL, "the broker stopped before the "
                           "kernel received this request; send it again when the broker "
                           "is back");
    zlistx_destroy (&list);
    //  A moment for what is queued (replies, a host's shutdown) to leave
    if (self->frontend)
        zsock_set_linger (self->frontend, S_LINGER_MS);
    if (self->backend)
        zsock_set_linger (self->backend, S_LINGER_MS);
    zsock_destroy (&self->frontend);
    zsock_destroy (&self->backend);
    auth_destroy (&self->auth);
    owners_destroy (&self->owners);
    free (self->owner_key);
    session_table_destroy (&self->sessions);
    hosts_destroy (&self->hosts);
    zlistx_destroy (&self->resumes);
    zhashx_destroy (&self->retired);
    zhashx_destroy (&self->snapshots);
    zframe_destroy (&self->shutdown_client);
    zmsg_destroy (&self->heartbeat_reply);
    clients_destroy (&self->clients);
    outbox_destroy (&self->outbox);
    signal_pipe_destroy (&self->signals);
    free (self);
    *self_p = NULL;
}

//  Receives up to S_DRAIN_BATCH messages from the backend, without blocking.
static void
s_drain_backend (broker_t *self)
{
    for (int i = 0; i < S_DRAIN_BATCH; i++) {
        zmsg_t *msg = zmsg_recv (self->backend);
        if (!msg)
            break;              //  EAGAIN (drained) or EINTR (signal)
        broker_backend_message (self, &msg);
        zmsg_destroy (&msg);
    }
}

//  The same for the frontend, through broker_recv.c's hot path.
static void
s_drain_frontend (broker_t *self)
{
    for (int i = 0; i < S_DRAIN_BATCH; i++)
        if (broker_recv_frontend (self))
            break;              //  EAGAIN (drained) or EINTR (signal)
}

//  What waits for slow clients, as far as their queues take it now. A
//  ROUTER does not say when one peer's queue has room again, so the loop
//  polls again within S_OUTBOX_RETRY_MS while anything waits.
static void
s_flush_outbox (broker_t *self)
{
    if (!outbox_waiting (self->outbox))
        return;
    zlistx_t *gone = zlistx_new ();
    outbox_flush (self->outbox, self->frontend, gone);
    for (zframe_t *client = (zframe_t *) zlistx_first (gone); client;
         client = (zframe_t *) zlistx_next (gone)) {
        broker_client_gone (self, client);
        zframe_destroy (&client);
    }
    zlistx_destroy (&gone);
}

int
broker_run (broker_t *self)
{
    assert (self);
    signal_pipe_t *signals = self->signals;
    zmq_pollitem_t items [3 + AUTH_POLL_MAX] = {
        { zsock_resolve (self->backend), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->frontend), 0, ZMQ_POLLIN, 0 },
        { NULL, signal_pipe_fd (signals), ZMQ_POLLIN, 0 },
    };
    //  The ZAP handler and the handshake monitors: handshakes wait on them
    size_t nitems = 3 + (self->auth ? auth_poll_items (self->auth, items + 3) : 0);
    int64_t wait_ms = 0;
    int rc = 0;
    while (!signal_pipe_stop_signal (signals) && !self->stopping) {
        int ready = zmq_poll (items, (int) nitems, (long) wait_ms);
        if (ready == -1 && zmq_errno () != EINTR) {
            zsys_error ("kmq-broker: zmq_poll: %s", zmq_strerror (zmq_errno ()));
            rc = -1;
            break;
        }
        if (ready > 0) {
            if (items [2].revents)
                signal_pipe_drain (signals);
            if (self->auth)
                auth_handle (self->auth);
            //  Kernels first: their replies free sessions for the next request
            if (items [0].revents & ZMQ_POLLIN)
                s_drain_backend (self);
            if (items [1].revents & ZMQ_POLLIN)
                s_drain_frontend (self);
        }
        s_flush_outbox (self);
        wait_ms = broker_timers (self);
        if (outbox_waiting (self->outbox) && wait_ms > S_OUTBOX_RETRY_MS)
            wait_ms = S_OUTBOX_RETRY_MS;
    }
    int stop = signal_pipe_stop_signal (signals);
    if (stop)
        zsys_info ("kmq-broker: stopping on %s", strsignal (stop));
    return rc;
}
