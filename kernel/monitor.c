/*  monitor — the trusted half of kmq-kernel (see monitor.h).

    One loop polls four things: the DEALER to the broker, the executor's
    request socket, its stdout and stderr pipes, plus a self-pipe that the
    signal handlers write to so a signal always wakes the poll. Its
    timeout is the next timer (heartbeat, broker expiry, request deadline,
    kill grace), so heartbeats go out whatever the executor is doing.

    Ordering trap: the executor writes its output to the pipes before it
    writes its reply to the socket, but the poll may report the socket
    first. So on every complete reply the pipes are drained before the
    reply is forwarded, which keeps every event ahead of its reply.
*/
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor.h"
#include "proto.h"
#include "proto_stream.h"

#define MONITOR_CHUNK        (64 * 1024)  //  bytes per pipe read = per stream event
#define MONITOR_READS        16           //  pipe reads per wakeup, so timers stay on time
#define MONITOR_DRAIN_READS  32           //  reads per pipe before a reply (> 1 MiB max pipe)
#define MONITOR_BURST        256          //  broker messages per wakeup
#define MONITOR_FRAME_SLACK  (1u << 20)   //  allowance over max_payload per frame
#define MONITOR_EXIT_WAIT_MS 500          //  wait for a child that closed its socket
#define MONITOR_JOIN_WAIT_MS 1000         //  a replying executor must have read it all
#define MONITOR_START_POLL_MS 1000        //  poll period while the executor starts
#define MONITOR_CPU_CHECK_MS 200          //  how often a busy executor's CPU time is read

//  The only global state: the signal flag and the self-pipe that makes a
//  signal wake zmq_poll without a race.
static volatile sig_atomic_t s_stop_signal = 0;
static int s_wake_fd = -1;

#define s_debug(self, ...) \
    do { if ((self)->config->verbose) zsys_debug (__VA_ARGS__); } while (0)

typedef struct {
    int fd;                         //  -1 once closed
    const char *name;               //  "stdout" or "stderr"
} s_pipe_t;

//  Writes one request to the executor on its own thread: proto_stream_write
//  blocks while the executor is not reading (still starting, or a large
//  upload), and the poll loop must keep heartbeating meanwhile.
typedef struct {
    pthread_t thread;
    bool active;                    //  started and not joined yet
    atomic_bool done;               //  set by the thread when it returns
    int fd;
    int wake_fd;                    //  written when done, to wake the poll
    zmsg_t *msg;
    int rc;
    int error;
} s_writer_t;

struct _monitor_t {
    const monitor_config_t *config;
    const char *name;               //  log prefix
    executor_handle_t exec;
    bool exec_reaped;               //  waitpid done: pid must not be signalled
    bool exec_ready;                //  its `ready` arrived: Python is up
    int exec_status;                //  its wait status once reaped
    s_pipe_t pipes [2];             //  executor's stdout, stderr
    s_writer_t writer;              //  request being written to the executor
    proto_reader_t *reader;         //  replies from the executor
    zsock_t *dealer;                //  to the broker
    int wake_pipe [2];              //  signal self-pipe
    struct sigaction old_term, old_int, old_chld, old_pipe;
    bool handlers_set;
    char *chunk;                    //  MONITOR_CHUNK read buffer

    //  The request in flight
    bool busy;
    uint64_t req_id;
    char *req_session;
    proto_type_t req_type;
    uint64_t req_limit_ms;          //  its effective timeout; 0 = none
    int64_t deadline;               //  when to SIGINT it; 0 = never
    int64_t grace_deadline;         //  when to SIGKILL it; 0 = not timing out
    bool timed_out;                 //  the monitor sent the SIGINT
    bool cpu_limited;               //  ... because of request_cpu_ms
    uint64_t cpu_at_start_ms;       //  executor CPU time when it began
    int64_t next_cpu_check;
    uint64_t output_bytes;          //  stdout + stderr bytes sent for it
    bool truncated;                 //  the truncated event went out

    //  Liveness
    int64_t next_heartbeat;
    int64_t broker_expiry;
    bool stop;
    int exit_code;
};

static void
s_signal_handler (int signum)
{
    int saved_errno = errno;
    if (signum == SIGTERM || signum == SIGINT)
        s_stop_signal = signum;
    if (s_wake_fd >= 0) {
        char byte = (char) signum;
        ssize_t rc = write (s_wake_fd, &byte, 1);
        (void) rc;                  //  a full pipe already wakes the poll
    }
    errno = saved_errno;
}

static int
s_set_handlers (monitor_t *self)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_signal_handler;
    sigemptyset (&action.sa_mask);
    action.sa_flags = SA_NOCLDSTOP;
    if (sigaction (SIGTERM, &action, &self->old_term)
    ||  sigaction (SIGINT, &action, &self->old_int)
    ||  sigaction (SIGCHLD, &action, &self->old_chld))
        return -1;
    //  A write to a dead executor must fail with EPIPE, not kill us.
    struct sigaction ignore;
    memset (&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset (&ignore.sa_mask);
    if (sigaction (SIGPIPE, &ignore, &self->old_pipe))
        return -1;
    self->handlers_set = true;
    return 0;
}

static void
s_restore_handlers (monitor_t *self)
{
    if (!self->handlers_set)
        return;
    sigaction (SIGTERM, &self->old_term, NULL);
    sigaction (SIGINT, &self->old_int, NULL);
    sigaction (SIGCHLD, &self->old_chld, NULL);
    sigaction (SIGPIPE, &self->old_pipe, NULL);
    self->handlers_set = false;
}

//  --------------------------------------------------------------------------
//  Lifecycle

monitor_t *
monitor_new (const monitor_config_t *config, const executor_handle_t *executor)
{
    assert (config);
    assert (executor);
    monitor_t *self = (monitor_t *) zmalloc (sizeof (monitor_t));
    assert (self);
    self->config = config;
    self->name = config->name;
    self->exec = *executor;
    self->pipes [0] = (s_pipe_t) { executor->out_fd, "stdout" };
    self->pipes [1] = (s_pipe_t) { executor->err_fd, "stderr" };
    self->wake_pipe [0] = self->wake_pipe [1] = -1;

    if (pipe2 (self->wake_pipe, O_NONBLOCK | O_CLOEXEC)) {
        zsys_error ("%s: pipe2 for the signal pipe: %s", self->name, strerror (errno));
        goto fail;
    }
    s_wake_fd = self->wake_pipe [1];
    if (s_set_handlers (self)) {
        zsys_error ("%s: sigaction: %s", self->name, strerror (errno));
        goto fail;
    }
    uint64_t max_frame = config->max_payload? config->max_payload: PROTO_MAX_PAYLOAD;
    if (max_frame > PROTO_MAX_PAYLOAD)
        max_frame = PROTO_MAX_PAYLOAD;
    self->reader = proto_reader_new (2 + PROTO_MAX_PAYLOADS,
                                     (size_t) max_frame + MONITOR_FRAME_SLACK);
    self->chunk = (char *) malloc (MONITOR_CHUNK);
    if (!self->reader || !self->chunk) {
        zsys_error ("%s: out of memory for the executor reader", self->name);
        goto fail;
    }
    return self;

fail:
    monitor_destroy (&self);
    return NULL;
}

//  Reaps the executor without blocking. Returns true once it is reaped.
static bool
s_executor_reaped (monitor_t *self)
{
    if (self->exec_reaped)
        return true;
    int status;
    pid_t rc = waitpid (self->exec.pid, &status, WNOHANG);
    if (rc == self->exec.pid) {
        self->exec_reaped = true;
        self->exec_status = status;
    }
    else
    if (rc == -1 && errno == ECHILD) {
        //  Someone else reaped it; we cannot say how it ended.
        self->exec_reaped = true;
        self->exec_status = -1;
    }
    return self->exec_reaped;
}

//  SIGKILLs the executor unless it is already reaped, then reaps it.
static void
s_executor_kill (monitor_t *self)
{
    if (self->exec_reaped || self->exec.pid <= 0)
        return;
    if (s_executor_reaped (self))
        return;
    kill (self->exec.pid, SIGKILL);
    int status;
    pid_t rc;
    do
        rc = waitpid (self->exec.pid, &status, 0);
    while (rc == -1 && errno == EINTR);
    self->exec_reaped = true;
    self->exec_status = rc == self->exec.pid? status: -1;
}

void
monitor_destroy (monitor_t **self_p)
{
    assert (self_p);
    monitor_t *self = *self_p;
    if (!self)
        return;
    s_executor_kill (self);
    if (self->writer.active) {
        //  The executor is dead; shutdown also frees a writer whose peer
        //  end is somehow still open.
        shutdown (self->exec.sock, SHUT_RDWR);
        pthread_join (self->writer.thread, NULL);
        zmsg_destroy (&self->writer.msg);
    }
    if (self->exec.sock >= 0)
        close (self->exec.sock);
    for (int i = 0; i < 2; i++)
        if (self->pipes [i].fd >= 0)
            close (self->pipes [i].fd);
    zsock_destroy (&self->dealer);
    proto_reader_destroy (&self->reader);
    s_restore_handlers (self);
    s_wake_fd = -1;
    for (int i = 0; i < 2; i++)
        if (self->wake_pipe [i] >= 0)
            close (self->wake_pipe [i]);
    free (self->chunk);
    free (self->req_session);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Sending to the broker

//  Sends and destroys *msg_p. A send that times out (broker gone and the
//  DEALER full) drops the message: the liveness timer ends the kernel.
static void
s_send (monitor_t *self, zmsg_t **msg_p)
{
    if (!self->dealer) {
        zmsg_destroy (msg_p);       //  not connected yet: nobody to tell
        return;
    }
    if (zmsg_send (msg_p, self->dealer)) {
        zsys_warning ("%s: send to the broker failed: %s; message dropped",
                      self->name, zmq_strerror (zmq_errno ()));
        zmsg_destroy (msg_p);
    }
}

static void
s_request_end (monitor_t *self)
{
    self->busy = false;
    self->timed_out = false;
    self->deadline = 0;
    self->grace_deadline = 0;
    zstr_free (&self->req_session);
}

//  Describes a wait status: "signal 9 (Killed)", "exit status 3".
static void
s_describe_status (int status, char *buf, size_t size)
{
    if (status == -1)
        snprintf (buf, size, "unknown (reaped elsewhere)");
    else
    if (WIFSIGNALED (status))
        snprintf (buf, size, "signal %d (%s)", WTERMSIG (status),
                  strsignal (WTERMSIG (status)));
    else
    if (WIFEXITED (status))
        snprintf (buf, size, "exit status %d", WEXITSTATUS (status));
    else
        snprintf (buf, size, "wait status 0x%x", (unsigned) status);
}

//  --------------------------------------------------------------------------
//  Executor output -> stream events

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
        s_debug (self, "%s: discarded %zu bytes of %s with no request in flight",
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
        s_send (self, &msg);
        self->output_bytes += room;
    }
    if (room < size) {
        proto_builder_t *event = proto_builder_new (PROTO_EVENT, self->req_id,
                                                    self->req_session);
        proto_builder_str (event, "event", "truncated");
        proto_builder_str (event, "name", name);
        proto_builder_uint (event, "limit", limit);
        zmsg_t *msg = proto_builder_finish (&event);
        s_send (self, &msg);
        self->truncated = true;
        zsys_info ("%s: request %" PRIu64 " passed %" PRIu64 " bytes of output; "
                   "the rest is dropped", self->name, self->req_id, limit);
    }
}

//  Reads up to max_reads chunks from one pipe. Closes it on end of file.
static void
s_pipe_read (monitor_t *self, s_pipe_t *pipe, int max_reads)
{
    for (int reads = 0; reads < max_reads && pipe->fd >= 0; ) {
        ssize_t size = read (pipe->fd, self->chunk, MONITOR_CHUNK);
        if (size > 0) {
            s_output (self, pipe->name, self->chunk, (size_t) size);
            reads++;
        }
        else
        if (size == 0) {
            s_debug (self, "%s: executor closed its %s", self->name, pipe->name);
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
static void
s_drain_pipes (monitor_t *self)
{
    for (int i = 0; i < 2; i++)
        s_pipe_read (self, &self->pipes [i], MONITOR_DRAIN_READS);
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
    s_executor_kill (self);
    char status_text [128];
    if (!cause) {
        s_describe_status (self->exec_status, status_text, sizeof status_text);
        cause = status_text;
    }
    s_drain_pipes (self);
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
        s_send (self, &msg);
        s_request_end (self);
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
    int64_t give_up = zclock_mono () + MONITOR_EXIT_WAIT_MS;
    while (!s_executor_reaped (self) && zclock_mono () < give_up)
        zclock_sleep (5);
    if (self->exec_reaped)
        s_executor_dead (self, NULL);
    else
        s_executor_violation (self, "closed its socket but kept running");
}

//  --------------------------------------------------------------------------
//  Request writer thread

static void *
s_writer_main (void *arg)
{
    s_writer_t *writer = (s_writer_t *) arg;
    //  Signals are the main thread's business.
    sigset_t all;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, NULL);
    writer->rc = proto_stream_write (writer->fd, &writer->msg);
    writer->error = errno;
    atomic_store (&writer->done, true);
    char byte = 0;
    ssize_t rc = write (writer->wake_fd, &byte, 1);
    (void) rc;
    return NULL;
}

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
static void
s_writer_finish (monitor_t *self)
{
    pthread_join (self->writer.thread, NULL);
    self->writer.active = false;
    if (self->writer.rc)
        s_writer_failed (self, self->writer.error);
}

//  Joins the writer if its thread is done (or finishes within wait_ms).
//  Returns 0 when no write is in flight any more, -1 if it still is.
static int
s_writer_settle (monitor_t *self, int64_t wait_ms)
{
    if (!self->writer.active)
        return 0;
    int64_t give_up = zclock_mono () + wait_ms;
    while (!atomic_load (&self->writer.done)) {
        if (zclock_mono () >= give_up)
            return -1;
        zclock_sleep (1);
    }
    s_writer_finish (self);
    return 0;
}

//  Starts writing *msg_p to the executor; takes ownership. Without a
//  thread the write happens here, blocking.
static void
s_writer_start (monitor_t *self, zmsg_t **msg_p)
{
    s_writer_t *writer = &self->writer;
    //  Replies are forwarded only after the writer is joined, and the
    //  broker sends a request only after the last reply.
    assert (!writer->active);
    writer->fd = self->exec.sock;
    writer->wake_fd = self->wake_pipe [1];
    writer->msg = *msg_p;
    *msg_p = NULL;
    writer->rc = 0;
    writer->error = 0;
    atomic_store (&writer->done, false);
    int rc = pthread_create (&writer->thread, NULL, s_writer_main, writer);
    if (rc == 0) {
        writer->active = true;
        return;
    }
    zsys_warning ("%s: pthread_create for the request writer: %s; writing "
                  "inline", self->name, strerror (rc));
    if (proto_stream_write (writer->fd, &writer->msg))
        s_writer_failed (self, errno);
}

//  --------------------------------------------------------------------------
//  Executor replies

static void s_connect (monitor_t *self, proto_msg_t *exec_ready);
static int s_connect_dealer (monitor_t *self);
static uint64_t s_executor_cpu_ms (monitor_t *self);

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
    if (!self->busy)
        s_executor_violation (self, "sent an event (id %" PRIu64 ") with no "
                              "request in flight", id);
    else
    if (id != self->req_id)
        s_executor_violation (self, "sent an event for id %" PRIu64 " while id %"
                              PRIu64 " was in flight", id, self->req_id);
    else {
        //  Not draining the pipes first: the executor waited until they were
        //  read empty before writing the event, and output after it belongs
        //  after it (protocol.md 4.4).
        zmsg_t *msg = proto_msg_release (event_p);
        s_send (self, &msg);
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
            s_connect (self, reply);
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
        s_drain_pipes (self);
        zmsg_t *msg;
        if (self->timed_out && proto_msg_error (reply) == PROTO_E_INTERRUPTED) {
            zsys_info ("%s: request %" PRIu64 " stopped on its %" PRIu64 " ms "
                       "timeout; namespace kept", self->name, id, self->req_limit_ms);
            msg = s_timeout_reply (self, reply);
            proto_msg_destroy (&reply);
        }
        else {
            s_debug (self, "%s: request %" PRIu64 " answered", self->name, id);
            msg = proto_msg_release (&reply);
        }
        s_send (self, &msg);
        s_request_end (self);
    }
    proto_msg_destroy (&reply);
}

static void
s_executor_input (monitor_t *self)
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
static void
s_check_child (monitor_t *self)
{
    if (self->stop || !s_executor_reaped (self))
        return;
    //  A reply written just before dying still counts.
    s_executor_input (self);
    s_executor_dead (self, NULL);
}

//  --------------------------------------------------------------------------
//  Broker messages

//  CPU time (user + system, all threads) the executor has used, from
//  /proc/PID/stat; 0 when it cannot be read (then no CPU limit applies).
static uint64_t
s_executor_cpu_ms (monitor_t *self)
{
    if (self->exec_reaped)
        return 0;
    char path [64], text [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) self->exec.pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t size = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [size] = 0;
    //  Fields after the command (which may hold spaces and parentheses):
    //  state is field 3, utime 14, stime 15.
    char *after = strrchr (text, ')');
    unsigned long long utime = 0, stime = 0;
    if (!after || sscanf (after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                          &utime, &stime) != 2)
        return 0;
    long ticks = sysconf (_SC_CLK_TCK);
    return ticks > 0? (utime + stime) * 1000 / (uint64_t) ticks: 0;
}

static void
s_on_request (monitor_t *self, proto_msg_t **request_p)
{
    proto_msg_t *request = *request_p;
    uint64_t id = proto_msg_id (request);
    const char *session = proto_msg_session (request);
    proto_type_t type = proto_msg_type (request);
    if (self->busy) {
        zsys_error ("%s: broker sent %s %" PRIu64 " while %" PRIu64 " is running",
                    self->name, proto_type_name (type), id, self->req_id);
        char message [256];
        snprintf (message, sizeof message,
                  "the kernel is already running request %" PRIu64 " and takes "
                  "one request at a time (broker bug; see the broker log)",
                  self->req_id);
        zmsg_t *msg = proto_encode_error (id, session, PROTO_E_INTERNAL, message);
        s_send (self, &msg);
        proto_msg_destroy (request_p);
        return;
    }
    if (strneq (session, self->config->session))
        zsys_warning ("%s: broker sent %s %" PRIu64 " for session '%s'",
                      self->name, proto_type_name (type), id, session);

    uint64_t limit = self->config->request_timeout_ms;
    uint64_t asked = proto_msg_uint (request, "timeout_ms", 0);
    if (asked > 0 && (limit == 0 || asked < limit))
        limit = asked;

    int64_t now = zclock_mono ();
    self->busy = true;
    self->req_id = id;
    self->req_session = strdup (session);
    assert (self->req_session);
    self->req_type = type;
    self->req_limit_ms = limit;
    self->deadline = limit? now + (int64_t) limit: 0;
    self->grace_deadline = 0;
    self->timed_out = false;
    self->cpu_limited = false;
    self->cpu_at_start_ms = s_executor_cpu_ms (self);
    self->next_cpu_check = now + MONITOR_CPU_CHECK_MS;
    self->output_bytes = 0;
    self->truncated = false;
    s_debug (self, "%s: %s %" PRIu64 " to the executor (limit %" PRIu64 " ms)",
             self->name, proto_type_name (type), id, limit);

    zmsg_t *raw = proto_msg_release (request_p);
    s_writer_start (self, &raw);
}

static void
s_on_interrupt (monitor_t *self, uint64_t id)
{
    if (!self->busy) {
        s_debug (self, "%s: interrupt %" PRIu64 " with nothing running",
                 self->name, id);
        return;
    }
    zsys_info ("%s: interrupting request %" PRIu64, self->name, self->req_id);
    if (!self->exec_reaped)
        kill (self->exec.pid, SIGINT);
}

static void
s_broker_input (monitor_t *self)
{
    for (int count = 0; count < MONITOR_BURST && !self->stop; count++) {
        zmsg_t *raw = zmsg_recv (self->dealer);
        if (!raw)
            break;
        //  Any message is a sign of life.
        self->broker_expiry = zclock_mono ()
            + (int64_t) (self->config->heartbeat_ivl_ms * self->config->heartbeat_liveness);
        proto_fault_t fault;
        proto_msg_t *msg = proto_decode (&raw, &fault);
        if (!msg) {
            zsys_warning ("%s: dropped a malformed message from the broker: %s",
                          self->name, fault.text);
            continue;
        }
        proto_type_t type = proto_msg_type (msg);
        switch (type) {
            case PROTO_HEARTBEAT:
                break;
            case PROTO_INTERRUPT:
                s_on_interrupt (self, proto_msg_id (msg));
                break;
            case PROTO_CLOSE:
                zsys_info ("%s: closed by the broker", self->name);
                self->stop = true;
                self->exit_code = 0;
                break;
            case PROTO_EXECUTE:
            case PROTO_UPLOAD:
            case PROTO_DOWNLOAD:
            case PROTO_RESET:
            case PROTO_VARS:
            case PROTO_COMPLETE:
            case PROTO_INSPECT:
                s_on_request (self, &msg);
                break;
            default:
                zsys_warning ("%s: dropped an unexpected %s from the broker",
                              self->name, proto_type_name (type));
                break;
        }
        proto_msg_destroy (&msg);
    }
}

//  --------------------------------------------------------------------------
//  Timers

//  The request ignored the SIGINT for the whole grace period.
static void
s_timeout_kill (monitor_t *self)
{
    zsys_warning ("%s: request %" PRIu64 " ignored the interrupt for %" PRIu64
                  " ms; killing executor %d", self->name, self->req_id,
                  self->config->kill_grace_ms, (int) self->exec.pid);
    s_executor_kill (self);
    s_drain_pipes (self);
    char message [384];
    snprintf (message, sizeof message,
              "the request hit its %g s %s limit, ignored the interrupt and was "
              "killed; the session's state is lost and the next request "
              "starts a fresh kernel",
              (double) (self->cpu_limited? self->config->request_cpu_ms: self->req_limit_ms) / 1000.0,
              self->cpu_limited? "CPU time": "wall-time");
    proto_builder_t *reply = proto_reply_error_begin (
        self->req_id, self->req_session, PROTO_E_TIMEOUT, message);
    proto_builder_bool (reply, "killed", true);
    proto_builder_bool (reply, "state_lost", true);
    zmsg_t *msg = proto_builder_finish (&reply);
    s_send (self, &msg);
    s_request_end (self);
    self->stop = true;
    self->exit_code = 0;
}

static void
s_timers (monitor_t *self, int64_t now)
{
    if (!self->dealer)
        return;                     //  not connected: the executor starts
    if (now >= self->broker_expiry) {
        zsys_error ("%s: broker silent for %" PRIu64 " ms; killing the executor "
                    "and exiting", self->name,
                    self->config->heartbeat_ivl_ms * self->config->heartbeat_liveness);
        s_executor_kill (self);
        self->stop = true;
        self->exit_code = 1;
        return;
    }
    if (now >= self->next_heartbeat) {
        zmsg_t *msg = proto_encode_heartbeat ();
        s_send (self, &msg);
        self->next_heartbeat = now + (int64_t) self->config->heartbeat_ivl_ms;
    }
    if (!self->busy)
        return;
    if (self->timed_out) {
        if (now >= self->grace_deadline)
            s_timeout_kill (self);
    }
    else
    if (self->deadline && now >= self->deadline) {
        zsys_info ("%s: request %" PRIu64 " passed its %" PRIu64 " ms limit; "
                   "interrupting it", self->name, self->req_id, self->req_limit_ms);
        kill (self->exec.pid, SIGINT);
        self->timed_out = true;
        self->grace_deadline = now + (int64_t) self->config->kill_grace_ms;
    }
    else
    if (self->config->request_cpu_ms && now >= self->next_cpu_check) {
        self->next_cpu_check = now + MONITOR_CPU_CHECK_MS;
        uint64_t used = s_executor_cpu_ms (self) - self->cpu_at_start_ms;
        if (self->cpu_at_start_ms && used > self->config->request_cpu_ms) {
            zsys_info ("%s: request %" PRIu64 " used %" PRIu64 " ms of CPU, over its "
                       "%" PRIu64 " ms; interrupting it", self->name, self->req_id,
                       used, self->config->request_cpu_ms);
            kill (self->exec.pid, SIGINT);
            self->timed_out = true;
            self->cpu_limited = true;
            self->grace_deadline = now + (int64_t) self->config->kill_grace_ms;
        }
    }
}

static long
s_poll_timeout (monitor_t *self, int64_t now)
{
    if (!self->dealer)
        return MONITOR_START_POLL_MS;
    int64_t next = self->next_heartbeat;
    if (self->broker_expiry < next)
        next = self->broker_expiry;
    if (self->busy) {
        int64_t timer = self->timed_out? self->grace_deadline: self->deadline;
        if (timer && timer < next)
            next = timer;
        if (!self->timed_out && self->config->request_cpu_ms && self->next_cpu_check < next)
            next = self->next_cpu_check;
    }
    return next > now? (long) (next - now): 0;
}

//  --------------------------------------------------------------------------
//  Main loop

//  Called when the executor reported `ready`: connects to the broker and
//  tells it, passing on what the executor said of its sandbox. Until now
//  the kernel was invisible to the broker, so no request or interrupt can
//  reach a Python that is still starting. On failure the kernel stops.
static void
s_connect (monitor_t *self, proto_msg_t *exec_ready)
{
    if (s_connect_dealer (self)) {
        self->stop = true;
        self->exit_code = 1;
        return;
    }
    const monitor_config_t *config = self->config;
    proto_builder_t *ready = proto_builder_new (PROTO_READY, 0, config->session);
    proto_builder_uint (ready, "pid", (uint64_t) getpid ());
    proto_builder_uint (ready, "version", PROTO_VERSION);
    const char *applied = proto_msg_str (exec_ready, "sandbox");
    const char *missing = proto_msg_str (exec_ready, "sandbox_missing");
    if (applied)
        proto_builder_str (ready, "sandbox", applied);
    if (missing)
        proto_builder_str (ready, "sandbox_missing", missing);
    zmsg_t *msg = proto_builder_finish (&ready);
    s_send (self, &msg);
    zsys_info ("%s: executor %d ready (sandbox: %s%s%s); connected to %s",
               self->name, (int) self->exec.pid, applied? applied: "none",
               missing && *missing? "; missing: ": "", missing? missing: "",
               config->endpoint);
}

static int
s_connect_dealer (monitor_t *self)
{
    const monitor_config_t *config = self->config;
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        zsys_error ("%s: cannot create the DEALER: %s", self->name,
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    void *handle = zsock_resolve (self->dealer);
    if (zmq_setsockopt (handle, ZMQ_ROUTING_ID, config->kernel_id,
                        strlen (config->kernel_id))) {
        zsys_error ("%s: ZMQ_ROUTING_ID '%s': %s", self->name, config->kernel_id,
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_set_linger (self->dealer, 0);
    zsock_set_rcvtimeo (self->dealer, 0);
    uint64_t patience = config->heartbeat_ivl_ms * config->heartbeat_liveness;
    zsock_set_sndtimeo (self->dealer, patience > INT_MAX? INT_MAX: (int) patience);
    if (zsock_connect (self->dealer, "%s", config->endpoint)) {
        zsys_error ("%s: connect to %s: %s (is the endpoint a valid ZeroMQ "
                    "address?)", self->name, config->endpoint,
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    int64_t now = zclock_mono ();
    self->next_heartbeat = now + (int64_t) config->heartbeat_ivl_ms;
    self->broker_expiry = now + (int64_t) patience;
    return 0;
}

int
monitor_run (monitor_t *self)
{
    assert (self);
    //  The broker hears of this kernel once the executor is ready
    //  (s_connect); until then only the executor's fds are polled.
    while (!self->stop) {
        if (s_stop_signal) {
            zsys_info ("%s: stopping on %s", self->name, strsignal (s_stop_signal));
            self->exit_code = 0;
            break;
        }
        int64_t now = zclock_mono ();
        s_timers (self, now);
        if (self->stop)
            break;

        //  Items: wake pipe, broker once connected, then whichever executor
        //  fds are open.
        zmq_pollitem_t items [5];
        int what [5] = { 0 };       //  -1 socket, 0/1 pipe index
        int count = 0;
        items [count++] = (zmq_pollitem_t) { NULL, self->wake_pipe [0], ZMQ_POLLIN, 0 };
        int broker_item = -1;
        if (self->dealer) {
            broker_item = count;
            items [count++] = (zmq_pollitem_t) { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 };
        }
        int first_exec = count;
        if (self->exec.sock >= 0) {
            what [count] = -1;
            items [count++] = (zmq_pollitem_t) { NULL, self->exec.sock, ZMQ_POLLIN, 0 };
        }
        for (int i = 0; i < 2; i++)
            if (self->pipes [i].fd >= 0) {
                what [count] = i;
                items [count++] = (zmq_pollitem_t) { NULL, self->pipes [i].fd, ZMQ_POLLIN, 0 };
            }
        int rc = zmq_poll (items, count, s_poll_timeout (self, now));
        if (rc == -1) {
            if (zmq_errno () == EINTR)
                continue;
            zsys_error ("%s: zmq_poll: %s", self->name, zmq_strerror (zmq_errno ()));
            self->exit_code = 1;
            break;
        }
        if (items [0].revents) {
            char sink [64];
            while (read (self->wake_pipe [0], sink, sizeof sink) > 0)
                ;
        }
        //  Pipes before the socket: output comes ahead of its reply. Any
        //  revents counts, since a closed pipe reports POLLHUP alone.
        for (int i = first_exec; i < count && !self->stop; i++)
            if (items [i].revents && what [i] >= 0)
                s_pipe_read (self, &self->pipes [what [i]], MONITOR_READS);
        for (int i = first_exec; i < count && !self->stop; i++)
            if (items [i].revents && what [i] == -1)
                s_executor_input (self);
        if (!self->stop && self->writer.active && atomic_load (&self->writer.done))
            s_writer_finish (self);
        s_check_child (self);
        if (!self->stop && broker_item >= 0 && items [broker_item].revents)
            s_broker_input (self);
    }
    return self->exit_code;
}
