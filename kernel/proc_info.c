/*  proc_info — facts about a child process (see proc_info.h).  */
#include <stdio.h>
#include <string.h>
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

uint64_t
proc_info_cpu_ms (pid_t pid)
{
    char path [64], text [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return PROC_INFO_UNKNOWN;
    size_t size = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [size] = 0;
    //  Fields after the command (which may hold spaces and parentheses):
    //  state is field 3, utime 14, stime 15.
    char *after = strrchr (text, ')');
    unsigned long long utime = 0, stime = 0;
    if (!after || sscanf (after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                          &utime, &stime) != 2)
        return PROC_INFO_UNKNOWN;
    long ticks = sysconf (_SC_CLK_TCK);
    return ticks > 0? (utime + stime) * 1000 / (uint64_t) ticks: PROC_INFO_UNKNOWN;
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
