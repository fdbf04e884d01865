/*  sandbox_landlock — layer 6: Landlock, with what the running kernel's ABI
    offers (detected with LANDLOCK_CREATE_RULESET_VERSION):

        ABI 1+  file access: read/exec under /usr, read under /etc /proc
                /dev, read-write under /work /tmp /dev/shm and on /dev/null,
                /dev/zero, /dev/full; nothing else (not even listing /: a
                rule on / would hand READ_DIR to the whole host whenever
                the filesystem layer is off)
        ABI 2+  REFER (rename/link across directories) only inside the
                writable trees
        ABI 3+  TRUNCATE handled
        ABI 4+  TCP bind and connect: all denied
        ABI 5+  IOCTL_DEV handled (no device ioctls)
        ABI 6+  scoped: abstract unix sockets and signals to processes
                outside the domain

    The constants and structs are defined here because the system headers
    (linux-libc-dev 6.1) stop at ABI 2; the kernel is what counts. Landlock
    binds the calling thread only: sandbox_enter runs before Python starts
    any thread, so every later thread inherits the domain.
*/
#include "sandbox_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#   define SYS_landlock_create_ruleset 444
#   define SYS_landlock_add_rule       445
#   define SYS_landlock_restrict_self  446
#endif

#define S_CREATE_RULESET_VERSION    (1U << 0)
#define S_RULE_PATH_BENEATH         1

#define S_FS_EXECUTE        (1ULL << 0)
#define S_FS_WRITE_FILE     (1ULL << 1)
#define S_FS_READ_FILE      (1ULL << 2)
#define S_FS_READ_DIR       (1ULL << 3)
#define S_FS_REMOVE_DIR     (1ULL << 4)
#define S_FS_REMOVE_FILE    (1ULL << 5)
#define S_FS_MAKE_CHAR      (1ULL << 6)
#define S_FS_MAKE_DIR       (1ULL << 7)
#define S_FS_MAKE_REG       (1ULL << 8)
#define S_FS_MAKE_SOCK      (1ULL << 9)
#define S_FS_MAKE_FIFO      (1ULL << 10)
#define S_FS_MAKE_BLOCK     (1ULL << 11)
#define S_FS_MAKE_SYM       (1ULL << 12)
#define S_FS_REFER          (1ULL << 13)       //  ABI 2
#define S_FS_TRUNCATE       (1ULL << 14)       //  ABI 3
#define S_FS_IOCTL_DEV      (1ULL << 15)       //  ABI 5
#define S_NET_BIND_TCP      (1ULL << 0)        //  ABI 4
#define S_NET_CONNECT_TCP   (1ULL << 1)        //  ABI 4
#define S_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)   //  ABI 6
#define S_SCOPE_SIGNAL      (1ULL << 1)        //  ABI 6

typedef struct {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;                //  ABI 4
    uint64_t scoped;                            //  ABI 6
} s_ruleset_attr_t;

typedef struct __attribute__ ((packed)) {
    uint64_t allowed_access;
    int32_t parent_fd;
} s_path_beneath_t;

#define S_READ      (S_FS_READ_FILE | S_FS_READ_DIR)
#define S_WRITE     (S_FS_WRITE_FILE | S_FS_REMOVE_DIR | S_FS_REMOVE_FILE \
                    | S_FS_MAKE_DIR | S_FS_MAKE_REG | S_FS_MAKE_SOCK      \
                    | S_FS_MAKE_FIFO | S_FS_MAKE_SYM | S_FS_REFER         \
                    | S_FS_TRUNCATE)

static const struct {
    const char *path;
    uint64_t access;
} s_rules [] = {
    { "/usr",       S_READ | S_FS_EXECUTE },
    { "/etc",       S_READ },
    { "/proc",      S_READ },
    { "/dev",       S_READ },
    { "/dev/null",  S_FS_READ_FILE | S_FS_WRITE_FILE | S_FS_TRUNCATE },
    { "/dev/zero",  S_FS_READ_FILE | S_FS_WRITE_FILE },
    { "/dev/full",  S_FS_READ_FILE | S_FS_WRITE_FILE },
    { "/dev/shm",   S_READ | S_WRITE },
    { "/work",      S_READ | S_WRITE },
    { "/tmp",       S_READ | S_WRITE },
    { NULL, 0 }
};

static int
s_add_rules (int ruleset, uint64_t handled, sandbox_report_t *report)
{
    for (int i = 0; s_rules [i].path; i++) {
        //  A path the filesystem layer did not build (test switch) is skipped.
        int fd = open (s_rules [i].path, O_PATH | O_CLOEXEC);
        if (fd < 0)
            continue;
        s_path_beneath_t rule = { s_rules [i].access & handled, fd };
        //  The non-directory rules carry file rights only (else EINVAL).
        long rc = syscall (SYS_landlock_add_rule, ruleset, S_RULE_PATH_BENEATH, &rule, 0);
        int err = errno;
        close (fd);
        if (rc) {
            sandbox_note (report, SANDBOX_L_LANDLOCK, "landlock_add_rule %s: %s",
                          s_rules [i].path, strerror (err));
            return -1;
        }
    }
    return 0;
}

int
sandbox_landlock_apply (const sandbox_config_t *config, sandbox_report_t *report)
{
    (void) config;
    long abi = syscall (SYS_landlock_create_ruleset, NULL, 0, S_CREATE_RULESET_VERSION);
    if (abi < 0) {
        if (errno == ENOSYS)
            sandbox_note (report, SANDBOX_L_LANDLOCK, "kernel has no Landlock (ENOSYS)");
        else
        if (errno == EOPNOTSUPP)
            sandbox_note (report, SANDBOX_L_LANDLOCK,
                          "Landlock disabled at boot (EOPNOTSUPP; add lsm=landlock)");
        else
            sandbox_note (report, SANDBOX_L_LANDLOCK, "ABI probe: %s", strerror (errno));
        return 0;               //  missing, not failed: the kernel decides
    }
    s_ruleset_attr_t attr = { 0, 0, 0 };
    attr.handled_access_fs = (S_FS_MAKE_SYM << 1) - 1;     //  ABI 1: bits 0..12
    if (abi >= 2) attr.handled_access_fs |= S_FS_REFER;
    if (abi >= 3) attr.handled_access_fs |= S_FS_TRUNCATE;
    if (abi >= 4) attr.handled_access_net = S_NET_BIND_TCP | S_NET_CONNECT_TCP;
    if (abi >= 5) attr.handled_access_fs |= S_FS_IOCTL_DEV;
    if (abi >= 6) attr.scoped = S_SCOPE_ABSTRACT_UNIX_SOCKET | S_SCOPE_SIGNAL;
    size_t size = abi >= 6 ? sizeof attr
                : abi >= 4 ? 2 * sizeof (uint64_t) : sizeof (uint64_t);

    int ruleset = (int) syscall (SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) {
        sandbox_note (report, SANDBOX_L_LANDLOCK,
                      "landlock_create_ruleset (ABI %ld): %s", abi, strerror (errno));
        return -1;
    }
    int rc = s_add_rules (ruleset, attr.handled_access_fs, report);
    if (rc == 0 && syscall (SYS_landlock_restrict_self, ruleset, 0)) {
        sandbox_note (report, SANDBOX_L_LANDLOCK,
                      "landlock_restrict_self: %s", strerror (errno));
        rc = -1;
    }
    close (ruleset);
    if (rc == 0)
        report->applied |= SANDBOX_L_LANDLOCK;
    return rc;
}
