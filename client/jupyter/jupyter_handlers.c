/*  jupyter_handlers — one handler per Jupyter msg_type, in one table, as
    xeus's interpreter has them. A handler answers at once (kernel_info,
    comm_info) or sends a kernelmq request and answers from its reply
    (execute, complete, inspect, is_complete, history, interrupt,
    shutdown with restart of a shared session).

    Every shell and control request is framed by IOPub status busy and idle
    with the request as parent. Executes run one at a time, in order; when
    one fails and asked stop_on_error, those waiting are aborted as
    ipykernel does. */
#include <czmq.h>
#include <fnmatch.h>
#include "jupyter_internal.h"
#include "jupyter_mime.h"
#include "mem.h"

#ifndef KMQ_PYTHON_VERSION
#   define KMQ_PYTHON_VERSION "3"
#endif
#define S_IMPLEMENTATION_VERSION "0.1.0"

typedef void (s_handler_fn) (jupyter_kernel_t *self, jupyter_msg_t **msg_p,
                             jupyter_channel_t channel);

//  Answers request (taken) with msg_type and content (taken), then idle.
static void
s_finish (jupyter_kernel_t *self, jupyter_msg_t **request_p,
          jupyter_channel_t channel, const char *msg_type, json_t *content)
{
    jupyter_kernel_reply (self, *request_p, channel, msg_type, content);
    jupyter_kernel_status (self, *request_p, "idle");
    jupyter_msg_destroy (request_p);
}

//  The request's code, and its length in bytes.
static const char *
s_code (jupyter_msg_t *request, size_t *len)
{
    const char *code = jupyter_msg_str (request, "code", "");
    *len = strlen (code);
    return code;
}

//  --- kernel_info, comm_info -------------------------------------------------

static void
s_kernel_info (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    char *banner = mem_sprintf (
        "Python " KMQ_PYTHON_VERSION " in a kernelmq sandbox\n"
        "session %s on the broker at %s%s\n"
        "Ctrl-C interrupts; input() is not available (upload data instead).\n",
        self->session, kmq_async_endpoint (self->kmq),
        self->shared? " (shared)": "");
    json_t *content = json_pack (
        "{s:s, s:s, s:s, s:s, s:s, s:b,"
        " s:{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:i}, s:s},"
        " s:[{s:s, s:s}, {s:s, s:s}]}",
        "status", "ok", "protocol_version", JUPYTER_PROTOCOL_VERSION,
        "implementation", "kmq-jupyter",
        "implementation_version", S_IMPLEMENTATION_VERSION,
        "banner", banner, "debugger", false,
        "language_info", "name", "python", "version", KMQ_PYTHON_VERSION,
        "mimetype", "text/x-python", "file_extension", ".py",
        "pygments_lexer", "ipython3", "codemirror_mode", "name", "ipython",
        "version", 3, "nbconvert_exporter", "python",
        "help_links", "text", "Python Reference",
        "url", "https://docs.python.org/3.11/",
        "text", "pandas", "url", "https://pandas.pydata.org/docs/");
    free (banner);
    s_finish (self, msg_p, channel, "kernel_info_reply", content);
}

static void
s_comm_info (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    s_finish (self, msg_p, channel, "comm_info_reply",
              json_pack ("{s:s, s:{}}", "status", "ok", "comms"));
}

//  --- execute ------------------------------------------------------------------

//  Answers a waiting execute as aborted (an earlier one failed).
static void
s_abort (jupyter_kernel_t *self, jupyter_msg_t **msg_p)
{
    jupyter_kernel_status (self, *msg_p, "busy");
    s_finish (self, msg_p, JUPYTER_SHELL, "execute_reply",
              json_pack ("{s:s}", "status", "aborted"));
}

static void
s_execute_done (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    json_t *parent = jupyter_msg_header (pending->request);
    for (int i = 0; i < 2; i++)             //  a character never completed
        if (pending->carry.size [i])
            jupyter_kernel_publish (self, parent, "stream", json_pack (
                "{s:s, s:o}", "name", i? "stderr": "stdout", "text",
                kmq_json_text (pending->carry.bytes [i], pending->carry.size [i])));
    jupyter_output_result (self, reply, parent, pending->silent);
    uint64_t count = kmq_reply_execution_count (reply);
    if (count && !pending->store_history) {
        char key [24];
        snprintf (key, sizeof key, "%" PRIu64, count);
        zhash_update (self->unstored, key, self);
    }
    bool ok = kmq_reply_ok (reply);
    json_t *content = ok? json_pack ("{s:s, s:{}, s:[]}", "status", "ok",
                                     "user_expressions", "payload")
                        : jupyter_output_error (reply);
    if (!ok)
        json_object_set_new (content, "status", json_string ("error"));
    json_object_set_new (content, "execution_count", json_integer ((json_int_t) count));
    s_finish (self, &pending->request, JUPYTER_SHELL, "execute_reply", content);
    if (!ok && pending->stop_on_error) {
        jupyter_msg_t *waiting;
        while ((waiting = (jupyter_msg_t *) zlist_pop (self->executes)))
            s_abort (self, &waiting);
    }
    if (kmq_reply_state_lost (reply))
        self->attached = false;     //  a fresh kernel: attach again
    if (ok || !streq (kmq_reply_error (reply), "BROKER_LOST"))
        jupyter_kernel_attach (self);
    self->executing = false;
    jupyter_kernel_next_execute (self);
}

void
jupyter_handlers_execute (jupyter_kernel_t *self, jupyter_msg_t **msg_p)
{
    jupyter_msg_t *msg = *msg_p;
    jupyter_kernel_status (self, msg, "busy");
    size_t len;
    const char *code = s_code (msg, &len);
    bool silent = jupyter_msg_bool (msg, "silent", false);
    bool store_history = !silent && jupyter_msg_bool (msg, "store_history", true);
    bool stop_on_error = jupyter_msg_bool (msg, "stop_on_error", true);
    uint64_t id = kmq_async_execute (self->kmq, self->session, code, len, 0);
    jupyter_pending_t *pending = jupyter_kernel_track (self, id, msg_p, JUPYTER_SHELL,
                                                       s_execute_done);
    pending->silent = silent;
    pending->store_history = store_history;
    pending->stop_on_error = stop_on_error;
    self->executing = true;
}

static void
s_execute (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    (void) channel;
    zlist_append (self->executes, *msg_p);
    *msg_p = NULL;
    jupyter_kernel_next_execute (self);
}

//  --- complete, inspect, is_complete -------------------------------------------

//  The request's cursor_pos (code points, default the end) as a byte offset.
static size_t
s_cursor (jupyter_msg_t *request, const char *code, size_t len)
{
    json_int_t cursor = jupyter_msg_int (request, "cursor_pos", -1);
    if (cursor < 0)
        return len;
    return jupyter_mime_cursor_to_byte (code, len, (size_t) cursor);
}

static void
s_complete_done (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    size_t len;
    const char *code = s_code (pending->request, &len);
    size_t cursor = jupyter_mime_byte_to_cursor (code, len, s_cursor (pending->request, code, len));
    json_t *matches = json_array ();
    size_t start = cursor, end = cursor;
    if (kmq_reply_ok (reply)) {
        for (size_t i = 0; i < kmq_reply_match_count (reply); i++) {
            const char *match = kmq_reply_match (reply, i);
            json_array_append_new (matches, kmq_json_text (match, strlen (match)));
        }
        start = jupyter_mime_byte_to_cursor (code, len, kmq_reply_uint (reply, "cursor_start", 0));
        end = jupyter_mime_byte_to_cursor (code, len, kmq_reply_uint (reply, "cursor_end", 0));
    }
    s_finish (self, &pending->request, pending->channel, "complete_reply", json_pack (
        "{s:s, s:o, s:I, s:I, s:{}}", "status", "ok", "matches", matches,
        "cursor_start", (json_int_t) start, "cursor_end", (json_int_t) end,
        "metadata"));
}

static void
s_complete (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    size_t len;
    const char *code = s_code (*msg_p, &len);
    uint64_t id = kmq_async_complete (self->kmq, self->session, code, len,
                                      s_cursor (*msg_p, code, len));
    jupyter_kernel_track (self, id, msg_p, channel, s_complete_done);
}

static void
s_inspect_done (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    bool found = kmq_reply_ok (reply) && kmq_reply_bool (reply, "found", false);
    s_finish (self, &pending->request, pending->channel, "inspect_reply", json_pack (
        "{s:s, s:b, s:o, s:{}}", "status", "ok", "found", found,
        "data", found? kmq_json_bundle (reply): json_object (), "metadata"));
}

static void
s_inspect (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    size_t len;
    const char *code = s_code (*msg_p, &len);
    uint64_t id = kmq_async_inspect (self->kmq, self->session, code, len,
                                     s_cursor (*msg_p, code, len));
    jupyter_kernel_track (self, id, msg_p, channel, s_inspect_done);
}

static void
s_is_complete_done (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    const char *status = kmq_reply_ok (reply)? kmq_reply_str (reply, "completeness"): NULL;
    if (!status || (strcmp (status, "complete") && strcmp (status, "incomplete")
                    && strcmp (status, "invalid")))
        status = "unknown";         //  the frontend then decides itself
    json_t *content = json_pack ("{s:s}", "status", status);
    if (streq (status, "incomplete")) {
        const char *indent = kmq_reply_str (reply, "indent");
        json_object_set_new (content, "indent",
                             kmq_json_text (indent? indent: "", indent? strlen (indent): 0));
    }
    s_finish (self, &pending->request, pending->channel, "is_complete_reply", content);
}

static void
s_is_complete (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    size_t len;
    const char *code = s_code (*msg_p, &len);
    uint64_t id = kmq_async_is_complete (self->kmq, self->session, code, len);
    jupyter_kernel_track (self, id, msg_p, channel, s_is_complete_done);
}

//  --- history ---------------------------------------------------------------------

//  The reply's cells, oldest first, without those run with store_history
//  false here: an array of {execution_count, code}. Caller owns it.
static json_t *
s_cells (jupyter_kernel_t *self, kmq_reply_t *reply)
{
    json_t *cells = json_array ();
    if (!kmq_reply_ok (reply))
        return cells;
    char *text = kmq_reply_json (reply);
    json_t *fields = json_loads (text, 0, NULL);
    free (text);
    size_t index;
    json_t *cell;
    json_array_foreach (json_object_get (fields, "cells"), index, cell) {
        json_t *count = json_object_get (cell, "execution_count");
        char key [24];
        snprintf (key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value (count));
        if (json_is_integer (count) && json_is_string (json_object_get (cell, "code"))
        &&  !zhash_lookup (self->unstored, key))
            json_array_append (cells, cell);
    }
    json_decref (fields);
    return cells;
}

//  Jupyter's history_request over the session's cells: tail (the last n),
//  range (start <= execution_count < stop), search (a glob pattern; the
//  last n matches; unique drops repeats). With output, each entry's third
//  item is [input, output], and output is null: the kernel keeps no outputs.
static void
s_history_done (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    jupyter_msg_t *request = pending->request;
    const char *access = jupyter_msg_str (request, "hist_access_type", "tail");
    json_int_t n = jupyter_msg_int (request, "n", 0);
    json_int_t start = jupyter_msg_int (request, "start", 0);
    json_int_t stop = jupyter_msg_int (request, "stop", 0);
    const char *pattern = jupyter_msg_str (request, "pattern", "*");
    bool unique = jupyter_msg_bool (request, "unique", false);
    bool output = jupyter_msg_bool (request, "output", false);
    json_t *cells = s_cells (self, reply);
    json_t *chosen = json_array ();
    zhash_t *seen = zhash_new ();
    //  Newest first, so "the last n" and "unique keeps the latest" are simple
    for (size_t i = json_array_size (cells); i-- > 0; ) {
        json_t *cell = json_array_get (cells, i);
        json_int_t count = json_integer_value (json_object_get (cell, "execution_count"));
        const char *code = json_string_value (json_object_get (cell, "code"));
        if (streq (access, "range")
        &&  (count < start || (stop > 0 && count >= stop)))
            continue;
        if (streq (access, "search")) {
            if (fnmatch (pattern, code, 0) != 0)
                continue;
            if (unique && zhash_lookup (seen, code))
                continue;
            zhash_insert (seen, code, self);
        }
        if (!streq (access, "range") && n > 0 && (json_int_t) json_array_size (chosen) >= n)
            break;
        json_t *input = output? json_pack ("[s, n]", code): json_string (code);
        json_array_insert_new (chosen, 0, json_pack ("[i, I, o]", 1, count, input));
    }
    zhash_destroy (&seen);
    json_decref (cells);
    s_finish (self, &pending->request, pending->channel, "history_reply",
              json_pack ("{s:s, s:o}", "status", "ok", "history", chosen));
}

static void
s_history (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    uint64_t id = kmq_async_history (self->kmq, self->session, 0);
    jupyter_kernel_track (self, id, msg_p, channel, s_history_done);
}

//  --- interrupt, shutdown -----------------------------------------------------------

static void
s_interrupt_done (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    //  NO_SUCH_SESSION: nothing ran, so nothing to interrupt; still ok
    json_t *content = kmq_reply_ok (reply) || streq (kmq_reply_error (reply), "NO_SUCH_SESSION")
                    ? json_pack ("{s:s}", "status", "ok")
                    : jupyter_output_error (reply);
    if (!json_object_get (content, "status"))
        json_object_set_new (content, "status", json_string ("error"));
    s_finish (self, &pending->request, pending->channel, "interrupt_reply", content);
}

static void
s_interrupt (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    uint64_t id = kmq_async_interrupt (self->kmq, self->session);
    jupyter_kernel_track (self, id, msg_p, channel, s_interrupt_done);
}

static void
s_shutdown_done (jupyter_kernel_t *self, jupyter_pending_t *pending, kmq_reply_t *reply)
{
    if (reply && !kmq_reply_ok (reply))
        zsys_warning ("jupyter: session %s: reset for restart: %s", self->session,
                      kmq_reply_message (reply));
    bool restart = jupyter_msg_bool (pending->request, "restart", false);
    s_finish (self, &pending->request, pending->channel, "shutdown_reply",
              json_pack ("{s:s, s:b}", "status", "ok", "restart", restart));
    self->done = true;
}

//  A private session is closed when the loop ends (a restarted kernel
//  process draws a fresh key: a fresh kernel). A shared one stays for its
//  other clients: a restart resets it (same key, fresh namespace), and the
//  loop's end only detaches.
static void
s_shutdown (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    bool restart = jupyter_msg_bool (*msg_p, "restart", false);
    zsys_info ("jupyter: session %s: shutdown%s requested", self->session,
               restart? " with restart": "");
    if (self->shared && restart) {
        uint64_t id = kmq_async_reset (self->kmq, self->session);
        jupyter_kernel_track (self, id, msg_p, channel, s_shutdown_done);
        return;
    }
    jupyter_pending_t now = { .request = *msg_p, .channel = channel };
    *msg_p = NULL;
    s_shutdown_done (self, &now, NULL);
}

//  --- the table -----------------------------------------------------------------------

static void
s_ignore (jupyter_kernel_t *self, jupyter_msg_t **msg_p, jupyter_channel_t channel)
{
    (void) channel;
    JUPYTER_DEBUG (self, "jupyter: session %s: %s ignored (no comms, no stdin)",
                self->session, jupyter_msg_type (*msg_p));
    jupyter_kernel_status (self, *msg_p, "idle");
    jupyter_msg_destroy (msg_p);
}

static const struct {
    const char *msg_type;
    s_handler_fn *handler;
} s_handlers [] = {
    { "kernel_info_request", s_kernel_info },
    { "execute_request", s_execute },
    { "complete_request", s_complete },
    { "inspect_request", s_inspect },
    { "is_complete_request", s_is_complete },
    { "history_request", s_history },
    { "comm_info_request", s_comm_info },
    { "interrupt_request", s_interrupt },
    { "shutdown_request", s_shutdown },
    { "comm_open", s_ignore },
    { "comm_msg", s_ignore },
    { "comm_close", s_ignore },
    { "input_reply", s_ignore },
};

void
jupyter_handlers_dispatch (jupyter_kernel_t *self, jupyter_msg_t **msg_p,
                           jupyter_channel_t channel)
{
    const char *type = jupyter_msg_type (*msg_p);
    JUPYTER_DEBUG (self, "jupyter: session %s: <- %s", self->session, type);
    for (size_t i = 0; i < sizeof s_handlers / sizeof s_handlers [0]; i++) {
        if (!streq (s_handlers [i].msg_type, type))
            continue;
        //  An execute says busy when it starts running, not when it queues
        if (!streq (type, "execute_request"))
            jupyter_kernel_status (self, *msg_p, "busy");
        s_handlers [i].handler (self, msg_p, channel);
        return;
    }
    zsys_warning ("jupyter: session %s: unknown message type %.60s ignored",
                  self->session, type);
    jupyter_msg_destroy (msg_p);
}
