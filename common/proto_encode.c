/*  proto_encode — the kernelmq wire codec, protocol v1: the streaming
    builder and one encoder per message type. See proto.h and protocol.md.

    A header is built as its top-level key/value pairs only; the map header
    that announces their count is packed at finish, when the count is known.
*/
#include "proto.h"
#include "proto_internal.h"
#include "mem.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _proto_builder_t {
    msgpack_sbuffer body;           //  top-level key/value pairs, no map header
    msgpack_packer packer;
    uint32_t keys;                  //  top-level keys written so far
    zmsg_t *payloads;
};

//  The sbuffer only fails when out of memory. A header is bookkeeping
//  (bounded by what the encoder is given, never by a peer), so that is
//  mem.h's abort.
static int
s_sbuffer_write (void *data, const char *buf, size_t len)
{
    if (msgpack_sbuffer_write (data, buf, len) != 0)
        mem_oom ("a message header");
    return 0;
}

static void
s_pack_str (msgpack_packer *packer, const char *value, size_t len)
{
    msgpack_pack_str (packer, len);
    msgpack_pack_str_body (packer, value, len);
}

proto_builder_t *
proto_builder_new (proto_type_t type, uint64_t id, const char *session)
{
    assert ((int) type >= 0 && type < PROTO_TYPE_COUNT);
    proto_builder_t *self = (proto_builder_t *) zmalloc (sizeof (proto_builder_t));
    msgpack_sbuffer_init (&self->body);
    msgpack_packer_init (&self->packer, &self->body, s_sbuffer_write);
    self->payloads = zmsg_new ();
    proto_builder_str (self, "type", proto_type_name (type));
    if (proto_type_has_id (type))
        proto_builder_uint (self, "id", id);
    if (session && *session)
        proto_builder_str (self, "session", session);
    return self;
}

void
proto_builder_destroy (proto_builder_t **self_p)
{
    assert (self_p);
    proto_builder_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    msgpack_sbuffer_destroy (&self->body);
    zmsg_destroy (&self->payloads);
    free (self);
}

void
proto_builder_key (proto_builder_t *self, const char *key)
{
    assert (self);
    s_pack_str (&self->packer, key, strlen (key));
    self->keys++;
}

void
proto_builder_str (proto_builder_t *self, const char *key, const char *value)
{
    proto_builder_key (self, key);
    if (!value)
        value = "";
    s_pack_str (&self->packer, value, strlen (value));
}

void
proto_builder_strn (proto_builder_t *self, const char *key,
                    const char *value, size_t len)
{
    proto_builder_key (self, key);
    s_pack_str (&self->packer, value ? value : "", value ? len : 0);
}

void
proto_builder_uint (proto_builder_t *self, const char *key, uint64_t value)
{
    proto_builder_key (self, key);
    msgpack_pack_uint64 (&self->packer, value);
}

void
proto_builder_int (proto_builder_t *self, const char *key, int64_t value)
{
    proto_builder_key (self, key);
    msgpack_pack_int64 (&self->packer, value);
}

void
proto_builder_float (proto_builder_t *self, const char *key, double value)
{
    proto_builder_key (self, key);
    msgpack_pack_double (&self->packer, value);
}

void
proto_builder_bool (proto_builder_t *self, const char *key, bool value)
{
    proto_builder_key (self, key);
    proto_builder_val_bool (self, value);
}

void
proto_builder_val_str (proto_builder_t *self, const char *value)
{
    assert (self);
    if (value)
        s_pack_str (&self->packer, value, strlen (value));
    else
        msgpack_pack_nil (&self->packer);
}

void
proto_builder_val_strn (proto_builder_t *self, const char *value, size_t len)
{
    assert (self);
    s_pack_str (&self->packer, value ? value : "", value ? len : 0);
}

void
proto_builder_val_uint (proto_builder_t *self, uint64_t value)
{
    assert (self);
    msgpack_pack_uint64 (&self->packer, value);
}

void
proto_builder_val_int (proto_builder_t *self, int64_t value)
{
    assert (self);
    msgpack_pack_int64 (&self->packer, value);
}

void
proto_builder_val_float (proto_builder_t *self, double value)
{
    assert (self);
    msgpack_pack_double (&self->packer, value);
}

void
proto_builder_val_bool (proto_builder_t *self, bool value)
{
    assert (self);
    if (value)
        msgpack_pack_true (&self->packer);
    else
        msgpack_pack_false (&self->packer);
}

void
proto_builder_val_nil (proto_builder_t *self)
{
    assert (self);
    msgpack_pack_nil (&self->packer);
}

void
proto_builder_val_array (proto_builder_t *self, uint32_t count)
{
    assert (self);
    msgpack_pack_array (&self->packer, count);
}

void
proto_builder_val_map (proto_builder_t *self, uint32_t count)
{
    assert (self);
    msgpack_pack_map (&self->packer, count);
}

void
proto_builder_val_object (proto_builder_t *self, const msgpack_object *value)
{
    assert (self && value);
    msgpack_pack_object (&self->packer, *value);
}

void
proto_builder_payload_copy (proto_builder_t *self, const void *data, size_t size)
{
    assert (self);
    assert (data || size == 0);
    zframe_t *frame = zframe_new (data, size);
    assert (frame);
    zmsg_append (self->payloads, &frame);
}

void
proto_builder_payload_frame (proto_builder_t *self, zframe_t **frame_p)
{
    assert (self);
    assert (frame_p && *frame_p);
    zmsg_append (self->payloads, frame_p);
    *frame_p = NULL;
}

zmsg_t *
proto_builder_finish (proto_builder_t **self_p)
{
    assert (self_p && *self_p);
    proto_builder_t *self = *self_p;

    //  msgpack wants a map's count before its body: pack the map header
    //  alone, then lay header and body side by side in one frame
    msgpack_sbuffer head;
    msgpack_sbuffer_init (&head);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &head, s_sbuffer_write);
    msgpack_pack_map (&packer, self->keys);

    zframe_t *header = zframe_new (NULL, head.size + self->body.size);
    assert (header);
    memcpy (zframe_data (header), head.data, head.size);
    if (self->body.size)
        memcpy (zframe_data (header) + head.size, self->body.data, self->body.size);
    msgpack_sbuffer_destroy (&head);

    zmsg_t *msg = zmsg_new ();
    if (zmsg_addmem (msg, PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE) != 0)
        mem_oom ("a message");
    zmsg_append (msg, &header);
    zframe_t *frame;
    while ((frame = zmsg_pop (self->payloads)))
        zmsg_append (msg, &frame);
    proto_builder_destroy (self_p);
    return msg;
}

//  --- one encoder per message type --------------------------------------

zmsg_t *
proto_encode_hello (uint64_t id, uint32_t version, const char *client)
{
    proto_builder_t *builder = proto_builder_new (PROTO_HELLO, id, NULL);
    proto_builder_uint (builder, "version", version);
    if (client)
        proto_builder_str (builder, "client", client);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_execute (uint64_t id, const char *session,
                      const char *code, size_t code_len, uint32_t timeout_ms)
{
    return proto_encode_execute_input (id, session, code, code_len, timeout_ms, true);
}

zmsg_t *
proto_encode_execute_input (uint64_t id, const char *session, const char *code,
                            size_t code_len, uint32_t timeout_ms, bool input)
{
    proto_builder_t *builder = proto_builder_new (PROTO_EXECUTE, id, session);
    if (timeout_ms)
        proto_builder_uint (builder, "timeout_ms", timeout_ms);
    if (!input)
        proto_builder_bool (builder, "input", false);
    proto_builder_payload_copy (builder, code ? code : "", code ? code_len : 0);
    return proto_builder_finish (&builder);
}

//  complete and inspect share a shape: code as payload 0, a byte cursor.
static zmsg_t *
s_encode_at_cursor (proto_type_t type, uint64_t id, const char *session,
                    const char *code, size_t code_len, size_t cursor_pos)
{
    if (!code)
        code_len = 0;
    proto_builder_t *builder = proto_builder_new (type, id, session);
    proto_builder_uint (builder, "cursor_pos",
                        cursor_pos < code_len? cursor_pos: code_len);
    proto_builder_payload_copy (builder, code ? code : "", code_len);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_complete (uint64_t id, const char *session,
                       const char *code, size_t code_len, size_t cursor_pos)
{
    return s_encode_at_cursor (PROTO_COMPLETE, id, session,
                               code, code_len, cursor_pos);
}

zmsg_t *
proto_encode_inspect (uint64_t id, const char *session,
                      const char *code, size_t code_len, size_t cursor_pos)
{
    return s_encode_at_cursor (PROTO_INSPECT, id, session,
                               code, code_len, cursor_pos);
}

zmsg_t *
proto_encode_upload (uint64_t id, const char *session,
                     const char *name, const char *format,
                     const void *data, size_t size)
{
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD, id, session);
    proto_builder_str (builder, "name", name);
    proto_builder_str (builder, "format", format);
    proto_builder_payload_copy (builder, data ? data : "", data ? size : 0);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_upload_frame (uint64_t id, const char *session, const char *name,
                           const msgpack_object *description,
                           const void *const *data, const size_t *sizes,
                           size_t count)
{
    assert (description);
    assert (count <= PROTO_MAX_FRAME_PAYLOADS);
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD, id, session);
    proto_builder_str (builder, "name", name);
    proto_builder_str (builder, "format", "frame");
    proto_builder_key (builder, "frame");
    proto_builder_val_object (builder, description);
    for (size_t i = 0; i < count; i++)
        proto_builder_payload_copy (builder, sizes [i] ? data [i] : "", sizes [i]);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_download (uint64_t id, const char *session,
                       const char *name, const char *format)
{
    proto_builder_t *builder = proto_builder_new (PROTO_DOWNLOAD, id, session);
    proto_builder_str (builder, "name", name);
    proto_builder_str (builder, "format", format);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_is_complete (uint64_t id, const char *session,
                          const char *code, size_t code_len)
{
    proto_builder_t *builder = proto_builder_new (PROTO_IS_COMPLETE, id, session);
    proto_builder_payload_copy (builder, code, code_len);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_history (uint64_t id, const char *session, uint64_t last)
{
    proto_builder_t *builder = proto_builder_new (PROTO_HISTORY, id, session);
    if (last)
        proto_builder_uint (builder, "last", last);
    return proto_builder_finish (&builder);
}

int
proto_encode_add_str (zmsg_t *msg, const char *key, const char *value)
{
    assert (msg && key && value);
    zframe_t *signature = zmsg_first (msg);
    zframe_t *old = zmsg_next (msg);
    if (!signature || !old || zframe_size (old) == 0)
        return -1;
    //  The map's count leads the frame: fixmap, map 16 or map 32
    const byte *data = zframe_data (old);
    size_t size = zframe_size (old), skip;
    uint32_t count;
    if ((data [0] & 0xf0) == 0x80) {
        count = data [0] & 0x0f;
        skip = 1;
    }
    else
    if (data [0] == 0xde && size >= 3) {
        count = (uint32_t) data [1] << 8 | data [2];
        skip = 3;
    }
    else
    if (data [0] == 0xdf && size >= 5) {
        count = (uint32_t) data [1] << 24 | (uint32_t) data [2] << 16
              | (uint32_t) data [3] << 8 | data [4];
        skip = 5;
    }
    else
        return -1;
    if (count == UINT32_MAX)
        return -1;
    msgpack_sbuffer head, tail;
    msgpack_sbuffer_init (&head);
    msgpack_sbuffer_init (&tail);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &head, s_sbuffer_write);
    msgpack_pack_map (&packer, count + 1);
    msgpack_packer_init (&packer, &tail, s_sbuffer_write);
    s_pack_str (&packer, key, strlen (key));
    s_pack_str (&packer, value, strlen (value));
    zframe_t *header = zframe_new (NULL, head.size + size - skip + tail.size);
    assert (header);
    memcpy (zframe_data (header), head.data, head.size);
    memcpy (zframe_data (header) + head.size, data + skip, size - skip);
    memcpy (zframe_data (header) + head.size + size - skip, tail.data, tail.size);
    msgpack_sbuffer_destroy (&head);
    msgpack_sbuffer_destroy (&tail);
    //  In place of the old header, before the payloads
    zmsg_t *rest = zmsg_new ();
    zframe_t *frame;
    zmsg_remove (msg, old);
    zframe_destroy (&old);
    signature = zmsg_pop (msg);
    while ((frame = zmsg_pop (msg)))
        zmsg_append (rest, &frame);
    zmsg_append (msg, &signature);
    zmsg_append (msg, &header);
    while ((frame = zmsg_pop (rest)))
        zmsg_append (msg, &frame);
    zmsg_destroy (&rest);
    return 0;
}

zmsg_t *
proto_encode_share (uint64_t id, const char *session, const char *with, bool revoke)
{
    assert (with);
    proto_builder_t *builder = proto_builder_new (PROTO_SHARE, id, session);
    proto_builder_str (builder, "with", with);
    if (revoke)
        proto_builder_bool (builder, "revoke", true);
    return proto_builder_finish (&builder);
}

//  True when the msgpack string key is name.
static bool
s_key_is (const msgpack_object *key, const char *name)
{
    size_t len = strlen (name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len
        && memcmp (key->via.str.ptr, name, len) == 0;
}

//  Appends msg's header fields but those named in skip, and its payloads
//  (duplicated), to builder: what a copy of msg with other keys needs.
static zmsg_t *
s_finish_copy (proto_builder_t *builder, const proto_msg_t *msg,
               const char *const *skip, size_t skip_count)
{
    const msgpack_object_map *header = proto_msg_header (msg);
    for (uint32_t i = 0; i < header->size; i++) {
        const msgpack_object *key = &header->ptr [i].key;
        bool skipped = key->type != MSGPACK_OBJECT_STR;
        for (size_t w = 0; w < skip_count && !skipped; w++)
            skipped = skip [w] && s_key_is (key, skip [w]);
        if (skipped)
            continue;
        s_pack_str (&builder->packer, key->via.str.ptr, key->via.str.size);
        builder->keys++;
        proto_builder_val_object (builder, &header->ptr [i].val);
    }
    for (size_t i = 0; i < proto_msg_payload_count (msg); i++) {
        zframe_t *copy = zframe_dup (proto_msg_payload (msg, i));
        proto_builder_payload_frame (builder, &copy);
    }
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_peer_copy (const proto_msg_t *msg, const char *event, const char *client)
{
    assert (msg);
    const char *session = proto_msg_session (msg);
    proto_builder_t *builder = proto_builder_new (PROTO_EVENT, 0, *session? session: NULL);
    proto_builder_uint (builder, "request", proto_msg_id (msg));
    proto_builder_str (builder, "client", client? client: "anonymous");
    if (event)
        proto_builder_str (builder, "event", event);
    //  Everything else as it was; the keys written above are not repeated
    const char *const skip [] = { "type", "id", "session", "request", "client",
                                  event? "event": NULL };
    return s_finish_copy (builder, msg, skip, sizeof skip / sizeof skip [0]);
}

zmsg_t *
proto_encode_without (const proto_msg_t *msg, const char *key)
{
    assert (msg && key);
    const char *session = proto_msg_session (msg);
    proto_builder_t *builder = proto_builder_new (proto_msg_type (msg), proto_msg_id (msg),
                                                  *session? session: NULL);
    const char *const skip [] = { "type", "id", "session", key };
    return s_finish_copy (builder, msg, skip, sizeof skip / sizeof skip [0]);
}

zmsg_t *
proto_encode_simple (proto_type_t type, uint64_t id, const char *session)
{
    proto_builder_t *builder = proto_builder_new (type, id, session);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_heartbeat (void)
{
    proto_builder_t *builder = proto_builder_new (PROTO_HEARTBEAT, 0, NULL);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_stats (uint64_t id)
{
    proto_builder_t *builder = proto_builder_new (PROTO_STATS, id, NULL);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_ready (const char *session, int pid)
{
    proto_builder_t *builder = proto_builder_new (PROTO_READY, 0, session);
    proto_builder_uint (builder, "pid", pid > 0 ? (uint64_t) pid : 0);
    proto_builder_uint (builder, "version", PROTO_VERSION);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_stream (uint64_t id, const char *session, const char *name,
                     const void *text, size_t size)
{
    proto_builder_t *builder = proto_builder_new (PROTO_EVENT, id, session);
    proto_builder_str (builder, "event", "stream");
    proto_builder_str (builder, "name", name);
    proto_builder_payload_copy (builder, text ? text : "", text ? size : 0);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_display (uint64_t id, const char *session,
                      const char *const *mime, const void *const *data,
                      const size_t *sizes, size_t count)
{
    assert (count <= PROTO_MAX_PAYLOADS);
    assert (count == 0 || (mime && data && sizes));
    proto_builder_t *builder = proto_builder_new (PROTO_EVENT, id, session);
    proto_builder_str (builder, "event", "display");
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, (uint32_t) count);
    for (size_t i = 0; i < count; i++)
        proto_builder_val_str (builder, mime [i] ? mime [i] : "");
    for (size_t i = 0; i < count; i++)
        proto_builder_payload_copy (builder, data [i] ? data [i] : "",
                                    data [i] ? sizes [i] : 0);
    return proto_builder_finish (&builder);
}

proto_builder_t *
proto_reply_ok_begin (uint64_t id, const char *session)
{
    proto_builder_t *builder = proto_builder_new (PROTO_REPLY, id, session);
    proto_builder_str (builder, "status", "ok");
    return builder;
}

proto_builder_t *
proto_reply_error_begin (uint64_t id, const char *session,
                         proto_error_t code, const char *message)
{
    proto_builder_t *builder = proto_builder_new (PROTO_REPLY, id, session);
    proto_builder_str (builder, "status", "error");
    proto_builder_str (builder, "error", proto_error_name (code));
    proto_builder_str (builder, "message", message ? message : "");
    return builder;
}

zmsg_t *
proto_encode_error (uint64_t id, const char *session,
                    proto_error_t code, const char *message)
{
    proto_builder_t *builder = proto_reply_error_begin (id, session, code, message);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_ok (uint64_t id, const char *session)
{
    proto_builder_t *builder = proto_reply_ok_begin (id, session);
    return proto_builder_finish (&builder);
}
