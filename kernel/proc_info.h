/*  proc_info — facts about a child process, for logs and limits.

    Reads what the kernel already knows (a wait status, /proc/PID/stat);
    changes nothing and keeps no state.
*/
#ifndef KMQ_PROC_INFO_H
#define KMQ_PROC_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

//  Writes how a process ended into buf (always NUL-terminated): "signal 9
//  (Killed)", "exit status 3", or for status -1 "unknown (reaped
//  elsewhere)".
void proc_info_describe_status (int status, char *buf, size_t size);

//  Returns the CPU time (user + system, all threads) pid has used, in ms,
//  from its CPU clock; PROC_INFO_UNKNOWN when it cannot be read (0 is a
//  real value: a freshly forked child has used none).
#define PROC_INFO_UNKNOWN UINT64_MAX
uint64_t proc_info_cpu_ms (pid_t pid);

//  Selftest.
void proc_info_test (bool verbose);

#endif
