/*  snapshot_store — where a kernel host keeps its sessions' snapshots
    (protocol.md 10.3): one file per session in state_dir, a directory no
    sandbox can see.

    A session's entry is either its snapshot, `s-KEY.snap` (the blob the
    executor wrote, stored as it came: the store never parses it), or the
    reason its snapshot failed, `s-KEY.failed` (one line of text), so the
    session's next kernel can say why its state is lost. While a kernel
    takes a snapshot, `s-KEY.pending` holds its pid: the session's next
    kernel, which may start meanwhile, waits for the entry (or for that
    process to end) instead of finding none. A kernel writes
    the entry when it ends and takes it (reads, then removes) when the
    session starts again: an entry is restored once at most. Entries older
    than the TTL are not restored, and snapshot_store_sweep removes them.

    Files are written to a temporary name and renamed, mode 0600, so a
    reader sees a whole entry or none. Session keys are checked by the
    codec ([A-Za-z0-9._:-]); the "s-" prefix keeps "." and ".." harmless.
*/
#ifndef KMQ_SNAPSHOT_STORE_H
#define KMQ_SNAPSHOT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

//  What snapshot_store_probe found for a session.
typedef enum {
    SNAPSHOT_STORE_NONE,            //  no entry (or an expired one, removed)
    SNAPSHOT_STORE_SNAPSHOT,        //  a snapshot waits to be taken
    SNAPSHOT_STORE_FAILED,          //  the last snapshot failed: why is in reason
    SNAPSHOT_STORE_PENDING          //  a live process is taking one: ask again
} snapshot_store_state_t;

//  Marks the session's snapshot as being taken by pid (put and fail end
//  the mark). Returns 0 or -1 with errno.
int snapshot_store_begin (const char *dir, const char *session, int pid);

//  Creates dir (0700) when missing. Returns 0, or -1 with errno.
int snapshot_store_prepare (const char *dir);

//  Stores a session's snapshot, replacing any entry. Returns 0, or -1 with
//  errno (a partial file is removed).
int snapshot_store_put (const char *dir, const char *session,
                        const void *data, size_t size);

//  Records why a session's snapshot failed, replacing any entry. Returns 0
//  or -1 with errno.
int snapshot_store_fail (const char *dir, const char *session, const char *reason);

//  What the session's entry is, without taking it. An entry older than
//  ttl_s seconds is removed and reported as FAILED ("the snapshot expired
//  ..."); a pending mark whose process is gone, as FAILED too. reason (when FAILED) is NUL-terminated in reason_size bytes.
snapshot_store_state_t snapshot_store_probe (const char *dir, const char *session,
                                             uint64_t ttl_s, char *reason,
                                             size_t reason_size);

//  Takes the session's snapshot: reads it (at most max_size bytes) into a
//  new buffer (*data_p, free it) and removes the file. Returns 0; -1 with
//  errno (ENOENT: none; EFBIG: over max_size, the file is removed).
int snapshot_store_take (const char *dir, const char *session, size_t max_size,
                         void **data_p, size_t *size_p);

//  Removes every entry older than ttl_s seconds at now (wall clock).
//  Returns how many went.
size_t snapshot_store_sweep (const char *dir, uint64_t ttl_s, time_t now);

//  Selftest.
void snapshot_store_test (bool verbose);

#endif
