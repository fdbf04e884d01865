/*  kmq — libkmq, the C client library of kernelmq (protocol v1).

    A kmq_t is one connection (a ZeroMQ DEALER) to a kmq-broker. Each request
    function sends one request, waits for its one final reply and returns it
    as a kmq_reply_t; partial events for the request (stdout/stderr chunks,
    display outputs, truncation notices) go to the event handler while it
    waits.

        char err [256];
        kmq_t *kmq = kmq_new ("tcp://127.0.0.1:5555", NULL, err, sizeof err);
        if (!kmq) { fprintf (stderr, "%s\n", err); exit (3); }
        kmq_reply_t *r = kmq_execute (kmq, "nb1", "x = 41\nx + 1", 12, 0);
        if (kmq_reply_ok (r) && kmq_reply_mime_find (r, "text/plain", &size))
            ... that is "42", and kmq_reply_execution_count (r) the cell number
        else if (!kmq_reply_ok (r))
            ... kmq_reply_error (r), kmq_reply_message (r)
        kmq_reply_destroy (&r);
        kmq_destroy (&kmq);

    Liveness: while it waits, the library sends a heartbeat to the broker
    every heartbeat interval (from the broker's hello reply) and counts any
    message from the broker as life. When the broker is silent for
    interval x liveness, the wait ends with the local error BROKER_LOST, so
    a dead broker never hangs the caller.

    Local errors: a request the library refuses, or whose answer it could
    not get, returns a reply built locally with one of these error names:
        BAD_REQUEST   invalid session key, name or format; nothing was sent
        TOO_LARGE     a payload over the broker's max_payload; nothing sent
        BROKER_LOST   the broker stopped answering while we waited
        INTERNAL      the request could not be sent
    Every other error name comes from the broker (protocol.md section 6).

    Interrupts: set options.interrupt_flag to a flag your SIGINT handler
    sets. While a session-bound request that runs in the session's queue
    (execute, upload, download, reset, vars, complete, inspect) waits, the
    library checks the flag at least every 100 ms; when it is set it clears
    it, sends one `interrupt` for that session, and keeps waiting for the
    reply (which is then usually INTERRUPTED). czmq installs its own SIGINT handler at
    zsys_init; call zsys_handler_set (NULL) before kmq_new if you install
    yours.

    The library never prints. One kmq_t must be used from one thread.
*/
#ifndef KMQ_H
#define KMQ_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _kmq_t kmq_t;
typedef struct _kmq_reply_t kmq_reply_t;

//  Options for kmq_new. Zero-initialise, then set what you need; a zero
//  field means its default.
typedef struct {
    int hello_timeout_ms;                    //  default 5000
    const char *client_name;                 //  sent in hello, for logs
    volatile sig_atomic_t *interrupt_flag;   //  see "Interrupts" above
    //  Pass the `input` event of your own execute requests to the event
    //  handler. Off by default: you sent the code, so the request says
    //  `input: false` and the kernel skips the event unless another client
    //  is attached (protocol.md 4.5), which saves a trip per request.
    bool own_input;
    const char *key_role;                    //  our key on tcp: the config dir's
                                             //  ROLE.key_secret (keys.h); default
                                             //  "client" (kmq-http: "gateway")
} kmq_options_t;

//  A partial event, as given to the event handler. Pointers are valid only
//  during the call.
//
//  Compatibility: fields are only ever added at the end, and the library
//  zero-fills the struct before filling it, so a handler written for an
//  older kmq.h keeps working; a kind it does not know is safe to ignore.
typedef struct {
    const char *kind;        //  "stream", "display", "truncated", "evicted",
                             //  or a newer kind
    uint64_t id;             //  request id (0 for "evicted")
    const char *session;     //  session key ("" when absent)
    const char *name;        //  stream: "stdout"/"stderr"; truncated: the stream
    const void *data;        //  stream: the bytes (not NUL-terminated);
                             //  display: the text/plain part (payload 0)
    size_t size;             //  bytes in data
    uint64_t limit;          //  truncated: the output limit in bytes
    const char *message;     //  evicted: why ("" when absent)
    //  --- since the display event (protocol.md 4.1, 4.3) ---
    size_t mime_count;       //  display: entries in the MIME bundle, else 0
    const char *const *mime; //  display: mime [i] names payload i
                             //  ("text/plain" first); NULL when mime_count 0
    const void *const *payloads;    //  display: payload i's bytes (PNG raw)
    const size_t *sizes;     //  display: payload i's size in bytes
    //  --- since shared sessions (protocol.md 4.5) ---
    //  Events of another client's request in a session you attached to
    //  have id 0; request is that client's id and client its label ("" on
    //  events of your own requests).
    uint64_t request;
    const char *client;
    const char *state;       //  status: "busy"/"idle"; kernel: "starting"/"died"
    const char *request_type;//  status, input: "execute", "upload", "reset", ...
    uint64_t execution_count;//  input of an execute: the cell's number
                             //  (its code is data/size)
    kmq_reply_t *outcome;    //  outcome: the other client's reply, read with
                             //  the kmq_reply_* accessors; valid during the call
} kmq_event_t;

typedef void (kmq_event_fn) (const kmq_event_t *event, void *arg);

//  --- connection ---------------------------------------------------------

//  Connects to the broker at endpoint and says hello. Returns NULL when the
//  broker does not answer within the hello timeout or refuses the hello;
//  then error (if not NULL) holds a sentence the caller can print, e.g.
//  "broker at tcp://127.0.0.1:5555 did not answer within 5 s: is kmq-broker
//  running?". options may be NULL.
kmq_t *kmq_new (const char *endpoint, const kmq_options_t *options,
                char *error, size_t error_size);

//  Closes the connection (pending messages are dropped). No-op on NULL.
void kmq_destroy (kmq_t **self_p);

//  Sets the handler for partial events (NULL drops them). The handler gets
//  events of the request being waited for, events with id 0, and every
//  event of the sessions this connection is attached to.
void kmq_set_event_handler (kmq_t *self, kmq_event_fn *handler, void *arg);

//  What the broker said in hello: its name ("kmq-broker 0.1.0"), the
//  largest payload it accepts, and its heartbeat interval in ms.
const char *kmq_broker_name (kmq_t *self);
uint64_t kmq_max_payload (kmq_t *self);
uint64_t kmq_heartbeat_ivl (kmq_t *self);

//  True if key is a valid session key (1-128 bytes of [A-Za-z0-9._:-]).
bool kmq_session_valid (const char *key);

//  --- requests -------------------------------------------------------------
//  Each returns a reply the caller owns (never NULL). session is a session
//  key; names and formats are checked by the kernel.

//  Runs code (len bytes of UTF-8) in session. timeout_ms 0 is the broker's
//  request_timeout. Events while it runs: "stream" (output, in order),
//  "display" (each display() call and each matplotlib figure, a MIME
//  bundle), "truncated" (once, when the output limit is passed). Reply ok: execution_count, mime (array of str) with one
//  payload per entry. PYTHON_ERROR: ename, evalue, traceback (array of
//  str), execution_count. TIMEOUT: killed (bool). KERNEL_DIED: cause (str).
kmq_reply_t *kmq_execute (kmq_t *self, const char *session,
                          const char *code, size_t len, uint32_t timeout_ms);
//  Sends bytes as a DataFrame (format "csv" or "json") bound to name, or as
//  a file called name ("file"). For "frame" the bytes are a .kmqf file
//  (protocol.md 11.7): the library validates it (BAD_REQUEST, nothing sent,
//  when it is not a valid one) and sends its description and buffers.
//  Reply ok: name, kind ("dataframe"/"file"), bytes, and rows, columns for
//  DataFrames.
kmq_reply_t *kmq_upload (kmq_t *self, const char *session, const char *name,
                         const char *format, const void *data, size_t size);
//  Fetches a variable ("csv", "json", "frame") or a file ("file"). Reply
//  ok: name, format, bytes; payload 0 holds the bytes. For "frame" also
//  rows and columns, and the DataFrame's description and buffers: write
//  them with kmq_reply_write_kmqf.
kmq_reply_t *kmq_download (kmq_t *self, const char *session,
                           const char *name, const char *format);
//  Fresh namespace, empty working directory. Reply ok: no fields.
kmq_reply_t *kmq_reset (kmq_t *self, const char *session);
//  The session's variables: see kmq_reply_var.
kmq_reply_t *kmq_vars (kmq_t *self, const char *session);
//  Stops the session's kernel now. Reply ok: no fields.
kmq_reply_t *kmq_close (kmq_t *self, const char *session);
//  KeyboardInterrupt in the running request. Reply ok: interrupted (bool).
//  Safe to call between other calls on the same thread.
kmq_reply_t *kmq_interrupt (kmq_t *self, const char *session);
//  Completion candidates for the token that ends at cursor_pos, a byte
//  offset into code (len bytes of UTF-8; at most len). Never starts a
//  kernel: an unknown session is NO_SUCH_SESSION. Runs in the session's
//  queue, so it waits behind a running cell. Reply ok: matches (see
//  kmq_reply_match), cursor_start and cursor_end (byte offsets into code:
//  the span a match replaces).
kmq_reply_t *kmq_complete (kmq_t *self, const char *session,
                           const char *code, size_t len, size_t cursor_pos);
//  The object at cursor_pos (or the call whose parentheses hold it). Reply
//  ok: found (bool) and, when found, a MIME bundle whose text/plain is the
//  name and signature (or type and repr), a blank line and the docstring.
kmq_reply_t *kmq_inspect (kmq_t *self, const char *session,
                          const char *code, size_t len, size_t cursor_pos);
//  Lets the key with use session (its owner's call; protocol.md 13.2), or
//  no longer with revoke. with is a CURVE public key (z85) or the path of
//  a certificate file holding one. Reply ok: owner and shared (the keys
//  it is shared with, see kmq_reply_json); FORBIDDEN from another key.
kmq_reply_t *kmq_share (kmq_t *self, const char *session, const char *with,
                        bool revoke);
//  Starts or stops receiving every event of session (see kmq_listen).
kmq_reply_t *kmq_attach (kmq_t *self, const char *session);
kmq_reply_t *kmq_detach (kmq_t *self, const char *session);
//  Broker-wide figures: version, broker, uptime_ms, sessions, kernels,
//  queued, max_sessions (uints but broker) and session_list (kmq_reply_session).
kmq_reply_t *kmq_stats (kmq_t *self);
//  Asks the broker to stop (protocol.md 12.2). With end_sessions it ends
//  every session first and its kernel hosts exit; without, the sessions
//  stay with their hosts for the next broker. Reply ok: sessions (ended).
kmq_reply_t *kmq_shutdown (kmq_t *self, bool end_sessions);

//  Waits up to timeout_ms (-1: no limit) for events, passing each to the
//  event handler, and heartbeating the broker meanwhile. Returns the number
//  of events handled once at least one was (or 0 when the time ran out or
//  the interrupt flag is set; the flag is left set), or -1 when the broker
//  stopped answering (kmq_error says so).
int kmq_listen (kmq_t *self, int timeout_ms);

//  The last error of kmq_listen, a sentence.
const char *kmq_error (kmq_t *self);

//  --- replies ----------------------------------------------------------------

//  Destroys a reply. No-op on NULL.
void kmq_reply_destroy (kmq_reply_t **self_p);

//  True if the request succeeded.
bool kmq_reply_ok (kmq_reply_t *self);
//  Error name ("PYTHON_ERROR", "BROKER_LOST", ...), NULL when ok.
const char *kmq_reply_error (kmq_reply_t *self);
//  The error's sentence; "" when ok.
const char *kmq_reply_message (kmq_reply_t *self);
//  True when the session's state was lost before this request ran (a fresh
//  kernel replaced a dead or evicted one); notice says why ("" if unsaid).
bool kmq_reply_state_lost (kmq_reply_t *self);
const char *kmq_reply_notice (kmq_reply_t *self);
//  kmq_reply_bool (reply, "restored", false) is true on the first reply
//  after the session came back from its snapshot (protocol.md 10.3);
//  notice then says what was restored and names what was not.

//  The message's request id (0 for a shared session's events, protocol.md
//  4.5), its session key (kmq_reply_session_key, "" when absent), and for an event its kind
//  ("stream", "display", "input", ...); NULL for a reply. kmq_async hands
//  out events as kmq_reply_t too; every accessor here reads them.
uint64_t kmq_reply_id (kmq_reply_t *self);
const char *kmq_reply_session_key (kmq_reply_t *self);
const char *kmq_reply_event (kmq_reply_t *self);

//  Any reply field by name. str: NUL-terminated, owned by the reply, NULL
//  when absent or not a string. uint/bool: dflt when absent.
const char *kmq_reply_str (kmq_reply_t *self, const char *key);
uint64_t kmq_reply_uint (kmq_reply_t *self, const char *key, uint64_t dflt);
bool kmq_reply_bool (kmq_reply_t *self, const char *key, bool dflt);
//  True when the reply's header has key (e.g. "duration_ms").
bool kmq_reply_has (kmq_reply_t *self, const char *key);
//  Arrays of strings ("mime", "traceback"): element count (0 when absent)
//  and element index as a NUL-terminated string owned by the reply (NULL
//  when out of range or not a string).
size_t kmq_reply_strings (kmq_reply_t *self, const char *key);
const char *kmq_reply_string_at (kmq_reply_t *self, const char *key, size_t index);

//  Payload frames: count, and frame index (size in *size). Owned by the
//  reply; NULL when out of range.
size_t kmq_reply_payload_count (kmq_reply_t *self);
const void *kmq_reply_payload (kmq_reply_t *self, size_t index, size_t *size);

//  The MIME bundle of an execute or inspect reply (protocol.md 4.3):
//  entry count (0 when the reply has none or is malformed, i.e. its mime
//  array and payloads differ in number), the type of entry index
//  ("text/plain", "image/png", ...; NULL when out of range) and its bytes
//  (size in *size; NULL when out of range). Owned by the reply.
size_t kmq_reply_mime_count (kmq_reply_t *self);
const char *kmq_reply_mime (kmq_reply_t *self, size_t index);
const void *kmq_reply_mime_data (kmq_reply_t *self, size_t index, size_t *size);
//  The bytes of the entry of type mime, or NULL when the bundle has none.
const void *kmq_reply_mime_find (kmq_reply_t *self, const char *mime, size_t *size);
//  The execute reply's per-session cell number (1 for the first cell);
//  0 when the reply carries none (the code never ran).
uint64_t kmq_reply_execution_count (kmq_reply_t *self);

//  A complete reply's candidates, sorted: count, and match index as a
//  NUL-terminated string owned by the reply (NULL when out of range).
size_t kmq_reply_match_count (kmq_reply_t *self);
const char *kmq_reply_match (kmq_reply_t *self, size_t index);

//  One row of a vars reply. Strings are owned by the reply.
typedef struct {
    const char *name;
    const char *type;
    size_t ndim;             //  entries in shape; 0 when the object has none
    uint64_t shape [8];      //  first 8 dimensions
    bool has_len;
    uint64_t len;
} kmq_var_t;

//  Rows of a vars reply; fills *var with row index, returns -1 when out of
//  range.
size_t kmq_reply_var_count (kmq_reply_t *self);
int kmq_reply_var (kmq_reply_t *self, size_t index, kmq_var_t *var);

//  One row of a stats reply's session_list. Strings owned by the reply.
typedef struct {
    const char *session;
    const char *state;       //  "starting", "idle", "busy", "dead"
    uint64_t pid, queued, idle_ms, requests;
} kmq_session_info_t;

size_t kmq_reply_session_count (kmq_reply_t *self);
int kmq_reply_session (kmq_reply_t *self, size_t index, kmq_session_info_t *info);

//  The DataFrame of an ok download reply in the frame format, validated
//  as protocol.md 11.6 says (a kernel is not trusted), then written as a
//  .kmqf file to path (NULL: stdout), which is created only once the frame
//  is valid. Returns 0, or -1 with error filled with a sentence.
int kmq_reply_write_kmqf (kmq_reply_t *self, const char *path,
                          char *error, size_t error_size);
//  The same .kmqf file's bytes in memory: returns them (caller frees with
//  free ()) with their count in *size, or NULL with error filled.
void *kmq_reply_kmqf (kmq_reply_t *self, size_t *size, char *error,
                      size_t error_size);

//  The reply's fields as one JSON object (every protocol v1 reply field that
//  is present, arrays and maps included, but not type and id). Caller
//  frees it with free ().
char *kmq_reply_json (kmq_reply_t *self);

//  Selftest: what needs no real broker (uses an in-process fake).
void kmq_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
