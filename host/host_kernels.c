/*  host_kernels — a host's kernel processes (see host_kernels.h). */
#include "host_kernels.h"
#include "kernel_proc.h"
#include "kernel_standby.h"
#include "mem.h"
#include "selftest.h"

#include <czmq.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char session [129];
    char kernel_id [64];
    pid_t pid;
    int64_t kill_at;                //  when to SIGKILL; 0 = not ending, or sent
    bool grouped;                   //  it has a cgroup, named kernel_id
    uint64_t cpu_ns;                //  its group's CPU time at the last sample
    int64_t sampled;                //  when (0: never)
} s_kernel_t;

struct _host_kernels_t {
    config_t *cfg;
    char *work_root;
    zlistx_t *kernels;              //  s_kernel_t *
    kernel_standby_t *standby;      //  kernels started ahead; NULL once ending
    cgroup_host_t *cgroups;         //  borrowed; NULL: no groups
    zlistx_t *busy_groups;          //  names of groups still to remove
    size_t spares;                  //  spare groups kept for the zygote's pool
    int64_t spares_at;              //  when to make the missing ones; 0: none due
};

//  After a start, its spare group is made again this much later: off the
//  start's path, as the zygote's refill (kernel/zygote.c)
#define S_SPARES_DELAY_MS 50

static cgroup_limits_t
s_limits (host_kernels_t *self)
{
    cgroup_limits_t limits = { self->cfg->memory_limit, self->cfg->max_threads,
                               self->cfg->cpu_quota };
    return limits;
}

//  Makes the spare groups that are missing (cgroup.h).
static void
s_make_spares (host_kernels_t *self)
{
    self->spares_at = 0;
    cgroup_limits_t limits = s_limits (self);
    char why [320];
    if (cgroup_host_spares (self->cgroups, self->spares, &limits, why, sizeof why) == -1)
        zsys_warning ("cgroup: spare groups for the zygote's pool: %s (its executors "
                      "are moved into their groups instead: slower starts)", why);
}

static void
s_kernel_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

host_kernels_t *
host_kernels_new (config_t *cfg, const char *work_root, cgroup_host_t *cgroups)
{
    assert (cfg && work_root);
    host_kernels_t *self = (host_kernels_t *) zmalloc (sizeof (host_kernels_t));
    self->cfg = cfg;
    self->cgroups = cgroups;
    self->busy_groups = zlistx_new ();
    zlistx_set_destructor (self->busy_groups, (czmq_destructor *) zstr_free);
    zlistx_set_duplicator (self->busy_groups, (czmq_duplicator *) mem_strdup);
    self->work_root = mem_strdup (work_root);
    self->kernels = zlistx_new ();
    zlistx_set_destructor (self->kernels, s_kernel_destructor);
    self->standby = kernel_standby_new (cfg->kernel_path, work_root, cfg->standby_kernels);
    return self;
}

char *
host_kernels_spares (host_kernels_t *self)
{
    assert (self);
    if (!self->cgroups || cgroup_host_mode (self->cgroups) != CGROUP_V1)
        return NULL;
    self->spares = self->cfg->pool_size + CGROUP_SPARES_EXTRA;
    s_make_spares (self);
    return cgroup_host_parent_list (self->cgroups);
}

void
host_kernels_destroy (host_kernels_t **self_p)
{
    assert (self_p);
    host_kernels_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->kernels);
    kernel_standby_destroy (&self->standby);
    zlistx_destroy (&self->busy_groups);
    free (self->work_root);
    free (self);
    *self_p = NULL;
}

static s_kernel_t *
s_find (host_kernels_t *self, const char *kernel_id, pid_t pid)
{
    for (s_kernel_t *kernel = (s_kernel_t *) zlistx_first (self->kernels); kernel;
         kernel = (s_kernel_t *) zlistx_next (self->kernels))
        if ((kernel_id && streq (kernel->kernel_id, kernel_id)) || (pid && kernel->pid == pid))
            return kernel;
    return NULL;
}

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    if (remove (path) && errno != ENOENT)
        zsys_warning ("kmq-host: cannot remove %s: %s", path, strerror (errno));
    return 0;
}

static void
s_remove_work_dir (host_kernels_t *self, const char *kernel_id)
{
    char *path = mem_sprintf ("%s/%s", self->work_root, kernel_id);
    struct stat st;
    if (lstat (path, &st) == 0)
        nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free (path);
}

pid_t
host_kernels_start (host_kernels_t *self, const char *session, const char *kernel_id,
                    const char *notice, bool restore, const char *zygote, char *why,
                    size_t why_size)
{
    assert (self && session && kernel_id && why);
    if (s_find (self, kernel_id, 0)) {
        snprintf (why, why_size, "kernel %s already runs here", kernel_id);
        return -1;
    }
    kernel_settings_t settings;
    kernel_proc_settings (self->cfg, &settings);
    char *groups = NULL;
    if (self->cgroups) {
        cgroup_limits_t limits = s_limits (self);
        char reason [256];
        groups = cgroup_host_add (self->cgroups, kernel_id, &limits, reason, sizeof reason);
        if (!groups) {
            snprintf (why, why_size, "could not make kernel %s's cgroup: %s", kernel_id,
                      reason);
            return -1;
        }
        settings.cgroup = groups;
    }
    char *work = mem_sprintf ("%s/%s", self->work_root, kernel_id);
    settings.session = session;
    settings.kernel_id = kernel_id;
    settings.work_dir = work;
    settings.state_lost = notice;
    settings.restore = restore;
    settings.zygote = zygote;
    char **argv = kernel_contract_argv (self->cfg->kernel_path, &settings, NULL);
    pid_t pid = self->standby? kernel_standby_assign (self->standby, argv, zclock_mono ()): 0;
    if (pid == 0)
        pid = kernel_proc_spawn (self->cfg->kernel_path, argv);
    int error = errno;
    kernel_contract_argv_destroy (&argv);
    free (work);
    free (groups);
    if (pid < 0) {
        if (self->cgroups)
            cgroup_host_remove (self->cgroups, kernel_id);
        snprintf (why, why_size, "could not start %s: %s (check --kernel-path)",
                  self->cfg->kernel_path, strerror (error));
        return -1;
    }
    if (self->spares && !self->spares_at)
        self->spares_at = zclock_mono () + S_SPARES_DELAY_MS;
    s_kernel_t *kernel = (s_kernel_t *) zmalloc (sizeof (s_kernel_t));
    snprintf (kernel->session, sizeof kernel->session, "%s", session);
    snprintf (kernel->kernel_id, sizeof kernel->kernel_id, "%s", kernel_id);
    kernel->pid = pid;
    kernel->grouped = self->cgroups != NULL;
    zlistx_add_end (self->kernels, kernel);
    return pid;
}

static void
s_signal (s_kernel_t *kernel, int sig)
{
    if (kernel_proc_signal (kernel->pid, sig, sig == SIGKILL) && errno != ESRCH)
        zsys_warning ("kernel %s (%d): kill -%d: %s", kernel->kernel_id,
                      (int) kernel->pid, sig, strerror (errno));
}

//  SIGKILL now (grace 0), or at now + grace_ms if it still runs then,
//  after a SIGTERM when term.
static void
s_stop (s_kernel_t *kernel, uint64_t grace_ms, bool term, int64_t now)
{
    if (grace_ms == 0) {
        s_signal (kernel, SIGKILL);
        kernel->kill_at = 0;
        return;
    }
    if (term)
        s_signal (kernel, SIGTERM);
    int64_t at = now + (int64_t) grace_ms;
    if (!kernel->kill_at || at < kernel->kill_at)
        kernel->kill_at = at;
}

bool
host_kernels_stop (host_kernels_t *self, const char *kernel_id, uint64_t grace_ms,
                   int64_t now)
{
    assert (self && kernel_id);
    s_kernel_t *kernel = s_find (self, kernel_id, 0);
    if (!kernel)
        return false;
    s_stop (kernel, grace_ms, false, now);
    return true;
}

void
host_kernels_stop_all (host_kernels_t *self, uint64_t grace_ms, bool term, int64_t now)
{
    assert (self);
    kernel_standby_destroy (&self->standby);    //  no session will come
    for (s_kernel_t *kernel = (s_kernel_t *) zlistx_first (self->kernels); kernel;
         kernel = (s_kernel_t *) zlistx_next (self->kernels))
        s_stop (kernel, grace_ms, term, now);
}

bool
host_kernels_reaped (host_kernels_t *self, pid_t pid, int status,
                     host_kernel_exit_t *exit)
{
    assert (self && exit);
    if (self->standby && kernel_standby_reaped (self->standby, pid, zclock_mono ()))
        return false;
    s_kernel_t *kernel = s_find (self, NULL, pid);
    if (!kernel)
        return false;
    memset (exit, 0, sizeof *exit);
    snprintf (exit->session, sizeof exit->session, "%s", kernel->session);
    snprintf (exit->kernel_id, sizeof exit->kernel_id, "%s", kernel->kernel_id);
    exit->pid = pid;
    exit->status = status;
    kernel_proc_describe (status, exit->cause, sizeof exit->cause);
    s_remove_work_dir (self, kernel->kernel_id);
    if (kernel->grouped && cgroup_host_remove (self->cgroups, kernel->kernel_id))
        //  Its executor is still on its way out: later
        zlistx_add_end (self->busy_groups, kernel->kernel_id);
    zlistx_delete (self->kernels, zlistx_cursor (self->kernels));
    return true;
}

//  Removes the groups that were still busy when their kernels went.
static void
s_remove_busy_groups (host_kernels_t *self)
{
    const char *name = (const char *) zlistx_first (self->busy_groups);
    while (name) {
        if (cgroup_host_remove (self->cgroups, name) == 0 || errno != EBUSY) {
            zlistx_delete (self->busy_groups, zlistx_cursor (self->busy_groups));
            name = (const char *) zlistx_first (self->busy_groups);
        }
        else
            name = (const char *) zlistx_next (self->busy_groups);
    }
}

int64_t
host_kernels_tick (host_kernels_t *self, int64_t now)
{
    assert (self);
    int64_t next = self->standby? kernel_standby_tick (self->standby, now): -1;
    if (self->spares_at) {
        if (now >= self->spares_at)
            s_make_spares (self);
        else
        if (next < 0 || self->spares_at - now < next)
            next = self->spares_at - now;
    }
    if (zlistx_size (self->busy_groups)) {
        s_remove_busy_groups (self);
        if (zlistx_size (self->busy_groups) && (next < 0 || next > 100))
            next = 100;
    }
    for (s_kernel_t *kernel = (s_kernel_t *) zlistx_first (self->kernels); kernel;
         kernel = (s_kernel_t *) zlistx_next (self->kernels)) {
        if (!kernel->kill_at)
            continue;
        if (now >= kernel->kill_at) {
            zsys_warning ("kernel %s (%d, session %s): still running past its grace: "
                          "killed", kernel->kernel_id, (int) kernel->pid, kernel->session);
            s_signal (kernel, SIGKILL);
            kernel->kill_at = 0;
        }
        else
        if (next < 0 || kernel->kill_at - now < next)
            next = kernel->kill_at - now;
    }
    return next;
}

size_t
host_kernels_count (host_kernels_t *self)
{
    assert (self);
    return zlistx_size (self->kernels);
}

size_t
host_kernels_cpu (host_kernels_t *self, int64_t now, host_kernel_cpu_t *out, size_t max)
{
    assert (self && (out || max == 0));
    size_t count = 0;
    if (!self->cgroups)
        return 0;
    for (s_kernel_t *kernel = (s_kernel_t *) zlistx_first (self->kernels); kernel;
         kernel = (s_kernel_t *) zlistx_next (self->kernels)) {
        uint64_t ns;
        if (!kernel->grouped || cgroup_host_cpu_ns (self->cgroups, kernel->kernel_id, &ns))
            continue;
        bool first = kernel->sampled == 0;
        uint64_t used = ns > kernel->cpu_ns? ns - kernel->cpu_ns: 0;
        int64_t interval = now - kernel->sampled;
        kernel->cpu_ns = ns;
        kernel->sampled = now;
        if ((used == 0 && !first) || count >= max)
            continue;
        out [count].kernel_id = kernel->kernel_id;
        out [count].cpu_s = (double) ns / 1e9;
        out [count].cpus = first || interval <= 0? 0
                         : (double) used / ((double) interval * 1e6);
        count++;
    }
    return count;
}

//  --- selftest ------------------------------------------------------------

#include <sys/wait.h>

void
host_kernels_test (bool verbose)
{
    (void) verbose;
    config_t *cfg = config_new ();
    free (cfg->kernel_path);
    cfg->kernel_path = mem_strdup ("/bin/sleep");   //  takes any argv? no: fails fast
    free (cfg->backend);
    cfg->backend = mem_strdup ("ipc:///tmp/kmq-host-kernels-test/backend");
    cfg->standby_kernels = 0;       //  kernel_standby_test tests those
    char root [] = "/tmp/kmq-host-kernels-test-XXXXXX";
    SELFTEST_CHECK (mkdtemp (root));
    host_kernels_t *kernels = host_kernels_new (cfg, root, NULL);
    char why [256];
    //  /bin/sleep refuses kmq-kernel's flags and exits: started, then reaped
    pid_t pid = host_kernels_start (kernels, "s1", "k1-1", NULL, false, NULL, why, sizeof why);
    SELFTEST_CHECK (pid > 0);
    SELFTEST_CHECK (host_kernels_start (kernels, "s1", "k1-1", NULL, false, NULL, why,
                                        sizeof why) == -1 && strstr (why, "already"));
    SELFTEST_CHECK (host_kernels_count (kernels) == 1);
    char *dir = mem_sprintf ("%s/k1-1", root);
    SELFTEST_CHECK (mkdir (dir, 0700) == 0);
    int status;
    SELFTEST_CHECK (waitpid (pid, &status, 0) == pid);
    host_kernel_exit_t exit;
    SELFTEST_CHECK (!host_kernels_reaped (kernels, pid + 100000, status, &exit));
    SELFTEST_CHECK (host_kernels_reaped (kernels, pid, status, &exit));
    SELFTEST_CHECK (streq (exit.session, "s1") && streq (exit.kernel_id, "k1-1"));
    SELFTEST_CHECK (strstr (exit.cause, "exit status"));
    SELFTEST_CHECK (access (dir, F_OK) == -1);      //  its work dir went
    SELFTEST_CHECK (host_kernels_count (kernels) == 0);
    //  A kernel that lingers gets SIGKILL once its grace is over
    char *script = mem_sprintf ("%s/linger.sh", root);
    FILE *file = fopen (script, "w");
    SELFTEST_CHECK (file);
    fprintf (file, "#!/bin/sh\nexec sleep 30\n");
    fclose (file);
    SELFTEST_CHECK (chmod (script, 0700) == 0);
    free (cfg->kernel_path);
    cfg->kernel_path = script;
    pid = host_kernels_start (kernels, "s3", "k3-1", NULL, false, NULL, why, sizeof why);
    SELFTEST_CHECK (pid > 0);
    SELFTEST_CHECK (!host_kernels_stop (kernels, "k9", 100, 0));
    SELFTEST_CHECK (host_kernels_stop (kernels, "k3-1", 100, 1000));
    SELFTEST_CHECK (host_kernels_tick (kernels, 1050) == 50);
    SELFTEST_CHECK (kill (pid, 0) == 0);            //  no SIGTERM: still there
    SELFTEST_CHECK (host_kernels_tick (kernels, 1100) == -1);
    SELFTEST_CHECK (waitpid (pid, &status, 0) == pid);
    SELFTEST_CHECK (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    SELFTEST_CHECK (host_kernels_reaped (kernels, pid, status, &exit));
    SELFTEST_CHECK (strstr (exit.cause, "signal 9"));
    unlink (script);
    //  A kernel that cannot start is refused with the reason
    free (cfg->kernel_path);
    cfg->kernel_path = mem_strdup ("/nonexistent/kmq-kernel");
    SELFTEST_CHECK (host_kernels_start (kernels, "s2", "k2-1", NULL, false, NULL, why,
                                        sizeof why) == -1 && strstr (why, "could not start"));
    SELFTEST_CHECK (host_kernels_tick (kernels, 0) == -1);
    free (dir);
    rmdir (root);
    host_kernels_destroy (&kernels);
    host_kernels_destroy (&kernels);
    config_destroy (&cfg);
}
