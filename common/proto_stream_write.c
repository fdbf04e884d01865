/*  proto_stream_write — writing the stream framing (proto_stream.h): the
    non-blocking proto_writer, and proto_stream_write built on it.

    A queued message is written straight from its frames with sendmsg (or
    writev when the fd is not a socket), never copied into one buffer: an
    upload of hundreds of MiB costs no second copy. The writer remembers
    how far it got, so a caller's poll loop can go on serving other fds
    while a slow peer reads.
*/
#include "proto_stream.h"
#include "proto_stream_internal.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct _proto_writer_t {
    zlistx_t *queue;            //  zmsg_t * waiting behind the current one
    zmsg_t *current;            //  being written
    struct iovec *iov;          //  current's framing and frames
    size_t iov_count;
    size_t index;               //  first iov entry not yet written whole
    uint8_t *sizes;             //  the big-endian count and size fields
    bool not_socket;            //  sendmsg said ENOTSOCK: writev from now on
};

static void
s_msg_destructor (void **item)
{
    zmsg_destroy ((zmsg_t **) item);
}

proto_writer_t *
proto_writer_new (void)
{
    proto_writer_t *self = (proto_writer_t *) zmalloc (sizeof (proto_writer_t));
    self->queue = zlistx_new ();
    zlistx_set_destructor (self->queue, s_msg_destructor);
    return self;
}

static void
s_current_clear (proto_writer_t *self)
{
    zmsg_destroy (&self->current);
    free (self->iov);
    free (self->sizes);
    self->iov = NULL;
    self->sizes = NULL;
    self->iov_count = 0;
    self->index = 0;
}

void
proto_writer_destroy (proto_writer_t **self_p)
{
    assert (self_p);
    proto_writer_t *self = *self_p;
    if (!self)
        return;
    s_current_clear (self);
    zlistx_destroy (&self->queue);
    free (self);
    *self_p = NULL;
}

int
proto_writer_push (proto_writer_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg) {
        errno = EINVAL;
        return -1;
    }
    if (zmsg_size (msg) == 0 || zmsg_size (msg) > UINT32_MAX) {
        zmsg_destroy (&msg);
        errno = EPROTO;
        return -1;
    }
    zlistx_add_end (self->queue, msg);
    return 0;
}

bool
proto_writer_pending (proto_writer_t *self)
{
    assert (self);
    return self->current || zlistx_size (self->queue) > 0;
}

//  Makes the next queued message current: its iovec of count, sizes and
//  frames. Returns 0, or -1 with errno ENOMEM (the message is dropped).
static int
s_current_next (proto_writer_t *self)
{
    zmsg_t *msg = (zmsg_t *) zlistx_first (self->queue);
    zlistx_detach_cur (self->queue);
    size_t frames = zmsg_size (msg);
    self->current = msg;
    self->iov_count = 1 + 2 * frames;
    self->iov = (struct iovec *) malloc (self->iov_count * sizeof (struct iovec));
    self->sizes = (uint8_t *) malloc (4 + 8 * frames);
    if (!self->iov || !self->sizes) {
        s_current_clear (self);
        errno = ENOMEM;
        return -1;
    }
    proto_stream_put_be (self->sizes, 4, frames);
    self->iov [0] = (struct iovec) { self->sizes, 4 };
    size_t index = 1;
    uint8_t *size_field = self->sizes + 4;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        proto_stream_put_be (size_field, 8, zframe_size (frame));
        self->iov [index++] = (struct iovec) { size_field, 8 };
        self->iov [index++] = (struct iovec) { zframe_data (frame), zframe_size (frame) };
        size_field += 8;
    }
    self->index = 0;
    return 0;
}

//  Marks sent bytes of the current iovec as written.
static void
s_advance (proto_writer_t *self, size_t sent)
{
    while (sent > 0) {
        struct iovec *entry = &self->iov [self->index];
        if (sent >= entry->iov_len) {
            sent -= entry->iov_len;
            entry->iov_len = 0;
            self->index++;
        }
        else {
            entry->iov_base = (uint8_t *) entry->iov_base + sent;
            entry->iov_len -= sent;
            sent = 0;
        }
    }
}

int
proto_writer_flush (proto_writer_t *self, int fd)
{
    assert (self);
    while (true) {
        if (!self->current) {
            if (zlistx_size (self->queue) == 0)
                return 1;
            if (s_current_next (self))
                return -1;
        }
        while (self->index < self->iov_count && self->iov [self->index].iov_len == 0)
            self->index++;
        if (self->index == self->iov_count) {
            s_current_clear (self);
            continue;
        }
        size_t batch = self->iov_count - self->index;
        if (batch > IOV_MAX)
            batch = IOV_MAX;
        ssize_t sent;
        if (!self->not_socket) {
            //  MSG_NOSIGNAL: a dead peer is EPIPE, never SIGPIPE
            struct msghdr header = { 0 };
            header.msg_iov = self->iov + self->index;
            header.msg_iovlen = batch;
            sent = sendmsg (fd, &header, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent < 0 && errno == ENOTSOCK) {
                self->not_socket = true;
                continue;
            }
        }
        else
            sent = writev (fd, self->iov + self->index, (int) batch);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        s_advance (self, (size_t) sent);
    }
}

int
proto_stream_write (int fd, zmsg_t **msg_p)
{
    assert (msg_p);
    proto_writer_t *writer = proto_writer_new ();
    int rc = proto_writer_push (writer, msg_p);
    while (rc == 0) {
        rc = proto_writer_flush (writer, fd);
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc == 0) {
            //  A non-blocking fd that is full: wait until it takes more
            struct pollfd item = { .fd = fd, .events = POLLOUT };
            if (poll (&item, 1, -1) < 0 && errno != EINTR)
                rc = -1;
        }
    }
    int saved = errno;
    proto_writer_destroy (&writer);
    errno = saved;
    return rc;
}
