/*  monitor_internal — what the monitor's two files share.

    monitor.c is the monitor's broker side and its loop: lifecycle, the
    DEALER, broker messages, timers, the poll. monitor_exec.c is its
    executor side: the executor's output, replies and death, and the
    request writer. Neither is used outside kernel/monitor*; monitor.h is
    the module's API.
*/
#ifndef KMQ_MONITOR_INTERNAL_H
#define KMQ_MONITOR_INTERNAL_H

#include <czmq.h>
#include "monitor.h"
#include "proto.h"
#include "proto_stream.h"
#include "request_writer.h"
#include "signal_pipe.h"

#define MONITOR_CHUNK        (64 * 1024)  //  bytes per pipe read = per stream event

#define monitor_debug(self, ...) \
    do { if ((self)->config->verbose) zsys_debug (__VA_ARGS__); } while (0)

typedef struct {
    int fd;                         //  -1 once closed
    const char *name;               //  "stdout" or "stderr"
} monitor_pipe_t;

struct _monitor_t {
    const monitor_config_t *config;
    const char *name;               //  log prefix
    executor_handle_t exec;
    bool exec_reaped;               //  waitpid done: pid must not be signalled
    bool exec_ready;                //  its `ready` arrived: Python is up
    int exec_status;                //  its wait status once reaped
    monitor_pipe_t pipes [2];             //  executor's stdout, stderr
    request_writer_t *writer;       //  request being written to the executor
    proto_reader_t *reader;         //  replies from the executor
    zsock_t *dealer;                //  to the broker
    signal_pipe_t *signals;         //  wakes the poll on a signal
    char *chunk;                    //  MONITOR_CHUNK read buffer

    //  The request in flight
    bool busy;
    uint64_t req_id;
    char *req_session;
    proto_type_t req_type;
    uint64_t req_limit_ms;          //  its effective timeout; 0 = none
    int64_t deadline;               //  when to SIGINT it; 0 = never
    int64_t grace_deadline;         //  when to SIGKILL it; 0 = not timing out
    bool timed_out;                 //  the monitor sent the SIGINT
    bool cpu_limited;               //  ... because of request_cpu_ms
    uint64_t cpu_at_start_ms;       //  executor CPU time when it began,
                                    //  PROC_INFO_UNKNOWN if unreadable
    int64_t next_cpu_check;
    uint64_t output_bytes;          //  stdout + stderr bytes sent for it
    bool truncated;                 //  the truncated event went out

    //  Liveness
    int64_t next_heartbeat;
    int64_t broker_expiry;
    bool stop;
    int exit_code;
};

//  monitor.c

//  Sends and destroys *msg_p; drops it when not connected or when the send
//  times out (the liveness timer then ends the kernel).
void monitor_send (monitor_t *self, zmsg_t **msg_p);

//  Forgets the request in flight.
void monitor_request_end (monitor_t *self);

//  The executor said `ready`: connects to the broker and tells it, or
//  stops the kernel on failure.
void monitor_connect (monitor_t *self, proto_msg_t *exec_ready);

//  monitor_exec.c

//  SIGKILLs the executor unless it is already reaped, then reaps it.
void monitor_exec_kill (monitor_t *self);

//  CPU time the executor has used, in ms; 0 when unknown.
uint64_t monitor_exec_cpu_ms (monitor_t *self);

//  Reads up to max_reads chunks from one of the executor's pipes into
//  stream events; closes the pipe on end of file.
void monitor_exec_read_pipe (monitor_t *self, monitor_pipe_t *pipe, int max_reads);

//  Sends what both pipes hold now (bounded).
void monitor_exec_drain (monitor_t *self);

//  Reads and acts on what the executor's socket holds.
void monitor_exec_input (monitor_t *self);

//  Starts writing the request *msg_p to the executor; takes ownership.
void monitor_exec_write (monitor_t *self, zmsg_t **msg_p);

//  Joins a finished request write and acts on its failure.
void monitor_exec_write_finish (monitor_t *self);

//  Acts on the executor's exit, if it exited.
void monitor_exec_check (monitor_t *self);

#endif
