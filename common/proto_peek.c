/*  proto_peek — a header reader for the router's hot path (see proto.h).

    proto_decode unpacks every header into a msgpack zone, copies the
    session key and keeps a zmsg; for a header of only `type`, `id` and
    `session` that is several allocations to learn three values. This
    reader walks those bytes in place and allocates nothing. It is strict
    the cheap way: it says yes only to headers whose every key it knows
    and whose every value has its documented kind, so whatever it accepts
    proto_decode accepts too (proto_test checks both on the same bytes).
    Anything else, valid or not, is the full decoder's to judge and to
    explain.
*/
#include "proto.h"

#include <string.h>

//  A big-endian unsigned of width bytes at p.
static uint64_t
s_be (const uint8_t *p, size_t width)
{
    uint64_t n = 0;
    for (size_t i = 0; i < width; i++)
        n = (n << 8) | p [i];
    return n;
}

//  Reads a msgpack str at *pos; returns 0 with ptr/len set, or -1.
static int
s_str (const uint8_t *data, size_t size, size_t *pos, const char **ptr, size_t *len)
{
    if (*pos >= size)
        return -1;
    uint8_t b = data [(*pos)++];
    size_t width = 0;
    uint64_t n;
    if (b >= 0xa0 && b <= 0xbf)
        n = b & 0x1f;
    else {
        width = b == 0xd9 ? 1 : b == 0xda ? 2 : b == 0xdb ? 4 : 0;
        if (!width || size - *pos < width)
            return -1;
        n = s_be (data + *pos, width);
        *pos += width;
    }
    if (n > size - *pos)
        return -1;
    *ptr = (const char *) data + *pos;
    *len = (size_t) n;
    *pos += (size_t) n;
    return 0;
}

//  Reads a msgpack integer that msgpack-c decodes as a positive integer
//  (any width, signed or not, >= 0); returns 0 with *value set, or -1.
static int
s_uint (const uint8_t *data, size_t size, size_t *pos, uint64_t *value)
{
    if (*pos >= size)
        return -1;
    uint8_t b = data [(*pos)++];
    if (b <= 0x7f) {
        *value = b;
        return 0;
    }
    size_t width = 0;
    bool is_signed = false;
    switch (b) {
        case 0xcc: width = 1; break;
        case 0xcd: width = 2; break;
        case 0xce: width = 4; break;
        case 0xcf: width = 8; break;
        case 0xd0: width = 1; is_signed = true; break;
        case 0xd1: width = 2; is_signed = true; break;
        case 0xd2: width = 4; is_signed = true; break;
        case 0xd3: width = 8; is_signed = true; break;
        default: return -1;
    }
    if (size - *pos < width)
        return -1;
    if (is_signed && (data [*pos] & 0x80))
        return -1;              //  negative: not a uint
    *value = s_be (data + *pos, width);
    *pos += width;
    return 0;
}

int
proto_peek (const void *header, size_t size, proto_peek_t *peek)
{
    assert (peek);
    const uint8_t *data = (const uint8_t *) header;
    memset (peek, 0, sizeof (*peek));
    if (!data || size == 0 || size > PROTO_MAX_HEADER)
        return -1;
    size_t pos = 0;
    uint64_t pairs;
    uint8_t b = data [pos++];
    if (b >= 0x80 && b <= 0x8f)
        pairs = b & 0x0f;
    else
    if ((b == 0xde && size - pos >= 2) || (b == 0xdf && size - pos >= 4)) {
        size_t width = b == 0xde ? 2 : 4;
        pairs = s_be (data + pos, width);
        pos += width;
    }
    else
        return -1;
    if (pairs > 3)
        return -1;              //  more keys than the three we know
    bool has_type = false, has_session = false;
    for (uint64_t i = 0; i < pairs; i++) {
        const char *key;
        size_t key_len;
        if (s_str (data, size, &pos, &key, &key_len))
            return -1;
        if (key_len == 4 && memcmp (key, "type", 4) == 0 && !has_type) {
            const char *name;
            size_t name_len;
            if (s_str (data, size, &pos, &name, &name_len))
                return -1;
            int type = proto_type_parse (name, name_len);
            if (type < 0)
                return -1;
            peek->type = (proto_type_t) type;
            has_type = true;
        }
        else
        if (key_len == 2 && memcmp (key, "id", 2) == 0 && !peek->has_id) {
            if (s_uint (data, size, &pos, &peek->id))
                return -1;
            peek->has_id = true;
        }
        else
        if (key_len == 7 && memcmp (key, "session", 7) == 0 && !has_session) {
            if (s_str (data, size, &pos, &peek->session, &peek->session_len))
                return -1;
            has_session = true;
        }
        else
            return -1;          //  unknown, or twice: the full decoder's call
    }
    if (!has_type || pos != size)
        return -1;
    return 0;
}
