/*  monitor — the trusted half of kmq-kernel (see monitor.h), its broker
    side and main loop (the executor side is monitor_exec.c).

    One loop polls four things: the DEALER to the broker, the executor's
    request socket, its stdout and stderr pipes, plus a self-pipe that the
    signal handlers write to so a signal always wakes the poll. Its
    timeout is the next timer (heartbeat, broker expiry, request deadline,
    kill grace), so heartbeats go out whatever the executor is doing.
*/
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor_internal.h"
#include "proc_info.h"

#define MONITOR_READS        16           //  pipe reads per wakeup, so timers stay on time
#define MONITOR_BURST        256          //  broker messages per wakeup
#define MONITOR_FRAME_SLACK  (1u << 20)   //  allowance over max_payload per frame
#define MONITOR_START_POLL_MS 1000        //  poll period while the executor starts
#define MONITOR_CPU_CHECK_MS 200          //  how often a busy executor's CPU time is read

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
    self->pipes [0] = (monitor_pipe_t) { executor->out_fd, "stdout" };
    self->pipes [1] = (monitor_pipe_t) { executor->err_fd, "stderr" };
    self->writer = request_writer_new ();

    self->signals = signal_pipe_new (self->name);
    if (!self->signals)
        goto fail;
    uint64_t max_frame = config->max_payload? config->max_payload: PROTO_MAX_PAYLOAD;
    if (max_frame > PROTO_MAX_PAYLOAD)
        max_frame = PROTO_MAX_PAYLOAD;
    //  A download reply in the frame format carries up to 4096 payloads
    self->reader = proto_reader_new (2 + PROTO_MAX_FRAME_PAYLOADS,
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

void
monitor_destroy (monitor_t **self_p)
{
    assert (self_p);
    monitor_t *self = *self_p;
    if (!self)
        return;
    monitor_exec_kill (self);
    if (request_writer_active (self->writer))
        //  The executor is dead; shutdown also frees a writer whose peer
        //  end is somehow still open.
        shutdown (self->exec.sock, SHUT_RDWR);
    request_writer_destroy (&self->writer);
    if (self->exec.sock >= 0)
        close (self->exec.sock);
    for (int i = 0; i < 2; i++)
        if (self->pipes [i].fd >= 0)
            close (self->pipes [i].fd);
    //  Closing the zygote connection also makes the zygote kill the
    //  executor, should the SIGKILL above have missed.
    if (self->exec.super_fd >= 0)
        close (self->exec.super_fd);
    if (self->exec.pidfd >= 0)
        close (self->exec.pidfd);
    zsock_destroy (&self->dealer);
    proto_reader_destroy (&self->reader);
    signal_pipe_destroy (&self->signals);
    free (self->chunk);
    free (self->req_session);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Sending to the broker

//  Sends and destroys *msg_p. A send that times out (broker gone and the
//  DEALER full) drops the message: the liveness timer ends the kernel.
void
monitor_send (monitor_t *self, zmsg_t **msg_p)
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

void
monitor_request_end (monitor_t *self)
{
    self->busy = false;
    self->timed_out = false;
    self->deadline = 0;
    self->grace_deadline = 0;
    zstr_free (&self->req_session);
}

//  --------------------------------------------------------------------------
//  Broker messages

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
        monitor_send (self, &msg);
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
    self->cpu_at_start_ms = monitor_exec_cpu_ms (self);
    self->next_cpu_check = now + MONITOR_CPU_CHECK_MS;
    self->output_bytes = 0;
    self->truncated = false;
    monitor_debug (self, "%s: %s %" PRIu64 " to the executor (limit %" PRIu64 " ms)",
                   self->name, proto_type_name (type), id, limit);

    zmsg_t *raw = proto_msg_release (request_p);
    monitor_exec_write (self, &raw);
}

static void
s_on_interrupt (monitor_t *self, uint64_t id)
{
    if (!self->busy) {
        monitor_debug (self, "%s: interrupt %" PRIu64 " with nothing running",
                       self->name, id);
        return;
    }
    zsys_info ("%s: interrupting request %" PRIu64, self->name, self->req_id);
    if (!self->exec_reaped)
        executor_signal (&self->exec, SIGINT);
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
    monitor_exec_kill (self);
    monitor_exec_drain (self);
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
    monitor_send (self, &msg);
    monitor_request_end (self);
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
        monitor_exec_kill (self);
        self->stop = true;
        self->exit_code = 1;
        return;
    }
    if (now >= self->next_heartbeat) {
        zmsg_t *msg = proto_encode_heartbeat ();
        monitor_send (self, &msg);
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
        executor_signal (&self->exec, SIGINT);
        self->timed_out = true;
        self->grace_deadline = now + (int64_t) self->config->kill_grace_ms;
    }
    else
    if (self->config->request_cpu_ms && now >= self->next_cpu_check) {
        self->next_cpu_check = now + MONITOR_CPU_CHECK_MS;
        uint64_t now_ms = monitor_exec_cpu_ms (self);
        uint64_t used = now_ms - self->cpu_at_start_ms;
        if (self->cpu_at_start_ms != PROC_INFO_UNKNOWN && now_ms != PROC_INFO_UNKNOWN
        &&  now_ms >= self->cpu_at_start_ms && used > self->config->request_cpu_ms) {
            zsys_info ("%s: request %" PRIu64 " used %" PRIu64 " ms of CPU, over its "
                       "%" PRIu64 " ms; interrupting it", self->name, self->req_id,
                       used, self->config->request_cpu_ms);
            executor_signal (&self->exec, SIGINT);
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

//  Called when the executor reported `ready`: connects to the broker and
//  tells it, passing on what the executor said of its sandbox. Until now
//  the kernel was invisible to the broker, so no request or interrupt can
//  reach a Python that is still starting. On failure the kernel stops.
void
monitor_connect (monitor_t *self, proto_msg_t *exec_ready)
{
    if (s_connect_dealer (self)) {
        self->stop = true;
        self->exit_code = 1;
        return;
    }
    const monitor_config_t *config = self->config;
    proto_builder_t *ready = proto_builder_new (PROTO_READY, 0, config->session);
    proto_builder_uint (ready, "pid", (uint64_t) getpid ());
    proto_builder_uint (ready, "executor_pid", (uint64_t) self->exec.pid);
    proto_builder_uint (ready, "version", PROTO_VERSION);
    const char *applied = proto_msg_str (exec_ready, "sandbox");
    const char *missing = proto_msg_str (exec_ready, "sandbox_missing");
    if (applied)
        proto_builder_str (ready, "sandbox", applied);
    if (missing)
        proto_builder_str (ready, "sandbox_missing", missing);
    zmsg_t *msg = proto_builder_finish (&ready);
    monitor_send (self, &msg);
    zsys_info ("%s: executor %d ready (sandbox: %s%s%s); connected to %s",
               self->name, (int) self->exec.pid, applied? applied: "none",
               missing && *missing? "; missing: ": "", missing? missing: "",
               config->endpoint);
}

int
monitor_run (monitor_t *self)
{
    assert (self);
    //  The broker hears of this kernel once the executor is ready
    //  (monitor_connect); until then only the executor's fds are polled.
    while (!self->stop) {
        int stop_signal = signal_pipe_stop_signal (self->signals);
        if (stop_signal) {
            zsys_info ("%s: stopping on %s", self->name, strsignal (stop_signal));
            self->exit_code = 0;
            break;
        }
        int64_t now = zclock_mono ();
        s_timers (self, now);
        if (self->stop)
            break;

        //  Items: wake pipe, broker once connected, then whichever executor
        //  fds are open.
        zmq_pollitem_t items [6];
        int what [6] = { 0 };       //  -1 socket, -2 zygote, 0/1 pipe index
        int count = 0;
        items [count++] = (zmq_pollitem_t) { NULL, signal_pipe_fd (self->signals), ZMQ_POLLIN, 0 };
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
        //  A zygote's executor has no SIGCHLD here: its end comes as the
        //  zygote's `exited` event (monitor_exec_check reads it).
        if (self->exec.super_fd >= 0 && !self->exec_reaped) {
            what [count] = -2;
            items [count++] = (zmq_pollitem_t) { NULL, self->exec.super_fd, ZMQ_POLLIN, 0 };
        }
        int rc = zmq_poll (items, count, s_poll_timeout (self, now));
        if (rc == -1) {
            if (zmq_errno () == EINTR)
                continue;
            zsys_error ("%s: zmq_poll: %s", self->name, zmq_strerror (zmq_errno ()));
            self->exit_code = 1;
            break;
        }
        if (items [0].revents)
            signal_pipe_drain (self->signals);
        //  Pipes before the socket: output comes ahead of its reply. Any
        //  revents counts, since a closed pipe reports POLLHUP alone.
        for (int i = first_exec; i < count && !self->stop; i++)
            if (items [i].revents && what [i] >= 0)
                monitor_exec_read_pipe (self, &self->pipes [what [i]], MONITOR_READS);
        for (int i = first_exec; i < count && !self->stop; i++)
            if (items [i].revents && what [i] == -1)
                monitor_exec_input (self);
        if (!self->stop && request_writer_done (self->writer))
            monitor_exec_write_finish (self);
        monitor_exec_check (self);
        if (!self->stop && broker_item >= 0 && items [broker_item].revents)
            s_broker_input (self);
    }
    return self->exit_code;
}
