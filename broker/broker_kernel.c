/*  broker_kernel — the broker's side of the kernel contract: starting
    kernels (on a host, broker_hosts.c), routing to and from them, their
    deaths, and the timers. Shares broker_t (broker_internal.h).

    The broker starts, signals and reaps no process: a kernel's host does
    (protocol.md 12). What the broker knows of a kernel is what the kernel
    and its host said.                                                     */
#include "broker_internal.h"
#include "kernel_contract.h"
#include "mem.h"

#include <errno.h>
#include <string.h>

#define S_HOUSEKEEPING_MS   100     //  liveness, start timeouts, hosts, resumes
#define S_IDLE_CHECK_MS     1000    //  idle eviction

//  --- starting and feeding kernels ---------------------------------------

void
broker_forget_if_empty (broker_t *self, session_t *session)
{
    if (session_state (session) == SESSION_DEAD && session_queued (session) == 0
    &&  !session_inflight (session) && !session_state_lost (session)
    &&  session_answered (session) == 0 && zlistx_size (session_attached (session)) == 0)
        session_table_remove (self->sessions, &session, NULL);
}

bool
broker_kernel_starts_wait (broker_t *self, int64_t now)
{
    return broker_hosts_settling (self, now);
}

void
broker_send_kernel (broker_t *self, session_t *session, zmsg_t **msg_p)
{
    const char *kid = session_kernel_id (session);
    zmsg_pushmem (*msg_p, kid, strlen (kid));
    if (zmsg_send (msg_p, self->backend))
        zmsg_destroy (msg_p);
}

//  The requester wants no `input` event but other attached clients do: the
//  kernel gets the request without its `input: false`. Rare (shared
//  sessions only), so decoding again is fine.
static void
s_want_input (zmsg_t **frames_p)
{
    proto_fault_t fault;
    zmsg_t *copy = zmsg_dup (*frames_p);
    proto_msg_t *msg = proto_decode (&copy, &fault);
    if (!msg)
        return;                 //  it was decoded once: cannot happen
    zmsg_destroy (frames_p);
    *frames_p = proto_encode_without (msg, "input");
    proto_msg_destroy (&msg);
}

void
broker_dispatch (broker_t *self, session_t *session)
{
    session_state_t state = session_state (session);
    if (state == SESSION_DEAD && session_queued (session) > 0) {
        //  After a broker restart the session's kernel may still come
        //  back: no second one meanwhile
        if (!broker_kernel_starts_wait (self, zclock_mono ()))
            broker_host_start_kernel (self, session);
    }
    else
    if (state == SESSION_IDLE && !session_inflight (session)) {
        session_request_t *req = session_dequeue (session);
        if (!req)
            return;
        zmsg_t *frames = req->msg;
        req->msg = NULL;
        if (req->no_input && broker_has_peers (session, req->client))
            s_want_input (&frames);
        broker_send_kernel (self, session, &frames);
        //  An upload's pieces that came while it waited follow it
        zmsg_t *part;
        while (req->held_parts && (part = (zmsg_t *) zlistx_detach (req->held_parts, NULL)))
            broker_send_kernel (self, session, &part);
        broker_tell_status (self, session, req, "busy");
        session_set_inflight (session, &req);
        session_kernel_awaited (session, zclock_mono ());
    }
}

static bool
s_waits_for_kernel (session_t *s, void *arg)
{
    (void) arg;
    return session_state (s) == SESSION_DEAD && session_queued (s) > 0;
}

void
broker_dispatch_waiting (broker_t *self)
{
    if (broker_kernel_starts_wait (self, zclock_mono ()))
        return;
    zlistx_t *list = session_table_select (self->sessions, s_waits_for_kernel, NULL);
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list))
        broker_dispatch (self, s);
    zlistx_destroy (&list);
}

void
broker_kernel_retire (broker_t *self, session_t *session, broker_retire_t how)
{
    session_state_t state = session_state (session);
    bool closed = how != BROKER_RETIRE_KILL
               && (state == SESSION_IDLE || state == SESSION_BUSY);
    bool snapshot = closed && how == BROKER_RETIRE_SNAPSHOT;
    if (closed) {
        //  The kernel stops its executor (after storing a snapshot), removes
        //  its work dir, exits 0
        proto_builder_t *close = proto_builder_new (PROTO_CLOSE, 0, session_key (session));
        if (snapshot)
            proto_builder_bool (close, "snapshot", true);
        zmsg_t *msg = proto_builder_finish (&close);
        broker_send_kernel (self, session, &msg);
        if (snapshot) {
            //  Bounded like the tombstones: past the bound an arbitrary hint
            //  goes (a kernel without its hint still restores what its own
            //  host holds; only the placement and the restore flag are lost)
            if (zhashx_size (self->snapshots) > 4 * self->cfg->max_sessions + 1024
            &&  zhashx_first (self->snapshots))
                zhashx_delete (self->snapshots, zhashx_cursor (self->snapshots));
            zhashx_update (self->snapshots, session_key (session),
                           mem_strdup (session_host (session)));
        }
    }
    //  Its host makes sure: at once when it was not asked
    uint64_t grace = !closed? 0: self->cfg->kill_grace_ms
                   + (snapshot? KERNEL_CONTRACT_SNAPSHOT_MS: 0);
    broker_host_stop_kernel (self, session_host (session), session_key (session),
                             session_kernel_id (session), grace);
    broker_resend_fail (self, session);
    broker_kernel_retired (self, session_kernel_id (session));
    session_table_unbind_kernel (self->sessions, session);
}

//  --- kernel deaths ------------------------------------------------------

void
broker_kernel_lost (broker_t *self, session_t *session, const char *cause)
{
    const char *key = session_key (session);
    session_state_t state = session_state (session);
    char kid [64];
    snprintf (kid, sizeof kid, "%s", session_kernel_id (session));
    pid_t pid = session_pid (session);
    //  If its process still runs (silent, refused, timed out), its host ends
    //  it; one that exited is no longer the host's and this is a no-op
    broker_host_stop_kernel (self, session_host (session), key, kid, 0);
    broker_resend_fail (self, session);
    broker_kernel_retired (self, kid);
    session_table_unbind_kernel (self->sessions, session);
    char text [512];
    if (state == SESSION_STARTING) {
        //  Never ready: no state was lost, and restarting could loop
        zsys_warning ("session %s: kernel %s (pid %d) did not start: %s", key, kid,
                      (int) pid, cause);
        snprintf (text, sizeof text, "session %s: the kernel failed before it was ready "
                  "(%s); see the broker log", key, cause);
        broker_fail_queue (self, session, PROTO_E_KERNEL_DIED, cause, text);
        broker_forget_if_empty (self, session);
        return;
    }
    zsys_warning ("session %s: kernel %s (pid %d) died: %s", key, kid, (int) pid, cause);
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

//  A missing layer is logged; a kernel refused has its queued requests
//  answered KERNEL_DIED naming the layer.
bool
broker_sandbox_accepted (broker_t *self, session_t *session, proto_msg_t *ready)
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
    broker_kernel_lost (self, session, cause);
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
    //  the requester untouched; a download's pieces are the requester's
    //  only (protocol.md 5, download)
    const char *kind = proto_msg_str (*msg_p, "event");
    if (!kind || !streq (kind, "part"))
        broker_fanout_copy (self, session, req, *msg_p, NULL);
    if (req->no_input && kind && streq (kind, "input"))
        return;                 //  for the others only
    zmsg_t *frames = proto_msg_release (msg_p);
    broker_send_client (self, req->client, &frames);
}

//  A reply from session's kernel: to the request in flight, whose client
//  it goes to (a request resumed after a broker restart may have no client
//  yet: the kernel holds the reply for when one resumes it), or one the
//  kernel resends for a client that resumed.
static void
s_kernel_reply (broker_t *self, session_t *session, proto_msg_t **msg_p)
{
    proto_msg_t *msg = *msg_p;
    session_request_t *req = session_inflight (session);
    uint64_t id = proto_msg_id (msg);
    if (!req || req->id != id) {
        if (!broker_resend_reply (self, session, msg))
            broker_debug (self, "session %s: reply for id %" PRIu64 ", not in flight: "
                          "dropped", session_key (session), id);
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
    if (!req->client)
        session_note_held (session, id);
    zmsg_t *frames = proto_msg_release (msg_p);
    broker_send_client (self, req->client, &frames);
    session_request_destroy (&req);
    if (*cause)
        broker_kernel_lost (self, session, cause);
    else
        broker_dispatch (self, session);
}

//  A kernel's `ready` after its start.
static void
s_kernel_ready (broker_t *self, session_t *session, proto_msg_t *ready, int64_t now)
{
    if (session_state (session) != SESSION_STARTING
    ||  !broker_sandbox_accepted (self, session, ready))
        return;
    uint64_t pid = proto_msg_uint (ready, "pid", 0);
    uint64_t executor = proto_msg_uint (ready, "executor_pid", 0);
    if (!session_pid (session))
        session_set_pid (session, pid <= INT32_MAX? (pid_t) pid: 0);
    session_set_executor_pid (session, executor <= INT32_MAX ? (pid_t) executor : 0);
    zsys_info ("session %s: kernel %d ready in %" PRId64 " ms (executor %d, host %s)",
               session_key (session), (int) session_pid (session),
               session_kernel_age_ms (session, now), (int) session_executor_pid (session),
               session_host (session));
    session_clear_state_lost (session);     //  the kernel carries it
    session_set_state (session, SESSION_IDLE);
    broker_dispatch (self, session);
}

//  A message from a kernel routing id this broker does not know: one of
//  a broker before us (it says ready again when asked), or one retired
//  that has not exited yet.
static void
s_unknown_kernel (broker_t *self, const char *kid, zmsg_t **msg_p)
{
    proto_msg_t *msg = proto_decode (msg_p, NULL);
    if (!msg)
        return;
    if (proto_msg_type (msg) == PROTO_READY)
        broker_kernel_resumed (self, kid, msg);
    else {
        zmsg_t *ask = proto_encode_simple (PROTO_REREGISTER, 0, NULL);
        zmsg_pushmem (ask, kid, strlen (kid));
        if (zmsg_send (&ask, self->backend))
            zmsg_destroy (&ask);
    }
    proto_msg_destroy (&msg);
}

void
broker_backend_message (broker_t *self, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zframe_t *rid = zmsg_pop (msg);
    if (rid && zframe_size (rid) > 5 && memcmp (zframe_data (rid), "host:", 5) == 0) {
        proto_fault_t fault;
        proto_msg_t *hmsg = proto_decode (&msg, &fault);
        if (hmsg)
            broker_host_message (self, rid, hmsg);
        else
            zsys_warning ("kernel host %.*s sent a malformed message: %s",
                          (int) zframe_size (rid), (char *) zframe_data (rid), fault.text);
        proto_msg_destroy (&hmsg);
        zframe_destroy (&rid);
        return;
    }
    char kid [64] = "";
    if (rid && zframe_size (rid) < sizeof kid)
        memcpy (kid, zframe_data (rid), zframe_size (rid));
    zframe_destroy (&rid);
    session_t *session = *kid ? session_table_by_kernel (self->sessions, kid) : NULL;
    if (!session) {
        if (*kid && strlen (kid) == strspn (kid, "abcdefghijklmnopqrstuvwxyz"
                                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"))
            s_unknown_kernel (self, kid, &msg);
        else
            broker_debug (self, "backend: message from unknown peer '%s': ignored", kid);
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
            s_kernel_ready (self, session, kmsg, now);
            break;
        case PROTO_HEARTBEAT: {
            //  Answered at once (protocol.md 7): the kernels' own timers
            //  spread the beats, where one round from here every interval
            //  woke thousands of monitors together
            zmsg_t *beat = proto_encode_heartbeat ();
            broker_send_kernel (self, session, &beat);
            break;
        }
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


//  Kernel liveness and start timeouts: the limits of one pass.
typedef struct {
    hosts_t *hosts;
    int64_t now;
    int64_t busy_max;           //  silence allowed while busy, ms
    int64_t idle_max;           //  ... while idle
    int64_t start_max;
    int64_t host_ivl;           //  a host silent longer is being lost
} s_liveness_t;

//  Why the session's kernel is lost now, written into cause; NULL while
//  it is not. Changes nothing.
static const char *
s_kernel_lost_cause (const s_liveness_t *live, session_t *s, char *cause, size_t size)
{
    session_state_t state = session_state (s);
    const char *exited = session_kernel_exit_due (s, live->now);
    if (exited) {
        //  Its process is gone and no final reply came
        snprintf (cause, size, "%s", exited);
        return cause;
    }
    if (session_kernel_exited (s))
        return NULL;            //  reaped: waiting for its final reply
    if ((state == SESSION_IDLE || state == SESSION_BUSY)
    &&  session_kernel_silent_ms (s, live->now) > (state == SESSION_BUSY? live->busy_max
                                                                       : live->idle_max)) {
        //  A kernel whose host is silent too went with its host: the
        //  host's check names that cause within an interval
        hosts_entry_t *host = hosts_lookup (live->hosts, session_host (s));
        if (host && live->now - host->heard > live->host_ivl * 2)
            return NULL;
        snprintf (cause, size, "stopped answering heartbeats");
        return cause;
    }
    if (state == SESSION_STARTING && session_kernel_age_ms (s, live->now) > live->start_max) {
        snprintf (cause, size, "kernel did not start within %" PRId64 " ms", live->start_max);
        return cause;
    }
    return NULL;
}

static bool
s_kernel_is_lost (session_t *s, void *arg)
{
    char cause [192];
    return s_kernel_lost_cause ((const s_liveness_t *) arg, s, cause, sizeof cause) != NULL;
}

static void
s_kernels_check (broker_t *self, int64_t now)
{
    //  A busy kernel beats each heartbeat_ivl, an idle one each
    //  heartbeat_idle_ivl (protocol.md 7)
    s_liveness_t live = {
        .hosts = self->hosts, .now = now,
        .busy_max = (int64_t) (self->cfg->heartbeat_ivl_ms * self->cfg->heartbeat_liveness),
        .idle_max = (int64_t) (self->cfg->heartbeat_idle_ivl_ms * self->cfg->heartbeat_liveness),
        .start_max = (int64_t) self->cfg->kernel_start_timeout_ms,
        .host_ivl = (int64_t) self->cfg->heartbeat_ivl_ms
    };
    zlistx_t *lost = session_table_select (self->sessions, s_kernel_is_lost, &live);
    for (session_t *s = (session_t *) zlistx_first (lost); s;
         s = (session_t *) zlistx_next (lost)) {
        char cause [192];
        if (s_kernel_lost_cause (&live, s, cause, sizeof cause))
            broker_kernel_lost (self, s, cause);
    }
    zlistx_destroy (&lost);
}

typedef struct {
    int64_t now;
    int64_t limit;
} s_idle_limit_t;

static bool
s_idle_too_long (session_t *s, void *arg)
{
    const s_idle_limit_t *idle = (const s_idle_limit_t *) arg;
    return session_idle_ms (s, idle->now) >= idle->limit;
}

static void
s_evict_idle (broker_t *self, int64_t now)
{
    if (self->cfg->idle_timeout_s == 0)
        return;
    s_idle_limit_t idle = { .now = now, .limit = (int64_t) self->cfg->idle_timeout_s * 1000 };
    zlistx_t *list = session_table_select (self->sessions, s_idle_too_long, &idle);
    for (session_t *s = (session_t *) zlistx_first (list); s;
         s = (session_t *) zlistx_next (list)) {
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
        bool had_state = *session_kernel_id (s) || session_state_lost (s)
                      || session_answered (s);
        if (*session_kernel_id (s))
            broker_kernel_retire (self, s, self->cfg->snapshot? BROKER_RETIRE_SNAPSHOT
                                                              : BROKER_RETIRE_CLOSE);
        session_table_remove (self->sessions, &s, had_state ? notice : NULL);
    }
    zlistx_destroy (&list);
}

int64_t
broker_timers (broker_t *self)
{
    int64_t now = zclock_mono ();
    if (now >= self->next_heartbeat) {
        broker_hosts_heartbeat (self);
        self->next_heartbeat = now + (int64_t) self->cfg->heartbeat_ivl_ms;
    }
    if (now >= self->next_housekeeping) {
        //  Hosts first: a lost host's kernels are lost with it, not one
        //  by one as silent
        broker_hosts_check (self, now);
        s_kernels_check (self, now);
        broker_dispatch_waiting (self);
        broker_resumes_check (self, now);
        broker_send_notices (self, now);
        self->next_housekeeping = now + S_HOUSEKEEPING_MS;
    }
    if (now >= self->next_idle_check) {
        s_evict_idle (self, now);
        broker_retired_purge (self, now);
        broker_shutdown_check (self, now);
        self->next_idle_check = now + S_IDLE_CHECK_MS;
    }
    int64_t next = self->next_heartbeat;
    if (self->next_housekeeping < next)
        next = self->next_housekeeping;
    if (self->next_idle_check < next)
        next = self->next_idle_check;
    int64_t wait_ms = next - zclock_mono ();
    return wait_ms < 0 ? 0 : wait_ms;
}
