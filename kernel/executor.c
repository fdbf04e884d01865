/*  executor — the interpreter of an executor (embedded CPython), from its
    start to its last request. It starts CPython, makes _kmq_io, imports the
    glue package embedded in the binary (kernel/glue/, as _kmq) and looks
    up the functions of _kmq.entry, preloads for the zygote, is handed over
    to a session, then serves one request at a time from its socketpair
    until the monitor goes. What a request means is
    executor_request.c's business (decoding, the glue's entry points,
    replies, display events and their order with the output); what
    happens before the interpreter starts is executor_child.c's.

    The child never runs Py_Finalize: with pandas loaded it costs ~95 ms and
    nothing needs it. It ends with _exit.
*/
#include "executor_python.h"       //  first: it includes Python.h
#include "mem.h"
#include "proto.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  kernel/glue_blob.S: the finder's source, and the zip it serves.
extern const char kmq_embed_finder_py [];
extern const char kmq_python_zip [];
extern const char kmq_python_zip_end [];

//  A header map is at most 1 MiB; a frame may be that much over max_payload.
#define S_FRAME_SLACK (1u << 20)


//  --------------------------------------------------------------------
//  CPython

static void
s_python_check (PyStatus status, const char *what)
{
    if (PyStatus_Exception (status))
        executor_die (EXECUTOR_EXIT_PYTHON, "%s: %s%s%s", what,
               status.func? status.func: "",
               status.func? ": ": "",
               status.err_msg? status.err_msg: "failed");
}

static void
s_python_start (void)
{
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig (&preconfig);
    preconfig.utf8_mode = 1;                //  open() and os.fsencode: UTF-8
    s_python_check (Py_PreInitialize (&preconfig), "Py_PreInitialize");

    PyConfig config;
    PyConfig_InitIsolatedConfig (&config);
    //  Isolated turns handlers off; without them SIGINT is no
    //  KeyboardInterrupt, and SIGPIPE would kill us instead of EPIPE.
    config.install_signal_handlers = 1;
    config.buffered_stdio = 0;              //  prints reach the pipe at once
    config.write_bytecode = 0;
    config.parse_argv = 0;
    PyStatus status = PyConfig_SetString (&config, &config.program_name,
                                          L"/usr/bin/python3");
    if (!PyStatus_Exception (status))
        status = PyConfig_SetString (&config, &config.home, L"/usr");
    if (!PyStatus_Exception (status))
        status = PyConfig_SetString (&config, &config.stdio_encoding, L"utf-8");
    if (!PyStatus_Exception (status))
        status = PyConfig_SetString (&config, &config.stdio_errors,
                                     L"backslashreplace");
    if (!PyStatus_Exception (status))
        status = Py_InitializeFromConfig (&config);
    PyConfig_Clear (&config);
    s_python_check (status, "Py_InitializeFromConfig");
}

void
executor_python_describe (char *buffer, size_t size)
{
    PyObject *type, *value, *trace;
    PyErr_Fetch (&type, &value, &trace);
    PyErr_NormalizeException (&type, &value, &trace);
    const char *name = type? ((PyTypeObject *) type)->tp_name: "unknown error";
    PyObject *text = value? PyObject_Str (value): NULL;
    const char *detail = text? PyUnicode_AsUTF8 (text): NULL;
    PyErr_Clear ();
    snprintf (buffer, size, "%s: %s", name, detail? detail: "");
    Py_XDECREF (text);
    Py_XDECREF (type);
    Py_XDECREF (value);
    Py_XDECREF (trace);
}

static PyObject *
s_glue_function (PyObject *module, const char *name)
{
    PyObject *function = PyObject_GetAttrString (module, name);
    if (!function || !PyCallable_Check (function))
        executor_die (EXECUTOR_EXIT_PYTHON, "glue has no function %s()", name);
    return function;
}

//  Dies with "glue: <step>: <the Python error>".
static void __attribute__ ((noreturn))
s_glue_die (const char *step)
{
    char reason [512];
    executor_python_describe (reason, sizeof reason);
    executor_die (EXECUTOR_EXIT_PYTHON, "glue: %s: %s", step, reason);
}

//  Makes the embedded modules importable (kernel/embed_finder.py over the
//  zip in the binary: no file is read) and imports _kmq.entry, which also
//  imports pandas and numpy. The finder copies the zip's entries once; in
//  the zygote they and the modules are shared with every child.
static void
s_glue_load (executor_glue_t *glue)
{
    PyObject *code = Py_CompileString (kmq_embed_finder_py,
                                       "<kmq-kernel>/embed_finder.py",
                                       Py_file_input);
    if (!code)
        s_glue_die ("compiling embed_finder.py");
    PyObject *finder = PyImport_ExecCodeModule ("_kmq_embed", code);
    Py_DECREF (code);
    if (!finder)
        s_glue_die ("running embed_finder.py");
    PyObject *zip = PyMemoryView_FromMemory (
        (char *) kmq_python_zip, kmq_python_zip_end - kmq_python_zip, PyBUF_READ);
    PyObject *installed = zip? PyObject_CallMethod (finder, "install", "O", zip): NULL;
    Py_XDECREF (zip);
    Py_DECREF (finder);
    if (!installed)
        s_glue_die ("reading the embedded zip");
    Py_DECREF (installed);
    PyObject *module = PyImport_ImportModule ("_kmq.entry");
    if (!module)
        s_glue_die ("import _kmq.entry");
    glue->execute = s_glue_function (module, "execute");
    glue->upload = s_glue_function (module, "upload");
    glue->download = s_glue_function (module, "download");
    glue->reset = s_glue_function (module, "reset");
    glue->vars = s_glue_function (module, "vars");
    glue->files = s_glue_function (module, "files");
    glue->is_complete = s_glue_function (module, "is_complete");
    glue->history = s_glue_function (module, "history");
    glue->complete = s_glue_function (module, "complete");
    glue->snapshot = s_glue_function (module, "snapshot");
    glue->restore = s_glue_function (module, "restore");
    glue->inspect = s_glue_function (module, "inspect");
    glue->flush = s_glue_function (module, "flush");
    glue->module = module;
}


//  --------------------------------------------------------------------
//  The request loop

//  Reads requests until the monitor closes the socket, then _exit(0).
static void __attribute__ ((noreturn))
s_serve (executor_python_t *self)
{
    while (true) {
        zmsg_t *request;
        Py_BEGIN_ALLOW_THREADS
        request = executor_read_or_die (self->reader, "the request stream");
        Py_END_ALLOW_THREADS
        zmsg_t *reply = executor_request_handle (self, &request);
        zmsg_destroy (&request);
        if (!reply)
            continue;
        Py_BEGIN_ALLOW_THREADS
        executor_write_or_die (&reply, "a reply");
        Py_END_ALLOW_THREADS
        if (!self->internal)
            self->replied = true;
    }
}

//  --------------------------------------------------------------------
//  The interpreter's life (executor_internal.h)

executor_python_t *
executor_python_start (void)
{
    executor_python_t *self = (executor_python_t *) calloc (1, sizeof (executor_python_t));
    if (!self)
        executor_die (EXECUTOR_EXIT_SETUP, "out of memory for the executor");
    s_python_start ();
    executor_io_install (self);
    s_glue_load (&self->glue);
    return self;
}

//  Calls glue.name() for its side effects; dies when it raises.
static void
s_glue_call (executor_python_t *self, const char *name)
{
    PyObject *result = PyObject_CallMethod (self->glue.module, name, NULL);
    if (!result) {
        char reason [512];
        executor_python_describe (reason, sizeof reason);
        executor_die (EXECUTOR_EXIT_PYTHON, "glue %s(): %s", name, reason);
    }
    Py_DECREF (result);
}

void
executor_python_preload (executor_python_t *python)
{
    s_glue_call (python, "zygote_preload");
}

void
executor_python_prewarm (executor_python_t *python)
{
    s_glue_call (python, "pool_prewarm");
}

void
executor_python_before_fork (void)
{
    PyOS_BeforeFork ();
}

void
executor_python_after_fork (bool in_child)
{
    if (in_child)
        PyOS_AfterFork_Child ();
    else
        PyOS_AfterFork_Parent ();
}

//  What the session's first reply says starts from its config's state_lost
//  (a fresh fork has it at prepare; a pool child at its handover).
static void
s_first_notice (executor_python_t *self, const executor_config_t *config)
{
    free (self->first_notice);
    self->first_notice = config->state_lost? mem_strdup (config->state_lost): NULL;
    self->first_restored = false;
}

void
executor_python_prepare (executor_python_t *python, const executor_config_t *config)
{
    executor_python_t *self = python;
    self->config = config;
    s_first_notice (self, config);
    uint64_t max_frame = config->max_payload? config->max_payload: PROTO_MAX_PAYLOAD;
    if (max_frame > PROTO_MAX_PAYLOAD)
        max_frame = PROTO_MAX_PAYLOAD;
    proto_reader_destroy (&self->reader);
    self->reader = proto_reader_new (2 + PROTO_MAX_FRAME_PAYLOADS,
                                     (size_t) max_frame + S_FRAME_SLACK);
    if (!self->reader)
        executor_die (EXECUTOR_EXIT_SETUP, "proto_reader_new: out of memory");
}

void
executor_python_handover (executor_python_t *python, const executor_config_t *config)
{
    executor_python_t *self = python;
    self->config = config;
    self->replied = false;
    self->in_flight = false;
    s_first_notice (self, config);
    s_glue_call (self, "fresh_session");
    //  A signal the zygote's copy had pending is no request's business.
    executor_drop_stray_interrupt ();
}

//  The layers in force as "namespaces,filesystem,..." and why any other is
//  missing ("" when none is), for `ready`.
static void
s_sandbox_lists (const sandbox_report_t *report,
                 char *applied, size_t applied_size,
                 char *missing, size_t missing_size)
{
    assert (applied_size > 0 && missing_size > 0);
    size_t used = 0;
    applied [0] = 0;
    for (unsigned layer = 1; layer < SANDBOX_L_ALL; layer <<= 1)
        if ((report->applied & layer) && used < applied_size) {
            int n = snprintf (applied + used, applied_size - used, "%s%s",
                              used? ",": "", sandbox_layer_name (layer));
            used += n > 0? (size_t) n: 0;
        }
    snprintf (missing, missing_size, "%s", report->missing? report->why: "");
}

void
executor_python_serve (executor_python_t *python, sandbox_report_t *report)
{
    executor_python_t *self = python;
    const executor_config_t *config = self->config;
    //  Python is up and sealed: the monitor connects to the broker only
    //  now, so no request or interrupt reaches a half-started interpreter.
    //  `ready` carries what the sandbox put in force, for the broker's
    //  stats, logs and sandbox_require.
    char applied [256], missing [sizeof report->why];
    s_sandbox_lists (report, applied, sizeof applied, missing, sizeof missing);
    proto_builder_t *ready = proto_builder_new (PROTO_READY, 0, config->session);
    proto_builder_uint (ready, "pid", (uint64_t) getpid ());
    proto_builder_uint (ready, "version", PROTO_VERSION);
    proto_builder_str (ready, "sandbox", applied);
    proto_builder_str (ready, "sandbox_missing", missing);
    zmsg_t *msg = proto_builder_finish (&ready);
    executor_write_or_die (&msg, "ready");
    s_serve (self);
}
