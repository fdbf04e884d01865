/*  sandbox — the layer sequence, namespaces, capabilities, rlimits,
    no_new_privs and the report. The filesystem, Landlock
    and seccomp layers live in sandbox_fs.c, sandbox_landlock.c and
    sandbox_seccomp.c.
*/
#include "sandbox_internal.h"
#include "selftest.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MIB (1024ULL * 1024ULL)

//  Layer i is bit 1 << i, named by the kernel contract.
_Static_assert (SANDBOX_L_ALL == (1u << KERNEL_CONTRACT_LAYERS) - 1,
                "one SANDBOX_L_* bit per layer of kernel_contract_layer_name");

void
sandbox_config_from_settings (sandbox_config_t *config, const kernel_settings_t *settings)
{
    assert (config && settings);
    memset (config, 0, sizeof *config);
    config->memory_bytes = settings->memory_limit;
    config->cpu_seconds = settings->cpu_limit_s;
    config->work_quota = settings->work_quota;
    config->tmp_quota = settings->tmp_quota;
    config->max_threads = settings->max_threads;
    config->max_files = settings->max_files;
    config->max_file_size = settings->work_quota;
    config->uid_base = settings->executor_uid_base;
    config->uid_count = settings->executor_uid_count;
}

void
sandbox_config_defaults (sandbox_config_t *config)
{
    assert (config);
    kernel_settings_t defaults;
    kernel_contract_defaults (&defaults);
    sandbox_config_from_settings (config, &defaults);
}

const char *
sandbox_layer_name (unsigned layer)
{
    for (unsigned i = 0; i < KERNEL_CONTRACT_LAYERS; i++)
        if (layer == 1u << i)
            return kernel_contract_layer_name (i);
    return "?";
}

void
sandbox_note (sandbox_report_t *report, unsigned layer, const char *fmt, ...)
{
    report->applied &= ~layer;
    report->missing |= layer;
    char text [400];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    size_t used = strnlen (report->why, sizeof report->why - 1);
    size_t room = sizeof report->why - used;
    int n = snprintf (report->why + used, room, "%s%s: %s",
                      used ? "; " : "", sandbox_layer_name (layer), text);
    if (n < 0 || (size_t) n >= room)
        memcpy (report->why + sizeof report->why - 4, "...", 4);
}

//  Appends to a fixed buffer; on overflow the text is cut, never overrun.
typedef struct {
    char *buf;
    size_t size;
    size_t len;                 //  length the full text needs
} s_text_t;

static void
s_text_add (s_text_t *text, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    size_t room = text->len < text->size ? text->size - text->len : 0;
    int n = vsnprintf (room ? text->buf + text->len : NULL, room, fmt, args);
    va_end (args);
    if (n > 0)
        text->len += n;
}

static void
s_text_layers (s_text_t *text, unsigned layers)
{
    bool first = true;
    for (unsigned bit = 1; bit <= SANDBOX_L_CGROUP; bit <<= 1)
        if (layers & bit) {
            s_text_add (text, "%s%s", first ? "" : ",", sandbox_layer_name (bit));
            first = false;
        }
    if (first)
        s_text_add (text, "none");
}

size_t
sandbox_report_format (const sandbox_report_t *report, char *buf, size_t size)
{
    assert (report);
    s_text_t text = { buf, size, 0 };
    if (size)
        buf [0] = 0;
    s_text_add (&text, "applied: ");
    s_text_layers (&text, report->applied);
    if (report->missing) {
        s_text_add (&text, "; missing: ");
        s_text_layers (&text, report->missing);
    }
    if (report->why [0])
        s_text_add (&text, " (%.*s)", (int) sizeof report->why, report->why);
    return text.len;
}

//  True when the test switches ask to skip this layer (then it is noted
//  missing). Without KMQ_SANDBOX_TEST_SWITCHES nothing is ever skipped.
static bool
s_skipped (const sandbox_config_t *config, sandbox_report_t *report, unsigned layer)
{
#ifdef KMQ_SANDBOX_TEST_SWITCHES
    unsigned skip = config->skip;
    //  Without a mount namespace the filesystem layer would pivot the
    //  host's root: never run it without namespaces.
    if (skip & SANDBOX_L_NAMESPACES)
        skip |= SANDBOX_L_FILESYSTEM;
    //  Landlock refuses to load without no_new_privs (we hold no
    //  CAP_SYS_ADMIN); libseccomp sets no_new_privs itself at seal.
    if (skip & SANDBOX_L_NO_NEW_PRIVS)
        skip |= SANDBOX_L_LANDLOCK;
    if (skip & layer) {
        sandbox_note (report, layer, "skipped (test switch)");
        return true;
    }
#else
    (void) config; (void) report; (void) layer;
#endif
    return false;
}

//  ---------------------------------------------------------------------
//  Layer 8, cgroup, is not applied here: the kernel host makes the group
//  (common/cgroup.h) and the monitor, which knows the executor's pid,
//  moves it in and reports the layer (kernel/monitor_cgroup.c).

//  ---------------------------------------------------------------------
//  Layer 1: namespaces (parent side: the maps)

static int
s_write_file (const char *path, const char *text)
{
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = (ssize_t) strlen (text);
    ssize_t rc = write (fd, text, len);
    int err = errno;
    close (fd);
    errno = err;
    return rc == len ? 0 : -1;
}

//  Inside uid/gid 0 -> one unprivileged outside id per executor, so that
//  RLIMIT_NPROC (per real uid) is not shared between sessions and no
//  executor can signal, ptrace or read another's files by uid.
//
//  Why derived from the pid, not allocated: two processes fork executors
//  (the zygote for its pool, a monitor when the zygote is away), and a
//  pool child's map is written before anyone knows its session, so there
//  is no single place to keep a free list. The kernel already keeps one:
//  no two live processes share a pid. So id = base + pid mod count is
//  never held by two live executors as long as count >= pid_max, which
//  kmq-host checks at start (executor_uid_count); an id comes back only
//  with its pid, after its previous executor was reaped. The default
//  range, from 2^31, lies above every /etc/subuid allocation (kmq-host
//  refuses a range that overlaps one).
static int
s_write_maps (const sandbox_config_t *config, pid_t pid, sandbox_report_t *report)
{
    char path [64], map [64];
    snprintf (path, sizeof path, "/proc/%d/setgroups", (int) pid);
    if (s_write_file (path, "deny") && errno != ENOENT) {
        sandbox_note (report, SANDBOX_L_NAMESPACES,
                      "write %s: %s", path, strerror (errno));
        return -1;
    }
    uint64_t base = config->uid_base? config->uid_base: SANDBOX_UID_BASE;
    uint64_t count = config->uid_count? config->uid_count: SANDBOX_UID_COUNT;
    unsigned outside = (unsigned) (base + (uint64_t) pid % count);
    const char *names [2] = { "uid_map", "gid_map" };
    unsigned own [2] = { (unsigned) geteuid (), (unsigned) getegid () };
    bool shared = false;
    for (int i = 0; i < 2; i++) {
        snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, names [i]);
        snprintf (map, sizeof map, "0 %u 1\n", outside);
        if (s_write_file (path, map) == 0)
            continue;
        if (errno != EPERM) {
            sandbox_note (report, SANDBOX_L_NAMESPACES,
                          "write %s: %s", path, strerror (errno));
            return -1;
        }
        //  Not privileged: only our own id may be mapped.
        snprintf (map, sizeof map, "0 %u 1\n", own [i]);
        if (s_write_file (path, map)) {
            sandbox_note (report, SANDBOX_L_NAMESPACES,
                          "write %s: %s", path, strerror (errno));
            return -1;
        }
        shared = true;
    }
    if (shared) {
        //  Not a missing layer, but worth saying: threads count per uid.
        size_t used = strnlen (report->why, sizeof report->why - 1);
        snprintf (report->why + used, sizeof report->why - used,
                  "%snamespaces: mapped to own uid %u (not root): RLIMIT_NPROC "
                  "shared with other sessions", used ? "; " : "", own [0]);
    }
    return 0;
}

//  The child's half of the handshake: wait for "g" (maps written), become
//  uid/gid 0 of the namespace, arm PR_SET_PDEATHSIG (a uid change clears
//  it, so it is set here, after), then answer "a". If the parent died at
//  any point, the read sees EOF or the send fails: the child _exits.
static void
s_child_handshake (int sock, bool namespaces)
{
    char byte = 0;
    ssize_t n;
    do
        n = recv (sock, &byte, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n != 1 || byte != 'g')
        _exit (127);
    char answer = 'a';
    //  Our credentials were fixed at clone time (the caller's ids, unmapped
    //  here): become the mapped uid/gid 0.
    if (namespaces && (setresgid (0, 0, 0) || setresuid (0, 0, 0)))
        answer = 'u';
    if (prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
        answer = 'p';
    if (send (sock, &answer, 1, MSG_NOSIGNAL) != 1 || answer != 'a')
        _exit (127);
    close (sock);
}

static int
s_parent_handshake (int sock, pid_t pid, sandbox_report_t *report)
{
    if (send (sock, "g", 1, MSG_NOSIGNAL) != 1) {
        sandbox_note (report, SANDBOX_L_NAMESPACES,
                      "release child %d: %s", (int) pid, strerror (errno));
        return -1;
    }
    char answer = 0;
    ssize_t n;
    do
        n = recv (sock, &answer, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n == 1 && answer == 'a')
        return 0;
    int err = n < 0 ? errno : ECHILD;
    sandbox_note (report, SANDBOX_L_NAMESPACES, "child %d: %s", (int) pid,
                  answer == 'u' ? "setresuid/setresgid 0 failed in its user namespace"
                : answer == 'p' ? "PR_SET_PDEATHSIG failed"
                : n < 0 ? strerror (errno) : "exited during setup");
    errno = err;
    return -1;
}

//  Starts *report as sandbox_fork does in both processes. Returns true
//  when the namespaces layer is to be applied.
static bool
s_fork_report (const sandbox_config_t *config, sandbox_report_t *report)
{
    memset (report, 0, sizeof *report);
#ifndef KMQ_SANDBOX_TEST_SWITCHES
    if (config->skip)
        snprintf (report->why, sizeof report->why,
                  "skip: test switches not compiled in, ignored");
#endif
    return !s_skipped (config, report, SANDBOX_L_NAMESPACES);
}

void
sandbox_exec_report (const sandbox_config_t *config, sandbox_report_t *report)
{
    assert (config);
    assert (report);
    if (s_fork_report (config, report))
        report->applied |= SANDBOX_L_NAMESPACES;
}

pid_t
sandbox_fork (const sandbox_config_t *config, sandbox_report_t *report)
{
    assert (config);
    assert (report);
    bool namespaces = s_fork_report (config, report);
    int sync [2];
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync)) {
        int err = errno;
        sandbox_note (report, SANDBOX_L_NAMESPACES, "socketpair: %s", strerror (err));
        errno = err;
        return -1;
    }
    unsigned long flags = SIGCHLD;
    if (namespaces)
        flags |= CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET
               | CLONE_NEWIPC | CLONE_NEWUTS;
    //  Raw clone with a NULL stack behaves like fork: the child runs on a
    //  copy of our stack. glibc's fork handlers do not run (the caller is
    //  single-threaded); glibc >= 2.25 does not cache getpid().
    pid_t pid = (pid_t) syscall (SYS_clone, flags, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        int err = errno;
        sandbox_note (report, SANDBOX_L_NAMESPACES,
                      "clone: %s (user namespaces unavailable? check "
                      "/proc/sys/user/max_user_namespaces)", strerror (err));
        close (sync [0]);
        close (sync [1]);
        errno = err;
        return -1;
    }
    if (pid == 0) {
        close (sync [1]);
        s_child_handshake (sync [0], namespaces);
        if (namespaces)
            report->applied |= SANDBOX_L_NAMESPACES;
        return 0;
    }
    close (sync [0]);
    int rc = 0;
    if (namespaces)
        rc = s_write_maps (config, pid, report);
    if (rc == 0)
        rc = s_parent_handshake (sync [1], pid, report);
    int err = errno;
    close (sync [1]);
    if (rc) {
        kill (pid, SIGKILL);
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
        errno = err;
        return -1;
    }
    if (namespaces)
        report->applied |= SANDBOX_L_NAMESPACES;
    return pid;
}

//  ---------------------------------------------------------------------
//  Layer 3: capabilities dropped (securebits, bounding set, ambient,
//  effective/permitted/inheritable), signals reset to default, unblocked.

static int
s_caps_apply (sandbox_report_t *report)
{
    //  While we still hold CAP_SETPCAP (in our user namespace): lock out
    //  any way back to capabilities through uid 0.
    unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED
                       | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED
                       | SECBIT_KEEP_CAPS_LOCKED;
#ifdef SECBIT_NO_CAP_AMBIENT_RAISE
    bits |= SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
#endif
    if (prctl (PR_SET_SECUREBITS, bits, 0, 0, 0)) {
        sandbox_note (report, SANDBOX_L_CAPS, "PR_SET_SECUREBITS: %s", strerror (errno));
        return -1;
    }
    for (int cap = 0; prctl (PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0)) {
            sandbox_note (report, SANDBOX_L_CAPS,
                          "PR_CAPBSET_DROP %d: %s", cap, strerror (errno));
            return -1;
        }
    if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
        sandbox_note (report, SANDBOX_L_CAPS,
                      "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror (errno));
        return -1;
    }
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data [2];
    memset (data, 0, sizeof data);
    if (syscall (SYS_capset, &header, data)) {
        sandbox_note (report, SANDBOX_L_CAPS, "capset: %s", strerror (errno));
        return -1;
    }
    //  Reset every catchable signal: an inherited SIG_IGN on SIGINT would
    //  stop KeyboardInterrupt. glibc refuses its internal signals (EINVAL).
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset (&action.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction (sig, &action, NULL);
    sigset_t none;
    sigemptyset (&none);
    if (sigprocmask (SIG_SETMASK, &none, NULL)) {
        sandbox_note (report, SANDBOX_L_CAPS, "sigprocmask: %s", strerror (errno));
        return -1;
    }
    report->applied |= SANDBOX_L_CAPS;
    return 0;
}

//  ---------------------------------------------------------------------
//  Layer 4: rlimits, hard == soft so user code cannot raise them (raising
//  a hard limit needs CAP_SYS_RESOURCE in the initial user namespace).

static int
s_rlimit (sandbox_report_t *report, int resource, const char *name, uint64_t value)
{
    struct rlimit limit = { (rlim_t) value, (rlim_t) value };
    if (setrlimit (resource, &limit)) {
        sandbox_note (report, SANDBOX_L_RLIMITS, "setrlimit %s=%llu: %s",
                      name, (unsigned long long) value, strerror (errno));
        return -1;
    }
    return 0;
}

static int
s_rlimits_apply (const sandbox_config_t *config, sandbox_report_t *report)
{
    sandbox_config_t defaults;
    sandbox_config_defaults (&defaults);
    uint64_t work = config->work_quota ? config->work_quota : defaults.work_quota;
    uint64_t fsize = config->max_file_size ? config->max_file_size : work;
    uint64_t threads = config->max_threads ? config->max_threads : defaults.max_threads;
    uint64_t files = config->max_files ? config->max_files : defaults.max_files;

    if (s_rlimit (report, RLIMIT_CORE, "CORE", 0)
    ||  s_rlimit (report, RLIMIT_FSIZE, "FSIZE", fsize)
    ||  s_rlimit (report, RLIMIT_NOFILE, "NOFILE", files)
    ||  s_rlimit (report, RLIMIT_NPROC, "NPROC", threads))
        return -1;
    if (config->cpu_seconds
    &&  s_rlimit (report, RLIMIT_CPU, "CPU", config->cpu_seconds))
        return -1;
    //  ASan reserves terabytes of shadow address space: no RLIMIT_AS there.
#if !defined (__SANITIZE_ADDRESS__)
    if (config->memory_bytes
    &&  s_rlimit (report, RLIMIT_AS, "AS", config->memory_bytes))
        return -1;
#endif
    report->applied |= SANDBOX_L_RLIMITS;
    return 0;
}

//  ---------------------------------------------------------------------
//  Layer 5: no_new_privs (also what lets Landlock and seccomp load without
//  CAP_SYS_ADMIN). Inherited by every thread created afterwards.

static int
s_nnp_apply (sandbox_report_t *report)
{
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
        sandbox_note (report, SANDBOX_L_NO_NEW_PRIVS,
                      "PR_SET_NO_NEW_PRIVS: %s", strerror (errno));
        return -1;
    }
    report->applied |= SANDBOX_L_NO_NEW_PRIVS;
    return 0;
}

//  ---------------------------------------------------------------------

int
sandbox_enter (const sandbox_config_t *config, sandbox_report_t *report)
{
    assert (config);
    assert (report);
    if (report->applied & SANDBOX_L_NAMESPACES) {
        if (getuid () != 0) {
            sandbox_note (report, SANDBOX_L_NAMESPACES,
                          "uid map not in force (uid %u, expected 0)",
                          (unsigned) getuid ());
            return -1;
        }
        if (sethostname ("kmq", 3)) {
            sandbox_note (report, SANDBOX_L_NAMESPACES,
                          "sethostname: %s", strerror (errno));
            return -1;
        }
    }
    if (!s_skipped (config, report, SANDBOX_L_FILESYSTEM)
    &&  sandbox_fs_apply (config, report))
        return -1;
    if (!s_skipped (config, report, SANDBOX_L_CAPS)
    &&  s_caps_apply (report))
        return -1;
    if (!s_skipped (config, report, SANDBOX_L_RLIMITS)
    &&  s_rlimits_apply (config, report))
        return -1;
    if (!s_skipped (config, report, SANDBOX_L_NO_NEW_PRIVS)
    &&  s_nnp_apply (report))
        return -1;
    if (!s_skipped (config, report, SANDBOX_L_LANDLOCK)
    &&  sandbox_landlock_apply (config, report))
        return -1;
    return 0;
}

int
sandbox_seal (const sandbox_config_t *config, sandbox_report_t *report)
{
    assert (config);
    assert (report);
    if (s_skipped (config, report, SANDBOX_L_SECCOMP))
        return 0;
    return sandbox_seccomp_apply (config, report);
}

//  ---------------------------------------------------------------------

void
sandbox_test (bool verbose)
{
    if (verbose)
        printf ("\n");

    sandbox_config_t config;
    sandbox_config_defaults (&config);
    SELFTEST_CHECK (config.memory_bytes == 2048 * S_MIB);
    SELFTEST_CHECK (config.work_quota == 256 * S_MIB);
    SELFTEST_CHECK (config.tmp_quota == 256 * S_MIB);
    SELFTEST_CHECK (config.max_threads == 256);
    SELFTEST_CHECK (config.max_files == 1024);
    SELFTEST_CHECK (config.max_file_size == config.work_quota);
    SELFTEST_CHECK (config.skip == 0);

    SELFTEST_CHECK (strcmp (sandbox_layer_name (SANDBOX_L_NAMESPACES), "namespaces") == 0);
    SELFTEST_CHECK (strcmp (sandbox_layer_name (SANDBOX_L_CGROUP), "cgroup") == 0);
    SELFTEST_CHECK (strcmp (sandbox_layer_name (3), "?") == 0);
    SELFTEST_CHECK (strcmp (sandbox_layer_name (SANDBOX_L_NO_NEW_PRIVS), "no_new_privs") == 0
                 && strcmp (sandbox_layer_name (SANDBOX_L_LANDLOCK), "landlock") == 0
                 && strcmp (sandbox_layer_name (SANDBOX_L_SECCOMP), "seccomp") == 0);
    //  The largest file follows the /work quota it is given
    kernel_settings_t settings;
    kernel_contract_defaults (&settings);
    settings.work_quota = 1024 * S_MIB;
    sandbox_config_from_settings (&config, &settings);
    SELFTEST_CHECK (config.max_file_size == 1024 * S_MIB && config.skip == 0);

    sandbox_report_t report;
    memset (&report, 0, sizeof report);
    char text [256];
    size_t len = sandbox_report_format (&report, text, sizeof text);
    SELFTEST_CHECK (strcmp (text, "applied: none") == 0 && len == strlen (text));

    report.applied = SANDBOX_L_NAMESPACES | SANDBOX_L_FILESYSTEM;
    sandbox_note (&report, SANDBOX_L_CGROUP, "no delegated cgroup v2 hierarchy");
    sandbox_note (&report, SANDBOX_L_LANDLOCK, "kernel has no Landlock (%s)", "ENOSYS");
    len = sandbox_report_format (&report, text, sizeof text);
    if (verbose)
        printf ("   %s\n", text);
    SELFTEST_CHECK (strcmp (text, "applied: namespaces,filesystem; missing: landlock,cgroup "
                          "(cgroup: no delegated cgroup v2 hierarchy; landlock: "
                          "kernel has no Landlock (ENOSYS))") == 0);
    SELFTEST_CHECK (len == strlen (text));

    //  A layer that fails late loses its applied bit.
    sandbox_note (&report, SANDBOX_L_FILESYSTEM, "pivot_root: %s", "EINVAL");
    SELFTEST_CHECK (!(report.applied & SANDBOX_L_FILESYSTEM));
    SELFTEST_CHECK (report.missing & SANDBOX_L_FILESYSTEM);

    //  A small buffer is cut and NUL-terminated; the length is the full one.
    char small [10];
    size_t full = sandbox_report_format (&report, small, sizeof small);
    SELFTEST_CHECK (strlen (small) == sizeof small - 1);
    SELFTEST_CHECK (full > sizeof small);
    SELFTEST_CHECK (sandbox_report_format (&report, NULL, 0) == full);

    //  why never overflows, and says so with "..."
    for (int i = 0; i < 40; i++)
        sandbox_note (&report, SANDBOX_L_SECCOMP, "reason number %d is long enough", i);
    SELFTEST_CHECK (strlen (report.why) == sizeof report.why - 1);
    SELFTEST_CHECK (strcmp (report.why + sizeof report.why - 4, "...") == 0);
}
