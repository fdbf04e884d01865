/*  kmq_test — libkmq's selftest. Needs no real broker: an in-process fake
    (a ROUTER in a zactor, speaking through the codec) plays the broker's
    part for the cases that need one.                                       */
#include <czmq.h>
#include "kmq_private.h"
#include "mem.h"
#include "selftest.h"

#define TEST_ENDPOINT "inproc://kmq-selftest"


//  Sends msg to the client at identity (copied).
static void
s_send_to (zsock_t *router, zframe_t *identity, zmsg_t *msg)
{
    zframe_t *copy = zframe_dup (identity);
    zmsg_prepend (msg, &copy);
    zmsg_send (&msg, router);
}

static zmsg_t *
s_execute_reply (uint64_t id, const char *session, const char *code)
{
    if (strcmp (code, "err") == 0) {
        proto_builder_t *b = proto_reply_error_begin (id, session, PROTO_E_PYTHON_ERROR,
                                                      "ZeroDivisionError: division by zero");
        proto_builder_str (b, "ename", "ZeroDivisionError");
        proto_builder_str (b, "evalue", "division by zero");
        proto_builder_key (b, "traceback");
        proto_builder_val_array (b, 2);
        proto_builder_val_str (b, "Traceback (most recent call last):\n");
        proto_builder_val_str (b, "ZeroDivisionError: division by zero\n");
        proto_builder_uint (b, "execution_count", 4);
        return proto_builder_finish (&b);
    }
    proto_builder_t *b = proto_reply_ok_begin (id, session);
    proto_builder_uint (b, "execution_count", 3);
    proto_builder_key (b, "mime");
    proto_builder_val_array (b, 1);
    proto_builder_val_str (b, "text/plain");
    proto_builder_bool (b, "state_lost", true);
    proto_builder_str (b, "notice", "kernel replaced");
    proto_builder_payload_copy (b, "42", 2);
    return proto_builder_finish (&b);
}

static zmsg_t *
s_vars_reply (uint64_t id, const char *session)
{
    proto_builder_t *b = proto_reply_ok_begin (id, session);
    proto_builder_key (b, "vars");
    proto_builder_val_array (b, 2);
    proto_builder_val_map (b, 3);
    proto_builder_val_str (b, "name");
    proto_builder_val_str (b, "df");
    proto_builder_val_str (b, "type");
    proto_builder_val_str (b, "DataFrame");
    proto_builder_val_str (b, "shape");
    proto_builder_val_array (b, 2);
    proto_builder_val_uint (b, 3);
    proto_builder_val_uint (b, 2);
    proto_builder_val_map (b, 3);
    proto_builder_val_str (b, "name");
    proto_builder_val_str (b, "xs");
    proto_builder_val_str (b, "type");
    proto_builder_val_str (b, "list");
    proto_builder_val_str (b, "len");
    proto_builder_val_uint (b, 5);
    return proto_builder_finish (&b);
}

static zmsg_t *
s_stats_reply (uint64_t id)
{
    proto_builder_t *b = proto_reply_ok_begin (id, NULL);
    proto_builder_uint (b, "sessions", 1);
    proto_builder_str (b, "broker", "fake \"1\"\n");
    proto_builder_key (b, "session_list");
    proto_builder_val_array (b, 1);
    proto_builder_val_map (b, 3);
    proto_builder_val_str (b, "session");
    proto_builder_val_str (b, "nb1");
    proto_builder_val_str (b, "state");
    proto_builder_val_str (b, "idle");
    proto_builder_val_str (b, "pid");
    proto_builder_val_uint (b, 4121);
    return proto_builder_finish (&b);
}

//  "display": a display event (text/plain + PNG bytes with a NUL inside),
//  a malformed one (two types, one payload) that must be dropped, then a
//  reply whose result bundle has text/plain and text/html.
static void
s_display_cell (zsock_t *router, zframe_t *identity, uint64_t id,
                const char *session)
{
    const char *mime [] = { "text/plain", "image/png" };
    const void *data [] = { "<Figure>", "\x89PNG\0\r\n" };
    size_t sizes [] = { 8, 7 };
    s_send_to (router, identity, proto_encode_display (id, session, mime, data,
                                                       sizes, 2));
    proto_builder_t *b = proto_builder_new (PROTO_EVENT, id, session);
    proto_builder_str (b, "event", "display");
    proto_builder_key (b, "mime");
    proto_builder_val_array (b, 2);
    proto_builder_val_str (b, "text/plain");
    proto_builder_val_str (b, "text/html");
    proto_builder_payload_copy (b, "bad", 3);
    s_send_to (router, identity, proto_builder_finish (&b));
    b = proto_reply_ok_begin (id, session);
    proto_builder_uint (b, "execution_count", 5);
    proto_builder_key (b, "mime");
    proto_builder_val_array (b, 2);
    proto_builder_val_str (b, "text/plain");
    proto_builder_val_str (b, "text/html");
    proto_builder_payload_copy (b, "   A\n0  1", 9);
    proto_builder_payload_copy (b, "<table>", 7);
    s_send_to (router, identity, proto_builder_finish (&b));
}

//  complete: "groupby" for the token after the last dot; inspect: found
//  when the code is "len"
static zmsg_t *
s_cursor_reply (proto_msg_t *msg)
{
    uint64_t id = proto_msg_id (msg);
    const char *session = proto_msg_session (msg);
    zframe_t *frame = proto_msg_payload (msg, 0);
    size_t len = zframe_size (frame);
    uint64_t cursor = proto_msg_uint (msg, "cursor_pos", len);
    proto_builder_t *b = proto_reply_ok_begin (id, session);
    if (proto_msg_type (msg) == PROTO_COMPLETE) {
        const char *code = (const char *) zframe_data (frame);
        uint64_t start = cursor;
        while (start > 0 && code [start - 1] != '.')
            start--;
        proto_builder_key (b, "matches");
        proto_builder_val_array (b, 2);
        proto_builder_val_str (b, "groupby");
        proto_builder_val_str (b, "gt");
        proto_builder_uint (b, "cursor_start", start);
        proto_builder_uint (b, "cursor_end", cursor);
    }
    else {
        bool found = zframe_streq (frame, "len");
        proto_builder_bool (b, "found", found);
        proto_builder_key (b, "mime");
        proto_builder_val_array (b, found? 1: 0);
        if (found) {
            proto_builder_val_str (b, "text/plain");
            proto_builder_payload_copy (b, "len(obj, /)", 11);
        }
    }
    return proto_builder_finish (&b);
}

//  The fake broker. Pipe commands: "COUNT" answers the number of
//  non-heartbeat messages received so far.
static void
s_fake_broker (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_t *router = zsock_new_router (TEST_ENDPOINT);
    assert (router);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    bool mute = false;
    int received = 0;
    zframe_t *held_identity = NULL;     //  an execute "wait" in progress
    uint64_t held_id = 0;
    while (true) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            if (command && streq (command, "COUNT"))
                zstr_sendf (pipe, "%d", received);
            zstr_free (&command);
            if (term)
                break;
            continue;
        }
        if (which != router)
            break;
        zmsg_t *raw = zmsg_recv (router);
        zframe_t *identity = zmsg_pop (raw);
        proto_fault_t fault;
        proto_msg_t *msg = proto_decode (&raw, &fault);
        if (!msg || mute) {
            proto_msg_destroy (&msg);
            zframe_destroy (&identity);
            continue;
        }
        proto_type_t type = proto_msg_type (msg);
        uint64_t id = proto_msg_id (msg);
        const char *session = proto_msg_session (msg);
        if (type != PROTO_HEARTBEAT)
            received++;
        if (type == PROTO_HEARTBEAT)
            s_send_to (router, identity, proto_encode_heartbeat ());
        else
        if (type == PROTO_HELLO) {
            proto_builder_t *b = proto_reply_ok_begin (id, NULL);
            proto_builder_uint (b, "version", 1);
            proto_builder_str (b, "broker", "fake");
            //  A hello from "absurd" gets values whose product overflows
            const char *name = proto_msg_str (msg, "client");
            bool absurd = name && streq (name, "absurd");
            proto_builder_uint (b, "heartbeat_ivl_ms", absurd? UINT64_MAX / 2: 50);
            proto_builder_uint (b, "heartbeat_liveness", absurd? 4: 3);
            proto_builder_uint (b, "max_payload", 64);
            s_send_to (router, identity, proto_builder_finish (&b));
        }
        else
        if (type == PROTO_EXECUTE) {
            zframe_t *code_frame = proto_msg_payload (msg, 0);
            char *code = zframe_strdup (code_frame);
            if (streq (code, "wait")) {
                zframe_destroy (&held_identity);
                held_identity = zframe_dup (identity);
                held_id = id;
            }
            else
            if (streq (code, "mute"))
                mute = true;
            else
            if (streq (code, "display"))
                s_display_cell (router, identity, id, session);
            else {
                //  Our stream, someone else's stream and reply, then ours
                s_send_to (router, identity, proto_encode_stream (id, session,
                           "stdout", "hi\n", 3));
                s_send_to (router, identity, proto_encode_stream (id + 100, session,
                           "stdout", "not mine", 8));
                s_send_to (router, identity, proto_encode_ok (id + 100, session));
                s_send_to (router, identity, s_execute_reply (id, session, code));
            }
            free (code);
        }
        else
        if (type == PROTO_INTERRUPT) {
            proto_builder_t *b = proto_reply_ok_begin (id, session);
            proto_builder_bool (b, "interrupted", held_identity != NULL);
            s_send_to (router, identity, proto_builder_finish (&b));
            if (held_identity) {
                s_send_to (router, held_identity, proto_encode_error (held_id, session,
                           PROTO_E_INTERRUPTED, "interrupted"));
                zframe_destroy (&held_identity);
            }
        }
        else
        if (type == PROTO_COMPLETE || type == PROTO_INSPECT)
            s_send_to (router, identity, s_cursor_reply (msg));
        else
        if (type == PROTO_VARS)
            s_send_to (router, identity, s_vars_reply (id, session));
        else
        if (type == PROTO_STATS)
            s_send_to (router, identity, s_stats_reply (id));
        else
        if (type == PROTO_ATTACH) {
            s_send_to (router, identity, proto_encode_ok (id, session));
            proto_builder_t *b = proto_builder_new (PROTO_EVENT, 0, session);
            proto_builder_str (b, "event", "evicted");
            proto_builder_str (b, "message", "idle too long");
            s_send_to (router, identity, proto_builder_finish (&b));
        }
        else
            s_send_to (router, identity, proto_encode_ok (id, session));
        proto_msg_destroy (&msg);
        zframe_destroy (&identity);
    }
    zframe_destroy (&held_identity);
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

static int
s_fake_count (zactor_t *broker)
{
    zstr_send (broker, "COUNT");
    char *text = zstr_recv (broker);
    SELFTEST_CHECK (text);
    int count = atoi (text);
    zstr_free (&text);
    return count;
}

typedef struct {
    int events;
    char last_kind [32];
    char data [64];
    size_t mime_count;          //  of the last event
    char mime [2][32];
    size_t png_size;
    bool png_ok;
} seen_t;

static void
s_on_event (const kmq_event_t *event, void *arg)
{
    seen_t *seen = (seen_t *) arg;
    seen->events++;
    snprintf (seen->last_kind, sizeof seen->last_kind, "%s", event->kind);
    snprintf (seen->data, sizeof seen->data, "%.*s", (int) event->size,
              event->data? (const char *) event->data: "");
    seen->mime_count = event->mime_count;
    for (size_t i = 0; i < event->mime_count && i < 2; i++)
        snprintf (seen->mime [i], sizeof seen->mime [i], "%s", event->mime [i]);
    if (event->mime_count == 2) {
        seen->png_size = event->sizes [1];
        seen->png_ok = memcmp (event->payloads [1], "\x89PNG\0\r\n", 7) == 0;
    }
}

static void
s_test_offline (bool verbose)
{
    char error [512];
    //  Nobody listens here: hello times out with a sentence that says so
    char *endpoint = mem_sprintf ("ipc:///tmp/kmq-selftest-nobody-%d", (int) getpid ());
    kmq_options_t options = { 1000, "selftest", NULL, NULL };
    int64_t started = zclock_mono ();
    kmq_t *kmq = kmq_new (endpoint, &options, error, sizeof error);
    int64_t elapsed = zclock_mono () - started;
    SELFTEST_CHECK (kmq == NULL);
    SELFTEST_CHECK (strstr (error, "did not answer within 1 s"));
    SELFTEST_CHECK (strstr (error, endpoint));
    SELFTEST_CHECK (elapsed < 1000 + 4000);  //  bounded by the hello timeout, not a hang
    if (verbose)
        zsys_info ("kmq_test: %s", error);
    zstr_free (&endpoint);

    kmq = kmq_new ("nonsense", NULL, error, sizeof error);
    SELFTEST_CHECK (kmq == NULL);
    SELFTEST_CHECK (strstr (error, "cannot connect to nonsense"));

    SELFTEST_CHECK (kmq_session_valid ("nb1"));
    SELFTEST_CHECK (kmq_session_valid ("a.b_c:d-9"));
    SELFTEST_CHECK (!kmq_session_valid (""));
    SELFTEST_CHECK (!kmq_session_valid ("bad key"));
    SELFTEST_CHECK (!kmq_session_valid ("x/y"));
    SELFTEST_CHECK (!kmq_session_valid (NULL));

    //  A local reply and its JSON
    kmq_reply_t *reply = kmq_reply_local ("TOO_LARGE", "%d bytes \"over\"", 65);
    SELFTEST_CHECK (!kmq_reply_ok (reply));
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "TOO_LARGE"));
    SELFTEST_CHECK (streq (kmq_reply_message (reply), "65 bytes \"over\""));
    SELFTEST_CHECK (!kmq_reply_state_lost (reply));
    SELFTEST_CHECK (kmq_reply_strings (reply, "traceback") == 0);
    SELFTEST_CHECK (kmq_reply_payload (reply, 0, NULL) == NULL);
    char *json = kmq_reply_json (reply);
    SELFTEST_CHECK (streq (json, "{\"status\":\"error\",\"error\":\"TOO_LARGE\","
                        "\"message\":\"65 bytes \\\"over\\\"\"}"));
    free (json);
    kmq_reply_destroy (&reply);
    kmq_reply_destroy (&reply);
}

static void
s_test_fake (bool verbose)
{
    (void) verbose;
    zactor_t *broker = zactor_new (s_fake_broker, NULL);
    SELFTEST_CHECK (broker);
    volatile sig_atomic_t flag = 0;
    kmq_options_t options = { 2000, "selftest", &flag, NULL };
    char error [512];
    kmq_t *kmq = kmq_new (TEST_ENDPOINT, &options, error, sizeof error);
    SELFTEST_CHECK (kmq);
    SELFTEST_CHECK (streq (kmq_broker_name (kmq), "fake"));
    SELFTEST_CHECK (kmq_max_payload (kmq) == 64);
    SELFTEST_CHECK (kmq_heartbeat_ivl (kmq) == 50);
    //  A hello reply whose liveness product would overflow is refused at
    //  the boundary, not turned into a negative silence
    kmq_options_t absurd = { 2000, "absurd", NULL, NULL };
    SELFTEST_CHECK (kmq_new (TEST_ENDPOINT, &absurd, error, sizeof error) == NULL);
    SELFTEST_CHECK (strstr (error, "announced heartbeats every"));
    SELFTEST_CHECK (strstr (error, "not a kernelmq broker"));
    seen_t seen;
    memset (&seen, 0, sizeof seen);
    kmq_set_event_handler (kmq, s_on_event, &seen);
    int sent = s_fake_count (broker);
    SELFTEST_CHECK (sent == 2);              //  the hellos

    //  Refused locally: nothing reaches the broker
    kmq_reply_t *reply = kmq_execute (kmq, "bad key", "1", 1, 0);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "BAD_REQUEST"));
    kmq_reply_destroy (&reply);
    reply = kmq_vars (kmq, "");
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "BAD_REQUEST"));
    kmq_reply_destroy (&reply);
    char big [65];
    memset (big, 'x', sizeof big);
    reply = kmq_execute (kmq, "nb1", big, sizeof big, 0);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "TOO_LARGE"));
    SELFTEST_CHECK (strstr (kmq_reply_message (reply), "max_payload"));
    kmq_reply_destroy (&reply);
    reply = kmq_upload (kmq, "nb1", "df", "csv", big, sizeof big);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "TOO_LARGE"));
    kmq_reply_destroy (&reply);
    reply = kmq_upload (kmq, "nb1", "df", "xml", "a", 1);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "BAD_REQUEST"));
    kmq_reply_destroy (&reply);
    //  a frame upload is a .kmqf, checked before anything is sent
    reply = kmq_upload (kmq, "nb1", "df", "frame", "\0\0\0\2KMQF1", 9);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "BAD_REQUEST"));
    SELFTEST_CHECK (strstr (kmq_reply_message (reply), ".kmqf: "));
    SELFTEST_CHECK (kmq_reply_write_kmqf (reply, NULL, error, sizeof error) == -1);
    SELFTEST_CHECK (strstr (error, "the reply carries no frame"));
    kmq_reply_destroy (&reply);
    SELFTEST_CHECK (s_fake_count (broker) == sent);

    //  An execute: our event only, stale ids ignored, accessors
    reply = kmq_execute (kmq, "nb1", "ok", 2, 0);
    SELFTEST_CHECK (kmq_reply_ok (reply));
    SELFTEST_CHECK (kmq_reply_error (reply) == NULL);
    SELFTEST_CHECK (streq (kmq_reply_message (reply), ""));
    SELFTEST_CHECK (seen.events == 1);
    SELFTEST_CHECK (streq (seen.last_kind, "stream"));
    SELFTEST_CHECK (streq (seen.data, "hi\n"));
    SELFTEST_CHECK (kmq_reply_uint (reply, "execution_count", 0) == 3);
    SELFTEST_CHECK (kmq_reply_state_lost (reply));
    SELFTEST_CHECK (streq (kmq_reply_notice (reply), "kernel replaced"));
    SELFTEST_CHECK (kmq_reply_strings (reply, "mime") == 1);
    SELFTEST_CHECK (streq (kmq_reply_string_at (reply, "mime", 0), "text/plain"));
    SELFTEST_CHECK (kmq_reply_string_at (reply, "mime", 1) == NULL);
    size_t size;
    const char *data = (const char *) kmq_reply_payload (reply, 0, &size);
    SELFTEST_CHECK (size == 2 && memcmp (data, "42", 2) == 0);
    SELFTEST_CHECK (kmq_reply_payload_count (reply) == 1);
    kmq_reply_destroy (&reply);

    //  A display event, a malformed one dropped, a result bundle
    memset (&seen, 0, sizeof seen);
    reply = kmq_execute (kmq, "nb1", "display", 7, 0);
    SELFTEST_CHECK (kmq_reply_ok (reply));
    SELFTEST_CHECK (seen.events == 1);
    SELFTEST_CHECK (streq (seen.last_kind, "display"));
    SELFTEST_CHECK (streq (seen.data, "<Figure>"));
    SELFTEST_CHECK (seen.mime_count == 2);
    SELFTEST_CHECK (streq (seen.mime [0], "text/plain") && streq (seen.mime [1], "image/png"));
    SELFTEST_CHECK (seen.png_size == 7 && seen.png_ok);
    SELFTEST_CHECK (kmq_reply_execution_count (reply) == 5);
    SELFTEST_CHECK (kmq_reply_mime_count (reply) == 2);
    SELFTEST_CHECK (streq (kmq_reply_mime (reply, 0), "text/plain"));
    SELFTEST_CHECK (streq (kmq_reply_mime (reply, 1), "text/html"));
    SELFTEST_CHECK (kmq_reply_mime (reply, 2) == NULL);
    data = (const char *) kmq_reply_mime_data (reply, 1, &size);
    SELFTEST_CHECK (size == 7 && memcmp (data, "<table>", 7) == 0);
    SELFTEST_CHECK (kmq_reply_mime_data (reply, 2, &size) == NULL && size == 0);
    data = (const char *) kmq_reply_mime_find (reply, "text/plain", &size);
    SELFTEST_CHECK (size == 9 && memcmp (data, "   A\n0  1", 9) == 0);
    SELFTEST_CHECK (kmq_reply_mime_find (reply, "image/png", &size) == NULL);
    kmq_reply_destroy (&reply);

    //  complete and inspect: cursor checked locally, replies read back
    reply = kmq_complete (kmq, "nb1", "df.gro", 6, 7);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "BAD_REQUEST"));
    kmq_reply_destroy (&reply);
    reply = kmq_complete (kmq, "bad key", "x", 1, 1);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "BAD_REQUEST"));
    kmq_reply_destroy (&reply);
    reply = kmq_complete (kmq, "nb1", "df.gro + 1", 10, 6);
    SELFTEST_CHECK (kmq_reply_ok (reply));
    SELFTEST_CHECK (kmq_reply_match_count (reply) == 2);
    SELFTEST_CHECK (streq (kmq_reply_match (reply, 0), "groupby"));
    SELFTEST_CHECK (kmq_reply_match (reply, 2) == NULL);
    SELFTEST_CHECK (kmq_reply_uint (reply, "cursor_start", 0) == 3);
    SELFTEST_CHECK (kmq_reply_uint (reply, "cursor_end", 0) == 6);
    char *json = kmq_reply_json (reply);
    SELFTEST_CHECK (streq (json, "{\"status\":\"ok\",\"session\":\"nb1\","
                        "\"matches\":[\"groupby\",\"gt\"],\"cursor_start\":3,"
                        "\"cursor_end\":6}"));
    free (json);
    kmq_reply_destroy (&reply);
    reply = kmq_inspect (kmq, "nb1", "len", 3, 3);
    SELFTEST_CHECK (kmq_reply_ok (reply) && kmq_reply_bool (reply, "found", false));
    data = (const char *) kmq_reply_mime_find (reply, "text/plain", &size);
    SELFTEST_CHECK (size == 11 && memcmp (data, "len(obj, /)", 11) == 0);
    kmq_reply_destroy (&reply);
    reply = kmq_inspect (kmq, "nb1", "nope", 4, 2);
    SELFTEST_CHECK (kmq_reply_ok (reply) && !kmq_reply_bool (reply, "found", true));
    SELFTEST_CHECK (kmq_reply_mime_count (reply) == 0);
    kmq_reply_destroy (&reply);

    //  A Python error
    reply = kmq_execute (kmq, "nb1", "err", 3, 0);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "PYTHON_ERROR"));
    SELFTEST_CHECK (streq (kmq_reply_str (reply, "ename"), "ZeroDivisionError"));
    SELFTEST_CHECK (streq (kmq_reply_str (reply, "evalue"), "division by zero"));
    SELFTEST_CHECK (kmq_reply_strings (reply, "traceback") == 2);
    SELFTEST_CHECK (streq (kmq_reply_string_at (reply, "traceback", 1),
                  "ZeroDivisionError: division by zero\n"));
    SELFTEST_CHECK (kmq_reply_uint (reply, "execution_count", 0) == 4);
    SELFTEST_CHECK (!kmq_reply_bool (reply, "killed", false));
    kmq_reply_destroy (&reply);

    //  vars rows
    reply = kmq_vars (kmq, "nb1");
    SELFTEST_CHECK (kmq_reply_var_count (reply) == 2);
    kmq_var_t var;
    SELFTEST_CHECK (kmq_reply_var (reply, 0, &var) == 0);
    SELFTEST_CHECK (streq (var.name, "df") && streq (var.type, "DataFrame"));
    SELFTEST_CHECK (var.ndim == 2 && var.shape [0] == 3 && var.shape [1] == 2 && !var.has_len);
    SELFTEST_CHECK (kmq_reply_var (reply, 1, &var) == 0);
    SELFTEST_CHECK (streq (var.name, "xs") && var.ndim == 0 && var.has_len && var.len == 5);
    SELFTEST_CHECK (kmq_reply_var (reply, 2, &var) == -1);
    kmq_reply_destroy (&reply);

    //  stats: structured and as JSON, with escaping
    reply = kmq_stats (kmq);
    SELFTEST_CHECK (kmq_reply_uint (reply, "sessions", 0) == 1);
    SELFTEST_CHECK (kmq_reply_session_count (reply) == 1);
    kmq_session_info_t info;
    SELFTEST_CHECK (kmq_reply_session (reply, 0, &info) == 0);
    SELFTEST_CHECK (streq (info.session, "nb1") && streq (info.state, "idle") && info.pid == 4121);
    json = kmq_reply_json (reply);
    SELFTEST_CHECK (streq (json, "{\"status\":\"ok\",\"broker\":\"fake \\\"1\\\"\\n\","
                        "\"sessions\":1,\"session_list\":[{\"session\":\"nb1\","
                        "\"state\":\"idle\",\"pid\":4121}]}"));
    free (json);
    kmq_reply_destroy (&reply);

    //  The interrupt flag: one interrupt goes out, the request ends
    flag = 1;
    reply = kmq_execute (kmq, "nb1", "wait", 4, 0);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "INTERRUPTED"));
    SELFTEST_CHECK (flag == 0);
    kmq_reply_destroy (&reply);
    reply = kmq_interrupt (kmq, "nb1");
    SELFTEST_CHECK (kmq_reply_ok (reply) && !kmq_reply_bool (reply, "interrupted", true));
    kmq_reply_destroy (&reply);

    //  attach, then an eviction arrives through kmq_listen
    reply = kmq_attach (kmq, "nb1");
    SELFTEST_CHECK (kmq_reply_ok (reply));
    kmq_reply_destroy (&reply);
    seen.events = 0;
    SELFTEST_CHECK (kmq_listen (kmq, 2000) == 1);
    SELFTEST_CHECK (streq (seen.last_kind, "evicted"));
    SELFTEST_CHECK (kmq_listen (kmq, 0) == 0);
    reply = kmq_detach (kmq, "nb1");
    SELFTEST_CHECK (kmq_reply_ok (reply));
    kmq_reply_destroy (&reply);

    //  A broker that goes silent: BROKER_LOST after interval x liveness
    reply = kmq_execute (kmq, "nb1", "mute", 4, 0);
    SELFTEST_CHECK (streq (kmq_reply_error (reply), "BROKER_LOST"));
    SELFTEST_CHECK (strstr (kmq_reply_message (reply), "stopped answering"));
    kmq_reply_destroy (&reply);
    SELFTEST_CHECK (kmq_listen (kmq, 5000) == -1);
    SELFTEST_CHECK (strstr (kmq_error (kmq), "stopped answering"));

    kmq_destroy (&kmq);
    kmq_destroy (&kmq);
    zactor_destroy (&broker);
}

//  kmq_reply_json writes UTF-8 whatever bytes a kernel put in a string:
//  valid sequences as they are, any other byte as U+FFFD.
static void
s_test_json_utf8 (void)
{
    proto_builder_t *b = proto_reply_error_begin (3, "nb1", PROTO_E_PYTHON_ERROR,
                                                  "caf\xc3\xa9 \xff\xe2\x82 \xed\xa0\x80!");
    proto_msg_t *msg = proto_decode (&(zmsg_t *) { proto_builder_finish (&b) }, NULL);
    SELFTEST_CHECK (msg);
    kmq_reply_t *reply = kmq_reply_from_msg (&msg);
    char *json = kmq_reply_json (reply);
    SELFTEST_CHECK (streq (json, "{\"status\":\"error\",\"error\":\"PYTHON_ERROR\","
                        "\"message\":\"caf\xc3\xa9 \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd"
                        "\\ufffd!\",\"session\":\"nb1\"}"));
    free (json);
    kmq_reply_destroy (&reply);
}

//  Map keys that are not strings: a scalar as its text, a container by
//  its kind, so keys nested in keys cost what they weigh (28 levels once
//  made gigabytes of escapes).
static void
s_test_json_keys (void)
{
    //  {type: reply, id: 1, status: ok, vars: [{1: "a", {2: 3}: "b", K: 1}]},
    //  K 28 maps nested as keys, {{...{1: 1}...: 1}: 1} (msgpack-c stops at 32)
    static const char start [] =
        "\x84\xa4type\xa5reply\xa2id\x01\xa6status\xa2ok\xa4vars\x91\x83"
        "\x01\xa1" "a\x81\x02\x03\xa1" "b";
    zchunk_t *header = zchunk_new (start, sizeof start - 1);
    for (int i = 0; i < 28; i++)
        zchunk_extend (header, "\x81", 1);
    for (int i = 0; i < 28 + 2; i++)
        zchunk_extend (header, "\x01", 1);
    zmsg_t *raw = zmsg_new ();
    zmsg_addstr (raw, "KMQ1");
    zmsg_addmem (raw, zchunk_data (header), zchunk_size (header));
    zchunk_destroy (&header);
    proto_msg_t *msg = proto_decode (&raw, NULL);
    SELFTEST_CHECK (msg);
    kmq_reply_t *reply = kmq_reply_from_msg (&msg);
    char *json = kmq_reply_json (reply);
    SELFTEST_CHECK (streq (json, "{\"status\":\"ok\",\"vars\":[{\"1\":\"a\","
                                 "\"(map)\":\"b\",\"(map)\":1}]}"));
    free (json);
    kmq_reply_destroy (&reply);
}

void
kmq_test (bool verbose)
{
    s_test_offline (verbose);
    s_test_json_utf8 ();
    s_test_json_keys ();
    s_test_fake (verbose);
}
