/*  executor_process — the executor as a process: forked into the sandbox,
    its fds, signals and environment set, the sandbox's layers applied
    around the interpreter (executor.c runs the interpreter).

    The child's set-up, in order (the README's sandbox table):
        sandbox_fork      new namespaces, uid/gid maps, PR_SET_PDEATHSIG
        signals           all default, none blocked
        fds               0 /dev/null, 1-2 the output pipes, 3 the socket
        sandbox_enter     filesystem, capabilities, rlimits, no_new_privs,
                          Landlock
        environment       nothing of the host's: a fixed PATH, HOME=/work
        (executor.c)      CPython, the glue, pandas and numpy
        sandbox_seal      seccomp, last
    Each step that fails says why on stderr and _exits: the monitor logs it
    and the broker answers the session's requests with KERNEL_DIED.
*/
#include "executor.h"
#include "mem.h"
#include "executor_internal.h"
#include "fd_message.h"
#include "proto.h"
#include "sandbox.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

//  --------------------------------------------------------------------
//  Child set-up failures: one line on stderr (the monitor's pipe), _exit.

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


//  --------------------------------------------------------------------
//  Parent side (executor_zygote.c shares the fd helpers)

void
executor_close_fd (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

int
executor_set_nonblock (int fd)
{
    int flags = fcntl (fd, F_GETFL);
    if (flags == -1 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) == -1)
        return -1;
    return 0;
}


static void s_child_main (const executor_config_t *config, pid_t parent,
                          int sock, int out_w, int err_w, sandbox_report_t *report)
    __attribute__ ((noreturn));

int
executor_spawn (const executor_config_t *config, executor_handle_t *handle)
{
    assert (config);
    assert (handle);
    assert (config->work_dir);
    int pair [2] = { -1, -1 };
    int out [2] = { -1, -1 };
    int err [2] = { -1, -1 };
    int saved;

    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1
    ||  pipe2 (out, O_CLOEXEC) == -1
    ||  pipe2 (err, O_CLOEXEC) == -1)
        goto fail;

    pid_t parent = getpid ();
    sandbox_report_t report;
    pid_t pid = sandbox_fork (&config->sandbox, &report);
    if (pid == -1) {
        saved = errno;
        fprintf (stderr, "E: kmq-kernel: sandbox_fork: %s (%s)\n", strerror (saved),
                 report.why);
        errno = saved;
        goto fail;
    }
    if (pid == 0)
        s_child_main (config, parent, pair [1], out [1], err [1], &report);

    executor_close_fd (&pair [1]);
    executor_close_fd (&out [1]);
    executor_close_fd (&err [1]);
    //  The ends were made close-on-exec by socketpair/pipe2. A failure to
    //  make them non-blocking leaves a child we can't talk to: kill it.
    if (executor_set_nonblock (pair [0]) == -1
    ||  executor_set_nonblock (out [0]) == -1
    ||  executor_set_nonblock (err [0]) == -1) {
        saved = errno;
        kill (pid, SIGKILL);
        errno = saved;
        goto fail;
    }
    handle->pid = pid;
    handle->pidfd = -1;
    handle->super_fd = -1;
    handle->sock = pair [0];
    handle->out_fd = out [0];
    handle->err_fd = err [0];
    return 0;

fail:
    saved = errno;
    for (int i = 0; i < 2; i++) {
        executor_close_fd (&pair [i]);
        executor_close_fd (&out [i]);
        executor_close_fd (&err [i]);
    }
    errno = saved;
    return -1;
}


//  --------------------------------------------------------------------
//  Child set-up, in order. Each step dies with a message when it fails.

//  Dies with the monitor; never outlives it, even if it went already.
static void
s_child_parent_death (pid_t parent)
{
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "prctl PR_SET_PDEATHSIG: %s", strerror (errno));
    //  Inside its own pid namespace the parent is outside it: getppid is 0.
    pid_t seen = getppid ();
    if (seen != parent && seen != 0)
        _exit (EXECUTOR_EXIT_SETUP);
}

//  Default dispositions, nothing blocked: an inherited SIG_IGN on SIGINT
//  would keep KeyboardInterrupt from ever happening.
static void
s_child_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset (&action.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        sigaction (sig, &action, NULL);     //  EINVAL for KILL, STOP, RT gaps
    sigset_t none;
    sigemptyset (&none);
    if (sigprocmask (SIG_SETMASK, &none, NULL) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "sigprocmask: %s", strerror (errno));
}

//  0 = /dev/null, 1 and 2 = the pipes, 3 = the socket, nothing else open.
static void
s_child_fds (int sock, int out_w, int err_w)
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

static void
s_child_env (const char *work_dir)
{
    if (chdir (work_dir) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "chdir %s: %s (the monitor creates it first)",
               work_dir, strerror (errno));
    //  Nothing of the host's: the operator's HOME, the broker's settings
    //  and secrets stay outside.
    if (clearenv () != 0
    ||  setenv ("PATH", "/usr/bin:/bin", 1) == -1
    ||  setenv ("HOME", work_dir, 1) == -1
    ||  setenv ("LANG", "C.UTF-8", 1) == -1
    ||  setenv ("MPLBACKEND", "Agg", 1) == -1
    ||  setenv ("MPLCONFIGDIR", "/tmp/matplotlib", 1) == -1
    ||  setenv ("PYTHONDONTWRITEBYTECODE", "1", 1) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "environment: %s", strerror (errno));
}



//  The set-up child: everything before Python (see the top of the file).
static void
s_child_main (const executor_config_t *config, pid_t parent,
              int sock, int out_w, int err_w, sandbox_report_t *report)
{
    //  Whatever the monitor had buffered in stdio is the monitor's: dropped
    //  here, or the first fflush would print it into the user's output.
    __fpurge (stdout);
    __fpurge (stderr);
    s_child_parent_death (parent);
    s_child_signals ();
    s_child_fds (sock, out_w, err_w);
    //  C code's printf (extensions, ctypes) reaches the pipe as written,
    //  not in 4 KiB blocks after the reply.
    setvbuf (stdout, NULL, _IONBF, 0);
    if (sandbox_enter (&config->sandbox, report))
        executor_die (EXECUTOR_EXIT_SETUP, "sandbox: %s", report->why);
    //  With the filesystem layer the cwd is the private /work.
    const char *cwd = (report->applied & SANDBOX_L_FILESYSTEM)? "/work": config->work_dir;
#if defined (KMQ_SANDBOX_TEST_SWITCHES)
    //  Filesystem switched off (test builds only): the monitor's work dir
    //  belongs to the host's root, which this unprivileged uid can't enter.
    if (!(report->applied & SANDBOX_L_FILESYSTEM) && access (cwd, W_OK | X_OK) != 0)
        cwd = "/tmp";
#endif
    s_child_env (cwd);
    executor_child_run (config, report);
}

void
executor_child_seal (const executor_config_t *config, sandbox_report_t *report)
{
    if (sandbox_seal (&config->sandbox, report))
        executor_die (EXECUTOR_EXIT_SETUP, "sandbox: %s", report->why);
}

void
executor_sandbox_lists (const sandbox_report_t *report,
                        char *applied, size_t applied_size,
                        char *missing, size_t missing_size)
{
    assert (applied_size > 0 && missing_size > 0);
    size_t used = 0;
    applied [0] = 0;
    for (unsigned layer = 1; layer < SANDBOX_L_ALL; layer <<= 1)
        if ((report->applied & layer) && used < applied_size) {
            int n = snprintf (applied + used, applied_size - used, "%s%s",
                              used? ",": "", sandbox_layer_name (layer));
            used += n > 0? (size_t) n: 0;
        }
    snprintf (missing, missing_size, "%s", report->missing? report->why: "");
}


//  --------------------------------------------------------------------
//  Pool children: forked from the zygote with Python already running

//  Python installed handlers (SIGINT, and SIG_IGN for SIGPIPE and SIGXFSZ)
//  when the zygote started it; sandbox_enter reset every signal. A fresh
//  executor gets them back from Py_Initialize, a pool child from the
//  zygote's table.
static void
s_pool_python_signals (const struct sigaction *python_signals)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP
        &&  python_signals [sig].sa_handler != SIG_DFL)
            sigaction (sig, &python_signals [sig], NULL);
}

//  Blocks until the zygote hands this child a session: a spawn message
//  with the executor's three fds. Puts them on 3, 1 and 2 (the zygote's
//  socket on 3 goes with the dup2) and fills config's session and
//  state_lost with copies from the message.
static void
s_pool_handover (executor_config_t *config)
{
    zmsg_t *raw = NULL;
    int fds [3];
    size_t count = 0;
    if (fd_message_recv (EXECUTOR_SOCK_FD, &raw, fds, 3, &count) != 1) {
        if (errno == EPIPE)
            _exit (0);          //  the zygote is going: so does its pool
        executor_die (EXECUTOR_EXIT_STREAM, "hand-over from the zygote: %s",
                      strerror (errno));
    }
    proto_fault_t fault;
    proto_msg_t *msg = proto_decode (&raw, &fault);
    if (!msg || proto_msg_type (msg) != PROTO_SPAWN || count != 3)
        executor_die (EXECUTOR_EXIT_STREAM, "hand-over from the zygote: not a "
                      "spawn with 3 fds (%s)", msg? "wrong type or fds": fault.text);
    const char *notice = proto_msg_str (msg, "notice");
    config->session = mem_strdup (proto_msg_session (msg));
    config->state_lost = notice? mem_strdup (notice): NULL;
    if (!config->session || (notice && !config->state_lost))
        executor_die (EXECUTOR_EXIT_SETUP, "hand-over: out of memory");
    proto_msg_destroy (&msg);
    //  Received fds are above 3 (0-3 are open), so no dup2 below can hit
    //  another one of them.
    if (dup2 (fds [1], STDOUT_FILENO) == -1
    ||  dup2 (fds [2], STDERR_FILENO) == -1
    ||  dup2 (fds [0], EXECUTOR_SOCK_FD) == -1)
        executor_die (EXECUTOR_EXIT_SETUP, "hand-over: dup2: %s", strerror (errno));
    for (int i = 0; i < 3; i++)
        close (fds [i]);
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
    __fpurge (stdout);
    __fpurge (stderr);
    s_child_parent_death (parent);
    s_child_signals ();
    s_child_fds (sock, STDERR_FILENO, STDERR_FILENO);
    setvbuf (stdout, NULL, _IONBF, 0);
    if (sandbox_enter (&zygote_config->sandbox, report))
        executor_die (EXECUTOR_EXIT_SETUP, "sandbox: %s", report->why);
    s_pool_python_signals (python_signals);
    const char *cwd = (report->applied & SANDBOX_L_FILESYSTEM)?
                      "/work": zygote_config->work_dir;
    s_child_env (cwd);

    static executor_config_t config;
    config = *zygote_config;
    config.session = NULL;
    config.state_lost = NULL;
    executor_python_prepare (python, &config);
    executor_child_seal (&config, report);
    //  Sealed: from here on this child is as contained as any executor,
    //  and waits, holding nothing of any session.
    s_pool_handover (&config);
    executor_python_handover (python, &config);
    executor_python_serve (python, report);
}
