/*  config — the settings of kmq-broker and kmq-host, from one table
    (see config.h).                                                         */
#include "config.h"
#include "cgroup.h"
#include "kernel_contract.h"
#include "keys.h"
#include "mem.h"
#include "selftest.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { S_STR, S_UINT, S_SIZE, S_BOOL, S_REAL } s_kind_t;

typedef struct {
    const char *name;           //  file key; flag and env are derived from it
    unsigned scope;             //  CONFIG_BROKER, CONFIG_HOST or both
    s_kind_t kind;
    size_t offset;              //  into config_t
    const char *dflt;           //  "" = derived at load time, see dflt_doc
    const char *dflt_doc;       //  what a derived default becomes (docs only)
    uint64_t min, max;          //  numbers only
    const char *help;
} s_setting_t;

#define S_OFF(field) offsetof (config_t, field)
#define S_GIB        (1024ull * 1024 * 1024)

//  The one table. Flags, environment names, file keys, --help and the
//  README table are all generated from it.
static const s_setting_t s_settings [] = {
    { "frontend", CONFIG_BROKER, S_STR, S_OFF (frontend), "tcp://127.0.0.1:5555", NULL, 0, 0,
      "endpoint clients connect to (the broker binds it)" },
    { "backend", CONFIG_BROKER | CONFIG_HOST, S_STR, S_OFF (backend), "", "ipc://<runtime_dir>/backend", 0, 0,
      "endpoint kernel hosts and kernels connect to (the broker binds it)" },
    { "runtime_dir", CONFIG_BROKER | CONFIG_HOST, S_STR, S_OFF (runtime_dir), "", "/tmp/kmq-<uid>", 0, 0,
      "private directory (0700) of the backend socket, the kernel host's lock, zygote "
      "socket and kernel work dirs; stable, so a restarted broker finds its hosts" },
    { "kernel_path", CONFIG_HOST, S_STR, S_OFF (kernel_path), "", "kmq-kernel beside kmq-broker", 0, 0,
      "the kmq-kernel executable started for each session" },
    { "heartbeat_ivl_ms", CONFIG_BROKER | CONFIG_HOST, S_UINT, S_OFF (heartbeat_ivl_ms), "1000", NULL, 10, 600000,
      "milliseconds between heartbeats to and from a kernel that runs a request" },
    { "heartbeat_idle_ivl_ms", CONFIG_BROKER | CONFIG_HOST, S_UINT, S_OFF (heartbeat_idle_ivl_ms), "10000", NULL, 10, 3600000,
      "milliseconds between heartbeats to and from an idle kernel (never below "
      "heartbeat_ivl_ms); a request to it is answered within heartbeat_ivl_ms x liveness "
      "if it died" },
    { "heartbeat_liveness", CONFIG_BROKER | CONFIG_HOST, S_UINT, S_OFF (heartbeat_liveness), "3", NULL, 1, 100,
      "heartbeats a kernel may miss before it is declared dead and killed" },
    { "idle_timeout_s", CONFIG_BROKER, S_UINT, S_OFF (idle_timeout_s), "1800", NULL, 0, 31536000,
      "seconds a session may sit idle before it is evicted (0 = never)" },
    { "max_sessions", CONFIG_BROKER, S_UINT, S_OFF (max_sessions), "1000", NULL, 1, 1000000,
      "live sessions at most; more get SESSION_LIMIT" },
    { "max_queue", CONFIG_BROKER, S_UINT, S_OFF (max_queue), "64", NULL, 1, 1000000,
      "requests waiting per session at most; more get QUEUE_FULL" },
    { "max_payload", CONFIG_BROKER | CONFIG_HOST, S_SIZE, S_OFF (max_payload), "256M", NULL, 1, S_GIB,
      "bytes per payload frame at most (K/M/G suffixes; hard cap 1G)" },
    { "request_timeout_s", CONFIG_HOST, S_UINT, S_OFF (request_timeout_s), "300", NULL, 1, 604800,
      "wall-clock seconds a request may run; requests may ask for less" },
    { "kill_grace_ms", CONFIG_BROKER | CONFIG_HOST, S_UINT, S_OFF (kill_grace_ms), "2000", NULL, 0, 600000,
      "milliseconds between asking a kernel to stop and SIGKILL" },
    { "max_output", CONFIG_HOST, S_SIZE, S_OFF (max_output), "8M", NULL, 0, 1024 * S_GIB,
      "bytes of stdout+stderr per request before truncation (0 = unlimited)" },
    { "memory_limit", CONFIG_HOST, S_SIZE, S_OFF (memory_limit), "2G", NULL, 0, 1024 * 1024 * S_GIB,
      "bytes of memory per session: its cgroup's limit over heap, tmpfs and page cache, "
      "and its address space (RLIMIT_AS) (0 = unlimited)" },
    { "cpu_limit_s", CONFIG_HOST, S_UINT, S_OFF (cpu_limit_s), "3600", NULL, 0, 31536000,
      "CPU seconds per kernel process (0 = unlimited)" },
    { "kernel_start_timeout_ms", CONFIG_BROKER, S_UINT, S_OFF (kernel_start_timeout_ms), "30000", NULL,
      100, 3600000, "milliseconds a new kernel has to report ready" },
    { "request_cpu_s", CONFIG_HOST, S_UINT, S_OFF (request_cpu_s), "300", NULL, 0, 31536000,
      "CPU seconds a request may use (0 = unlimited); past it, as at the wall-time limit" },
    { "work_quota", CONFIG_HOST, S_SIZE, S_OFF (work_quota), "256M", NULL, 1024 * 1024, 1024 * S_GIB,
      "bytes the executor's /work (its cwd, a private tmpfs) may hold" },
    { "tmp_quota", CONFIG_HOST, S_SIZE, S_OFF (tmp_quota), "256M", NULL, 1024 * 1024, 1024 * S_GIB,
      "bytes the executor's /tmp (a private tmpfs) may hold" },
    { "max_threads", CONFIG_HOST, S_UINT, S_OFF (max_threads), "256", NULL, 16, 100000,
      "threads an executor may run (RLIMIT_NPROC of its own user id)" },
    { "max_files", CONFIG_HOST, S_UINT, S_OFF (max_files), "1024", NULL, 64, 1048576,
      "files an executor may hold open (RLIMIT_NOFILE)" },
    { "sandbox_require", CONFIG_BROKER, S_STR, S_OFF (sandbox_require),
      "namespaces,filesystem,caps,rlimits,no_new_privs,seccomp", NULL, 0, 0,
      "sandbox layers a kernel must have in force, or it is refused (comma list of "
      "{layers}; or none)" },
    { "zygote", CONFIG_HOST, S_BOOL, S_OFF (zygote), "true", NULL, 0, 0,
      "start executors from a zygote (a process with Python and pandas loaded) that "
      "kernels ask for one; off, each kernel forks its executor itself (slower)" },
    { "pool_size", CONFIG_HOST, S_UINT, S_OFF (pool_size), "2", NULL, 0, 64,
      "executors the zygote keeps forked ahead of demand (0 = fork on demand)" },
    { "standby_kernels", CONFIG_HOST, S_UINT, S_OFF (standby_kernels), "2", NULL, 0, 16,
      "kernel processes started ahead of demand, each waiting to become a new "
      "session's kernel, which saves a start the exec and library loading "
      "(0 = start each on demand)" },
    { "client_hwm", CONFIG_BROKER, S_UINT, S_OFF (client_hwm), "10000", NULL, 10, 10000000,
      "messages a client may leave unread; an attached client past it is detached "
      "with a notice, a requester's own events and reply wait in the broker until "
      "it reads (protocol.md 4.5)" },
    { "verbose", CONFIG_BROKER | CONFIG_HOST, S_BOOL, S_OFF (verbose), "false", NULL, 0, 0,
      "log every message at debug level (-v)" },
    { "host", CONFIG_BROKER, S_BOOL, S_OFF (host), "true", NULL, 0, 0,
      "start a kernel host (kmq-host) on this machine when none serves runtime_dir; "
      "it outlives the broker, and a restarted broker finds it" },
    { "host_path", CONFIG_BROKER, S_STR, S_OFF (host_path), "", "kmq-host beside kmq-broker", 0, 0,
      "the kmq-host executable the broker starts" },
    { "host_id", CONFIG_HOST, S_STR, S_OFF (host_id), "local", NULL, 0, 0,
      "the kernel host's name at the broker (1-64 of [A-Za-z0-9._-])" },
    { "host_max_sessions", CONFIG_HOST, S_UINT, S_OFF (host_max_sessions), "1000", NULL,
      1, 1000000, "sessions the kernel host takes at most (its capacity for placement)" },
    { "broker_grace_s", CONFIG_HOST, S_UINT, S_OFF (broker_grace_s), "120", NULL, 0, 86400,
      "seconds a kernel host and its kernels wait for a silent broker before they end "
      "their sessions (a restarted broker in that time finds them all)" },
    { "snapshot", CONFIG_BROKER | CONFIG_HOST, S_BOOL, S_OFF (snapshot), "true", NULL, 0, 0,
      "an evicted session (and every session of a host stopped with SIGTERM) keeps "
      "its state as a snapshot, restored by its next request (protocol.md 10.3)" },
    { "snapshot_quota", CONFIG_HOST, S_SIZE, S_OFF (snapshot_quota), "256M", NULL,
      1024 * 1024, 1024 * S_GIB,
      "bytes a session's snapshot may take (at most max_payload); past it the session "
      "is evicted without its state, and told why" },
    { "snapshot_ttl_s", CONFIG_HOST, S_UINT, S_OFF (snapshot_ttl_s), "604800", NULL,
      1, 4294967295ull, "seconds a snapshot is kept for the session's next request" },
    { "state_dir", CONFIG_HOST, S_STR, S_OFF (state_dir), "", "<runtime_dir>/state", 0, 0,
      "private directory (0700) where the kernel host keeps snapshots; no sandbox sees it" },
    { "cgroup", CONFIG_HOST, S_STR, S_OFF (cgroup), "auto", NULL, 0, 0,
      "control groups for executors: auto (v2 where delegated, else v1 where we may "
      "create groups, else none), v2, v1, or none (admission control only)" },
    { "cpu_quota", CONFIG_HOST, S_REAL, S_OFF (cpu_quota), "0", NULL, 0, 1024,
      "CPUs a session may use at most, e.g. 0.5 or 2 (0 = no cap; needs a cgroup). "
      "Sessions always get equal CPU weight" },
    { "host_memory", CONFIG_HOST, S_SIZE, S_OFF (host_memory), "0", NULL, 0,
      1024 * 1024 * S_GIB,
      "bytes of memory the kernel host's sessions may hold together (0 = 90% of "
      "MemTotal): the cap of its cgroup, or without one the sum of the sessions' "
      "worst cases past which new sessions get SESSION_LIMIT" },
    { "executor_uid_base", CONFIG_HOST, S_UINT, S_OFF (executor_uid_base), "2147483648",
      NULL, 1, 4294967294ull,
      "first outside uid/gid of executors; each executor gets its own (base + its pid "
      "mod count), above every /etc/subuid allocation" },
    { "executor_uid_count", CONFIG_HOST, S_UINT, S_OFF (executor_uid_count), "4194304",
      NULL, 1, 4294967294ull,
      "outside uids/gids for executors; at least the kernel's pid_max, so no two live "
      "executors share one" },
    { "config_dir", CONFIG_BROKER | CONFIG_HOST, S_STR, S_OFF (config_dir), "",
      "$XDG_CONFIG_HOME/kernelmq or ~/.config/kernelmq", 0, 0,
      "private directory (0700) of the CURVE keys: the broker's key pair, its owner's "
      "client and host keys, the allowlists clients/, hosts/ and gateways/ (README: Trust)" },
    { "insecure", CONFIG_BROKER | CONFIG_HOST, S_BOOL, S_OFF (insecure), "false", NULL, 0, 0,
      "tcp endpoints without CURVE: anyone who reaches them gets in (logged as a warning "
      "at every start); ipc endpoints never use CURVE, their directory is 0700" },
};

#define S_COUNT (sizeof (s_settings) / sizeof (s_settings [0]))

//  --- value parsing ------------------------------------------------------

static char *
s_field_str (config_t *self, const s_setting_t *s)
{
    return *(char **) ((char *) self + s->offset);
}

//  Parses text for setting s into self. Returns 0, or -1 with the reason
//  (without the source) in why.
static int
s_parse (config_t *self, const s_setting_t *s, const char *text,
         char *why, size_t whysize)
{
    void *field = (char *) self + s->offset;
    if (s->kind == S_STR) {
        if (*text == 0 && *s->dflt) {
            snprintf (why, whysize, "must not be empty");
            return -1;
        }
        free (*(char **) field);
        *(char **) field = mem_strdup (text);
        return 0;
    }
    if (s->kind == S_BOOL) {
        const char *yes [] = { "1", "true", "yes", "on" };
        const char *no [] = { "0", "false", "no", "off" };
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp (text, yes [i]) == 0) { *(bool *) field = true; return 0; }
            if (strcasecmp (text, no [i]) == 0) { *(bool *) field = false; return 0; }
        }
        snprintf (why, whysize, "'%.64s' is not a boolean (use true or false)", text);
        return -1;
    }
    //  Numbers: digits only (strtoull would accept "-1" and " 5")
    const char *p = text;
    if (s->kind == S_REAL) {
        char *stop;
        errno = 0;
        double real = isdigit ((unsigned char) *p)? strtod (p, &stop): -1;
        if (real < 0 || errno || *stop) {
            snprintf (why, whysize, "'%.64s' is not a number like 0.5", text);
            return -1;
        }
        if (real < (double) s->min || real > (double) s->max) {
            snprintf (why, whysize, "%g is out of range %llu..%llu", real,
                      (unsigned long long) s->min, (unsigned long long) s->max);
            return -1;
        }
        *(double *) field = real;
        return 0;
    }
    if (!isdigit ((unsigned char) *p)) {
        snprintf (why, whysize, "'%.64s' is not a number", text);
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long value = strtoull (p, &end, 10);
    if (errno == ERANGE) {
        snprintf (why, whysize, "'%.64s' is too large", text);
        return -1;
    }
    if (*end && s->kind == S_SIZE) {
        unsigned shift = 0;
        switch (toupper ((unsigned char) *end)) {
            case 'K': shift = 10; break;
            case 'M': shift = 20; break;
            case 'G': shift = 30; break;
            default: shift = 0;
        }
        const char *rest = end + 1;
        if (shift && (strcasecmp (rest, "") == 0 || strcasecmp (rest, "B") == 0
                      || strcasecmp (rest, "iB") == 0)) {
            if (value > (ULLONG_MAX >> shift)) {
                snprintf (why, whysize, "'%.64s' is too large", text);
                return -1;
            }
            value <<= shift;
            end = (char *) rest + strlen (rest);
        }
    }
    if (*end) {
        snprintf (why, whysize, "'%.64s' is not a %s", text,
                  s->kind == S_SIZE ? "size (a number with optional K, M or G)"
                                    : "number");
        return -1;
    }
    if (value < s->min || value > s->max) {
        snprintf (why, whysize, "%llu is out of range %llu..%llu", value,
                  (unsigned long long) s->min, (unsigned long long) s->max);
        return -1;
    }
    *(uint64_t *) field = value;
    return 0;
}

static const s_setting_t *
s_find (const char *name, size_t len, bool dashes)
{
    for (size_t i = 0; i < S_COUNT; i++) {
        const char *n = s_settings [i].name;
        if (strlen (n) != len)
            continue;
        size_t j;
        for (j = 0; j < len; j++) {
            char c = n [j];
            if (dashes && c == '_')
                c = '-';
            if (name [j] != c)
                break;
        }
        if (j == len)
            return &s_settings [i];
    }
    return NULL;
}

static void
s_flag_name (const s_setting_t *s, char *buf, size_t size)
{
    snprintf (buf, size, "--%s", s->name);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = '-';
}

static void
s_env_name (const s_setting_t *s, char *buf, size_t size)
{
    snprintf (buf, size, "KMQ_%s", s->name);
    for (char *p = buf; *p; p++)
        *p = (char) toupper ((unsigned char) *p);
}

//  --- sources ----------------------------------------------------------

static int
s_load_file (config_t *self, const char *path, char *err, size_t errsize)
{
    if (access (path, R_OK) != 0) {
        snprintf (err, errsize, "config file %s: %s", path, strerror (errno));
        return -1;
    }
    zconfig_t *root = zconfig_load (path);
    if (!root) {
        snprintf (err, errsize, "config file %s: not valid ZPL (see czmq's zconfig "
                  "format: sections and 'key = value' lines, 4-space indents)", path);
        return -1;
    }
    int rc = 0;
    zconfig_t *section = zconfig_locate (root, "broker");
    zconfig_t *item = section ? zconfig_child (section) : NULL;
    for (; item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        const char *value = zconfig_value (item);
        const s_setting_t *s = name ? s_find (name, strlen (name), false) : NULL;
        if (!s) {
            snprintf (err, errsize, "config file %s: unknown key broker/%s "
                      "(kmq-broker --help lists the settings)", path, name ? name : "");
            rc = -1;
            break;
        }
        char why [160];
        if (s_parse (self, s, value ? value : "", why, sizeof why)) {
            snprintf (err, errsize, "config file %s, key broker/%s: %s", path, name, why);
            rc = -1;
            break;
        }
    }
    zconfig_destroy (&root);
    return rc;
}

static int
s_load_env (config_t *self, char *err, size_t errsize)
{
    for (size_t i = 0; i < S_COUNT; i++) {
        char env [64];
        s_env_name (&s_settings [i], env, sizeof env);
        const char *value = getenv (env);
        if (!value)
            continue;
        char why [160];
        if (s_parse (self, &s_settings [i], value, why, sizeof why)) {
            snprintf (err, errsize, "environment %s: %s", env, why);
            return -1;
        }
    }
    return 0;
}

//  The layers a kernel may report (kernel_contract.h): "namespaces,
//  filesystem, ..., cgroup".
static void
s_layer_list (char *buf, size_t size)
{
    size_t used = 0;
    buf [0] = 0;
    for (size_t i = 0; kernel_contract_layer_name (i) && used < size; i++) {
        int n = snprintf (buf + used, size - used, "%s%s", i? ", ": "",
                          kernel_contract_layer_name (i));
        used += n > 0? (size_t) n: 0;
    }
}

//  sandbox_require must name known layers, or be "none".
static int
s_check_sandbox_require (const char *list, char *err, size_t errsize)
{
    if (streq (list, "none"))
        return 0;
    char *copy = mem_strdup (list);
    int rc = 0;
    char *save = NULL;
    for (char *name = strtok_r (copy, ", ", &save); name; name = strtok_r (NULL, ", ", &save)) {
        bool known = false;
        for (size_t i = 0; kernel_contract_layer_name (i); i++)
            known = known || streq (name, kernel_contract_layer_name (i));
        if (!known) {
            char layers [160];
            s_layer_list (layers, sizeof layers);
            snprintf (err, errsize, "sandbox_require: unknown layer '%s' (known: %s; "
                      "or none)", name, layers);
            rc = -1;
            break;
        }
    }
    free (copy);
    return rc;
}

//  The path of a program installed beside this one (kmq-kernel, kmq-host),
//  or NULL with err filled.
static char *
s_beside_me (const char *program, const char *setting, char *err, size_t errsize)
{
    char exe [PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) {
        snprintf (err, errsize, "readlink /proc/self/exe: %s (set --%s)",
                  strerror (errno), setting);
        return NULL;
    }
    exe [n] = 0;
    return mem_sprintf ("%s/%s", dirname (exe), program);
}

static int
s_derive (config_t *self, config_scope_t scope, char *err, size_t errsize)
{
    if (s_check_sandbox_require (self->sandbox_require, err, errsize))
        return -1;
    bool automatic;
    cgroup_mode_t mode;
    if (cgroup_mode_parse (self->cgroup, &automatic, &mode)) {
        snprintf (err, errsize, "cgroup '%.64s' must be auto, v2, v1 or none", self->cgroup);
        return -1;
    }
    //  uid 4294967295 is (uid_t) -1, "no id": the range ends before it
    if (self->executor_uid_base + self->executor_uid_count > 4294967295ull) {
        snprintf (err, errsize, "executor_uid_base %" PRIu64 " + executor_uid_count %"
                  PRIu64 " passes the last uid 4294967294", self->executor_uid_base,
                  self->executor_uid_count);
        return -1;
    }
    if (!*self->host_id || strlen (self->host_id) > 64
    ||  strspn (self->host_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789._-") != strlen (self->host_id)) {
        snprintf (err, errsize, "host_id '%.64s' must be 1-64 of [A-Za-z0-9._-]",
                  self->host_id);
        return -1;
    }
    //  An idle kernel never beats more often than a busy one
    if (self->heartbeat_idle_ivl_ms < self->heartbeat_ivl_ms)
        self->heartbeat_idle_ivl_ms = self->heartbeat_ivl_ms;
    if (!*self->runtime_dir) {
        free (self->runtime_dir);
        self->runtime_dir = mem_sprintf ("/tmp/kmq-%u", (unsigned) getuid ());
    }
    if (*self->runtime_dir != '/') {
        //  Kernels need absolute work dirs, and may not share our cwd
        char cwd [PATH_MAX];
        if (!getcwd (cwd, sizeof cwd)) {
            snprintf (err, errsize, "getcwd: %s (give --runtime-dir as an absolute path)",
                      strerror (errno));
            return -1;
        }
        char *abs = mem_sprintf ("%s/%s", cwd, self->runtime_dir);
        free (self->runtime_dir);
        self->runtime_dir = abs;
    }
    if (!*self->backend) {
        free (self->backend);
        self->backend = mem_sprintf ("ipc://%s/backend", self->runtime_dir);
    }
    if (!*self->state_dir) {
        free (self->state_dir);
        self->state_dir = mem_sprintf ("%s/state", self->runtime_dir);
    }
    if (!*self->config_dir) {
        char *dir = keys_dir_default ();
        if (!dir) {
            snprintf (err, errsize, "no config_dir: neither XDG_CONFIG_HOME nor HOME is "
                      "set (give --config-dir)");
            return -1;
        }
        free (self->config_dir);
        self->config_dir = dir;
    }
    if (*self->state_dir != '/') {
        snprintf (err, errsize, "state_dir '%.64s' must be an absolute path", self->state_dir);
        return -1;
    }
    const char *programs [2][3] = {
        { "kmq-kernel", "kernel-path", NULL }, { "kmq-host", "host-path", NULL }
    };
    char **fields [2] = { &self->kernel_path, &self->host_path };
    for (size_t i = 0; i < 2; i++) {
        if (**fields [i])
            continue;
        char *path = s_beside_me (programs [i][0], programs [i][1], err, errsize);
        if (!path)
            return -1;
        free (*fields [i]);
        *fields [i] = path;
    }
    (void) scope;
    return 0;
}

//  --- public -------------------------------------------------------------

config_t *
config_new (void)
{
    config_t *self = (config_t *) zmalloc (sizeof (config_t));
    char why [160];
    for (size_t i = 0; i < S_COUNT; i++) {
        const s_setting_t *s = &s_settings [i];
        if (s->kind == S_STR)       //  "" is valid for derived strings
            *(char **) ((char *) self + s->offset) = mem_strdup (s->dflt);
        else {
            int rc = s_parse (self, s, s->dflt, why, sizeof why);
            assert (rc == 0);       //  a bad default is a bug in the table
        }
    }
    return self;
}

void
config_destroy (config_t **self_p)
{
    assert (self_p);
    config_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < S_COUNT; i++)
        if (s_settings [i].kind == S_STR)
            free (s_field_str (self, &s_settings [i]));
    free (self);
    *self_p = NULL;
}

int
config_load (config_t *self, config_scope_t scope, int argc, char **argv,
             char *err, size_t errsize)
{
    assert (self);
    //  Pass 1 over argv: find the config file and check every flag, but
    //  apply settings only after the file and the environment.
    const char *file = NULL;
    const s_setting_t **flag_set = (const s_setting_t **) mem_alloc (
        (size_t) (argc > 0 ? argc : 1) * sizeof (s_setting_t *));
    const char **flag_val = (const char **) mem_alloc (
        (size_t) (argc > 0 ? argc : 1) * sizeof (char *));
    int nflags = 0;
    int rc = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (streq (arg, "-h") || streq (arg, "--help")) {
            self->help = true;
            continue;
        }
        if (streq (arg, "--config-table")) {
            self->config_table = true;
            continue;
        }
        if (streq (arg, "-v")) {
            flag_set [nflags] = s_find ("verbose", 7, false);
            flag_val [nflags++] = "true";
            continue;
        }
        if (strncmp (arg, "--", 2) != 0 && !streq (arg, "-c")) {
            snprintf (err, errsize, "unexpected argument '%.64s' (kmq-broker takes "
                      "only flags; try --help)", arg);
            goto done;
        }
        const char *name = arg + 2;
        const char *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        const char *value = eq ? eq + 1 : NULL;
        bool is_config = streq (arg, "-c") || (len == 6 && strncmp (name, "config", 6) == 0);
        const s_setting_t *s = is_config ? NULL : s_find (name, len, true);
        if (!is_config && !s) {
            snprintf (err, errsize, "unknown flag %.*s (try --help)", (int) len + 2, arg);
            goto done;
        }
        if (s && !(s->scope & scope)) {
            snprintf (err, errsize, "flag %.*s is a setting of %s, not of this "
                      "program (try --help)", (int) len + 2, arg,
                      s->scope == CONFIG_HOST? "the kernel host (kmq-host)"
                                             : "the broker (kmq-broker)");
            goto done;
        }
        if (!value && s && s->kind == S_BOOL) {
            //  --flag alone is true; --flag false (any boolean word) also works
            char why [160];
            config_t probe = { 0 };
            if (i + 1 < argc && s_parse (&probe, s, argv [i + 1], why, sizeof why) == 0)
                value = argv [++i];
            else
                value = "true";
        }
        if (!value) {
            if (i + 1 >= argc) {
                snprintf (err, errsize, "flag %.*s needs a value", (int) len + 2, arg);
                goto done;
            }
            value = argv [++i];
        }
        if (is_config)
            file = value;
        else {
            flag_set [nflags] = s;
            flag_val [nflags++] = value;
        }
    }
    if (!file)
        file = getenv ("KMQ_CONFIG");
    if (file && *file && s_load_file (self, file, err, errsize))
        goto done;
    if (s_load_env (self, err, errsize))
        goto done;
    for (int i = 0; i < nflags; i++) {
        char why [160], flag [64];
        if (s_parse (self, flag_set [i], flag_val [i], why, sizeof why)) {
            s_flag_name (flag_set [i], flag, sizeof flag);
            snprintf (err, errsize, "flag %s: %s", flag, why);
            goto done;
        }
    }
    if (s_derive (self, scope, err, errsize))
        goto done;
    rc = 0;
done:
    free (flag_set);
    free (flag_val);
    return rc;
}

//  A setting's help, "{layers}" replaced by the layer list.
static const char *
s_help_text (const s_setting_t *s, char *buf, size_t size)
{
    const char *mark = strstr (s->help, "{layers}");
    if (!mark)
        return s->help;
    char layers [160];
    s_layer_list (layers, sizeof layers);
    snprintf (buf, size, "%.*s%s%s", (int) (mark - s->help), s->help, layers,
              mark + strlen ("{layers}"));
    return buf;
}

static void
s_default_text (const s_setting_t *s, char *buf, size_t size)
{
    snprintf (buf, size, "%s", *s->dflt ? s->dflt : s->dflt_doc);
}

void
config_print_help (config_scope_t scope, FILE *out)
{
    if (scope & CONFIG_BROKER)
        fprintf (out,
            "Usage: kmq-broker [-c FILE] [--NAME VALUE]... [-v]\n"
            "Routes kernelmq clients to the sessions' kernels, which kernel hosts\n"
            "(kmq-host) run; starts one on this machine unless --host false.\n\n");
    else
        fprintf (out,
            "Usage: kmq-host [-c FILE] [--NAME VALUE]... [-v]\n"
            "Runs the kernels of a kmq-broker's sessions on this machine: the\n"
            "zygote, one kmq-kernel per session, their supervision.\n\n");
    fprintf (out,
        "  -c, --config FILE   ZPL file with settings under 'broker' (or KMQ_CONFIG)\n"
        "  --config-table      print every setting as a Markdown table\n"
        "  -h, --help          this text\n\n"
        "Settings (flag / environment / file key broker/NAME; flags win over the\n"
        "environment, which wins over the file; sizes take K, M, G):\n");
    for (size_t i = 0; i < S_COUNT; i++) {
        const s_setting_t *s = &s_settings [i];
        if (!(s->scope & scope))
            continue;
        char flag [64], env [64], dflt [64], left [96], help [512];
        s_flag_name (s, flag, sizeof flag);
        s_env_name (s, env, sizeof env);
        s_default_text (s, dflt, sizeof dflt);
        snprintf (left, sizeof left, "%s%s", flag, s->kind == S_BOOL ? "" : " VALUE");
        bool handed_on = scope != CONFIG_HOST && s->scope == CONFIG_HOST;
        fprintf (out, "  %-32s %s%s\n  %-32s default %s, env %s\n", left,
                 s_help_text (s, help, sizeof help),
                 handed_on? " (for the local kernel host)": "", "", dflt, env);
    }
}

void
config_print_markdown (FILE *out)
{
    fprintf (out, "| name | for | flag | env | default | meaning |\n");
    fprintf (out, "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < S_COUNT; i++) {
        const s_setting_t *s = &s_settings [i];
        char flag [64], env [64], dflt [64], help [512];
        s_flag_name (s, flag, sizeof flag);
        s_env_name (s, env, sizeof env);
        s_default_text (s, dflt, sizeof dflt);
        const char *who = s->scope == CONFIG_BROKER? "broker"
                        : s->scope == CONFIG_HOST? "host": "both";
        fprintf (out, "| `%s` | %s | `%s` | `%s` | `%s` | %s |\n", s->name, who, flag,
                 env, dflt, s_help_text (s, help, sizeof help));
    }
}

char **
config_host_argv (const config_t *self, const char *path)
{
    assert (self && path);
    char **argv = (char **) mem_alloc ((2 * S_COUNT + 2) * sizeof (char *));
    size_t argc = 0;
    argv [argc++] = mem_strdup (path);
    for (size_t i = 0; i < S_COUNT; i++) {
        const s_setting_t *s = &s_settings [i];
        if (!(s->scope & CONFIG_HOST))
            continue;
        char flag [64];
        s_flag_name (s, flag, sizeof flag);
        const void *field = (const char *) self + s->offset;
        char *value = s->kind == S_STR? mem_strdup (*(char *const *) field)
                    : s->kind == S_BOOL? mem_strdup (*(const bool *) field? "true": "false")
                    : s->kind == S_REAL? mem_sprintf ("%.17g", *(const double *) field)
                    : mem_sprintf ("%" PRIu64, *(const uint64_t *) field);
        argv [argc++] = mem_strdup (flag);
        argv [argc++] = value;
    }
    argv [argc] = NULL;
    return argv;
}

int
config_from_args (config_t **cfg_p, config_scope_t scope, const char *program,
                  int argc, char **argv)
{
    config_t *cfg = config_new ();
    char err [512];
    if (config_load (cfg, scope, argc, argv, err, sizeof err)) {
        fprintf (stderr, "%s: %s\n", program, err);
        config_destroy (&cfg);
        return 2;
    }
    if (cfg->help || cfg->config_table) {
        if (cfg->help)
            config_print_help (scope, stdout);
        else
            config_print_markdown (stdout);
        config_destroy (&cfg);
        return 0;
    }
    *cfg_p = cfg;
    return -1;
}

//  --- selftest -----------------------------------------------------------

static int
s_try (config_t **cfg_p, char *err, size_t errsize, int argc, char **argv)
{
    config_destroy (cfg_p);
    *cfg_p = config_new ();
    return config_load (*cfg_p, CONFIG_BOTH, argc, argv, err, errsize);
}

uint64_t
config_backend_hwm (uint64_t sessions)
{
    return 1000 + 4 * sessions;
}

void
config_test (bool verbose)
{
    char err [512];
    config_t *cfg = config_new ();
    //  Defaults
    SELFTEST_CHECK (streq (cfg->frontend, "tcp://127.0.0.1:5555"));
    SELFTEST_CHECK (cfg->heartbeat_ivl_ms == 1000);
    SELFTEST_CHECK (cfg->heartbeat_liveness == 3);
    SELFTEST_CHECK (cfg->heartbeat_idle_ivl_ms == 10000);
    SELFTEST_CHECK (config_backend_hwm (cfg->max_sessions) > 2 * cfg->max_sessions);
    SELFTEST_CHECK (cfg->idle_timeout_s == 1800);
    SELFTEST_CHECK (cfg->max_sessions == 1000);
    SELFTEST_CHECK (cfg->max_queue == 64);
    SELFTEST_CHECK (cfg->max_payload == 256ull << 20);
    SELFTEST_CHECK (cfg->max_output == 8ull << 20);
    SELFTEST_CHECK (cfg->memory_limit == 2ull << 30);
    SELFTEST_CHECK (cfg->request_timeout_s == 300);
    SELFTEST_CHECK (cfg->kill_grace_ms == 2000);
    SELFTEST_CHECK (cfg->cpu_limit_s == 3600);
    SELFTEST_CHECK (cfg->kernel_start_timeout_ms == 30000);
    SELFTEST_CHECK (!cfg->verbose);
    SELFTEST_CHECK (cfg->zygote);
    SELFTEST_CHECK (cfg->pool_size == 2);

    //  Make sure the environment of whoever runs the test does not leak in
    for (size_t i = 0; i < S_COUNT; i++) {
        char env [64];
        s_env_name (&s_settings [i], env, sizeof env);
        unsetenv (env);
    }
    unsetenv ("KMQ_CONFIG");

    char *plain [] = { "kmq-broker" };
    int rc = s_try (&cfg, err, sizeof err, 1, plain);
    SELFTEST_CHECK (rc == 0);
    char *expect = mem_sprintf ("/tmp/kmq-%u", (unsigned) getuid ());
    SELFTEST_CHECK (streq (cfg->runtime_dir, expect));
    zstr_free (&expect);
    expect = mem_sprintf ("ipc://%s/backend", cfg->runtime_dir);
    SELFTEST_CHECK (streq (cfg->backend, expect));
    zstr_free (&expect);
    SELFTEST_CHECK (strstr (cfg->kernel_path, "/kmq-kernel"));
    SELFTEST_CHECK (strstr (cfg->host_path, "/kmq-host"));
    SELFTEST_CHECK (cfg->host && streq (cfg->host_id, "local") && cfg->broker_grace_s == 120);
    //  Keys: CURVE on unless --insecure; config_dir from keys.h's default
    SELFTEST_CHECK (!cfg->insecure && strstr (cfg->config_dir, "kernelmq"));
    char *with_dir [] = { "kmq-broker", "--config-dir", "/tmp/kmq-cfg", "--insecure" };
    rc = s_try (&cfg, err, sizeof err, 4, with_dir);
    SELFTEST_CHECK (rc == 0 && cfg->insecure && streq (cfg->config_dir, "/tmp/kmq-cfg"));

    //  Scopes: a program refuses flags outside its own
    char *hostflag [] = { "kmq-x", "--pool-size", "3" };
    config_destroy (&cfg);
    cfg = config_new ();
    rc = config_load (cfg, CONFIG_BROKER, 3, hostflag, err, sizeof err);
    SELFTEST_CHECK (rc == -1 && strstr (err, "setting of the kernel host"));
    char *brokerflag [] = { "kmq-host", "--idle-timeout-s", "3" };
    config_destroy (&cfg);
    cfg = config_new ();
    rc = config_load (cfg, CONFIG_HOST, 3, brokerflag, err, sizeof err);
    SELFTEST_CHECK (rc == -1 && strstr (err, "setting of the broker"));
    char *bad_id [] = { "kmq-host", "--host-id", "a/b" };
    rc = s_try (&cfg, err, sizeof err, 3, bad_id);
    SELFTEST_CHECK (rc == -1 && strstr (err, "host_id"));

    //  The local host's argv carries the host settings, and parses back
    char *shaped [] = { "kmq-broker", "--memory-limit", "1G", "--pool-size", "5",
                        "--zygote", "false", "--runtime-dir", "/tmp/kmq-arg" };
    rc = s_try (&cfg, err, sizeof err, 9, shaped);
    SELFTEST_CHECK (rc == 0);
    char **host_argv = config_host_argv (cfg, "/bin/kmq-host");
    int host_argc = 0;
    while (host_argv [host_argc])
        host_argc++;
    config_t *host = config_new ();
    rc = config_load (host, CONFIG_HOST, host_argc, host_argv, err, sizeof err);
    SELFTEST_CHECK (rc == 0);
    SELFTEST_CHECK (host->memory_limit == 1ull << 30 && host->pool_size == 5 && !host->zygote);
    SELFTEST_CHECK (streq (host->runtime_dir, "/tmp/kmq-arg"));
    SELFTEST_CHECK (streq (host->backend, "ipc:///tmp/kmq-arg/backend"));
    config_destroy (&host);
    mem_strv_destroy (&host_argv);
    mem_strv_destroy (&host_argv);

    //  Precedence: file < env < flag
    char path [] = "/tmp/kmq-config-test-XXXXXX";
    int fd = mkstemp (path);
    SELFTEST_CHECK (fd >= 0);
    const char *zpl =
        "#   test\n"
        "broker\n"
        "    idle_timeout_s = 11\n"
        "    max_queue = 7\n"
        "    max_payload = 2K\n"
        "    frontend = \"tcp://127.0.0.1:6000\"\n"
        "kernel\n"
        "    anything = 1\n";
    ssize_t written = write (fd, zpl, strlen (zpl));
    SELFTEST_CHECK (written == (ssize_t) strlen (zpl));
    close (fd);
    char *with_file [] = { "kmq-broker", "-c", path };
    rc = s_try (&cfg, err, sizeof err, 3, with_file);
    SELFTEST_CHECK (rc == 0);
    SELFTEST_CHECK (cfg->idle_timeout_s == 11);
    SELFTEST_CHECK (cfg->max_queue == 7);
    SELFTEST_CHECK (cfg->max_payload == 2048);
    SELFTEST_CHECK (streq (cfg->frontend, "tcp://127.0.0.1:6000"));

    setenv ("KMQ_IDLE_TIMEOUT_S", "22", 1);
    setenv ("KMQ_CONFIG", path, 1);
    rc = s_try (&cfg, err, sizeof err, 1, plain);
    SELFTEST_CHECK (rc == 0);
    SELFTEST_CHECK (cfg->idle_timeout_s == 22);     //  env beats file
    SELFTEST_CHECK (cfg->max_queue == 7);           //  file still applies

    char *with_flag [] = { "kmq-broker", "--idle-timeout-s", "2", "--max-queue=9",
                           "--runtime-dir", "/tmp/x", "-v" };
    rc = s_try (&cfg, err, sizeof err, 7, with_flag);
    SELFTEST_CHECK (rc == 0);
    SELFTEST_CHECK (cfg->idle_timeout_s == 2);      //  flag beats env
    SELFTEST_CHECK (cfg->max_queue == 9);           //  flag beats file
    SELFTEST_CHECK (cfg->verbose);
    SELFTEST_CHECK (streq (cfg->runtime_dir, "/tmp/x"));
    SELFTEST_CHECK (streq (cfg->backend, "ipc:///tmp/x/backend"));
    unsetenv ("KMQ_IDLE_TIMEOUT_S");
    unsetenv ("KMQ_CONFIG");

    //  Sizes
    char *sizes [] = { "kmq-broker", "--memory-limit", "3G", "--max-output", "0",
                       "--max-payload", "1M" };
    rc = s_try (&cfg, err, sizeof err, 7, sizes);
    SELFTEST_CHECK (rc == 0);
    SELFTEST_CHECK (cfg->memory_limit == 3ull << 30);
    SELFTEST_CHECK (cfg->max_output == 0);
    SELFTEST_CHECK (cfg->max_payload == 1ull << 20);

    //  Zygote switches
    char *zyg [] = { "kmq-broker", "--zygote", "false", "--pool-size", "0" };
    rc = s_try (&cfg, err, sizeof err, 5, zyg);
    SELFTEST_CHECK (rc == 0 && !cfg->zygote && cfg->pool_size == 0);
    char *zyg_on [] = { "kmq-broker", "--zygote", "--pool-size", "64" };
    rc = s_try (&cfg, err, sizeof err, 4, zyg_on);
    SELFTEST_CHECK (rc == 0 && cfg->zygote && cfg->pool_size == 64);
    char *zyg_bad [] = { "kmq-broker", "--pool-size", "65" };
    rc = s_try (&cfg, err, sizeof err, 3, zyg_bad);
    SELFTEST_CHECK (rc == -1 && strstr (err, "out of range"));

    //  Idle kernels never beat more often than busy ones
    char *beats [] = { "kmq-broker", "--heartbeat-ivl-ms", "20000" };
    rc = s_try (&cfg, err, sizeof err, 3, beats);
    SELFTEST_CHECK (rc == 0 && cfg->heartbeat_idle_ivl_ms == 20000);
    char *beats2 [] = { "kmq-broker", "--heartbeat-ivl-ms", "300", "--heartbeat-idle-ivl-ms", "2000" };
    rc = s_try (&cfg, err, sizeof err, 5, beats2);
    SELFTEST_CHECK (rc == 0 && cfg->heartbeat_ivl_ms == 300 && cfg->heartbeat_idle_ivl_ms == 2000);

    //  Bad values: each names its source
    char *bad1 [] = { "kmq-broker", "--idle-timeout-s", "soon" };
    rc = s_try (&cfg, err, sizeof err, 3, bad1);
    SELFTEST_CHECK (rc == -1 && strstr (err, "--idle-timeout-s") && strstr (err, "not a number"));
    char *bad2 [] = { "kmq-broker", "--heartbeat-liveness", "0" };
    rc = s_try (&cfg, err, sizeof err, 3, bad2);
    SELFTEST_CHECK (rc == -1 && strstr (err, "out of range"));
    char *bad3 [] = { "kmq-broker", "--frobnicate", "1" };
    rc = s_try (&cfg, err, sizeof err, 3, bad3);
    SELFTEST_CHECK (rc == -1 && strstr (err, "unknown flag --frobnicate"));
    char *bad4 [] = { "kmq-broker", "--max-payload", "2G" };
    rc = s_try (&cfg, err, sizeof err, 3, bad4);
    SELFTEST_CHECK (rc == -1 && strstr (err, "out of range"));
    char *bad5 [] = { "kmq-broker", "--max-queue", "-1" };
    rc = s_try (&cfg, err, sizeof err, 3, bad5);
    SELFTEST_CHECK (rc == -1);
    char *bad6 [] = { "kmq-broker", "--max-queue" };
    rc = s_try (&cfg, err, sizeof err, 2, bad6);
    SELFTEST_CHECK (rc == -1 && strstr (err, "needs a value"));
    char *bad7 [] = { "kmq-broker", "--max-payload", "12X" };
    rc = s_try (&cfg, err, sizeof err, 3, bad7);
    SELFTEST_CHECK (rc == -1 && strstr (err, "not a size"));
    char *bad8 [] = { "kmq-broker", "--sandbox-require", "seccomp,bogus" };
    rc = s_try (&cfg, err, sizeof err, 3, bad8);
    SELFTEST_CHECK (rc == -1 && strstr (err, "unknown layer 'bogus' (known: namespaces, "
                                        "filesystem, caps,") && strstr (err, "cgroup; or none"));
    //  Resource control: cgroup modes, a CPU cap in CPUs, the uid range
    char *res [] = { "kmq-broker", "--cgroup", "none", "--cpu-quota", "0.5",
                     "--host-memory", "3G" };
    rc = s_try (&cfg, err, sizeof err, 7, res);
    SELFTEST_CHECK (rc == 0 && streq (cfg->cgroup, "none") && cfg->cpu_quota == 0.5
                 && cfg->host_memory == 3ull << 30);
    host_argv = config_host_argv (cfg, "/bin/kmq-host");
    host_argc = 0;
    while (host_argv [host_argc])
        host_argc++;
    host = config_new ();
    SELFTEST_CHECK (config_load (host, CONFIG_HOST, host_argc, host_argv, err,
                                 sizeof err) == 0 && host->cpu_quota == 0.5);
    config_destroy (&host);
    mem_strv_destroy (&host_argv);
    SELFTEST_CHECK (cfg->executor_uid_base == 1ull << 31
                 && cfg->executor_uid_count == 1ull << 22);
    char *bad_res1 [] = { "kmq-broker", "--cgroup", "v3" };
    rc = s_try (&cfg, err, sizeof err, 3, bad_res1);
    SELFTEST_CHECK (rc == -1 && strstr (err, "auto, v2, v1 or none"));
    char *bad_res2 [] = { "kmq-broker", "--cpu-quota", "-1" };
    rc = s_try (&cfg, err, sizeof err, 3, bad_res2);
    SELFTEST_CHECK (rc == -1 && strstr (err, "not a number like 0.5"));
    char *bad_res3 [] = { "kmq-broker", "--executor-uid-base", "4294967000" };
    rc = s_try (&cfg, err, sizeof err, 3, bad_res3);
    SELFTEST_CHECK (rc == -1 && strstr (err, "passes the last uid"));

    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    SELFTEST_CHECK (out);
    config_print_markdown (out);
    config_print_help (CONFIG_BOTH, out);
    config_print_help (CONFIG_HOST, out);
    fclose (out);
    SELFTEST_CHECK (strstr (text, "(for the local kernel host)"));
    SELFTEST_CHECK (!strstr (text, "{layers}"));
    SELFTEST_CHECK (strstr (text, "(comma list of namespaces, filesystem, caps, rlimits, "
                                  "no_new_privs, landlock, seccomp, cgroup; or none)"));
    free (text);
    setenv ("KMQ_MAX_SESSIONS", "many", 1);
    rc = s_try (&cfg, err, sizeof err, 1, plain);
    SELFTEST_CHECK (rc == -1 && strstr (err, "environment KMQ_MAX_SESSIONS"));
    unsetenv ("KMQ_MAX_SESSIONS");

    fd = open (path, O_WRONLY | O_TRUNC);
    SELFTEST_CHECK (fd >= 0);
    zpl = "broker\n    idle_timeout = 5\n";
    written = write (fd, zpl, strlen (zpl));
    SELFTEST_CHECK (written == (ssize_t) strlen (zpl));
    close (fd);
    rc = s_try (&cfg, err, sizeof err, 3, with_file);
    SELFTEST_CHECK (rc == -1 && strstr (err, "unknown key broker/idle_timeout"));
    unlink (path);
    rc = s_try (&cfg, err, sizeof err, 3, with_file);
    SELFTEST_CHECK (rc == -1 && strstr (err, "config file"));

    char *help [] = { "kmq-broker", "--help", "--config-table" };
    rc = s_try (&cfg, err, sizeof err, 3, help);
    SELFTEST_CHECK (rc == 0 && cfg->help && cfg->config_table);
    if (verbose) {
        config_print_help (CONFIG_BROKER, stdout);
        config_print_markdown (stdout);
    }
    config_destroy (&cfg);
    config_destroy (&cfg);
    SELFTEST_CHECK (cfg == NULL);
}
