/*  proto_test_malformed — the codec selftest's hostile half: malformed
    input of every kind is refused with the right fault, and random bytes
    never crash the decoder. proto_test calls it.
*/
#include "proto.h"
#include "proto_internal.h"
#include "selftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Expects decode to fail with code and text containing needle.
static void
s_test_bad (zmsg_t *msg, proto_error_t code, const char *needle,
            bool has_id, uint64_t id, bool verbose)
{
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&msg, &fault);
    if (verbose)
        printf ("\n   fault: %s", fault.text);
    if (decoded || fault.code != code || !strstr (fault.text, needle))
        fprintf (stderr, "proto_test: expected fault '%s' (%d), got '%s' (%d)\n",
                 needle, code, decoded ? "(decoded)" : fault.text, fault.code);
    SELFTEST_CHECK (decoded == NULL);
    SELFTEST_CHECK (msg == NULL);
    SELFTEST_CHECK (fault.code == code);
    SELFTEST_CHECK (strstr (fault.text, needle));
    SELFTEST_CHECK (fault.has_id == has_id);
    if (has_id)
        SELFTEST_CHECK (fault.id == id);
}

//  A message with raw frames: signature, header bytes, payloads empty frames.
static zmsg_t *
s_test_raw (const char *signature, const void *header, size_t header_size,
            size_t payloads)
{
    zmsg_t *msg = zmsg_new ();
    SELFTEST_CHECK (msg);
    if (signature)
        SELFTEST_CHECK (zmsg_addmem (msg, signature, strlen (signature)) == 0);
    if (header)
        SELFTEST_CHECK (zmsg_addmem (msg, header, header_size) == 0);
    for (size_t i = 0; i < payloads; i++)
        SELFTEST_CHECK (zmsg_addmem (msg, "p", 1) == 0);
    return msg;
}

//  Packs a header map with the given string pairs and optional extra
//  raw pairs via callback-free helpers below.
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
} s_test_pack_t;

static void
s_test_pack_init (s_test_pack_t *pack, uint32_t keys)
{
    msgpack_sbuffer_init (&pack->buffer);
    msgpack_packer_init (&pack->packer, &pack->buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pack->packer, keys);
}

static void
s_test_pack_str (s_test_pack_t *pack, const char *text)
{
    msgpack_pack_str (&pack->packer, strlen (text));
    msgpack_pack_str_body (&pack->packer, text, strlen (text));
}

static zmsg_t *
s_test_pack_msg (s_test_pack_t *pack, size_t payloads)
{
    zmsg_t *msg = s_test_raw (PROTO_SIGNATURE, pack->buffer.data,
                              pack->buffer.size, payloads);
    msgpack_sbuffer_destroy (&pack->buffer);
    return msg;
}

//  {type: type, id: id, session: session} with one wrong field appended.
static zmsg_t *
s_test_execute_with (const char *key, int kind, size_t payloads)
{
    s_test_pack_t pack;
    bool replace = strcmp (key, "id") == 0 || strcmp (key, "session") == 0;
    s_test_pack_init (&pack, replace ? 3 : 4);
    s_test_pack_str (&pack, "type");
    s_test_pack_str (&pack, "execute");
    if (strcmp (key, "id") != 0) {
        s_test_pack_str (&pack, "id");
        msgpack_pack_uint64 (&pack.packer, 42);
    }
    if (strcmp (key, "session") != 0) {
        s_test_pack_str (&pack, "session");
        s_test_pack_str (&pack, "nb1");
    }
    s_test_pack_str (&pack, key);
    switch (kind) {
        case 0: msgpack_pack_int64 (&pack.packer, -5); break;
        case 1: s_test_pack_str (&pack, "12"); break;
        case 2: msgpack_pack_true (&pack.packer); break;
        case 3: msgpack_pack_array (&pack.packer, 0); break;
        case 4: msgpack_pack_uint64 (&pack.packer, 7); break;
        case 5: msgpack_pack_bin (&pack.packer, 3);
                msgpack_pack_bin_body (&pack.packer, "nb1", 3); break;
    }
    return s_test_pack_msg (&pack, payloads);
}

static void
s_test_malformed (bool verbose)
{
    const proto_error_t BAD = PROTO_E_BAD_REQUEST;

    //  framing
    zmsg_t *msg = proto_encode_stats (1);
    zframe_t *signature = zmsg_pop (msg);
    zframe_destroy (&signature);
    zmsg_pushstr (msg, "KMQ2");
    s_test_bad (msg, BAD, "signature", false, 0, verbose);
    s_test_bad (s_test_raw ("KMQ", "\x80", 1, 0), BAD, "signature", false, 0, verbose);
    s_test_bad (s_test_raw ("KMQ1x", "\x80", 1, 0), BAD, "signature", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, NULL, 0, 0), BAD, "no header",
                false, 0, verbose);
    s_test_bad (zmsg_new (), BAD, "no frames", false, 0, verbose);
    //  64 payloads are within the framing limit (a reply may carry them)
    msg = proto_encode_ok (1, NULL);
    for (int i = 0; i < PROTO_MAX_PAYLOADS; i++)
        zmsg_addstr (msg, "x");
    proto_msg_t *full = proto_test_decode (msg);
    SELFTEST_CHECK (proto_msg_payload_count (full) == PROTO_MAX_PAYLOADS);
    SELFTEST_CHECK (zframe_streq (proto_msg_payload (full, PROTO_MAX_PAYLOADS - 1), "x"));
    proto_msg_destroy (&full);
    //  but stats takes none
    msg = proto_encode_stats (1);
    for (int i = 0; i < PROTO_MAX_PAYLOADS; i++)
        zmsg_addstr (msg, "x");
    s_test_bad (msg, BAD, "stats carries 64 payload frames", true, 1, verbose);
    msg = proto_encode_stats (1);
    for (int i = 0; i < PROTO_MAX_PAYLOADS + 1; i++)
        zmsg_addstr (msg, "x");
    s_test_bad (msg, PROTO_E_TOO_LARGE, "stats has 65 payload frames, more than "
                "the limit of 64", true, 1, verbose);
    zframe_t *big = zframe_new (NULL, PROTO_MAX_HEADER + 1);
    memset (zframe_data (big), 0x80, PROTO_MAX_HEADER + 1);
    msg = s_test_raw (PROTO_SIGNATURE, NULL, 0, 0);
    zmsg_append (msg, &big);
    s_test_bad (msg, PROTO_E_TOO_LARGE, "header is 1048577 bytes", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "", 0, 0), BAD, "empty", false, 0, verbose);

    //  msgpack well-formedness
    zmsg_t *good = proto_encode_stats (1);
    zmsg_first (good);
    zframe_t *header = zmsg_next (good);
    size_t size = zframe_size (header);
    for (size_t cut = 1; cut < size; cut++)
        s_test_bad (s_test_raw (PROTO_SIGNATURE, zframe_data (header), cut, 0),
                    BAD, "truncated", false, 0, false);
    byte padded [64];
    SELFTEST_CHECK (size + 1 <= sizeof (padded));
    memcpy (padded, zframe_data (header), size);
    padded [size] = 0xc0;
    s_test_bad (s_test_raw (PROTO_SIGNATURE, padded, size + 1, 0),
                BAD, "1 trailing bytes", false, 0, verbose);
    zmsg_destroy (&good);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\xc1", 1, 0), BAD, "0xc1", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\x92\x01\x02", 3, 0), BAD,
                "not a map", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\xa3" "abc", 4, 0), BAD,
                "not a map", false, 0, verbose);
    //  huge announced counts are refused before msgpack-c allocates them
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\xdf\xff\xff\xff\xff", 5, 0), BAD,
                "truncated", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\x81\xa1x\xdd\xff\xff\xff\xff", 8, 0),
                BAD, "truncated", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\x81\xa1x\xdb\xff\xff\xff\xff", 8, 0),
                BAD, "truncated", false, 0, verbose);
    //  nesting past msgpack-c's stack
    byte deep [200];
    memset (deep, 0x91, sizeof (deep) - 1);
    deep [sizeof (deep) - 1] = 0x80;
    s_test_bad (s_test_raw (PROTO_SIGNATURE, deep, sizeof (deep), 0), BAD,
                "nests too deeply", false, 0, verbose);

    //  keys and types
    s_test_pack_t pack;
    s_test_pack_init (&pack, 2);
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 31);
    msgpack_pack_uint64 (&pack.packer, 1);
    s_test_pack_str (&pack, "x");
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "header key 1 is not a string",
                true, 31, verbose);
    s_test_pack_init (&pack, 1);
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 32);
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "'type' is missing", true, 32, verbose);
    s_test_pack_init (&pack, 2);
    s_test_pack_str (&pack, "type");
    s_test_pack_str (&pack, "exterminate");
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 33);
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "unknown value 'exterminate'",
                true, 33, verbose);
    s_test_pack_init (&pack, 2);
    s_test_pack_str (&pack, "type");
    msgpack_pack_uint64 (&pack.packer, 1);
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 34);
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "header field 'type' must be a string",
                true, 34, verbose);
    s_test_pack_init (&pack, 3);
    s_test_pack_str (&pack, "type");
    s_test_pack_str (&pack, "stats");
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 35);
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 36);
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "'id' appears more than once",
                true, 35, verbose);
    s_test_pack_init (&pack, 1);
    s_test_pack_str (&pack, "type");
    s_test_pack_str (&pack, "stats");
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "'id' is missing", false, 0, verbose);

    //  wrong kinds of known fields (id wrong: no id to report)
    s_test_bad (s_test_execute_with ("id", 0, 1), BAD,
                "header field 'id' must be an unsigned integer", false, 0, verbose);
    s_test_bad (s_test_execute_with ("id", 1, 1), BAD,
                "header field 'id' must be an unsigned integer", false, 0, verbose);
    s_test_bad (s_test_execute_with ("session", 4, 1), BAD,
                "header field 'session' must be a string", true, 42, verbose);
    s_test_bad (s_test_execute_with ("session", 5, 1), BAD,
                "header field 'session' must be a string", true, 42, verbose);
    s_test_bad (s_test_execute_with ("timeout_ms", 0, 1), BAD,
                "header field 'timeout_ms' must be an unsigned integer", true, 42, verbose);
    s_test_bad (s_test_execute_with ("timeout_ms", 1, 1), BAD,
                "header field 'timeout_ms' must be an unsigned integer", true, 42, verbose);
    s_test_bad (s_test_execute_with ("name", 2, 1), BAD,
                "header field 'name' must be a string", true, 42, verbose);
    s_test_bad (s_test_execute_with ("state_lost", 4, 1), BAD,
                "header field 'state_lost' must be a boolean", true, 42, verbose);
    s_test_bad (s_test_execute_with ("vars", 1, 1), BAD,
                "header field 'vars' must be an array", true, 42, verbose);
    s_test_bad (s_test_execute_with ("files", 2, 1), BAD,
                "header field 'files' must be an array", true, 42, verbose);
    s_test_bad (proto_encode_simple (PROTO_FILES, 52, NULL), BAD,
                "session", true, 52, verbose);
    //  and right kinds pass, unknown keys of any kind too
    proto_msg_t *decoded = proto_test_decode (s_test_execute_with ("timeout_ms", 4, 1));
    SELFTEST_CHECK (proto_msg_uint (decoded, "timeout_ms", 0) == 7);
    proto_msg_destroy (&decoded);
    decoded = proto_test_decode (s_test_execute_with ("x-anything", 0, 1));
    SELFTEST_CHECK (proto_msg_int (decoded, "x-anything", 0) == -5);
    proto_msg_destroy (&decoded);
    {
        proto_builder_t *builder = proto_reply_ok_begin (9, NULL);
        proto_builder_key (builder, "mime");
        proto_builder_val_array (builder, 1);
        proto_builder_val_uint (builder, 1);
        s_test_bad (proto_builder_finish (&builder), BAD,
                    "'mime' must be an array of strings", true, 9, verbose);
    }

    //  sessions
    s_test_bad (proto_encode_simple (PROTO_VARS, 50, "bad key"), BAD,
                "not a valid session key", true, 50, verbose);
    s_test_bad (proto_encode_simple (PROTO_CLOSE, 51, "../x"), BAD,
                "not a valid session key", true, 51, verbose);
    char key [PROTO_SESSION_MAX + 2];
    memset (key, 'k', sizeof (key));
    key [PROTO_SESSION_MAX + 1] = 0;
    s_test_bad (proto_encode_execute (52, key, "1", 1, 0), BAD,
                "not a valid session key", true, 52, verbose);
    key [PROTO_SESSION_MAX] = 0;
    decoded = proto_test_decode (proto_encode_execute (53, key, "1", 1, 0));
    SELFTEST_CHECK (strlen (proto_msg_session (decoded)) == PROTO_SESSION_MAX);
    proto_msg_destroy (&decoded);
    s_test_bad (proto_encode_simple (PROTO_ATTACH, 54, NULL), BAD,
                "'session' is missing", true, 54, verbose);
    s_test_bad (proto_encode_ready (NULL, 1), BAD, "'session' is missing",
                false, 0, verbose);

    //  required fields and payload counts
    msg = proto_encode_execute (60, "nb1", "1", 1, 0);
    zframe_t *code = zmsg_last (msg);
    zmsg_remove (msg, code);
    zframe_destroy (&code);
    s_test_bad (msg, BAD, "execute carries 0 payload frames", true, 60, verbose);
    msg = proto_encode_execute (61, "nb1", "1", 1, 0);
    zmsg_addstr (msg, "2");
    s_test_bad (msg, BAD, "execute carries 2 payload frames", true, 61, verbose);
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD, 62, "nb1");
    proto_builder_str (builder, "name", "df");
    proto_builder_payload_copy (builder, "x", 1);
    s_test_bad (proto_builder_finish (&builder), BAD, "'format' is missing",
                true, 62, verbose);
    s_test_bad (proto_encode_upload (63, "nb1", "", "csv", "x", 1), BAD,
                "'name' must be 1 to 255 bytes", true, 63, verbose);
    msg = proto_encode_download (64, "nb1", "df", "csv");
    zmsg_addstr (msg, "x");
    s_test_bad (msg, BAD, "download carries 1 payload frames", true, 64, verbose);
    builder = proto_builder_new (PROTO_HELLO, 65, NULL);
    s_test_bad (proto_builder_finish (&builder), BAD, "'version' is missing",
                true, 65, verbose);
    builder = proto_builder_new (PROTO_REPLY, 66, NULL);
    s_test_bad (proto_builder_finish (&builder), BAD, "'status' is missing",
                true, 66, verbose);
    builder = proto_builder_new (PROTO_REPLY, 67, NULL);
    proto_builder_str (builder, "status", "maybe");
    s_test_bad (proto_builder_finish (&builder), BAD, "'status' must be",
                true, 67, verbose);
    builder = proto_builder_new (PROTO_REPLY, 68, NULL);
    proto_builder_str (builder, "status", "error");
    proto_builder_str (builder, "error", "TIMEOUT");
    s_test_bad (proto_builder_finish (&builder), BAD, "'message' is missing",
                true, 68, verbose);
    builder = proto_builder_new (PROTO_EVENT, 69, "nb1");
    s_test_bad (proto_builder_finish (&builder), BAD, "'event' is missing",
                true, 69, verbose);
    msg = proto_encode_stream (70, "nb1", "stdout", "x", 1);
    zmsg_addstr (msg, "y");
    s_test_bad (msg, BAD, "event carries 2 payload frames", true, 70, verbose);
    //  events other than stream are free-form
    builder = proto_builder_new (PROTO_EVENT, 0, "nb1");
    proto_builder_str (builder, "event", "evicted");
    proto_builder_str (builder, "message", "idle for 1800 s");
    decoded = proto_test_decode (proto_builder_finish (&builder));
    SELFTEST_CHECK (proto_test_str_is (decoded, "event", "evicted"));
    proto_msg_destroy (&decoded);
    //  a reply's error name from a newer peer reads as INTERNAL
    builder = proto_builder_new (PROTO_REPLY, 71, NULL);
    proto_builder_str (builder, "status", "error");
    proto_builder_str (builder, "error", "FROM_THE_FUTURE");
    proto_builder_str (builder, "message", "?");
    decoded = proto_test_decode (proto_builder_finish (&builder));
    SELFTEST_CHECK (proto_msg_error (decoded) == PROTO_E_INTERNAL);
    proto_msg_destroy (&decoded);

    //  complete and inspect: the code, a session, a cursor inside the code
    msg = proto_encode_complete (80, "nb1", "x", 1, 1);
    code = zmsg_last (msg);
    zmsg_remove (msg, code);
    zframe_destroy (&code);
    s_test_bad (msg, BAD, "complete carries 0 payload frames", true, 80, verbose);
    msg = proto_encode_inspect (81, "nb1", "x", 1, 1);
    zmsg_addstr (msg, "y");
    s_test_bad (msg, BAD, "inspect carries 2 payload frames", true, 81, verbose);
    s_test_bad (proto_encode_complete (82, NULL, "x", 1, 1), BAD,
                "'session' is missing", true, 82, verbose);
    s_test_bad (proto_encode_inspect (83, "a b", "x", 1, 1), BAD,
                "not a valid session key", true, 83, verbose);
    builder = proto_builder_new (PROTO_COMPLETE, 84, "nb1");
    proto_builder_uint (builder, "cursor_pos", 4);
    proto_builder_payload_copy (builder, "abc", 3);
    s_test_bad (proto_builder_finish (&builder), BAD,
                "'cursor_pos' is 4, past the end of the code (3 bytes)",
                true, 84, verbose);
    builder = proto_builder_new (PROTO_INSPECT, 85, "nb1");
    proto_builder_uint (builder, "cursor_pos", UINT64_MAX);
    proto_builder_payload_copy (builder, "", 0);
    s_test_bad (proto_builder_finish (&builder), BAD, "past the end",
                true, 85, verbose);
    builder = proto_builder_new (PROTO_COMPLETE, 86, "nb1");
    proto_builder_int (builder, "cursor_pos", -1);
    proto_builder_payload_copy (builder, "abc", 3);
    s_test_bad (proto_builder_finish (&builder), BAD,
                "'cursor_pos' must be an unsigned integer", true, 86, verbose);
    //  without a cursor, and with it at the very end, both are fine
    builder = proto_builder_new (PROTO_COMPLETE, 87, "nb1");
    proto_builder_payload_copy (builder, "abc", 3);
    decoded = proto_test_decode (proto_builder_finish (&builder));
    SELFTEST_CHECK (!proto_msg_has (decoded, "cursor_pos"));
    proto_msg_destroy (&decoded);
    decoded = proto_test_decode (proto_encode_inspect (88, "nb1", "abc", 3, 3));
    SELFTEST_CHECK (proto_msg_uint (decoded, "cursor_pos", 0) == 3);
    proto_msg_destroy (&decoded);

    //  MIME bundles: display needs mime, and one payload per entry anywhere
    builder = proto_builder_new (PROTO_EVENT, 90, "nb1");
    proto_builder_str (builder, "event", "display");
    proto_builder_payload_copy (builder, "x", 1);
    s_test_bad (proto_builder_finish (&builder), BAD, "'mime' is missing",
                true, 90, verbose);
    {
        const char *types [] = { "text/plain", "text/html" };
        const void *data [] = { "a", "<b>a</b>" };
        const size_t sizes [] = { 1, 8 };
        msg = proto_encode_display (91, "nb1", types, data, sizes, 2);
        zmsg_addstr (msg, "extra");
        s_test_bad (msg, BAD, "event carries 3 payload frames for 2 'mime' entries",
                    true, 91, verbose);
        msg = proto_encode_display (92, "nb1", types, data, sizes, 2);
        zframe_t *last = zmsg_last (msg);
        zmsg_remove (msg, last);
        zframe_destroy (&last);
        s_test_bad (msg, BAD, "event carries 1 payload frames for 2 'mime' entries",
                    true, 92, verbose);
    }
    builder = proto_reply_ok_begin (93, "nb1");
    proto_builder_uint (builder, "execution_count", 1);
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, 1);
    proto_builder_val_str (builder, "text/plain");
    s_test_bad (proto_builder_finish (&builder), BAD,
                "reply carries 0 payload frames for 1 'mime' entries", true, 93, verbose);
    builder = proto_builder_new (PROTO_EVENT, 94, "nb1");
    proto_builder_str (builder, "event", "display");
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, 1);
    proto_builder_val_array (builder, 0);
    proto_builder_payload_copy (builder, "x", 1);
    s_test_bad (proto_builder_finish (&builder), BAD,
                "'mime' must be an array of strings", true, 94, verbose);
    //  the reply fields of complete and inspect have their kinds
    builder = proto_reply_ok_begin (95, "nb1");
    proto_builder_key (builder, "matches");
    proto_builder_val_array (builder, 2);
    proto_builder_val_str (builder, "a");
    proto_builder_val_nil (builder);
    s_test_bad (proto_builder_finish (&builder), BAD,
                "'matches' must be an array of strings", true, 95, verbose);
    builder = proto_reply_ok_begin (96, "nb1");
    proto_builder_str (builder, "matches", "groupby");
    s_test_bad (proto_builder_finish (&builder), BAD,
                "'matches' must be an array", true, 96, verbose);
    builder = proto_reply_ok_begin (97, "nb1");
    proto_builder_uint (builder, "found", 1);
    s_test_bad (proto_builder_finish (&builder), BAD,
                "'found' must be a boolean", true, 97, verbose);
    builder = proto_reply_ok_begin (98, "nb1");
    proto_builder_uint (builder, "cursor_start", 5);
    proto_builder_uint (builder, "cursor_end", 4);
    s_test_bad (proto_builder_finish (&builder), BAD,
                "'cursor_start' (5) is after 'cursor_end' (4)", true, 98, verbose);
    builder = proto_reply_ok_begin (99, "nb1");
    proto_builder_str (builder, "cursor_end", "4");
    s_test_bad (proto_builder_finish (&builder), BAD,
                "'cursor_end' must be an unsigned integer", true, 99, verbose);

    //  a fault is reported without a fault struct too
    msg = s_test_raw ("nope", NULL, 0, 0);
    SELFTEST_CHECK (proto_decode (&msg, NULL) == NULL);
    SELFTEST_CHECK (msg == NULL);
    SELFTEST_CHECK (proto_decode (&msg, NULL) == NULL);
}

//  Random bytes in every frame never crash the decoder.
static void
s_test_fuzz (void)
{
    uint32_t seed = 12345;
    zmsg_t *good = proto_encode_upload (1, "nb1", "df", "csv", "a", 1);
    zmsg_first (good);
    zframe_t *header = zmsg_next (good);
    size_t size = zframe_size (header);
    byte buffer [64];
    SELFTEST_CHECK (size <= sizeof (buffer));
    for (int round = 0; round < 20000; round++) {
        memcpy (buffer, zframe_data (header), size);
        int flips = 1 + round % 4;
        for (int i = 0; i < flips; i++) {
            seed = seed * 1103515245u + 12345u;
            buffer [(seed >> 8) % size] = (byte) (seed >> 16);
        }
        zmsg_t *msg = s_test_raw (PROTO_SIGNATURE, buffer, size, round % 3);
        proto_fault_t fault;
        proto_msg_t *decoded = proto_decode (&msg, &fault);
        if (decoded) {
            (void) proto_msg_str (decoded, "name");
            (void) proto_msg_error (decoded);
        }
        else
            SELFTEST_CHECK (fault.text [0]);
        proto_msg_destroy (&decoded);
    }
    zmsg_destroy (&good);
}

void
proto_test_malformed (bool verbose)
{
    s_test_malformed (verbose);
    s_test_fuzz ();
}
