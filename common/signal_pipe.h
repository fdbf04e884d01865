/*  signal_pipe — the process's SIGTERM, SIGINT and SIGCHLD as a readable fd.

    A signal that lands just before zmq_poll would be missed by a flag
    alone; so the handlers also write a byte to a non-blocking self-pipe
    that the poll watches, and any signal always wakes it. SIGPIPE is
    ignored so a write to a dead peer fails with EPIPE instead.

    Process-wide: one signal_pipe may exist at a time, since the handlers
    and the flag they set are global (the only global state a kernelmq
    process has). The broker and each kernel monitor own one.
*/
#ifndef KMQ_SIGNAL_PIPE_H
#define KMQ_SIGNAL_PIPE_H

#include <stdbool.h>

typedef struct _signal_pipe_t signal_pipe_t;

//  Creates the pipe and installs the handlers. Returns NULL on failure,
//  logged with name (the log prefix) in front.
signal_pipe_t *signal_pipe_new (const char *name);

//  The read end, to poll for input.
int signal_pipe_fd (signal_pipe_t *self);

//  Reads away what the pipe holds, after the poll reported it.
void signal_pipe_drain (signal_pipe_t *self);

//  SIGTERM or SIGINT once either arrived (the latest one), else 0.
int signal_pipe_stop_signal (signal_pipe_t *self);

//  Selftest.
void signal_pipe_test (bool verbose);

//  Restores the handlers that were in place before, closes the pipe.
//  No-op on NULL.
void signal_pipe_destroy (signal_pipe_t **self_p);

#endif
