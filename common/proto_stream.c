/*  proto_stream — kernelmq multipart messages over a byte stream.
    See proto_stream.h for the framing.

    The reader never reads past the message it is assembling: a caller that
    polls the fd and calls proto_reader_read once per wakeup must not find
    a whole second message stranded in a private buffer. It still keeps
    syscalls down: whenever the next segment is a fixed 8-byte size field,
    it is read in the same readv as the segment before it, so a message of
    n frames costs about n + 1 reads.
*/
#include "proto_stream.h"
#include "proto_stream_internal.h"
#include "selftest.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

typedef enum {
    S_COUNT,            //  reading the u32 frame count (and frame 0's size)
    S_SIZE,             //  reading a frame's u64 size
    S_DATA,             //  reading a frame's bytes (and the next size)
    S_FAILED            //  stream out of sync; every read fails
} s_phase_t;

struct _proto_reader_t {
    size_t max_frames;
    size_t max_frame;
    s_phase_t phase;
    uint8_t count_buf [4];
    size_t count_have;
    uint8_t size_buf [8];
    size_t size_have;
    uint32_t frames;            //  announced frame count
    zmsg_t *msg;                //  frames read so far
    zframe_t *frame;            //  frame being filled
    size_t frame_have;
    zmsg_t *ready;              //  completed, not yet taken
    int error;                  //  errno of the failure, in S_FAILED
};

proto_reader_t *
proto_reader_new (size_t max_frames, size_t max_frame)
{
    proto_reader_t *self = (proto_reader_t *) zmalloc (sizeof (proto_reader_t));
    self->max_frames = max_frames;
    self->max_frame = max_frame;
    self->phase = S_COUNT;
    return self;
}

void
proto_reader_destroy (proto_reader_t **self_p)
{
    assert (self_p);
    proto_reader_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    zmsg_destroy (&self->msg);
    zframe_destroy (&self->frame);
    zmsg_destroy (&self->ready);
    free (self);
}

static int
s_fail (proto_reader_t *self, int error)
{
    zmsg_destroy (&self->msg);
    zframe_destroy (&self->frame);
    self->phase = S_FAILED;
    self->error = error;
    errno = error;
    return -1;
}

uint64_t
proto_stream_get_be (const uint8_t *data, size_t size)
{
    uint64_t value = 0;
    for (size_t i = 0; i < size; i++)
        value = (value << 8) | data [i];
    return value;
}

void
proto_stream_put_be (uint8_t *data, size_t size, uint64_t value)
{
    for (size_t i = size; i > 0; i--) {
        data [i - 1] = (uint8_t) value;
        value >>= 8;
    }
}

//  Moves through every segment the bytes read so far complete. Returns 1
//  when a message is complete, 0 when more bytes are needed, -1 on error.
static int
s_advance (proto_reader_t *self)
{
    while (true) {
        switch (self->phase) {
            case S_COUNT: {
                if (self->count_have < sizeof (self->count_buf))
                    return 0;
                uint64_t count = proto_stream_get_be (self->count_buf,
                                                      sizeof (self->count_buf));
                if (count == 0)
                    return s_fail (self, EPROTO);
                if (count > self->max_frames)
                    return s_fail (self, EMSGSIZE);
                self->frames = (uint32_t) count;
                self->msg = zmsg_new ();
                if (!self->msg)
                    return s_fail (self, ENOMEM);
                self->phase = S_SIZE;
                break;
            }
            case S_SIZE: {
                if (self->size_have < sizeof (self->size_buf))
                    return 0;
                //  Checked before allocating: a hostile size costs nothing
                uint64_t size = proto_stream_get_be (self->size_buf,
                                                     sizeof (self->size_buf));
                if (size > self->max_frame)
                    return s_fail (self, EMSGSIZE);
                self->frame = zframe_new (NULL, (size_t) size);
                if (!self->frame)
                    return s_fail (self, ENOMEM);
                self->frame_have = 0;
                self->size_have = 0;
                self->phase = S_DATA;
                break;
            }
            case S_DATA:
                if (self->frame_have < zframe_size (self->frame))
                    return 0;
                zmsg_append (self->msg, &self->frame);
                if (zmsg_size (self->msg) < self->frames) {
                    self->phase = S_SIZE;
                    break;
                }
                self->ready = self->msg;
                self->msg = NULL;
                self->count_have = 0;
                self->size_have = 0;
                self->phase = S_COUNT;
                return 1;
            default:
                errno = self->error;
                return -1;
        }
    }
}

int
proto_reader_read (proto_reader_t *self, int fd)
{
    assert (self);
    if (self->ready)
        return 1;
    if (self->phase == S_FAILED) {
        errno = self->error;
        return -1;
    }
    while (true) {
        //  iov [0] is the rest of the current segment; iov [1] the next
        //  size field when that is surely what follows
        struct iovec iov [2];
        int iov_count = 1;
        if (self->phase == S_COUNT) {
            iov [0].iov_base = self->count_buf + self->count_have;
            iov [0].iov_len = sizeof (self->count_buf) - self->count_have;
            iov [1].iov_base = self->size_buf;
            iov [1].iov_len = sizeof (self->size_buf);
            iov_count = 2;
        }
        else
        if (self->phase == S_SIZE) {
            iov [0].iov_base = self->size_buf + self->size_have;
            iov [0].iov_len = sizeof (self->size_buf) - self->size_have;
        }
        else {
            assert (self->phase == S_DATA);
            iov [0].iov_base = zframe_data (self->frame) + self->frame_have;
            iov [0].iov_len = zframe_size (self->frame) - self->frame_have;
            if (zmsg_size (self->msg) + 1 < self->frames) {
                iov [1].iov_base = self->size_buf;
                iov [1].iov_len = sizeof (self->size_buf);
                iov_count = 2;
            }
        }
        ssize_t got = readv (fd, iov, iov_count);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return s_fail (self, errno);
        }
        if (got == 0)
            return s_fail (self, EPIPE);

        size_t first = (size_t) got < iov [0].iov_len? (size_t) got: iov [0].iov_len;
        size_t rest = (size_t) got - first;
        if (self->phase == S_COUNT)
            self->count_have += first;
        else
        if (self->phase == S_SIZE)
            self->size_have += first;
        else
            self->frame_have += first;
        self->size_have += rest;        //  only ever iov [1], the size field

        int rc = s_advance (self);
        if (rc != 0)
            return rc;
    }
}

zmsg_t *
proto_reader_take (proto_reader_t *self)
{
    assert (self);
    zmsg_t *msg = self->ready;
    self->ready = NULL;
    return msg;
}

//  --- selftest ----------------------------------------------------------

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>


#define S_TEST_BIG (1024 * 1024)

//  KMQ1, a header, an empty frame, 1 MiB (when big) and a tail.
static zmsg_t *
s_test_message (bool big)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "KMQ1");
    zmsg_addmem (msg, "\x81\xa4type\xa5stats", 12);
    zmsg_addmem (msg, NULL, 0);
    if (big) {
        zframe_t *frame = zframe_new (NULL, S_TEST_BIG);
        for (size_t i = 0; i < S_TEST_BIG; i++)
            zframe_data (frame) [i] = (byte) (i * 7 + (i >> 12));
        zmsg_append (msg, &frame);
    }
    zmsg_addstr (msg, "tail");
    return msg;
}

static void
s_test_same (zmsg_t *a, zmsg_t *b)
{
    SELFTEST_CHECK (a && b);
    SELFTEST_CHECK (zmsg_size (a) == zmsg_size (b));
    zframe_t *fa = zmsg_first (a);
    zframe_t *fb = zmsg_first (b);
    while (fa) {
        SELFTEST_CHECK (zframe_eq (fa, fb));
        fa = zmsg_next (a);
        fb = zmsg_next (b);
    }
}

static void
s_test_nonblock (int fd)
{
    int flags = fcntl (fd, F_GETFL);
    SELFTEST_CHECK (flags >= 0);
    SELFTEST_CHECK (fcntl (fd, F_SETFL, flags | O_NONBLOCK) == 0);
}

//  Forks a child that writes count copies of the message to fd (made
//  non-blocking first when nonblock, to take the EAGAIN path) and exits.
static pid_t
s_test_writer (int fd, int other, int count, bool big, bool nonblock)
{
    pid_t pid = fork ();
    SELFTEST_CHECK (pid >= 0);
    if (pid == 0) {
        close (other);
        if (nonblock)
            s_test_nonblock (fd);
        int status = 0;
        for (int i = 0; i < count; i++) {
            zmsg_t *msg = s_test_message (big);
            if (proto_stream_write (fd, &msg) != 0 || msg)
                status = 1;
        }
        close (fd);
        _exit (status);
    }
    close (fd);
    return pid;
}

static void
s_test_reap (pid_t pid)
{
    int status;
    SELFTEST_CHECK (waitpid (pid, &status, 0) == pid);
    SELFTEST_CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

//  The bytes proto_stream_write produces for one message.
static zchunk_t *
s_test_bytes (bool big)
{
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    pid_t pid = s_test_writer (pair [0], pair [1], 1, big, false);
    zchunk_t *chunk = zchunk_new (NULL, 0);
    byte buffer [4096];
    ssize_t got;
    while ((got = read (pair [1], buffer, sizeof (buffer))) != 0) {
        SELFTEST_CHECK (got > 0 || errno == EINTR);
        if (got > 0)
            zchunk_extend (chunk, buffer, (size_t) got);
    }
    close (pair [1]);
    s_test_reap (pid);
    return chunk;
}

static void
s_test_round_trip (void)
{
    //  Two big messages from a non-blocking writer, a blocking reader,
    //  then end of stream
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    pid_t pid = s_test_writer (pair [0], pair [1], 2, true, true);
    proto_reader_t *reader = proto_reader_new (70, 2 * S_TEST_BIG);
    SELFTEST_CHECK (proto_reader_take (reader) == NULL);
    zmsg_t *expect = s_test_message (true);
    for (int i = 0; i < 2; i++) {
        SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == 1);
        //  a ready message is not overwritten by further reads
        SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == 1);
        zmsg_t *msg = proto_reader_take (reader);
        s_test_same (expect, msg);
        zframe_t *empty = zmsg_first (msg);
        empty = zmsg_next (msg);
        empty = zmsg_next (msg);
        SELFTEST_CHECK (zframe_size (empty) == 0);
        zmsg_destroy (&msg);
        SELFTEST_CHECK (proto_reader_take (reader) == NULL);
    }
    errno = 0;
    SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == -1);
    SELFTEST_CHECK (errno == EPIPE);
    errno = 0;
    SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == -1);
    SELFTEST_CHECK (errno == EPIPE);
    proto_reader_destroy (&reader);
    SELFTEST_CHECK (reader == NULL);
    proto_reader_destroy (&reader);
    zmsg_destroy (&expect);
    close (pair [1]);
    s_test_reap (pid);
}

//  Feeds bytes to a non-blocking reader in pieces of step bytes (0: a
//  pseudo-random size each time). Expects one message, completed exactly
//  by the last byte.
static void
s_test_feed (zchunk_t *bytes, size_t step, bool big)
{
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    s_test_nonblock (pair [1]);
    proto_reader_t *reader = proto_reader_new (8, 2 * S_TEST_BIG);
    const byte *data = zchunk_data (bytes);
    size_t size = zchunk_size (bytes);
    size_t pos = 0;
    uint32_t seed = 7;
    while (pos < size) {
        size_t piece = step;
        if (piece == 0) {
            seed = seed * 1103515245u + 12345u;
            piece = 1 + (seed >> 16) % 3000;
        }
        if (piece > size - pos)
            piece = size - pos;
        SELFTEST_CHECK (write (pair [0], data + pos, piece) == (ssize_t) piece);
        pos += piece;
        int rc = proto_reader_read (reader, pair [1]);
        SELFTEST_CHECK (rc == (pos == size ? 1 : 0));
    }
    zmsg_t *msg = proto_reader_take (reader);
    zmsg_t *expect = s_test_message (big);
    s_test_same (expect, msg);
    zmsg_destroy (&msg);
    zmsg_destroy (&expect);

    if (big) {
        //  the rest would overfill the socket buffer with nobody reading
        close (pair [0]);
        close (pair [1]);
        proto_reader_destroy (&reader);
        return;
    }
    //  Two messages in one write: the reader stops after the first
    for (int i = 0; i < 2; i++)
        SELFTEST_CHECK (write (pair [0], data, size) == (ssize_t) size);
    SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == 1);
    msg = proto_reader_take (reader);
    SELFTEST_CHECK (msg && zmsg_size (msg) == (big ? 5 : 4));
    zmsg_destroy (&msg);
    SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == 1);
    msg = proto_reader_take (reader);
    SELFTEST_CHECK (msg && zmsg_size (msg) == (big ? 5 : 4));
    zmsg_destroy (&msg);
    SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == 0);

    //  End of stream in the middle of a message
    SELFTEST_CHECK (write (pair [0], data, size / 2) == (ssize_t) (size / 2));
    close (pair [0]);
    errno = 0;
    SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == -1);
    SELFTEST_CHECK (errno == EPIPE);
    close (pair [1]);
    proto_reader_destroy (&reader);
}

//  Writes raw bytes, reads them back with the given limits, and returns
//  what proto_reader_read said; *error gets errno.
static int
s_test_raw (const void *data, size_t size, size_t max_frames, size_t max_frame,
            int *error)
{
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    s_test_nonblock (pair [1]);
    SELFTEST_CHECK (write (pair [0], data, size) == (ssize_t) size);
    proto_reader_t *reader = proto_reader_new (max_frames, max_frame);
    errno = 0;
    int rc = proto_reader_read (reader, pair [1]);
    *error = errno;
    if (rc == -1) {
        //  failures stick: the stream is out of sync for good
        errno = 0;
        SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == -1);
        SELFTEST_CHECK (errno == *error);
    }
    zmsg_t *msg = proto_reader_take (reader);
    zmsg_destroy (&msg);
    proto_reader_destroy (&reader);
    close (pair [0]);
    close (pair [1]);
    return rc;
}

static void
s_test_limits (void)
{
    int error;
    //  frame count 0
    SELFTEST_CHECK (s_test_raw ("\0\0\0\0", 4, 4, 16, &error) == -1 && error == EPROTO);
    //  frame counts around the limit
    SELFTEST_CHECK (s_test_raw ("\0\0\0\x05", 4, 4, 16, &error) == -1 && error == EMSGSIZE);
    SELFTEST_CHECK (s_test_raw ("\xff\xff\xff\xff", 4, 4, 16, &error) == -1 && error == EMSGSIZE);
    SELFTEST_CHECK (s_test_raw ("\0\0\0\x04", 4, 4, 16, &error) == 0);
    //  frame sizes around the limit; 2^63 fails without an allocation
    const byte over [] = { 0, 0, 0, 1,  0, 0, 0, 0, 0, 0, 0, 17 };
    SELFTEST_CHECK (s_test_raw (over, sizeof (over), 4, 16, &error) == -1 && error == EMSGSIZE);
    const byte huge [] = { 0, 0, 0, 1,  0x80, 0, 0, 0, 0, 0, 0, 0 };
    SELFTEST_CHECK (s_test_raw (huge, sizeof (huge), 4, 16, &error) == -1 && error == EMSGSIZE);
    byte exact [12 + 16] = { 0, 0, 0, 1,  0, 0, 0, 0, 0, 0, 0, 16 };
    SELFTEST_CHECK (s_test_raw (exact, sizeof (exact), 4, 16, &error) == 1);
    //  a later frame over the limit
    const byte second [] = { 0, 0, 0, 2,  0, 0, 0, 0, 0, 0, 0, 1, 'x',
                             0, 0, 0, 0, 0, 0, 1, 0 };
    SELFTEST_CHECK (s_test_raw (second, sizeof (second), 4, 16, &error) == -1
             && error == EMSGSIZE);
    //  end of stream before anything
    SELFTEST_CHECK (s_test_raw ("", 0, 4, 16, &error) == 0);
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    close (pair [0]);
    proto_reader_t *reader = proto_reader_new (4, 16);
    errno = 0;
    SELFTEST_CHECK (proto_reader_read (reader, pair [1]) == -1 && errno == EPIPE);
    proto_reader_destroy (&reader);
    close (pair [1]);
    //  a bad fd reports the read's errno
    reader = proto_reader_new (4, 16);
    errno = 0;
    SELFTEST_CHECK (proto_reader_read (reader, -1) == -1 && errno == EBADF);
    proto_reader_destroy (&reader);
}

static void
s_test_write_errors (void)
{
    //  to a pipe (no sendmsg there) and back
    int pipe_fds [2];
    SELFTEST_CHECK (pipe (pipe_fds) == 0);
    zmsg_t *msg = s_test_message (false);
    SELFTEST_CHECK (proto_stream_write (pipe_fds [1], &msg) == 0);
    SELFTEST_CHECK (msg == NULL);
    proto_reader_t *reader = proto_reader_new (8, 64);
    SELFTEST_CHECK (proto_reader_read (reader, pipe_fds [0]) == 1);
    msg = proto_reader_take (reader);
    zmsg_t *expect = s_test_message (false);
    s_test_same (expect, msg);
    zmsg_destroy (&msg);
    zmsg_destroy (&expect);
    proto_reader_destroy (&reader);
    close (pipe_fds [0]);
    close (pipe_fds [1]);

    //  to a closed peer: EPIPE, and no SIGPIPE
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    close (pair [1]);
    msg = s_test_message (false);
    errno = 0;
    SELFTEST_CHECK (proto_stream_write (pair [0], &msg) == -1);
    SELFTEST_CHECK (errno == EPIPE);
    SELFTEST_CHECK (msg == NULL);
    close (pair [0]);

    //  nothing to write
    msg = NULL;
    SELFTEST_CHECK (proto_stream_write (1, &msg) == -1 && errno == EINVAL);
    msg = zmsg_new ();
    SELFTEST_CHECK (proto_stream_write (1, &msg) == -1 && errno == EPROTO);
    SELFTEST_CHECK (msg == NULL);
}

//  proto_writer on a non-blocking socket that fills up: flush says 0 until
//  the reader catches up, every message arrives whole and in order.
static void
s_test_proto_writer (void)
{
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    s_test_nonblock (pair [0]);
    s_test_nonblock (pair [1]);
    proto_writer_t *writer = proto_writer_new ();
    SELFTEST_CHECK (!proto_writer_pending (writer));
    for (int i = 0; i < 3; i++) {
        zmsg_t *msg = s_test_message (i != 1);
        SELFTEST_CHECK (proto_writer_push (writer, &msg) == 0 && msg == NULL);
    }
    SELFTEST_CHECK (proto_writer_pending (writer));
    proto_reader_t *reader = proto_reader_new (8, S_TEST_BIG);
    int received = 0, full = 0;
    while (received < 3) {
        int rc = proto_writer_flush (writer, pair [0]);
        SELFTEST_CHECK (rc >= 0);
        if (rc == 0)
            full++;
        int got = proto_reader_read (reader, pair [1]);
        SELFTEST_CHECK (got >= 0);
        if (got == 1) {
            zmsg_t *msg = proto_reader_take (reader);
            zmsg_t *expect = s_test_message (received != 1);
            s_test_same (expect, msg);
            zmsg_destroy (&msg);
            zmsg_destroy (&expect);
            received++;
        }
    }
    SELFTEST_CHECK (full > 0);             //  the 1 MiB frames did not fit at once
    SELFTEST_CHECK (proto_writer_flush (writer, pair [0]) == 1);
    SELFTEST_CHECK (!proto_writer_pending (writer));
    //  a peer that goes: EPIPE, not SIGPIPE; the writer still destroys clean
    zmsg_t *msg = s_test_message (true);
    SELFTEST_CHECK (proto_writer_push (writer, &msg) == 0);
    close (pair [1]);
    errno = 0;
    SELFTEST_CHECK (proto_writer_flush (writer, pair [0]) == -1 && errno == EPIPE);
    msg = NULL;
    SELFTEST_CHECK (proto_writer_push (writer, &msg) == -1 && errno == EINVAL);
    proto_writer_destroy (&writer);
    proto_writer_destroy (&writer);
    proto_reader_destroy (&reader);
    close (pair [0]);
}

void
proto_stream_test (bool verbose)
{
    if (verbose)
        printf ("\n   round trip, 1 MiB frame, non-blocking writer\n");
    s_test_round_trip ();
    s_test_proto_writer ();

    zchunk_t *small = s_test_bytes (false);
    if (verbose)
        printf ("   byte-at-a-time feeding, %zu bytes\n", zchunk_size (small));
    s_test_feed (small, 1, false);
    s_test_feed (small, 3, false);
    s_test_feed (small, 13, false);
    zchunk_destroy (&small);
    zchunk_t *big = s_test_bytes (true);
    if (verbose)
        printf ("   random-size feeding, %zu bytes\n", zchunk_size (big));
    s_test_feed (big, 0, true);
    zchunk_destroy (&big);

    if (verbose)
        printf ("   limits, end of stream, write errors\n");
    s_test_limits ();
    s_test_write_errors ();
    proto_stream_pack_test (verbose);
}
