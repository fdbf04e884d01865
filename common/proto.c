/*  proto — the kernelmq wire codec, protocol v1. See proto.h and protocol.md.

    Decoding trusts nothing: before msgpack-c sees the header, s_prescan
    walks it once and checks that every announced array/map/str length fits
    in the bytes that remain. msgpack-c allocates an array's or map's slots
    up front from the announced count, so without this a 5-byte header
    could ask for tens of GiB. After the prescan the zone is bounded by
    roughly 24 bytes per header byte.

    Strings in the decoded object point into the header frame (msgpack-c
    references the input buffer), so the zmsg must outlive the object: both
    live in proto_msg_t and die together.
*/
#include "proto.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --- names ------------------------------------------------------------

static const char *s_type_names [PROTO_TYPE_COUNT] = {
    "hello", "execute", "upload", "download", "reset", "interrupt", "vars",
    "close", "attach", "detach", "heartbeat", "stats", "ready", "event",
    "reply"
};

static const char *s_error_names [PROTO_E_COUNT] = {
    "NONE", "BAD_REQUEST", "UNSUPPORTED_VERSION", "NO_SUCH_SESSION",
    "SESSION_LIMIT", "QUEUE_FULL", "TOO_LARGE", "TIMEOUT", "INTERRUPTED",
    "KERNEL_DIED", "EVICTED", "CLOSED", "PYTHON_ERROR", "NOT_FOUND",
    "UNSUPPORTED", "INTERNAL"
};

const char *
proto_type_name (proto_type_t type)
{
    if ((int) type < 0 || type >= PROTO_TYPE_COUNT)
        return "?";
    return s_type_names [type];
}

int
proto_type_parse (const char *name, size_t len)
{
    if (!name)
        return -1;
    for (int i = 0; i < PROTO_TYPE_COUNT; i++)
        if (strlen (s_type_names [i]) == len
        &&  memcmp (s_type_names [i], name, len) == 0)
            return i;
    return -1;
}

const char *
proto_error_name (proto_error_t code)
{
    if ((int) code < 0 || code >= PROTO_E_COUNT)
        return "INTERNAL";
    return s_error_names [code];
}

proto_error_t
proto_error_parse (const char *name)
{
    if (!name)
        return PROTO_E_INTERNAL;
    //  NONE is not a wire name: a reply that says "error" always has one
    for (int i = PROTO_E_NONE + 1; i < PROTO_E_COUNT; i++)
        if (strcmp (s_error_names [i], name) == 0)
            return (proto_error_t) i;
    return PROTO_E_INTERNAL;
}

bool
proto_type_is_session_bound (proto_type_t type)
{
    switch (type) {
        case PROTO_EXECUTE: case PROTO_UPLOAD: case PROTO_DOWNLOAD:
        case PROTO_RESET: case PROTO_INTERRUPT: case PROTO_VARS:
        case PROTO_CLOSE: case PROTO_ATTACH: case PROTO_DETACH:
            return true;
        default:
            return false;
    }
}

bool
proto_session_valid (const char *key, size_t len)
{
    if (!key || len == 0 || len > PROTO_SESSION_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

//  --- known header fields -----------------------------------------------

typedef enum { K_NONE, K_STR, K_UINT, K_BOOL, K_ARRAY, K_MAP } s_kind_t;

typedef struct {
    const char *name;
    s_kind_t kind;
    s_kind_t elem;          //  for arrays: kind of every element, or K_NONE
} s_field_t;

//  One kind per key, whatever the message type (protocol.md sections 3-5).
static const s_field_t s_fields [] = {
    { "type", K_STR, K_NONE },
    { "id", K_UINT, K_NONE },
    { "session", K_STR, K_NONE },
    { "version", K_UINT, K_NONE },
    { "client", K_STR, K_NONE },
    { "timeout_ms", K_UINT, K_NONE },
    { "name", K_STR, K_NONE },
    { "format", K_STR, K_NONE },
    { "status", K_STR, K_NONE },
    { "error", K_STR, K_NONE },
    { "message", K_STR, K_NONE },
    { "event", K_STR, K_NONE },
    { "limit", K_UINT, K_NONE },
    { "state_lost", K_BOOL, K_NONE },
    { "notice", K_STR, K_NONE },
    { "broker", K_STR, K_NONE },
    { "heartbeat_ivl_ms", K_UINT, K_NONE },
    { "heartbeat_liveness", K_UINT, K_NONE },
    { "max_payload", K_UINT, K_NONE },
    { "execution_count", K_UINT, K_NONE },
    { "mime", K_ARRAY, K_STR },
    { "ename", K_STR, K_NONE },
    { "evalue", K_STR, K_NONE },
    { "traceback", K_ARRAY, K_STR },
    { "killed", K_BOOL, K_NONE },
    { "cause", K_STR, K_NONE },
    { "kind", K_STR, K_NONE },
    { "bytes", K_UINT, K_NONE },
    { "rows", K_UINT, K_NONE },
    { "columns", K_UINT, K_NONE },
    { "interrupted", K_BOOL, K_NONE },
    { "vars", K_ARRAY, K_MAP },
    { "uptime_ms", K_UINT, K_NONE },
    { "sessions", K_UINT, K_NONE },
    { "kernels", K_UINT, K_NONE },
    { "queued", K_UINT, K_NONE },
    { "max_sessions", K_UINT, K_NONE },
    { "session_list", K_ARRAY, K_MAP },
    { "pid", K_UINT, K_NONE },
};
#define S_FIELD_COUNT (sizeof (s_fields) / sizeof (s_fields [0]))

static const char *
s_kind_text (s_kind_t kind)
{
    switch (kind) {
        case K_STR: return "a string";
        case K_UINT: return "an unsigned integer";
        case K_BOOL: return "a boolean";
        case K_ARRAY: return "an array";
        case K_MAP: return "a map";
        default: return "?";
    }
}

static const char *
s_kind_plural (s_kind_t kind)
{
    switch (kind) {
        case K_STR: return "strings";
        case K_MAP: return "maps";
        default: return "values";
    }
}

static bool
s_kind_match (const msgpack_object *obj, s_kind_t kind)
{
    switch (kind) {
        case K_STR: return obj->type == MSGPACK_OBJECT_STR;
        //  msgpack-c decodes every non-negative integer as POSITIVE_INTEGER,
        //  whichever width or signedness the sender packed it with
        case K_UINT: return obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        case K_BOOL: return obj->type == MSGPACK_OBJECT_BOOLEAN;
        case K_ARRAY: return obj->type == MSGPACK_OBJECT_ARRAY;
        case K_MAP: return obj->type == MSGPACK_OBJECT_MAP;
        default: return true;
    }
}

static const char *
s_object_kind (const msgpack_object *obj)
{
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL: return "nil";
        case MSGPACK_OBJECT_BOOLEAN: return "boolean";
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return "unsigned integer";
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative integer";
        case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64: return "float";
        case MSGPACK_OBJECT_STR: return "string";
        case MSGPACK_OBJECT_ARRAY: return "array";
        case MSGPACK_OBJECT_MAP: return "map";
        case MSGPACK_OBJECT_BIN: return "bin";
        case MSGPACK_OBJECT_EXT: return "ext";
        default: return "value of unknown type";
    }
}

static int
s_field_index (const char *key, size_t len)
{
    for (size_t i = 0; i < S_FIELD_COUNT; i++)
        if (strlen (s_fields [i].name) == len
        &&  memcmp (s_fields [i].name, key, len) == 0)
            return (int) i;
    return -1;
}

//  --- decoded message ----------------------------------------------------

struct _proto_msg_t {
    zmsg_t *msg;                        //  the original frames, owned
    msgpack_unpacked unpacked;          //  header object and its zone
    const msgpack_object_map *header;   //  the top-level map
    proto_type_t type;
    uint64_t id;
    char *session;                      //  copy, or NULL when absent
    size_t payload_count;
    zframe_t *payloads [PROTO_MAX_PAYLOADS];    //  borrowed from msg
    zhash_t *strings;                   //  proto_msg_str copies, by key
};

static void
s_fault (proto_fault_t *fault, proto_error_t code, const char *format, ...)
{
    fault->code = code;
    va_list args;
    va_start (args, format);
    vsnprintf (fault->text, sizeof (fault->text), format, args);
    va_end (args);
}

//  Copies at most 32 bytes of untrusted text into dst for a fault message,
//  with anything unprintable as '?'.
static void
s_quote (char *dst, size_t dst_size, const char *src, size_t len)
{
    size_t max = dst_size - 4;
    if (max > 32)
        max = 32;
    size_t i = 0;
    for (; i < len && i < max; i++) {
        unsigned char c = (unsigned char) src [i];
        dst [i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char) c : '?';
    }
    if (i < len) {
        memcpy (dst + i, "...", 3);
        i += 3;
    }
    dst [i] = 0;
}

//  Walks one msgpack value without allocating. Returns 0 when data holds
//  exactly one well-formed value whose announced lengths all fit; else -1
//  with the fault filled.
static int
s_prescan (const uint8_t *data, size_t size, proto_fault_t *fault)
{
    size_t pos = 0;
    uint64_t pending = 1;           //  values still to read
    while (pending > 0) {
        if (pos >= size)
            goto truncated;
        uint8_t b = data [pos++];
        pending--;
        uint64_t skip = 0;          //  bytes of payload after the length
        uint64_t items = 0;         //  nested values announced
        size_t len_bytes = 0;       //  big-endian length field that follows
        int ext = 0;                //  ext type byte
        int len_kind = 0;           //  0 = skip, 1 = str/bin/ext, 2 = array, 3 = map
        if (b <= 0x7f || b >= 0xe0)
            ;
        else
        if (b <= 0x8f)
            items = 2u * (b & 0x0f);
        else
        if (b <= 0x9f)
            items = b & 0x0f;
        else
        if (b <= 0xbf)
            skip = b & 0x1f;
        else
        switch (b) {
            case 0xc0: case 0xc2: case 0xc3: break;
            case 0xc1:
                s_fault (fault, PROTO_E_BAD_REQUEST,
                    "header is not valid msgpack (byte 0xc1 at offset %zu)", pos - 1);
                return -1;
            case 0xc4: len_bytes = 1; len_kind = 1; break;
            case 0xc5: len_bytes = 2; len_kind = 1; break;
            case 0xc6: len_bytes = 4; len_kind = 1; break;
            case 0xc7: len_bytes = 1; len_kind = 1; ext = 1; break;
            case 0xc8: len_bytes = 2; len_kind = 1; ext = 1; break;
            case 0xc9: len_bytes = 4; len_kind = 1; ext = 1; break;
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xd9: len_bytes = 1; len_kind = 1; break;
            case 0xda: len_bytes = 2; len_kind = 1; break;
            case 0xdb: len_bytes = 4; len_kind = 1; break;
            case 0xdc: len_bytes = 2; len_kind = 2; break;
            case 0xdd: len_bytes = 4; len_kind = 2; break;
            case 0xde: len_bytes = 2; len_kind = 3; break;
            case 0xdf: len_bytes = 4; len_kind = 3; break;
        }
        if (len_bytes) {
            if (size - pos < len_bytes)
                goto truncated;
            uint64_t n = 0;
            for (size_t i = 0; i < len_bytes; i++)
                n = (n << 8) | data [pos++];
            if (len_kind == 1)
                skip = n + (uint64_t) ext;
            else
            if (len_kind == 2)
                items = n;
            else
                items = 2 * n;
        }
        if (skip > size - pos)
            goto truncated;
        pos += (size_t) skip;
        //  Every value takes at least one byte, so no honest header
        //  announces more values than it has bytes left.
        pending += items;
        if (pending > size - pos)
            goto truncated;
    }
    if (pos != size) {
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "header has %zu trailing bytes after its msgpack map", size - pos);
        return -1;
    }
    return 0;

truncated:
    s_fault (fault, PROTO_E_BAD_REQUEST,
        "header is truncated msgpack (%zu bytes, a length or value runs past the end)",
        size);
    return -1;
}

static const msgpack_object *
s_find (const msgpack_object_map *map, const char *key)
{
    if (!map || !key)
        return NULL;
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr [i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
        &&  memcmp (k->via.str.ptr, key, len) == 0)
            return &map->ptr [i].val;
    }
    return NULL;
}

static bool
s_str_is (const msgpack_object *obj, const char *text)
{
    return obj && obj->type == MSGPACK_OBJECT_STR
        && obj->via.str.size == strlen (text)
        && memcmp (obj->via.str.ptr, text, obj->via.str.size) == 0;
}

//  Checks the kind of every known key, and that none appears twice.
static int
s_check_fields (const msgpack_object_map *map, proto_fault_t *fault)
{
    bool seen [S_FIELD_COUNT] = { false };
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr [i].key;
        const msgpack_object *val = &map->ptr [i].val;
        if (key->type != MSGPACK_OBJECT_STR) {
            s_fault (fault, PROTO_E_BAD_REQUEST,
                "header key %u is not a string; header keys must be strings", i);
            return -1;
        }
        int index = s_field_index (key->via.str.ptr, key->via.str.size);
        if (index < 0)
            continue;           //  unknown keys are ignored (protocol 2.)
        const s_field_t *field = &s_fields [index];
        if (seen [index]) {
            s_fault (fault, PROTO_E_BAD_REQUEST,
                "header field '%s' appears more than once", field->name);
            return -1;
        }
        seen [index] = true;
        if (!s_kind_match (val, field->kind)) {
            s_fault (fault, PROTO_E_BAD_REQUEST,
                "header field '%s' must be %s", field->name,
                s_kind_text (field->kind));
            return -1;
        }
        if (field->kind == K_ARRAY && field->elem != K_NONE)
            for (uint32_t j = 0; j < val->via.array.size; j++)
                if (!s_kind_match (&val->via.array.ptr [j], field->elem)) {
                    s_fault (fault, PROTO_E_BAD_REQUEST,
                        "header field '%s' must be an array of %s",
                        field->name, s_kind_plural (field->elem));
                    return -1;
                }
    }
    return 0;
}

static int
s_require (const msgpack_object_map *map, const char *key, proto_type_t type,
           proto_fault_t *fault)
{
    if (s_find (map, key))
        return 0;
    s_fault (fault, PROTO_E_BAD_REQUEST,
        "header field '%s' is missing; %s requires it", key, proto_type_name (type));
    return -1;
}

static int
s_payloads (size_t count, size_t want, proto_type_t type, proto_fault_t *fault)
{
    if (count == want)
        return 0;
    s_fault (fault, PROTO_E_BAD_REQUEST,
        "%s carries %zu payload frames; it must carry exactly %zu",
        proto_type_name (type), count, want);
    return -1;
}

//  Fields and payload counts each type requires (protocol.md section 5).
static int
s_check_type (proto_msg_t *self, proto_fault_t *fault)
{
    const msgpack_object_map *map = self->header;
    proto_type_t type = self->type;
    size_t count = self->payload_count;

    if (type != PROTO_HEARTBEAT && type != PROTO_READY
    &&  s_require (map, "id", type, fault))
        return -1;
    if (proto_type_is_session_bound (type) || type == PROTO_READY) {
        if (s_require (map, "session", type, fault))
            return -1;
        const msgpack_object *session = s_find (map, "session");
        if (!proto_session_valid (session->via.str.ptr, session->via.str.size)) {
            s_fault (fault, PROTO_E_BAD_REQUEST,
                "header field 'session' is not a valid session key: use 1 to %d "
                "bytes of A-Z a-z 0-9 . _ : -", PROTO_SESSION_MAX);
            return -1;
        }
    }
    switch (type) {
        case PROTO_HELLO:
            if (s_require (map, "version", type, fault))
                return -1;
            return s_payloads (count, 0, type, fault);
        case PROTO_EXECUTE:
            return s_payloads (count, 1, type, fault);
        case PROTO_UPLOAD:
        case PROTO_DOWNLOAD: {
            if (s_require (map, "name", type, fault)
            ||  s_require (map, "format", type, fault))
                return -1;
            const msgpack_object *name = s_find (map, "name");
            if (name->via.str.size == 0 || name->via.str.size > PROTO_NAME_MAX) {
                s_fault (fault, PROTO_E_BAD_REQUEST,
                    "header field 'name' must be 1 to %d bytes", PROTO_NAME_MAX);
                return -1;
            }
            return s_payloads (count, type == PROTO_UPLOAD ? 1 : 0, type, fault);
        }
        case PROTO_RESET: case PROTO_INTERRUPT: case PROTO_VARS:
        case PROTO_CLOSE: case PROTO_ATTACH: case PROTO_DETACH:
        case PROTO_HEARTBEAT: case PROTO_STATS: case PROTO_READY:
            return s_payloads (count, 0, type, fault);
        case PROTO_EVENT:
            if (s_require (map, "event", type, fault))
                return -1;
            if (s_str_is (s_find (map, "event"), "stream")) {
                if (s_require (map, "name", type, fault))
                    return -1;
                return s_payloads (count, 1, type, fault);
            }
            return 0;
        case PROTO_REPLY: {
            if (s_require (map, "status", type, fault))
                return -1;
            const msgpack_object *status = s_find (map, "status");
            if (s_str_is (status, "error")) {
                if (s_require (map, "error", type, fault)
                ||  s_require (map, "message", type, fault))
                    return -1;
            }
            else
            if (!s_str_is (status, "ok")) {
                s_fault (fault, PROTO_E_BAD_REQUEST,
                    "header field 'status' must be \"ok\" or \"error\"");
                return -1;
            }
            return 0;
        }
        default:
            return 0;
    }
}

static int
s_decode (proto_msg_t *self, proto_fault_t *fault)
{
    size_t frames = zmsg_size (self->msg);
    if (frames == 0) {
        s_fault (fault, PROTO_E_BAD_REQUEST, "message has no frames");
        return -1;
    }
    zframe_t *frame = zmsg_first (self->msg);
    if (zframe_size (frame) != PROTO_SIGNATURE_SIZE
    ||  memcmp (zframe_data (frame), PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE) != 0) {
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "frame 0 is not the signature \"" PROTO_SIGNATURE "\"; "
            "the peer does not speak kernelmq protocol v1");
        return -1;
    }
    if (frames < 2) {
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "message has no header frame (frame 1)");
        return -1;
    }
    if (frames > 2 + PROTO_MAX_PAYLOADS) {
        s_fault (fault, PROTO_E_TOO_LARGE,
            "message has %zu payload frames, more than the limit of %d",
            frames - 2, PROTO_MAX_PAYLOADS);
        return -1;
    }
    zframe_t *header = zmsg_next (self->msg);
    size_t header_size = zframe_size (header);
    if (header_size > PROTO_MAX_HEADER) {
        s_fault (fault, PROTO_E_TOO_LARGE,
            "header is %zu bytes, more than the limit of %u",
            header_size, PROTO_MAX_HEADER);
        return -1;
    }
    while ((frame = zmsg_next (self->msg))) {
        if (zframe_size (frame) > PROTO_MAX_PAYLOAD) {
            s_fault (fault, PROTO_E_TOO_LARGE,
                "payload %zu is %zu bytes, more than the limit of %llu",
                self->payload_count, zframe_size (frame), PROTO_MAX_PAYLOAD);
            return -1;
        }
        self->payloads [self->payload_count++] = frame;
    }
    if (header_size == 0) {
        s_fault (fault, PROTO_E_BAD_REQUEST, "header frame is empty");
        return -1;
    }
    const char *data = (const char *) zframe_data (header);
    if (s_prescan ((const uint8_t *) data, header_size, fault))
        return -1;
    size_t offset = 0;
    msgpack_unpack_return rc =
        msgpack_unpack_next (&self->unpacked, data, header_size, &offset);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR) {
        //  msgpack-c says NOMEM when nesting passes its fixed stack too
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "header nests too deeply (libmsgpackc stops at 32 levels) or could "
            "not be unpacked in memory");
        return -1;
    }
    if (rc != MSGPACK_UNPACK_SUCCESS) {
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "header is not valid msgpack (unpack returned %d)", (int) rc);
        return -1;
    }
    if (offset != header_size) {
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "header has %zu trailing bytes after its msgpack map",
            header_size - offset);
        return -1;
    }
    const msgpack_object *root = &self->unpacked.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "header is a msgpack %s, not a map", s_object_kind (root));
        return -1;
    }
    self->header = &root->via.map;

    //  The id first, so every later fault can still be correlated
    const msgpack_object *id = s_find (self->header, "id");
    if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        fault->has_id = true;
        fault->id = id->via.u64;
        self->id = id->via.u64;
    }
    if (s_check_fields (self->header, fault))
        return -1;

    const msgpack_object *type = s_find (self->header, "type");
    if (!type) {
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "header field 'type' is missing; every message needs one");
        return -1;
    }
    int parsed = proto_type_parse (type->via.str.ptr, type->via.str.size);
    if (parsed < 0) {
        char quoted [48];
        s_quote (quoted, sizeof (quoted), type->via.str.ptr, type->via.str.size);
        s_fault (fault, PROTO_E_BAD_REQUEST,
            "header field 'type' has unknown value '%s'", quoted);
        return -1;
    }
    self->type = (proto_type_t) parsed;
    if (s_check_type (self, fault))
        return -1;

    const msgpack_object *session = s_find (self->header, "session");
    if (session) {
        self->session = (char *) malloc (session->via.str.size + 1);
        assert (self->session);
        memcpy (self->session, session->via.str.ptr, session->via.str.size);
        self->session [session->via.str.size] = 0;
    }
    return 0;
}

proto_msg_t *
proto_decode (zmsg_t **msg_p, proto_fault_t *fault)
{
    assert (msg_p);
    proto_fault_t scratch;
    if (!fault)
        fault = &scratch;
    memset (fault, 0, sizeof (*fault));
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg) {
        s_fault (fault, PROTO_E_BAD_REQUEST, "no message to decode");
        return NULL;
    }
    proto_msg_t *self = (proto_msg_t *) zmalloc (sizeof (proto_msg_t));
    assert (self);
    self->msg = msg;
    msgpack_unpacked_init (&self->unpacked);
    if (s_decode (self, fault) == 0) {
        fault->code = PROTO_E_NONE;
        return self;
    }
    proto_msg_destroy (&self);
    return NULL;
}

static void
s_msg_free_view (proto_msg_t *self)
{
    msgpack_unpacked_destroy (&self->unpacked);
    zhash_destroy (&self->strings);
    free (self->session);
    free (self);
}

void
proto_msg_destroy (proto_msg_t **self_p)
{
    assert (self_p);
    proto_msg_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    zmsg_destroy (&self->msg);
    s_msg_free_view (self);
}

zmsg_t *
proto_msg_release (proto_msg_t **self_p)
{
    assert (self_p);
    proto_msg_t *self = *self_p;
    if (!self)
        return NULL;
    *self_p = NULL;
    zmsg_t *msg = self->msg;
    s_msg_free_view (self);
    return msg;
}

proto_type_t
proto_msg_type (const proto_msg_t *self)
{
    assert (self);
    return self->type;
}

uint64_t
proto_msg_id (const proto_msg_t *self)
{
    assert (self);
    return self->id;
}

const char *
proto_msg_session (const proto_msg_t *self)
{
    assert (self);
    return self->session ? self->session : "";
}

const char *
proto_msg_str (proto_msg_t *self, const char *key)
{
    assert (self);
    const msgpack_object *obj = s_find (self->header, key);
    if (!obj || obj->type != MSGPACK_OBJECT_STR)
        return NULL;
    if (!self->strings) {
        self->strings = zhash_new ();
        assert (self->strings);
    }
    char *copy = (char *) zhash_lookup (self->strings, key);
    if (copy)
        return copy;
    copy = (char *) malloc (obj->via.str.size + 1);
    assert (copy);
    memcpy (copy, obj->via.str.ptr, obj->via.str.size);
    copy [obj->via.str.size] = 0;
    if (zhash_insert (self->strings, key, copy) != 0) {
        free (copy);            //  not reached: the lookup above missed
        return NULL;
    }
    zhash_freefn (self->strings, key, free);
    return copy;
}

bool
proto_msg_strn (const proto_msg_t *self, const char *key,
                const char **ptr, size_t *len)
{
    assert (self);
    const msgpack_object *obj = s_find (self->header, key);
    if (!obj || obj->type != MSGPACK_OBJECT_STR)
        return false;
    if (ptr)
        *ptr = obj->via.str.ptr;
    if (len)
        *len = obj->via.str.size;
    return true;
}

uint64_t
proto_msg_uint (const proto_msg_t *self, const char *key, uint64_t dflt)
{
    assert (self);
    const msgpack_object *obj = s_find (self->header, key);
    if (!obj || obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return dflt;
    return obj->via.u64;
}

int64_t
proto_msg_int (const proto_msg_t *self, const char *key, int64_t dflt)
{
    assert (self);
    const msgpack_object *obj = s_find (self->header, key);
    if (!obj)
        return dflt;
    if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return obj->via.i64;
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER && obj->via.u64 <= INT64_MAX)
        return (int64_t) obj->via.u64;
    return dflt;
}

double
proto_msg_float (const proto_msg_t *self, const char *key, double dflt)
{
    assert (self);
    const msgpack_object *obj = s_find (self->header, key);
    if (!obj)
        return dflt;
    switch (obj->type) {
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return obj->via.f64;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return (double) obj->via.u64;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return (double) obj->via.i64;
        default:
            return dflt;
    }
}

bool
proto_msg_bool (const proto_msg_t *self, const char *key, bool dflt)
{
    assert (self);
    const msgpack_object *obj = s_find (self->header, key);
    if (!obj || obj->type != MSGPACK_OBJECT_BOOLEAN)
        return dflt;
    return obj->via.boolean;
}

bool
proto_msg_has (const proto_msg_t *self, const char *key)
{
    assert (self);
    return s_find (self->header, key) != NULL;
}

const msgpack_object *
proto_msg_object (const proto_msg_t *self, const char *key)
{
    assert (self);
    return s_find (self->header, key);
}

bool
proto_msg_is_ok (const proto_msg_t *self)
{
    assert (self);
    return self->type == PROTO_REPLY
        && s_str_is (s_find (self->header, "status"), "ok");
}

proto_error_t
proto_msg_error (proto_msg_t *self)
{
    assert (self);
    if (self->type != PROTO_REPLY
    || !s_str_is (s_find (self->header, "status"), "error"))
        return PROTO_E_NONE;
    return proto_error_parse (proto_msg_str (self, "error"));
}

size_t
proto_msg_payload_count (const proto_msg_t *self)
{
    assert (self);
    return self->payload_count;
}

zframe_t *
proto_msg_payload (const proto_msg_t *self, size_t index)
{
    assert (self);
    if (index >= self->payload_count)
        return NULL;
    return self->payloads [index];
}

//  --- encoding ---------------------------------------------------------

struct _proto_builder_t {
    msgpack_sbuffer body;           //  top-level key/value pairs, no map header
    msgpack_packer packer;
    uint32_t keys;                  //  top-level keys written so far
    zmsg_t *payloads;
};

//  The sbuffer only fails when out of memory; like czmq, we abort then.
static int
s_sbuffer_write (void *data, const char *buf, size_t len)
{
    if (msgpack_sbuffer_write (data, buf, len) != 0)
        abort ();
    return 0;
}

static void
s_pack_str (msgpack_packer *packer, const char *value, size_t len)
{
    msgpack_pack_str (packer, len);
    msgpack_pack_str_body (packer, value, len);
}

proto_builder_t *
proto_builder_new (proto_type_t type, uint64_t id, const char *session)
{
    assert ((int) type >= 0 && type < PROTO_TYPE_COUNT);
    proto_builder_t *self = (proto_builder_t *) zmalloc (sizeof (proto_builder_t));
    assert (self);
    msgpack_sbuffer_init (&self->body);
    msgpack_packer_init (&self->packer, &self->body, s_sbuffer_write);
    self->payloads = zmsg_new ();
    assert (self->payloads);
    proto_builder_str (self, "type", proto_type_name (type));
    if (type != PROTO_HEARTBEAT && type != PROTO_READY)
        proto_builder_uint (self, "id", id);
    if (session && *session)
        proto_builder_str (self, "session", session);
    return self;
}

void
proto_builder_destroy (proto_builder_t **self_p)
{
    assert (self_p);
    proto_builder_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    msgpack_sbuffer_destroy (&self->body);
    zmsg_destroy (&self->payloads);
    free (self);
}

void
proto_builder_key (proto_builder_t *self, const char *key)
{
    assert (self);
    assert (key);
    s_pack_str (&self->packer, key, strlen (key));
    self->keys++;
}

void
proto_builder_str (proto_builder_t *self, const char *key, const char *value)
{
    proto_builder_key (self, key);
    if (!value)
        value = "";
    s_pack_str (&self->packer, value, strlen (value));
}

void
proto_builder_strn (proto_builder_t *self, const char *key,
                    const char *value, size_t len)
{
    proto_builder_key (self, key);
    s_pack_str (&self->packer, value ? value : "", value ? len : 0);
}

void
proto_builder_uint (proto_builder_t *self, const char *key, uint64_t value)
{
    proto_builder_key (self, key);
    msgpack_pack_uint64 (&self->packer, value);
}

void
proto_builder_int (proto_builder_t *self, const char *key, int64_t value)
{
    proto_builder_key (self, key);
    msgpack_pack_int64 (&self->packer, value);
}

void
proto_builder_float (proto_builder_t *self, const char *key, double value)
{
    proto_builder_key (self, key);
    msgpack_pack_double (&self->packer, value);
}

void
proto_builder_bool (proto_builder_t *self, const char *key, bool value)
{
    proto_builder_key (self, key);
    proto_builder_val_bool (self, value);
}

void
proto_builder_val_str (proto_builder_t *self, const char *value)
{
    assert (self);
    if (value)
        s_pack_str (&self->packer, value, strlen (value));
    else
        msgpack_pack_nil (&self->packer);
}

void
proto_builder_val_strn (proto_builder_t *self, const char *value, size_t len)
{
    assert (self);
    s_pack_str (&self->packer, value ? value : "", value ? len : 0);
}

void
proto_builder_val_uint (proto_builder_t *self, uint64_t value)
{
    assert (self);
    msgpack_pack_uint64 (&self->packer, value);
}

void
proto_builder_val_int (proto_builder_t *self, int64_t value)
{
    assert (self);
    msgpack_pack_int64 (&self->packer, value);
}

void
proto_builder_val_float (proto_builder_t *self, double value)
{
    assert (self);
    msgpack_pack_double (&self->packer, value);
}

void
proto_builder_val_bool (proto_builder_t *self, bool value)
{
    assert (self);
    if (value)
        msgpack_pack_true (&self->packer);
    else
        msgpack_pack_false (&self->packer);
}

void
proto_builder_val_nil (proto_builder_t *self)
{
    assert (self);
    msgpack_pack_nil (&self->packer);
}

void
proto_builder_val_array (proto_builder_t *self, uint32_t count)
{
    assert (self);
    msgpack_pack_array (&self->packer, count);
}

void
proto_builder_val_map (proto_builder_t *self, uint32_t count)
{
    assert (self);
    msgpack_pack_map (&self->packer, count);
}

void
proto_builder_payload_copy (proto_builder_t *self, const void *data, size_t size)
{
    assert (self);
    assert (data || size == 0);
    zframe_t *frame = zframe_new (data, size);
    assert (frame);
    zmsg_append (self->payloads, &frame);
}

void
proto_builder_payload_frame (proto_builder_t *self, zframe_t **frame_p)
{
    assert (self);
    assert (frame_p && *frame_p);
    zmsg_append (self->payloads, frame_p);
    *frame_p = NULL;
}

zmsg_t *
proto_builder_finish (proto_builder_t **self_p)
{
    assert (self_p && *self_p);
    proto_builder_t *self = *self_p;

    //  msgpack wants a map's count before its body: pack the map header
    //  alone, then lay header and body side by side in one frame
    msgpack_sbuffer head;
    msgpack_sbuffer_init (&head);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &head, s_sbuffer_write);
    msgpack_pack_map (&packer, self->keys);

    zframe_t *header = zframe_new (NULL, head.size + self->body.size);
    assert (header);
    memcpy (zframe_data (header), head.data, head.size);
    if (self->body.size)
        memcpy (zframe_data (header) + head.size, self->body.data, self->body.size);
    msgpack_sbuffer_destroy (&head);

    zmsg_t *msg = zmsg_new ();
    assert (msg);
    if (zmsg_addmem (msg, PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE) != 0)
        abort ();               //  out of memory, as czmq itself would
    zmsg_append (msg, &header);
    zframe_t *frame;
    while ((frame = zmsg_pop (self->payloads)))
        zmsg_append (msg, &frame);
    proto_builder_destroy (self_p);
    return msg;
}

//  --- one encoder per message type --------------------------------------

zmsg_t *
proto_encode_hello (uint64_t id, uint32_t version, const char *client)
{
    proto_builder_t *builder = proto_builder_new (PROTO_HELLO, id, NULL);
    proto_builder_uint (builder, "version", version);
    if (client)
        proto_builder_str (builder, "client", client);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_execute (uint64_t id, const char *session,
                      const char *code, size_t code_len, uint32_t timeout_ms)
{
    proto_builder_t *builder = proto_builder_new (PROTO_EXECUTE, id, session);
    if (timeout_ms)
        proto_builder_uint (builder, "timeout_ms", timeout_ms);
    proto_builder_payload_copy (builder, code ? code : "", code ? code_len : 0);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_upload (uint64_t id, const char *session,
                     const char *name, const char *format,
                     const void *data, size_t size)
{
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD, id, session);
    proto_builder_str (builder, "name", name);
    proto_builder_str (builder, "format", format);
    proto_builder_payload_copy (builder, data ? data : "", data ? size : 0);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_download (uint64_t id, const char *session,
                       const char *name, const char *format)
{
    proto_builder_t *builder = proto_builder_new (PROTO_DOWNLOAD, id, session);
    proto_builder_str (builder, "name", name);
    proto_builder_str (builder, "format", format);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_simple (proto_type_t type, uint64_t id, const char *session)
{
    proto_builder_t *builder = proto_builder_new (type, id, session);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_heartbeat (void)
{
    proto_builder_t *builder = proto_builder_new (PROTO_HEARTBEAT, 0, NULL);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_stats (uint64_t id)
{
    proto_builder_t *builder = proto_builder_new (PROTO_STATS, id, NULL);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_ready (const char *session, int pid)
{
    proto_builder_t *builder = proto_builder_new (PROTO_READY, 0, session);
    proto_builder_uint (builder, "pid", pid > 0 ? (uint64_t) pid : 0);
    proto_builder_uint (builder, "version", PROTO_VERSION);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_stream (uint64_t id, const char *session, const char *name,
                     const void *text, size_t size)
{
    proto_builder_t *builder = proto_builder_new (PROTO_EVENT, id, session);
    proto_builder_str (builder, "event", "stream");
    proto_builder_str (builder, "name", name);
    proto_builder_payload_copy (builder, text ? text : "", text ? size : 0);
    return proto_builder_finish (&builder);
}

proto_builder_t *
proto_reply_ok_begin (uint64_t id, const char *session)
{
    proto_builder_t *builder = proto_builder_new (PROTO_REPLY, id, session);
    proto_builder_str (builder, "status", "ok");
    return builder;
}

proto_builder_t *
proto_reply_error_begin (uint64_t id, const char *session,
                         proto_error_t code, const char *message)
{
    proto_builder_t *builder = proto_builder_new (PROTO_REPLY, id, session);
    proto_builder_str (builder, "status", "error");
    proto_builder_str (builder, "error", proto_error_name (code));
    proto_builder_str (builder, "message", message ? message : "");
    return builder;
}

zmsg_t *
proto_encode_error (uint64_t id, const char *session,
                    proto_error_t code, const char *message)
{
    proto_builder_t *builder = proto_reply_error_begin (id, session, code, message);
    return proto_builder_finish (&builder);
}

zmsg_t *
proto_encode_ok (uint64_t id, const char *session)
{
    proto_builder_t *builder = proto_reply_ok_begin (id, session);
    return proto_builder_finish (&builder);
}

//  --- selftest ----------------------------------------------------------

//  Survives NDEBUG, unlike assert.
#define s_check(expr) do { \
    if (!(expr)) { \
        fprintf (stderr, "%s:%d: proto_test: check failed: %s\n", \
                 __FILE__, __LINE__, #expr); \
        abort (); \
    } \
} while (0)

static proto_msg_t *
s_test_decode (zmsg_t *msg)
{
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&msg, &fault);
    if (!decoded)
        fprintf (stderr, "proto_test: unexpected fault: %s\n", fault.text);
    s_check (decoded);
    s_check (msg == NULL);
    s_check (fault.code == PROTO_E_NONE);
    return decoded;
}

static bool
s_test_payload_is (proto_msg_t *msg, size_t index, const void *data, size_t size)
{
    zframe_t *frame = proto_msg_payload (msg, index);
    return frame && zframe_size (frame) == size
        && (size == 0 || memcmp (zframe_data (frame), data, size) == 0);
}

static bool
s_test_str_is (proto_msg_t *msg, const char *key, const char *value)
{
    const char *str = proto_msg_str (msg, key);
    return str && strcmp (str, value) == 0;
}

//  Expects decode to fail with code and text containing needle.
static void
s_test_bad (zmsg_t *msg, proto_error_t code, const char *needle,
            bool has_id, uint64_t id, bool verbose)
{
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&msg, &fault);
    if (verbose)
        printf ("\n   fault: %s", fault.text);
    if (decoded || fault.code != code || !strstr (fault.text, needle))
        fprintf (stderr, "proto_test: expected fault '%s' (%d), got '%s' (%d)\n",
                 needle, code, decoded ? "(decoded)" : fault.text, fault.code);
    s_check (decoded == NULL);
    s_check (msg == NULL);
    s_check (fault.code == code);
    s_check (strstr (fault.text, needle));
    s_check (fault.has_id == has_id);
    if (has_id)
        s_check (fault.id == id);
}

//  A message with raw frames: signature, header bytes, payloads empty frames.
static zmsg_t *
s_test_raw (const char *signature, const void *header, size_t header_size,
            size_t payloads)
{
    zmsg_t *msg = zmsg_new ();
    s_check (msg);
    if (signature)
        s_check (zmsg_addmem (msg, signature, strlen (signature)) == 0);
    if (header)
        s_check (zmsg_addmem (msg, header, header_size) == 0);
    for (size_t i = 0; i < payloads; i++)
        s_check (zmsg_addmem (msg, "p", 1) == 0);
    return msg;
}

//  Packs a header map with the given string pairs and optional extra
//  raw pairs via callback-free helpers below.
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
} s_test_pack_t;

static void
s_test_pack_init (s_test_pack_t *pack, uint32_t keys)
{
    msgpack_sbuffer_init (&pack->buffer);
    msgpack_packer_init (&pack->packer, &pack->buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pack->packer, keys);
}

static void
s_test_pack_str (s_test_pack_t *pack, const char *text)
{
    s_pack_str (&pack->packer, text, strlen (text));
}

static zmsg_t *
s_test_pack_msg (s_test_pack_t *pack, size_t payloads)
{
    zmsg_t *msg = s_test_raw (PROTO_SIGNATURE, pack->buffer.data,
                              pack->buffer.size, payloads);
    msgpack_sbuffer_destroy (&pack->buffer);
    return msg;
}

//  {type: type, id: id, session: session} with one wrong field appended.
static zmsg_t *
s_test_execute_with (const char *key, int kind, size_t payloads)
{
    s_test_pack_t pack;
    bool replace = strcmp (key, "id") == 0 || strcmp (key, "session") == 0;
    s_test_pack_init (&pack, replace ? 3 : 4);
    s_test_pack_str (&pack, "type");
    s_test_pack_str (&pack, "execute");
    if (strcmp (key, "id") != 0) {
        s_test_pack_str (&pack, "id");
        msgpack_pack_uint64 (&pack.packer, 42);
    }
    if (strcmp (key, "session") != 0) {
        s_test_pack_str (&pack, "session");
        s_test_pack_str (&pack, "nb1");
    }
    s_test_pack_str (&pack, key);
    switch (kind) {
        case 0: msgpack_pack_int64 (&pack.packer, -5); break;
        case 1: s_test_pack_str (&pack, "12"); break;
        case 2: msgpack_pack_true (&pack.packer); break;
        case 3: msgpack_pack_array (&pack.packer, 0); break;
        case 4: msgpack_pack_uint64 (&pack.packer, 7); break;
        case 5: msgpack_pack_bin (&pack.packer, 3);
                msgpack_pack_bin_body (&pack.packer, "nb1", 3); break;
    }
    return s_test_pack_msg (&pack, payloads);
}

static void
s_test_names (void)
{
    for (int i = 0; i < PROTO_TYPE_COUNT; i++) {
        const char *name = proto_type_name ((proto_type_t) i);
        s_check (proto_type_parse (name, strlen (name)) == i);
    }
    s_check (strcmp (proto_type_name (PROTO_EXECUTE), "execute") == 0);
    s_check (strcmp (proto_type_name (PROTO_TYPE_COUNT), "?") == 0);
    s_check (proto_type_parse ("exec", 4) == -1);
    s_check (proto_type_parse ("executes", 8) == -1);
    s_check (proto_type_parse ("executeX", 7) == PROTO_EXECUTE);
    for (int i = 1; i < PROTO_E_COUNT; i++)
        s_check ((int) proto_error_parse (proto_error_name ((proto_error_t) i)) == i);
    s_check (strcmp (proto_error_name (PROTO_E_KERNEL_DIED), "KERNEL_DIED") == 0);
    s_check (proto_error_parse ("FROM_THE_FUTURE") == PROTO_E_INTERNAL);
    s_check (proto_error_parse ("NONE") == PROTO_E_INTERNAL);
    s_check (proto_error_parse (NULL) == PROTO_E_INTERNAL);

    s_check (proto_type_is_session_bound (PROTO_EXECUTE));
    s_check (proto_type_is_session_bound (PROTO_DETACH));
    s_check (!proto_type_is_session_bound (PROTO_HELLO));
    s_check (!proto_type_is_session_bound (PROTO_STATS));
    s_check (!proto_type_is_session_bound (PROTO_REPLY));

    char key [PROTO_SESSION_MAX + 2];
    memset (key, 'k', sizeof (key));
    s_check (proto_session_valid ("nb1", 3));
    s_check (proto_session_valid ("A-z_0.9:x", 9));
    s_check (proto_session_valid (key, PROTO_SESSION_MAX));
    s_check (!proto_session_valid (key, PROTO_SESSION_MAX + 1));
    s_check (!proto_session_valid ("", 0));
    s_check (!proto_session_valid (NULL, 0));
    s_check (!proto_session_valid ("a b", 3));
    s_check (!proto_session_valid ("a/b", 3));
    s_check (!proto_session_valid ("a\0b", 3));
    s_check (!proto_session_valid ("caf\xc3\xa9", 5));
}

static void
s_test_encoders (void)
{
    //  hello
    proto_msg_t *msg = s_test_decode (proto_encode_hello (1, 1, "kmq 0.1"));
    s_check (proto_msg_type (msg) == PROTO_HELLO);
    s_check (proto_msg_id (msg) == 1);
    s_check (strcmp (proto_msg_session (msg), "") == 0);
    s_check (proto_msg_uint (msg, "version", 0) == 1);
    s_check (s_test_str_is (msg, "client", "kmq 0.1"));
    s_check (proto_msg_payload_count (msg) == 0);
    s_check (!proto_msg_is_ok (msg));
    s_check (proto_msg_error (msg) == PROTO_E_NONE);
    proto_msg_destroy (&msg);
    s_check (msg == NULL);
    proto_msg_destroy (&msg);
    msg = s_test_decode (proto_encode_hello (2, 3, NULL));
    s_check (!proto_msg_has (msg, "client"));
    s_check (proto_msg_str (msg, "client") == NULL);
    s_check (proto_msg_uint (msg, "version", 0) == 3);
    proto_msg_destroy (&msg);

    //  execute, with and without timeout; code with a NUL inside
    const char code [] = "x = 41\nx + 1\0tail";
    msg = s_test_decode (proto_encode_execute (7, "nb1", code, sizeof (code), 2500));
    s_check (proto_msg_type (msg) == PROTO_EXECUTE);
    s_check (proto_msg_id (msg) == 7);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "session", "nb1"));
    s_check (proto_msg_uint (msg, "timeout_ms", 0) == 2500);
    s_check (proto_msg_payload_count (msg) == 1);
    s_check (s_test_payload_is (msg, 0, code, sizeof (code)));
    s_check (proto_msg_payload (msg, 1) == NULL);
    proto_msg_destroy (&msg);
    msg = s_test_decode (proto_encode_execute (UINT64_MAX, "s", "", 0, 0));
    s_check (proto_msg_id (msg) == UINT64_MAX);
    s_check (!proto_msg_has (msg, "timeout_ms"));
    s_check (proto_msg_uint (msg, "timeout_ms", 99) == 99);
    s_check (s_test_payload_is (msg, 0, "", 0));
    proto_msg_destroy (&msg);

    //  upload
    const char csv [] = "A,B\n1,4\n2,5\n3,6\n";
    msg = s_test_decode (proto_encode_upload (2, "nb1", "df", "csv", csv, strlen (csv)));
    s_check (proto_msg_type (msg) == PROTO_UPLOAD);
    s_check (proto_msg_id (msg) == 2);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "name", "df"));
    s_check (s_test_str_is (msg, "format", "csv"));
    s_check (proto_msg_payload_count (msg) == 1);
    s_check (s_test_payload_is (msg, 0, csv, strlen (csv)));
    const char *ptr;
    size_t len;
    s_check (proto_msg_strn (msg, "format", &ptr, &len));
    s_check (len == 3 && memcmp (ptr, "csv", 3) == 0);
    s_check (!proto_msg_strn (msg, "nothing", &ptr, &len));
    proto_msg_destroy (&msg);

    //  download
    msg = s_test_decode (proto_encode_download (3, "nb1", "df", "json"));
    s_check (proto_msg_type (msg) == PROTO_DOWNLOAD);
    s_check (proto_msg_id (msg) == 3);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "name", "df"));
    s_check (s_test_str_is (msg, "format", "json"));
    s_check (proto_msg_payload_count (msg) == 0);
    proto_msg_destroy (&msg);

    //  every simple session request
    proto_type_t simple [] = { PROTO_RESET, PROTO_INTERRUPT, PROTO_VARS,
                               PROTO_CLOSE, PROTO_ATTACH, PROTO_DETACH };
    for (size_t i = 0; i < sizeof (simple) / sizeof (simple [0]); i++) {
        msg = s_test_decode (proto_encode_simple (simple [i], 10 + i, "a:b-c.d_e"));
        s_check (proto_msg_type (msg) == simple [i]);
        s_check (proto_msg_id (msg) == 10 + i);
        s_check (strcmp (proto_msg_session (msg), "a:b-c.d_e") == 0);
        s_check (proto_msg_payload_count (msg) == 0);
        proto_msg_destroy (&msg);
    }

    //  heartbeat: type only
    msg = s_test_decode (proto_encode_heartbeat ());
    s_check (proto_msg_type (msg) == PROTO_HEARTBEAT);
    s_check (proto_msg_id (msg) == 0);
    s_check (!proto_msg_has (msg, "id"));
    s_check (!proto_msg_has (msg, "session"));
    proto_msg_destroy (&msg);

    //  stats
    msg = s_test_decode (proto_encode_stats (99));
    s_check (proto_msg_type (msg) == PROTO_STATS);
    s_check (proto_msg_id (msg) == 99);
    s_check (!proto_msg_has (msg, "session"));
    proto_msg_destroy (&msg);

    //  ready
    msg = s_test_decode (proto_encode_ready ("nb1", 4121));
    s_check (proto_msg_type (msg) == PROTO_READY);
    s_check (proto_msg_id (msg) == 0);
    s_check (!proto_msg_has (msg, "id"));
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (proto_msg_uint (msg, "pid", 0) == 4121);
    s_check (proto_msg_uint (msg, "version", 0) == PROTO_VERSION);
    proto_msg_destroy (&msg);

    //  stream event
    msg = s_test_decode (proto_encode_stream (8, "nb1", "stdout", "hi\n", 3));
    s_check (proto_msg_type (msg) == PROTO_EVENT);
    s_check (proto_msg_id (msg) == 8);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "event", "stream"));
    s_check (s_test_str_is (msg, "name", "stdout"));
    s_check (proto_msg_payload_count (msg) == 1);
    s_check (s_test_payload_is (msg, 0, "hi\n", 3));
    s_check (!proto_msg_is_ok (msg));
    proto_msg_destroy (&msg);

    //  error reply
    msg = s_test_decode (proto_encode_error (8, "nb1", PROTO_E_QUEUE_FULL,
                                             "queue full: wait for replies"));
    s_check (proto_msg_type (msg) == PROTO_REPLY);
    s_check (proto_msg_id (msg) == 8);
    s_check (strcmp (proto_msg_session (msg), "nb1") == 0);
    s_check (s_test_str_is (msg, "status", "error"));
    s_check (s_test_str_is (msg, "error", "QUEUE_FULL"));
    s_check (s_test_str_is (msg, "message", "queue full: wait for replies"));
    s_check (!proto_msg_is_ok (msg));
    s_check (proto_msg_error (msg) == PROTO_E_QUEUE_FULL);
    //  the cached copy is stable across calls
    s_check (proto_msg_str (msg, "error") == proto_msg_str (msg, "error"));
    proto_msg_destroy (&msg);

    //  error reply without a session, as the broker answers a bad request
    msg = s_test_decode (proto_encode_error (0, NULL, PROTO_E_BAD_REQUEST, NULL));
    s_check (proto_msg_error (msg) == PROTO_E_BAD_REQUEST);
    s_check (s_test_str_is (msg, "message", ""));
    s_check (strcmp (proto_msg_session (msg), "") == 0);
    proto_msg_destroy (&msg);

    //  ok reply, session "" means none
    msg = s_test_decode (proto_encode_ok (5, ""));
    s_check (proto_msg_type (msg) == PROTO_REPLY);
    s_check (proto_msg_id (msg) == 5);
    s_check (!proto_msg_has (msg, "session"));
    s_check (proto_msg_is_ok (msg));
    s_check (proto_msg_error (msg) == PROTO_E_NONE);
    proto_msg_destroy (&msg);
}

static void
s_test_builder (void)
{
    //  A vars-style reply with nested arrays and maps, every scalar kind,
    //  an unknown key, and two payloads
    proto_builder_t *builder = proto_reply_ok_begin (4, "nb1");
    proto_builder_key (builder, "vars");
    proto_builder_val_array (builder, 2);
    proto_builder_val_map (builder, 3);
    proto_builder_val_str (builder, "name");
    proto_builder_val_str (builder, "df");
    proto_builder_val_str (builder, "type");
    proto_builder_val_strn (builder, "DataFrameXX", 9);
    proto_builder_val_str (builder, "shape");
    proto_builder_val_array (builder, 2);
    proto_builder_val_uint (builder, 3);
    proto_builder_val_uint (builder, 2);
    proto_builder_val_map (builder, 2);
    proto_builder_val_str (builder, "name");
    proto_builder_val_str (builder, "x");
    proto_builder_val_str (builder, "type");
    proto_builder_val_str (builder, "int");
    proto_builder_key (builder, "session_list");
    proto_builder_val_array (builder, 1);
    proto_builder_val_map (builder, 3);
    proto_builder_val_str (builder, "session");
    proto_builder_val_str (builder, "nb1");
    proto_builder_val_str (builder, "pid");
    proto_builder_val_uint (builder, 4121);
    proto_builder_val_str (builder, "extra");
    proto_builder_val_array (builder, 4);
    proto_builder_val_int (builder, -3);
    proto_builder_val_float (builder, 0.5);
    proto_builder_val_bool (builder, false);
    proto_builder_val_nil (builder);
    proto_builder_key (builder, "mime");
    proto_builder_val_array (builder, 2);
    proto_builder_val_str (builder, "text/plain");
    proto_builder_val_str (builder, "image/png");
    proto_builder_uint (builder, "execution_count", 12);
    proto_builder_int (builder, "x-delta", -7);
    proto_builder_float (builder, "x-ratio", 1.25);
    proto_builder_bool (builder, "state_lost", true);
    proto_builder_strn (builder, "notice", "kernel died!", 11);
    proto_builder_str (builder, "x-future-key", "ignored");
    proto_builder_payload_copy (builder, "42", 2);
    zframe_t *frame = zframe_new ("\x89PNG", 4);
    proto_builder_payload_frame (builder, &frame);
    s_check (frame == NULL);
    zmsg_t *wire = proto_builder_finish (&builder);
    s_check (builder == NULL);
    s_check (zmsg_size (wire) == 4);

    proto_msg_t *msg = s_test_decode (wire);
    s_check (proto_msg_is_ok (msg));
    s_check (proto_msg_id (msg) == 4);
    s_check (proto_msg_uint (msg, "execution_count", 0) == 12);
    s_check (proto_msg_int (msg, "x-delta", 0) == -7);
    s_check (proto_msg_int (msg, "execution_count", 0) == 12);
    s_check (proto_msg_int (msg, "notice", 33) == 33);
    s_check (proto_msg_float (msg, "x-ratio", 0) == 1.25);
    s_check (proto_msg_float (msg, "x-delta", 0) == -7.0);
    s_check (proto_msg_float (msg, "missing", 2.5) == 2.5);
    s_check (proto_msg_bool (msg, "state_lost", false) == true);
    s_check (proto_msg_bool (msg, "missing", true) == true);
    s_check (proto_msg_uint (msg, "notice", 17) == 17);
    s_check (s_test_str_is (msg, "notice", "kernel died"));
    s_check (s_test_str_is (msg, "x-future-key", "ignored"));
    s_check (proto_msg_object (msg, "missing") == NULL);

    const msgpack_object *vars = proto_msg_object (msg, "vars");
    s_check (vars && vars->type == MSGPACK_OBJECT_ARRAY);
    s_check (vars->via.array.size == 2);
    const msgpack_object *df = &vars->via.array.ptr [0];
    s_check (df->type == MSGPACK_OBJECT_MAP && df->via.map.size == 3);
    s_check (df->via.map.ptr [1].val.type == MSGPACK_OBJECT_STR);
    s_check (df->via.map.ptr [1].val.via.str.size == 9);
    s_check (memcmp (df->via.map.ptr [1].val.via.str.ptr, "DataFrame", 9) == 0);
    const msgpack_object *shape = &df->via.map.ptr [2].val;
    s_check (shape->type == MSGPACK_OBJECT_ARRAY && shape->via.array.size == 2);
    s_check (shape->via.array.ptr [0].via.u64 == 3);
    s_check (shape->via.array.ptr [1].via.u64 == 2);
    s_check (vars->via.array.ptr [1].via.map.size == 2);

    const msgpack_object *list = proto_msg_object (msg, "session_list");
    s_check (list && list->type == MSGPACK_OBJECT_ARRAY && list->via.array.size == 1);
    const msgpack_object_map *entry = &list->via.array.ptr [0].via.map;
    s_check (entry->size == 3);
    s_check (entry->ptr [1].val.via.u64 == 4121);
    const msgpack_object *extra = &entry->ptr [2].val;
    s_check (extra->type == MSGPACK_OBJECT_ARRAY && extra->via.array.size == 4);
    s_check (extra->via.array.ptr [0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
    s_check (extra->via.array.ptr [0].via.i64 == -3);
    s_check (extra->via.array.ptr [1].via.f64 == 0.5);
    s_check (extra->via.array.ptr [2].type == MSGPACK_OBJECT_BOOLEAN);
    s_check (extra->via.array.ptr [3].type == MSGPACK_OBJECT_NIL);

    const msgpack_object *mime = proto_msg_object (msg, "mime");
    s_check (mime && mime->via.array.size == 2);
    s_check (proto_msg_payload_count (msg) == 2);
    s_check (s_test_payload_is (msg, 0, "42", 2));
    s_check (s_test_payload_is (msg, 1, "\x89PNG", 4));

    //  release hands back the very frames that came in
    zframe_t *first_payload = proto_msg_payload (msg, 0);
    wire = proto_msg_release (&msg);
    s_check (msg == NULL);
    s_check (wire && zmsg_size (wire) == 4);
    s_check (zframe_streq (zmsg_first (wire), PROTO_SIGNATURE));
    zmsg_next (wire);
    s_check (zmsg_next (wire) == first_payload);
    s_check (proto_msg_release (&msg) == NULL);
    //  and they decode again
    msg = s_test_decode (wire);
    s_check (proto_msg_uint (msg, "execution_count", 0) == 12);
    proto_msg_destroy (&msg);

    //  error reply with extra fields
    builder = proto_reply_error_begin (8, "nb1", PROTO_E_PYTHON_ERROR,
                                       "ZeroDivisionError: division by zero");
    proto_builder_str (builder, "ename", "ZeroDivisionError");
    proto_builder_key (builder, "traceback");
    proto_builder_val_array (builder, 1);
    proto_builder_val_str (builder, "Traceback ...");
    msg = s_test_decode (proto_builder_finish (&builder));
    s_check (proto_msg_error (msg) == PROTO_E_PYTHON_ERROR);
    s_check (s_test_str_is (msg, "ename", "ZeroDivisionError"));
    s_check (proto_msg_object (msg, "traceback")->via.array.size == 1);
    proto_msg_destroy (&msg);

    //  an unfinished builder is freed with its payloads
    builder = proto_builder_new (PROTO_EXECUTE, 1, "nb1");
    proto_builder_payload_copy (builder, "x", 1);
    proto_builder_destroy (&builder);
    s_check (builder == NULL);
    proto_builder_destroy (&builder);
}

static void
s_test_malformed (bool verbose)
{
    const proto_error_t BAD = PROTO_E_BAD_REQUEST;

    //  framing
    zmsg_t *msg = proto_encode_stats (1);
    zframe_t *signature = zmsg_pop (msg);
    zframe_destroy (&signature);
    zmsg_pushstr (msg, "KMQ2");
    s_test_bad (msg, BAD, "signature", false, 0, verbose);
    s_test_bad (s_test_raw ("KMQ", "\x80", 1, 0), BAD, "signature", false, 0, verbose);
    s_test_bad (s_test_raw ("KMQ1x", "\x80", 1, 0), BAD, "signature", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, NULL, 0, 0), BAD, "no header",
                false, 0, verbose);
    s_test_bad (zmsg_new (), BAD, "no frames", false, 0, verbose);
    //  64 payloads are within the framing limit (a reply may carry them)
    msg = proto_encode_ok (1, NULL);
    for (int i = 0; i < PROTO_MAX_PAYLOADS; i++)
        zmsg_addstr (msg, "x");
    proto_msg_t *full = s_test_decode (msg);
    s_check (proto_msg_payload_count (full) == PROTO_MAX_PAYLOADS);
    s_check (zframe_streq (proto_msg_payload (full, PROTO_MAX_PAYLOADS - 1), "x"));
    proto_msg_destroy (&full);
    //  but stats takes none
    msg = proto_encode_stats (1);
    for (int i = 0; i < PROTO_MAX_PAYLOADS; i++)
        zmsg_addstr (msg, "x");
    s_test_bad (msg, BAD, "stats carries 64 payload frames", true, 1, verbose);
    msg = proto_encode_stats (1);
    for (int i = 0; i < PROTO_MAX_PAYLOADS + 1; i++)
        zmsg_addstr (msg, "x");
    s_test_bad (msg, PROTO_E_TOO_LARGE, "65 payload frames", false, 0, verbose);
    zframe_t *big = zframe_new (NULL, PROTO_MAX_HEADER + 1);
    memset (zframe_data (big), 0x80, PROTO_MAX_HEADER + 1);
    msg = s_test_raw (PROTO_SIGNATURE, NULL, 0, 0);
    zmsg_append (msg, &big);
    s_test_bad (msg, PROTO_E_TOO_LARGE, "header is 1048577 bytes", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "", 0, 0), BAD, "empty", false, 0, verbose);

    //  msgpack well-formedness
    zmsg_t *good = proto_encode_stats (1);
    zmsg_first (good);
    zframe_t *header = zmsg_next (good);
    size_t size = zframe_size (header);
    for (size_t cut = 1; cut < size; cut++)
        s_test_bad (s_test_raw (PROTO_SIGNATURE, zframe_data (header), cut, 0),
                    BAD, "truncated", false, 0, false);
    byte padded [64];
    s_check (size + 1 <= sizeof (padded));
    memcpy (padded, zframe_data (header), size);
    padded [size] = 0xc0;
    s_test_bad (s_test_raw (PROTO_SIGNATURE, padded, size + 1, 0),
                BAD, "1 trailing bytes", false, 0, verbose);
    zmsg_destroy (&good);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\xc1", 1, 0), BAD, "0xc1", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\x92\x01\x02", 3, 0), BAD,
                "not a map", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\xa3" "abc", 4, 0), BAD,
                "not a map", false, 0, verbose);
    //  huge announced counts are refused before msgpack-c allocates them
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\xdf\xff\xff\xff\xff", 5, 0), BAD,
                "truncated", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\x81\xa1x\xdd\xff\xff\xff\xff", 8, 0),
                BAD, "truncated", false, 0, verbose);
    s_test_bad (s_test_raw (PROTO_SIGNATURE, "\x81\xa1x\xdb\xff\xff\xff\xff", 8, 0),
                BAD, "truncated", false, 0, verbose);
    //  nesting past msgpack-c's stack
    byte deep [200];
    memset (deep, 0x91, sizeof (deep) - 1);
    deep [sizeof (deep) - 1] = 0x80;
    s_test_bad (s_test_raw (PROTO_SIGNATURE, deep, sizeof (deep), 0), BAD,
                "nests too deeply", false, 0, verbose);

    //  keys and types
    s_test_pack_t pack;
    s_test_pack_init (&pack, 2);
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 31);
    msgpack_pack_uint64 (&pack.packer, 1);
    s_test_pack_str (&pack, "x");
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "header key 1 is not a string",
                true, 31, verbose);
    s_test_pack_init (&pack, 1);
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 32);
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "'type' is missing", true, 32, verbose);
    s_test_pack_init (&pack, 2);
    s_test_pack_str (&pack, "type");
    s_test_pack_str (&pack, "exterminate");
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 33);
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "unknown value 'exterminate'",
                true, 33, verbose);
    s_test_pack_init (&pack, 2);
    s_test_pack_str (&pack, "type");
    msgpack_pack_uint64 (&pack.packer, 1);
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 34);
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "header field 'type' must be a string",
                true, 34, verbose);
    s_test_pack_init (&pack, 3);
    s_test_pack_str (&pack, "type");
    s_test_pack_str (&pack, "stats");
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 35);
    s_test_pack_str (&pack, "id");
    msgpack_pack_uint64 (&pack.packer, 36);
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "'id' appears more than once",
                true, 35, verbose);
    s_test_pack_init (&pack, 1);
    s_test_pack_str (&pack, "type");
    s_test_pack_str (&pack, "stats");
    s_test_bad (s_test_pack_msg (&pack, 0), BAD, "'id' is missing", false, 0, verbose);

    //  wrong kinds of known fields (id wrong: no id to report)
    s_test_bad (s_test_execute_with ("id", 0, 1), BAD,
                "header field 'id' must be an unsigned integer", false, 0, verbose);
    s_test_bad (s_test_execute_with ("id", 1, 1), BAD,
                "header field 'id' must be an unsigned integer", false, 0, verbose);
    s_test_bad (s_test_execute_with ("session", 4, 1), BAD,
                "header field 'session' must be a string", true, 42, verbose);
    s_test_bad (s_test_execute_with ("session", 5, 1), BAD,
                "header field 'session' must be a string", true, 42, verbose);
    s_test_bad (s_test_execute_with ("timeout_ms", 0, 1), BAD,
                "header field 'timeout_ms' must be an unsigned integer", true, 42, verbose);
    s_test_bad (s_test_execute_with ("timeout_ms", 1, 1), BAD,
                "header field 'timeout_ms' must be an unsigned integer", true, 42, verbose);
    s_test_bad (s_test_execute_with ("name", 2, 1), BAD,
                "header field 'name' must be a string", true, 42, verbose);
    s_test_bad (s_test_execute_with ("state_lost", 4, 1), BAD,
                "header field 'state_lost' must be a boolean", true, 42, verbose);
    s_test_bad (s_test_execute_with ("vars", 1, 1), BAD,
                "header field 'vars' must be an array", true, 42, verbose);
    //  and right kinds pass, unknown keys of any kind too
    proto_msg_t *decoded = s_test_decode (s_test_execute_with ("timeout_ms", 4, 1));
    s_check (proto_msg_uint (decoded, "timeout_ms", 0) == 7);
    proto_msg_destroy (&decoded);
    decoded = s_test_decode (s_test_execute_with ("x-anything", 0, 1));
    s_check (proto_msg_int (decoded, "x-anything", 0) == -5);
    proto_msg_destroy (&decoded);
    {
        proto_builder_t *builder = proto_reply_ok_begin (9, NULL);
        proto_builder_key (builder, "mime");
        proto_builder_val_array (builder, 1);
        proto_builder_val_uint (builder, 1);
        s_test_bad (proto_builder_finish (&builder), BAD,
                    "'mime' must be an array of strings", true, 9, verbose);
    }

    //  sessions
    s_test_bad (proto_encode_simple (PROTO_VARS, 50, "bad key"), BAD,
                "not a valid session key", true, 50, verbose);
    s_test_bad (proto_encode_simple (PROTO_CLOSE, 51, "../x"), BAD,
                "not a valid session key", true, 51, verbose);
    char key [PROTO_SESSION_MAX + 2];
    memset (key, 'k', sizeof (key));
    key [PROTO_SESSION_MAX + 1] = 0;
    s_test_bad (proto_encode_execute (52, key, "1", 1, 0), BAD,
                "not a valid session key", true, 52, verbose);
    key [PROTO_SESSION_MAX] = 0;
    decoded = s_test_decode (proto_encode_execute (53, key, "1", 1, 0));
    s_check (strlen (proto_msg_session (decoded)) == PROTO_SESSION_MAX);
    proto_msg_destroy (&decoded);
    s_test_bad (proto_encode_simple (PROTO_ATTACH, 54, NULL), BAD,
                "'session' is missing", true, 54, verbose);
    s_test_bad (proto_encode_ready (NULL, 1), BAD, "'session' is missing",
                false, 0, verbose);

    //  required fields and payload counts
    msg = proto_encode_execute (60, "nb1", "1", 1, 0);
    zframe_t *code = zmsg_last (msg);
    zmsg_remove (msg, code);
    zframe_destroy (&code);
    s_test_bad (msg, BAD, "execute carries 0 payload frames", true, 60, verbose);
    msg = proto_encode_execute (61, "nb1", "1", 1, 0);
    zmsg_addstr (msg, "2");
    s_test_bad (msg, BAD, "execute carries 2 payload frames", true, 61, verbose);
    proto_builder_t *builder = proto_builder_new (PROTO_UPLOAD, 62, "nb1");
    proto_builder_str (builder, "name", "df");
    proto_builder_payload_copy (builder, "x", 1);
    s_test_bad (proto_builder_finish (&builder), BAD, "'format' is missing",
                true, 62, verbose);
    s_test_bad (proto_encode_upload (63, "nb1", "", "csv", "x", 1), BAD,
                "'name' must be 1 to 255 bytes", true, 63, verbose);
    msg = proto_encode_download (64, "nb1", "df", "csv");
    zmsg_addstr (msg, "x");
    s_test_bad (msg, BAD, "download carries 1 payload frames", true, 64, verbose);
    builder = proto_builder_new (PROTO_HELLO, 65, NULL);
    s_test_bad (proto_builder_finish (&builder), BAD, "'version' is missing",
                true, 65, verbose);
    builder = proto_builder_new (PROTO_REPLY, 66, NULL);
    s_test_bad (proto_builder_finish (&builder), BAD, "'status' is missing",
                true, 66, verbose);
    builder = proto_builder_new (PROTO_REPLY, 67, NULL);
    proto_builder_str (builder, "status", "maybe");
    s_test_bad (proto_builder_finish (&builder), BAD, "'status' must be",
                true, 67, verbose);
    builder = proto_builder_new (PROTO_REPLY, 68, NULL);
    proto_builder_str (builder, "status", "error");
    proto_builder_str (builder, "error", "TIMEOUT");
    s_test_bad (proto_builder_finish (&builder), BAD, "'message' is missing",
                true, 68, verbose);
    builder = proto_builder_new (PROTO_EVENT, 69, "nb1");
    s_test_bad (proto_builder_finish (&builder), BAD, "'event' is missing",
                true, 69, verbose);
    msg = proto_encode_stream (70, "nb1", "stdout", "x", 1);
    zmsg_addstr (msg, "y");
    s_test_bad (msg, BAD, "event carries 2 payload frames", true, 70, verbose);
    //  events other than stream are free-form
    builder = proto_builder_new (PROTO_EVENT, 0, "nb1");
    proto_builder_str (builder, "event", "evicted");
    proto_builder_str (builder, "message", "idle for 1800 s");
    decoded = s_test_decode (proto_builder_finish (&builder));
    s_check (s_test_str_is (decoded, "event", "evicted"));
    proto_msg_destroy (&decoded);
    //  a reply's error name from a newer peer reads as INTERNAL
    builder = proto_builder_new (PROTO_REPLY, 71, NULL);
    proto_builder_str (builder, "status", "error");
    proto_builder_str (builder, "error", "FROM_THE_FUTURE");
    proto_builder_str (builder, "message", "?");
    decoded = s_test_decode (proto_builder_finish (&builder));
    s_check (proto_msg_error (decoded) == PROTO_E_INTERNAL);
    proto_msg_destroy (&decoded);

    //  a fault is reported without a fault struct too
    msg = s_test_raw ("nope", NULL, 0, 0);
    s_check (proto_decode (&msg, NULL) == NULL);
    s_check (msg == NULL);
    s_check (proto_decode (&msg, NULL) == NULL);
}

//  Random bytes in every frame never crash the decoder.
static void
s_test_fuzz (void)
{
    uint32_t seed = 12345;
    zmsg_t *good = proto_encode_upload (1, "nb1", "df", "csv", "a", 1);
    zmsg_first (good);
    zframe_t *header = zmsg_next (good);
    size_t size = zframe_size (header);
    byte buffer [64];
    s_check (size <= sizeof (buffer));
    for (int round = 0; round < 20000; round++) {
        memcpy (buffer, zframe_data (header), size);
        int flips = 1 + round % 4;
        for (int i = 0; i < flips; i++) {
            seed = seed * 1103515245u + 12345u;
            buffer [(seed >> 8) % size] = (byte) (seed >> 16);
        }
        zmsg_t *msg = s_test_raw (PROTO_SIGNATURE, buffer, size, round % 3);
        proto_fault_t fault;
        proto_msg_t *decoded = proto_decode (&msg, &fault);
        if (decoded) {
            (void) proto_msg_str (decoded, "name");
            (void) proto_msg_error (decoded);
        }
        else
            s_check (fault.text [0]);
        proto_msg_destroy (&decoded);
    }
    zmsg_destroy (&good);
}

void
proto_test (bool verbose)
{
    if (verbose)
        printf ("\n");
    s_test_names ();
    s_test_encoders ();
    s_test_builder ();
    s_test_malformed (verbose);
    s_test_fuzz ();
    if (verbose)
        printf ("\n");
}
