/*  sandbox_fs — layer 2: the executor's private filesystem.

    Built in a tmpfs mounted over /tmp (in our own mount namespace, so the
    host's /tmp is untouched), then pivot_root'ed into and the old root
    detached:

        /            tmpfs, read-only once built
        /usr         read-only bind of the host's /usr
        /bin /lib /lib64 /sbin   symlinks into usr/ (merged /usr), or
                     read-only binds when the host does not merge /usr
        /etc         a few read-only binds (ld.so.cache, localtime,
                     matplotlibrc, fonts/, alternatives/ — Debian's BLAS lives
                     behind /etc/alternatives) and a synthetic passwd/group
        /work        tmpfs, size = work_quota, the cwd
        /tmp         tmpfs, size = tmp_quota
        /proc        a new proc for the new pid namespace
        /dev         tmpfs with null zero full random urandom bound from the
                     host (no mknod in a user namespace), fd/std* symlinks,
                     /dev/shm tmpfs (64 MiB or tmp_quota if smaller)

    Bind mounts keep the host mount's locked flags (nosuid, nodev, noexec,
    atime): a read-only remount that drops one fails with EPERM in a user
    namespace, so the flags are read back with statvfs first.
*/
#include "sandbox_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define S_ROOT      "/tmp"      //  where the new root is built
#define S_MIB       (1024ULL * 1024ULL)
#define S_SHM_MAX   SANDBOX_SHM_MAX

//  /etc entries bound read-only when the host has them (found by tracing
//  python3 importing pandas, numpy, matplotlib and saving an Agg figure).
static const char *s_etc_entries [] = {
    "ld.so.cache", "localtime", "timezone", "matplotlibrc", "fonts",
    "alternatives", "mime.types", "os-release", NULL
};

//  Top-level entries that merged-/usr hosts make symlinks into usr/.
static const char *s_top_entries [] = { "bin", "sbin", "lib", "lib64", "lib32", NULL };

static const char s_passwd [] =
    "root:x:0:0:kmq:/work:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char s_group [] =
    "root:x:0:\n"
    "nogroup:x:65534:\n";

static int
s_fail (sandbox_report_t *report, const char *what, const char *path)
{
    sandbox_note (report, SANDBOX_L_FILESYSTEM, "%s %s: %s", what, path, strerror (errno));
    return -1;
}

static int
s_mount (sandbox_report_t *report, const char *source, const char *target,
         const char *fstype, unsigned long flags, const char *data)
{
    if (mount (source, target, fstype, flags, data) == 0)
        return 0;
    char what [96];
    snprintf (what, sizeof what, "mount %s (%s)", fstype ? fstype : "bind",
              source ? source : "-");
    return s_fail (report, what, target);
}

//  Bind source on target and make the bind read-only (plus nosuid, nodev),
//  keeping whatever flags the source mount has locked.
static int
s_bind_ro (sandbox_report_t *report, const char *source, const char *target)
{
    if (s_mount (report, source, target, NULL, MS_BIND, NULL))
        return -1;
    struct statvfs info;
    if (statvfs (target, &info))
        return s_fail (report, "statvfs", target);
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
    if (info.f_flag & ST_NOEXEC)     flags |= MS_NOEXEC;
    if (info.f_flag & ST_NOATIME)    flags |= MS_NOATIME;
    if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (info.f_flag & ST_RELATIME)   flags |= MS_RELATIME;
    return s_mount (report, NULL, target, NULL, flags, NULL);
}

static int
s_mkdir (sandbox_report_t *report, const char *path, mode_t mode)
{
    if (mkdir (path, mode) && errno != EEXIST)
        return s_fail (report, "mkdir", path);
    return 0;
}

static int
s_write_file (sandbox_report_t *report, const char *path, const char *text)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return s_fail (report, "create", path);
    ssize_t len = (ssize_t) strlen (text);
    ssize_t rc = write (fd, text, len);
    int err = errno;
    close (fd);
    errno = err;
    if (rc != len)
        return s_fail (report, "write", path);
    return 0;
}

//  Mirrors host entry `host` at `target`: a symlink is copied as a symlink
//  (its target must resolve inside the sandbox), a directory or a file is
//  bound read-only, a missing entry is skipped.
static int
s_mirror (sandbox_report_t *report, const char *host, const char *target)
{
    struct stat info;
    if (lstat (host, &info))
        return 0;
    if (S_ISLNK (info.st_mode)) {
        char link [512];
        ssize_t len = readlink (host, link, sizeof link - 1);
        if (len < 0)
            return s_fail (report, "readlink", host);
        link [len] = 0;
        if (symlink (link, target))
            return s_fail (report, "symlink", target);
        return 0;
    }
    if (S_ISDIR (info.st_mode)) {
        if (s_mkdir (report, target, 0755))
            return -1;
    }
    else
    if (S_ISREG (info.st_mode)) {
        int fd = open (target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return s_fail (report, "create", target);
        close (fd);
    }
    else
        return 0;               //  sockets, devices: never
    return s_bind_ro (report, host, target);
}

static int
s_build_etc (sandbox_report_t *report)
{
    char host [128], target [128];
    if (s_mkdir (report, S_ROOT "/etc", 0755))
        return -1;
    for (int i = 0; s_etc_entries [i]; i++) {
        snprintf (host, sizeof host, "/etc/%s", s_etc_entries [i]);
        snprintf (target, sizeof target, S_ROOT "/etc/%s", s_etc_entries [i]);
        if (s_mirror (report, host, target))
            return -1;
    }
    if (s_write_file (report, S_ROOT "/etc/passwd", s_passwd)
    ||  s_write_file (report, S_ROOT "/etc/group", s_group)
    ||  s_write_file (report, S_ROOT "/etc/hostname", "kmq\n"))
        return -1;
    return 0;
}

static int
s_build_dev (const sandbox_config_t *config, sandbox_report_t *report)
{
    static const char *devices [] = { "null", "zero", "full", "random", "urandom", NULL };
    static const char *links [][2] = {
        { "fd", "/proc/self/fd" },     { "stdin", "/proc/self/fd/0" },
        { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
        { NULL, NULL }
    };
    char host [64], target [96];
    if (s_mkdir (report, S_ROOT "/dev", 0755)
    ||  s_mount (report, "kmq-dev", S_ROOT "/dev", "tmpfs",
                 MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755"))
        return -1;
    for (int i = 0; devices [i]; i++) {
        snprintf (host, sizeof host, "/dev/%s", devices [i]);
        snprintf (target, sizeof target, S_ROOT "/dev/%s", devices [i]);
        int fd = open (target, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            return s_fail (report, "create", target);
        close (fd);
        if (s_mount (report, host, target, NULL, MS_BIND, NULL))
            return -1;
    }
    for (int i = 0; links [i][0]; i++) {
        snprintf (target, sizeof target, S_ROOT "/dev/%s", links [i][0]);
        if (symlink (links [i][1], target))
            return s_fail (report, "symlink", target);
    }
    uint64_t shm = config->tmp_quota && config->tmp_quota < S_SHM_MAX
                 ? config->tmp_quota : S_SHM_MAX;
    char options [64];
    snprintf (options, sizeof options, "size=%llu,mode=1777", (unsigned long long) shm);
    if (s_mkdir (report, S_ROOT "/dev/shm", 01777)
    ||  s_mount (report, "kmq-shm", S_ROOT "/dev/shm", "tmpfs",
                 MS_NOSUID | MS_NODEV | MS_NOEXEC, options))
        return -1;
    return 0;
}

static int
s_scratch (sandbox_report_t *report, const char *name, const char *target, uint64_t size)
{
    char options [64];
    snprintf (options, sizeof options, "size=%llu,mode=0755", (unsigned long long) size);
    if (s_mkdir (report, target, 0755)
    ||  s_mount (report, name, target, "tmpfs",
                 MS_NOSUID | MS_NODEV | MS_NOEXEC, options))
        return -1;
    return 0;
}

int
sandbox_fs_apply (const sandbox_config_t *config, sandbox_report_t *report)
{
    uint64_t work = config->work_quota ? config->work_quota : 256 * S_MIB;
    uint64_t tmp = config->tmp_quota ? config->tmp_quota : 256 * S_MIB;
    char host [64], target [96];

    //  Nothing we mount may propagate back to the host.
    if (s_mount (report, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)
    ||  s_mount (report, "kmq-root", S_ROOT, "tmpfs", MS_NOSUID | MS_NODEV,
                 "size=1m,nr_inodes=256,mode=0755"))
        return -1;
    if (s_mkdir (report, S_ROOT "/usr", 0755)
    ||  s_bind_ro (report, "/usr", S_ROOT "/usr"))
        return -1;
    for (int i = 0; s_top_entries [i]; i++) {
        snprintf (host, sizeof host, "/%s", s_top_entries [i]);
        snprintf (target, sizeof target, S_ROOT "/%s", s_top_entries [i]);
        if (s_mirror (report, host, target))
            return -1;
    }
    if (s_build_etc (report)
    ||  s_scratch (report, "kmq-work", S_ROOT "/work", work)
    ||  s_scratch (report, "kmq-tmp", S_ROOT "/tmp", tmp)
    ||  s_build_dev (config, report)
    ||  s_mkdir (report, S_ROOT "/proc", 0555)
    ||  s_mount (report, "proc", S_ROOT "/proc", "proc",
                 MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)
    ||  s_mkdir (report, S_ROOT "/oldroot", 0700))
        return -1;
    //  /tmp inside must be world-writable like any /tmp.
    if (chmod (S_ROOT "/tmp", 01777))
        return s_fail (report, "chmod", S_ROOT "/tmp");

    if (chdir (S_ROOT))
        return s_fail (report, "chdir", S_ROOT);
    if (syscall (SYS_pivot_root, ".", "oldroot"))
        return s_fail (report, "pivot_root", S_ROOT);
    if (chdir ("/"))
        return s_fail (report, "chdir", "/");
    if (umount2 ("/oldroot", MNT_DETACH))
        return s_fail (report, "umount", "/oldroot");
    if (rmdir ("/oldroot"))
        return s_fail (report, "rmdir", "/oldroot");
    if (s_mount (report, NULL, "/dev", NULL,
                 MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL)
    ||  s_mount (report, NULL, "/", NULL,
                 MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL))
        return -1;
    if (chdir ("/work"))
        return s_fail (report, "chdir", "/work");
    report->applied |= SANDBOX_L_FILESYSTEM;
    return 0;
}
