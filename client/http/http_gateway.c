/*  http_gateway — the loop, the routing of HTTP requests to handlers, and
    of kernelmq's events and replies back to the HTTP requests that wait
    for them. See http_gateway.h; http_server.h says why one thread.

    The trap: an HTTP client may go away at any time (http_server calls
    s_closed), while its kernelmq request runs on. A call therefore holds
    its context only until then; the reply of an orphaned call is counted
    and dropped. Nothing here ever waits: every wait is a call in the
    table, answered from the loop.                                        */
#include "http_internal.h"
#include <stdarg.h>
#include "kmq_json.h"
#include "keys.h"
#include "mem.h"
#include "selftest.h"

#define S_PING_MS         15000      //  a comment line on idle event streams
#define S_BACKLOG_MAX     (16u << 20) //  unread bytes before a stream is cut

static void
s_call_destroy (http_call_t **call_p)
{
    http_call_t *call = *call_p;
    if (call) {
        free (call->session);
        free (call);
        *call_p = NULL;
    }
}

static http_call_t *
s_call_new (http_gateway_t *self, uint64_t id, const char *type, const char *session)
{
    http_call_t *call = (http_call_t *) zmalloc (sizeof (http_call_t));
    call->id = id;
    call->type = type;
    call->session = session? mem_strdup (session): NULL;
    call->started = zclock_mono ();
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    zhash_insert (self->calls, key, call);
    return call;
}

void
http_gateway_call (http_ctx_t *ctx, uint64_t id, const char *type,
                   const char *session, http_call_fn *on_event,
                   http_call_fn *on_reply)
{
    assert (ctx && type && on_reply);
    http_call_t *call = s_call_new (ctx->gw, id, type, session);
    call->ctx = ctx;
    call->on_event = on_event;
    call->on_reply = on_reply;
    ctx->call = call;
}

void
http_gateway_stats (http_ctx_t *ctx, http_call_fn *on_reply)
{
    assert (ctx && on_reply);
    http_gateway_call (ctx, kmq_async_stats (ctx->gw->kmq), "stats", NULL, NULL, on_reply);
}

void
http_gateway_fail (http_ctx_t *ctx, kmq_reply_t *reply)
{
    assert (ctx && reply);
    const char *error = kmq_reply_error (reply);
    unsigned status = http_status_of (error);
    json_t *body = json_object ();
    json_object_set_new (body, "error", json_string (error? error: "INTERNAL"));
    const char *message = kmq_reply_message (reply);
    json_object_set_new (body, "message", kmq_json_text (message, strlen (message)));
    const char *cause = kmq_reply_str (reply, "cause");
    if (cause)
        json_object_set_new (body, "cause", kmq_json_text (cause, strlen (cause)));
    if (status == 429) {
        char *text = json_dumps (body, JSON_COMPACT);
        json_decref (body);
        if (!text)
            mem_oom ("a JSON answer");
        http_req_respond (ctx->req, status, "application/json", text, strlen (text),
                          "Retry-After: 1");
        free (text);
        return;
    }
    http_req_respond_json (ctx->req, status, body);
}

void
http_gateway_refuse (http_ctx_t *ctx, unsigned status, const char *error,
                     const char *reason, const char *format, ...)
{
    assert (ctx && error && reason && format);
    va_list args;
    va_start (args, format);
    char *message = mem_vsprintf (format, args);
    va_end (args);
    http_metrics_rejected (ctx->gw->metrics, reason);
    http_req_respond_error (ctx->req, status, error, "%s", message);
    free (message);
}

const char *
http_gateway_param (http_ctx_t *ctx, const char *name)
{
    assert (ctx && name);
    return http_route_param (&ctx->match, name);
}

json_t *
http_gateway_json_body (http_ctx_t *ctx)
{
    assert (ctx);
    //  JSON, no type (as fetch sends it), or curl -d's form type
    const char *type = http_req_header (ctx->req, "Content-Type");
    if (type && strncasecmp (type, "application/json", 16) != 0
    &&  strncasecmp (type, "application/x-www-form-urlencoded", 33) != 0) {
        http_gateway_refuse (ctx, 415, "UNSUPPORTED_MEDIA_TYPE", "media_type",
                             "the body must be JSON (Content-Type: application/json),"
                             " not %.60s", type);
        return NULL;
    }
    size_t size;
    const char *body = http_req_body (ctx->req, &size);
    json_error_t error;
    json_t *json = json_loadb (body, size, JSON_REJECT_DUPLICATES, &error);
    if (!json) {
        http_gateway_refuse (ctx, 400, "BAD_JSON", "bad_json", "the body is not"
                             " JSON: %s (line %d, column %d)", error.text,
                             error.line, error.column);
        return NULL;
    }
    if (!json_is_object (json)) {
        json_decref (json);
        http_gateway_refuse (ctx, 400, "BAD_JSON", "bad_json", "the body must be"
                             " a JSON object");
        return NULL;
    }
    return json;
}

void
http_gateway_sse (http_ctx_t *ctx, const char *name, json_t *data)
{
    assert (ctx && name && data);
    size_t size;
    char *event = http_exec_sse (name, data, &size);
    http_req_stream_write (ctx->req, event, size);
    free (event);
}

//  --- watchers: GET /v1/sessions/{key}/events ----------------------------------

//  zhash's free function for a session's list of watchers.
static void
s_list_free (void *data)
{
    zlist_t *list = (zlist_t *) data;
    zlist_destroy (&list);
}

void
http_gateway_watch (http_ctx_t *ctx, const char *session)
{
    assert (ctx && session && !ctx->watching);
    http_gateway_t *self = ctx->gw;
    zlist_t *list = (zlist_t *) zhash_lookup (self->watchers, session);
    if (!list) {
        list = zlist_new ();
        zhash_insert (self->watchers, session, list);
        zhash_freefn (self->watchers, session, s_list_free);
    }
    zlist_append (list, ctx);
    ctx->watching = mem_strdup (session);
    self->watcher_count++;
}

//  ctx stops watching; the last one of a session detaches the gateway.
static void
s_unwatch (http_ctx_t *ctx)
{
    http_gateway_t *self = ctx->gw;
    zlist_t *list = (zlist_t *) zhash_lookup (self->watchers, ctx->watching);
    if (list) {
        zlist_remove (list, ctx);
        self->watcher_count--;
        if (zlist_size (list) == 0) {
            uint64_t id = kmq_async_detach (self->kmq, ctx->watching);
            s_call_new (self, id, "detach", ctx->watching);
            zhash_delete (self->watchers, ctx->watching);
        }
    }
    free (ctx->watching);
    ctx->watching = NULL;
}

//  A session event (or our own call's reply, as kind "outcome") as the
//  JSON a watcher gets.
static json_t *
s_watch_json (kmq_reply_t *msg, const char *kind)
{
    static const char *const drop [] = { "mime", NULL };
    json_t *data = kmq_json_fields (msg, drop);
    const char *session = kmq_reply_session_key (msg);
    json_object_set_new (data, "session", kmq_json_text (session, strlen (session)));
    if (kmq_reply_id (msg)) {
        json_object_set_new (data, "request", json_integer ((json_int_t) kmq_reply_id (msg)));
        json_object_set_new (data, "client", json_string ("kmq-http"));
    }
    size_t size = 0;
    const void *payload = kmq_reply_payload (msg, 0, &size);
    if (streq (kind, "stream") || streq (kind, "input"))
        json_object_set_new (data, streq (kind, "stream")? "text": "code",
                             kmq_json_text (payload? payload: "", payload? size: 0));
    if (kmq_reply_mime_count (msg))
        json_object_set_new (data, "bundle", kmq_json_bundle (msg));
    return data;
}

static void
s_fanout (http_gateway_t *self, kmq_reply_t *msg, const char *kind)
{
    const char *session = kmq_reply_session_key (msg);
    zlist_t *list = *session? (zlist_t *) zhash_lookup (self->watchers, session): NULL;
    if (!list || zlist_size (list) == 0)
        return;
    json_t *data = s_watch_json (msg, kind);
    zlist_t *cut = zlist_new ();
    for (http_ctx_t *ctx = (http_ctx_t *) zlist_first (list); ctx;
         ctx = (http_ctx_t *) zlist_next (list)) {
        http_gateway_sse (ctx, kind, data);
        if (http_req_stream_backlog (ctx->req) > S_BACKLOG_MAX)
            zlist_append (cut, ctx);
    }
    for (http_ctx_t *ctx = (http_ctx_t *) zlist_first (cut); ctx;
         ctx = (http_ctx_t *) zlist_next (cut)) {
        zsys_warning ("kmq-http: session %s: an event stream fell %u bytes behind;"
                      " closing it", session, S_BACKLOG_MAX);
        http_req_stream_end (ctx->req);
        s_unwatch (ctx);
    }
    zlist_destroy (&cut);
    json_decref (data);
}

static void
s_ping (http_gateway_t *self)
{
    int64_t now = zclock_mono ();
    if (now < self->next_ping)
        return;
    self->next_ping = now + S_PING_MS;
    for (zlist_t *list = (zlist_t *) zhash_first (self->watchers); list;
         list = (zlist_t *) zhash_next (self->watchers))
        for (http_ctx_t *ctx = (http_ctx_t *) zlist_first (list); ctx;
             ctx = (http_ctx_t *) zlist_next (list))
            http_req_stream_write (ctx->req, ": ping\n\n", 8);
}

//  --- kernelmq's messages -----------------------------------------------------

static void
s_count_reply (http_gateway_t *self, http_call_t *call, kmq_reply_t *reply)
{
    const char *error = kmq_reply_error (reply);
    double seconds = (double) (zclock_mono () - call->started) / 1000.0;
    http_metrics_request (self->metrics, call->type, error? error: "ok", seconds);
    if (error && streq (error, "KERNEL_DIED"))
        http_metrics_death (self->metrics, kmq_reply_str (reply, "cause"));
    if (error && streq (error, "EVICTED"))
        http_metrics_eviction (self->metrics);
    if (kmq_reply_state_lost (reply))
        http_metrics_state_lost (self->metrics);
}

static void
s_dispatch (http_gateway_t *self, kmq_reply_t *msg)
{
    uint64_t id = kmq_reply_id (msg);
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, id);
    http_call_t *call = id? (http_call_t *) zhash_lookup (self->calls, key): NULL;
    const char *kind = kmq_reply_event (msg);
    if (kind) {
        if (streq (kind, "evicted"))
            http_metrics_eviction (self->metrics);
        s_fanout (self, msg, kind);
        if (call && call->ctx && call->on_event) {
            kmq_async_act_as (self->kmq, call->ctx->as);
            call->on_event (call->ctx, msg);
        }
        return;
    }
    if (!call)
        return;                     //  nobody asked (a reply after a restart)
    zhash_delete (self->calls, key);
    s_count_reply (self, call, msg);
    if (call->session && (streq (call->type, "execute") || streq (call->type, "upload")
                          || streq (call->type, "reset")))
        s_fanout (self, msg, "outcome");
    http_ctx_t *ctx = call->ctx;
    if (ctx) {
        ctx->call = NULL;
        kmq_async_act_as (self->kmq, ctx->as);     //  for what the reply sends next
        call->on_reply (ctx, msg);
    }
    s_call_destroy (&call);
}

//  --- HTTP requests ----------------------------------------------------------------

static void
s_closed (void *arg, http_req_t *req)
{
    (void) req;
    http_ctx_t *ctx = (http_ctx_t *) arg;
    if (ctx->call)
        ctx->call->ctx = NULL;
    if (ctx->watching)
        s_unwatch (ctx);
    http_route_match_free (&ctx->match);
    http_exec_destroy (&ctx->exec);
    json_decref (ctx->body);
    free (ctx->session);
    free (ctx->name);
    free (ctx);
}

static void
s_on_status (void *arg, unsigned status)
{
    http_gateway_t *self = (http_gateway_t *) arg;
    http_metrics_status (self->metrics, status);
}

static void
s_handle (void *arg, http_req_t *req)
{
    http_gateway_t *self = (http_gateway_t *) arg;
    http_ctx_t *ctx = (http_ctx_t *) zmalloc (sizeof (http_ctx_t));
    ctx->gw = self;
    ctx->req = req;
    ctx->token = -1;
    http_req_set_data (req, ctx);
    http_req_on_close (req, s_closed, ctx);
    char allowed [64];
    http_route_result_t found = http_route_find (self->routes, self->route_count,
                                                 http_req_method (req), http_req_path (req),
                                                 &ctx->match, allowed, sizeof allowed);
    if (found == HTTP_ROUTE_NO_PATH) {
        http_gateway_refuse (ctx, 404, "NO_ROUTE", "no_route", "no route %.200s:"
                             " see client/http/openapi.json", http_req_path (req));
        return;
    }
    if (found == HTTP_ROUTE_NO_METHOD) {
        char *header = mem_sprintf ("Allow: %s", allowed);
        http_metrics_rejected (self->metrics, "method");
        char *body = mem_sprintf ("{\"error\":\"METHOD_NOT_ALLOWED\",\"message\":"
                                  "\"this route takes %s\"}\n", allowed);
        http_req_respond (req, 405, "application/json", body, strlen (body), header);
        free (body);
        free (header);
        return;
    }
    const http_op_t *op = self->ops [ctx->match.route->op];
    if (self->tokens && !op->open) {
        ctx->token = http_token_check (self->tokens, http_req_header (req, "Authorization"));
        if (ctx->token < 0) {
            http_metrics_rejected (self->metrics, "unauthorized");
            const char *body = "{\"error\":\"UNAUTHORIZED\",\"message\":\"send the"
                               " token of kmq-http's token file as Authorization:"
                               " Bearer TOKEN\"}\n";
            http_req_respond (req, 401, "application/json", body, strlen (body),
                              "WWW-Authenticate: Bearer realm=\"kmq-http\"");
            return;
        }
    }
    //  The key its requests act for (http_token.h): the broker applies that
    //  key's sessions and shares, not the gateway's own
    ctx->as = ctx->token >= 0 && http_token_key (self->tokens, (size_t) ctx->token)?
              http_token_key (self->tokens, (size_t) ctx->token): self->owner_key;
    kmq_async_act_as (self->kmq, ctx->as);
    if (self->verbose)
        zsys_debug ("kmq-http: %s %s", http_req_method (req), http_req_path (req));
    op->fn (ctx);
}

//  --- the gateway ---------------------------------------------------------------------

static void
s_add_ops (http_gateway_t *self, const http_op_t *ops, size_t count)
{
    size_t total = self->route_count + count;
    self->routes = (http_route_t *) realloc (self->routes, total * sizeof (http_route_t));
    self->ops = (const http_op_t **) realloc (self->ops, total * sizeof (http_op_t *));
    if (!self->routes || !self->ops)
        mem_oom ("the route table");
    for (size_t i = 0; i < count; i++) {
        size_t at = self->route_count++;
        self->routes [at] = (http_route_t) { ops [i].method, ops [i].pattern, (int) at };
        self->ops [at] = &ops [i];
    }
}

http_gateway_t *
http_gateway_new (const http_gateway_config_t *config, char *error, size_t error_size)
{
    assert (config && config->endpoint);
    http_gateway_t *self = (http_gateway_t *) zmalloc (sizeof (http_gateway_t));
    self->config = *config;
    self->verbose = config->verbose;
    self->metrics = http_metrics_new ();
    self->calls = zhash_new ();
    self->watchers = zhash_new ();
    size_t count;
    const http_op_t *ops = http_api_ops (&count);
    s_add_ops (self, ops, count);
    ops = http_compat_ops (config->compat, &count);
    s_add_ops (self, ops, count);
    if (config->auth) {
        char *path = config->token_file? mem_strdup (config->token_file)
                                       : http_token_default_path ();
        if (!path) {
            snprintf (error, error_size, "no place for the token file: set HOME or"
                      " XDG_CONFIG_HOME, or give --token-file");
            http_gateway_destroy (&self);
            return NULL;
        }
        bool created = false;
        self->tokens = http_token_load (path, &created, error, error_size);
        if (!self->tokens) {
            free (path);
            http_gateway_destroy (&self);
            return NULL;
        }
        if (created)
            zsys_info ("kmq-http: made a bearer token in %s (mode 0600): clients send"
                       " it as Authorization: Bearer TOKEN", path);
        else
            zsys_info ("kmq-http: %zu bearer token(s) from %s",
                       http_token_count (self->tokens), path);
        free (path);
    }
    //  Over tcp kmq-http shows the broker its gateway key (gateways/), which
    //  may act for other keys; a token that names none acts for the owner's
    char *dir = keys_dir_default ();
    if (dir) {
        char *path = mem_sprintf ("%s/client.key", dir);
        self->owner_key = keys_public_from (path);
        free (path);
        free (dir);
    }
    kmq_options_t options = { .client_name = "kmq-http", .key_role = "gateway" };
    self->kmq = kmq_async_new (config->endpoint, &options, error, error_size);
    if (!self->kmq) {
        http_gateway_destroy (&self);
        return NULL;
    }
    http_server_config_t server = config->server;
    server.on_status = s_on_status;
    self->server = http_server_new (&server, s_handle, self, error, error_size);
    if (!self->server) {
        http_gateway_destroy (&self);
        return NULL;
    }
    self->signals = signal_pipe_new ("kmq-http");
    if (!self->signals) {
        snprintf (error, error_size, "cannot install the signal handlers");
        http_gateway_destroy (&self);
        return NULL;
    }
    self->next_ping = zclock_mono () + S_PING_MS;
    return self;
}

void
http_gateway_destroy (http_gateway_t **self_p)
{
    assert (self_p);
    http_gateway_t *self = *self_p;
    if (!self)
        return;
    //  The server first: closing its requests calls back into the tables
    http_server_destroy (&self->server);
    free (self->owner_key);
    for (http_call_t *call = (http_call_t *) zhash_first (self->calls); call;
         call = (http_call_t *) zhash_next (self->calls))
        s_call_destroy (&call);
    zhash_destroy (&self->calls);
    zhash_destroy (&self->watchers);
    kmq_async_destroy (&self->kmq);
    http_token_destroy (&self->tokens);
    http_metrics_destroy (&self->metrics);
    signal_pipe_destroy (&self->signals);
    free (self->routes);
    free (self->ops);
    free (self);
    *self_p = NULL;
}

void
http_gateway_gauges (http_gateway_t *self, http_metrics_gauges_t *gauges)
{
    assert (self && gauges);
    gauges->connections = http_server_connections (self->server);
    gauges->requests = http_server_requests (self->server);
    gauges->calls = zhash_size (self->calls);
    gauges->watchers = self->watcher_count;
    gauges->slow_dropped = http_server_slow_dropped (self->server);
    gauges->too_large = http_server_refused (self->server);
    gauges->broker_up = kmq_async_state (self->kmq) == KMQ_ASYNC_READY;
}

static int
s_min_timeout (int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b? a: b;
}

int
http_gateway_run (http_gateway_t *self)
{
    assert (self);
    zsys_info ("kmq-http: listening on %s%s, broker %s%s", self->config.listen,
               self->config.server.tls_cert_pem? " (TLS)": "", self->config.endpoint,
               self->tokens? "": ", no authentication (--no-auth)");
    while (!signal_pipe_stop_signal (self->signals)) {
        int timeout = s_min_timeout (kmq_async_timeout (self->kmq),
                                     http_server_timeout (self->server));
        int64_t ping_in = self->next_ping - zclock_mono ();
        timeout = s_min_timeout (timeout, ping_in < 0? 0: (int) ping_in);
        zmq_pollitem_t items [3] = {
            { kmq_async_handle (self->kmq), 0, ZMQ_POLLIN, 0 },
            { NULL, http_server_fd (self->server), ZMQ_POLLIN, 0 },
            { NULL, signal_pipe_fd (self->signals), ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 3, timeout) < 0 && zmq_errno () != EINTR) {
            zsys_error ("kmq-http: zmq_poll: %s", zmq_strerror (zmq_errno ()));
            break;
        }
        if (items [2].revents & ZMQ_POLLIN)
            signal_pipe_drain (self->signals);
        kmq_reply_t *msg;
        while ((msg = kmq_async_next (self->kmq))) {
            s_dispatch (self, msg);
            kmq_reply_destroy (&msg);
        }
        http_server_run (self->server);
        s_ping (self);
    }
    zsys_info ("kmq-http: stopping on signal %d", signal_pipe_stop_signal (self->signals));
    return 0;
}

void
http_gateway_print_routes (http_compat_t mode, bool all, FILE *out)
{
    size_t count;
    const http_op_t *ops = http_api_ops (&count);
    for (size_t i = 0; i < count; i++)
        fprintf (out, "%s %s\n", ops [i].method, ops [i].pattern);
    http_compat_t modes [] = { HTTP_COMPAT_DF_DICT, HTTP_COMPAT_CODE_SANDBOX };
    for (size_t m = 0; m < sizeof modes / sizeof modes [0]; m++) {
        if (!all && modes [m] != mode)
            continue;
        ops = http_compat_ops (modes [m], &count);
        for (size_t i = 0; i < count; i++)
            fprintf (out, "%s %s\n", ops [i].method, ops [i].pattern);
    }
}

void
http_gateway_test (bool verbose)
{
    if (verbose)
        printf (" * http_gateway: ");
    //  Every route of every mode is unique, and none shadows another
    http_compat_t modes [] = { HTTP_COMPAT_NONE, HTTP_COMPAT_DF_DICT, HTTP_COMPAT_CODE_SANDBOX };
    for (size_t m = 0; m < sizeof modes / sizeof modes [0]; m++) {
        size_t api_count, compat_count;
        const http_op_t *api = http_api_ops (&api_count);
        const http_op_t *compat = http_compat_ops (modes [m], &compat_count);
        SELFTEST_CHECK (api_count > 0);
        for (size_t i = 0; i < api_count + compat_count; i++) {
            const http_op_t *a = i < api_count? &api [i]: &compat [i - api_count];
            SELFTEST_CHECK (a->pattern [0] == '/' && a->fn);
            for (size_t j = i + 1; j < api_count + compat_count; j++) {
                const http_op_t *b = j < api_count? &api [j]: &compat [j - api_count];
                SELFTEST_CHECK (!(streq (a->method, b->method) && streq (a->pattern, b->pattern)));
            }
        }
    }
    if (verbose)
        printf ("OK\n");
}
