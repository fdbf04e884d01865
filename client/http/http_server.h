/*  http_server — kmq-http's HTTP side: libmicrohttpd in external-polling
    mode on epoll, driven from the gateway's one thread.

    Why one thread, external polling and suspend/resume: every request
    ends in a kernelmq call whose answer may take seconds (a cell that
    runs) or never come back quickly (a stream of events). A thread per
    connection would let 1,000 slow or waiting clients hold 1,000 threads;
    a pool with blocking waits would let the first N of them starve the
    rest. Here MHD never blocks: the one thread polls MHD's epoll fd
    beside the ZeroMQ socket, a request whose answer is not ready is
    suspended (MHD stops polling its socket; it costs a few KiB and no
    thread), and the reply resumes it. A client that sends its headers
    or body slowly costs the same few KiB until read_timeout_s cuts it off
    (slowloris); one that stops reading is cut off by MHD's idle timeout.
    Nothing a client does makes another one wait, except using up
    max_connections.

    A request reaches the handler once, after its whole body is in (or
    refused before: a Content-Length or body over max_body_bytes gets 413
    here and never reaches the handler). The handler answers at once
    (http_req_respond*), later (the request stays suspended until then),
    or as a stream (http_req_stream_*). Requests are owned by the server:
    the on_close callback a handler sets is the last word about a request,
    after which its pointer must not be used.
*/
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct _http_server_t http_server_t;
typedef struct _http_req_t http_req_t;

typedef struct {
    struct sockaddr_storage addr;   //  where to listen (IPv4 or IPv6)
    socklen_t addr_len;
    size_t max_body_bytes;          //  request body; larger is 413
    size_t max_header_bytes;        //  MHD's per-connection memory: headers
                                    //  and URL must fit (431/414 otherwise)
    unsigned max_connections;       //  more are closed at accept
    unsigned max_per_ip;            //  0: no limit
    unsigned idle_timeout_s;        //  no progress at all for this long: closed
    unsigned read_timeout_s;        //  a request must be in whole (headers and
                                    //  body) within this of its connection's
                                    //  start or the previous request's end
    const char *tls_cert_pem;       //  both or neither: TLS
    const char *tls_key_pem;
    //  Told of every answer's status (may be NULL); gets the handler's arg.
    void (*on_status) (void *arg, unsigned status);
} http_server_config_t;

//  A request whose body is in. Answer it now or later, exactly once.
typedef void (http_handler_fn) (void *arg, http_req_t *req);
//  The request ended (answered, or the client went away): forget it.
typedef void (http_close_fn) (void *arg, http_req_t *req);

//  Listens as config says. Returns NULL with error filled (the address is
//  taken, TLS files invalid, ...).
http_server_t *http_server_new (const http_server_config_t *config,
                                http_handler_fn *handler, void *arg,
                                char *error, size_t error_size);
//  Resumes what is suspended, stops the daemon. No-op on NULL.
void http_server_destroy (http_server_t **self_p);

//  The fd to poll for input (MHD's epoll set), and the ms until
//  http_server_run must be called even if it stays quiet (-1: no limit).
int http_server_fd (http_server_t *self);
int http_server_timeout (http_server_t *self);
//  Does whatever is ready: network I/O, handlers, timeouts, the read
//  deadline. Never blocks.
void http_server_run (http_server_t *self);

//  Figures: open connections, requests in handling, connections cut off
//  for being too slow, requests refused before the handler (413).
size_t http_server_connections (http_server_t *self);
size_t http_server_requests (http_server_t *self);
uint64_t http_server_slow_dropped (http_server_t *self);
uint64_t http_server_refused (http_server_t *self);

//  --- a request ---------------------------------------------------------

const char *http_req_method (http_req_t *self);
//  The path, percent-decoded, without the query.
const char *http_req_path (http_req_t *self);
//  A header's value (case-insensitive name), NULL when absent.
const char *http_req_header (http_req_t *self, const char *name);
//  A query argument's value (decoded), NULL when absent.
const char *http_req_query (http_req_t *self, const char *name);
//  The body (NUL-terminated for convenience; size excludes the NUL).
const char *http_req_body (http_req_t *self, size_t *size);
//  True when the client accepts media type (an Accept header naming it, or
//  its type with a wildcard; no Accept header accepts everything).
bool http_req_accepts (http_req_t *self, const char *type);
//  True when the request asked for an event stream (Accept names
//  text/event-stream).
bool http_req_wants_sse (http_req_t *self);
//  mono ms when the request reached the handler.
int64_t http_req_started (http_req_t *self);

//  Who to tell when the request ends; arg is passed back.
void http_req_on_close (http_req_t *self, http_close_fn *fn, void *arg);
//  One pointer the handler keeps with the request (borrowed).
void http_req_set_data (http_req_t *self, void *data);
void *http_req_data (http_req_t *self);
//  True once an answer (or a stream) was started.
bool http_req_answered (http_req_t *self);

//  Answers with body (size bytes, copied) and content_type. extra_header
//  ("Name: value", may be NULL) is added.
void http_req_respond (http_req_t *self, unsigned status, const char *content_type,
                       const void *body, size_t size, const char *extra_header);
//  Answers with body, which the response takes (freed with free ()).
void http_req_respond_take (http_req_t *self, unsigned status,
                            const char *content_type, void *body, size_t size);
//  Answers with json (taken), as application/json.
void http_req_respond_json (http_req_t *self, unsigned status, json_t *json);
//  Answers {"error": error, "message": ...} with status.
void http_req_respond_error (http_req_t *self, unsigned status, const char *error,
                             const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  Starts a chunked answer of content_type (headers go out now); write
//  appends bytes as they come; end closes it. A stream whose client went
//  away ends with on_close.
void http_req_stream_begin (http_req_t *self, unsigned status, const char *content_type);
void http_req_stream_write (http_req_t *self, const void *data, size_t size);
void http_req_stream_end (http_req_t *self);
//  Bytes written to the stream and not yet taken by the network.
size_t http_req_stream_backlog (http_req_t *self);

void http_server_test (bool verbose);

#endif
