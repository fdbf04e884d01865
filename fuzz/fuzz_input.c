/*  fuzz_input — a split fuzzer input and its inverse (fuzz_input.h).  */
#include "fuzz_input.h"

#include <string.h>

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
