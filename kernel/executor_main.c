/*  kmq-executor — the Python side of a kernel: the binary that embeds
    CPython, so that kmq-kernel (a session's monitor, one per session)
    does not map libpython. Started only by kmq-kernel, with its argv[0]
    kept (ps shows what the host started), in one of two roles:

    kmq-executor --zygote SOCKET [flags]  (kmq-kernel exec'd it at once)
        the host's zygote (zygote.h).

    kmq-executor --executor PARENT SOCK OUT ERR [kernel flags]
        a monitor's fallback executor, when no zygote gave it one: the
        monitor cloned it into the sandbox's namespaces (sandbox_fork)
        and it exec'd here before anything else, with its request socket
        and output pipes open as SOCK, OUT and ERR and PARENT the
        monitor's pid. It makes the same config from the same flags as the
        monitor did (executor_config_from_settings) and goes through the
        same set-up as every executor (executor_child_fresh): the rest of
        the sandbox, Python, the seal, then requests.

    Exit status: the executor's (executor_internal.h); the zygote's
    (zygote_run); 2 bad usage.
*/
#include "executor_internal.h"
#include "kernel_contract.h"
#include "test_faults.h"
#include "zygote.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

//  Parses a non-negative int; -1 when text is not one.
static int
s_number (const char *text)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < 0 || value > INT_MAX)
        return -1;
    return (int) value;
}

//  The fallback executor. Never returns.
static void
s_executor (int argc, char *argv [])
{
    int numbers [4];
    for (int i = 0; i < 4; i++)
        if ((numbers [i] = s_number (argv [2 + i])) == -1)
            executor_die (EXECUTOR_EXIT_SETUP, "--executor: bad number %s", argv [2 + i]);
    //  The kernel contract's argv: the program, then the monitor's flags
    char **contract = argv + EXECUTOR_EXEC_WORDS;
    contract [0] = argv [0];
    static kernel_settings_t settings;
    char err [512];
    if (kernel_contract_parse (&settings, argc - EXECUTOR_EXEC_WORDS, contract, err, sizeof err)
    ||  kernel_contract_role (&settings) != KERNEL_CONTRACT_SESSION)
        executor_die (EXECUTOR_EXIT_SETUP, "--executor: %s", *err? err: "no --session");
    static executor_config_t config;
    static char fingerprint [KERNEL_CONTRACT_FINGERPRINT_MAX];
    executor_config_from_settings (&config, &settings, fingerprint, sizeof fingerprint);
    sandbox_report_t report;
    sandbox_exec_report (&config.sandbox, &report);
    executor_child_fresh (&config, (pid_t) numbers [0], numbers [1], numbers [2],
                          numbers [3], &report);
}

//  The zygote. Returns the exit status.
static int
s_zygote (int argc, char *argv [])
{
    kernel_settings_t settings;
    char err [512];
    int rc = kernel_contract_parse (&settings, argc, argv, err, sizeof err);
    if (rc == 1) {
        kernel_contract_usage (stdout);
        return 0;
    }
    if (rc == 0 && kernel_contract_role (&settings) != KERNEL_CONTRACT_ZYGOTE)
        snprintf (err, sizeof err, "kmq-executor is the zygote or an executor only; "
                  "a session's kernel is kmq-kernel");
    if (rc != 0 || kernel_contract_role (&settings) != KERNEL_CONTRACT_ZYGOTE) {
        fprintf (stderr, "E: zygote: %s\n", err);
        return 2;
    }
    //  Dies with the kernel host, like a kernel; the host restarts it.
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) == -1) {
        fprintf (stderr, "E: zygote: prctl(PR_SET_PDEATHSIG): %s\n", strerror (errno));
        return 1;
    }
    static char fingerprint [KERNEL_CONTRACT_FINGERPRINT_MAX];
    zygote_config_t zygote = {
        .socket_path = settings.zygote, .pool_size = settings.pool_size,
        .cgroup_spares = settings.cgroup_spares,
        .verbose = settings.verbose, .test_faults = test_faults_parse ()
    };
    executor_config_from_settings (&zygote.executor, &settings, fingerprint,
                                   sizeof fingerprint);
    zygote.executor.work_dir = "/tmp";      //  unused: executors live in /work
    return zygote_run (&zygote);
}

int
main (int argc, char *argv [])
{
    if (argc > EXECUTOR_EXEC_WORDS && strcmp (argv [1], "--executor") == 0)
        s_executor (argc, argv);
    return s_zygote (argc, argv);
}
