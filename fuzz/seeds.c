/*  seeds — writes the seed corpora of the fuzz harnesses from real
    encodings: every message comes from the codec's own encoders and
    builder (as the broker, host, monitor and clients build them), every
    Jupyter message from kmq-jupyter's own jupyter_msg_new and
    jupyter_msg_encode, then is put in the harness's input format.
    (Frames come from common/kmq_frame.py: fuzz/seeds_frame.py.)

    Usage: seeds DIR      writes DIR/NAME/seed-LABEL for each harness NAME;
                          `make fuzz-seeds` runs it on fuzz/corpus.
*/
#include "fuzz_input.h"
#include "jupyter_message.h"
#include "proto.h"
#include "proto_stream.h"
#include "selftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *s_dir;

//  Writes size bytes as DIR/harness/seed-label.
static void
s_write (const char *harness, const char *label, const void *data, size_t size)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", s_dir, harness);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/%s/seed-%s", s_dir, harness, label);
    FILE *file = fopen (path, "wb");
    SELFTEST_CHECK (file);
    SELFTEST_CHECK (size == 0 || fwrite (data, 1, size, file) == size);
    SELFTEST_CHECK (fclose (file) == 0);
}

//  --- kernelmq messages -----------------------------------------------------

//  Messages the proto_reader seeds chain into streams.
static zmsg_t *s_stream [64];
static size_t s_stream_count;

//  A seed for proto_decode and kmq_reply ([shape] [payload 0's size]
//  [header]); kept for the streams. Takes *msg_p.
static void
s_message (const char *label, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    SELFTEST_CHECK (zmsg_size (msg) >= 2);
    zmsg_first (msg);
    zframe_t *header = zmsg_next (msg);
    zframe_t *payload = zmsg_next (msg);
    size_t payload_size = payload? zframe_size (payload): 0;
    zchunk_t *input = zchunk_new (NULL, 0);
    uint8_t head [2] = { fuzz_input_shape (zmsg_size (msg) - 2),
                         (uint8_t) (payload_size > 255? 255: payload_size) };
    zchunk_extend (input, head, 2);
    zchunk_extend (input, zframe_data (header), zframe_size (header));
    s_write ("proto_decode", label, zchunk_data (input), zchunk_size (input));
    s_write ("kmq_reply", label, zchunk_data (input), zchunk_size (input));
    zchunk_destroy (&input);
    SELFTEST_CHECK (s_stream_count < sizeof s_stream / sizeof s_stream [0]);
    s_stream [s_stream_count++] = msg;
}

//  A frame description, packed as kmq_frame.py packs it: {rows: 2, index:
//  {name: nil, kind: "range", start: 0, stop: 2, step: 1}, columns:
//  [{name: "a", kind: "numeric", dtype: "int64"}]}.
static const char s_description [] =
    "\x83\xa4rows\x02"
    "\xa5index\x85\xa4name\xc0\xa4kind\xa5range\xa5start\x00\xa4stop\x02\xa4step\x01"
    "\xa7" "columns\x91\x83\xa4name\xa1" "a\xa4kind\xa7numeric\xa5" "dtype\xa5int64";

//  A field key holding the array of strings items (NULL-terminated).
static void
s_strings (proto_builder_t *builder, const char *key, const char *const *items)
{
    uint32_t count = 0;
    while (items [count])
        count++;
    proto_builder_key (builder, key);
    proto_builder_val_array (builder, count);
    for (uint32_t i = 0; i < count; i++)
        proto_builder_val_str (builder, items [i]);
}

static void
s_requests (void)
{
    const char *code = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\ndf.a.sum()";
    zmsg_t *msg = proto_encode_hello (1, PROTO_VERSION, "fuzz-seeds");
    s_message ("hello", &msg);
    msg = proto_encode_execute (2, "nb1", code, strlen (code), 30000);
    s_message ("execute", &msg);
    msg = proto_encode_upload (3, "nb1", "df", "csv", "a,b\n1,2\n", 8);
    s_message ("upload-csv", &msg);
    msg = proto_encode_download (4, "nb1", "df", "frame");
    s_message ("download-frame", &msg);
    msg = proto_encode_complete (5, "nb1", "df.su", 5, 5);
    s_message ("complete", &msg);
    msg = proto_encode_inspect (6, "nb1", "len(df)", 7, 2);
    s_message ("inspect", &msg);
    msg = proto_encode_is_complete (7, "nb1", "for i in x:", 11);
    s_message ("is-complete", &msg);
    msg = proto_encode_history (8, "nb1", 10);
    s_message ("history", &msg);
    static const proto_type_t simple [] = {
        PROTO_RESET, PROTO_INTERRUPT, PROTO_VARS, PROTO_FILES, PROTO_CLOSE,
        PROTO_ATTACH, PROTO_DETACH, PROTO_ACK, PROTO_SHUTDOWN
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple [0]; i++) {
        msg = proto_encode_simple (simple [i], 10 + i, "nb1");
        s_message (proto_type_name (simple [i]), &msg);
    }
    msg = proto_encode_heartbeat ();
    s_message ("heartbeat", &msg);
    msg = proto_encode_stats (20);
    s_message ("stats", &msg);
    proto_builder_t *builder = proto_builder_new (PROTO_RESUME, 21, "nb1");
    proto_builder_uint (builder, "request", 2);
    msg = proto_builder_finish (&builder);
    s_message ("resume", &msg);

    msgpack_unpacked description;
    msgpack_unpacked_init (&description);
    SELFTEST_CHECK (msgpack_unpack_next (&description, s_description,
                                         sizeof s_description - 1, NULL)
                    == MSGPACK_UNPACK_SUCCESS);
    const uint8_t values [16] = { 1, 0, 0, 0, 0, 0, 0, 0, 2 };
    const void *data [1] = { values };
    const size_t sizes [1] = { sizeof values };
    msg = proto_encode_upload_frame (22, "nb1", "df", &description.data, data, sizes, 1);
    s_message ("upload-frame", &msg);
    builder = proto_reply_ok_begin (4, "nb1");
    proto_builder_str (builder, "format", "frame");
    proto_builder_key (builder, "frame");
    proto_builder_val_object (builder, &description.data);
    proto_builder_payload_copy (builder, values, sizeof values);
    msg = proto_builder_finish (&builder);
    s_message ("reply-frame", &msg);
    msgpack_unpacked_destroy (&description);
}

static void
s_kernel_side (void)
{
    zmsg_t *msg = proto_encode_ready ("nb1", 4242);
    s_message ("ready", &msg);
    msg = proto_encode_stream (2, "nb1", "stdout", "hello\n", 6);
    s_message ("event-stream", &msg);
    const char *mime [2] = { "text/plain", "image/png" };
    const void *data [2] = { "<Figure>", "\x89PNG\r\n\x1a\n" };
    const size_t sizes [2] = { 8, 8 };
    msg = proto_encode_display (2, "nb1", mime, data, sizes, 2);
    s_message ("event-display", &msg);
    msg = proto_encode_ok (3, "nb1");
    s_message ("reply-ok", &msg);
    msg = proto_encode_error (2, "nb1", PROTO_E_PYTHON_ERROR, "ZeroDivisionError: division by zero");
    s_message ("reply-error", &msg);
    proto_builder_t *builder = proto_reply_ok_begin (2, "nb1");
    proto_builder_uint (builder, "execution_count", 3);
    proto_builder_uint (builder, "duration_ms", 1);
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, 1);
    proto_builder_val_str (builder, "text/plain");
    proto_builder_payload_copy (builder, "3", 1);
    msg = proto_builder_finish (&builder);
    //  The outcome attached clients get of it (protocol.md 4.5)
    proto_fault_t fault;
    zmsg_t *copy = zmsg_dup (msg);
    proto_msg_t *decoded = proto_decode (&copy, &fault);
    SELFTEST_CHECK (decoded);
    zmsg_t *outcome = proto_encode_peer_copy (decoded, "outcome", "alice");
    proto_msg_destroy (&decoded);
    s_message ("reply-execute", &msg);
    s_message ("event-outcome", &outcome);
    builder = proto_reply_ok_begin (5, "nb1");
    proto_builder_uint (builder, "cursor_start", 3);
    proto_builder_uint (builder, "cursor_end", 5);
    s_strings (builder, "matches", (const char *[]) { "sum", "sub", NULL });
    msg = proto_builder_finish (&builder);
    s_message ("reply-complete", &msg);
}

//  Replies only clients read: vars and stats rows, an inspect bundle, a
//  traceback, clear_output (as the glue and the broker build them).
static void
s_client_side (void)
{
    proto_builder_t *builder = proto_reply_ok_begin (9, "nb1");
    proto_builder_key (builder, "vars");
    proto_builder_val_array (builder, 2);
    proto_builder_val_map (builder, 4);
    proto_builder_val_str (builder, "name");
    proto_builder_val_str (builder, "df");
    proto_builder_val_str (builder, "type");
    proto_builder_val_str (builder, "DataFrame");
    proto_builder_val_str (builder, "shape");
    proto_builder_val_array (builder, 2);
    proto_builder_val_uint (builder, 3);
    proto_builder_val_uint (builder, 2);
    proto_builder_val_str (builder, "len");
    proto_builder_val_uint (builder, 3);
    proto_builder_val_map (builder, 2);
    proto_builder_val_str (builder, "name");
    proto_builder_val_str (builder, "x");
    proto_builder_val_str (builder, "type");
    proto_builder_val_str (builder, "int");
    zmsg_t *msg = proto_builder_finish (&builder);
    s_message ("reply-vars", &msg);
    builder = proto_reply_ok_begin (20, NULL);
    proto_builder_uint (builder, "sessions", 1);
    proto_builder_key (builder, "session_list");
    proto_builder_val_array (builder, 1);
    proto_builder_val_map (builder, 4);
    proto_builder_val_str (builder, "session");
    proto_builder_val_str (builder, "nb1");
    proto_builder_val_str (builder, "state");
    proto_builder_val_str (builder, "idle");
    proto_builder_val_str (builder, "pid");
    proto_builder_val_uint (builder, 4242);
    proto_builder_val_str (builder, "idle_ms");
    proto_builder_val_float (builder, 12.5);
    msg = proto_builder_finish (&builder);
    s_message ("reply-stats", &msg);
    const char *mime [3] = { "text/plain", "application/json", "text/html" };
    const void *data [3] = { "Signature: len(obj)", "{\"a\": [1, 2.5, null]}", "<b>é</b>" };
    const size_t sizes [3] = { 19, 21, 9 };
    builder = proto_reply_ok_begin (6, "nb1");
    proto_builder_bool (builder, "found", true);
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, 3);
    for (size_t i = 0; i < 3; i++) {
        proto_builder_val_str (builder, mime [i]);
        proto_builder_payload_copy (builder, data [i], sizes [i]);
    }
    msg = proto_builder_finish (&builder);
    s_message ("reply-inspect", &msg);
    builder = proto_reply_error_begin (2, "nb1", PROTO_E_PYTHON_ERROR, "NameError: x");
    proto_builder_str (builder, "ename", "NameError");
    proto_builder_str (builder, "evalue", "name 'x' is not defined");
    s_strings (builder, "traceback", (const char *[]) {
        "Traceback (most recent call last):", "NameError: name 'x' is not defined", NULL });
    msg = proto_builder_finish (&builder);
    s_message ("reply-traceback", &msg);
    const char *clear [1] = { "application/vnd.kernelmq.clear-output+json" };
    const void *wait [1] = { "{\"wait\": true}" };
    const size_t wait_size [1] = { 14 };
    msg = proto_encode_display (2, "nb1", clear, wait, wait_size, 1);
    s_message ("event-clear-output", &msg);
}

//  Host <-> broker (protocol.md 12), as host.c and broker_hosts.c build
//  them: a type, its id and session, and up to two fields of each kind.
static void
s_host_side (void)
{
    static const struct {
        const char *label;
        proto_type_t type;
        uint64_t id;
        const char *session;
        const char *strs [2][2];        //  key, value
        const char *uint_keys [2];
        uint64_t uints [2];
    } seeds [] = {
        { "host-ready", PROTO_HOST_READY, 0, NULL, { { "host", "local" } },
          { "version", "max_sessions" }, { PROTO_VERSION, 1000 } },
        { "host-status", PROTO_HOST_STATUS, 0, NULL, { { "host", "local" } },
          { "sessions", "zygote_pid" }, { 2, 4100 } },
        { "start", PROTO_START, 30, "nb1",
          { { "kernel_id", "k1-0123abcd" }, { "notice", "state was lost" } }, { NULL }, { 0 } },
        { "stop", PROTO_STOP, 0, "nb1", { { "kernel_id", "k1-0123abcd" } },
          { "grace_ms" }, { 2000 } },
        { "kernel-exited", PROTO_KERNEL_EXITED, 0, "nb1",
          { { "kernel_id", "k1-0123abcd" }, { "cause", "killed by signal 9" } },
          { "pid", "exit_status" }, { 4242, 9 } },
        { "resend", PROTO_RESEND, 0, "nb1", { { NULL } }, { "request" }, { 2 } },
        { "reregister", PROTO_REREGISTER, 0, NULL, { { NULL } }, { NULL }, { 0 } },
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds [0]; i++) {
        proto_builder_t *builder = proto_builder_new (seeds [i].type, seeds [i].id,
                                                      seeds [i].session);
        for (size_t f = 0; f < 2; f++) {
            if (seeds [i].strs [f][0])
                proto_builder_str (builder, seeds [i].strs [f][0], seeds [i].strs [f][1]);
            if (seeds [i].uint_keys [f])
                proto_builder_uint (builder, seeds [i].uint_keys [f], seeds [i].uints [f]);
        }
        zmsg_t *msg = proto_builder_finish (&builder);
        s_message (seeds [i].label, &msg);
    }
}

//  proto_reader seeds: [limits] [n] [sizes] and streams of the messages.
static void
s_streams (void)
{
    static const struct {
        const char *label;
        uint8_t limits;
        uint8_t sizes [4];
        size_t count;           //  sizes used (at least 1)
        size_t first, messages; //  which messages of s_stream
    } seeds [] = {
        { "one-whole",     1, { 0 },          1, 0, 1 },
        { "one-bytewise",  1, { 1 },          1, 1, 1 },
        { "three-odd",     1, { 3, 7, 250 },  3, 2, 3 },
        { "five-13",       1, { 13 },         1, 5, 5 },
        { "small-limits",  0, { 5, 0 },       2, 10, 2 },
        { "frames",        1, { 64, 1 },      2, 20, 2 },
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds [0]; i++) {
        zchunk_t *input = zchunk_new (NULL, 0);
        uint8_t head [2] = { seeds [i].limits, (uint8_t) (seeds [i].count - 1) };
        zchunk_extend (input, head, 2);
        zchunk_extend (input, seeds [i].sizes, seeds [i].count);
        for (size_t m = 0; m < seeds [i].messages; m++) {
            SELFTEST_CHECK (seeds [i].first + m < s_stream_count);
            zmsg_t *copy = zmsg_dup (s_stream [seeds [i].first + m]);
            size_t size;
            uint8_t *packed = proto_stream_pack (&copy, &size);
            SELFTEST_CHECK (packed);
            zchunk_extend (input, packed, size);
            free (packed);
        }
        s_write ("proto_reader", seeds [i].label, zchunk_data (input), zchunk_size (input));
        zchunk_destroy (&input);
    }
}

//  zygote_spawn seeds: [descriptors] [datagram].
static void
s_spawn (const char *label, uint8_t fds, zmsg_t **msg_p)
{
    size_t size;
    uint8_t *packed = proto_stream_pack (msg_p, &size);
    SELFTEST_CHECK (packed);
    zchunk_t *input = zchunk_new (&fds, 1);
    zchunk_extend (input, packed, size);
    s_write ("zygote_spawn", label, zchunk_data (input), zchunk_size (input));
    zchunk_destroy (&input);
    free (packed);
}

static void
s_spawns (void)
{
    proto_builder_t *builder = proto_builder_new (PROTO_SPAWN, 1, "nb1");
    proto_builder_str (builder, "sandbox_config", FUZZ_INPUT_FINGERPRINT);
    zmsg_t *msg = proto_builder_finish (&builder);
    s_spawn ("spawn", 3, &msg);
    builder = proto_builder_new (PROTO_SPAWN, 2, "analysis.v2:alice");
    proto_builder_str (builder, "notice", "the session's kernel died; its state was lost");
    proto_builder_str (builder, "sandbox_config", FUZZ_INPUT_FINGERPRINT);
    msg = proto_builder_finish (&builder);
    s_spawn ("spawn-notice", 3, &msg);
    builder = proto_builder_new (PROTO_SPAWN, 3, "nb1");
    proto_builder_str (builder, "sandbox_config", "memory-limit=1073741824,cpu-limit-s=0");
    msg = proto_builder_finish (&builder);
    s_spawn ("spawn-other-config", 3, &msg);
    builder = proto_builder_new (PROTO_SPAWN, 4, "nb1");
    msg = proto_builder_finish (&builder);
    s_spawn ("spawn-no-config-2-fds", 2, &msg);
    msg = proto_encode_simple (PROTO_ACK, 5, "nb1");
    s_spawn ("ack", 3, &msg);
}

//  --- Jupyter messages -------------------------------------------------------

//  The three jupyter_decode seeds of one message (fuzz/jupyter_decode.c):
//  its JSON frames to be signed, and its whole wire form signed and not.
static void
s_jupyter (const char *label, jupyter_msg_t **msg_p, jupyter_signer_t *keyed,
           jupyter_signer_t *open)
{
    static const char *const modes [3] = { "signed", "raw", "unsigned" };
    for (uint8_t mode = 0; mode < 3; mode++) {
        zmsg_t *wire = jupyter_msg_encode (*msg_p, mode == 2? open: keyed, NULL);
        if (mode == 0) {
            //  From the frames after the signature
            zframe_t *frame;
            while ((frame = zmsg_pop (wire))) {
                bool delimiter = zframe_streq (frame, "<IDS|MSG>");
                zframe_destroy (&frame);
                if (delimiter)
                    break;
            }
            frame = zmsg_pop (wire);
            zframe_destroy (&frame);
        }
        zchunk_t *input = zchunk_new (&mode, 1);
        SELFTEST_CHECK (fuzz_input_join (wire, input));
        char name [128];
        snprintf (name, sizeof name, "%s-%s", label, modes [mode]);
        s_write ("jupyter_decode", name, zchunk_data (input), zchunk_size (input));
        zchunk_destroy (&input);
        zmsg_destroy (&wire);
    }
    jupyter_msg_destroy (msg_p);
}

static void
s_jupyters (void)
{
    char error [256];
    jupyter_signer_t *keyed = jupyter_signer_new (
        FUZZ_INPUT_JUPYTER_KEY, strlen (FUZZ_INPUT_JUPYTER_KEY), "hmac-sha256",
        error, sizeof error);
    jupyter_signer_t *open = jupyter_signer_new (NULL, 0, "", error, sizeof error);
    SELFTEST_CHECK (keyed && open);
    const char *session = "5e2b1a4c-client";
    jupyter_msg_t *msg = jupyter_msg_new ("kernel_info_request", session, NULL, NULL);
    s_jupyter ("kernel-info", &msg, keyed, open);
    msg = jupyter_msg_new ("execute_request", session, NULL, json_pack (
        "{s:s, s:b, s:b, s:{}, s:b, s:b}", "code", "x = 1\nprint(x, 'é')",
        "silent", 0, "store_history", 1, "user_expressions", "allow_stdin", 0,
        "stop_on_error", 1));
    s_jupyter ("execute", &msg, keyed, open);
    msg = jupyter_msg_new ("complete_request", session, NULL, json_pack (
        "{s:s, s:i}", "code", "import pandas as pd\npd.Data", "cursor_pos", 27));
    s_jupyter ("complete", &msg, keyed, open);
    msg = jupyter_msg_new ("inspect_request", session, NULL, json_pack (
        "{s:s, s:i, s:i}", "code", "len(\"ü\")", "cursor_pos", 2, "detail_level", 0));
    s_jupyter ("inspect", &msg, keyed, open);
    msg = jupyter_msg_new ("is_complete_request", session, NULL, json_pack (
        "{s:s}", "code", "def f():"));
    s_jupyter ("is-complete", &msg, keyed, open);
    msg = jupyter_msg_new ("history_request", session, NULL, json_pack (
        "{s:b, s:b, s:s, s:i}", "output", 0, "raw", 1, "hist_access_type", "tail", "n", 10));
    s_jupyter ("history", &msg, keyed, open);
    msg = jupyter_msg_new ("shutdown_request", session, NULL, json_pack (
        "{s:b}", "restart", 0));
    s_jupyter ("shutdown", &msg, keyed, open);
    msg = jupyter_msg_new ("comm_info_request", session, NULL, json_pack (
        "{s:s}", "target_name", "jupyter.widget"));
    s_jupyter ("comm-info", &msg, keyed, open);
    //  A message with a parent, as a frontend's input_reply carries one
    jupyter_msg_t *parent = jupyter_msg_new ("input_request", "kernel", NULL, json_pack (
        "{s:s, s:b}", "prompt", "name? ", "password", 0));
    msg = jupyter_msg_new ("input_reply", session, parent, json_pack ("{s:s}", "value", "x"));
    jupyter_msg_destroy (&parent);
    s_jupyter ("input-reply", &msg, keyed, open);
    jupyter_signer_destroy (&keyed);
    jupyter_signer_destroy (&open);
}

int
main (int argc, char *argv [])
{
    if (argc != 2) {
        fprintf (stderr, "usage: seeds DIR\n");
        return 2;
    }
    s_dir = argv [1];
    mkdir (s_dir, 0755);
    s_requests ();
    s_kernel_side ();
    s_host_side ();
    s_client_side ();
    s_streams ();
    s_spawns ();
    s_jupyters ();
    for (size_t i = 0; i < s_stream_count; i++)
        zmsg_destroy (&s_stream [i]);
    return 0;
}
