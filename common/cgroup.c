/*  cgroup — one control group per executor (see cgroup.h).               */
#include "cgroup_internal.h"
#include "mem.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Messages may be cut to fit their buffers (never paths: a base is at
//  most CGROUP_PATH_MAX - 200 bytes and a child's name 64, checked)
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define S_MIB           (1024ull * 1024)
#define S_HIERARCHIES   4
#define S_CFS_PERIOD_US 100000
//  A v1 memory limit at or above this is "none" (the kernel's
//  PAGE_COUNTER_MAX rounded to pages reads as 9223372036854771712)
#define S_V1_UNLIMITED  (1ull << 62)

//  The controllers we use, as bits of a hierarchy's mask.
enum { S_MEMORY = 1, S_PIDS = 2, S_CPU = 4, S_CPUACCT = 8 };
static const char *const s_controllers [] = { "memory", "pids", "cpu", "cpuacct" };

typedef struct {
    char base [CGROUP_PATH_MAX];    //  <mount>/kmq/<instance>, or v2's
    unsigned mask;                  //  S_MEMORY | ...
} s_hierarchy_t;

struct _cgroup_host_t {
    cgroup_mode_t mode;
    s_hierarchy_t hier [S_HIERARCHIES];
    size_t count;
    char instance [160];
    char describe [CGROUP_PATH_MAX + 96];
};

//  --- files --------------------------------------------------------------

//  Reads up to size-1 bytes of path into buf. Returns 0 or -1 (errno).
int
cgroup_internal_read (const char *path, char *buf, size_t size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    ssize_t n;
    do
        n = read (fd, buf, size - 1);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    close (fd);
    if (n < 0) {
        errno = saved;
        return -1;
    }
    buf [n] = 0;
    return 0;
}

//  Writes text to path in one write(2), as cgroup files want. Returns 0
//  or -1 (errno).
static int
s_write (const char *path, const char *text)
{
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    ssize_t n = write (fd, text, strlen (text));
    int saved = errno;
    close (fd);
    if (n != (ssize_t) strlen (text)) {
        errno = n < 0? saved: EIO;
        return -1;
    }
    return 0;
}

//  Writes text to dir/file; on failure fills why. Returns 0 or -1.
static int
s_set (const char *dir, const char *file, const char *text, char *why, size_t why_size)
{
    char path [CGROUP_PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s", dir, file);
    if (s_write (path, text) == 0)
        return 0;
    if (why)
        snprintf (why, why_size, "write %s to %s: %s", text, path, strerror (errno));
    return -1;
}

//  The number after "key " in a flat keyed file (memory.events,
//  memory.oom_control, cpu.stat). Returns 0 or -1.
static int
s_keyed (const char *path, const char *key, uint64_t *value)
{
    char text [2048];
    if (cgroup_internal_read (path, text, sizeof text))
        return -1;
    size_t len = strlen (key);
    for (char *line = text; line && *line; ) {
        if (strncmp (line, key, len) == 0 && line [len] == ' ') {
            *value = strtoull (line + len + 1, NULL, 10);
            return 0;
        }
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    errno = ENOENT;
    return -1;
}

int
cgroup_internal_number (const char *path, uint64_t *value)
{
    char text [64];
    if (cgroup_internal_read (path, text, sizeof text))
        return -1;
    if (strncmp (text, "max", 3) == 0) {
        *value = 0;
        return 0;
    }
    *value = strtoull (text, NULL, 10);
    return 0;
}

//  --- names --------------------------------------------------------------

int
cgroup_mode_parse (const char *text, bool *automatic, cgroup_mode_t *mode)
{
    assert (text && automatic && mode);
    *automatic = strcmp (text, "auto") == 0;
    *mode = CGROUP_NONE;
    if (*automatic || strcmp (text, "none") == 0)
        return 0;
    if (strcmp (text, "v1") == 0)
        *mode = CGROUP_V1;
    else
    if (strcmp (text, "v2") == 0)
        *mode = CGROUP_V2;
    else
        return -1;
    return 0;
}

//  A process's start time in clock ticks (field 22 of /proc/PID/stat),
//  which with its pid names it for good. 0 when it does not exist.
uint64_t
cgroup_internal_start_time (pid_t pid)
{
    char path [64], text [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    if (cgroup_internal_read (path, text, sizeof text))
        return 0;
    //  The command name may hold spaces and parentheses: count from the last ')'
    char *p = strrchr (text, ')');
    if (!p)
        return 0;
    for (int field = 2; field < 22 && p; field++)
        p = strchr (p + 1, ' ');
    return p? strtoull (p + 1, NULL, 10): 0;
}

//  True when instance ("<id>.<pid>.<start>") names a process that runs:
//  its pid lives with the same start time. A name that is not an
//  instance's counts as alive (it is left alone).
bool
cgroup_internal_instance_alive (const char *instance)
{
    const char *last = strrchr (instance, '.');
    if (!last || last == instance)
        return true;
    const char *before = last - 1;
    while (before > instance && *before != '.')
        before--;
    if (*before != '.')
        return true;
    char *end;
    unsigned long long pid = strtoull (before + 1, &end, 10);
    if (end != last || pid == 0 || pid > INT32_MAX)
        return true;
    unsigned long long start = strtoull (last + 1, &end, 10);
    if (*end || !isdigit ((unsigned char) last [1]))
        return true;
    return cgroup_internal_start_time ((pid_t) pid) == start;
}

//  The plain names a child may have: what a kernel id is made of.
bool
cgroup_internal_name_valid (const char *name)
{
    size_t len = strlen (name);
    return len > 0 && len <= 64
        && strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789-") == len;
}

//  --- discovery ----------------------------------------------------------

//  The mount point of the v1 hierarchy holding controller, or of the
//  cgroup2 hierarchy when controller is NULL, into buf. Returns 0 or -1.
static int
s_mount_point (const char *controller, char *buf, size_t size)
{
    FILE *file = fopen ("/proc/self/mountinfo", "re");
    if (!file)
        return -1;
    char line [2048];
    int rc = -1;
    while (rc && fgets (line, sizeof line, file)) {
        char point [CGROUP_PATH_MAX], fstype [32], source [64], options [512];
        //  id parent major:minor root mount-point options... - fstype source super
        const char *dash = strstr (line, " - ");
        if (!dash || sscanf (line, "%*s %*s %*s %*s %511s", point) != 1
        ||  sscanf (dash + 3, "%31s %63s %511s", fstype, source, options) != 3)
            continue;
        if (!controller) {
            if (strcmp (fstype, "cgroup2") == 0)
                rc = 0;
        }
        else
        if (strcmp (fstype, "cgroup") == 0) {
            char *save = NULL;
            for (char *opt = strtok_r (options, ",", &save); opt;
                 opt = strtok_r (NULL, ",", &save))
                if (strcmp (opt, controller) == 0)
                    rc = 0;
        }
        if (rc == 0)
            snprintf (buf, size, "%s", point);
    }
    fclose (file);
    return rc;
}

//  SIGKILL to every process in group dir but ours.
static void
s_kill_members (const char *dir)
{
    char path [CGROUP_PATH_MAX + 32], pids [4096];
    snprintf (path, sizeof path, "%s/cgroup.procs", dir);
    if (cgroup_internal_read (path, pids, sizeof pids) == 0)
        for (char *p = pids; *p; ) {
            long pid = strtol (p, &p, 10);
            if (pid > 1 && pid != (long) getpid ())
                kill ((pid_t) pid, SIGKILL);
            while (*p == '\n')
                p++;
            if (pid <= 0)
                break;
        }
}

//  Removes one child dir: SIGKILL to what runs in it, then rmdir.
//  Returns 0 or -1 (errno; EBUSY while a process lingers).
static int
s_remove_dir (const char *dir)
{
    s_kill_members (dir);
    if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
    return -1;
}

//  Removes the children of dir (each s_remove_dir), then dir itself, and
//  what runs in it (v1: the zygote lives in the parent, cgroup.h).
//  A SIGKILLed task leaves its group only once the kernel has run its
//  exit, so a busy group is retried every 5 ms for up to a second: the
//  callers (host exit, stale-host cleanup) have no later tick to retry
//  from. Returns the children removed.
static size_t
s_remove_tree (const char *dir)
{
    size_t removed = 0;
    for (int attempt = 0; attempt < 200; attempt++) {
        bool busy = false;
        DIR *handle = opendir (dir);
        if (!handle)
            break;
        struct dirent *entry;
        while ((entry = readdir (handle)))
            if (entry->d_type == DT_DIR && entry->d_name [0] != '.') {
                char child [CGROUP_PATH_MAX + 300];
                snprintf (child, sizeof child, "%s/%s", dir, entry->d_name);
                if (s_remove_dir (child) == 0)
                    removed++;
                else
                    busy = true;
            }
        closedir (handle);
        if (!busy && s_remove_dir (dir) == 0)
            break;
        usleep (5000);
    }
    return removed;
}

//  Removes the instances under top (<...>/kmq) whose host is gone.
static size_t
s_clean_stale (const char *top, const char *mine)
{
    size_t cleaned = 0;
    DIR *handle = opendir (top);
    if (!handle)
        return 0;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        if (entry->d_type == DT_DIR && entry->d_name [0] != '.'
        &&  strcmp (entry->d_name, mine) != 0
        &&  !cgroup_internal_instance_alive (entry->d_name)) {
            char dir [CGROUP_PATH_MAX + 300];
            snprintf (dir, sizeof dir, "%s/%s", top, entry->d_name);
            cleaned += s_remove_tree (dir) + 1;
        }
    closedir (handle);
    return cleaned;
}

//  mkdir that takes an existing directory.
static int
s_mkdir (const char *path)
{
    return mkdir (path, 0755) == 0 || errno == EEXIST? 0: -1;
}

//  Makes <base>/kmq/<instance> in the hierarchy at mount; enables the
//  controllers below each level on v2. Returns 0 or -1 with why.
static int
s_make_parent (cgroup_host_t *self, const char *base, const char *enable,
               s_hierarchy_t *hier, size_t *cleaned, char *why, size_t why_size)
{
    char top [CGROUP_PATH_MAX];
    if ((size_t) snprintf (top, sizeof top, "%s/kmq", base) >= sizeof top - 200) {
        snprintf (why, why_size, "%s: path too long", base);
        return -1;
    }
    if (s_mkdir (top)) {
        snprintf (why, why_size, "mkdir %s: %s", top, strerror (errno));
        return -1;
    }
    if (enable && s_set (top, "cgroup.subtree_control", enable, why, why_size))
        return -1;
    *cleaned += s_clean_stale (top, self->instance);
    snprintf (hier->base, sizeof hier->base, "%s/%s", top, self->instance);
    if (s_mkdir (hier->base)) {
        snprintf (why, why_size, "mkdir %s: %s", hier->base, strerror (errno));
        return -1;
    }
    if (enable && s_set (hier->base, "cgroup.subtree_control", enable, why, why_size))
        return -1;
    return 0;
}

static int
s_try_v1 (cgroup_host_t *self, size_t *cleaned, char *why, size_t why_size)
{
    self->mode = CGROUP_V1;
    for (unsigned i = 0; i < S_HIERARCHIES; i++) {
        char point [CGROUP_PATH_MAX];
        if (s_mount_point (s_controllers [i], point, sizeof point)) {
            if ((1u << i) & (S_MEMORY | S_PIDS)) {
                snprintf (why, why_size, "no cgroup v1 %s hierarchy mounted",
                          s_controllers [i]);
                return -1;
            }
            continue;
        }
        //  cpu and cpuacct are often mounted together: one hierarchy
        size_t h;
        char top [CGROUP_PATH_MAX + 8];
        snprintf (top, sizeof top, "%s/kmq", point);
        for (h = 0; h < self->count; h++)
            if (strncmp (self->hier [h].base, top, strlen (top)) == 0
            &&  self->hier [h].base [strlen (top)] == '/')
                break;
        if (h == self->count) {
            if (s_make_parent (self, point, NULL, &self->hier [h], cleaned, why, why_size))
                return -1;
            self->count++;
        }
        self->hier [h].mask |= 1u << i;
    }
    return 0;
}

//  Our own cgroup2 group ("0::/path") under mount, into buf.
static int
s_own_v2 (const char *mount, char *buf, size_t size)
{
    char text [4096];
    if (cgroup_internal_read ("/proc/self/cgroup", text, sizeof text))
        return -1;
    char *line = strstr (text, "0::");
    if (!line || (line != text && line [-1] != '\n'))
        return -1;
    line += 3;
    line [strcspn (line, "\n")] = 0;
    snprintf (buf, size, "%s%s", mount, strcmp (line, "/") == 0? "": line);
    return 0;
}

static int
s_try_v2 (cgroup_host_t *self, size_t *cleaned, char *why, size_t why_size)
{
    self->mode = CGROUP_V2;
    char mount [CGROUP_PATH_MAX], own [CGROUP_PATH_MAX], text [512];
    if (s_mount_point (NULL, mount, sizeof mount)) {
        snprintf (why, why_size, "no cgroup v2 hierarchy mounted");
        return -1;
    }
    if (s_own_v2 (mount, own, sizeof own)) {
        snprintf (why, why_size, "no cgroup v2 entry in /proc/self/cgroup");
        return -1;
    }
    char path [CGROUP_PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/cgroup.controllers", own);
    if (cgroup_internal_read (path, text, sizeof text)
    ||  !strstr (text, "memory") || !strstr (text, "pids")) {
        snprintf (why, why_size, "cgroup v2 group %s has no memory and pids controllers "
                  "(none delegated to us: cgroup v1 or hybrid)", own);
        return -1;
    }
    bool cpu = strstr (text, "cpu ") || strstr (text, "cpu\n");
    const char *enable = cpu? "+memory +pids +cpu": "+memory +pids";
    if (strcmp (own, mount) != 0) {
        //  No process may sit in a group that hands controllers down: we
        //  move ourselves into a leaf beside our groups.
        char leaf [CGROUP_PATH_MAX + 16];
        snprintf (leaf, sizeof leaf, "%s/kmq-host", own);
        if (s_mkdir (leaf) || s_set (leaf, "cgroup.procs", "0", why, why_size)) {
            if (errno && !*why)
                snprintf (why, why_size, "mkdir %s: %s", leaf, strerror (errno));
            return -1;
        }
        if (s_set (own, "cgroup.subtree_control", enable, why, why_size))
            return -1;
    }
    if (s_make_parent (self, own, enable, &self->hier [0], cleaned, why, why_size))
        return -1;
    self->hier [0].mask = S_MEMORY | S_PIDS | (cpu? S_CPU | S_CPUACCT: S_CPUACCT);
    self->count = 1;
    return 0;
}

cgroup_host_t *
cgroup_host_new (const char *want, const char *instance, size_t *cleaned,
                 char *why, size_t why_size)
{
    assert (want && instance && cleaned && why);
    *cleaned = 0;
    why [0] = 0;
    bool automatic;
    cgroup_mode_t mode;
    if (cgroup_mode_parse (want, &automatic, &mode)) {
        snprintf (why, why_size, "cgroup '%s' is not auto, v2, v1 or none", want);
        return NULL;
    }
    if (!automatic && mode == CGROUP_NONE) {
        snprintf (why, why_size, "switched off (cgroup = none)");
        return NULL;
    }
    cgroup_host_t *self = (cgroup_host_t *) mem_alloc (sizeof (cgroup_host_t));
    snprintf (self->instance, sizeof self->instance, "%.64s.%d.%" PRIu64, instance,
              (int) getpid (), cgroup_internal_start_time (getpid ()));
    char v2_why [512] = "";
    if ((automatic || mode == CGROUP_V2)
    &&  s_try_v2 (self, cleaned, v2_why, sizeof v2_why) == 0)
        goto done;
    if (automatic || mode == CGROUP_V1) {
        for (size_t h = 0; h < self->count; h++)
            rmdir (self->hier [h].base);
        self->count = 0;
        memset (self->hier, 0, sizeof self->hier);
        char v1_why [512] = "";
        if (s_try_v1 (self, cleaned, v1_why, sizeof v1_why) == 0)
            goto done;
        snprintf (why, why_size, "%s%s%s", v2_why, *v2_why? "; ": "", v1_why);
    }
    else
        snprintf (why, why_size, "%s", v2_why);
    cgroup_host_destroy (&self);
    return NULL;
done:;
    char names [64] = "";
    for (unsigned i = 0; i < S_HIERARCHIES; i++)
        for (size_t h = 0; h < self->count; h++)
            if (self->hier [h].mask & (1u << i))
                snprintf (names + strlen (names), sizeof names - strlen (names), "%s%s",
                          *names? ", ": "", s_controllers [i]);
    snprintf (self->describe, sizeof self->describe, "cgroup %s (%s) at %s",
              self->mode == CGROUP_V2? "v2": "v1", names, self->hier [0].base);
    return self;
}

void
cgroup_host_destroy (cgroup_host_t **self_p)
{
    assert (self_p);
    cgroup_host_t *self = *self_p;
    if (!self)
        return;
    for (size_t h = 0; h < self->count; h++)
        s_remove_tree (self->hier [h].base);
    free (self);
    *self_p = NULL;
}

cgroup_mode_t
cgroup_host_mode (cgroup_host_t *self)
{
    assert (self);
    return self->mode;
}

const char *
cgroup_host_describe (cgroup_host_t *self)
{
    assert (self);
    return self->describe;
}

//  The hierarchy holding controller bit, or NULL.
static s_hierarchy_t *
s_holding (cgroup_host_t *self, unsigned bit)
{
    for (size_t h = 0; h < self->count; h++)
        if (self->hier [h].mask & bit)
            return &self->hier [h];
    return NULL;
}

int
cgroup_host_limit (cgroup_host_t *self, uint64_t memory_bytes, char *why, size_t why_size)
{
    assert (self);
    s_hierarchy_t *memory = s_holding (self, S_MEMORY);
    char value [32];
    if (self->mode == CGROUP_V2)
        snprintf (value, sizeof value, memory_bytes? "%" PRIu64: "max", memory_bytes);
    else
        snprintf (value, sizeof value, "%" PRId64,
                  memory_bytes? (int64_t) memory_bytes: (int64_t) -1);
    return s_set (memory->base, self->mode == CGROUP_V2? "memory.max"
                                                       : "memory.limit_in_bytes",
                  value, why, why_size);
}

int
cgroup_host_dir (cgroup_host_t *self, const char *name, const char *controller,
                 char *buf, size_t size)
{
    assert (self && name && controller && buf);
    for (unsigned i = 0; i < S_HIERARCHIES; i++)
        if (strcmp (controller, s_controllers [i]) == 0) {
            s_hierarchy_t *hier = s_holding (self, 1u << i);
            if (!hier)
                return -1;
            snprintf (buf, size, "%s/%s", hier->base, name);
            return 0;
        }
    return -1;
}

//  The settings of one child dir in a hierarchy holding mask.
static int
s_configure (cgroup_host_t *self, const char *dir, unsigned mask,
             const cgroup_limits_t *limits, char *why, size_t why_size)
{
    char value [64];
    bool v2 = self->mode == CGROUP_V2;
    if ((mask & S_MEMORY) && limits->memory_bytes) {
        snprintf (value, sizeof value, "%" PRIu64, limits->memory_bytes);
        if (s_set (dir, v2? "memory.max": "memory.limit_in_bytes", value, why, why_size))
            return -1;
        //  Swap would let a group hold more than its limit: none (absent
        //  without swap accounting, which is fine: no swap to count)
        char path [CGROUP_PATH_MAX + 64];
        snprintf (path, sizeof path, "%s/%s", dir, v2? "memory.swap.max"
                                                     : "memory.memsw.limit_in_bytes");
        if (s_write (path, v2? "0": value) && errno != ENOENT) {
            snprintf (why, why_size, "write %s: %s", path, strerror (errno));
            return -1;
        }
        if (!v2) {
            //  A pool executor's pages move with it from the zygote's group
            //  (deprecated in recent kernels, and harmless where refused)
            snprintf (path, sizeof path, "%s/memory.move_charge_at_immigrate", dir);
            s_write (path, "3");
        }
    }
    if ((mask & S_PIDS) && limits->pids) {
        snprintf (value, sizeof value, "%" PRIu64, limits->pids);
        if (s_set (dir, "pids.max", value, why, why_size))
            return -1;
    }
    if (mask & S_CPU) {
        //  Equal weight for every session, whatever the kernel's default
        if (s_set (dir, v2? "cpu.weight": "cpu.shares", v2? "100": "1024", why, why_size))
            return -1;
        if (limits->cpu_quota > 0) {
            uint64_t quota = (uint64_t) (limits->cpu_quota * S_CFS_PERIOD_US + 0.5);
            if (quota < 1000)
                quota = 1000;           //  the kernel's least quota, 1 ms
            if (v2)
                snprintf (value, sizeof value, "%" PRIu64 " %d", quota, S_CFS_PERIOD_US);
            else
                snprintf (value, sizeof value, "%" PRIu64, quota);
            if ((!v2 && s_set (dir, "cpu.cfs_period_us", "100000", why, why_size))
            ||  s_set (dir, v2? "cpu.max": "cpu.cfs_quota_us", value, why, why_size))
                return -1;
        }
    }
    return 0;
}

char *
cgroup_host_add (cgroup_host_t *self, const char *name, const cgroup_limits_t *limits,
                 char *why, size_t why_size)
{
    assert (self && name && limits && why);
    if (!cgroup_internal_name_valid (name)) {
        snprintf (why, why_size, "cgroup name '%.64s' is not 1-64 of [A-Za-z0-9-]", name);
        return NULL;
    }
    char list [S_HIERARCHIES * (CGROUP_PATH_MAX + 80)] = "";
    for (size_t h = 0; h < self->count; h++) {
        char dir [CGROUP_PATH_MAX + 80];
        snprintf (dir, sizeof dir, "%s/%s", self->hier [h].base, name);
        if (mkdir (dir, 0755) && errno != EEXIST) {
            snprintf (why, why_size, "mkdir %s: %s", dir, strerror (errno));
            goto fail;
        }
        if (s_configure (self, dir, self->hier [h].mask, limits, why, why_size))
            goto fail;
        snprintf (list + strlen (list), sizeof list - strlen (list), "%s%s",
                  h? ":": "", dir);
    }
    return mem_strdup (list);
fail:
    cgroup_host_remove (self, name);
    return NULL;
}

int
cgroup_host_spares (cgroup_host_t *self, size_t count, const cgroup_limits_t *limits,
                    char *why, size_t why_size)
{
    assert (self && limits && why);
    if (self->mode != CGROUP_V1)
        return 0;
    int made = 0;
    for (size_t k = 0; k < count; k++) {
        char name [32], fresh [32];
        snprintf (name, sizeof name, "spare-%zu", k);
        snprintf (fresh, sizeof fresh, "new-spare-%zu", k);
        size_t present = 0;
        for (size_t h = 0; h < self->count; h++) {
            char dir [CGROUP_PATH_MAX + 80];
            snprintf (dir, sizeof dir, "%s/%s", self->hier [h].base, name);
            present += access (dir, F_OK) == 0;
        }
        //  Whole, or in some hierarchies only: a monitor renaming it to its
        //  kernel's group right now, or what a failed adoption left around
        //  an executor. Either way not ours to touch (host exit clears it)
        if (present)
            continue;
        char *list = cgroup_host_add (self, fresh, limits, why, why_size);
        if (!list)
            return -1;
        free (list);
        for (size_t h = 0; h < self->count; h++) {
            char from [CGROUP_PATH_MAX + 80], to [CGROUP_PATH_MAX + 80];
            snprintf (from, sizeof from, "%s/%s", self->hier [h].base, fresh);
            snprintf (to, sizeof to, "%s/%s", self->hier [h].base, name);
            if (rename (from, to)) {
                snprintf (why, why_size, "rename %s to %s: %s", from, to, strerror (errno));
                //  Undone: the renamed ones are ours and empty, as is the rest
                for (size_t undo = 0; undo < h; undo++) {
                    snprintf (to, sizeof to, "%s/%s", self->hier [undo].base, name);
                    rmdir (to);
                }
                cgroup_host_remove (self, fresh);
                return -1;
            }
        }
        made++;
    }
    return made;
}

char *
cgroup_host_parent_list (cgroup_host_t *self)
{
    assert (self);
    char list [S_HIERARCHIES * (CGROUP_PATH_MAX + 1)] = "";
    for (size_t h = 0; h < self->count; h++)
        snprintf (list + strlen (list), sizeof list - strlen (list), "%s%s",
                  h? ":": "", self->hier [h].base);
    return mem_strdup (list);
}

int
cgroup_host_remove (cgroup_host_t *self, const char *name)
{
    assert (self && name);
    int rc = 0, error = 0;
    for (size_t h = 0; h < self->count; h++) {
        char dir [CGROUP_PATH_MAX + 80];
        snprintf (dir, sizeof dir, "%s/%s", self->hier [h].base, name);
        if (s_remove_dir (dir)) {
            rc = -1;
            error = errno;
        }
    }
    errno = error;
    return rc;
}

int
cgroup_host_cpu_ns (cgroup_host_t *self, const char *name, uint64_t *ns)
{
    assert (self && name && ns);
    s_hierarchy_t *hier = s_holding (self, S_CPUACCT);
    if (!hier)
        return -1;
    char path [CGROUP_PATH_MAX + 100];
    if (self->mode == CGROUP_V2) {
        snprintf (path, sizeof path, "%s/%s/cpu.stat", hier->base, name);
        uint64_t usec;
        if (s_keyed (path, "usage_usec", &usec))
            return -1;
        *ns = usec * 1000;
        return 0;
    }
    snprintf (path, sizeof path, "%s/%s/cpuacct.usage", hier->base, name);
    return cgroup_internal_number (path, ns);
}

//  --- the kernel's side ------------------------------------------------------

//  Calls fn on each dir of list; stops at the first that returns -1.
static int
s_each (const char *list, int (*fn) (const char *dir, void *arg), void *arg)
{
    for (const char *p = list; *p; ) {
        size_t len = strcspn (p, ":");
        char dir [CGROUP_PATH_MAX + 80];
        if (len > 0 && len < sizeof dir) {
            memcpy (dir, p, len);
            dir [len] = 0;
            if (fn (dir, arg))
                return -1;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    return 0;
}

//  What one s_each step over a group list needs.
typedef struct {
    pid_t pid;                  //  attach: who moves in
    const char *spare;          //  enter, adopt: a child name, or NULL
    char *why;
    size_t why_size;
} s_step_t;

static int
s_attach_one (const char *dir, void *arg)
{
    s_step_t *attach = (s_step_t *) arg;
    char pid [24];
    snprintf (pid, sizeof pid, "%d", (int) attach->pid);
    return s_set (dir, "cgroup.procs", pid, attach->why, attach->why_size);
}

int
cgroup_attach (const char *list, pid_t pid, char *why, size_t why_size)
{
    assert (list && why);
    s_step_t attach = { pid, NULL, why, why_size };
    if (!*list) {
        snprintf (why, why_size, "empty group list");
        return -1;
    }
    return s_each (list, s_attach_one, &attach);
}

//  v1 only, as spares are (cgroup.h): "tasks" moves the calling thread.
static int
s_enter_one (const char *dir, void *arg)
{
    s_step_t *enter = (s_step_t *) arg;
    char group [CGROUP_PATH_MAX + 120];
    snprintf (group, sizeof group, "%s%s%s", dir, enter->spare? "/": "",
              enter->spare? enter->spare: "");
    return s_set (group, "tasks", "0", enter->why, enter->why_size);
}

int
cgroup_enter_self (const char *list, const char *spare, char *why, size_t why_size)
{
    assert (list && why);
    s_step_t enter = { 0, spare, why, why_size };
    return s_each (list, s_enter_one, &enter);
}

static int
s_adopt_one (const char *dir, void *arg)
{
    s_step_t *adopt = (s_step_t *) arg;
    char from [CGROUP_PATH_MAX + 120];
    const char *slash = strrchr (dir, '/');
    if (!slash || slash == dir) {
        snprintf (adopt->why, adopt->why_size, "group %s has no parent", dir);
        return -1;
    }
    snprintf (from, sizeof from, "%.*s/%s", (int) (slash - dir), dir, adopt->spare);
    if (rmdir (dir) && errno != ENOENT) {
        snprintf (adopt->why, adopt->why_size, "rmdir %s: %s", dir, strerror (errno));
        return -1;
    }
    if (rename (from, dir)) {
        int saved = errno;
        snprintf (adopt->why, adopt->why_size, "rename %s to %s: %s", from, dir,
                  strerror (saved));
        return -1;
    }
    return 0;
}

bool
cgroup_spare_free (const char *list, const char *spare)
{
    assert (list && spare);
    char path [CGROUP_PATH_MAX + 120], pids [16];
    snprintf (path, sizeof path, "%.*s/%s/cgroup.procs", (int) strcspn (list, ":"), list,
              spare);
    return cgroup_internal_read (path, pids, sizeof pids) == 0 && pids [0] == 0;
}

int
cgroup_adopt_spare (const char *list, const char *spare, char *why, size_t why_size)
{
    assert (list && spare && why);
    if (!cgroup_internal_name_valid (spare)) {
        snprintf (why, why_size, "spare group name '%.64s' is not 1-64 of [A-Za-z0-9-]",
                  spare);
        return -1;
    }
    s_step_t adopt = { 0, spare, why, why_size };
    return s_each (list, s_adopt_one, &adopt);
}

typedef struct {
    bool killed;
    bool own;
    uint64_t limit;
} s_oom_t;

static int
s_oom_one (const char *dir, void *arg)
{
    s_oom_t *oom = (s_oom_t *) arg;
    char path [CGROUP_PATH_MAX + 100];
    uint64_t kills = 0, hits = 0;
    snprintf (path, sizeof path, "%s/memory.oom_control", dir);
    if (s_keyed (path, "oom_kill", &kills) == 0) {
        snprintf (path, sizeof path, "%s/memory.limit_in_bytes", dir);
        cgroup_internal_number (path, &oom->limit);
        if (oom->limit >= S_V1_UNLIMITED)
            oom->limit = 0;
        //  The group reached its own limit when its peak did (failcnt
        //  would say so too, but recent kernels no longer count it)
        uint64_t peak = 0;
        snprintf (path, sizeof path, "%s/memory.max_usage_in_bytes", dir);
        cgroup_internal_number (path, &peak);
        hits = oom->limit && peak + S_MIB >= oom->limit;
    }
    else {
        snprintf (path, sizeof path, "%s/memory.events", dir);
        if (s_keyed (path, "oom_kill", &kills))
            return 0;
        s_keyed (path, "max", &hits);
        snprintf (path, sizeof path, "%s/memory.max", dir);
        cgroup_internal_number (path, &oom->limit);
    }
    if (kills > 0) {
        oom->killed = true;
        oom->own = hits > 0;
    }
    return 0;
}

bool
cgroup_oom (const char *list, uint64_t *limit, bool *own)
{
    assert (list && limit && own);
    s_oom_t oom = { false, false, 0 };
    s_each (list, s_oom_one, &oom);
    *limit = oom.limit;
    *own = oom.own;
    return oom.killed;
}
