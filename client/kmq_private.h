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

//  Checks made before anything is sent (kmq_check.c), shared by kmq and
//  kmq_async: NULL when the request may go, else the local reply
//  (BAD_REQUEST, TOO_LARGE) that refuses it.
kmq_reply_t *kmq_check_session (const char *session);
kmq_reply_t *kmq_check_size (uint64_t max_payload, const char *what, size_t size);
kmq_reply_t *kmq_check_name (const char *name, const char *format);
kmq_reply_t *kmq_check_cursor (size_t cursor_pos, size_t len);

#endif
