/*  http_metrics — counters and the Prometheus text. See http_metrics.h.
    Label values come from error names, request types and session keys,
    all from small alphabets; they are escaped anyway.                   */
#include <czmq.h>
#include <jansson.h>
#include "http_metrics.h"
#include "kmq_json.h"
#include "mem.h"
#include "selftest.h"

static const double s_buckets [] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define S_BUCKETS (sizeof s_buckets / sizeof s_buckets [0])

typedef struct {
    uint64_t count [S_BUCKETS];     //  cumulative when rendered, not here
    uint64_t total;
    double sum;
} s_histogram_t;

struct _http_metrics_t {
    zhash_t *requests;              //  "type\toutcome" -> uint64_t *
    zhash_t *latency;               //  type -> s_histogram_t
    zhash_t *statuses;              //  "200" -> uint64_t *
    zhash_t *rejected;              //  reason -> uint64_t *
    zhash_t *deaths;                //  cause label -> uint64_t *
    uint64_t evictions;
    uint64_t state_lost;
    int64_t started;
};

static void
s_count (zhash_t *hash, const char *key)
{
    uint64_t *value = (uint64_t *) zhash_lookup (hash, key);
    if (!value) {
        value = (uint64_t *) zmalloc (sizeof (uint64_t));
        zhash_insert (hash, key, value);
        zhash_freefn (hash, key, free);
    }
    (*value)++;
}

http_metrics_t *
http_metrics_new (void)
{
    http_metrics_t *self = (http_metrics_t *) zmalloc (sizeof (http_metrics_t));
    self->requests = zhash_new ();
    self->latency = zhash_new ();
    self->statuses = zhash_new ();
    self->rejected = zhash_new ();
    self->deaths = zhash_new ();
    self->started = zclock_mono ();
    return self;
}

void
http_metrics_destroy (http_metrics_t **self_p)
{
    assert (self_p);
    http_metrics_t *self = *self_p;
    if (!self)
        return;
    zhash_destroy (&self->requests);
    zhash_destroy (&self->latency);
    zhash_destroy (&self->statuses);
    zhash_destroy (&self->rejected);
    zhash_destroy (&self->deaths);
    free (self);
    *self_p = NULL;
}

void
http_metrics_request (http_metrics_t *self, const char *type, const char *outcome,
                      double seconds)
{
    assert (self && type && outcome);
    char key [128];
    snprintf (key, sizeof key, "%s\t%s", type, outcome);
    s_count (self->requests, key);
    s_histogram_t *histogram = (s_histogram_t *) zhash_lookup (self->latency, type);
    if (!histogram) {
        histogram = (s_histogram_t *) zmalloc (sizeof (s_histogram_t));
        zhash_insert (self->latency, type, histogram);
        zhash_freefn (self->latency, type, free);
    }
    for (size_t i = 0; i < S_BUCKETS; i++)
        if (seconds <= s_buckets [i]) {
            histogram->count [i]++;
            break;
        }
    histogram->total++;
    histogram->sum += seconds;
}

void
http_metrics_status (http_metrics_t *self, unsigned status)
{
    assert (self);
    char key [16];
    snprintf (key, sizeof key, "%u", status);
    s_count (self->statuses, key);
}

void
http_metrics_rejected (http_metrics_t *self, const char *reason)
{
    assert (self && reason);
    s_count (self->rejected, reason);
}

const char *
http_metrics_cause_label (const char *cause)
{
    static char label [32];
    if (!cause)
        return "other";
    int signum;
    if (sscanf (cause, "signal %d", &signum) == 1) {
        snprintf (label, sizeof label, "signal_%d", signum);
        return label;
    }
    if (strstr (cause, "exit status"))
        return "exit";
    if (strstr (cause, "heartbeat"))
        return "heartbeat";
    if (strstr (cause, "memory"))
        return "memory";
    if (strstr (cause, "host lost") || strstr (cause, "no kernel host"))
        return "host_lost";
    if (strstr (cause, "sandbox"))
        return "sandbox";
    return "other";
}

void
http_metrics_death (http_metrics_t *self, const char *cause)
{
    assert (self);
    s_count (self->deaths, http_metrics_cause_label (cause));
}

void
http_metrics_eviction (http_metrics_t *self)
{
    assert (self);
    self->evictions++;
}

void
http_metrics_state_lost (http_metrics_t *self)
{
    assert (self);
    self->state_lost++;
}

//  --- rendering ------------------------------------------------------------

static void
s_label (zchunk_t *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            zchunk_extend (out, "\\", 1);
        if (*p == '\n')
            zchunk_extend (out, "\\n", 2);
        else
            zchunk_extend (out, p, 1);
    }
}

static void
s_printf (zchunk_t *out, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_printf (zchunk_t *out, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = mem_vsprintf (format, args);
    va_end (args);
    zchunk_extend (out, text, strlen (text));
    free (text);
}

static void
s_head (zchunk_t *out, const char *name, const char *type, const char *help)
{
    s_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  A counter family over hash, one label.
static void
s_family (zchunk_t *out, zhash_t *hash, const char *name, const char *label,
          const char *help)
{
    s_head (out, name, "counter", help);
    zlist_t *keys = zhash_keys (hash);
    zlist_sort (keys, NULL);
    for (char *key = (char *) zlist_first (keys); key; key = (char *) zlist_next (keys)) {
        s_printf (out, "%s{%s=\"", name, label);
        s_label (out, key);
        s_printf (out, "\"} %" PRIu64 "\n", *(uint64_t *) zhash_lookup (hash, key));
    }
    zlist_destroy (&keys);
}

static void
s_requests (http_metrics_t *self, zchunk_t *out)
{
    s_head (out, "kmq_http_requests_total", "counter",
            "kernelmq requests the gateway made, by type and outcome (ok or the error name)");
    zlist_t *keys = zhash_keys (self->requests);
    zlist_sort (keys, NULL);
    for (char *key = (char *) zlist_first (keys); key; key = (char *) zlist_next (keys)) {
        char *tab = strchr (key, '\t');
        char *type = mem_strndup (key, (size_t) (tab - key));
        zchunk_extend (out, "kmq_http_requests_total{type=\"", 30);
        s_label (out, type);
        zchunk_extend (out, "\",outcome=\"", 11);
        s_label (out, tab + 1);
        s_printf (out, "\"} %" PRIu64 "\n", *(uint64_t *) zhash_lookup (self->requests, key));
        free (type);
    }
    zlist_destroy (&keys);
    s_head (out, "kmq_http_request_duration_seconds", "histogram",
            "time from sending a kernelmq request to its reply, by type");
    keys = zhash_keys (self->latency);
    zlist_sort (keys, NULL);
    for (char *type = (char *) zlist_first (keys); type; type = (char *) zlist_next (keys)) {
        s_histogram_t *histogram = (s_histogram_t *) zhash_lookup (self->latency, type);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < S_BUCKETS; i++) {
            cumulative += histogram->count [i];
            s_printf (out, "kmq_http_request_duration_seconds_bucket{type=\"%s\",le=\"%g\"} %"
                      PRIu64 "\n", type, s_buckets [i], cumulative);
        }
        s_printf (out, "kmq_http_request_duration_seconds_bucket{type=\"%s\",le=\"+Inf\"} %"
                  PRIu64 "\n", type, histogram->total);
        s_printf (out, "kmq_http_request_duration_seconds_sum{type=\"%s\"} %.6f\n", type, histogram->sum);
        s_printf (out, "kmq_http_request_duration_seconds_count{type=\"%s\"} %" PRIu64 "\n",
                  type, histogram->total);
    }
    zlist_destroy (&keys);
}

//  The resident set of pid in bytes, from /proc; 0 when unreadable.
static uint64_t
s_rss (uint64_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%" PRIu64 "/status", pid);
    FILE *file = pid? fopen (path, "r"): NULL;
    if (!file)
        return 0;
    char line [256];
    uint64_t kib = 0;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "VmRSS: %" SCNu64, &kib) == 1)
            break;
    fclose (file);
    return kib * 1024;
}

static void
s_broker (zchunk_t *out, kmq_reply_t *stats)
{
    json_t *json = kmq_json_fields (stats, NULL);
    const char *gauges [][2] = {
        { "sessions", "live sessions" }, { "kernels", "live kernel processes" },
        { "queued", "requests waiting in all sessions" },
        { "max_sessions", "the broker's max_sessions" },
        { "uptime_ms", "the broker's uptime in ms" } };
    for (size_t i = 0; i < sizeof gauges / sizeof gauges [0]; i++) {
        char name [64];
        snprintf (name, sizeof name, "kmq_broker_%s", gauges [i][0]);
        s_head (out, name, "gauge", gauges [i][1]);
        s_printf (out, "%s %" JSON_INTEGER_FORMAT "\n", name,
                  json_integer_value (json_object_get (json, gauges [i][0])));
    }
    json_t *list = json_object_get (json, "session_list");
    s_head (out, "kmq_session_requests", "gauge", "requests a session has answered");
    size_t index;
    json_t *entry;
    json_array_foreach (list, index, entry) {
        zchunk_extend (out, "kmq_session_requests{session=\"", 30);
        s_label (out, json_string_value (json_object_get (entry, "session")));
        s_printf (out, "\",state=\"%s\"} %" JSON_INTEGER_FORMAT "\n",
                  json_string_value (json_object_get (entry, "state")),
                  json_integer_value (json_object_get (entry, "requests")));
    }
    s_head (out, "kmq_session_memory_bytes", "gauge",
            "resident memory of a session's executor (when on this machine)");
    json_array_foreach (list, index, entry) {
        uint64_t rss = s_rss ((uint64_t) json_integer_value (json_object_get (entry, "executor_pid")));
        if (!rss)
            continue;
        zchunk_extend (out, "kmq_session_memory_bytes{session=\"", 34);
        s_label (out, json_string_value (json_object_get (entry, "session")));
        s_printf (out, "\"} %" PRIu64 "\n", rss);
    }
    json_decref (json);
}

char *
http_metrics_render (http_metrics_t *self, const http_metrics_gauges_t *gauges,
                     kmq_reply_t *stats)
{
    assert (self && gauges);
    zchunk_t *out = zchunk_new (NULL, 4096);
    s_requests (self, out);
    s_family (out, self->statuses, "kmq_http_responses_total", "status",
              "HTTP answers by status");
    s_family (out, self->rejected, "kmq_http_rejected_total", "reason",
              "HTTP requests refused before they reached the broker");
    s_family (out, self->deaths, "kmq_kernel_deaths_total", "cause",
              "kernel deaths the gateway's requests met, by cause");
    s_head (out, "kmq_evictions_total", "counter", "sessions seen evicted");
    s_printf (out, "kmq_evictions_total %" PRIu64 "\n", self->evictions);
    s_head (out, "kmq_state_lost_total", "counter", "replies that said the session's state was lost");
    s_printf (out, "kmq_state_lost_total %" PRIu64 "\n", self->state_lost);
    const struct { const char *name, *help; uint64_t value; const char *type; } own [] = {
        { "kmq_http_connections", "open HTTP connections", gauges->connections, "gauge" },
        { "kmq_http_requests_in_flight", "HTTP requests being handled", gauges->requests, "gauge" },
        { "kmq_http_calls_in_flight", "kernelmq requests without a reply", gauges->calls, "gauge" },
        { "kmq_http_event_streams", "open event streams", gauges->watchers, "gauge" },
        { "kmq_http_slow_clients_dropped_total", "connections cut at the read deadline",
          gauges->slow_dropped, "counter" },
        { "kmq_http_too_large_total", "bodies refused as over --max-body", gauges->too_large, "counter" },
        { "kmq_broker_up", "1 when the gateway's connection to the broker is up",
          gauges->broker_up, "gauge" },
        { "kmq_http_uptime_seconds", "seconds since kmq-http started",
          (uint64_t) ((zclock_mono () - self->started) / 1000), "gauge" },
    };
    for (size_t i = 0; i < sizeof own / sizeof own [0]; i++) {
        s_head (out, own [i].name, own [i].type, own [i].help);
        s_printf (out, "%s %" PRIu64 "\n", own [i].name, own [i].value);
    }
    if (stats && kmq_reply_ok (stats))
        s_broker (out, stats);
    char *text = mem_strndup ((const char *) zchunk_data (out), zchunk_size (out));
    zchunk_destroy (&out);
    return text;
}

void
http_metrics_test (bool verbose)
{
    if (verbose)
        printf (" * http_metrics: ");
    SELFTEST_CHECK (streq (http_metrics_cause_label ("signal 9 (Killed)"), "signal_9"));
    SELFTEST_CHECK (streq (http_metrics_cause_label ("exit status 3"), "exit"));
    SELFTEST_CHECK (streq (http_metrics_cause_label ("stopped answering heartbeats"), "heartbeat"));
    SELFTEST_CHECK (streq (http_metrics_cause_label (NULL), "other"));
    http_metrics_t *metrics = http_metrics_new ();
    http_metrics_request (metrics, "execute", "ok", 0.003);
    http_metrics_request (metrics, "execute", "ok", 0.2);
    http_metrics_request (metrics, "execute", "TIMEOUT", 100);
    http_metrics_status (metrics, 200);
    http_metrics_rejected (metrics, "bad_json");
    http_metrics_death (metrics, "signal 9 (Killed)");
    http_metrics_eviction (metrics);
    http_metrics_gauges_t gauges = { .connections = 3, .broker_up = true };
    char *text = http_metrics_render (metrics, &gauges, NULL);
    SELFTEST_CHECK (strstr (text, "kmq_http_requests_total{type=\"execute\",outcome=\"ok\"} 2\n"));
    SELFTEST_CHECK (strstr (text, "kmq_http_requests_total{type=\"execute\",outcome=\"TIMEOUT\"} 1\n"));
    SELFTEST_CHECK (strstr (text, "kmq_http_request_duration_seconds_bucket{type=\"execute\",le=\"0.005\"} 1\n"));
    SELFTEST_CHECK (strstr (text, "kmq_http_request_duration_seconds_bucket{type=\"execute\",le=\"0.25\"} 2\n"));
    SELFTEST_CHECK (strstr (text, "kmq_http_request_duration_seconds_bucket{type=\"execute\",le=\"+Inf\"} 3\n"));
    SELFTEST_CHECK (strstr (text, "kmq_http_request_duration_seconds_count{type=\"execute\"} 3\n"));
    SELFTEST_CHECK (strstr (text, "kmq_kernel_deaths_total{cause=\"signal_9\"} 1\n"));
    SELFTEST_CHECK (strstr (text, "kmq_http_responses_total{status=\"200\"} 1\n"));
    SELFTEST_CHECK (strstr (text, "kmq_http_connections 3\n"));
    SELFTEST_CHECK (strstr (text, "kmq_broker_up 1\n"));
    free (text);
    http_metrics_destroy (&metrics);
    SELFTEST_CHECK (!metrics);
    if (verbose)
        printf ("OK\n");
}
