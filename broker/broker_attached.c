/*  broker_attached — a shared session's whole conversation, for the clients
    attached to it (protocol.md 4.5). Shares broker_t with broker.c.

    Everything an attached client gets about another client's request is
    a re-addressed copy (id 0, `request`, `client`) made by the codec. No
    client can hold the broker up: sends never block (the frontend is a
    ROUTER with ROUTER_MANDATORY and a send timeout of 0), and a client
    whose queue is full is detached from every session and owed a
    `detached` notice, sent when its queue takes a message again.
*/
#include "broker_internal.h"

#include <errno.h>
#include <string.h>

#define S_NOTICE_PATIENCE_MS 60000  //  how long a detached client is owed its notice

//  Detaches client from every session (it is gone, or too far behind);
//  with notice, it is owed a `detached` for each.
static void
s_detach_everywhere (broker_t *self, zframe_t *client, bool notice)
{
    int64_t give_up = zclock_mono () + S_NOTICE_PATIENCE_MS;
    size_t count = 0;
    for (session_t *s = session_table_first (self->sessions); s;
         s = session_table_next (self->sessions))
        if (session_detach (s, client)) {
            count++;
            if (notice)
                clients_owe_notice (self->clients, client, session_key (s), give_up);
        }
    if (count && notice)
        zsys_warning ("client %s: %" PRIu64 " messages behind; detached from %zu "
                      "session%s", clients_label (self->clients, client),
                      self->cfg->client_hwm, count, count == 1? "": "s");
    else
    if (count)
        broker_debug (self, "client %s: gone; detached from %zu sessions",
                      clients_label (self->clients, client), count);
}

void
broker_fanout (broker_t *self, session_t *session, zframe_t *requester,
               zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zlistx_t *attached = session_attached (session);
    zlistx_t *failed = NULL;
    for (zframe_t *client = (zframe_t *) zlistx_first (attached); client;
         client = (zframe_t *) zlistx_next (attached)) {
        if (requester && zframe_eq (client, requester))
            continue;
        zmsg_t *copy = zmsg_dup (msg);
        if (broker_send_droppable (self, client, &copy) == -1) {
            if (!failed)
                failed = zlistx_new ();
            zlistx_add_end (failed, zframe_dup (client));
        }
    }
    zmsg_destroy (&msg);
    if (!failed)
        return;
    //  After the walk: detaching changes the list being walked
    for (zframe_t *client = (zframe_t *) zlistx_first (failed); client;
         client = (zframe_t *) zlistx_next (failed)) {
        s_detach_everywhere (self, client, true);
        zframe_destroy (&client);
    }
    zlistx_destroy (&failed);
}

bool
broker_has_peers (session_t *session, zframe_t *requester)
{
    zlistx_t *attached = session_attached (session);
    for (zframe_t *client = (zframe_t *) zlistx_first (attached); client;
         client = (zframe_t *) zlistx_next (attached))
        if (!requester || !zframe_eq (client, requester))
            return true;
    return false;
}

void
broker_fanout_copy (broker_t *self, session_t *session, session_request_t *req,
                    const proto_msg_t *msg, const char *event)
{
    if (zlistx_size (session_attached (session)) == 0)
        return;
    zmsg_t *copy = proto_encode_peer_copy (msg, event,
                                           clients_label (self->clients, req->client));
    broker_fanout (self, session, req->client, &copy);
}

void
broker_tell_status (broker_t *self, session_t *session, session_request_t *req,
                    const char *state)
{
    if (zlistx_size (session_attached (session)) == 0)
        return;
    proto_builder_t *builder = proto_builder_new (PROTO_EVENT, 0, session_key (session));
    proto_builder_str (builder, "event", "status");
    proto_builder_str (builder, "state", state);
    proto_builder_uint (builder, "request", req->id);
    proto_builder_str (builder, "client", clients_label (self->clients, req->client));
    proto_builder_str (builder, "request_type", proto_type_name ((proto_type_t) req->type));
    zmsg_t *msg = proto_builder_finish (&builder);
    broker_fanout (self, session, req->client, &msg);
}

void
broker_tell_attached (broker_t *self, session_t *session, const char *event,
                      const char *state, const char *message)
{
    if (zlistx_size (session_attached (session)) == 0)
        return;
    proto_builder_t *builder = proto_builder_new (PROTO_EVENT, 0, session_key (session));
    proto_builder_str (builder, "event", event);
    if (state)
        proto_builder_str (builder, "state", state);
    proto_builder_str (builder, "message", message);
    zmsg_t *msg = proto_builder_finish (&builder);
    broker_fanout (self, session, NULL, &msg);
}

void
broker_client_gone (broker_t *self, zframe_t *client)
{
    s_detach_everywhere (self, client, false);
}

void
broker_send_notices (broker_t *self, int64_t now)
{
    for (clients_notice_t *notice = clients_notice_first (self->clients); notice;
         notice = clients_notice_next (self->clients)) {
        proto_builder_t *builder = proto_builder_new (PROTO_EVENT, 0, notice->session);
        proto_builder_str (builder, "event", "detached");
        char text [256];
        snprintf (text, sizeof text, "you were detached from session %s because "
                  "%" PRIu64 " messages for you were waiting unread; attach again "
                  "to follow it", notice->session, self->cfg->client_hwm);
        proto_builder_str (builder, "message", text);
        zmsg_t *msg = proto_builder_finish (&builder);
        int rc = broker_send_droppable (self, notice->client, &msg);
        if (rc == 0 || errno != EAGAIN || now >= notice->give_up)
            clients_notice_remove_current (self->clients);
    }
}
