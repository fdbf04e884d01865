/*  http_server — libmicrohttpd, externally polled, one thread. See
    http_server.h for why.

    The traps:
    - A suspended connection is invisible to MHD: it neither times out nor
      notices that its client left. So a request is suspended only while
      the gateway owes it an answer, and streams are kept alive by their
      owner's writes (the gateway pings idle event streams).
    - MHD's own timeout is an idle timeout: a client that sends one header
      byte every few seconds is never idle. The read deadline here is
      absolute; a connection past it is shut down (shutdown(2), not
      close: the fd stays MHD's, which then sees end of input and closes
      it cleanly).
    - After MHD_resume_connection, MHD_run must run before the next poll
      (the resumed connection may have nothing new on its socket):
      http_server_timeout answers 0 then.
    - A response cannot be queued while MHD hands us body bytes; a body
      over the limit without a Content-Length is therefore read and
      dropped, then refused (the read deadline bounds how long).       */
#include <czmq.h>
#include <microhttpd.h>
#include <stdarg.h>
#include "http_server.h"
#include "mem.h"
#include "selftest.h"

#define S_SWEEP_MS 250              //  how often the read deadline is checked

//  One TCP connection (MHD's socket context).
typedef struct _s_conn_t {
    int fd;
    int64_t since;                  //  start, or the end of its last request
    bool busy;                      //  a request is in the handler's hands
    bool cut;                       //  shut down for slowness
    struct _s_conn_t *prev, *next;
} s_conn_t;

struct _http_server_t {
    struct MHD_Daemon *daemon;
    http_server_config_t config;
    http_handler_fn *handler;
    void *arg;
    s_conn_t *conns;                //  every open connection
    http_req_t *reqs;               //  every request not yet completed
    size_t conn_count;
    size_t req_count;
    bool resumed;                   //  MHD_run is due
    int64_t next_sweep;
    uint64_t slow_dropped;
    uint64_t refused;
    char *tls_cert, *tls_key;       //  copies MHD reads from
};

typedef enum { S_RECEIVING, S_HANDLING, S_ANSWERED } s_state_t;

struct _http_req_t {
    http_server_t *server;
    struct MHD_Connection *conn;
    s_conn_t *tcp;
    s_state_t state;
    bool suspended;
    bool too_large;
    char method [16];
    char *path;
    char *body;
    size_t body_size;
    int64_t started;
    http_close_fn *on_close;
    void *close_arg;
    void *data;
    //  A stream: bytes not yet taken by MHD, from out_off to out_size
    bool streaming, stream_ended;
    char *out;
    size_t out_size, out_off, out_max;
    http_req_t *prev, *next;        //  in the server's list
};

static void
s_logger (void *arg, const char *format, va_list args)
{
    (void) arg;
    char line [512];
    vsnprintf (line, sizeof line, format, args);
    size_t len = strlen (line);
    while (len && (line [len - 1] == '\n' || line [len - 1] == '\r'))
        line [--len] = 0;
    zsys_debug ("kmq-http: libmicrohttpd: %s", line);
}

static s_conn_t *
s_conn_of (struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info? (s_conn_t *) info->socket_context: NULL;
}

static void
s_notify_connection (void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    http_server_t *self = (http_server_t *) cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        s_conn_t *tcp = (s_conn_t *) zmalloc (sizeof (s_conn_t));
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        tcp->fd = info? info->connect_fd: -1;
        tcp->since = zclock_mono ();
        tcp->next = self->conns;
        if (self->conns)
            self->conns->prev = tcp;
        self->conns = tcp;
        self->conn_count++;
        *socket_context = tcp;
    }
    else {
        s_conn_t *tcp = (s_conn_t *) *socket_context;
        if (!tcp)
            return;
        if (tcp->prev)
            tcp->prev->next = tcp->next;
        else
            self->conns = tcp->next;
        if (tcp->next)
            tcp->next->prev = tcp->prev;
        self->conn_count--;
        free (tcp);
        *socket_context = NULL;
    }
}

static void
s_req_destroy (http_req_t **self_p)
{
    http_req_t *self = *self_p;
    if (!self)
        return;
    free (self->path);
    free (self->body);
    free (self->out);
    free (self);
    *self_p = NULL;
}

static void
s_completed (void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void) toe;
    http_server_t *self = (http_server_t *) cls;
    http_req_t *req = (http_req_t *) *con_cls;
    s_conn_t *tcp = s_conn_of (conn);
    if (tcp) {
        tcp->busy = false;
        tcp->since = zclock_mono ();
    }
    if (!req)
        return;
    if (req->on_close)
        req->on_close (req->close_arg, req);
    if (req->prev)
        req->prev->next = req->next;
    else
        self->reqs = req->next;
    if (req->next)
        req->next->prev = req->prev;
    self->req_count--;
    s_req_destroy (&req);
    *con_cls = NULL;
}

static void
s_add_headers (struct MHD_Response *response, const char *content_type)
{
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

//  Queues response (taken) with status; resumes the request if it waited.
static void
s_queue (http_req_t *self, unsigned status, struct MHD_Response *response)
{
    assert (self->state != S_ANSWERED);
    self->state = S_ANSWERED;
    if (!response)
        mem_oom ("an HTTP response");
    if (self->server->config.on_status)
        self->server->config.on_status (self->server->arg, status);
    if (MHD_queue_response (self->conn, status, response) != MHD_YES)
        zsys_warning ("kmq-http: %s %s: the response could not be queued (the"
                      " connection is closing)", self->method, self->path);
    MHD_destroy_response (response);
    if (self->suspended) {
        self->suspended = false;
        MHD_resume_connection (self->conn);
        self->server->resumed = true;
    }
}

static bool
s_length_over (struct MHD_Connection *conn, size_t max)
{
    const char *length = MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!length)
        return false;
    errno = 0;
    char *end;
    unsigned long long value = strtoull (length, &end, 10);
    return errno != 0 || *end || value > max;
}

static void
s_refuse_too_large (http_req_t *req)
{
    req->server->refused++;
    http_req_respond_error (req, MHD_HTTP_CONTENT_TOO_LARGE, "TOO_LARGE",
                            "the request body is over %zu bytes (--max-body):"
                            " send less", req->server->config.max_body_bytes);
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *conn, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_data_size, void **con_cls)
{
    http_server_t *self = (http_server_t *) cls;
    http_req_t *req = (http_req_t *) *con_cls;
    if (!req) {
        req = (http_req_t *) zmalloc (sizeof (http_req_t));
        req->server = self;
        req->conn = conn;
        req->tcp = s_conn_of (conn);
        snprintf (req->method, sizeof req->method, "%s", method);
        req->path = mem_strdup (url);
        *con_cls = req;
        req->next = self->reqs;
        if (self->reqs)
            self->reqs->prev = req;
        self->reqs = req;
        self->req_count++;
        if (s_length_over (conn, self->config.max_body_bytes))
            s_refuse_too_large (req);
        else
        if (version && streq (version, MHD_HTTP_VERSION_1_1)
        &&  !MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))
            http_req_respond_error (req, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST",
                                    "an HTTP/1.1 request must have a Host header");
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (req->state != S_RECEIVING || req->too_large)
            return MHD_YES;         //  answered already, or over: dropped
        if (req->body_size + size > self->config.max_body_bytes) {
            req->too_large = true;
            free (req->body);
            req->body = NULL;
            req->body_size = 0;
            return MHD_YES;
        }
        char *body = (char *) realloc (req->body, req->body_size + size + 1);
        if (!body)
            mem_oom ("a request body");     //  bounded by max_body_bytes
        memcpy (body + req->body_size, upload_data, size);
        req->body = body;
        req->body_size += size;
        req->body [req->body_size] = 0;
        return MHD_YES;
    }
    (void) upload_data;
    if (req->state != S_RECEIVING)
        return MHD_YES;
    if (req->tcp)
        req->tcp->busy = true;
    req->started = zclock_mono ();
    if (req->too_large)
        s_refuse_too_large (req);
    else {
        req->state = S_HANDLING;
        self->handler (self->arg, req);
    }
    if (req->state == S_HANDLING) {
        MHD_suspend_connection (conn);
        req->suspended = true;
    }
    return MHD_YES;
}

//  --- server -------------------------------------------------------------

static char *
s_copy (const char *text)
{
    return text? mem_strdup (text): NULL;
}

http_server_t *
http_server_new (const http_server_config_t *config, http_handler_fn *handler,
                 void *arg, char *error, size_t error_size)
{
    assert (config && handler);
    http_server_t *self = (http_server_t *) zmalloc (sizeof (http_server_t));
    self->config = *config;
    self->handler = handler;
    self->arg = arg;
    self->tls_cert = s_copy (config->tls_cert_pem);
    self->tls_key = s_copy (config->tls_key_pem);
    self->config.tls_cert_pem = self->tls_cert;
    self->config.tls_key_pem = self->tls_key;
    unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (config->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    bool tls = self->tls_cert && self->tls_key;
    if (tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem options [16];
    size_t n = 0;
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_EXTERNAL_LOGGER,
                                              (intptr_t) s_logger, NULL };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_SOCK_ADDR, 0, (void *) &self->config.addr };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_LIMIT, config->max_connections, NULL };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_PER_IP_CONNECTION_LIMIT, config->max_per_ip, NULL };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_TIMEOUT, config->idle_timeout_s, NULL };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                              (intptr_t) config->max_header_bytes, NULL };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_NOTIFY_COMPLETED,
                                              (intptr_t) s_completed, self };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_NOTIFY_CONNECTION,
                                              (intptr_t) s_notify_connection, self };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, NULL };
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL };
    if (tls) {
        options [n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_CERT, 0, self->tls_cert };
        options [n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_KEY, 0, self->tls_key };
    }
    options [n++] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };
    errno = 0;
    self->daemon = MHD_start_daemon (flags, 0, NULL, NULL, s_access, self,
                                     MHD_OPTION_ARRAY, options, MHD_OPTION_END);
    if (!self->daemon) {
        int saved = errno;
        snprintf (error, error_size, "libmicrohttpd could not start%s: %s (is the"
                  " address taken, or not this machine's?%s)",
                  tls? " with TLS": "", saved? strerror (saved): "no reason given",
                  tls? " are --tls-cert and --tls-key a PEM certificate and its key?": "");
        http_server_destroy (&self);
        return NULL;
    }
    return self;
}

void
http_server_destroy (http_server_t **self_p)
{
    assert (self_p);
    http_server_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon) {
        //  Suspended connections must be resumed before MHD stops: every
        //  request still waiting is answered, every stream ended.
        for (http_req_t *req = self->reqs; req; req = req->next) {
            if (req->streaming)
                http_req_stream_end (req);
            else
            if (req->state == S_HANDLING)
                http_req_respond_error (req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                        "SHUTTING_DOWN", "kmq-http is stopping:"
                                        " try again when it is back");
        }
        MHD_run (self->daemon);
        MHD_stop_daemon (self->daemon);
    }
    free (self->tls_cert);
    free (self->tls_key);
    free (self);
    *self_p = NULL;
}

int
http_server_fd (http_server_t *self)
{
    assert (self);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_EPOLL_FD);
    return info? info->epoll_fd: -1;
}

int
http_server_timeout (http_server_t *self)
{
    assert (self);
    if (self->resumed)
        return 0;
    int timeout = -1;
    MHD_UNSIGNED_LONG_LONG mhd;
    if (MHD_get_timeout (self->daemon, &mhd) == MHD_YES)
        timeout = mhd > INT_MAX? INT_MAX: (int) mhd;
    if (self->conns && self->config.read_timeout_s) {
        int64_t wait = self->next_sweep - zclock_mono ();
        int sweep = wait < 0? 0: (int) wait;
        if (timeout < 0 || sweep < timeout)
            timeout = sweep;
    }
    return timeout;
}

//  Shuts down connections past the read deadline.
static void
s_sweep (http_server_t *self)
{
    int64_t now = zclock_mono ();
    if (now < self->next_sweep || !self->config.read_timeout_s)
        return;
    self->next_sweep = now + S_SWEEP_MS;
    int64_t deadline = now - (int64_t) self->config.read_timeout_s * 1000;
    for (s_conn_t *tcp = self->conns; tcp; tcp = tcp->next) {
        if (tcp->busy || tcp->cut || tcp->since > deadline || tcp->fd < 0)
            continue;
        tcp->cut = true;
        self->slow_dropped++;
        if (shutdown (tcp->fd, SHUT_RDWR) != 0)
            zsys_debug ("kmq-http: connection fd %d: shutdown: %s", tcp->fd,
                        strerror (errno));
    }
}

void
http_server_run (http_server_t *self)
{
    assert (self);
    self->resumed = false;
    MHD_run (self->daemon);
    s_sweep (self);
    if (self->resumed) {
        self->resumed = false;
        MHD_run (self->daemon);
    }
}

size_t
http_server_connections (http_server_t *self)
{
    assert (self);
    return self->conn_count;
}

size_t
http_server_requests (http_server_t *self)
{
    assert (self);
    return self->req_count;
}

uint64_t
http_server_slow_dropped (http_server_t *self)
{
    assert (self);
    return self->slow_dropped;
}

uint64_t
http_server_refused (http_server_t *self)
{
    assert (self);
    return self->refused;
}

//  --- a request ---------------------------------------------------------------

const char *
http_req_method (http_req_t *self)
{
    assert (self);
    return self->method;
}

const char *
http_req_path (http_req_t *self)
{
    assert (self);
    return self->path;
}

const char *
http_req_header (http_req_t *self, const char *name)
{
    assert (self && name);
    return MHD_lookup_connection_value (self->conn, MHD_HEADER_KIND, name);
}

const char *
http_req_query (http_req_t *self, const char *name)
{
    assert (self && name);
    return MHD_lookup_connection_value (self->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
http_req_body (http_req_t *self, size_t *size)
{
    assert (self);
    if (size)
        *size = self->body_size;
    return self->body? self->body: "";
}

//  True when the comma-separated media ranges in accept name type, its
//  "major/*" or "*/*" (parameters such as ;q= are ignored).
static bool
s_accept_has (const char *accept, const char *type, bool wildcards)
{
    const char *slash = strchr (type, '/');
    size_t major = slash? (size_t) (slash - type): strlen (type);
    for (const char *p = accept; *p; ) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn (p, ",;");
        while (len && p [len - 1] == ' ')
            len--;
        if ((len == strlen (type) && strncasecmp (p, type, len) == 0)
        ||  (wildcards && len == 3 && strncmp (p, "*/*", 3) == 0)
        ||  (wildcards && len == major + 2 && strncasecmp (p, type, major) == 0
             && strncmp (p + major, "/*", 2) == 0))
            return true;
        p += strcspn (p, ",");
    }
    return false;
}

bool
http_req_accepts (http_req_t *self, const char *type)
{
    assert (self && type);
    const char *accept = http_req_header (self, MHD_HTTP_HEADER_ACCEPT);
    return !accept || !*accept || s_accept_has (accept, type, true);
}

bool
http_req_wants_sse (http_req_t *self)
{
    assert (self);
    const char *accept = http_req_header (self, MHD_HTTP_HEADER_ACCEPT);
    return accept && s_accept_has (accept, "text/event-stream", false);
}

int64_t
http_req_started (http_req_t *self)
{
    assert (self);
    return self->started;
}

void
http_req_on_close (http_req_t *self, http_close_fn *fn, void *arg)
{
    assert (self);
    self->on_close = fn;
    self->close_arg = arg;
}

void
http_req_set_data (http_req_t *self, void *data)
{
    assert (self);
    self->data = data;
}

void *
http_req_data (http_req_t *self)
{
    assert (self);
    return self->data;
}

bool
http_req_answered (http_req_t *self)
{
    assert (self);
    return self->state == S_ANSWERED;
}

void
http_req_respond (http_req_t *self, unsigned status, const char *content_type,
                  const void *body, size_t size, const char *extra_header)
{
    assert (self && content_type && (body || size == 0));
    struct MHD_Response *response = MHD_create_response_from_buffer (
        size, (void *) (body? body: ""), MHD_RESPMEM_MUST_COPY);
    if (!response)
        mem_oom ("an HTTP response");
    s_add_headers (response, content_type);
    if (extra_header) {
        const char *colon = strchr (extra_header, ':');
        if (colon) {
            char *name = mem_strndup (extra_header, (size_t) (colon - extra_header));
            const char *value = colon + 1;
            while (*value == ' ')
                value++;
            MHD_add_response_header (response, name, value);
            free (name);
        }
    }
    s_queue (self, status, response);
}

void
http_req_respond_take (http_req_t *self, unsigned status, const char *content_type,
                       void *body, size_t size)
{
    assert (self && content_type);
    if (!body) {
        http_req_respond (self, status, content_type, "", 0, NULL);
        return;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer (
        size, body, MHD_RESPMEM_MUST_FREE);
    if (!response)
        mem_oom ("an HTTP response");
    s_add_headers (response, content_type);
    s_queue (self, status, response);
}

void
http_req_respond_json (http_req_t *self, unsigned status, json_t *json)
{
    assert (self && json);
    char *text = json_dumps (json, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref (json);
    if (!text)
        mem_oom ("a JSON response");
    size_t size = strlen (text);
    //  One newline at the end, as curl users expect
    char *body = (char *) realloc (text, size + 2);
    if (!body)
        mem_oom ("a JSON response");
    body [size] = '\n';
    body [size + 1] = 0;
    http_req_respond_take (self, status, "application/json", body, size + 1);
}

void
http_req_respond_error (http_req_t *self, unsigned status, const char *error,
                        const char *format, ...)
{
    assert (self && error && format);
    va_list args;
    va_start (args, format);
    char *message = mem_vsprintf (format, args);
    va_end (args);
    json_t *body = json_object ();
    json_object_set_new (body, "error", json_string (error));
    json_t *text = json_string (message);
    json_object_set_new (body, "message", text? text: json_string ("(not UTF-8)"));
    free (message);
    http_req_respond_json (self, status, body);
}

//  MHD asks for the next bytes of a stream.
static ssize_t
s_stream_read (void *cls, uint64_t pos, char *buf, size_t max)
{
    (void) pos;
    http_req_t *self = (http_req_t *) cls;
    size_t left = self->out_size - self->out_off;
    if (left) {
        size_t n = left < max? left: max;
        memcpy (buf, self->out + self->out_off, n);
        self->out_off += n;
        if (self->out_off == self->out_size)
            self->out_off = self->out_size = 0;
        return (ssize_t) n;
    }
    if (self->stream_ended)
        return MHD_CONTENT_READER_END_OF_STREAM;
    MHD_suspend_connection (self->conn);
    self->suspended = true;
    return 0;
}

void
http_req_stream_begin (http_req_t *self, unsigned status, const char *content_type)
{
    assert (self && content_type && !self->streaming);
    struct MHD_Response *response = MHD_create_response_from_callback (
        MHD_SIZE_UNKNOWN, 16 * 1024, s_stream_read, self, NULL);
    if (!response)
        mem_oom ("an HTTP stream");
    s_add_headers (response, content_type);
    MHD_add_response_header (response, "X-Accel-Buffering", "no");
    self->streaming = true;
    s_queue (self, status, response);
}

static void
s_stream_wake (http_req_t *self)
{
    if (self->suspended) {
        self->suspended = false;
        MHD_resume_connection (self->conn);
        self->server->resumed = true;
    }
}

void
http_req_stream_write (http_req_t *self, const void *data, size_t size)
{
    assert (self && self->streaming && (data || size == 0));
    if (self->stream_ended || size == 0)
        return;
    if (self->out_size + size > self->out_max) {
        size_t want = (self->out_size + size) * 2;
        char *out = (char *) realloc (self->out, want);
        if (!out)
            mem_oom ("an HTTP stream's buffer");    //  bounded: see backlog
        self->out = out;
        self->out_max = want;
    }
    memcpy (self->out + self->out_size, data, size);
    self->out_size += size;
    s_stream_wake (self);
}

void
http_req_stream_end (http_req_t *self)
{
    assert (self && self->streaming);
    self->stream_ended = true;
    s_stream_wake (self);
}

size_t
http_req_stream_backlog (http_req_t *self)
{
    assert (self);
    return self->out_size - self->out_off;
}

static void
s_test_handler (void *arg, http_req_t *req)
{
    (void) arg;
    http_req_respond (req, MHD_HTTP_OK, "text/plain", "ok", 2, NULL);
}

void
http_server_test (bool verbose)
{
    if (verbose)
        printf (" * http_server: ");
    SELFTEST_CHECK (s_accept_has ("text/event-stream", "text/event-stream", false));
    SELFTEST_CHECK (s_accept_has ("application/json, text/event-stream;q=0.9",
                                  "text/event-stream", false));
    SELFTEST_CHECK (!s_accept_has ("*/*", "text/event-stream", false));
    SELFTEST_CHECK (s_accept_has ("*/*", "application/json", true));
    SELFTEST_CHECK (s_accept_has ("application/*", "application/json", true));
    SELFTEST_CHECK (!s_accept_has ("text/html", "application/json", true));
    SELFTEST_CHECK (!s_accept_has ("application/jsonx", "application/json", true));

    //  A real server on a loopback port: listens, and stops
    http_server_config_t config = { .max_body_bytes = 1024, .max_header_bytes = 16384,
                                    .max_connections = 8, .idle_timeout_s = 5,
                                    .read_timeout_s = 5 };
    struct sockaddr_in *in = (struct sockaddr_in *) &config.addr;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    in->sin_port = 0;
    config.addr_len = sizeof *in;
    char error [256];
    http_server_t *server = http_server_new (&config, s_test_handler, NULL,
                                             error, sizeof error);
    SELFTEST_CHECK (server);
    SELFTEST_CHECK (http_server_fd (server) >= 0);
    SELFTEST_CHECK (http_server_connections (server) == 0);
    http_server_run (server);
    http_server_destroy (&server);
    SELFTEST_CHECK (!server);
    if (verbose)
        printf ("OK\n");
}
