/*  executor_config — an executor's configuration from the kernel contract
    (executor.h), in one place for the three processes that need it: the
    monitor (what it sends the zygote, what it forks), the zygote (what it
    compares and sandboxes its pool with) and a fallback executor
    (kmq-executor --executor, which must sandbox itself exactly as the
    monitor would have).
*/
#include "executor.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
executor_config_from_settings (executor_config_t *config, const kernel_settings_t *settings,
                               char *fingerprint, size_t fingerprint_size)
{
    assert (config && settings && fingerprint);
    memset (config, 0, sizeof *config);
    sandbox_config_from_settings (&config->sandbox, settings);
    size_t used = kernel_contract_fingerprint (settings, fingerprint, fingerprint_size);
    (void) used;
#if defined (KMQ_SANDBOX_TEST_SWITCHES)
    //  Test builds only (bin/kmq-kernel-testsw, bin/kmq-executor-testsw):
    //  switch layers off to show what each one stops. Production builds
    //  have no way to do this.
    const char *skip = getenv ("KMQ_SANDBOX_SKIP");
    if (skip)
        config->sandbox.skip = (unsigned) strtoul (skip, NULL, 0);
    if (used < fingerprint_size)
        snprintf (fingerprint + used, fingerprint_size - used, ",skip=%u",
                  config->sandbox.skip);
#endif
    config->sandbox_fingerprint = fingerprint;
    config->max_payload = settings->max_payload;
    config->session = settings->session;
    config->work_dir = settings->work_dir;
    config->state_lost = settings->state_lost;
}
