/*  http_internal — what kmq-http's files share: the gateway's state, a
    request's context, the kernelmq calls in flight, and the calls the
    route handlers (http_api.c, http_compat.c) make. Not a public API.   */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include <czmq.h>
#include <jansson.h>
#include "http_exec.h"
#include "http_gateway.h"
#include "http_metrics.h"
#include "http_route.h"
#include "http_server.h"
#include "http_status.h"
#include "http_token.h"
#include "kmq_async.h"
#include "signal_pipe.h"

typedef struct _http_ctx_t http_ctx_t;
typedef struct _http_call_t http_call_t;

//  An event or the reply (borrowed) of a call whose request is still there.
typedef void (http_call_fn) (http_ctx_t *ctx, kmq_reply_t *msg);
//  A route's handler: the request is authorised, its route matched.
typedef void (http_op_fn) (http_ctx_t *ctx);

//  A route and its handler, as the API and compat files list them.
typedef struct {
    const char *method;
    const char *pattern;
    http_op_fn *fn;
    bool open;                      //  served without a token (health)
} http_op_t;

//  A kernelmq request in flight.
struct _http_call_t {
    uint64_t id;
    const char *type;               //  "execute", ... (a literal) for metrics
    char *session;                  //  NULL for stats
    http_ctx_t *ctx;                //  NULL once the HTTP client went away
    int64_t started;                //  mono ms
    http_call_fn *on_event;
    http_call_fn *on_reply;
};

//  One HTTP request, from its handler to its end.
struct _http_ctx_t {
    http_gateway_t *gw;
    http_req_t *req;
    http_match_t match;
    http_call_t *call;              //  the kernelmq request it waits on
    int token;                      //  the token's index; -1 without auth
    const char *as;                 //  the client key it acts for (borrowed), or NULL
    bool sse;                       //  answering as an event stream
    http_exec_t *exec;              //  an execute's outcome so far
    char *watching;                 //  GET .../events: the session watched
    //  What compat handlers carry from one call to the next
    char *session;
    char *name;
    json_t *body;
    int stage;
};

struct _http_gateway_t {
    http_gateway_config_t config;
    kmq_async_t *kmq;
    http_server_t *server;
    http_token_t *tokens;           //  NULL without auth
    char *owner_key;                //  the owner's client key: what a token
                                    //  naming no key acts for (NULL: none)
    http_metrics_t *metrics;
    signal_pipe_t *signals;
    http_route_t *routes;           //  the active table; routes [i].op = i
    const http_op_t **ops;
    size_t route_count;
    zhash_t *calls;                 //  "id" -> http_call_t
    zhash_t *watchers;              //  session -> zlist of http_ctx_t
    size_t watcher_count;
    int64_t next_ping;
    bool verbose;
};

//  --- http_gateway.c ---------------------------------------------------------

//  Waits for kernelmq request id (made for ctx's request) of type on
//  session: on_event gets its events, on_reply its reply, while the HTTP
//  client is there.
void http_gateway_call (http_ctx_t *ctx, uint64_t id, const char *type,
                        const char *session, http_call_fn *on_event,
                        http_call_fn *on_reply);
//  Asks the broker for stats for ctx; on_reply gets the answer.
void http_gateway_stats (http_ctx_t *ctx, http_call_fn *on_reply);
//  Answers an error reply of kernelmq with its status and {error, message}
//  (and a Retry-After for 429).
void http_gateway_fail (http_ctx_t *ctx, kmq_reply_t *reply);
//  Refuses the request before the broker: status, error name, message;
//  counted as rejected for reason.
void http_gateway_refuse (http_ctx_t *ctx, unsigned status, const char *error,
                          const char *reason, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));
//  The route parameter name, or NULL.
const char *http_gateway_param (http_ctx_t *ctx, const char *name);
//  Starts watching session: ctx's stream gets the session's events.
void http_gateway_watch (http_ctx_t *ctx, const char *session);
//  The body as a JSON object: NULL after refusing it (400 BAD_JSON, or 415
//  for a type that is not JSON).
json_t *http_gateway_json_body (http_ctx_t *ctx);
//  Writes one SSE event (name, data borrowed) to ctx's stream.
void http_gateway_sse (http_ctx_t *ctx, const char *name, json_t *data);
//  The gauges of /metrics.
void http_gateway_gauges (http_gateway_t *self, http_metrics_gauges_t *gauges);

//  --- http_api.c ----------------------------------------------------------------

//  The /v1 routes and /metrics.
const http_op_t *http_api_ops (size_t *count);
//  Starts an execute of code (len bytes) in session for ctx, answered as
//  SSE or as E2B JSON (ctx->sse says which).
void http_api_execute (http_ctx_t *ctx, const char *session, const char *code,
                       size_t len, uint32_t timeout_ms);

//  --- http_compat.c -------------------------------------------------------------

//  The routes of a compat mode (none for HTTP_COMPAT_NONE).
const http_op_t *http_compat_ops (http_compat_t mode, size_t *count);
//  The Python helpers every compat cell starts with.
const char *http_compat_prelude (void);

#endif
