/*  executor_parts — the pieces of an upload sent in parts (protocol.md 5,
    upload; 10.1), read as the glue's parser needs them.

    Payload 0 came with the upload; each further piece the executor asks
    the monitor for with `next_part`, and asks for piece k + 1 as soon as
    piece k is read, so the next piece crosses the socket while this one
    is parsed. One piece is asked for at a time, so when the executor next
    writes (a question, or the reply) it has read everything the monitor
    sent it, as protocol.md 4.4 requires; only a reply may leave the piece
    it asked for last unread (the upload failed or was interrupted), and
    the request loop skips that piece (executor_request_handle).

    The wait for a piece holds the GIL, as the wait for an ack does: no
    other thread may write an event while a piece is due. A SIGINT (an
    interrupt, or the monitor's limit on a piece that does not come) ends
    the wait with KeyboardInterrupt.
*/
#include "executor_python.h"       //  first: it includes Python.h
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

void
executor_parts_begin (executor_python_t *self, uint64_t parts)
{
    self->parts = parts;
    self->next_part = 1;
    self->part_asked = false;
}

static void
s_ask (executor_python_t *self)
{
    proto_builder_t *ask = proto_builder_new (PROTO_NEXT_PART, self->req_id, NULL);
    proto_builder_uint (ask, "part", self->next_part);
    zmsg_t *msg = proto_builder_finish (&ask);
    executor_write_or_die (&msg, "next_part");
    self->part_asked = true;
}

//  The piece asked for, or NULL with KeyboardInterrupt raised. The poll
//  is where a SIGINT ends the wait: the reader retries EINTR itself, and
//  once a piece starts coming the rest of it follows.
static zmsg_t *
s_await_piece (executor_python_t *self)
{
    while (true) {
        struct pollfd item = { .fd = EXECUTOR_SOCK_FD, .events = POLLIN };
        if (poll (&item, 1, -1) == -1) {
            if (errno != EINTR)
                executor_die (EXECUTOR_EXIT_STREAM, "poll: %s", strerror (errno));
            if (PyErr_CheckSignals () == -1)
                return NULL;
            continue;
        }
        int rc = proto_reader_read (self->reader, EXECUTOR_SOCK_FD);
        if (rc == 1)
            return proto_reader_take (self->reader);
        if (rc == -1 && errno == EPIPE)
            _exit (0);
        executor_die (EXECUTOR_EXIT_STREAM, "waiting for piece %" PRIu64 " of an "
                      "upload: %s", self->next_part, strerror (errno));
    }
}

PyObject *
executor_parts_next (executor_python_t *self)
{
    if (!self->in_flight || self->next_part >= self->parts)
        return PyBytes_FromStringAndSize (NULL, 0);
    if (!self->part_asked)
        s_ask (self);
    zmsg_t *raw = s_await_piece (self);
    if (!raw)
        return NULL;
    proto_fault_t fault;
    proto_msg_t *piece = proto_decode (&raw, &fault);
    if (!piece || proto_msg_type (piece) != PROTO_UPLOAD_PART
    ||  proto_msg_id (piece) != self->req_id
    ||  proto_msg_uint (piece, "part", 0) != self->next_part)
        executor_die (EXECUTOR_EXIT_STREAM, "the monitor sent %s where piece %" PRIu64
                      " of upload %" PRIu64 " was due",
                      piece? proto_type_name (proto_msg_type (piece)): fault.text,
                      self->next_part, self->req_id);
    self->part_asked = false;
    self->next_part++;
    if (self->next_part < self->parts)
        s_ask (self);
    zframe_t *frame = proto_msg_payload (piece, 0);
    PyObject *bytes = PyBytes_FromStringAndSize ((const char *) zframe_data (frame),
                                                (Py_ssize_t) zframe_size (frame));
    proto_msg_destroy (&piece);
    return bytes;
}
