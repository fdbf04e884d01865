/*  monitor_request — the one request a monitor has in flight: its identity,
    its limits and what it has used of them.

    The monitor runs one request at a time. This module is the only code
    that writes the request's state; the rest of the monitor asks it
    questions (is this message for the request in flight? how much of this
    output may go out? is a limit due?) and acts on the answers. Times are
    zclock_mono milliseconds; CPU times come from proc_info_cpu_ms
    (PROC_INFO_UNKNOWN when unreadable, and then no CPU limit applies).
*/
#ifndef KMQ_MONITOR_REQUEST_H
#define KMQ_MONITOR_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto.h"

//  The longest wall-time limit a request can have, whatever it asks for:
//  about 35 years, far from where now + limit could overflow an int64.
#define MONITOR_REQUEST_MAX_LIMIT_MS  (1ull << 40)

typedef struct {
    bool busy;
    uint64_t id;
    char *session;                  //  owned; NULL when idle
    proto_type_t type;
    uint64_t limit_ms;              //  effective wall-time limit; 0 = none
    int64_t deadline;               //  when to interrupt it; 0 = never
    int64_t grace_deadline;         //  when to kill it once interrupted
    bool timed_out;                 //  the monitor interrupted it for a limit
    bool cpu_limited;               //  ... the CPU-time limit
    uint64_t cpu_at_start_ms;       //  the executor's CPU time when it began
    int64_t next_cpu_check;
    uint64_t output_bytes;          //  stdout, stderr and display bytes sent
    bool in_parts;                  //  a download whose client takes parts
    uint64_t part_bytes;            //  ... and the `part` event bytes sent
    bool truncated;                 //  the `truncated` event went out
    //  An upload in parts (protocol.md 10.1): the pieces the broker
    //  forwarded that the executor has not asked for yet (zmsg_t *, in
    //  order), and the one it asked for that has not come (0: none).
    zlistx_t *parts;
    uint64_t part_wanted;
    int64_t part_since;             //  when it asked for it
    bool part_late;                 //  the monitor interrupted it: the piece
                                    //  did not come within part_wait_ms
} monitor_request_t;

//  What the limits say at a given moment.
typedef enum {
    MONITOR_REQUEST_ON_TIME,        //  nothing to do
    MONITOR_REQUEST_INTERRUPT,      //  a limit passed: SIGINT the executor
    MONITOR_REQUEST_KILL            //  it ignored the interrupt for the grace
} monitor_request_due_t;

//  The limits a request runs under (from the kernel's settings).
typedef struct {
    uint64_t timeout_ms;            //  cap on every request; 0 = none
    uint64_t cpu_ms;                //  CPU time per request; 0 = none
    uint64_t grace_ms;              //  SIGINT -> SIGKILL
    uint64_t max_output;            //  bytes per request; 0 = no cap
    uint64_t part_wait_ms;          //  for a piece of an upload; 0 = forever
} monitor_request_limits_t;

//  How long the executor waits for the next piece of an upload in parts
//  before the upload fails (protocol.md 5, upload): a client that died or
//  lost its pieces must not hold its session busy.
#define MONITOR_PART_WAIT_MS  30000

//  Starts a request: asked_ms is the request's own timeout_ms (0 = none),
//  capped by limits->timeout_ms and by MONITOR_REQUEST_MAX_LIMIT_MS, so no
//  wire value can put the deadline in the past. The request must not be
//  busy. session is copied.
void monitor_request_begin (monitor_request_t *self, uint64_t id, const char *session,
                            proto_type_t type, uint64_t asked_ms,
                            const monitor_request_limits_t *limits, int64_t now,
                            uint64_t cpu_now_ms);

//  A piece of the upload in flight, from the broker (takes *part_p).
//  Returns the piece the executor should have now, if any: the one it
//  asked for (caller writes it); NULL when it waits for its turn, or was
//  dropped (no upload in flight with that id).
zmsg_t *monitor_request_part_came (monitor_request_t *self, proto_msg_t **part_p);

//  The executor asks for piece part at now. Returns it when it is here
//  (caller writes it), else NULL and remembers the wish, which
//  monitor_request_due holds to limits->part_wait_ms; *valid is false when
//  nothing in flight could give that piece (a protocol violation).
zmsg_t *monitor_request_part_wanted (monitor_request_t *self, uint64_t part, int64_t now,
                                     bool *valid);

//  Ends the request (idle again). No-op when idle.
void monitor_request_end (monitor_request_t *self);

//  True when a message with id and session (empty = not given) belongs to
//  the request in flight.
bool monitor_request_matches (const monitor_request_t *self, uint64_t id,
                              const char *session);

//  Accounts for size bytes of output. Returns how many of them may go out
//  (all, some or none) under limits->max_output; *truncate_now is set when
//  this output crosses the limit and the one `truncated` notice is due.
size_t monitor_request_output (monitor_request_t *self, size_t size,
                               const monitor_request_limits_t *limits,
                               bool *truncate_now);

//  Checks the limits at now; cpu_now_ms is the executor's CPU time. An
//  INTERRUPT answer has been recorded (timed_out, grace deadline set), so
//  the caller only sends the SIGINT.
monitor_request_due_t monitor_request_due (monitor_request_t *self, int64_t now,
                                           uint64_t cpu_now_ms,
                                           const monitor_request_limits_t *limits);

//  The next moment monitor_request_due may answer differently, or INT64_MAX.
int64_t monitor_request_next_timer (const monitor_request_t *self,
                                    const monitor_request_limits_t *limits);

//  Selftest.
void monitor_request_test (bool verbose);

#endif
