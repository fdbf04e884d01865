/*  zygote_proc — the kernel host's zygote process (see zygote_proc.h).  */
#include "zygote_proc.h"
#include "mem.h"
#include "kernel_proc.h"
#include "selftest.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct _zygote_proc_t {
    config_t *cfg;                  //  borrowed
    char *socket;                   //  <runtime_dir>/zygote.sock
    char *cgroup_spares;            //  --cgroup-spares; NULL: none
    pid_t pid;                      //  0 when none runs
    uint64_t restarts;              //  starts after the first
    bool started_once;
    bool released;                  //  shutting down: never restart
    int64_t restart_at;             //  0 = no restart pending
    int64_t last_start;             //  when we last tried to start it
};

zygote_proc_t *
zygote_proc_new (config_t *config, const char *runtime_dir)
{
    assert (config && runtime_dir);
    zygote_proc_t *self = (zygote_proc_t *) zmalloc (sizeof (zygote_proc_t));
    self->cfg = config;
    self->socket = mem_sprintf ("%s/zygote.sock", runtime_dir);
    assert (self->socket);
    return self;
}

void
zygote_proc_destroy (zygote_proc_t **self_p)
{
    assert (self_p);
    zygote_proc_t *self = *self_p;
    if (!self)
        return;
    zstr_free (&self->socket);
    free (self->cgroup_spares);
    free (self);
    *self_p = NULL;
}

//  Not before the interval since the last attempt: never a tight loop.
static void
s_schedule_restart (zygote_proc_t *self, int64_t now)
{
    int64_t at = now + ZYGOTE_PROC_RESTART_MS;
    if (at < self->last_start + ZYGOTE_PROC_RESTART_MS)
        at = self->last_start + ZYGOTE_PROC_RESTART_MS;
    self->restart_at = at;
}

void
zygote_proc_set_spares (zygote_proc_t *self, char *list)
{
    assert (self);
    free (self->cgroup_spares);
    self->cgroup_spares = list;
}

int
zygote_proc_start (zygote_proc_t *self, int64_t now)
{
    assert (self);
    if (self->pid > 0 || self->released)
        return 0;
    config_t *cfg = self->cfg;
    kernel_settings_t settings;
    kernel_proc_settings (cfg, &settings);
    settings.zygote = self->socket;         //  and no session: the zygote
    settings.cgroup_spares = self->cgroup_spares;

    bool restart = self->started_once;
    self->started_once = true;
    self->last_start = now;
    self->restart_at = 0;
    if (restart)
        self->restarts++;
    pid_t pid = kernel_proc_start (cfg->kernel_path, &settings);
    if (pid < 0) {
        zsys_error ("zygote: could not start %s: %s (check --kernel-path); kernels fork "
                    "their executors themselves meanwhile, retrying in %d ms",
                    cfg->kernel_path, strerror (errno), ZYGOTE_PROC_RESTART_MS);
        s_schedule_restart (self, now);
        return -1;
    }
    self->pid = pid;
    zsys_info ("zygote %d started (pool %" PRIu64 ")%s", (int) pid, cfg->pool_size,
               restart ? ", a restart" : "");
    return 0;
}

bool
zygote_proc_exited (zygote_proc_t *self, pid_t pid, int status, int64_t now)
{
    assert (self);
    if (pid <= 0 || pid != self->pid)
        return false;
    self->pid = 0;
    char how [96];
    kernel_proc_describe (status, how, sizeof how);
    if (self->released)
        return true;
    s_schedule_restart (self, now);
    zsys_warning ("zygote %d exited (%s); sessions start slower (kernels fork their "
                  "executors) until it is restarted in %" PRId64 " ms", (int) pid, how,
                  self->restart_at - now);
    return true;
}

int64_t
zygote_proc_tick (zygote_proc_t *self, int64_t now)
{
    assert (self);
    if (self->released || self->pid > 0 || self->restart_at == 0)
        return -1;
    if (now < self->restart_at)
        return self->restart_at - now;
    zsys_info ("zygote: restarting (restart %" PRIu64 ")", self->restarts + 1);
    zygote_proc_start (self, now);
    return self->restart_at ? self->restart_at - now : -1;
}

pid_t
zygote_proc_release (zygote_proc_t *self)
{
    assert (self);
    pid_t pid = self->pid;
    self->released = true;
    self->restart_at = 0;
    self->pid = 0;
    return pid;
}

pid_t
zygote_proc_pid (zygote_proc_t *self)
{
    assert (self);
    return self->pid;
}

uint64_t
zygote_proc_restarts (zygote_proc_t *self)
{
    assert (self);
    return self->restarts;
}

const char *
zygote_proc_socket (zygote_proc_t *self)
{
    assert (self);
    return self->socket;
}

//  --- selftest -------------------------------------------------------

static pid_t
s_test_wait (pid_t pid, int *status)
{
    pid_t got;
    do
        got = waitpid (pid, status, 0);
    while (got < 0 && errno == EINTR);
    return got;
}

void
zygote_proc_test (bool verbose)
{
    (void) verbose;
    config_t *cfg = config_new ();
    free (cfg->kernel_path);
    cfg->kernel_path = mem_strdup ("/bin/true");        //  exits at once, any argv
    zygote_proc_t *zygote = zygote_proc_new (cfg, "/tmp/kmq-zygote-test");
    SELFTEST_CHECK (streq (zygote_proc_socket (zygote), "/tmp/kmq-zygote-test/zygote.sock"));
    SELFTEST_CHECK (zygote_proc_pid (zygote) == 0);
    SELFTEST_CHECK (zygote_proc_tick (zygote, 0) == -1);    //  nothing pending

    int64_t now = 100000;
    SELFTEST_CHECK (zygote_proc_start (zygote, now) == 0);
    pid_t pid = zygote_proc_pid (zygote);
    SELFTEST_CHECK (pid > 0);
    SELFTEST_CHECK (zygote_proc_restarts (zygote) == 0);
    int status;
    SELFTEST_CHECK (s_test_wait (pid, &status) == pid);
    SELFTEST_CHECK (!zygote_proc_exited (zygote, pid + 1, status, now));
    //  Died at once: the restart waits a full interval from the last start
    SELFTEST_CHECK (zygote_proc_exited (zygote, pid, status, now + 10));
    SELFTEST_CHECK (zygote_proc_pid (zygote) == 0);
    int64_t due = zygote_proc_tick (zygote, now + 10);
    SELFTEST_CHECK (due == ZYGOTE_PROC_RESTART_MS);
    SELFTEST_CHECK (zygote_proc_tick (zygote, now + 500) == ZYGOTE_PROC_RESTART_MS - 490);
    SELFTEST_CHECK (zygote_proc_pid (zygote) == 0);
    SELFTEST_CHECK (zygote_proc_tick (zygote, now + 10 + ZYGOTE_PROC_RESTART_MS) == -1);
    pid = zygote_proc_pid (zygote);
    SELFTEST_CHECK (pid > 0);
    SELFTEST_CHECK (zygote_proc_restarts (zygote) == 1);

    //  Released: its exit schedules nothing
    SELFTEST_CHECK (zygote_proc_release (zygote) == pid);
    SELFTEST_CHECK (zygote_proc_pid (zygote) == 0);
    SELFTEST_CHECK (s_test_wait (pid, &status) == pid);
    SELFTEST_CHECK (!zygote_proc_exited (zygote, pid, status, now));
    SELFTEST_CHECK (zygote_proc_tick (zygote, now + 100000) == -1);
    SELFTEST_CHECK (zygote_proc_start (zygote, now) == 0 && zygote_proc_pid (zygote) == 0);

    //  A kernel path that does not exist: logged, retried later
    zygote_proc_destroy (&zygote);
    free (cfg->kernel_path);
    cfg->kernel_path = mem_strdup ("/nonexistent/kmq-kernel");
    zygote = zygote_proc_new (cfg, "/tmp/kmq-zygote-test");
    SELFTEST_CHECK (zygote_proc_start (zygote, now) == -1);
    SELFTEST_CHECK (zygote_proc_pid (zygote) == 0);
    SELFTEST_CHECK (zygote_proc_tick (zygote, now + 1) == ZYGOTE_PROC_RESTART_MS - 1);
    zygote_proc_destroy (&zygote);
    zygote_proc_destroy (&zygote);
    config_destroy (&cfg);
}
