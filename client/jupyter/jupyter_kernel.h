/*  jupyter_kernel — kmq-jupyter's core: one Jupyter kernel bound to one
    kernelmq session behind a broker.

    It owns the Jupyter sockets (jupyter_server) and an asynchronous
    kernelmq connection (kmq_async), and runs one loop over both: Jupyter
    requests go to the handler their msg_type names (jupyter_handlers),
    most of which send a kernelmq request; kernelmq events and replies come
    back as IOPub messages and Jupyter replies (jupyter_output). Heartbeats
    are answered whatever the broker does; a broker that does not answer
    turns into an error reply, never into silence.

    The session: a fresh random key by default (closed when the kernel
    shuts down), or a shared one named with --session (left running for its
    other clients). The kernel attaches to it, so outputs of other clients'
    requests appear on IOPub with their own parent header.
*/
#ifndef JUPYTER_KERNEL_H
#define JUPYTER_KERNEL_H

#include <signal.h>
#include <stdbool.h>

typedef struct _jupyter_kernel_t jupyter_kernel_t;

typedef struct {
    const char *connection_file;    //  from the frontend (-f)
    const char *endpoint;           //  the broker's frontend
    const char *session;            //  shared session key, or NULL for a fresh one
    int hello_timeout_ms;           //  0: libkmq's default
    bool verbose;                   //  log every message at debug level
} jupyter_kernel_config_t;

//  Binds the Jupyter sockets and starts connecting to the broker (without
//  waiting for it). NULL when the connection file or a socket fails;
//  error says which.
jupyter_kernel_t *jupyter_kernel_new (const jupyter_kernel_config_t *config,
                                      char *error, size_t error_size);
void jupyter_kernel_destroy (jupyter_kernel_t **self_p);

//  Serves until a shutdown_request is answered or *stop is set (a signal);
//  then closes a private session. Returns the process's exit status.
int jupyter_kernel_run (jupyter_kernel_t *self, volatile sig_atomic_t *stop);

#endif
