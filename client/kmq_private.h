/*  kmq_private — what libkmq's files share and users don't see.
    Not installed; kmq.h is the public API.                                 */
#ifndef KMQ_PRIVATE_H
#define KMQ_PRIVATE_H

#include "kmq.h"
#include "proto.h"

//  Wraps a decoded reply; takes ownership of *msg_p and clears it.
kmq_reply_t *kmq_reply_from_msg (proto_msg_t **msg_p);
//  A reply built locally: error name and a printf-style sentence.
kmq_reply_t *kmq_reply_local (const char *error, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Makes a local reply answer request id of session (may be NULL), as
//  kmq_reply_id and kmq_reply_session then say.
void kmq_reply_set_request (kmq_reply_t *self, uint64_t id, const char *session);

//  Requests as both fronts (kmq, kmq_async) send them (kmq_request.c):
//  each checks what the library checks before sending (session key, name,
//  format, cursor, sizes against max_payload) and returns the encoded
//  request id, or NULL with *refused set to the local reply (BAD_REQUEST,
//  TOO_LARGE) that refuses it.
zmsg_t *kmq_request_execute (uint64_t max_payload, uint64_t id, const char *session,
                             const char *code, size_t len, uint32_t timeout_ms,
                             bool input, kmq_reply_t **refused);
//  format csv, json, file, or frame (data is then a .kmqf file, validated
//  here: BAD_REQUEST when it is not a valid one). With in_parts, an upload
//  that kmq_upload_parts splits carries piece 0 only: the caller sends
//  the others (kmq_request_upload_part); without, it is one message.
zmsg_t *kmq_request_upload (uint64_t max_payload, uint64_t id, const char *session,
                            const char *name, const char *format,
                            const void *data, size_t size, bool in_parts,
                            kmq_reply_t **refused);
//  An upload of KMQ_UPLOAD_IN_PARTS_MIN bytes or more (csv, json, file)
//  goes in pieces of KMQ_UPLOAD_PIECE (protocol.md 5, upload): the
//  request carries piece 0, kmq_request_upload_part encodes the others.
#define KMQ_UPLOAD_PIECE         (1u << 20)
#define KMQ_UPLOAD_IN_PARTS_MIN  (4u * KMQ_UPLOAD_PIECE)
//  How many pieces an upload of size bytes in format goes in (1: one message).
size_t kmq_upload_parts (const char *format, size_t size);
zmsg_t *kmq_request_upload_part (uint64_t id, const char *session, size_t part,
                                 const void *data, size_t size);
zmsg_t *kmq_request_download (uint64_t id, const char *session, const char *name,
                              const char *format, kmq_reply_t **refused);
//  complete, inspect (cursor_pos a byte offset, at most len) and
//  is_complete (cursor_pos ignored).
zmsg_t *kmq_request_code (uint64_t max_payload, proto_type_t type, uint64_t id,
                          const char *session, const char *code, size_t len,
                          size_t cursor_pos, kmq_reply_t **refused);
//  reset, vars, interrupt, close, attach, detach.
zmsg_t *kmq_request_simple (proto_type_t type, uint64_t id, const char *session,
                            kmq_reply_t **refused);
//  The single checks.
kmq_reply_t *kmq_check_session (const char *session);
kmq_reply_t *kmq_check_size (uint64_t max_payload, const char *what, size_t size);
kmq_reply_t *kmq_check_name (const char *name, const char *format);

#endif
