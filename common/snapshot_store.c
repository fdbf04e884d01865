/*  snapshot_store — a kernel host's snapshots on disk (see snapshot_store.h).
*/
#include "snapshot_store.h"
#include "mem.h"
#include "selftest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#define S_SNAP    "snap"
#define S_FAILED  "failed"
#define S_PENDING "pending"

//  <dir>/s-<session>.<suffix>, in a new string.
static char *
s_path (const char *dir, const char *session, const char *suffix)
{
    return mem_sprintf ("%s/s-%s.%s", dir, session, suffix);
}

//  Writes size bytes to path through a temporary file and a rename.
static int
s_write_whole (const char *path, const void *data, size_t size)
{
    char *temporary = mem_sprintf ("%s.tmp", path);
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = -1;
    if (fd == -1)
        goto done;
    const char *cursor = (const char *) data;
    size_t left = size;
    while (left > 0) {
        ssize_t written = write (fd, cursor, left);
        if (written == -1 && errno == EINTR)
            continue;
        if (written <= 0)
            goto done;
        cursor += written;
        left -= (size_t) written;
    }
    if (close (fd) == -1) {
        fd = -1;
        goto done;
    }
    fd = -1;
    rc = rename (temporary, path);
done:;
    int saved = errno;
    if (fd >= 0)
        close (fd);
    if (rc)
        unlink (temporary);
    free (temporary);
    errno = saved;
    return rc;
}

static void
s_remove (const char *dir, const char *session, const char *suffix)
{
    char *path = s_path (dir, session, suffix);
    unlink (path);
    free (path);
}

int
snapshot_store_prepare (const char *dir)
{
    if (mkdir (dir, 0700) == -1 && errno != EEXIST)
        return -1;
    struct stat st;
    if (lstat (dir, &st) == -1)
        return -1;
    if (!S_ISDIR (st.st_mode) || st.st_uid != getuid ()) {
        errno = EPERM;
        return -1;
    }
    return (st.st_mode & 077)? chmod (dir, 0700): 0;
}

//  Writes the session's entry of kind suffix; on success removes the
//  other kind (other, when not NULL); ends the pending mark either way.
static int
s_write_entry (const char *dir, const char *session, const char *suffix,
               const void *data, size_t size, const char *other)
{
    char *path = s_path (dir, session, suffix);
    int rc = s_write_whole (path, data, size);
    free (path);
    if (rc == 0 && other)
        s_remove (dir, session, other);
    s_remove (dir, session, S_PENDING);
    return rc;
}

int
snapshot_store_put (const char *dir, const char *session, const void *data, size_t size)
{
    return s_write_entry (dir, session, S_SNAP, data, size, S_FAILED);
}

int
snapshot_store_fail (const char *dir, const char *session, const char *reason)
{
    return s_write_entry (dir, session, S_FAILED, reason, strlen (reason), S_SNAP);
}

int
snapshot_store_begin (const char *dir, const char *session, int pid)
{
    char text [24];
    snprintf (text, sizeof text, "%d", pid);
    char *path = s_path (dir, session, S_PENDING);
    int rc = s_write_whole (path, text, strlen (text));
    free (path);
    return rc;
}

//  The session's pending mark: none, one naming a live process, or a stale
//  one (its process is gone), which is removed.
typedef enum { S_MARK_NONE, S_MARK_LIVE, S_MARK_STALE } s_mark_t;

static s_mark_t
s_pending (const char *dir, const char *session)
{
    char *path = s_path (dir, session, S_PENDING);
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    s_mark_t mark = S_MARK_NONE;
    if (fd >= 0) {
        char text [24] = "";
        ssize_t got = read (fd, text, sizeof text - 1);
        close (fd);
        int pid = got > 0? atoi (text): 0;
        mark = pid > 0 && (kill (pid, 0) == 0 || errno == EPERM)? S_MARK_LIVE: S_MARK_STALE;
        if (mark == S_MARK_STALE)
            unlink (path);
    }
    free (path);
    return mark;
}

snapshot_store_state_t
snapshot_store_probe (const char *dir, const char *session, uint64_t ttl_s,
                      char *reason, size_t reason_size)
{
    if (reason_size)
        *reason = 0;
    s_mark_t mark = s_pending (dir, session);
    if (mark == S_MARK_LIVE)
        return SNAPSHOT_STORE_PENDING;
    const char *suffixes [2] = { S_SNAP, S_FAILED };
    for (int i = 0; i < 2; i++) {
        char *path = s_path (dir, session, suffixes [i]);
        struct stat st;
        int found = lstat (path, &st) == 0 && S_ISREG (st.st_mode);
        if (found && (uint64_t) (time (NULL) - st.st_mtime) > ttl_s) {
            unlink (path);
            free (path);
            snprintf (reason, reason_size, "its snapshot expired (kept for snapshot_ttl_s, "
                      "%" PRIu64 " s)", ttl_s);
            return SNAPSHOT_STORE_FAILED;
        }
        if (found && i == 1) {
            int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            ssize_t got = fd >= 0 && reason_size? read (fd, reason, reason_size - 1): -1;
            if (fd >= 0)
                close (fd);
            if (reason_size)
                reason [got > 0? got: 0] = 0;
            if (got <= 0)
                snprintf (reason, reason_size, "its snapshot failed");
            unlink (path);
        }
        free (path);
        if (found)
            return i == 0? SNAPSHOT_STORE_SNAPSHOT: SNAPSHOT_STORE_FAILED;
    }
    if (mark == S_MARK_STALE) {
        snprintf (reason, reason_size, "the kernel taking its snapshot ended before "
                  "it finished");
        return SNAPSHOT_STORE_FAILED;
    }
    return SNAPSHOT_STORE_NONE;
}

int
snapshot_store_take (const char *dir, const char *session, size_t max_size,
                     void **data_p, size_t *size_p)
{
    *data_p = NULL;
    *size_p = 0;
    char *path = s_path (dir, session, S_SNAP);
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    //  Taken once: gone from the store whatever happens next
    if (fd >= 0)
        unlink (path);
    free (path);
    if (fd == -1)
        return -1;
    struct stat st;
    char *data = NULL;
    if (fstat (fd, &st) == -1)
        goto fail;
    if ((uint64_t) st.st_size > max_size) {
        errno = EFBIG;
        goto fail;
    }
    //  Size the peer (our own executor, but running user code) chose:
    //  checked, not aborted on
    data = (char *) malloc (st.st_size? (size_t) st.st_size: 1);
    if (!data)
        goto fail;
    size_t have = 0;
    while (have < (size_t) st.st_size) {
        ssize_t got = read (fd, data + have, (size_t) st.st_size - have);
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0)
                errno = EIO;
            goto fail;
        }
        have += (size_t) got;
    }
    close (fd);
    *data_p = data;
    *size_p = have;
    return 0;
fail:;
    int saved = errno;
    free (data);
    close (fd);
    errno = saved;
    return -1;
}

size_t
snapshot_store_sweep (const char *dir, uint64_t ttl_s, time_t now)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return 0;
    size_t removed = 0;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (strncmp (entry->d_name, "s-", 2) != 0)
            continue;
        struct stat st;
        if (fstatat (dirfd (handle), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1
        ||  !S_ISREG (st.st_mode) || (uint64_t) (now - st.st_mtime) <= ttl_s)
            continue;
        if (unlinkat (dirfd (handle), entry->d_name, 0) == 0)
            removed++;
    }
    closedir (handle);
    return removed;
}

//  --------------------------------------------------------------------------
//  Selftest

void
snapshot_store_test (bool verbose)
{
    (void) verbose;
    printf (" * snapshot_store: ");
    char dir [] = "/tmp/kmq-store-test-XXXXXX";
    SELFTEST_CHECK (mkdtemp (dir));
    char *state = mem_sprintf ("%s/state", dir);
    SELFTEST_CHECK (snapshot_store_prepare (state) == 0);
    SELFTEST_CHECK (snapshot_store_prepare (state) == 0);       //  twice is fine
    char reason [128];

    //  Nothing stored
    SELFTEST_CHECK (snapshot_store_probe (state, "a", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_NONE);
    void *data;
    size_t size;
    SELFTEST_CHECK (snapshot_store_take (state, "a", 100, &data, &size) == -1
                    && errno == ENOENT);

    //  A snapshot: probed (kept), taken once
    SELFTEST_CHECK (snapshot_store_put (state, "a", "blob!", 5) == 0);
    SELFTEST_CHECK (snapshot_store_probe (state, "a", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_SNAPSHOT);
    SELFTEST_CHECK (snapshot_store_take (state, "a", 100, &data, &size) == 0);
    SELFTEST_CHECK (size == 5 && memcmp (data, "blob!", 5) == 0);
    free (data);
    SELFTEST_CHECK (snapshot_store_take (state, "a", 100, &data, &size) == -1);

    //  Over max_size: refused and gone
    SELFTEST_CHECK (snapshot_store_put (state, "big", "0123456789", 10) == 0);
    SELFTEST_CHECK (snapshot_store_take (state, "big", 4, &data, &size) == -1
                    && errno == EFBIG);
    SELFTEST_CHECK (snapshot_store_probe (state, "big", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_NONE);

    //  A failure replaces the snapshot; the reason is read once
    SELFTEST_CHECK (snapshot_store_put (state, "..", "x", 1) == 0);
    SELFTEST_CHECK (snapshot_store_fail (state, "..", "over the quota") == 0);
    SELFTEST_CHECK (snapshot_store_probe (state, "..", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_FAILED);
    SELFTEST_CHECK (strcmp (reason, "over the quota") == 0);
    SELFTEST_CHECK (snapshot_store_probe (state, "..", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_NONE);

    //  Pending: while the process lives; a dead one's mark is a failure
    SELFTEST_CHECK (snapshot_store_begin (state, "p", (int) getpid ()) == 0);
    SELFTEST_CHECK (snapshot_store_probe (state, "p", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_PENDING);
    SELFTEST_CHECK (snapshot_store_put (state, "p", "y", 1) == 0);
    SELFTEST_CHECK (snapshot_store_probe (state, "p", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_SNAPSHOT);
    SELFTEST_CHECK (snapshot_store_take (state, "p", 100, &data, &size) == 0);
    free (data);
    pid_t child = fork ();
    if (child == 0)
        _exit (0);
    SELFTEST_CHECK (child > 0 && waitpid (child, NULL, 0) == child);
    SELFTEST_CHECK (snapshot_store_begin (state, "q", (int) child) == 0);
    SELFTEST_CHECK (snapshot_store_probe (state, "q", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_FAILED);
    SELFTEST_CHECK (strstr (reason, "ended before"));
    SELFTEST_CHECK (snapshot_store_probe (state, "q", 60, reason, sizeof reason)
                    == SNAPSHOT_STORE_NONE);

    //  Expiry: probe says so, sweep removes
    SELFTEST_CHECK (snapshot_store_put (state, "old", "x", 1) == 0);
    SELFTEST_CHECK (snapshot_store_put (state, "new", "x", 1) == 0);
    char *old = mem_sprintf ("%s/s-old.snap", state);
    struct timespec times [2] = { { time (NULL) - 100, 0 }, { time (NULL) - 100, 0 } };
    SELFTEST_CHECK (utimensat (AT_FDCWD, old, times, 0) == 0);
    SELFTEST_CHECK (snapshot_store_sweep (state, 50, time (NULL)) == 1);
    SELFTEST_CHECK (access (old, F_OK) == -1);
    SELFTEST_CHECK (snapshot_store_put (state, "old", "x", 1) == 0);
    SELFTEST_CHECK (utimensat (AT_FDCWD, old, times, 0) == 0);
    SELFTEST_CHECK (snapshot_store_probe (state, "old", 50, reason, sizeof reason)
                    == SNAPSHOT_STORE_FAILED);
    SELFTEST_CHECK (strstr (reason, "expired"));
    free (old);

    //  Clean up
    SELFTEST_CHECK (snapshot_store_sweep (state, 0, time (NULL) + 10) >= 1);
    SELFTEST_CHECK (rmdir (state) == 0);
    SELFTEST_CHECK (rmdir (dir) == 0);
    free (state);
    printf ("OK\n");
}
