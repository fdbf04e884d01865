/*  proto_internal — what the codec's files share; nothing else includes it.

    proto.c is the decoder, proto_names.c the vocabulary (names, session
    keys, known header fields), proto_encode.c the builder and encoders,
    proto_peek.c the allocation-free header reader, proto_test*.c the
    selftest. The public API is
    proto.h.
*/
#ifndef KMQ_PROTO_INTERNAL_H
#define KMQ_PROTO_INTERNAL_H

#include "proto.h"

//  Fills *fault with code and the printf-style text (truncated to fit).
void proto_fault_set (proto_fault_t *fault, proto_error_t code,
                      const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  The decoded header map of a message (valid until it is destroyed).
const msgpack_object_map *proto_msg_header (const proto_msg_t *self);

//  Checks the kind of every known header key in map, and that none appears
//  twice; unknown keys pass. Returns 0, or -1 with *fault set.
int proto_fields_check (const msgpack_object_map *map, proto_fault_t *fault);

//  The selftest's shared parts (proto_test.c).


//  Decodes msg, which must be valid (checked); returns the message, owned
//  by the caller.
proto_msg_t *proto_test_decode (zmsg_t *msg);

//  True when msg's header holds the string value under key.
bool proto_test_str_is (proto_msg_t *msg, const char *key, const char *value);

//  Runs the malformed-input and fuzz tests (proto_test_malformed.c).
void proto_test_malformed (bool verbose);

//  Runs the tests of proto_peek (proto_test_peek.c).
void proto_test_peek (bool verbose);

//  Runs the tests of frame-format messages (proto_test_frame.c).
void proto_test_frame (bool verbose);

#endif
