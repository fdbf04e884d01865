/*  jupyter_server — the five sockets of a Jupyter kernel, from a
    connection file: shell, control and stdin (ROUTER), iopub (PUB), hb
    (REP, echoed here, whatever else the kernel is doing).

    jupyter_server_wait polls them together with one more libzmq socket
    (the kernelmq connection), so a single loop serves everything: it
    echoes heartbeats itself, drops and logs messages whose signature is
    wrong, and returns each verified request with the channel it came on.
*/
#ifndef JUPYTER_SERVER_H
#define JUPYTER_SERVER_H

#include "jupyter_message.h"

typedef enum {
    JUPYTER_SHELL,
    JUPYTER_CONTROL,
    JUPYTER_STDIN,
    JUPYTER_IOPUB,
    JUPYTER_CHANNEL_COUNT
} jupyter_channel_t;

typedef struct _jupyter_server_t jupyter_server_t;

//  Reads the connection file at path and binds its sockets. NULL when the
//  file is unreadable or invalid or a socket cannot bind; error says which.
jupyter_server_t *jupyter_server_new (const char *path, char *error, size_t error_size);
void jupyter_server_destroy (jupyter_server_t **self_p);

//  Waits at most timeout ms (-1: no limit) for a request on shell, control
//  or stdin, or for input on extra (a libzmq socket handle; may be NULL).
//  Returns a verified request (caller owns it) with *channel set, or NULL
//  when the time ran out, extra is readable (*extra_ready true), or a
//  signal interrupted the wait.
jupyter_msg_t *jupyter_server_wait (jupyter_server_t *self, void *extra,
                                    int timeout, jupyter_channel_t *channel,
                                    bool *extra_ready);

//  Sends msg (taken and cleared) on channel: a reply on shell, control or
//  stdin goes to its identities, iopub publishes with msg_type as topic.
//  0 or -1 (logged).
int jupyter_server_send (jupyter_server_t *self, jupyter_channel_t channel,
                         jupyter_msg_t **msg_p);

//  The kernel's Jupyter session id (the header "session" of what it sends).
const char *jupyter_server_session (jupyter_server_t *self);

//  Messages dropped for a wrong signature or a malformed frame so far.
size_t jupyter_server_dropped (jupyter_server_t *self);

#endif
