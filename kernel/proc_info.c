/*  proc_info — facts about a child process (see proc_info.h).  */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc_info.h"

void
proc_info_describe_status (int status, char *buf, size_t size)
{
    if (status == -1)
        snprintf (buf, size, "unknown (reaped elsewhere)");
    else
    if (WIFSIGNALED (status))
        snprintf (buf, size, "signal %d (%s)", WTERMSIG (status),
                  strsignal (WTERMSIG (status)));
    else
    if (WIFEXITED (status))
        snprintf (buf, size, "exit status %d", WEXITSTATUS (status));
    else
        snprintf (buf, size, "wait status 0x%x", (unsigned) status);
}

//  The process's CPU clock: one syscall, where /proc/PID/stat is an open,
//  a read of formatted text and a parse (the monitor asks at every request).
uint64_t
proc_info_cpu_ms (pid_t pid)
{
    clockid_t clock;
    struct timespec spent;
    if (clock_getcpuclockid (pid, &clock) || clock_gettime (clock, &spent))
        return PROC_INFO_UNKNOWN;
    return (uint64_t) spent.tv_sec * 1000 + (uint64_t) spent.tv_nsec / 1000000;
}

//  --- selftest ------------------------------------------------------------

#include <signal.h>
#include "selftest.h"

void
proc_info_test (bool verbose)
{
    (void) verbose;
    char text [64];
    proc_info_describe_status (-1, text, sizeof text);
    SELFTEST_CHECK (strcmp (text, "unknown (reaped elsewhere)") == 0);
    pid_t pid = fork ();
    SELFTEST_CHECK (pid >= 0);
    if (pid == 0)
        _exit (3);
    int status;
    SELFTEST_CHECK (waitpid (pid, &status, 0) == pid);
    proc_info_describe_status (status, text, sizeof text);
    SELFTEST_CHECK (strcmp (text, "exit status 3") == 0);
    pid = fork ();
    SELFTEST_CHECK (pid >= 0);
    if (pid == 0) {
        raise (SIGKILL);
        _exit (0);
    }
    SELFTEST_CHECK (waitpid (pid, &status, 0) == pid);
    proc_info_describe_status (status, text, sizeof text);
    SELFTEST_CHECK (strcmp (text, "signal 9 (Killed)") == 0);
    //  a process's CPU time is a number; a pid that is gone is unknown
    SELFTEST_CHECK (proc_info_cpu_ms (getpid ()) != PROC_INFO_UNKNOWN);
    SELFTEST_CHECK (proc_info_cpu_ms (pid) == PROC_INFO_UNKNOWN);
}
