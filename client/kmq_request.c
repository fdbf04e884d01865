/*  kmq_request — requests as libkmq sends them, with the checks it makes
    first (an invalid session key, name, format or cursor, a payload over
    the broker's max_payload), shared by the blocking kmq and kmq_async.   */
#include <czmq.h>
#include "kmq_private.h"
#include "frame.h"
#include "mem.h"

kmq_reply_t *
kmq_check_session (const char *session)
{
    if (kmq_session_valid (session))
        return NULL;
    return kmq_reply_local ("BAD_REQUEST", "invalid session key \"%.40s\": use"
                            " 1-%d characters of A-Z a-z 0-9 . _ : -",
                            session? session: "", PROTO_SESSION_MAX);
}

kmq_reply_t *
kmq_check_size (uint64_t max_payload, const char *what, size_t size)
{
    if ((uint64_t) size <= max_payload)
        return NULL;
    return kmq_reply_local ("TOO_LARGE", "%s is %zu bytes, over the broker's"
                            " max_payload of %" PRIu64 " bytes: send less, or"
                            " raise max_payload", what, size, max_payload);
}

kmq_reply_t *
kmq_check_name (const char *name, const char *format)
{
    if (!name || !*name || strlen (name) > PROTO_NAME_MAX)
        return kmq_reply_local ("BAD_REQUEST", "a name must be 1-%d bytes",
                                PROTO_NAME_MAX);
    if (!format || (strcmp (format, "csv") && strcmp (format, "json")
                    && strcmp (format, "frame") && strcmp (format, "file")))
        return kmq_reply_local ("BAD_REQUEST", "unknown format \"%.20s\":"
                                " use csv, json, frame or file", format? format: "");
    return NULL;
}

static kmq_reply_t *
s_check_cursor (size_t cursor_pos, size_t len)
{
    if (cursor_pos <= len)
        return NULL;
    return kmq_reply_local ("BAD_REQUEST", "cursor position %zu is past the end"
                            " of the code (%zu bytes)", cursor_pos, len);
}

zmsg_t *
kmq_request_execute (uint64_t max_payload, uint64_t id, const char *session,
                     const char *code, size_t len, uint32_t timeout_ms,
                     bool input, kmq_reply_t **refused)
{
    assert (refused && (code || len == 0));
    *refused = kmq_check_session (session);
    if (!*refused)
        *refused = kmq_check_size (max_payload, "the code", len);
    if (*refused)
        return NULL;
    return proto_encode_execute_input (id, session, code? code: "", len, timeout_ms,
                                       input);
}

//  A frame upload: the .kmqf's description and buffers, once valid.
static zmsg_t *
s_upload_frame (uint64_t max_payload, uint64_t id, const char *session,
                const char *name, const void *kmqf, size_t size,
                kmq_reply_t **refused)
{
    char error [400];
    frame_t *frame = frame_from_kmqf (kmqf, size, error, sizeof error);
    if (!frame) {
        *refused = kmq_reply_local ("BAD_REQUEST", "%s", error);
        return NULL;
    }
    size_t count = frame_buffer_count (frame);
    const void **data = (const void **) mem_alloc ((count + 1) * sizeof (void *));
    size_t *sizes = (size_t *) mem_alloc ((count + 1) * sizeof (size_t));
    for (size_t i = 0; i < count && !*refused; i++) {
        data [i] = frame_buffer (frame, i, &sizes [i]);
        *refused = kmq_check_size (max_payload, "a buffer of the frame", sizes [i]);
    }
    zmsg_t *msg = NULL;
    if (!*refused)
        msg = proto_encode_upload_frame (id, session, name, frame_description (frame),
                                         data, sizes, count);
    free (data);
    free (sizes);
    frame_destroy (&frame);
    return msg;
}

zmsg_t *
kmq_request_upload (uint64_t max_payload, uint64_t id, const char *session,
                    const char *name, const char *format, const void *data,
                    size_t size, bool in_parts, kmq_reply_t **refused)
{
    assert (refused && (data || size == 0));
    *refused = kmq_check_session (session);
    if (!*refused)
        *refused = kmq_check_name (name, format);
    if (!*refused && streq (format, "frame"))
        return s_upload_frame (max_payload, id, session, name, data? data: "", size,
                               refused);
    if (!*refused)
        *refused = kmq_check_size (max_payload, "the upload", size);
    if (*refused)
        return NULL;
    size_t parts = in_parts? kmq_upload_parts (format, size): 1;
    if (parts == 1)
        return proto_encode_upload (id, session, name, format, data? data: "", size);
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD, id, session);
    proto_builder_str (builder, "name", name);
    proto_builder_str (builder, "format", format);
    proto_builder_uint (builder, "parts", parts);
    proto_builder_uint (builder, "bytes", size);
    proto_builder_payload_copy (builder, data, KMQ_UPLOAD_PIECE);
    return proto_builder_finish (&builder);
}

size_t
kmq_upload_parts (const char *format, size_t size)
{
    if (streq (format, "frame") || size < KMQ_UPLOAD_IN_PARTS_MIN)
        return 1;
    return (size + KMQ_UPLOAD_PIECE - 1) / KMQ_UPLOAD_PIECE;
}

zmsg_t *
kmq_request_upload_part (uint64_t id, const char *session, size_t part,
                         const void *data, size_t size)
{
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD_PART, id, session);
    proto_builder_uint (builder, "part", part);
    proto_builder_payload_copy (builder, data, size);
    return proto_builder_finish (&builder);
}

zmsg_t *
kmq_request_download (uint64_t id, const char *session, const char *name,
                      const char *format, kmq_reply_t **refused)
{
    assert (refused);
    *refused = kmq_check_session (session);
    if (!*refused)
        *refused = kmq_check_name (name, format);
    if (*refused)
        return NULL;
    return proto_encode_download (id, session, name, format);
}

zmsg_t *
kmq_request_code (uint64_t max_payload, proto_type_t type, uint64_t id,
                  const char *session, const char *code, size_t len,
                  size_t cursor_pos, kmq_reply_t **refused)
{
    assert (refused && (code || len == 0));
    assert (type == PROTO_COMPLETE || type == PROTO_INSPECT || type == PROTO_IS_COMPLETE);
    *refused = kmq_check_session (session);
    if (!*refused)
        *refused = kmq_check_size (max_payload, "the code", len);
    if (!*refused && type != PROTO_IS_COMPLETE)
        *refused = s_check_cursor (cursor_pos, len);
    if (*refused)
        return NULL;
    code = code? code: "";
    return type == PROTO_COMPLETE? proto_encode_complete (id, session, code, len, cursor_pos)
         : type == PROTO_INSPECT?  proto_encode_inspect (id, session, code, len, cursor_pos)
         :                         proto_encode_is_complete (id, session, code, len);
}

zmsg_t *
kmq_request_simple (proto_type_t type, uint64_t id, const char *session,
                    kmq_reply_t **refused)
{
    assert (refused);
    *refused = kmq_check_session (session);
    return *refused? NULL: proto_encode_simple (type, id, session);
}
