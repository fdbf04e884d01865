/*  session — the broker's session table: pure data, no sockets.

    A session is one client-chosen key bound to (at most) one kernel
    process. It holds the FIFO of requests waiting for that kernel, the one
    request in flight, the clients attached to it, and whether the next
    kernel must announce that state was lost.

    The table indexes sessions by key and by kernel routing id, counts them
    against max_sessions and their kernels per kernel host, and keeps
    tombstones: the notice
    left behind by a session that was evicted, handed to the next session
    created under the same key so its first reply says state was lost.
    Sessions ended by close leave no tombstone.

    Times are milliseconds on any monotonic clock the caller chooses.
*/
#ifndef KMQ_SESSION_H
#define KMQ_SESSION_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
    SESSION_DEAD,           //  no kernel process (never started, or it died)
    SESSION_STARTING,       //  kernel spawned, waiting for its `ready`
    SESSION_IDLE,           //  kernel ready, nothing in flight
    SESSION_BUSY            //  kernel ready, one request in flight
} session_state_t;

//  A request waiting for or held by a kernel.
typedef struct {
    zframe_t *client;       //  requester's routing id on the frontend
    zmsg_t *msg;            //  the original frames (KMQ1, header, payloads);
                            //  NULL once sent to the kernel
    uint64_t id;            //  the client's request id
    int type;               //  proto_type_t
    bool no_input;          //  the request said `input: false`: its client
                            //  wants no `input` event (protocol.md 4.5)
    //  An upload in parts (protocol.md 5, upload): the pieces announced
    //  (1 when it is one message), the next one due, the bytes announced
    //  and those come so far; the pieces that came while it waited,
    //  sent to the kernel after it (zmsg_t *, owned).
    uint32_t parts;
    uint32_t next_part;
    uint64_t bytes;
    uint64_t bytes_seen;
    zlistx_t *held_parts;
} session_request_t;

typedef struct _session_t session_t;
typedef struct _session_table_t session_table_t;

//  --- requests -----------------------------------------------------------

//  Takes ownership of *client_p and *msg_p. Never NULL.
session_request_t *session_request_new (zframe_t **client_p, zmsg_t **msg_p,
                                        uint64_t id, int type);
void session_request_destroy (session_request_t **self_p);
//  The next piece of an upload in parts: true if part is the one due and
//  fits the bytes announced (it is then counted), else false (drop it).
bool session_request_part_due (session_request_t *self, uint64_t part, size_t size);
//  Holds a piece that came while the upload waits (takes *part_p).
void session_request_hold_part (session_request_t *self, zmsg_t **part_p);

//  --- the table ----------------------------------------------------------

//  max_sessions bounds live sessions; max_queue bounds each session's FIFO.
session_table_t *session_table_new (size_t max_sessions, size_t max_queue);
//  Destroys every session and its requests. No-op on NULL.
void session_table_destroy (session_table_t **self_p);

//  Creates a session (state DEAD, no kernel) for key; if key has a
//  tombstone it is consumed and the session starts with state_lost set to
//  the tombstone's notice. Returns NULL when max_sessions sessions exist.
//  key must not already exist.
session_t *session_table_create (session_table_t *self, const char *key, int64_t now);
//  Removes and destroys *session_p (its requests too: answer them first).
//  With a non-NULL notice, leaves a tombstone under its key.
void session_table_remove (session_table_t *self, session_t **session_p,
                           const char *notice);

session_t *session_table_lookup (session_table_t *self, const char *key);
session_t *session_table_by_kernel (session_table_t *self, const char *kernel_id);
//  The notice a tombstone holds for key, or NULL.
const char *session_table_tombstone (session_table_t *self, const char *key);

size_t session_table_size (session_table_t *self);
//  Requests waiting in all sessions (not counting those in flight).
size_t session_table_queued (session_table_t *self);
//  Sessions with a kernel bound.
size_t session_table_kernels (session_table_t *self);
//  Sessions whose kernel is bound on host (a host id).
size_t session_table_on_host (session_table_t *self, const char *host);

//  Iteration. Do not create or remove sessions while iterating; collect
//  them first (session_table_list).
session_t *session_table_first (session_table_t *self);
session_t *session_table_next (session_table_t *self);
//  A snapshot of all sessions, sorted by key. Caller destroys the list
//  (not the sessions).
zlistx_t *session_table_list (session_table_t *self);
//  The sessions pick says yes to, sorted by key; pick must not create or
//  remove sessions. For the periodic passes, which look at every session
//  and act on few: a sorted copy of all 3,000 every 100 ms stalled the
//  broker ~4 ms each time.
typedef bool (session_pick_fn) (session_t *session, void *arg);
zlistx_t *session_table_select (session_table_t *self, session_pick_fn *pick, void *arg);

//  Binds a kernel (its routing id) on a kernel host (its id) to the
//  session, with pid 0 until known (session_set_pid), and sets state
//  STARTING, heard and started times to now.
void session_table_bind_kernel (session_table_t *self, session_t *session,
                                const char *kernel_id, const char *host, int64_t now);
//  Forgets the session's kernel (index, host, pids, the replies it held)
//  and sets state DEAD. What it saw stays known (session_saw).
void session_table_unbind_kernel (session_table_t *self, session_t *session);

//  The kernel process exited while a request was in flight: forgets its
//  pid but keeps its routing id, so a final reply it sent before exiting
//  is still routed. If none comes by deadline, the caller reports cause
//  (copied; see session_kernel_exit_due).
void session_table_kernel_exited (session_table_t *self, session_t *session,
                                  const char *cause, int64_t deadline);
//  The cause recorded by session_table_kernel_exited once now is past its
//  deadline, else NULL.
const char *session_kernel_exit_due (session_t *self, int64_t now);
//  True between session_table_kernel_exited and the unbinding.
bool session_kernel_exited (session_t *self);

//  --- one session ------------------------------------------------------

const char *session_key (session_t *self);
session_state_t session_state (session_t *self);
void session_set_state (session_t *self, session_state_t state);
//  "dead", "starting", "idle", "busy".
const char *session_state_name (session_state_t state);

//  Kernel routing id ("" when none) and pid (0 when none or not yet
//  known: the host reports it).
const char *session_kernel_id (session_t *self);
pid_t session_pid (session_t *self);
void session_set_pid (session_t *self, pid_t pid);
//  The host pid of the kernel's executor, as its `ready` reported it (0
//  until then, and once the kernel is unbound).
void session_set_executor_pid (session_t *self, pid_t pid);
pid_t session_executor_pid (session_t *self);

//  Its kernel's CPU use as its host last reported it (from the executor's
//  cgroup): cpu_s seconds in all, cpus CPUs over the host's last status
//  interval, share the fraction of the host's CPUs. Negative cpu_s: not
//  reported (no cgroup, or no kernel yet); reset when the kernel goes.
void session_set_cpu (session_t *self, double cpu_s, double cpus, double share);
double session_cpu_s (session_t *self);
double session_cpus (session_t *self);
double session_cpu_share (session_t *self);

//  Appends *req_p. Returns 0 and clears *req_p, or -1 (queue full; *req_p
//  stays the caller's).
int session_enqueue (session_t *self, session_request_t **req_p);
//  Takes the oldest waiting request, or NULL.
session_request_t *session_dequeue (session_t *self);
size_t session_queued (session_t *self);
//  The waiting requests, oldest first (borrowed zlistx of
//  session_request_t *; do not change it).
zlistx_t *session_waiting (session_t *self);

//  The request in flight (borrowed), or NULL.
session_request_t *session_inflight (session_t *self);
//  Makes *req_p the request in flight (there must be none) and sets state
//  BUSY.
void session_set_inflight (session_t *self, session_request_t **req_p);
//  Takes the request in flight (caller owns it), or NULL. State IDLE if it
//  was BUSY.
session_request_t *session_take_inflight (session_t *self);

//  Attached clients: routing ids (copied). Attach returns true when added,
//  false when it was already attached; detach returns whether it was.
bool session_attach (session_t *self, zframe_t *client);
bool session_detach (session_t *self, zframe_t *client);
//  The attached routing ids (borrowed zlistx of zframe_t *).
zlistx_t *session_attached (session_t *self);

//  Activity: any request or reply. idle_ms is 0 unless the session is
//  idle (IDLE or DEAD, nothing queued or in flight); then the time since
//  its last activity.
void session_touch (session_t *self, int64_t now);
int64_t session_idle_ms (session_t *self, int64_t now);

//  Kernel liveness: when we last heard from it, when we sent it a request
//  (it owes us signs of life at the busy rate from then: protocol.md 7),
//  when it was started. Silence counts from the later of the first two.
void session_kernel_heard (session_t *self, int64_t now);
void session_kernel_awaited (session_t *self, int64_t now);
int64_t session_kernel_silent_ms (session_t *self, int64_t now);
int64_t session_kernel_age_ms (session_t *self, int64_t now);

//  Requests answered by kernels so far.
void session_count_answer (session_t *self);
uint64_t session_answered (session_t *self);

//  What the session's kernel said of its sandbox in `ready`: the layers in
//  force ("namespaces,filesystem,...") and why any other is missing.
//  Both "" until a kernel reported.
void session_set_sandbox (session_t *self, const char *applied, const char *missing);
const char *session_sandbox (session_t *self);
const char *session_sandbox_missing (session_t *self);

//  State lost: the notice the next kernel must carry (copied), or NULL.
void session_set_state_lost (session_t *self, const char *notice);
const char *session_state_lost (session_t *self);
void session_clear_state_lost (session_t *self);

//  The kernel host the session's kernel runs on ("" when none bound).
const char *session_host (session_t *self);

//  After a broker restart (protocol.md 12.2): the requests its kernel said
//  it received (seen) and those whose replies it holds (held).
void session_note_seen (session_t *self, uint64_t id);
void session_note_held (session_t *self, uint64_t id);
bool session_saw (session_t *self, uint64_t id);
bool session_holds (session_t *self, uint64_t id);
//  A client (copied) that resumed request (with its resume request
//  resume_id) and waits for the kernel to resend the reply it holds.
void session_resend_wait (session_t *self, uint64_t request, uint64_t resume_id,
                          zframe_t *client);
//  Takes the oldest waiter for *request (any request when *request is 0,
//  which is then set): fills *resume_id and *client (the caller owns it)
//  and returns true; false when none waits.
bool session_resend_next (session_t *self, uint64_t *request, uint64_t *resume_id,
                          zframe_t **client);

//  Selftest.
void session_test (bool verbose);

#endif
