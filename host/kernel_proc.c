/*  kernel_proc — kmq-kernel processes (see kernel_proc.h).                  */
#include "kernel_proc.h"
#include "selftest.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

//  posix_spawn with our attributes; with stdin_fd >= 0, that fd becomes the
//  child's stdin.
static pid_t
s_spawn (const char *path, char *const argv [], int stdin_fd)
{
    assert (path && argv);
    posix_spawnattr_t attr;
    int rc = posix_spawnattr_init (&attr);
    if (rc) {
        errno = rc;
        return -1;
    }
    posix_spawn_file_actions_t actions;
    rc = posix_spawn_file_actions_init (&actions);
    if (rc) {
        posix_spawnattr_destroy (&attr);
        errno = rc;
        return -1;
    }
    if (stdin_fd >= 0)
        posix_spawn_file_actions_adddup2 (&actions, stdin_fd, STDIN_FILENO);
    sigset_t empty, all;
    sigemptyset (&empty);
    sigfillset (&all);
    //  Children start with no blocked signals and every signal at its
    //  default (our SIGPIPE is ignored; the kernel must not inherit that).
    posix_spawnattr_setsigmask (&attr, &empty);
    posix_spawnattr_setsigdefault (&attr, &all);
    posix_spawnattr_setpgroup (&attr, 0);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                     | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    rc = posix_spawn (&pid, path, &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    if (rc) {
        errno = rc;
        return -1;
    }
    return pid;
}

pid_t
kernel_proc_spawn (const char *path, char *const argv [])
{
    return s_spawn (path, argv, -1);
}

pid_t
kernel_proc_spawn_fed (const char *path, char *const argv [], int *feed_fd)
{
    assert (feed_fd);
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC))
        return -1;
    pid_t pid = s_spawn (path, argv, fds [0]);
    int saved = errno;
    close (fds [0]);
    if (pid < 0) {
        close (fds [1]);
        errno = saved;
        return -1;
    }
    *feed_fd = fds [1];
    return pid;
}

void
kernel_proc_settings (const config_t *cfg, kernel_settings_t *settings)
{
    assert (cfg && settings);
    kernel_contract_defaults (settings);
    settings->endpoint = cfg->backend;
    settings->heartbeat_ivl_ms = cfg->heartbeat_ivl_ms;
    settings->heartbeat_idle_ivl_ms = cfg->heartbeat_idle_ivl_ms;
    settings->heartbeat_liveness = cfg->heartbeat_liveness;
    settings->request_timeout_ms = cfg->request_timeout_s * 1000;
    settings->request_cpu_s = cfg->request_cpu_s;
    settings->kill_grace_ms = cfg->kill_grace_ms;
    settings->broker_grace_ms = cfg->broker_grace_s * 1000;
    settings->host = cfg->host_id;
    settings->max_output = cfg->max_output;
    settings->pool_size = cfg->pool_size;
    settings->memory_limit = cfg->memory_limit;
    settings->cpu_limit_s = cfg->cpu_limit_s;
    settings->max_payload = cfg->max_payload;
    settings->work_quota = cfg->work_quota;
    settings->tmp_quota = cfg->tmp_quota;
    settings->max_threads = cfg->max_threads;
    settings->max_files = cfg->max_files;
    settings->executor_uid_base = cfg->executor_uid_base;
    settings->executor_uid_count = cfg->executor_uid_count;
    settings->verbose = cfg->verbose;
    settings->state_dir = cfg->snapshot? cfg->state_dir: NULL;
    settings->snapshot = cfg->snapshot;
    settings->snapshot_quota = cfg->snapshot_quota;
    settings->snapshot_ttl_s = cfg->snapshot_ttl_s;
}

pid_t
kernel_proc_start (const char *path, const kernel_settings_t *settings)
{
    assert (path && settings);
    char **argv = kernel_contract_argv (path, settings, NULL);
    pid_t pid = kernel_proc_spawn (path, argv);
    int saved = errno;
    kernel_contract_argv_destroy (&argv);
    errno = saved;
    return pid;
}

int
kernel_proc_signal (pid_t pid, int sig, bool group)
{
    if (pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    if (group && kill (-pid, sig) == 0)
        return 0;
    //  No group (the kernel may have left it): the process alone
    return kill (pid, sig);
}

pid_t
kernel_proc_reap (int *status)
{
    assert (status);
    pid_t pid;
    do
        pid = waitpid (-1, status, WNOHANG);
    while (pid < 0 && errno == EINTR);
    return pid;
}

void
kernel_proc_describe (int status, char *buf, size_t size)
{
    if (WIFEXITED (status))
        snprintf (buf, size, "exit status %d", WEXITSTATUS (status));
    else
    if (WIFSIGNALED (status)) {
        int sig = WTERMSIG (status);
        const char *name = strsignal (sig);
        snprintf (buf, size, "signal %d (%s)%s", sig, name ? name : "unknown",
                  WCOREDUMP (status) ? ", core dumped" : "");
    }
    else
        snprintf (buf, size, "wait status 0x%x", (unsigned) status);
}

//  The host's settings, at their defaults and at the ends of their
//  ranges, make argvs the kernel's parser takes back unchanged.
static void
s_test_settings (void)
{
    char *extremes [] = { "kmq-host", "--heartbeat-ivl-ms", "600000",
        "--heartbeat-liveness", "100", "--request-timeout-s", "604800",
        "--request-cpu-s", "31536000", "--kill-grace-ms", "600000",
        "--max-output", "1024G", "--memory-limit", "0", "--max-payload", "1G",
        "--pool-size", "64", "-v" };
    for (int pass = 0; pass < 2; pass++) {
        config_t *cfg = config_new ();
        char err [256];
        int count = pass? (int) (sizeof extremes / sizeof extremes [0]): 1;
        SELFTEST_CHECK (config_load (cfg, CONFIG_HOST, count, extremes, err, sizeof err) == 0);
        kernel_settings_t settings, parsed;
        kernel_proc_settings (cfg, &settings);
        SELFTEST_CHECK (settings.request_timeout_ms == cfg->request_timeout_s * 1000);
        settings.session = "s1";
        settings.kernel_id = "k1-00000001";
        settings.work_dir = "/tmp/kmq-kernel-proc-test/k1";
        int argc;
        char **argv = kernel_contract_argv (cfg->kernel_path, &settings, &argc);
        SELFTEST_CHECK (kernel_contract_parse (&parsed, argc, argv, err, sizeof err) == 0);
        SELFTEST_CHECK (strcmp (parsed.endpoint, cfg->backend) == 0);
        SELFTEST_CHECK (parsed.heartbeat_ivl_ms == cfg->heartbeat_ivl_ms);
        SELFTEST_CHECK (parsed.heartbeat_idle_ivl_ms == cfg->heartbeat_idle_ivl_ms);
        SELFTEST_CHECK (parsed.heartbeat_idle_ivl_ms >= parsed.heartbeat_ivl_ms);
        SELFTEST_CHECK (parsed.max_output == cfg->max_output);
        SELFTEST_CHECK (parsed.memory_limit == cfg->memory_limit);
        SELFTEST_CHECK (parsed.executor_uid_base == cfg->executor_uid_base);
        SELFTEST_CHECK (parsed.verbose == cfg->verbose);
        kernel_contract_argv_destroy (&argv);

        settings.session = NULL;            //  the zygote's
        settings.zygote = "/tmp/kmq-kernel-proc-test/zygote.sock";
        argv = kernel_contract_argv (cfg->kernel_path, &settings, &argc);
        SELFTEST_CHECK (kernel_contract_parse (&parsed, argc, argv, err, sizeof err) == 0);
        SELFTEST_CHECK (parsed.pool_size == cfg->pool_size);
        SELFTEST_CHECK (parsed.max_payload == cfg->max_payload);
        kernel_contract_argv_destroy (&argv);
        config_destroy (&cfg);
    }
}

void
kernel_proc_test (bool verbose)
{
    (void) verbose;
    s_test_settings ();
    char buf [64];
    char *argv_exit [] = { "/bin/sh", "-c", "exit 3", NULL };
    pid_t pid = kernel_proc_spawn ("/bin/sh", argv_exit);
    SELFTEST_CHECK (pid > 0);
    SELFTEST_CHECK (getpgid (pid) == pid || errno == ESRCH);
    int status = 0;
    pid_t got = waitpid (pid, &status, 0);
    SELFTEST_CHECK (got == pid);
    kernel_proc_describe (status, buf, sizeof buf);
    SELFTEST_CHECK (strcmp (buf, "exit status 3") == 0);

    char *argv_sleep [] = { "/bin/sleep", "30", NULL };
    pid = kernel_proc_spawn ("/bin/sleep", argv_sleep);
    SELFTEST_CHECK (pid > 0);
    SELFTEST_CHECK (kernel_proc_signal (pid, SIGKILL, true) == 0);
    got = 0;
    for (int i = 0; i < 500 && got == 0; i++) {
        got = kernel_proc_reap (&status);
        if (got == 0)
            usleep (10000);
    }
    SELFTEST_CHECK (got == pid);
    kernel_proc_describe (status, buf, sizeof buf);
    SELFTEST_CHECK (strcmp (buf, "signal 9 (Killed)") == 0);
    SELFTEST_CHECK (kernel_proc_signal (pid, 0, false) == -1);

    char *argv_missing [] = { "/nonexistent/kmq-kernel", NULL };
    pid = kernel_proc_spawn ("/nonexistent/kmq-kernel", argv_missing);
    SELFTEST_CHECK (pid == -1 && errno == ENOENT);
}
