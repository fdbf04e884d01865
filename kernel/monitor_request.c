/*  monitor_request — the request in flight and its limits (see the header). */
#include "monitor_request.h"
#include "mem.h"
#include "proc_info.h"
#include "selftest.h"

#include <czmq.h>
#include <string.h>

#define S_CPU_CHECK_MS 200          //  how often a busy executor's CPU time is read

void
monitor_request_begin (monitor_request_t *self, uint64_t id, const char *session,
                       proto_type_t type, uint64_t asked_ms,
                       const monitor_request_limits_t *limits, int64_t now,
                       uint64_t cpu_now_ms)
{
    assert (self && !self->busy);
    uint64_t limit = limits->timeout_ms;
    if (asked_ms > 0 && (limit == 0 || asked_ms < limit))
        limit = asked_ms;
    if (limit > MONITOR_REQUEST_MAX_LIMIT_MS)
        limit = MONITOR_REQUEST_MAX_LIMIT_MS;
    *self = (monitor_request_t) {
        .busy = true,
        .id = id,
        .session = mem_strdup (session? session: ""),
        .type = type,
        .limit_ms = limit,
        .deadline = limit? now + (int64_t) limit: 0,
        .cpu_at_start_ms = cpu_now_ms,
        .next_cpu_check = now + S_CPU_CHECK_MS,
    };
}

static void
s_part_destructor (void **item)
{
    proto_msg_destroy ((proto_msg_t **) item);
}

zmsg_t *
monitor_request_part_came (monitor_request_t *self, proto_msg_t **part_p)
{
    assert (self && part_p);
    proto_msg_t *part = *part_p;
    if (!self->busy || self->type != PROTO_UPLOAD || proto_msg_id (part) != self->id) {
        proto_msg_destroy (part_p);
        return NULL;
    }
    if (self->part_late) {          //  too late: the upload is being dropped
        proto_msg_destroy (part_p);
        return NULL;
    }
    //  The broker passes pieces on in order, each once (session.h)
    if (self->part_wanted && proto_msg_uint (part, "part", 0) == self->part_wanted) {
        self->part_wanted = 0;
        return proto_msg_release (part_p);
    }
    if (!self->parts) {
        self->parts = zlistx_new ();
        zlistx_set_destructor (self->parts, s_part_destructor);
    }
    zlistx_add_end (self->parts, part);
    *part_p = NULL;
    return NULL;
}

zmsg_t *
monitor_request_part_wanted (monitor_request_t *self, uint64_t part, int64_t now,
                             bool *valid)
{
    assert (self && valid);
    *valid = self->busy && self->type == PROTO_UPLOAD && !self->part_wanted
          && part > 0 && part < PROTO_MAX_UPLOAD_PARTS;
    if (!*valid)
        return NULL;
    proto_msg_t *head = self->parts? (proto_msg_t *) zlistx_first (self->parts): NULL;
    if (!head) {
        self->part_wanted = part;
        self->part_since = now;
        return NULL;
    }
    if (proto_msg_uint (head, "part", 0) != part) {
        *valid = false;             //  it asks out of order
        return NULL;
    }
    head = (proto_msg_t *) zlistx_detach (self->parts, NULL);
    return proto_msg_release (&head);
}

void
monitor_request_end (monitor_request_t *self)
{
    assert (self);
    free (self->session);
    zlistx_destroy (&self->parts);
    *self = (monitor_request_t) { .busy = false };
}

bool
monitor_request_matches (const monitor_request_t *self, uint64_t id, const char *session)
{
    assert (self);
    return self->busy && id == self->id
        && (!session || !*session || streq (session, self->session));
}

size_t
monitor_request_output (monitor_request_t *self, size_t size,
                        const monitor_request_limits_t *limits, bool *truncate_now)
{
    assert (self && truncate_now);
    *truncate_now = false;
    if (self->truncated)
        return 0;
    size_t room = size;
    uint64_t limit = limits->max_output;
    if (limit && limit - self->output_bytes < size)
        room = (size_t) (limit - self->output_bytes);
    self->output_bytes += room;
    if (room < size) {
        self->truncated = true;
        *truncate_now = true;
    }
    return room;
}

monitor_request_due_t
monitor_request_due (monitor_request_t *self, int64_t now, uint64_t cpu_now_ms,
                     const monitor_request_limits_t *limits)
{
    assert (self);
    if (!self->busy)
        return MONITOR_REQUEST_ON_TIME;
    if (self->timed_out)
        return now >= self->grace_deadline? MONITOR_REQUEST_KILL: MONITOR_REQUEST_ON_TIME;
    bool over = self->deadline && now >= self->deadline;
    if (!over && self->part_wanted && limits->part_wait_ms
    &&  now - self->part_since >= (int64_t) limits->part_wait_ms)
        over = self->part_late = true;
    if (!over && limits->cpu_ms && now >= self->next_cpu_check) {
        self->next_cpu_check = now + S_CPU_CHECK_MS;
        if (self->cpu_at_start_ms != PROC_INFO_UNKNOWN && cpu_now_ms != PROC_INFO_UNKNOWN
        &&  cpu_now_ms >= self->cpu_at_start_ms
        &&  cpu_now_ms - self->cpu_at_start_ms > limits->cpu_ms)
            over = self->cpu_limited = true;
    }
    if (!over)
        return MONITOR_REQUEST_ON_TIME;
    self->timed_out = true;
    uint64_t grace = limits->grace_ms > MONITOR_REQUEST_MAX_LIMIT_MS?
                     MONITOR_REQUEST_MAX_LIMIT_MS: limits->grace_ms;
    self->grace_deadline = now + (int64_t) grace;
    return MONITOR_REQUEST_INTERRUPT;
}

int64_t
monitor_request_next_timer (const monitor_request_t *self,
                            const monitor_request_limits_t *limits)
{
    assert (self);
    if (!self->busy)
        return INT64_MAX;
    if (self->timed_out)
        return self->grace_deadline;
    int64_t next = self->deadline? self->deadline: INT64_MAX;
    if (limits->cpu_ms && self->next_cpu_check < next)
        next = self->next_cpu_check;
    if (self->part_wanted && limits->part_wait_ms
    &&  self->part_since + (int64_t) limits->part_wait_ms < next)
        next = self->part_since + (int64_t) limits->part_wait_ms;
    return next;
}

//  --- selftest ------------------------------------------------------------

void
monitor_request_test (bool verbose)
{
    (void) verbose;
    monitor_request_limits_t limits = { .timeout_ms = 1000, .cpu_ms = 0,
                                        .grace_ms = 500, .max_output = 10 };
    monitor_request_t req = { 0 };
    //  a request asking for less gets less; more is capped
    monitor_request_begin (&req, 7, "nb1", PROTO_EXECUTE, 200, &limits, 100, 0);
    SELFTEST_CHECK (req.busy && req.limit_ms == 200 && req.deadline == 300);
    SELFTEST_CHECK (monitor_request_matches (&req, 7, "nb1"));
    SELFTEST_CHECK (monitor_request_matches (&req, 7, ""));
    SELFTEST_CHECK (!monitor_request_matches (&req, 8, "nb1"));
    SELFTEST_CHECK (!monitor_request_matches (&req, 7, "other"));
    SELFTEST_CHECK (monitor_request_due (&req, 299, 0, &limits) == MONITOR_REQUEST_ON_TIME);
    SELFTEST_CHECK (monitor_request_next_timer (&req, &limits) == 300);
    SELFTEST_CHECK (monitor_request_due (&req, 300, 0, &limits) == MONITOR_REQUEST_INTERRUPT);
    SELFTEST_CHECK (req.timed_out && !req.cpu_limited && req.grace_deadline == 800);
    SELFTEST_CHECK (monitor_request_due (&req, 799, 0, &limits) == MONITOR_REQUEST_ON_TIME);
    SELFTEST_CHECK (monitor_request_due (&req, 800, 0, &limits) == MONITOR_REQUEST_KILL);
    monitor_request_end (&req);
    SELFTEST_CHECK (!req.busy && !req.session);
    monitor_request_end (&req);

    //  a wire timeout of 2^64 - 1 does not wrap the deadline into the past
    limits.timeout_ms = 0;
    monitor_request_begin (&req, 1, "nb1", PROTO_EXECUTE, UINT64_MAX, &limits, 5, 0);
    SELFTEST_CHECK (req.limit_ms == MONITOR_REQUEST_MAX_LIMIT_MS);
    SELFTEST_CHECK (req.deadline > 5);
    SELFTEST_CHECK (monitor_request_due (&req, 6, 0, &limits) == MONITOR_REQUEST_ON_TIME);
    monitor_request_end (&req);

    //  output: all, then the rest of the limit with one truncation notice
    limits.timeout_ms = 0;
    monitor_request_begin (&req, 2, NULL, PROTO_EXECUTE, 0, &limits, 0, 0);
    SELFTEST_CHECK (req.deadline == 0);
    SELFTEST_CHECK (monitor_request_next_timer (&req, &limits) == INT64_MAX);
    bool truncate;
    SELFTEST_CHECK (monitor_request_output (&req, 6, &limits, &truncate) == 6 && !truncate);
    SELFTEST_CHECK (monitor_request_output (&req, 6, &limits, &truncate) == 4 && truncate);
    SELFTEST_CHECK (monitor_request_output (&req, 6, &limits, &truncate) == 0 && !truncate);
    monitor_request_end (&req);

    //  CPU time: checked every S_CPU_CHECK_MS, unknown never limits
    limits.cpu_ms = 100;
    monitor_request_begin (&req, 3, "s", PROTO_EXECUTE, 0, &limits, 0, 1000);
    SELFTEST_CHECK (monitor_request_next_timer (&req, &limits) == S_CPU_CHECK_MS);
    SELFTEST_CHECK (monitor_request_due (&req, 100, 5000, &limits) == MONITOR_REQUEST_ON_TIME);
    SELFTEST_CHECK (monitor_request_due (&req, S_CPU_CHECK_MS, PROC_INFO_UNKNOWN, &limits)
                    == MONITOR_REQUEST_ON_TIME);
    SELFTEST_CHECK (monitor_request_due (&req, 2 * S_CPU_CHECK_MS, 1050, &limits)
                    == MONITOR_REQUEST_ON_TIME);
    SELFTEST_CHECK (monitor_request_due (&req, 3 * S_CPU_CHECK_MS, 1101, &limits)
                    == MONITOR_REQUEST_INTERRUPT);
    SELFTEST_CHECK (req.cpu_limited);
    monitor_request_end (&req);

    //  Pieces of an upload: held until asked, or written when asked first;
    //  one asked for and not come is due at part_wait_ms
    limits = (monitor_request_limits_t) { .grace_ms = 500, .part_wait_ms = 1000 };
    monitor_request_begin (&req, 4, "s", PROTO_UPLOAD, 0, &limits, 0, 0);
    bool valid;
    for (int part = 1; part <= 2; part++) {
        proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD_PART, 4, "s");
        proto_builder_uint (builder, "part", (uint64_t) part);
        proto_builder_payload_copy (builder, "x", 1);
        zmsg_t *raw = proto_builder_finish (&builder);
        proto_msg_t *piece = proto_decode (&raw, NULL);
        SELFTEST_CHECK (monitor_request_part_came (&req, &piece) == NULL && !piece);
    }
    zmsg_t *out = monitor_request_part_wanted (&req, 1, 10, &valid);
    SELFTEST_CHECK (valid && out);
    zmsg_destroy (&out);
    SELFTEST_CHECK (!monitor_request_part_wanted (&req, 3, 10, &valid) && !valid);
    out = monitor_request_part_wanted (&req, 2, 10, &valid);
    SELFTEST_CHECK (valid && out);
    zmsg_destroy (&out);
    SELFTEST_CHECK (!monitor_request_part_wanted (&req, 3, 20, &valid) && valid);
    SELFTEST_CHECK (monitor_request_next_timer (&req, &limits) == 1020);
    SELFTEST_CHECK (monitor_request_due (&req, 1019, 0, &limits) == MONITOR_REQUEST_ON_TIME);
    SELFTEST_CHECK (monitor_request_due (&req, 1020, 0, &limits) == MONITOR_REQUEST_INTERRUPT);
    SELFTEST_CHECK (req.part_late && req.part_wanted == 3);
    monitor_request_end (&req);
    //  a piece for no upload in flight is dropped
    monitor_request_begin (&req, 5, "s", PROTO_EXECUTE, 0, &limits, 0, 0);
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD_PART, 5, "s");
    proto_builder_uint (builder, "part", 1);
    proto_builder_payload_copy (builder, "x", 1);
    zmsg_t *raw = proto_builder_finish (&builder);
    proto_msg_t *piece = proto_decode (&raw, NULL);
    SELFTEST_CHECK (monitor_request_part_came (&req, &piece) == NULL && !piece);
    SELFTEST_CHECK (!monitor_request_part_wanted (&req, 1, 0, &valid) && !valid);
    monitor_request_end (&req);
}
