/*  http_metrics — what kmq-http counts, and GET /metrics in Prometheus'
    text format (version 0.0.4).

    Counted here, as the gateway sees them: kernelmq requests by type and
    outcome ("ok" or the error name) with a latency histogram per type,
    HTTP answers by status, requests refused before they reached the
    broker (by reason), kernel deaths by cause (from KERNEL_DIED replies:
    signal_N, exit, heartbeat, host_lost, sandbox, other), evictions and
    state losses. The broker's own figures (sessions, kernels, queue, and
    each session's state and requests) come from one `stats` per scrape;
    memory per session is the executor's resident set, read from
    /proc/PID/status when the gateway runs on the kernels' machine (stats
    gives the executor's pid, not its memory).
*/
#ifndef HTTP_METRICS_H
#define HTTP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kmq.h"

typedef struct _http_metrics_t http_metrics_t;

//  Gauges the gateway knows at render time.
typedef struct {
    size_t connections;             //  open HTTP connections
    size_t requests;                //  HTTP requests being handled
    size_t calls;                   //  kernelmq requests without a reply
    size_t watchers;                //  event streams open
    uint64_t slow_dropped;          //  connections cut at the read deadline
    uint64_t too_large;             //  bodies refused as over --max-body
    bool broker_up;                 //  the connection to the broker is READY
} http_metrics_gauges_t;

http_metrics_t *http_metrics_new (void);
void http_metrics_destroy (http_metrics_t **self_p);

//  A kernelmq request of type ended with outcome ("ok" or an error name)
//  after seconds.
void http_metrics_request (http_metrics_t *self, const char *type,
                           const char *outcome, double seconds);
//  An HTTP answer with status.
void http_metrics_status (http_metrics_t *self, unsigned status);
//  A request refused before the broker, for reason ("bad_json", ...).
void http_metrics_rejected (http_metrics_t *self, const char *reason);
//  A kernel died (cause as KERNEL_DIED gives it), a session was evicted,
//  a reply said state was lost.
void http_metrics_death (http_metrics_t *self, const char *cause);
void http_metrics_eviction (http_metrics_t *self);
void http_metrics_state_lost (http_metrics_t *self);

//  The cause label of a KERNEL_DIED cause string.
const char *http_metrics_cause_label (const char *cause);

//  The exposition text (caller frees): our counters, the gauges, and the
//  broker's figures from stats (an ok stats reply, or NULL).
char *http_metrics_render (http_metrics_t *self, const http_metrics_gauges_t *gauges,
                           kmq_reply_t *stats);

void http_metrics_test (bool verbose);

#endif
