/*  hosts — the broker's registry of kernel hosts (protocol.md 12.1): pure
    data, no sockets.

    A host is known from its `host_ready` until it goes silent. The
    registry remembers what each said of itself (capacity, the kernels it
    still ran when it registered, its zygote) and when it was last heard;
    the broker counts the sessions it placed on each (they live in the
    session table) and asks hosts_place which host takes the next kernel.

    A host that registers with kernels still running "settles": a broker
    that restarted waits for those kernels to come back (resumed `ready`)
    before it starts new kernels or answers `resume`, so a session never
    gets a second kernel. Settling ends when all came back or at the
    deadline given.

    Times are milliseconds on any monotonic clock the caller chooses.
*/
#ifndef KMQ_HOSTS_H
#define KMQ_HOSTS_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HOSTS_ID_MAX 64

typedef struct {
    char id [HOSTS_ID_MAX + 1];
    zframe_t *route;                //  its routing id on the backend
    pid_t pid;
    uint64_t max_sessions;
    int64_t heard;
    size_t expected;                //  kernels still to come back (settling)
    int64_t settle_until;
    //  From its last host_status (0 until one came)
    pid_t zygote_pid;
    uint64_t zygote_restarts;
    uint64_t pool_size;
    uint64_t running;               //  kernel processes it runs
    //  Its memory promise, from host_ready (protocol.md 12.1)
    uint64_t memory_sessions;       //  sessions that fit its host_memory; 0 = no bound
    uint64_t worst_case;            //  bytes a session may hold at most
    uint64_t host_memory;           //  bytes all its sessions may hold
} hosts_entry_t;

typedef struct _hosts_t hosts_t;

//  An empty registry. Never NULL.
hosts_t *hosts_new (void);
//  Destroys it. No-op on NULL.
void hosts_destroy (hosts_t **self_p);

//  A host said host_ready: registers it (or refreshes it, when its id is
//  known: a host that re-registered). route is copied. running is the
//  kernels it runs; until settle_until the broker waits for them.
//  Returns the entry (borrowed).
hosts_entry_t *hosts_ready (hosts_t *self, const char *id, zframe_t *route, pid_t pid,
                            uint64_t max_sessions, uint64_t running,
                            int64_t settle_until, int64_t now);
//  The entry of id, or NULL.
hosts_entry_t *hosts_lookup (hosts_t *self, const char *id);
//  Forgets host id (lost). No-op when unknown.
void hosts_remove (hosts_t *self, const char *id);
size_t hosts_size (hosts_t *self);

//  A kernel of host id came back after a broker restart.
void hosts_kernel_back (hosts_t *self, const char *id);
//  True while some host waits for its kernels (see above) at now.
bool hosts_settling (hosts_t *self, int64_t now);

//  The sessions placed on host id (the caller counts them).
typedef size_t (hosts_load_fn) (const char *id, void *arg);

//  How many sessions entry takes: max_sessions, or fewer when its memory
//  admits fewer (memory_sessions).
uint64_t hosts_capacity (const hosts_entry_t *entry);

//  The host that takes the next kernel: the one with the most headroom
//  (hosts_capacity minus load), the earliest registered on a tie; NULL
//  when none has room.
hosts_entry_t *hosts_place (hosts_t *self, hosts_load_fn *load, void *arg);

//  When no host has room: the first host that is full because of its
//  memory (memory_sessions reached before max_sessions), or NULL.
hosts_entry_t *hosts_memory_bound (hosts_t *self, hosts_load_fn *load, void *arg);

//  The hosts, in registration order (borrowed zlistx of hosts_entry_t *;
//  do not change it).
zlistx_t *hosts_list (hosts_t *self);

//  Selftest.
void hosts_test (bool verbose);

#endif
