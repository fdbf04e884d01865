/*  zygote — forks sandboxed executors from a loaded interpreter (zygote.h).

    One poll loop over: a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP, all
    blocked), the listening socket, monitor connections waiting for their
    `spawn`, and the connections of executors handed over (supervision:
    when one closes, its executor is SIGKILLed at once). SIGCHLD reaps:
    an executor's wait status goes to its monitor as the `exited` event,
    a pool child that died unassigned is replaced after a 1 s backoff.

    Every child is made by s_fork_child: executor_python_before_fork,
    sandbox_fork, executor_pool_child in the child (same set-up, enter and
    seal as a fresh executor, then a blocking wait for its hand-over on a
    private SOCK_SEQPACKET socketpair). An on-demand executor is such a
    child handed its session at once.
*/
#include "zygote.h"
#include "cgroup.h"
#include "executor_internal.h"
#include "fd_message.h"
#include "proto.h"
#include "test_faults.h"
#include "zygote_spawn.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_POOL          64      //  pool children at most
#define S_MAX_CONNS         4096    //  monitor connections at most
#define S_SPAWN_WAIT_MS     5000    //  a connection must send its spawn by then
#define S_REFILL_BACKOFF_MS 1000    //  after a pool child died unassigned
//  After a hand-over: the replacement's fork (page tables of a process
//  with pandas loaded, ~2 ms) would compete for the CPU with the session
//  start the pool child was taken for.
#define S_REFILL_DELAY_MS   50

typedef enum { S_PENDING, S_SUPERVISING, S_ORPHAN } s_conn_state_t;

//  A monitor connection: waiting for its spawn, or supervising the
//  executor it got (S_ORPHAN: the monitor went, the executor is killed
//  and not reaped yet).
typedef struct {
    int fd;
    s_conn_state_t state;
    pid_t pid;                  //  the executor, once handed over
    uint64_t id;                //  the spawn's id, echoed
    char session [PROTO_SESSION_MAX + 1];
    int64_t since;              //  when accepted (for S_SPAWN_WAIT_MS)
} s_conn_t;

typedef struct {
    pid_t pid;
    int sock;                   //  our end of its hand-over socketpair
    int spare;                  //  in group spare-N (cgroup.h); -1: none
} s_pool_child_t;

typedef struct {
    const zygote_config_t *config;
    executor_python_t *python;
    struct sigaction python_signals [NSIG];
    const char *fingerprint;    //  the sandbox settings monitors must match
    int listener;
    int signals;
    s_pool_child_t pool [S_MAX_POOL];
    size_t pool_count;
    size_t pool_size;
    int64_t next_refill;
    s_conn_t *conns;
    size_t conn_count;
    const char *spares;         //  config->cgroup_spares, once we are home
    bool stop;
} s_zygote_t;


//  --------------------------------------------------------------------
//  Logs: zsys's shape, without zsys (no ZeroMQ context may exist here).

static void __attribute__ ((format (printf, 2, 3)))
s_log (char level, const char *format, ...)
{
    char stamp [32];
    time_t now = time (NULL);
    struct tm tm;
    strftime (stamp, sizeof stamp, "%y-%m-%d %H:%M:%S", localtime_r (&now, &tm));
    char line [768];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    fprintf (stderr, "%c: %s zygote %d: %s\n", level, stamp, (int) getpid (), line);
    fflush (stderr);
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  --------------------------------------------------------------------
//  Forking

//  True when this process has exactly one thread (/proc/self/task).
static bool
s_single_threaded (void)
{
    DIR *dir = opendir ("/proc/self/task");
    if (!dir)
        return false;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (entry->d_name [0] != '.')
            count++;
    closedir (dir);
    return count == 1;
}

//  A spare group the host has ready and nobody holds: no pool child,
//  and no executor handed over whose monitor has not yet renamed it.
//  Returns N of spare-N, or -1.
static int
s_free_spare (s_zygote_t *self)
{
    if (!self->spares)
        return -1;
    for (int k = 0; k < (int) (self->pool_size + CGROUP_SPARES_EXTRA); k++) {
        bool held = false;
        for (size_t i = 0; i < self->pool_count && !held; i++)
            held = self->pool [i].spare == k;
        char group [32];
        snprintf (group, sizeof group, "spare-%d", k);
        if (!held && cgroup_spare_free (self->spares, group))
            return k;
    }
    return -1;
}

//  Forks a child that sets itself up as an executor and waits for its
//  hand-over. Returns its pid and our end of its socketpair in *sock, or
//  -1 with why filled. *spare gets the spare group it was forked in (the
//  zygote steps into the group for the fork, and back: a move of our own
//  costs no grace period, cgroup.h), or -1.
static pid_t
s_fork_child (s_zygote_t *self, int *sock, int *spare, char *why, size_t why_size)
{
    *spare = -1;
    if (!s_single_threaded ()) {
        snprintf (why, why_size, "the zygote has more than one thread "
                  "(/proc/self/task); refusing to fork (a bug: restart it)");
        return -1;
    }
    int pair [2];
    if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == -1) {
        snprintf (why, why_size, "socketpair: %s", strerror (errno));
        return -1;
    }
    char group [32] = "", cgroup_why [320];
    int k = s_free_spare (self);
    if (k >= 0) {
        snprintf (group, sizeof group, "spare-%d", k);
        if (cgroup_enter_self (self->spares, group, cgroup_why, sizeof cgroup_why)) {
            s_log ('W', "cgroup: %s (this executor's monitor moves it instead)",
                   cgroup_why);
            k = -1;
        }
    }
    pid_t zygote = getpid ();
    sandbox_report_t report;
    executor_python_before_fork ();
    pid_t pid = sandbox_fork (&self->config->executor.sandbox, &report);
    if (pid == 0)
        executor_pool_child (&self->config->executor, self->python, zygote,
                             pair [1], self->python_signals, &report);
    int saved = errno;
    executor_python_after_fork (false);
    if (*group && cgroup_enter_self (self->spares, NULL, cgroup_why, sizeof cgroup_why)) {
        //  Stuck in a spare, our later children would share it: no more
        s_log ('E', "cgroup: back to the host's group: %s; no more spare groups",
               cgroup_why);
        self->spares = NULL;
    }
    close (pair [1]);
    if (pid == -1) {
        close (pair [0]);
        snprintf (why, why_size, "sandbox_fork: %s (%s)", strerror (saved), report.why);
        return -1;
    }
    *sock = pair [0];
    *spare = k;
    return pid;
}

static void
s_pool_refill (s_zygote_t *self)
{
    while (self->pool_count < self->pool_size && s_now_ms () >= self->next_refill) {
        char why [768];
        int sock, spare;
        pid_t pid = s_fork_child (self, &sock, &spare, why, sizeof why);
        if (pid == -1) {
            s_log ('E', "cannot fork a pool executor: %s; retrying in %d ms",
                   why, S_REFILL_BACKOFF_MS);
            self->next_refill = s_now_ms () + S_REFILL_BACKOFF_MS;
            return;
        }
        self->pool [self->pool_count++] = (s_pool_child_t) { pid, sock, spare };
        if (self->config->verbose)
            s_log ('D', "pool executor %d forked (%zu of %zu)", (int) pid,
                   self->pool_count, self->pool_size);
    }
}

//  Takes the oldest pool child (the likeliest to be sealed and waiting).
static bool
s_pool_take (s_zygote_t *self, s_pool_child_t *child)
{
    if (self->pool_count == 0)
        return false;
    *child = self->pool [0];
    memmove (self->pool, self->pool + 1, (self->pool_count - 1) * sizeof self->pool [0]);
    self->pool_count--;
    return true;
}


//  --------------------------------------------------------------------
//  Connections

static void
s_conn_close (s_zygote_t *self, size_t index)
{
    close (self->conns [index].fd);
    self->conns [index] = self->conns [--self->conn_count];
}

static void
s_reply_error (s_conn_t *conn, const char *format, ...)
{
    char message [768];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    s_log ('W', "spawn for session '%s' refused: %s", conn->session, message);
    zmsg_t *reply = proto_encode_error (conn->id, *conn->session? conn->session: NULL,
                                        PROTO_E_INTERNAL, message);
    fd_message_send (conn->fd, &reply, NULL, 0);
}

//  Gives the executor fds to a pool child (or a fork made now) and tells
//  the monitor its pid, with a pidfd. Returns 0, or -1 after the error
//  reply.
static int
s_handover (s_zygote_t *self, s_conn_t *conn, const char *notice, const int *fds)
{
    s_pool_child_t child;
    bool pooled = s_pool_take (self, &child);
    while (true) {
        if (!pooled) {
            char why [768];
            child.pid = s_fork_child (self, &child.sock, &child.spare, why, sizeof why);
            if (child.pid == -1) {
                s_reply_error (conn, "the zygote could not fork an executor: %s", why);
                return -1;
            }
        }
        proto_builder_t *builder = proto_builder_new (PROTO_SPAWN, conn->id, conn->session);
        if (notice)
            proto_builder_str (builder, "notice", notice);
        zmsg_t *msg = proto_builder_finish (&builder);
        int rc = fd_message_send (child.sock, &msg, fds, 3);
        int saved = errno;
        close (child.sock);
        if (rc == 0)
            break;
        //  A pool child that died before its hand-over: SIGCHLD will reap
        //  it; take the next one, or fork.
        s_log ('W', "pool executor %d did not take its hand-over: %s",
               (int) child.pid, strerror (saved));
        kill (child.pid, SIGKILL);
        if (!pooled) {
            s_reply_error (conn, "a new executor did not take its hand-over: %s",
                           strerror (saved));
            return -1;
        }
        pooled = s_pool_take (self, &child);
    }
    //  The monitor signals the executor only through this pidfd: a bare pid
    //  of a process it did not fork could be reused once we reap it.
    int pidfd = self->config->test_faults & TEST_FAULT_NO_PIDFD? -1
              : (int) syscall (SYS_pidfd_open, child.pid, 0);
    if (pidfd == -1) {
        s_reply_error (conn, "pidfd_open for executor %d: %s; without a pidfd "
                       "its monitor could only signal it by pid", (int) child.pid,
                       self->config->test_faults & TEST_FAULT_NO_PIDFD?
                       "test fault no_pidfd": strerror (errno));
        kill (child.pid, SIGKILL);      //  ours: reaped by SIGCHLD
        return -1;
    }
    conn->pid = child.pid;
    conn->state = S_SUPERVISING;
    proto_builder_t *builder = proto_reply_ok_begin (conn->id, conn->session);
    proto_builder_uint (builder, "pid", (uint64_t) child.pid);
    if (child.spare >= 0) {
        char group [32];
        snprintf (group, sizeof group, "spare-%d", child.spare);
        proto_builder_str (builder, "cgroup", group);
    }
    zmsg_t *reply = proto_builder_finish (&builder);
    if (fd_message_send (conn->fd, &reply, &pidfd, 1))
        s_log ('W', "executor %d: reply to its monitor: %s (the executor goes "
               "when the connection closes)", (int) child.pid, strerror (errno));
    close (pidfd);
    s_log ('I', "executor %d for session '%s' (%s)", (int) child.pid, conn->session,
           pooled? "from the pool": "forked on demand");
    if (self->next_refill < s_now_ms () + S_REFILL_DELAY_MS)
        self->next_refill = s_now_ms () + S_REFILL_DELAY_MS;
    return 0;
}

//  The first datagram of a connection: its spawn.
static void
s_conn_spawn (s_zygote_t *self, size_t index)
{
    s_conn_t *conn = &self->conns [index];
    zmsg_t *raw = NULL;
    int fds [ZYGOTE_SPAWN_FDS];
    size_t count = 0;
    int rc = fd_message_recv (conn->fd, &raw, fds, ZYGOTE_SPAWN_FDS, &count);
    if (rc == 0)
        return;
    if (rc == -1) {
        if (errno != EPIPE)
            s_log ('W', "a monitor's spawn: %s; connection closed", strerror (errno));
        s_conn_close (self, index);
        return;
    }
    zygote_spawn_t spawn;
    char why [768];
    int valid = zygote_spawn_decode (&raw, count, self->fingerprint, &spawn,
                                     why, sizeof why);
    conn->id = spawn.id;
    memcpy (conn->session, spawn.session, sizeof conn->session);
    if (valid != 0)
        s_reply_error (conn, "%s", why);
    else
    if (s_handover (self, conn, spawn.notice, fds) == 0) {
        for (size_t i = 0; i < count; i++)
            close (fds [i]);
        zygote_spawn_clear (&spawn);
        return;
    }
    for (size_t i = 0; i < count; i++)
        close (fds [i]);
    zygote_spawn_clear (&spawn);
    s_conn_close (self, index);
}

//  A supervising connection is readable: the monitor closed it (or sent
//  something it should not). Either way its executor goes now.
static void
s_conn_input (s_zygote_t *self, size_t index)
{
    s_conn_t *conn = &self->conns [index];
    char byte;
    ssize_t got = recv (conn->fd, &byte, 1, MSG_DONTWAIT);
    if (got == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (conn->pid <= 0) {
        //  Its executor is already reaped (test fault drop_exited)
        s_conn_close (self, index);
        return;
    }
    s_log ('I', "executor %d: its monitor (session '%s') %s; killing it",
           (int) conn->pid, conn->session,
           got > 0? "sent more than its spawn": "went");
    kill (conn->pid, SIGKILL);
    close (conn->fd);
    conn->fd = -1;
    conn->state = S_ORPHAN;
}

static void
s_accept (s_zygote_t *self)
{
    while (true) {
        int fd = accept4 (self->listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd == -1) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                s_log ('W', "accept: %s", strerror (errno));
            return;
        }
        if (self->conn_count == S_MAX_CONNS) {
            s_log ('W', "%d monitor connections already; refusing one", S_MAX_CONNS);
            close (fd);
            continue;
        }
        self->conns [self->conn_count++] = (s_conn_t) {
            .fd = fd, .state = S_PENDING, .since = s_now_ms ()
        };
    }
}


//  --------------------------------------------------------------------
//  Children's deaths

static void
s_reaped (s_zygote_t *self, pid_t pid, int status)
{
    for (size_t i = 0; i < self->conn_count; i++) {
        s_conn_t *conn = &self->conns [i];
        if (conn->state == S_PENDING || conn->pid != pid)
            continue;
        if (conn->fd >= 0 && (self->config->test_faults & TEST_FAULT_DROP_EXITED)) {
            //  Test fault: the event is lost and the connection stays open,
            //  as if this zygote were stuck; the monitor must cope alone.
            conn->state = S_ORPHAN;
            conn->pid = 0;
            return;
        }
        if (conn->fd >= 0) {
            proto_builder_t *event = proto_builder_new (PROTO_EVENT, conn->id, conn->session);
            proto_builder_str (event, "event", "exited");
            proto_builder_uint (event, "wait_status", (uint64_t) (unsigned) status);
            zmsg_t *msg = proto_builder_finish (&event);
            //  Lost, the monitor learns of the end from its pidfd and the
            //  close below, only without the wait status.
            if (fd_message_send (conn->fd, &msg, NULL, 0))
                s_log ('W', "executor %d (session '%s'): telling its monitor it "
                       "ended: %s; it sees the connection close instead",
                       (int) pid, conn->session, strerror (errno));
        }
        if (self->config->verbose)
            s_log ('D', "executor %d ended (wait status 0x%x)", (int) pid, (unsigned) status);
        if (conn->fd >= 0)
            s_conn_close (self, i);
        else
            self->conns [i] = self->conns [--self->conn_count];
        return;
    }
    for (size_t i = 0; i < self->pool_count; i++)
        if (self->pool [i].pid == pid) {
            s_log ('W', "pool executor %d died before its hand-over (wait status "
                   "0x%x: see its message above); replacing it in %d ms",
                   (int) pid, (unsigned) status, S_REFILL_BACKOFF_MS);
            close (self->pool [i].sock);
            memmove (self->pool + i, self->pool + i + 1,
                     (self->pool_count - i - 1) * sizeof self->pool [0]);
            self->pool_count--;
            self->next_refill = s_now_ms () + S_REFILL_BACKOFF_MS;
            return;
        }
}

static void
s_signals (s_zygote_t *self)
{
    struct signalfd_siginfo info;
    while (read (self->signals, &info, sizeof info) == (ssize_t) sizeof info) {
        if (info.ssi_signo != SIGCHLD) {
            s_log ('I', "stopping on %s", strsignal ((int) info.ssi_signo));
            self->stop = true;
        }
    }
    int status;
    pid_t pid;
    while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
        s_reaped (self, pid, status);
}


//  --------------------------------------------------------------------
//  Start and loop

static int
s_listen (s_zygote_t *self)
{
    const char *path = self->config->socket_path;
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen (path) >= sizeof address.sun_path) {
        s_log ('E', "socket path %s is longer than %zu bytes; use a shorter "
               "runtime dir", path, sizeof address.sun_path - 1);
        return -1;
    }
    strcpy (address.sun_path, path);
    self->listener = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (self->listener == -1) {
        s_log ('E', "socket: %s", strerror (errno));
        return -1;
    }
    if (unlink (path) == -1 && errno != ENOENT)
        s_log ('W', "unlink %s: %s", path, strerror (errno));
    mode_t old = umask (0177);          //  0600 from the start: no window
    int rc = bind (self->listener, (struct sockaddr *) &address, sizeof address);
    umask (old);
    if (rc == -1 || listen (self->listener, 128) == -1) {
        s_log ('E', "bind/listen %s: %s (is the runtime dir writable?)", path,
               strerror (errno));
        return -1;
    }
    return 0;
}

//  With spare groups: the zygote lives in the host's parent group (v1
//  lets a parent hold processes), where it steps back after each fork.
static void
s_spares_home (s_zygote_t *self)
{
    const char *list = self->config->cgroup_spares;
    if (!list || !*list)
        return;
    //  Test builds (kmq-kernel-testsw): with the cgroup layer switched off
    //  no group may hold an executor (tests/it_cgroup.sh), a spare included
    if (self->config->executor.sandbox.skip & SANDBOX_L_CGROUP)
        return;
    char why [320];
    if (cgroup_enter_self (list, NULL, why, sizeof why))
        s_log ('W', "cgroup: joining the host's group: %s; pool executors are moved "
               "by their monitors instead (slower starts)", why);
    else
        self->spares = list;
}

static int
s_start (s_zygote_t *self)
{
    //  As a fresh executor starts (executor_child.c): default signals, its
    //  environment; the dispositions Python sets next are what every child
    //  gets back, and os.environ is what every child sees.
    if (executor_reset_signals ()) {
        s_log ('E', "sigprocmask: %s", strerror (errno));
        return -1;
    }
    if (executor_environment ("/work")) {
        s_log ('E', "environment: %s", strerror (errno));
        return -1;
    }
    if (chdir ("/") == -1)
        s_log ('W', "chdir /: %s", strerror (errno));
    //  One fd per live session (its supervision connection): lift the soft
    //  limit. Children set their own in sandbox_enter.
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
    }
    int64_t started = s_now_ms ();
    self->python = executor_python_start ();
    executor_python_preload (self->python);
    sandbox_report_t seal_report;
    memset (&seal_report, 0, sizeof seal_report);
    if (sandbox_seal_prepare (&seal_report))
        s_log ('W', "seccomp program not built ahead (each child builds its own): %s",
               seal_report.why);
    for (int sig = 1; sig < NSIG; sig++)
        if (sigaction (sig, NULL, &self->python_signals [sig]) == -1)
            self->python_signals [sig].sa_handler = SIG_DFL;

    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGCHLD);
    sigaddset (&mask, SIGTERM);
    sigaddset (&mask, SIGINT);
    sigaddset (&mask, SIGHUP);
    if (sigprocmask (SIG_BLOCK, &mask, NULL) == -1
    ||  (self->signals = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1) {
        s_log ('E', "signalfd: %s", strerror (errno));
        return -1;
    }
    if (s_listen (self))
        return -1;
    s_spares_home (self);
    s_log ('I', "ready on %s in %lld ms (pool of %zu; sandbox %s)",
           self->config->socket_path, (long long) (s_now_ms () - started),
           self->pool_size, self->fingerprint);
    return 0;
}

static void
s_stop (s_zygote_t *self)
{
    //  Executors die with the zygote anyway (PR_SET_PDEATHSIG); this is
    //  only tidier and frees the pool at once.
    for (size_t i = 0; i < self->pool_count; i++) {
        kill (self->pool [i].pid, SIGKILL);
        close (self->pool [i].sock);
    }
    for (size_t i = 0; i < self->conn_count; i++) {
        if (self->conns [i].state != S_PENDING && self->conns [i].pid > 0)
            kill (self->conns [i].pid, SIGKILL);
        if (self->conns [i].fd >= 0)
            close (self->conns [i].fd);
    }
    while (waitpid (-1, NULL, 0) > 0 || errno == EINTR)
        ;
    if (self->listener >= 0) {
        close (self->listener);
        unlink (self->config->socket_path);
    }
}

int
zygote_run (const zygote_config_t *config)
{
    assert (config);
    s_zygote_t self_data;
    s_zygote_t *self = &self_data;
    memset (self, 0, sizeof *self);
    self->config = config;
    self->listener = -1;
    self->signals = -1;
    self->pool_size = config->pool_size > S_MAX_POOL? S_MAX_POOL: (size_t) config->pool_size;
    self->conns = (s_conn_t *) calloc (S_MAX_CONNS, sizeof (s_conn_t));
    struct pollfd *items = (struct pollfd *) calloc (S_MAX_CONNS + 2, sizeof (struct pollfd));
    if (!self->conns || !items) {
        s_log ('E', "out of memory");
        return 1;
    }
    self->fingerprint = config->executor.sandbox_fingerprint;
    assert (self->fingerprint);
    if (s_start (self)) {
        s_stop (self);
        return 1;
    }
    while (!self->stop) {
        s_pool_refill (self);
        int64_t now = s_now_ms ();
        int timeout = -1;
        if (self->pool_count < self->pool_size)
            timeout = (int) (self->next_refill > now? self->next_refill - now: 0);
        items [0] = (struct pollfd) { self->signals, POLLIN, 0 };
        items [1] = (struct pollfd) { self->listener, POLLIN, 0 };
        size_t count = 2;
        for (size_t i = 0; i < self->conn_count; i++) {
            s_conn_t *conn = &self->conns [i];
            if (conn->state == S_PENDING) {
                int64_t left = conn->since + S_SPAWN_WAIT_MS - now;
                if (left < 0)
                    left = 0;
                if (timeout < 0 || left < timeout)
                    timeout = (int) left;
            }
            items [count++] = (struct pollfd) { conn->fd, POLLIN, 0 };
        }
        if (poll (items, count, timeout) == -1 && errno != EINTR) {
            s_log ('E', "poll: %s", strerror (errno));
            break;
        }
        //  Connections first, by index from the end, before accept or
        //  reaping reorders the array.
        now = s_now_ms ();
        for (size_t i = self->conn_count; i-- > 0; ) {
            s_conn_t *conn = &self->conns [i];
            if (conn->fd < 0)
                continue;
            short revents = items [2 + i].revents;
            if (conn->state == S_PENDING) {
                if (revents)
                    s_conn_spawn (self, i);
                else
                if (now - conn->since >= S_SPAWN_WAIT_MS) {
                    s_log ('W', "a monitor connected but sent no spawn in %d ms; "
                           "connection closed", S_SPAWN_WAIT_MS);
                    s_conn_close (self, i);
                }
            }
            else
            if (revents)
                s_conn_input (self, i);
        }
        if (items [0].revents)
            s_signals (self);
        if (items [1].revents)
            s_accept (self);
    }
    s_stop (self);
    free (items);
    free (self->conns);
    return 0;
}
