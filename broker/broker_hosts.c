/*  broker_hosts — the broker's side of the kernel hosts (protocol.md 12.1):
    registering them, placing kernels on them, hearing what their kernels
    did, losing a silent one, and starting the local host. Shares broker_t
    (broker_internal.h).                                                   */
#include "broker_internal.h"
#include "host_lock.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_HOST_PREFIX       "host:"
#define S_FINAL_REPLY_MS    200     //  wait for a dying kernel's last reply
#define S_LOCAL_BACKOFF_MS  1000    //  first wait before starting the local host again
#define S_LOCAL_BACKOFF_MAX 30000

//  --- sending --------------------------------------------------------------

static void
s_send_host (broker_t *self, zframe_t *route, zmsg_t **msg_p)
{
    zmsg_pushmem (*msg_p, zframe_data (route), zframe_size (route));
    if (zmsg_send (msg_p, self->backend))
        zmsg_destroy (msg_p);       //  gone: its silence will tell
}

static size_t
s_load (const char *id, void *arg)
{
    return session_table_on_host (((broker_t *) arg)->sessions, id);
}

int
broker_host_start_kernel (broker_t *self, session_t *session)
{
    const char *key = session_key (session);
    //  A session evicted with a snapshot goes back to the host that holds
    //  it when that host has room, and its kernel is told to restore
    const char *snapshot_host = (const char *) zhashx_lookup (self->snapshots, key);
    hosts_entry_t *host = snapshot_host? hosts_lookup (self->hosts, snapshot_host): NULL;
    if (host && s_load (host->id, self) >= hosts_capacity (host))
        host = NULL;
    if (!host)
        host = hosts_place (self->hosts, s_load, self);
    if (!host) {
        if (hosts_size (self->hosts) == 0)
            return -1;              //  waits; broker_hosts_check gives up on it
        char text [512];
        hosts_entry_t *bound = hosts_memory_bound (self->hosts, s_load, self);
        if (bound) {
            //  Its memory, not its max_sessions: say what would not fit
            snprintf (text, sizeof text, "session %s: kernel host %s is full: host "
                      "memory: %" PRIu64 " sessions × worst case %" PRIu64 " MiB would "
                      "exceed host_memory %" PRIu64 " MiB; raise host_memory or lower "
                      "memory_limit (and, without cgroups, work_quota and tmp_quota), "
                      "or close idle sessions", key, bound->id,
                      (uint64_t) s_load (bound->id, self) + 1, bound->worst_case >> 20,
                      bound->host_memory >> 20);
        }
        else
            snprintf (text, sizeof text, "session %s: every kernel host is full (%zu "
                      "sessions placed); close idle sessions, or start another kmq-host",
                      key, session_table_kernels (self->sessions));
        zsys_warning ("%s", text);
        broker_fail_queue (self, session, PROTO_E_SESSION_LIMIT, "every kernel host is full",
                           text);
        broker_forget_if_empty (self, session);
        return -1;
    }
    char kid [64];
    snprintf (kid, sizeof kid, "k%" PRIu64 "-%08lx", ++self->kernel_seq,
              (unsigned long) random () & 0xffffffffUL);
    const char *notice = session_state_lost (session);
    session_table_bind_kernel (self->sessions, session, kid, host->id, zclock_mono ());
    proto_builder_t *start = proto_builder_new (PROTO_START, ++self->host_seq, key);
    proto_builder_str (start, "kernel_id", kid);
    if (notice)
        proto_builder_str (start, "notice", notice);
    if (snapshot_host) {
        proto_builder_bool (start, "restore", true);
        zhashx_delete (self->snapshots, key);
    }
    zmsg_t *msg = proto_builder_finish (&start);
    s_send_host (self, host->route, &msg);
    zsys_info ("session %s: kernel %s starting on host %s%s", key, kid, host->id,
               notice? ", state lost": "");
    char text [512];
    snprintf (text, sizeof text, "a fresh kernel is starting for session %s%s%s", key,
              notice? "; ": "", notice? notice: "");
    broker_tell_attached (self, session, "kernel", "starting", text);
    return 0;
}

void
broker_host_stop_kernel (broker_t *self, const char *host, const char *session,
                         const char *kernel_id, uint64_t grace_ms)
{
    hosts_entry_t *entry = *host? hosts_lookup (self->hosts, host): NULL;
    if (!entry)
        return;                     //  the host is gone, and its kernels with it
    proto_builder_t *stop = proto_builder_new (PROTO_STOP, 0, session);
    proto_builder_str (stop, "kernel_id", kernel_id);
    proto_builder_uint (stop, "grace_ms", grace_ms);
    zmsg_t *msg = proto_builder_finish (&stop);
    s_send_host (self, entry->route, &msg);
}

void
broker_hosts_heartbeat (broker_t *self)
{
    zlistx_t *list = hosts_list (self->hosts);
    for (hosts_entry_t *host = (hosts_entry_t *) zlistx_first (list); host;
         host = (hosts_entry_t *) zlistx_next (list)) {
        zmsg_t *beat = proto_encode_heartbeat ();
        s_send_host (self, host->route, &beat);
    }
}

void
broker_hosts_shutdown (broker_t *self)
{
    zlistx_t *list = hosts_list (self->hosts);
    for (hosts_entry_t *host = (hosts_entry_t *) zlistx_first (list); host;
         host = (hosts_entry_t *) zlistx_next (list)) {
        zsys_info ("kernel host %s: asked to end its sessions and exit", host->id);
        zmsg_t *msg = proto_encode_simple (PROTO_SHUTDOWN, 0, NULL);
        s_send_host (self, host->route, &msg);
    }
}

//  --- what hosts say -------------------------------------------------------

//  How long a restarted broker waits for a host's kernels to come back:
//  each says `ready` on its next heartbeat, one interval away at most.
static int64_t
s_settle_ms (broker_t *self)
{
    return 3 * (int64_t) self->cfg->heartbeat_ivl_ms + 1000;
}

static void
s_host_ready (broker_t *self, const char *id, zframe_t *route, proto_msg_t *msg)
{
    int64_t now = zclock_mono ();
    uint64_t pid = proto_msg_uint (msg, "pid", 0);
    uint64_t running = proto_msg_uint (msg, "sessions", 0);
    uint64_t capacity = proto_msg_uint (msg, "max_sessions", 0);
    bool known = hosts_lookup (self->hosts, id) != NULL;
    hosts_entry_t *host = hosts_ready (self->hosts, id, route,
                                       pid <= INT32_MAX? (pid_t) pid: 0, capacity,
                                       running, now + s_settle_ms (self), now);
    host->memory_sessions = proto_msg_uint (msg, "memory_sessions", 0);
    host->worst_case = proto_msg_uint (msg, "worst_case", 0);
    host->host_memory = proto_msg_uint (msg, "host_memory", 0);
    zsys_info ("kernel host %s (pid %" PRIu64 "): %s, room for %" PRIu64 " sessions, "
               "%" PRIu64 " kernel%s running", id, pid, known? "registered again"
               : "registered", capacity, running, running == 1? "": "s");
    broker_dispatch_waiting (self);
}

//  The CPU use of host's kernels in its status (protocol.md 12.1): those
//  listed used CPU in its last interval; every other session of the host
//  used none.
static void
s_host_cpu (broker_t *self, hosts_entry_t *host, proto_msg_t *msg)
{
    const msgpack_object *cpu = proto_msg_object (msg, "cpu");
    if (!cpu || cpu->type != MSGPACK_OBJECT_ARRAY)
        return;
    double cpus = (double) proto_msg_uint (msg, "cpus", 1);
    for (session_t *s = session_table_first (self->sessions); s;
         s = session_table_next (self->sessions))
        if (streq (session_host (s), host->id) && session_cpu_s (s) >= 0)
            session_set_cpu (s, session_cpu_s (s), 0, 0);
    for (uint32_t i = 0; i < cpu->via.array.size; i++) {
        const msgpack_object *entry = &cpu->via.array.ptr [i];
        if (entry->type != MSGPACK_OBJECT_MAP)
            continue;
        char kid [64] = "";
        double cpu_s = -1, used = 0;
        for (uint32_t k = 0; k < entry->via.map.size; k++) {
            const msgpack_object *key = &entry->via.map.ptr [k].key;
            const msgpack_object *val = &entry->via.map.ptr [k].val;
            if (key->type != MSGPACK_OBJECT_STR)
                continue;
            double number = val->type == MSGPACK_OBJECT_FLOAT64
                         || val->type == MSGPACK_OBJECT_FLOAT32? val->via.f64
                          : val->type == MSGPACK_OBJECT_POSITIVE_INTEGER?
                            (double) val->via.u64: -1;
            if (key->via.str.size == 9 && !memcmp (key->via.str.ptr, "kernel_id", 9)
            &&  val->type == MSGPACK_OBJECT_STR && val->via.str.size < sizeof kid) {
                memcpy (kid, val->via.str.ptr, val->via.str.size);
                kid [val->via.str.size] = 0;
            }
            else
            if (key->via.str.size == 5 && !memcmp (key->via.str.ptr, "cpu_s", 5))
                cpu_s = number;
            else
            if (key->via.str.size == 4 && !memcmp (key->via.str.ptr, "cpus", 4))
                used = number;
        }
        session_t *session = *kid? session_table_by_kernel (self->sessions, kid): NULL;
        if (session && cpu_s >= 0 && used >= 0 && streq (session_host (session), host->id))
            session_set_cpu (session, cpu_s, used, cpus > 0? used / cpus: 0);
    }
}

static void
s_host_status (hosts_entry_t *host, proto_msg_t *msg)
{
    uint64_t zygote = proto_msg_uint (msg, "zygote_pid", 0);
    host->zygote_pid = zygote <= INT32_MAX? (pid_t) zygote: 0;
    host->zygote_restarts = proto_msg_uint (msg, "zygote_restarts", 0);
    host->pool_size = proto_msg_uint (msg, "pool_size", 0);
    host->running = proto_msg_uint (msg, "sessions", host->running);
}

//  The host's answer to `start`: the kernel's pid, or why it could not.
static void
s_start_reply (broker_t *self, hosts_entry_t *host, proto_msg_t *msg)
{
    const char *key = proto_msg_session (msg);
    const char *kid = proto_msg_str (msg, "kernel_id");
    session_t *session = kid? session_table_by_kernel (self->sessions, kid): NULL;
    if (!session || !streq (session_key (session), key)) {
        broker_debug (self, "kernel host %s: start reply for kernel %s, not ours now: "
                      "dropped", host->id, kid? kid: "(none)");
        return;
    }
    if (proto_msg_is_ok (msg)) {
        uint64_t pid = proto_msg_uint (msg, "pid", 0);
        if (!session_pid (session))
            session_set_pid (session, pid <= INT32_MAX? (pid_t) pid: 0);
        return;
    }
    const char *why = proto_msg_str (msg, "message");
    char cause [384];
    snprintf (cause, sizeof cause, "kernel host %s could not start it: %s", host->id,
              why? why: "no reason given");
    broker_kernel_lost (self, session, cause);
}

//  The host reaped one of its kernels.
static void
s_kernel_exited (broker_t *self, hosts_entry_t *host, proto_msg_t *msg)
{
    const char *kid = proto_msg_str (msg, "kernel_id");
    session_t *session = kid? session_table_by_kernel (self->sessions, kid): NULL;
    const char *how = proto_msg_str (msg, "cause");
    if (!how)
        how = "no cause given";
    if (!session) {
        zsys_info ("kernel %s (host %s): exited, %s", kid? kid: "?", host->id, how);
        return;
    }
    int status = (int) proto_msg_uint (msg, "exit_status", 0);
    bool exited_zero = WIFEXITED (status) && WEXITSTATUS (status) == 0;
    char cause [192];
    if (exited_zero)
        //  Per the contract a kernel exits 0 by itself only when its
        //  executor died
        snprintf (cause, sizeof cause, "the executor died (kernel process: %s)", how);
    else
        snprintf (cause, sizeof cause, "kernel process: %s", how);
    if (session_state (session) == SESSION_BUSY && exited_zero) {
        //  It sent (or was sending) its final reply, which may still be on
        //  its way (kernels talk to us directly, not through the host): the
        //  timers give it S_FINAL_REPLY_MS, so the client gets the
        //  monitor's own cause.
        session_table_kernel_exited (self->sessions, session, cause,
                                     zclock_mono () + S_FINAL_REPLY_MS);
        return;
    }
    broker_kernel_lost (self, session, cause);
}

void
broker_host_message (broker_t *self, zframe_t *route, proto_msg_t *msg)
{
    size_t prefix = strlen (S_HOST_PREFIX);
    char id [HOSTS_ID_MAX + 1] = "";
    size_t size = zframe_size (route);
    if (size > prefix && size - prefix <= HOSTS_ID_MAX)
        memcpy (id, zframe_data (route) + prefix, size - prefix);
    proto_type_t type = proto_msg_type (msg);
    hosts_entry_t *host = *id? hosts_lookup (self->hosts, id): NULL;
    if (type == PROTO_HOST_READY) {
        const char *said = proto_msg_str (msg, "host");
        if (*id && said && streq (said, id))
            s_host_ready (self, id, route, msg);
        else
            zsys_warning ("kernel host '%s': host_ready names host '%s': ignored",
                          id, said? said: "");
        return;
    }
    if (!host) {
        //  A host of a broker before us: who is it?
        zmsg_t *ask = proto_encode_simple (PROTO_REREGISTER, 0, NULL);
        s_send_host (self, route, &ask);
        return;
    }
    host->heard = zclock_mono ();
    switch (type) {
        case PROTO_HOST_STATUS:
            s_host_status (host, msg);
            s_host_cpu (self, host, msg);
            break;
        case PROTO_REPLY:         s_start_reply (self, host, msg); break;
        case PROTO_KERNEL_EXITED: s_kernel_exited (self, host, msg); break;
        default:
            zsys_warning ("kernel host %s sent %s, which hosts do not send", host->id,
                          proto_type_name (type));
    }
}

//  --- liveness, and the local host ----------------------------------------

//  A silent host is lost, and so is every kernel it ran.
static void
s_host_lost (broker_t *self, hosts_entry_t *host, int64_t silent_ms)
{
    char id [HOSTS_ID_MAX + 1];
    snprintf (id, sizeof id, "%s", host->id);
    zsys_warning ("kernel host %s (pid %d): silent for %" PRId64 " ms: lost, with its "
                  "%zu session kernel(s)", id, (int) host->pid, silent_ms,
                  session_table_on_host (self->sessions, id));
    hosts_remove (self->hosts, id);
    zlistx_t *list = session_table_list (self->sessions);
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list))
        if (streq (session_host (s), id))
            broker_kernel_lost (self, s, "host lost");
    zlistx_destroy (&list);
}

//  Starts path as a daemon: its own session, not our child (a grandchild
//  reparented to init), so it outlives us and we never reap it. Its output
//  goes where ours goes. Returns 0 or -1 (logged).
static int
s_spawn_detached (char **argv)
{
    pid_t pid = fork ();
    if (pid == -1) {
        zsys_error ("kmq-broker: fork for the kernel host: %s", strerror (errno));
        return -1;
    }
    if (pid == 0) {
        //  Only async-signal-safe calls from here on
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        signal (SIGPIPE, SIG_DFL);
        setsid ();
        if (fork () != 0)
            _exit (0);
        int null = open ("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2 (null, 0);
        execv (argv [0], argv);
        _exit (127);
    }
    int status;
    while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
        ;
    return 0;
}

//  The broker keeps a host serving its runtime dir (the setting host):
//  one registered as host_id, or one holding the dir's lock that will
//  register soon; else it starts one, backing off when they keep dying.
static void
s_local_host_check (broker_t *self, int64_t now)
{
    config_t *cfg = self->cfg;
    if (!cfg->host || now < self->next_local_host)
        return;
    self->next_local_host = now + (int64_t) cfg->heartbeat_ivl_ms;
    if (hosts_lookup (self->hosts, cfg->host_id))
        return;
    pid_t holder = host_lock_holder (cfg->runtime_dir);
    if (holder) {
        broker_debug (self, "kernel host pid %d serves %s: waiting for it to register",
                      (int) holder, cfg->runtime_dir);
        return;
    }
    if (self->local_host_starts)
        zsys_warning ("kmq-broker: no kernel host serves %s any more: starting %s again",
                      cfg->runtime_dir, cfg->host_path);
    char **argv = config_host_argv (cfg, cfg->host_path);
    if (s_spawn_detached (argv) == 0)
        zsys_info ("kmq-broker: started kernel host %s (%s)", cfg->host_id, cfg->host_path);
    mem_strv_destroy (&argv);
    int64_t backoff = S_LOCAL_BACKOFF_MS;
    for (uint64_t i = 1; i < self->local_host_starts && backoff < S_LOCAL_BACKOFF_MAX; i++)
        backoff *= 2;
    self->local_host_starts++;
    self->next_local_host = now + (backoff < S_LOCAL_BACKOFF_MAX? backoff
                                                                 : S_LOCAL_BACKOFF_MAX);
}

//  Requests that wait for a kernel while no host is connected get
//  KERNEL_DIED once none came for kernel_start_timeout_ms.
static void
s_no_host_check (broker_t *self, int64_t now)
{
    if (hosts_size (self->hosts) > 0
    ||  now - self->no_host_since < (int64_t) self->cfg->kernel_start_timeout_ms)
        return;
    char text [512];
    zlistx_t *list = session_table_list (self->sessions);
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list)) {
        if (session_state (s) != SESSION_DEAD || session_queued (s) == 0)
            continue;
        snprintf (text, sizeof text, "session %s: no kernel host is connected to this "
                  "broker; start kmq-host with --backend %s (or run the broker with "
                  "--host true)", session_key (s), self->cfg->backend);
        zsys_error ("%s", text);
        broker_fail_queue (self, s, PROTO_E_KERNEL_DIED, "no kernel host is connected", text);
        broker_forget_if_empty (self, s);
    }
    zlistx_destroy (&list);
}

void
broker_hosts_check (broker_t *self, int64_t now)
{
    int64_t silent_max = (int64_t) (self->cfg->heartbeat_ivl_ms
                                    * self->cfg->heartbeat_liveness);
    zlistx_t *list = hosts_list (self->hosts);
    hosts_entry_t *host = (hosts_entry_t *) zlistx_first (list);
    while (host) {
        if (now - host->heard <= silent_max) {
            host = (hosts_entry_t *) zlistx_next (list);
            continue;
        }
        s_host_lost (self, host, now - host->heard);
        host = (hosts_entry_t *) zlistx_first (list);   //  the list changed
        if (hosts_size (self->hosts) == 0)
            self->no_host_since = now;
    }
    s_local_host_check (self, now);
    s_no_host_check (self, now);
}

bool
broker_hosts_settling (broker_t *self, int64_t now)
{
    if (hosts_settling (self->hosts, now))
        return true;
    //  Just (re)started with no host yet: those of a broker before us say
    //  who they are within a heartbeat
    return hosts_size (self->hosts) == 0 && now - self->started_at < s_settle_ms (self);
}

//  --- stats ----------------------------------------------------------------

void
broker_hosts_stats (broker_t *self, proto_builder_t *builder)
{
    zlistx_t *list = hosts_list (self->hosts);
    hosts_entry_t *zygote_host = NULL;
    proto_builder_key (builder, "hosts");
    proto_builder_val_array (builder, (uint32_t) zlistx_size (list));
    for (hosts_entry_t *host = (hosts_entry_t *) zlistx_first (list); host;
         host = (hosts_entry_t *) zlistx_next (list)) {
        proto_builder_val_map (builder, 6);
        proto_builder_val_str (builder, "host");
        proto_builder_val_str (builder, host->id);
        proto_builder_val_str (builder, "pid");
        proto_builder_val_uint (builder, (uint64_t) host->pid);
        proto_builder_val_str (builder, "sessions");
        proto_builder_val_uint (builder, session_table_on_host (self->sessions, host->id));
        proto_builder_val_str (builder, "kernels");
        proto_builder_val_uint (builder, host->running);
        proto_builder_val_str (builder, "max_sessions");
        proto_builder_val_uint (builder, host->max_sessions);
        proto_builder_val_str (builder, "zygote_pid");
        proto_builder_val_uint (builder, (uint64_t) host->zygote_pid);
        if (host->zygote_pid && (!zygote_host || streq (host->id, self->cfg->host_id)))
            zygote_host = host;
    }
    if (!zygote_host)
        return;
    //  The local host's zygote (or the first host's), as before hosts
    proto_builder_key (builder, "zygote");
    proto_builder_val_map (builder, 4);
    proto_builder_val_str (builder, "pid");
    proto_builder_val_uint (builder, (uint64_t) zygote_host->zygote_pid);
    proto_builder_val_str (builder, "restarts");
    proto_builder_val_uint (builder, zygote_host->zygote_restarts);
    proto_builder_val_str (builder, "pool_size");
    proto_builder_val_uint (builder, zygote_host->pool_size);
    proto_builder_val_str (builder, "host");
    proto_builder_val_str (builder, zygote_host->id);
}
