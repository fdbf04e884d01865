/*  outbox — what the broker owes clients whose queue is full (see the header). */
#include "outbox.h"
#include "selftest.h"

#include <errno.h>
#include <string.h>

//  What waits for one client.
typedef struct {
    zframe_t *client;               //  routing id
    zlistx_t *msgs;                 //  zmsg_t *, oldest first, without the routing id
    size_t bytes;
    bool dropping;                  //  over the bound: said once
} s_queue_t;

struct _outbox_t {
    zhashx_t *queues;               //  routing id as hex -> s_queue_t *
    size_t waiting;
};

static void
s_msg_destructor (void **item)
{
    zmsg_destroy ((zmsg_t **) item);
}

static void
s_queue_destructor (void **item)
{
    s_queue_t *queue = (s_queue_t *) *item;
    if (!queue)
        return;
    zframe_destroy (&queue->client);
    zlistx_destroy (&queue->msgs);
    free (queue);
    *item = NULL;
}

outbox_t *
outbox_new (void)
{
    outbox_t *self = (outbox_t *) zmalloc (sizeof (outbox_t));
    self->queues = zhashx_new ();
    zhashx_set_destructor (self->queues, s_queue_destructor);
    return self;
}

void
outbox_destroy (outbox_t **self_p)
{
    assert (self_p);
    outbox_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->queues);
    free (self);
    *self_p = NULL;
}

static s_queue_t *
s_queue (outbox_t *self, zframe_t *client)
{
    char *key = zframe_strhex (client);
    s_queue_t *queue = (s_queue_t *) zhashx_lookup (self->queues, key);
    free (key);
    return queue;
}

static void
s_forget (outbox_t *self, s_queue_t *queue)
{
    self->waiting -= zlistx_size (queue->msgs);
    char *key = zframe_strhex (queue->client);
    zhashx_delete (self->queues, key);
    free (key);
}

//  One send without blocking: 0 (*msg_p sent and gone), or -1 with errno
//  (EAGAIN: its queue is full; EHOSTUNREACH: gone) and *msg_p intact. A
//  ROUTER refuses a message at its routing frame or not at all, so the
//  routing frame goes first, reused, and the message only once it passed.
static int
s_send_now (zsock_t *router, zframe_t *client, zmsg_t **msg_p)
{
    if (zframe_send (&client, router, ZFRAME_MORE | ZFRAME_REUSE) == -1)
        return -1;
    return zmsg_send (msg_p, router);
}

static size_t
s_msg_bytes (zmsg_t *msg)
{
    return zmsg_content_size (msg) + 64 * zmsg_size (msg);
}

int
outbox_send (outbox_t *self, zsock_t *router, zframe_t *client, zmsg_t **msg_p)
{
    assert (self && router && client && msg_p && *msg_p);
    //  The common case, nothing waits for anyone: no lookup
    s_queue_t *queue = zhashx_size (self->queues)? s_queue (self, client): NULL;
    if (!queue) {
        if (s_send_now (router, client, msg_p) == 0)
            return 0;
        if (errno != EAGAIN) {
            int error = errno;
            zmsg_destroy (msg_p);
            errno = error;
            return -1;
        }
        queue = (s_queue_t *) zmalloc (sizeof (s_queue_t));
        queue->client = zframe_dup (client);
        queue->msgs = zlistx_new ();
        zlistx_set_destructor (queue->msgs, s_msg_destructor);
        char *key = zframe_strhex (client);
        zhashx_insert (self->queues, key, queue);
        free (key);
    }
    size_t bytes = s_msg_bytes (*msg_p);
    if (queue->bytes + bytes > OUTBOX_MAX_BYTES) {
        if (!queue->dropping)
            zsys_warning ("outbox: %zu MiB wait unread for a client; dropping its "
                          "messages until it reads", queue->bytes >> 20);
        queue->dropping = true;
        zmsg_destroy (msg_p);
        errno = ENOBUFS;
        return -1;
    }
    zlistx_add_end (queue->msgs, *msg_p);
    *msg_p = NULL;
    queue->bytes += bytes;
    self->waiting++;
    return 0;
}

int
outbox_send_or_drop (outbox_t *self, zsock_t *router, zframe_t *client, zmsg_t **msg_p)
{
    assert (self && router && client && msg_p && *msg_p);
    int rc = -1;
    if (zhashx_size (self->queues) && s_queue (self, client))
        errno = EAGAIN;
    else
        rc = s_send_now (router, client, msg_p);
    int error = errno;
    zmsg_destroy (msg_p);
    errno = error;
    return rc;
}

void
outbox_flush (outbox_t *self, zsock_t *router, zlistx_t *gone)
{
    assert (self && router);
    if (!self->waiting)
        return;
    zlistx_t *done = zlistx_new ();
    for (s_queue_t *queue = (s_queue_t *) zhashx_first (self->queues); queue;
         queue = (s_queue_t *) zhashx_next (self->queues)) {
        zmsg_t *msg;
        int error = 0;
        while ((msg = (zmsg_t *) zlistx_first (queue->msgs))) {
            size_t bytes = s_msg_bytes (msg);
            if (s_send_now (router, queue->client, &msg) == -1) {
                error = errno;
                break;
            }
            zlistx_detach (queue->msgs, NULL);     //  sent, and zmsg_send freed it
            queue->bytes -= bytes;
            queue->dropping = false;
            self->waiting--;
        }
        if (error == EHOSTUNREACH && gone)
            zlistx_add_end (gone, zframe_dup (queue->client));
        if (!zlistx_size (queue->msgs) || error == EHOSTUNREACH)
            zlistx_add_end (done, queue);
    }
    for (s_queue_t *queue = (s_queue_t *) zlistx_first (done); queue;
         queue = (s_queue_t *) zlistx_next (done))
        s_forget (self, queue);
    zlistx_destroy (&done);
}

size_t
outbox_waiting (outbox_t *self)
{
    assert (self);
    return self->waiting;
}

//  --- selftest ------------------------------------------------------------

void
outbox_test (bool verbose)
{
    (void) verbose;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (router, 1);
    zsock_set_sndhwm (router, 2);
    zsock_set_sndtimeo (router, 0);
    SELFTEST_CHECK (zsock_bind (router, "inproc://outbox-test") == 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_rcvhwm (dealer, 2);
    zsock_set_rcvtimeo (dealer, 0);
    zsock_set_identity (dealer, "D");
    SELFTEST_CHECK (zsock_connect (dealer, "inproc://outbox-test") == 0);
    zsock_send (dealer, "s", "hello");
    zmsg_t *hello = zmsg_recv (router);
    zframe_t *client = zmsg_pop (hello);
    zmsg_destroy (&hello);

    //  Thirty messages: the pipe takes a few, the rest wait, in order
    outbox_t *self = outbox_new ();
    for (int i = 0; i < 30; i++) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addstrf (msg, "%d", i);
        SELFTEST_CHECK (outbox_send (self, router, client, &msg) == 0 && !msg);
    }
    SELFTEST_CHECK (outbox_waiting (self) > 0);
    zmsg_t *copy = zmsg_new ();
    zmsg_addstr (copy, "copy");
    SELFTEST_CHECK (outbox_send_or_drop (self, router, client, &copy) == -1
                    && errno == EAGAIN && !copy);
    int next = 0;
    for (int round = 0; round < 100 && next < 30; round++) {
        zmsg_t *got;
        while ((got = zmsg_recv (dealer))) {
            char *text = zmsg_popstr (got);
            SELFTEST_CHECK (text && atoi (text) == next);
            next++;
            free (text);
            zmsg_destroy (&got);
        }
        outbox_flush (self, router, NULL);
        zclock_sleep (1);
    }
    SELFTEST_CHECK (next == 30);
    SELFTEST_CHECK (outbox_waiting (self) == 0);
    copy = zmsg_new ();
    zmsg_addstr (copy, "30");
    SELFTEST_CHECK (outbox_send_or_drop (self, router, client, &copy) == 0 && !copy);
    zmsg_t *got = zmsg_recv (dealer);
    char *last = got? zmsg_popstr (got): NULL;
    SELFTEST_CHECK (last && streq (last, "30"));
    free (last);
    zmsg_destroy (&got);

    //  A client that is gone: EHOSTUNREACH, nothing kept
    zframe_t *nobody = zframe_new ("nobody", 6);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "x");
    SELFTEST_CHECK (outbox_send (self, router, nobody, &msg) == -1
                    && errno == EHOSTUNREACH && !msg);
    SELFTEST_CHECK (outbox_waiting (self) == 0);
    zframe_destroy (&nobody);
    zframe_destroy (&client);
    outbox_destroy (&self);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
}
