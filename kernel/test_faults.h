/*  test_faults — faults a test can switch on in the test-only kernel build.

    Some defects only show when a peer misbehaves in a way no real peer
    can be made to: a zygote whose pidfd_open fails, a lost `exited`
    message, a monitor that sends garbage instead of heartbeats. The
    test-only binary bin/kmq-kernel-testsw (built with
    -DKMQ_SANDBOX_TEST_SWITCHES, never reachable from the production
    configuration) reads KMQ_TEST_FAULTS, a comma list of the names below,
    once at start (before the zygote clears its environment). In the
    production kmq-kernel test_faults_parse always returns 0.
*/
#ifndef KMQ_TEST_FAULTS_H
#define KMQ_TEST_FAULTS_H

#include <stdlib.h>
#include <string.h>

enum {
    TEST_FAULT_NO_PIDFD        = 1 << 0,   //  zygote: pidfd_open "fails"
    TEST_FAULT_DROP_EXITED     = 1 << 1,   //  zygote: `exited` is never sent
    TEST_FAULT_GARBAGE_BEATS   = 1 << 2,   //  monitor: malformed heartbeats
    TEST_FAULT_EXIT_BUSY       = 1 << 3,   //  monitor: exits 0 mid-request, no reply
    TEST_FAULT_SHORT_PART_WAIT = 1 << 4    //  monitor: waits 1 s for an upload's piece
};

//  The faults named in KMQ_TEST_FAULTS (test build), else 0.
static inline unsigned
test_faults_parse (void)
{
#if defined (KMQ_SANDBOX_TEST_SWITCHES)
    static const struct { const char *name; unsigned bit; } table [] = {
        { "no_pidfd", TEST_FAULT_NO_PIDFD },
        { "drop_exited", TEST_FAULT_DROP_EXITED },
        { "garbage_heartbeats", TEST_FAULT_GARBAGE_BEATS },
        { "exit_busy", TEST_FAULT_EXIT_BUSY },
        { "short_part_wait", TEST_FAULT_SHORT_PART_WAIT },
    };
    const char *list = getenv ("KMQ_TEST_FAULTS");
    unsigned faults = 0;
    for (size_t i = 0; list && i < sizeof table / sizeof table [0]; i++)
        if (strstr (list, table [i].name))
            faults |= table [i].bit;
    return faults;
#else
    return 0;
#endif
}

#endif
