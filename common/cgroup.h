/*  cgroup — the sandbox's last layer: one control group per executor
    (DESIGN.md §4, layer 8), the mechanism only.

    A kernel host owns one parent group (cgroup_host_new) and makes one
    child per kernel (cgroup_host_add) with the session's limits; the
    kernel's monitor moves its executor into that child (cgroup_attach)
    before it runs any user code, and reads after its death whether the
    memory controller killed it (cgroup_oom). The child is named to the
    kernel by a "group list": the child's directory in each hierarchy,
    ':'-separated ("/sys/fs/cgroup/memory/kmq/h.1.2/k1-7:/sys/fs/cgroup/
    pids/kmq/h.1.2/k1-7:..."), so the kernel needs no probe of its own.

    Which hierarchy, in order of preference (the setting cgroup):
      v2    a cgroup2 mount whose group of ours (/proc/self/cgroup "0::")
            is writable and offers memory and pids (systemd Delegate=yes,
            or a container's own cgroup namespace). The host moves itself
            into a leaf "kmq-host" of that group, enables the controllers
            below it, and keeps its groups beside that leaf.
      v1    the memory and pids hierarchies (cpu and cpuacct when mounted)
            where we may create groups (as root): <mount>/kmq/<instance>.
      none  neither: the caller says so and relies on admission control.

    Each parent is <base>/kmq/<host_id>.<pid>.<start time> ("the
    instance"): a host finds, and removes, the empty groups of instances
    whose process is gone (a host that crashed), never a live host's.

    What a child enforces: memory (v1 memory.limit_in_bytes, and
    memory.memsw.limit_in_bytes when swap accounting exists; v2
    memory.max and memory.swap.max 0) counts the executor's heap, its
    tmpfs pages (/work, /tmp, /dev/shm: a tmpfs page is charged to the
    group of the process that writes it) and its page cache together;
    pids (pids.max); CPU weight equal for every child (cpu.shares 1024 /
    cpu.weight 100) and an optional cap (cfs_quota_us / cpu.max).

    Nothing here logs: failures come back as a sentence in why. Paths are
    at most CGROUP_PATH_MAX bytes.
*/
#ifndef KMQ_CGROUP_H
#define KMQ_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_PATH_MAX 512

typedef enum {
    CGROUP_NONE = 0,
    CGROUP_V1 = 1,
    CGROUP_V2 = 2
} cgroup_mode_t;

//  What a kernel's child group enforces.
typedef struct {
    uint64_t memory_bytes;      //  0 = no limit
    uint64_t pids;              //  0 = no limit
    double cpu_quota;           //  CPUs at most (1.5 = one and a half); 0 = none
} cgroup_limits_t;

typedef struct _cgroup_host_t cgroup_host_t;

//  "auto", "v2", "v1", "none" -> 0..3 (CGROUP_NONE for "none"). Returns 0,
//  or -1 for any other text.
int cgroup_mode_parse (const char *text, bool *automatic, cgroup_mode_t *mode);

//  The host's parent group: with want "auto" the first of v2, v1 that
//  works, else exactly the one named. instance names it (host_id; the
//  pid and start time are added). Cleans the empty groups of dead
//  instances first; *cleaned counts them. Returns NULL with why filled
//  ("no cgroup v2 hierarchy with memory and pids delegated to us; cgroup
//  v1 memory: mkdir ...: Permission denied") when none can be used, or
//  when want is "none".
cgroup_host_t *cgroup_host_new (const char *want, const char *instance, size_t *cleaned,
                                char *why, size_t why_size);

//  Kills whatever is left in its children, removes them and the parent.
//  No-op on NULL.
void cgroup_host_destroy (cgroup_host_t **self_p);

//  CGROUP_V1 or CGROUP_V2.
cgroup_mode_t cgroup_host_mode (cgroup_host_t *self);

//  "cgroup v1 (memory, pids, cpu, cpuacct) at /sys/fs/cgroup/memory/kmq/
//  local.12.345", for logs.
const char *cgroup_host_describe (cgroup_host_t *self);

//  Caps the parent, so all children together stay within memory_bytes
//  (0 = no cap). Returns 0 or -1 with why.
int cgroup_host_limit (cgroup_host_t *self, uint64_t memory_bytes, char *why,
                       size_t why_size);

//  Makes child name (a plain name: [A-Za-z0-9-], as a kernel id) with
//  limits. Returns its group list (owned by the caller), or NULL with why.
char *cgroup_host_add (cgroup_host_t *self, const char *name,
                       const cgroup_limits_t *limits, char *why, size_t why_size);

//  Spare groups, for the zygote's pool (cgroup v1 only): moving another
//  process into a v1 group takes the cgroup threadgroup lock for writing,
//  which waits out an RCU grace period (5-16 ms measured here), while a
//  single-threaded process moving itself ("0" into tasks) does not. So
//  the zygote forks each pool child from inside a spare group (entering
//  and leaving it itself, cgroup_enter_self), and the child's monitor
//  renames that group to its kernel's (cgroup_adopt_spare): no move on a
//  session's start. Spares are children named "spare-N" made whole (made
//  and configured as "new-spare-N", then renamed) so that one seen is
//  ready. Makes those of spare-0 .. spare-(count-1) missing from every
//  hierarchy (one present in some only is being adopted, or holds what a
//  failed adoption left: never touched). Returns how many it made, or -1
//  with why (v2: 0, nothing made).
#define CGROUP_SPARES_EXTRA 2   //  spares beyond the pool's size (a fork on
                                //  demand, a hand-over that failed)
int cgroup_host_spares (cgroup_host_t *self, size_t count, const cgroup_limits_t *limits,
                        char *why, size_t why_size);

//  The parent's group list ("<base>:<base>:..."), for the zygote; owned
//  by the caller.
char *cgroup_host_parent_list (cgroup_host_t *self);

//  Removes child name: SIGKILLs what still runs in it, then rmdir in each
//  hierarchy. Returns 0, or -1 with errno EBUSY when a process still
//  lingers (call again later), or another errno.
int cgroup_host_remove (cgroup_host_t *self, const char *name);

//  CPU time child name has used, in ns (v1 cpuacct.usage, v2 cpu.stat
//  usage_usec). Returns 0, or -1 (no cpu accounting, or no such child).
int cgroup_host_cpu_ns (cgroup_host_t *self, const char *name, uint64_t *ns);

//  The directory of child name in the hierarchy holding controller
//  ("memory", "pids", "cpu", "cpuacct"), into buf. Returns 0, or -1 when
//  that controller is not in use.
int cgroup_host_dir (cgroup_host_t *self, const char *name, const char *controller,
                     char *buf, size_t size);

//  --- the kernel's side: a group list from cgroup_host_add -------------------

//  Moves pid (a whole process) into every group of list. Returns 0, or -1
//  with why ("write .../cgroup.procs: No such file or directory").
int cgroup_attach (const char *list, pid_t pid, char *why, size_t why_size);

//  The calling thread (the whole process when single-threaded) moves
//  itself into every group of list, a v1 list (its "tasks": no grace
//  period to wait out; spares exist only with v1). With spare (a child name, or NULL) the groups are list's
//  children of that name. Returns 0, or -1 with why.
int cgroup_enter_self (const char *list, const char *spare, char *why, size_t why_size);

//  True when child spare of list's first group exists and holds no
//  process: free for the next pool executor (the host makes spares whole,
//  so the first hierarchy speaks for all).
bool cgroup_spare_free (const char *list, const char *spare);

//  The kernel's side of a spare: its executor already runs in child
//  spare of list's parents; each group of list (the kernel's, empty) is
//  removed and the spare renamed to it. Returns 0, or -1 with why (the
//  caller then moves the executor with cgroup_attach).
int cgroup_adopt_spare (const char *list, const char *spare, char *why, size_t why_size);

//  After the executor's death: true when the memory controller's OOM
//  killer ended a process of the group (v1 memory.oom_control oom_kill,
//  v2 memory.events oom_kill). *limit gets the group's memory limit (0 =
//  none), *own whether the group itself reached it (false: the parent,
//  host_memory, or the whole machine ran out).
bool cgroup_oom (const char *list, uint64_t *limit, bool *own);

//  Selftest: mode names, group lists, instance names; and, when run as
//  root on a machine with cgroups, a real child made, attached, removed.
void cgroup_test (bool verbose);

#endif
