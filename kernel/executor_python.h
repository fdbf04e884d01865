/*  executor_python — what the executor's Python-embedding files share
    (executor.c, the interpreter; executor_request.c, the requests): the
    interpreter's state and the helpers that touch Python objects.

    It includes Python.h first, as CPython requires: include this header
    before any other, and only in those two files. What the rest of the
    executor shares is in executor_internal.h, which holds no Python type.
*/
#ifndef KMQ_EXECUTOR_PYTHON_H
#define KMQ_EXECUTOR_PYTHON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "executor_internal.h"
#include "proto_stream.h"

//  The glue's entry points, looked up once.
typedef struct {
    PyObject *execute;
    PyObject *upload;
    PyObject *download;
    PyObject *reset;
    PyObject *vars;
    PyObject *files;
    PyObject *is_complete;
    PyObject *history;
    PyObject *complete;
    PyObject *inspect;
    PyObject *flush;
    PyObject *snapshot;
    PyObject *restore;
    PyObject *module;           //  _kmq.entry, for its cell counter _count
} executor_glue_t;

struct _executor_python_t {
    const executor_config_t *config;
    executor_glue_t glue;
    proto_reader_t *reader;
    bool replied;               //  false until the first reply is written
    //  What the session's first reply says: the restarted session's
    //  state_lost notice, or a restore's (restored: true). NULL: nothing.
    char *first_notice;
    bool first_restored;
    //  The request in flight is the monitor's own (snapshot, restore): its
    //  reply is not the session's first and carries no notice.
    bool internal;
    //  The request in flight, for display events. Read and written with
    //  the GIL held, so a thread's event can't straddle the reply.
    bool in_flight;
    uint64_t req_id;
    const char *req_session;    //  owned by executor_request_handle while in flight
    //  The request's `input` field (protocol.md 4.5): false when no client
    //  wants its `input` event, which then is not sent, sparing the event
    //  and its ack a trip through the monitor.
    bool req_input;
    //  An upload in parts (executor_parts.c): its pieces, the next one
    //  due, and whether the monitor was asked for it.
    uint64_t parts;
    uint64_t next_part;
    bool part_asked;
};

//  executor_parts.c: an upload of parts pieces begins (1: one message).
void executor_parts_begin (executor_python_t *self, uint64_t parts);
//  The next piece's bytes; b"" once every piece came (or none is in
//  flight); NULL with KeyboardInterrupt raised when a SIGINT ends the wait.
PyObject *executor_parts_next (executor_python_t *self);

//  One line for the current Python exception; clears it (executor.c).
void executor_python_describe (char *buffer, size_t size);

//  Writes *msg_p to the monitor; exits as the request loop does (status 0)
//  when the monitor's end of the socket is gone, dies on another error.
void executor_write_or_die (zmsg_t **msg_p, const char *what);

//  Reads the next whole message from the monitor (blocking; no Python
//  API, so callable without the GIL). Exits 0 when the monitor's end is
//  gone; dies (EXECUTOR_EXIT_STREAM) naming what on a broken stream.
zmsg_t *executor_read_or_die (proto_reader_t *reader, const char *what);

//  Creates _kmq_io bound to self and registers it in sys.modules. Dies on
//  failure.
void executor_io_install (executor_python_t *self);

//  A SIGINT that arrived while idle (or after the last request's code
//  finished) must not hit the next request.
void executor_drop_stray_interrupt (void);

//  The reply to one request, or NULL for messages that get none.
zmsg_t *executor_request_handle (executor_python_t *self, zmsg_t **request_p);

#endif
