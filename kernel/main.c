/*  kmq-kernel — one session's kernel, started by kmq-broker; or, with
    --zygote SOCKET and no --session, the broker's zygote (zygote.h).

    As a kernel: parses the broker's argv (the kernel contract), creates
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
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "executor.h"
#include "monitor.h"
#include "proto.h"
#include "test_faults.h"
#include "zygote.h"

typedef struct {
    monitor_config_t monitor;
    executor_config_t executor;
    const char *work_dir;
    const char *zygote;         //  --zygote SOCKET
    uint64_t pool_size;         //  --pool N (zygote mode)
    bool is_zygote;             //  --zygote without --session: be the zygote
    char name [PROTO_SESSION_MAX + 300];
} s_args_t;

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: kmq-kernel --endpoint BACKEND --session KEY --kernel-id KID\n"
        "                  --work-dir DIR [--heartbeat-ivl-ms N]\n"
        "                  [--heartbeat-liveness N] [--request-timeout-ms N]\n"
        "                  [--kill-grace-ms N] [--max-output N]\n"
        "                  [--memory-limit N] [--cpu-limit-s N] [--request-cpu-s N]\n"
        "                  [--max-payload N] [--work-quota N] [--tmp-quota N]\n"
        "                  [--max-threads N] [--max-files N] [--state-lost NOTICE]\n"
        "                  [--zygote SOCKET] [-v]\n"
        "       kmq-kernel --zygote SOCKET [--pool N] [--memory-limit N] [--cpu-limit-s N]\n"
        "                  [--work-quota N] [--tmp-quota N] [--max-threads N]\n"
        "                  [--max-files N] [--max-payload N] [-v]\n"
        "Started by kmq-broker: one kernel per session (its executor from the\n"
        "zygote at SOCKET when given, else forked here), and one zygote (the\n"
        "second form, without --session); not meant to be run by hand.\n"
        "Sizes are bytes, 0 = unlimited.\n");
}

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

static int
s_parse_uint (const char *option, const char *text, uint64_t *value)
{
    char *end;
    errno = 0;
    if (*text == '-' || *text == '\0')
        goto fail;
    unsigned long long parsed = strtoull (text, &end, 10);
    if (errno || *end != '\0')
        goto fail;
    *value = parsed;
    return 0;
fail:
    fprintf (stderr, "kmq-kernel: --%s wants a non-negative integer, got '%s'\n",
             option, text);
    return -1;
}

//  Fills args from argv. Returns 0, or -1 after printing why.
static int
s_parse_args (int argc, char *argv [], s_args_t *args)
{
    static const struct option options [] = {
        { "endpoint",           required_argument, NULL, 'e' },
        { "session",            required_argument, NULL, 's' },
        { "kernel-id",          required_argument, NULL, 'k' },
        { "heartbeat-ivl-ms",   required_argument, NULL, 'H' },
        { "heartbeat-liveness", required_argument, NULL, 'L' },
        { "request-timeout-ms", required_argument, NULL, 'T' },
        { "kill-grace-ms",      required_argument, NULL, 'G' },
        { "max-output",         required_argument, NULL, 'O' },
        { "memory-limit",       required_argument, NULL, 'M' },
        { "cpu-limit-s",        required_argument, NULL, 'C' },
        { "request-cpu-s",      required_argument, NULL, 'R' },
        { "work-quota",         required_argument, NULL, 'W' },
        { "tmp-quota",          required_argument, NULL, 'Q' },
        { "max-threads",        required_argument, NULL, 'N' },
        { "max-files",          required_argument, NULL, 'F' },
        { "max-payload",        required_argument, NULL, 'P' },
        { "work-dir",           required_argument, NULL, 'w' },
        { "state-lost",         required_argument, NULL, 'l' },
        { "zygote",             required_argument, NULL, 'Z' },
        { "pool",               required_argument, NULL, 'p' },
        { "verbose",            no_argument,       NULL, 'v' },
        { "help",               no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    monitor_config_t *monitor = &args->monitor;
    executor_config_t *executor = &args->executor;
    monitor->heartbeat_ivl_ms = 1000;
    monitor->heartbeat_liveness = 3;
    monitor->request_timeout_ms = 0;
    monitor->kill_grace_ms = 2000;
    monitor->max_output = 0;
    monitor->max_payload = 256ull << 20;
    sandbox_config_defaults (&executor->sandbox);
#if defined (KMQ_SANDBOX_TEST_SWITCHES)
    //  Test builds only (bin/kmq-kernel-testsw): switch layers off to show
    //  what each one stops. Production builds have no way to do this.
    const char *skip = getenv ("KMQ_SANDBOX_SKIP");
    if (skip)
        executor->sandbox.skip = (unsigned) strtoul (skip, NULL, 0);
#endif
    monitor->test_faults = test_faults_parse ();

    int opt, index = -1;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":vh", options, &index)) != -1) {
        const char *name = index >= 0? options [index].name: "?";
        int rc = 0;
        switch (opt) {
            case 'e': monitor->endpoint = optarg; break;
            case 's': monitor->session = optarg; break;
            case 'k': monitor->kernel_id = optarg; break;
            case 'w': args->work_dir = optarg; break;
            case 'l': executor->state_lost = optarg; break;
            case 'Z': args->zygote = optarg; break;
            case 'p': rc = s_parse_uint (name, optarg, &args->pool_size); break;
            case 'v': monitor->verbose = true; break;
            case 'H': rc = s_parse_uint (name, optarg, &monitor->heartbeat_ivl_ms); break;
            case 'L': rc = s_parse_uint (name, optarg, &monitor->heartbeat_liveness); break;
            case 'T': rc = s_parse_uint (name, optarg, &monitor->request_timeout_ms); break;
            case 'G': rc = s_parse_uint (name, optarg, &monitor->kill_grace_ms); break;
            case 'O': rc = s_parse_uint (name, optarg, &monitor->max_output); break;
            case 'M': rc = s_parse_uint (name, optarg, &executor->sandbox.memory_bytes); break;
            case 'C': rc = s_parse_uint (name, optarg, &executor->sandbox.cpu_seconds); break;
            case 'R': rc = s_parse_uint (name, optarg, &monitor->request_cpu_ms);
                      monitor->request_cpu_ms *= 1000; break;
            case 'W': rc = s_parse_uint (name, optarg, &executor->sandbox.work_quota); break;
            case 'Q': rc = s_parse_uint (name, optarg, &executor->sandbox.tmp_quota); break;
            case 'N': rc = s_parse_uint (name, optarg, &executor->sandbox.max_threads); break;
            case 'F': rc = s_parse_uint (name, optarg, &executor->sandbox.max_files); break;
            case 'P': rc = s_parse_uint (name, optarg, &monitor->max_payload); break;
            case 'h':
                s_usage (stdout);
                exit (0);
            case ':':
                fprintf (stderr, "kmq-kernel: %s needs a value\n", argv [optind - 1]);
                return -1;
            default:
                fprintf (stderr, "kmq-kernel: unknown option '%s'\n", argv [optind - 1]);
                return -1;
        }
        if (rc)
            return -1;
        index = -1;
    }
    if (optind < argc) {
        fprintf (stderr, "kmq-kernel: unexpected argument '%s'\n", argv [optind]);
        return -1;
    }
    if (args->zygote && !monitor->session) {
        if (*args->zygote != '/') {
            fprintf (stderr, "kmq-kernel: --zygote must be an absolute path\n");
            return -1;
        }
        args->is_zygote = true;
        snprintf (args->name, sizeof args->name, "zygote");
        executor->work_dir = "/tmp";    //  unused: executors live in /work
        executor->max_payload = monitor->max_payload;
        return 0;
    }
    const char *missing = !monitor->endpoint? "--endpoint"
                        : !monitor->session? "--session"
                        : !monitor->kernel_id? "--kernel-id"
                        : !args->work_dir? "--work-dir": NULL;
    if (missing) {
        fprintf (stderr, "kmq-kernel: %s is required\n", missing);
        return -1;
    }
    if (!proto_session_valid (monitor->session, strlen (monitor->session))) {
        fprintf (stderr, "kmq-kernel: --session '%s' is not a session key "
                 "(1-%d bytes of [A-Za-z0-9._:-])\n", monitor->session,
                 PROTO_SESSION_MAX);
        return -1;
    }
    size_t kid_len = strlen (monitor->kernel_id);
    if (kid_len == 0 || kid_len > 255) {
        fprintf (stderr, "kmq-kernel: --kernel-id must be 1-255 bytes\n");
        return -1;
    }
    if (monitor->heartbeat_ivl_ms == 0 || monitor->heartbeat_ivl_ms > 3600000
    ||  monitor->heartbeat_liveness == 0 || monitor->heartbeat_liveness > 1000) {
        fprintf (stderr, "kmq-kernel: --heartbeat-ivl-ms must be 1..3600000 and "
                 "--heartbeat-liveness 1..1000\n");
        return -1;
    }
    if (monitor->request_timeout_ms > (1ull << 40)
    ||  monitor->kill_grace_ms > (1ull << 40)) {
        fprintf (stderr, "kmq-kernel: timeouts above 2^40 ms make no sense\n");
        return -1;
    }
    if (*args->work_dir != '/') {
        fprintf (stderr, "kmq-kernel: --work-dir must be an absolute path\n");
        return -1;
    }
    snprintf (args->name, sizeof args->name, "kernel %s %s",
              monitor->session, monitor->kernel_id);
    monitor->name = args->name;
    executor->session = monitor->session;
    executor->work_dir = args->work_dir;
    executor->max_payload = monitor->max_payload;
    return 0;
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

int
main (int argc, char *argv [])
{
    s_args_t args;
    memset (&args, 0, sizeof args);
    if (s_parse_args (argc, argv, &args)) {
        s_usage (stderr);
        return 2;
    }
    const char *name = args.name;
    if (args.is_zygote) {
        //  Dies with the broker, like a kernel; the broker restarts it.
        if (prctl (PR_SET_PDEATHSIG, SIGKILL) == -1) {
            s_early_error (name, "prctl(PR_SET_PDEATHSIG): %s", strerror (errno));
            return 1;
        }
        zygote_config_t zygote = {
            .socket_path = args.zygote, .pool_size = args.pool_size,
            .executor = args.executor, .verbose = args.monitor.verbose,
            .test_faults = args.monitor.test_faults
        };
        return zygote_run (&zygote);
    }

    //  Die with the broker. The parent may already have gone before the
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
    if (mkdir (args.work_dir, 0700) == -1) {
        s_early_error (name, "mkdir %s: %s (the broker creates its parent; "
                       "is the runtime dir writable?)", args.work_dir, strerror (errno));
        return 1;
    }
    executor_handle_t executor;
    char zygote_why [512] = "";
    if (args.zygote
    &&  executor_spawn_zygote (&args.executor, args.zygote, &executor,
                               zygote_why, sizeof zygote_why) == 0)
        ;                       //  a pool child or a fork of the zygote
    else
    if (executor_spawn (&args.executor, &executor) == -1) {
        s_early_error (name, "cannot start the executor: %s", strerror (errno));
        s_remove_tree (args.work_dir);
        return 1;
    }

    //  Only now may a ZeroMQ context exist. The monitor owns SIGINT/SIGTERM.
    zsys_handler_set (NULL);
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_linger (0);
    if (args.zygote && *zygote_why)
        zsys_warning ("%s: zygote unavailable (%s); forking the executor here "
                      "(slower)", name, zygote_why);

    int status = 1;
    monitor_t *monitor = monitor_new (&args.monitor, &executor);
    if (monitor) {
        status = monitor_run (monitor);
        monitor_destroy (&monitor);
    }
    if (s_remove_tree (args.work_dir))
        zsys_warning ("%s: could not remove %s: %s", name, args.work_dir,
                      strerror (errno));
    zsys_info ("%s: exiting with status %d", name, status);
    zsys_shutdown ();
    return status;
}
