/*  jupyter_message — Jupyter messages on the wire (messaging protocol 5.3):
    parsing, HMAC-SHA256 signing and checking, building.

    A message on a ROUTER socket is
        identities... | "<IDS|MSG>" | signature | header | parent_header |
        metadata | content | buffers...
    where signature is the lowercase hex HMAC-SHA256, under the connection
    file's key, of the four JSON frames in that order (buffers are not
    signed). An empty key means no signing: the signature frame is empty
    and is not checked. JSON is jansson's; the HMAC is libsodium's.

    This is the only module that builds or parses Jupyter frames; JSON lives
    at this edge of kmq-jupyter only, kernelmq's own wire stays msgpack.
*/
#ifndef JUPYTER_MESSAGE_H
#define JUPYTER_MESSAGE_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>

#define JUPYTER_PROTOCOL_VERSION "5.3"

typedef struct _jupyter_signer_t jupyter_signer_t;
typedef struct _jupyter_msg_t jupyter_msg_t;

//  A signer for key (key_size bytes; 0 means unsigned messages) and scheme
//  ("hmac-sha256" or "" are accepted). NULL when the scheme is another one
//  (error says so).
jupyter_signer_t *jupyter_signer_new (const void *key, size_t key_size,
                                      const char *scheme, char *error,
                                      size_t error_size);
void jupyter_signer_destroy (jupyter_signer_t **self_p);

//  Decodes *zmsg_p (taken and cleared), a message as read from a ROUTER or
//  DEALER socket, and checks its signature. NULL when it is malformed or
//  its signature is wrong; error then says which (for the log).
jupyter_msg_t *jupyter_msg_decode (zmsg_t **zmsg_p, jupyter_signer_t *signer,
                                   char *error, size_t error_size);

//  A new message of msg_type in Jupyter session session_id, whose parent
//  is parent (borrowed; NULL for none); takes ownership of content (a JSON
//  object, or NULL for {}). The header gets a fresh msg_id, the date and
//  username "kernel". Identities are copied from parent's when it has them
//  (a reply goes back to the requester).
jupyter_msg_t *jupyter_msg_new (const char *msg_type, const char *session_id,
                                jupyter_msg_t *parent, json_t *content);
//  The same with a parent header given as JSON (borrowed; NULL for {}),
//  for outputs of another client's request (no identities).
jupyter_msg_t *jupyter_msg_new_with_header (const char *msg_type,
                                            const char *session_id,
                                            json_t *parent_header,
                                            json_t *content);
void jupyter_msg_destroy (jupyter_msg_t **self_p);

//  Encodes self, signed, as frames for a socket: identities (when any),
//  the delimiter, the signature, the four JSON frames. topic, when not
//  NULL and the message has no identities, goes first (IOPub's topic).
zmsg_t *jupyter_msg_encode (jupyter_msg_t *self, jupyter_signer_t *signer,
                            const char *topic);

//  Fields. Borrowed, valid while self lives.
const char *jupyter_msg_type (jupyter_msg_t *self);
const char *jupyter_msg_id (jupyter_msg_t *self);
json_t *jupyter_msg_header (jupyter_msg_t *self);
json_t *jupyter_msg_content (jupyter_msg_t *self);
json_t *jupyter_msg_parent_header (jupyter_msg_t *self);

//  The content's string field key, or dflt when absent or not a string;
//  its integer field (dflt when absent or not an integer); its boolean.
const char *jupyter_msg_str (jupyter_msg_t *self, const char *key, const char *dflt);
json_int_t jupyter_msg_int (jupyter_msg_t *self, const char *key, json_int_t dflt);
bool jupyter_msg_bool (jupyter_msg_t *self, const char *key, bool dflt);

//  An ISO 8601 UTC timestamp with microseconds, as headers carry.
void jupyter_msg_now (char *buffer, size_t size);

void jupyter_message_test (bool verbose);

#endif
