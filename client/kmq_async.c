/*  kmq_async — libkmq's asynchronous connection: requests go out at once,
    events and replies come back through kmq_async_next, heartbeats and the
    broker's liveness are kept whatever the caller is doing. See kmq_async.h.

    The trap: a request sent into a DEALER whose broker is gone stays queued
    in libzmq and would run whenever a broker appears, long after its caller
    was told it failed. So when the connection goes DOWN its socket is
    thrown away (linger 0) and a fresh, unconnected one takes its place; a
    later request connects that one and says hello again.                  */
#include <czmq.h>
#include "kmq_async.h"
#include "kmq_private.h"
#include "keys.h"
#include "mem.h"

#define KMQ_ASYNC_HELLO_TIMEOUT_MS  5000

typedef struct {
    uint64_t id;
    zmsg_t *msg;
} s_held_t;

struct _kmq_async_t {
    char *endpoint;
    char *client_name;
    char *key_role;                 //  keys_apply's name: client, gateway
    char *act_as;                   //  `as` of the requests sent now, or NULL
    int hello_timeout;              //  ms
    zsock_t *dealer;
    kmq_async_state_t state;
    uint64_t next_id;               //  last id used; ids start at 1
    uint64_t hello_id;
    int64_t hello_deadline;         //  mono ms
    uint64_t heartbeat_ivl;         //  ms, from hello
    uint64_t heartbeat_liveness;
    uint64_t max_payload;
    int64_t last_heard;             //  mono ms of the last message from the broker
    int64_t next_heartbeat;         //  mono ms
    int64_t last_service;           //  mono ms of the last kmq_async_next
    zlist_t *held;                  //  s_held_t waiting for the hello reply
    zhash_t *outstanding;           //  "id" -> session copy, requests without reply
    zlist_t *local;                 //  kmq_reply_t ready to hand out
    char error [512];
};

static void
s_held_destroy (s_held_t **held_p)
{
    s_held_t *held = *held_p;
    if (held) {
        zmsg_destroy (&held->msg);
        free (held);
        *held_p = NULL;
    }
}

//  Replaces the socket with a fresh, unconnected one: whatever the old one
//  still held for the broker is dropped.
static int
s_socket_fresh (kmq_async_t *self, char *error, size_t error_size)
{
    zsock_destroy (&self->dealer);
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        snprintf (error, error_size, "cannot create a ZeroMQ socket: %s",
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_set_linger (self->dealer, 0);
    return 0;
}

//  Connects the (fresh) socket and sends hello: CONNECTING.
static int
s_connect (kmq_async_t *self, char *error, size_t error_size)
{
    //  CURVE on tcp, with the keys in the user's config dir (keys.h)
    if (keys_apply (self->dealer, self->endpoint, NULL, self->key_role, NULL,
                    error, error_size) != 0)
        return -1;
    if (zsock_connect (self->dealer, "%s", self->endpoint) != 0) {
        snprintf (error, error_size, "cannot connect to %s: %s (an endpoint"
                  " looks like tcp://HOST:PORT or ipc://PATH)", self->endpoint,
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->hello_id = ++self->next_id;
    zmsg_t *hello = proto_encode_hello (self->hello_id, PROTO_VERSION,
                                        self->client_name);
    if (zmsg_send (&hello, self->dealer) != 0) {
        zmsg_destroy (&hello);
        snprintf (error, error_size, "cannot send hello to %s: %s",
                  self->endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->state = KMQ_ASYNC_CONNECTING;
    self->hello_deadline = zclock_mono () + self->hello_timeout;
    self->error [0] = 0;
    return 0;
}

//  Queues a local reply for request id.
static void
s_answer_locally (kmq_async_t *self, kmq_reply_t **reply_p, uint64_t id,
                  const char *session)
{
    kmq_reply_set_request (*reply_p, id, session);
    zlist_append (self->local, *reply_p);
    *reply_p = NULL;
}

static int
s_id_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

//  The broker is gone: every request without a reply gets BROKER_LOST with
//  reason, and the socket is replaced.
static void
s_down (kmq_async_t *self, const char *reason)
{
    self->state = KMQ_ASYNC_DOWN;
    snprintf (self->error, sizeof self->error, "%s", reason);
    s_held_t *held;
    while ((held = (s_held_t *) zlist_pop (self->held)))
        s_held_destroy (&held);
    //  Answered in id order, so a caller sees them as it sent them
    size_t count = zhash_size (self->outstanding);
    uint64_t *ids = (uint64_t *) mem_alloc ((count + 1) * sizeof (uint64_t));
    size_t n = 0;
    for (void *item = zhash_first (self->outstanding); item && n < count;
         item = zhash_next (self->outstanding))
        ids [n++] = strtoull (zhash_cursor (self->outstanding), NULL, 10);
    qsort (ids, n, sizeof (uint64_t), s_id_compare);
    for (size_t i = 0; i < n; i++) {
        char key [24];
        snprintf (key, sizeof key, "%" PRIu64, ids [i]);
        kmq_reply_t *reply = kmq_reply_local ("BROKER_LOST", "%s", reason);
        s_answer_locally (self, &reply, ids [i],
                          (const char *) zhash_lookup (self->outstanding, key));
    }
    free (ids);
    zhash_destroy (&self->outstanding);
    self->outstanding = zhash_new ();
    zhash_autofree (self->outstanding);
    char scratch [256];
    if (s_socket_fresh (self, scratch, sizeof scratch) != 0)
        mem_oom ("a ZeroMQ socket");    //  only when libzmq is out of sockets/memory
}

static void
s_send_now (kmq_async_t *self, uint64_t id, zmsg_t **msg_p)
{
    if (zmsg_send (msg_p, self->dealer) == 0)
        return;
    zmsg_destroy (msg_p);
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    kmq_reply_t *reply = kmq_reply_local ("INTERNAL", "could not send to the"
                                          " broker at %s: %s", self->endpoint,
                                          zmq_strerror (zmq_errno ()));
    s_answer_locally (self, &reply, id,
                      (const char *) zhash_lookup (self->outstanding, key));
    zhash_delete (self->outstanding, key);
}

//  Takes *msg_p for request id: sent now when READY, held while CONNECTING,
//  and when DOWN a fresh connection is started and it is held.
static uint64_t
s_submit (kmq_async_t *self, uint64_t id, const char *session, zmsg_t **msg_p)
{
    //  A gateway's requests act for the key it was told (kmq_async_act_as)
    if (*msg_p && self->act_as && zsock_mechanism (self->dealer) == ZMQ_CURVE)
        proto_encode_add_str (*msg_p, "as", self->act_as);
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    //  autofree: the hash keeps its own copy of the string
    zhash_insert (self->outstanding, key, (void *) (session? session: ""));
    if (self->state == KMQ_ASYNC_DOWN) {
        char error [512];
        if (s_connect (self, error, sizeof error) != 0) {
            zmsg_destroy (msg_p);
            s_down (self, error);
            return id;
        }
    }
    if (self->state == KMQ_ASYNC_READY)
        s_send_now (self, id, msg_p);
    else {
        s_held_t *held = (s_held_t *) zmalloc (sizeof (s_held_t));
        held->id = id;
        held->msg = *msg_p;
        *msg_p = NULL;
        zlist_append (self->held, held);
    }
    return id;
}

//  A request built by kmq_request_*: sent (or held), or, refused before
//  sending, its local reply comes from next.
static uint64_t
s_request (kmq_async_t *self, uint64_t id, const char *session, zmsg_t **msg_p,
           kmq_reply_t **refused_p)
{
    if (*msg_p)
        return s_submit (self, id, session, msg_p);
    s_answer_locally (self, refused_p, id, kmq_session_valid (session)? session: NULL);
    return id;
}

//  The hello reply: READY and the held requests go out, or DOWN.
static void
s_hello_answered (kmq_async_t *self, proto_msg_t *reply)
{
    char reason [512];
    if (!proto_msg_is_ok (reply)) {
        const char *message = proto_msg_str (reply, "message");
        snprintf (reason, sizeof reason, "kernelmq broker at %s refused hello:"
                  " %s: %s", self->endpoint,
                  proto_error_name (proto_msg_error (reply)), message? message: "");
        s_down (self, reason);
        return;
    }
    uint64_t ivl = proto_msg_uint (reply, "heartbeat_ivl_ms", 1000);
    uint64_t liveness = proto_msg_uint (reply, "heartbeat_liveness", 3);
    if (ivl == 0 || ivl > PROTO_HEARTBEAT_IVL_MAX_MS
    ||  liveness == 0 || liveness > PROTO_HEARTBEAT_LIVENESS_MAX) {
        snprintf (reason, sizeof reason, "kernelmq broker at %s announced"
                  " heartbeats every %" PRIu64 " ms with liveness %" PRIu64
                  ": it is not a kernelmq broker, or a broken one",
                  self->endpoint, ivl, liveness);
        s_down (self, reason);
        return;
    }
    self->heartbeat_ivl = ivl;
    self->heartbeat_liveness = liveness;
    self->max_payload = proto_msg_uint (reply, "max_payload", 256ull << 20);
    self->state = KMQ_ASYNC_READY;
    int64_t now = zclock_mono ();
    self->last_heard = now;
    self->next_heartbeat = now + (int64_t) ivl;
    s_held_t *held;
    while ((held = (s_held_t *) zlist_pop (self->held))) {
        s_send_now (self, held->id, &held->msg);
        s_held_destroy (&held);
    }
}

//  --- connection ---------------------------------------------------------

kmq_async_t *
kmq_async_new (const char *endpoint, const kmq_options_t *options,
               char *error, size_t error_size)
{
    assert (endpoint);
    char scratch [8];
    if (!error) {
        error = scratch;
        error_size = sizeof scratch;
    }
    kmq_async_t *self = (kmq_async_t *) zmalloc (sizeof (kmq_async_t));
    self->endpoint = mem_strdup (endpoint);
    self->client_name = mem_strdup (options && options->client_name?
                                    options->client_name: "libkmq 0.1");
    self->key_role = mem_strdup (options && options->key_role? options->key_role: "client");
    self->hello_timeout = options && options->hello_timeout_ms > 0?
                          options->hello_timeout_ms: KMQ_ASYNC_HELLO_TIMEOUT_MS;
    self->max_payload = 256ull << 20;   //  until hello says
    self->held = zlist_new ();
    self->outstanding = zhash_new ();
    zhash_autofree (self->outstanding);
    self->local = zlist_new ();
    self->last_service = zclock_mono ();
    if (s_socket_fresh (self, error, error_size) != 0
    ||  s_connect (self, error, error_size) != 0) {
        kmq_async_destroy (&self);
        return NULL;
    }
    return self;
}

void
kmq_async_destroy (kmq_async_t **self_p)
{
    assert (self_p);
    kmq_async_t *self = *self_p;
    if (!self)
        return;
    s_held_t *held;
    while ((held = (s_held_t *) zlist_pop (self->held)))
        s_held_destroy (&held);
    zlist_destroy (&self->held);
    kmq_reply_t *reply;
    while ((reply = (kmq_reply_t *) zlist_pop (self->local)))
        kmq_reply_destroy (&reply);
    zlist_destroy (&self->local);
    zhash_destroy (&self->outstanding);
    zsock_destroy (&self->dealer);
    free (self->endpoint);
    free (self->client_name);
    free (self->key_role);
    free (self->act_as);
    free (self);
    *self_p = NULL;
}

void *
kmq_async_handle (kmq_async_t *self)
{
    assert (self);
    return zsock_resolve (self->dealer);
}

int
kmq_async_timeout (kmq_async_t *self)
{
    assert (self);
    if (zlist_size (self->local) > 0)
        return 0;
    int64_t now = zclock_mono ();
    int64_t due;
    if (self->state == KMQ_ASYNC_CONNECTING)
        due = self->hello_deadline;
    else
    if (self->state == KMQ_ASYNC_READY) {
        due = self->last_heard
            + (int64_t) (self->heartbeat_ivl * self->heartbeat_liveness);
        if (self->next_heartbeat < due)
            due = self->next_heartbeat;
    }
    else
        return -1;
    return due <= now? 0: (int) (due - now);
}

//  Deadlines: hello, silence, heartbeat.
static void
s_clock (kmq_async_t *self)
{
    int64_t now = zclock_mono ();
    //  A caller that did not service us for a while (past two heartbeats;
    //  one that polls with kmq_async_timeout never waits longer than one)
    //  had nobody heartbeat meanwhile: the broker's silence means nothing.
    if (now - self->last_service > 2 * (int64_t) self->heartbeat_ivl
    &&  self->state == KMQ_ASYNC_READY) {
        self->last_heard = now;
        self->next_heartbeat = now;
    }
    self->last_service = now;
    char reason [512];
    if (self->state == KMQ_ASYNC_CONNECTING && now >= self->hello_deadline) {
        snprintf (reason, sizeof reason, "kernelmq broker at %s did not answer:"
                  " start it with make run", self->endpoint);
        s_down (self, reason);
    }
    else
    if (self->state == KMQ_ASYNC_READY) {
        uint64_t silence = self->heartbeat_ivl * self->heartbeat_liveness;
        if (now - self->last_heard >= (int64_t) silence) {
            snprintf (reason, sizeof reason, "kernelmq broker at %s stopped"
                      " answering (silent for %" PRIu64 " ms): is kmq-broker"
                      " still running? (make run starts it)", self->endpoint,
                      silence);
            s_down (self, reason);
        }
        else
        if (now >= self->next_heartbeat) {
            zmsg_t *heartbeat = proto_encode_heartbeat ();
            if (zmsg_send (&heartbeat, self->dealer) != 0)
                zmsg_destroy (&heartbeat);  //  shows as silence
            self->next_heartbeat = now + (int64_t) self->heartbeat_ivl;
        }
    }
}

kmq_reply_t *
kmq_async_next (kmq_async_t *self)
{
    assert (self);
    s_clock (self);
    while (zlist_size (self->local) == 0) {
        zmq_pollitem_t item = { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 0) <= 0 || !(item.revents & ZMQ_POLLIN))
            return NULL;
        zmsg_t *msg = zmsg_recv (self->dealer);
        if (!msg)
            return NULL;
        self->last_heard = zclock_mono ();
        proto_fault_t fault;
        proto_msg_t *decoded = proto_decode (&msg, &fault);
        if (!decoded)
            continue;               //  still life; nothing to hand out
        proto_type_t type = proto_msg_type (decoded);
        uint64_t id = proto_msg_id (decoded);
        if (type == PROTO_REPLY && self->state == KMQ_ASYNC_CONNECTING
        &&  id == self->hello_id) {
            s_hello_answered (self, decoded);
            proto_msg_destroy (&decoded);
            continue;
        }
        if (type != PROTO_REPLY && type != PROTO_EVENT) {
            proto_msg_destroy (&decoded);   //  heartbeats
            continue;
        }
        if (type == PROTO_REPLY) {
            char key [24];
            snprintf (key, sizeof key, "%" PRIu64, id);
            zhash_delete (self->outstanding, key);
        }
        return kmq_reply_from_msg (&decoded);
    }
    return (kmq_reply_t *) zlist_pop (self->local);
}

kmq_async_state_t
kmq_async_state (kmq_async_t *self)
{
    assert (self);
    return self->state;
}

const char *
kmq_async_endpoint (kmq_async_t *self)
{
    assert (self);
    return self->endpoint;
}

const char *
kmq_async_error (kmq_async_t *self)
{
    assert (self);
    return self->state == KMQ_ASYNC_DOWN? self->error: "";
}

size_t
kmq_async_outstanding (kmq_async_t *self)
{
    assert (self);
    return zhash_size (self->outstanding);
}

//  --- requests ---------------------------------------------------------------

uint64_t
kmq_async_execute (kmq_async_t *self, const char *session, const char *code,
                   size_t len, uint32_t timeout_ms)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    //  Its users (kmq-jupyter's execute_input, kmq-http's SSE) show the
    //  input event of their own requests
    zmsg_t *msg = kmq_request_execute (self->max_payload, id, session, code, len,
                                       timeout_ms, true, &refused);
    return s_request (self, id, session, &msg, &refused);
}

uint64_t
kmq_async_upload (kmq_async_t *self, const char *session, const char *name,
                  const char *format, const void *data, size_t size)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    //  One message: a request held for a hello or resent after a broker
    //  restart is one message here (libkmq's kmq_upload sends in parts)
    zmsg_t *msg = kmq_request_upload (self->max_payload, id, session, name, format,
                                      data, size, false, &refused);
    return s_request (self, id, session, &msg, &refused);
}

uint64_t
kmq_async_download (kmq_async_t *self, const char *session, const char *name,
                    const char *format)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    zmsg_t *msg = kmq_request_download (id, session, name, format, &refused);
    return s_request (self, id, session, &msg, &refused);
}

static uint64_t
s_code_request (kmq_async_t *self, proto_type_t type, const char *session,
                const char *code, size_t len, size_t cursor_pos)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    zmsg_t *msg = kmq_request_code (self->max_payload, type, id, session, code,
                                    len, cursor_pos, &refused);
    return s_request (self, id, session, &msg, &refused);
}

uint64_t
kmq_async_complete (kmq_async_t *self, const char *session, const char *code,
                    size_t len, size_t cursor_pos)
{
    return s_code_request (self, PROTO_COMPLETE, session, code, len, cursor_pos);
}

uint64_t
kmq_async_inspect (kmq_async_t *self, const char *session, const char *code,
                   size_t len, size_t cursor_pos)
{
    return s_code_request (self, PROTO_INSPECT, session, code, len, cursor_pos);
}

uint64_t
kmq_async_is_complete (kmq_async_t *self, const char *session, const char *code,
                       size_t len)
{
    return s_code_request (self, PROTO_IS_COMPLETE, session, code, len, 0);
}

uint64_t
kmq_async_history (kmq_async_t *self, const char *session, uint64_t last)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused = kmq_check_session (session);
    zmsg_t *msg = refused? NULL: proto_encode_history (id, session, last);
    return s_request (self, id, session, &msg, &refused);
}

static uint64_t
s_simple (kmq_async_t *self, proto_type_t type, const char *session)
{
    assert (self);
    uint64_t id = ++self->next_id;
    kmq_reply_t *refused;
    zmsg_t *msg = kmq_request_simple (type, id, session, &refused);
    return s_request (self, id, session, &msg, &refused);
}

void
kmq_async_act_as (kmq_async_t *self, const char *identity)
{
    assert (self);
    if (identity && self->act_as && streq (identity, self->act_as))
        return;
    free (self->act_as);
    self->act_as = identity? mem_strdup (identity): NULL;
}

uint64_t
kmq_async_reset (kmq_async_t *self, const char *session)
{
    return s_simple (self, PROTO_RESET, session);
}

uint64_t
kmq_async_vars (kmq_async_t *self, const char *session)
{
    return s_simple (self, PROTO_VARS, session);
}

uint64_t
kmq_async_interrupt (kmq_async_t *self, const char *session)
{
    return s_simple (self, PROTO_INTERRUPT, session);
}

uint64_t
kmq_async_close (kmq_async_t *self, const char *session)
{
    return s_simple (self, PROTO_CLOSE, session);
}

uint64_t
kmq_async_attach (kmq_async_t *self, const char *session)
{
    return s_simple (self, PROTO_ATTACH, session);
}

uint64_t
kmq_async_detach (kmq_async_t *self, const char *session)
{
    return s_simple (self, PROTO_DETACH, session);
}

uint64_t
kmq_async_stats (kmq_async_t *self)
{
    assert (self);
    uint64_t id = ++self->next_id;
    zmsg_t *msg = proto_encode_stats (id);
    return s_submit (self, id, NULL, &msg);
}
