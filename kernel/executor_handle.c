/*  executor_handle — the supervisor's handle on an executor (executor.h):
    an executor forked here (executor_spawn) or got from the zygote
    (executor_spawn_zygote, protocol.md section 10), signalled through its
    pidfd or as its parent, reaped without blocking.

    Forked here, the child (in its namespaces) execs kmq-executor, which
    goes through executor_child.c's set-up: the monitor's binary holds no
    interpreter. The parent keeps its ends of the socketpair and the pipes.
    From the zygote, on one SOCK_SEQPACKET connection per executor:
        monitor -> zygote   spawn {session, notice?, sandbox_config}
                            + SCM_RIGHTS [socket, stdout w, stderr w]
        zygote -> monitor   reply ok {pid} + SCM_RIGHTS [pidfd]
                            (or reply error INTERNAL {message})
        zygote -> monitor   event exited {wait_status}, then it closes
    The connection stays open while the executor lives: closing it (the
    monitor exits or dies) makes the zygote SIGKILL the executor.
*/
#include "executor_internal.h"
#include "fd_message.h"
#include "proto.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_REPLY_WAIT_MS   5000      //  the zygote forks in ms; ASan is slower

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Closes *fd when open and sets it to -1.
static void
s_close_fd (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

//  Sets O_NONBLOCK on fd. Returns 0, or -1 with errno set.
static int
s_set_nonblock (int fd)
{
    int flags = fcntl (fd, F_GETFL);
    if (flags == -1 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) == -1)
        return -1;
    return 0;
}

//  The executor's three channels: its request socketpair and its stdout
//  and stderr pipes; [0] are the supervisor's ends, [1] the executor's.
typedef struct {
    int sock [2];
    int out [2];
    int err [2];
} s_channels_t;

//  Closes one side's ends (0 ours, 1 the executor's); errno is kept.
static void
s_channels_close (s_channels_t *channels, int side)
{
    int saved = errno;
    s_close_fd (&channels->sock [side]);
    s_close_fd (&channels->out [side]);
    s_close_fd (&channels->err [side]);
    errno = saved;
}

//  Opens the three, close-on-exec. Returns 0, or -1 with errno set and
//  nothing left open.
static int
s_channels_open (s_channels_t *channels)
{
    *channels = (s_channels_t) { { -1, -1 }, { -1, -1 }, { -1, -1 } };
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channels->sock) == 0
    &&  pipe2 (channels->out, O_CLOEXEC) == 0
    &&  pipe2 (channels->err, O_CLOEXEC) == 0)
        return 0;
    s_channels_close (channels, 0);
    s_channels_close (channels, 1);
    return -1;
}

//  Makes our ends non-blocking and gives them to *handle. Returns 0, or
//  -1 with errno set (handle untouched).
static int
s_channels_keep (s_channels_t *channels, executor_handle_t *handle)
{
    if (s_set_nonblock (channels->sock [0]) == -1
    ||  s_set_nonblock (channels->out [0]) == -1
    ||  s_set_nonblock (channels->err [0]) == -1)
        return -1;
    handle->sock = channels->sock [0];
    handle->out_fd = channels->out [0];
    handle->err_fd = channels->err [0];
    return 0;
}


//  --------------------------------------------------------------------
//  Forked here

//  The fallback executor's argv: args [0], --executor and its four
//  numbers (held in numbers), then args [1..]. Returns it (free it), or
//  NULL with errno set.
static char **
s_exec_argv (char *const *args, pid_t parent, const s_channels_t *channels,
             char numbers [4][16])
{
    size_t count = 0;
    while (args [count])
        count++;
    assert (count > 0);
    char **argv = (char **) calloc (count + EXECUTOR_EXEC_WORDS + 1, sizeof (char *));
    if (!argv)
        return NULL;
    snprintf (numbers [0], sizeof numbers [0], "%d", (int) parent);
    snprintf (numbers [1], sizeof numbers [1], "%d", channels->sock [1]);
    snprintf (numbers [2], sizeof numbers [2], "%d", channels->out [1]);
    snprintf (numbers [3], sizeof numbers [3], "%d", channels->err [1]);
    argv [0] = args [0];
    argv [1] = (char *) "--executor";
    for (int i = 0; i < 4; i++)
        argv [2 + i] = numbers [i];
    for (size_t i = 1; i < count; i++)
        argv [EXECUTOR_EXEC_WORDS + i] = args [i];
    return argv;
}

//  In the child of sandbox_fork, before any other set-up: keeps the
//  executor's three ends open across the exec and execs kmq-executor,
//  which does the set-up (executor_child.c). Never returns.
static void
s_exec_child (const executor_program_t *program, char **argv, const s_channels_t *channels)
{
    int ends [3] = { channels->sock [1], channels->out [1], channels->err [1] };
    for (int i = 0; i < 3; i++)
        if (fcntl (ends [i], F_SETFD, 0) == -1)
            _exit (EXECUTOR_EXIT_SETUP);
    syscall (SYS_execveat, program->fd, "", argv, environ, AT_EMPTY_PATH);
    //  stderr is still the monitor's: its log says why
    char line [256];
    int size = snprintf (line, sizeof line, "E: kmq-kernel: exec kmq-executor: %s "
                         "(is it beside kmq-kernel, executable by all?)\n", strerror (errno));
    ssize_t rc = write (STDERR_FILENO, line, (size_t) size < sizeof line? (size_t) size:
                        sizeof line - 1);
    (void) rc;
    _exit (EXECUTOR_EXIT_SETUP);
}

int
executor_spawn (const executor_config_t *config, const executor_program_t *program,
                executor_handle_t *handle)
{
    assert (config);
    assert (program && program->args);
    assert (handle);
    assert (config->work_dir);
    s_channels_t channels;
    if (s_channels_open (&channels))
        return -1;
    //  Everything the child needs is made here: it only execs
    char numbers [4][16];
    char **argv = s_exec_argv (program->args, getpid (), &channels, numbers);
    if (!argv)
        goto fail;
    sandbox_report_t report;
    pid_t pid = sandbox_fork (&config->sandbox, &report);
    if (pid == -1) {
        int saved = errno;
        fprintf (stderr, "E: kmq-kernel: sandbox_fork: %s (%s)\n", strerror (saved),
                 report.why);
        errno = saved;
        goto fail;
    }
    if (pid == 0)
        s_exec_child (program, argv, &channels);
    free (argv);
    argv = NULL;
    s_channels_close (&channels, 1);
    //  A failure to make our ends non-blocking leaves a child we can't
    //  talk to: kill it.
    if (s_channels_keep (&channels, handle)) {
        int saved = errno;
        kill (pid, SIGKILL);
        errno = saved;
        goto fail;
    }
    handle->pid = pid;
    handle->pidfd = -1;
    handle->super_fd = -1;
    handle->spare [0] = 0;
    return 0;

fail:
    free (argv);
    s_channels_close (&channels, 0);
    s_channels_close (&channels, 1);
    return -1;
}


//  --------------------------------------------------------------------
//  From the zygote

//  Connects to the zygote. Returns the connection or -1 with why filled.
static int
s_connect (const char *path, char *why, size_t why_size)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen (path) >= sizeof address.sun_path) {
        snprintf (why, why_size, "socket path %s is too long", path);
        return -1;
    }
    strcpy (address.sun_path, path);
    //  Non-blocking: a zygote that is stopped, or a full backlog, makes us
    //  fall back at once rather than wait.
    int fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1) {
        snprintf (why, why_size, "socket: %s", strerror (errno));
        return -1;
    }
    if (connect (fd, (struct sockaddr *) &address, sizeof address) == -1) {
        snprintf (why, why_size, "connect %s: %s", path, strerror (errno));
        close (fd);
        return -1;
    }
    return fd;
}

//  Waits for the zygote's reply. Returns the executor's pid (and its pidfd
//  in *pidfd, or -1), or -1 with why filled.
static pid_t
s_await_reply (int fd, int *pidfd, char *spare, size_t spare_size, char *why,
               size_t why_size)
{
    *pidfd = -1;
    int64_t give_up = s_now_ms () + S_REPLY_WAIT_MS;
    while (true) {
        int64_t left = give_up - s_now_ms ();
        if (left <= 0) {
            snprintf (why, why_size, "no reply to spawn in %d ms", S_REPLY_WAIT_MS);
            return -1;
        }
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, (int) left) == -1 && errno != EINTR) {
            snprintf (why, why_size, "poll: %s", strerror (errno));
            return -1;
        }
        zmsg_t *raw = NULL;
        int fds [1];
        size_t count = 0;
        int rc = fd_message_recv (fd, &raw, fds, 1, &count);
        if (rc == 0)
            continue;
        if (rc == -1) {
            snprintf (why, why_size, "reading its reply: %s", errno == EPIPE?
                      "the zygote closed the connection": strerror (errno));
            return -1;
        }
        proto_fault_t fault;
        proto_msg_t *reply = proto_decode (&raw, &fault);
        pid_t pid = -1;
        if (!reply)
            snprintf (why, why_size, "malformed reply: %s", fault.text);
        else
        if (proto_msg_type (reply) != PROTO_REPLY)
            snprintf (why, why_size, "it sent %s, not a reply",
                      proto_type_name (proto_msg_type (reply)));
        else
        if (!proto_msg_is_ok (reply)) {
            const char *message = proto_msg_str (reply, "message");
            snprintf (why, why_size, "%s", message? message: "it refused");
        }
        else {
            uint64_t value = proto_msg_uint (reply, "pid", 0);
            if (value == 0 || value > INT32_MAX)
                snprintf (why, why_size, "its reply has no valid pid");
            else
                pid = (pid_t) value;
            const char *group = proto_msg_str (reply, "cgroup");
            snprintf (spare, spare_size, "%s", group? group: "");
        }
        proto_msg_destroy (&reply);
        if (pid > 0 && count == 1) {
            *pidfd = fds [0];
            return pid;
        }
        if (count == 1)
            close (fds [0]);
        if (pid > 0)
            //  Without a pidfd the executor could only be signalled by pid,
            //  and a pid we did not fork may be reused the moment its real
            //  parent reaps it. Closing the connection makes the zygote
            //  kill it.
            snprintf (why, why_size, "its reply for executor %d carries no "
                      "pidfd; refusing an executor we could only signal by pid",
                      (int) pid);
        return -1;
    }
}

int
executor_spawn_zygote (const executor_config_t *config, const char *socket_path,
                       executor_handle_t *handle,
                       void (*while_waiting) (void *arg), void *arg,
                       char *why, size_t why_size)
{
    assert (config);
    assert (socket_path);
    assert (handle);
    assert (config->sandbox_fingerprint);
    int fd = -1, pidfd = -1;
    s_channels_t channels;
    if (s_channels_open (&channels)) {
        snprintf (why, why_size, "socketpair/pipe2: %s", strerror (errno));
        return -1;
    }
    fd = s_connect (socket_path, why, why_size);
    if (fd == -1)
        goto fail;

    proto_builder_t *builder = proto_builder_new (PROTO_SPAWN, 1, config->session);
    if (config->state_lost)
        proto_builder_str (builder, "notice", config->state_lost);
    proto_builder_str (builder, "sandbox_config", config->sandbox_fingerprint);
    zmsg_t *spawn = proto_builder_finish (&builder);
    int fds [3] = { channels.sock [1], channels.out [1], channels.err [1] };
    if (fd_message_send (fd, &spawn, fds, 3)) {
        snprintf (why, why_size, "sending spawn: %s", strerror (errno));
        goto fail;
    }
    s_channels_close (&channels, 1);    //  the executor's ends are the zygote's now
    if (while_waiting)
        while_waiting (arg);
    pid_t pid = s_await_reply (fd, &pidfd, handle->spare, sizeof handle->spare, why,
                               why_size);
    if (pid == -1)
        goto fail;
    if (s_channels_keep (&channels, handle)) {
        snprintf (why, why_size, "fcntl: %s", strerror (errno));
        goto fail;              //  closing fd makes the zygote kill it
    }
    handle->pid = pid;
    handle->pidfd = pidfd;
    handle->super_fd = fd;
    return 0;

fail:
    s_channels_close (&channels, 0);
    s_channels_close (&channels, 1);
    s_close_fd (&fd);
    s_close_fd (&pidfd);
    return -1;
}


//  --------------------------------------------------------------------
//  Signal and reap, whichever way it was made

int
executor_signal (executor_handle_t *handle, int sig)
{
    assert (handle);
    if (handle->pidfd >= 0)
        return (int) syscall (SYS_pidfd_send_signal, handle->pidfd, sig, NULL, 0);
    if (handle->super_fd >= 0 || handle->pid <= 0) {
        //  A zygote's executor always comes with a pidfd (see
        //  s_await_reply); a bare pid of a process we did not fork is
        //  never signalled.
        errno = ESRCH;
        return -1;
    }
    return kill (handle->pid, sig);
}

//  Reads what super_fd holds. Returns 1 with *status on `exited` (or -1 at
//  end of stream with no event), 0 when nothing conclusive yet.
static int
s_read_exited (executor_handle_t *handle, int *status)
{
    while (true) {
        zmsg_t *raw = NULL;
        int fds [FD_MESSAGE_MAX_FDS];
        size_t count = 0;
        int rc = fd_message_recv (handle->super_fd, &raw, fds, FD_MESSAGE_MAX_FDS, &count);
        for (size_t i = 0; i < count; i++)
            close (fds [i]);
        if (rc == 0)
            return 0;
        if (rc == -1) {
            if (errno == EPROTO)
                continue;       //  one bad datagram; the next may be it
            //  The zygote went (or the connection broke) without saying:
            //  its executors die with it (PR_SET_PDEATHSIG).
            *status = -1;
            return 1;
        }
        proto_fault_t fault;
        proto_msg_t *msg = proto_decode (&raw, &fault);
        bool exited = msg && proto_msg_type (msg) == PROTO_EVENT
                   && proto_msg_has (msg, "wait_status")
                   && streq (proto_msg_str (msg, "event"), "exited");
        uint64_t value = exited? proto_msg_uint (msg, "wait_status", 0): 0;
        proto_msg_destroy (&msg);
        if (exited) {
            *status = value > INT32_MAX? -1: (int) value;
            return 1;
        }
    }
}

int
executor_reap (executor_handle_t *handle, int *status)
{
    assert (handle);
    assert (status);
    if (handle->super_fd >= 0)
        return s_read_exited (handle, status);
    while (true) {
        pid_t rc = waitpid (handle->pid, status, WNOHANG);
        if (rc == handle->pid)
            return 1;
        if (rc == -1 && errno == EINTR)
            continue;
        if (rc == -1 && errno == ECHILD) {
            *status = -1;           //  someone else reaped it
            return 1;
        }
        return 0;
    }
}

bool
executor_has_ended (executor_handle_t *handle)
{
    assert (handle);
    if (handle->pidfd < 0)
        return false;
    struct pollfd item = { handle->pidfd, POLLIN, 0 };
    return poll (&item, 1, 0) == 1 && (item.revents & POLLIN);
}
