/*  monitor_internal — what the monitor's files share.

    monitor.c is the monitor's broker side and its loop: lifecycle, the
    DEALER, broker messages, timers, the poll. monitor_exec.c is its
    executor side: requests written to it, its output, events and replies,
    and its end. monitor_request.c owns the state of the request in flight.
    None is used outside kernel/monitor*; monitor.h is the module's API.

    Nothing here blocks: the executor's socket is written through a
    proto_writer as it takes bytes, and an executor's end (reaped child,
    the zygote's `exited`, a readable pidfd) is noticed by the poll, with a
    deadline on the wait for its wait status. So heartbeats go out on time
    whatever the executor or the zygote does.
*/
#ifndef KMQ_MONITOR_INTERNAL_H
#define KMQ_MONITOR_INTERNAL_H

#include <czmq.h>
#include "kernel_contract.h"
#include "monitor.h"
#include "monitor_replies.h"
#include "monitor_request.h"
#include "proto.h"
#include "proto_stream.h"
#include "signal_pipe.h"

#define MONITOR_CHUNK        (64 * 1024)  //  bytes per pipe read = per stream event
//  The id of the monitor's own requests to the executor (snapshot,
//  restore); clients' ids never reach it (they start at a 48-bit number)
#define MONITOR_OWN_ID       UINT64_MAX

#define monitor_debug(self, ...) \
    do { if ((self)->config->verbose) zsys_debug (__VA_ARGS__); } while (0)

typedef struct {
    int fd;                         //  -1 once closed
    const char *name;               //  "stdout" or "stderr"
} monitor_pipe_t;

//  How the request in flight is answered when the executor's end is known.
typedef enum {
    MONITOR_END_DIED,               //  KERNEL_DIED with the cause
    MONITOR_END_TIMEOUT_KILLED      //  TIMEOUT, killed: it ignored the interrupt
} monitor_end_t;

struct _monitor_t {
    const monitor_config_t *config;
    const char *name;               //  log prefix
    monitor_request_limits_t limits;

    //  The executor
    executor_handle_t exec;
    bool exec_ready;                //  its `ready` arrived: Python is up
    bool exec_reaped;               //  its end is known: never signal it again
    int exec_status;                //  its wait status once reaped (-1 unknown)
    monitor_pipe_t pipes [2];       //  its stdout, stderr
    proto_writer_t *to_exec;        //  requests, acks and upload pieces, as it
                                    //  reads them
    bool part_last;                 //  the last thing queued was a piece it
                                    //  asked for (a reply may leave it unread)
    proto_reader_t *from_exec;      //  its events and replies
    char *chunk;                    //  MONITOR_CHUNK read buffer

    //  Its end, once under way: the wait for the wait status is bounded
    bool dying;
    bool kill_sent;
    int64_t reap_deadline;
    monitor_end_t end;
    char death_cause [256];         //  "" = described from the wait status

    monitor_request_t req;          //  the request in flight (monitor_request.c)
    bool snapshotting;              //  it is MONITOR_OWN_ID's snapshot: then end
    bool restoring;                 //  it is MONITOR_OWN_ID's restore: then connect

    monitor_replies_t *replies;     //  kept for clients that resume (12.2)
    char *sandbox;                  //  what the executor's ready said, for
    char *sandbox_missing;          //  ... every ready to the broker
    bool cgroup_placed;             //  the executor is in its control group
    char cgroup_note [384];         //  why not, for sandbox_missing

    zsock_t *dealer;                //  to the broker
    zsock_t *early_dealer;          //  made before the executor was ready; unused till then
    zsock_t *dealer_events;         //  the DEALER's connection events (s_watch_dealer)
    bool dealer_broken;             //  it lost its connection: beat once it is back
    signal_pipe_t *signals;         //  wakes the poll on a signal
    int64_t next_heartbeat;
    int64_t broker_heard;           //  its last valid message
    bool broker_lost;               //  silent past the patience: waited for
                                    //  until broker_grace
    zlist_t *backlog;               //  zmsg_t * the broker's queue had no room
                                    //  for, sent in order once it has
    bool send_failing;              //  a send failed; said once per outage
    bool stop;
    int exit_code;
};

//  --- monitor.c -------------------------------------------------------------

//  Sends and destroys *msg_p; drops it when not connected or when the
//  broker is unreachable (sends never block; the liveness timer and, for
//  replies, monitor_reply deal with it).
void monitor_send (monitor_t *self, zmsg_t **msg_p);

//  Sends the reply to request id, keeping a copy for a client that
//  resumes after a broker restart (protocol.md 12.2).
void monitor_reply (monitor_t *self, uint64_t id, zmsg_t **msg_p);

//  The executor said `ready`: restores the session's snapshot first when
//  there is one; then connects to the broker and tells it, or stops the
//  kernel on failure.
void monitor_connect (monitor_t *self, proto_msg_t *exec_ready);

//  Connects to the broker and says `ready` (after a restore).
void monitor_connect_now (monitor_t *self);

//  --- monitor_cgroup.c ------------------------------------------------------

//  Moves the executor into its control group (config->cgroup), before it
//  runs any request; records why not when it cannot. Logs either way.
void monitor_cgroup_place (monitor_t *self);

//  The executor's `ready` lists, with the cgroup layer as the monitor
//  placed it (the executor cannot know): applied gets ",cgroup" or
//  missing gets "cgroup: why". Returns owned copies in *applied_p and
//  *missing_p.
void monitor_cgroup_report (monitor_t *self, const char *applied, const char *missing,
                            char **applied_p, char **missing_p);

//  The cause of the executor's death when its memory cgroup killed it
//  ("memory limit (256 MiB) exceeded"), into cause; false when it did not.
bool monitor_cgroup_cause (monitor_t *self, char *cause, size_t size);

//  --- monitor_snapshot.c ----------------------------------------------------

//  Asks the executor for a snapshot (why: "evicted", for the logs). False
//  when none is taken: no state_dir or no live executor (nothing to keep),
//  or a request runs (the failure is stored). True: the kernel ends when
//  its reply (or the executor's death) comes.
bool monitor_snapshot_begin (monitor_t *self, const char *why);

//  Sends the session's snapshot to a fresh executor when state_dir holds
//  one (it is taken from the store). True: connect when its reply comes.
bool monitor_restore_begin (monitor_t *self);

//  The reply to the monitor's own request in flight.
void monitor_own_reply (monitor_t *self, proto_msg_t *reply);

//  The executor died during the monitor's own request.
void monitor_own_lost (monitor_t *self, const char *cause);

//  --- monitor_exec.c --------------------------------------------------------

//  Queues *msg_p (a request or an ack) for the executor and writes what its
//  socket takes now; takes ownership. A failed write starts its end.
void monitor_exec_write (monitor_t *self, zmsg_t **msg_p);

//  A piece of the upload in flight from the broker (takes *part_p): to
//  the executor if it asked for it, else held until it does (10.1).
void monitor_exec_part (monitor_t *self, proto_msg_t **part_p);

//  Writes more of what is queued (the socket polled writable).
void monitor_exec_flush (monitor_t *self);

//  True while bytes wait for the executor to read them.
bool monitor_exec_writing (monitor_t *self);

//  Reads up to max_reads chunks from one of the executor's pipes into
//  stream events; closes the pipe on end of file.
void monitor_exec_read_pipe (monitor_t *self, monitor_pipe_t *pipe, int max_reads);

//  Reads and acts on what the executor's socket holds.
void monitor_exec_input (monitor_t *self);

//  Notices the executor's end (reaped, `exited`, pidfd) and finishes its
//  death when its wait status is in or its deadline passed. Call on every
//  wakeup.
void monitor_exec_check (monitor_t *self, int64_t now);

//  Starts the executor's end: SIGKILL now, the request in flight answered
//  (as end says, with cause) once its wait status is known.
void monitor_exec_kill (monitor_t *self, monitor_end_t end, const char *cause);

//  Kills the executor for good (the kernel is exiting): SIGKILL, and for a
//  child forked here a short bounded reap. No reply is sent.
void monitor_exec_abandon (monitor_t *self);

//  The next deadline of the executor's end, or INT64_MAX.
int64_t monitor_exec_next_timer (monitor_t *self);

#endif
