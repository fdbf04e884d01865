/*  broker_recv — the frontend's receive path (see broker_internal.h).

    A message is read part by part into zmq_msg_t on the stack. Routing id,
    signature and header are small, so libzmq keeps them inline and the
    reads allocate nothing. A client's heartbeat, the broker's most
    frequent message, is read with proto_peek and answered from a reply the
    codec built once (broker_new), so it costs no czmq object, no msgpack
    zone and no malloc. Every other message becomes the zmsg that
    broker.c's decoder and dispatch take: its first parts are copied (they
    are small: a header is at most PROTO_MAX_HEADER), its payload frames
    are received straight into zframes, never copied.
*/
#include "broker_internal.h"

#include <string.h>

#define S_HEAD_PARTS 3          //  routing id, signature, header

static void
s_close_parts (zmq_msg_t *parts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&parts [i]);
}

//  True when parts (exactly routing id, signature, header) are a client's
//  heartbeat that proto_decode would take and broker.c would answer the
//  same way: no payloads, no `as`, nothing but type, id and session.
static bool
s_is_heartbeat (zmq_msg_t *parts)
{
    proto_peek_t peek;
    return zmq_msg_size (&parts [1]) == PROTO_SIGNATURE_SIZE
        && memcmp (zmq_msg_data (&parts [1]), PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE) == 0
        && proto_peek (zmq_msg_data (&parts [2]), zmq_msg_size (&parts [2]), &peek) == 0
        && peek.type == PROTO_HEARTBEAT;
}

//  Sends the prepared heartbeat reply to client (whose routing id is
//  moved into the send). Small frames: libzmq copies them inline.
static void
s_answer_heartbeat (broker_t *self, zmq_msg_t *client)
{
    void *sock = zsock_resolve (self->frontend);
    broker_debug (self, "frontend: heartbeat");
    if (zmq_msg_send (client, sock, ZMQ_SNDMORE) == -1) {
        //  Refused at the routing id (ROUTER_MANDATORY): nothing was sent
        int error = zmq_errno ();
        zframe_t *frame = zframe_new (zmq_msg_data (client), zmq_msg_size (client));
        broker_send_failed (self, frame, error);
        zframe_destroy (&frame);
        return;
    }
    zmsg_t *reply = self->heartbeat_reply;
    size_t left = zmsg_size (reply);
    for (zframe_t *frame = zmsg_first (reply); frame; frame = zmsg_next (reply))
        zmq_send (sock, zframe_data (frame), zframe_size (frame), --left ? ZMQ_SNDMORE : 0);
}

//  The zmsg broker_frontend_message takes: the count parts read so far
//  (copied; closed here), then whatever parts follow (received as
//  zframes). user is the sender's CURVE key from the signature part's
//  metadata, read before it is closed.
static void
s_hand_on (broker_t *self, zmq_msg_t *parts, size_t count, bool more)
{
    char user [KEYS_Z85_LEN + 1] = "";
    const char *meta = count > 1 ? zmq_msg_gets (&parts [1], "User-Id") : NULL;
    if (meta)
        snprintf (user, sizeof user, "%s", meta);
    zmsg_t *msg = zmsg_new ();
    for (size_t i = 0; i < count; i++)
        zmsg_addmem (msg, zmq_msg_data (&parts [i]), zmq_msg_size (&parts [i]));
    s_close_parts (parts, count);
    while (more) {
        zframe_t *frame = zframe_recv (self->frontend);
        if (!frame)
            break;              //  a multipart arrives whole: only on ETERM
        more = zframe_more (frame);
        zmsg_append (msg, &frame);
    }
    broker_frontend_message (self, &msg, user);
    zmsg_destroy (&msg);
}

int
broker_recv_frontend (broker_t *self)
{
    void *sock = zsock_resolve (self->frontend);
    zmq_msg_t parts [S_HEAD_PARTS];
    size_t count = 0;
    bool more = true;
    while (more && count < S_HEAD_PARTS) {
        zmq_msg_init (&parts [count]);
        if (zmq_msg_recv (&parts [count], sock, ZMQ_DONTWAIT) == -1) {
            //  EAGAIN (drained) or EINTR at the first part; later parts of
            //  a multipart are already here
            s_close_parts (parts, count + 1);
            return -1;
        }
        more = zmq_msg_more (&parts [count++]);
    }
    if (!more && count == S_HEAD_PARTS && s_is_heartbeat (parts)) {
        s_answer_heartbeat (self, &parts [0]);
        s_close_parts (parts, count);
    }
    else
        s_hand_on (self, parts, count, more);
    return 0;
}

void
broker_recv_prepare (broker_t *self)
{
    proto_builder_t *beat = proto_builder_new (PROTO_HEARTBEAT, 0, NULL);
    proto_builder_uint (beat, "epoch", self->epoch);
    self->heartbeat_reply = proto_builder_finish (&beat);
}
