/*  kernel_standby — kmq-kernel processes started ahead of demand (see
    kernel_standby.h).                                                      */
#include "kernel_standby.h"
#include "kernel_proc.h"
#include "mem.h"
#include "selftest.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_STANDBY       16
#define S_REFILL_DELAY_MS   50      //  after a standby was taken
#define S_BACKOFF_MS        1000    //  after one died waiting, or failed to start

typedef struct {
    pid_t pid;
    int feed;                   //  its stdin's write end; -1 once discarded
} s_standby_t;

struct _kernel_standby_t {
    char *kernel_path;
    char *work_root;
    size_t size;
    s_standby_t standby [S_MAX_STANDBY];
    size_t count;               //  entries in standby, waiting or discarded
    int64_t refill_at;          //  no new standby before this (zclock_mono)
};

kernel_standby_t *
kernel_standby_new (const char *kernel_path, const char *work_root, size_t size)
{
    assert (kernel_path && work_root);
    kernel_standby_t *self = (kernel_standby_t *) zmalloc (sizeof (kernel_standby_t));
    self->kernel_path = mem_strdup (kernel_path);
    self->work_root = mem_strdup (work_root);
    self->size = size < S_MAX_STANDBY? size: S_MAX_STANDBY;
    return self;
}

void
kernel_standby_destroy (kernel_standby_t **self_p)
{
    assert (self_p);
    kernel_standby_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        if (self->standby [i].feed >= 0)
            close (self->standby [i].feed);     //  end of file: it exits 0
    free (self->kernel_path);
    free (self->work_root);
    free (self);
    *self_p = NULL;
}

//  Writes every string of argv with its NUL, in one write when it fits the
//  pipe (it does: ~1 KiB), then closes fd. 0 or -1.
static int
s_feed (int fd, char *const argv [])
{
    size_t size = 0;
    for (size_t i = 0; argv [i]; i++)
        size += strlen (argv [i]) + 1;
    char *buffer = (char *) mem_alloc (size);
    size_t used = 0;
    for (size_t i = 0; argv [i]; i++) {
        size_t len = strlen (argv [i]) + 1;
        memcpy (buffer + used, argv [i], len);
        used += len;
    }
    int rc = 0;
    for (size_t sent = 0; sent < size && rc == 0; ) {
        ssize_t n = write (fd, buffer + sent, size - sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            sent += (size_t) n;
    }
    free (buffer);
    close (fd);
    return rc;
}

pid_t
kernel_standby_assign (kernel_standby_t *self, char *const argv [], int64_t now)
{
    assert (self && argv);
    for (size_t i = 0; i < self->count; i++) {
        s_standby_t *standby = &self->standby [i];
        if (standby->feed < 0)
            continue;
        pid_t pid = standby->pid;
        int feed = standby->feed;
        //  Out of the pool either way: a session's now, or being stopped
        //  (then still listed, discarded, so that its reaping is ours)
        if (s_feed (feed, argv) == 0) {
            memmove (standby, standby + 1, (self->count - i - 1) * sizeof *standby);
            self->count--;
            if (self->refill_at < now + S_REFILL_DELAY_MS)
                self->refill_at = now + S_REFILL_DELAY_MS;
            return pid;
        }
        zsys_warning ("standby kernel %d did not take its session: %s; stopping it",
                      (int) pid, strerror (errno));
        standby->feed = -1;
        kill (pid, SIGKILL);
    }
    return 0;
}

int64_t
kernel_standby_tick (kernel_standby_t *self, int64_t now)
{
    assert (self);
    if (self->count >= self->size)
        return -1;
    if (now < self->refill_at)
        return self->refill_at - now;
    //  Room for the title it takes once it has a session (kernel/main.c)
    char padding [256];
    memset (padding, ' ', sizeof padding - 1);
    padding [sizeof padding - 1] = 0;
    char *argv [] = { self->kernel_path, (char *) "--standby", self->work_root, padding,
                      NULL };
    while (self->count < self->size) {
        int feed;
        pid_t pid = kernel_proc_spawn_fed (self->kernel_path, argv, &feed);
        if (pid < 0) {
            zsys_error ("cannot start a standby kernel %s: %s; retrying in %d ms",
                        self->kernel_path, strerror (errno), S_BACKOFF_MS);
            self->refill_at = now + S_BACKOFF_MS;
            return S_BACKOFF_MS;
        }
        self->standby [self->count++] = (s_standby_t) { pid, feed };
    }
    return -1;
}

bool
kernel_standby_reaped (kernel_standby_t *self, pid_t pid, int64_t now)
{
    assert (self);
    for (size_t i = 0; i < self->count; i++) {
        s_standby_t *standby = &self->standby [i];
        if (standby->pid != pid)
            continue;
        if (standby->feed >= 0) {
            zsys_warning ("standby kernel %d exited before it had a session; "
                          "replacing it in %d ms", (int) pid, S_BACKOFF_MS);
            close (standby->feed);
            self->refill_at = now + S_BACKOFF_MS;
        }
        memmove (standby, standby + 1, (self->count - i - 1) * sizeof *standby);
        self->count--;
        return true;
    }
    return false;
}

size_t
kernel_standby_count (kernel_standby_t *self)
{
    assert (self);
    size_t waiting = 0;
    for (size_t i = 0; i < self->count; i++)
        waiting += self->standby [i].feed >= 0;
    return waiting;
}

//  --- selftest ------------------------------------------------------------

#include <sys/wait.h>

//  Reaps pid (blocking) and tells the pool. Returns its wait status.
static int
s_reap (kernel_standby_t *pool, pid_t pid, bool ours)
{
    int status = 0;
    SELFTEST_CHECK (waitpid (pid, &status, 0) == pid);
    SELFTEST_CHECK (kernel_standby_reaped (pool, pid, 0) == ours);
    return status;
}

void
kernel_standby_test (bool verbose)
{
    (void) verbose;
    //  A stand-in kernel: copies its stdin (the assignment) to a file
    char root [] = "/tmp/kmq-standby-test-XXXXXX";
    SELFTEST_CHECK (mkdtemp (root));
    char *script = mem_sprintf ("%s/kernel.sh", root);
    char *out = mem_sprintf ("%s/assigned", root);
    FILE *file = fopen (script, "w");
    SELFTEST_CHECK (file);
    fprintf (file, "#!/bin/sh\nexec cat > %s.$$\n", out);
    fclose (file);
    SELFTEST_CHECK (chmod (script, 0700) == 0);

    kernel_standby_t *pool = kernel_standby_new (script, root, 2);
    SELFTEST_CHECK (kernel_standby_count (pool) == 0);
    char *argv [] = { script, (char *) "--session", (char *) "s1", NULL };
    SELFTEST_CHECK (kernel_standby_assign (pool, argv, 0) == 0);     //  none yet
    SELFTEST_CHECK (kernel_standby_tick (pool, 0) == -1);
    SELFTEST_CHECK (kernel_standby_count (pool) == 2);
    //  Taken: its stdin gets the argv, NUL-terminated; the refill waits
    pid_t pid = kernel_standby_assign (pool, argv, 1000);
    SELFTEST_CHECK (pid > 0 && kernel_standby_count (pool) == 1);
    SELFTEST_CHECK (kernel_standby_tick (pool, 1000) == S_REFILL_DELAY_MS);
    s_reap (pool, pid, false);                  //  a session's now, not ours
    char *path = mem_sprintf ("%s.%d", out, (int) pid);
    file = fopen (path, "r");
    SELFTEST_CHECK (file);
    char text [256];
    size_t size = fread (text, 1, sizeof text, file);
    fclose (file);
    const char expected [] = "--session\0s1\0";
    SELFTEST_CHECK (size == strlen (script) + 1 + sizeof expected - 1);
    SELFTEST_CHECK (memcmp (text + strlen (script) + 1, expected, sizeof expected - 1) == 0);
    unlink (path);
    free (path);
    SELFTEST_CHECK (kernel_standby_tick (pool, 1000 + S_REFILL_DELAY_MS) == -1);
    SELFTEST_CHECK (kernel_standby_count (pool) == 2);

    //  Destroying the pool closes their stdin: they read end of file and exit
    pid_t left [2] = { pool->standby [0].pid, pool->standby [1].pid };
    kernel_standby_destroy (&pool);
    kernel_standby_destroy (&pool);
    for (int i = 0; i < 2; i++) {
        int status;
        SELFTEST_CHECK (waitpid (left [i], &status, 0) == left [i]);
        SELFTEST_CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
        path = mem_sprintf ("%s.%d", out, (int) left [i]);
        unlink (path);
        free (path);
    }

    //  One that dies waiting is replaced after the backoff
    pool = kernel_standby_new (script, root, 1);
    SELFTEST_CHECK (kernel_standby_tick (pool, 0) == -1);
    pid = pool->standby [0].pid;
    kill (pid, SIGKILL);
    s_reap (pool, pid, true);
    SELFTEST_CHECK (kernel_standby_count (pool) == 0);
    SELFTEST_CHECK (kernel_standby_tick (pool, 10) == S_BACKOFF_MS - 10);
    SELFTEST_CHECK (kernel_standby_tick (pool, S_BACKOFF_MS) == -1);
    SELFTEST_CHECK (kernel_standby_count (pool) == 1);
    //  A dead one's hand-over fails: it is not given out, and stays ours
    //  (the host ignores SIGPIPE; so must this test, for the write to fail)
    pid = pool->standby [0].pid;
    kill (pid, SIGKILL);
    siginfo_t info;
    SELFTEST_CHECK (waitid (P_PID, (id_t) pid, &info, WEXITED | WNOWAIT) == 0);
    void (*was) (int) = signal (SIGPIPE, SIG_IGN);
    SELFTEST_CHECK (kernel_standby_assign (pool, argv, S_BACKOFF_MS) == 0);
    signal (SIGPIPE, was);
    SELFTEST_CHECK (kernel_standby_count (pool) == 0);
    s_reap (pool, pid, true);
    kernel_standby_destroy (&pool);

    //  size 0: nothing is started
    pool = kernel_standby_new (script, root, 0);
    SELFTEST_CHECK (kernel_standby_tick (pool, 0) == -1 && kernel_standby_count (pool) == 0);
    kernel_standby_destroy (&pool);
    unlink (script);
    free (script);
    free (out);
    rmdir (root);
}
