/*  http_exec — an execute's events and reply as E2B JSON and SSE. See
    http_exec.h. The trap: stream chunks may split a UTF-8 character, and
    JSON strings must be whole text, so each stream holds back an
    incomplete tail until its next chunk (or the reply).                  */
#include <czmq.h>
#include "http_exec.h"
#include "http_status.h"
#include "kmq_json.h"
#include "kmq_private.h"
#include "mem.h"
#include "selftest.h"

typedef struct {
    json_t *chunks;                 //  array of strings
    zchunk_t *all;                  //  the text, joined
    char carry [4];                 //  an incomplete character's first bytes
    size_t carried;
} s_stream_t;

struct _http_exec_t {
    s_stream_t streams [2];         //  stdout, stderr
    json_t *results;
    bool truncated;
    char *joined;                   //  http_exec_output's answer
};

//  E2B's names for the MIME types it knows.
static const char *s_short [][2] = {
    { "text/plain", "text" }, { "text/html", "html" }, { "text/markdown", "markdown" },
    { "text/latex", "latex" }, { "image/svg+xml", "svg" }, { "image/png", "png" },
    { "image/jpeg", "jpeg" }, { "application/pdf", "pdf" },
    { "application/json", "json" }, { "application/javascript", "javascript" },
};

http_exec_t *
http_exec_new (void)
{
    http_exec_t *self = (http_exec_t *) zmalloc (sizeof (http_exec_t));
    for (int i = 0; i < 2; i++) {
        self->streams [i].chunks = json_array ();
        self->streams [i].all = zchunk_new (NULL, 0);
    }
    self->results = json_array ();
    return self;
}

void
http_exec_destroy (http_exec_t **self_p)
{
    assert (self_p);
    http_exec_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < 2; i++) {
        json_decref (self->streams [i].chunks);
        zchunk_destroy (&self->streams [i].all);
    }
    json_decref (self->results);
    free (self->joined);
    free (self);
    *self_p = NULL;
}

json_t *
http_exec_result (kmq_reply_t *msg, bool main)
{
    json_t *bundle = kmq_json_bundle (msg);
    json_t *result = json_object ();
    json_object_set_new (result, "is_main_result", json_boolean (main));
    for (size_t i = 0; i < sizeof s_short / sizeof s_short [0]; i++) {
        json_t *value = json_object_get (bundle, s_short [i][0]);
        if (value)
            json_object_set (result, s_short [i][1], value);
    }
    json_object_set_new (result, "mime", bundle);
    return result;
}

//  Adds size bytes to a stream (with what it carried); returns the text
//  that is whole now, or NULL when none is.
static json_t *
s_stream_add (s_stream_t *stream, const void *data, size_t size)
{
    size_t total = stream->carried + size;
    char *text = (char *) mem_alloc (total + 1);
    memcpy (text, stream->carry, stream->carried);
    memcpy (text + stream->carried, data, size);
    size_t whole = kmq_json_complete_utf8 (text, total);
    stream->carried = total - whole;
    memcpy (stream->carry, text + whole, stream->carried);
    json_t *string = whole? kmq_json_text (text, whole): NULL;
    free (text);
    if (string) {
        json_array_append (stream->chunks, string);
        zchunk_extend (stream->all, json_string_value (string),
                       json_string_length (string));
    }
    return string;
}

//  What is left in the carries at the end: repaired into the logs.
static void
s_streams_flush (http_exec_t *self)
{
    for (int i = 0; i < 2; i++) {
        s_stream_t *stream = &self->streams [i];
        if (!stream->carried)
            continue;
        json_t *string = kmq_json_text (stream->carry, stream->carried);
        stream->carried = 0;
        json_array_append (stream->chunks, string);
        zchunk_extend (stream->all, json_string_value (string), json_string_length (string));
        json_decref (string);
    }
}

json_t *
http_exec_event (http_exec_t *self, kmq_reply_t *event, const char **name)
{
    assert (self && event && name);
    const char *kind = kmq_reply_event (event);
    *name = NULL;
    if (!kind)
        return NULL;
    if (streq (kind, "stream")) {
        const char *which = kmq_reply_str (event, "name");
        bool err = which && streq (which, "stderr");
        size_t size = 0;
        const void *data = kmq_reply_payload (event, 0, &size);
        json_t *text = s_stream_add (&self->streams [err], data? data: "", data? size: 0);
        if (!text)
            return NULL;
        *name = "stream";
        return json_pack ("{s:s, s:o}", "name", err? "stderr": "stdout", "text", text);
    }
    if (streq (kind, "display")) {
        json_t *result = http_exec_result (event, false);
        bool wait;
        if (!kmq_json_is_clear_output (event, &wait))
            json_array_append (self->results, result);
        *name = "display";
        return result;
    }
    if (streq (kind, "truncated")) {
        self->truncated = true;
        *name = "truncated";
        const char *which = kmq_reply_str (event, "name");
        return json_pack ("{s:s, s:I}", "name", which? which: "",
                          "limit", (json_int_t) kmq_reply_uint (event, "limit", 0));
    }
    return NULL;
}

json_t *
http_exec_traceback (kmq_reply_t *reply)
{
    zchunk_t *all = zchunk_new (NULL, 0);
    size_t count = kmq_reply_strings (reply, "traceback");
    for (size_t i = 0; i < count; i++) {
        const char *line = kmq_reply_string_at (reply, "traceback", i);
        if (!line)
            continue;
        size_t len = strlen (line);
        zchunk_extend (all, line, len);
        if (len && line [len - 1] != '\n' && i + 1 < count)
            zchunk_extend (all, "\n", 1);
    }
    json_t *text = kmq_json_text (zchunk_data (all), zchunk_size (all));
    zchunk_destroy (&all);
    return text;
}

static void
s_set_counts (json_t *object, kmq_reply_t *reply)
{
    if (kmq_reply_has (reply, "execution_count"))
        json_object_set_new (object, "execution_count",
                             json_integer ((json_int_t) kmq_reply_execution_count (reply)));
    if (kmq_reply_has (reply, "duration_ms"))
        json_object_set_new (object, "duration_ms",
                             json_integer ((json_int_t) kmq_reply_uint (reply, "duration_ms", 0)));
}

static json_t *
s_str (const char *text)
{
    return kmq_json_text (text? text: "", text? strlen (text): 0);
}

json_t *
http_exec_answer (http_exec_t *self, kmq_reply_t *reply, unsigned *status)
{
    assert (self && reply && status);
    s_streams_flush (self);
    const char *error = kmq_reply_error (reply);
    json_t *answer = json_object ();
    bool python = error && streq (error, "PYTHON_ERROR");
    if (error && !python) {
        *status = http_status_of (error);
        json_object_set_new (answer, "error", s_str (error));
        json_object_set_new (answer, "message", s_str (kmq_reply_message (reply)));
        if (kmq_reply_has (reply, "killed"))
            json_object_set_new (answer, "killed", json_boolean (kmq_reply_bool (reply, "killed", false)));
        if (kmq_reply_str (reply, "cause"))
            json_object_set_new (answer, "cause", s_str (kmq_reply_str (reply, "cause")));
    }
    else {
        *status = 200;
        size_t size = 0;
        const void *text = kmq_reply_mime_find (reply, "text/plain", &size);
        json_object_set_new (answer, "text", text? kmq_json_text (text, size): json_null ());
        if (kmq_reply_mime_count (reply) > 0)
            json_array_append_new (self->results, http_exec_result (reply, true));
        json_object_set_new (answer, "error", python
            ? json_pack ("{s:o, s:o, s:o}", "name", s_str (kmq_reply_str (reply, "ename")),
                         "value", s_str (kmq_reply_str (reply, "evalue")),
                         "traceback", http_exec_traceback (reply))
            : json_null ());
    }
    json_object_set_new (answer, "logs", json_pack ("{s:O, s:O}",
                         "stdout", self->streams [0].chunks,
                         "stderr", self->streams [1].chunks));
    json_object_set (answer, "results", self->results);
    s_set_counts (answer, reply);
    json_object_set_new (answer, "truncated", json_boolean (self->truncated));
    json_object_set_new (answer, "state_lost", json_boolean (kmq_reply_state_lost (reply)));
    if (*kmq_reply_notice (reply))
        json_object_set_new (answer, "notice", s_str (kmq_reply_notice (reply)));
    return answer;
}

json_t *
http_exec_final_event (http_exec_t *self, kmq_reply_t *reply, const char **name)
{
    assert (self && reply && name);
    s_streams_flush (self);
    const char *error = kmq_reply_error (reply);
    json_t *event = json_object ();
    if (!error) {
        *name = "result";
        size_t size = 0;
        const void *text = kmq_reply_mime_find (reply, "text/plain", &size);
        json_object_set_new (event, "text", text? kmq_json_text (text, size): json_null ());
        json_object_set_new (event, "result", kmq_reply_mime_count (reply)
                             ? http_exec_result (reply, true): json_null ());
    }
    else {
        *name = "error";
        bool python = streq (error, "PYTHON_ERROR");
        json_object_set_new (event, "code", s_str (error));
        json_object_set_new (event, "message", s_str (kmq_reply_message (reply)));
        json_object_set_new (event, "name", s_str (python? kmq_reply_str (reply, "ename"): error));
        json_object_set_new (event, "value", s_str (python? kmq_reply_str (reply, "evalue")
                                                          : kmq_reply_message (reply)));
        json_object_set_new (event, "traceback", http_exec_traceback (reply));
        json_object_set_new (event, "status", json_integer (python? 200: http_status_of (error)));
    }
    s_set_counts (event, reply);
    json_object_set_new (event, "state_lost", json_boolean (kmq_reply_state_lost (reply)));
    return event;
}

const char *
http_exec_output (http_exec_t *self, const char *stream)
{
    assert (self && stream);
    s_stream_t *which = &self->streams [streq (stream, "stderr")];
    free (self->joined);
    self->joined = mem_strndup ((const char *) zchunk_data (which->all), zchunk_size (which->all));
    return self->joined;
}

char *
http_exec_sse (const char *name, json_t *data, size_t *size)
{
    assert (name && data && size);
    char *json = json_dumps (data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!json)
        mem_oom ("an SSE event");
    //  Compact JSON has no raw newline (strings escape theirs): one data line
    char *event = mem_sprintf ("event: %s\ndata: %s\n\n", name, json);
    free (json);
    *size = strlen (event);
    return event;
}

//  A decoded message, as the broker would send it, for the selftest.
static kmq_reply_t *
s_decoded (zmsg_t *zmsg)
{
    proto_fault_t fault;
    proto_msg_t *msg = proto_decode (&zmsg, &fault);
    SELFTEST_CHECK (msg);
    return kmq_reply_from_msg (&msg);
}

void
http_exec_test (bool verbose)
{
    if (verbose)
        printf (" * http_exec: ");
    http_exec_t *exec = http_exec_new ();
    const char *name;
    //  "é" split across two stdout chunks: one whole string, once
    kmq_reply_t *event = s_decoded (proto_encode_stream (7, "nb1", "stdout", "caf\xc3", 4));
    json_t *data = http_exec_event (exec, event, &name);
    SELFTEST_CHECK (data && streq (name, "stream"));
    SELFTEST_CHECK (streq (json_string_value (json_object_get (data, "text")), "caf"));
    json_decref (data);
    kmq_reply_destroy (&event);
    event = s_decoded (proto_encode_stream (7, "nb1", "stdout", "\xa9\n", 2));
    data = http_exec_event (exec, event, &name);
    SELFTEST_CHECK (streq (json_string_value (json_object_get (data, "text")), "\xc3\xa9\n"));
    json_decref (data);
    kmq_reply_destroy (&event);
    SELFTEST_CHECK (streq (http_exec_output (exec, "stdout"), "caf\xc3\xa9\n"));
    //  A figure: PNG as base64 under png and in the bundle
    const char *mime [] = { "text/plain", "image/png" };
    const void *payloads [] = { "<Figure>", "\x89PNG" };
    size_t sizes [] = { 8, 4 };
    event = s_decoded (proto_encode_display (7, "nb1", mime, payloads, sizes, 2));
    data = http_exec_event (exec, event, &name);
    SELFTEST_CHECK (streq (name, "display"));
    SELFTEST_CHECK (streq (json_string_value (json_object_get (data, "png")), "iVBORw=="));
    SELFTEST_CHECK (json_is_false (json_object_get (data, "is_main_result")));
    json_decref (data);
    kmq_reply_destroy (&event);
    size_t size;
    json_t *sse_data = json_pack ("{s:s}", "text", "a\nb");
    char *sse = http_exec_sse ("stream", sse_data, &size);
    SELFTEST_CHECK (streq (sse, "event: stream\ndata: {\"text\":\"a\\nb\"}\n\n"));
    SELFTEST_CHECK (size == strlen (sse));
    free (sse);
    json_decref (sse_data);
    http_exec_destroy (&exec);
    SELFTEST_CHECK (!exec);
    if (verbose)
        printf ("OK\n");
}
