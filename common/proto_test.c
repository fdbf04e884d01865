/*  proto_test — selftest of the kernelmq wire codec (proto.c,
    proto_encode.c): every encoder round-trips through the decoder, and
    malformed input of every kind is refused with the right fault.
*/
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Survives NDEBUG, unlike assert.
#define s_check(expr) do { \
    if (!(expr)) { \
        fprintf (stderr, "%s:%d: proto_test: check failed: %s\n", \
                 __FILE__, __LINE__, #expr); \
        abort (); \
    } \
} while (0)

static proto_msg_t *
s_test_decode (zmsg_t *msg)
{
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&msg, &fault);
    if (!decoded)
        fprintf (stderr, "proto_test: unexpected fault: %s\n", fault.text);
    s_check (decoded);
    s_check (msg == NULL);
    s_check (fault.code == PROTO_E_NONE);
    return decoded;
}

static bool
s_test_payload_is (proto_msg_t *msg, size_t index, const void *data, size_t size)
{
    zframe_t *frame = proto_msg_payload (msg, index);
    return frame && zframe_size (frame) == size
        && (size == 0 || memcmp (zframe_data (frame), data, size) == 0);
}

static bool
s_test_str_is (proto_msg_t *msg, const char *key, const char *value)
{
    const char *str = proto_msg_str (msg, key);
    return str && strcmp (str, value) == 0;
}

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
    s_check (decoded == NULL);
    s_check (msg == NULL);
    s_check (fault.code == code);
    s_check (strstr (fault.text, needle));
    s_check (fault.has_id == has_id);
    if (has_id)
        s_check (fault.id == id);
}

//  A message with raw frames: signature, header bytes, payloads empty frames.
static zmsg_t *
s_test_raw (const char *signature, const void *header, size_t header_size,
            size_t payloads)
{
    zmsg_t *msg = zmsg_new ();
    s_check (msg);
    if (signature)
        s_check (zmsg_addmem (msg, signature, strlen (signature)) == 0);
    if (header)
        s_check (zmsg_addmem (msg, header, header_size) == 0);
    for (size_t i = 0; i < payloads; i++)
        s_check (zmsg_addmem (msg, "p", 1) == 0);
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
s_test_names (void)
{
    for (int i = 0; i < PROTO_TYPE_COUNT; i++) {
        const char *name = proto_type_name ((proto_type_t) i);
        s_check (proto_type_parse (name, strlen (name)) == i);
    }
    s_check (strcmp (proto_type_name (PROTO_EXECUTE), "execute") == 0);
    s_check (strcmp (proto_type_name (PROTO_TYPE_COUNT), "?") == 0);
    s_check (proto_type_parse ("exec", 4) == -1);
    s_check (proto_type_parse ("executes", 8) == -1);
    s_check (proto_type_parse ("executeX", 7) == PROTO_EXECUTE);
    for (int i = 1; i < PROTO_E_COUNT; i++)
        s_check ((int) proto_error_parse (proto_error_name ((proto_error_t) i)) == i);
    s_check (strcmp (proto_error_name (PROTO_E_KERNEL_DIED), "KERNEL_DIED") == 0);
    s_check (proto_error_parse ("FROM_THE_FUTURE") == PROTO_E_INTERNAL);
    s_check (proto_error_parse ("NONE") == PROTO_E_INTERNAL);
    s_check (proto_error_parse (NULL) == PROTO_E_INTERNAL);

    s_check (proto_type_is_session_bound (PROTO_EXECUTE));
    s_check (proto_type_is_session_bound (PROTO_DETACH));
    s_check (proto_type_is_session_bound (PROTO_COMPLETE));
    s_check (proto_type_is_session_bound (PROTO_INSPECT));
    s_check (!proto_type_is_session_bound (PROTO_EVENT));
    s_check (strcmp (proto_type_name (PROTO_COMPLETE), "complete") == 0);
    s_check (proto_type_parse ("inspect", 7) == PROTO_INSPECT);
    s_check (!proto_type_is_session_bound (PROTO_HELLO));
    s_check (!proto_type_is_session_bound (PROTO_STATS));
    s_check (!proto_type_is_session_bound (PROTO_REPLY));

    char key [PROTO_SESSION_MAX + 2];
    memset (key, 'k', sizeof (key));
    s_check (proto_session_valid ("nb1", 3));
    s_check (proto_session_valid ("A-z_0.9:x", 9));
    s_check (proto_session_valid (key, PROTO_SESSION_MAX));
    s_check (!proto_session_valid (key, PROTO_SESSION_MAX + 1));
    s_check (!proto_session_valid ("", 0));
    s_check (!proto_session_valid (NULL, 0));
    s_check (!proto_session_valid ("a b", 3));
    s_check (!proto_session_valid ("a/b", 3));
    s_check (!proto_session_valid ("a\0b", 3));
    s_check (!proto_session_valid ("caf\xc3\xa9", 5));
}

static void
s_test_encoders (void)
{
    //  hello
    proto_msg_t *msg = s_test_decode (proto_encode_hello (1, 1, "kmq 0.1"));
    s_check (proto_msg_type (msg) == PROTO_HELLO);
    s_check (proto_msg_id (msg) == 1);
    s_check (strcmp (proto_msg_session (msg), "") == 0);
    s_check (proto_msg_uint (msg, "version", 0) == 1);
    s_check (s_test_str_is (msg, "client", "kmq 0.1"));
    s_check (proto_msg_payload_count (msg) == 0);
    s_check (!proto_msg_is_ok (msg));
    s_check (proto_msg_error (msg) == PROTO_E_NONE);
    proto_msg_destroy (&msg);
    s_check (msg == NULL);
    proto_msg_destroy (&msg);
    msg = s_test_decode (proto_encode_hello (2, 3, NULL));
    s_check (!proto_msg_has (msg, "client"));
    s_check (proto_msg_str (msg, "client") == NULL);
    s_check (proto_msg_uint (msg, "version", 0) == 3);
    proto_msg_destroy (&msg);

    //  execute, with and without timeout; code with a NUL inside
    const char code [] = "x = 41\nx + 1\0tail";
    msg = s_test_decode (proto_encode_execute (7, "nb1", code, sizeof (code), 2500));
    s_check (proto_msg_type (msg) == PROTO_EXECUTE);
    s_check (proto_msg_id (msg) == 7);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "session", "nb1"));
    s_check (proto_msg_uint (msg, "timeout_ms", 0) == 2500);
    s_check (proto_msg_payload_count (msg) == 1);
    s_check (s_test_payload_is (msg, 0, code, sizeof (code)));
    s_check (proto_msg_payload (msg, 1) == NULL);
    proto_msg_destroy (&msg);
    msg = s_test_decode (proto_encode_execute (UINT64_MAX, "s", "", 0, 0));
    s_check (proto_msg_id (msg) == UINT64_MAX);
    s_check (!proto_msg_has (msg, "timeout_ms"));
    s_check (proto_msg_uint (msg, "timeout_ms", 99) == 99);
    s_check (s_test_payload_is (msg, 0, "", 0));
    proto_msg_destroy (&msg);

    //  upload
    const char csv [] = "A,B\n1,4\n2,5\n3,6\n";
    msg = s_test_decode (proto_encode_upload (2, "nb1", "df", "csv", csv, strlen (csv)));
    s_check (proto_msg_type (msg) == PROTO_UPLOAD);
    s_check (proto_msg_id (msg) == 2);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "name", "df"));
    s_check (s_test_str_is (msg, "format", "csv"));
    s_check (proto_msg_payload_count (msg) == 1);
    s_check (s_test_payload_is (msg, 0, csv, strlen (csv)));
    const char *ptr;
    size_t len;
    s_check (proto_msg_strn (msg, "format", &ptr, &len));
    s_check (len == 3 && memcmp (ptr, "csv", 3) == 0);
    s_check (!proto_msg_strn (msg, "nothing", &ptr, &len));
    proto_msg_destroy (&msg);

    //  download
    msg = s_test_decode (proto_encode_download (3, "nb1", "df", "json"));
    s_check (proto_msg_type (msg) == PROTO_DOWNLOAD);
    s_check (proto_msg_id (msg) == 3);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "name", "df"));
    s_check (s_test_str_is (msg, "format", "json"));
    s_check (proto_msg_payload_count (msg) == 0);
    proto_msg_destroy (&msg);

    //  every simple session request
    proto_type_t simple [] = { PROTO_RESET, PROTO_INTERRUPT, PROTO_VARS,
                               PROTO_CLOSE, PROTO_ATTACH, PROTO_DETACH };
    for (size_t i = 0; i < sizeof (simple) / sizeof (simple [0]); i++) {
        msg = s_test_decode (proto_encode_simple (simple [i], 10 + i, "a:b-c.d_e"));
        s_check (proto_msg_type (msg) == simple [i]);
        s_check (proto_msg_id (msg) == 10 + i);
        s_check (strcmp (proto_msg_session (msg), "a:b-c.d_e") == 0);
        s_check (proto_msg_payload_count (msg) == 0);
        proto_msg_destroy (&msg);
    }

    //  heartbeat: type only
    msg = s_test_decode (proto_encode_heartbeat ());
    s_check (proto_msg_type (msg) == PROTO_HEARTBEAT);
    s_check (proto_msg_id (msg) == 0);
    s_check (!proto_msg_has (msg, "id"));
    s_check (!proto_msg_has (msg, "session"));
    proto_msg_destroy (&msg);

    //  stats
    msg = s_test_decode (proto_encode_stats (99));
    s_check (proto_msg_type (msg) == PROTO_STATS);
    s_check (proto_msg_id (msg) == 99);
    s_check (!proto_msg_has (msg, "session"));
    proto_msg_destroy (&msg);

    //  ready
    msg = s_test_decode (proto_encode_ready ("nb1", 4121));
    s_check (proto_msg_type (msg) == PROTO_READY);
    s_check (proto_msg_id (msg) == 0);
    s_check (!proto_msg_has (msg, "id"));
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (proto_msg_uint (msg, "pid", 0) == 4121);
    s_check (proto_msg_uint (msg, "version", 0) == PROTO_VERSION);
    proto_msg_destroy (&msg);

    //  stream event
    msg = s_test_decode (proto_encode_stream (8, "nb1", "stdout", "hi\n", 3));
    s_check (proto_msg_type (msg) == PROTO_EVENT);
    s_check (proto_msg_id (msg) == 8);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "event", "stream"));
    s_check (s_test_str_is (msg, "name", "stdout"));
    s_check (proto_msg_payload_count (msg) == 1);
    s_check (s_test_payload_is (msg, 0, "hi\n", 3));
    s_check (!proto_msg_is_ok (msg));
    proto_msg_destroy (&msg);

    //  error reply
    msg = s_test_decode (proto_encode_error (8, "nb1", PROTO_E_QUEUE_FULL,
                                             "queue full: wait for replies"));
    s_check (proto_msg_type (msg) == PROTO_REPLY);
    s_check (proto_msg_id (msg) == 8);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "status", "error"));
    s_check (s_test_str_is (msg, "error", "QUEUE_FULL"));
    s_check (s_test_str_is (msg, "message", "queue full: wait for replies"));
    s_check (!proto_msg_is_ok (msg));
    s_check (proto_msg_error (msg) == PROTO_E_QUEUE_FULL);
    //  the cached copy is stable across calls
    s_check (proto_msg_str (msg, "error") == proto_msg_str (msg, "error"));
    proto_msg_destroy (&msg);

    //  error reply without a session, as the broker answers a bad request
    msg = s_test_decode (proto_encode_error (0, NULL, PROTO_E_BAD_REQUEST, NULL));
    s_check (proto_msg_error (msg) == PROTO_E_BAD_REQUEST);
    s_check (s_test_str_is (msg, "message", ""));
    s_check (strcmp (proto_msg_session (msg), "") == 0);
    proto_msg_destroy (&msg);

    //  complete and inspect: code in payload 0, byte cursor; a cursor past
    //  the end is clamped to the end by the encoder
    const char line [] = "df.gro + caf\xc3\xa9";
    msg = s_test_decode (proto_encode_complete (20, "nb1", line, strlen (line), 6));
    s_check (proto_msg_type (msg) == PROTO_COMPLETE);
    s_check (proto_msg_id (msg) == 20);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (proto_msg_uint (msg, "cursor_pos", 0) == 6);
    s_check (proto_msg_payload_count (msg) == 1);
    s_check (s_test_payload_is (msg, 0, line, strlen (line)));
    proto_msg_destroy (&msg);
    msg = s_test_decode (proto_encode_complete (21, "nb1", line, 6, 99));
    s_check (proto_msg_uint (msg, "cursor_pos", 0) == 6);
    s_check (s_test_payload_is (msg, 0, "df.gro", 6));
    proto_msg_destroy (&msg);
    msg = s_test_decode (proto_encode_complete (22, "nb1", NULL, 5, 3));
    s_check (proto_msg_uint (msg, "cursor_pos", 9) == 0);
    s_check (s_test_payload_is (msg, 0, "", 0));
    proto_msg_destroy (&msg);
    msg = s_test_decode (proto_encode_inspect (23, "nb1", "pd.read_csv(", 12, 5));
    s_check (proto_msg_type (msg) == PROTO_INSPECT);
    s_check (proto_msg_id (msg) == 23);
    s_check (proto_msg_uint (msg, "cursor_pos", 0) == 5);
    s_check (s_test_payload_is (msg, 0, "pd.read_csv(", 12));
    proto_msg_destroy (&msg);

    //  display event: one payload per MIME entry, binary untouched
    const char *mime [] = { "text/plain", "image/png" };
    const void *data [] = { "<Figure>", "\x89PNG\r\n\x1a\n\0\0" };
    const size_t sizes [] = { 8, 10 };
    msg = s_test_decode (proto_encode_display (24, "nb1", mime, data, sizes, 2));
    s_check (proto_msg_type (msg) == PROTO_EVENT);
    s_check (proto_msg_id (msg) == 24);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "event", "display"));
    const msgpack_object *types = proto_msg_object (msg, "mime");
    s_check (types && types->via.array.size == 2);
    s_check (types->via.array.ptr [1].via.str.size == 9);
    s_check (memcmp (types->via.array.ptr [1].via.str.ptr, "image/png", 9) == 0);
    s_check (proto_msg_payload_count (msg) == 2);
    s_check (s_test_payload_is (msg, 0, "<Figure>", 8));
    s_check (s_test_payload_is (msg, 1, data [1], 10));
    proto_msg_destroy (&msg);
    msg = s_test_decode (proto_encode_display (25, "nb1", NULL, NULL, NULL, 0));
    s_check (proto_msg_object (msg, "mime")->via.array.size == 0);
    s_check (proto_msg_payload_count (msg) == 0);
    proto_msg_destroy (&msg);

    //  complete and inspect replies, as the executor builds them
    proto_builder_t *builder = proto_reply_ok_begin (20, "nb1");
    proto_builder_key (builder, "matches");
    proto_builder_val_array (builder, 2);
    proto_builder_val_str (builder, "groupby");
    proto_builder_val_str (builder, "grow");
    proto_builder_uint (builder, "cursor_start", 3);
    proto_builder_uint (builder, "cursor_end", 6);
    msg = s_test_decode (proto_builder_finish (&builder));
    s_check (proto_msg_is_ok (msg));
    s_check (proto_msg_object (msg, "matches")->via.array.size == 2);
    s_check (proto_msg_uint (msg, "cursor_start", 0) == 3);
    s_check (proto_msg_uint (msg, "cursor_end", 0) == 6);
    proto_msg_destroy (&msg);
    builder = proto_reply_ok_begin (23, "nb1");
    proto_builder_bool (builder, "found", true);
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, 1);
    proto_builder_val_str (builder, "text/plain");
    proto_builder_payload_copy (builder, "read_csv(filepath)", 18);
    msg = s_test_decode (proto_builder_finish (&builder));
    s_check (proto_msg_bool (msg, "found", false));
    s_check (s_test_payload_is (msg, 0, "read_csv(filepath)", 18));
    proto_msg_destroy (&msg);

    //  ok reply, session "" means none
    msg = s_test_decode (proto_encode_ok (5, ""));
    s_check (proto_msg_type (msg) == PROTO_REPLY);
    s_check (proto_msg_id (msg) == 5);
    s_check (!proto_msg_has (msg, "session"));
    s_check (proto_msg_is_ok (msg));
    s_check (proto_msg_error (msg) == PROTO_E_NONE);
    proto_msg_destroy (&msg);
}

static void
s_test_builder (void)
{
    //  A vars-style reply with nested arrays and maps, every scalar kind,
    //  an unknown key, and two payloads
    proto_builder_t *builder = proto_reply_ok_begin (4, "nb1");
    proto_builder_key (builder, "vars");
    proto_builder_val_array (builder, 2);
    proto_builder_val_map (builder, 3);
    proto_builder_val_str (builder, "name");
    proto_builder_val_str (builder, "df");
    proto_builder_val_str (builder, "type");
    proto_builder_val_strn (builder, "DataFrameXX", 9);
    proto_builder_val_str (builder, "shape");
    proto_builder_val_array (builder, 2);
    proto_builder_val_uint (builder, 3);
    proto_builder_val_uint (builder, 2);
    proto_builder_val_map (builder, 2);
    proto_builder_val_str (builder, "name");
    proto_builder_val_str (builder, "x");
    proto_builder_val_str (builder, "type");
    proto_builder_val_str (builder, "int");
    proto_builder_key (builder, "session_list");
    proto_builder_val_array (builder, 1);
    proto_builder_val_map (builder, 3);
    proto_builder_val_str (builder, "session");
    proto_builder_val_str (builder, "nb1");
    proto_builder_val_str (builder, "pid");
    proto_builder_val_uint (builder, 4121);
    proto_builder_val_str (builder, "extra");
    proto_builder_val_array (builder, 4);
    proto_builder_val_int (builder, -3);
    proto_builder_val_float (builder, 0.5);
    proto_builder_val_bool (builder, false);
    proto_builder_val_nil (builder);
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, 2);
    proto_builder_val_str (builder, "text/plain");
    proto_builder_val_str (builder, "image/png");
    proto_builder_uint (builder, "execution_count", 12);
    proto_builder_int (builder, "x-delta", -7);
    proto_builder_float (builder, "x-ratio", 1.25);
    proto_builder_bool (builder, "state_lost", true);
    proto_builder_strn (builder, "notice", "kernel died!", 11);
    proto_builder_str (builder, "x-future-key", "ignored");
    proto_builder_payload_copy (builder, "42", 2);
    zframe_t *frame = zframe_new ("\x89PNG", 4);
    proto_builder_payload_frame (builder, &frame);
    s_check (frame == NULL);
    zmsg_t *wire = proto_builder_finish (&builder);
    s_check (builder == NULL);
    s_check (zmsg_size (wire) == 4);

    proto_msg_t *msg = s_test_decode (wire);
    s_check (proto_msg_is_ok (msg));
    s_check (proto_msg_id (msg) == 4);
    s_check (proto_msg_uint (msg, "execution_count", 0) == 12);
    s_check (proto_msg_int (msg, "x-delta", 0) == -7);
    s_check (proto_msg_int (msg, "execution_count", 0) == 12);
    s_check (proto_msg_int (msg, "notice", 33) == 33);
    s_check (proto_msg_float (msg, "x-ratio", 0) == 1.25);
    s_check (proto_msg_float (msg, "x-delta", 0) == -7.0);
    s_check (proto_msg_float (msg, "missing", 2.5) == 2.5);
    s_check (proto_msg_bool (msg, "state_lost", false) == true);
    s_check (proto_msg_bool (msg, "missing", true) == true);
    s_check (proto_msg_uint (msg, "notice", 17) == 17);
    s_check (s_test_str_is (msg, "notice", "kernel died"));
    s_check (s_test_str_is (msg, "x-future-key", "ignored"));
    s_check (proto_msg_object (msg, "missing") == NULL);

    const msgpack_object *vars = proto_msg_object (msg, "vars");
    s_check (vars && vars->type == MSGPACK_OBJECT_ARRAY);
    s_check (vars->via.array.size == 2);
    const msgpack_object *df = &vars->via.array.ptr [0];
    s_check (df->type == MSGPACK_OBJECT_MAP && df->via.map.size == 3);
    s_check (df->via.map.ptr [1].val.type == MSGPACK_OBJECT_STR);
    s_check (df->via.map.ptr [1].val.via.str.size == 9);
    s_check (memcmp (df->via.map.ptr [1].val.via.str.ptr, "DataFrame", 9) == 0);
    const msgpack_object *shape = &df->via.map.ptr [2].val;
    s_check (shape->type == MSGPACK_OBJECT_ARRAY && shape->via.array.size == 2);
    s_check (shape->via.array.ptr [0].via.u64 == 3);
    s_check (shape->via.array.ptr [1].via.u64 == 2);
    s_check (vars->via.array.ptr [1].via.map.size == 2);

    const msgpack_object *list = proto_msg_object (msg, "session_list");
    s_check (list && list->type == MSGPACK_OBJECT_ARRAY && list->via.array.size == 1);
    const msgpack_object_map *entry = &list->via.array.ptr [0].via.map;
    s_check (entry->size == 3);
    s_check (entry->ptr [1].val.via.u64 == 4121);
    const msgpack_object *extra = &entry->ptr [2].val;
    s_check (extra->type == MSGPACK_OBJECT_ARRAY && extra->via.array.size == 4);
    s_check (extra->via.array.ptr [0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
    s_check (extra->via.array.ptr [0].via.i64 == -3);
    s_check (extra->via.array.ptr [1].via.f64 == 0.5);
    s_check (extra->via.array.ptr [2].type == MSGPACK_OBJECT_BOOLEAN);
    s_check (extra->via.array.ptr [3].type == MSGPACK_OBJECT_NIL);

    const msgpack_object *mime = proto_msg_object (msg, "mime");
    s_check (mime && mime->via.array.size == 2);
    s_check (proto_msg_payload_count (msg) == 2);
    s_check (s_test_payload_is (msg, 0, "42", 2));
    s_check (s_test_payload_is (msg, 1, "\x89PNG", 4));

    //  release hands back the very frames that came in
    zframe_t *first_payload = proto_msg_payload (msg, 0);
    wire = proto_msg_release (&msg);
    s_check (msg == NULL);
    s_check (wire && zmsg_size (wire) == 4);
    s_check (zframe_streq (zmsg_first (wire), PROTO_SIGNATURE));
    zmsg_next (wire);
    s_check (zmsg_next (wire) == first_payload);
    s_check (proto_msg_release (&msg) == NULL);
    //  and they decode again
    msg = s_test_decode (wire);
    s_check (proto_msg_uint (msg, "execution_count", 0) == 12);
    proto_msg_destroy (&msg);

    //  error reply with extra fields
    builder = proto_reply_error_begin (8, "nb1", PROTO_E_PYTHON_ERROR,
                                       "ZeroDivisionError: division by zero");
    proto_builder_str (builder, "ename", "ZeroDivisionError");
    proto_builder_key (builder, "traceback");
    proto_builder_val_array (builder, 1);
    proto_builder_val_str (builder, "Traceback ...");
    msg = s_test_decode (proto_builder_finish (&builder));
    s_check (proto_msg_error (msg) == PROTO_E_PYTHON_ERROR);
    s_check (s_test_str_is (msg, "ename", "ZeroDivisionError"));
    s_check (proto_msg_object (msg, "traceback")->via.array.size == 1);
    proto_msg_destroy (&msg);

    //  an unfinished builder is freed with its payloads
    builder = proto_builder_new (PROTO_EXECUTE, 1, "nb1");
    proto_builder_payload_copy (builder, "x", 1);
    proto_builder_destroy (&builder);
    s_check (builder == NULL);
    proto_builder_destroy (&builder);
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
    proto_msg_t *full = s_test_decode (msg);
    s_check (proto_msg_payload_count (full) == PROTO_MAX_PAYLOADS);
    s_check (zframe_streq (proto_msg_payload (full, PROTO_MAX_PAYLOADS - 1), "x"));
    proto_msg_destroy (&full);
    //  but stats takes none
    msg = proto_encode_stats (1);
    for (int i = 0; i < PROTO_MAX_PAYLOADS; i++)
        zmsg_addstr (msg, "x");
    s_test_bad (msg, BAD, "stats carries 64 payload frames", true, 1, verbose);
    msg = proto_encode_stats (1);
    for (int i = 0; i < PROTO_MAX_PAYLOADS + 1; i++)
        zmsg_addstr (msg, "x");
    s_test_bad (msg, PROTO_E_TOO_LARGE, "65 payload frames", false, 0, verbose);
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
    s_check (size + 1 <= sizeof (padded));
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
    //  and right kinds pass, unknown keys of any kind too
    proto_msg_t *decoded = s_test_decode (s_test_execute_with ("timeout_ms", 4, 1));
    s_check (proto_msg_uint (decoded, "timeout_ms", 0) == 7);
    proto_msg_destroy (&decoded);
    decoded = s_test_decode (s_test_execute_with ("x-anything", 0, 1));
    s_check (proto_msg_int (decoded, "x-anything", 0) == -5);
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
    decoded = s_test_decode (proto_encode_execute (53, key, "1", 1, 0));
    s_check (strlen (proto_msg_session (decoded)) == PROTO_SESSION_MAX);
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
    decoded = s_test_decode (proto_builder_finish (&builder));
    s_check (s_test_str_is (decoded, "event", "evicted"));
    proto_msg_destroy (&decoded);
    //  a reply's error name from a newer peer reads as INTERNAL
    builder = proto_builder_new (PROTO_REPLY, 71, NULL);
    proto_builder_str (builder, "status", "error");
    proto_builder_str (builder, "error", "FROM_THE_FUTURE");
    proto_builder_str (builder, "message", "?");
    decoded = s_test_decode (proto_builder_finish (&builder));
    s_check (proto_msg_error (decoded) == PROTO_E_INTERNAL);
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
    decoded = s_test_decode (proto_builder_finish (&builder));
    s_check (!proto_msg_has (decoded, "cursor_pos"));
    proto_msg_destroy (&decoded);
    decoded = s_test_decode (proto_encode_inspect (88, "nb1", "abc", 3, 3));
    s_check (proto_msg_uint (decoded, "cursor_pos", 0) == 3);
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
    s_check (proto_decode (&msg, NULL) == NULL);
    s_check (msg == NULL);
    s_check (proto_decode (&msg, NULL) == NULL);
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
    s_check (size <= sizeof (buffer));
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
            s_check (fault.text [0]);
        proto_msg_destroy (&decoded);
    }
    zmsg_destroy (&good);
}

void
proto_test (bool verbose)
{
    if (verbose)
        printf ("\n");
    s_test_names ();
    s_test_encoders ();
    s_test_builder ();
    s_test_malformed (verbose);
    s_test_fuzz ();
    if (verbose)
        printf ("\n");
}
