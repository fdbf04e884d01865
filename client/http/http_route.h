/*  http_route — which handler a method and path go to: a table of
    patterns such as "/v1/sessions/{key}/data/{name}", where {x} takes one
    non-empty path segment. The table is the gateway's list of routes;
    openapi.json lists the same ones (tests/it_http.sh checks both ways).
*/
#ifndef HTTP_ROUTE_H
#define HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_ROUTE_MAX_PARAMS 4

typedef struct {
    const char *method;             //  "GET", "POST", ...
    const char *pattern;            //  "/v1/sessions/{key}/execute"
    int op;                         //  the caller's handler number
} http_route_t;

typedef struct {
    const http_route_t *route;
    size_t count;
    const char *name [HTTP_ROUTE_MAX_PARAMS];    //  "key" (points into the pattern's copy)
    const char *value [HTTP_ROUTE_MAX_PARAMS];   //  the segment
    char *scratch;                  //  owns the strings above
} http_match_t;

typedef enum {
    HTTP_ROUTE_FOUND,
    HTTP_ROUTE_NO_PATH,             //  404
    HTTP_ROUTE_NO_METHOD            //  405: the path exists with other methods
} http_route_result_t;

//  Finds the route of method and path in table (count entries). On
//  FOUND, match holds it and its parameters: release with
//  http_route_match_free. allowed (may be NULL) receives, on NO_METHOD,
//  the methods the path takes ("GET, PUT"), up to allowed_size bytes.
http_route_result_t http_route_find (const http_route_t *table, size_t count,
                                     const char *method, const char *path,
                                     http_match_t *match,
                                     char *allowed, size_t allowed_size);
void http_route_match_free (http_match_t *match);
//  A parameter's value, NULL when the route has no such parameter.
const char *http_route_param (const http_match_t *match, const char *name);

void http_route_test (bool verbose);

#endif
