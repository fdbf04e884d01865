/*  broker_kernel — the broker's side of the kernel contract: starting
    kernels, routing to and from them, their deaths, the timers, and the
    runtime directory they live in. Shares broker_t with broker.c.        */
#include "broker_internal.h"
#include "mem.h"
#include "kernel_proc.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_HOUSEKEEPING_MS   100     //  liveness, start timeouts, kill deadlines
#define S_IDLE_CHECK_MS     1000    //  idle eviction
#define S_FINAL_REPLY_MS    200     //  wait for a dying kernel's last reply

//  --- files --------------------------------------------------------------

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    if (remove (path) && errno != ENOENT)
        zsys_warning ("kmq-broker: cannot remove %s: %s", path, strerror (errno));
    return 0;                   //  carry on with the rest
}

static void
s_remove_tree (const char *path)
{
    struct stat st;
    if (lstat (path, &st))
        return;
    nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
s_remove_work_dir (broker_t *self, const char *kernel_id)
{
    if (!*kernel_id)
        return;
    //  The kernel removes its own; this catches kernels that were killed
    char *path = mem_sprintf ("%s/%s", self->work_root, kernel_id);
    s_remove_tree (path);
    zstr_free (&path);
}

int
broker_runtime_dir_create (broker_t *self)
{
    const char *dir = self->cfg->runtime_dir;
    if (mkdir (dir, 0700) == 0)
        self->runtime_dir_ours = true;
    else
    if (errno == EEXIST) {
        struct stat st;
        if (lstat (dir, &st) || !S_ISDIR (st.st_mode) || st.st_uid != getuid ()) {
            zsys_error ("kmq-broker: runtime dir %s exists but is not a directory of "
                        "ours; choose another --runtime-dir", dir);
            return -1;
        }
    }
    else {
        zsys_error ("kmq-broker: mkdir %s: %s (create its parent or choose another "
                    "--runtime-dir)", dir, strerror (errno));
        return -1;
    }
    self->runtime_dir = mem_strdup (dir);
    self->work_root = mem_sprintf ("%s/work", dir);
    if (mkdir (self->work_root, 0700) && errno != EEXIST) {
        zsys_error ("kmq-broker: mkdir %s: %s", self->work_root, strerror (errno));
        return -1;
    }
    return 0;
}

void
broker_runtime_dir_remove (broker_t *self)
{
    if (!self->runtime_dir)
        return;
    if (self->runtime_dir_ours) {
        s_remove_tree (self->runtime_dir);
        return;
    }
    //  Someone else's directory: remove only what we put there
    if (self->work_root)
        s_remove_tree (self->work_root);
    char *zsock = mem_sprintf ("%s/zygote.sock", self->runtime_dir);
    unlink (zsock);
    zstr_free (&zsock);
    const char *backend = self->cfg->backend;
    size_t len = strlen (self->runtime_dir);
    if (strncmp (backend, "ipc://", 6) == 0
    &&  strncmp (backend + 6, self->runtime_dir, len) == 0)
        unlink (backend + 6);
    rmdir (self->runtime_dir);
}

//  --- the zygote ---------------------------------------------------------

int
broker_zygote_start (broker_t *self)
{
    if (!self->cfg->zygote)
        return 0;
    if (!self->zygote)
        self->zygote = zygote_proc_new (self->cfg, self->runtime_dir);
    return zygote_proc_start (self->zygote, zclock_mono ());
}

//  --- doomed kernels --------------------------------------------------

//  A kernel to SIGKILL at kill_at (0 = signalled already) and reap. pid 0
//  (a kernel already reaped) needs neither: only its work dir goes.
static void
s_doomed_add (broker_t *self, pid_t pid, const char *kernel_id, int64_t kill_at)
{
    if (pid <= 0) {
        s_remove_work_dir (self, kernel_id);
        return;
    }
    broker_doomed_t *doomed = (broker_doomed_t *) zmalloc (sizeof *doomed);
    doomed->pid = pid;
    snprintf (doomed->kernel_id, sizeof doomed->kernel_id, "%s", kernel_id);
    doomed->kill_at = kill_at;
    zlistx_add_end (self->doomed, doomed);
}

static void
s_kill (pid_t pid)
{
    if (pid <= 0)
        return;                 //  reaped already; 0 would be our own group
    if (kernel_proc_signal (pid, SIGKILL, true) && errno != ESRCH)
        zsys_warning ("kmq-broker: kill %d: %s", (int) pid, strerror (errno));
}

void
broker_kernel_retire (broker_t *self, session_t *session, bool send_close)
{
    pid_t pid = session_pid (session);
    char kid [64];
    snprintf (kid, sizeof kid, "%s", session_kernel_id (session));
    session_state_t state = session_state (session);
    if (send_close && (state == SESSION_IDLE || state == SESSION_BUSY)) {
        //  The kernel stops its executor, removes its work dir, exits 0
        zmsg_t *msg = proto_encode_simple (PROTO_CLOSE, 0, session_key (session));
        broker_send_kernel (self, session, &msg);
    }
    else
    if (pid > 0 && kernel_proc_signal (pid, SIGTERM, false) && errno != ESRCH)
        zsys_warning ("session %s: kill -TERM %d: %s", session_key (session), (int) pid,
                      strerror (errno));
    if (pid > 0) {
        int64_t kill_at = zclock_mono () + (int64_t) self->cfg->kill_grace_ms;
        s_doomed_add (self, pid, kid, kill_at);
    }
    session_table_unbind_kernel (self->sessions, session);
}

//  --- starting and feeding kernels ---------------------------------------

//  A session whose kernel never came up, with nothing to keep (no state,
//  no clients, nothing queued), is forgotten so failures don't fill the
//  table. Callers must not use session afterwards.
static void
s_forget_if_empty (broker_t *self, session_t *session)
{
    if (session_state (session) == SESSION_DEAD && session_queued (session) == 0
    &&  !session_inflight (session) && !session_state_lost (session)
    &&  session_answered (session) == 0 && zlistx_size (session_attached (session)) == 0)
        session_table_remove (self->sessions, &session, NULL);
}

//  Starts a kernel for session. Returns 0, or -1 after answering the
//  session's queued requests with KERNEL_DIED (the session may then be
//  gone).
static int
s_kernel_start (broker_t *self, session_t *session)
{
    config_t *cfg = self->cfg;
    const char *key = session_key (session);
    char kid [64], work [PATH_MAX];
    snprintf (kid, sizeof kid, "k%" PRIu64 "-%08lx", ++self->kernel_seq,
              (unsigned long) random () & 0xffffffffUL);
    snprintf (work, sizeof work, "%s/%s", self->work_root, kid);
    const char *notice = session_state_lost (session);
    kernel_settings_t settings;
    kernel_proc_settings (cfg, &settings);
    settings.session = key;
    settings.kernel_id = kid;
    settings.work_dir = work;
    settings.state_lost = notice;
    //  Even while the zygote is down: the kernel then forks the executor
    //  itself (and says so in its log)
    settings.zygote = self->zygote? zygote_proc_socket (self->zygote): NULL;
    pid_t pid = kernel_proc_start (cfg->kernel_path, &settings);
    if (pid < 0) {
        char cause [256], text [512];
        snprintf (cause, sizeof cause, "could not start %s: %s", cfg->kernel_path,
                  strerror (errno));
        zsys_error ("session %s: %s (check --kernel-path)", key, cause);
        snprintf (text, sizeof text, "session %s: the kernel did not start (%s); see "
                  "the broker log", key, cause);
        broker_fail_queue (self, session, PROTO_E_KERNEL_DIED, cause, text);
        s_forget_if_empty (self, session);
        return -1;
    }
    session_table_bind_kernel (self->sessions, session, kid, pid, zclock_mono ());
    zsys_info ("session %s: kernel %d started (%s)%s", key, (int) pid, kid,
               notice ? ", state lost" : "");
    char text [512];
    snprintf (text, sizeof text, "a fresh kernel is starting for session %s%s%s", key,
              notice? "; ": "", notice? notice: "");
    broker_tell_attached (self, session, "kernel", "starting", text);
    return 0;
}

void
broker_send_kernel (broker_t *self, session_t *session, zmsg_t **msg_p)
{
    const char *kid = session_kernel_id (session);
    zmsg_pushmem (*msg_p, kid, strlen (kid));
    if (zmsg_send (msg_p, self->backend))
        zmsg_destroy (msg_p);
}

void
broker_dispatch (broker_t *self, session_t *session)
{
    session_state_t state = session_state (session);
    if (state == SESSION_DEAD && session_queued (session) > 0)
        s_kernel_start (self, session);
    else
    if (state == SESSION_IDLE && !session_inflight (session)) {
        session_request_t *req = session_dequeue (session);
        if (!req)
            return;
        zmsg_t *frames = req->msg;
        req->msg = NULL;
        broker_send_kernel (self, session, &frames);
        broker_tell_status (self, session, req, "busy");
        session_set_inflight (session, &req);
    }
}

//  --- kernel deaths ------------------------------------------------------

//  The session's kernel is gone (exited, killed, or about to exit): the
//  caller has dealt with the process. Unbinds it, answers what it held and
//  starts a fresh kernel for what is queued.
static void
s_kernel_lost (broker_t *self, session_t *session, const char *cause)
{
    const char *key = session_key (session);
    session_state_t state = session_state (session);
    pid_t pid = session_pid (session);
    session_table_unbind_kernel (self->sessions, session);
    char text [512];
    if (state == SESSION_STARTING) {
        //  Never ready: no state was lost, and restarting could loop
        zsys_warning ("session %s: kernel %d did not start: %s", key, (int) pid, cause);
        snprintf (text, sizeof text, "session %s: the kernel failed before it was ready "
                  "(%s); see the broker log", key, cause);
        broker_fail_queue (self, session, PROTO_E_KERNEL_DIED, cause, text);
        s_forget_if_empty (self, session);
        return;
    }
    zsys_warning ("session %s: kernel %d died: %s", key, (int) pid, cause);
    char notice [384];
    snprintf (notice, sizeof notice, "the session's previous kernel died (%s); its "
              "variables and files were lost", cause);
    session_set_state_lost (session, notice);
    session_request_t *inflight = session_take_inflight (session);
    if (inflight) {
        snprintf (text, sizeof text, "session %s: the kernel died while running this "
                  "request (%s); its state is lost, the next request starts a fresh kernel",
                  key, cause);
        broker_fail_request (self, session, &inflight, PROTO_E_KERNEL_DIED, cause, text);
    }
    snprintf (text, sizeof text, "session %s: its kernel died (%s); its state is "
              "lost, the next request starts a fresh kernel", key, cause);
    broker_tell_attached (self, session, "kernel", "died", text);
    broker_dispatch (self, session);
}

static void
s_child_exited (broker_t *self, pid_t pid, int status)
{
    if (self->zygote && zygote_proc_exited (self->zygote, pid, status, zclock_mono ()))
        return;
    char how [96];
    kernel_proc_describe (status, how, sizeof how);
    session_t *session = session_table_by_pid (self->sessions, pid);
    if (session) {
        char cause [160];
        bool exited_zero = WIFEXITED (status) && WEXITSTATUS (status) == 0;
        if (exited_zero)
            //  Per the contract a kernel exits 0 by itself only when its
            //  executor died
            snprintf (cause, sizeof cause, "the executor died (kernel process: %s)", how);
        else
            snprintf (cause, sizeof cause, "kernel process: %s", how);
        if (session_state (session) == SESSION_BUSY && exited_zero) {
            //  It sent (or was sending) its final reply, which may still be
            //  on its way through the backend: the timers give it
            //  S_FINAL_REPLY_MS, so the client gets the monitor's cause.
            session_table_kernel_exited (self->sessions, session, cause,
                                         zclock_mono () + S_FINAL_REPLY_MS);
            return;
        }
        char kid [64];
        snprintf (kid, sizeof kid, "%s", session_kernel_id (session));
        s_kernel_lost (self, session, cause);
        s_remove_work_dir (self, kid);
        return;
    }
    for (broker_doomed_t *doomed = (broker_doomed_t *) zlistx_first (self->doomed);
         doomed; doomed = (broker_doomed_t *) zlistx_next (self->doomed)) {
        if (doomed->pid == pid) {
            zsys_info ("kernel %d (%s): exited, %s", (int) pid, doomed->kernel_id, how);
            s_remove_work_dir (self, doomed->kernel_id);
            zlistx_delete (self->doomed, zlistx_cursor (self->doomed));
            return;
        }
    }
    broker_debug (self, "kmq-broker: reaped unknown child %d (%s)", (int) pid, how);
}

void
broker_reap (broker_t *self)
{
    int status;
    pid_t pid;
    while ((pid = kernel_proc_reap (&status)) > 0)
        s_child_exited (self, pid, status);
}

//  The kernel told us it is exiting (KERNEL_DIED, or TIMEOUT that killed
//  its executor): stop routing to it now, before the process is reaped.
static void
s_kernel_ending (broker_t *self, session_t *session, const char *cause)
{
    pid_t pid = session_pid (session);
    char kid [64];
    snprintf (kid, sizeof kid, "%s", session_kernel_id (session));
    s_doomed_add (self, pid, kid, zclock_mono () + (int64_t) self->cfg->kill_grace_ms);
    s_kernel_lost (self, session, cause);
}

//  --- the backend -------------------------------------------------------

//  True if layer is one of the names in the comma list applied.
static bool
s_sandbox_has (const char *applied, const char *layer)
{
    size_t len = strlen (layer);
    for (const char *p = applied; (p = strstr (p, layer)); p += len)
        if ((p == applied || p [-1] == ',') && (p [len] == ',' || p [len] == 0))
            return true;
    return false;
}

//  A ready kernel's sandbox report: recorded for stats, a missing layer
//  logged, and a kernel without a layer of sandbox_require refused (killed,
//  its queued requests answered KERNEL_DIED naming the layer). Returns
//  true when the kernel may serve.
static bool
s_sandbox_accepted (broker_t *self, session_t *session, proto_msg_t *ready)
{
    const char *key = session_key (session);
    const char *applied = proto_msg_str (ready, "sandbox");
    const char *missing = proto_msg_str (ready, "sandbox_missing");
    session_set_sandbox (session, applied, missing);
    applied = session_sandbox (session);
    missing = session_sandbox_missing (session);
    if (*missing)
        zsys_warning ("session %s: kernel %d runs without sandbox layers: %s", key,
                      (int) session_pid (session), missing);
    const char *require = self->cfg->sandbox_require;
    if (streq (require, "none"))
        return true;
    char *list = mem_strdup (require);
    char lacking [256] = "";
    char *save = NULL;
    for (char *layer = strtok_r (list, ", ", &save); layer; layer = strtok_r (NULL, ", ", &save))
        if (!s_sandbox_has (applied, layer)) {
            size_t used = strlen (lacking);
            snprintf (lacking + used, sizeof lacking - used, "%s%s", used? ",": "", layer);
        }
    free (list);
    if (!*lacking)
        return true;
    char cause [768];
    snprintf (cause, sizeof cause, "sandbox_require: the kernel lacks %s (%s); refused",
              lacking, *missing? missing: "not reported");
    zsys_error ("session %s: kernel %d %s", key, (int) session_pid (session), cause);
    zmsg_t *close = proto_encode_simple (PROTO_CLOSE, 0, key);
    broker_send_kernel (self, session, &close);
    s_doomed_add (self, session_pid (session), session_kernel_id (session),
                  zclock_mono () + (int64_t) self->cfg->kill_grace_ms);
    s_kernel_lost (self, session, cause);
    return false;
}

static void
s_kernel_event (broker_t *self, session_t *session, proto_msg_t **msg_p)
{
    session_request_t *req = session_inflight (session);
    uint64_t id = proto_msg_id (*msg_p);
    if (!req || req->id != id) {
        broker_debug (self, "session %s: event for id %" PRIu64 ", not in flight: dropped",
                      session_key (session), id);
        return;
    }
    //  The other attached clients get it re-addressed (protocol.md 4.5),
    //  the requester untouched
    broker_fanout_copy (self, session, req, *msg_p, NULL);
    zmsg_t *frames = proto_msg_release (msg_p);
    broker_send_client (self, req->client, &frames);
}

static void
s_kernel_reply (broker_t *self, session_t *session, proto_msg_t **msg_p)
{
    proto_msg_t *msg = *msg_p;
    session_request_t *req = session_inflight (session);
    uint64_t id = proto_msg_id (msg);
    if (!req || req->id != id) {
        broker_debug (self, "session %s: reply for id %" PRIu64 ", not in flight: dropped",
                      session_key (session), id);
        return;
    }
    //  Replies after which the monitor exits on its own
    char cause [192] = "";
    proto_error_t error = proto_msg_error (msg);
    if (error == PROTO_E_KERNEL_DIED) {
        const char *text = proto_msg_str (msg, "cause");
        snprintf (cause, sizeof cause, "%s", text ? text : "the executor died");
    }
    else
    if (error == PROTO_E_TIMEOUT && proto_msg_bool (msg, "killed", false))
        snprintf (cause, sizeof cause, "killed after a request timed out");

    req = session_take_inflight (session);
    session_count_answer (session);
    session_touch (session, zclock_mono ());
    broker_fanout_copy (self, session, req, msg, "outcome");
    broker_tell_status (self, session, req, "idle");
    zmsg_t *frames = proto_msg_release (msg_p);
    broker_send_client (self, req->client, &frames);
    session_request_destroy (&req);
    if (*cause)
        s_kernel_ending (self, session, cause);
    else
        broker_dispatch (self, session);
}

void
broker_backend_message (broker_t *self, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zframe_t *rid = zmsg_pop (msg);
    char kid [64] = "";
    if (rid && zframe_size (rid) < sizeof kid)
        memcpy (kid, zframe_data (rid), zframe_size (rid));
    zframe_destroy (&rid);
    session_t *session = *kid ? session_table_by_kernel (self->sessions, kid) : NULL;
    if (!session) {
        broker_debug (self, "backend: message from unknown kernel '%s': ignored", kid);
        zmsg_destroy (&msg);
        return;
    }
    int64_t now = zclock_mono ();
    proto_fault_t fault;
    proto_msg_t *kmsg = proto_decode (&msg, &fault);
    if (!kmsg) {
        //  Garbage is no sign of life: a kernel that sends only garbage
        //  is declared dead like a silent one.
        zsys_warning ("session %s: kernel %d sent a malformed message: %s",
                      session_key (session), (int) session_pid (session), fault.text);
        return;
    }
    session_kernel_heard (session, now);
    proto_type_t type = proto_msg_type (kmsg);
    broker_debug (self, "session %s: kernel %d: %s id %" PRIu64, session_key (session),
                  (int) session_pid (session), proto_type_name (type), proto_msg_id (kmsg));
    switch (type) {
        case PROTO_READY:
            if (session_state (session) == SESSION_STARTING
            &&  s_sandbox_accepted (self, session, kmsg)) {
                uint64_t executor = proto_msg_uint (kmsg, "executor_pid", 0);
                session_set_executor_pid (session,
                                          executor <= INT32_MAX ? (pid_t) executor : 0);
                zsys_info ("session %s: kernel %d ready in %" PRId64 " ms (executor %d)",
                           session_key (session), (int) session_pid (session),
                           session_kernel_age_ms (session, now),
                           (int) session_executor_pid (session));
                session_clear_state_lost (session);     //  the kernel carries it
                session_set_state (session, SESSION_IDLE);
                broker_dispatch (self, session);
            }
            break;
        case PROTO_HEARTBEAT:
            break;
        case PROTO_EVENT:
            s_kernel_event (self, session, &kmsg);
            break;
        case PROTO_REPLY:
            s_kernel_reply (self, session, &kmsg);
            break;
        default:
            zsys_warning ("session %s: kernel %d sent %s, which kernels do not send",
                          session_key (session), (int) session_pid (session),
                          proto_type_name (type));
    }
    proto_msg_destroy (&kmsg);
}

//  --- timers ----------------------------------------------------------

static void
s_heartbeat (broker_t *self)
{
    for (session_t *s = session_table_first (self->sessions); s;
         s = session_table_next (self->sessions)) {
        session_state_t state = session_state (s);
        if (state != SESSION_IDLE && state != SESSION_BUSY)
            continue;
        zmsg_t *beat = proto_encode_heartbeat ();
        broker_send_kernel (self, s, &beat);
    }
}

//  Liveness, start timeouts, and kernels past their kill deadline.
static void
s_housekeeping (broker_t *self, int64_t now)
{
    int64_t silent_max = (int64_t) (self->cfg->heartbeat_ivl_ms * self->cfg->heartbeat_liveness);
    int64_t start_max = (int64_t) self->cfg->kernel_start_timeout_ms;
    zlistx_t *list = session_table_list (self->sessions);
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list)) {
        session_state_t state = session_state (s);
        const char *cause = NULL;
        char late [96];
        const char *exited = session_kernel_exit_due (s, now);
        if (exited) {
            //  Its process is gone and no final reply came (copies: the
            //  unbinding in s_kernel_lost clears both)
            char kid [64], why [192];
            snprintf (kid, sizeof kid, "%s", session_kernel_id (s));
            snprintf (why, sizeof why, "%s", exited);
            s_kernel_lost (self, s, why);
            s_remove_work_dir (self, kid);
            continue;
        }
        if (session_kernel_exited (s))
            continue;           //  reaped: waiting for its final reply
        if ((state == SESSION_IDLE || state == SESSION_BUSY)
        &&  session_kernel_silent_ms (s, now) > silent_max)
            cause = "stopped answering heartbeats";
        else
        if (state == SESSION_STARTING && session_kernel_age_ms (s, now) > start_max) {
            snprintf (late, sizeof late, "kernel did not start within %" PRId64 " ms",
                      start_max);
            cause = late;
        }
        if (!cause)
            continue;
        pid_t pid = session_pid (s);
        s_kill (pid);
        s_doomed_add (self, pid, session_kernel_id (s), 0);
        s_kernel_lost (self, s, cause);
    }
    zlistx_destroy (&list);

    for (broker_doomed_t *doomed = (broker_doomed_t *) zlistx_first (self->doomed);
         doomed; doomed = (broker_doomed_t *) zlistx_next (self->doomed)) {
        if (doomed->kill_at && now >= doomed->kill_at) {
            zsys_warning ("kernel %d (%s): still running %" PRIu64 " ms after it was asked "
                          "to stop: killed", (int) doomed->pid, doomed->kernel_id,
                          self->cfg->kill_grace_ms);
            s_kill (doomed->pid);
            doomed->kill_at = 0;
        }
    }
}

static void
s_evict_idle (broker_t *self, int64_t now)
{
    if (self->cfg->idle_timeout_s == 0)
        return;
    int64_t limit = (int64_t) self->cfg->idle_timeout_s * 1000;
    zlistx_t *list = session_table_list (self->sessions);
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list)) {
        if (session_idle_ms (s, now) < limit)
            continue;
        const char *key = session_key (s);
        char notice [128], text [384];
        snprintf (notice, sizeof notice, "session was evicted after %" PRIu64 " s idle",
                  self->cfg->idle_timeout_s);
        snprintf (text, sizeof text, "session %s was evicted after %" PRIu64 " s idle; "
                  "its variables and files are gone, the next request starts a fresh "
                  "kernel", key, self->cfg->idle_timeout_s);
        zsys_info ("session %s: evicted after %" PRIu64 " s idle", key,
                   self->cfg->idle_timeout_s);
        broker_tell_attached (self, s, "evicted", NULL, text);
        //  A session that never had a kernel has no state to lose
        bool had_state = session_pid (s) || session_state_lost (s) || session_answered (s);
        if (session_pid (s))
            broker_kernel_retire (self, s, true);
        session_table_remove (self->sessions, &s, had_state ? notice : NULL);
    }
    zlistx_destroy (&list);
}

int64_t
broker_timers (broker_t *self)
{
    int64_t now = zclock_mono ();
    if (now >= self->next_heartbeat) {
        s_heartbeat (self);
        self->next_heartbeat = now + (int64_t) self->cfg->heartbeat_ivl_ms;
    }
    if (now >= self->next_housekeeping) {
        s_housekeeping (self, now);
        broker_send_notices (self, now);
        self->next_housekeeping = now + S_HOUSEKEEPING_MS;
    }
    if (now >= self->next_idle_check) {
        s_evict_idle (self, now);
        self->next_idle_check = now + S_IDLE_CHECK_MS;
    }
    int64_t next = self->next_heartbeat;
    if (self->zygote) {
        int64_t due = zygote_proc_tick (self->zygote, now);
        if (due >= 0 && now + due < next)
            next = now + due;
    }
    if (self->next_housekeeping < next)
        next = self->next_housekeeping;
    if (self->next_idle_check < next)
        next = self->next_idle_check;
    int64_t wait_ms = next - zclock_mono ();
    return wait_ms < 0 ? 0 : wait_ms;
}

//  --- shutdown ---------------------------------------------------------

void
broker_stop_kernels (broker_t *self)
{
    int64_t deadline = zclock_mono () + (int64_t) self->cfg->kill_grace_ms;
    zlistx_t *list = session_table_list (self->sessions);
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list))
        if (session_pid (s))
            broker_kernel_retire (self, s, false);      //  SIGTERM
    zlistx_destroy (&list);
    //  The zygote with them (its pool executors die with it)
    pid_t zygote = self->zygote ? zygote_proc_release (self->zygote) : 0;
    if (zygote > 0) {
        if (kernel_proc_signal (zygote, SIGTERM, false) && errno != ESRCH)
            zsys_warning ("zygote: kill -TERM %d: %s", (int) zygote, strerror (errno));
        s_doomed_add (self, zygote, "zygote", deadline);
    }
    size_t count = zlistx_size (self->doomed);
    if (count == 0)
        return;
    zsys_info ("kmq-broker: stopping %zu kernel%s%s", count, count == 1 ? "" : "s",
               zygote > 0 ? " (the zygote included)" : "");
    for (broker_doomed_t *doomed = (broker_doomed_t *) zlistx_first (self->doomed);
         doomed; doomed = (broker_doomed_t *) zlistx_next (self->doomed))
        if (doomed->kill_at == 0 || doomed->kill_at > deadline)
            doomed->kill_at = deadline;
    //  Grace, then SIGKILL what is left; never wait forever for a child
    int64_t give_up = deadline + 5000;
    while (zlistx_size (self->doomed) > 0) {
        broker_reap (self);
        int64_t now = zclock_mono ();
        if (now >= deadline)
            s_housekeeping (self, now);
        if (now >= give_up) {
            zsys_error ("kmq-broker: %zu kernel(s) did not exit even after SIGKILL",
                        zlistx_size (self->doomed));
            break;
        }
        if (zlistx_size (self->doomed) > 0)
            zclock_sleep (10);
    }
}
