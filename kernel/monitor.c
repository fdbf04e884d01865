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

#include "keys.h"
#include "mem.h"
#include "monitor_internal.h"
#include "proc_info.h"
#include "test_faults.h"

#define MONITOR_READS        16           //  pipe reads per wakeup, so timers stay on time
#define MONITOR_BURST        256          //  broker messages per wakeup
#define MONITOR_FRAME_SLACK  (1u << 20)   //  allowance over max_payload per frame
#define MONITOR_START_POLL_MS 1000        //  poll period while the executor starts

//  What a poll item is, besides the executor's pipes (0 and 1).
#define S_ITEM_SOCKET  -1
#define S_ITEM_ZYGOTE  -2
#define S_ITEM_PIDFD   -3

//  The interval between our heartbeats: short while a request runs, long
//  while idle (protocol.md 7), so thousands of idle kernels cost the
//  machine next to nothing.
static int64_t
s_beat_ivl (monitor_t *self)
{
    return (int64_t) (self->req.busy? self->config->heartbeat_ivl_ms
                                    : self->config->heartbeat_idle_ivl_ms);
}

//  How long the broker may be silent: our interval x liveness (both bounded
//  by the kernel's argument checks, so the product fits). The broker
//  answers each beat, so it is never silent longer than our interval.
static int64_t
s_patience (monitor_t *self)
{
    return s_beat_ivl (self) * (int64_t) self->config->heartbeat_liveness;
}

//  How long a silent broker is waited for before the kernel ends: the
//  grace (protocol.md 12.2), never less than the patience.
static int64_t
s_grace (monitor_t *self)
{
    int64_t grace = (int64_t) self->config->broker_grace_ms;
    int64_t patience = s_patience (self);
    return grace > patience? grace: patience;
}

//  --------------------------------------------------------------------------
//  Lifecycle

monitor_t *
monitor_new (const monitor_config_t *config, const executor_handle_t *executor,
             zsock_t **dealer_p)
{
    assert (config);
    assert (executor);
    monitor_t *self = (monitor_t *) zmalloc (sizeof (monitor_t));
    if (dealer_p) {
        self->early_dealer = *dealer_p;
        *dealer_p = NULL;
    }
    self->config = config;
    self->name = config->name;
    self->limits = (monitor_request_limits_t) {
        .timeout_ms = config->request_timeout_ms, .cpu_ms = config->request_cpu_ms,
        .grace_ms = config->kill_grace_ms, .max_output = config->max_output,
        .part_wait_ms = config->test_faults & TEST_FAULT_SHORT_PART_WAIT? 1000
                                                                      : MONITOR_PART_WAIT_MS
    };
    self->exec = *executor;
    self->pipes [0] = (monitor_pipe_t) { executor->out_fd, "stdout" };
    self->pipes [1] = (monitor_pipe_t) { executor->err_fd, "stderr" };
    self->to_exec = proto_writer_new ();
    self->replies = monitor_replies_new ();
    self->backlog = zlist_new ();

    self->signals = signal_pipe_new (self->name);
    if (!self->signals)
        goto fail;
    uint64_t max_frame = config->max_payload? config->max_payload: PROTO_MAX_PAYLOAD;
    if (max_frame > PROTO_MAX_PAYLOAD)
        max_frame = PROTO_MAX_PAYLOAD;
    //  A download reply in the frame format carries up to 4096 payloads
    self->from_exec = proto_reader_new (2 + PROTO_MAX_FRAME_PAYLOADS,
                                        (size_t) max_frame + MONITOR_FRAME_SLACK);
    self->chunk = (char *) zmalloc (MONITOR_CHUNK);
    monitor_cgroup_place (self);
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
    monitor_exec_abandon (self);
    proto_writer_destroy (&self->to_exec);
    if (self->exec.sock >= 0)
        close (self->exec.sock);
    for (int i = 0; i < 2; i++)
        if (self->pipes [i].fd >= 0)
            close (self->pipes [i].fd);
    //  Closing the zygote connection also makes the zygote kill the
    //  executor, should the SIGKILL have missed.
    if (self->exec.super_fd >= 0)
        close (self->exec.super_fd);
    if (self->exec.pidfd >= 0)
        close (self->exec.pidfd);
    zmsg_t *left;
    while ((left = (zmsg_t *) zlist_pop (self->backlog)))
        zmsg_destroy (&left);
    zlist_destroy (&self->backlog);
    if (self->dealer_events) {
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
        zsock_destroy (&self->dealer_events);
    }
    zsock_destroy (&self->dealer);
    zsock_destroy (&self->early_dealer);
    proto_reader_destroy (&self->from_exec);
    signal_pipe_destroy (&self->signals);
    monitor_request_end (&self->req);
    monitor_replies_destroy (&self->replies);
    free (self->sandbox);
    free (self->sandbox_missing);
    free (self->chunk);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Sending to the broker

//  The most messages kept for a broker that takes none (one dead past its
//  grace): past it, messages are dropped and the liveness timer decides.
#define S_BACKLOG_MAX 10000

//  Sends and destroys *msg_p. Sends never block (no send timeout). When
//  the queue to the broker is full (the send says EAGAIN) the message
//  waits in the backlog, in order behind any already there, for
//  s_flush_backlog: the run loop reads nothing from the executor while the
//  backlog holds anything (protocol.md 4.4), so it stays within one pass's
//  output, and a reply behind a flood of output is never lost. No
//  ZMQ_EVENTS probe before each send: the failed send is the probe.
void
monitor_send (monitor_t *self, zmsg_t **msg_p)
{
    if (!self->dealer) {
        zmsg_destroy (msg_p);       //  not connected yet: nobody to tell
        return;
    }
    bool full = true;               //  behind a backlog, as if the send failed so
    if (!zlist_size (self->backlog)) {
        if (zmsg_send (msg_p, self->dealer) == 0) {
            self->send_failing = false;
            return;
        }
        full = zmq_errno () == EAGAIN;
    }
    if (full && zlist_size (self->backlog) < S_BACKLOG_MAX) {
        zlist_append (self->backlog, *msg_p);
        *msg_p = NULL;
        return;
    }
    if (!self->send_failing && !self->broker_lost)
        zsys_warning ("%s: send to the broker failed: %s; dropping messages until "
                      "it takes them again", self->name,
                      full? "its queue and ours are full": zmq_strerror (zmq_errno ()));
    self->send_failing = true;
    zmsg_destroy (msg_p);
}

//  Sends what waits in the backlog, in order, until the broker's queue is
//  full again (EAGAIN: the loop then polls the DEALER for room). A message
//  that fails otherwise is dropped, as monitor_send drops it.
static void
s_flush_backlog (monitor_t *self)
{
    while (self->dealer && zlist_size (self->backlog)) {
        zmsg_t *msg = (zmsg_t *) zlist_first (self->backlog);
        int rc = zmsg_send (&msg, self->dealer);
        if (rc && zmq_errno () == EAGAIN)
            return;
        zlist_pop (self->backlog);
        zmsg_destroy (&msg);        //  NULL once sent
        self->send_failing = rc != 0;
    }
}

void
monitor_reply (monitor_t *self, uint64_t id, zmsg_t **msg_p)
{
    monitor_replies_keep (self->replies, id, *msg_p);
    monitor_send (self, msg_p);
}

//  `ready` to the broker: the first time, and again (resumed) when a
//  restarted broker asks who we are (protocol.md 12.2).
static void
s_send_ready (monitor_t *self, bool resumed)
{
    const monitor_config_t *config = self->config;
    proto_builder_t *ready = proto_builder_new (PROTO_READY, 0, config->session);
    proto_builder_uint (ready, "pid", (uint64_t) getpid ());
    proto_builder_uint (ready, "executor_pid", (uint64_t) self->exec.pid);
    proto_builder_uint (ready, "version", PROTO_VERSION);
    if (self->sandbox)
        proto_builder_str (ready, "sandbox", self->sandbox);
    if (self->sandbox_missing)
        proto_builder_str (ready, "sandbox_missing", self->sandbox_missing);
    if (config->host && *config->host)
        proto_builder_str (ready, "host", config->host);
    if (resumed) {
        proto_builder_bool (ready, "resumed", true);
        bool busy = self->req.busy && !self->dying;
        proto_builder_bool (ready, "busy", busy);
        if (busy)
            proto_builder_uint (ready, "request", self->req.id);
        uint64_t ids [MONITOR_REPLIES_KEPT];
        size_t count = monitor_replies_ids (self->replies, ids);
        proto_builder_key (ready, "replies");
        proto_builder_val_array (ready, (uint32_t) count);
        for (size_t i = 0; i < count; i++)
            proto_builder_val_uint (ready, ids [i]);
        //  On the heap: MONITOR_REPLIES_SEEN ids are 8 KiB
        uint64_t *seen = (uint64_t *) mem_alloc (MONITOR_REPLIES_SEEN * sizeof (uint64_t));
        count = monitor_replies_seen_ids (self->replies, seen);
        proto_builder_key (ready, "seen");
        proto_builder_val_array (ready, (uint32_t) count);
        for (size_t i = 0; i < count; i++)
            proto_builder_val_uint (ready, seen [i]);
        free (seen);
    }
    zmsg_t *msg = proto_builder_finish (&ready);
    monitor_send (self, &msg);
}

//  A restarted broker wants a kept reply again, for a client that resumed.
static void
s_on_resend (monitor_t *self, uint64_t request)
{
    zmsg_t *reply = monitor_replies_copy (self->replies, request);
    if (reply)
        monitor_send (self, &reply);
    else
        monitor_debug (self, "%s: resend %" PRIu64 ": no such reply held", self->name,
                       request);
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
    if (self->req.busy || self->dying) {
        zsys_error ("%s: broker sent %s %" PRIu64 " while %s", self->name,
                    proto_type_name (type), id,
                    self->dying? "the executor is ending": "another request runs");
        char message [256];
        snprintf (message, sizeof message,
                  "the kernel is %s and takes one request at a time (broker bug; "
                  "see the broker log)",
                  self->dying? "ending": "already running a request");
        zmsg_t *msg = proto_encode_error (id, session, PROTO_E_INTERNAL, message);
        monitor_send (self, &msg);
        return;
    }
    if (strneq (session, self->config->session))
        zsys_warning ("%s: broker sent %s %" PRIu64 " for session '%s'",
                      self->name, proto_type_name (type), id, session);
    uint64_t cpu_now = self->exec_reaped? PROC_INFO_UNKNOWN
                                        : proc_info_cpu_ms (self->exec.pid);
    monitor_replies_received (self->replies, id);
    int64_t now = zclock_mono ();
    monitor_request_begin (&self->req, id, session, type,
                           proto_msg_uint (request, "timeout_ms", 0), &self->limits,
                           now, cpu_now);
    //  Busy now: the broker expects our beats at the short interval from
    //  the moment it sent this (protocol.md 7)
    if (self->next_heartbeat > now + s_beat_ivl (self))
        self->next_heartbeat = now + s_beat_ivl (self);
    self->req.in_parts = type == PROTO_DOWNLOAD && proto_msg_bool (request, "in_parts", false);
    monitor_debug (self, "%s: %s %" PRIu64 " to the executor (limit %" PRIu64 " ms)",
                   self->name, proto_type_name (type), id, self->req.limit_ms);
    zmsg_t *raw = proto_msg_release (request_p);
    monitor_exec_write (self, &raw);
}

static void
s_on_interrupt (monitor_t *self, uint64_t id)
{
    if (!self->req.busy || self->dying) {
        monitor_debug (self, "%s: interrupt %" PRIu64 " with nothing running",
                       self->name, id);
        return;
    }
    zsys_info ("%s: interrupting request %" PRIu64, self->name, self->req.id);
    executor_signal (&self->exec, SIGINT);
}

static void
s_broker_input (monitor_t *self)
{
    for (int count = 0; count < MONITOR_BURST && !self->stop; count++) {
        zmsg_t *raw = zmsg_recv (self->dealer);
        if (!raw)
            break;
        proto_fault_t fault;
        proto_msg_t *msg = proto_decode (&raw, &fault);
        if (!msg) {
            zsys_warning ("%s: dropped a malformed message from the broker: %s",
                          self->name, fault.text);
            continue;
        }
        //  Any valid message is a sign of life; garbage is not.
        self->broker_heard = zclock_mono ();
        if (self->broker_lost) {
            zsys_info ("%s: the broker answers again", self->name);
            self->broker_lost = false;
        }
        proto_type_t type = proto_msg_type (msg);
        switch (type) {
            case PROTO_HEARTBEAT:
                break;
            case PROTO_REREGISTER:
                zsys_info ("%s: a new broker asks who we are; %s", self->name,
                           self->req.busy? "busy": "idle");
                s_send_ready (self, true);
                break;
            case PROTO_RESEND:
                s_on_resend (self, proto_msg_uint (msg, "request", 0));
                break;
            case PROTO_INTERRUPT:
                s_on_interrupt (self, proto_msg_id (msg));
                break;
            case PROTO_UPLOAD_PART:
                monitor_exec_part (self, &msg);
                break;
            case PROTO_CLOSE:
                if (self->snapshotting)
                    break;          //  it ends once the snapshot is stored
                if (proto_msg_bool (msg, "snapshot", false)
                &&  monitor_snapshot_begin (self, "evicted"))
                    break;
                zsys_info ("%s: closed by the broker", self->name);
                self->stop = true;
                self->exit_code = 0;
                break;
            case PROTO_EXECUTE:
            case PROTO_UPLOAD:
            case PROTO_DOWNLOAD:
            case PROTO_RESET:
            case PROTO_VARS:
            case PROTO_FILES:
            case PROTO_COMPLETE:
            case PROTO_INSPECT:
            case PROTO_IS_COMPLETE:
            case PROTO_HISTORY:
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

//  The request in flight's deadlines: interrupt, then kill.
static void
s_request_timers (monitor_t *self, int64_t now)
{
    if (!self->req.busy || self->dying)
        return;
    uint64_t cpu_now = proc_info_cpu_ms (self->exec.pid);
    switch (monitor_request_due (&self->req, now, cpu_now, &self->limits)) {
        case MONITOR_REQUEST_ON_TIME:
            break;
        case MONITOR_REQUEST_INTERRUPT:
            if (self->req.part_late)
                zsys_info ("%s: upload %" PRIu64 ": piece %" PRIu64 " did not come "
                           "within %" PRIu64 " ms; interrupting it", self->name,
                           self->req.id, self->req.part_wanted, self->limits.part_wait_ms);
            else
            if (self->req.cpu_limited)
                zsys_info ("%s: request %" PRIu64 " used more than its %" PRIu64 " ms "
                           "of CPU; interrupting it", self->name, self->req.id,
                           self->limits.cpu_ms);
            else
                zsys_info ("%s: request %" PRIu64 " passed its %" PRIu64 " ms limit; "
                           "interrupting it", self->name, self->req.id, self->req.limit_ms);
            executor_signal (&self->exec, SIGINT);
            break;
        case MONITOR_REQUEST_KILL:
            zsys_warning ("%s: request %" PRIu64 " ignored the interrupt for %" PRIu64
                          " ms; killing executor %d", self->name, self->req.id,
                          self->limits.grace_ms, (int) self->exec.pid);
            monitor_exec_kill (self, MONITOR_END_TIMEOUT_KILLED, NULL);
            break;
    }
}

static void
s_timers (monitor_t *self, int64_t now)
{
    if (!self->dealer) {
        s_request_timers (self, now);   //  a restore, before the broker hears of us
        return;
    }
    int64_t silence = now - self->broker_heard;
    if (silence >= s_grace (self)) {
        zsys_error ("%s: broker silent for %" PRId64 " ms; killing the executor "
                    "and exiting", self->name, silence);
        monitor_exec_abandon (self);
        self->stop = true;
        self->exit_code = 1;
        return;
    }
    if (silence >= s_patience (self) && !self->broker_lost) {
        zsys_warning ("%s: broker silent for %" PRId64 " ms; keeping the session "
                      "for %" PRId64 " s in case it comes back", self->name, silence,
                      s_grace (self) / 1000);
        self->broker_lost = true;
    }
    if (now >= self->next_heartbeat) {
        zmsg_t *msg = self->config->test_faults & TEST_FAULT_GARBAGE_BEATS?
                      zmsg_new (): proto_encode_heartbeat ();
        if (self->config->test_faults & TEST_FAULT_GARBAGE_BEATS)
            zmsg_addstr (msg, "not a kernelmq message");
        monitor_send (self, &msg);
        self->next_heartbeat = now + s_beat_ivl (self);
    }
    s_request_timers (self, now);
}

static long
s_poll_timeout (monitor_t *self, int64_t now)
{
    if (!self->dealer && !self->dying)
        return MONITOR_START_POLL_MS;
    int64_t next = INT64_MAX;
    if (self->dealer) {
        next = self->next_heartbeat;
        int64_t lost_at = self->broker_heard + (self->broker_lost? s_grace (self)
                                                                 : s_patience (self));
        if (lost_at < next)
            next = lost_at;
    }
    if (!self->dying) {
        int64_t timer = monitor_request_next_timer (&self->req, &self->limits);
        if (timer < next)
            next = timer;
    }
    int64_t ending = monitor_exec_next_timer (self);
    if (ending < next)
        next = ending;
    if (next == INT64_MAX)
        return MONITOR_START_POLL_MS;
    return next > now? (long) (next - now): 0;
}

//  --------------------------------------------------------------------------
//  Main loop

zsock_t *
monitor_dealer_new (const monitor_config_t *config)
{
    assert (config);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer) {
        zsys_error ("%s: cannot create the DEALER: %s", config->name,
                    zmq_strerror (zmq_errno ()));
        return NULL;
    }
    void *handle = zsock_resolve (dealer);
    if (zmq_setsockopt (handle, ZMQ_ROUTING_ID, config->kernel_id,
                        strlen (config->kernel_id))) {
        zsys_error ("%s: ZMQ_ROUTING_ID '%s': %s", config->name, config->kernel_id,
                    zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
        return NULL;
    }
    zsock_set_linger (dealer, 0);
    zsock_set_rcvtimeo (dealer, 0);
    //  Sends never block. What is sent while the broker is gone waits in
    //  the queue (bounded by the HWM) for the next one, which drops what
    //  comes from a kernel it does not know and asks it to reregister.
    zsock_set_sndtimeo (dealer, 0);
    //  Room for a burst of output (a cell's displays are bounded by
    //  max_output) while the broker is busy: with CURVE on its clients'
    //  side, a flood fanned out to attached clients takes it longer to
    //  drain us, and libzmq's default of 1000 dropped events on 2 cores
    zsock_set_sndhwm (dealer, 20000);
    //  Over tcp a kernel shows the broker its host's key (keys.h; the host
    //  passes its config dir in KMQ_CONFIG_DIR). The executor is the
    //  zygote's or was forked before this, so the secret key never enters
    //  its memory.
    char key_error [256];
    if (keys_apply (dealer, config->endpoint, NULL, "host", NULL, key_error,
                    sizeof key_error)) {
        zsys_error ("%s: %s", config->name, key_error);
        zsock_destroy (&dealer);
        return NULL;
    }
    if (zsock_connect (dealer, "%s", config->endpoint)) {
        zsys_error ("%s: connect to %s: %s (is the endpoint a valid ZeroMQ "
                    "address?)", config->name, config->endpoint,
                    zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
        return NULL;
    }
    return dealer;
}

//  Watches the DEALER's connection (zmq_socket_monitor): an idle kernel
//  beats only every heartbeat_idle_ivl, so a restarted broker would hear
//  of it that late. A kernel whose connection comes back after a break
//  says `ready` again at once instead (protocol.md 12.2). Without the
//  watch (it cannot fail short of memory) the kernel is found at its next
//  beat, which the new broker answers with `reregister`.
static void
s_watch_dealer (monitor_t *self)
{
    void *handle = zsock_resolve (self->dealer);
    const char *endpoint = "inproc://kmq-monitor-dealer";
    if (zmq_socket_monitor (handle, endpoint,
                            ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED)) {
        zsys_warning ("%s: cannot watch the broker connection: %s", self->name,
                      zmq_strerror (zmq_errno ()));
        return;
    }
    self->dealer_events = zsock_new (ZMQ_PAIR);
    if (!self->dealer_events || zsock_connect (self->dealer_events, "%s", endpoint)) {
        zsys_warning ("%s: cannot watch the broker connection: %s", self->name,
                      zmq_strerror (zmq_errno ()));
        zmq_socket_monitor (handle, NULL, 0);
        zsock_destroy (&self->dealer_events);
    }
}

//  Reads what the watch saw: each event is two frames, the first a
//  16-bit event number and a 32-bit value (zmq_socket_monitor(3)).
static void
s_dealer_events (monitor_t *self)
{
    void *handle = zsock_resolve (self->dealer_events);
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frame);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size (&frame) >= sizeof event)
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
        while (zmq_msg_more (&frame)) {
            zmq_msg_close (&frame);
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, handle, 0) == -1)
                break;
        }
        zmq_msg_close (&frame);
        if (event == ZMQ_EVENT_DISCONNECTED)
            self->dealer_broken = true;
        else
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && self->dealer_broken) {
            self->dealer_broken = false;
            //  A broker that knows us ignores it; a new one takes us back
            //  without asking first (protocol.md 12.2)
            zsys_info ("%s: connected to the broker again; saying ready", self->name);
            s_send_ready (self, true);
        }
    }
}

//  The DEALER from now on: the one made early, or a new one.
static int
s_connect_dealer (monitor_t *self)
{
    const monitor_config_t *config = self->config;
    self->dealer = self->early_dealer? self->early_dealer: monitor_dealer_new (config);
    self->early_dealer = NULL;
    if (!self->dealer)
        return -1;
    int64_t now = zclock_mono ();
    //  The first beat at a point of the interval our pid picks: kernels
    //  started together (a pool refill) do not beat together ever after,
    //  as the broker answers each beat at once (protocol.md 7)
    int64_t ivl = s_beat_ivl (self);
    self->next_heartbeat = now + ivl / 2 + (ivl / 2) * (getpid () % 101) / 100;
    self->broker_heard = now;
    s_watch_dealer (self);
    return 0;
}

//  Called when the executor reported `ready`: connects to the broker and
//  tells it, passing on what the executor said of its sandbox. Until now
//  the kernel was invisible to the broker, so no request or interrupt can
//  reach a Python that is still starting. On failure the kernel stops.
void
monitor_connect (monitor_t *self, proto_msg_t *exec_ready)
{
    const char *applied = proto_msg_str (exec_ready, "sandbox");
    const char *missing = proto_msg_str (exec_ready, "sandbox_missing");
    monitor_cgroup_report (self, applied, missing, &self->sandbox, &self->sandbox_missing);
    if (!monitor_restore_begin (self))
        monitor_connect_now (self);
}

void
monitor_connect_now (monitor_t *self)
{
    if (s_connect_dealer (self)) {
        self->stop = true;
        self->exit_code = 1;
        return;
    }
    const char *missing = self->sandbox_missing;
    s_send_ready (self, false);
    zsys_info ("%s: executor %d ready (sandbox: %s%s%s); connected to %s",
               self->name, (int) self->exec.pid, self->sandbox? self->sandbox: "none",
               missing && *missing? "; missing: ": "", missing? missing: "",
               self->config->endpoint);
}

int
monitor_run (monitor_t *self)
{
    assert (self);
    //  The broker hears of this kernel once the executor is ready
    //  (monitor_connect); until then only the executor's fds are polled.
    while (!self->stop) {
        int stop_signal = self->snapshotting? 0: signal_pipe_stop_signal (self->signals);
        if (stop_signal == SIGTERM && self->config->snapshot_on_term
        &&  monitor_snapshot_begin (self, "stopped (SIGTERM)"))
            stop_signal = 0;
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
        zmq_pollitem_t items [8];
        int what [8] = { 0 };       //  S_ITEM_* or a pipe index (0, 1)
        int count = 0;
        items [count++] = (zmq_pollitem_t) { NULL, signal_pipe_fd (self->signals), ZMQ_POLLIN, 0 };
        //  Backpressure: while messages wait in the backlog (the queue to
        //  the broker was full), nothing is read from the executor (its output waits in the pipes, its next
        //  event for our ack), so a cell that floods a slow broker is slowed
        //  down instead of having its output dropped.
        s_flush_backlog (self);
        bool broker_full = self->dealer && zlist_size (self->backlog) > 0;
        int broker_item = -1;
        if (self->dealer) {
            broker_item = count;
            short events = ZMQ_POLLIN | (broker_full? ZMQ_POLLOUT: 0);
            items [count++] = (zmq_pollitem_t) { zsock_resolve (self->dealer), 0, events, 0 };
        }
        int watch_item = -1;
        if (self->dealer_events) {
            watch_item = count;
            items [count++] = (zmq_pollitem_t) { zsock_resolve (self->dealer_events), 0,
                                                 ZMQ_POLLIN, 0 };
        }
        int first_exec = count;
        short sock_events = (broker_full? 0: ZMQ_POLLIN)
                          | (monitor_exec_writing (self)? ZMQ_POLLOUT: 0);
        if (self->exec.sock >= 0 && sock_events) {
            what [count] = S_ITEM_SOCKET;
            items [count++] = (zmq_pollitem_t) { NULL, self->exec.sock, sock_events, 0 };
        }
        for (int i = 0; i < 2 && !broker_full; i++)
            if (self->pipes [i].fd >= 0) {
                what [count] = i;
                items [count++] = (zmq_pollitem_t) { NULL, self->pipes [i].fd, ZMQ_POLLIN, 0 };
            }
        //  A zygote's executor has no SIGCHLD here: its end comes as the
        //  zygote's `exited` event, and its pidfd turns readable.
        if (!self->exec_reaped) {
            if (self->exec.super_fd >= 0) {
                what [count] = S_ITEM_ZYGOTE;
                items [count++] = (zmq_pollitem_t) { NULL, self->exec.super_fd, ZMQ_POLLIN, 0 };
            }
            if (self->exec.pidfd >= 0) {
                what [count] = S_ITEM_PIDFD;
                items [count++] = (zmq_pollitem_t) { NULL, self->exec.pidfd, ZMQ_POLLIN, 0 };
            }
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
        if (watch_item >= 0 && items [watch_item].revents)
            s_dealer_events (self);
        //  Pipes before the socket: output comes ahead of its reply. Any
        //  revents counts, since a closed pipe reports POLLHUP alone.
        for (int i = first_exec; i < count && !self->stop; i++)
            if (items [i].revents && what [i] >= 0)
                monitor_exec_read_pipe (self, &self->pipes [what [i]], MONITOR_READS);
        for (int i = first_exec; i < count && !self->stop; i++)
            if (what [i] == S_ITEM_SOCKET) {
                if (items [i].revents & ZMQ_POLLOUT)
                    monitor_exec_flush (self);
                if (items [i].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
                    monitor_exec_input (self);
            }
        if (!self->stop)
            monitor_exec_check (self, zclock_mono ());
        if (!self->stop && broker_item >= 0 && (items [broker_item].revents & ZMQ_POLLIN))
            s_broker_input (self);
        if (!self->stop && (self->config->test_faults & TEST_FAULT_EXIT_BUSY)
        &&  self->req.busy && self->req.type == PROTO_EXECUTE) {
            zsys_warning ("%s: test fault exit_busy: exiting without a reply", self->name);
            self->stop = true;
            self->exit_code = 0;
        }
    }
    return self->exit_code;
}
