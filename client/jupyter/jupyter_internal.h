/*  jupyter_internal — what kmq-jupyter's files share: the kernel's state,
    the requests in flight, and the calls the handlers and the output
    mapping make. Not a public API.                                       */
#ifndef JUPYTER_INTERNAL_H
#define JUPYTER_INTERNAL_H

#include "jupyter_kernel.h"
#include "jupyter_server.h"
#include "kmq_async.h"

typedef struct _jupyter_pending_t jupyter_pending_t;

//  zsys_debug when the kernel runs with -v.
#define JUPYTER_DEBUG(self, ...) \
    do { if ((self)->verbose) zsys_debug (__VA_ARGS__); } while (0)

//  Called with the kernelmq reply (borrowed) of a tracked request.
typedef void (jupyter_reply_fn) (jupyter_kernel_t *kernel,
                                 jupyter_pending_t *pending, kmq_reply_t *reply);

//  Bytes of an incomplete UTF-8 character held back from a stream chunk.
typedef struct {
    char bytes [2][4];              //  stdout, stderr
    size_t size [2];
} jupyter_carry_t;

//  A kernelmq request in flight, and the Jupyter request it serves.
struct _jupyter_pending_t {
    uint64_t id;                    //  kernelmq request id
    jupyter_msg_t *request;         //  owned; NULL for the bridge's own requests
    jupyter_channel_t channel;      //  where the Jupyter reply goes
    jupyter_reply_fn *on_reply;
    bool silent;                    //  execute: no execute_input/result
    bool store_history;
    bool stop_on_error;
    jupyter_carry_t carry;
};

struct _jupyter_kernel_t {
    jupyter_server_t *server;
    kmq_async_t *kmq;
    char *session;                  //  the kernelmq session key
    bool shared;                    //  named with --session: not ours to close
    bool attached;                  //  attach answered ok and still holds
    bool attaching;                 //  an attach is in flight
    zhash_t *pending;               //  "id" -> jupyter_pending_t
    zlist_t *executes;              //  execute_requests waiting, in order
    bool executing;                 //  an execute is in flight
    zhash_t *unstored;              //  "count": cells run with store_history false
    bool done;                      //  shutdown answered: leave the loop
    bool verbose;
    int exit_status;
};

//  Sends a kernelmq request's reply to Jupyter: msg_type on the request's
//  channel, content taken. The request stays with the caller.
void jupyter_kernel_reply (jupyter_kernel_t *self, jupyter_msg_t *request,
                           jupyter_channel_t channel, const char *msg_type,
                           json_t *content);
//  Publishes msg_type on IOPub with parent header parent (borrowed; NULL
//  for none); content taken.
void jupyter_kernel_publish (jupyter_kernel_t *self, json_t *parent,
                             const char *msg_type, json_t *content);
//  Publishes status state ("busy", "idle") for request.
void jupyter_kernel_status (jupyter_kernel_t *self, jupyter_msg_t *request,
                            const char *state);
//  Tracks kernelmq request id for request (taken; may be NULL): on_reply
//  gets its reply; its events become IOPub messages. Returns the record.
jupyter_pending_t *jupyter_kernel_track (jupyter_kernel_t *self, uint64_t id,
                                         jupyter_msg_t **request_p,
                                         jupyter_channel_t channel,
                                         jupyter_reply_fn *on_reply);
//  Starts the next waiting execute_request, if none runs.
void jupyter_kernel_next_execute (jupyter_kernel_t *self);
//  Sends attach for the session unless attached or attaching.
void jupyter_kernel_attach (jupyter_kernel_t *self);

//  --- jupyter_handlers.c -----------------------------------------------------

//  Handles one verified Jupyter request that came on channel (taken).
void jupyter_handlers_dispatch (jupyter_kernel_t *self, jupyter_msg_t **msg_p,
                                jupyter_channel_t channel);
//  Runs a waiting execute_request (taken) now.
void jupyter_handlers_execute (jupyter_kernel_t *self, jupyter_msg_t **msg_p);

//  --- jupyter_output.c -------------------------------------------------------

//  IOPub messages for a kernelmq event (stream, display, input, truncated,
//  status, outcome, kernel, ...) of a request whose Jupyter parent header
//  is parent; carry holds split characters of its streams; silent drops
//  execute_input and results as Jupyter's silent asks.
void jupyter_output_event (jupyter_kernel_t *self, kmq_reply_t *event,
                           json_t *parent, jupyter_carry_t *carry, bool silent);
//  The content of an error for a failed kernelmq reply: ename, evalue and
//  traceback, Python's for PYTHON_ERROR, else kernelmq's error and message.
json_t *jupyter_output_error (kmq_reply_t *reply);
//  What an execute's reply (or another client's outcome) shows on IOPub:
//  a notice when state was lost, then execute_result or error.
void jupyter_output_result (jupyter_kernel_t *self, kmq_reply_t *reply,
                            json_t *parent, bool silent);
//  The parent header for events of another client's request (id 0): its
//  own msg_id ("kmq-CLIENT-REQUEST"), session and username. Caller owns it.
json_t *jupyter_output_foreign_parent (kmq_reply_t *event);

#endif
