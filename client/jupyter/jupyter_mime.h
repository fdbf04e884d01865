/*  jupyter_mime — cursor offsets between Jupyter and kernelmq: Jupyter
    counts cursor positions in Unicode code points, kernelmq in bytes.
    (Text and MIME bundles as JSON are kmq_json's, shared with kmq-http.)
*/
#ifndef JUPYTER_MIME_H
#define JUPYTER_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include "kmq_json.h"

//  Unicode code point offset cursor into code (size bytes of UTF-8) as a
//  byte offset (clamped to size), and back.
size_t jupyter_mime_cursor_to_byte (const char *code, size_t size, size_t cursor);
size_t jupyter_mime_byte_to_cursor (const char *code, size_t size, size_t offset);

void jupyter_mime_test (bool verbose);

#endif
