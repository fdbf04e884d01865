/*  host — kmq-host's loop (see host.h).

    One thread. The loop polls the DEALER to the broker and a signal pipe
    (SIGCHLD reaps, SIGTERM/SIGINT stop); its timeout is the next timer:
    the host's heartbeat (host_status), the broker's silence, the zygote's
    restart, a lingering kernel's SIGKILL.
*/
#include "host.h"
#include "cgroup.h"
#include "host_ids.h"
#include "host_kernels.h"
#include "host_memory.h"
#include "host_lock.h"
#include "kernel_proc.h"
#include "keys.h"
#include "mem.h"
#include "proto.h"
#include "signal_pipe.h"
#include "snapshot_store.h"
#include "zygote_proc.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_SWEEP_MS 60000             //  how often expired snapshots are removed
#define S_BURST  256                //  broker messages per wakeup
#define S_CPU_MAX 4096              //  kernels whose CPU use one host_status carries

struct _host_t {
    config_t *cfg;                  //  borrowed
    int lock_fd;
    char *work_root;                //  <runtime_dir>/work
    host_kernels_t *kernels;
    zygote_proc_t *zygote;          //  NULL when the setting zygote is off
    zsock_t *dealer;                //  to the broker's backend
    signal_pipe_t *signals;
    int64_t next_status;            //  when our next heartbeat goes
    int64_t broker_heard;           //  the broker's last valid message
    bool broker_lost;               //  silent past the patience
    bool ending;                    //  shutdown or grace over: kernels end, then we exit
    int64_t give_up;                //  while ending: exit even if kernels linger
    int64_t next_sweep;             //  of expired snapshots
    cgroup_host_t *cgroups;         //  NULL: no control groups (cgroup.h)
    uint64_t budget;                //  host_memory, derived (host_memory.h)
    uint64_t worst_case;            //  a session's, in this mode; 0 = unbounded
    uint64_t memory_sessions;       //  admission bound; 0 = none
    host_kernel_cpu_t *cpu;         //  S_CPU_MAX samples for host_status
};

static int64_t
s_patience (host_t *self)
{
    return (int64_t) (self->cfg->heartbeat_ivl_ms * self->cfg->heartbeat_liveness);
}

static int64_t
s_grace (host_t *self)
{
    int64_t grace = (int64_t) self->cfg->broker_grace_s * 1000;
    return grace > s_patience (self)? grace: s_patience (self);
}

//  --- talking to the broker ---------------------------------------------

static void
s_send (host_t *self, zmsg_t **msg_p)
{
    if (zmsg_send (msg_p, self->dealer))
        zmsg_destroy (msg_p);       //  queue full or no broker: its timers cope
}

static void
s_send_status (host_t *self)
{
    proto_builder_t *status = proto_builder_new (PROTO_HOST_STATUS, 0, NULL);
    proto_builder_str (status, "host", self->cfg->host_id);
    proto_builder_uint (status, "sessions", host_kernels_count (self->kernels));
    if (self->zygote) {
        proto_builder_uint (status, "zygote_pid", (uint64_t) zygote_proc_pid (self->zygote));
        proto_builder_uint (status, "zygote_restarts", zygote_proc_restarts (self->zygote));
        proto_builder_uint (status, "pool_size", self->cfg->pool_size);
    }
    //  Each kernel's CPU use since the last status, from its group: only
    //  those that used any (an idle host's status stays small)
    size_t used = host_kernels_cpu (self->kernels, zclock_mono (), self->cpu, S_CPU_MAX);
    if (self->cgroups) {
        long cpus = sysconf (_SC_NPROCESSORS_ONLN);
        proto_builder_uint (status, "cpus", cpus > 0? (uint64_t) cpus: 1);
        proto_builder_key (status, "cpu");
        proto_builder_val_array (status, (uint32_t) used);
        for (size_t i = 0; i < used; i++) {
            proto_builder_val_map (status, 3);
            proto_builder_val_str (status, "kernel_id");
            proto_builder_val_str (status, self->cpu [i].kernel_id);
            proto_builder_val_str (status, "cpu_s");
            proto_builder_val_float (status, self->cpu [i].cpu_s);
            proto_builder_val_str (status, "cpus");
            proto_builder_val_float (status, self->cpu [i].cpus);
        }
    }
    zmsg_t *msg = proto_builder_finish (&status);
    s_send (self, &msg);
}

static void
s_send_ready (host_t *self)
{
    proto_builder_t *ready = proto_builder_new (PROTO_HOST_READY, 0, NULL);
    proto_builder_str (ready, "host", self->cfg->host_id);
    proto_builder_uint (ready, "pid", (uint64_t) getpid ());
    proto_builder_uint (ready, "version", PROTO_VERSION);
    proto_builder_uint (ready, "max_sessions", self->cfg->host_max_sessions);
    proto_builder_uint (ready, "sessions", host_kernels_count (self->kernels));
    proto_builder_str (ready, "cgroup", !self->cgroups? "none"
                       : cgroup_host_mode (self->cgroups) == CGROUP_V2? "v2": "v1");
    proto_builder_uint (ready, "host_memory", self->budget);
    proto_builder_uint (ready, "worst_case", self->worst_case);
    proto_builder_uint (ready, "memory_sessions", self->memory_sessions);
    zmsg_t *msg = proto_builder_finish (&ready);
    s_send (self, &msg);
    s_send_status (self);           //  the zygote's pid, without waiting a beat
}

//  The broker's `start`: spawn the session's kernel, answer with its pid.
static void
s_on_start (host_t *self, proto_msg_t *msg)
{
    const char *session = proto_msg_session (msg);
    const char *kernel_id = proto_msg_str (msg, "kernel_id");
    const char *notice = proto_msg_str (msg, "notice");
    uint64_t id = proto_msg_id (msg);
    char why [384];
    pid_t pid = -1;
    proto_error_t code = PROTO_E_INTERNAL;
    //  The kernel id names its work dir: nothing but a plain name
    if (!kernel_id || !*kernel_id || strlen (kernel_id) > 63
    ||  strspn (kernel_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                           "0123456789-") != strlen (kernel_id)) {
        snprintf (why, sizeof why, "start: kernel_id must be 1-63 of [A-Za-z0-9-]");
        kernel_id = "";
        code = PROTO_E_BAD_REQUEST;
    }
    else
    if (host_kernels_count (self->kernels) >= self->cfg->host_max_sessions) {
        snprintf (why, sizeof why, "kernel host %s is full (%" PRIu64 " kernels, its "
                  "host_max_sessions)", self->cfg->host_id, self->cfg->host_max_sessions);
        code = PROTO_E_SESSION_LIMIT;
    }
    else
    if (self->memory_sessions
    &&  host_kernels_count (self->kernels) >= self->memory_sessions) {
        //  The broker places by the same bound; this holds it against a
        //  broker that did not
        host_memory_refusal (host_kernels_count (self->kernels) + 1, self->worst_case,
                             self->budget, why, sizeof why);
        code = PROTO_E_SESSION_LIMIT;
    }
    else
        pid = host_kernels_start (self->kernels, session, kernel_id, notice,
                                  proto_msg_bool (msg, "restore", false),
                                  self->zygote? zygote_proc_socket (self->zygote): NULL,
                                  why, sizeof why);
    zmsg_t *reply;
    if (pid > 0) {
        zsys_info ("session %s: kernel %d started (%s)%s", session, (int) pid, kernel_id,
                   notice? ", state lost": "");
        proto_builder_t *ok = proto_reply_ok_begin (id, session);
        proto_builder_uint (ok, "pid", (uint64_t) pid);
        proto_builder_str (ok, "kernel_id", kernel_id);
        reply = proto_builder_finish (&ok);
    }
    else {
        zsys_error ("session %s: %s", session, why);
        proto_builder_t *error = proto_reply_error_begin (id, session, code, why);
        proto_builder_str (error, "kernel_id", kernel_id);
        reply = proto_builder_finish (&error);
    }
    s_send (self, &reply);
}

//  Ends every kernel, then the host. Graceful (a signal, a broker gone past
//  its grace): SIGTERM, so each kernel snapshots its session when
//  snapshots are on, and the wait allows for it. Not graceful (the
//  broker's shutdown, which closed the sessions first): SIGKILL after the
//  grace to whatever still runs.
static void
s_end_all (host_t *self, const char *why, bool graceful)
{
    if (self->ending)
        return;
    zsys_info ("kmq-host %s: %s; ending %zu kernel%s%s", self->cfg->host_id, why,
               host_kernels_count (self->kernels),
               host_kernels_count (self->kernels) == 1? "": "s",
               graceful && self->cfg->snapshot? " (each snapshots its session)": "");
    self->ending = true;
    int64_t now = zclock_mono ();
    uint64_t grace = self->cfg->kill_grace_ms
                   + (graceful && self->cfg->snapshot? KERNEL_CONTRACT_SNAPSHOT_MS: 0);
    host_kernels_stop_all (self->kernels, grace, graceful, now);
    self->give_up = now + (int64_t) grace + 5000;
    if (graceful)
        return;     //  its executors take their snapshots: host_destroy ends it
    pid_t zygote = self->zygote? zygote_proc_release (self->zygote): 0;
    if (zygote > 0 && kernel_proc_signal (zygote, SIGTERM, false) && errno != ESRCH)
        zsys_warning ("zygote: kill -TERM %d: %s", (int) zygote, strerror (errno));
}

static void
s_broker_input (host_t *self)
{
    for (int count = 0; count < S_BURST; count++) {
        zmsg_t *raw = zmsg_recv (self->dealer);
        if (!raw)
            break;
        proto_fault_t fault;
        proto_msg_t *msg = proto_decode (&raw, &fault);
        if (!msg) {
            zsys_warning ("kmq-host %s: dropped a malformed message from the broker: %s",
                          self->cfg->host_id, fault.text);
            continue;
        }
        self->broker_heard = zclock_mono ();
        if (self->broker_lost) {
            zsys_info ("kmq-host %s: the broker answers again", self->cfg->host_id);
            self->broker_lost = false;
        }
        switch (proto_msg_type (msg)) {
            case PROTO_HEARTBEAT:
                break;
            case PROTO_REREGISTER:
                zsys_info ("kmq-host %s: a new broker asks who we are",
                           self->cfg->host_id);
                s_send_ready (self);
                break;
            case PROTO_START:
                if (!self->ending)
                    s_on_start (self, msg);
                break;
            case PROTO_STOP: {
                const char *kernel_id = proto_msg_str (msg, "kernel_id");
                if (kernel_id)
                    host_kernels_stop (self->kernels, kernel_id,
                                       proto_msg_uint (msg, "grace_ms", 0), zclock_mono ());
                break;
            }
            case PROTO_SHUTDOWN:
                s_end_all (self, "the broker asked it to shut down", false);
                break;
            default:
                zsys_warning ("kmq-host %s: dropped an unexpected %s from the broker",
                              self->cfg->host_id, proto_type_name (proto_msg_type (msg)));
        }
        proto_msg_destroy (&msg);
    }
}

//  --- children -------------------------------------------------------------

static void
s_reap (host_t *self)
{
    int status;
    pid_t pid;
    while ((pid = kernel_proc_reap (&status)) > 0) {
        if (self->zygote && zygote_proc_exited (self->zygote, pid, status, zclock_mono ()))
            continue;
        host_kernel_exit_t exit;
        if (!host_kernels_reaped (self->kernels, pid, status, &exit))
            continue;
        zsys_info ("kernel %d (%s, session %s): exited, %s", (int) pid, exit.kernel_id,
                   exit.session, exit.cause);
        proto_builder_t *builder = proto_builder_new (PROTO_KERNEL_EXITED, 0, exit.session);
        proto_builder_str (builder, "kernel_id", exit.kernel_id);
        proto_builder_uint (builder, "pid", (uint64_t) pid);
        proto_builder_str (builder, "cause", exit.cause);
        proto_builder_uint (builder, "exit_status", (uint64_t) (unsigned) status);
        zmsg_t *msg = proto_builder_finish (&builder);
        s_send (self, &msg);
    }
}

//  --- timers ---------------------------------------------------------------

//  Runs what is due; returns ms until the next timer.
static int64_t
s_timers (host_t *self)
{
    int64_t now = zclock_mono ();
    if (now >= self->next_status) {
        s_send_status (self);
        self->next_status = now + (int64_t) self->cfg->heartbeat_ivl_ms;
    }
    if (self->cfg->snapshot && now >= self->next_sweep) {
        size_t gone = snapshot_store_sweep (self->cfg->state_dir, self->cfg->snapshot_ttl_s,
                                            time (NULL));
        if (gone)
            zsys_info ("kmq-host %s: removed %zu snapshot%s past snapshot_ttl_s",
                       self->cfg->host_id, gone, gone == 1? "": "s");
        self->next_sweep = now + S_SWEEP_MS;
    }
    int64_t silence = now - self->broker_heard;
    if (!self->ending && silence >= s_grace (self))
        s_end_all (self, "the broker has been silent past broker_grace_s", true);
    else
    if (!self->broker_lost && silence >= s_patience (self)) {
        zsys_warning ("kmq-host %s: the broker is silent; keeping its sessions for "
                      "%" PRIu64 " s in case it comes back", self->cfg->host_id,
                      self->cfg->broker_grace_s);
        self->broker_lost = true;
    }
    int64_t next = self->next_status - now;
    if (!self->ending) {
        int64_t lost_at = self->broker_heard + (self->broker_lost? s_grace (self)
                                                                 : s_patience (self));
        if (lost_at - now < next)
            next = lost_at - now;
    }
    int64_t due = host_kernels_tick (self->kernels, now);
    if (due >= 0 && due < next)
        next = due;
    if (self->zygote && !self->ending) {
        due = zygote_proc_tick (self->zygote, now);
        if (due >= 0 && due < next)
            next = due;
    }
    return next < 0? 0: next;
}

//  --- lifecycle ------------------------------------------------------------

//  The host's control groups and its memory promise (host_memory.h),
//  said once in the log: what holds each session, and how many fit.
static void
s_resources (host_t *self)
{
    config_t *cfg = self->cfg;
    size_t cleaned = 0;
    char why [1024];
    self->cgroups = cgroup_host_new (cfg->cgroup, cfg->host_id, &cleaned, why, sizeof why);
    if (cleaned)
        zsys_info ("kmq-host %s: removed %zu control group%s left by kernel hosts that "
                   "are gone", cfg->host_id, cleaned, cleaned == 1? "": "s");
    self->budget = host_memory_budget (cfg, host_memory_total ());
    self->worst_case = host_memory_worst_case (cfg, self->cgroups != NULL);
    if (self->cgroups) {
        char reason [512];
        if (cgroup_host_limit (self->cgroups, self->budget, reason, sizeof reason))
            zsys_warning ("kmq-host %s: cannot cap its sessions at host_memory: %s",
                          cfg->host_id, reason);
        zsys_info ("kmq-host %s: executors run in %s; a session holds at most "
                   "memory_limit %" PRIu64 " MiB (heap, tmpfs and page cache together), "
                   "all of them host_memory %" PRIu64 " MiB", cfg->host_id,
                   cgroup_host_describe (self->cgroups), cfg->memory_limit >> 20,
                   self->budget >> 20);
        if (cfg->memory_limit == 0)
            zsys_warning ("kmq-host %s: memory_limit 0: no session has a limit of its "
                          "own, only host_memory for all", cfg->host_id);
        return;
    }
    self->memory_sessions = host_memory_sessions (self->budget, self->worst_case);
    if (self->memory_sessions)
        zsys_warning ("kmq-host %s: no control groups (%s): admission control only: a "
                      "session's worst case is %" PRIu64 " MiB (memory_limit + work_quota + "
                      "tmp_quota + /dev/shm), so %" PRIu64 " sessions fit in host_memory %"
                      PRIu64 " MiB", cfg->host_id, why, self->worst_case >> 20,
                      self->memory_sessions, self->budget >> 20);
    else
        zsys_warning ("kmq-host %s: no control groups (%s), and memory_limit 0: nothing "
                      "bounds a session's memory; set memory_limit", cfg->host_id, why);
    if (cfg->cpu_quota > 0)
        zsys_warning ("kmq-host %s: cpu_quota %g needs a control group: not enforced",
                      cfg->host_id, cfg->cpu_quota);
}

//  Over a tcp backend the host and its kernels show the broker this
//  machine's host key (keys.h), made on first use: the broker must have it
//  in its hosts/ allowlist. The kernels find it through the environment.
static int
s_trust (host_t *self, const config_t *cfg)
{
    setenv ("KMQ_CONFIG_DIR", cfg->config_dir, 1);
    if (cfg->insecure)
        setenv ("KMQ_INSECURE", "1", 1);
    if (!keys_endpoint_needs_curve (cfg->backend))
        return 0;
    if (cfg->insecure) {
        zsys_warning ("kmq-host: --insecure: the tcp backend %s is used without CURVE",
                      cfg->backend);
        return 0;
    }
    char error [512];
    const char *note = NULL;
    if (keys_dir_ensure (cfg->config_dir, error, sizeof error) == 0) {
        bool created = false;
        zcert_t *cert = keys_cert_ensure (cfg->config_dir, "host", &created, error,
                                          sizeof error);
        if (cert && created)
            zsys_info ("kmq-host %s: created this host's key %s (%s/host.key); the "
                       "broker's owner allows it with: kmq keys allow --host %s/host.key",
                       cfg->host_id, zcert_public_txt (cert), cfg->config_dir,
                       cfg->config_dir);
        bool ok = cert != NULL;
        zcert_destroy (&cert);
        if (ok && keys_apply (self->dealer, cfg->backend, cfg->config_dir, "host", &note,
                              error, sizeof error) == 0) {
            if (note) {
                zsys_error ("kmq-host %s: %s: copy the broker's broker.key to %s "
                            "(or run both with --insecure)", cfg->host_id, note,
                            cfg->config_dir);
                return -1;
            }
            return 0;
        }
    }
    zsys_error ("kmq-host %s: %s", cfg->host_id, error);
    return -1;
}

host_t *
host_new (config_t *cfg, bool *already)
{
    assert (cfg && already);
    *already = false;
    host_t *self = (host_t *) zmalloc (sizeof (host_t));
    self->cfg = cfg;
    self->lock_fd = -1;
    if (mkdir (cfg->runtime_dir, 0700) == -1 && errno != EEXIST) {
        zsys_error ("kmq-host: mkdir %s: %s (create its parent or choose another "
                    "--runtime-dir)", cfg->runtime_dir, strerror (errno));
        goto fail;
    }
    self->lock_fd = host_lock_acquire (cfg->runtime_dir);
    if (self->lock_fd == -1) {
        *already = errno == EWOULDBLOCK;
        if (*already)
            zsys_info ("kmq-host: a kernel host already serves %s", cfg->runtime_dir);
        else
            zsys_error ("kmq-host: %s/host.lock: %s", cfg->runtime_dir, strerror (errno));
        goto fail;
    }
    self->work_root = mem_sprintf ("%s/work", cfg->runtime_dir);
    if (mkdir (self->work_root, 0700) == -1 && errno != EEXIST) {
        zsys_error ("kmq-host: mkdir %s: %s", self->work_root, strerror (errno));
        goto fail;
    }
    if (cfg->snapshot && snapshot_store_prepare (cfg->state_dir)) {
        zsys_error ("kmq-host: state_dir %s: %s (a private directory of ours is needed "
                    "for snapshots; or set snapshot = false)", cfg->state_dir,
                    strerror (errno));
        goto fail;
    }
    const char *subids [] = { "/etc/subuid", "/etc/subgid", NULL };
    char why [768];
    if (host_ids_check (cfg->executor_uid_base, cfg->executor_uid_count,
                        "/proc/sys/kernel/pid_max", subids, why, sizeof why)) {
        zsys_error ("kmq-host: %s", why);
        goto fail;
    }
    s_resources (self);
    self->kernels = host_kernels_new (cfg, self->work_root, self->cgroups);
    self->cpu = (host_kernel_cpu_t *) zmalloc (S_CPU_MAX * sizeof (host_kernel_cpu_t));
    self->signals = signal_pipe_new ("kmq-host");
    if (!self->signals)
        goto fail;
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        goto fail;
    char identity [128];
    snprintf (identity, sizeof identity, "host:%s", cfg->host_id);
    zmq_setsockopt (zsock_resolve (self->dealer), ZMQ_ROUTING_ID, identity, strlen (identity));
    zsock_set_linger (self->dealer, 0);
    zsock_set_rcvtimeo (self->dealer, 0);
    zsock_set_sndtimeo (self->dealer, 0);
    int hwm = (int) config_backend_hwm (cfg->host_max_sessions);
    zsock_set_sndhwm (self->dealer, hwm);
    zsock_set_rcvhwm (self->dealer, hwm);
    if (s_trust (self, cfg))
        goto fail;
    if (zsock_connect (self->dealer, "%s", cfg->backend)) {
        zsys_error ("kmq-host: connect to %s: %s", cfg->backend, zmq_strerror (zmq_errno ()));
        goto fail;
    }
    if (cfg->zygote) {
        self->zygote = zygote_proc_new (cfg, cfg->runtime_dir);
        zygote_proc_set_spares (self->zygote, host_kernels_spares (self->kernels));
        zygote_proc_start (self->zygote, zclock_mono ());
    }
    int64_t now = zclock_mono ();
    self->broker_heard = now;
    self->next_status = now + (int64_t) cfg->heartbeat_ivl_ms;
    s_send_ready (self);
    zsys_info ("kmq-host %s: serving %s (runtime dir %s, up to %" PRIu64 " sessions)",
               cfg->host_id, cfg->backend, cfg->runtime_dir, cfg->host_max_sessions);
    return self;
fail:
    host_destroy (&self);
    return NULL;
}

int
host_run (host_t *self)
{
    assert (self);
    int rc = 0;
    while (true) {
        int stop = signal_pipe_stop_signal (self->signals);
        if (stop && !self->ending)
            s_end_all (self, strsignal (stop), true);
        if (self->ending && (host_kernels_count (self->kernels) == 0
                             || zclock_mono () >= self->give_up))
            break;
        long wait = (long) s_timers (self);
        zmq_pollitem_t items [] = {
            { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 },
            { NULL, signal_pipe_fd (self->signals), ZMQ_POLLIN, 0 },
        };
        if (zmq_poll (items, 2, wait) == -1 && zmq_errno () != EINTR) {
            zsys_error ("kmq-host: zmq_poll: %s", zmq_strerror (zmq_errno ()));
            rc = -1;
            break;
        }
        if (items [1].revents)
            signal_pipe_drain (self->signals);
        if (items [0].revents)
            s_broker_input (self);
        s_reap (self);
    }
    return rc;
}

void
host_destroy (host_t **self_p)
{
    assert (self_p);
    host_t *self = *self_p;
    if (!self)
        return;
    if (self->kernels && host_kernels_count (self->kernels) > 0) {
        //  Whatever is left: SIGKILL, and reap what goes
        host_kernels_stop_all (self->kernels, 0, false, zclock_mono ());
        int64_t give_up = zclock_mono () + 2000;
        while (host_kernels_count (self->kernels) > 0 && zclock_mono () < give_up) {
            s_reap (self);
            zclock_sleep (10);
        }
    }
    pid_t zygote = self->zygote? zygote_proc_release (self->zygote): 0;
    if (zygote > 0)
        kernel_proc_signal (zygote, SIGKILL, false);
    zygote_proc_destroy (&self->zygote);
    host_kernels_destroy (&self->kernels);
    cgroup_host_destroy (&self->cgroups);
    free (self->cpu);
    zsock_destroy (&self->dealer);
    signal_pipe_destroy (&self->signals);
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    free (self->work_root);
    free (self);
    *self_p = NULL;
}
