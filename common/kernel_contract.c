/*  kernel_contract — the command line of kmq-kernel, from one table
    (see kernel_contract.h). The selftest is kernel_contract_test.c.
*/
#include "kernel_contract_internal.h"
#include "mem.h"
#include "proto.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define S_OFF(field)    offsetof (kernel_settings_t, field)
#define S_SESSION       KERNEL_CONTRACT_SESSION
#define S_ZYGOTE        KERNEL_CONTRACT_ZYGOTE
#define S_BOTH          (KERNEL_CONTRACT_SESSION | KERNEL_CONTRACT_ZYGOTE)
#define S_ANY           0, UINT64_MAX
#define S_MS_CAP        (1ull << 40)    //  timeouts above make no sense

static int
s_check_session (const char *value, char *why, size_t why_size)
{
    if (proto_session_valid (value, strlen (value)))
        return 0;
    snprintf (why, why_size, "'%.64s' is not a session key (1-%d bytes of "
              "[A-Za-z0-9._:-])", value, PROTO_SESSION_MAX);
    return -1;
}

static int
s_check_kernel_id (const char *value, char *why, size_t why_size)
{
    size_t len = strlen (value);
    if (len > 0 && len <= 255)
        return 0;
    snprintf (why, why_size, "must be 1-255 bytes, not %zu", len);
    return -1;
}

static int
s_check_absolute (const char *value, char *why, size_t why_size)
{
    if (*value == '/')
        return 0;
    snprintf (why, why_size, "'%.64s' is not an absolute path", value);
    return -1;
}

//  The one table. The order is the argv's: the zygote role's first row is
//  --zygote (tests and operators find the zygote as `kmq-kernel --zygote`).
//  Every sandbox row is taken by both roles: the zygote must know each
//  value it compares.
const kernel_contract_row_t kernel_contract_rows [] = {
    { "endpoint", 0, KERNEL_CONTRACT_STRING, S_OFF (endpoint), NULL, 0, 0,
      S_SESSION, S_SESSION, false, NULL, "URL",
      "the broker's backend, which the kernel connects to" },
    { "session", 0, KERNEL_CONTRACT_STRING, S_OFF (session), NULL, 0, 0,
      S_SESSION, S_SESSION, false, s_check_session, "KEY",
      "the session key (1-128 bytes of [A-Za-z0-9._:-])" },
    { "kernel-id", 0, KERNEL_CONTRACT_STRING, S_OFF (kernel_id), NULL, 0, 0,
      S_SESSION, S_SESSION, false, s_check_kernel_id, "ID",
      "the kernel's routing id at the broker (1-255 bytes)" },
    { "work-dir", 0, KERNEL_CONTRACT_STRING, S_OFF (work_dir), NULL, 0, 0,
      S_SESSION, S_SESSION, false, s_check_absolute, "DIR",
      "the kernel's work dir, an absolute path: created at start, removed at exit" },
    { "state-lost", 0, KERNEL_CONTRACT_STRING, S_OFF (state_lost), NULL, 0, 0,
      S_SESSION, 0, false, NULL, "NOTICE",
      "a restarted session: the first reply carries state_lost and this notice" },
    { "host", 0, KERNEL_CONTRACT_STRING, S_OFF (host), NULL, 0, 0,
      S_SESSION, 0, false, NULL, "ID",
      "the kernel host that started the kernel, said in its ready" },
    { "state-dir", 0, KERNEL_CONTRACT_STRING, S_OFF (state_dir), NULL, 0, 0,
      S_SESSION, 0, false, s_check_absolute, "DIR",
      "where the session's snapshot is written and read (protocol.md 10.3); "
      "without it the kernel takes and restores none" },
    { "cgroup", 0, KERNEL_CONTRACT_STRING, S_OFF (cgroup), NULL, 0, 0,
      S_SESSION, 0, false, s_check_absolute, "LIST",
      "the executor's control groups, one directory per hierarchy, ':'-separated: "
      "the kernel moves its executor into each before any request; without it the "
      "executor runs in no group of its own" },
    { "heartbeat-ivl-ms", 0, KERNEL_CONTRACT_UINT, S_OFF (heartbeat_ivl_ms), "1000",
      1, 3600000, S_SESSION, 0, false, NULL, "N",
      "milliseconds between heartbeats to and from the broker while a request runs" },
    { "heartbeat-idle-ivl-ms", 0, KERNEL_CONTRACT_UINT, S_OFF (heartbeat_idle_ivl_ms), "10000",
      1, 3600000, S_SESSION, 0, false, NULL, "N",
      "milliseconds between heartbeats to and from the broker while idle (never "
      "below --heartbeat-ivl-ms; protocol.md 7)" },
    { "heartbeat-liveness", 0, KERNEL_CONTRACT_UINT, S_OFF (heartbeat_liveness), "3",
      1, 1000, S_SESSION, 0, false, NULL, "N",
      "heartbeats the broker may miss before the kernel gives up on it" },
    { "request-timeout-ms", 0, KERNEL_CONTRACT_UINT, S_OFF (request_timeout_ms), "0",
      0, S_MS_CAP, S_SESSION, 0, false, NULL, "N",
      "wall-clock milliseconds a request may run (0 = no cap)" },
    { "request-cpu-s", 0, KERNEL_CONTRACT_UINT, S_OFF (request_cpu_s), "0",
      0, S_MS_CAP / 1000, S_SESSION, 0, false, NULL, "N",
      "CPU seconds a request may use (0 = no cap)" },
    { "broker-grace-ms", 0, KERNEL_CONTRACT_UINT, S_OFF (broker_grace_ms), "0",
      0, S_MS_CAP, S_SESSION, 0, false, NULL, "N",
      "milliseconds a silent broker is waited for before the kernel ends "
      "(0 = heartbeat interval x liveness; protocol.md 12.2)" },
    { "kill-grace-ms", 0, KERNEL_CONTRACT_UINT, S_OFF (kill_grace_ms), "2000",
      0, S_MS_CAP, S_SESSION, 0, false, NULL, "N",
      "milliseconds between the interrupt at a timeout and SIGKILL" },
    { "max-output", 0, KERNEL_CONTRACT_SIZE, S_OFF (max_output), "0",
      S_ANY, S_SESSION, 0, false, NULL, "BYTES",
      "bytes of stdout and stderr per request before truncation (0 = no cap)" },
    { "zygote", 0, KERNEL_CONTRACT_STRING, S_OFF (zygote), NULL, 0, 0,
      S_BOTH, S_ZYGOTE, false, s_check_absolute, "SOCKET",
      "the zygote's socket, an absolute path: with --session, where the kernel "
      "asks for its executor; without, where the zygote listens" },
    { "pool", 0, KERNEL_CONTRACT_UINT, S_OFF (pool_size), "0",
      0, 64, S_ZYGOTE, 0, false, NULL, "N",
      "executors the zygote keeps forked ahead of demand (0 = fork on demand)" },
    { "cgroup-spares", 0, KERNEL_CONTRACT_STRING, S_OFF (cgroup_spares), NULL, 0, 0,
      S_ZYGOTE, 0, false, s_check_absolute, "LIST",
      "the kernel host's parent groups, one directory per hierarchy, ':'-separated: "
      "the zygote forks each pool executor inside a ready spare-N child of them, "
      "which the executor's kernel then renames to its own group" },
    { "memory-limit", 0, KERNEL_CONTRACT_SIZE, S_OFF (memory_limit), "2G",
      S_ANY, S_BOTH, 0, true, NULL, "BYTES",
      "address-space bytes per executor (0 = unlimited)" },
    { "cpu-limit-s", 0, KERNEL_CONTRACT_UINT, S_OFF (cpu_limit_s), "0",
      S_ANY, S_BOTH, 0, true, NULL, "N",
      "CPU seconds per executor (0 = unlimited)" },
    { "max-payload", 0, KERNEL_CONTRACT_SIZE, S_OFF (max_payload), "256M",
      S_ANY, S_BOTH, 0, true, NULL, "BYTES",
      "bytes per payload frame at most (0 = the protocol's cap)" },
    { "work-quota", 0, KERNEL_CONTRACT_SIZE, S_OFF (work_quota), "256M",
      S_ANY, S_BOTH, 0, true, NULL, "BYTES",
      "bytes the executor's /work may hold; also its largest file (0 = 256M)" },
    { "tmp-quota", 0, KERNEL_CONTRACT_SIZE, S_OFF (tmp_quota), "256M",
      S_ANY, S_BOTH, 0, true, NULL, "BYTES",
      "bytes the executor's /tmp may hold (0 = 256M)" },
    { "max-threads", 0, KERNEL_CONTRACT_UINT, S_OFF (max_threads), "256",
      S_ANY, S_BOTH, 0, true, NULL, "N",
      "threads an executor may run (0 = 256)" },
    { "max-files", 0, KERNEL_CONTRACT_UINT, S_OFF (max_files), "1024",
      S_ANY, S_BOTH, 0, true, NULL, "N",
      "files an executor may hold open (0 = 1024)" },
    { "executor-uid-base", 0, KERNEL_CONTRACT_UINT, S_OFF (executor_uid_base),
      "2147483648", 1, 4294967294u, S_BOTH, 0, true, NULL, "N",
      "first outside uid/gid of executors" },
    { "executor-uid-count", 0, KERNEL_CONTRACT_UINT, S_OFF (executor_uid_count),
      "4194304", 1, 4294967294u, S_BOTH, 0, true, NULL, "N",
      "outside uids/gids of executors: an executor gets base + (its pid mod count)" },
    { "snapshot-quota", 0, KERNEL_CONTRACT_SIZE, S_OFF (snapshot_quota), "256M",
      S_ANY, S_SESSION, 0, false, NULL, "BYTES",
      "bytes a snapshot may take (capped at max-payload)" },
    { "snapshot-ttl-s", 0, KERNEL_CONTRACT_UINT, S_OFF (snapshot_ttl_s), "604800",
      1, UINT32_MAX, S_SESSION, 0, false, NULL, "N",
      "seconds a snapshot stays restorable" },
    { "snapshot", 0, KERNEL_CONTRACT_FLAG, S_OFF (snapshot), NULL, 0, 0,
      S_SESSION, 0, false, NULL, NULL,
      "on SIGTERM (a graceful host shutdown), snapshot the session before exiting" },
    { "restore", 0, KERNEL_CONTRACT_FLAG, S_OFF (restore), NULL, 0, 0,
      S_SESSION, 0, false, NULL, NULL,
      "the session was evicted with a snapshot: without one to restore, the first "
      "reply says why its state is lost" },
    { "verbose", 'v', KERNEL_CONTRACT_FLAG, S_OFF (verbose), NULL, 0, 0,
      S_BOTH, 0, false, NULL, NULL,
      "log every message at debug level" },
};

const size_t kernel_contract_row_count =
    sizeof (kernel_contract_rows) / sizeof (kernel_contract_rows [0]);

static const char *const s_layers [KERNEL_CONTRACT_LAYERS] = {
    "namespaces", "filesystem", "caps", "rlimits", "no_new_privs", "landlock",
    "seccomp", "cgroup"
};

const char *
kernel_contract_layer_name (size_t index)
{
    return index < KERNEL_CONTRACT_LAYERS? s_layers [index]: NULL;
}


//  --------------------------------------------------------------------
//  Values

#define S_FIELD(settings, row, type) \
    ((type *) ((char *) (settings) + (row)->offset))

//  Parses a number of row's kind. Returns 0, or -1 with why filled.
static int
s_parse_number (const kernel_contract_row_t *row, const char *text, uint64_t *value,
                char *why, size_t why_size)
{
    bool is_size = row->kind == KERNEL_CONTRACT_SIZE;
    //  Digits first: strtoull would take "-1" and " 5"
    if (!isdigit ((unsigned char) *text))
        goto not_a_number;
    errno = 0;
    char *end;
    unsigned long long parsed = strtoull (text, &end, 10);
    unsigned shift = 0;
    const char *units = "KMG";
    const char *unit = is_size && *end? strchr (units, toupper ((unsigned char) *end)): NULL;
    if (unit && end [1] == 0) {
        shift = 10 * (unsigned) (1 + unit - units);
        end++;
    }
    if (*end)
        goto not_a_number;
    if (errno == ERANGE || parsed > (UINT64_MAX >> shift)) {
        snprintf (why, why_size, "'%.64s' is too large", text);
        return -1;
    }
    *value = (uint64_t) parsed << shift;
    if (*value < row->min || *value > row->max) {
        snprintf (why, why_size, "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64,
                  *value, row->min, row->max);
        return -1;
    }
    return 0;

not_a_number:
    snprintf (why, why_size, "'%.64s' is not %s", text, is_size?
              "a size (digits, then K, M or G at will)": "a non-negative integer");
    return -1;
}

//  Sets row's field from text. Returns 0, or -1 with why filled.
static int
s_set (const kernel_contract_row_t *row, kernel_settings_t *settings, const char *text,
       char *why, size_t why_size)
{
    if (row->kind == KERNEL_CONTRACT_STRING) {
        if (row->check && row->check (text, why, why_size))
            return -1;
        *S_FIELD (settings, row, const char *) = text;
        return 0;
    }
    assert (row->kind != KERNEL_CONTRACT_FLAG);
    return s_parse_number (row, text, S_FIELD (settings, row, uint64_t), why, why_size);
}

//  The value of a number or string row as text (strings: "" when NULL).
static const char *
s_value_text (const kernel_contract_row_t *row, const kernel_settings_t *settings,
              char *buf, size_t size)
{
    if (row->kind == KERNEL_CONTRACT_STRING) {
        const char *value = *S_FIELD (settings, row, const char *);
        return value? value: "";
    }
    if (row->kind == KERNEL_CONTRACT_FLAG)
        return *S_FIELD (settings, row, bool)? "1": "0";
    snprintf (buf, size, "%" PRIu64, *S_FIELD (settings, row, uint64_t));
    return buf;
}

static const kernel_contract_row_t *
s_find (const char *name, size_t len)
{
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        const kernel_contract_row_t *row = &kernel_contract_rows [i];
        if (strlen (row->name) == len && memcmp (row->name, name, len) == 0)
            return row;
    }
    return NULL;
}

static const kernel_contract_row_t *
s_find_letter (char letter)
{
    for (size_t i = 0; i < kernel_contract_row_count; i++)
        if (letter && kernel_contract_rows [i].letter == letter)
            return &kernel_contract_rows [i];
    return NULL;
}


//  --------------------------------------------------------------------
//  Public

void
kernel_contract_defaults (kernel_settings_t *settings)
{
    assert (settings);
    memset (settings, 0, sizeof *settings);
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        const kernel_contract_row_t *row = &kernel_contract_rows [i];
        if (!row->dflt)
            continue;
        char why [128];
        int rc = s_set (row, settings, row->dflt, why, sizeof why);
        assert (rc == 0);           //  a bad default is a bug in the table
        (void) rc;
    }
}

kernel_contract_role_t
kernel_contract_role (const kernel_settings_t *settings)
{
    assert (settings);
    return settings->zygote && !settings->session? KERNEL_CONTRACT_ZYGOTE
                                                 : KERNEL_CONTRACT_SESSION;
}

char **
kernel_contract_argv (const char *path, const kernel_settings_t *settings, int *argc_p)
{
    assert (path && settings);
    kernel_contract_role_t role = kernel_contract_role (settings);
    char **argv = (char **) mem_alloc ((2 * kernel_contract_row_count + 2) * sizeof (char *));
    size_t argc = 0;
    argv [argc++] = mem_strdup (path);
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        const kernel_contract_row_t *row = &kernel_contract_rows [i];
        if (!(row->roles & role))
            continue;
        if (row->kind == KERNEL_CONTRACT_FLAG) {
            if (*S_FIELD (settings, row, bool))
                argv [argc++] = mem_sprintf ("--%s", row->name);
            continue;
        }
        if (row->kind == KERNEL_CONTRACT_STRING && !*S_FIELD (settings, row, const char *))
            continue;
        char number [24];
        argv [argc++] = mem_sprintf ("--%s", row->name);
        argv [argc++] = mem_strdup (s_value_text (row, settings, number, sizeof number));
    }
    argv [argc] = NULL;
    if (argc_p)
        *argc_p = (int) argc;
    return argv;
}

void
kernel_contract_argv_destroy (char ***argv_p)
{
    assert (argv_p);
    mem_strv_destroy (argv_p);
}

//  After all flags: each given one belongs to the role, each required one
//  is given. Returns 0, or -1 with err filled.
static int
s_check_role (const kernel_settings_t *settings, const bool *given,
              char *err, size_t err_size)
{
    kernel_contract_role_t role = kernel_contract_role (settings);
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        const kernel_contract_row_t *row = &kernel_contract_rows [i];
        if (given [i] && !(row->roles & role)) {
            if (role == KERNEL_CONTRACT_ZYGOTE)
                snprintf (err, err_size, "--%s is a session kernel's flag; the "
                          "zygote (--zygote without --session) does not take it",
                          row->name);
            else
                snprintf (err, err_size, "--%s is the zygote's flag (--zygote "
                          "without --session); a session's kernel does not take it",
                          row->name);
            return -1;
        }
        if (!given [i] && (row->required & role)) {
            snprintf (err, err_size, "--%s is required", row->name);
            return -1;
        }
    }
    return 0;
}

int
kernel_contract_parse (kernel_settings_t *settings, int argc, char *const argv [],
                       char *err, size_t err_size)
{
    assert (settings && argv && err);
    kernel_contract_defaults (settings);
    bool given [sizeof kernel_contract_rows / sizeof kernel_contract_rows [0]] = { false };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0)
            return 1;
        const kernel_contract_row_t *row = NULL;
        const char *value = NULL;
        if (strncmp (arg, "--", 2) == 0) {
            const char *eq = strchr (arg + 2, '=');
            size_t len = eq? (size_t) (eq - arg - 2): strlen (arg + 2);
            row = s_find (arg + 2, len);
            value = eq? eq + 1: NULL;
        }
        else
        if (arg [0] == '-' && arg [1] && !arg [2])
            row = s_find_letter (arg [1]);
        else {
            snprintf (err, err_size, "unexpected argument '%.64s'", arg);
            return -1;
        }
        if (!row) {
            snprintf (err, err_size, "unknown flag '%.64s'", arg);
            return -1;
        }
        size_t index = (size_t) (row - kernel_contract_rows);
        if (given [index]) {
            snprintf (err, err_size, "--%s is given twice", row->name);
            return -1;
        }
        given [index] = true;
        if (row->kind == KERNEL_CONTRACT_FLAG) {
            if (value) {
                snprintf (err, err_size, "--%s takes no value", row->name);
                return -1;
            }
            *S_FIELD (settings, row, bool) = true;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) {
                snprintf (err, err_size, "--%s needs a value (%s)", row->name,
                          row->value_name);
                return -1;
            }
            value = argv [++i];
        }
        char why [192];
        if (s_set (row, settings, value, why, sizeof why)) {
            snprintf (err, err_size, "--%s: %s", row->name, why);
            return -1;
        }
    }
    return s_check_role (settings, given, err, err_size);
}

//  One role's synopsis: required flags, then the others in brackets,
//  wrapped under the program name.
static void
s_usage_role (FILE *out, const char *lead, kernel_contract_role_t role)
{
    const char *indent = "                 ";   //  under the first flag
    int column = fprintf (out, "%s", lead);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < kernel_contract_row_count; i++) {
            const kernel_contract_row_t *row = &kernel_contract_rows [i];
            bool required = (row->required & role) != 0;
            if (!(row->roles & role) || required != (pass == 0))
                continue;
            char word [96];
            if (row->letter)
                snprintf (word, sizeof word, "[-%c]", row->letter);
            else
                snprintf (word, sizeof word, "%s--%s %s%s", required? "": "[",
                          row->name, row->value_name, required? "": "]");
            if (column + 1 + (int) strlen (word) > 78)
                column = fprintf (out, "\n%s", indent) - 1;
            column += fprintf (out, " %s", word);
        }
    fprintf (out, "\n");
}

void
kernel_contract_usage (FILE *out)
{
    assert (out);
    s_usage_role (out, "usage: kmq-kernel", KERNEL_CONTRACT_SESSION);
    s_usage_role (out, "       kmq-kernel", KERNEL_CONTRACT_ZYGOTE);
    fprintf (out,
        "Started by kmq-broker: one kernel per session (its executor from the\n"
        "zygote at SOCKET when given, else forked here), and one zygote (the\n"
        "second form, without --session); not meant to be run by hand.\n"
        "Sizes are bytes, with K, M or G at will.\n\n");
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        const kernel_contract_row_t *row = &kernel_contract_rows [i];
        char left [96];
        if (row->letter)
            snprintf (left, sizeof left, "-%c, --%s", row->letter, row->name);
        else
            snprintf (left, sizeof left, "--%s %s", row->name, row->value_name);
        fprintf (out, "  %-28s %s\n", left, row->help);
        if (row->dflt)
            fprintf (out, "  %-28s default %s\n", "", row->dflt);
    }
}

size_t
kernel_contract_fingerprint (const kernel_settings_t *settings, char *buf, size_t size)
{
    assert (settings);
    size_t used = 0;
    if (size)
        buf [0] = 0;
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        const kernel_contract_row_t *row = &kernel_contract_rows [i];
        if (!row->sandbox)
            continue;
        char number [24];
        size_t room = used < size? size - used: 0;
        int n = snprintf (room? buf + used: NULL, room, "%s%s=%s", used? ",": "",
                          row->name, s_value_text (row, settings, number, sizeof number));
        used += n > 0? (size_t) n: 0;
    }
    return used;
}
