/*  monitor — the trusted half of kmq-kernel.

    The monitor owns the kernel's ZeroMQ DEALER to the broker's backend and
    supervises one executor (the forked child running user Python). It
    forwards requests to the executor untouched, turns the executor's
    stdout/stderr into `stream` events, heartbeats the broker whatever Python
    is doing, enforces per-request timeouts (SIGINT, then SIGKILL after a
    grace period) and reports how the executor died. It trusts nothing the
    executor sends: every reply goes through proto_decode, and a malformed
    or unexpected one kills the executor.

    The executor is the monitor's child (forked here) or the zygote's
    (protocol.md section 10); the monitor signals and reaps it only through
    executor_signal and executor_reap, and notices a zygote executor's end
    by polling the zygote connection and the executor's pidfd as it
    notices its own child's by SIGCHLD. It never blocks on the executor:
    writes go out as the socket takes them, and the wait for a dead
    executor's status is a deadline in the loop. Its `ready` to the broker
    names the executor's host pid (executor_pid).

    One monitor runs per process: monitor_new installs the process's
    SIGTERM, SIGINT and SIGCHLD handlers. Create it only after the executor
    was forked (executor_spawn), since it may create the ZeroMQ context's
    first socket. With a zygote, the DEALER is made earlier
    (monitor_dealer_new, while the zygote hands the executor over) and
    given to monitor_new: its connection's handshake is then done before
    the executor is ready, and nothing is sent on it until then.
*/
#ifndef KMQ_MONITOR_H
#define KMQ_MONITOR_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "executor.h"

typedef struct {
    const char *name;               //  log prefix, "kernel nb1 k3-9f2a"
    const char *endpoint;           //  broker backend, ipc://.../backend
    const char *session;            //  session key, sent in `ready`
    const char *kernel_id;          //  DEALER routing id chosen by the broker
    uint64_t heartbeat_ivl_ms;      //  > 0, while a request runs
    uint64_t heartbeat_idle_ivl_ms; //  >= heartbeat_ivl_ms, while idle
    uint64_t heartbeat_liveness;    //  > 0
    uint64_t request_timeout_ms;    //  cap on every request; 0 = none
    uint64_t request_cpu_ms;        //  CPU time a request may use; 0 = none
    uint64_t kill_grace_ms;         //  SIGINT -> SIGKILL delay on timeout
    uint64_t max_output;            //  bytes of output per request; 0 = no cap
    uint64_t max_payload;           //  largest payload frame; 0 = protocol cap
    bool verbose;                   //  per-message debug logs
    uint64_t broker_grace_ms;       //  how long a silent broker is waited for
                                    //  (protocol.md 12.2); 0 = interval x liveness
    const char *host;               //  the kernel host that started it ("" none)
    const char *state_dir;          //  snapshots (protocol.md 10.3); NULL: none
    uint64_t snapshot_quota;        //  bytes a snapshot may take
    bool snapshot_on_term;          //  SIGTERM: snapshot, then end
    bool restore_pending;           //  state_dir holds this session's snapshot
    const char *cgroup;             //  the executor's group list (cgroup.h),
                                    //  NULL: the host gave it none
    unsigned test_faults;           //  TEST_FAULT_* (test_faults.h); 0 in production
} monitor_config_t;

typedef struct _monitor_t monitor_t;

//  A DEALER to the broker's backend (routing id, limits and keys set),
//  connecting. The broker does not know this kernel until its `ready`,
//  which monitor_run sends once the executor is ready. NULL when it could
//  not be made (logged). Needs zsys_init.
zsock_t *monitor_dealer_new (const monitor_config_t *config);

//  Creates the monitor for an executor that is already running. Takes
//  ownership of the executor: from here on the monitor kills and reaps it
//  (also when monitor_new fails and returns NULL), and of *dealer_p when
//  dealer_p is not NULL (a monitor_dealer_new socket, or NULL: the monitor
//  makes its own once the executor is ready). config must outlive the
//  monitor. Sends nothing yet.
monitor_t *monitor_new (const monitor_config_t *config,
                        const executor_handle_t *executor, zsock_t **dealer_p);

//  Connects, sends `ready` and runs until the kernel must end. Returns the
//  process exit status: 0 after `close`, SIGTERM/SIGINT, the executor's
//  death or a timeout kill; 1 when the broker went silent or the monitor
//  could not work (socket failure).
int monitor_run (monitor_t *self);

//  Kills and reaps the executor if it still runs, closes its fds and the
//  DEALER, restores the signal handlers. No-op on NULL.
void monitor_destroy (monitor_t **self_p);

#endif
