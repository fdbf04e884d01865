/*  executor_request — the executor's requests: each one decoded,
    dispatched to the glue, and its result turned into exactly one reply.
    Each glue entry point returns (error, message, fields, payloads).
    Before it, the glue may send display events through _kmq_io.send_event,
    a builtin module made here before the glue loads (protocol.md 4.4).
    executor.c runs the interpreter around it.

    Output ordering (protocol.md 4.4): output travels on the pipes and
    messages on the socket. Python's stdio and C's stdout are flushed
    before every event and reply, so the bytes written before a message
    are in the pipes when the monitor reads the message (it reads the
    pipes before forwarding it). After an event the code waits for the
    monitor's `ack`, so nothing it writes next can overtake the event.
*/
#include "executor_python.h"       //  first: it includes Python.h
#include "mem.h"
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Deepest nesting of a glue field value (vars: list of maps of lists).
#define S_MAX_DEPTH 8

//  State of the _kmq_io module: the child it writes for.
typedef struct {
    executor_python_t *child;
} s_io_state_t;

zmsg_t *
executor_read_or_die (proto_reader_t *reader, const char *what)
{
    while (true) {
        int rc = proto_reader_read (reader, EXECUTOR_SOCK_FD);
        if (rc == 1)
            return proto_reader_take (reader);
        if (rc == -1 && errno == EPIPE)
            _exit (0);
        //  A broken stream can't be resynchronised: the monitor sees this
        //  exit status and reports the executor dead.
        if (rc == -1 && errno != EINTR)
            executor_die (EXECUTOR_EXIT_STREAM, "%s from the monitor: %s", what,
                          strerror (errno));
    }
}

void
executor_write_or_die (zmsg_t **msg_p, const char *what)
{
    if (proto_stream_write (EXECUTOR_SOCK_FD, msg_p) == 0)
        return;
    if (errno == EPIPE || errno == ECONNRESET)
        _exit (0);
    executor_die (EXECUTOR_EXIT_STREAM, "writing %s to the monitor: %s", what, strerror (errno));
}


//  Waits for the monitor's `ack` of the event just written (protocol.md
//  4.4), keeping the GIL: no other thread may write output or an event
//  meanwhile. Anything else on the socket is a broken stream.
static void
s_await_ack (executor_python_t *self)
{
    zmsg_t *raw = executor_read_or_die (self->reader, "waiting for the monitor's ack");
    proto_fault_t fault;
    proto_msg_t *ack = proto_decode (&raw, &fault);
    if (!ack || proto_msg_type (ack) != PROTO_ACK || proto_msg_id (ack) != self->req_id)
        executor_die (EXECUTOR_EXIT_STREAM, "the monitor sent %s where an ack "
                      "was due", ack? proto_type_name (proto_msg_type (ack)): fault.text);
    proto_msg_destroy (&ack);
}

//  --------------------------------------------------------------------
//  _kmq_io: the glue's way to send display events

//  Writes an event of the request in flight after the output written so
//  far (flushed first), and waits for the monitor's ack (protocol.md 4.4).
static void
s_send_event (executor_python_t *self, zmsg_t **event_p, const char *what)
{
    fflush (stdout);
    fflush (stderr);
    executor_write_or_die (event_p, what);
    s_await_ack (self);
}

//  send_event(mime, payloads): mime a list of str, payloads a list of
//  bytes of the same length. Writes one display event for the request in
//  flight and returns True; returns False when none is in flight. The
//  write keeps the GIL: no other thread can interleave a message.
static PyObject *
s_io_send_event (PyObject *module, PyObject *args)
{
    PyObject *mime_list, *payload_list;
    if (!PyArg_ParseTuple (args, "O!O!:send_event", &PyList_Type, &mime_list,
                           &PyList_Type, &payload_list))
        return NULL;
    s_io_state_t *state = (s_io_state_t *) PyModule_GetState (module);
    executor_python_t *self = state? state->child: NULL;
    Py_ssize_t count = PyList_GET_SIZE (mime_list);
    if (count != PyList_GET_SIZE (payload_list) || count > PROTO_MAX_PAYLOADS) {
        PyErr_Format (PyExc_ValueError,
                      "send_event: %zd MIME types for %zd payloads; give one "
                      "payload per type, at most %d", count,
                      PyList_GET_SIZE (payload_list), PROTO_MAX_PAYLOADS);
        return NULL;
    }
    uint64_t max_frame = self && self->config->max_payload?
                         self->config->max_payload: PROTO_MAX_PAYLOAD;
    const char *mime [PROTO_MAX_PAYLOADS];
    const void *data [PROTO_MAX_PAYLOADS];
    size_t sizes [PROTO_MAX_PAYLOADS];
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *type = PyList_GET_ITEM (mime_list, i);
        PyObject *payload = PyList_GET_ITEM (payload_list, i);
        if (!PyUnicode_Check (type) || !PyBytes_Check (payload)) {
            PyErr_SetString (PyExc_TypeError,
                             "send_event: MIME types must be str, payloads bytes");
            return NULL;
        }
        mime [i] = PyUnicode_AsUTF8 (type);
        if (!mime [i])
            return NULL;
        data [i] = PyBytes_AS_STRING (payload);
        sizes [i] = (size_t) PyBytes_GET_SIZE (payload);
        if (sizes [i] > max_frame) {
            PyErr_Format (PyExc_ValueError,
                          "the %s output is %zu bytes, more than the kernel's "
                          "max_payload of %llu; display something smaller",
                          mime [i], sizes [i], (unsigned long long) max_frame);
            return NULL;
        }
    }
    if (!self || !self->in_flight)
        Py_RETURN_FALSE;
    zmsg_t *event = proto_encode_display (self->req_id, self->req_session,
                                          mime, data, sizes, (size_t) count);
    //  Output the code writes next must not reach the monitor first
    s_send_event (self, &event, "a display event");
    Py_RETURN_TRUE;
}

static int s_pack_value (proto_builder_t *builder, PyObject *value, int depth);

//  send_input(request_type, fields, payload): the `input` event that tells
//  attached clients a request starts running (protocol.md 4.5): fields a
//  dict of str keys (execution_count, name, format, bytes), payload bytes
//  (the code) or None. Returns True, or False when nothing is in flight or
//  the request said `input: false` (no one wants the event).
static PyObject *
s_io_send_input (PyObject *module, PyObject *args)
{
    const char *request_type;
    PyObject *fields, *payload;
    if (!PyArg_ParseTuple (args, "sO!O:send_input", &request_type, &PyDict_Type,
                           &fields, &payload))
        return NULL;
    if (payload != Py_None && !PyBytes_Check (payload)) {
        PyErr_SetString (PyExc_TypeError, "send_input: payload must be bytes or None");
        return NULL;
    }
    s_io_state_t *state = (s_io_state_t *) PyModule_GetState (module);
    executor_python_t *self = state? state->child: NULL;
    if (!self || !self->in_flight || !self->req_input)
        Py_RETURN_FALSE;
    proto_builder_t *builder = proto_builder_new (PROTO_EVENT, self->req_id,
                                                  self->req_session);
    proto_builder_str (builder, "event", "input");
    proto_builder_str (builder, "request_type", request_type);
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next (fields, &pos, &key, &value)) {
        const char *name = PyUnicode_Check (key)? PyUnicode_AsUTF8 (key): NULL;
        if (!name) {
            proto_builder_destroy (&builder);
            PyErr_SetString (PyExc_TypeError, "send_input: field names must be str");
            return NULL;
        }
        proto_builder_key (builder, name);
        if (s_pack_value (builder, value, 0)) {
            proto_builder_destroy (&builder);
            if (!PyErr_Occurred ())
                PyErr_Format (PyExc_TypeError, "send_input: field %s has a kind "
                              "the protocol can't carry", name);
            return NULL;
        }
    }
    if (payload != Py_None)
        proto_builder_payload_copy (builder, PyBytes_AS_STRING (payload),
                                    (size_t) PyBytes_GET_SIZE (payload));
    zmsg_t *event = proto_builder_finish (&builder);
    s_send_event (self, &event, "an input event");
    Py_RETURN_TRUE;
}

//  next_part(): the next piece of the upload in flight (executor_parts.c).
static PyObject *
s_io_next_part (PyObject *module, PyObject *args)
{
    (void) args;
    s_io_state_t *state = (s_io_state_t *) PyModule_GetState (module);
    if (!state || !state->child)
        return PyBytes_FromStringAndSize (NULL, 0);
    return executor_parts_next (state->child);
}

//  send_part(part, piece): one `part` event of the download in flight
//  (protocol.md 5, download), piece any contiguous buffer (a memoryview
//  over a frame's buffer, copied once into the message). Returns True, or
//  False when nothing is in flight.
static PyObject *
s_io_send_part (PyObject *module, PyObject *args)
{
    unsigned long long part;
    Py_buffer piece;
    if (!PyArg_ParseTuple (args, "Ky*:send_part", &part, &piece))
        return NULL;
    s_io_state_t *state = (s_io_state_t *) PyModule_GetState (module);
    executor_python_t *self = state? state->child: NULL;
    if (!self || !self->in_flight) {
        PyBuffer_Release (&piece);
        Py_RETURN_FALSE;
    }
    proto_builder_t *builder = proto_builder_new (PROTO_EVENT, self->req_id,
                                                  self->req_session);
    proto_builder_str (builder, "event", "part");
    proto_builder_uint (builder, "part", part);
    proto_builder_payload_copy (builder, piece.buf, (size_t) piece.len);
    PyBuffer_Release (&piece);
    zmsg_t *event = proto_builder_finish (&builder);
    s_send_event (self, &event, "a part event");
    Py_RETURN_TRUE;
}

//  max_payload(): what the pieces of a download in parts hold at most in
//  all (the monitor's bound, protocol.md 4.4). Read at each call: a zygote
//  installs the module before its executors have their settings.
static PyObject *
s_io_max_payload (PyObject *module, PyObject *args)
{
    (void) args;
    s_io_state_t *state = (s_io_state_t *) PyModule_GetState (module);
    executor_python_t *self = state? state->child: NULL;
    uint64_t max = self && self->config && self->config->max_payload?
                   self->config->max_payload: PROTO_MAX_PAYLOAD;
    return PyLong_FromUnsignedLongLong (max);
}

static PyMethodDef s_io_methods [] = {
    { "max_payload", s_io_max_payload, METH_NOARGS,
      "max_payload() -> int: the bytes a download's pieces may hold in all." },
    { "next_part", s_io_next_part, METH_NOARGS,
      "next_part() -> bytes: the next piece of the upload in flight; b'' "
      "once all came." },
    { "send_event", s_io_send_event, METH_VARARGS,
      "send_event(mime, payloads) -> bool: one display event for the "
      "request in flight (False when none is)." },
    { "send_part", s_io_send_part, METH_VARARGS,
      "send_part(part, piece) -> bool: one part event of the download in "
      "flight (False when none is)." },
    { "send_input", s_io_send_input, METH_VARARGS,
      "send_input(request_type, fields, payload) -> bool: the input event "
      "of the request in flight (False when none is)." },
    { NULL, NULL, 0, NULL }
};

static struct PyModuleDef s_io_module = {
    PyModuleDef_HEAD_INIT, "_kmq_io",
    "kernelmq executor I/O: display events on the monitor socket.",
    sizeof (s_io_state_t), s_io_methods, NULL, NULL, NULL, NULL
};

void
executor_io_install (executor_python_t *self)
{
    PyObject *module = PyModule_Create (&s_io_module);
    s_io_state_t *state = module?
                          (s_io_state_t *) PyModule_GetState (module): NULL;
    if (state)
        state->child = self;
    if (!state
    ||  PyDict_SetItemString (PyImport_GetModuleDict (), "_kmq_io", module)) {
        char reason [512];
        executor_python_describe (reason, sizeof reason);
        executor_die (EXECUTOR_EXIT_PYTHON, "module _kmq_io: %s", reason);
    }
    Py_DECREF (module);
}


//  --------------------------------------------------------------------
//  Replies

//  UTF-8 of a str; lone surrogates (from user exception text) escaped.
//  Returns a new bytes object, or NULL with a Python error.
static PyObject *
s_utf8 (PyObject *text)
{
    return PyUnicode_AsEncodedString (text, "utf-8", "backslashreplace");
}

//  Until the session's first reply, the restarted session's state_lost
//  and notice fields (or a restore's restored and notice), on whatever
//  reply that is; never on the monitor's own requests.
static void
s_add_notice (executor_python_t *self, proto_builder_t *builder)
{
    if (self->replied || self->internal || !self->first_notice)
        return;
    proto_builder_bool (builder, self->first_restored? "restored": "state_lost", true);
    proto_builder_str (builder, "notice", self->first_notice);
}

//  Writes one glue field value. -1 (Python error maybe set) on a kind the
//  protocol can't carry.
static int
s_pack_value (proto_builder_t *builder, PyObject *value, int depth)
{
    if (depth > S_MAX_DEPTH)
        return -1;
    if (value == Py_None)
        proto_builder_val_nil (builder);
    else
    if (PyBool_Check (value))
        proto_builder_val_bool (builder, value == Py_True);
    else
    if (PyLong_Check (value)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow (value, &overflow);
        if (overflow > 0) {
            unsigned long long big = PyLong_AsUnsignedLongLong (value);
            if (big == (unsigned long long) -1 && PyErr_Occurred ())
                return -1;
            proto_builder_val_uint (builder, big);
        }
        else
        if (overflow < 0 || (number == -1 && PyErr_Occurred ()))
            return -1;
        else
        if (number >= 0)
            proto_builder_val_uint (builder, (uint64_t) number);
        else
            proto_builder_val_int (builder, number);
    }
    else
    if (PyFloat_Check (value))
        proto_builder_val_float (builder, PyFloat_AS_DOUBLE (value));
    else
    if (PyUnicode_Check (value)) {
        PyObject *bytes = s_utf8 (value);
        if (!bytes)
            return -1;
        proto_builder_val_strn (builder, PyBytes_AS_STRING (bytes),
                                (size_t) PyBytes_GET_SIZE (bytes));
        Py_DECREF (bytes);
    }
    else
    if (PyList_Check (value) || PyTuple_Check (value)) {
        PyObject *items = PySequence_Fast (value, "a list");
        if (!items)
            return -1;
        Py_ssize_t count = PySequence_Fast_GET_SIZE (items);
        int rc = count > UINT32_MAX? -1: 0;
        if (rc == 0) {
            proto_builder_val_array (builder, (uint32_t) count);
            for (Py_ssize_t i = 0; i < count && rc == 0; i++)
                rc = s_pack_value (builder, PySequence_Fast_GET_ITEM (items, i),
                                   depth + 1);
        }
        Py_DECREF (items);
        return rc;
    }
    else
    if (PyDict_Check (value)) {
        //  Keys are checked before the count is announced.
        PyObject *key, *item;
        Py_ssize_t pos = 0;
        while (PyDict_Next (value, &pos, &key, &item))
            if (!PyUnicode_Check (key))
                return -1;
        proto_builder_val_map (builder, (uint32_t) PyDict_GET_SIZE (value));
        pos = 0;
        while (PyDict_Next (value, &pos, &key, &item))
            if (s_pack_value (builder, key, depth + 1)
            ||  s_pack_value (builder, item, depth + 1))
                return -1;
    }
    else
        return -1;
    return 0;
}

static zmsg_t *s_reply_error (executor_python_t *self, uint64_t id,
                              const char *session, proto_error_t code,
                              const char *message);

//  The reply for a glue result (error, message, fields, payloads), or NULL
//  (Python error maybe set) when the result is not of that shape. A
//  payload over max_payload makes it TOO_LARGE: the monitor would take
//  such a reply for a protocol violation and kill the executor.
static zmsg_t *
s_reply_from_result (executor_python_t *self, uint64_t id, const char *session,
                     PyObject *result)
{
    if (!PyTuple_Check (result) || PyTuple_GET_SIZE (result) != 4)
        return NULL;
    PyObject *error = PyTuple_GET_ITEM (result, 0);
    PyObject *message = PyTuple_GET_ITEM (result, 1);
    PyObject *fields = PyTuple_GET_ITEM (result, 2);
    PyObject *payloads = PyTuple_GET_ITEM (result, 3);
    if (!PyDict_Check (fields) || !PyList_Check (payloads))
        return NULL;

    proto_builder_t *builder = NULL;
    if (error == Py_None)
        builder = proto_reply_ok_begin (id, session);
    else {
        if (!PyUnicode_Check (error) || !PyUnicode_Check (message))
            return NULL;
        const char *code = PyUnicode_AsUTF8 (error);
        PyObject *text = s_utf8 (message);
        if (!code || !text) {
            Py_XDECREF (text);
            return NULL;
        }
        builder = proto_reply_error_begin (id, session, proto_error_parse (code),
                                           PyBytes_AS_STRING (text));
        Py_DECREF (text);
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next (fields, &pos, &key, &value)) {
        const char *name = PyUnicode_Check (key)? PyUnicode_AsUTF8 (key): NULL;
        if (!name)
            goto fail;
        proto_builder_key (builder, name);
        if (s_pack_value (builder, value, 0))
            goto fail;
    }
    s_add_notice (self, builder);
    //  bytes, or any contiguous buffer (the frame codec's memoryviews over
    //  pandas' own arrays), copied once into the frame
    uint64_t max_frame = self->config->max_payload? self->config->max_payload
                                                  : PROTO_MAX_PAYLOAD;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE (payloads); i++) {
        Py_buffer view;
        if (PyObject_GetBuffer (PyList_GET_ITEM (payloads, i), &view, PyBUF_SIMPLE))
            goto fail;
        if ((uint64_t) view.len > max_frame) {
            char message [300];
            snprintf (message, sizeof message, "payload %zd of the reply is %zd "
                      "bytes, more than the kernel's max_payload of %" PRIu64
                      ": ask for less (fewer rows or columns), or raise max_payload",
                      i, view.len, max_frame);
            PyBuffer_Release (&view);
            proto_builder_destroy (&builder);
            return s_reply_error (self, id, session, PROTO_E_TOO_LARGE, message);
        }
        proto_builder_payload_copy (builder, view.buf, (size_t) view.len);
        PyBuffer_Release (&view);
    }
    return proto_builder_finish (&builder);

fail:
    proto_builder_destroy (&builder);
    return NULL;
}

//  An error reply that carries only the notice fields.
static zmsg_t *
s_reply_error (executor_python_t *self, uint64_t id, const char *session,
               proto_error_t code, const char *message)
{
    proto_builder_t *builder = proto_reply_error_begin (id, session, code, message);
    s_add_notice (self, builder);
    return proto_builder_finish (&builder);
}

//  INTERRUPTED for a KeyboardInterrupt that escaped the glue (it landed
//  outside the glue's own handler); a cell's reply still carries its number.
static zmsg_t *
s_reply_interrupted (executor_python_t *self, uint64_t id, const char *session,
                     bool is_cell)
{
    proto_builder_t *builder = proto_reply_error_begin (
        id, session, PROTO_E_INTERRUPTED,
        "the request was interrupted (KeyboardInterrupt); the namespace is kept");
    if (is_cell) {
        PyObject *count = PyObject_GetAttrString (self->glue.module, "_count");
        unsigned long long number = count && PyLong_Check (count)?
                                    PyLong_AsUnsignedLongLong (count): 0;
        Py_XDECREF (count);
        PyErr_Clear ();
        if (number > 0 && number != (unsigned long long) -1)
            proto_builder_uint (builder, "execution_count", number);
    }
    s_add_notice (self, builder);
    return proto_builder_finish (&builder);
}

//  Calls a glue function; turns whatever comes back (or escapes) into one
//  reply. Steals args.
static zmsg_t *
s_call (executor_python_t *self, uint64_t id, const char *session,
        PyObject *function, PyObject *args)
{
    if (!args) {
        PyErr_Clear ();
        return s_reply_error (self, id, session, PROTO_E_INTERNAL,
                              "the executor ran out of memory for the request; "
                              "free some with reset");
    }
    PyObject *result = PyObject_CallObject (function, args);
    Py_DECREF (args);

    zmsg_t *reply = NULL;
    if (result)
        reply = s_reply_from_result (self, id, session, result);
    if (!reply) {
        char reason [512] = "the glue returned a malformed result";
        if (PyErr_Occurred ()) {
            if (PyErr_ExceptionMatches (PyExc_KeyboardInterrupt)) {
                PyErr_Clear ();
                reply = s_reply_interrupted (self, id, session,
                                             function == self->glue.execute);
            }
            else
                executor_python_describe (reason, sizeof reason);
        }
        if (!reply) {
            char message [600];
            snprintf (message, sizeof message,
                      "the executor failed to answer: %s; "
                      "this is a kernelmq bug, please report it", reason);
            reply = s_reply_error (self, id, session, PROTO_E_INTERNAL, message);
        }
    }
    Py_XDECREF (result);
    //  Output written so far goes into the pipes before the reply leaves,
    //  so the monitor can drain them first.
    PyObject *flushed = PyObject_CallNoArgs (self->glue.flush);
    Py_XDECREF (flushed);
    PyErr_Clear ();
    fflush (stdout);
    fflush (stderr);
    return reply;
}


//  --------------------------------------------------------------------
//  Requests

//  str from a header field, or NULL when absent or not UTF-8 (no Python
//  error left set).
static PyObject *
s_field_str (proto_msg_t *msg, const char *key)
{
    const char *ptr;
    size_t len;
    if (!proto_msg_strn (msg, key, &ptr, &len))
        return NULL;
    PyObject *text = PyUnicode_DecodeUTF8 (ptr, (Py_ssize_t) len, "strict");
    if (!text)
        PyErr_Clear ();
    return text;
}

//  The name and format fields (upload, download) as new str references.
//  Returns 0, or -1 with both NULL when either is absent or not UTF-8.
static int
s_name_and_format (proto_msg_t *msg, PyObject **name_p, PyObject **format_p)
{
    *name_p = s_field_str (msg, "name");
    *format_p = s_field_str (msg, "format");
    if (*name_p && *format_p)
        return 0;
    Py_CLEAR (*name_p);
    Py_CLEAR (*format_p);
    return -1;
}

static zmsg_t *
s_bad_request (executor_python_t *self, uint64_t id, const char *session,
               const char *message)
{
    return s_reply_error (self, id, session, PROTO_E_BAD_REQUEST, message);
}

//  The request's payload when it has exactly one, else NULL.
static zframe_t *
s_only_payload (proto_msg_t *msg)
{
    return proto_msg_payload_count (msg) == 1? proto_msg_payload (msg, 0): NULL;
}

static zmsg_t *
s_handle_execute (executor_python_t *self, proto_msg_t **msg_p, uint64_t id,
                  const char *session)
{
    zframe_t *frame = s_only_payload (*msg_p);
    if (!frame)
        return s_bad_request (self, id, session,
                              "execute needs exactly one payload: the code");
    PyObject *code = PyUnicode_DecodeUTF8 ((const char *) zframe_data (frame),
                                           (Py_ssize_t) zframe_size (frame),
                                           "strict");
    if (!code) {
        PyErr_Clear ();
        return s_bad_request (self, id, session,
                              "the code is not valid UTF-8; send it as UTF-8 text");
    }
    proto_msg_destroy (msg_p);
    PyObject *args = PyTuple_Pack (1, code);
    Py_DECREF (code);               //  the tuple holds its own reference
    return s_call (self, id, session, self->glue.execute, args);
}

//  A frame upload in parts: its `sizes` (the codec checked them) as a
//  list of ints. NULL with a Python error set.
static PyObject *
s_frame_sizes (proto_msg_t *msg)
{
    const msgpack_object *sizes = proto_msg_object (msg, "sizes");
    uint32_t count = sizes? sizes->via.array.size: 0;
    PyObject *list = PyList_New ((Py_ssize_t) count);
    for (uint32_t i = 0; list && i < count; i++) {
        PyObject *size = PyLong_FromUnsignedLongLong (sizes->via.array.ptr [i].via.u64);
        if (!size)
            Py_CLEAR (list);
        else
            PyList_SET_ITEM (list, (Py_ssize_t) i, size);
    }
    return list;
}

//  A frame upload's data for the glue: (the description as msgpack bytes,
//  [each payload as bytes]), and in parts (piece 0 the one payload) its
//  sizes as a third item. NULL with a Python error set.
static PyObject *
s_frame_data (proto_msg_t *msg)
{
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &packed, msgpack_sbuffer_write);
    const msgpack_object *description = proto_msg_object (msg, "frame");
    PyObject *packed_bytes = description
        && msgpack_pack_object (&packer, *description) == 0
        ? PyBytes_FromStringAndSize (packed.data, (Py_ssize_t) packed.size)
        : PyErr_NoMemory ();
    msgpack_sbuffer_destroy (&packed);
    size_t count = proto_msg_payload_count (msg);
    PyObject *buffers = PyList_New ((Py_ssize_t) count);
    for (size_t i = 0; buffers && i < count; i++) {
        zframe_t *frame = proto_msg_payload (msg, i);
        PyObject *bytes = PyBytes_FromStringAndSize ((const char *) zframe_data (frame),
                                                     (Py_ssize_t) zframe_size (frame));
        if (!bytes)
            Py_CLEAR (buffers);
        else
            PyList_SET_ITEM (buffers, (Py_ssize_t) i, bytes);
    }
    PyObject *sizes = packed_bytes && buffers && proto_msg_uint (msg, "parts", 1) > 1?
                      s_frame_sizes (msg): NULL;
    PyObject *data = !packed_bytes || !buffers? NULL
                   : sizes? PyTuple_Pack (3, packed_bytes, buffers, sizes)
                   : proto_msg_uint (msg, "parts", 1) > 1? NULL
                   : PyTuple_Pack (2, packed_bytes, buffers);
    Py_XDECREF (packed_bytes);
    Py_XDECREF (buffers);
    Py_XDECREF (sizes);
    return data;
}

static zmsg_t *
s_handle_upload (executor_python_t *self, proto_msg_t **msg_p, uint64_t id,
                 const char *session)
{
    proto_msg_t *msg = *msg_p;
    const char *format_ptr;
    size_t format_len;
    //  The codec let a frame upload carry 0 to 4096 payloads, its buffers
    bool is_frame = proto_msg_strn (msg, "format", &format_ptr, &format_len)
                 && format_len == 5 && memcmp (format_ptr, "frame", 5) == 0;
    zframe_t *frame = s_only_payload (msg);
    if (!frame && !is_frame)
        return s_bad_request (self, id, session,
                              "upload needs exactly one payload: the bytes");
    PyObject *name, *format;
    if (s_name_and_format (msg, &name, &format))
        return s_bad_request (self, id, session,
                              "upload needs name and format as UTF-8 strings");
    PyObject *data = is_frame
        ? s_frame_data (msg)
        : PyBytes_FromStringAndSize ((const char *) zframe_data (frame),
                                     (Py_ssize_t) zframe_size (frame));
    //  In parts, the glue reads the further pieces through _kmq_io.next_part
    uint64_t parts = proto_msg_uint (msg, "parts", 1);
    executor_parts_begin (self, parts);
    PyObject *args = data? Py_BuildValue ("(OOOKK)", name, format, data,
                                          (unsigned long long) parts,
                                          (unsigned long long) proto_msg_uint (msg, "bytes", 0))
                         : NULL;
    //  The request's copy goes before parsing: a big upload needs memory
    //  for the bytes and the DataFrame, not twice the bytes.
    proto_msg_destroy (msg_p);
    Py_DECREF (name);
    Py_DECREF (format);
    Py_XDECREF (data);
    return s_call (self, id, session, self->glue.upload, args);
}

//  complete and inspect: the code's bytes and the byte cursor (the codec
//  checked it is within the code; absent means the end).
static zmsg_t *
s_handle_at_cursor (executor_python_t *self, proto_msg_t *msg, uint64_t id,
                    const char *session, PyObject *function)
{
    zframe_t *frame = proto_msg_payload (msg, 0);
    if (!frame)
        return s_bad_request (self, id, session,
                              "complete and inspect need exactly one payload: "
                              "the code");
    size_t size = zframe_size (frame);
    uint64_t cursor = proto_msg_uint (msg, "cursor_pos", size);
    if (cursor > size)
        cursor = size;
    PyObject *data = PyBytes_FromStringAndSize ((const char *) zframe_data (frame),
                                                (Py_ssize_t) size);
    PyObject *args = data? Py_BuildValue ("(OK)", data,
                                          (unsigned long long) cursor): NULL;
    Py_XDECREF (data);
    return s_call (self, id, session, function, args);
}

static zmsg_t *
s_handle_download (executor_python_t *self, proto_msg_t *msg, uint64_t id,
                   const char *session)
{
    PyObject *name, *format;
    if (s_name_and_format (msg, &name, &format))
        return s_bad_request (self, id, session,
                              "download needs name and format as UTF-8 strings");
    PyObject *args = PyTuple_Pack (3, name, format,
                                   proto_msg_bool (msg, "in_parts", false)? Py_True: Py_False);
    Py_DECREF (name);
    Py_DECREF (format);
    return s_call (self, id, session, self->glue.download, args);
}

//  restore (protocol.md 10.3): the snapshot back into this fresh session.
//  What the session's first reply then says follows from the outcome: the
//  glue's notice with restored: true, or state_lost with why it failed.
static zmsg_t *
s_handle_restore (executor_python_t *self, proto_msg_t **msg_p, uint64_t id,
                  const char *session)
{
    zframe_t *frame = s_only_payload (*msg_p);
    if (!frame)
        return s_bad_request (self, id, session,
                              "restore needs exactly one payload: the snapshot");
    PyObject *blob = PyBytes_FromStringAndSize ((const char *) zframe_data (frame),
                                                (Py_ssize_t) zframe_size (frame));
    proto_msg_destroy (msg_p);      //  one copy of a big snapshot at a time
    zmsg_t *reply = s_call (self, id, session, self->glue.restore,
                            blob? PyTuple_Pack (1, blob): NULL);
    Py_XDECREF (blob);
    zmsg_t *copy = zmsg_dup (reply);
    proto_fault_t fault;
    proto_msg_t *outcome = copy? proto_decode (&copy, &fault): NULL;
    const char *notice = outcome? proto_msg_str (outcome, "notice"): NULL;
    char *text;
    if (outcome && proto_msg_is_ok (outcome) && notice) {
        text = mem_strdup (notice);
        self->first_restored = true;
    }
    else {
        const char *why = outcome? proto_msg_str (outcome, "message"): NULL;
        text = mem_sprintf ("%s%sthe session's snapshot could not be restored (%s); "
                            "its state is lost", self->first_notice? self->first_notice: "",
                            self->first_notice? "; ": "", why? why: "no reply");
        self->first_restored = false;
    }
    free (self->first_notice);
    self->first_notice = text;
    proto_msg_destroy (&outcome);
    return reply;
}

void
executor_drop_stray_interrupt (void)
{
    if (PyErr_CheckSignals () == -1)
        PyErr_Clear ();
}

zmsg_t *
executor_request_handle (executor_python_t *self, zmsg_t **request_p)
{
    proto_fault_t fault;
    proto_msg_t *msg = proto_decode (request_p, &fault);
    if (!msg)
        return s_reply_error (self, fault.has_id? fault.id: 0, NULL,
                              fault.code, fault.text);

    proto_type_t type = proto_msg_type (msg);
    uint64_t id = proto_msg_id (msg);
    //  Handlers may free msg early; the reply still needs the session.
    char *session = mem_strdup (proto_msg_session (msg));
    const char *reply_session = *session? session: NULL;

    executor_drop_stray_interrupt ();
    self->in_flight = true;
    executor_parts_begin (self, 1);
    self->internal = type == PROTO_SNAPSHOT || type == PROTO_RESTORE;
    self->req_id = id;
    self->req_session = reply_session;
    self->req_input = proto_msg_bool (msg, "input", true);
    zmsg_t *reply = NULL;
    switch (type) {
        case PROTO_EXECUTE:
            reply = s_handle_execute (self, &msg, id, reply_session);
            break;
        case PROTO_UPLOAD:
            reply = s_handle_upload (self, &msg, id, reply_session);
            break;
        case PROTO_DOWNLOAD:
            reply = s_handle_download (self, msg, id, reply_session);
            break;
        case PROTO_RESET:
            reply = s_call (self, id, reply_session, self->glue.reset,
                            PyTuple_New (0));
            break;
        case PROTO_VARS:
            reply = s_call (self, id, reply_session, self->glue.vars,
                            PyTuple_New (0));
            break;
        case PROTO_FILES:
            reply = s_call (self, id, reply_session, self->glue.files,
                            PyTuple_New (0));
            break;
        case PROTO_COMPLETE:
            reply = s_handle_at_cursor (self, msg, id, reply_session,
                                        self->glue.complete);
            break;
        case PROTO_IS_COMPLETE: {
            zframe_t *code = s_only_payload (msg);
            reply = code? s_call (self, id, reply_session, self->glue.is_complete,
                                  Py_BuildValue ("(y#)", zframe_data (code),
                                                 (Py_ssize_t) zframe_size (code)))
                        : s_bad_request (self, id, reply_session,
                                         "is_complete needs exactly one payload: the code");
            break;
        }
        case PROTO_HISTORY:
            reply = s_call (self, id, reply_session, self->glue.history,
                            Py_BuildValue ("(K)", (unsigned long long)
                                           proto_msg_uint (msg, "last", 0)));
            break;
        case PROTO_INSPECT:
            reply = s_handle_at_cursor (self, msg, id, reply_session,
                                        self->glue.inspect);
            break;
        case PROTO_SNAPSHOT:
            reply = s_call (self, id, reply_session, self->glue.snapshot,
                            Py_BuildValue ("(K)", (unsigned long long)
                                           proto_msg_uint (msg, "quota", 0)));
            break;
        case PROTO_RESTORE:
            reply = s_handle_restore (self, &msg, id, reply_session);
            break;
        case PROTO_HEARTBEAT:
        case PROTO_INTERRUPT:
            //  The monitor's business (interrupt is a signal); no reply.
            break;
        case PROTO_UPLOAD_PART:
            //  The piece an upload asked for last, left unread when it
            //  failed or was interrupted (executor_parts.c); no reply.
            break;
        default: {
            char message [128];
            snprintf (message, sizeof message,
                      "the executor does not handle %s requests",
                      proto_type_name (type));
            reply = s_reply_error (self, id, reply_session,
                                   PROTO_E_UNSUPPORTED, message);
        }
    }
    //  From here on a display() from another thread is dropped: the
    //  reply is the request's last message.
    self->in_flight = false;
    self->req_session = NULL;
    proto_msg_destroy (&msg);
    free (session);
    return reply;
}
