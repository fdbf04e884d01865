/*  proto_stream_internal — what proto_stream's two files share; nothing
    else includes it. proto_stream.c is the framing over a byte stream,
    proto_stream_pack.c the same framing into and out of one buffer. The
    public API is proto_stream.h.
*/
#ifndef KMQ_PROTO_STREAM_INTERNAL_H
#define KMQ_PROTO_STREAM_INTERNAL_H

#include "proto_stream.h"

//  The big-endian unsigned number in data [0 .. size), size at most 8.
uint64_t proto_stream_get_be (const uint8_t *data, size_t size);

//  Writes value big-endian into data [0 .. size), size at most 8.
void proto_stream_put_be (uint8_t *data, size_t size, uint64_t value);

#endif
