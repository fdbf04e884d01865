/*  jupyter_output — kernelmq events and results as IOPub messages.

        kernelmq                          Jupyter IOPub
        stream stdout/stderr          ->  stream (text; a split character
                                          waits for the next chunk)
        display                       ->  display_data (data: the bundle
                                          as JSON, images base64)
        display of clear-output type  ->  clear_output {wait}
        input (execute)               ->  execute_input {code, execution_count}
        truncated                     ->  stream stderr, one line
        reply ok with a result        ->  execute_result
        reply error                   ->  error {ename, evalue, traceback}
        status busy/idle (id 0)       ->  status
        outcome (id 0)                ->  execute_result or error
        kernel, evicted, detached     ->  stream stderr, one line          */
#include <czmq.h>
#include "jupyter_internal.h"
#include "jupyter_mime.h"
#include "mem.h"

static void
s_stream (jupyter_kernel_t *self, json_t *parent, const char *name,
          json_t *text)
{
    jupyter_kernel_publish (self, parent, "stream",
                            json_pack ("{s:s, s:o}", "name", name, "text", text));
}

//  A stream chunk: prepends what the last chunk held back, holds back an
//  incomplete character at its end.
static void
s_stream_chunk (jupyter_kernel_t *self, kmq_reply_t *event, json_t *parent,
                jupyter_carry_t *carry)
{
    const char *name = kmq_reply_str (event, "name");
    name = name && streq (name, "stderr")? "stderr": "stdout";
    int which = streq (name, "stderr")? 1: 0;
    size_t size = 0;
    const void *data = kmq_reply_payload (event, 0, &size);
    if (!data)
        return;
    size_t held = carry? carry->size [which]: 0;
    char *text = (char *) mem_alloc (held + size + 1);
    if (held)
        memcpy (text, carry->bytes [which], held);
    memcpy (text + held, data, size);
    size_t total = held + size;
    size_t whole = carry? kmq_json_complete_utf8 (text, total): total;
    if (carry) {
        carry->size [which] = total - whole;
        memcpy (carry->bytes [which], text + whole, total - whole);
    }
    if (whole > 0)
        s_stream (self, parent, name, kmq_json_text (text, whole));
    free (text);
}

static void
s_display (jupyter_kernel_t *self, kmq_reply_t *event, json_t *parent)
{
    bool wait = false;
    if (kmq_json_is_clear_output (event, &wait)) {
        jupyter_kernel_publish (self, parent, "clear_output",
                                json_pack ("{s:b}", "wait", wait));
        return;
    }
    jupyter_kernel_publish (self, parent, "display_data",
                            json_pack ("{s:o, s:{}, s:{}}", "data",
                                       kmq_json_bundle (event),
                                       "metadata", "transient"));
}

static void
s_notice (jupyter_kernel_t *self, json_t *parent, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *line = mem_vsprintf (format, args);
    va_end (args);
    s_stream (self, parent, "stderr", kmq_json_text (line, strlen (line)));
    free (line);
}

void
jupyter_output_event (jupyter_kernel_t *self, kmq_reply_t *event,
                      json_t *parent, jupyter_carry_t *carry, bool silent)
{
    const char *kind = kmq_reply_event (event);
    const char *message = kmq_reply_str (event, "message");
    if (streq (kind, "stream"))
        s_stream_chunk (self, event, parent, carry);
    else
    if (streq (kind, "display"))
        s_display (self, event, parent);
    else
    if (streq (kind, "input")) {
        const char *type = kmq_reply_str (event, "request_type");
        size_t size = 0;
        const void *code = kmq_reply_payload (event, 0, &size);
        if (silent || !type || !streq (type, "execute"))
            return;
        json_t *text = kmq_json_text (code? code: "", code? size: 0);
        jupyter_kernel_publish (self, parent, "execute_input", json_pack (
            "{s:o, s:I}", "code", text, "execution_count",
            (json_int_t) kmq_reply_uint (event, "execution_count", 0)));
    }
    else
    if (streq (kind, "truncated"))
        s_notice (self, parent, "[kernelmq: output past %" PRIu64 " bytes was"
                  " dropped]\n", kmq_reply_uint (event, "limit", 0));
    else
    if (streq (kind, "status")) {
        const char *state = kmq_reply_str (event, "state");
        if (state && (streq (state, "busy") || streq (state, "idle")))
            jupyter_kernel_publish (self, parent, "status",
                                    json_pack ("{s:s}", "execution_state", state));
    }
    else
    if (streq (kind, "outcome")) {
        const char *type = kmq_reply_str (event, "request_type");
        if (!type || streq (type, "execute"))
            jupyter_output_result (self, event, parent, false);
    }
    else
    if (streq (kind, "kernel") || streq (kind, "evicted") || streq (kind, "detached")) {
        zsys_info ("jupyter: session %s: %s: %s", self->session, kind,
                   message? message: "");
        s_notice (self, parent, "[kernelmq: session %s: %s%s%s]\n", self->session,
                  kind, message? ": ": "", message? message: "");
    }
}

json_t *
jupyter_output_error (kmq_reply_t *reply)
{
    const char *error = kmq_reply_error (reply);
    const char *status = kmq_reply_str (reply, "status");
    if (!error && status && streq (status, "error")) {
        //  An outcome event: the error name is a field, not the reply's
        error = kmq_reply_str (reply, "error");
    }
    error = error? error: "INTERNAL";
    const char *message = kmq_reply_str (reply, "message");
    if (!message)
        message = kmq_reply_message (reply);
    json_t *traceback = json_array ();
    const char *ename = kmq_reply_str (reply, "ename");
    const char *evalue = kmq_reply_str (reply, "evalue");
    if (streq (error, "PYTHON_ERROR") && ename) {
        size_t lines = kmq_reply_strings (reply, "traceback");
        for (size_t i = 0; i < lines; i++) {
            const char *line = kmq_reply_string_at (reply, "traceback", i);
            size_t len = line? strlen (line): 0;
            while (len > 0 && line [len - 1] == '\n')
                len--;      //  Jupyter joins the lines itself
            json_array_append_new (traceback, kmq_json_text (line? line: "", len));
        }
        return json_pack ("{s:s, s:o, s:o}", "ename", ename, "evalue",
                          kmq_json_text (evalue? evalue: "", evalue? strlen (evalue): 0),
                          "traceback", traceback);
    }
    //  Every other failure: kernelmq's error name and its sentence, which
    //  says what happened and what to do
    if (streq (error, "INTERRUPTED"))
        ename = "KeyboardInterrupt";
    else
        ename = error;
    char *line = mem_sprintf ("%s: %s", ename, message);
    json_array_append_new (traceback, kmq_json_text (line, strlen (line)));
    free (line);
    return json_pack ("{s:s, s:o, s:o}", "ename", ename, "evalue",
                      kmq_json_text (message, strlen (message)), "traceback",
                      traceback);
}

void
jupyter_output_result (jupyter_kernel_t *self, kmq_reply_t *reply,
                       json_t *parent, bool silent)
{
    if (kmq_reply_bool (reply, "state_lost", false)) {
        const char *notice = kmq_reply_str (reply, "notice");
        s_notice (self, parent, "[kernelmq: the session's state was lost%s%s]\n",
                  notice? ": ": "", notice? notice: "");
    }
    const char *status = kmq_reply_str (reply, "status");
    bool ok = kmq_reply_event (reply)? (status && streq (status, "ok"))
                                     : kmq_reply_ok (reply);
    if (!ok) {
        jupyter_kernel_publish (self, parent, "error", jupyter_output_error (reply));
        return;
    }
    if (silent || kmq_reply_mime_count (reply) == 0)
        return;
    jupyter_kernel_publish (self, parent, "execute_result", json_pack (
        "{s:I, s:o, s:{}}", "execution_count",
        (json_int_t) kmq_reply_execution_count (reply),
        "data", kmq_json_bundle (reply), "metadata"));
}

json_t *
jupyter_output_foreign_parent (kmq_reply_t *event)
{
    const char *client = kmq_reply_str (event, "client");
    const char *type = kmq_reply_str (event, "request_type");
    client = client? client: "anonymous";
    char *msg_id = mem_sprintf ("kmq-%s-%" PRIu64, client,
                                kmq_reply_uint (event, "request", 0));
    char *msg_type = mem_sprintf ("%s_request", type? type: "execute");
    char *session = mem_sprintf ("kmq-%s", client);
    char date [64];
    jupyter_msg_now (date, sizeof date);
    //  Field by field: a peer's label need not be valid UTF-8
    json_t *parent = json_object ();
    json_object_set_new (parent, "msg_id", kmq_json_text (msg_id, strlen (msg_id)));
    json_object_set_new (parent, "msg_type", kmq_json_text (msg_type, strlen (msg_type)));
    json_object_set_new (parent, "session", kmq_json_text (session, strlen (session)));
    json_object_set_new (parent, "username", kmq_json_text (client, strlen (client)));
    json_object_set_new (parent, "date", json_string (date));
    json_object_set_new (parent, "version", json_string (JUPYTER_PROTOCOL_VERSION));
    free (msg_id);
    free (msg_type);
    free (session);
    return parent;
}
