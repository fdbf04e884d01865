/*  proto_decode — libFuzzer harness for the codec's decoder, proto_decode
    (common/proto.c): what the broker, the host, the monitor and every C
    client run on each message a peer sends.

    Input: [shape] [size] [header bytes ...], made into a multipart as
    fuzz_input.h says (fuzz_input_message): the shape byte picks the
    payload count and may break frame 0 or drop the header.

    Beyond "no crash, no leak", a decoded message must read back as
    decoded: its frames decode again to the same type, id and session;
    every field's accessor answers; and the copy an attached client gets
    of an event or reply (proto_encode_peer_copy) decodes too.
*/
#include "fuzz_input.h"
#include "proto.h"
#include "selftest.h"

#include <string.h>

//  Calls every accessor on every top-level key of msg's header that is a
//  string a caller could name (no NUL, not too long).
static void
s_read_fields (proto_msg_t *msg)
{
    zmsg_t *frames = proto_msg_dup_frames (msg);
    zmsg_first (frames);
    zframe_t *header = zmsg_next (frames);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    SELFTEST_CHECK (header && msgpack_unpack_next (&unpacked, (const char *) zframe_data (header),
                                                   zframe_size (header), NULL)
                              == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object_map *map = &unpacked.data.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr [i].key;
        char name [64];
        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size >= sizeof name
        ||  memchr (key->via.str.ptr, 0, key->via.str.size))
            continue;
        memcpy (name, key->via.str.ptr, key->via.str.size);
        name [key->via.str.size] = 0;
        SELFTEST_CHECK (proto_msg_has (msg, name) && proto_msg_object (msg, name));
        const char *ptr;
        size_t len;
        const char *copy = proto_msg_str (msg, name);
        SELFTEST_CHECK (!copy == !proto_msg_strn (msg, name, &ptr, &len));
        SELFTEST_CHECK (!copy || strlen (copy) <= len);
        uint64_t values [8];
        SELFTEST_CHECK (proto_msg_uints (msg, name, values, 8) <= 8);
        (void) proto_msg_uint (msg, name, 0);
        (void) proto_msg_int (msg, name, 0);
        (void) proto_msg_float (msg, name, 0);
        (void) proto_msg_bool (msg, name, false);
    }
    msgpack_unpacked_destroy (&unpacked);
    zmsg_destroy (&frames);
}

//  msg's frames, decoded again, give the same message.
static void
s_decode_again (proto_msg_t *msg)
{
    zmsg_t *frames = proto_msg_dup_frames (msg);
    proto_fault_t fault;
    proto_msg_t *again = proto_decode (&frames, &fault);
    SELFTEST_CHECK (again);
    SELFTEST_CHECK (proto_msg_type (again) == proto_msg_type (msg)
                    && proto_msg_id (again) == proto_msg_id (msg)
                    && streq (proto_msg_session (again), proto_msg_session (msg))
                    && proto_msg_payload_count (again) == proto_msg_payload_count (msg));
    proto_msg_destroy (&again);
}

//  What attached clients get of an event or a reply (protocol.md 4.5)
//  decodes, as an event, with the same payloads.
static void
s_peer_copy (proto_msg_t *msg)
{
    proto_type_t type = proto_msg_type (msg);
    if (type != PROTO_EVENT && type != PROTO_REPLY)
        return;
    zmsg_t *copy = proto_encode_peer_copy (msg, type == PROTO_REPLY? "outcome": NULL,
                                           "fuzz");
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&copy, &fault);
    if (!decoded)
        fprintf (stderr, "peer copy refused: %s\n", fault.text);
    SELFTEST_CHECK (decoded);
    SELFTEST_CHECK (proto_msg_type (decoded) == PROTO_EVENT
                    && proto_msg_payload_count (decoded) == proto_msg_payload_count (msg)
                    && proto_msg_is_ok (decoded) == proto_msg_is_ok (msg)
                    && proto_msg_error (decoded) == proto_msg_error (msg));
    proto_msg_destroy (&decoded);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    zmsg_t *raw = fuzz_input_message (data, size);
    size_t frames = zmsg_size (raw);
    proto_fault_t fault;
    proto_msg_t *msg = proto_decode (&raw, &fault);
    SELFTEST_CHECK (!raw);
    if (!msg) {
        SELFTEST_CHECK (fault.code == PROTO_E_BAD_REQUEST || fault.code == PROTO_E_TOO_LARGE);
        SELFTEST_CHECK (fault.text [0]);
        return 0;
    }
    SELFTEST_CHECK (fault.code == PROTO_E_NONE);
    SELFTEST_CHECK (proto_msg_payload_count (msg) == frames - 2);
    if (proto_type_is_session_bound (proto_msg_type (msg)))
        SELFTEST_CHECK (proto_session_valid (proto_msg_session (msg),
                                             strlen (proto_msg_session (msg))));
    for (size_t i = 0; i < proto_msg_payload_count (msg); i++)
        SELFTEST_CHECK (proto_msg_payload (msg, i));
    SELFTEST_CHECK (!proto_msg_payload (msg, proto_msg_payload_count (msg)));
    (void) proto_msg_is_ok (msg);
    (void) proto_msg_error (msg);
    s_read_fields (msg);
    s_decode_again (msg);
    s_peer_copy (msg);
    zmsg_t *released = proto_msg_release (&msg);
    SELFTEST_CHECK (!msg && zmsg_size (released) == frames);
    zmsg_destroy (&released);
    return 0;
}
