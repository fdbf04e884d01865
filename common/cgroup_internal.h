/*  cgroup_internal — what cgroup.c shares with its selftest
    (cgroup_test.c). Not for other modules.
*/
#ifndef KMQ_CGROUP_INTERNAL_H
#define KMQ_CGROUP_INTERNAL_H

#include "cgroup.h"

//  Reads up to size-1 bytes of path into buf. Returns 0 or -1 (errno).
int cgroup_internal_read (const char *path, char *buf, size_t size);

//  The number a cgroup file holds ("max" reads as 0). Returns 0 or -1.
int cgroup_internal_number (const char *path, uint64_t *value);

//  A process's start time in clock ticks; 0 when it does not exist.
uint64_t cgroup_internal_start_time (pid_t pid);

//  True when instance ("<id>.<pid>.<start>") names a live process, or is
//  no instance's name at all (left alone).
bool cgroup_internal_instance_alive (const char *instance);

//  True for a child's plain name: 1-64 of [A-Za-z0-9-].
bool cgroup_internal_name_valid (const char *name);

#endif
