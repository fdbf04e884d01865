/*  kmq-kernel — one session's kernel (its monitor), started by kmq-host;
    or, with --zygote SOCKET and no --session, the host's zygote, which
    this binary becomes at once by exec'ing kmq-executor (zygote.h).

    This binary holds no interpreter: the per-session monitor maps no
    libpython (bench/NOTES.md section 3). kmq-executor, beside it, is the
    Python side: the zygote, and the executor forked here when no zygote
    gives one (executor_spawn: cloned into the sandbox's namespaces, it
    execs kmq-executor before any other set-up, so it is sandboxed exactly
    as a zygote's executor is).

    As `kmq-kernel --standby WORK_ROOT PADDING` (host/kernel_standby.h) it
    is a kernel started ahead of demand: it waits for its argv on stdin,
    then goes on as if started with it. WORK_ROOT, the host's, is there so
    that ps (and pgrep -f RUNTIME_DIR) tells whose standby it is; PADDING
    (blanks) is room for the title it then takes, which names its session.

    As a kernel: parses its argv (common/kernel_contract.h), creates
    the work dir, gets its executor BEFORE any ZeroMQ context exists
    (zsys_init makes one, with threads; the executor must inherit
    neither): from the zygote when --zygote is given, else (or when the
    zygote fails) by forking it here. Then it runs the monitor until the
    kernel ends and removes the work dir.

    Exit status: 0 normal end (close, signal, executor death, timeout
    kill), 1 failure or broker silence, 2 bad usage.
*/
#include <czmq.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "executor.h"
#include "kernel_contract.h"
#include "monitor.h"
#include "proto.h"
#include "test_faults.h"
#include "mem.h"
#include "snapshot_store.h"

typedef struct {
    kernel_settings_t settings;     //  the command line (kernel_contract.h)
    monitor_config_t monitor;
    executor_config_t executor;
    char name [PROTO_SESSION_MAX + 300];
    char fingerprint [KERNEL_CONTRACT_FINGERPRINT_MAX];   //  sandbox_fingerprint
    const char *argv0;              //  what ps shows of this kernel
    char *state_lost;               //  the first reply's notice, when the
                                    //  snapshot store adds to --state-lost
} s_args_t;

//  Before zsys_init (which must wait until after the fork) zsys would log
//  to stdout, so early messages are written here in the same shape.
static void
s_early_error (const char *name, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "E: %s: ", name);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}

//  Fills args from argv (the kernel contract). Returns 0, or -1 after
//  printing why; prints the usage and exits 0 on --help.
static int
s_parse_args (int argc, char *argv [], s_args_t *args)
{
    kernel_settings_t *settings = &args->settings;
    char err [512];
    int rc = kernel_contract_parse (settings, argc, argv, err, sizeof err);
    if (rc == 1) {
        kernel_contract_usage (stdout);
        exit (0);
    }
    if (rc == -1) {
        fprintf (stderr, "kmq-kernel: %s (kmq-kernel --help lists the flags)\n", err);
        return -1;
    }
    executor_config_from_settings (&args->executor, settings, args->fingerprint,
                                   sizeof args->fingerprint);
    monitor_config_t *monitor = &args->monitor;
    monitor->verbose = settings->verbose;
    monitor->test_faults = test_faults_parse ();
    if (kernel_contract_role (settings) == KERNEL_CONTRACT_ZYGOTE)
        return 0;
    snprintf (args->name, sizeof args->name, "kernel %s %s",
              settings->session, settings->kernel_id);
    monitor->name = args->name;
    monitor->endpoint = settings->endpoint;
    monitor->session = settings->session;
    monitor->kernel_id = settings->kernel_id;
    monitor->heartbeat_ivl_ms = settings->heartbeat_ivl_ms;
    monitor->heartbeat_idle_ivl_ms = settings->heartbeat_idle_ivl_ms
                                   > settings->heartbeat_ivl_ms?
                                     settings->heartbeat_idle_ivl_ms: settings->heartbeat_ivl_ms;
    monitor->heartbeat_liveness = settings->heartbeat_liveness;
    monitor->request_timeout_ms = settings->request_timeout_ms;
    monitor->request_cpu_ms = settings->request_cpu_s * 1000;
    monitor->kill_grace_ms = settings->kill_grace_ms;
    monitor->broker_grace_ms = settings->broker_grace_ms;
    monitor->host = settings->host;
    monitor->max_output = settings->max_output;
    monitor->max_payload = settings->max_payload;
    monitor->state_dir = settings->state_dir;
    monitor->snapshot_quota = settings->snapshot_quota;
    monitor->snapshot_on_term = settings->snapshot && settings->state_dir;
    monitor->cgroup = settings->cgroup;
    return 0;
}

//  What the snapshot store holds for the session, before its executor
//  starts (protocol.md 10.3): a snapshot, which the monitor restores once
//  the executor is ready; or why the state is lost, which the first reply
//  then says: the last snapshot failed or expired, or (--restore: the
//  broker evicted it with a snapshot) there is none.
static void
s_probe_snapshot (s_args_t *args)
{
    const kernel_settings_t *settings = &args->settings;
    if (!settings->state_dir)
        return;
    char reason [512];
    snapshot_store_state_t state;
    //  The session's last kernel may still be storing its snapshot (a
    //  request came right after the eviction): wait for it, bounded
    int64_t give_up = zclock_mono () + KERNEL_CONTRACT_SNAPSHOT_MS
                    + (int64_t) settings->kill_grace_ms;
    while ((state = snapshot_store_probe (settings->state_dir, settings->session,
                                          settings->snapshot_ttl_s, reason, sizeof reason))
           == SNAPSHOT_STORE_PENDING && zclock_mono () < give_up)
        zclock_sleep (20);
    switch (state) {
        case SNAPSHOT_STORE_PENDING:
            snprintf (reason, sizeof reason, "its snapshot was still being taken after "
                      "%d s", KERNEL_CONTRACT_SNAPSHOT_MS / 1000);
            break;
        case SNAPSHOT_STORE_SNAPSHOT:
            args->monitor.restore_pending = true;
            return;
        case SNAPSHOT_STORE_FAILED:
            break;
        case SNAPSHOT_STORE_NONE:
            if (!settings->restore)
                return;
            snprintf (reason, sizeof reason, "no snapshot of it was found (it was "
                      "taken on another kernel host, or removed)");
            break;
    }
    const char *before = settings->state_lost;
    args->state_lost = mem_sprintf ("%s%sits state is lost: %s", before? before: "",
                                    before? "; ": "", reason);
    args->executor.state_lost = args->state_lost;
}

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    if (remove (path) && errno != ENOENT && flag != FTW_DNR)
        return -1;
    return 0;
}

static int
s_unlock_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) ftw;
    //  User code may have made a directory unreadable; we own it.
    if (flag == FTW_D || flag == FTW_DNR)
        chmod (path, (st->st_mode & 07777) | S_IRWXU);
    return 0;
}

//  Removes the work dir and everything in it. Returns 0 or -1.
static int
s_remove_tree (const char *path)
{
    nftw (path, s_unlock_entry, 16, FTW_PHYS);
    if (nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
        return -1;
    return 0;
}

//  The most a standby kernel reads as its argv (a real one is ~1 KiB).
#define S_ASSIGNMENT_MAX (64 * 1024)

//  A standby kernel: waits for its argv on stdin (NUL-terminated strings,
//  then end of file) and returns it in *argv_p and *argc_p, in one block
//  kept for the process's life, with stdin /dev/null again. End of file with nothing
//  before it (the host let it go) exits 0; a broken assignment exits 2.
static void
s_standby_wait (int *argc_p, char ***argv_p)
{
    //  Die with the kernel host while waiting, too
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid () == 1)
        exit (1);
    //  Work a start would do, done while nobody waits: zsys_init looks up
    //  the tcp protocol, and glibc's first lookup loads nsswitch.conf and
    //  probes ~120 paths for libnss_db (0.3-4 ms measured); later lookups
    //  find that settled. No thread or descriptor is left behind, so a
    //  fork of this process (no zygote) is still clean.
    getprotobyname ("tcp");
    char *text = (char *) mem_alloc (S_ASSIGNMENT_MAX);
    size_t size = 0;
    while (size < S_ASSIGNMENT_MAX) {
        ssize_t got = read (STDIN_FILENO, text + size, S_ASSIGNMENT_MAX - size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size += (size_t) got;
    }
    if (size == 0)
        exit (0);
    if (size == S_ASSIGNMENT_MAX || text [size - 1] != 0) {
        s_early_error ("standby kernel", "the host's assignment is cut or too long "
                       "(%zu bytes)", size);
        exit (2);
    }
    int count = 0;
    for (size_t i = 0; i < size; i++)
        count += text [i] == 0;
    //  One block: the argv array, then the strings it points into
    char **argv = (char **) mem_alloc ((size_t) (count + 1) * sizeof (char *) + size);
    char *strings = (char *) (argv + count + 1);
    memcpy (strings, text, size);
    free (text);
    for (int i = 0, at = 0; i < count; i++) {
        argv [i] = strings + at;
        at += (int) strlen (strings + at) + 1;
    }
    argv [count] = NULL;
    int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2 (null, STDIN_FILENO);
        close (null);
    }
    *argc_p = count;
    *argv_p = argv;
}

//  The Python side's binary beside this one (executor_main.c): the zygote,
//  and the executor a monitor forks when no zygote gives it one.
#if defined (KMQ_SANDBOX_TEST_SWITCHES)
#   define S_EXECUTOR_NAME "kmq-executor-testsw"
#else
#   define S_EXECUTOR_NAME "kmq-executor"
#endif

//  Writes the path of kmq-executor, beside this binary, into path.
//  Returns 0, or -1 with errno set.
static int
s_executor_path (char *path, size_t size)
{
    ssize_t len = readlink ("/proc/self/exe", path, size - 1);
    if (len <= 0)
        return -1;
    path [len] = 0;
    char *slash = strrchr (path, '/');
    size_t dir = slash? (size_t) (slash - path) + 1: 0;
    if (dir + strlen (S_EXECUTOR_NAME) >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy (path + dir, S_EXECUTOR_NAME);
    return 0;
}

//  The zygote role: this binary holds no interpreter, so it becomes
//  kmq-executor with the same argv (ps still shows `kmq-kernel --zygote
//  ...`, what the host started). Returns only on failure: 1.
static int
s_exec_zygote (char *argv [])
{
    char path [PATH_MAX];
    if (s_executor_path (path, sizeof path) == 0)
        execv (path, argv);
    s_early_error ("zygote", "exec %s: %s (it is built and installed beside kmq-kernel)",
                   S_EXECUTOR_NAME, strerror (errno));
    return 1;
}

//  ZeroMQ's start, once: the monitor owns SIGINT/SIGTERM, so czmq
//  installs no handler. The process may fork only while ZeroMQ is not
//  started (its I/O threads would be copied half-alive).
static bool s_zeromq_started = false;

static void
s_zeromq_stop (void)
{
    if (s_zeromq_started) {
        zsys_shutdown ();
        s_zeromq_started = false;
    }
}

static void
s_zeromq_start (void)
{
    if (s_zeromq_started)
        return;
    zsys_handler_set (NULL);
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_linger (0);
    s_zeromq_started = true;
}

//  While the zygote hands over the executor: ZeroMQ starts and the DEALER
//  connects, so its handshake with the broker is done by the time the
//  executor says ready (a warm start spent ~1 ms on these after it).
typedef struct {
    const monitor_config_t *config;
    zsock_t *dealer;            //  NULL when it could not be made (logged)
} s_early_t;

static void
s_connect_early (void *arg)
{
    s_early_t *early = (s_early_t *) arg;
    s_zeromq_start ();
    early->dealer = monitor_dealer_new (early->config);
}

//  Forks the executor here (no zygote): kmq-executor, exec'd in the
//  sandbox's namespaces, with this session's flags (state_lost as the
//  snapshot probe left it). Returns 0 or -1 with errno set.
static int
s_spawn_here (s_args_t *args, executor_handle_t *handle)
{
    char path [PATH_MAX];
    if (s_executor_path (path, sizeof path))
        return -1;
    int fd = open (path, O_PATH | O_CLOEXEC);
    if (fd == -1)
        return -1;
    kernel_settings_t settings = args->settings;
    settings.state_lost = args->executor.state_lost;
    settings.zygote = NULL;             //  the executor's role is the session's
    char **argv = kernel_contract_argv (args->argv0, &settings, NULL);
    executor_program_t program = { fd, argv };
    int rc = executor_spawn (&args->executor, &program, handle);
    int saved = errno;
    kernel_contract_argv_destroy (&argv);
    close (fd);
    errno = saved;
    return rc;
}

int
main (int argc, char *argv [])
{
    //  Static: the settings borrow its strings for the process's life
    static char **assigned;
    char *title = NULL;         //  the standby's argv area, to retitle
    size_t title_size = 0;
    if (argc == 4 && strcmp (argv [1], "--standby") == 0) {
        title = argv [0];
        title_size = (size_t) (argv [3] + strlen (argv [3]) - argv [0]);
        s_standby_wait (&argc, &assigned);
        argv = assigned;
    }
    s_args_t args;
    memset (&args, 0, sizeof args);
    args.argv0 = argv [0];
    if (s_parse_args (argc, argv, &args))
        return 2;
    if (title && kernel_contract_role (&args.settings) != KERNEL_CONTRACT_ZYGOTE) {
        //  What ps shows (/proc/PID/cmdline is this memory): the session,
        //  as a kernel started on demand shows it in its argv
        memset (title, 0, title_size);
        snprintf (title, title_size, "kmq-kernel --session %s --kernel-id %s --work-dir %s",
                  args.settings.session, args.settings.kernel_id, args.settings.work_dir);
    }
    const char *name = args.name;
    const kernel_settings_t *settings = &args.settings;
    if (kernel_contract_role (settings) == KERNEL_CONTRACT_ZYGOTE)
        return s_exec_zygote (argv);

    //  Die with the kernel host. The parent may already have gone before the
    //  prctl took effect, hence the check after it.
    pid_t parent = getppid ();
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) == -1) {
        s_early_error (name, "prctl(PR_SET_PDEATHSIG): %s", strerror (errno));
        return 1;
    }
    if (getppid () != parent) {
        s_early_error (name, "the broker exited before the kernel started");
        return 1;
    }
    if (mkdir (settings->work_dir, 0700) == -1) {
        s_early_error (name, "mkdir %s: %s (the broker creates its parent; "
                       "is the runtime dir writable?)", settings->work_dir, strerror (errno));
        return 1;
    }
    s_probe_snapshot (&args);
    executor_handle_t executor;
    char zygote_why [512] = "";
    s_early_t early = { &args.monitor, NULL };
    if (settings->zygote
    &&  executor_spawn_zygote (&args.executor, settings->zygote, &executor,
                               s_connect_early, &early, zygote_why,
                               sizeof zygote_why) == 0)
        ;                       //  a pool child or a fork of the zygote
    else {
        //  The zygote refused after ZeroMQ started: stop it (and its
        //  threads) before the fork, which runs glibc code in the child
        //  and must find the process single-threaded.
        zsock_destroy (&early.dealer);
        s_zeromq_stop ();
        if (s_spawn_here (&args, &executor) == -1) {
            s_early_error (name, "cannot start the executor: %s (is %s built beside "
                           "kmq-kernel?)", strerror (errno), S_EXECUTOR_NAME);
            s_remove_tree (settings->work_dir);
            return 1;
        }
    }
    s_zeromq_start ();
    if (settings->zygote && *zygote_why)
        zsys_warning ("%s: zygote unavailable (%s); forking the executor here "
                      "(slower)", name, zygote_why);

    int status = 1;
    monitor_t *monitor = monitor_new (&args.monitor, &executor, &early.dealer);
    if (monitor) {
        status = monitor_run (monitor);
        monitor_destroy (&monitor);
    }
    if (s_remove_tree (settings->work_dir))
        zsys_warning ("%s: could not remove %s: %s", name, settings->work_dir,
                      strerror (errno));
    zsys_info ("%s: exiting with status %d", name, status);
    zsys_shutdown ();
    free (args.state_lost);
    return status;
}
