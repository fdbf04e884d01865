/*  kernel_proc — kmq-kernel processes (see kernel_proc.h).                  */
#include "kernel_proc.h"
#include "selftest.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

pid_t
kernel_proc_spawn (const char *path, char *const argv [])
{
    assert (path && argv);
    posix_spawnattr_t attr;
    int rc = posix_spawnattr_init (&attr);
    if (rc) {
        errno = rc;
        return -1;
    }
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
    rc = posix_spawn (&pid, path, NULL, &attr, argv, environ);
    posix_spawnattr_destroy (&attr);
    if (rc) {
        errno = rc;
        return -1;
    }
    return pid;
}

int
kernel_proc_limit_args (const config_t *cfg, kernel_proc_limits_t *limits,
                        char **argv, int argc)
{
    assert (cfg && limits && argv);
    const struct {
        const char *flag;
        uint64_t value;
    } flags [KERNEL_PROC_LIMITS] = {
        { "--memory-limit", cfg->memory_limit },
        { "--cpu-limit-s",  cfg->cpu_limit_s },
        { "--max-payload",  cfg->max_payload },
        { "--work-quota",   cfg->work_quota },
        { "--tmp-quota",    cfg->tmp_quota },
        { "--max-threads",  cfg->max_threads },
        { "--max-files",    cfg->max_files },
    };
    for (int i = 0; i < KERNEL_PROC_LIMITS; i++) {
        snprintf (limits->value [i], sizeof limits->value [i], "%" PRIu64,
                  flags [i].value);
        argv [argc++] = (char *) flags [i].flag;
        argv [argc++] = limits->value [i];
    }
    return argc;
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

void
kernel_proc_test (bool verbose)
{
    (void) verbose;
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
