/*  host_lock — one kernel host per runtime dir (see host_lock.h). */
#include "host_lock.h"
#include "mem.h"
#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void
s_whole_file (struct flock *lock, short type)
{
    *lock = (struct flock) { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
}

int
host_lock_acquire (const char *runtime_dir)
{
    char *path = mem_sprintf ("%s/host.lock", runtime_dir);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free (path);
    if (fd == -1)
        return -1;
    struct flock lock;
    s_whole_file (&lock, F_WRLCK);
    if (fcntl (fd, F_SETLK, &lock) == -1) {
        int error = errno;
        close (fd);
        errno = error == EACCES || error == EAGAIN? EWOULDBLOCK: error;
        return -1;
    }
    return fd;
}

pid_t
host_lock_holder (const char *runtime_dir)
{
    char *path = mem_sprintf ("%s/host.lock", runtime_dir);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    free (path);
    if (fd == -1)
        return 0;
    struct flock lock;
    s_whole_file (&lock, F_WRLCK);
    pid_t holder = 0;
    if (fcntl (fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK)
        holder = lock.l_pid;
    close (fd);
    return holder;
}

//  --- selftest ------------------------------------------------------------

#include <sys/wait.h>

void
host_lock_test (bool verbose)
{
    (void) verbose;
    char dir [] = "/tmp/kmq-host-lock-XXXXXX";
    SELFTEST_CHECK (mkdtemp (dir));
    SELFTEST_CHECK (host_lock_holder (dir) == 0);
    int fd = host_lock_acquire (dir);
    SELFTEST_CHECK (fd >= 0);
    //  Another process sees us hold it, cannot take it, and asking twice
    //  does not release it
    pid_t pid = fork ();
    SELFTEST_CHECK (pid >= 0);
    if (pid == 0) {
        bool seen = host_lock_holder (dir) == getppid () && host_lock_holder (dir) == getppid ();
        _exit (seen && host_lock_acquire (dir) == -1 && errno == EWOULDBLOCK? 0: 1);
    }
    int status;
    SELFTEST_CHECK (waitpid (pid, &status, 0) == pid && WIFEXITED (status)
                    && WEXITSTATUS (status) == 0);
    close (fd);
    SELFTEST_CHECK (host_lock_holder (dir) == 0);
    fd = host_lock_acquire (dir);
    SELFTEST_CHECK (fd >= 0);
    close (fd);
    char *path = mem_sprintf ("%s/host.lock", dir);
    unlink (path);
    free (path);
    rmdir (dir);
    SELFTEST_CHECK (host_lock_acquire ("/nonexistent/dir") == -1 && errno != EWOULDBLOCK);
}
