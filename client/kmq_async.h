/*  kmq_async — libkmq's asynchronous connection to a kmq-broker.

    Where kmq_t sends one request and waits for its reply, a kmq_async_t
    sends requests at once and hands back events and replies as they come,
    so one loop can serve the broker and other sockets (a Jupyter kernel's
    five, an HTTP gateway's clients) without ever blocking on the broker.

        kmq_async_t *conn = kmq_async_new ("tcp://127.0.0.1:5555", NULL, err, sizeof err);
        uint64_t id = kmq_async_execute (conn, "nb1", "1 + 1", 5, 0);
        while (running) {
            zmq_pollitem_t item = { kmq_async_handle (conn), 0, ZMQ_POLLIN, 0 };
            zmq_poll (&item, 1, kmq_async_timeout (conn));
            kmq_reply_t *msg;
            while ((msg = kmq_async_next (conn))) {
                if (kmq_reply_event (msg)) ... an event of request kmq_reply_id (msg)
                else                       ... the reply of request kmq_reply_id (msg)
                kmq_reply_destroy (&msg);
            }
        }

    Messages: every event and reply from the broker, unfiltered (events
    with id 0 are a shared session's, protocol.md 4.5), as kmq_reply_t
    objects: kmq.h's accessors read any message's fields and payloads;
    kmq_reply_event names an event's kind and is NULL for a reply.

    Connection states: CONNECTING (hello sent, requests held back),
    READY (hello answered: requests go out at once, heartbeats every
    interval while the object lives), DOWN (the broker did not answer hello
    within the hello timeout, or went silent for interval x liveness). On
    the way to DOWN every request without a reply gets a local reply with
    error BROKER_LOST whose message says what happened and what to do:
        "kernelmq broker at E did not answer: start it with make run"
    A request made while DOWN starts a fresh connection (a new socket, a new
    hello) and is held back until it is answered, so a broker started later
    is found again. No request is ever left without a reply.

    Request functions return the request's id (never 0). A request refused
    locally (an invalid session key, a payload over max_payload) gets its
    local reply (BAD_REQUEST, TOO_LARGE) from the next kmq_async_next.

    The library never prints. One kmq_async_t must be used from one thread.
*/
#ifndef KMQ_ASYNC_H
#define KMQ_ASYNC_H

#include "kmq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _kmq_async_t kmq_async_t;

typedef enum {
    KMQ_ASYNC_CONNECTING,
    KMQ_ASYNC_READY,
    KMQ_ASYNC_DOWN
} kmq_async_state_t;

//  Connects to endpoint and sends hello; returns at once (CONNECTING).
//  NULL only when the endpoint cannot be used at all (error says why).
//  options may be NULL; hello_timeout_ms and client_name are used.
kmq_async_t *kmq_async_new (const char *endpoint, const kmq_options_t *options,
                            char *error, size_t error_size);
//  Closes the connection; requests without replies are dropped. No-op on NULL.
void kmq_async_destroy (kmq_async_t **self_p);

//  The libzmq socket to poll for ZMQ_POLLIN. It changes when a connection
//  is started afresh: ask for it before each poll.
void *kmq_async_handle (kmq_async_t *self);
//  Milliseconds until kmq_async_next must be called even if the socket
//  stays quiet (heartbeats, hello and silence deadlines, local replies
//  waiting); 0 when it should be called now.
int kmq_async_timeout (kmq_async_t *self);
//  The next message, or NULL when none is ready. Never blocks. Also sends
//  heartbeats and notices a silent broker. Caller destroys the message.
kmq_reply_t *kmq_async_next (kmq_async_t *self);

kmq_async_state_t kmq_async_state (kmq_async_t *self);
//  The endpoint, as given.
const char *kmq_async_endpoint (kmq_async_t *self);
//  Why the connection is DOWN, a sentence ("" otherwise).
const char *kmq_async_error (kmq_async_t *self);
//  Requests sent or held back that have no reply yet.
size_t kmq_async_outstanding (kmq_async_t *self);

//  --- requests (protocol.md section 5); each returns the request id -------

uint64_t kmq_async_execute (kmq_async_t *self, const char *session,
                            const char *code, size_t len, uint32_t timeout_ms);
//  format "csv", "json", "file", or "frame" (data: a .kmqf file, as kmq_upload).
uint64_t kmq_async_upload (kmq_async_t *self, const char *session,
                           const char *name, const char *format,
                           const void *data, size_t size);
uint64_t kmq_async_download (kmq_async_t *self, const char *session,
                             const char *name, const char *format);
//  cursor_pos: a byte offset into code, at most len.
uint64_t kmq_async_complete (kmq_async_t *self, const char *session,
                             const char *code, size_t len, size_t cursor_pos);
uint64_t kmq_async_inspect (kmq_async_t *self, const char *session,
                            const char *code, size_t len, size_t cursor_pos);
uint64_t kmq_async_is_complete (kmq_async_t *self, const char *session,
                                const char *code, size_t len);
//  last: at most that many recent cells; 0 for all.
uint64_t kmq_async_history (kmq_async_t *self, const char *session, uint64_t last);
uint64_t kmq_async_reset (kmq_async_t *self, const char *session);
uint64_t kmq_async_vars (kmq_async_t *self, const char *session);
uint64_t kmq_async_interrupt (kmq_async_t *self, const char *session);
uint64_t kmq_async_close (kmq_async_t *self, const char *session);
uint64_t kmq_async_attach (kmq_async_t *self, const char *session);
uint64_t kmq_async_detach (kmq_async_t *self, const char *session);
uint64_t kmq_async_stats (kmq_async_t *self);

//  Selftest against an in-process fake broker.
//  The identity (a z85 public key) the requests sent from now on act for:
//  each carries it as `as` (protocol.md 13.4), which the broker honours
//  for a key on its gateways/ list only. NULL: our own key. Only on a
//  CURVE connection (tcp); without one it is ignored, as every client
//  there is "local".
void kmq_async_act_as (kmq_async_t *self, const char *identity);

void kmq_async_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
