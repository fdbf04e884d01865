/*  kmq_reply — libFuzzer harness for what the C clients read out of a
    reply or event (client/kmq_reply.c) and how kmq-jupyter turns one into
    JSON (client/json/kmq_json.c). The kernel is hostile
    and the broker forwards its headers and payloads untouched, so every
    field here may be anything the codec lets through: MIME bundles, vars
    and stats rows, completion matches, a frame download (frame_new, the
    frame format's C decoder on the wire path), `kmq --json`.

    Input: as proto_decode's (fuzz_input.h, fuzz_input_message); what the
    codec accepts becomes a kmq_reply_t.

    Beyond "no crash, no leak": kmq_reply_json is one valid JSON object
    (jansson reads it back), the MIME bundle kmq-jupyter builds dumps as
    JSON, cursor offsets map into the code they index, and a stream
    chunk's held-back tail is an incomplete UTF-8 character at most.
*/
#include "fuzz_input.h"
#include "jupyter_mime.h"
#include "kmq_json.h"
#include "kmq_private.h"
#include "selftest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

//  Every accessor a client front calls, on every row there is.
static void
s_read (kmq_reply_t *reply)
{
    //  An error name for every message but an ok reply: fronts print it
    SELFTEST_CHECK (kmq_reply_ok (reply) == !kmq_reply_error (reply));
    SELFTEST_CHECK (kmq_reply_message (reply));
    (void) kmq_reply_state_lost (reply);
    (void) kmq_reply_notice (reply);
    (void) kmq_reply_id (reply);
    SELFTEST_CHECK (kmq_reply_session_key (reply));
    (void) kmq_reply_event (reply);
    (void) kmq_reply_execution_count (reply);
    static const char *const lists [] = { "traceback", "mime", "matches", "vars" };
    for (size_t l = 0; l < sizeof lists / sizeof lists [0]; l++)
        for (size_t i = 0; i <= kmq_reply_strings (reply, lists [l]); i++)
            (void) kmq_reply_string_at (reply, lists [l], i);
    size_t size;
    for (size_t i = 0; i < kmq_reply_payload_count (reply); i++)
        SELFTEST_CHECK (kmq_reply_payload (reply, i, &size));
    for (size_t i = 0; i <= kmq_reply_mime_count (reply); i++) {
        (void) kmq_reply_mime (reply, i);
        (void) kmq_reply_mime_data (reply, i, &size);
    }
    (void) kmq_reply_mime_find (reply, "text/plain", &size);
    for (size_t i = 0; i <= kmq_reply_match_count (reply); i++)
        (void) kmq_reply_match (reply, i);
    kmq_var_t var;
    for (size_t i = 0; i <= kmq_reply_var_count (reply); i++)
        if (kmq_reply_var (reply, i, &var) == 0)
            SELFTEST_CHECK (var.name && var.type);
    kmq_session_info_t info;
    for (size_t i = 0; i <= kmq_reply_session_count (reply); i++)
        if (kmq_reply_session (reply, i, &info) == 0)
            SELFTEST_CHECK (info.session && info.state);
}

//  `kmq --json` prints one JSON object.
static void
s_json (kmq_reply_t *reply)
{
    char *text = kmq_reply_json (reply);
    json_error_t error;
    //  \u0000 and integers past int64 are JSON (RFC 8259): jansson wants
    //  leave to read them, and cannot hold a NUL in a key, which is its
    //  limit, not an error
    json_t *value = json_loads (text, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &error);
    if (!value && json_error_code (&error) == json_error_null_byte_in_key) {
        free (text);
        return;
    }
    if (!json_is_object (value))
        fprintf (stderr, "kmq_reply_json wrote no JSON object (%s): %s\n",
                 error.text, text);
    SELFTEST_CHECK (json_is_object (value));
    json_decref (value);
    free (text);
}

//  What kmq-jupyter makes of a display event or a reply (jupyter_output.c,
//  jupyter_handlers.c), with payload 0 standing for the cell's code.
static void
s_jupyter (kmq_reply_t *reply)
{
    json_t *bundle = kmq_json_bundle (reply);
    char *dumped = json_dumps (bundle, JSON_COMPACT);
    SELFTEST_CHECK (dumped);
    free (dumped);
    json_decref (bundle);
    bool wait;
    (void) kmq_json_is_clear_output (reply, &wait);
    size_t size = 0;
    const char *code = (const char *) kmq_reply_payload (reply, 0, &size);
    if (!code)
        return;
    json_t *text = kmq_json_text (code, size);
    SELFTEST_CHECK (json_is_string (text));
    json_decref (text);
    size_t whole = kmq_json_complete_utf8 (code, size);
    SELFTEST_CHECK (whole <= size && size - whole <= 3);
    uint64_t start = kmq_reply_uint (reply, "cursor_start", 0);
    uint64_t end = kmq_reply_uint (reply, "cursor_end", 0);
    size_t points = jupyter_mime_byte_to_cursor (code, size, start);
    SELFTEST_CHECK (points <= size);
    SELFTEST_CHECK (jupyter_mime_cursor_to_byte (code, size, points) <= size);
    (void) jupyter_mime_byte_to_cursor (code, size, end);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zmsg_t *raw = fuzz_input_message (data, size);
    if (!raw)
        return 0;
    proto_msg_t *msg = proto_decode (&raw, NULL);
    if (!msg)
        return 0;
    kmq_reply_t *reply = kmq_reply_from_msg (&msg);
    SELFTEST_CHECK (reply && !msg);
    s_read (reply);
    s_json (reply);
    s_jupyter (reply);
    //  A frame download: validated before a byte is written
    char error [512];
    (void) kmq_reply_write_kmqf (reply, "/dev/null", error, sizeof error);
    kmq_reply_destroy (&reply);
    return 0;
}
