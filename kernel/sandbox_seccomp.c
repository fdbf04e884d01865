/*  sandbox_seccomp — layer 7, loaded last by sandbox_seal: an allowlist.

    Default ERRNO(EPERM): Python turns it into PermissionError and keeps
    its state. KILL_PROCESS for calls only an attack makes, and for any
    foreign ABI (i386 via int 0x80, x32 numbers with bit 30 set): libseccomp
    sends a syscall of an architecture not in the filter to
    SCMP_FLTATR_ACT_BADARCH.

    The allowlist is what embedded CPython, pandas, numpy (BLAS threads),
    matplotlib (Agg savefig) and ordinary user code were seen to call
    (strace -f -c), plus their obvious relatives. Traps:
      - clone3 must fail with ENOSYS, not EPERM, or glibc does not fall
        back to clone and no thread can start;
      - clone is allowed only for threads: one masked comparison (libseccomp
        takes one comparison per argument per rule) requiring CLONE_THREAD
        and no namespace flag; fork/vfork/posix_spawn get EPERM;
      - the filter is synchronised to every thread (TSYNC): the BLAS pool
        may already run when the executor seals.

    The program is built once per process (sandbox_seal_prepare) and
    loaded with seccomp(2) directly. A zygote builds it before it forks, so
    its children share the program instead of each building its own:
    libseccomp's work in a child wrote 2.8 MiB of heap pages it shared with
    the zygote, copies every session then kept (bench/NOTES.md 3).
*/
#include "sandbox_internal.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *s_allowed [] = {
    //  memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore",
    "msync", "membarrier", "get_mempolicy", "set_mempolicy", "mbind",
    //  files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
    "pwritev", "preadv2", "pwritev2", "open", "openat", "openat2", "creat",
    "close", "close_range", "dup", "dup2", "dup3", "fcntl", "flock", "ioctl",
    "lseek", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs",
    "fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
    "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat",
    "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link",
    "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown",
    "fchown", "lchown", "fchownat", "umask", "truncate", "ftruncate",
    "fallocate", "fadvise64", "readahead", "fsync", "fdatasync", "sync_file_range",
    "sendfile", "copy_file_range", "splice", "tee", "utime", "utimes",
    "utimensat", "futimesat", "getxattr", "lgetxattr", "fgetxattr",
    "listxattr", "llistxattr", "flistxattr", "pipe", "pipe2", "memfd_create",
    "eventfd", "eventfd2", "inotify_init", "inotify_init1",
    "inotify_add_watch", "inotify_rm_watch",
    //  waiting
    "select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "futex",
    "futex_waitv", "nanosleep", "clock_nanosleep", "sched_yield", "pause",
    //  the executor's own socketpair (socket() itself is denied)
    "sendmsg", "recvmsg", "sendto", "recvfrom", "sendmmsg", "recvmmsg",
    "shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",
    //  time
    "clock_gettime", "clock_getres", "gettimeofday", "time", "times",
    "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    "alarm", "setitimer", "getitimer",
    //  signals (kill/tgkill are confined by the pid namespace, the outside
    //  uid and Landlock's signal scope)
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigsuspend", "sigaltstack", "kill", "tgkill",
    "tkill", "restart_syscall",
    //  process and thread state
    "exit", "exit_group", "wait4", "waitid", "getpid", "getppid", "gettid",
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
    "getgroups", "getpgrp", "getpgid", "getsid", "set_tid_address",
    "set_robust_list", "get_robust_list", "rseq", "arch_prctl", "uname",
    "sysinfo", "getrusage", "getrlimit", "setrlimit", "prlimit64",
    "getpriority", "setpriority", "sched_getaffinity", "sched_setaffinity",
    "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "getrandom", "capget", "getcpu",
    NULL
};

//  Only an attack calls these: the process dies and the monitor says why.
static const char *s_killed [] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module",
    "keyctl", "add_key", "request_key", "perf_event_open", "mount", "umount2",
    "pivot_root", "unshare", "setns", "open_by_handle_at", "personality",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "mount_setattr", "iopl", "ioperm",
    NULL
};

//  Namespace flags that must never accompany a thread clone.
#define S_CLONE_NS  (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET \
                    | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

static int
s_rule (scmp_filter_ctx ctx, uint32_t action, const char *name,
        sandbox_report_t *report)
{
    int nr = seccomp_syscall_resolve_name (name);
    if (nr == __NR_SCMP_ERROR)
        return 0;               //  not a syscall on this architecture
    int rc = seccomp_rule_add (ctx, action, nr, 0);
    if (rc < 0) {
        sandbox_note (report, SANDBOX_L_SECCOMP,
                      "seccomp_rule_add %s: %s", name, strerror (-rc));
        return -1;
    }
    return 0;
}

//  The allowlist as libseccomp's rules; NULL with report->why on failure.
static scmp_filter_ctx
s_rules (sandbox_report_t *report)
{
    scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ERRNO (EPERM));
    if (!ctx) {
        sandbox_note (report, SANDBOX_L_SECCOMP, "seccomp_init failed (out of memory?)");
        return NULL;
    }
    int rc;
    const char *step = "attr BADARCH";
    if ((rc = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
        goto fail;
    for (int i = 0; s_allowed [i]; i++)
        if (s_rule (ctx, SCMP_ACT_ALLOW, s_allowed [i], report))
            goto fail_noted;
    for (int i = 0; s_killed [i]; i++)
        if (s_rule (ctx, SCMP_ACT_KILL_PROCESS, s_killed [i], report))
            goto fail_noted;

    step = "rule clone";
    if ((rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (clone), 1,
                                SCMP_A0 (SCMP_CMP_MASKED_EQ,
                                         CLONE_THREAD | S_CLONE_NS, CLONE_THREAD))) < 0)
        goto fail;
    step = "rule clone3";
    if ((rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0)) < 0)
        goto fail;
    //  A new socketpair can reach nothing; socket() stays EPERM.
    step = "rule socketpair";
    if ((rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (socketpair), 1,
                                SCMP_A0 (SCMP_CMP_EQ, AF_UNIX))) < 0)
        goto fail;
    //  prctl, but not clearing the parent-death signal that ties the
    //  executor's life to its monitor.
    step = "rule prctl";
    if ((rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (prctl), 1,
                                SCMP_A0 (SCMP_CMP_NE, PR_SET_PDEATHSIG))) < 0)
        goto fail;
    return ctx;

fail:
    sandbox_note (report, SANDBOX_L_SECCOMP, "%s: %s", step, strerror (-rc));
fail_noted:
    seccomp_release (ctx);
    return NULL;
}

//  The BPF program, built once per process; read-only once built.
static struct sock_fprog s_program;

int
sandbox_seal_prepare (sandbox_report_t *report)
{
    if (s_program.filter)
        return 0;
    scmp_filter_ctx ctx = s_rules (report);
    if (!ctx)
        return -1;
    //  libseccomp 2.5 exports the program only to a descriptor
    //  (seccomp_export_bpf_mem is 2.6): a memfd, read back whole.
    const char *step = "memfd_create";
    struct sock_filter *filter = NULL;
    int fd = memfd_create ("kmq-seccomp", MFD_CLOEXEC);
    if (fd == -1)
        goto fail_errno;
    step = "seccomp_export_bpf";
    int rc = seccomp_export_bpf (ctx, fd);
    if (rc < 0) {
        errno = -rc;
        goto fail_errno;
    }
    step = "reading the exported program";
    off_t size = lseek (fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t) sizeof (struct sock_filter) != 0
    ||  size / (off_t) sizeof (struct sock_filter) > BPF_MAXINSNS) {
        errno = size < 0? errno: EINVAL;
        goto fail_errno;
    }
    filter = (struct sock_filter *) malloc ((size_t) size);
    if (!filter || pread (fd, filter, (size_t) size, 0) != size) {
        errno = filter? (errno? errno: EIO): ENOMEM;
        goto fail_errno;
    }
    close (fd);
    seccomp_release (ctx);
    s_program.len = (unsigned short) (size / (off_t) sizeof (struct sock_filter));
    s_program.filter = filter;
    return 0;

fail_errno:
    sandbox_note (report, SANDBOX_L_SECCOMP, "%s: %s", step, strerror (errno));
    free (filter);
    if (fd != -1)
        close (fd);
    seccomp_release (ctx);
    return -1;
}

int
sandbox_seccomp_apply (const sandbox_config_t *config, sandbox_report_t *report)
{
    (void) config;
    if (sandbox_seal_prepare (report))
        return -1;
    //  sandbox_enter set no_new_privs, which an unprivileged filter needs
    //  (libseccomp's seccomp_load set it again; so do we, it is idempotent).
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
        sandbox_note (report, SANDBOX_L_SECCOMP, "prctl NO_NEW_PRIVS: %s", strerror (errno));
        return -1;
    }
    //  TSYNC: on every thread, or on none (a positive return names the
    //  thread that could not take it).
    long rc = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
                       &s_program);
    if (rc > 0) {
        sandbox_note (report, SANDBOX_L_SECCOMP,
                      "seccomp: thread %ld could not be synchronised", rc);
        return -1;
    }
    if (rc < 0) {
        sandbox_note (report, SANDBOX_L_SECCOMP, "seccomp: %s%s", strerror (errno),
                      errno == EINVAL? " (kernel built without CONFIG_SECCOMP_FILTER?)": "");
        return -1;
    }
    report->applied |= SANDBOX_L_SECCOMP;
    return 0;
}
