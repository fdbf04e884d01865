/*  kmq-selftest — runs every module's selftest (module_test (verbose)).
    Usage: kmq-selftest [-v] [MODULE...]   e.g. kmq-selftest proto            */
#include <stdio.h>
#include <string.h>
#include <czmq.h>
#include "proto.h"
#include "proto_stream.h"
#include "frame.h"
#include "config.h"
#include "session.h"
#include "clients.h"
#include "outbox.h"
#include "hosts.h"
#include "host_lock.h"
#include "snapshot_store.h"
#include "host_kernels.h"
#include "kernel_proc.h"
#include "kernel_standby.h"
#include "zygote_proc.h"
#include "kmq.h"
#include "kmq_async.h"
#include "jupyter_message.h"
#include "jupyter_mime.h"
#include "kmq_json.h"
#include "http_server.h"
#include "http_status.h"
#include "http_token.h"
#include "http_route.h"
#include "http_exec.h"
#include "http_metrics.h"
#include "http_gateway.h"
#include "http_multipart.h"
#include "signal_pipe.h"
#include "utf8.h"
#include "keys.h"
#include "auth.h"
#include "owners.h"
#include "sandbox.h"
#include "monitor_request.h"
#include "monitor_replies.h"
#include "proc_info.h"
#include "fd_message.h"
#include "zygote_spawn.h"
#include "kernel_contract.h"
#include "cgroup.h"
#include "host_memory.h"
#include "host_ids.h"

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} selftest_t;

static const selftest_t s_tests [] = {
    { "proto", proto_test },
    { "proto_stream", proto_stream_test },
    { "frame", frame_test },
    { "utf8", utf8_test },
    { "keys", keys_test },
    { "auth", auth_test },
    { "owners", owners_test },
    { "kernel_contract", kernel_contract_test },
    { "config", config_test },
    { "session", session_test },
    { "clients", clients_test },
    { "outbox", outbox_test },
    { "hosts", hosts_test },
    { "host_lock", host_lock_test },
    { "snapshot_store", snapshot_store_test },
    { "host_kernels", host_kernels_test },
    { "kernel_proc", kernel_proc_test },
    { "kernel_standby", kernel_standby_test },
    { "zygote_proc", zygote_proc_test },
    { "kmq", kmq_test },
    { "kmq_async", kmq_async_test },
    { "jupyter_message", jupyter_message_test },
    { "kmq_json", kmq_json_test },
    { "jupyter_mime", jupyter_mime_test },
    { "http_status", http_status_test },
    { "http_token", http_token_test },
    { "http_route", http_route_test },
    { "http_exec", http_exec_test },
    { "http_metrics", http_metrics_test },
    { "http_multipart", http_multipart_test },
    { "http_server", http_server_test },
    { "http_gateway", http_gateway_test },
    { "signal_pipe", signal_pipe_test },
    { "sandbox", sandbox_test },
    { "cgroup", cgroup_test },
    { "host_memory", host_memory_test },
    { "host_ids", host_ids_test },
    { "monitor_request", monitor_request_test },
    { "monitor_replies", monitor_replies_test },
    { "proc_info", proc_info_test },
    { "fd_message", fd_message_test },
    { "zygote_spawn", zygote_spawn_test },
};

static bool
s_selected (const char *name, int argc, char **argv)
{
    bool any = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "-v") == 0)
            continue;
        any = true;
        if (strcmp (argv [i], name) == 0)
            return true;
    }
    return !any;
}

int
main (int argc, char **argv)
{
    bool verbose = argc > 1 && strcmp (argv [1], "-v") == 0;
    zsys_init ();
    size_t count = sizeof (s_tests) / sizeof (s_tests [0]);
    for (size_t i = 0; i < count; i++) {
        if (!s_selected (s_tests [i].name, argc, argv))
            continue;
        printf (" * %s: ", s_tests [i].name);
        fflush (stdout);
        s_tests [i].test (verbose);
        printf ("OK\n");
    }
    zsys_shutdown ();
    return 0;
}
