/*  sandbox — the executor's isolation, one small function per layer.

    DESIGN.md §4. The layers, in the order they are applied:

        sandbox_fork   (monitor side)  namespaces: clone into new user, mount,
                                       pid, net, ipc and uts namespaces; write
                                       the child's uid/gid maps
        (cgroup, last: the kernel host makes the executor's group, its
         monitor moves it in and reports it: kernel/monitor_cgroup.c)
        sandbox_enter  (child, before Python initialises)
                                       filesystem, capabilities + signals,
                                       rlimits, no_new_privs, Landlock
        sandbox_seal   (child, after pandas/numpy/matplotlib are imported,
                        before the first request)
                                       seccomp allowlist (all threads)

    The executor must call, in this order:

        sandbox_config_t config;  sandbox_config_defaults (&config);  ...
        sandbox_report_t report;
        pid_t pid = sandbox_fork (&config, &report);
        if (pid == 0) {                 //  child: uid 0 in its namespaces,
                                        //  PR_SET_PDEATHSIG(SIGKILL) armed
            close inherited fds, build the environment ...
            if (sandbox_enter (&config, &report))  -> tell the monitor
                report.why, _exit
            Py_InitializeFromConfig (...); import pandas, numpy, matplotlib
            if (sandbox_seal (&config, &report))   -> same
            serve requests
        }

    Every layer sets its bit in report->applied, or in report->missing with
    a reason appended to report->why. A layer the kernel lacks (Landlock)
    is "missing", not an error; a layer that should
    work and fails makes the call return -1 (the child then _exits).

    The report of the child is the one that matters: the parent's copy only
    knows about namespaces. The executor sends its report to the monitor,
    which adds the cgroup layer (sandbox_report_format gives the text for stats and logs).

    No function here prints; errors are returned in the report.
*/
#ifndef KMQ_SANDBOX_H
#define KMQ_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "kernel_contract.h"

typedef struct {
    uint64_t memory_bytes;      //  RLIMIT_AS (0 = none); not set under ASan
    uint64_t cpu_seconds;       //  RLIMIT_CPU over the executor's life (0 = none)
    uint64_t work_quota;        //  size= of the /work tmpfs (0 = default 256 MiB)
    uint64_t tmp_quota;         //  size= of the /tmp tmpfs (0 = default 256 MiB)
    uint64_t max_threads;       //  RLIMIT_NPROC, counts threads (0 = default 256)
    uint64_t max_files;         //  RLIMIT_NOFILE (0 = default 1024)
    uint64_t max_file_size;     //  RLIMIT_FSIZE (0 = work_quota)
    uint64_t uid_base;          //  outside uid/gid = uid_base + pid mod
    uint64_t uid_count;         //  uid_count (0 = SANDBOX_UID_BASE/COUNT)
    unsigned skip;              //  test-only: SANDBOX_L_* layers to skip.
                                //  Honoured only when compiled with
                                //  -DKMQ_SANDBOX_TEST_SWITCHES; otherwise
                                //  ignored and said so in report->why.
                                //  Skipping namespaces also skips filesystem
                                //  (it would pivot the host's root);
                                //  skipping no_new_privs also skips landlock.
} sandbox_config_t;

//  The outside ids of executors by default: from 2^31, 2^22 of them (the
//  largest pid_max Linux allows, so no two live executors share one).
#define SANDBOX_UID_BASE  2147483648ull
#define SANDBOX_UID_COUNT 4194304ull

//  The executor's /dev/shm holds this much at most (or tmp_quota when
//  smaller); its root, /dev and the few other scratch mounts
//  SANDBOX_SCRATCH_MAX together. Both count in a session's worst case.
#define SANDBOX_SHM_MAX     (64ull * 1024 * 1024)
#define SANDBOX_SCRATCH_MAX (4ull * 1024 * 1024)

enum {
    SANDBOX_L_NAMESPACES   = 1,
    SANDBOX_L_FILESYSTEM   = 2,
    SANDBOX_L_CAPS         = 4,
    SANDBOX_L_RLIMITS      = 8,
    SANDBOX_L_NO_NEW_PRIVS = 16,
    SANDBOX_L_LANDLOCK     = 32,
    SANDBOX_L_SECCOMP      = 64,
    SANDBOX_L_CGROUP       = 128,
    SANDBOX_L_ALL          = 255
};

typedef struct {
    unsigned applied;           //  SANDBOX_L_* bits in force
    unsigned missing;           //  SANDBOX_L_* bits not in force
    char why[512];              //  "layer: reason; layer: reason" for each
                                //  missing or failed layer (truncated to fit)
} sandbox_report_t;

//  Fills *config from a kernel's settings (kernel_contract.h): memory,
//  cpu, the /work and /tmp quotas, threads, files; the largest file is the
//  /work quota; skip none.
void sandbox_config_from_settings (sandbox_config_t *config,
                                   const kernel_settings_t *settings);

//  Fills *config from the kernel contract's defaults: memory 2 GiB, cpu
//  none, /work and /tmp 256 MiB, 256 threads, 1024 files, file size =
//  /work quota, skip none.
void sandbox_config_defaults (sandbox_config_t *config);

//  Like fork(): a raw clone(2) (SIGCHLD, NULL stack: the child keeps a copy
//  of the caller's stack, so no small clone stack — one of 1 MiB crashes
//  OpenBLAS) into new user, mount, pid, net, ipc and uts namespaces.
//  The parent writes the child's setgroups "deny", uid_map and gid_map
//  (inside 0 -> outside uid_base + pid % uid_count, a distinct unprivileged id
//  per executor so RLIMIT_NPROC, which counts per real uid, is not shared
//  between sessions; when the caller may not map other ids — it is not
//  root — its own euid/egid is used and report->why says so) and then
//  releases the child. sandbox_fork returns 0 in the child only after the
//  maps are written, the child has become uid/gid 0 of its namespace and
//  armed PR_SET_PDEATHSIG(SIGKILL) (a uid change clears that signal, so
//  the executor must not rely on one set before sandbox_fork returned);
//  if the parent dies first, the child _exits(127).
//  The child is pid 1 of its pid namespace: a signal whose handler is
//  SIG_DFL is ignored unless it is SIGKILL/SIGSTOP from the monitor or
//  kernel-forced — so SIGXCPU at RLIMIT_CPU does nothing and the hard limit
//  kills with SIGKILL, and os.kill(1, ...) from user code is a no-op. The
//  monitor should stop the executor with SIGKILL, interrupt it with SIGINT
//  (Python installs a handler), and tell a CPU-limit SIGKILL from its own
//  by the child's rusage.
//  Returns the child's pid in the parent. On failure returns -1 with errno
//  set and report->why saying why; a child already created is killed and
//  reaped. Without user namespaces it returns -1 (the caller decides, per
//  sandbox_require, whether to run without them).
//  The caller must be single-threaded (like any fork in a process that will
//  keep running code).
pid_t sandbox_fork (const sandbox_config_t *config, sandbox_report_t *report);

//  The report sandbox_fork's child holds when it returns 0, made again
//  from the same config by a child that exec'd before sandbox_enter (the
//  monitor's fallback executor, kmq-executor --executor): the namespaces
//  it was cloned into are still in force, and nothing else is yet.
void sandbox_exec_report (const sandbox_config_t *config, sandbox_report_t *report);

//  In the child after sandbox_fork returned 0, before Python initialises:
//  filesystem (tmpfs root, read-only /usr and the few /etc files needed,
//  tmpfs /work (the cwd) and /tmp of the configured size, private /proc,
//  minimal /dev, pivot_root), capabilities dropped and signals reset,
//  rlimits (hard == soft), no_new_privs, Landlock (what the ABI offers).
//  Returns 0, or -1 with report->why naming the failed layer (the caller
//  _exits). The environment is not touched: the executor builds its own.
int sandbox_enter (const sandbox_config_t *config, sandbox_report_t *report);

//  In the child, last: after Python and pandas/numpy/matplotlib are
//  imported, before the first request. Loads the seccomp allowlist on all
//  threads of the process (TSYNC: OpenBLAS may already have threads).
//  Default ERRNO(EPERM); KILL_PROCESS for attack-only calls and foreign
//  ABIs (i386, x32); clone only with CLONE_THREAD and no namespace flag;
//  clone3 ENOSYS (glibc then falls back to clone); fork, exec and socket()
//  EPERM. Returns 0, or -1 with report->why saying why.
int sandbox_seal (const sandbox_config_t *config, sandbox_report_t *report);

//  Builds what sandbox_seal loads (the allowlist's BPF program), once per
//  process; sandbox_seal builds it itself when it was not. A zygote calls
//  it before it forks, so each child loads the zygote's program, shared,
//  instead of building its own into pages it would copy. Returns 0, or -1
//  with report->why saying why.
int sandbox_seal_prepare (sandbox_report_t *report);

//  "namespaces", "filesystem", ... for one SANDBOX_L_* bit (the names are
//  the kernel contract's, kernel_contract_layer_name); "?" otherwise.
const char *sandbox_layer_name (unsigned layer);

//  Writes "applied: namespaces,filesystem,...; missing: cgroup (no
//  delegated cgroup v2 hierarchy)" into buf (always NUL-terminated when
//  size > 0). Returns the length the full text needs, like snprintf.
size_t sandbox_report_format (const sandbox_report_t *report, char *buf, size_t size);

//  Selftest of what runs without namespaces: defaults, report formatting.
void sandbox_test (bool verbose);

#endif
