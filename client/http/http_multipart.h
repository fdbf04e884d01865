/*  http_multipart — one part of a multipart/form-data body (RFC 7578), as
    FastAPI's UploadFile clients (requests' files=) send it.
*/
#ifndef HTTP_MULTIPART_H
#define HTTP_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *data;               //  the part's bytes, inside the body
    size_t size;
    char name [128];                //  its form field name
    char filename [256];            //  its file name ("" when none)
} http_multipart_part_t;

//  Finds, in body (size bytes) of content_type, the part named field, or
//  else the first part with a file name. Returns 0, or -1 when the type is
//  not multipart/form-data with a boundary, the body does not follow it,
//  or no part fits.
int http_multipart_find (const char *content_type, const char *body, size_t size,
                         const char *field, http_multipart_part_t *part);

void http_multipart_test (bool verbose);

#endif
