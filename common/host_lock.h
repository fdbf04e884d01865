/*  host_lock — one kernel host per runtime dir.

    A kernel host holds a POSIX write lock on <runtime_dir>/host.lock for
    its whole life; the kernel releases it when the host dies, however it
    dies. A broker that would start a local host first asks who holds it
    (F_GETLK, which takes nothing: asking never makes a starting host
    think the dir is taken): a restarted broker finds the host its
    predecessor started.

    The trap of POSIX locks: closing any fd of the file drops the
    process's lock. The host opens it once and keeps that fd.
*/
#ifndef KMQ_HOST_LOCK_H
#define KMQ_HOST_LOCK_H

#include <stdbool.h>
#include <sys/types.h>

//  Takes the lock. Returns its fd (keep it open), or -1 with errno
//  EWOULDBLOCK when another process holds it, or another errno.
int host_lock_acquire (const char *runtime_dir);

//  The pid of the process holding runtime_dir's host lock, or 0 when none
//  does (or the dir has no lock file). A process never sees its own lock.
pid_t host_lock_holder (const char *runtime_dir);

//  Selftest.
void host_lock_test (bool verbose);

#endif
