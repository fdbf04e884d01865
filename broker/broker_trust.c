/*  broker_trust — who sent a client's request, and may they touch its
    session: identities (the CURVE key, or a gateway's `as`), owners and
    shares (protocol.md 13). The keys themselves are auth's; the claims
    are owners'.                                                           */
#include "broker_internal.h"

#include <string.h>

//  `share` (protocol.md 5, 13.2): the owner lets another key use the session,
//  or no longer (revoke). A session still unclaimed (made before keys, or
//  by a keyless client) is claimed by the first key that shares it.
void
broker_share (broker_t *self, zframe_t *client, proto_msg_t *req, const char *identity)
{
    const char *key = proto_msg_session (req);
    uint64_t id = proto_msg_id (req);
    const char *with = proto_msg_str (req, "with");
    bool revoke = proto_msg_bool (req, "revoke", false);
    char text [320];
    if (!keys_is_identity (with)) {
        snprintf (text, sizeof text, "share: field with must be a CURVE public key (40 "
                  "z85 characters; kmq keys shows yours)");
        broker_send_error (self, client, id, key, PROTO_E_BAD_REQUEST, NULL, text);
        return;
    }
    if (!owners_owner (self->owners, key) && session_table_lookup (self->sessions, key))
        owners_check (self->owners, key, identity, true);
    int rc = owners_share (self->owners, key, identity, with, revoke);
    if (rc == -2) {
        snprintf (text, sizeof text, "share: session %s has no owner to share it (it is "
                  "not live, or every client here is keyless: ipc or --insecure)", key);
        broker_send_error (self, client, id, key, PROTO_E_NO_SUCH_SESSION, NULL, text);
        return;
    }
    if (rc == -1) {
        snprintf (text, sizeof text, "share: session %s belongs to another key; only "
                  "its owner shares it", key);
        broker_send_error (self, client, id, key, PROTO_E_FORBIDDEN, NULL, text);
        return;
    }
    zsys_info ("session %s: %s %s", key, revoke ? "no longer shared with" : "shared with",
               with);
    zlistx_t *shared = owners_shared (self->owners, key);
    proto_builder_t *builder = proto_reply_ok_begin (id, key);
    proto_builder_str (builder, "owner", identity);
    proto_builder_key (builder, "shared");
    proto_builder_val_array (builder, (uint32_t) zlistx_size (shared));
    for (char *who = (char *) zlistx_first (shared); who; who = (char *) zlistx_next (shared))
        proto_builder_val_str (builder, who);
    zlistx_destroy (&shared);
    zmsg_t *msg = proto_builder_finish (&builder);
    broker_send_client (self, client, &msg);
}

//  Requests that may start a session claim it for their key.
static bool
s_creates_session (proto_type_t type)
{
    return type == PROTO_EXECUTE || type == PROTO_UPLOAD || type == PROTO_DOWNLOAD
        || type == PROTO_RESET || type == PROTO_VARS || type == PROTO_FILES;
}

//  Who sent req (keys.h): the CURVE key its connection proved (User-Id,
//  set by our ZAP handler), "local" without CURVE; or, from a key in
//  gateways/, the identity its field `as` names. Fills identity; returns
//  false after refusing req (an `as` from a key that is no gateway).
bool
broker_identity (broker_t *self, zframe_t *client, proto_msg_t *req, const char *user,
            char *identity, size_t size)
{
    snprintf (identity, size, "%s", user && keys_is_identity (user) ? user : KEYS_LOCAL);
    const char *as = proto_msg_str (req, "as");
    if (!as)
        return true;
    const char *key = proto_msg_session (req);
    if (!self->auth || !auth_is_gateway (self->auth, identity)) {
        broker_send_error (self, client, proto_msg_id (req), *key ? key : NULL,
                           PROTO_E_FORBIDDEN, NULL, "field as is for gateway keys only "
                           "(the broker's gateways/ allowlist); send without it");
        return false;
    }
    if (!keys_is_identity (as)) {
        broker_send_error (self, client, proto_msg_id (req), *key ? key : NULL,
                           PROTO_E_BAD_REQUEST, NULL, "field as must be a CURVE public "
                           "key (40 z85 characters)");
        return false;
    }
    snprintf (identity, size, "%s", as);
    return true;
}

//  May identity send req to its session? Sends FORBIDDEN when not.
bool
broker_permitted (broker_t *self, zframe_t *client, proto_msg_t *req, const char *identity)
{
    proto_type_t type = proto_msg_type (req);
    const char *key = proto_msg_session (req);
    if (type == PROTO_SHARE)
        return true;                //  s_share says who may
    if (owners_check (self->owners, key, identity, s_creates_session (type)))
        return true;
    char text [400];
    snprintf (text, sizeof text, "session %s belongs to another key, and its owner has "
              "not shared it with yours (%s); ask them to run: kmq share -s %s --with "
              "%s", key, identity, key, identity);
    broker_debug (self, "session %s: %s refused to key %s (not shared with it)", key,
                  proto_type_name (type), identity);
    broker_send_error (self, client, proto_msg_id (req), key, PROTO_E_FORBIDDEN, NULL, text);
    return false;
}

bool
broker_may_shutdown (broker_t *self, zframe_t *client, proto_msg_t *req,
                     const char *identity)
{
    if (!self->owner_key || streq (identity, KEYS_LOCAL) || streq (identity, self->owner_key))
        return true;
    zsys_warning ("kmq-broker: shutdown refused to key %s (not the owner's)", identity);
    broker_send_error (self, client, proto_msg_id (req), NULL, PROTO_E_FORBIDDEN, NULL,
                       "shutdown: only the broker owner's key (its config dir's client.key) "
                       "may stop it");
    return false;
}
