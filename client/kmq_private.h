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

#endif
