/*  http_exec — one execute's outcome in E2B's shape, built from kernelmq's
    events and reply as they come, and the Server-Sent Events it streams.

    The JSON answer (Accept: application/json):

        {"text": "42" | null,                 the result's text/plain
         "logs": {"stdout": ["hi\n"], "stderr": []},   chunks as written
         "results": [RESULT, ...],            display() outputs and figures
                                              in order, then the result
         "error": null | {"name", "value", "traceback"},
         "execution_count": 3, "duration_ms": 12,
         "truncated": false, "state_lost": false, "notice": "..."?}

    RESULT is a MIME bundle: {"is_main_result": bool, "mime": {TYPE: VALUE}}
    with E2B's short names beside it (text, html, markdown, latex, svg,
    png, jpeg, pdf, json, javascript). Text types are strings, JSON types
    JSON values, binary types (images) base64. A Python error is a 200
    with error set (E2B's shape); any other failure maps to its status
    (http_status.h) with {"error", "message"} and what the cell produced
    before it failed (logs, results, execution_count when it ran).

    SSE (Accept: text/event-stream): `stream` {name, text}, `display`
    RESULT, `truncated` {name, limit}, then one `result` {text, result:
    RESULT | null, execution_count, duration_ms, state_lost} or one `error`
    {code, message, name, value, traceback, status, execution_count,
    duration_ms}, where code is kernelmq's error name and status the one
    the JSON answer would have had.
*/
#ifndef HTTP_EXEC_H
#define HTTP_EXEC_H

#include <jansson.h>
#include <stdbool.h>
#include "kmq.h"

typedef struct _http_exec_t http_exec_t;

http_exec_t *http_exec_new (void);
void http_exec_destroy (http_exec_t **self_p);

//  Takes an event of the execute into the outcome. Returns the SSE event
//  it makes (*name set; caller owns the data), or NULL for one that makes
//  none (a stream chunk that is all of a split character so far).
json_t *http_exec_event (http_exec_t *self, kmq_reply_t *event, const char **name);

//  The reply: returns the JSON answer (caller owns) and its HTTP status.
json_t *http_exec_answer (http_exec_t *self, kmq_reply_t *reply, unsigned *status);
//  The reply as the last SSE event (*name "result" or "error"; caller owns).
json_t *http_exec_final_event (http_exec_t *self, kmq_reply_t *reply, const char **name);

//  All stdout (or stderr) so far as one string (owned by self).
const char *http_exec_output (http_exec_t *self, const char *stream);

//  A Python error reply's traceback lines as one string, as E2B gives it.
json_t *http_exec_traceback (kmq_reply_t *reply);

//  One display or result bundle as RESULT (above). Never NULL.
json_t *http_exec_result (kmq_reply_t *msg, bool main);

//  An SSE event's bytes: "event: NAME\ndata: JSON\n\n". Caller frees.
char *http_exec_sse (const char *name, json_t *data, size_t *size);

void http_exec_test (bool verbose);

#endif
