/*  proto_stream — kernelmq multipart messages over a byte stream.

    The monitor and its executor talk over a socketpair, not ZeroMQ. A
    message there is the same multipart as on the wire, framed as:

        u32 frame count (big-endian), then per frame: u64 size (big-endian)
        followed by that many bytes.

    The reader is incremental so the monitor can poll the executor's socket
    non-blocking and never stall its heartbeats on a half-written message.
    Limits (frame count, frame size) are enforced while reading, before any
    allocation of the announced size, so a hostile peer cannot make the
    reader allocate more than the configured maximum.
*/
#ifndef KMQ_PROTO_STREAM_H
#define KMQ_PROTO_STREAM_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _proto_reader_t proto_reader_t;

//  New reader for messages of at most max_frames frames, each at most
//  max_frame bytes.
proto_reader_t *proto_reader_new (size_t max_frames, size_t max_frame);
void proto_reader_destroy (proto_reader_t **self_p);

//  Reads what fd has. Returns 1 when a whole message is ready (taken with
//  proto_reader_take), 0 when more bytes are needed (EAGAIN on a
//  non-blocking fd), -1 on error with errno set: EPIPE on end of stream,
//  EMSGSIZE when a limit is exceeded, EPROTO for a malformed frame count,
//  or the read's errno. With a blocking fd it returns only 1 or -1.
int proto_reader_read (proto_reader_t *self, int fd);

//  Takes the completed message; caller owns it. NULL if none is ready.
zmsg_t *proto_reader_take (proto_reader_t *self);

//  Writes msg to fd (blocking, retries EINTR and short writes) and
//  destroys it. Returns 0, or -1 with errno set. *msg_p is cleared either way.
int proto_stream_write (int fd, zmsg_t **msg_p);

//  The non-blocking writer: a queue of messages written as the fd takes
//  them, for a poll loop that must not stall on a slow reader. Frames are
//  written from where they are, never copied.
typedef struct _proto_writer_t proto_writer_t;

//  An empty writer. Never NULL (allocation failure aborts, as zmalloc does).
proto_writer_t *proto_writer_new (void);
//  Destroys the writer and every message it still holds. No-op on NULL.
void proto_writer_destroy (proto_writer_t **self_p);

//  Queues *msg_p behind what is queued; takes it (clears *msg_p) either
//  way. Returns 0, or -1 with errno EINVAL (NULL) or EPROTO (no frames, or
//  more than UINT32_MAX), the message destroyed.
int proto_writer_push (proto_writer_t *self, zmsg_t **msg_p);

//  Writes what fd takes now. fd must be a socket or non-blocking. Returns
//  1 when the queue is empty, 0 when fd is full (poll it for POLLOUT and
//  call again), -1 with errno on failure (EPIPE: the peer is gone; the
//  writer then holds a half-written message: destroy it).
int proto_writer_flush (proto_writer_t *self, int fd);

//  True while a message is queued or partly written.
bool proto_writer_pending (proto_writer_t *self);

//  The same framing in one buffer, for a datagram that holds exactly one
//  message (protocol.md section 10). pack destroys *msg_p (cleared either
//  way) and returns a malloc'd buffer of *size_p bytes, or NULL with errno
//  EINVAL (no message), EPROTO (no frames) or ENOMEM.
uint8_t *proto_stream_pack (zmsg_t **msg_p, size_t *size_p);

//  Parses size bytes as exactly one framed message, checking the limits as
//  proto_reader does. Returns a new zmsg the caller owns, or NULL with
//  errno EPROTO (truncated, trailing bytes, no frames), EMSGSIZE (over a
//  limit) or ENOMEM.
zmsg_t *proto_stream_unpack (const void *data, size_t size,
                             size_t max_frames, size_t max_frame);

void proto_stream_test (bool verbose);
void proto_stream_pack_test (bool verbose);

#endif
