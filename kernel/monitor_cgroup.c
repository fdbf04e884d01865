/*  monitor_cgroup — the monitor's part of the cgroup layer (see
    monitor_internal.h and common/cgroup.h).

    The kernel host makes the group; only the monitor knows its executor's
    pid (a pool child of the zygote, or a child forked here), so the
    monitor moves it in, before the first request reaches it, and is the
    one to say whether the layer holds. After a death it asks the group
    whether its OOM killer was the cause, so the client reads "memory
    limit (256 MiB) exceeded", not "signal 9".
*/
#include "monitor_internal.h"
#include "cgroup.h"
#include "mem.h"

#include <czmq.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

void
monitor_cgroup_place (monitor_t *self)
{
    const char *list = self->config->cgroup;
    if (!list || !*list) {
        snprintf (self->cgroup_note, sizeof self->cgroup_note,
                  "the kernel host placed the executor in no control group (cgroup "
                  "none or unavailable: rlimits, tmpfs quotas and the host's admission "
                  "control bound its memory)");
        return;
    }
#if defined (KMQ_SANDBOX_TEST_SWITCHES)
    //  Test builds only (kmq-kernel-testsw): leave the executor out of its
    //  group, to show what the layer holds (tests/it_cgroup.sh)
    const char *skip = getenv ("KMQ_SANDBOX_SKIP");
    if (skip && (strtoul (skip, NULL, 0) & SANDBOX_L_CGROUP)) {
        snprintf (self->cgroup_note, sizeof self->cgroup_note, "skipped (test switch)");
        return;
    }
#endif
    char why [320];
    //  Forked by the zygote inside a spare group: renamed to ours, no move
    //  (cgroup.h: a move waits out an RCU grace period, 5-16 ms)
    if (*self->exec.spare) {
        if (cgroup_adopt_spare (list, self->exec.spare, why, sizeof why) == 0) {
            self->cgroup_placed = true;
            monitor_debug (self, "%s: executor %d's group %s renamed to %s", self->name,
                           (int) self->exec.pid, self->exec.spare, list);
            return;
        }
        zsys_warning ("%s: cgroup: adopting spare group %s: %s; moving the executor "
                      "instead", self->name, self->exec.spare, why);
    }
    if (cgroup_attach (list, self->exec.pid, why, sizeof why)) {
        snprintf (self->cgroup_note, sizeof self->cgroup_note, "placing executor %d: %s",
                  (int) self->exec.pid, why);
        zsys_error ("%s: cgroup: %s", self->name, self->cgroup_note);
        return;
    }
    self->cgroup_placed = true;
    monitor_debug (self, "%s: executor %d placed in %s", self->name,
                   (int) self->exec.pid, list);
}

//  Copies text without its "cgroup: ..." part (up to the next "; ").
static char *
s_without_cgroup (const char *text)
{
    char *copy = mem_strdup (text? text: "");
    char *at = strstr (copy, "cgroup: ");
    if (at && (at == copy || (at >= copy + 2 && at [-1] == ' ' && at [-2] == ';'))) {
        char *end = strstr (at, "; ");
        char *from = at == copy? at: at - 2;
        if (end)
            memmove (from, at == copy? end + 2: end, strlen (end) + 1);
        else
            *from = 0;
    }
    return copy;
}

void
monitor_cgroup_report (monitor_t *self, const char *applied, const char *missing,
                       char **applied_p, char **missing_p)
{
    char *rest = s_without_cgroup (missing);
    if (self->cgroup_placed) {
        *applied_p = mem_sprintf ("%s%scgroup", applied? applied: "",
                                  applied && *applied? ",": "");
        *missing_p = rest;
    }
    else {
        *applied_p = mem_strdup (applied? applied: "");
        *missing_p = mem_sprintf ("%s%scgroup: %s", rest, *rest? "; ": "",
                                  self->cgroup_note);
        free (rest);
    }
}

bool
monitor_cgroup_cause (monitor_t *self, char *cause, size_t size)
{
    if (!self->cgroup_placed || self->kill_sent)
        return false;
    //  Only a SIGKILL (or an end the zygote could not describe) can be the
    //  OOM killer's
    int status = self->exec_status;
    if (status != -1 && !(WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL))
        return false;
    uint64_t limit;
    bool own;
    if (!cgroup_oom (self->config->cgroup, &limit, &own))
        return false;
    if (own && limit)
        snprintf (cause, size, "memory limit (%llu MiB) exceeded: heap, files in /work, "
                  "/tmp and /dev/shm count together",
                  (unsigned long long) (limit >> 20));
    else
        snprintf (cause, size, "out of memory: the kernel host's memory (host_memory) "
                  "ran out, and this session held the most");
    return true;
}
