/*  http_compat — the routes of two FastAPI sandboxes kernelmq replaces, so
    their own clients work unmodified (--compat df-dict, --compat
    code-sandbox). openapi.json (tag "compat ...") gives every shape.

    Each route is one or two kernelmq requests on the compat session
    (--compat-session, or one per bearer token): an upload, a reset, or a
    cell that calls the helpers of s_prelude and ends with an answer whose
    application/json entry is the route's data (the glue renders
    _repr_json_ as JSON text, protocol.md 4.3). Values sent from the HTTP
    client reach the cell only as Python string literals made by jansson
    (JSON string syntax is Python's, for the strings jansson writes: UTF-8,
    \" \\ \n \uXXXX escapes), never spliced in as code.               */
#include "http_internal.h"
#include "http_multipart.h"
#include "kmq_json.h"
#include "mem.h"
#include "selftest.h"

#define S_UPLOAD_VAR "_kmq_upload"

//  Defined once per session (and again after a reset or a restore, which
//  drop names starting with _), before every compat cell.
static const char *s_prelude =
"if \"_kmq_compat\" not in globals():\n"
"    import json as _kmq_json, keyword as _kmq_keyword\n"
"    class _kmq_compat:\n"
"        \"\"\"kmq-http's compat helpers (client/http/http_compat.c).\"\"\"\n"
"        class Answer:\n"
"            def __init__(self, text):\n"
"                self.text = text\n"
"            def _repr_json_(self):\n"
"                return self.text\n"
"            def __repr__(self):\n"
"                return '<kmq-http answer>'\n"
"        @staticmethod\n"
"        def plain(value, depth=0):\n"
"            if value is None or isinstance(value, (bool, str, int)):\n"
"                return value\n"
"            if isinstance(value, float):\n"
"                return value if value == value and abs(value) != float('inf') else None\n"
"            if depth > 32:\n"
"                return str(value)\n"
"            if isinstance(value, dict):\n"
"                return {str(k): _kmq_compat.plain(v, depth + 1) for k, v in value.items()}\n"
"            if isinstance(value, (list, tuple, set, frozenset)):\n"
"                return [_kmq_compat.plain(v, depth + 1) for v in value]\n"
"            if hasattr(value, 'to_json') and hasattr(value, 'to_dict'):\n"
"                try:\n"
"                    if hasattr(value, 'columns'):\n"
"                        return _kmq_json.loads(value.to_json(orient='records', date_format='iso'))\n"
"                    return _kmq_json.loads(value.to_json(date_format='iso'))\n"
"                except Exception:\n"
"                    return str(value)\n"
"            if getattr(value, 'ndim', None) == 0 and hasattr(value, 'item'):\n"
"                return _kmq_compat.plain(value.item(), depth + 1)\n"
"            if hasattr(value, 'tolist'):\n"
"                return _kmq_compat.plain(value.tolist(), depth + 1)\n"
"            return str(value)\n"
"        @staticmethod\n"
"        def answer(value):\n"
"            return _kmq_compat.Answer(_kmq_json.dumps(_kmq_compat.plain(value)))\n"
"        @staticmethod\n"
"        def run(code, scope):\n"
"            before = {k: id(v) for k, v in scope.items()}\n"
"            exec(compile(code, '<execute_code>', 'exec'), scope)\n"
"            return {k: v for k, v in scope.items() if not k.startswith('_')\n"
"                    and before.get(k) != id(v) and type(v).__name__ != 'module'}\n"
"        @staticmethod\n"
"        def records(value):\n"
"            if hasattr(value, 'to_json') and hasattr(value, 'columns'):\n"
"                return _kmq_compat.Answer(value.to_json(orient='records', date_format='iso'))\n"
"            return _kmq_compat.answer(value)\n"
"        @staticmethod\n"
"        def keep(name, value):\n"
"            df_dict[name] = value\n"
"            if name.isidentifier() and not _kmq_keyword.iskeyword(name):\n"
"                globals()[name] = value\n"
"if 'df_dict' not in globals():\n"
"    df_dict = {}\n"
"if 'data_store' not in globals():\n"
"    data_store = {}\n";

const char *
http_compat_prelude (void)
{
    return s_prelude;
}

//  --- helpers -----------------------------------------------------------------

//  The compat session of ctx's request.
static const char *
s_session (http_ctx_t *ctx)
{
    const char *configured = ctx->gw->config.compat_session;
    if (!streq (configured, "per-token") || ctx->token < 0 || !ctx->gw->tokens)
        return configured;
    if (!ctx->session)
        ctx->session = mem_sprintf ("compat-%s", http_token_id (ctx->gw->tokens,
                                                                (size_t) ctx->token));
    return ctx->session;
}

//  FastAPI's error shape: {"detail": ...}.
static void
s_detail (http_ctx_t *ctx, unsigned status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_detail (http_ctx_t *ctx, unsigned status, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = mem_vsprintf (format, args);
    va_end (args);
    json_t *body = json_object ();
    json_object_set_new (body, "detail", kmq_json_text (text, strlen (text)));
    free (text);
    http_req_respond_json (ctx->req, status, body);
}

//  A reply that is not ok and not a Python error: its status, its detail.
static void
s_failed (http_ctx_t *ctx, kmq_reply_t *reply)
{
    const char *error = kmq_reply_error (reply);
    json_t *body = json_pack ("{s:o, s:s}", "detail",
                              kmq_json_text (kmq_reply_message (reply),
                                             strlen (kmq_reply_message (reply))),
                              "error", error? error: "INTERNAL");
    http_req_respond_json (ctx->req, http_status_of (error), body);
}

static bool
s_python_error (kmq_reply_t *reply, const char *ename)
{
    const char *error = kmq_reply_error (reply);
    return error && streq (error, "PYTHON_ERROR")
        && (!ename || (kmq_reply_str (reply, "ename")
                       && streq (kmq_reply_str (reply, "ename"), ename)));
}

//  text (len bytes) as a Python string literal; NULL when it is not UTF-8.
static char *
s_literal (const char *text, size_t len)
{
    json_t *string = json_stringn (text, len);
    if (!string)
        return NULL;
    char *literal = json_dumps (string, JSON_ENCODE_ANY);
    json_decref (string);
    if (!literal)
        mem_oom ("a Python literal");
    return literal;
}

//  A compat name or key: [A-Za-z0-9_][A-Za-z0-9._-]{0,254}.
static const char *
s_name (http_ctx_t *ctx, const char *param)
{
    const char *name = http_gateway_param (ctx, param);
    size_t len = name? strlen (name): 0;
    bool ok = len > 0 && len <= 255 && name [0] != '.' && name [0] != '-'
           && strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            "0123456789._-") == len;
    if (ok)
        return name;
    http_metrics_rejected (ctx->gw->metrics, "bad_name");
    s_detail (ctx, 400, "invalid %s \"%.40s\": use A-Z a-z 0-9 _ . - (not first: . -),"
              " at most 255", param, name? name: "");
    return NULL;
}

static void
s_collect (http_ctx_t *ctx, kmq_reply_t *event)
{
    const char *name;
    json_decref (http_exec_event (ctx->exec, event, &name));
}

//  Runs the prelude and then body (a cell's end) in the compat session;
//  on_reply gets the reply, ctx->exec holds what it printed.
static void
s_run (http_ctx_t *ctx, const char *body, http_call_fn *on_reply)
{
    char *code = mem_sprintf ("%s%s", s_prelude, body);
    if (!ctx->exec)
        ctx->exec = http_exec_new ();
    const char *session = s_session (ctx);
    uint64_t id = kmq_async_execute (ctx->gw->kmq, session, code, strlen (code), 0);
    free (code);
    http_gateway_call (ctx, id, "execute", session, s_collect, on_reply);
}

//  Runs a cell made of format, whose one %s becomes value as a Python
//  string literal.
static void
s_run_named (http_ctx_t *ctx, const char *format, const char *value,
             http_call_fn *on_reply)
{
    char *literal = s_literal (value, strlen (value));
    if (!literal)
        mem_oom ("a Python literal");   //  value is checked ASCII: always UTF-8
    char *cell = mem_sprintf (format, literal);
    s_run (ctx, cell, on_reply);
    free (cell);
    free (literal);
}

//  The answer a compat cell ended with (its application/json entry), or NULL.
static json_t *
s_answer (kmq_reply_t *reply)
{
    size_t size = 0;
    const void *text = kmq_reply_mime_find (reply, "application/json", &size);
    return text? json_loadb ((const char *) text, size, JSON_DECODE_ANY, NULL): NULL;
}

static char *
s_python_detail (kmq_reply_t *reply)
{
    const char *ename = kmq_reply_str (reply, "ename");
    const char *evalue = kmq_reply_str (reply, "evalue");
    return mem_sprintf ("%s: %s", ename? ename: "Error", evalue? evalue: "");
}

static void
s_reset (http_ctx_t *ctx, http_call_fn *on_reply)
{
    const char *session = s_session (ctx);
    http_gateway_call (ctx, kmq_async_reset (ctx->gw->kmq, session), "reset", session,
                       NULL, on_reply);
}

//  --- df-dict ------------------------------------------------------------------

static void
s_upload_kept (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply)) {
        s_failed (ctx, reply);
        return;
    }
    json_object_set_new (ctx->body, "message", json_string ("File uploaded successfully"));
    json_object_set_new (ctx->body, "name", json_string (ctx->name));
    http_req_respond_json (ctx->req, 200, json_incref (ctx->body));
}

static void
s_uploaded (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (s_python_error (reply, NULL) || (kmq_reply_error (reply)
                                         && streq (kmq_reply_error (reply), "BAD_REQUEST"))) {
        char *why = kmq_reply_ok (reply)? NULL: s_python_error (reply, NULL)
                  ? s_python_detail (reply): mem_strdup (kmq_reply_message (reply));
        s_detail (ctx, 400, "could not read %s: %s", ctx->name, why);
        free (why);
        return;
    }
    if (!kmq_reply_ok (reply)) {
        s_failed (ctx, reply);
        return;
    }
    ctx->body = json_pack ("{s:I, s:I}", "rows", (json_int_t) kmq_reply_uint (reply, "rows", 0),
                           "columns", (json_int_t) kmq_reply_uint (reply, "columns", 0));
    s_run_named (ctx, "_kmq_compat.keep(%s, " S_UPLOAD_VAR ")\ndel " S_UPLOAD_VAR
                 "\n_kmq_compat.answer(None)\n", ctx->name, s_upload_kept);
}

//  The format of an uploaded file: by its name's suffix, else its type.
static const char *
s_upload_format (const char *filename, const char *type)
{
    size_t len = filename? strlen (filename): 0;
    if (len > 5 && streq (filename + len - 5, ".json"))
        return "json";
    if (len > 5 && streq (filename + len - 5, ".kmqf"))
        return "frame";
    if (len)
        return "csv";
    if (type && strncasecmp (type, "application/json", 16) == 0)
        return "json";
    if (type && strncasecmp (type, "application/vnd.kernelmq.frame", 30) == 0)
        return "frame";
    return "csv";
}

static void
s_df_upload (http_ctx_t *ctx)
{
    const char *name = s_name (ctx, "name");
    if (!name)
        return;
    size_t size;
    const char *body = http_req_body (ctx->req, &size);
    const char *type = http_req_header (ctx->req, "Content-Type");
    const char *data = body;
    const char *format;
    http_multipart_part_t part;
    if (type && strncasecmp (type, "multipart/", 10) == 0) {
        if (http_multipart_find (type, body, size, "file", &part) != 0) {
            http_metrics_rejected (ctx->gw->metrics, "bad_multipart");
            s_detail (ctx, 400, "the form has no file part (send files={\"file\": ...})");
            return;
        }
        data = part.data;
        size = part.size;
        format = s_upload_format (part.filename, NULL);
    }
    else
        format = s_upload_format (NULL, type);
    ctx->name = mem_strdup (name);
    uint64_t id = kmq_async_upload (ctx->gw->kmq, s_session (ctx), S_UPLOAD_VAR, format,
                                    data, size);
    http_gateway_call (ctx, id, "upload", s_session (ctx), NULL, s_uploaded);
}

static void
s_files_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    json_t *names = kmq_reply_ok (reply)? s_answer (reply): NULL;
    if (!names) {
        s_failed (ctx, reply);
        return;
    }
    http_req_respond_json (ctx->req, 200, json_pack ("{s:o}", "files", names));
}

static void
s_df_files (http_ctx_t *ctx)
{
    s_run (ctx, "_kmq_compat.answer(sorted(df_dict))\n", s_files_reply);
}

static void
s_download_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (s_python_error (reply, "KeyError")) {
        s_detail (ctx, 404, "File not found");
        return;
    }
    size_t size = 0;
    const void *text = kmq_reply_ok (reply)
                     ? kmq_reply_mime_find (reply, "application/json", &size): NULL;
    if (!text) {
        s_failed (ctx, reply);
        return;
    }
    http_req_respond (ctx->req, 200, "application/json", text, size, NULL);
}

static void
s_df_download (http_ctx_t *ctx)
{
    const char *name = s_name (ctx, "name");
    if (!name)
        return;
    s_run_named (ctx, "_kmq_compat.records(df_dict[%s])\n", name, s_download_reply);
}

//  The code field of a JSON body, as a literal; NULL after refusing.
static char *
s_code_literal (http_ctx_t *ctx)
{
    ctx->body = http_gateway_json_body (ctx);
    if (!ctx->body)
        return NULL;
    json_t *code = json_object_get (ctx->body, "code");
    if (!json_is_string (code)) {
        http_metrics_rejected (ctx->gw->metrics, "bad_field");
        s_detail (ctx, 400, "the body must be {\"code\": \"...\"}");
        return NULL;
    }
    return s_literal (json_string_value (code), json_string_length (code));
}

static void
s_df_execute_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (s_python_error (reply, NULL)) {
        char *detail = s_python_detail (reply);
        json_t *body = json_pack ("{s:o, s:o}", "detail", kmq_json_text (detail, strlen (detail)),
                                  "traceback", http_exec_traceback (reply));
        free (detail);
        http_req_respond_json (ctx->req, 400, body);
        return;
    }
    json_t *result = kmq_reply_ok (reply)? s_answer (reply): NULL;
    if (!result) {
        s_failed (ctx, reply);
        return;
    }
    const char *output = http_exec_output (ctx->exec, "stdout");
    http_req_respond_json (ctx->req, 200, json_pack ("{s:o, s:o}", "result", result,
                           "output", kmq_json_text (output, strlen (output))));
}

static void
s_df_execute (http_ctx_t *ctx)
{
    char *code = s_code_literal (ctx);
    if (!code)
        return;
    char *cell = mem_sprintf ("_kmq_compat.answer(_kmq_compat.run(%s, globals()))\n", code);
    s_run (ctx, cell, s_df_execute_reply);
    free (cell);
    free (code);
}

static void
s_cleared (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply))
        s_failed (ctx, reply);
    else
        http_req_respond_json (ctx->req, 200, json_pack ("{s:s}", "message",
                               ctx->gw->config.compat == HTTP_COMPAT_DF_DICT
                               ? "State cleared": "Data cleared"));
}

static void
s_clear (http_ctx_t *ctx)
{
    s_reset (ctx, s_cleared);
}

//  --- code-sandbox ---------------------------------------------------------------

static void
s_cs_execute_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    const char *output = http_exec_output (ctx->exec, "stdout");
    json_t *text = kmq_json_text (output, strlen (output));
    if (s_python_error (reply, NULL)) {
        http_req_respond_json (ctx->req, 200, json_pack ("{s:o, s:n, s:o}", "output", text,
                               "result", "error", http_exec_traceback (reply)));
        return;
    }
    json_t *result = kmq_reply_ok (reply)? s_answer (reply): NULL;
    if (!result) {
        json_decref (text);
        s_failed (ctx, reply);
        return;
    }
    http_req_respond_json (ctx->req, 200, json_pack ("{s:o, s:o, s:n}", "output", text,
                           "result", result, "error"));
}

static void
s_cs_execute (http_ctx_t *ctx)
{
    char *code = s_code_literal (ctx);
    if (!code)
        return;
    json_t *input = json_object_get (ctx->body, "input_data");
    char *input_json = json_dumps (input? input: json_null (), JSON_ENCODE_ANY | JSON_COMPACT);
    char *input_literal = input_json? s_literal (input_json, strlen (input_json)): NULL;
    if (!input_literal)
        mem_oom ("input_data");
    char *cell = mem_sprintf ("input_data = _kmq_json.loads(%s)\n"
                              "_kmq_compat.answer(_kmq_compat.run(%s, globals()).get('result'))\n",
                              input_literal, code);
    s_run (ctx, cell, s_cs_execute_reply);
    free (cell);
    free (input_literal);
    free (input_json);
    free (code);
}

static void
s_stored (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply))
        s_failed (ctx, reply);
    else
        http_req_respond_json (ctx->req, 200, json_pack ("{s:s, s:s}", "message",
                               "Data uploaded successfully", "key", ctx->name));
}

static void
s_cs_upload (http_ctx_t *ctx)
{
    const char *key = s_name (ctx, "key");
    if (!key)
        return;
    size_t size;
    const char *body = http_req_body (ctx->req, &size);
    json_error_t error;
    json_t *value = json_loadb (body, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &error);
    if (!value) {
        http_metrics_rejected (ctx->gw->metrics, "bad_json");
        s_detail (ctx, 400, "the body is not JSON: %s", error.text);
        return;
    }
    char *text = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref (value);
    char *literal = text? s_literal (text, strlen (text)): NULL;
    char *name = s_literal (key, strlen (key));
    if (!literal || !name)
        mem_oom ("an upload");
    ctx->name = mem_strdup (key);
    char *cell = mem_sprintf ("data_store[%s] = _kmq_json.loads(%s)\n_kmq_compat.answer(None)\n",
                              name, literal);
    s_run (ctx, cell, s_stored);
    free (cell);
    free (name);
    free (literal);
    free (text);
}

static void
s_got (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (s_python_error (reply, "KeyError")) {
        s_detail (ctx, 404, "Key not found");
        return;
    }
    json_t *data = kmq_reply_ok (reply)? s_answer (reply): NULL;
    if (!data) {
        s_failed (ctx, reply);
        return;
    }
    http_req_respond_json (ctx->req, 200, json_pack ("{s:s, s:o}", "key", ctx->name,
                                                     "data", data));
}

static void
s_cs_get (http_ctx_t *ctx)
{
    const char *key = s_name (ctx, "key");
    if (!key)
        return;
    ctx->name = mem_strdup (key);
    s_run_named (ctx, "_kmq_compat.answer(data_store[%s])\n", key, s_got);
}

static void
s_health_reply (http_ctx_t *ctx, kmq_reply_t *reply)
{
    if (!kmq_reply_ok (reply))
        s_failed (ctx, reply);
    else
        http_req_respond_json (ctx->req, 200, json_pack ("{s:s}", "status", "healthy"));
}

static void
s_cs_health (http_ctx_t *ctx)
{
    http_gateway_stats (ctx, s_health_reply);
}

static const http_op_t s_df_dict [] = {
    { "POST", "/uploadfile/{name}",   s_df_upload,   false },
    { "GET",  "/files/",              s_df_files,    false },
    { "GET",  "/downloadfile/{name}", s_df_download, false },
    { "POST", "/execute_code/",       s_df_execute,  false },
    { "POST", "/clear_state/",        s_clear,       false },
};

static const http_op_t s_code_sandbox [] = {
    { "POST", "/execute_code",        s_cs_execute,  false },
    { "POST", "/upload_data/{key}",   s_cs_upload,   false },
    { "GET",  "/get_data/{key}",      s_cs_get,      false },
    { "POST", "/clear_data",          s_clear,       false },
    { "GET",  "/health",              s_cs_health,   true },
};

const http_op_t *
http_compat_ops (http_compat_t mode, size_t *count)
{
    assert (count);
    if (mode == HTTP_COMPAT_DF_DICT) {
        *count = sizeof s_df_dict / sizeof s_df_dict [0];
        return s_df_dict;
    }
    if (mode == HTTP_COMPAT_CODE_SANDBOX) {
        *count = sizeof s_code_sandbox / sizeof s_code_sandbox [0];
        return s_code_sandbox;
    }
    *count = 0;
    return NULL;
}
