/*  monitor_exec — the monitor's executor side (see monitor_internal.h).

    It trusts nothing the executor sends: every message goes through
    proto_decode, and a malformed or unexpected one kills the executor.

    Order (protocol.md 4.4): output travels on the pipes, messages on the
    socket. The executor flushes its output before each event and reply;
    on reading an event or a reply the monitor reads the pipes (bounded)
    before it forwards the message, so every byte written before it goes
    first; after an event the executor waits for the monitor's `ack`
    before the code goes on, so no byte written after it can be read
    before it. No sleeping, no guessing at what the pipes hold.

    The end of an executor is a small state machine that never blocks:
    it is noticed (a reaped child, the zygote's `exited`, a readable
    pidfd, end of stream on the socket) or caused (SIGKILL), then the
    wait status is awaited until a deadline, then the request in flight
    is answered and the kernel ends.
*/
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor_internal.h"
#include "mem.h"
#include "proc_info.h"

#define MONITOR_DRAIN_READS  32           //  reads per pipe before a message (> 1 MiB max pipe)
#define MONITOR_EXIT_WAIT_MS 500          //  for a child that closed its socket to exit
#define MONITOR_STATUS_WAIT_MS 1000       //  for the wait status of a killed or ended executor
#define MONITOR_ABANDON_WAIT_MS 1000      //  for a child of ours killed at exit

//  --------------------------------------------------------------------------
//  Output -> stream events

//  The request's output passed max_output: one `truncated` event (name says
//  which output crossed it); everything after it is dropped.
static void
s_truncated (monitor_t *self, const char *name)
{
    proto_builder_t *event = proto_builder_new (PROTO_EVENT, self->req.id,
                                                self->req.session);
    proto_builder_str (event, "event", "truncated");
    proto_builder_str (event, "name", name);
    proto_builder_uint (event, "limit", self->limits.max_output);
    zmsg_t *msg = proto_builder_finish (&event);
    monitor_send (self, &msg);
    zsys_info ("%s: request %" PRIu64 " passed %" PRIu64 " bytes of output; "
               "the rest is dropped", self->name, self->req.id, self->limits.max_output);
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
    if (!self->req.busy || self->req.id == MONITOR_OWN_ID) {
        //  Output of a snapshot or restore (a value's __reduce__ may print)
        //  belongs to no client
        monitor_debug (self, "%s: discarded %zu bytes of %s with no client request "
                       "in flight", self->name, size, name);
        return;
    }
    bool truncate_now;
    size_t room = monitor_request_output (&self->req, size, &self->limits, &truncate_now);
    if (room > 0) {
        zmsg_t *msg = proto_encode_stream (self->req.id, self->req.session,
                                           name, data, room);
        monitor_send (self, &msg);
    }
    if (truncate_now)
        s_truncated (self, name);
}

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
//  forever cannot hold a message back.
static void
s_drain (monitor_t *self)
{
    for (int i = 0; i < 2; i++)
        monitor_exec_read_pipe (self, &self->pipes [i], MONITOR_DRAIN_READS);
}

//  --------------------------------------------------------------------------
//  The executor's end

//  Reaps without blocking; true once the executor's end is known.
static bool
s_reaped (monitor_t *self)
{
    if (!self->exec_reaped && self->exec.pid > 0) {
        int status;
        if (executor_reap (&self->exec, &status) == 1) {
            self->exec_reaped = true;
            self->exec_status = status;
        }
    }
    return self->exec_reaped;
}

//  Starts the end: records how to answer, and waits for the wait status
//  until wait_ms from now (the first deadline set stays).
static void
s_dying (monitor_t *self, monitor_end_t end, const char *cause, int64_t wait_ms)
{
    if (self->dying)
        return;
    self->dying = true;
    self->end = end;
    snprintf (self->death_cause, sizeof self->death_cause, "%s", cause? cause: "");
    self->reap_deadline = zclock_mono () + wait_ms;
}

static void
s_sigkill (monitor_t *self)
{
    if (self->kill_sent || s_reaped (self))
        return;
    if (executor_signal (&self->exec, SIGKILL) && errno != ESRCH)
        zsys_warning ("%s: SIGKILL to executor %d: %s", self->name,
                      (int) self->exec.pid, strerror (errno));
    self->kill_sent = true;
}

void
monitor_exec_kill (monitor_t *self, monitor_end_t end, const char *cause)
{
    s_dying (self, end, cause, MONITOR_STATUS_WAIT_MS);
    s_sigkill (self);
}

void
monitor_exec_abandon (monitor_t *self)
{
    if (self->exec.pid <= 0 || s_reaped (self))
        return;
    s_sigkill (self);
    if (self->exec.super_fd >= 0)
        return;             //  the zygote reaps it (and kills it when we go)
    //  Our own child: SIGKILL takes effect at once; reap it so no zombie
    //  outlives the kernel. Bounded: a process in uninterruptible sleep
    //  is left to init.
    int64_t give_up = zclock_mono () + MONITOR_ABANDON_WAIT_MS;
    while (!s_reaped (self) && zclock_mono () < give_up)
        zclock_sleep (1);
}

//  The end is complete (status known, or its wait gave up): the last
//  output goes out, the request in flight is answered, the kernel ends.
static void
s_dead (monitor_t *self)
{
    char status_text [128];
    const char *cause = self->death_cause;
    if (!*cause && monitor_cgroup_cause (self, self->death_cause, sizeof self->death_cause))
        zsys_warning ("%s: executor %d: %s", self->name, (int) self->exec.pid, cause);
    if (!*cause) {
        proc_info_describe_status (self->exec_status, status_text, sizeof status_text);
        cause = status_text;
    }
    s_drain (self);
    self->stop = true;
    self->exit_code = 0;
    if (self->req.busy && self->req.id == MONITOR_OWN_ID) {
        monitor_own_lost (self, cause);
        if (!self->dealer)
            self->exit_code = 1;    //  died restoring: the broker never heard of us
    }
    else
    if (self->req.busy && self->end == MONITOR_END_TIMEOUT_KILLED) {
        char message [384];
        snprintf (message, sizeof message,
                  "the request hit its %g s %s limit, ignored the interrupt and was "
                  "killed; the session's state is lost and the next request "
                  "starts a fresh kernel",
                  (double) (self->req.cpu_limited? self->limits.cpu_ms
                                                 : self->req.limit_ms) / 1000.0,
                  self->req.cpu_limited? "CPU time": "wall-time");
        proto_builder_t *reply = proto_reply_error_begin (
            self->req.id, self->req.session, PROTO_E_TIMEOUT, message);
        proto_builder_bool (reply, "killed", true);
        proto_builder_bool (reply, "state_lost", true);
        zmsg_t *msg = proto_builder_finish (&reply);
        monitor_reply (self, self->req.id, &msg);
        monitor_request_end (&self->req);
    }
    else
    if (self->req.busy) {
        zsys_error ("%s: executor %d died (%s) while running request %" PRIu64,
                    self->name, (int) self->exec.pid, cause, self->req.id);
        char message [512];
        snprintf (message, sizeof message,
                  "the kernel died (%s) while running this request; the "
                  "session's state is lost and the next request starts a "
                  "fresh kernel", cause);
        proto_builder_t *reply = proto_reply_error_begin (
            self->req.id, self->req.session, PROTO_E_KERNEL_DIED, message);
        proto_builder_str (reply, "cause", cause);
        zmsg_t *msg = proto_builder_finish (&reply);
        monitor_reply (self, self->req.id, &msg);
        monitor_request_end (&self->req);
    }
    else
    if (!self->exec_ready) {
        zsys_error ("%s: executor %d died (%s) before it was ready; the "
                    "kernel exits", self->name, (int) self->exec.pid, cause);
        self->exit_code = 1;
    }
    else
        zsys_warning ("%s: executor %d died (%s) while idle; the kernel exits",
                      self->name, (int) self->exec.pid, cause);
}

void
monitor_exec_check (monitor_t *self, int64_t now)
{
    if (self->stop)
        return;
    if (s_reaped (self)) {
        //  A reply written just before an unprovoked death still counts.
        if (!self->kill_sent)
            monitor_exec_input (self);
        if (!self->stop) {
            s_dying (self, MONITOR_END_DIED, NULL, 0);
            s_dead (self);
        }
        return;
    }
    if (!self->dying && executor_has_ended (&self->exec))
        //  Gone, but the zygote's `exited` has not come: wait for it a little
        s_dying (self, MONITOR_END_DIED, NULL, MONITOR_STATUS_WAIT_MS);
    if (!self->dying || now < self->reap_deadline)
        return;
    if (!self->kill_sent && !executor_has_ended (&self->exec)) {
        //  It closed its socket but runs on: a violation; kill, wait again.
        zsys_error ("%s: executor %d closed its socket but kept running; "
                    "killing it", self->name, (int) self->exec.pid);
        snprintf (self->death_cause, sizeof self->death_cause,
                  "protocol violation by the executor");
        s_sigkill (self);
        self->reap_deadline = now + MONITOR_STATUS_WAIT_MS;
        return;
    }
    zsys_warning ("%s: executor %d ended but its wait status never came (%s); "
                  "counting it dead", self->name, (int) self->exec.pid,
                  self->exec.super_fd >= 0? "the zygote did not say": "not reaped");
    self->exec_reaped = true;
    self->exec_status = -1;
    s_dead (self);
}

int64_t
monitor_exec_next_timer (monitor_t *self)
{
    return self->dying && !self->stop? self->reap_deadline: INT64_MAX;
}

//  The executor broke the protocol: it is killed, never argued with.
static void
s_violation (monitor_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *reason = mem_vsprintf (format, args);
    va_end (args);
    zsys_error ("%s: executor %d broke the protocol: %s; killing it",
                self->name, (int) self->exec.pid, reason? reason: "?");
    free (reason);
    monitor_exec_kill (self, MONITOR_END_DIED, "protocol violation by the executor");
}

//  End of stream or a failed write: normally it is exiting; its wait
//  status will name the cause.
static void
s_lost (monitor_t *self, int error)
{
    if (error == EPIPE || error == ECONNRESET)
        s_dying (self, MONITOR_END_DIED, NULL, MONITOR_EXIT_WAIT_MS);
    else {
        char text [128];
        snprintf (text, sizeof text, "its socket failed: %s", strerror (error));
        monitor_exec_kill (self, MONITOR_END_DIED, text);
    }
}

//  --------------------------------------------------------------------------
//  Writing to the executor

bool
monitor_exec_writing (monitor_t *self)
{
    return proto_writer_pending (self->to_exec);
}

void
monitor_exec_flush (monitor_t *self)
{
    if (self->dying || self->exec.sock < 0)
        return;
    if (proto_writer_flush (self->to_exec, self->exec.sock) == -1)
        s_lost (self, errno);
}

void
monitor_exec_write (monitor_t *self, zmsg_t **msg_p)
{
    self->part_last = false;
    if (proto_writer_push (self->to_exec, msg_p)) {
        char text [128];
        snprintf (text, sizeof text, "a message for it could not be queued: %s",
                  strerror (errno));
        monitor_exec_kill (self, MONITOR_END_DIED, text);
        return;
    }
    monitor_exec_flush (self);
}

static void
s_write_part (monitor_t *self, zmsg_t **part_p)
{
    monitor_exec_write (self, part_p);
    self->part_last = true;
}

void
monitor_exec_part (monitor_t *self, proto_msg_t **part_p)
{
    zmsg_t *due = monitor_request_part_came (&self->req, part_p);
    if (due && !self->dying)
        s_write_part (self, &due);
    zmsg_destroy (&due);
}

//  The executor asks for the next piece of the upload in flight.
static void
s_on_next_part (monitor_t *self, proto_msg_t *ask)
{
    uint64_t part = proto_msg_uint (ask, "part", 0);
    bool valid;
    zmsg_t *piece = monitor_request_part_wanted (&self->req, part, zclock_mono (), &valid);
    if (!valid)
        s_violation (self, "asked for piece %" PRIu64 " of an upload that has no "
                     "such piece due", part);
    else
    if (piece)
        s_write_part (self, &piece);
}

//  --------------------------------------------------------------------------
//  Events and replies

//  The monitor's timeout interrupted the request and the executor answered
//  INTERRUPTED: the client sees TIMEOUT, namespace kept.
static zmsg_t *
s_timeout_reply (monitor_t *self, proto_msg_t *interrupted)
{
    char message [256];
    if (self->req.cpu_limited)
        snprintf (message, sizeof message,
                  "the request used its %g s of CPU time and was interrupted; the "
                  "namespace is kept (retry with less work or raise request_cpu_s)",
                  (double) self->limits.cpu_ms / 1000.0);
    else
        snprintf (message, sizeof message,
                  "the request hit its %g s limit and was interrupted; the "
                  "namespace is kept (retry with less work or a larger timeout_ms)",
                  (double) self->req.limit_ms / 1000.0);
    proto_builder_t *reply = proto_reply_error_begin (
        self->req.id, self->req.session, PROTO_E_TIMEOUT, message);
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

//  A piece of a download in parts (protocol.md 5, download): not output,
//  so not under max_output, but only a download whose client asked for
//  parts gets them, and at most max_payload bytes in all, as its
//  one-message reply would hold.
static void
s_on_part (monitor_t *self, proto_msg_t **event_p)
{
    uint64_t max = self->config->max_payload? self->config->max_payload
                                            : PROTO_MAX_PAYLOAD;
    uint64_t size = zframe_size (proto_msg_payload (*event_p, 0));
    if (!self->req.in_parts) {
        s_violation (self, "sent a part event for a %s request; only a download "
                     "asked for in_parts comes in parts", proto_type_name (self->req.type));
        return;
    }
    if (size > max - self->req.part_bytes) {
        s_violation (self, "sent more than max_payload (%" PRIu64 " bytes) in the "
                     "part events of one download", max);
        return;
    }
    self->req.part_bytes += size;
    zmsg_t *msg = proto_msg_release (event_p);
    monitor_send (self, &msg);
    zmsg_t *ack = proto_encode_simple (PROTO_ACK, self->req.id, NULL);
    monitor_exec_write (self, &ack);
}

//  An event of the request in flight (display, or input): the output
//  written before it goes first, then the event (a display within the
//  output limit), then the `ack` that lets the code go on.
static void
s_on_event (monitor_t *self, proto_msg_t **event_p)
{
    s_drain (self);
    const char *kind = proto_msg_str (*event_p, "event");
    if (self->req.id == MONITOR_OWN_ID) {
        zmsg_t *ack = proto_encode_simple (PROTO_ACK, self->req.id, NULL);
        monitor_exec_write (self, &ack);
        return;
    }
    if (kind && streq (kind, "input")) {
        //  The request's own code going back: not output, never truncated
        zmsg_t *msg = proto_msg_release (event_p);
        monitor_send (self, &msg);
        zmsg_t *ack = proto_encode_simple (PROTO_ACK, self->req.id, NULL);
        monitor_exec_write (self, &ack);
        return;
    }
    if (kind && streq (kind, "part")) {
        s_on_part (self, event_p);
        return;
    }
    uint64_t size = 0;
    for (size_t i = 0; i < proto_msg_payload_count (*event_p); i++)
        size += zframe_size (proto_msg_payload (*event_p, i));
    bool was_truncated = self->req.truncated;
    bool truncate_now;
    size_t room = monitor_request_output (&self->req, size, &self->limits, &truncate_now);
    if (!was_truncated && room == size) {
        zmsg_t *msg = proto_msg_release (event_p);
        monitor_send (self, &msg);
    }
    if (truncate_now)
        s_truncated (self, "display");
    zmsg_t *ack = proto_encode_simple (PROTO_ACK, self->req.id, NULL);
    monitor_exec_write (self, &ack);
}

static void
s_on_reply (monitor_t *self, proto_msg_t **reply_p)
{
    //  Every event of the request goes out before its reply.
    s_drain (self);
    if (self->req.id == MONITOR_OWN_ID) {
        monitor_own_reply (self, *reply_p);
        return;
    }
    if (proto_msg_uint (*reply_p, "parts", 0) && !self->req.in_parts) {
        s_violation (self, "answered in parts a %s request that did not ask for them",
                     proto_type_name (self->req.type));
        return;
    }
    zmsg_t *msg;
    if (self->req.part_late && proto_msg_error (*reply_p) == PROTO_E_INTERRUPTED) {
        char message [256];
        snprintf (message, sizeof message, "the upload's piece %" PRIu64 " did not come "
                  "within %g s, and the upload was dropped; send every piece its "
                  "parts announces, or retry", self->req.part_wanted,
                  (double) self->limits.part_wait_ms / 1000.0);
        msg = proto_encode_error (self->req.id, self->req.session, PROTO_E_BAD_REQUEST,
                                  message);
    }
    else
    if (self->req.timed_out && proto_msg_error (*reply_p) == PROTO_E_INTERRUPTED) {
        zsys_info ("%s: request %" PRIu64 " stopped on its %" PRIu64 " ms "
                   "timeout; namespace kept", self->name, self->req.id,
                   self->req.limit_ms);
        msg = s_timeout_reply (self, *reply_p);
    }
    else {
        monitor_debug (self, "%s: request %" PRIu64 " answered", self->name,
                       self->req.id);
        msg = proto_msg_release (reply_p);
    }
    monitor_reply (self, self->req.id, &msg);
    monitor_request_end (&self->req);
}

static void
s_executor_message (monitor_t *self, zmsg_t *raw)
{
    proto_fault_t fault;
    proto_msg_t *msg = proto_decode (&raw, &fault);
    if (!msg) {
        s_violation (self, "malformed message (%s)", fault.text);
        return;
    }
    proto_type_t type = proto_msg_type (msg);
    uint64_t id = proto_msg_id (msg);
    const char *session = proto_msg_session (msg);
    if (!self->exec_ready) {
        if (type == PROTO_READY) {
            self->exec_ready = true;
            monitor_connect (self, msg);
        }
        else
            s_violation (self, "sent a %s message before `ready`",
                         proto_type_name (type));
    }
    else
    if (type != PROTO_EVENT && type != PROTO_REPLY && type != PROTO_NEXT_PART)
        s_violation (self, "sent a %s message, not an event, a reply or next_part",
                     proto_type_name (type));
    else
    if (!monitor_request_matches (&self->req, id, session))
        s_violation (self, "sent a%s %s (id %" PRIu64 ", session '%s') that is "
                     "not for the request in flight (%s)",
                     type == PROTO_EVENT? "n": "", proto_type_name (type), id, session,
                     self->req.busy? self->req.session: "none");
    else
    if (monitor_exec_writing (self) && !(type == PROTO_REPLY && self->part_last))
        //  It has not read all we sent (the request, the last ack, or a
        //  piece: a reply alone may leave the piece it asked for last
        //  unread, when the upload failed or was interrupted meanwhile;
        //  it skips it before the next request)
        s_violation (self, "sent a%s %s before reading all that was sent to it",
                     type == PROTO_EVENT? "n": "", proto_type_name (type));
    else
    if (type == PROTO_NEXT_PART)
        s_on_next_part (self, msg);
    else
    if (type == PROTO_EVENT)
        s_on_event (self, &msg);
    else
        s_on_reply (self, &msg);
    proto_msg_destroy (&msg);
}

void
monitor_exec_input (monitor_t *self)
{
    while (!self->stop && !self->dying && self->exec.sock >= 0) {
        int rc = proto_reader_read (self->from_exec, self->exec.sock);
        if (rc == 0)
            break;
        if (rc == 1) {
            zmsg_t *msg = proto_reader_take (self->from_exec);
            if (msg)
                s_executor_message (self, msg);
        }
        else
        if (errno == EPIPE || errno == ECONNRESET)
            s_lost (self, errno);       //  it ended, or died with input unread
        else
        if (errno == EMSGSIZE)
            s_violation (self, "sent a message over the size limits");
        else
        if (errno == EPROTO)
            s_violation (self, "sent a malformed frame count");
        else
            s_lost (self, errno);
    }
}
