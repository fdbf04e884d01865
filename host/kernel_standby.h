/*  kernel_standby — kmq-kernel processes started ahead of demand.

    Starting a kernel process costs an exec and the loading of some thirty
    shared libraries (libzmq's, libpython's): 3 to 7 ms on a 2-vCPU VM,
    the largest part of a new session's start. A standby kernel has paid
    that already: it runs `kmq-kernel --standby WORK_ROOT PADDING` (the
    host's work root, so that ps tells whose standby it is, and room for
    the title naming its session it takes later) and waits on its stdin,
    holding nothing of any session, for the argv of the session it is to
    become (kernel/main.c); from then on it is that session's kernel, as if
    it had been started with that argv.

    The assignment is the argv kernel_contract_argv builds, each string
    NUL-terminated, then end of file. A standby whose host goes away gets
    end of file with nothing before it (or PDEATHSIG) and exits 0.

    Taking a standby starts its replacement a little later (S_REFILL_DELAY_MS
    in kernel_standby.c), not at once: the replacement's exec would compete
    for the CPU with the start the standby was taken for. A standby that dies
    waiting is replaced after a backoff, so a kernel binary that cannot start
    does not spin the host.
*/
#ifndef KMQ_KERNEL_STANDBY_H
#define KMQ_KERNEL_STANDBY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct _kernel_standby_t kernel_standby_t;

//  Keeps up to size standby kernels of kernel_path (0: none, every kernel
//  is started on demand) for the host whose work root is work_root. Starts
//  none yet: kernel_standby_tick does.
kernel_standby_t *kernel_standby_new (const char *kernel_path, const char *work_root,
                                      size_t size);
//  Closes every standby's stdin (they exit) and frees the pool. No-op on NULL.
void kernel_standby_destroy (kernel_standby_t **self_p);

//  Hands argv (argv [0] included, NULL-terminated) to a waiting standby.
//  Returns its pid, now that session's kernel and no longer the pool's;
//  or 0 when none waits (or handing over failed: that one is stopped).
pid_t kernel_standby_assign (kernel_standby_t *self, char *const argv [], int64_t now);

//  Starts the standbys that are due. Returns the ms until the next one is,
//  or -1 when none is.
int64_t kernel_standby_tick (kernel_standby_t *self, int64_t now);

//  pid exited: true when it was a waiting standby (it is forgotten and
//  replaced after a backoff), false when it is not ours.
bool kernel_standby_reaped (kernel_standby_t *self, pid_t pid, int64_t now);

//  Standbys waiting now.
size_t kernel_standby_count (kernel_standby_t *self);

//  Selftest.
void kernel_standby_test (bool verbose);

#endif
