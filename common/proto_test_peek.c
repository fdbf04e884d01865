/*  proto_test_peek — selftest of proto_peek (proto_peek.c): it reads what
    the encoders write, refuses what it does not fully know, and never
    accepts a header that proto_decode refuses (checked on mutated bytes).
*/
#include "proto.h"
#include "proto_internal.h"
#include "selftest.h"

#include <stdio.h>
#include <string.h>

//  Header bytes of msg (frame 1) into buf; returns their size.
static size_t
s_header_of (zmsg_t *msg, uint8_t *buf, size_t max)
{
    zmsg_first (msg);
    zframe_t *header = zmsg_next (msg);
    size_t size = zframe_size (header);
    SELFTEST_CHECK (size <= max);
    memcpy (buf, zframe_data (header), size);
    return size;
}

//  True when proto_decode takes signature + header (+ payloads frames of
//  "x"), and it reads the same type, id and session as peek did.
static bool
s_decode_agrees (const uint8_t *header, size_t size, size_t payloads,
                 const proto_peek_t *peek)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE);
    zmsg_addmem (msg, header, size);
    for (size_t i = 0; i < payloads; i++)
        zmsg_addmem (msg, "x", 1);
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&msg, &fault);
    if (!decoded)
        return false;
    const char *session = proto_msg_session (decoded);
    bool same = proto_msg_type (decoded) == peek->type
             && proto_msg_id (decoded) == (peek->has_id ? peek->id : 0)
             && (peek->session ? strlen (session) == peek->session_len
                                 && memcmp (session, peek->session, peek->session_len) == 0
                               : *session == 0);
    proto_msg_destroy (&decoded);
    return same;
}

static void
s_test_encoded (void)
{
    uint8_t buf [256];
    proto_peek_t peek;

    zmsg_t *msg = proto_encode_heartbeat ();
    size_t size = s_header_of (msg, buf, sizeof buf);
    zmsg_destroy (&msg);
    SELFTEST_CHECK (proto_peek (buf, size, &peek) == 0);
    SELFTEST_CHECK (peek.type == PROTO_HEARTBEAT && !peek.has_id && !peek.session);
    SELFTEST_CHECK (s_decode_agrees (buf, size, 0, &peek));

    msg = proto_encode_stats (7);
    size = s_header_of (msg, buf, sizeof buf);
    zmsg_destroy (&msg);
    SELFTEST_CHECK (proto_peek (buf, size, &peek) == 0);
    SELFTEST_CHECK (peek.type == PROTO_STATS && peek.has_id && peek.id == 7);
    SELFTEST_CHECK (s_decode_agrees (buf, size, 0, &peek));

    proto_builder_t *builder = proto_builder_new (PROTO_CLOSE, 1ull << 40, "s-1");
    msg = proto_builder_finish (&builder);
    size = s_header_of (msg, buf, sizeof buf);
    zmsg_destroy (&msg);
    SELFTEST_CHECK (proto_peek (buf, size, &peek) == 0);
    SELFTEST_CHECK (peek.type == PROTO_CLOSE && peek.id == 1ull << 40);
    SELFTEST_CHECK (peek.session_len == 3 && memcmp (peek.session, "s-1", 3) == 0);
    SELFTEST_CHECK (s_decode_agrees (buf, size, 0, &peek));

    //  A key it does not know: the full decoder's
    builder = proto_builder_new (PROTO_HEARTBEAT, 0, NULL);
    proto_builder_uint (builder, "epoch", 5);
    msg = proto_builder_finish (&builder);
    size = s_header_of (msg, buf, sizeof buf);
    zmsg_destroy (&msg);
    SELFTEST_CHECK (proto_peek (buf, size, &peek) == -1);
}

static void
s_test_bytes (void)
{
    proto_peek_t peek;
    //  {type:"heartbeat"} as fixmap, as map16, and an id packed signed
    const uint8_t fix [] = { 0x81, 0xa4, 't', 'y', 'p', 'e',
                             0xa9, 'h', 'e', 'a', 'r', 't', 'b', 'e', 'a', 't' };
    SELFTEST_CHECK (proto_peek (fix, sizeof fix, &peek) == 0);
    SELFTEST_CHECK (peek.type == PROTO_HEARTBEAT);
    const uint8_t map16 [] = { 0xde, 0x00, 0x02, 0xa4, 't', 'y', 'p', 'e',
                               0xa5, 's', 't', 'a', 't', 's', 0xa2, 'i', 'd', 0xd1, 0x01, 0x00 };
    SELFTEST_CHECK (proto_peek (map16, sizeof map16, &peek) == 0);
    SELFTEST_CHECK (peek.type == PROTO_STATS && peek.has_id && peek.id == 256);
    SELFTEST_CHECK (s_decode_agrees (map16, sizeof map16, 0, &peek));
    //  A negative id, an id as a string, the type twice, a trailing byte,
    //  a truncated string, an unknown type, no type, not a map
    const uint8_t negative [] = { 0x82, 0xa4, 't', 'y', 'p', 'e', 0xa5, 's', 't', 'a', 't', 's',
                                  0xa2, 'i', 'd', 0xd0, 0xff };
    SELFTEST_CHECK (proto_peek (negative, sizeof negative, &peek) == -1);
    const uint8_t id_str [] = { 0x82, 0xa4, 't', 'y', 'p', 'e', 0xa5, 's', 't', 'a', 't', 's',
                                0xa2, 'i', 'd', 0xa1, '7' };
    SELFTEST_CHECK (proto_peek (id_str, sizeof id_str, &peek) == -1);
    const uint8_t twice [] = { 0x82, 0xa4, 't', 'y', 'p', 'e', 0xa5, 's', 't', 'a', 't', 's',
                               0xa4, 't', 'y', 'p', 'e', 0xa5, 's', 't', 'a', 't', 's' };
    SELFTEST_CHECK (proto_peek (twice, sizeof twice, &peek) == -1);
    SELFTEST_CHECK (proto_peek (fix, sizeof fix - 1, &peek) == -1);
    uint8_t trailing [sizeof fix + 1];
    memcpy (trailing, fix, sizeof fix);
    trailing [sizeof fix] = 0xc0;
    SELFTEST_CHECK (proto_peek (trailing, sizeof trailing, &peek) == -1);
    const uint8_t unknown [] = { 0x81, 0xa4, 't', 'y', 'p', 'e', 0xa3, 'f', 'o', 'o' };
    SELFTEST_CHECK (proto_peek (unknown, sizeof unknown, &peek) == -1);
    const uint8_t no_type [] = { 0x81, 0xa2, 'i', 'd', 0x01 };
    SELFTEST_CHECK (proto_peek (no_type, sizeof no_type, &peek) == -1);
    const uint8_t array [] = { 0x91, 0xa4, 't', 'y', 'p', 'e' };
    SELFTEST_CHECK (proto_peek (array, sizeof array, &peek) == -1);
    SELFTEST_CHECK (proto_peek (NULL, 0, &peek) == -1);
}

//  Every byte of a {type, id, session} header set to every value: what
//  peek accepts, proto_decode accepts and reads the same.
static void
s_test_mutated (bool verbose)
{
    proto_builder_t *builder = proto_builder_new (PROTO_CLOSE, 300, "ab");
    zmsg_t *msg = proto_builder_finish (&builder);
    uint8_t base [256], buf [256];
    size_t size = s_header_of (msg, base, sizeof base);
    zmsg_destroy (&msg);
    size_t accepted = 0;
    for (size_t cut = size - 2; cut <= size; cut++)
        for (size_t at = 0; at < cut; at++)
            for (int value = 0; value < 256; value++) {
                memcpy (buf, base, cut);
                buf [at] = (uint8_t) value;
                proto_peek_t peek;
                if (proto_peek (buf, cut, &peek))
                    continue;
                accepted++;
                //  close takes no payload frames; the session key's syntax
                //  is the caller's (proto.h), so only valid keys must agree
                if (peek.type == PROTO_CLOSE || peek.type == PROTO_HEARTBEAT
                ||  peek.type == PROTO_STATS)
                    if (!peek.session
                    ||  proto_session_valid (peek.session, peek.session_len))
                        SELFTEST_CHECK (s_decode_agrees (buf, cut, 0, &peek));
            }
    if (verbose)
        printf ("  proto_peek: %zu mutated headers accepted, each decoded alike\n", accepted);
    SELFTEST_CHECK (accepted > 0);
}

void
proto_test_peek (bool verbose)
{
    s_test_encoded ();
    s_test_bytes ();
    s_test_mutated (verbose);
}
