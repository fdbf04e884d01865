/*  proto_reader — libFuzzer harness for proto_stream's incremental reader
    (common/proto_stream.c): how a monitor reads its executor, whose code
    is hostile, off a non-blocking socketpair.

    Input: [limits] [n] [n chunk sizes] [stream bytes ...]
        limits  bit 0: the reader's limits, small (4 frames of 64 bytes)
                or a monitor's frame count with 64 KiB frames
        n       1 + n % 8 chunk sizes follow
        sizes   the stream is written to the socket in chunks of these
                sizes, in turn (0: all that is left), and the reader reads
                after each, as a poll loop would wake it
    At the end the writer closes its end, as an executor that dies does.
    Writing stops once the reader has failed (a monitor stops reading).

    Beyond "no crash, no leak": every message the reader returns, packed
    again, is the next stretch of the stream (the reader neither skips,
    invents nor reorders bytes, whatever the chunking), proto_stream_unpack
    reads that stretch as the same message, a failure is one of the
    documented errnos and stays failed, and end of stream is EPIPE.
*/
#include "proto.h"
#include "proto_stream.h"
#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Longer streams are not read: one chunk must fit in an empty socket's
//  buffer (208 KiB by default), and no limit needs more to be passed.
#define S_MAX_STREAM (128 * 1024)

static const struct {
    size_t frames;
    size_t frame;
} s_limits [2] = {
    { 4, 64 },
    { 2 + PROTO_MAX_FRAME_PAYLOADS, 1 << 16 }
};

typedef struct {
    proto_reader_t *reader;
    int fd;                     //  the reader's end
    const uint8_t *stream;      //  all the bytes written or to be written
    size_t checked;             //  bytes the taken messages account for
    size_t limit;               //  s_limits index
    bool failed;
} s_run_t;

//  msg is the next stretch of the stream: packed again it is those
//  bytes, and proto_stream_unpack reads them as msg.
static void
s_check_message (s_run_t *run, zmsg_t *msg, size_t written)
{
    zmsg_t *copy = zmsg_dup (msg);
    size_t size;
    uint8_t *packed = proto_stream_pack (&copy, &size);
    SELFTEST_CHECK (packed && size <= written - run->checked);
    SELFTEST_CHECK (memcmp (packed, run->stream + run->checked, size) == 0);
    zmsg_t *unpacked = proto_stream_unpack (run->stream + run->checked, size,
                                            s_limits [run->limit].frames,
                                            s_limits [run->limit].frame);
    SELFTEST_CHECK (unpacked && zmsg_size (unpacked) == zmsg_size (msg));
    zmsg_destroy (&unpacked);
    free (packed);
    run->checked += size;
}

//  Reads what the socket has, as a monitor's poll loop does on POLLIN.
static void
s_read (s_run_t *run, size_t written)
{
    if (run->failed)
        return;
    int rc;
    while ((rc = proto_reader_read (run->reader, run->fd)) == 1) {
        zmsg_t *msg = proto_reader_take (run->reader);
        SELFTEST_CHECK (msg && !proto_reader_take (run->reader));
        s_check_message (run, msg, written);
        //  What the monitor does next with it
        proto_msg_t *decoded = proto_decode (&msg, NULL);
        proto_msg_destroy (&decoded);
    }
    if (rc == 0)
        return;
    int error = errno;
    SELFTEST_CHECK (error == EPIPE || error == EMSGSIZE || error == EPROTO);
    //  Out of sync for good: the next read fails the same way
    SELFTEST_CHECK (proto_reader_read (run->reader, run->fd) == -1 && errno == error);
    run->failed = true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t limit = data [0] & 1;
    size_t chunks = 1 + data [1] % 8;
    if (size < 2 + chunks)
        return 0;
    const uint8_t *sizes = data + 2;
    s_run_t run = { 0 };
    run.stream = data + 2 + chunks;
    run.limit = limit;
    size_t stream_size = size - 2 - chunks;
    if (stream_size > S_MAX_STREAM)
        return 0;
    int pair [2];
    SELFTEST_CHECK (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
    run.fd = pair [1];
    run.reader = proto_reader_new (s_limits [limit].frames, s_limits [limit].frame);
    size_t written = 0;
    for (size_t turn = 0; written < stream_size && !run.failed; turn++) {
        size_t chunk = sizes [turn % chunks];
        if (chunk == 0 || chunk > stream_size - written)
            chunk = stream_size - written;
        //  The reader drained the socket: it takes the chunk whole
        SELFTEST_CHECK (write (pair [0], run.stream + written, chunk) == (ssize_t) chunk);
        written += chunk;
        s_read (&run, written);
    }
    close (pair [0]);
    bool failed = run.failed;
    s_read (&run, written);
    //  End of stream: EPIPE, even half-way through a message
    SELFTEST_CHECK (failed || (run.failed && errno == EPIPE));
    SELFTEST_CHECK (run.failed);
    proto_reader_destroy (&run.reader);
    close (pair [1]);
    return 0;
}
