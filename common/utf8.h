/*  utf8 — strict UTF-8, as Python decodes it: no overlong forms, no
    surrogates, nothing past U+10FFFF. One definition for every place that
    must tell text from bytes a peer sent: the frame format's strings
    (frame_check.c), JSON written for people and programs (kmq_reply.c,
    kmq-jupyter's jupyter_mime.c).
*/
#ifndef KMQ_UTF8_H
#define KMQ_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Bytes (1 to 4) of the valid UTF-8 sequence that starts text, of which
//  size bytes are there; 0 when they do not start one (a stray
//  continuation byte, an overlong form, a surrogate, a code point past
//  U+10FFFF, or a sequence cut short) or size is 0.
size_t utf8_sequence (const uint8_t *text, size_t size);

//  True when the size bytes of text are valid UTF-8 (0 bytes are).
bool utf8_valid (const uint8_t *text, size_t size);

//  Selftest.
void utf8_test (bool verbose);

#endif
