/*  proto — the kernelmq wire codec, protocol v1 (see protocol.md).

    This is the only module that builds or parses kernelmq frames. Every
    message is a ZeroMQ multipart:

        frame 0     "KMQ1"                  signature + version, 4 bytes
        frame 1     msgpack map             the header (type, id, session, ...)
        frame 2..n  raw bytes               payloads (code, uploads, downloads,
                                            stream text, MIME data)

    Decoding validates everything that came from outside: signature, frame
    count, header size, msgpack well-formedness, that the header is a map with
    string keys, the kind of every known field, the fields each type
    requires, and session-key syntax. Malformed input yields NULL and a
    proto_fault_t; it never asserts and never crashes.

    A decoded message owns the zmsg it was decoded from, so a router can look
    at the header and forward the original frames untouched
    (proto_msg_release).

    Encoding goes through proto_builder_t, a streaming msgpack writer that
    counts top-level keys for you. The proto_encode_* helpers are the one
    encoder per message type; everything else builds replies with the
    builder.
*/
#ifndef KMQ_PROTO_H
#define KMQ_PROTO_H

#include <czmq.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#define PROTO_SIGNATURE      "KMQ1"
#define PROTO_SIGNATURE_SIZE 4
#define PROTO_VERSION        1
//  Hard limits of protocol v1; deployments may configure lower ones.
#define PROTO_MAX_HEADER     (1u << 20)          //  1 MiB header map
#define PROTO_MAX_PAYLOADS   64                  //  payload frames per message
#define PROTO_MAX_FRAME_PAYLOADS 4096            //  ... of a frame-format upload
                                                 //  or reply (protocol.md 11.3)
#define PROTO_MAX_PAYLOAD    (1024ull << 20)     //  1 GiB per payload frame
#define PROTO_MAX_UPLOAD_PARTS 65536            //  pieces of one upload (upload)
#define PROTO_SESSION_MAX    128                 //  bytes in a session key
#define PROTO_NAME_MAX       255                 //  bytes in a variable/file name
//  Heartbeat settings a peer may announce (hello reply): the product of
//  the two is a silence in ms that fits any int64 arithmetic.
#define PROTO_HEARTBEAT_IVL_MAX_MS    3600000
#define PROTO_HEARTBEAT_LIVENESS_MAX  1000

typedef enum {
    PROTO_HELLO,            //  client -> broker: version negotiation
    PROTO_EXECUTE,          //  run code (payload 0) in a session
    PROTO_UPLOAD,           //  bytes (payload 0) into a DataFrame or file
    PROTO_DOWNLOAD,         //  a variable or file back as bytes
    PROTO_RESET,            //  fresh namespace, empty working directory
    PROTO_INTERRUPT,        //  KeyboardInterrupt in the running request
    PROTO_VARS,             //  list the namespace
    PROTO_CLOSE,            //  end the session now
    PROTO_ATTACH,           //  receive a session's events
    PROTO_DETACH,           //  stop receiving them
    PROTO_COMPLETE,         //  completion candidates at a cursor in code
    PROTO_INSPECT,          //  signature and docstring of the object at a cursor
    PROTO_HEARTBEAT,        //  liveness, any direction
    PROTO_STATS,            //  broker-wide figures
    PROTO_READY,            //  kernel -> broker, first message of a kernel
    PROTO_EVENT,            //  partial event for a request (stream, display)
    PROTO_REPLY,            //  the one final reply to a request
    PROTO_SPAWN,            //  monitor -> zygote, inside a kernel host: hand me
                            //  an executor (protocol.md section 10)
    PROTO_ACK,              //  monitor -> executor: your event is forwarded,
                            //  go on (protocol.md 4.4)
    PROTO_IS_COMPLETE,      //  would this code run as it is, or need more lines?
    PROTO_HISTORY,          //  the cells the session's kernel has run
    PROTO_FILES,            //  list the session's working directory
    PROTO_RESUME,           //  client -> broker: what became of my request?
    PROTO_SHUTDOWN,         //  client -> broker -> host: stop (and end sessions)
    PROTO_HOST_READY,       //  host -> broker: here I am (protocol.md 12)
    PROTO_HOST_STATUS,      //  host -> broker: its heartbeat, with its load
    PROTO_START,            //  broker -> host: start a kernel for a session
    PROTO_STOP,             //  broker -> host: end a kernel (SIGTERM, grace, SIGKILL)
    PROTO_KERNEL_EXITED,    //  host -> broker: a kernel process ended
    PROTO_REREGISTER,       //  broker -> host or kernel: I do not know you
    PROTO_RESEND,           //  broker -> kernel: send a kept reply again
    PROTO_SNAPSHOT,         //  monitor -> executor: the session as one blob (10.3)
    PROTO_RESTORE,          //  monitor -> executor: a blob back into a fresh session
    PROTO_SHARE,            //  client -> broker: let another key use my session
    PROTO_UPLOAD_PART,      //  client -> broker -> kernel: the next piece of an
                            //  upload sent in parts (protocol.md 5, upload)
    PROTO_NEXT_PART,        //  executor -> monitor: send me that piece (10.1)
    PROTO_TYPE_COUNT
} proto_type_t;

//  Typed errors carried in a reply's "error" field.
typedef enum {
    PROTO_E_NONE = 0,
    PROTO_E_BAD_REQUEST,          //  malformed or invalid request
    PROTO_E_UNSUPPORTED_VERSION,  //  hello with no common version
    PROTO_E_NO_SUCH_SESSION,      //  session-bound request for an unknown key
    PROTO_E_SESSION_LIMIT,        //  max_sessions reached
    PROTO_E_QUEUE_FULL,           //  session's queue at its bound
    PROTO_E_TOO_LARGE,            //  frame or message over a limit
    PROTO_E_TIMEOUT,              //  request exceeded its wall-time limit
    PROTO_E_INTERRUPTED,          //  stopped by an interrupt request
    PROTO_E_KERNEL_DIED,          //  the kernel or executor died
    PROTO_E_EVICTED,              //  the session was evicted while queued
    PROTO_E_CLOSED,               //  the session was closed while queued
    PROTO_E_PYTHON_ERROR,         //  user code raised
    PROTO_E_NOT_FOUND,            //  no such variable or file
    PROTO_E_UNSUPPORTED,          //  a valid request this kernel can't do
    PROTO_E_INTERNAL,             //  a bug or resource failure on our side
    PROTO_E_LOST,                 //  resume: the request's outcome is gone
    PROTO_E_FORBIDDEN,            //  the session is another key's, not shared
    PROTO_E_COUNT
} proto_error_t;

//  Why a decode failed. id is the request id when the header got far
//  enough to carry one, so the answer can still be correlated.
typedef struct {
    proto_error_t code;           //  BAD_REQUEST or TOO_LARGE
    bool has_id;
    uint64_t id;
    char text [256];              //  human sentence, names the field
} proto_fault_t;

typedef struct _proto_msg_t proto_msg_t;
typedef struct _proto_builder_t proto_builder_t;

//  --- names ------------------------------------------------------------

//  Wire name of a type ("execute"), or "?" when out of range.
const char *proto_type_name (proto_type_t type);
//  Type for a wire name of length len; returns -1 when unknown.
int proto_type_parse (const char *name, size_t len);
//  Wire name of an error ("KERNEL_DIED").
const char *proto_error_name (proto_error_t code);
//  Error for a wire name; PROTO_E_INTERNAL when unknown.
proto_error_t proto_error_parse (const char *name);
//  True if the type is addressed to a session (carries a session key).
bool proto_type_is_session_bound (proto_type_t type);
//  True if messages of type carry an id (all but heartbeats, ready and the
//  host/kernel lifecycle messages of protocol.md 12).
bool proto_type_has_id (proto_type_t type);
//  True if key is a valid session key: 1..PROTO_SESSION_MAX bytes of
//  [A-Za-z0-9._:-].
bool proto_session_valid (const char *key, size_t len);

//  --- decoding ---------------------------------------------------------

//  Checks that size bytes hold exactly one well-formed msgpack value whose
//  announced lengths all fit in them, without allocating, so msgpack-c can
//  then unpack it in bounded memory. what names the bytes in the fault
//  ("header"). Returns 0, or -1 with *fault filled (BAD_REQUEST).
int proto_msgpack_check (const void *data, size_t size, const char *what,
                         proto_fault_t *fault);

//  Decodes *msg_p. Always takes ownership of *msg_p and clears it. Returns
//  the decoded message, or NULL with *fault filled when the input is
//  malformed (the zmsg is then destroyed).
proto_msg_t *proto_decode (zmsg_t **msg_p, proto_fault_t *fault);

//  What a router reads from the simplest headers, without decoding them.
//  session points into the header bytes (not NUL-terminated; NULL when
//  absent) and lives as long as they do.
typedef struct {
    proto_type_t type;
    bool has_id;
    uint64_t id;
    const char *session;
    size_t session_len;
} proto_peek_t;

//  Reads a header frame's bytes in place, allocating nothing. Returns 0
//  with *peek filled when the header is a msgpack map of at most `type`,
//  `id` and `session`, each once with its documented kind (a known type
//  name, an unsigned integer, a string), `type` present and nothing after
//  the map: such a header proto_decode accepts as well, whatever frames
//  follow it that the type allows. Returns -1 for every other header,
//  valid or not; decode those with proto_decode, which says what is wrong.
//  The type's other rules (payload count, required fields, session-key
//  syntax) are the caller's to check or to leave to proto_decode.
int proto_peek (const void *header, size_t size, proto_peek_t *peek);

//  Destroys a decoded message and the zmsg it owns. No-op on NULL.
void proto_msg_destroy (proto_msg_t **self_p);

//  Gives back the original frames untouched, for forwarding, and destroys
//  the decoded view. Caller owns the zmsg.
zmsg_t *proto_msg_release (proto_msg_t **self_p);
//  A copy of the original frames, for forwarding one message to several
//  peers. Caller owns the zmsg.
zmsg_t *proto_msg_dup_frames (const proto_msg_t *self);

proto_type_t proto_msg_type (const proto_msg_t *self);
//  Request id; 0 when the message has none (heartbeat, ready).
uint64_t proto_msg_id (const proto_msg_t *self);
//  Session key as a C string owned by self; "" when absent.
const char *proto_msg_session (const proto_msg_t *self);

//  Header field accessors. Kinds were checked at decode, so a present field
//  has the documented kind. Strings are NUL-terminated copies owned by self
//  (valid until destroy); NULL when absent.
const char *proto_msg_str (proto_msg_t *self, const char *key);
//  Raw view of a string field without copying; false when absent.
bool proto_msg_strn (const proto_msg_t *self, const char *key,
                     const char **ptr, size_t *len);
uint64_t proto_msg_uint (const proto_msg_t *self, const char *key, uint64_t dflt);
//  An array of unsigned integers: copies at most max of them into values,
//  returns how many (0 when absent).
size_t proto_msg_uints (const proto_msg_t *self, const char *key, uint64_t *values,
                        size_t max);
int64_t proto_msg_int (const proto_msg_t *self, const char *key, int64_t dflt);
double proto_msg_float (const proto_msg_t *self, const char *key, double dflt);
bool proto_msg_bool (const proto_msg_t *self, const char *key, bool dflt);
bool proto_msg_has (const proto_msg_t *self, const char *key);
//  Any field as a msgpack object (for arrays and maps); NULL when absent.
//  Valid until destroy; its strings are NOT NUL-terminated.
const msgpack_object *proto_msg_object (const proto_msg_t *self, const char *key);

//  Reply helpers: true if a reply (or an `outcome` event, protocol.md 4.5)
//  with status "ok".
bool proto_msg_is_ok (const proto_msg_t *self);
//  Error of a reply (PROTO_E_NONE for ok replies and non-replies).
proto_error_t proto_msg_error (proto_msg_t *self);

//  Payload frames (frames 2..n). Borrowed; valid until destroy/release.
size_t proto_msg_payload_count (const proto_msg_t *self);
zframe_t *proto_msg_payload (const proto_msg_t *self, size_t index);

//  --- encoding ---------------------------------------------------------

//  Starts a message of type with id and session (session may be NULL for
//  messages that carry none). Never returns NULL (allocation failure
//  aborts, as czmq does).
proto_builder_t *proto_builder_new (proto_type_t type, uint64_t id,
                                    const char *session);
//  Frees an unfinished builder. No-op on NULL.
void proto_builder_destroy (proto_builder_t **self_p);

//  Top-level fields. Each call adds one key to the header map.
void proto_builder_str (proto_builder_t *self, const char *key, const char *value);
void proto_builder_strn (proto_builder_t *self, const char *key,
                         const char *value, size_t len);
void proto_builder_uint (proto_builder_t *self, const char *key, uint64_t value);
void proto_builder_int (proto_builder_t *self, const char *key, int64_t value);
void proto_builder_float (proto_builder_t *self, const char *key, double value);
void proto_builder_bool (proto_builder_t *self, const char *key, bool value);

//  Nested values: proto_builder_key adds a top-level key whose value is
//  whatever the next val_* call writes; val_array/val_map announce how many
//  values (for maps: key/value pairs, each key a val_str) follow.
void proto_builder_key (proto_builder_t *self, const char *key);
void proto_builder_val_str (proto_builder_t *self, const char *value);
void proto_builder_val_strn (proto_builder_t *self, const char *value, size_t len);
void proto_builder_val_uint (proto_builder_t *self, uint64_t value);
void proto_builder_val_int (proto_builder_t *self, int64_t value);
void proto_builder_val_float (proto_builder_t *self, double value);
void proto_builder_val_bool (proto_builder_t *self, bool value);
void proto_builder_val_nil (proto_builder_t *self);
void proto_builder_val_array (proto_builder_t *self, uint32_t count);
void proto_builder_val_map (proto_builder_t *self, uint32_t count);
//  Any decoded msgpack value (a field of a decoded message, a frame
//  description), packed as is.
void proto_builder_val_object (proto_builder_t *self, const msgpack_object *value);

//  Payload frames, in order. _copy copies data; _frame takes ownership.
void proto_builder_payload_copy (proto_builder_t *self, const void *data, size_t size);
void proto_builder_payload_frame (proto_builder_t *self, zframe_t **frame_p);

//  Finishes the message and destroys the builder. Caller owns the zmsg.
zmsg_t *proto_builder_finish (proto_builder_t **self_p);

//  --- one encoder per message type --------------------------------------
//  Each returns a new zmsg the caller owns. Strings are NUL-terminated.

//  hello: client's highest version and a free-form client name (may be NULL).
zmsg_t *proto_encode_hello (uint64_t id, uint32_t version, const char *client);
//  execute: code runs in session; timeout_ms 0 means the configured default.
zmsg_t *proto_encode_execute (uint64_t id, const char *session,
                              const char *code, size_t code_len,
                              uint32_t timeout_ms);
//  The same; input false adds `input: false`: the requester wants no
//  `input` event for it (protocol.md 4.5).
zmsg_t *proto_encode_execute_input (uint64_t id, const char *session,
                                    const char *code, size_t code_len,
                                    uint32_t timeout_ms, bool input);
//  upload: bytes become name in format "csv", "json" or "file".
zmsg_t *proto_encode_upload (uint64_t id, const char *session,
                             const char *name, const char *format,
                             const void *data, size_t size);
//  upload in the frame format (protocol.md section 11): description is the
//  frame map, data [i] (sizes [i] bytes) the buffers, copied into the
//  payloads; count is at most PROTO_MAX_FRAME_PAYLOADS. The caller
//  validates the frame first (frame_new).
zmsg_t *proto_encode_upload_frame (uint64_t id, const char *session,
                                   const char *name,
                                   const msgpack_object *description,
                                   const void *const *data, const size_t *sizes,
                                   size_t count);
//  download: name in format "csv", "json", "frame" or "file".
zmsg_t *proto_encode_download (uint64_t id, const char *session,
                               const char *name, const char *format);
//  complete: candidates for the code before cursor_pos (a byte offset into
//  code, at most code_len; code_len means the end).
zmsg_t *proto_encode_complete (uint64_t id, const char *session,
                               const char *code, size_t code_len,
                               size_t cursor_pos);
//  inspect: the object at cursor_pos (a byte offset into code, at most
//  code_len).
zmsg_t *proto_encode_inspect (uint64_t id, const char *session,
                              const char *code, size_t code_len,
                              size_t cursor_pos);
//  is_complete: would code (a cell being typed) run as it is?
zmsg_t *proto_encode_is_complete (uint64_t id, const char *session,
                                  const char *code, size_t code_len);
//  history: the last cells the session's kernel ran (last 0 = all).
zmsg_t *proto_encode_history (uint64_t id, const char *session, uint64_t last);
//  A copy of msg without the header field key (absent: as msg). msg is
//  borrowed; its payloads are duplicated.
zmsg_t *proto_encode_without (const proto_msg_t *msg, const char *key);
//  Adds the string field key = value to the header of msg, an encoded
//  request (proto_builder_finish's shape), for a field its maker did not
//  know about (a gateway's `as`, protocol.md 13.4). Returns 0, or -1 when
//  msg is not one (it is left as it was).
int proto_encode_add_str (zmsg_t *msg, const char *key, const char *value);
//  share: let key with (a z85 public key) use session, or no longer (revoke).
zmsg_t *proto_encode_share (uint64_t id, const char *session, const char *with,
                            bool revoke);
//  The copy of a session's event or reply that attached clients other than
//  the requester get (protocol.md 4.5): type event, id 0, `request` the
//  original id, `client` the requester's label, `event` replaced by event
//  when not NULL (a reply becomes "outcome"), every other field and every
//  payload as in msg. msg is borrowed.
zmsg_t *proto_encode_peer_copy (const proto_msg_t *msg, const char *event,
                                const char *client);
//  reset, interrupt, vars, files, close, attach, detach: session and id only.
zmsg_t *proto_encode_simple (proto_type_t type, uint64_t id, const char *session);
//  heartbeat: no id, no session.
zmsg_t *proto_encode_heartbeat (void);
//  stats: broker-wide, no session.
zmsg_t *proto_encode_stats (uint64_t id);
//  ready: kernel -> broker on connect.
zmsg_t *proto_encode_ready (const char *session, int pid);
//  event "stream": name is "stdout" or "stderr"; text is payload 0.
zmsg_t *proto_encode_stream (uint64_t id, const char *session, const char *name,
                             const void *text, size_t size);
//  event "display": a MIME bundle of count entries; mime [i] names the
//  type of data [i] (sizes [i] bytes), which is copied into payload i.
//  text/plain first by convention (protocol.md). count is at most
//  PROTO_MAX_PAYLOADS.
zmsg_t *proto_encode_display (uint64_t id, const char *session,
                              const char *const *mime, const void *const *data,
                              const size_t *sizes, size_t count);
//  reply, status "error": error code and a message that says what to do.
zmsg_t *proto_encode_error (uint64_t id, const char *session,
                            proto_error_t code, const char *message);
//  reply, status "ok", no other fields.
zmsg_t *proto_encode_ok (uint64_t id, const char *session);
//  Starts an ok reply for adding type-specific fields.
proto_builder_t *proto_reply_ok_begin (uint64_t id, const char *session);
//  Starts an error reply for adding fields (ename, traceback, ...).
proto_builder_t *proto_reply_error_begin (uint64_t id, const char *session,
                                          proto_error_t code, const char *message);

//  Selftest.
void proto_test (bool verbose);

#endif
