/*  config — the settings of kmq-broker and kmq-host, from one table.

    Every setting is one row of a table (name, scope, kind, default, range,
    help). Its scope says which program takes it: the broker (routing,
    sessions, clients), the kernel host (kernels, their limits, the zygote)
    or both (endpoints, heartbeats). kmq-broker takes every setting and
    hands the host's to the local kernel host it starts (config_host_argv);
    kmq-host refuses a broker flag, and leaves the broker's settings in the
    file and the environment alone.
    The same row is read from four sources, later ones winning:

        built-in default
        < ZPL file (-c FILE, --config FILE or KMQ_CONFIG): key broker/NAME
        < environment KMQ_<NAME in upper case>       e.g. KMQ_IDLE_TIMEOUT_S
        < command line --<name-with-dashes> VALUE    e.g. --idle-timeout-s 2

    Sizes accept the suffixes K, M and G (powers of 1024). A bad value, an
    unknown flag or an unknown key under "broker" in the file is an error
    whose text names its source; the broker then exits 2.
*/
#ifndef KMQ_CONFIG_H
#define KMQ_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

//  Which program a setting is for.
typedef enum {
    CONFIG_BROKER = 1,
    CONFIG_HOST = 2,
    CONFIG_BOTH = 3                 //  kmq-broker's: it hands the host's on
} config_scope_t;

typedef struct {
    char *frontend;                 //  client endpoint (ROUTER binds)
    char *backend;                  //  kernel endpoint; derived from runtime_dir
    char *runtime_dir;              //  private directory: backend socket, work dirs
    char *kernel_path;              //  the kmq-kernel executable
    uint64_t heartbeat_ivl_ms;
    uint64_t heartbeat_idle_ivl_ms; //  >= heartbeat_ivl_ms once derived
    uint64_t heartbeat_liveness;
    uint64_t idle_timeout_s;        //  0 = never evict
    uint64_t max_sessions;
    uint64_t max_queue;
    uint64_t max_payload;           //  bytes per payload frame
    uint64_t request_timeout_s;
    uint64_t kill_grace_ms;
    uint64_t max_output;            //  bytes of output per request, 0 = unlimited
    uint64_t memory_limit;          //  bytes per kernel, 0 = unlimited
    uint64_t cpu_limit_s;           //  CPU seconds per kernel, 0 = unlimited
    uint64_t kernel_start_timeout_ms;
    uint64_t request_cpu_s;         //  CPU seconds per request, 0 = unlimited
    uint64_t work_quota;            //  bytes of the executor's /work
    uint64_t tmp_quota;             //  bytes of the executor's /tmp
    uint64_t max_threads;           //  threads (RLIMIT_NPROC) per executor
    uint64_t max_files;             //  open files (RLIMIT_NOFILE) per executor
    char *sandbox_require;          //  layers a kernel must report, "a,b" or "none"
    bool zygote;                    //  start executors from a zygote (warm pool)
    uint64_t pool_size;             //  executors the zygote keeps forked ahead
    uint64_t standby_kernels;       //  kernel processes started ahead (host/kernel_standby.h)
    uint64_t client_hwm;            //  unread messages per client (ZMQ_SNDHWM)
    bool verbose;
    bool host;                      //  the broker starts a local kernel host
    char *host_path;                //  the kmq-host executable
    char *host_id;                  //  the host's name at the broker
    uint64_t host_max_sessions;     //  a host's capacity
    uint64_t broker_grace_s;        //  how long a host waits for a silent broker
    bool snapshot;                  //  evicted sessions keep their state (10.3)
    uint64_t snapshot_quota;        //  bytes per session's snapshot
    uint64_t snapshot_ttl_s;        //  how long a snapshot stays restorable
    char *state_dir;                //  where a host keeps snapshots
    char *cgroup;                   //  auto, v2, v1 or none (common/cgroup.h)
    double cpu_quota;               //  CPUs per session at most, 0 = no cap
    uint64_t host_memory;           //  bytes the host's sessions may hold
    uint64_t executor_uid_base;     //  first outside uid/gid of executors
    uint64_t executor_uid_count;    //  how many, at least the kernel's pid_max
    char *config_dir;               //  CURVE keys and allowlists (keys.h)
    bool insecure;                  //  tcp without CURVE (logged at every start)
    //  Not settings: what the command line asked for besides running.
    bool help;                      //  --help / -h
    bool config_table;              //  --config-table
} config_t;

//  Creates a config holding the built-in defaults (derived values such as
//  backend and kernel_path are filled in by config_load). Never NULL.
config_t *config_new (void);

//  Destroys a config. No-op on NULL.
void config_destroy (config_t **self_p);

//  Applies the file, the environment and argv (argv [0] is the program) in
//  that order, then derives the empty defaults (runtime_dir, backend,
//  kernel_path). Returns 0, or -1 with a sentence naming the source and the
//  value in err. --help and --config-table only set self->help /
//  self->config_table.
//  scope is the settings the program takes (kmq-broker: both); a flag
//  outside it is an error.
int config_load (config_t *self, config_scope_t scope, int argc, char **argv,
                 char *err, size_t errsize);

//  Prints the program's usage text and its settings.
void config_print_help (config_scope_t scope, FILE *out);

//  Prints every setting as a Markdown table (name | for | flag | env |
//  default | meaning), for the README.
void config_print_markdown (FILE *out);

//  The argv that starts path as the broker's local kernel host: every
//  host setting with its value in self, NULL-terminated; the caller frees
//  it with mem_strv_destroy. Never NULL.
char **config_host_argv (const config_t *self, const char *path);

//  A program's start: loads its settings (scope) from argc/argv. Returns -1
//  with *cfg_p set when the program should run; else the exit status it
//  should end with, after printing what was asked (0: --help or
//  --config-table) or the error with the program's name (2).
int config_from_args (config_t **cfg_p, config_scope_t scope, const char *program,
                      int argc, char **argv);

//  Selftest.
void config_test (bool verbose);

//  Messages one peer's queue on the backend holds, each way (ZMQ_SNDHWM,
//  ZMQ_RCVHWM), for a broker or host with room for `sessions`: when every
//  session ends at once a host gets a `stop` for each and sends a
//  `kernel_exited` for each, and libzmq's default of 1,000 dropped the
//  rest (the host never saw the `shutdown` behind 3,000 stops). A kernel's
//  own queue never holds more than a few requests' worth.
uint64_t config_backend_hwm (uint64_t sessions);

#endif
