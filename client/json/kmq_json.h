/*  kmq_json — kernelmq's raw payloads as JSON, for the clients that speak
    JSON at their edge (kmq-jupyter, kmq-http): text, MIME bundles, base64.

    kernelmq sends raw bytes (protocol.md 4.3: UTF-8 text, PNG bytes, JSON
    as text); Jupyter's wire and HTTP APIs are JSON, where images are
    base64 strings and JSON types are JSON values. The conversion happens
    at those bridges, never inside the sandbox.
*/
#ifndef KMQ_JSON_H
#define KMQ_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "kmq.h"

//  The MIME type kernelmq's clear_output() sends as a display entry
//  (protocol.md 4.3): its payload is {"wait": true|false}.
#define KMQ_JSON_CLEAR_OUTPUT "application/vnd.kernelmq.clear-output+json"

//  size bytes of text that should be UTF-8, as a JSON string; every byte
//  that is not part of valid UTF-8 becomes U+FFFD. Never NULL.
json_t *kmq_json_text (const void *data, size_t size);

//  How many of size bytes end before an incomplete trailing UTF-8
//  sequence (of at most 3 bytes): the rest belongs with the next chunk.
size_t kmq_json_complete_utf8 (const void *data, size_t size);

//  size bytes as a base64 string (the standard alphabet, padded). Never NULL.
json_t *kmq_json_base64 (const void *data, size_t size);

//  The MIME bundle carried by msg (a display event, an execute reply or
//  an outcome, an inspect reply) as a JSON object keyed by MIME type: text
//  types as strings, JSON types as JSON values, anything else (images)
//  base64. Entries whose type is KMQ_JSON_CLEAR_OUTPUT are left out. Never
//  NULL ({} for no bundle).
json_t *kmq_json_bundle (kmq_reply_t *msg);

//  True when msg's bundle is a clear_output request; *wait then says
//  whether the frontend should wait for the next output.
bool kmq_json_is_clear_output (kmq_reply_t *msg, bool *wait);

//  msg's header fields as a JSON object (kmq_reply_json's, parsed), less
//  the keys named in drop (a NULL-terminated list; may be NULL). Never NULL
//  ({} when there are none).
json_t *kmq_json_fields (kmq_reply_t *msg, const char *const *drop);

void kmq_json_test (bool verbose);

#endif
