/*  kernel_contract — the command line of kmq-kernel, from one table.

    Whoever starts a kernel (today the broker, soon a kernel host) fills a
    kernel_settings_t and calls kernel_contract_argv; kmq-kernel calls
    kernel_contract_parse on what it was given. Both read the same table
    (kernel_contract.c), one row per setting: its flag, kind, the field it
    fills, its default and range, the roles that take it, whether the
    executor's sandbox depends on it, and its help. From that table come
    the argv, the parser and its errors, --help, and the sandbox
    fingerprint a zygote compares (protocol.md 10.2).

    Adding a setting:
      1. a field in kernel_settings_t (with its kind: pointers, numbers,
         flags);
      2. its row in kernel_contract.c: flag, kind, default, range, roles,
         sandbox or not, help;
      3. a non-default value in kernel_contract_test.c's settings of each
         role that takes it (the selftest names the row until it has one);
      4. the starter fills it (the broker: kernel_proc_settings), the
         kernel reads it (kernel/main.c, or sandbox_config_from_settings
         for a sandbox setting).
    The argv, the parser, --help and the fingerprint follow from the row.

    kmq-kernel has two roles, told apart as it always was: with --zygote
    and without --session it is the zygote (`kmq-kernel --zygote SOCKET
    --pool N [limits]`); otherwise one session's kernel. Each row names the
    roles that take it; a flag given to the other role is an error.

    The names of the sandbox layers a kernel reports (`ready`'s sandbox
    and sandbox_missing, the broker's sandbox_require) are listed here too:
    both sides of the contract read them from this one list.

    Depends on nothing outside common/: the broker's config and the
    kernel's own config structs are filled from kernel_settings_t by their
    owners.
*/
#ifndef KMQ_KERNEL_CONTRACT_H
#define KMQ_KERNEL_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

//  One field per row of the table. Strings are borrowed: from argv after
//  kernel_contract_parse, from the caller before kernel_contract_argv
//  (which copies them). NULL = not given (optional strings).
//  Pointers first, then numbers, then flags: kernel_contract_test checks
//  the struct holds nothing that has no row.
typedef struct {
    const char *endpoint;           //  --endpoint: the broker's backend
    const char *session;            //  --session: the session key
    const char *kernel_id;          //  --kernel-id: DEALER routing id
    const char *work_dir;           //  --work-dir: the kernel's work dir
    const char *state_lost;         //  --state-lost: first reply's notice
    const char *zygote;             //  --zygote: the zygote's socket
    const char *host;               //  --host: the kernel host that started it
    const char *state_dir;          //  --state-dir: where snapshots are kept
    const char *cgroup;             //  --cgroup: the executor's groups (cgroup.h)
    const char *cgroup_spares;      //  --cgroup-spares: the zygote's (cgroup.h)
    uint64_t heartbeat_ivl_ms;      //  while a request runs
    uint64_t heartbeat_idle_ivl_ms; //  while idle (protocol.md 7)
    uint64_t heartbeat_liveness;
    uint64_t request_timeout_ms;    //  0 = none
    uint64_t request_cpu_s;         //  0 = none
    uint64_t kill_grace_ms;
    uint64_t broker_grace_ms;       //  how long a silent broker is waited for
    uint64_t max_output;            //  bytes per request, 0 = no cap
    uint64_t pool_size;             //  --pool (the zygote)
    uint64_t memory_limit;          //  bytes, 0 = none
    uint64_t cpu_limit_s;           //  0 = none
    uint64_t max_payload;           //  bytes per payload frame
    uint64_t work_quota;            //  bytes of /work
    uint64_t tmp_quota;             //  bytes of /tmp
    uint64_t max_threads;
    uint64_t max_files;
    uint64_t snapshot_quota;        //  bytes a snapshot may take
    uint64_t snapshot_ttl_s;        //  age past which a snapshot is not restored
    uint64_t executor_uid_base;     //  first outside uid/gid of executors
    uint64_t executor_uid_count;    //  how many (base + pid mod count)
    bool snapshot;                  //  --snapshot: snapshot on SIGTERM too
    bool restore;                   //  --restore: a snapshot is expected
    bool verbose;                   //  --verbose, -v
} kernel_settings_t;

typedef enum {
    KERNEL_CONTRACT_SESSION = 1,        //  one session's kernel (monitor + executor)
    KERNEL_CONTRACT_ZYGOTE = 2          //  the zygote
} kernel_contract_role_t;

//  How long a kernel takes at most to snapshot or restore a session
//  (protocol.md 10.3), before its executor is interrupted, then killed:
//  whoever stops a kernel that snapshots waits this long besides its grace.
#define KERNEL_CONTRACT_SNAPSHOT_MS 60000

//  The sandbox layers, in the order they are applied; layer i is the
//  kernel's sandbox bit 1 << i.
#define KERNEL_CONTRACT_LAYERS 8

//  "namespaces", "filesystem", ... "cgroup" for index 0..7; NULL past them.
const char *kernel_contract_layer_name (size_t index);

//  Fills *settings with every row's default (strings NULL).
void kernel_contract_defaults (kernel_settings_t *settings);

//  KERNEL_CONTRACT_ZYGOTE when zygote is set and session is not, else
//  KERNEL_CONTRACT_SESSION.
kernel_contract_role_t kernel_contract_role (const kernel_settings_t *settings);

//  The argv that starts a kernel with settings: path, then each row of the
//  settings' role in table order (--zygote first for the zygote role),
//  numbers in decimal, strings left out when NULL, flags only when set;
//  NULL-terminated; its count in *argc_p unless argc_p is NULL. Every
//  string is a copy: the caller owns the result and frees it with
//  kernel_contract_argv_destroy. Never NULL.
char **kernel_contract_argv (const char *path, const kernel_settings_t *settings,
                             int *argc_p);

//  Frees an argv from kernel_contract_argv and sets *argv_p to NULL.
//  No-op on NULL.
void kernel_contract_argv_destroy (char ***argv_p);

//  Fills *settings from argv (argv [0] is the program): the defaults, then
//  each `--flag VALUE` (or `--flag=VALUE`, or a bare flag). Sizes take K,
//  M and G suffixes (powers of 1024). Strings point into argv.
//  Returns 0; 1 when -h or --help was given (nothing else is checked);
//  or -1 with a sentence naming the flag in err: an unknown flag, a
//  missing or malformed value, one out of range, one given twice, a
//  flag of the other role, a required flag missing.
int kernel_contract_parse (kernel_settings_t *settings, int argc, char *const argv [],
                           char *err, size_t err_size);

//  Writes the usage of both roles and every flag with its default.
void kernel_contract_usage (FILE *out);

//  "memory-limit=2147483648,cpu-limit-s=0,...": every row the executor's
//  sandbox depends on, with its value. A kernel sends its own in a spawn;
//  the zygote refuses one that differs from its own, so no session runs
//  under another's limits. Writes into buf (NUL-terminated when size > 0)
//  and returns the length the full text needs, like snprintf.
size_t kernel_contract_fingerprint (const kernel_settings_t *settings,
                                    char *buf, size_t size);

//  A buffer of this size holds any fingerprint, with room to spare for a
//  test build's suffix (the selftest checks it at the largest values).
#define KERNEL_CONTRACT_FINGERPRINT_MAX 512

//  Selftest: round trips for both roles, defaults and every row changed,
//  malformed command lines, the fingerprint, the usage.
void kernel_contract_test (bool verbose);

#endif
