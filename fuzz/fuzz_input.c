/*  fuzz_input — a split fuzzer input and its inverse (fuzz_input.h).  */
#include "fuzz_input.h"

#include "proto.h"

#include <string.h>

//  The payload counts at either side of the two limits (shape 28 to 31)
static const size_t s_limits [4] = {
    PROTO_MAX_PAYLOADS, PROTO_MAX_PAYLOADS + 1,
    PROTO_MAX_FRAME_PAYLOADS, PROTO_MAX_FRAME_PAYLOADS + 1
};

zmsg_t *
fuzz_input_message (const uint8_t *data, size_t size)
{
    static const char *const signatures [3] = { PROTO_SIGNATURE, "KMQ2", "KMQ" };
    if (size < 2)
        return NULL;
    uint8_t shape = data [0];
    size_t signature = (shape >> 5) & 3;
    zmsg_t *msg = zmsg_new ();
    if (signature == 3)
        return msg;
    zmsg_addstr (msg, signatures [signature]);
    if (shape & 0x80)
        return msg;
    zmsg_addmem (msg, data + 2, size - 2);
    size_t index = shape & 31;
    size_t payloads = index < 28? index % 4: s_limits [index - 28];
    for (size_t i = 0; i < payloads; i++) {
        zframe_t *frame = zframe_new (NULL, i == 0? data [1]: 0);
        if (zframe_size (frame))
            memset (zframe_data (frame), 'x', zframe_size (frame));
        zmsg_append (msg, &frame);
    }
    return msg;
}

uint8_t
fuzz_input_shape (size_t payloads)
{
    if (payloads <= 3)
        return (uint8_t) payloads;
    uint8_t shape = 28;
    while (shape < 31 && s_limits [shape - 28] < payloads)
        shape++;
    return shape;
}

zmsg_t *
fuzz_input_split (const uint8_t *data, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    const uint8_t *end = data + size;
    while (true) {
        const uint8_t *cut = data < end?
            (const uint8_t *) memchr (data, FUZZ_INPUT_SEPARATOR, (size_t) (end - data)): NULL;
        const uint8_t *stop = cut? cut: end;
        zmsg_addmem (msg, data, (size_t) (stop - data));
        if (!cut)
            return msg;
        data = cut + 1;
    }
}

bool
fuzz_input_join (zmsg_t *msg, zchunk_t *out)
{
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg))
        if (memchr (zframe_data (frame), FUZZ_INPUT_SEPARATOR, zframe_size (frame)))
            return false;
    uint8_t separator = FUZZ_INPUT_SEPARATOR;
    bool first = true;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        if (!first)
            zchunk_extend (out, &separator, 1);
        first = false;
        zchunk_extend (out, zframe_data (frame), zframe_size (frame));
    }
    return true;
}
