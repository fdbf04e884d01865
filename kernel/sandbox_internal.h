/*  sandbox_internal — shared by kernel/sandbox*.c only; not a public API.
    Each layer function applies one layer, records the outcome in *report,
    and returns 0 (applied, or missing for a reason the kernel imposes) or
    -1 (should have worked and failed; report->why says why).
*/
#ifndef KMQ_SANDBOX_INTERNAL_H
#define KMQ_SANDBOX_INTERNAL_H

#include "sandbox.h"

//  Marks layer missing and appends "name: reason" to report->why.
void sandbox_note (sandbox_report_t *report, unsigned layer, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

int sandbox_fs_apply (const sandbox_config_t *config, sandbox_report_t *report);
int sandbox_landlock_apply (const sandbox_config_t *config, sandbox_report_t *report);
int sandbox_seccomp_apply (const sandbox_config_t *config, sandbox_report_t *report);

#endif
