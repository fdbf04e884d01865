/*  http_status — one HTTP status per error name: kernelmq's protocol errors
    (protocol.md section 6), libkmq's local ones, and the gateway's own.
    The table is the contract README.md and openapi.json document
    (x-kmq-error-status); tests/it_http.sh checks each against a live answer.
*/
#ifndef HTTP_STATUS_H
#define HTTP_STATUS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *error;              //  "SESSION_LIMIT"
    unsigned status;                //  429
    const char *why;                //  one line for the docs
} http_status_t;

//  The status for error; 500 for a name it does not know (a newer peer's
//  errors are INTERNAL until named, as protocol.md 6 says).
unsigned http_status_of (const char *error);

//  The table, in order: entry index, NULL past the end.
const http_status_t *http_status_entry (size_t index);

void http_status_test (bool verbose);

#endif
