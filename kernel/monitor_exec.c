/*  monitor_exec — the monitor's executor side (see monitor_internal.h).

    It trusts nothing the executor sends: every message goes through
    proto_decode, and a malformed or unexpected one kills the executor.

    Ordering trap: the executor writes its output to the pipes before it
    writes its reply to the socket, but the poll may report the socket
    first. So on every complete reply the pipes are drained before the
    reply is forwarded, which keeps every event ahead of its reply.
*/
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor_internal.h"
#include "proc_info.h"

#define MONITOR_DRAIN_READS  32           //  reads per pipe before a reply (> 1 MiB max pipe)
#define MONITOR_EXIT_WAIT_MS 500          //  wait for a child that closed its socket
#define MONITOR_JOIN_WAIT_MS 1000         //  a replying executor must have read it all

//  --------------------------------------------------------------------------
//  Executor process

//  Reaps the executor without blocking. Returns true once it is reaped.
static bool
s_executor_reaped (monitor_t *self)
{
    if (self->exec_reaped)
        return true;
    int status;
    if (executor_reap (&self->exec, &status, 0) == 1) {
        self->exec_reaped = true;
        self->exec_status = status;
    }
    return self->exec_reaped;
}

//  SIGKILLs the executor unless it is already reaped, then reaps it.
void
monitor_exec_kill (monitor_t *self)
{
    if (self->exec_reaped || self->exec.pid <= 0)
        return;
    if (s_executor_reaped (self))
        return;
    executor_signal (&self->exec, SIGKILL);
    int status;
    if (executor_reap (&self->exec, &status, -1) == 1)
        self->exec_status = status;
    else {
        zsys_warning ("%s: executor %d: no word of its end from the zygote; "
                      "counting it dead", self->name, (int) self->exec.pid);
        self->exec_status = -1;
    }
    self->exec_reaped = true;
}

//  CPU time the executor has used; 0 when unknown (then no CPU limit
//  applies).
uint64_t
monitor_exec_cpu_ms (monitor_t *self)
{
    return self->exec_reaped? PROC_INFO_UNKNOWN: proc_info_cpu_ms (self->exec.pid);
}

//  --------------------------------------------------------------------------
//  Executor output -> stream events

//  The request's output passed max_output: one `truncated` event (name says
//  which output crossed it), and everything after is dropped.
static void
s_truncate (monitor_t *self, const char *name)
{
    uint64_t limit = self->config->max_output;
    proto_builder_t *event = proto_builder_new (PROTO_EVENT, self->req_id,
                                                self->req_session);
    proto_builder_str (event, "event", "truncated");
    proto_builder_str (event, "name", name);
    proto_builder_uint (event, "limit", limit);
    zmsg_t *msg = proto_builder_finish (&event);
    monitor_send (self, &msg);
    self->truncated = true;
    zsys_info ("%s: request %" PRIu64 " passed %" PRIu64 " bytes of output; "
               "the rest is dropped", self->name, self->req_id, limit);
}

static void
s_output (monitor_t *self, const char *name, const char *data, size_t size)
{
    if (!self->exec_ready) {
        //  Before `ready` only the executor itself writes: a failing start
        //  explains itself here, so it goes to the log.
        zsys_warning ("%s: executor %s: %.*s", self->name, name,
                      (int) (size > 512? 512: size), data);
        return;
    }
    if (!self->busy) {
        monitor_debug (self, "%s: discarded %zu bytes of %s with no request in flight",
                       self->name, size, name);
        return;
    }
    if (self->truncated)
        return;
    size_t room = size;
    uint64_t limit = self->config->max_output;
    if (limit && limit - self->output_bytes < size)
        room = (size_t) (limit - self->output_bytes);
    if (room > 0) {
        zmsg_t *msg = proto_encode_stream (self->req_id, self->req_session,
                                           name, data, room);
        monitor_send (self, &msg);
        self->output_bytes += room;
    }
    if (room < size)
        s_truncate (self, name);
}

//  Reads up to max_reads chunks from one pipe. Closes it on end of file.
void
monitor_exec_read_pipe (monitor_t *self, monitor_pipe_t *pipe, int max_reads)
{
    for (int reads = 0; reads < max_reads && pipe->fd >= 0; ) {
        ssize_t size = read (pipe->fd, self->chunk, MONITOR_CHUNK);
        if (size > 0) {
            s_output (self, pipe->name, self->chunk, (size_t) size);
            reads++;
        }
        else
        if (size == 0) {
            monitor_debug (self, "%s: executor closed its %s", self->name, pipe->name);
            close (pipe->fd);
            pipe->fd = -1;
        }
        else
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        else
        if (errno != EINTR) {
            zsys_warning ("%s: read from the executor's %s: %s; no more of it "
                          "is captured", self->name, pipe->name, strerror (errno));
            close (pipe->fd);
            pipe->fd = -1;
        }
    }
}

//  Sends what the pipes hold now. Bounded, so a thread that prints
//  forever cannot hold a reply back.
void
monitor_exec_drain (monitor_t *self)
{
    for (int i = 0; i < 2; i++)
        monitor_exec_read_pipe (self, &self->pipes [i], MONITOR_DRAIN_READS);
}

//  --------------------------------------------------------------------------
//  Executor death

//  The executor is gone or must go: kills and reaps it, sends its last
//  output, answers the request in flight with KERNEL_DIED and ends the
//  kernel. cause NULL means "from the wait status".
static void
s_executor_dead (monitor_t *self, const char *cause)
{
    if (self->stop)
        return;
    monitor_exec_kill (self);
    char status_text [128];
    if (!cause) {
        proc_info_describe_status (self->exec_status, status_text, sizeof status_text);
        cause = status_text;
    }
    monitor_exec_drain (self);
    if (self->busy) {
        zsys_error ("%s: executor %d died (%s) while running request %" PRIu64,
                    self->name, (int) self->exec.pid, cause, self->req_id);
        char message [512];
        snprintf (message, sizeof message,
                  "the kernel died (%s) while running this request; the "
                  "session's state is lost and the next request starts a "
                  "fresh kernel", cause);
        proto_builder_t *reply = proto_reply_error_begin (
            self->req_id, self->req_session, PROTO_E_KERNEL_DIED, message);
        proto_builder_str (reply, "cause", cause);
        zmsg_t *msg = proto_builder_finish (&reply);
        monitor_send (self, &msg);
        monitor_request_end (self);
    }
    else
    if (!self->exec_ready) {
        zsys_error ("%s: executor %d died (%s) before it was ready; the "
                    "kernel exits", self->name, (int) self->exec.pid, cause);
        self->stop = true;
        self->exit_code = 1;
        return;
    }
    else
        zsys_warning ("%s: executor %d died (%s) while idle; the kernel exits",
                      self->name, (int) self->exec.pid, cause);
    self->stop = true;
    self->exit_code = 0;
}

//  The executor broke the protocol: it is killed, never argued with.
static void
s_executor_violation (monitor_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *reason = zsys_vprintf (format, args);
    va_end (args);
    zsys_error ("%s: executor %d broke the protocol: %s; killing it",
                self->name, (int) self->exec.pid, reason? reason: "?");
    free (reason);
    s_executor_dead (self, "protocol violation by the executor");
}

//  End of stream on the executor's socket. Normally it is exiting: give
//  it a moment so its wait status can name the cause.
static void
s_executor_lost (monitor_t *self)
{
    int status;
    if (!self->exec_reaped
    &&  executor_reap (&self->exec, &status, MONITOR_EXIT_WAIT_MS) == 1) {
        self->exec_reaped = true;
        self->exec_status = status;
    }
    if (self->exec_reaped)
        s_executor_dead (self, NULL);
    else
        s_executor_violation (self, "closed its socket but kept running");
}

//  --------------------------------------------------------------------------
//  Writing requests (the thread is request_writer.c's)

static void
s_writer_failed (monitor_t *self, int error)
{
    if (self->stop)
        return;
    if (error == EPIPE || error == ECONNRESET)
        s_executor_lost (self);
    else {
        char text [128];
        snprintf (text, sizeof text, "request write failed: %s", strerror (error));
        s_executor_dead (self, text);
    }
}

//  Acts on a finished write: joins the thread, reports a failed write.
void
monitor_exec_write_finish (monitor_t *self)
{
    if (request_writer_join (self->writer))
        s_writer_failed (self, errno);
}

//  Joins the writer if its thread is done (or finishes within wait_ms).
//  Returns 0 when no write is in flight any more, -1 if it still is.
static int
s_writer_settle (monitor_t *self, int64_t wait_ms)
{
    if (!request_writer_active (self->writer))
        return 0;
    int64_t give_up = zclock_mono () + wait_ms;
    while (!request_writer_done (self->writer)) {
        if (zclock_mono () >= give_up)
            return -1;
        zclock_sleep (1);
    }
    monitor_exec_write_finish (self);
    return 0;
}

//  Starts writing *msg_p to the executor; takes ownership. Without a
//  thread the write happens here, blocking.
void
monitor_exec_write (monitor_t *self, zmsg_t **msg_p)
{
    //  Replies are forwarded only after the writer is joined, and the
    //  broker sends a request only after the last reply.
    assert (!request_writer_active (self->writer));
    if (request_writer_start (self->writer, self->exec.sock,
                              signal_pipe_wake_fd (self->signals), msg_p) == 0)
        return;
    zsys_warning ("%s: pthread_create for the request writer: %s; writing "
                  "inline", self->name, strerror (errno));
    if (proto_stream_write (self->exec.sock, msg_p))
        s_writer_failed (self, errno);
}

//  --------------------------------------------------------------------------
//  Executor replies

//  The monitor's timeout interrupted the request and the executor answered
//  INTERRUPTED: the client sees TIMEOUT, namespace kept.
static zmsg_t *
s_timeout_reply (monitor_t *self, proto_msg_t *interrupted)
{
    char message [256];
    if (self->cpu_limited)
        snprintf (message, sizeof message,
                  "the request used its %g s of CPU time and was interrupted; the "
                  "namespace is kept (retry with less work or raise request_cpu_s)",
                  (double) self->config->request_cpu_ms / 1000.0);
    else
        snprintf (message, sizeof message,
                  "the request hit its %g s limit and was interrupted; the "
                  "namespace is kept (retry with less work or a larger timeout_ms)",
                  (double) self->req_limit_ms / 1000.0);
    proto_builder_t *reply = proto_reply_error_begin (
        self->req_id, self->req_session, PROTO_E_TIMEOUT, message);
    proto_builder_bool (reply, "killed", false);
    if (proto_msg_has (interrupted, "execution_count"))
        proto_builder_uint (reply, "execution_count",
                            proto_msg_uint (interrupted, "execution_count", 0));
    if (proto_msg_has (interrupted, "duration_ms"))
        proto_builder_uint (reply, "duration_ms",
                            proto_msg_uint (interrupted, "duration_ms", 0));
    if (proto_msg_has (interrupted, "state_lost"))
        proto_builder_bool (reply, "state_lost",
                            proto_msg_bool (interrupted, "state_lost", false));
    const char *notice = proto_msg_str (interrupted, "notice");
    if (notice)
        proto_builder_str (reply, "notice", notice);
    return proto_builder_finish (&reply);
}

//  A partial event of the request in flight (display data), forwarded the
//  moment it is complete.
static void
s_executor_event (monitor_t *self, proto_msg_t **event_p)
{
    uint64_t id = proto_msg_id (*event_p);
    const char *session = proto_msg_session (*event_p);
    if (!self->busy)
        s_executor_violation (self, "sent an event (id %" PRIu64 ") with no "
                              "request in flight", id);
    else
    if (id != self->req_id)
        s_executor_violation (self, "sent an event for id %" PRIu64 " while id %"
                              PRIu64 " was in flight", id, self->req_id);
    else
    if (*session && strneq (session, self->req_session))
        s_executor_violation (self, "sent an event for session '%s' instead of '%s'",
                              session, self->req_session);
    else {
        //  Not draining the pipes first: the executor waited until they were
        //  read empty before writing the event, and output after it belongs
        //  after it (protocol.md 4.4). Display payloads count towards the
        //  output limit like stream bytes.
        uint64_t size = 0;
        for (size_t i = 0; i < proto_msg_payload_count (*event_p); i++)
            size += zframe_size (proto_msg_payload (*event_p, i));
        uint64_t limit = self->config->max_output;
        if (self->truncated)
            return;
        if (limit && limit - self->output_bytes < size) {
            s_truncate (self, "display");
            return;
        }
        self->output_bytes += size;
        zmsg_t *msg = proto_msg_release (event_p);
        monitor_send (self, &msg);
    }
}

static void
s_executor_message (monitor_t *self, zmsg_t *raw)
{
    proto_fault_t fault;
    proto_msg_t *reply = proto_decode (&raw, &fault);
    if (!reply) {
        s_executor_violation (self, "malformed message (%s)", fault.text);
        return;
    }
    proto_type_t type = proto_msg_type (reply);
    uint64_t id = proto_msg_id (reply);
    const char *session = proto_msg_session (reply);
    if (!self->exec_ready) {
        if (type == PROTO_READY) {
            self->exec_ready = true;
            monitor_connect (self, reply);
        }
        else
            s_executor_violation (self, "sent a %s message before `ready`",
                                  proto_type_name (type));
        proto_msg_destroy (&reply);
        return;
    }
    if (type == PROTO_EVENT)
        s_executor_event (self, &reply);
    else
    if (type != PROTO_REPLY)
        s_executor_violation (self, "sent a %s message, not a reply",
                              proto_type_name (type));
    else
    if (!self->busy)
        s_executor_violation (self, "sent a reply (id %" PRIu64 ") with no "
                              "request in flight", id);
    else
    if (id != self->req_id)
        s_executor_violation (self, "replied to id %" PRIu64 " while id %"
                              PRIu64 " was in flight", id, self->req_id);
    else
    if (*session && strneq (session, self->req_session))
        s_executor_violation (self, "replied for session '%s' instead of '%s'",
                              session, self->req_session);
    else
    if (s_writer_settle (self, MONITOR_JOIN_WAIT_MS))
        s_executor_violation (self, "replied before reading the whole request");
    else
    if (!self->stop) {
        //  Every event of the request goes out before its reply.
        monitor_exec_drain (self);
        zmsg_t *msg;
        if (self->timed_out && proto_msg_error (reply) == PROTO_E_INTERRUPTED) {
            zsys_info ("%s: request %" PRIu64 " stopped on its %" PRIu64 " ms "
                       "timeout; namespace kept", self->name, id, self->req_limit_ms);
            msg = s_timeout_reply (self, reply);
            proto_msg_destroy (&reply);
        }
        else {
            monitor_debug (self, "%s: request %" PRIu64 " answered", self->name, id);
            msg = proto_msg_release (&reply);
        }
        monitor_send (self, &msg);
        monitor_request_end (self);
    }
    proto_msg_destroy (&reply);
}

void
monitor_exec_input (monitor_t *self)
{
    while (!self->stop && self->exec.sock >= 0) {
        int rc = proto_reader_read (self->reader, self->exec.sock);
        if (rc == 0)
            break;
        if (rc == 1) {
            zmsg_t *msg = proto_reader_take (self->reader);
            if (msg)
                s_executor_message (self, msg);
        }
        else
        if (errno == EPIPE || errno == ECONNRESET)
            s_executor_lost (self);     //  reset: it died with input unread
        else
        if (errno == EMSGSIZE)
            s_executor_violation (self, "sent a message over the size limits");
        else
        if (errno == EPROTO)
            s_executor_violation (self, "sent a malformed frame count");
        else {
            char text [128];
            snprintf (text, sizeof text, "read from its socket failed: %s",
                      strerror (errno));
            s_executor_dead (self, text);
        }
    }
}

//  Checks for the executor's exit (SIGCHLD woke us, or a pipe closed).
void
monitor_exec_check (monitor_t *self)
{
    if (self->stop || !s_executor_reaped (self))
        return;
    //  A reply written just before dying still counts.
    monitor_exec_input (self);
    s_executor_dead (self, NULL);
}
