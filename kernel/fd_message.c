/*  fd_message — one kernelmq message per datagram (see fd_message.h).  */
#include "fd_message.h"
#include "proto.h"
#include "proto_stream.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
fd_message_send (int sock, zmsg_t **msg_p, const int *fds, size_t nfds)
{
    assert (msg_p);
    assert (nfds <= FD_MESSAGE_MAX_FDS);
    size_t size;
    uint8_t *buffer = proto_stream_pack (msg_p, &size);
    if (!buffer)
        return -1;
    struct iovec iov = { buffer, size };
    union {
        struct cmsghdr align;
        char data [CMSG_SPACE (FD_MESSAGE_MAX_FDS * sizeof (int))];
    } control;
    memset (&control, 0, sizeof control);
    struct msghdr header = { 0 };
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    if (nfds > 0) {
        header.msg_control = control.data;
        header.msg_controllen = CMSG_SPACE (nfds * sizeof (int));
        struct cmsghdr *cmsg = CMSG_FIRSTHDR (&header);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN (nfds * sizeof (int));
        memcpy (CMSG_DATA (cmsg), fds, nfds * sizeof (int));
    }
    ssize_t sent;
    do
        sent = sendmsg (sock, &header, MSG_NOSIGNAL);
    while (sent == -1 && errno == EINTR);
    int saved = errno;
    free (buffer);
    if (sent == -1) {
        errno = saved;
        return -1;
    }
    if ((size_t) sent != size) {
        errno = EMSGSIZE;       //  a datagram goes whole or not at all
        return -1;
    }
    return 0;
}

zmsg_t *
fd_message_unpack (const void *data, size_t size)
{
    zmsg_t *msg = proto_stream_unpack (data, size, 2 + PROTO_MAX_PAYLOADS,
                                       FD_MESSAGE_MAX_SIZE);
    if (!msg && errno != ENOMEM)
        errno = EPROTO;         //  a limit passed is as malformed as a cut
    return msg;
}

int
fd_message_recv (int sock, zmsg_t **msg_p, int *fds, size_t max_fds, size_t *nfds)
{
    assert (msg_p);
    assert (nfds);
    *msg_p = NULL;
    *nfds = 0;
    uint8_t *buffer = (uint8_t *) malloc (FD_MESSAGE_MAX_SIZE);
    if (!buffer) {
        errno = ENOMEM;
        return -1;
    }
    struct iovec iov = { buffer, FD_MESSAGE_MAX_SIZE };
    union {
        struct cmsghdr align;
        char data [CMSG_SPACE (FD_MESSAGE_MAX_FDS * sizeof (int))];
    } control;
    struct msghdr header = { 0 };
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control.data;
    header.msg_controllen = sizeof control.data;
    ssize_t got;
    do
        got = recvmsg (sock, &header, MSG_CMSG_CLOEXEC);
    while (got == -1 && errno == EINTR);
    if (got == -1) {
        int saved = errno;
        free (buffer);
        errno = saved;
        return saved == EAGAIN || saved == EWOULDBLOCK? 0: -1;
    }
    //  Collect every descriptor first, so a bad datagram leaks none.
    int received [FD_MESSAGE_MAX_FDS];
    size_t count = 0;
    bool too_many = false;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (&header); cmsg;
         cmsg = CMSG_NXTHDR (&header, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
        int *data = (int *) CMSG_DATA (cmsg);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy (&fd, data + i, sizeof fd);
            if (count < max_fds && count < FD_MESSAGE_MAX_FDS)
                received [count++] = fd;
            else {
                close (fd);
                too_many = true;
            }
        }
    }
    int error = 0;
    if (got == 0 && count == 0)
        error = EPIPE;
    else
    if (too_many || (header.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
        error = EPROTO;
    else {
        *msg_p = fd_message_unpack (buffer, (size_t) got);
        if (!*msg_p)
            error = errno;
    }
    free (buffer);
    if (error) {
        for (size_t i = 0; i < count; i++)
            close (received [i]);
        errno = error;
        return -1;
    }
    memcpy (fds, received, count * sizeof (int));
    *nfds = count;
    return 1;
}

//  --- selftest ------------------------------------------------------------

#include <fcntl.h>
#include "selftest.h"

void
fd_message_test (bool verbose)
{
    (void) verbose;
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, pair) == 0);
    //  nothing yet
    zmsg_t *msg = NULL;
    int fds [FD_MESSAGE_MAX_FDS];
    size_t count = 99;
    SELFTEST_CHECK (fd_message_recv (pair [1], &msg, fds, FD_MESSAGE_MAX_FDS, &count) == 0);
    //  a message with a descriptor arrives whole, the descriptor usable
    int pipe_fds [2];
    SELFTEST_CHECK (pipe (pipe_fds) == 0);
    msg = proto_encode_simple (PROTO_ACK, 5, NULL);
    SELFTEST_CHECK (fd_message_send (pair [0], &msg, &pipe_fds [1], 1) == 0 && !msg);
    SELFTEST_CHECK (fd_message_recv (pair [1], &msg, fds, FD_MESSAGE_MAX_FDS, &count) == 1);
    SELFTEST_CHECK (count == 1 && (fcntl (fds [0], F_GETFD) & FD_CLOEXEC));
    SELFTEST_CHECK (write (fds [0], "x", 1) == 1);
    char byte = 0;
    SELFTEST_CHECK (read (pipe_fds [0], &byte, 1) == 1 && byte == 'x');
    close (fds [0]);
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&msg, &fault);
    SELFTEST_CHECK (decoded && proto_msg_type (decoded) == PROTO_ACK
                    && proto_msg_id (decoded) == 5);
    proto_msg_destroy (&decoded);
    //  more descriptors than the receiver takes: EPROTO, none leaked open
    msg = proto_encode_simple (PROTO_ACK, 6, NULL);
    int three [3] = { pipe_fds [0], pipe_fds [1], pipe_fds [0] };
    SELFTEST_CHECK (fd_message_send (pair [0], &msg, three, 3) == 0);
    SELFTEST_CHECK (fd_message_recv (pair [1], &msg, fds, 2, &count) == -1 && errno == EPROTO);
    SELFTEST_CHECK (!msg);
    //  a datagram that is not a framed message: EPROTO
    SELFTEST_CHECK (send (pair [0], "garbage", 7, 0) == 7);
    SELFTEST_CHECK (fd_message_recv (pair [1], &msg, fds, 2, &count) == -1 && errno == EPROTO);
    //  end of stream
    close (pair [0]);
    SELFTEST_CHECK (fd_message_recv (pair [1], &msg, fds, 2, &count) == -1 && errno == EPIPE);
    close (pair [1]);
    close (pipe_fds [0]);
    close (pipe_fds [1]);
}
