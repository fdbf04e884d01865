/*  host_memory — how much memory a kernel host promises, and to how many
    sessions: the arithmetic of admission control (DESIGN.md §4, layer 8).

    A session's worst case is what it can hold at most:
      - in a cgroup: memory_limit. Its group counts the heap, the tmpfs
        pages of /work, /tmp and /dev/shm and its page cache together;
      - without one: memory_limit (RLIMIT_AS bounds the heap, but tmpfs
        pages are not part of an address space) + work_quota + tmp_quota
        + /dev/shm (64 MiB, or tmp_quota when smaller) + the small scratch
        mounts (SANDBOX_SCRATCH_MAX).
    A host may hold host_memory bytes (0 = 90% of MemTotal). With a
    cgroup, the parent group is capped at host_memory, so the kernel
    enforces the sum; without one, the host admits a session only while
    sessions × worst case stays within host_memory, and the broker gives
    the next one SESSION_LIMIT with the sentence host_memory_refusal
    writes. memory_limit 0 (unlimited) has no worst case: no admission.
*/
#ifndef KMQ_HOST_MEMORY_H
#define KMQ_HOST_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

//  MemTotal of /proc/meminfo in bytes, 0 when unknown.
uint64_t host_memory_total (void);

//  cfg's host_memory, or 90% of total when it is 0 (total 0: 0).
uint64_t host_memory_budget (const config_t *cfg, uint64_t total);

//  A session's worst case in bytes (see above); 0 = unbounded
//  (memory_limit 0).
uint64_t host_memory_worst_case (const config_t *cfg, bool cgroup);

//  Sessions that fit: budget / worst_case; 0 = no bound (worst case 0 or
//  no budget).
uint64_t host_memory_sessions (uint64_t budget, uint64_t worst_case);

//  "host memory: 4 sessions × worst case 832 MiB would exceed host_memory
//  3072 MiB; raise host_memory or lower memory_limit (and the tmpfs
//  quotas)" for the sessions-th session, into buf.
void host_memory_refusal (uint64_t sessions, uint64_t worst_case, uint64_t budget,
                          char *buf, size_t size);

//  Selftest.
void host_memory_test (bool verbose);

#endif
