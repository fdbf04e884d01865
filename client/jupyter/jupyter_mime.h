/*  jupyter_mime — kernelmq's raw payloads as Jupyter's JSON: text, MIME
    bundles, cursor offsets.

    kernelmq sends raw bytes (protocol.md 4.3: UTF-8 text, PNG bytes, JSON
    as text); Jupyter's wire is JSON, where images are base64 strings and
    JSON types are JSON values. The conversion happens here, at the bridge,
    never inside the sandbox. Jupyter counts cursor positions in Unicode
    code points, kernelmq in bytes.
*/
#ifndef JUPYTER_MIME_H
#define JUPYTER_MIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "kmq.h"

//  The MIME type kernelmq's clear_output() sends as a display entry
//  (protocol.md 4.3): its payload is {"wait": true|false}.
#define JUPYTER_MIME_CLEAR_OUTPUT "application/vnd.kernelmq.clear-output+json"

//  size bytes of text that should be UTF-8, as a JSON string; every byte
//  that is not part of valid UTF-8 becomes U+FFFD. Never NULL.
json_t *jupyter_mime_text (const void *data, size_t size);

//  How many of size bytes end before an incomplete trailing UTF-8
//  sequence (of at most 3 bytes): the rest belongs with the next chunk.
size_t jupyter_mime_complete_utf8 (const void *data, size_t size);

//  The MIME bundle carried by msg (a display event, an execute reply or
//  an outcome, an inspect reply) as a Jupyter data object: text types as
//  strings, JSON types as JSON values, anything else (images) base64.
//  Entries whose type is JUPYTER_MIME_CLEAR_OUTPUT are left out. Never
//  NULL ({} for no bundle).
json_t *jupyter_mime_bundle (kmq_reply_t *msg);

//  True when msg's bundle is a clear_output request; *wait then says
//  whether the frontend should wait for the next output.
bool jupyter_mime_is_clear_output (kmq_reply_t *msg, bool *wait);

//  Unicode code point offset cursor into code (size bytes of UTF-8) as a
//  byte offset (clamped to size), and back.
size_t jupyter_mime_cursor_to_byte (const char *code, size_t size, size_t cursor);
size_t jupyter_mime_byte_to_cursor (const char *code, size_t size, size_t offset);

void jupyter_mime_test (bool verbose);

#endif
