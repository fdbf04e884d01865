/*  http_route — patterns with {params} against paths. See http_route.h. */
#include <czmq.h>
#include "http_route.h"
#include "mem.h"
#include "selftest.h"

//  Cuts a copy of text into its '/'-separated segments (text must start
//  with '/'); returns how many, at most max, or -1 when there are more.
static int
s_segments (char *text, char **segments, int max)
{
    int count = 0;
    while (*text == '/') {
        if (count == max)
            return -1;
        *text++ = 0;
        segments [count++] = text;
        text += strcspn (text, "/");
    }
    return *text? -1: count;
}

//  Matches pattern against path; on success fills match's parameters
//  with pointers into scratch (a copy of both).
static bool
s_match (const char *pattern, const char *path, http_match_t *match)
{
    size_t plen = strlen (pattern), len = strlen (path);
    char *scratch = (char *) mem_alloc (plen + len + 2);
    memcpy (scratch, pattern, plen + 1);
    memcpy (scratch + plen + 1, path, len + 1);
    char *want [16], *have [16];
    int wanted = s_segments (scratch, want, 16);
    int had = s_segments (scratch + plen + 1, have, 16);
    size_t count = 0;
    bool ok = wanted > 0 && wanted == had;
    for (int i = 0; ok && i < wanted; i++) {
        size_t wlen = strlen (want [i]);
        if (wlen > 2 && want [i][0] == '{' && want [i][wlen - 1] == '}') {
            ok = *have [i] && count < HTTP_ROUTE_MAX_PARAMS;
            if (ok) {
                want [i][wlen - 1] = 0;
                match->name [count] = want [i] + 1;
                match->value [count] = have [i];
                count++;
            }
        }
        else
            ok = streq (want [i], have [i]);
    }
    if (!ok) {
        free (scratch);
        return false;
    }
    match->count = count;
    match->scratch = scratch;
    return true;
}

http_route_result_t
http_route_find (const http_route_t *table, size_t count, const char *method,
                 const char *path, http_match_t *match, char *allowed,
                 size_t allowed_size)
{
    assert (table && method && path && match);
    memset (match, 0, sizeof *match);
    bool path_seen = false;
    if (allowed && allowed_size)
        allowed [0] = 0;
    for (size_t i = 0; i < count; i++) {
        http_match_t candidate;
        memset (&candidate, 0, sizeof candidate);
        if (!s_match (table [i].pattern, path, &candidate))
            continue;
        if (streq (table [i].method, method)) {
            candidate.route = &table [i];
            *match = candidate;
            return HTTP_ROUTE_FOUND;
        }
        http_route_match_free (&candidate);
        path_seen = true;
        if (allowed && allowed_size && !strstr (allowed, table [i].method)) {
            size_t used = strlen (allowed);
            snprintf (allowed + used, allowed_size - used, "%s%s",
                      used? ", ": "", table [i].method);
        }
    }
    return path_seen? HTTP_ROUTE_NO_METHOD: HTTP_ROUTE_NO_PATH;
}

void
http_route_match_free (http_match_t *match)
{
    assert (match);
    free (match->scratch);
    memset (match, 0, sizeof *match);
}

const char *
http_route_param (const http_match_t *match, const char *name)
{
    assert (match && name);
    for (size_t i = 0; i < match->count; i++)
        if (streq (match->name [i], name))
            return match->value [i];
    return NULL;
}

void
http_route_test (bool verbose)
{
    if (verbose)
        printf (" * http_route: ");
    static const http_route_t table [] = {
        { "POST", "/v1/sessions/{key}/execute", 1 },
        { "GET",  "/v1/sessions/{key}/data/{name}", 2 },
        { "PUT",  "/v1/sessions/{key}/data/{name}", 3 },
        { "GET",  "/v1/health", 4 },
        { "DELETE", "/v1/sessions/{key}", 5 },
    };
    size_t count = sizeof table / sizeof table [0];
    http_match_t match;
    char allowed [64];
    SELFTEST_CHECK (http_route_find (table, count, "POST", "/v1/sessions/nb1/execute",
                                     &match, allowed, sizeof allowed) == HTTP_ROUTE_FOUND);
    SELFTEST_CHECK (match.route->op == 1);
    SELFTEST_CHECK (streq (http_route_param (&match, "key"), "nb1"));
    SELFTEST_CHECK (!http_route_param (&match, "name"));
    http_route_match_free (&match);
    SELFTEST_CHECK (http_route_find (table, count, "PUT", "/v1/sessions/a.b/data/df",
                                     &match, NULL, 0) == HTTP_ROUTE_FOUND);
    SELFTEST_CHECK (match.route->op == 3);
    SELFTEST_CHECK (streq (http_route_param (&match, "key"), "a.b"));
    SELFTEST_CHECK (streq (http_route_param (&match, "name"), "df"));
    http_route_match_free (&match);
    SELFTEST_CHECK (http_route_find (table, count, "DELETE", "/v1/sessions/x",
                                     &match, NULL, 0) == HTTP_ROUTE_FOUND);
    SELFTEST_CHECK (match.route->op == 5 && streq (http_route_param (&match, "key"), "x"));
    http_route_match_free (&match);
    //  The path exists with other methods: 405 and what it takes
    SELFTEST_CHECK (http_route_find (table, count, "POST", "/v1/sessions/k/data/n",
                                     &match, allowed, sizeof allowed) == HTTP_ROUTE_NO_METHOD);
    SELFTEST_CHECK (streq (allowed, "GET, PUT"));
    //  No such path: empty segments, extra segments, a trailing slash
    const char *misses [] = { "/v1/sessions//execute", "/v1/sessions/k/execute/x",
                              "/v1/health/", "/v1", "", "/", "/v1/sessions/k/data/" };
    for (size_t i = 0; i < sizeof misses / sizeof misses [0]; i++)
        SELFTEST_CHECK (http_route_find (table, count, "GET", misses [i], &match,
                                         NULL, 0) == HTTP_ROUTE_NO_PATH);
    if (verbose)
        printf ("OK\n");
}
