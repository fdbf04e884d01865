/*  host_ids — the outside uids/gids a kernel host gives its executors
    (executor_uid_base, executor_uid_count), checked once at start.

    An executor's outside id is base + (its pid mod count) (kernel/
    sandbox.c says why it is derived, not allocated). Two promises rest on
    the range, and both are checked here before any executor runs:
      - no two live executors share an id: count must be at least the
        kernel's pid_max (/proc/sys/kernel/pid_max), since only then are
        distinct live pids distinct mod count;
      - no executor shares an id with anyone else's user namespace: the
        range must not overlap any allocation in /etc/subuid or
        /etc/subgid (where podman, lxc and friends get theirs).
*/
#ifndef KMQ_HOST_IDS_H
#define KMQ_HOST_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Checks [base, base + count) against the pid_max in pid_max_path and the
//  allocations in each of subid_paths (NULL-terminated; a missing file
//  holds none). Returns 0, or -1 with why (a sentence saying what to
//  change).
int host_ids_check (uint64_t base, uint64_t count, const char *pid_max_path,
                    const char *const subid_paths [], char *why, size_t why_size);

//  Selftest.
void host_ids_test (bool verbose);

#endif
