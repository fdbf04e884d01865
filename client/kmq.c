/*  kmq — libkmq's connection: hello, requests, and the wait loop that
    heartbeats the broker, dispatches events and notices a silent broker.
    Replies are in kmq_reply.c, the selftest in kmq_test.c.                  */
#include <czmq.h>
#include <sys/random.h>
#include "frame.h"
#include "kmq_private.h"
#include "keys.h"
#include "mem.h"

#define KMQ_HELLO_TIMEOUT_MS    5000
#define KMQ_FLAG_POLL_MS        100     //  how often the interrupt flag is read
#define KMQ_RESUME_MS           60000   //  how long a silent broker is waited for
#define KMQ_REATTACH_MS         15000   //  for a session to come back to a new broker

struct _kmq_t {
    zsock_t *dealer;
    char *endpoint;
    uint64_t next_id;               //  last id used; ids start at 1
    char *broker;                   //  broker's name from hello
    char *client_name;              //  our label, said again after a restart
    uint64_t heartbeat_ivl;         //  ms, from hello
    uint64_t heartbeat_liveness;
    uint64_t max_payload;
    volatile sig_atomic_t *interrupt_flag;
    bool own_input;                 //  kmq_options_t.own_input
    kmq_event_fn *event_fn;
    void *event_arg;
    zhash_t *attached;              //  sessions we attached to (values unused)
    uint64_t epoch;                 //  the broker's (hello, heartbeats); 0 unknown
    int64_t last_heard;             //  mono ms of the last message from the broker
    int64_t next_heartbeat;         //  mono ms when we send the next heartbeat
    int64_t last_wait_end;          //  mono ms when the last wait returned
    char error [512];               //  kmq_listen's last error
};

//  What one step of the wait loop produced.
typedef enum {
    S_MESSAGE,                      //  a decoded message in *msg_p
    S_TIMEOUT,                      //  the deadline passed
    S_FLAG,                         //  the interrupt flag is set
    S_LOST,                         //  the broker is silent past liveness
    S_RESTARTED                     //  a heartbeat from another broker process
} s_wait_t;

bool
kmq_session_valid (const char *key)
{
    return key && proto_session_valid (key, strlen (key));
}

//  Sends msg, taking ownership. 0 or -1 (errno set).
static int
s_send (kmq_t *self, zmsg_t **msg_p)
{
    int rc = zmsg_send (msg_p, self->dealer);
    if (rc != 0)
        zmsg_destroy (msg_p);
    return rc;
}

//  Starts the silence clock afresh if we were not waiting just now: between
//  waits nobody heartbeats, so the broker's silence then means nothing.
static void
s_wait_begin (kmq_t *self)
{
    int64_t now = zclock_mono ();
    if (now - self->last_wait_end > (int64_t) self->heartbeat_ivl) {
        self->last_heard = now;
        self->next_heartbeat = now + (int64_t) self->heartbeat_ivl;
    }
}

//  Waits for one message from the broker until deadline (mono ms, -1 for
//  none), heartbeating meanwhile. A message that does not decode still
//  counts as life and is skipped.
static s_wait_t
s_wait (kmq_t *self, int64_t deadline, proto_msg_t **msg_p)
{
    int64_t silence = (int64_t) (self->heartbeat_ivl * self->heartbeat_liveness);
    void *handle = zsock_resolve (self->dealer);
    s_wait_t result;
    while (true) {
        int64_t now = zclock_mono ();
        if (self->interrupt_flag && *self->interrupt_flag) {
            result = S_FLAG;
            break;
        }
        if (now - self->last_heard >= silence) {
            result = S_LOST;
            break;
        }
        if (deadline >= 0 && now >= deadline) {
            result = S_TIMEOUT;
            break;
        }
        if (now >= self->next_heartbeat) {
            zmsg_t *heartbeat = proto_encode_heartbeat ();
            s_send (self, &heartbeat);  //  a failed heartbeat shows as silence
            self->next_heartbeat = now + (int64_t) self->heartbeat_ivl;
        }
        int64_t wait = self->next_heartbeat - now;
        if (self->last_heard + silence - now < wait)
            wait = self->last_heard + silence - now;
        if (deadline >= 0 && deadline - now < wait)
            wait = deadline - now;
        if (self->interrupt_flag && wait > KMQ_FLAG_POLL_MS)
            wait = KMQ_FLAG_POLL_MS;
        if (wait < 0)
            wait = 0;
        zmq_pollitem_t item = { handle, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) wait);
        if (rc <= 0)
            continue;               //  timeout or EINTR: re-check everything
        zmsg_t *msg = zmsg_recv (self->dealer);
        if (!msg)
            continue;
        self->last_heard = zclock_mono ();
        proto_fault_t fault;
        proto_msg_t *decoded = proto_decode (&msg, &fault);
        if (!decoded)
            continue;               //  not ours to answer; ignore it
        uint64_t epoch = proto_msg_type (decoded) == PROTO_HEARTBEAT?
                         proto_msg_uint (decoded, "epoch", 0): 0;
        if (epoch && self->epoch && epoch != self->epoch) {
            //  A restarted broker answers: it knows nothing of our
            //  requests until we resume them (protocol.md 12.2)
            proto_msg_destroy (&decoded);
            result = S_RESTARTED;
            break;
        }
        if (epoch)
            self->epoch = epoch;
        *msg_p = decoded;
        result = S_MESSAGE;
        break;
    }
    self->last_wait_end = zclock_mono ();
    return result;
}

//  Passes an event to the handler if it is for us: the request we wait for
//  (wanted_id), id 0, or a session we attached to. 1 if handled, else 0.
static int
s_dispatch_event (kmq_t *self, proto_msg_t *msg, uint64_t wanted_id)
{
    uint64_t id = proto_msg_id (msg);
    const char *session = proto_msg_session (msg);
    if (id != 0 && (wanted_id == 0 || id != wanted_id)
    &&  !(self->attached && zhash_lookup (self->attached, session)))
        return 0;
    if (!self->event_fn)
        return 1;
    kmq_event_t event;
    memset (&event, 0, sizeof event);
    const char *kind = proto_msg_str (msg, "event");
    const char *name = proto_msg_str (msg, "name");
    const char *message = proto_msg_str (msg, "message");
    event.kind = kind? kind: "";
    event.id = id;
    event.session = session;
    event.name = name? name: "";
    event.message = message? message: "";
    event.limit = proto_msg_uint (msg, "limit", 0);
    const char *client = proto_msg_str (msg, "client");
    const char *state = proto_msg_str (msg, "state");
    const char *request_type = proto_msg_str (msg, "request_type");
    event.request = proto_msg_uint (msg, "request", 0);
    event.client = client? client: "";
    event.state = state? state: "";
    event.request_type = request_type? request_type: "";
    event.execution_count = proto_msg_uint (msg, "execution_count", 0);
    kmq_reply_t *outcome = NULL;
    if (streq (event.kind, "outcome")) {
        //  Read as a reply (the codec treats an outcome as one): a copy,
        //  since the reply owns what it reads and msg stays the caller's
        zmsg_t *copy = proto_encode_peer_copy (msg, NULL, event.client);
        proto_msg_t *decoded = proto_decode (&copy, NULL);
        if (decoded)
            outcome = kmq_reply_from_msg (&decoded);
        event.outcome = outcome;
    }
    size_t payloads = proto_msg_payload_count (msg);
    if (payloads > 0) {
        zframe_t *frame = proto_msg_payload (msg, 0);
        event.data = zframe_data (frame);
        event.size = zframe_size (frame);
    }
    //  A display event's bundle: one payload per mime entry (protocol.md
    //  4.3; the codec caps payloads at PROTO_MAX_PAYLOADS). The type names
    //  are copied into one block, NUL-terminated, freed after the handler.
    const char *mime [PROTO_MAX_PAYLOADS];
    const void *data [PROTO_MAX_PAYLOADS];
    size_t sizes [PROTO_MAX_PAYLOADS];
    char *names = NULL;
    if (streq (event.kind, "display")) {
        const msgpack_object *array = proto_msg_object (msg, "mime");
        if (!array || array->type != MSGPACK_OBJECT_ARRAY
        ||  array->via.array.size != payloads || payloads > PROTO_MAX_PAYLOADS)
            return 1;               //  a malformed bundle MUST be rejected
        size_t total = 0;
        for (size_t i = 0; i < payloads; i++) {
            const msgpack_object *entry = &array->via.array.ptr [i];
            if (entry->type != MSGPACK_OBJECT_STR)
                return 1;
            total += entry->via.str.size + 1;
        }
        names = (char *) zmalloc (total + 1);
        char *next = names;
        for (size_t i = 0; i < payloads; i++) {
            const msgpack_object *entry = &array->via.array.ptr [i];
            memcpy (next, entry->via.str.ptr, entry->via.str.size);
            mime [i] = next;
            next += entry->via.str.size + 1;
            zframe_t *frame = proto_msg_payload (msg, i);
            data [i] = zframe_data (frame);
            sizes [i] = zframe_size (frame);
        }
        event.mime_count = payloads;
        event.mime = payloads? mime: NULL;
        event.payloads = payloads? data: NULL;
        event.sizes = payloads? sizes: NULL;
    }
    self->event_fn (&event, self->event_arg);
    free (names);
    kmq_reply_destroy (&outcome);
    return 1;
}

//  Tells the event handler what happened to the connection ("resumed"):
//  a local event, id the request it concerns.
static void
s_note (kmq_t *self, uint64_t id, const char *session, const char *format, ...)
{
    if (!self->event_fn)
        return;
    va_list args;
    va_start (args, format);
    char *text = mem_vsprintf (format, args);
    va_end (args);
    kmq_event_t event;
    memset (&event, 0, sizeof event);
    event.kind = "resumed";
    event.id = id;
    event.session = session;
    event.name = event.client = event.state = event.request_type = "";
    event.message = text;
    self->event_fn (&event, self->event_arg);
    free (text);
}

//  Waits until deadline for any message from a broker (ZeroMQ reconnects
//  by itself), heartbeating. True when one came (it is dropped).
static bool
s_await_broker (kmq_t *self, int64_t deadline)
{
    void *handle = zsock_resolve (self->dealer);
    while (zclock_mono () < deadline) {
        zmsg_t *beat = proto_encode_heartbeat ();
        s_send (self, &beat);
        zmq_pollitem_t item = { handle, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) self->heartbeat_ivl) > 0) {
            zmsg_t *msg = zmsg_recv (self->dealer);
            if (msg) {
                zmsg_destroy (&msg);
                self->last_heard = zclock_mono ();
                return true;
            }
        }
    }
    return false;
}

//  The broker went silent while request id (of session) waited: waits up
//  to KMQ_RESUME_MS for it, or a restarted one, says hello again and asks
//  what became of the request (protocol.md 12.2). Returns NULL when the
//  request runs on (keep waiting for its reply), else the reply for the
//  caller: the request's own kept reply, LOST, or BROKER_LOST.
static kmq_reply_t *
s_resume (kmq_t *self, uint64_t id, const char *session, bool restarted)
{
    if (restarted)
        s_note (self, id, session, "the broker at %s restarted; asking it about this "
                "request", self->endpoint);
    else
        s_note (self, id, session, "the broker at %s is silent; waiting up to %d s "
                "for it to come back", self->endpoint, KMQ_RESUME_MS / 1000);
    int64_t deadline = zclock_mono () + KMQ_RESUME_MS;
    if (!restarted && !s_await_broker (self, deadline))
        return kmq_reply_local ("BROKER_LOST", "broker at %s stopped answering and "
                                "did not come back within %d s: is kmq-broker still "
                                "running?", self->endpoint, KMQ_RESUME_MS / 1000);
    uint64_t hello_id = ++self->next_id;
    uint64_t resume_id = ++self->next_id;
    self->epoch = 0;                //  the new broker's comes with its hello reply
    zmsg_t *hello = proto_encode_hello (hello_id, PROTO_VERSION, self->client_name);
    s_send (self, &hello);
    proto_builder_t *builder = proto_builder_new (PROTO_RESUME, resume_id, session);
    proto_builder_uint (builder, "request", id);
    zmsg_t *resume = proto_builder_finish (&builder);
    s_send (self, &resume);
    while (true) {
        proto_msg_t *msg = NULL;
        s_wait_t result = s_wait (self, deadline, &msg);
        if (result == S_LOST || result == S_TIMEOUT)
            return kmq_reply_local ("BROKER_LOST", "broker at %s came back but did "
                                    "not answer resume: is it still running?",
                                    self->endpoint);
        if (result != S_MESSAGE)
            continue;               //  Ctrl-C: the flag stays for the caller
        proto_type_t type = proto_msg_type (msg);
        uint64_t reply_id = proto_msg_id (msg);
        if (type == PROTO_REPLY && reply_id == hello_id && !self->epoch)
            self->epoch = proto_msg_uint (msg, "epoch", 0);
        if (type == PROTO_REPLY && reply_id == id) {
            s_note (self, id, session, "the broker came back with the reply it kept");
            return kmq_reply_from_msg (&msg);
        }
        if (type == PROTO_REPLY && reply_id == resume_id) {
            if (!proto_msg_is_ok (msg)) {
                s_note (self, id, session, "the broker came back: %s",
                        proto_msg_str (msg, "message"));
                return kmq_reply_from_msg (&msg);
            }
            const char *state = proto_msg_str (msg, "state");
            bool running = state && streq (state, "running");
            proto_msg_destroy (&msg);       //  and state with it
            if (running) {
                s_note (self, id, session, "the broker came back; the request "
                        "still runs");
                self->last_heard = zclock_mono ();
                return NULL;
            }
            continue;               //  "done": the kept reply comes first
        }
        if (type == PROTO_EVENT)
            s_dispatch_event (self, msg, id);
        proto_msg_destroy (&msg);
    }
}

static kmq_reply_t *s_await_reply (kmq_t *self, uint64_t id,
                                   const char *interrupt_session);

//  The local reply when a request could not be sent.
static kmq_reply_t *
s_send_failed (kmq_t *self)
{
    return kmq_reply_local ("INTERNAL", "could not send to the broker at %s: %s",
                            self->endpoint, zmq_strerror (zmq_errno ()));
}

//  Sends *msg_p (taking it) as request id and waits for its reply. When
//  interrupt_session is set, a raised interrupt flag sends one interrupt
//  for it per raise; it is also the session whose request is resumed when
//  the broker restarts meanwhile.
static kmq_reply_t *
s_request (kmq_t *self, zmsg_t **msg_p, uint64_t id, const char *interrupt_session)
{
    s_wait_begin (self);
    if (s_send (self, msg_p) != 0)
        return s_send_failed (self);
    return s_await_reply (self, id, interrupt_session);
}

//  Waits for request id's reply (see s_request).
static kmq_reply_t *
s_await_reply (kmq_t *self, uint64_t id, const char *interrupt_session)
{
    while (true) {
        proto_msg_t *msg = NULL;
        s_wait_t result = s_wait (self, -1, &msg);
        if ((result == S_LOST || result == S_RESTARTED) && interrupt_session) {
            kmq_reply_t *reply = s_resume (self, id, interrupt_session,
                                           result == S_RESTARTED);
            if (reply)
                return reply;
            continue;
        }
        if (result == S_RESTARTED)
            return kmq_reply_local ("BROKER_LOST", "the broker at %s restarted while "
                                    "this request waited; send it again", self->endpoint);
        if (result == S_LOST)
            return kmq_reply_local ("BROKER_LOST",
                "broker at %s stopped answering (silent for %" PRIu64 " ms):"
                " is kmq-broker still running?", self->endpoint,
                self->heartbeat_ivl * self->heartbeat_liveness);
        if (result == S_FLAG) {
            *self->interrupt_flag = 0;
            if (interrupt_session) {
                zmsg_t *interrupt = proto_encode_simple (PROTO_INTERRUPT,
                                                         ++self->next_id,
                                                         interrupt_session);
                s_send (self, &interrupt);
            }
            continue;
        }
        if (result != S_MESSAGE)
            continue;
        proto_type_t type = proto_msg_type (msg);
        if (type == PROTO_REPLY && proto_msg_id (msg) == id)
            return kmq_reply_from_msg (&msg);
        if (type == PROTO_EVENT)
            s_dispatch_event (self, msg, id);
        proto_msg_destroy (&msg);   //  heartbeats, stale replies
    }
}

//  --- connection -------------------------------------------------------------

kmq_t *
kmq_new (const char *endpoint, const kmq_options_t *options,
         char *error, size_t error_size)
{
    assert (endpoint);
    char scratch [8];
    if (!error) {
        error = scratch;
        error_size = sizeof scratch;
    }
    int timeout = options && options->hello_timeout_ms > 0?
                  options->hello_timeout_ms: KMQ_HELLO_TIMEOUT_MS;
    kmq_t *self = (kmq_t *) zmalloc (sizeof (kmq_t));
    self->endpoint = mem_strdup (endpoint);
    self->interrupt_flag = options? options->interrupt_flag: NULL;
    self->own_input = options && options->own_input;
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        snprintf (error, error_size, "cannot create a ZeroMQ socket: %s",
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    zsock_set_linger (self->dealer, 0);
    //  CURVE on tcp, with the keys in the user's config dir (keys.h)
    const char *key_note = NULL;
    if (keys_apply (self->dealer, endpoint, NULL, "client", &key_note,
                    error, error_size) != 0)
        goto fail;
    if (zsock_connect (self->dealer, "%s", endpoint) != 0) {
        snprintf (error, error_size, "cannot connect to %s: %s (an endpoint"
                  " looks like tcp://HOST:PORT or ipc://PATH)", endpoint,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    const char *client = options && options->client_name?
                         options->client_name: "libkmq 0.1";
    self->client_name = mem_strdup (client);
    //  Ids unique across clients, so a resumed request is told apart from
    //  another client's (protocol.md 12.2): a random 48-bit start
    uint64_t start = 0;
    if (getrandom (&start, sizeof start, 0) != (ssize_t) sizeof start)
        start = (uint64_t) zclock_usecs () ^ ((uint64_t) getpid () << 20);
    self->next_id = start & 0xffffffffffffull;
    uint64_t id = ++self->next_id;
    zmsg_t *hello = proto_encode_hello (id, PROTO_VERSION, client);
    if (s_send (self, &hello) != 0) {
        snprintf (error, error_size, "cannot send hello to %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    //  No heartbeats during hello: one deadline, and a silence window that
    //  cannot expire before it
    int64_t deadline = zclock_mono () + timeout;
    self->heartbeat_ivl = (uint64_t) timeout + 1000;
    self->heartbeat_liveness = 2;
    self->last_heard = zclock_mono ();
    self->next_heartbeat = deadline + 1000;
    volatile sig_atomic_t *flag = self->interrupt_flag;
    self->interrupt_flag = NULL;    //  Ctrl-C during hello is the caller's
    proto_msg_t *reply = NULL;
    while (true) {
        s_wait_t result = s_wait (self, deadline, &reply);
        if (result != S_MESSAGE)
            break;
        if (proto_msg_type (reply) == PROTO_REPLY && proto_msg_id (reply) == id)
            break;
        proto_msg_destroy (&reply);
    }
    self->interrupt_flag = flag;
    if (!reply) {
        //  A broker that refuses our key looks the same from here: the
        //  handshake fails and nothing comes back
        const char *hint = key_note? key_note
                         : keys_endpoint_needs_curve (endpoint)?
                           "and does it allow our key (kmq keys)?": "";
        if (timeout % 1000 == 0)
            snprintf (error, error_size, "broker at %s did not answer within"
                      " %d s: is kmq-broker running? %s", endpoint, timeout / 1000, hint);
        else
            snprintf (error, error_size, "broker at %s did not answer within"
                      " %d ms: is kmq-broker running? %s", endpoint, timeout, hint);
        goto fail;
    }
    if (!proto_msg_is_ok (reply)) {
        const char *message = proto_msg_str (reply, "message");
        snprintf (error, error_size, "broker at %s refused hello: %s: %s",
                  endpoint, proto_error_name (proto_msg_error (reply)),
                  message? message: "");
        proto_msg_destroy (&reply);
        goto fail;
    }
    const char *broker = proto_msg_str (reply, "broker");
    self->broker = mem_strdup (broker? broker: "kmq-broker");
    self->heartbeat_ivl = proto_msg_uint (reply, "heartbeat_ivl_ms", 1000);
    self->heartbeat_liveness = proto_msg_uint (reply, "heartbeat_liveness", 3);
    self->max_payload = proto_msg_uint (reply, "max_payload", 256ull << 20);
    self->epoch = proto_msg_uint (reply, "epoch", 0);
    proto_msg_destroy (&reply);
    //  Checked here, at the boundary: their product is a time we add to
    //  the clock, and an overflow would make a live broker look dead.
    if (self->heartbeat_ivl == 0 || self->heartbeat_ivl > PROTO_HEARTBEAT_IVL_MAX_MS
    ||  self->heartbeat_liveness == 0
    ||  self->heartbeat_liveness > PROTO_HEARTBEAT_LIVENESS_MAX) {
        snprintf (error, error_size, "broker at %s announced heartbeats every %"
                  PRIu64 " ms with liveness %" PRIu64 ", outside 1..%d ms and 1..%d: "
                  "it is not a kernelmq broker, or a broken one", endpoint,
                  self->heartbeat_ivl, self->heartbeat_liveness,
                  PROTO_HEARTBEAT_IVL_MAX_MS, PROTO_HEARTBEAT_LIVENESS_MAX);
        goto fail;
    }
    self->last_wait_end = 0;
    return self;

fail:
    kmq_destroy (&self);
    return NULL;
}

void
kmq_destroy (kmq_t **self_p)
{
    assert (self_p);
    kmq_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->dealer);
    free (self->client_name);
    zhash_destroy (&self->attached);
    free (self->endpoint);
    free (self->broker);
    free (self);
    *self_p = NULL;
}

void
kmq_set_event_handler (kmq_t *self, kmq_event_fn *handler, void *arg)
{
    assert (self);
    self->event_fn = handler;
    self->event_arg = arg;
}

const char *
kmq_broker_name (kmq_t *self)
{
    assert (self);
    return self->broker;
}

uint64_t
kmq_max_payload (kmq_t *self)
{
    assert (self);
    return self->max_payload;
}

uint64_t
kmq_heartbeat_ivl (kmq_t *self)
{
    assert (self);
    return self->heartbeat_ivl;
}

const char *
kmq_error (kmq_t *self)
{
    assert (self);
    return self->error;
}

//  --- requests -----------------------------------------------------------

kmq_reply_t *
kmq_execute (kmq_t *self, const char *session, const char *code, size_t len,
             uint32_t timeout_ms)
{
    assert (self && code);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    zmsg_t *msg = kmq_request_execute (self->max_payload, id, session, code, len,
                                       timeout_ms, self->own_input, &refused);
    return msg? s_request (self, &msg, id, session): refused;
}

kmq_reply_t *
kmq_upload (kmq_t *self, const char *session, const char *name,
            const char *format, const void *data, size_t size)
{
    assert (self && (data || size == 0));
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    zmsg_t *msg = kmq_request_upload (self->max_payload, id, session, name, format,
                                      data, size, true, &refused);
    if (!msg)
        return refused;
    size_t parts = kmq_upload_parts (format, size);
    if (parts == 1)
        return s_request (self, &msg, id, session);
    //  In parts: piece 0 went with the request, the others follow at once
    //  (built one at a time: no second copy of the whole upload)
    s_wait_begin (self);
    int rc = s_send (self, &msg);
    for (size_t part = 1; rc == 0 && part < parts; part++) {
        size_t at = part * KMQ_UPLOAD_PIECE;
        size_t piece = size - at < KMQ_UPLOAD_PIECE? size - at: KMQ_UPLOAD_PIECE;
        zmsg_t *next = kmq_request_upload_part (id, session, part,
                                                (const char *) data + at, piece);
        rc = s_send (self, &next);
    }
    if (rc != 0)
        return s_send_failed (self);
    return s_await_reply (self, id, session);
}

kmq_reply_t *
kmq_download (kmq_t *self, const char *session, const char *name,
              const char *format)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    zmsg_t *msg = kmq_request_download (id, session, name, format, &refused);
    return msg? s_request (self, &msg, id, session): refused;
}

//  complete and inspect: code with a byte cursor into it.
static kmq_reply_t *
s_at_cursor (kmq_t *self, proto_type_t type, const char *session,
             const char *code, size_t len, size_t cursor_pos)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    zmsg_t *msg = kmq_request_code (self->max_payload, type, id, session, code,
                                    len, cursor_pos, &refused);
    return msg? s_request (self, &msg, id, session): refused;
}

kmq_reply_t *
kmq_complete (kmq_t *self, const char *session, const char *code, size_t len,
              size_t cursor_pos)
{
    return s_at_cursor (self, PROTO_COMPLETE, session, code, len, cursor_pos);
}

kmq_reply_t *
kmq_inspect (kmq_t *self, const char *session, const char *code, size_t len,
             size_t cursor_pos)
{
    return s_at_cursor (self, PROTO_INSPECT, session, code, len, cursor_pos);
}

//  reset, vars, interrupt, close, attach, detach. Only requests that run in
//  the session's queue are worth interrupting.
static kmq_reply_t *
s_simple (kmq_t *self, proto_type_t type, const char *session, bool queued)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    zmsg_t *msg = kmq_request_simple (type, id, session, &refused);
    return msg? s_request (self, &msg, id, queued? session: NULL): refused;
}

kmq_reply_t *
kmq_reset (kmq_t *self, const char *session)
{
    return s_simple (self, PROTO_RESET, session, true);
}

kmq_reply_t *
kmq_vars (kmq_t *self, const char *session)
{
    return s_simple (self, PROTO_VARS, session, true);
}

kmq_reply_t *
kmq_close (kmq_t *self, const char *session)
{
    return s_simple (self, PROTO_CLOSE, session, false);
}

kmq_reply_t *
kmq_interrupt (kmq_t *self, const char *session)
{
    return s_simple (self, PROTO_INTERRUPT, session, false);
}

kmq_reply_t *
kmq_attach (kmq_t *self, const char *session)
{
    kmq_reply_t *reply = s_simple (self, PROTO_ATTACH, session, false);
    if (kmq_reply_ok (reply)) {
        if (!self->attached)
            self->attached = zhash_new ();
        zhash_update (self->attached, session, self);
    }
    return reply;
}

kmq_reply_t *
kmq_detach (kmq_t *self, const char *session)
{
    kmq_reply_t *reply = s_simple (self, PROTO_DETACH, session, false);
    if (self->attached && kmq_session_valid (session))
        zhash_delete (self->attached, session);
    return reply;
}

kmq_reply_t *
kmq_stats (kmq_t *self)
{
    assert (self);
    uint64_t id = ++self->next_id;
    zmsg_t *msg = proto_encode_stats (id);
    return s_request (self, &msg, id, NULL);
}

kmq_reply_t *
kmq_share (kmq_t *self, const char *session, const char *with, bool revoke)
{
    assert (self);
    if (!kmq_session_valid (session))
        return kmq_reply_local ("BAD_REQUEST", "share: invalid session key");
    char *key = keys_public_from (with);
    if (!key)
        return kmq_reply_local ("BAD_REQUEST", "share: '%.64s' is neither a CURVE public "
                                "key (40 z85 characters) nor a certificate file",
                                with ? with : "");
    uint64_t id = ++self->next_id;
    zmsg_t *msg = proto_encode_share (id, session, key, revoke);
    free (key);
    return s_request (self, &msg, id, NULL);
}

kmq_reply_t *
kmq_shutdown (kmq_t *self, bool end_sessions)
{
    assert (self);
    uint64_t id = ++self->next_id;
    proto_builder_t *builder = proto_builder_new (PROTO_SHUTDOWN, id, NULL);
    proto_builder_bool (builder, "end_sessions", end_sessions);
    zmsg_t *msg = proto_builder_finish (&builder);
    return s_request (self, &msg, id, NULL);
}

//  A restarted broker knows none of our attachments: hello, then attach
//  again to each session (its kernel may take a few heartbeats to come
//  back to the new broker: NO_SUCH_SESSION is retried meanwhile).
//  Returns 0, or -1 with self->error set.
static int
s_reattach (kmq_t *self)
{
    self->epoch = 0;
    uint64_t id = ++self->next_id;
    zmsg_t *hello = proto_encode_hello (id, PROTO_VERSION, self->client_name);
    kmq_reply_t *reply = s_request (self, &hello, id, NULL);
    bool ok = kmq_reply_ok (reply);
    kmq_reply_destroy (&reply);
    if (!ok) {
        snprintf (self->error, sizeof self->error, "the broker at %s restarted and "
                  "refused hello", self->endpoint);
        return -1;
    }
    zlist_t *sessions = self->attached? zhash_keys (self->attached): zlist_new ();
    int rc = 0;
    for (char *session = (char *) zlist_first (sessions); session && rc == 0;
         session = (char *) zlist_next (sessions)) {
        int64_t give_up = zclock_mono () + KMQ_REATTACH_MS;
        while (true) {
            reply = s_simple (self, PROTO_ATTACH, session, false);
            const char *code = kmq_reply_error (reply);
            bool retry = code && streq (code, "NO_SUCH_SESSION")
                      && zclock_mono () < give_up;
            if (kmq_reply_ok (reply))
                s_note (self, 0, session, "the broker at %s restarted; attached again",
                        self->endpoint);
            else
            if (!retry) {
                snprintf (self->error, sizeof self->error, "the broker at %s restarted; "
                          "attach %s again: %s", self->endpoint, session,
                          kmq_reply_message (reply));
                rc = -1;
            }
            kmq_reply_destroy (&reply);
            if (!retry)
                break;
            zclock_sleep (200);
        }
    }
    zlist_destroy (&sessions);
    return rc;
}

int
kmq_listen (kmq_t *self, int timeout_ms)
{
    assert (self);
    s_wait_begin (self);
    int64_t deadline = timeout_ms < 0? -1: zclock_mono () + timeout_ms;
    while (true) {
        proto_msg_t *msg = NULL;
        s_wait_t result = s_wait (self, deadline, &msg);
        if (result == S_LOST) {
            snprintf (self->error, sizeof self->error, "broker at %s stopped"
                      " answering (silent for %" PRIu64 " ms): is kmq-broker"
                      " still running?", self->endpoint,
                      self->heartbeat_ivl * self->heartbeat_liveness);
            return -1;
        }
        if (result == S_RESTARTED) {
            if (s_reattach (self))
                return -1;
            continue;
        }
        if (result != S_MESSAGE)
            return 0;
        int handled = 0;
        if (proto_msg_type (msg) == PROTO_EVENT)
            handled = s_dispatch_event (self, msg, 0);
        proto_msg_destroy (&msg);
        if (handled)
            return handled;
    }
}
