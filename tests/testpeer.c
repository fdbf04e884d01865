/*  kmq-testpeer — a raw ZeroMQ peer that sends what no well-behaved client
    would, then checks the broker still answers.

    Usage: kmq-testpeer ENDPOINT garbage N
           kmq-testpeer ENDPOINT huge-timeout SESSION
           kmq-testpeer ENDPOINT heartbeats N

    Sends N malformed messages to the broker frontend from a DEALER,
    cycling through the kinds in s_garbage, draining whatever comes back
    without waiting for it (an answer to garbage is optional). Then sends a
    valid stats request and waits up to 5 s for its reply. Prints "ok" and
    exits 0 if the reply is ok; otherwise says why on stderr and exits 1.
    Usage errors exit 2.

    huge-timeout runs a cell whose timeout_ms is 2^64 - 1, which the kernel
    must cap rather than wrap into a deadline in the past, and prints
    "ok " and the cell's result.

    heartbeats sends N heartbeats at once, each as the broker's fast path
    reads it (broker_recv.c) or as only its full decoder does (an unknown
    key, an id), and one with a payload frame, and prints "ok" when every
    heartbeat is answered with the epoch hello gave and the bad one with
    BAD_REQUEST.

    The malformed messages start from proto_encode_* output and break it,
    so the peer builds no msgpack of its own; only the non-map and random
    headers are literal bytes, on purpose.
*/
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "keys.h"
#include "proto.h"

#define S_GARBAGE_KINDS  10
#define S_REPLY_WAIT_MS  5000
#define S_SEND_WAIT_MS   5000

static uint64_t s_rng_state;

static uint32_t
s_random (void)
{
    //  xorshift64*: good enough for garbage, and no global libc state
    uint64_t x = s_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s_rng_state = x;
    return (uint32_t) ((x * 0x2545F4914F6CDD1Dull) >> 32);
}

//  Frame 1 of a message, for patching.
static zframe_t *
s_header (zmsg_t *msg)
{
    zmsg_first (msg);
    return zmsg_next (msg);
}

//  One malformed message of the given kind; id lets any fault reply be told
//  apart from the final stats reply.
static zmsg_t *
s_garbage (int kind, uint64_t id)
{
    zmsg_t *msg = NULL;
    switch (kind) {
        case 0: {       //  wrong signature
            msg = proto_encode_stats (id);
            zframe_reset (zmsg_first (msg), "KMQ0", 4);
            break;
        }
        case 1:         //  the signature frame alone
            msg = zmsg_new ();
            zmsg_addmem (msg, PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE);
            break;
        case 2: {       //  header cut in the middle of its msgpack
            zmsg_t *valid = proto_encode_execute (id, "garbage", "1", 1, 0);
            zframe_t *header = s_header (valid);
            msg = zmsg_new ();
            zmsg_addmem (msg, PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE);
            zmsg_addmem (msg, zframe_data (header), zframe_size (header) / 2);
            zmsg_addstr (msg, "1");
            zmsg_destroy (&valid);
            break;
        }
        case 3:         //  a msgpack array where the map should be
            msg = zmsg_new ();
            zmsg_addmem (msg, PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE);
            zmsg_addmem (msg, "\x93\x01\xa2hi\xc0", 6);
            break;
        case 4: {       //  known fields of the wrong kind
            proto_builder_t *builder = proto_builder_new (PROTO_EXECUTE, id, "garbage");
            proto_builder_str (builder, "timeout_ms", "soon");
            proto_builder_uint (builder, "state_lost", 1);
            proto_builder_payload_copy (builder, "1", 1);
            msg = proto_builder_finish (&builder);
            break;
        }
        case 5: {       //  unknown type: "stats" patched to "stabs"
            msg = proto_encode_stats (id);
            zframe_t *header = s_header (msg);
            byte *at = (byte *) memmem (zframe_data (header), zframe_size (header),
                                        "stats", 5);
            if (at)
                at [3] = 'b';
            break;
        }
        case 6:         //  execute without a session
            msg = proto_encode_execute (id, NULL, "1", 1, 0);
            break;
        case 7:         //  execute with an invalid session key
            msg = proto_encode_execute (id, "../../etc passwd", "1", 1, 0);
            break;
        case 8:         //  70 frames, over the 64-payload limit
            msg = proto_encode_execute (id, "garbage", "1", 1, 0);
            while (zmsg_size (msg) < 70)
                zmsg_addstr (msg, "x");
            break;
        default: {      //  random bytes, sometimes behind a valid signature
            msg = zmsg_new ();
            size_t frames = 1 + s_random () % 4;
            if (s_random () % 2)
                zmsg_addmem (msg, PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE);
            while (zmsg_size (msg) < frames) {
                byte bytes [64];
                size_t size = 1 + s_random () % sizeof (bytes);
                for (size_t i = 0; i < size; i++)
                    bytes [i] = (byte) s_random ();
                zmsg_addmem (msg, bytes, size);
            }
            break;
        }
    }
    return msg;
}

//  Receives everything already waiting, without blocking.
static void
s_drain (zsock_t *sock)
{
    while (zsock_events (sock) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (sock);
        if (!msg)
            break;
        zmsg_destroy (&msg);
    }
}

//  Waits for the reply to request id (what names it in messages), skipping
//  everything else. Returns the reply if it came and is ok (the caller
//  destroys it), else NULL having said why.
static proto_msg_t *
s_await_reply (zsock_t *sock, uint64_t id, const char *endpoint, const char *what)
{
    int64_t deadline = zclock_mono () + S_REPLY_WAIT_MS;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            fprintf (stderr, "kmq-testpeer: zmq_poll: %s\n", zmq_strerror (errno));
            return NULL;
        }
        if (rc == 0)
            break;
        zmsg_t *msg = zmsg_recv (sock);
        if (!msg)
            continue;
        proto_fault_t fault;
        proto_msg_t *reply = proto_decode (&msg, &fault);
        if (!reply) {
            fprintf (stderr, "kmq-testpeer: broker sent a malformed message: %s\n",
                     fault.text);
            return NULL;
        }
        if (proto_msg_type (reply) != PROTO_REPLY || proto_msg_id (reply) != id) {
            proto_msg_destroy (&reply);
            continue;
        }
        if (!proto_msg_is_ok (reply)) {
            const char *message = proto_msg_str (reply, "message");
            fprintf (stderr, "kmq-testpeer: %s (id %llu) answered %s: %s\n", what,
                     (unsigned long long) id,
                     proto_error_name (proto_msg_error (reply)),
                     message ? message : "(no message)");
            proto_msg_destroy (&reply);
        }
        return reply;
    }
    fprintf (stderr, "kmq-testpeer: no reply to %s (id %llu) from %s within %d ms; "
             "is the broker running and still answering?\n", what,
             (unsigned long long) id, endpoint, S_REPLY_WAIT_MS);
    return NULL;
}

//  Sends an execute whose timeout_ms is 2^64 - 1 (a deadline that an
//  unchecked addition would put in the past) and prints its text/plain
//  result. Returns 0 when the cell ran to its result.
static int
s_huge_timeout (zsock_t *sock, const char *endpoint, const char *session)
{
    const char *code = "import time\ntime.sleep(0.3)\n6 * 7";
    uint64_t id = 0x7e58000000ull + (uint64_t) getpid ();
    proto_builder_t *builder = proto_builder_new (PROTO_EXECUTE, id, session);
    proto_builder_uint (builder, "timeout_ms", UINT64_MAX);
    proto_builder_payload_copy (builder, code, strlen (code));
    zmsg_t *execute = proto_builder_finish (&builder);
    if (zmsg_send (&execute, sock) != 0) {
        zmsg_destroy (&execute);
        fprintf (stderr, "kmq-testpeer: sending execute to %s: %s\n",
                 endpoint, zmq_strerror (errno));
        return -1;
    }
    proto_msg_t *reply = s_await_reply (sock, id, endpoint, "execute");
    if (!reply)
        return -1;
    zframe_t *result = proto_msg_payload_count (reply) > 0? proto_msg_payload (reply, 0): NULL;
    printf ("ok %.*s\n", result? (int) zframe_size (result): 0,
            result? (const char *) zframe_data (result): "");
    proto_msg_destroy (&reply);
    return 0;
}

//  The heartbeats mode (see the top). Returns 0 when all were answered.
static int
s_heartbeats (zsock_t *sock, const char *endpoint, unsigned long long count)
{
    uint64_t id = 0x7e59000000ull + (uint64_t) getpid ();
    zmsg_t *hello = proto_encode_hello (id, PROTO_VERSION, "testpeer");
    if (zmsg_send (&hello, sock) != 0) {
        zmsg_destroy (&hello);
        fprintf (stderr, "kmq-testpeer: sending hello to %s: %s\n", endpoint,
                 zmq_strerror (errno));
        return -1;
    }
    proto_msg_t *reply = s_await_reply (sock, id, endpoint, "hello");
    if (!reply)
        return -1;
    uint64_t epoch = proto_msg_uint (reply, "epoch", 0);
    proto_msg_destroy (&reply);
    for (unsigned long long i = 0; i < count; i++) {
        proto_builder_t *builder = proto_builder_new (PROTO_HEARTBEAT, i % 3 == 2 ? i : 0,
                                                      NULL);
        if (i % 3 == 1)
            proto_builder_str (builder, "x-unknown", "the full decoder's");
        zmsg_t *beat = proto_builder_finish (&builder);
        if (zmsg_send (&beat, sock) != 0) {
            zmsg_destroy (&beat);
            fprintf (stderr, "kmq-testpeer: sending heartbeat %llu: %s\n", i,
                     zmq_strerror (errno));
            return -1;
        }
    }
    zmsg_t *bad = proto_encode_heartbeat ();
    zmsg_addstr (bad, "a payload no heartbeat carries");
    if (zmsg_send (&bad, sock) != 0) {
        zmsg_destroy (&bad);
        return -1;
    }
    unsigned long long beats = 0;
    bool refused = false;
    int64_t deadline = zclock_mono () + S_REPLY_WAIT_MS;
    while ((beats < count || !refused) && zclock_mono () < deadline) {
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) <= 0)
            continue;
        zmsg_t *msg = zmsg_recv (sock);
        proto_msg_t *got = msg ? proto_decode (&msg, NULL) : NULL;
        if (got && proto_msg_type (got) == PROTO_HEARTBEAT) {
            if (proto_msg_uint (got, "epoch", 0) != epoch) {
                fprintf (stderr, "kmq-testpeer: heartbeat answered with epoch %llu, "
                         "hello said %llu\n",
                         (unsigned long long) proto_msg_uint (got, "epoch", 0),
                         (unsigned long long) epoch);
                proto_msg_destroy (&got);
                return -1;
            }
            beats++;
        }
        else
        if (got && proto_msg_type (got) == PROTO_REPLY
        &&  proto_msg_error (got) == PROTO_E_BAD_REQUEST)
            refused = true;
        proto_msg_destroy (&got);
    }
    if (beats != count || !refused) {
        fprintf (stderr, "kmq-testpeer: %llu of %llu heartbeats answered by %s, the one "
                 "with a payload %s\n", beats, count, endpoint,
                 refused ? "refused" : "not refused");
        return -1;
    }
    printf ("ok\n");
    return 0;
}

static int
s_usage (void)
{
    fprintf (stderr, "usage: kmq-testpeer ENDPOINT garbage N\n"
                     "  sends N malformed messages to the broker at ENDPOINT, then a\n"
                     "  stats request; prints \"ok\" if the broker still answers it\n"
                     "       kmq-testpeer ENDPOINT huge-timeout SESSION\n"
                     "  runs a cell with timeout_ms 2^64 - 1; prints \"ok RESULT\"\n"
                     "       kmq-testpeer ENDPOINT heartbeats N\n"
                     "  N heartbeats, fast path and not; prints \"ok\" if all are answered\n");
    return 2;
}

int
main (int argc, char **argv)
{
    if (argc != 4)
        return s_usage ();
    bool garbage = strcmp (argv [2], "garbage") == 0;
    bool heartbeats = strcmp (argv [2], "heartbeats") == 0;
    if (!garbage && !heartbeats && strcmp (argv [2], "huge-timeout") != 0)
        return s_usage ();
    const char *endpoint = argv [1];
    char *end;
    errno = 0;
    bool counted = garbage || heartbeats;
    unsigned long long count = counted? strtoull (argv [3], &end, 10): 0;
    if (counted && (errno || end == argv [3] || *end || argv [3][0] == '-'))
        return s_usage ();

    zsys_init ();
    zsys_set_linger (0);
    s_rng_state = ((uint64_t) getpid () << 32) ^ (uint64_t) zclock_time () ^ 1;
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock) {
        fprintf (stderr, "kmq-testpeer: cannot create a DEALER socket: %s\n",
                 zmq_strerror (errno));
        return 1;
    }
    zsock_set_linger (sock, 0);
    zsock_set_sndtimeo (sock, S_SEND_WAIT_MS);
    char key_error [256];
    if (keys_apply (sock, endpoint, NULL, "client", NULL, key_error, sizeof key_error)) {
        fprintf (stderr, "kmq-testpeer: %s\n", key_error);
        zsock_destroy (&sock);
        return 1;
    }
    if (zsock_connect (sock, "%s", endpoint) != 0) {
        fprintf (stderr, "kmq-testpeer: cannot connect to %s: %s\n",
                 endpoint, zmq_strerror (errno));
        zsock_destroy (&sock);
        return 1;
    }
    int result = 1;
    if (heartbeats) {
        result = s_heartbeats (sock, endpoint, count) == 0? 0: 1;
        goto done;
    }
    if (!garbage) {
        result = s_huge_timeout (sock, endpoint, argv [3]) == 0? 0: 1;
        goto done;
    }
    for (unsigned long long i = 0; i < count; i++) {
        zmsg_t *msg = s_garbage ((int) (i % S_GARBAGE_KINDS), 1000 + i);
        if (zmsg_send (&msg, sock) != 0) {
            zmsg_destroy (&msg);
            fprintf (stderr, "kmq-testpeer: sending malformed message %llu to %s: %s "
                     "(broker not reading?)\n", i, endpoint, zmq_strerror (errno));
            goto done;
        }
        s_drain (sock);
    }
    uint64_t id = 0x7e57000000ull + (uint64_t) getpid ();
    zmsg_t *stats = proto_encode_stats (id);
    if (zmsg_send (&stats, sock) != 0) {
        zmsg_destroy (&stats);
        fprintf (stderr, "kmq-testpeer: sending stats to %s: %s\n",
                 endpoint, zmq_strerror (errno));
        goto done;
    }
    proto_msg_t *reply = s_await_reply (sock, id, endpoint, "stats");
    if (reply) {
        printf ("ok\n");
        result = 0;
        proto_msg_destroy (&reply);
    }

done:
    zsock_destroy (&sock);
    zsys_shutdown ();
    return result;
}
