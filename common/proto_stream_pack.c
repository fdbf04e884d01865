/*  proto_stream_pack — the proto_stream framing into and out of one
    buffer, for datagram sockets (SOCK_SEQPACKET) where one datagram holds
    exactly one message: inside a kernel host, the monitor <-> zygote
    exchange (protocol.md section 10). See proto_stream.h.
*/
#include "proto_stream.h"
#include "proto_stream_internal.h"
#include "selftest.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *
proto_stream_pack (zmsg_t **msg_p, size_t *size_p)
{
    assert (msg_p);
    assert (size_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    *size_p = 0;
    if (!msg) {
        errno = EINVAL;
        return NULL;
    }
    size_t frames = zmsg_size (msg);
    if (frames == 0 || frames > UINT32_MAX) {
        zmsg_destroy (&msg);
        errno = EPROTO;
        return NULL;
    }
    size_t size = 4 + 8 * frames + zmsg_content_size (msg);
    uint8_t *buffer = (uint8_t *) malloc (size);
    if (!buffer) {
        zmsg_destroy (&msg);
        errno = ENOMEM;
        return NULL;
    }
    proto_stream_put_be (buffer, 4, frames);
    uint8_t *at = buffer + 4;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        proto_stream_put_be (at, 8, zframe_size (frame));
        at += 8;
        if (zframe_size (frame))
            memcpy (at, zframe_data (frame), zframe_size (frame));
        at += zframe_size (frame);
    }
    assert ((size_t) (at - buffer) == size);
    zmsg_destroy (&msg);
    *size_p = size;
    return buffer;
}

zmsg_t *
proto_stream_unpack (const void *data, size_t size,
                     size_t max_frames, size_t max_frame)
{
    const uint8_t *at = (const uint8_t *) data;
    const uint8_t *end = at + size;
    if (!data || size < 4) {
        errno = EPROTO;
        return NULL;
    }
    uint64_t frames = proto_stream_get_be (at, 4);
    at += 4;
    if (frames == 0) {
        errno = EPROTO;
        return NULL;
    }
    if (frames > max_frames) {
        errno = EMSGSIZE;
        return NULL;
    }
    zmsg_t *msg = zmsg_new ();
    if (!msg) {
        errno = ENOMEM;
        return NULL;
    }
    for (uint64_t i = 0; i < frames; i++) {
        if ((size_t) (end - at) < 8)
            goto malformed;
        uint64_t frame_size = proto_stream_get_be (at, 8);
        at += 8;
        if (frame_size > max_frame) {
            zmsg_destroy (&msg);
            errno = EMSGSIZE;
            return NULL;
        }
        if (frame_size > (uint64_t) (end - at))
            goto malformed;
        if (zmsg_addmem (msg, at, (size_t) frame_size)) {
            zmsg_destroy (&msg);
            errno = ENOMEM;
            return NULL;
        }
        at += frame_size;
    }
    if (at != end)
        goto malformed;         //  trailing bytes: not one whole message
    return msg;

malformed:
    zmsg_destroy (&msg);
    errno = EPROTO;
    return NULL;
}

//  --- selftest ----------------------------------------------------------


void
proto_stream_pack_test (bool verbose)
{
    if (verbose)
        printf ("   pack/unpack into one buffer\n");
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "KMQ1");
    zmsg_addmem (msg, "\x81\xa4type\xa5spawn", 12);
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "tail");
    zmsg_t *copy = zmsg_dup (msg);
    size_t size;
    uint8_t *buffer = proto_stream_pack (&msg, &size);
    SELFTEST_CHECK (buffer && !msg);
    SELFTEST_CHECK (size == 4 + 4 * 8 + 4 + 12 + 0 + 4);
    SELFTEST_CHECK (memcmp (buffer, "\0\0\0\4", 4) == 0);

    zmsg_t *back = proto_stream_unpack (buffer, size, 8, 64);
    SELFTEST_CHECK (back && zmsg_size (back) == 4);
    zframe_t *a = zmsg_first (copy), *b = zmsg_first (back);
    while (a) {
        SELFTEST_CHECK (zframe_eq (a, b));
        a = zmsg_next (copy);
        b = zmsg_next (back);
    }
    zmsg_destroy (&back);

    //  Every truncation is malformed, never a crash or a short message.
    for (size_t cut = 0; cut < size; cut++) {
        errno = 0;
        SELFTEST_CHECK (proto_stream_unpack (buffer, cut, 8, 64) == NULL);
        SELFTEST_CHECK (errno == EPROTO);
    }
    //  Trailing bytes
    uint8_t *longer = (uint8_t *) malloc (size + 1);
    memcpy (longer, buffer, size);
    longer [size] = 0;
    SELFTEST_CHECK (proto_stream_unpack (longer, size + 1, 8, 64) == NULL && errno == EPROTO);
    free (longer);
    //  Limits: frame count, frame size, a hostile size field.
    SELFTEST_CHECK (proto_stream_unpack (buffer, size, 3, 64) == NULL && errno == EMSGSIZE);
    SELFTEST_CHECK (proto_stream_unpack (buffer, size, 8, 11) == NULL && errno == EMSGSIZE);
    memset (buffer + 4, 0x7f, 8);
    SELFTEST_CHECK (proto_stream_unpack (buffer, size, 8, SIZE_MAX) == NULL && errno == EPROTO);
    memset (buffer, 0, 4);
    SELFTEST_CHECK (proto_stream_unpack (buffer, size, 8, 64) == NULL && errno == EPROTO);
    SELFTEST_CHECK (proto_stream_unpack (NULL, 0, 8, 64) == NULL);
    free (buffer);

    //  Nothing to pack
    zmsg_t *none = NULL;
    SELFTEST_CHECK (proto_stream_pack (&none, &size) == NULL && errno == EINVAL);
    none = zmsg_new ();
    SELFTEST_CHECK (proto_stream_pack (&none, &size) == NULL && errno == EPROTO && !none);
    zmsg_destroy (&copy);
}
