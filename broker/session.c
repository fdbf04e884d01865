/*  session — the broker's session table (see session.h).                   */
#include "session.h"
#include "mem.h"
#include "proto.h"
#include "selftest.h"

#include <inttypes.h>
#include <string.h>

//  Attached clients per session at most; past it the oldest is forgotten
//  (clients that vanished without detaching must not pile up).
#define S_MAX_ATTACHED 256

struct _session_t {
    char *key;
    session_state_t state;
    char kernel_id [64];
    pid_t pid;
    pid_t executor_pid;             //  from the kernel's ready; 0 = unknown
    double cpu_s, cpus, cpu_share;  //  from its host's status; cpu_s < 0: none
    zlistx_t *queue;                //  session_request_t *, oldest first
    size_t max_queue;
    session_request_t *inflight;
    zlistx_t *attached;             //  zframe_t *
    int64_t last_activity;
    int64_t kernel_heard;
    int64_t kernel_awaited;         //  a request went to it then (0 = none yet)
    int64_t kernel_started;
    uint64_t answered;
    char *lost_notice;              //  NULL unless state was lost
    char *sandbox;                  //  layers its kernel reported in force
    char *sandbox_missing;          //  and why others are not ("" = none)
    char exit_cause [192];          //  its kernel exited busy: what to report
    int64_t exit_deadline;          //  ... if no final reply by then; 0 = not
    char host [65];                 //  the kernel host its kernel runs on
    //  After a broker restart (protocol.md 12.2): what its kernel said it
    //  holds and saw, and the clients waiting for a reply it resends
    zhashx_t *held;                 //  "id" -> (void *) 1: replies the kernel holds
    zhashx_t *seen;                 //  "id" -> (void *) 1: requests it received
    zlistx_t *resends;              //  s_resend_t *: clients waiting for a held reply
};

//  A client that resumed a request whose reply the kernel holds: it gets
//  the reply when the kernel resends it, then the answer to its resume.
typedef struct {
    uint64_t request;
    uint64_t resume_id;
    zframe_t *client;
} s_resend_t;

struct _session_table_t {
    zhashx_t *sessions;             //  key -> session_t * (owned)
    zhashx_t *by_kernel;            //  kernel id -> session_t *
    zhashx_t *on_host;              //  host id -> (uintptr_t) kernels bound there
    zhashx_t *tombstones;           //  key -> notice (owned char *)
    zlistx_t *tomb_order;           //  keys, oldest first, to bound tombstones
    size_t max_sessions;
    size_t max_queue;
    size_t max_tombstones;
};

//  --- requests -------------------------------------------------------

session_request_t *
session_request_new (zframe_t **client_p, zmsg_t **msg_p, uint64_t id, int type)
{
    session_request_t *self = (session_request_t *) zmalloc (sizeof *self);
    self->client = client_p ? *client_p : NULL;
    self->msg = msg_p ? *msg_p : NULL;
    if (client_p)
        *client_p = NULL;
    if (msg_p)
        *msg_p = NULL;
    self->id = id;
    self->type = type;
    self->parts = 1;
    self->next_part = 1;
    return self;
}

bool
session_request_part_due (session_request_t *self, uint64_t part, size_t size)
{
    assert (self);
    if (self->type != PROTO_UPLOAD || part != self->next_part || part >= self->parts
    ||  size > self->bytes - self->bytes_seen)
        return false;
    self->next_part++;
    self->bytes_seen += size;
    return true;
}

static void
s_msg_destructor (void **item)
{
    zmsg_destroy ((zmsg_t **) item);
}

void
session_request_hold_part (session_request_t *self, zmsg_t **part_p)
{
    assert (self && part_p);
    if (!self->held_parts) {
        self->held_parts = zlistx_new ();
        zlistx_set_destructor (self->held_parts, s_msg_destructor);
    }
    zlistx_add_end (self->held_parts, *part_p);
    *part_p = NULL;
}

void
session_request_destroy (session_request_t **self_p)
{
    assert (self_p);
    session_request_t *self = *self_p;
    if (!self)
        return;
    zframe_destroy (&self->client);
    zmsg_destroy (&self->msg);
    zlistx_destroy (&self->held_parts);
    free (self);
    *self_p = NULL;
}

static void
s_request_destructor (void **item)
{
    session_request_destroy ((session_request_t **) item);
}

static void
s_frame_destructor (void **item)
{
    zframe_destroy ((zframe_t **) item);
}

static int
s_frame_compare (const void *a, const void *b)
{
    zframe_t *fa = (zframe_t *) a, *fb = (zframe_t *) b;
    size_t sa = zframe_size (fa), sb = zframe_size (fb);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return memcmp (zframe_data (fa), zframe_data (fb), sa);
}

static void
s_str_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

static int
s_str_compare (const void *a, const void *b)
{
    return strcmp ((const char *) a, (const char *) b);
}

//  --- one session ----------------------------------------------------

static session_t *
s_session_new (const char *key, size_t max_queue, int64_t now)
{
    session_t *self = (session_t *) zmalloc (sizeof *self);
    self->cpu_s = -1;                 //  no report yet
    self->key = mem_strdup (key);
    self->state = SESSION_DEAD;
    self->queue = zlistx_new ();
    zlistx_set_destructor (self->queue, s_request_destructor);
    self->max_queue = max_queue;
    self->attached = zlistx_new ();
    zlistx_set_destructor (self->attached, s_frame_destructor);
    zlistx_set_comparator (self->attached, s_frame_compare);
    self->last_activity = now;
    return self;
}

static void
s_session_destroy (session_t **self_p)
{
    session_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->queue);
    zlistx_destroy (&self->attached);
    zhashx_destroy (&self->held);
    zhashx_destroy (&self->seen);
    zlistx_destroy (&self->resends);
    session_request_destroy (&self->inflight);
    free (self->lost_notice);
    free (self->sandbox);
    free (self->sandbox_missing);
    free (self->key);
    free (self);
    *self_p = NULL;
}

static void
s_session_destructor (void **item)
{
    s_session_destroy ((session_t **) item);
}

const char *
session_key (session_t *self)
{
    assert (self);
    return self->key;
}

session_state_t
session_state (session_t *self)
{
    assert (self);
    return self->state;
}

void
session_set_state (session_t *self, session_state_t state)
{
    assert (self);
    self->state = state;
}

const char *
session_state_name (session_state_t state)
{
    switch (state) {
        case SESSION_DEAD:     return "dead";
        case SESSION_STARTING: return "starting";
        case SESSION_IDLE:     return "idle";
        case SESSION_BUSY:     return "busy";
    }
    return "?";
}

const char *
session_kernel_id (session_t *self)
{
    assert (self);
    return self->kernel_id;
}

pid_t
session_pid (session_t *self)
{
    assert (self);
    return self->pid;
}

void
session_set_pid (session_t *self, pid_t pid)
{
    assert (self);
    self->pid = pid > 0? pid: 0;
}

void
session_set_executor_pid (session_t *self, pid_t pid)
{
    assert (self);
    self->executor_pid = pid > 0 ? pid : 0;
}

pid_t
session_executor_pid (session_t *self)
{
    assert (self);
    return self->executor_pid;
}

void
session_set_cpu (session_t *self, double cpu_s, double cpus, double share)
{
    assert (self);
    self->cpu_s = cpu_s;
    self->cpus = cpus;
    self->cpu_share = share;
}

double
session_cpu_s (session_t *self)
{
    assert (self);
    return self->cpu_s;
}

double
session_cpus (session_t *self)
{
    assert (self);
    return self->cpus;
}

double
session_cpu_share (session_t *self)
{
    assert (self);
    return self->cpu_share;
}

int
session_enqueue (session_t *self, session_request_t **req_p)
{
    assert (self && req_p && *req_p);
    if (zlistx_size (self->queue) >= self->max_queue)
        return -1;
    zlistx_add_end (self->queue, *req_p);
    *req_p = NULL;
    return 0;
}

session_request_t *
session_dequeue (session_t *self)
{
    assert (self);
    if (zlistx_size (self->queue) == 0)
        return NULL;
    //  zlistx_detach hands the item back without calling the destructor
    return (session_request_t *) zlistx_detach (self->queue, NULL);
}

size_t
session_queued (session_t *self)
{
    assert (self);
    return zlistx_size (self->queue);
}

session_request_t *
session_inflight (session_t *self)
{
    assert (self);
    return self->inflight;
}

void
session_set_inflight (session_t *self, session_request_t **req_p)
{
    assert (self && req_p && *req_p);
    assert (!self->inflight);
    self->inflight = *req_p;
    *req_p = NULL;
    self->state = SESSION_BUSY;
}

session_request_t *
session_take_inflight (session_t *self)
{
    assert (self);
    session_request_t *req = self->inflight;
    self->inflight = NULL;
    if (self->state == SESSION_BUSY)
        self->state = SESSION_IDLE;
    return req;
}

bool
session_attach (session_t *self, zframe_t *client)
{
    assert (self && client);
    if (zlistx_find (self->attached, client))
        return false;
    if (zlistx_size (self->attached) >= S_MAX_ATTACHED) {
        zlistx_first (self->attached);
        zlistx_delete (self->attached, NULL);
    }
    zlistx_add_end (self->attached, zframe_dup (client));
    return true;
}

bool
session_detach (session_t *self, zframe_t *client)
{
    assert (self && client);
    void *handle = zlistx_find (self->attached, client);
    if (!handle)
        return false;
    zlistx_delete (self->attached, handle);
    return true;
}

zlistx_t *
session_waiting (session_t *self)
{
    assert (self);
    return self->queue;
}

zlistx_t *
session_attached (session_t *self)
{
    assert (self);
    return self->attached;
}

void
session_touch (session_t *self, int64_t now)
{
    assert (self);
    self->last_activity = now;
}

int64_t
session_idle_ms (session_t *self, int64_t now)
{
    assert (self);
    if ((self->state != SESSION_IDLE && self->state != SESSION_DEAD)
    ||  self->inflight || zlistx_size (self->queue) > 0)
        return 0;
    int64_t idle = now - self->last_activity;
    return idle > 0 ? idle : 0;
}

void
session_kernel_heard (session_t *self, int64_t now)
{
    assert (self);
    self->kernel_heard = now;
}

void
session_kernel_awaited (session_t *self, int64_t now)
{
    assert (self);
    self->kernel_awaited = now;
}

int64_t
session_kernel_silent_ms (session_t *self, int64_t now)
{
    assert (self);
    int64_t since = self->kernel_heard > self->kernel_awaited? self->kernel_heard
                                                             : self->kernel_awaited;
    return now - since;
}

int64_t
session_kernel_age_ms (session_t *self, int64_t now)
{
    assert (self);
    return now - self->kernel_started;
}

void
session_count_answer (session_t *self)
{
    assert (self);
    self->answered++;
}

uint64_t
session_answered (session_t *self)
{
    assert (self);
    return self->answered;
}

void
session_set_sandbox (session_t *self, const char *applied, const char *missing)
{
    assert (self);
    free (self->sandbox);
    free (self->sandbox_missing);
    self->sandbox = mem_strdup (applied? applied: "");
    self->sandbox_missing = mem_strdup (missing? missing: "");
    assert (self->sandbox && self->sandbox_missing);
}

const char *
session_sandbox (session_t *self)
{
    assert (self);
    return self->sandbox? self->sandbox: "";
}

const char *
session_sandbox_missing (session_t *self)
{
    assert (self);
    return self->sandbox_missing? self->sandbox_missing: "";
}

void
session_set_state_lost (session_t *self, const char *notice)
{
    assert (self && notice);
    free (self->lost_notice);
    self->lost_notice = mem_strdup (notice);
    assert (self->lost_notice);
}

const char *
session_state_lost (session_t *self)
{
    assert (self);
    return self->lost_notice;
}

void
session_clear_state_lost (session_t *self)
{
    assert (self);
    free (self->lost_notice);
    self->lost_notice = NULL;
}

//  --- the table ------------------------------------------------------

session_table_t *
session_table_new (size_t max_sessions, size_t max_queue)
{
    session_table_t *self = (session_table_t *) zmalloc (sizeof *self);
    self->sessions = zhashx_new ();
    zhashx_set_destructor (self->sessions, s_session_destructor);
    self->by_kernel = zhashx_new ();
    self->on_host = zhashx_new ();
    self->tombstones = zhashx_new ();
    zhashx_set_destructor (self->tombstones, s_str_destructor);
    self->tomb_order = zlistx_new ();
    zlistx_set_destructor (self->tomb_order, s_str_destructor);
    zlistx_set_comparator (self->tomb_order, s_str_compare);
    self->max_sessions = max_sessions;
    self->max_queue = max_queue;
    self->max_tombstones = 4 * max_sessions + 1024;
    return self;
}

void
session_table_destroy (session_table_t **self_p)
{
    assert (self_p);
    session_table_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->by_kernel);
    zhashx_destroy (&self->on_host);
    zhashx_destroy (&self->sessions);
    zhashx_destroy (&self->tombstones);
    zlistx_destroy (&self->tomb_order);
    free (self);
    *self_p = NULL;
}

static void
s_tombstone_forget (session_table_t *self, const char *key)
{
    if (!zhashx_lookup (self->tombstones, key))
        return;
    void *handle = zlistx_find (self->tomb_order, (void *) key);
    if (handle)
        zlistx_delete (self->tomb_order, handle);
    zhashx_delete (self->tombstones, key);
}

session_t *
session_table_create (session_table_t *self, const char *key, int64_t now)
{
    assert (self && key);
    assert (!zhashx_lookup (self->sessions, key));
    if (zhashx_size (self->sessions) >= self->max_sessions)
        return NULL;
    session_t *session = s_session_new (key, self->max_queue, now);
    const char *notice = (const char *) zhashx_lookup (self->tombstones, key);
    if (notice)
        session_set_state_lost (session, notice);
    s_tombstone_forget (self, key);
    zhashx_insert (self->sessions, key, session);
    return session;
}

void
session_table_remove (session_table_t *self, session_t **session_p,
                      const char *notice)
{
    assert (self && session_p);
    session_t *session = *session_p;
    if (!session)
        return;
    if (*session->kernel_id)
        session_table_unbind_kernel (self, session);
    if (notice) {
        s_tombstone_forget (self, session->key);
        if (zlistx_size (self->tomb_order) >= self->max_tombstones) {
            char *oldest = (char *) zlistx_first (self->tomb_order);
            zhashx_delete (self->tombstones, oldest);
            zlistx_delete (self->tomb_order, zlistx_cursor (self->tomb_order));
        }
        char *copy = mem_strdup (notice);
        zhashx_insert (self->tombstones, session->key, copy);
        char *order_key = mem_strdup (session->key);
        zlistx_add_end (self->tomb_order, order_key);
    }
    //  The hash owns the session: deleting it runs s_session_destroy, which
    //  frees session->key, so look it up by a copy
    char *key = mem_strdup (session->key);
    zhashx_delete (self->sessions, key);
    free (key);
    *session_p = NULL;
}

session_t *
session_table_lookup (session_table_t *self, const char *key)
{
    assert (self && key);
    return (session_t *) zhashx_lookup (self->sessions, key);
}

session_t *
session_table_by_kernel (session_table_t *self, const char *kernel_id)
{
    assert (self && kernel_id);
    return (session_t *) zhashx_lookup (self->by_kernel, kernel_id);
}

const char *
session_table_tombstone (session_table_t *self, const char *key)
{
    assert (self && key);
    return (const char *) zhashx_lookup (self->tombstones, key);
}

size_t
session_table_size (session_table_t *self)
{
    assert (self);
    return zhashx_size (self->sessions);
}

size_t
session_table_queued (session_table_t *self)
{
    assert (self);
    size_t total = 0;
    for (session_t *s = (session_t *) zhashx_first (self->sessions); s;
         s = (session_t *) zhashx_next (self->sessions))
        total += zlistx_size (s->queue);
    return total;
}

size_t
session_table_kernels (session_table_t *self)
{
    assert (self);
    return zhashx_size (self->by_kernel);
}

size_t
session_table_on_host (session_table_t *self, const char *host)
{
    assert (self && host);
    return (size_t) (uintptr_t) zhashx_lookup (self->on_host, host);
}

//  Counts a kernel bound on host (delta +1) or unbound (-1).
static void
s_host_count (session_table_t *self, const char *host, int delta)
{
    if (!*host)
        return;
    size_t count = session_table_on_host (self, host);
    count = delta > 0? count + 1: count > 0? count - 1: 0;
    if (count)
        zhashx_update (self->on_host, host, (void *) (uintptr_t) count);
    else
        zhashx_delete (self->on_host, host);
}

session_t *
session_table_first (session_table_t *self)
{
    assert (self);
    return (session_t *) zhashx_first (self->sessions);
}

session_t *
session_table_next (session_table_t *self)
{
    assert (self);
    return (session_t *) zhashx_next (self->sessions);
}

static int
s_session_compare (const void *a, const void *b)
{
    return strcmp (((const session_t *) a)->key, ((const session_t *) b)->key);
}

static bool
s_pick_all (session_t *session, void *arg)
{
    (void) session;
    (void) arg;
    return true;
}

zlistx_t *
session_table_list (session_table_t *self)
{
    return session_table_select (self, s_pick_all, NULL);
}

zlistx_t *
session_table_select (session_table_t *self, session_pick_fn *pick, void *arg)
{
    assert (self && pick);
    zlistx_t *list = zlistx_new ();
    zlistx_set_comparator (list, s_session_compare);
    for (session_t *s = (session_t *) zhashx_first (self->sessions); s;
         s = (session_t *) zhashx_next (self->sessions))
        if (pick (s, arg))
            zlistx_add_end (list, s);
    zlistx_sort (list);
    return list;
}

void
session_table_bind_kernel (session_table_t *self, session_t *session,
                           const char *kernel_id, const char *host, int64_t now)
{
    assert (self && session && kernel_id && *kernel_id && host);
    if (*session->kernel_id)
        session_table_unbind_kernel (self, session);
    snprintf (session->kernel_id, sizeof session->kernel_id, "%s", kernel_id);
    snprintf (session->host, sizeof session->host, "%s", host);
    session->pid = 0;
    session->state = SESSION_STARTING;
    session->kernel_heard = now;
    session->kernel_started = now;
    zhashx_insert (self->by_kernel, session->kernel_id, session);
    s_host_count (self, session->host, +1);
}

void
session_table_unbind_kernel (session_table_t *self, session_t *session)
{
    assert (self && session);
    if (*session->kernel_id) {
        zhashx_delete (self->by_kernel, session->kernel_id);
        s_host_count (self, session->host, -1);
    }
    //  The replies it held died with it; what it saw stays known
    zhashx_destroy (&session->held);
    session->host [0] = 0;
    session->kernel_id [0] = 0;
    session->pid = 0;
    session->executor_pid = 0;
    session_set_cpu (session, -1, 0, 0);
    session->state = SESSION_DEAD;
    session->exit_cause [0] = 0;
    session->exit_deadline = 0;
}

void
session_table_kernel_exited (session_table_t *self, session_t *session,
                             const char *cause, int64_t deadline)
{
    assert (self && session && cause);
    session->pid = 0;               //  reaped
    snprintf (session->exit_cause, sizeof session->exit_cause, "%s", cause);
    session->exit_deadline = deadline;
}

const char *
session_kernel_exit_due (session_t *self, int64_t now)
{
    assert (self);
    return self->exit_deadline && now >= self->exit_deadline? self->exit_cause: NULL;
}

bool
session_kernel_exited (session_t *self)
{
    assert (self);
    return self->exit_deadline != 0;
}

//  --- after a broker restart ---------------------------------------------

static void
s_resend_destroy (void **item)
{
    s_resend_t *resend = (s_resend_t *) *item;
    if (!resend)
        return;
    zframe_destroy (&resend->client);
    free (resend);
    *item = NULL;
}

static void
s_id_key (uint64_t id, char *key, size_t size)
{
    snprintf (key, size, "%" PRIu64, id);
}

//  A set of ids (keys only), made on first use.
static void
s_ids_add (zhashx_t **set, uint64_t id)
{
    if (!*set)
        *set = zhashx_new ();
    char key [24];
    s_id_key (id, key, sizeof key);
    zhashx_update (*set, key, (void *) 1);
}

static bool
s_ids_has (zhashx_t *set, uint64_t id)
{
    char key [24];
    s_id_key (id, key, sizeof key);
    return set && zhashx_lookup (set, key);
}

void
session_note_held (session_t *self, uint64_t id)
{
    assert (self);
    s_ids_add (&self->held, id);
}

void
session_note_seen (session_t *self, uint64_t id)
{
    assert (self);
    s_ids_add (&self->seen, id);
}

bool
session_holds (session_t *self, uint64_t id)
{
    assert (self);
    return s_ids_has (self->held, id);
}

bool
session_saw (session_t *self, uint64_t id)
{
    assert (self);
    return s_ids_has (self->seen, id) || s_ids_has (self->held, id);
}

void
session_resend_wait (session_t *self, uint64_t request, uint64_t resume_id,
                     zframe_t *client)
{
    assert (self && client);
    if (!self->resends) {
        self->resends = zlistx_new ();
        zlistx_set_destructor (self->resends, s_resend_destroy);
    }
    s_resend_t *resend = (s_resend_t *) zmalloc (sizeof *resend);
    resend->request = request;
    resend->resume_id = resume_id;
    resend->client = zframe_dup (client);
    zlistx_add_end (self->resends, resend);
}

bool
session_resend_next (session_t *self, uint64_t *request, uint64_t *resume_id,
                     zframe_t **client)
{
    assert (self && request && resume_id && client);
    if (!self->resends)
        return false;
    for (s_resend_t *resend = (s_resend_t *) zlistx_first (self->resends); resend;
         resend = (s_resend_t *) zlistx_next (self->resends)) {
        if (*request && resend->request != *request)
            continue;
        *request = resend->request;
        *resume_id = resend->resume_id;
        *client = resend->client;
        resend->client = NULL;
        zlistx_delete (self->resends, zlistx_cursor (self->resends));
        return true;
    }
    return false;
}

const char *
session_host (session_t *self)
{
    assert (self);
    return self->host;
}

//  --- selftest -------------------------------------------------------

static session_request_t *
s_test_request (const char *client, uint64_t id)
{
    zframe_t *frame = zframe_new (client, strlen (client));
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "KMQ1");
    return session_request_new (&frame, &msg, id, 1);
}

//  session_table_select's test: the session keyed arg, or all for NULL
static bool
s_test_pick (session_t *s, void *arg)
{
    return !arg || streq (session_key (s), (const char *) arg);
}

void
session_test (bool verbose)
{
    (void) verbose;
    session_table_t *table = session_table_new (2, 3);
    SELFTEST_CHECK (table);
    SELFTEST_CHECK (session_table_size (table) == 0);

    //  Create, lookup, limit
    session_t *a = session_table_create (table, "nb1", 1000);
    SELFTEST_CHECK (a);
    SELFTEST_CHECK (streq (session_key (a), "nb1"));
    SELFTEST_CHECK (session_state (a) == SESSION_DEAD);
    SELFTEST_CHECK (session_pid (a) == 0);
    SELFTEST_CHECK (streq (session_kernel_id (a), ""));
    SELFTEST_CHECK (session_state_lost (a) == NULL);
    SELFTEST_CHECK (session_table_lookup (table, "nb1") == a);
    SELFTEST_CHECK (session_table_lookup (table, "nb2") == NULL);
    session_t *b = session_table_create (table, "nb2", 1000);
    SELFTEST_CHECK (b);
    SELFTEST_CHECK (session_table_create (table, "nb3", 1000) == NULL);
    SELFTEST_CHECK (session_table_size (table) == 2);

    //  FIFO order and bound
    for (uint64_t id = 1; id <= 3; id++) {
        session_request_t *req = s_test_request ("c1", id);
        SELFTEST_CHECK (session_enqueue (a, &req) == 0);
        SELFTEST_CHECK (req == NULL);
    }
    session_request_t *extra = s_test_request ("c1", 4);
    SELFTEST_CHECK (session_enqueue (a, &extra) == -1);
    SELFTEST_CHECK (extra);
    session_request_destroy (&extra);
    SELFTEST_CHECK (extra == NULL);
    SELFTEST_CHECK (session_queued (a) == 3);
    SELFTEST_CHECK (session_table_queued (table) == 3);

    //  Kernel binding and indexes
    session_table_bind_kernel (table, a, "k1-abc", "h1", 2000);
    SELFTEST_CHECK (session_state (a) == SESSION_STARTING);
    SELFTEST_CHECK (session_table_by_kernel (table, "k1-abc") == a);
    SELFTEST_CHECK (session_pid (a) == 0 && streq (session_host (a), "h1"));
    session_set_pid (a, 4121);
    SELFTEST_CHECK (session_pid (a) == 4121);
    SELFTEST_CHECK (session_table_kernels (table) == 1);
    SELFTEST_CHECK (session_table_on_host (table, "h1") == 1);
    SELFTEST_CHECK (session_table_on_host (table, "h2") == 0);
    SELFTEST_CHECK (session_kernel_age_ms (a, 2500) == 500);
    session_kernel_heard (a, 2600);
    SELFTEST_CHECK (session_kernel_silent_ms (a, 3000) == 400);
    //  A request sent to it: its silence counts from then, not from before
    session_kernel_awaited (a, 2900);
    SELFTEST_CHECK (session_kernel_silent_ms (a, 3000) == 100);
    session_kernel_heard (a, 2950);
    SELFTEST_CHECK (session_kernel_silent_ms (a, 3000) == 50);
    session_set_state (a, SESSION_IDLE);
    SELFTEST_CHECK (session_executor_pid (a) == 0);
    session_set_executor_pid (a, 4123);
    SELFTEST_CHECK (session_executor_pid (a) == 4123);
    SELFTEST_CHECK (session_cpu_s (a) < 0);
    session_set_cpu (a, 2.5, 1.0, 0.5);
    SELFTEST_CHECK (session_cpu_s (a) == 2.5 && session_cpus (a) == 1.0
                 && session_cpu_share (a) == 0.5);

    //  Dispatch in order; the in-flight request is not queued
    session_request_t *req = session_dequeue (a);
    SELFTEST_CHECK (req && req->id == 1);
    SELFTEST_CHECK (req->client && zframe_streq (req->client, "c1"));
    zmsg_destroy (&req->msg);               //  "sent" to the kernel
    session_set_inflight (a, &req);
    SELFTEST_CHECK (req == NULL);
    SELFTEST_CHECK (session_state (a) == SESSION_BUSY);
    SELFTEST_CHECK (session_inflight (a)->id == 1);
    SELFTEST_CHECK (session_queued (a) == 2);
    //  Busy and queued sessions are never idle
    SELFTEST_CHECK (session_idle_ms (a, 1000000) == 0);
    req = session_take_inflight (a);
    SELFTEST_CHECK (req && req->id == 1);
    SELFTEST_CHECK (session_state (a) == SESSION_IDLE);
    session_request_destroy (&req);
    session_count_answer (a);
    SELFTEST_CHECK (session_answered (a) == 1);
    req = session_dequeue (a);
    SELFTEST_CHECK (req && req->id == 2);
    session_request_destroy (&req);
    req = session_dequeue (a);
    SELFTEST_CHECK (req && req->id == 3);
    session_request_destroy (&req);
    SELFTEST_CHECK (session_dequeue (a) == NULL);

    //  Idle computation
    session_touch (a, 5000);
    SELFTEST_CHECK (session_idle_ms (a, 6500) == 1500);
    SELFTEST_CHECK (session_idle_ms (a, 4000) == 0);
    session_set_state (a, SESSION_STARTING);
    SELFTEST_CHECK (session_idle_ms (a, 6500) == 0);
    session_set_state (a, SESSION_IDLE);

    //  Attach dedup, detach
    zframe_t *c1 = zframe_new ("c1", 2);
    zframe_t *c2 = zframe_new ("c2", 2);
    SELFTEST_CHECK (session_attach (a, c1));
    SELFTEST_CHECK (!session_attach (a, c1));
    SELFTEST_CHECK (session_attach (a, c2));
    SELFTEST_CHECK (zlistx_size (session_attached (a)) == 2);
    SELFTEST_CHECK (session_detach (a, c1));
    SELFTEST_CHECK (!session_detach (a, c1));
    SELFTEST_CHECK (zlistx_size (session_attached (a)) == 1);
    zframe_destroy (&c1);
    zframe_destroy (&c2);

    //  Iteration and sorted snapshot
    zlistx_t *list = session_table_list (table);
    SELFTEST_CHECK (zlistx_size (list) == 2);
    SELFTEST_CHECK (zlistx_first (list) == a);
    SELFTEST_CHECK (zlistx_next (list) == b);
    zlistx_destroy (&list);
    size_t seen = 0;
    for (session_t *s = session_table_first (table); s; s = session_table_next (table))
        seen++;
    SELFTEST_CHECK (seen == 2);
    list = session_table_select (table, s_test_pick, (void *) session_key (b));
    SELFTEST_CHECK (zlistx_size (list) == 1 && zlistx_first (list) == b);
    zlistx_destroy (&list);
    list = session_table_select (table, s_test_pick, NULL);
    SELFTEST_CHECK (zlistx_size (list) == 2 && zlistx_first (list) == a);
    zlistx_destroy (&list);

    //  Kernel death: unbind, state lost for the next kernel
    session_table_unbind_kernel (table, a);
    SELFTEST_CHECK (session_executor_pid (a) == 0);
    SELFTEST_CHECK (session_state (a) == SESSION_DEAD);
    SELFTEST_CHECK (session_table_by_kernel (table, "k1-abc") == NULL);
    SELFTEST_CHECK (session_pid (a) == 0 && streq (session_host (a), ""));
    SELFTEST_CHECK (session_table_kernels (table) == 0);
    SELFTEST_CHECK (session_table_on_host (table, "h1") == 0);
    session_set_state_lost (a, "kernel died");
    SELFTEST_CHECK (streq (session_state_lost (a), "kernel died"));
    session_clear_state_lost (a);
    SELFTEST_CHECK (session_state_lost (a) == NULL);

    //  Eviction leaves a tombstone; the next session under the key gets it
    session_table_bind_kernel (table, a, "k2-def", "h1", 7000);
    req = s_test_request ("c3", 9);
    SELFTEST_CHECK (session_enqueue (a, &req) == 0);
    session_table_remove (table, &a, "session was evicted after 2 s idle");
    SELFTEST_CHECK (a == NULL);
    SELFTEST_CHECK (session_table_by_kernel (table, "k2-def") == NULL);
    SELFTEST_CHECK (session_table_on_host (table, "h1") == 0);
    SELFTEST_CHECK (session_table_lookup (table, "nb1") == NULL);
    SELFTEST_CHECK (streq (session_table_tombstone (table, "nb1"),
                   "session was evicted after 2 s idle"));
    a = session_table_create (table, "nb1", 8000);
    SELFTEST_CHECK (a);
    SELFTEST_CHECK (streq (session_state_lost (a), "session was evicted after 2 s idle"));
    SELFTEST_CHECK (session_table_tombstone (table, "nb1") == NULL);
    SELFTEST_CHECK (session_answered (a) == 0);

    //  After a broker restart: held and seen ids, resend waiters
    session_table_bind_kernel (table, a, "k3-ghi", "h2", 8000);
    session_note_seen (a, 70);
    session_note_held (a, 71);
    SELFTEST_CHECK (session_saw (a, 70) && session_saw (a, 71) && !session_saw (a, 72));
    SELFTEST_CHECK (session_holds (a, 71) && !session_holds (a, 70));
    zframe_t *waiter = zframe_new ("c9", 2);
    session_resend_wait (a, 71, 500, waiter);
    session_resend_wait (a, 71, 501, waiter);
    zframe_destroy (&waiter);
    uint64_t request = 70, resume_id = 0;
    zframe_t *client = NULL;
    SELFTEST_CHECK (!session_resend_next (a, &request, &resume_id, &client));
    request = 71;
    SELFTEST_CHECK (session_resend_next (a, &request, &resume_id, &client));
    SELFTEST_CHECK (resume_id == 500 && client && zframe_streq (client, "c9"));
    zframe_destroy (&client);
    request = 0;
    SELFTEST_CHECK (session_resend_next (a, &request, &resume_id, &client));
    SELFTEST_CHECK (request == 71 && resume_id == 501);
    zframe_destroy (&client);
    SELFTEST_CHECK (!session_resend_next (a, &request, &resume_id, &client));
    waiter = zframe_new ("c10", 3);
    session_resend_wait (a, 72, 502, waiter);   //  left for destroy to free
    zframe_destroy (&waiter);
    session_table_unbind_kernel (table, a);
    SELFTEST_CHECK (!session_holds (a, 71) && session_saw (a, 70));

    //  Close leaves none
    session_table_remove (table, &a, NULL);
    SELFTEST_CHECK (session_table_tombstone (table, "nb1") == NULL);
    a = session_table_create (table, "nb1", 9000);
    SELFTEST_CHECK (a && session_state_lost (a) == NULL);

    //  Tombstones are bounded: the oldest go first
    session_table_remove (table, &b, NULL);
    size_t max_tomb = 4 * 2 + 1024;
    for (size_t i = 0; i < max_tomb + 5; i++) {
        char key [32];
        snprintf (key, sizeof key, "t%zu", i);
        session_t *t = session_table_create (table, key, 0);
        SELFTEST_CHECK (t);
        session_table_remove (table, &t, "evicted");
    }
    SELFTEST_CHECK (session_table_tombstone (table, "t0") == NULL);
    SELFTEST_CHECK (session_table_tombstone (table, "t4") == NULL);
    SELFTEST_CHECK (session_table_tombstone (table, "t5"));
    char last [32];
    snprintf (last, sizeof last, "t%zu", max_tomb + 4);
    SELFTEST_CHECK (session_table_tombstone (table, last));

    session_table_destroy (&table);
    session_table_destroy (&table);
    SELFTEST_CHECK (table == NULL);
}
