/*  monitor_snapshot — the monitor's side of snapshots (protocol.md 10.3):
    its own two requests to the executor, and the store they fill.

    snapshot: when the broker closes the session with `snapshot` (idle
    eviction), or SIGTERM ends the kernel with --snapshot on (a graceful
    host shutdown), the monitor asks its executor for the session as one
    blob, within the quota, stores it in state_dir and only then ends. A
    snapshot that fails (over the quota, an error, a death, its time bound)
    is stored as the reason instead, so the session's next kernel says why
    its state is lost.

    restore: when the executor of a new kernel is ready and state_dir holds
    the session's snapshot, the monitor takes it (once) and sends it as the
    executor's first request, before the broker hears of the kernel; the
    executor then tells the session's first reply what came back
    (restored: true) or why not (state_lost). Both run inside the
    executor's sandbox: the monitor only moves bytes, and never parses them.

    Both are requests in flight like a client's, with the id
    MONITOR_OWN_ID: the same deadlines, the same handling of the executor's
    death, but their replies stay here.
*/
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "monitor_internal.h"
#include "proc_info.h"
#include "snapshot_store.h"

//  The quota a snapshot gets: the setting, within what one frame carries.
static uint64_t
s_quota (monitor_t *self)
{
    uint64_t quota = self->config->snapshot_quota;
    uint64_t frame = self->config->max_payload? self->config->max_payload: PROTO_MAX_PAYLOAD;
    return quota < frame? quota: frame;
}

//  Sends *msg_p as the monitor's own request of type.
static void
s_own_request (monitor_t *self, proto_type_t type, zmsg_t **msg_p)
{
    uint64_t cpu_now = proc_info_cpu_ms (self->exec.pid);
    monitor_request_begin (&self->req, MONITOR_OWN_ID, self->config->session, type,
                           KERNEL_CONTRACT_SNAPSHOT_MS, &self->limits, zclock_mono (),
                           cpu_now);
    monitor_exec_write (self, msg_p);
}

static void
s_store_failure (monitor_t *self, const char *reason)
{
    zsys_warning ("%s: no snapshot: %s", self->name, reason);
    if (snapshot_store_fail (self->config->state_dir, self->config->session, reason))
        zsys_error ("%s: cannot record the failed snapshot in %s: %s", self->name,
                    self->config->state_dir, strerror (errno));
}

bool
monitor_snapshot_begin (monitor_t *self, const char *why)
{
    if (!self->config->state_dir)
        return false;
    if (!self->exec_ready || self->exec_reaped || self->dying)
        return false;               //  no session state to keep
    if (self->req.busy) {
        char reason [160];
        snprintf (reason, sizeof reason, "the session was %s while a request ran", why);
        s_store_failure (self, reason);
        return false;
    }
    zsys_info ("%s: %s: taking a snapshot (quota %" PRIu64 " bytes)", self->name, why,
               s_quota (self));
    if (snapshot_store_begin (self->config->state_dir, self->config->session,
                              (int) getpid ()))
        zsys_warning ("%s: cannot mark the snapshot as under way in %s: %s", self->name,
                      self->config->state_dir, strerror (errno));
    proto_builder_t *request = proto_builder_new (PROTO_SNAPSHOT, MONITOR_OWN_ID,
                                                  self->config->session);
    proto_builder_uint (request, "quota", s_quota (self));
    zmsg_t *msg = proto_builder_finish (&request);
    s_own_request (self, PROTO_SNAPSHOT, &msg);
    self->snapshotting = true;
    return true;
}

bool
monitor_restore_begin (monitor_t *self)
{
    const monitor_config_t *config = self->config;
    if (!config->state_dir || !config->restore_pending)
        return false;
    void *data;
    size_t size;
    if (snapshot_store_take (config->state_dir, config->session, (size_t) s_quota (self),
                             &data, &size)) {
        zsys_warning ("%s: the session's snapshot cannot be read: %s", self->name,
                      errno == EFBIG? "over the quota": strerror (errno));
        return false;
    }
    zsys_info ("%s: restoring the session's snapshot (%zu bytes)", self->name, size);
    proto_builder_t *request = proto_builder_new (PROTO_RESTORE, MONITOR_OWN_ID,
                                                  config->session);
    proto_builder_payload_copy (request, data, size);
    free (data);
    zmsg_t *msg = proto_builder_finish (&request);
    s_own_request (self, PROTO_RESTORE, &msg);
    self->restoring = true;
    return true;
}

void
monitor_own_reply (monitor_t *self, proto_msg_t *reply)
{
    proto_type_t type = self->req.type;
    monitor_request_end (&self->req);
    bool ok = proto_msg_is_ok (reply);
    const char *message = proto_msg_str (reply, "message");
    if (type == PROTO_RESTORE) {
        self->restoring = false;
        if (ok)
            zsys_info ("%s: snapshot restored: %s", self->name,
                       proto_msg_str (reply, "notice")? proto_msg_str (reply, "notice"): "");
        else
            zsys_warning ("%s: the snapshot was not restored: %s", self->name,
                          message? message: "?");
        monitor_connect_now (self);
        return;
    }
    self->snapshotting = false;
    self->stop = true;
    self->exit_code = 0;
    zframe_t *blob = ok? proto_msg_payload (reply, 0): NULL;
    if (!ok || !blob) {
        char reason [512];
        snprintf (reason, sizeof reason, "its snapshot failed: %s",
                  message? message: "the executor sent no snapshot");
        s_store_failure (self, reason);
        return;
    }
    if (snapshot_store_put (self->config->state_dir, self->config->session,
                            zframe_data (blob), zframe_size (blob))) {
        char reason [512];
        snprintf (reason, sizeof reason, "its snapshot could not be stored in %s: %s",
                  self->config->state_dir, strerror (errno));
        s_store_failure (self, reason);
        return;
    }
    const msgpack_object *kept = proto_msg_object (reply, "kept");
    zsys_info ("%s: snapshot stored (%zu bytes, %" PRIu32 " names, %" PRIu64 " files)",
               self->name, zframe_size (blob), kept? kept->via.array.size: 0,
               proto_msg_uint (reply, "file_count", 0));
}

void
monitor_own_lost (monitor_t *self, const char *cause)
{
    proto_type_t type = self->req.type;
    monitor_request_end (&self->req);
    if (type == PROTO_SNAPSHOT) {
        self->snapshotting = false;
        char reason [384];
        snprintf (reason, sizeof reason, "the kernel died (%s) while taking its snapshot",
                  cause);
        s_store_failure (self, reason);
    }
    else {
        self->restoring = false;
        zsys_error ("%s: the executor died (%s) while restoring the snapshot", self->name,
                    cause);
    }
}
