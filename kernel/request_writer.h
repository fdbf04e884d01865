/*  request_writer — writes one message to a stream socket on a helper thread.

    proto_stream_write blocks while the peer is not reading (the executor is
    still starting, or takes a large upload), and the monitor's poll loop
    must keep heartbeating meanwhile. So the monitor hands each request to a
    request_writer, which writes it on its own thread and, when the write
    ends either way, writes one byte to a wake fd so the poll notices.

    One write at a time: start, then check done (on the wake byte), then
    join to collect the result. The thread blocks every signal: signals stay
    the main thread's business.
*/
#ifndef KMQ_REQUEST_WRITER_H
#define KMQ_REQUEST_WRITER_H

#include <czmq.h>
#include <stdbool.h>

typedef struct _request_writer_t request_writer_t;

//  Returns a new idle writer.
request_writer_t *request_writer_new (void);

//  Starts writing *msg_p to fd (proto_stream framing) on a new thread, which
//  writes a byte to wake_fd when the write ends. Returns 0 once the thread
//  runs: it owns the message and *msg_p is cleared. Returns -1 with errno
//  set when the thread could not start: *msg_p is untouched and still the
//  caller's. A write must not be in flight (request_writer_active).
int request_writer_start (request_writer_t *self, int fd, int wake_fd,
                          zmsg_t **msg_p);

//  True from a successful start until request_writer_join.
bool request_writer_active (request_writer_t *self);

//  True when a write is in flight and its thread has finished, so
//  request_writer_join will not block.
bool request_writer_done (request_writer_t *self);

//  Waits for the thread of an active writer and makes the writer idle.
//  Returns the write's result: 0, or -1 with errno set to the write's error
//  (EPIPE or ECONNRESET when the peer is gone).
int request_writer_join (request_writer_t *self);

//  Joins a write still in flight, then frees the writer. The caller must
//  first make such a write end (kill the peer, shutdown the fd), or this
//  blocks. No-op on NULL.
void request_writer_destroy (request_writer_t **self_p);

#endif
