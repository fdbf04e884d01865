/*  broker_resume — what a restarted broker does (protocol.md 12.2): it
    takes back the kernels that outlived its predecessor, and answers the
    clients that ask what became of their requests. Shares broker_t
    (broker_internal.h).

    A kernel that comes back says what it was doing: the request it runs
    (its client is unknown until one resumes it), the replies it holds and
    the requests it saw. A client's `resume` is answered from that: the
    request still runs, its kept reply is resent, or it is LOST (with
    whether it ran).                                                       */
#include "broker_internal.h"
#include "mem.h"

#include <string.h>

//  How long a resume waits for the hosts to settle at most
#define S_RESUME_WAIT_MS  15000

//  --- kernels that come back ----------------------------------------------

static void
s_close_kernel (broker_t *self, const char *kid, const char *key, const char *host)
{
    zmsg_t *close = proto_encode_simple (PROTO_CLOSE, 0, key);
    zmsg_pushmem (close, kid, strlen (kid));
    if (zmsg_send (&close, self->backend))
        zmsg_destroy (&close);
    broker_host_stop_kernel (self, host, key, kid, self->cfg->kill_grace_ms);
}

void
broker_kernel_resumed (broker_t *self, const char *kid, proto_msg_t *ready)
{
    const char *key = proto_msg_session (ready);
    const char *host = proto_msg_str (ready, "host");
    if (!host)
        host = "";
    if (!proto_session_valid (key, strlen (key))) {
        zsys_warning ("kernel %s: ready without a valid session: ignored", kid);
        return;
    }
    if (broker_kernel_was_retired (self, kid)) {
        broker_debug (self, "session %s: kernel %s, retired, said ready: ignored", key, kid);
        return;
    }
    int64_t now = zclock_mono ();
    session_t *session = session_table_lookup (self->sessions, key);
    //  A session that has a kernel, or lost one under this broker, has
    //  moved on: this one is stale
    if (session && (*session_kernel_id (session) || session_state_lost (session))) {
        zsys_warning ("session %s: kernel %s came back from before the broker restarted, "
                      "but the session has moved on: closed", key, kid);
        s_close_kernel (self, kid, key, host);
        return;
    }
    if (!session)
        session = session_table_create (self->sessions, key, now);
    if (!session) {
        zsys_error ("session %s: kernel %s came back, but %" PRIu64 " sessions are live, "
                    "the limit: closed (raise max_sessions)", key, kid,
                    self->cfg->max_sessions);
        s_close_kernel (self, kid, key, host);
        return;
    }
    session_table_bind_kernel (self->sessions, session, kid, host, now);
    uint64_t pid = proto_msg_uint (ready, "pid", 0);
    uint64_t executor = proto_msg_uint (ready, "executor_pid", 0);
    session_set_pid (session, pid <= INT32_MAX? (pid_t) pid: 0);
    session_set_executor_pid (session, executor <= INT32_MAX? (pid_t) executor: 0);
    hosts_kernel_back (self->hosts, host);
    if (!broker_sandbox_accepted (self, session, ready))
        return;
    session_set_state (session, SESSION_IDLE);
    uint64_t ids [1024];
    size_t count = proto_msg_uints (ready, "seen", ids, sizeof ids / sizeof ids [0]);
    for (size_t i = 0; i < count; i++)
        session_note_seen (session, ids [i]);
    count = proto_msg_uints (ready, "replies", ids, sizeof ids / sizeof ids [0]);
    for (size_t i = 0; i < count; i++)
        session_note_held (session, ids [i]);
    bool busy = proto_msg_bool (ready, "busy", false);
    uint64_t request = proto_msg_uint (ready, "request", 0);
    if (busy && request) {
        //  Its client is not known until one resumes it
        session_request_t *running = session_request_new (NULL, NULL, request, -1);
        session_set_inflight (session, &running);
    }
    session_touch (session, now);
    zsys_info ("session %s: kernel %s (pid %d, host %s) came back%s", key, kid, (int) pid,
               *host? host: "?", busy? ", running a request": "");
    broker_dispatch (self, session);
}

//  --- replies kept for a client that resumed ------------------------------

static void
s_resume_answer (broker_t *self, zframe_t *client, uint64_t id, const char *session,
                 const char *state)
{
    proto_builder_t *ok = proto_reply_ok_begin (id, session);
    proto_builder_str (ok, "state", state);
    zmsg_t *msg = proto_builder_finish (&ok);
    broker_send_client (self, client, &msg);
}

static void
s_resume_lost (broker_t *self, zframe_t *client, uint64_t id, const char *session,
               uint64_t request, bool ran, const char *why)
{
    char text [512];
    snprintf (text, sizeof text, "request %" PRIu64 " of session %s: its outcome is "
              "lost: %s", request, session, why);
    proto_builder_t *error = proto_reply_error_begin (id, session, PROTO_E_LOST, text);
    proto_builder_bool (error, "ran", ran);
    zmsg_t *msg = proto_builder_finish (&error);
    broker_send_client (self, client, &msg);
}

bool
broker_resend_reply (broker_t *self, session_t *session, proto_msg_t *reply)
{
    uint64_t request = proto_msg_id (reply);
    uint64_t resume_id;
    zframe_t *client;
    if (!session_resend_next (session, &request, &resume_id, &client))
        return false;
    const char *key = session_key (session);
    do {
        //  The reply first, then the answer to the resume (protocol.md 12.2)
        zmsg_t *copy = proto_msg_dup_frames (reply);
        broker_send_client (self, client, &copy);
        s_resume_answer (self, client, resume_id, key, "done");
        zframe_destroy (&client);
    } while (session_resend_next (session, &request, &resume_id, &client));
    return true;
}

void
broker_resend_fail (broker_t *self, session_t *session)
{
    uint64_t request = 0, resume_id;
    zframe_t *client;
    while (session_resend_next (session, &request, &resume_id, &client)) {
        s_resume_lost (self, client, resume_id, session_key (session), request, true,
                       "its kernel ended before it sent the reply again");
        zframe_destroy (&client);
        request = 0;
    }
}

//  --- the client's resume -------------------------------------------------

//  True when request waits in session's queue.
static bool
s_queued (session_t *session, uint64_t request)
{
    zlistx_t *waiting = session_waiting (session);
    for (session_request_t *req = (session_request_t *) zlistx_first (waiting); req;
         req = (session_request_t *) zlistx_next (waiting))
        if (req->id == request)
            return true;
    return false;
}

//  Answers one resume, the hosts having settled.
static void
s_resume_now (broker_t *self, zframe_t *client, uint64_t id, const char *key,
              uint64_t request)
{
    session_t *session = session_table_lookup (self->sessions, key);
    session_request_t *running = session? session_inflight (session): NULL;
    if (running && running->id == request) {
        //  Its events and reply go to this client from now on
        zframe_destroy (&running->client);
        running->client = zframe_dup (client);
        s_resume_answer (self, client, id, key, "running");
        zsys_info ("session %s: request %" PRIu64 " resumed by %s (running)", key, request,
                   clients_label (self->clients, client));
        return;
    }
    if (session && s_queued (session, request)) {
        s_resume_answer (self, client, id, key, "running");
        return;
    }
    if (session && session_holds (session, request)) {
        proto_builder_t *resend = proto_builder_new (PROTO_RESEND, 0, key);
        proto_builder_uint (resend, "request", request);
        zmsg_t *msg = proto_builder_finish (&resend);
        broker_send_kernel (self, session, &msg);
        session_resend_wait (session, request, id, client);
        zsys_info ("session %s: request %" PRIu64 " resumed by %s (its reply is resent)",
                   key, request, clients_label (self->clients, client));
        return;
    }
    if (session && session_saw (session, request))
        s_resume_lost (self, client, id, key, request, true, "it ran, but its kernel no "
                       "longer holds the reply (it keeps the last 16); run it again if "
                       "you need its result");
    else
        s_resume_lost (self, client, id, key, request, false, "the kernel never received "
                       "it (it waited in a broker that stopped); send it again");
}

static void
s_resume_destroy (void **item)
{
    broker_resume_t *resume = (broker_resume_t *) *item;
    if (!resume)
        return;
    zframe_destroy (&resume->client);
    free (resume);
    *item = NULL;
}

void
broker_resume (broker_t *self, zframe_t *client, proto_msg_t *req)
{
    const char *key = proto_msg_session (req);
    uint64_t id = proto_msg_id (req);
    uint64_t request = proto_msg_uint (req, "request", 0);
    if (!proto_msg_has (req, "request")) {
        broker_send_error (self, client, id, key, PROTO_E_BAD_REQUEST, NULL,
                           "resume: field request (the id of the request to resume) is "
                           "missing");
        return;
    }
    int64_t now = zclock_mono ();
    if (!broker_kernel_starts_wait (self, now)) {
        s_resume_now (self, client, id, key, request);
        return;
    }
    //  Its kernel may not have come back yet: parked until the hosts settle
    if (!self->resumes) {
        self->resumes = zlistx_new ();
        zlistx_set_destructor (self->resumes, s_resume_destroy);
    }
    broker_resume_t *resume = (broker_resume_t *) zmalloc (sizeof *resume);
    resume->client = zframe_dup (client);
    resume->id = id;
    resume->request = request;
    snprintf (resume->session, sizeof resume->session, "%s", key);
    resume->deadline = now + S_RESUME_WAIT_MS;
    zlistx_add_end (self->resumes, resume);
}

void
broker_resumes_check (broker_t *self, int64_t now)
{
    if (!self->resumes || zlistx_size (self->resumes) == 0)
        return;
    bool settled = !broker_kernel_starts_wait (self, now);
    broker_resume_t *resume = (broker_resume_t *) zlistx_first (self->resumes);
    while (resume) {
        if (settled || now >= resume->deadline) {
            s_resume_now (self, resume->client, resume->id, resume->session,
                          resume->request);
            zlistx_delete (self->resumes, zlistx_cursor (self->resumes));
            resume = (broker_resume_t *) zlistx_first (self->resumes);
        }
        else
            resume = (broker_resume_t *) zlistx_next (self->resumes);
    }
}

//  --- kernels retired ------------------------------------------------------

void
broker_kernel_retired (broker_t *self, const char *kid)
{
    //  Long enough for its last messages to arrive and be ignored
    int64_t until = zclock_mono () + (int64_t) self->cfg->kill_grace_ms
                  + 2 * (int64_t) self->cfg->heartbeat_ivl_ms + 1000;
    if (!self->retired)
        self->retired = zhashx_new ();
    zhashx_update (self->retired, kid, (void *) (intptr_t) until);
}

void
broker_retired_purge (broker_t *self, int64_t now)
{
    if (!self->retired)
        return;
    zlistx_t *expired = zlistx_new ();
    for (void *until = zhashx_first (self->retired); until;
         until = zhashx_next (self->retired))
        if (now >= (int64_t) (intptr_t) until)
            zlistx_add_end (expired, (void *) zhashx_cursor (self->retired));
    //  Each key stays valid until its own delete
    for (void *kid = zlistx_first (expired); kid; kid = zlistx_next (expired))
        zhashx_delete (self->retired, kid);
    zlistx_destroy (&expired);
}

bool
broker_kernel_was_retired (broker_t *self, const char *kid)
{
    if (!self->retired)
        return false;
    intptr_t until = (intptr_t) zhashx_lookup (self->retired, kid);
    if (!until)
        return false;
    if (zclock_mono () < (int64_t) until)
        return true;
    zhashx_delete (self->retired, kid);
    return false;
}
