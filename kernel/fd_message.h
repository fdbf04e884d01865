/*  fd_message — one kernelmq message per datagram, with file descriptors.

    The monitor <-> zygote exchange and the zygote's hand-over to a pool
    child (protocol.md section 10) run on AF_UNIX SOCK_SEQPACKET sockets:
    each datagram is one KMQ1 multipart in proto_stream's framing
    (proto_stream_pack), optionally with SCM_RIGHTS descriptors attached.
    No ZeroMQ: the zygote and pool children must never have a context.
*/
#ifndef KMQ_FD_MESSAGE_H
#define KMQ_FD_MESSAGE_H

#include <czmq.h>
#include <stddef.h>

#define FD_MESSAGE_MAX_FDS   4
#define FD_MESSAGE_MAX_SIZE  (64 * 1024)  //  a datagram here is a small header

//  Sends *msg_p (destroyed, cleared either way) as one datagram on sock
//  with nfds (at most FD_MESSAGE_MAX_FDS) descriptors. Blocks when sock
//  does. Returns 0, or -1 with errno set.
int fd_message_send (int sock, zmsg_t **msg_p, const int *fds, size_t nfds);

//  Receives one datagram. Returns 1 with *msg_p a new message and the
//  received descriptors (close-on-exec) in fds [0 .. *nfds), which the
//  caller owns; 0 when a non-blocking sock has nothing (EAGAIN); -1 with
//  errno set: EPIPE at end of stream, EPROTO for a datagram that is
//  truncated, malformed or carries more than max_fds descriptors (any it
//  carried are closed), or the recvmsg errno.
int fd_message_recv (int sock, zmsg_t **msg_p, int *fds, size_t max_fds,
                     size_t *nfds);

//  Parses size bytes, one datagram's, as the message fd_message_recv makes
//  of them (proto_stream_unpack within this module's limits). Returns a
//  new zmsg the caller owns, or NULL with errno EPROTO (malformed or over
//  a limit) or ENOMEM. For a harness that has the bytes and no socket.
zmsg_t *fd_message_unpack (const void *data, size_t size);

//  Selftest.
void fd_message_test (bool verbose);

#endif
