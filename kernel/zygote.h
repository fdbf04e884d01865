/*  zygote — forks sandboxed executors from one interpreter already loaded.

    `kmq-kernel --zygote SOCKET --pool N [limits]`, started by the kernel
    host (one per host); kmq-kernel, which holds no interpreter, execs
    kmq-executor with that argv, which runs zygote_run. It starts CPython
    exactly as an executor does (executor.c), loads the glue (pandas,
    numpy), imports matplotlib, builds the seccomp program its children
    load (sandbox_seal_prepare), freezes the collector (gc.freeze: children's collections then leave the
    shared pages alone), and serves monitors on SOCKET (AF_UNIX
    SOCK_SEQPACKET, mode 0600). It keeps N pool children: each forked with
    sandbox_fork, entered and sealed like a fresh executor, waiting for a
    session. A monitor's `spawn` (protocol.md section 10) gets a pool
    child, or an on-demand fork when the pool is empty; the monitor's
    connection then stays open as the executor's supervision channel.

    Single-threaded by design and checked before every fork (a fork copies
    only the calling thread; Landlock and seccomp are per-thread state): no
    ZeroMQ context ever exists here, logs go to stderr in zsys's shape
    without zsys.
*/
#ifndef KMQ_ZYGOTE_H
#define KMQ_ZYGOTE_H

#include <stdbool.h>
#include <stdint.h>
#include "executor.h"

typedef struct {
    const char *socket_path;    //  where monitors connect
    uint64_t pool_size;         //  executors kept ready; 0 = fork on demand
    executor_config_t executor; //  sandbox, max_payload and fingerprint of
                                //  every executor; session and state_lost
                                //  come with each spawn
    const char *cgroup_spares;  //  the host's parent groups (a cgroup.h group
                                //  list) whose spare-N children pool
                                //  executors are forked into; NULL: none
    bool verbose;
    unsigned test_faults;       //  TEST_FAULT_* (test_faults.h); 0 in production
} zygote_config_t;

//  Runs the zygote until SIGTERM, SIGINT or SIGHUP. Returns the process
//  exit status: 0 on a signal, 1 when it could not start. Call before any
//  ZeroMQ or zsys use, single-threaded.
int zygote_run (const zygote_config_t *config);

#endif
