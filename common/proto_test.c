/*  proto_test — selftest of the kernelmq wire codec (proto.c,
    proto_names.c, proto_encode.c): names, and every encoder and the
    builder round-trip through the decoder. Malformed input is
    proto_test_malformed.c's.
*/
#include "proto.h"
#include "proto_internal.h"
#include "selftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

proto_msg_t *
proto_test_decode (zmsg_t *msg)
{
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&msg, &fault);
    if (!decoded)
        fprintf (stderr, "proto_test: unexpected fault: %s\n", fault.text);
    SELFTEST_CHECK (decoded);
    SELFTEST_CHECK (msg == NULL);
    SELFTEST_CHECK (fault.code == PROTO_E_NONE);
    return decoded;
}

static bool
s_test_payload_is (proto_msg_t *msg, size_t index, const void *data, size_t size)
{
    zframe_t *frame = proto_msg_payload (msg, index);
    return frame && zframe_size (frame) == size
        && (size == 0 || memcmp (zframe_data (frame), data, size) == 0);
}

bool
proto_test_str_is (proto_msg_t *msg, const char *key, const char *value)
{
    const char *str = proto_msg_str (msg, key);
    return str && strcmp (str, value) == 0;
}

static void
s_test_names (void)
{
    for (int i = 0; i < PROTO_TYPE_COUNT; i++) {
        const char *name = proto_type_name ((proto_type_t) i);
        SELFTEST_CHECK (proto_type_parse (name, strlen (name)) == i);
    }
    SELFTEST_CHECK (strcmp (proto_type_name (PROTO_EXECUTE), "execute") == 0);
    SELFTEST_CHECK (strcmp (proto_type_name (PROTO_TYPE_COUNT), "?") == 0);
    SELFTEST_CHECK (proto_type_parse ("exec", 4) == -1);
    SELFTEST_CHECK (proto_type_parse ("executes", 8) == -1);
    SELFTEST_CHECK (proto_type_parse ("executeX", 7) == PROTO_EXECUTE);
    for (int i = 1; i < PROTO_E_COUNT; i++)
        SELFTEST_CHECK ((int) proto_error_parse (proto_error_name ((proto_error_t) i))
                          == i);
    SELFTEST_CHECK (strcmp (proto_error_name (PROTO_E_KERNEL_DIED), "KERNEL_DIED") == 0);
    SELFTEST_CHECK (proto_error_parse ("FROM_THE_FUTURE") == PROTO_E_INTERNAL);
    SELFTEST_CHECK (proto_error_parse ("NONE") == PROTO_E_INTERNAL);
    SELFTEST_CHECK (proto_error_parse (NULL) == PROTO_E_INTERNAL);

    SELFTEST_CHECK (proto_type_is_session_bound (PROTO_EXECUTE));
    SELFTEST_CHECK (proto_type_is_session_bound (PROTO_DETACH));
    SELFTEST_CHECK (proto_type_is_session_bound (PROTO_COMPLETE));
    SELFTEST_CHECK (proto_type_is_session_bound (PROTO_INSPECT));
    SELFTEST_CHECK (!proto_type_is_session_bound (PROTO_EVENT));
    SELFTEST_CHECK (strcmp (proto_type_name (PROTO_COMPLETE), "complete") == 0);
    SELFTEST_CHECK (proto_type_parse ("inspect", 7) == PROTO_INSPECT);
    SELFTEST_CHECK (!proto_type_is_session_bound (PROTO_HELLO));
    SELFTEST_CHECK (!proto_type_is_session_bound (PROTO_STATS));
    SELFTEST_CHECK (!proto_type_is_session_bound (PROTO_REPLY));

    char key [PROTO_SESSION_MAX + 2];
    memset (key, 'k', sizeof (key));
    SELFTEST_CHECK (proto_session_valid ("nb1", 3));
    SELFTEST_CHECK (proto_session_valid ("A-z_0.9:x", 9));
    SELFTEST_CHECK (proto_session_valid (key, PROTO_SESSION_MAX));
    SELFTEST_CHECK (!proto_session_valid (key, PROTO_SESSION_MAX + 1));
    SELFTEST_CHECK (!proto_session_valid ("", 0));
    SELFTEST_CHECK (!proto_session_valid (NULL, 0));
    SELFTEST_CHECK (!proto_session_valid ("a b", 3));
    SELFTEST_CHECK (!proto_session_valid ("a/b", 3));
    SELFTEST_CHECK (!proto_session_valid ("a\0b", 3));
    SELFTEST_CHECK (!proto_session_valid ("caf\xc3\xa9", 5));
}

static void
s_test_encoders (void)
{
    //  hello
    proto_msg_t *msg = proto_test_decode (proto_encode_hello (1, 1, "kmq 0.1"));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_HELLO);
    SELFTEST_CHECK (proto_msg_id (msg) == 1);
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "") == 0);
    SELFTEST_CHECK (proto_msg_uint (msg, "version", 0) == 1);
    SELFTEST_CHECK (proto_test_str_is (msg, "client", "kmq 0.1"));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 0);
    SELFTEST_CHECK (!proto_msg_is_ok (msg));
    SELFTEST_CHECK (proto_msg_error (msg) == PROTO_E_NONE);
    proto_msg_destroy (&msg);
    SELFTEST_CHECK (msg == NULL);
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_hello (2, 3, NULL));
    SELFTEST_CHECK (!proto_msg_has (msg, "client"));
    SELFTEST_CHECK (proto_msg_str (msg, "client") == NULL);
    SELFTEST_CHECK (proto_msg_uint (msg, "version", 0) == 3);
    proto_msg_destroy (&msg);

    //  execute, with and without timeout; code with a NUL inside
    const char code [] = "x = 41\nx + 1\0tail";
    msg = proto_test_decode (proto_encode_execute (7, "nb1", code, sizeof (code), 2500));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_EXECUTE);
    SELFTEST_CHECK (proto_msg_id (msg) == 7);
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_test_str_is (msg, "session", "nb1"));
    SELFTEST_CHECK (proto_msg_uint (msg, "timeout_ms", 0) == 2500);
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 1);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, code, sizeof (code)));
    SELFTEST_CHECK (proto_msg_payload (msg, 1) == NULL);
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_execute (UINT64_MAX, "s", "", 0, 0));
    SELFTEST_CHECK (proto_msg_id (msg) == UINT64_MAX);
    SELFTEST_CHECK (!proto_msg_has (msg, "timeout_ms"));
    SELFTEST_CHECK (proto_msg_uint (msg, "timeout_ms", 99) == 99);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "", 0));
    proto_msg_destroy (&msg);

    //  upload
    const char csv [] = "A,B\n1,4\n2,5\n3,6\n";
    msg = proto_test_decode (proto_encode_upload (2, "nb1", "df", "csv", csv,
                                                  strlen (csv)));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_UPLOAD);
    SELFTEST_CHECK (proto_msg_id (msg) == 2);
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_test_str_is (msg, "name", "df"));
    SELFTEST_CHECK (proto_test_str_is (msg, "format", "csv"));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 1);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, csv, strlen (csv)));
    const char *ptr;
    size_t len;
    SELFTEST_CHECK (proto_msg_strn (msg, "format", &ptr, &len));
    SELFTEST_CHECK (len == 3 && memcmp (ptr, "csv", 3) == 0);
    SELFTEST_CHECK (!proto_msg_strn (msg, "nothing", &ptr, &len));
    proto_msg_destroy (&msg);

    //  download
    msg = proto_test_decode (proto_encode_download (3, "nb1", "df", "json"));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_DOWNLOAD);
    SELFTEST_CHECK (proto_msg_id (msg) == 3);
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_test_str_is (msg, "name", "df"));
    SELFTEST_CHECK (proto_test_str_is (msg, "format", "json"));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 0);
    proto_msg_destroy (&msg);

    //  every simple session request
    proto_type_t simple [] = { PROTO_RESET, PROTO_INTERRUPT, PROTO_VARS,
                               PROTO_FILES, PROTO_CLOSE, PROTO_ATTACH,
                               PROTO_DETACH };
    for (size_t i = 0; i < sizeof (simple) / sizeof (simple [0]); i++) {
        msg = proto_test_decode (proto_encode_simple (simple [i], 10 + i, "a:b-c.d_e"));
        SELFTEST_CHECK (proto_msg_type (msg) == simple [i]);
        SELFTEST_CHECK (proto_msg_id (msg) == 10 + i);
        SELFTEST_CHECK (strcmp (proto_msg_session (msg), "a:b-c.d_e") == 0);
        SELFTEST_CHECK (proto_msg_payload_count (msg) == 0);
        proto_msg_destroy (&msg);
    }

    //  heartbeat: type only
    msg = proto_test_decode (proto_encode_heartbeat ());
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_HEARTBEAT);
    SELFTEST_CHECK (proto_msg_id (msg) == 0);
    SELFTEST_CHECK (!proto_msg_has (msg, "id"));
    SELFTEST_CHECK (!proto_msg_has (msg, "session"));
    proto_msg_destroy (&msg);

    //  stats
    msg = proto_test_decode (proto_encode_stats (99));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_STATS);
    SELFTEST_CHECK (proto_msg_id (msg) == 99);
    SELFTEST_CHECK (!proto_msg_has (msg, "session"));
    proto_msg_destroy (&msg);

    //  ready
    msg = proto_test_decode (proto_encode_ready ("nb1", 4121));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_READY);
    SELFTEST_CHECK (proto_msg_id (msg) == 0);
    SELFTEST_CHECK (!proto_msg_has (msg, "id"));
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_msg_uint (msg, "pid", 0) == 4121);
    SELFTEST_CHECK (proto_msg_uint (msg, "version", 0) == PROTO_VERSION);
    proto_msg_destroy (&msg);

    //  stream event
    msg = proto_test_decode (proto_encode_stream (8, "nb1", "stdout", "hi\n", 3));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_EVENT);
    SELFTEST_CHECK (proto_msg_id (msg) == 8);
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_test_str_is (msg, "event", "stream"));
    SELFTEST_CHECK (proto_test_str_is (msg, "name", "stdout"));
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 1);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "hi\n", 3));
    SELFTEST_CHECK (!proto_msg_is_ok (msg));
    proto_msg_destroy (&msg);

    //  error reply
    msg = proto_test_decode (proto_encode_error (8, "nb1", PROTO_E_QUEUE_FULL,
                                                 "queue full: wait for replies"));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_REPLY);
    SELFTEST_CHECK (proto_msg_id (msg) == 8);
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_test_str_is (msg, "status", "error"));
    SELFTEST_CHECK (proto_test_str_is (msg, "error", "QUEUE_FULL"));
    SELFTEST_CHECK (proto_test_str_is (msg, "message", "queue full: wait for replies"));
    SELFTEST_CHECK (!proto_msg_is_ok (msg));
    SELFTEST_CHECK (proto_msg_error (msg) == PROTO_E_QUEUE_FULL);
    //  the cached copy is stable across calls
    SELFTEST_CHECK (proto_msg_str (msg, "error") == proto_msg_str (msg, "error"));
    proto_msg_destroy (&msg);

    //  error reply without a session, as the broker answers a bad request
    msg = proto_test_decode (proto_encode_error (0, NULL, PROTO_E_BAD_REQUEST, NULL));
    SELFTEST_CHECK (proto_msg_error (msg) == PROTO_E_BAD_REQUEST);
    SELFTEST_CHECK (proto_test_str_is (msg, "message", ""));
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "") == 0);
    proto_msg_destroy (&msg);

    //  complete and inspect: code in payload 0, byte cursor; a cursor past
    //  the end is clamped to the end by the encoder
    const char line [] = "df.gro + caf\xc3\xa9";
    msg = proto_test_decode (proto_encode_complete (20, "nb1", line, strlen (line), 6));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_COMPLETE);
    SELFTEST_CHECK (proto_msg_id (msg) == 20);
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_msg_uint (msg, "cursor_pos", 0) == 6);
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 1);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, line, strlen (line)));
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_complete (21, "nb1", line, 6, 99));
    SELFTEST_CHECK (proto_msg_uint (msg, "cursor_pos", 0) == 6);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "df.gro", 6));
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_complete (22, "nb1", NULL, 5, 3));
    SELFTEST_CHECK (proto_msg_uint (msg, "cursor_pos", 9) == 0);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "", 0));
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_inspect (23, "nb1", "pd.read_csv(", 12, 5));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_INSPECT);
    SELFTEST_CHECK (proto_msg_id (msg) == 23);
    SELFTEST_CHECK (proto_msg_uint (msg, "cursor_pos", 0) == 5);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "pd.read_csv(", 12));
    proto_msg_destroy (&msg);

    //  display event: one payload per MIME entry, binary untouched
    const char *mime [] = { "text/plain", "image/png" };
    const void *data [] = { "<Figure>", "\x89PNG\r\n\x1a\n\0\0" };
    const size_t sizes [] = { 8, 10 };
    msg = proto_test_decode (proto_encode_display (24, "nb1", mime, data, sizes, 2));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_EVENT);
    SELFTEST_CHECK (proto_msg_id (msg) == 24);
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_test_str_is (msg, "event", "display"));
    const msgpack_object *types = proto_msg_object (msg, "mime");
    SELFTEST_CHECK (types && types->via.array.size == 2);
    SELFTEST_CHECK (types->via.array.ptr [1].via.str.size == 9);
    SELFTEST_CHECK (memcmp (types->via.array.ptr [1].via.str.ptr, "image/png", 9) == 0);
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 2);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "<Figure>", 8));
    SELFTEST_CHECK (s_test_payload_is (msg, 1, data [1], 10));
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_display (25, "nb1", NULL, NULL, NULL, 0));
    SELFTEST_CHECK (proto_msg_object (msg, "mime")->via.array.size == 0);
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 0);
    proto_msg_destroy (&msg);

    //  complete and inspect replies, as the executor builds them
    proto_builder_t *builder = proto_reply_ok_begin (20, "nb1");
    proto_builder_key (builder, "matches");
    proto_builder_val_array (builder, 2);
    proto_builder_val_str (builder, "groupby");
    proto_builder_val_str (builder, "grow");
    proto_builder_uint (builder, "cursor_start", 3);
    proto_builder_uint (builder, "cursor_end", 6);
    msg = proto_test_decode (proto_builder_finish (&builder));
    SELFTEST_CHECK (proto_msg_is_ok (msg));
    SELFTEST_CHECK (proto_msg_object (msg, "matches")->via.array.size == 2);
    SELFTEST_CHECK (proto_msg_uint (msg, "cursor_start", 0) == 3);
    SELFTEST_CHECK (proto_msg_uint (msg, "cursor_end", 0) == 6);
    proto_msg_destroy (&msg);
    builder = proto_reply_ok_begin (23, "nb1");
    proto_builder_bool (builder, "found", true);
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, 1);
    proto_builder_val_str (builder, "text/plain");
    proto_builder_payload_copy (builder, "read_csv(filepath)", 18);
    msg = proto_test_decode (proto_builder_finish (&builder));
    SELFTEST_CHECK (proto_msg_bool (msg, "found", false));
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "read_csv(filepath)", 18));
    proto_msg_destroy (&msg);

    //  ok reply, session "" means none
    msg = proto_test_decode (proto_encode_ok (5, ""));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_REPLY);
    SELFTEST_CHECK (proto_msg_id (msg) == 5);
    SELFTEST_CHECK (!proto_msg_has (msg, "session"));
    SELFTEST_CHECK (proto_msg_is_ok (msg));
    SELFTEST_CHECK (proto_msg_error (msg) == PROTO_E_NONE);
    proto_msg_destroy (&msg);
}

//  A files reply (protocol.md 5, files): an array of maps, one per entry.
static void
s_test_files_reply (void)
{
    proto_builder_t *builder = proto_reply_ok_begin (6, "nb1");
    proto_builder_key (builder, "files");
    proto_builder_val_array (builder, 2);
    proto_builder_val_map (builder, 3);
    proto_builder_val_str (builder, "name");
    proto_builder_val_str (builder, "blob.bin");
    proto_builder_val_str (builder, "kind");
    proto_builder_val_str (builder, "file");
    proto_builder_val_str (builder, "bytes");
    proto_builder_val_uint (builder, 100000);
    proto_builder_val_map (builder, 2);
    proto_builder_val_str (builder, "name");
    proto_builder_val_str (builder, "out");
    proto_builder_val_str (builder, "kind");
    proto_builder_val_str (builder, "dir");
    proto_msg_t *msg = proto_test_decode (proto_builder_finish (&builder));
    SELFTEST_CHECK (proto_msg_is_ok (msg));
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    const msgpack_object *files = proto_msg_object (msg, "files");
    SELFTEST_CHECK (files && files->type == MSGPACK_OBJECT_ARRAY
                      && files->via.array.size == 2);
    const msgpack_object_map *blob = &files->via.array.ptr [0].via.map;
    SELFTEST_CHECK (blob->size == 3 && blob->ptr [2].val.via.u64 == 100000);
    SELFTEST_CHECK (files->via.array.ptr [1].via.map.size == 2);
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
    SELFTEST_CHECK (frame == NULL);
    zmsg_t *wire = proto_builder_finish (&builder);
    SELFTEST_CHECK (builder == NULL);
    SELFTEST_CHECK (zmsg_size (wire) == 4);

    proto_msg_t *msg = proto_test_decode (wire);
    SELFTEST_CHECK (proto_msg_is_ok (msg));
    SELFTEST_CHECK (proto_msg_id (msg) == 4);
    SELFTEST_CHECK (proto_msg_uint (msg, "execution_count", 0) == 12);
    SELFTEST_CHECK (proto_msg_int (msg, "x-delta", 0) == -7);
    SELFTEST_CHECK (proto_msg_int (msg, "execution_count", 0) == 12);
    SELFTEST_CHECK (proto_msg_int (msg, "notice", 33) == 33);
    SELFTEST_CHECK (proto_msg_float (msg, "x-ratio", 0) == 1.25);
    SELFTEST_CHECK (proto_msg_float (msg, "x-delta", 0) == -7.0);
    SELFTEST_CHECK (proto_msg_float (msg, "missing", 2.5) == 2.5);
    SELFTEST_CHECK (proto_msg_bool (msg, "state_lost", false) == true);
    SELFTEST_CHECK (proto_msg_bool (msg, "missing", true) == true);
    SELFTEST_CHECK (proto_msg_uint (msg, "notice", 17) == 17);
    SELFTEST_CHECK (proto_test_str_is (msg, "notice", "kernel died"));
    SELFTEST_CHECK (proto_test_str_is (msg, "x-future-key", "ignored"));
    SELFTEST_CHECK (proto_msg_object (msg, "missing") == NULL);

    const msgpack_object *vars = proto_msg_object (msg, "vars");
    SELFTEST_CHECK (vars && vars->type == MSGPACK_OBJECT_ARRAY);
    SELFTEST_CHECK (vars->via.array.size == 2);
    const msgpack_object *df = &vars->via.array.ptr [0];
    SELFTEST_CHECK (df->type == MSGPACK_OBJECT_MAP && df->via.map.size == 3);
    SELFTEST_CHECK (df->via.map.ptr [1].val.type == MSGPACK_OBJECT_STR);
    SELFTEST_CHECK (df->via.map.ptr [1].val.via.str.size == 9);
    SELFTEST_CHECK (memcmp (df->via.map.ptr [1].val.via.str.ptr, "DataFrame", 9) == 0);
    const msgpack_object *shape = &df->via.map.ptr [2].val;
    SELFTEST_CHECK (shape->type == MSGPACK_OBJECT_ARRAY && shape->via.array.size == 2);
    SELFTEST_CHECK (shape->via.array.ptr [0].via.u64 == 3);
    SELFTEST_CHECK (shape->via.array.ptr [1].via.u64 == 2);
    SELFTEST_CHECK (vars->via.array.ptr [1].via.map.size == 2);

    const msgpack_object *list = proto_msg_object (msg, "session_list");
    SELFTEST_CHECK (list && list->type == MSGPACK_OBJECT_ARRAY
                      && list->via.array.size == 1);
    const msgpack_object_map *entry = &list->via.array.ptr [0].via.map;
    SELFTEST_CHECK (entry->size == 3);
    SELFTEST_CHECK (entry->ptr [1].val.via.u64 == 4121);
    const msgpack_object *extra = &entry->ptr [2].val;
    SELFTEST_CHECK (extra->type == MSGPACK_OBJECT_ARRAY && extra->via.array.size == 4);
    SELFTEST_CHECK (extra->via.array.ptr [0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
    SELFTEST_CHECK (extra->via.array.ptr [0].via.i64 == -3);
    SELFTEST_CHECK (extra->via.array.ptr [1].via.f64 == 0.5);
    SELFTEST_CHECK (extra->via.array.ptr [2].type == MSGPACK_OBJECT_BOOLEAN);
    SELFTEST_CHECK (extra->via.array.ptr [3].type == MSGPACK_OBJECT_NIL);

    const msgpack_object *mime = proto_msg_object (msg, "mime");
    SELFTEST_CHECK (mime && mime->via.array.size == 2);
    SELFTEST_CHECK (proto_msg_payload_count (msg) == 2);
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "42", 2));
    SELFTEST_CHECK (s_test_payload_is (msg, 1, "\x89PNG", 4));

    //  release hands back the very frames that came in
    zframe_t *first_payload = proto_msg_payload (msg, 0);
    wire = proto_msg_release (&msg);
    SELFTEST_CHECK (msg == NULL);
    SELFTEST_CHECK (wire && zmsg_size (wire) == 4);
    SELFTEST_CHECK (zframe_streq (zmsg_first (wire), PROTO_SIGNATURE));
    zmsg_next (wire);
    SELFTEST_CHECK (zmsg_next (wire) == first_payload);
    SELFTEST_CHECK (proto_msg_release (&msg) == NULL);
    //  and they decode again
    msg = proto_test_decode (wire);
    SELFTEST_CHECK (proto_msg_uint (msg, "execution_count", 0) == 12);
    proto_msg_destroy (&msg);

    //  error reply with extra fields
    builder = proto_reply_error_begin (8, "nb1", PROTO_E_PYTHON_ERROR,
                                       "ZeroDivisionError: division by zero");
    proto_builder_str (builder, "ename", "ZeroDivisionError");
    proto_builder_key (builder, "traceback");
    proto_builder_val_array (builder, 1);
    proto_builder_val_str (builder, "Traceback ...");
    msg = proto_test_decode (proto_builder_finish (&builder));
    SELFTEST_CHECK (proto_msg_error (msg) == PROTO_E_PYTHON_ERROR);
    SELFTEST_CHECK (proto_test_str_is (msg, "ename", "ZeroDivisionError"));
    SELFTEST_CHECK (proto_msg_object (msg, "traceback")->via.array.size == 1);
    proto_msg_destroy (&msg);

    //  an unfinished builder is freed with its payloads
    builder = proto_builder_new (PROTO_EXECUTE, 1, "nb1");
    proto_builder_payload_copy (builder, "x", 1);
    proto_builder_destroy (&builder);
    SELFTEST_CHECK (builder == NULL);
    proto_builder_destroy (&builder);
}

//  The messages of shared sessions and the Jupyter bridge: is_complete,
//  history, ack, and the re-addressed copies attached clients get.
static void
s_test_shared (void)
{
    proto_msg_t *msg = proto_test_decode (proto_encode_is_complete (21, "nb1", "for i in x:", 11));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_IS_COMPLETE);
    SELFTEST_CHECK (proto_type_is_session_bound (PROTO_IS_COMPLETE));
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "for i in x:", 11));
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_history (22, "nb1", 5));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_HISTORY);
    SELFTEST_CHECK (proto_msg_uint (msg, "last", 0) == 5);
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_history (23, "nb1", 0));
    SELFTEST_CHECK (!proto_msg_has (msg, "last"));
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_share (25, "nb1", "K", true));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_SHARE && proto_type_is_session_bound (PROTO_SHARE));
    SELFTEST_CHECK (streq (proto_msg_str (msg, "with"), "K") && proto_msg_bool (msg, "revoke", false));
    proto_msg_destroy (&msg);
    msg = proto_test_decode (proto_encode_share (26, "nb1", "K", false));
    SELFTEST_CHECK (!proto_msg_has (msg, "revoke"));
    proto_msg_destroy (&msg);
    SELFTEST_CHECK (proto_error_parse ("FORBIDDEN") == PROTO_E_FORBIDDEN);
    //  A field added to an encoded request: payloads stay, in order
    zmsg_t *raw = proto_encode_execute (27, "nb1", "1+1", 3, 0);
    SELFTEST_CHECK (proto_encode_add_str (raw, "as", "someone") == 0);
    msg = proto_test_decode (raw);
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_EXECUTE && proto_msg_id (msg) == 27);
    SELFTEST_CHECK (streq (proto_msg_str (msg, "as"), "someone"));
    SELFTEST_CHECK (s_test_payload_is (msg, 0, "1+1", 3));
    proto_msg_destroy (&msg);
    proto_builder_t *wide = proto_builder_new (PROTO_VARS, 28, "nb1");
    for (int i = 0; i < 15; i++) {     //  17 keys in all: past a fixmap
        char name [16];
        snprintf (name, sizeof name, "x%d", i);
        proto_builder_uint (wide, name, (uint64_t) i);
    }
    raw = proto_builder_finish (&wide);
    SELFTEST_CHECK (proto_encode_add_str (raw, "as", "k") == 0);
    msg = proto_test_decode (raw);
    SELFTEST_CHECK (streq (proto_msg_str (msg, "as"), "k") && proto_msg_uint (msg, "x14", 0) == 14);
    proto_msg_destroy (&msg);
    raw = zmsg_new ();
    SELFTEST_CHECK (proto_encode_add_str (raw, "as", "k") == -1);
    zmsg_destroy (&raw);
    msg = proto_test_decode (proto_encode_simple (PROTO_ACK, 24, NULL));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_ACK && proto_msg_id (msg) == 24);
    proto_msg_destroy (&msg);

    //  a display event re-addressed: id 0, request, client; fields and
    //  payloads kept
    const char *mime [] = { "text/plain", "image/png" };
    const void *data [] = { "<Figure>", "\x89PNG\0" };
    size_t sizes [] = { 8, 5 };
    proto_msg_t *event = proto_test_decode (proto_encode_display (7, "nb1", mime, data,
                                                                  sizes, 2));
    msg = proto_test_decode (proto_encode_peer_copy (event, NULL, "alice"));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_EVENT && proto_msg_id (msg) == 0);
    SELFTEST_CHECK (proto_msg_uint (msg, "request", 0) == 7);
    SELFTEST_CHECK (proto_test_str_is (msg, "client", "alice"));
    SELFTEST_CHECK (proto_test_str_is (msg, "event", "display"));
    SELFTEST_CHECK (strcmp (proto_msg_session (msg), "nb1") == 0);
    SELFTEST_CHECK (proto_msg_object (msg, "mime")->via.array.size == 2);
    SELFTEST_CHECK (s_test_payload_is (msg, 1, "\x89PNG\0", 5));
    proto_msg_destroy (&msg);
    proto_msg_destroy (&event);

    //  a reply becomes an outcome event with its fields
    proto_builder_t *builder = proto_reply_error_begin (8, "nb1", PROTO_E_PYTHON_ERROR,
                                                        "ZeroDivisionError: division by zero");
    proto_builder_str (builder, "ename", "ZeroDivisionError");
    proto_builder_key (builder, "traceback");
    proto_builder_val_array (builder, 1);
    proto_builder_val_str (builder, "Traceback ...");
    proto_builder_uint (builder, "execution_count", 3);
    proto_msg_t *reply = proto_test_decode (proto_builder_finish (&builder));
    msg = proto_test_decode (proto_encode_peer_copy (reply, "outcome", NULL));
    SELFTEST_CHECK (proto_msg_type (msg) == PROTO_EVENT && proto_msg_id (msg) == 0);
    SELFTEST_CHECK (proto_test_str_is (msg, "event", "outcome"));
    SELFTEST_CHECK (proto_test_str_is (msg, "client", "anonymous"));
    SELFTEST_CHECK (proto_msg_uint (msg, "request", 0) == 8);
    SELFTEST_CHECK (proto_test_str_is (msg, "status", "error"));
    SELFTEST_CHECK (proto_test_str_is (msg, "error", "PYTHON_ERROR"));
    SELFTEST_CHECK (proto_test_str_is (msg, "ename", "ZeroDivisionError"));
    SELFTEST_CHECK (proto_msg_uint (msg, "execution_count", 0) == 3);
    proto_msg_destroy (&msg);
    proto_msg_destroy (&reply);
}

void
proto_test (bool verbose)
{
    if (verbose)
        printf ("\n");
    s_test_names ();
    s_test_encoders ();
    s_test_builder ();
    s_test_shared ();
    s_test_files_reply ();
    proto_test_malformed (verbose);
    proto_test_frame (verbose);
    proto_test_peek (verbose);
    if (verbose)
        printf ("\n");
}
