/*  host_memory — admission arithmetic (see host_memory.h).                 */
#include "host_memory.h"
#include "sandbox.h"
#include "selftest.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_MIB (1024ull * 1024)

uint64_t
host_memory_total (void)
{
    FILE *file = fopen ("/proc/meminfo", "re");
    if (!file)
        return 0;
    char line [256];
    unsigned long long kib = 0;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "MemTotal: %llu kB", &kib) == 1)
            break;
    fclose (file);
    return (uint64_t) kib * 1024;
}

uint64_t
host_memory_budget (const config_t *cfg, uint64_t total)
{
    return cfg->host_memory? cfg->host_memory: total / 10 * 9;
}

uint64_t
host_memory_worst_case (const config_t *cfg, bool cgroup)
{
    if (cfg->memory_limit == 0)
        return 0;
    if (cgroup)
        return cfg->memory_limit;
    uint64_t shm = cfg->tmp_quota < SANDBOX_SHM_MAX? cfg->tmp_quota: SANDBOX_SHM_MAX;
    return cfg->memory_limit + cfg->work_quota + cfg->tmp_quota + shm
         + SANDBOX_SCRATCH_MAX;
}

uint64_t
host_memory_sessions (uint64_t budget, uint64_t worst_case)
{
    if (worst_case == 0 || budget == 0)
        return 0;
    return budget / worst_case;
}

void
host_memory_refusal (uint64_t sessions, uint64_t worst_case, uint64_t budget,
                     char *buf, size_t size)
{
    snprintf (buf, size, "host memory: %" PRIu64 " sessions × worst case %" PRIu64
              " MiB would exceed host_memory %" PRIu64 " MiB; raise host_memory or "
              "lower memory_limit (and, without cgroups, work_quota and tmp_quota)",
              sessions, (uint64_t) (worst_case / S_MIB), (uint64_t) (budget / S_MIB));
}

void
host_memory_test (bool verbose)
{
    (void) verbose;
    config_t *cfg = config_new ();
    cfg->memory_limit = 256 * S_MIB;
    cfg->work_quota = 256 * S_MIB;
    cfg->tmp_quota = 256 * S_MIB;
    //  In a cgroup the group holds all; without, the tmpfs mounts add up
    SELFTEST_CHECK (host_memory_worst_case (cfg, true) == 256 * S_MIB);
    SELFTEST_CHECK (host_memory_worst_case (cfg, false)
                    == (256 + 256 + 256 + 64) * S_MIB + SANDBOX_SCRATCH_MAX);
    cfg->tmp_quota = 16 * S_MIB;        //  /dev/shm follows a smaller /tmp
    SELFTEST_CHECK (host_memory_worst_case (cfg, false)
                    == (256 + 256 + 16 + 16) * S_MIB + SANDBOX_SCRATCH_MAX);
    cfg->memory_limit = 0;
    SELFTEST_CHECK (host_memory_worst_case (cfg, false) == 0);
    SELFTEST_CHECK (host_memory_sessions (1000, 0) == 0);

    //  The budget: the setting, or 90% of MemTotal
    SELFTEST_CHECK (host_memory_budget (cfg, 1000) == 900);
    cfg->host_memory = 3 * 1024 * S_MIB;
    SELFTEST_CHECK (host_memory_budget (cfg, 1000) == 3 * 1024 * S_MIB);
    SELFTEST_CHECK (host_memory_total () > 0);
    SELFTEST_CHECK (host_memory_sessions (3072 * S_MIB, 836 * S_MIB) == 3);
    SELFTEST_CHECK (host_memory_sessions (3072 * S_MIB, 1024 * S_MIB) == 3);
    SELFTEST_CHECK (host_memory_sessions (0, 1024) == 0);

    char text [256];
    host_memory_refusal (4, 836 * S_MIB, 3072 * S_MIB, text, sizeof text);
    SELFTEST_CHECK (strstr (text, "4 sessions × worst case 836 MiB would exceed "
                                  "host_memory 3072 MiB; raise host_memory"));
    config_destroy (&cfg);
}
