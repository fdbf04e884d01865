/*  jupyter_kernel — the loop over Jupyter's sockets and the kernelmq
    connection, and the table of kernelmq requests in flight. See
    jupyter_kernel.h; handlers are in jupyter_handlers.c, the mapping of
    kernelmq events to IOPub in jupyter_output.c.                          */
#include <czmq.h>
#include "jupyter_internal.h"
#include "mem.h"

#define S_CLOSE_WAIT_MS 2000    //  at exit, how long a close may take
#define S_PARENT_CHECK_MS 1000  //  how often we look for our frontend

static jupyter_reply_fn s_attached, s_started;

static void
s_pending_destroy (void *item)
{
    jupyter_pending_t *pending = (jupyter_pending_t *) item;
    if (pending) {
        jupyter_msg_destroy (&pending->request);
        free (pending);
    }
}

jupyter_kernel_t *
jupyter_kernel_new (const jupyter_kernel_config_t *config, char *error,
                    size_t error_size)
{
    assert (config && config->connection_file && config->endpoint);
    jupyter_kernel_t *self = (jupyter_kernel_t *) zmalloc (sizeof (jupyter_kernel_t));
    self->verbose = config->verbose;
    self->pending = zhash_new ();
    self->executes = zlist_new ();
    self->unstored = zhash_new ();
    self->server = jupyter_server_new (config->connection_file, error, error_size);
    if (!self->server)
        goto fail;
    if (config->session) {
        self->session = mem_strdup (config->session);
        self->shared = true;
    }
    else {
        zuuid_t *uuid = zuuid_new ();
        self->session = mem_sprintf ("jupyter-%s", zuuid_str (uuid));
        zuuid_destroy (&uuid);
    }
    if (!kmq_session_valid (self->session)) {
        snprintf (error, error_size, "invalid session key \"%.40s\": use 1-128"
                  " characters of A-Z a-z 0-9 . _ : -", self->session);
        goto fail;
    }
    //  How the session's other clients see us (kmq attach: "In [3] (kmq-jupyter 4360c4fa)")
    char *label = mem_sprintf ("kmq-jupyter %.8s", jupyter_server_session (self->server));
    kmq_options_t options = { .hello_timeout_ms = config->hello_timeout_ms,
                              .client_name = label };
    self->kmq = kmq_async_new (config->endpoint, &options, error, error_size);
    free (label);
    if (!self->kmq)
        goto fail;
    //  vars starts the session's kernel without running a cell (so
    //  complete and is_complete work before the first cell), then attach.
    jupyter_kernel_track (self, kmq_async_vars (self->kmq, self->session), NULL,
                          JUPYTER_SHELL, s_started);
    zsys_info ("jupyter: kernel for session %s at %s%s", self->session,
               config->endpoint, self->shared? " (shared)": "");
    return self;

fail:
    jupyter_kernel_destroy (&self);
    return NULL;
}

void
jupyter_kernel_destroy (jupyter_kernel_t **self_p)
{
    assert (self_p);
    jupyter_kernel_t *self = *self_p;
    if (!self)
        return;
    jupyter_msg_t *msg;
    while ((msg = (jupyter_msg_t *) zlist_pop (self->executes)))
        jupyter_msg_destroy (&msg);
    zlist_destroy (&self->executes);
    zhash_destroy (&self->pending);
    zhash_destroy (&self->unstored);
    kmq_async_destroy (&self->kmq);
    jupyter_server_destroy (&self->server);
    free (self->session);
    free (self);
    *self_p = NULL;
}

void
jupyter_kernel_reply (jupyter_kernel_t *self, jupyter_msg_t *request,
                      jupyter_channel_t channel, const char *msg_type,
                      json_t *content)
{
    jupyter_msg_t *reply = jupyter_msg_new (msg_type,
                                            jupyter_server_session (self->server),
                                            request, content);
    jupyter_server_send (self->server, channel, &reply);
}

void
jupyter_kernel_publish (jupyter_kernel_t *self, json_t *parent,
                        const char *msg_type, json_t *content)
{
    jupyter_msg_t *msg = jupyter_msg_new_with_header (
        msg_type, jupyter_server_session (self->server), parent, content);
    jupyter_server_send (self->server, JUPYTER_IOPUB, &msg);
}

void
jupyter_kernel_status (jupyter_kernel_t *self, jupyter_msg_t *request,
                       const char *state)
{
    jupyter_kernel_publish (self, request? jupyter_msg_header (request): NULL,
                            "status", json_pack ("{s:s}", "execution_state", state));
}

jupyter_pending_t *
jupyter_kernel_track (jupyter_kernel_t *self, uint64_t id,
                      jupyter_msg_t **request_p, jupyter_channel_t channel,
                      jupyter_reply_fn *on_reply)
{
    jupyter_pending_t *pending = (jupyter_pending_t *) zmalloc (sizeof (jupyter_pending_t));
    pending->id = id;
    if (request_p) {
        pending->request = *request_p;
        *request_p = NULL;
    }
    pending->channel = channel;
    pending->on_reply = on_reply;
    pending->store_history = true;
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    zhash_update (self->pending, key, pending);
    zhash_freefn (self->pending, key, s_pending_destroy);
    return pending;
}

void
jupyter_kernel_attach (jupyter_kernel_t *self)
{
    if (self->attached || self->attaching)
        return;
    self->attaching = true;
    jupyter_kernel_track (self, kmq_async_attach (self->kmq, self->session),
                          NULL, JUPYTER_SHELL, s_attached);
}

void
jupyter_kernel_next_execute (jupyter_kernel_t *self)
{
    if (self->executing)
        return;
    jupyter_msg_t *next = (jupyter_msg_t *) zlist_pop (self->executes);
    if (next)
        jupyter_handlers_execute (self, &next);
}

//  The bridge's own requests, which no Jupyter request waits for: attach,
//  and vars at start (which starts the session's kernel), then attach.
static void
s_attached (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    (void) pending;
    self->attaching = false;
    self->attached = kmq_reply_ok (reply);
    if (!self->attached)
        zsys_info ("jupyter: session %s: attach: %s", self->session,
                   kmq_reply_message (reply));
}

static void
s_started (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    (void) pending;
    if (kmq_reply_ok (reply))
        jupyter_kernel_attach (self);
    else
        zsys_warning ("jupyter: session %s: %s: %s", self->session,
                      kmq_reply_error (reply), kmq_reply_message (reply));
}

//  One message from kernelmq: an event or reply of a request we track, or
//  an event of the shared session (id 0: another client's request).
static void
s_kmq_message (jupyter_kernel_t *self, kmq_reply_t *msg)
{
    uint64_t id = kmq_reply_id (msg);
    const char *event = kmq_reply_event (msg);
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    jupyter_pending_t *pending = id? (jupyter_pending_t *) zhash_lookup (self->pending, key): NULL;
    if (event && id == 0) {
        if (streq (event, "evicted") || streq (event, "detached"))
            self->attached = false;
        json_t *parent = jupyter_output_foreign_parent (msg);
        jupyter_output_event (self, msg, parent, NULL, false);
        json_decref (parent);
        if (streq (event, "detached"))
            jupyter_kernel_attach (self);
        return;
    }
    if (!pending) {
        JUPYTER_DEBUG (self, "jupyter: kernelmq %s for request %" PRIu64 " nobody waits for",
                    event? event: "reply", id);
        return;
    }
    if (event) {
        if (pending->request)
            jupyter_output_event (self, msg, jupyter_msg_header (pending->request),
                                  &pending->carry, pending->silent);
        return;
    }
    pending->on_reply (self, pending, msg);
    zhash_delete (self->pending, key);
}

//  At exit: a private session is closed (its kernel stopped), a shared one
//  is left to its other clients (we only detach). Waits a little for the
//  answer, so the request is not dropped with the socket.
static void
s_leave_session (jupyter_kernel_t *self)
{
    if (kmq_async_state (self->kmq) != KMQ_ASYNC_READY)
        return;
    uint64_t id = self->shared? kmq_async_detach (self->kmq, self->session)
                              : kmq_async_close (self->kmq, self->session);
    int64_t deadline = zclock_mono () + S_CLOSE_WAIT_MS;
    while (zclock_mono () < deadline) {
        zmq_pollitem_t item = { kmq_async_handle (self->kmq), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 50);
        kmq_reply_t *msg;
        bool answered = false;
        while ((msg = kmq_async_next (self->kmq))) {
            answered = answered || (!kmq_reply_event (msg) && kmq_reply_id (msg) == id);
            kmq_reply_destroy (&msg);
        }
        if (answered)
            break;
    }
    zsys_info ("jupyter: session %s %s", self->session,
               self->shared? "left to its other clients": "closed");
}

//  The frontend that started us (JPY_PARENT_PID, as jupyter_client sets
//  it) is gone when we have been re-parented: a kernel must not outlive it.
static bool
s_orphaned (pid_t parent)
{
    return parent > 0 && getppid () != parent;
}

int
jupyter_kernel_run (jupyter_kernel_t *self, volatile sig_atomic_t *stop)
{
    assert (self);
    const char *parent_env = getenv ("JPY_PARENT_PID");
    pid_t parent = parent_env? (pid_t) atoi (parent_env): 0;
    while (!self->done && !(stop && *stop)) {
        if (s_orphaned (parent)) {
            zsys_info ("jupyter: session %s: the frontend (pid %d) is gone;"
                       " stopping", self->session, (int) parent);
            break;
        }
        jupyter_channel_t channel;
        bool kmq_ready = false;
        int timeout = kmq_async_timeout (self->kmq);
        if (parent > 0 && (timeout < 0 || timeout > S_PARENT_CHECK_MS))
            timeout = S_PARENT_CHECK_MS;
        jupyter_msg_t *request = jupyter_server_wait (self->server,
                                                      kmq_async_handle (self->kmq),
                                                      timeout, &channel, &kmq_ready);
        //  Every request already received goes first: an execute that
        //  arrived before a failure's reply is processed is "waiting" and
        //  is aborted by stop_on_error, as ipykernel does
        while (request) {
            jupyter_handlers_dispatch (self, &request, channel);
            request = jupyter_server_wait (self->server, NULL, 0, &channel, &kmq_ready);
        }
        kmq_reply_t *msg;
        while ((msg = kmq_async_next (self->kmq))) {
            s_kmq_message (self, msg);
            kmq_reply_destroy (&msg);
        }
    }
    s_leave_session (self);
    return self->exit_status;
}
