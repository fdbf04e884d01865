/*  proto_test_frame — the codec selftest's part for frame-format messages
    (protocol.md 11.3): an upload and a download reply with format "frame"
    carry their description and up to PROTO_MAX_FRAME_PAYLOADS payloads,
    every other message keeps the cap of PROTO_MAX_PAYLOADS. proto_test
    calls it.
*/
#include "proto.h"
#include "proto_internal.h"
#include "selftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_pack_str (msgpack_packer *packer, const char *text)
{
    msgpack_pack_str (packer, strlen (text));
    msgpack_pack_str_body (packer, text, strlen (text));
}

//  {rows: 2, index: {kind: "range", start: 0, stop: 2, step: 1},
//   columns: [{name: "x", kind: "numeric", dtype: "float64"}]}, packed.
static void
s_pack_description (msgpack_sbuffer *buffer)
{
    msgpack_sbuffer_init (buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&packer, 3);
    s_pack_str (&packer, "rows");
    msgpack_pack_uint64 (&packer, 2);
    s_pack_str (&packer, "index");
    msgpack_pack_map (&packer, 4);
    s_pack_str (&packer, "kind");
    s_pack_str (&packer, "range");
    s_pack_str (&packer, "start");
    msgpack_pack_int64 (&packer, 0);
    s_pack_str (&packer, "stop");
    msgpack_pack_int64 (&packer, 2);
    s_pack_str (&packer, "step");
    msgpack_pack_int64 (&packer, 1);
    s_pack_str (&packer, "columns");
    msgpack_pack_array (&packer, 1);
    msgpack_pack_map (&packer, 3);
    s_pack_str (&packer, "name");
    s_pack_str (&packer, "x");
    s_pack_str (&packer, "kind");
    s_pack_str (&packer, "numeric");
    s_pack_str (&packer, "dtype");
    s_pack_str (&packer, "float64");
}

//  A reply (ok or error) with format, the description when given, and
//  payloads empty frames.
static zmsg_t *
s_reply (bool ok, const char *format, const msgpack_object *description,
         size_t payloads)
{
    proto_builder_t *builder = ok
        ? proto_reply_ok_begin (4, "nb1")
        : proto_reply_error_begin (4, "nb1", PROTO_E_BAD_REQUEST, "no");
    proto_builder_str (builder, "format", format);
    if (description) {
        proto_builder_key (builder, "frame");
        proto_builder_val_object (builder, description);
    }
    for (size_t i = 0; i < payloads; i++)
        proto_builder_payload_copy (builder, "", 0);
    return proto_builder_finish (&builder);
}

//  Expects decode to fail with code and a text that holds needle.
static void
s_refused (zmsg_t *msg, proto_error_t code, const char *needle, bool verbose)
{
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&msg, &fault);
    if (verbose)
        printf ("\n   fault: %s", fault.text);
    if (decoded || !strstr (fault.text, needle))
        fprintf (stderr, "proto_test_frame: expected '%s', got '%s'\n", needle,
                 decoded ? "(decoded)" : fault.text);
    SELFTEST_CHECK (decoded == NULL);
    SELFTEST_CHECK (fault.code == code);
    SELFTEST_CHECK (strstr (fault.text, needle));
}

//  An upload of count empty buffers, format frame, with description.
static zmsg_t *
s_upload (const msgpack_object *description, size_t count)
{
    const void **data = (const void **) calloc (count + 1, sizeof (void *));
    size_t *sizes = (size_t *) calloc (count + 1, sizeof (size_t));
    SELFTEST_CHECK (data && sizes);
    zmsg_t *msg = proto_encode_upload_frame (5, "nb1", "t", description,
                                             data, sizes, count);
    free (data);
    free (sizes);
    return msg;
}

//  A frame upload in parts (2 pieces) announcing bytes, with count sizes
//  (no `sizes` field when sizes is NULL) and payloads payloads of 10 bytes.
static zmsg_t *
s_upload_in_parts (const msgpack_object *description, const uint64_t *sizes,
                   size_t count, uint64_t bytes, size_t payloads)
{
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD, 9, "nb1");
    proto_builder_str (builder, "name", "t");
    proto_builder_str (builder, "format", "frame");
    proto_builder_key (builder, "frame");
    proto_builder_val_object (builder, description);
    proto_builder_uint (builder, "parts", 2);
    proto_builder_uint (builder, "bytes", bytes);
    if (sizes) {
        proto_builder_key (builder, "sizes");
        proto_builder_val_array (builder, (uint32_t) count);
        for (size_t i = 0; i < count; i++)
            proto_builder_val_uint (builder, sizes [i]);
    }
    for (size_t i = 0; i < payloads; i++)
        proto_builder_payload_copy (builder, "0123456789", 10);
    return proto_builder_finish (&builder);
}

//  An ok frame reply in parts (3 pieces) announcing bytes and one size of
//  16, with payloads empty payloads.
static zmsg_t *
s_reply_in_parts (const msgpack_object *description, uint64_t bytes, size_t payloads)
{
    proto_builder_t *builder = proto_reply_ok_begin (4, "nb1");
    proto_builder_str (builder, "format", "frame");
    proto_builder_key (builder, "frame");
    proto_builder_val_object (builder, description);
    proto_builder_uint (builder, "parts", 3);
    proto_builder_uint (builder, "bytes", bytes);
    proto_builder_key (builder, "sizes");
    proto_builder_val_array (builder, 1);
    proto_builder_val_uint (builder, 16);
    for (size_t i = 0; i < payloads; i++)
        proto_builder_payload_copy (builder, "", 0);
    return proto_builder_finish (&builder);
}

void
proto_test_frame (bool verbose)
{
    msgpack_sbuffer packed;
    s_pack_description (&packed);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    SELFTEST_CHECK (msgpack_unpack_next (&unpacked, packed.data, packed.size, NULL)
                      == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *description = &unpacked.data;

    //  upload: the description travels as is, one payload per buffer
    double values [2] = { 1.5, -0.0 };
    const void *data [1] = { values };
    size_t sizes [1] = { sizeof values };
    proto_msg_t *msg = proto_test_decode (proto_encode_upload_frame (
        5, "nb1", "t", description, data, sizes, 1));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_UPLOAD);
    SELFTEST_CHECK (proto_test_str_is (msg, "format", "frame"));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 1);
    zframe_t *payload = proto_msg_payload (msg, 0);
    SELFTEST_CHECK (zframe_size (payload) == sizeof values);
    SELFTEST_CHECK (memcmp (zframe_data (payload), values, sizeof values) == 0);
    const msgpack_object *frame = proto_msg_object (msg, "frame");
    SELFTEST_CHECK (frame && msgpack_object_equal (*frame, *description));
    proto_msg_destroy (&msg);

    //  0 to PROTO_MAX_FRAME_PAYLOADS buffers; the count per column is the
    //  frame decoder's to check, not the codec's
    msg = proto_test_decode (s_upload (description, 0));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 0);
    proto_msg_destroy (&msg);
    msg = proto_test_decode (s_upload (description, PROTO_MAX_FRAME_PAYLOADS));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == PROTO_MAX_FRAME_PAYLOADS);
    SELFTEST_CHECK (proto_msg_payload (msg, PROTO_MAX_FRAME_PAYLOADS - 1));
    SELFTEST_CHECK (!proto_msg_payload (msg, PROTO_MAX_FRAME_PAYLOADS));
    proto_msg_destroy (&msg);
    zmsg_t *raw = s_upload (description, PROTO_MAX_FRAME_PAYLOADS);
    zmsg_addstr (raw, "one too many");
    s_refused (raw, PROTO_E_TOO_LARGE, "4097 payload frames, more than the limit "
               "of 4096", verbose);

    //  a frame upload needs its description, as a map
    raw = proto_encode_upload (6, "nb1", "t", "frame", "x", 1);
    s_refused (raw, PROTO_E_BAD_REQUEST, "'frame' is missing; upload requires it",
               verbose);
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD, 6, "nb1");
    proto_builder_str (builder, "name", "t");
    proto_builder_str (builder, "format", "frame");
    proto_builder_str (builder, "frame", "{rows: 2}");
    s_refused (proto_builder_finish (&builder), PROTO_E_BAD_REQUEST,
               "'frame' must be a map", verbose);

    //  in parts: `sizes` cuts the pieces into buffers; one payload, piece 0
    uint64_t good [2] = { 10, 6 };
    msg = proto_test_decode (s_upload_in_parts (description, good, 2, 16, 1));
    SELFTEST_CHECK (proto_msg_uint (msg, "parts", 0) == 2);
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 1);
    proto_msg_destroy (&msg);
    s_refused (s_upload_in_parts (description, good, 2, 17, 1), PROTO_E_BAD_REQUEST,
               "announces 17 bytes, but its sizes add up to 16", verbose);
    s_refused (s_upload_in_parts (description, good, 2, 16, 2), PROTO_E_BAD_REQUEST,
               "carries 2 payloads; it carries one, piece 0", verbose);
    s_refused (s_upload_in_parts (description, NULL, 0, 16, 1), PROTO_E_BAD_REQUEST,
               "'sizes' is missing", verbose);
    uint64_t *many = (uint64_t *) calloc (PROTO_MAX_FRAME_PAYLOADS + 1, sizeof (uint64_t));
    SELFTEST_CHECK (many);
    many [0] = 16;
    s_refused (s_upload_in_parts (description, many, PROTO_MAX_FRAME_PAYLOADS + 1, 16, 1),
               PROTO_E_BAD_REQUEST, "has 4097 sizes, more than the 4096", verbose);
    free (many);

    //  a download reply in parts: its pieces came as `part` events, one
    //  payload each; the reply says how to cut them and carries none
    msg = proto_test_decode (s_reply_in_parts (description, 16, 0));
    SELFTEST_CHECK (proto_msg_uint (msg, "parts", 0) == 3);
    proto_msg_destroy (&msg);
    s_refused (s_reply_in_parts (description, 16, 1), PROTO_E_BAD_REQUEST,
               "a frame reply in parts carries 1 payloads", verbose);
    s_refused (s_reply_in_parts (description, 20, 0), PROTO_E_BAD_REQUEST,
               "a frame reply in parts announces 20 bytes, but its sizes add up to 16",
               verbose);
    builder = proto_builder_new (PROTO_EVENT, 4, "nb1");
    proto_builder_str (builder, "event", "part");
    proto_builder_uint (builder, "part", 0);
    proto_builder_payload_copy (builder, "piece", 5);
    msg = proto_test_decode (proto_builder_finish (&builder));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 1);
    proto_msg_destroy (&msg);
    builder = proto_builder_new (PROTO_EVENT, 4, "nb1");
    proto_builder_str (builder, "event", "part");
    proto_builder_uint (builder, "part", 0);
    s_refused (proto_builder_finish (&builder), PROTO_E_BAD_REQUEST,
               "event carries 0 payload frames", verbose);

    //  other uploads keep their one payload and the cap of 64
    raw = proto_encode_upload (7, "nb1", "t", "csv", "a", 1);
    zmsg_addstr (raw, "b");
    s_refused (raw, PROTO_E_BAD_REQUEST, "exactly 1", verbose);
    raw = proto_encode_upload (7, "nb1", "t", "csv", "a", 1);
    for (int i = 0; i < PROTO_MAX_PAYLOADS; i++)
        zmsg_addstr (raw, "b");
    s_refused (raw, PROTO_E_TOO_LARGE, "upload has 65 payload frames", verbose);

    //  the download request takes none, whatever its format
    msg = proto_test_decode (proto_encode_download (8, "nb1", "t", "frame"));
    SELFTEST_CHECK (proto_test_str_is (msg, "format", "frame"));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 0);
    proto_msg_destroy (&msg);
    raw = proto_encode_download (8, "nb1", "t", "frame");
    zmsg_addstr (raw, "b");
    s_refused (raw, PROTO_E_BAD_REQUEST, "download carries 1 payload frames", verbose);

    //  the download reply: an ok reply with format "frame"
    msg = proto_test_decode (s_reply (true, "frame", description, 1000));
    SELFTEST_CHECK (proto_msg_is_ok (msg));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 1000);
    frame = proto_msg_object (msg, "frame");
    SELFTEST_CHECK (frame && msgpack_object_equal (*frame, *description));
    proto_msg_destroy (&msg);
    s_refused (s_reply (true, "frame", NULL, 2), PROTO_E_BAD_REQUEST,
               "'frame' is missing; reply requires it", verbose);
    s_refused (s_reply (true, "csv", description, PROTO_MAX_PAYLOADS + 1),
               PROTO_E_TOO_LARGE, "reply has 65 payload frames", verbose);
    s_refused (s_reply (false, "frame", description, PROTO_MAX_PAYLOADS + 1),
               PROTO_E_TOO_LARGE, "reply has 65 payload frames", verbose);
    s_refused (s_reply (true, "frame", description, PROTO_MAX_FRAME_PAYLOADS + 1),
               PROTO_E_TOO_LARGE, "more than the limit of 4096", verbose);

    //  its outcome, the copy attached clients get (4.5), carries as many
    //  (found by fuzz/proto_decode.c: the copy of a 65-buffer download
    //  was refused by every attached client)
    msg = proto_test_decode (s_reply (true, "frame", description, PROTO_MAX_PAYLOADS + 1));
    proto_msg_t *outcome = proto_test_decode (proto_encode_peer_copy (msg, "outcome", "a"));
    SELFTEST_CHECK (proto_msg_is_ok (outcome));
    SELFTEST_CHECK (proto_msg_payload_count (outcome) == PROTO_MAX_PAYLOADS + 1);
    proto_msg_destroy (&outcome);
    proto_msg_destroy (&msg);
    //  ... but another event does not
    builder = proto_builder_new (PROTO_EVENT, 0, "nb1");
    proto_builder_str (builder, "event", "input");
    proto_builder_str (builder, "status", "ok");
    proto_builder_str (builder, "format", "frame");
    proto_builder_key (builder, "frame");
    proto_builder_val_object (builder, description);
    for (int i = 0; i <= PROTO_MAX_PAYLOADS; i++)
        proto_builder_payload_copy (builder, "", 0);
    s_refused (proto_builder_finish (&builder), PROTO_E_TOO_LARGE,
               "event has 65 payload frames", verbose);

    //  the bounded msgpack check names what it checks
    proto_fault_t fault;
    SELFTEST_CHECK (proto_msgpack_check (packed.data, packed.size,
                                           "description", &fault) == 0);
    SELFTEST_CHECK (proto_msgpack_check (packed.data, packed.size - 1,
                                           "description", &fault) == -1);
    SELFTEST_CHECK (strstr (fault.text, "description is truncated msgpack"));
    SELFTEST_CHECK (proto_msgpack_check ("\xdd\xff\xff\xff\xff", 5,
                                           "description", &fault) == -1);

    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&packed);
}
