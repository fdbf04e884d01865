/*  executor_child — the executor's process from the fork to the
    interpreter: the one set-up sequence of every executor, whether its
    monitor forked it (executor_spawn, a fresh executor) or the zygote did
    (a pool child), then the interpreter's steps (executor.c) in order.

    The set-up, in order (the README's sandbox table):
        sandbox_fork      (in the parent) new namespaces, uid/gid maps,
                          PR_SET_PDEATHSIG
        parent death      armed again, the parent checked
        signals           all default, none blocked
        fds               0 /dev/null, 1-2 the output pipes, 3 the socket
        sandbox_enter     filesystem, capabilities, rlimits, no_new_privs,
                          Landlock
        (pool child)      Python's handlers back, from the zygote's table
        environment       nothing of the host's: a fixed PATH, HOME=/work
    Then a fresh executor starts CPython and the glue (pandas, numpy); a
    pool child has them from the zygote. Both seal the sandbox (seccomp,
    last) before any session's request; a pool child then waits for its
    hand-over. Each step that fails says why on stderr and _exits: the
    monitor logs it and the broker answers the session's requests with
    KERNEL_DIED.

    The zygote resets its signals and sets this environment for itself
    too (executor_reset_signals, executor_environment) before Python
    starts, so a pool child's interpreter saw what a fresh one sees.
*/
#include "executor_internal.h"
#include "fd_message.h"
#include "mem.h"
#include "proto.h"
#include "zygote_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

//  Set-up failures: one line on stderr (the monitor's pipe, or the
//  zygote's log for a pool child before its hand-over), then _exit.
void
executor_die (int status, const char *format, ...)
{
    char line [512];
    va_list args;
    va_start (args, format);
    int size = vsnprintf (line, sizeof line - 1, format, args);
    va_end (args);
    if (size < 0)
        size = 0;
    if ((size_t) size > sizeof line - 2)
        size = sizeof line - 2;
    line [size++] = '\n';
    ssize_t rc = write (STDERR_FILENO, "kmq executor: ", 14);
    rc = write (STDERR_FILENO, line, (size_t) size);
    (void) rc;
    _exit (status);
}


int
executor_reset_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset (&action.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        sigaction (sig, &action, NULL);     //  EINVAL for KILL, STOP, RT gaps
    sigset_t none;
    sigemptyset (&none);
    return sigprocmask (SIG_SETMASK, &none, NULL);
}

int
executor_environment (const char *home)
{
    if (clearenv () != 0
    ||  setenv ("PATH", "/usr/bin:/bin", 1) == -1
    ||  setenv ("HOME", home, 1) == -1
    ||  setenv ("LANG", "C.UTF-8", 1) == -1
    ||  setenv ("MPLBACKEND", "Agg", 1) == -1
    ||  setenv ("MPLCONFIGDIR", "/tmp/matplotlib", 1) == -1
    ||  setenv ("PYTHONDONTWRITEBYTECODE", "1", 1) == -1)
        return -1;
    return 0;
}


//  --------------------------------------------------------------------
//  The set-up, in order. Each step dies with a message when it fails.

//  Dies with the monitor; never outlives it, even if it went already.
static void
s_parent_death (pid_t parent)
{
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "prctl PR_SET_PDEATHSIG: %s", strerror (errno));
    //  Inside its own pid namespace the parent is outside it: getppid is 0.
    pid_t seen = getppid ();
    if (seen != parent && seen != 0)
        _exit (EXECUTOR_EXIT_SETUP);
}

//  0 = /dev/null, 1 and 2 = the pipes, 3 = the socket, nothing else open.
static void
s_fds (int sock, int out_w, int err_w)
{
    //  Lift the three above the low fds first, so no dup2 below can
    //  overwrite one of them (a monitor started with 0-2 closed gets its
    //  socketpair on low fds).
    sock = fcntl (sock, F_DUPFD_CLOEXEC, 10);
    out_w = fcntl (out_w, F_DUPFD_CLOEXEC, 10);
    err_w = fcntl (err_w, F_DUPFD_CLOEXEC, 10);
    if (sock == -1 || out_w == -1 || err_w == -1)
        _exit (EXECUTOR_EXIT_SETUP);               //  no stderr to say it on yet
    if (dup2 (out_w, STDOUT_FILENO) == -1
    ||  dup2 (err_w, STDERR_FILENO) == -1
    ||  dup2 (sock, EXECUTOR_SOCK_FD) == -1)
        _exit (EXECUTOR_EXIT_SETUP);
    int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "open /dev/null: %s", strerror (errno));
    if (dup2 (null, STDIN_FILENO) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "dup2 /dev/null: %s", strerror (errno));
    if (syscall (SYS_close_range, EXECUTOR_SOCK_FD + 1, ~0u, 0) == -1) {
        //  Kernels before 5.9: close them one by one.
        long max = sysconf (_SC_OPEN_MAX);
        for (int fd = EXECUTOR_SOCK_FD + 1; fd < (max > 0? max: 1024); fd++)
            close (fd);
    }
}

//  Python installed handlers (SIGINT, and SIG_IGN for SIGPIPE and SIGXFSZ)
//  when the zygote started it; sandbox_enter reset every signal. A fresh
//  executor gets them back from Py_Initialize, a pool child from the
//  zygote's table.
static void
s_python_signals (const struct sigaction *python_signals)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP
        &&  python_signals [sig].sa_handler != SIG_DFL)
            sigaction (sig, &python_signals [sig], NULL);
}

//  The set-up of every executor (see the top of the file). python_signals
//  is the zygote's table for a pool child, NULL for a fresh executor
//  (Py_Initialize installs its handlers later).
static void
s_setup (const executor_config_t *config, pid_t parent, int sock, int out_w,
         int err_w, const struct sigaction *python_signals, sandbox_report_t *report)
{
    //  Whatever the parent had buffered in stdio is the parent's: dropped
    //  here, or the first fflush would print it into the user's output.
    __fpurge (stdout);
    __fpurge (stderr);
    s_parent_death (parent);
    if (executor_reset_signals ())
        executor_die (EXECUTOR_EXIT_SETUP, "sigprocmask: %s", strerror (errno));
    s_fds (sock, out_w, err_w);
    //  C code's printf (extensions, ctypes) reaches the pipe as written,
    //  not in 4 KiB blocks after the reply.
    setvbuf (stdout, NULL, _IONBF, 0);
    if (sandbox_enter (&config->sandbox, report))
        executor_die (EXECUTOR_EXIT_SETUP, "sandbox: %s", report->why);
    if (python_signals)
        s_python_signals (python_signals);
    //  With the filesystem layer the cwd is the private /work.
    const char *cwd = (report->applied & SANDBOX_L_FILESYSTEM)? "/work": config->work_dir;
#if defined (KMQ_SANDBOX_TEST_SWITCHES)
    //  Filesystem switched off (test builds only): the monitor's work dir
    //  belongs to the host's root, which this unprivileged uid can't enter.
    if (!(report->applied & SANDBOX_L_FILESYSTEM) && access (cwd, W_OK | X_OK) != 0)
        cwd = "/tmp";
#endif
    if (chdir (cwd) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "chdir %s: %s (the monitor creates it first)",
                      cwd, strerror (errno));
    if (executor_environment (cwd))
        executor_die (EXECUTOR_EXIT_SETUP, "environment: %s", strerror (errno));
}

//  Seals the sandbox (seccomp) once Python and its imports are loaded;
//  dies when a layer that should work fails.
static void
s_seal (const executor_config_t *config, sandbox_report_t *report)
{
    if (sandbox_seal (&config->sandbox, report))
        executor_die (EXECUTOR_EXIT_SETUP, "sandbox: %s", report->why);
}

void
executor_child_fresh (const executor_config_t *config, pid_t parent,
                      int sock, int out_w, int err_w, sandbox_report_t *report)
{
    s_setup (config, parent, sock, out_w, err_w, NULL, report);
    executor_python_t *python = executor_python_start ();
    executor_python_prepare (python, config);
    s_seal (config, report);
    executor_python_serve (python, report);
}


//  --------------------------------------------------------------------
//  Pool children: forked from the zygote with Python already running

//  Blocks until the zygote hands this child a session: a spawn message
//  with the executor's three fds. Puts them on 3, 1 and 2 (the zygote's
//  socket on 3 goes with the dup2) and fills config's session and
//  state_lost with copies from the message.
static void
s_handover (executor_config_t *config)
{
    zmsg_t *raw = NULL;
    int fds [ZYGOTE_SPAWN_FDS];
    size_t count = 0;
    if (fd_message_recv (EXECUTOR_SOCK_FD, &raw, fds, ZYGOTE_SPAWN_FDS, &count) != 1) {
        if (errno == EPIPE)
            _exit (0);          //  the zygote is going: so does its pool
        executor_die (EXECUTOR_EXIT_STREAM, "hand-over from the zygote: %s",
                      strerror (errno));
    }
    //  The zygote checked the sandbox settings; no fingerprint to compare
    zygote_spawn_t spawn;
    char why [512];
    if (zygote_spawn_decode (&raw, count, NULL, &spawn, why, sizeof why) != 0)
        executor_die (EXECUTOR_EXIT_STREAM, "hand-over from the zygote: %s", why);
    config->session = mem_strdup (spawn.session);
    config->state_lost = spawn.notice;      //  ours now
    spawn.notice = NULL;
    zygote_spawn_clear (&spawn);
    //  Received fds are above 3 (0-3 are open), so no dup2 below can hit
    //  another one of them.
    if (dup2 (fds [1], STDOUT_FILENO) == -1
    ||  dup2 (fds [2], STDERR_FILENO) == -1
    ||  dup2 (fds [0], EXECUTOR_SOCK_FD) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "hand-over: dup2: %s", strerror (errno));
    for (int i = 0; i < 3; i++)
        close (fds [i]);
}

//  True when the zygote's hand-over is already queued on our socket.
static bool
s_handover_waiting (void)
{
    struct pollfd item = { .fd = EXECUTOR_SOCK_FD, .events = POLLIN };
    return poll (&item, 1, 0) == 1;
}

void
executor_pool_child (const executor_config_t *zygote_config,
                     executor_python_t *python, pid_t parent, int sock,
                     const struct sigaction *python_signals,
                     sandbox_report_t *report)
{
    executor_python_after_fork (true);
    //  The zygote's stderr is the broker's log: set-up failures go there
    //  until the hand-over gives this child its own pipes.
    s_setup (zygote_config, parent, sock, STDERR_FILENO, STDERR_FILENO,
             python_signals, report);
    static executor_config_t config;
    config = *zygote_config;
    config.session = NULL;
    config.state_lost = NULL;
    executor_python_prepare (python, &config);
    s_seal (&config, report);
    //  Sealed: from here on this child is as contained as any executor,
    //  and waits, holding nothing of any session. It prewarms only when no
    //  session waits for it yet: a child forked on demand finds its
    //  hand-over queued, and the prewarm (2.5 ms) would be on that
    //  session's clock, doing more than its first request needs.
    if (!s_handover_waiting ())
        executor_python_prewarm (python);
    s_handover (&config);
    executor_python_handover (python, &config);
    executor_python_serve (python, report);
}
