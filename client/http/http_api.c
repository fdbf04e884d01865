/*  http_api — the /v1 routes and /metrics: each checks what it was sent,
    makes one kernelmq request, and answers from its reply. The shapes are
    client/http/openapi.json's; the error statuses http_status.c's.

    Everything a handler sends the broker was checked first: session keys
    and names by the rules of protocol.md (3, 5), bodies as JSON objects of
    the right kinds, sizes by the server (--max-body). What the kernel
    alone can judge (a keyword as a name, a CSV that does not parse) it
    judges, and its error maps to a status like any other.               */
#include "http_internal.h"
#include "kmq_json.h"
#include "mem.h"

#define S_FRAME_TYPE "application/vnd.kernelmq.frame"

//  The route's session key, or NULL after refusing it.
static const char *
s_key (http_ctx_t *ctx)
{
    const char *key = http_gateway_param (ctx, "key");
    if (key && kmq_session_valid (key))
        return key;
    http_gateway_refuse (ctx, 400, "BAD_KEY", "bad_key", "invalid session key"
                         " \"%.40s\": use 1-128 characters of A-Z a-z 0-9 . _ : -",
                         key? key: "");
    return NULL;
}

//  A variable's name (csv, json, frame: a Python identifier) or a file's
//  (file: [A-Za-z0-9_][A-Za-z0-9._-]*), at most 255 bytes.
static bool
s_name_valid (const char *name, const char *format)
{
    size_t len = name? strlen (name): 0;
    if (len == 0 || len > 255)
        return false;
    bool file = streq (format, "file");
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'
                  || (c >= '0' && c <= '9');
        if (i == 0 && !file && c >= '0' && c <= '9')
            return false;
        if (!alnum && !(file && i > 0 && (c == '.' || c == '-')))
            return false;
    }
    return true;
}

static const char *
s_name (http_ctx_t *ctx, const char *format)
{
    const char *name = http_gateway_param (ctx, "name");
    if (s_name_valid (name, format))
        return name;
    http_gateway_refuse (ctx, 400, "BAD_KEY", "bad_name", "invalid name \"%.40s\""
                         " for format %s: %s", name? name: "", format,
                         streq (format, "file")
                         ? "use A-Z a-z 0-9 _ . - (not first: . -), at most 255"
                         : "use a Python identifier of at most 255 characters");
    return NULL;
}

static bool
s_format_known (const char *format)
{
    return streq (format, "csv") || streq (format, "json") || streq (format, "file")
        || streq (format, "frame");
}

//  The reply's fields as a JSON object, less the status.
static json_t *
s_fields (kmq_reply_t *reply)
{
    static const char *const drop [] = { "status", NULL };
    return kmq_json_fields (reply, drop);
}

//  Answers 200 with the reply's fields, or the error.
static void
s_reply_fields (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply))
        http_gateway_fail (ctx, reply);
    else
        http_req_respond_json (ctx->req, 200, s_fields (reply));
}

//  --- execute -------------------------------------------------------------------

static void
s_exec_event (http_ctx_t *ctx, kmq_reply_t *event)
{
    const char *name;
    json_t *data = http_exec_event (ctx->exec, event, &name);
    if (data && ctx->sse)
        http_gateway_sse (ctx, name, data);
    json_decref (data);
}

static void
s_exec_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (ctx->sse) {
        const char *name;
        json_t *data = http_exec_final_event (ctx->exec, reply, &name);
        http_gateway_sse (ctx, name, data);
        json_decref (data);
        http_req_stream_end (ctx->req);
        return;
    }
    unsigned status;
    json_t *answer = http_exec_answer (ctx->exec, reply, &status);
    http_req_respond_json (ctx->req, status, answer);
}

void
http_api_execute (http_ctx_t *ctx, const char *session, const char *code,
                  size_t len, uint32_t timeout_ms)
{
    assert (ctx && session && code);
    ctx->exec = http_exec_new ();
    uint64_t id = kmq_async_execute (ctx->gw->kmq, session, code, len, timeout_ms);
    http_gateway_call (ctx, id, "execute", session, s_exec_event, s_exec_reply);
    if (ctx->sse) {
        http_req_stream_begin (ctx->req, 200, "text/event-stream");
        http_req_stream_write (ctx->req, ": kernelmq execute\n\n", 20);
    }
}

static void
s_execute (http_ctx_t *ctx)
{
    const char *key = s_key (ctx);
    if (!key)
        return;
    ctx->sse = http_req_wants_sse (ctx->req);
    if (!ctx->sse && !http_req_accepts (ctx->req, "application/json")) {
        http_gateway_refuse (ctx, 406, "NOT_ACCEPTABLE", "accept", "execute answers"
                             " application/json or text/event-stream");
        return;
    }
    json_t *body = http_gateway_json_body (ctx);
    if (!body)
        return;
    json_t *code = json_object_get (body, "code");
    json_t *timeout = json_object_get (body, "timeout_ms");
    if (!json_is_string (code))
        http_gateway_refuse (ctx, 400, "BAD_JSON", "bad_field", "\"code\" must be a"
                             " string of Python");
    else
    if (timeout && !json_is_null (timeout) && (!json_is_integer (timeout)
        || json_integer_value (timeout) < 0 || json_integer_value (timeout) > UINT32_MAX))
        http_gateway_refuse (ctx, 400, "BAD_JSON", "bad_field", "\"timeout_ms\" must"
                             " be an integer from 0 (the broker's limit) to %u", UINT32_MAX);
    else
        http_api_execute (ctx, key, json_string_value (code), json_string_length (code),
                          (uint32_t) json_integer_value (timeout));
    json_decref (body);
}

//  --- data ------------------------------------------------------------------------

//  The format a data request asked for: ?format=, else the media type
//  (dflt when neither says), NULL after refusing it.
static const char *
s_format (http_ctx_t *ctx, const char *type, const char *dflt)
{
    const char *format = http_req_query (ctx->req, "format");
    if (!format && type) {
        if (strncasecmp (type, "text/csv", 8) == 0)
            format = "csv";
        else
        if (strncasecmp (type, "application/json", 16) == 0)
            format = "json";
        else
        if (strncasecmp (type, S_FRAME_TYPE, strlen (S_FRAME_TYPE)) == 0)
            format = "frame";
        else
        if (strncasecmp (type, "application/octet-stream", 24) == 0)
            format = "file";
    }
    if (!format)
        format = dflt;
    if (format && s_format_known (format))
        return format;
    http_gateway_refuse (ctx, 400, "BAD_REQUEST", "bad_format", "unknown format"
                         " \"%.20s\": use ?format=csv, json, file or frame",
                         format? format: "");
    return NULL;
}

static void
s_put_data (http_ctx_t *ctx)
{
    const char *key = s_key (ctx);
    const char *format = key? s_format (ctx, http_req_header (ctx->req, "Content-Type"),
                                        NULL): NULL;
    const char *name = format? s_name (ctx, format): NULL;
    if (!name)
        return;
    size_t size;
    const char *body = http_req_body (ctx->req, &size);
    uint64_t id = kmq_async_upload (ctx->gw->kmq, key, name, format, body, size);
    http_gateway_call (ctx, id, "upload", key, NULL, s_reply_fields);
}

static void
s_download_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply)) {
        http_gateway_fail (ctx, reply);
        return;
    }
    const char *format = kmq_reply_str (reply, "format");
    if (format && streq (format, "frame")) {
        char error [400];
        size_t size;
        void *kmqf = kmq_reply_kmqf (reply, &size, error, sizeof error);
        if (!kmqf)
            http_req_respond_error (ctx->req, 502, "INTERNAL", "%s", error);
        else
            http_req_respond_take (ctx->req, 200, S_FRAME_TYPE, kmqf, size);
        return;
    }
    size_t size = 0;
    const void *data = kmq_reply_payload (reply, 0, &size);
    const char *type = !format? "application/octet-stream"
                     : streq (format, "csv")? "text/csv; charset=utf-8"
                     : streq (format, "json")? "application/json"
                     : "application/octet-stream";
    http_req_respond (ctx->req, 200, type, data? data: "", data? size: 0, NULL);
}

static void
s_get_data (http_ctx_t *ctx)
{
    const char *key = s_key (ctx);
    //  ?format=, else what Accept names first among ours, else json
    const char *accept = http_req_header (ctx->req, "Accept");
    const char *wanted = NULL;
    if (accept && strstr (accept, "text/csv"))
        wanted = "text/csv";
    else
    if (accept && strstr (accept, S_FRAME_TYPE))
        wanted = S_FRAME_TYPE;
    else
    if (accept && strstr (accept, "application/octet-stream"))
        wanted = "application/octet-stream";
    const char *format = key? s_format (ctx, wanted, "json"): NULL;
    const char *name = format? s_name (ctx, format): NULL;
    if (!name)
        return;
    uint64_t id = kmq_async_download (ctx->gw->kmq, key, name, format);
    http_gateway_call (ctx, id, "download", key, NULL, s_download_reply);
}

//  --- session requests ------------------------------------------------------------------

//  A request of the route's session made by request (kmq_async_vars, ...),
//  answered by on_reply.
static void
s_session_call (http_ctx_t *ctx, uint64_t (*request) (kmq_async_t *, const char *),
                const char *type, http_call_fn *on_reply)
{
    const char *key = s_key (ctx);
    if (key)
        http_gateway_call (ctx, request (ctx->gw->kmq, key), type, key, NULL, on_reply);
}

static void
s_vars (http_ctx_t *ctx)
{
    s_session_call (ctx, kmq_async_vars, "vars", s_reply_fields);
}

static void
s_reset (http_ctx_t *ctx)
{
    s_session_call (ctx, kmq_async_reset, "reset", s_reply_fields);
}

static void
s_interrupt (http_ctx_t *ctx)
{
    s_session_call (ctx, kmq_async_interrupt, "interrupt", s_reply_fields);
}

static void
s_close_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply))
        http_gateway_fail (ctx, reply);
    else
        http_req_respond_json (ctx->req, 200, json_pack ("{s:b}", "closed", 1));
}

static void
s_delete (http_ctx_t *ctx)
{
    s_session_call (ctx, kmq_async_close, "close", s_close_reply);
}

static void
s_attach_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply)) {
        http_gateway_fail (ctx, reply);
        return;
    }
    http_req_stream_begin (ctx->req, 200, "text/event-stream");
    json_t *data = json_pack ("{s:s}", "session", ctx->session);
    http_gateway_sse (ctx, "attached", data);
    json_decref (data);
    http_gateway_watch (ctx, ctx->session);
}

static void
s_events (http_ctx_t *ctx)
{
    const char *key = s_key (ctx);
    if (!key)
        return;
    if (!http_req_wants_sse (ctx->req) && !http_req_accepts (ctx->req, "text/event-stream")) {
        http_gateway_refuse (ctx, 406, "NOT_ACCEPTABLE", "accept", "events answers"
                             " text/event-stream only");
        return;
    }
    ctx->session = mem_strdup (key);
    http_gateway_call (ctx, kmq_async_attach (ctx->gw->kmq, key), "attach", key,
                       NULL, s_attach_reply);
}

//  --- broker-wide -----------------------------------------------------------------------

static void
s_health_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply)) {
        http_gateway_fail (ctx, reply);
        return;
    }
    const char *broker = kmq_reply_str (reply, "broker");
    http_req_respond_json (ctx->req, 200, json_pack (
        "{s:s, s:s, s:I, s:I}", "status", "ok", "broker", broker? broker: "",
        "sessions", (json_int_t) kmq_reply_uint (reply, "sessions", 0),
        "broker_uptime_ms", (json_int_t) kmq_reply_uint (reply, "uptime_ms", 0)));
}

static void
s_health (http_ctx_t *ctx)
{
    http_gateway_stats (ctx, s_health_reply);
}

static void
s_stats_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply)) {
        http_gateway_fail (ctx, reply);
        return;
    }
    http_metrics_gauges_t gauges;
    http_gateway_gauges (ctx->gw, &gauges);
    json_t *gateway = json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
        "connections", (json_int_t) gauges.connections,
        "requests", (json_int_t) gauges.requests,
        "calls", (json_int_t) gauges.calls,
        "event_streams", (json_int_t) gauges.watchers,
        "slow_clients_dropped", (json_int_t) gauges.slow_dropped,
        "too_large", (json_int_t) gauges.too_large,
        "broker_up", gauges.broker_up);
    http_req_respond_json (ctx->req, 200, json_pack ("{s:o, s:o}", "broker", s_fields (reply),
                                                     "gateway", gateway));
}

static void
s_stats (http_ctx_t *ctx)
{
    http_gateway_stats (ctx, s_stats_reply);
}

static void
s_metrics_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    http_metrics_gauges_t gauges;
    http_gateway_gauges (ctx->gw, &gauges);
    char *text = http_metrics_render (ctx->gw->metrics, &gauges, reply);
    http_req_respond_take (ctx->req, 200, "text/plain; version=0.0.4; charset=utf-8",
                           text, strlen (text));
}

static void
s_metrics (http_ctx_t *ctx)
{
    http_gateway_stats (ctx, s_metrics_reply);
}

static const http_op_t s_ops [] = {
    { "POST",   "/v1/sessions/{key}/execute",     s_execute,   false },
    { "PUT",    "/v1/sessions/{key}/data/{name}", s_put_data,  false },
    { "GET",    "/v1/sessions/{key}/data/{name}", s_get_data,  false },
    { "GET",    "/v1/sessions/{key}/vars",        s_vars,      false },
    { "POST",   "/v1/sessions/{key}/reset",       s_reset,     false },
    { "POST",   "/v1/sessions/{key}/interrupt",   s_interrupt, false },
    { "DELETE", "/v1/sessions/{key}",             s_delete,    false },
    { "GET",    "/v1/sessions/{key}/events",      s_events,    false },
    { "GET",    "/v1/health",                     s_health,    true },
    { "GET",    "/v1/stats",                      s_stats,     false },
    { "GET",    "/metrics",                       s_metrics,   false },
};

const http_op_t *
http_api_ops (size_t *count)
{
    assert (count);
    *count = sizeof s_ops / sizeof s_ops [0];
    return s_ops;
}
