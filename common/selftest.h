/*  selftest — the check every module selftest uses.

    SELFTEST_CHECK survives NDEBUG, unlike assert: a selftest built for a
    release must still test. On failure it names the file, the line and
    the expression (and errno, often the reason) on stderr and aborts, so
    kmq-selftest exits non-zero and the test runner counts it.
*/
#ifndef KMQ_SELFTEST_H
#define KMQ_SELFTEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static inline void __attribute__ ((noreturn))
selftest_fail (const char *file, int line, const char *expr)
{
    fprintf (stderr, "\n%s:%d: selftest check failed: %s (errno %d)\n",
             file, line, expr, errno);
    abort ();
}

#define SELFTEST_CHECK(expr) do { \
    if (!(expr)) \
        selftest_fail (__FILE__, __LINE__, #expr); \
} while (0)

#endif
