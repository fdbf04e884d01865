/*  http_status — the error to status table. See http_status.h.          */
#include <czmq.h>
#include "http_status.h"
#include "selftest.h"

static const http_status_t s_table [] = {
    //  kernelmq's protocol errors (protocol.md 6)
    { "BAD_REQUEST",         400, "a field the kernel or broker refused (bad name, format, frame)" },
    { "UNSUPPORTED_VERSION", 502, "the broker speaks no protocol version the gateway does" },
    { "NO_SUCH_SESSION",     404, "the session is not live (interrupt, events, delete)" },
    { "SESSION_LIMIT",       429, "max_sessions sessions are live: close one or retry later" },
    { "QUEUE_FULL",          429, "the session has max_queue requests waiting: retry later" },
    { "TOO_LARGE",           413, "a payload over a limit (the gateway's --max-body, the broker's max_payload)" },
    { "TIMEOUT",             504, "the cell ran past its time limit (killed says whether state was lost)" },
    { "INTERRUPTED",         409, "an interrupt stopped the request; the namespace is kept" },
    { "KERNEL_DIED",         502, "the session's kernel died (cause says why); the next request gets a fresh one" },
    { "EVICTED",             409, "the session was evicted before the request ran: resend it" },
    { "CLOSED",              409, "the session was closed before the request ran: resend it" },
    { "PYTHON_ERROR",        422, "the data did not parse (upload); an execute's Python error is a 200 with error set" },
    { "NOT_FOUND",           404, "no such variable or file" },
    { "UNSUPPORTED",         501, "valid, but this kernel does not support it" },
    { "INTERNAL",            500, "a failure on kernelmq's side: see the broker's log" },
    { "LOST",                502, "the request's outcome was lost in a broker restart" },
    { "FORBIDDEN",           403, "the session belongs to another key and is not shared with the token's key" },
    //  libkmq's local errors
    { "BROKER_LOST",         503, "the broker does not answer: is kmq-broker running?" },
    //  the gateway's own
    { "UNAUTHORIZED",        401, "no bearer token, or not the right one" },
    { "NO_ROUTE",            404, "no such route" },
    { "METHOD_NOT_ALLOWED",  405, "the route exists, not with this method" },
    { "NOT_ACCEPTABLE",      406, "the Accept header names nothing this route answers with" },
    { "UNSUPPORTED_MEDIA_TYPE", 415, "a body of a type this route does not take" },
    { "BAD_JSON",            400, "the body is not the JSON object the route takes" },
    { "BAD_KEY",             400, "a session key or name breaks its rule" },
    { "SHUTTING_DOWN",       503, "kmq-http is stopping" },
};

unsigned
http_status_of (const char *error)
{
    for (size_t i = 0; error && i < sizeof s_table / sizeof s_table [0]; i++)
        if (streq (s_table [i].error, error))
            return s_table [i].status;
    return 500;
}

const http_status_t *
http_status_entry (size_t index)
{
    return index < sizeof s_table / sizeof s_table [0]? &s_table [index]: NULL;
}

void
http_status_test (bool verbose)
{
    if (verbose)
        printf (" * http_status: ");
    SELFTEST_CHECK (http_status_of ("SESSION_LIMIT") == 429);
    SELFTEST_CHECK (http_status_of ("NOT_FOUND") == 404);
    SELFTEST_CHECK (http_status_of ("TIMEOUT") == 504);
    SELFTEST_CHECK (http_status_of ("FORBIDDEN") == 403);
    SELFTEST_CHECK (http_status_of ("A_NEWER_ERROR") == 500);
    SELFTEST_CHECK (http_status_of (NULL) == 500);
    //  Every name once, every status an error status
    for (size_t i = 0; http_status_entry (i); i++) {
        SELFTEST_CHECK (http_status_entry (i)->status >= 400);
        for (size_t j = i + 1; http_status_entry (j); j++)
            SELFTEST_CHECK (!streq (http_status_entry (i)->error, http_status_entry (j)->error));
    }
    if (verbose)
        printf ("OK\n");
}
