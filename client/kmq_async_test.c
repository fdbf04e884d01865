/*  kmq_async_test — the asynchronous connection's selftest, against a fake
    broker (a ROUTER this thread drives step by step through the codec).   */
#include <czmq.h>
#include "kmq_async.h"
#include "kmq_private.h"
#include "selftest.h"

#define TEST_ENDPOINT "inproc://kmq-async-selftest"

//  The next message the fake broker gets (within 1 s), decoded; its
//  routing identity in *identity_p.
static proto_msg_t *
s_broker_recv (zsock_t *router, zframe_t **identity_p)
{
    zsock_set_rcvtimeo (router, 1000);
    zmsg_t *msg = zmsg_recv (router);
    if (!msg)
        return NULL;
    zframe_destroy (identity_p);
    *identity_p = zmsg_pop (msg);
    proto_fault_t fault;
    return proto_decode (&msg, &fault);
}

static void
s_broker_send (zsock_t *router, zframe_t *identity, zmsg_t *msg)
{
    zframe_t *copy = zframe_dup (identity);
    zmsg_prepend (msg, &copy);
    zmsg_send (&msg, router);
}

//  Answers the hello the fake just got: heartbeats every 100 ms, liveness 3.
static void
s_hello_reply (zsock_t *router, zframe_t *identity, uint64_t id)
{
    proto_builder_t *b = proto_reply_ok_begin (id, NULL);
    proto_builder_uint (b, "version", 1);
    proto_builder_str (b, "broker", "fake");
    proto_builder_uint (b, "heartbeat_ivl_ms", 100);
    proto_builder_uint (b, "heartbeat_liveness", 3);
    proto_builder_uint (b, "max_payload", 1000);
    s_broker_send (router, identity, proto_builder_finish (&b));
}

//  Calls kmq_async_next every 5 ms until it gives a message (at most 2 s).
static kmq_reply_t *
s_next (kmq_async_t *conn)
{
    for (int i = 0; i < 400; i++) {
        kmq_reply_t *msg = kmq_async_next (conn);
        if (msg)
            return msg;
        zclock_sleep (5);
    }
    return NULL;
}

void
kmq_async_test (bool verbose)
{
    if (verbose)
        printf (" * kmq_async: ");
    zsock_t *router = zsock_new_router (TEST_ENDPOINT);
    SELFTEST_CHECK (router);
    char error [256];
    kmq_options_t options = { .hello_timeout_ms = 300, .client_name = "t" };
    kmq_async_t *conn = kmq_async_new (TEST_ENDPOINT, &options, error, sizeof error);
    SELFTEST_CHECK (conn);
    SELFTEST_CHECK (kmq_async_state (conn) == KMQ_ASYNC_CONNECTING);

    //  Requests made before hello is answered are held, then sent in order
    uint64_t first = kmq_async_execute (conn, "nb1", "x = 1", 5, 0);
    uint64_t second = kmq_async_vars (conn, "nb1");
    SELFTEST_CHECK (first != 0 && second > first);
    SELFTEST_CHECK (kmq_async_outstanding (conn) == 2);
    zframe_t *identity = NULL;
    proto_msg_t *got = s_broker_recv (router, &identity);
    SELFTEST_CHECK (got && proto_msg_type (got) == PROTO_HELLO);
    SELFTEST_CHECK (streq (proto_msg_str (got, "client"), "t"));
    s_hello_reply (router, identity, proto_msg_id (got));
    proto_msg_destroy (&got);
    for (int i = 0; i < 100 && kmq_async_state (conn) != KMQ_ASYNC_READY; i++) {
        zclock_sleep (5);
        kmq_reply_t *none = kmq_async_next (conn);
        SELFTEST_CHECK (!none);
    }
    SELFTEST_CHECK (kmq_async_state (conn) == KMQ_ASYNC_READY);
    got = s_broker_recv (router, &identity);
    SELFTEST_CHECK (got && proto_msg_type (got) == PROTO_EXECUTE
                    && proto_msg_id (got) == first);
    proto_msg_destroy (&got);
    got = s_broker_recv (router, &identity);
    SELFTEST_CHECK (got && proto_msg_type (got) == PROTO_VARS
                    && proto_msg_id (got) == second);
    proto_msg_destroy (&got);

    //  Events and replies come back as they are, events first
    s_broker_send (router, identity, proto_encode_stream (first, "nb1", "stdout", "hi\n", 3));
    s_broker_send (router, identity, proto_encode_ok (first, "nb1"));
    kmq_reply_t *msg = s_next (conn);
    SELFTEST_CHECK (msg && streq (kmq_reply_event (msg), "stream"));
    SELFTEST_CHECK (kmq_reply_id (msg) == first);
    SELFTEST_CHECK (streq (kmq_reply_session_key (msg), "nb1"));
    SELFTEST_CHECK (streq (kmq_reply_str (msg, "name"), "stdout"));
    size_t size = 0;
    const void *data = kmq_reply_payload (msg, 0, &size);
    SELFTEST_CHECK (data && size == 3 && memcmp (data, "hi\n", 3) == 0);
    kmq_reply_destroy (&msg);
    msg = s_next (conn);
    SELFTEST_CHECK (msg && !kmq_reply_event (msg) && kmq_reply_ok (msg));
    SELFTEST_CHECK (kmq_reply_id (msg) == first);
    kmq_reply_destroy (&msg);
    SELFTEST_CHECK (kmq_async_outstanding (conn) == 1);

    //  Refused locally, answered with the request's id
    uint64_t bad = kmq_async_execute (conn, "no spaces", "1", 1, 0);
    msg = kmq_async_next (conn);
    SELFTEST_CHECK (msg && kmq_reply_id (msg) == bad);
    SELFTEST_CHECK (streq (kmq_reply_error (msg), "BAD_REQUEST"));
    kmq_reply_destroy (&msg);
    uint64_t big = kmq_async_execute (conn, "nb1", "x = '...'", 1001, 0);
    msg = kmq_async_next (conn);
    SELFTEST_CHECK (msg && kmq_reply_id (msg) == big);
    SELFTEST_CHECK (streq (kmq_reply_error (msg), "TOO_LARGE"));
    SELFTEST_CHECK (streq (kmq_reply_session_key (msg), "nb1"));
    kmq_reply_destroy (&msg);

    //  Heartbeats go out while the caller services the connection
    SELFTEST_CHECK (kmq_async_timeout (conn) <= 300);
    bool heartbeat = false;
    for (int i = 0; i < 80 && !heartbeat; i++) {
        kmq_reply_t *none = kmq_async_next (conn);
        SELFTEST_CHECK (!none);
        zmq_pollitem_t item = { zsock_resolve (router), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 5) > 0) {
            got = s_broker_recv (router, &identity);
            heartbeat = got && proto_msg_type (got) == PROTO_HEARTBEAT;
            proto_msg_destroy (&got);
        }
    }
    SELFTEST_CHECK (heartbeat);

    //  A silent broker: the request without a reply gets BROKER_LOST
    msg = s_next (conn);
    SELFTEST_CHECK (msg && kmq_reply_id (msg) == second);
    SELFTEST_CHECK (streq (kmq_reply_error (msg), "BROKER_LOST"));
    SELFTEST_CHECK (strstr (kmq_reply_message (msg), "stopped answering"));
    SELFTEST_CHECK (streq (kmq_reply_session_key (msg), "nb1"));
    kmq_reply_destroy (&msg);
    SELFTEST_CHECK (kmq_async_state (conn) == KMQ_ASYNC_DOWN);
    SELFTEST_CHECK (strstr (kmq_async_error (conn), TEST_ENDPOINT));
    SELFTEST_CHECK (kmq_async_outstanding (conn) == 0);
    SELFTEST_CHECK (kmq_async_timeout (conn) == -1);

    //  What the old socket still held is gone; a new request says hello again
    while ((got = s_broker_recv (router, &identity))
    &&     proto_msg_type (got) == PROTO_HEARTBEAT)
        proto_msg_destroy (&got);
    proto_msg_destroy (&got);
    uint64_t third = kmq_async_execute (conn, "nb1", "2", 1, 0);
    SELFTEST_CHECK (kmq_async_state (conn) == KMQ_ASYNC_CONNECTING);
    got = s_broker_recv (router, &identity);
    SELFTEST_CHECK (got && proto_msg_type (got) == PROTO_HELLO);
    s_hello_reply (router, identity, proto_msg_id (got));
    proto_msg_destroy (&got);
    got = NULL;
    for (int i = 0; i < 200 && !got; i++) {
        kmq_reply_t *none = kmq_async_next (conn);
        SELFTEST_CHECK (!none);
        zmq_pollitem_t item = { zsock_resolve (router), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 5) > 0)
            got = s_broker_recv (router, &identity);
    }
    SELFTEST_CHECK (got && proto_msg_id (got) == third);
    proto_msg_destroy (&got);

    //  A broker that never answers hello: the held request fails with the
    //  sentence a user can act on
    kmq_async_t *lonely = kmq_async_new ("inproc://kmq-async-nobody", &options,
                                         error, sizeof error);
    SELFTEST_CHECK (lonely);
    uint64_t id = kmq_async_is_complete (lonely, "nb1", "for i in x:", 11);
    uint64_t hid = kmq_async_history (lonely, "nb1", 2);
    msg = s_next (lonely);
    SELFTEST_CHECK (msg && kmq_reply_id (msg) == id);
    SELFTEST_CHECK (streq (kmq_reply_error (msg), "BROKER_LOST"));
    SELFTEST_CHECK (streq (kmq_reply_message (msg), "kernelmq broker at"
                           " inproc://kmq-async-nobody did not answer: start it"
                           " with make run"));
    kmq_reply_destroy (&msg);
    msg = s_next (lonely);
    SELFTEST_CHECK (msg && kmq_reply_id (msg) == hid);
    kmq_reply_destroy (&msg);
    kmq_async_destroy (&lonely);
    SELFTEST_CHECK (!kmq_async_new ("nonsense", &options, error, sizeof error));
    SELFTEST_CHECK (strstr (error, "cannot connect to nonsense"));

    kmq_async_destroy (&conn);
    kmq_async_destroy (&conn);
    zframe_destroy (&identity);
    zsock_destroy (&router);
    if (verbose)
        printf ("OK\n");
}
