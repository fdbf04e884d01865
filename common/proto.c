/*  proto — the kernelmq wire codec, protocol v1: the decoder. See proto.h
    and protocol.md. The names and the known header fields are in
    proto_names.c, the builder and the encoders in proto_encode.c, the
    selftest in proto_test.c and proto_test_malformed.c.

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
#include "mem.h"
#include "proto_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --- decoded message ----------------------------------------------------

struct _proto_msg_t {
    zmsg_t *msg;                        //  the original frames, owned
    msgpack_unpacked unpacked;          //  header object and its zone
    const msgpack_object_map *header;   //  the top-level map
    proto_type_t type;
    uint64_t id;
    char *session;                      //  copy, or NULL when absent
    size_t payload_count;
    zframe_t **payloads;                //  payload_count of them, borrowed from msg
    zhash_t *strings;                   //  proto_msg_str copies, by key
};

void
proto_fault_set (proto_fault_t *fault, proto_error_t code, const char *format, ...)
{
    fault->code = code;
    va_list args;
    va_start (args, format);
    vsnprintf (fault->text, sizeof (fault->text), format, args);
    va_end (args);
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

//  Walks one msgpack value without allocating (see proto.h).
int
proto_msgpack_check (const void *bytes, size_t size, const char *what,
                     proto_fault_t *fault)
{
    const uint8_t *data = (const uint8_t *) bytes;
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
                proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                    "%s is not valid msgpack (byte 0xc1 at offset %zu)", what, pos - 1);
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
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "%s has %zu trailing bytes after its msgpack map", what, size - pos);
        return -1;
    }
    return 0;

truncated:
    proto_fault_set (fault, PROTO_E_BAD_REQUEST,
        "%s is truncated msgpack (%zu bytes, a length or value runs past the end)",
        what, size);
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

static int
s_require (const msgpack_object_map *map, const char *key, proto_type_t type,
           proto_fault_t *fault)
{
    if (s_find (map, key))
        return 0;
    proto_fault_set (fault, PROTO_E_BAD_REQUEST,
        "header field '%s' is missing; %s requires it", key, proto_type_name (type));
    return -1;
}

static int
s_payloads (size_t count, size_t want, proto_type_t type, proto_fault_t *fault)
{
    if (count == want)
        return 0;
    proto_fault_set (fault, PROTO_E_BAD_REQUEST,
        "%s carries %zu payload frames; it must carry exactly %zu",
        proto_type_name (type), count, want);
    return -1;
}

//  True for a reply, or an `outcome` event: the copy of another client's
//  reply that attached clients get (protocol.md 4.5), read the same way.
static bool
s_is_reply (const msgpack_object_map *map, proto_type_t type)
{
    return type == PROTO_REPLY
       || (type == PROTO_EVENT && s_str_is (s_find (map, "event"), "outcome"));
}

//  True for a frame-format message: an upload, or an ok reply or outcome
//  whose format is "frame" (protocol.md 11.3). The outcome counts too: it
//  carries the reply's payloads, so an attached client could not read
//  another client's download of more than 64 buffers otherwise.
static bool
s_is_frame (const msgpack_object_map *map, proto_type_t type)
{
    if (type != PROTO_UPLOAD
    && !(s_is_reply (map, type) && s_str_is (s_find (map, "status"), "ok")))
        return false;
    return s_str_is (s_find (map, "format"), "frame");
}

//  The payload cap of the message's kind, and the description a
//  frame-format message must carry. How many buffers the description
//  takes is the frame decoder's business (frame.h, kmq_frame.py).
static int
s_check_frame (const msgpack_object_map *map, proto_type_t type, size_t count,
               proto_fault_t *fault)
{
    if (!s_is_frame (map, type)) {
        if (count <= PROTO_MAX_PAYLOADS)
            return 0;
        proto_fault_set (fault, PROTO_E_TOO_LARGE,
            "%s has %zu payload frames, more than the limit of %d (only a "
            "frame-format upload or reply may carry up to %d)",
            proto_type_name (type), count, PROTO_MAX_PAYLOADS,
            PROTO_MAX_FRAME_PAYLOADS);
        return -1;
    }
    return s_require (map, "frame", type, fault);
}

static const char *
s_what (proto_msg_t *self)
{
    return self->type == PROTO_UPLOAD? "upload": "reply";
}

//  A frame upload or reply in parts: `sizes` cuts the pieces' bytes into
//  its buffers, so they must add up to `bytes`; an upload's one payload is
//  piece 0, a reply carries none (its pieces were events).
static int
s_check_frame_sizes (proto_msg_t *self, uint64_t bytes, proto_fault_t *fault)
{
    if (s_require (self->header, "sizes", self->type, fault))
        return -1;
    const msgpack_object_array *sizes = &s_find (self->header, "sizes")->via.array;
    if (sizes->size > PROTO_MAX_FRAME_PAYLOADS) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "a frame %s in parts has %" PRIu32 " sizes, more than the %d buffers "
            "a frame may have", s_what (self), sizes->size, PROTO_MAX_FRAME_PAYLOADS);
        return -1;
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < sizes->size; i++) {
        uint64_t size = sizes->ptr [i].via.u64;
        sum = size > UINT64_MAX - sum? UINT64_MAX: sum + size;
    }
    if (sum != bytes) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "a frame %s in parts announces %" PRIu64 " bytes, but its sizes add up "
            "to %" PRIu64 "; send sizes that sum to bytes", s_what (self), bytes, sum);
        return -1;
    }
    if (self->type == PROTO_UPLOAD && self->payload_count != 1) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "a frame upload in parts carries %zu payloads; it carries one, piece 0, "
            "and its upload_part messages the rest", self->payload_count);
        return -1;
    }
    if (self->type != PROTO_UPLOAD && self->payload_count != 0) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "a frame reply in parts carries %zu payloads; its pieces come as `part` "
            "events before it, and it carries none", self->payload_count);
        return -1;
    }
    return 0;
}

//  A frame reply (or its outcome copy) in parts (protocol.md 5,
//  download): `parts` pieces came as events before it; it says how to cut
//  them into buffers.
static int
s_check_reply_parts (proto_msg_t *self, proto_fault_t *fault)
{
    const msgpack_object *parts = s_find (self->header, "parts");
    if (!parts)
        return 0;
    if (parts->via.u64 < 2 || parts->via.u64 > PROTO_MAX_UPLOAD_PARTS) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "header field 'parts' of a frame reply must be 2 to %d",
            PROTO_MAX_UPLOAD_PARTS);
        return -1;
    }
    if (s_require (self->header, "bytes", self->type, fault))
        return -1;
    return s_check_frame_sizes (self, s_find (self->header, "bytes")->via.u64, fault);
}

//  An upload in parts (protocol.md 5, upload): `parts` pieces in all,
//  payload 0 the first, and `bytes` their total, which the receivers
//  check the pieces against.
static int
s_check_parts (proto_msg_t *self, proto_fault_t *fault)
{
    const msgpack_object_map *map = self->header;
    const msgpack_object *parts = s_find (map, "parts");
    if (!parts)
        return 0;
    if (parts->via.u64 == 0 || parts->via.u64 > PROTO_MAX_UPLOAD_PARTS) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "header field 'parts' must be 1 to %d", PROTO_MAX_UPLOAD_PARTS);
        return -1;
    }
    if (parts->via.u64 == 1)
        return 0;
    if (s_require (map, "bytes", PROTO_UPLOAD, fault))
        return -1;
    if (s_is_frame (map, PROTO_UPLOAD)
    &&  s_check_frame_sizes (self, s_find (map, "bytes")->via.u64, fault))
        return -1;
    if (self->payload_count == 1
    &&  zframe_size (self->payloads [0]) > s_find (map, "bytes")->via.u64) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "payload 0 holds %zu bytes, more than the upload's 'bytes' (%" PRIu64 ")",
            zframe_size (self->payloads [0]), s_find (map, "bytes")->via.u64);
        return -1;
    }
    return 0;
}

//  Fields and payload counts each type requires (protocol.md section 5).
static int
s_check_type (proto_msg_t *self, proto_fault_t *fault)
{
    const msgpack_object_map *map = self->header;
    proto_type_t type = self->type;
    size_t count = self->payload_count;

    if (s_check_frame (map, type, count, fault))
        return -1;
    if (proto_type_has_id (type) && s_require (map, "id", type, fault))
        return -1;
    if (proto_type_is_session_bound (type) || type == PROTO_READY
    ||  type == PROTO_SPAWN || type == PROTO_START || type == PROTO_KERNEL_EXITED) {
        if (s_require (map, "session", type, fault))
            return -1;
        const msgpack_object *session = s_find (map, "session");
        if (!proto_session_valid (session->via.str.ptr, session->via.str.size)) {
            proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                "header field 'session' is not a valid session key: use 1 to %d "
                "bytes of A-Z a-z 0-9 . _ : -", PROTO_SESSION_MAX);
            return -1;
        }
    }
    //  A MIME bundle (execute and inspect replies, display events): one
    //  payload per entry, so a receiver can pair them without guessing.
    const msgpack_object *mime = s_find (map, "mime");
    if (mime && (type == PROTO_REPLY || type == PROTO_EVENT)
    &&  mime->via.array.size != count) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "%s carries %zu payload frames for %" PRIu32 " 'mime' entries; "
            "it must carry one payload per entry",
            proto_type_name (type), count, mime->via.array.size);
        return -1;
    }
    switch (type) {
        case PROTO_HELLO:
            if (s_require (map, "version", type, fault))
                return -1;
            return s_payloads (count, 0, type, fault);
        case PROTO_EXECUTE:
        case PROTO_IS_COMPLETE:
            return s_payloads (count, 1, type, fault);
        case PROTO_COMPLETE:
        case PROTO_INSPECT: {
            if (s_payloads (count, 1, type, fault))
                return -1;
            //  An offset into payload 0, so it can't pass its end.
            const msgpack_object *cursor = s_find (map, "cursor_pos");
            size_t code_size = zframe_size (self->payloads [0]);
            if (cursor && cursor->via.u64 > code_size) {
                proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                    "header field 'cursor_pos' is %" PRIu64 ", past the end of "
                    "the code (%zu bytes); it is a byte offset into payload 0",
                    cursor->via.u64, code_size);
                return -1;
            }
            return 0;
        }
        case PROTO_UPLOAD:
        case PROTO_DOWNLOAD: {
            if (s_require (map, "name", type, fault)
            ||  s_require (map, "format", type, fault))
                return -1;
            const msgpack_object *name = s_find (map, "name");
            if (name->via.str.size == 0 || name->via.str.size > PROTO_NAME_MAX) {
                proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                    "header field 'name' must be 1 to %d bytes", PROTO_NAME_MAX);
                return -1;
            }
            if (type == PROTO_UPLOAD && s_check_parts (self, fault))
                return -1;
            if (s_is_frame (map, type))
                return 0;           //  one payload per buffer (s_check_frame)
            return s_payloads (count, type == PROTO_UPLOAD ? 1 : 0, type, fault);
        }
        case PROTO_UPLOAD_PART:
            if (s_require (map, "part", type, fault))
                return -1;
            if (s_find (map, "part")->via.u64 == 0
            ||  s_find (map, "part")->via.u64 >= PROTO_MAX_UPLOAD_PARTS) {
                proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                    "header field 'part' must be 1 to %d: piece 0 is the "
                    "upload's own payload", PROTO_MAX_UPLOAD_PARTS - 1);
                return -1;
            }
            return s_payloads (count, 1, type, fault);
        case PROTO_NEXT_PART:
            if (s_require (map, "part", type, fault))
                return -1;
            return s_payloads (count, 0, type, fault);
        case PROTO_RESET: case PROTO_INTERRUPT: case PROTO_VARS:
        case PROTO_FILES:
        case PROTO_CLOSE: case PROTO_ATTACH: case PROTO_DETACH:
        case PROTO_HEARTBEAT: case PROTO_STATS: case PROTO_READY:
        case PROTO_SPAWN: case PROTO_ACK: case PROTO_HISTORY:
        case PROTO_SHUTDOWN: case PROTO_REREGISTER:
            return s_payloads (count, 0, type, fault);
        case PROTO_HOST_READY: case PROTO_HOST_STATUS:
            if (s_require (map, "host", type, fault))
                return -1;
            return s_payloads (count, 0, type, fault);
        case PROTO_START: case PROTO_STOP: case PROTO_KERNEL_EXITED:
            if (s_require (map, "kernel_id", type, fault))
                return -1;
            return s_payloads (count, 0, type, fault);
        case PROTO_SHARE:
            if (s_require (map, "with", type, fault))
                return -1;
            return s_payloads (count, 0, type, fault);
        case PROTO_RESUME: case PROTO_RESEND:
            if (s_require (map, "request", type, fault))
                return -1;
            return s_payloads (count, 0, type, fault);
        case PROTO_SNAPSHOT:
            if (s_require (map, "quota", type, fault))
                return -1;
            return s_payloads (count, 0, type, fault);
        case PROTO_RESTORE:
            return s_payloads (count, 1, type, fault);
        case PROTO_EVENT:
            if (s_require (map, "event", type, fault))
                return -1;
            if (s_str_is (s_find (map, "event"), "stream")) {
                if (s_require (map, "name", type, fault))
                    return -1;
                return s_payloads (count, 1, type, fault);
            }
            if (s_str_is (s_find (map, "event"), "display")
            &&  s_require (map, "mime", type, fault))
                return -1;
            if (s_str_is (s_find (map, "event"), "part")) {
                if (s_require (map, "part", type, fault))
                    return -1;
                return s_payloads (count, 1, type, fault);
            }
            if (s_is_frame (map, type))
                return s_check_reply_parts (self, fault);     //  an outcome
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
                proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                    "header field 'status' must be \"ok\" or \"error\"");
                return -1;
            }
            const msgpack_object *start = s_find (map, "cursor_start");
            const msgpack_object *end = s_find (map, "cursor_end");
            if (start && end && start->via.u64 > end->via.u64) {
                proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                    "header field 'cursor_start' (%" PRIu64 ") is after "
                    "'cursor_end' (%" PRIu64 ")", start->via.u64, end->via.u64);
                return -1;
            }
            if (s_is_frame (map, type))
                return s_check_reply_parts (self, fault);
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
        proto_fault_set (fault, PROTO_E_BAD_REQUEST, "message has no frames");
        return -1;
    }
    zframe_t *frame = zmsg_first (self->msg);
    if (zframe_size (frame) != PROTO_SIGNATURE_SIZE
    ||  memcmp (zframe_data (frame), PROTO_SIGNATURE, PROTO_SIGNATURE_SIZE) != 0) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "frame 0 is not the signature \"" PROTO_SIGNATURE "\"; "
            "the peer does not speak kernelmq protocol v1");
        return -1;
    }
    if (frames < 2) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "message has no header frame (frame 1)");
        return -1;
    }
    //  The cap for frame-format messages here; the cap for the others
    //  once the header says which this is (s_check_type).
    if (frames > 2 + PROTO_MAX_FRAME_PAYLOADS) {
        proto_fault_set (fault, PROTO_E_TOO_LARGE,
            "message has %zu payload frames, more than the limit of %d",
            frames - 2, PROTO_MAX_FRAME_PAYLOADS);
        return -1;
    }
    if (frames > 2) {
        self->payloads = (zframe_t **) calloc (frames - 2, sizeof (zframe_t *));
        assert (self->payloads);
    }
    zframe_t *header = zmsg_next (self->msg);
    size_t header_size = zframe_size (header);
    if (header_size > PROTO_MAX_HEADER) {
        proto_fault_set (fault, PROTO_E_TOO_LARGE,
            "header is %zu bytes, more than the limit of %u",
            header_size, PROTO_MAX_HEADER);
        return -1;
    }
    while ((frame = zmsg_next (self->msg))) {
        if (zframe_size (frame) > PROTO_MAX_PAYLOAD) {
            proto_fault_set (fault, PROTO_E_TOO_LARGE,
                "payload %zu is %zu bytes, more than the limit of %llu",
                self->payload_count, zframe_size (frame), PROTO_MAX_PAYLOAD);
            return -1;
        }
        self->payloads [self->payload_count++] = frame;
    }
    if (header_size == 0) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST, "header frame is empty");
        return -1;
    }
    const char *data = (const char *) zframe_data (header);
    if (proto_msgpack_check (data, header_size, "header", fault))
        return -1;
    size_t offset = 0;
    msgpack_unpack_return rc =
        msgpack_unpack_next (&self->unpacked, data, header_size, &offset);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR) {
        //  msgpack-c says NOMEM when nesting passes its fixed stack too
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "header nests too deeply (libmsgpackc stops at 32 levels) or could "
            "not be unpacked in memory");
        return -1;
    }
    if (rc != MSGPACK_UNPACK_SUCCESS) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "header is not valid msgpack (unpack returned %d)", (int) rc);
        return -1;
    }
    if (offset != header_size) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "header has %zu trailing bytes after its msgpack map",
            header_size - offset);
        return -1;
    }
    const msgpack_object *root = &self->unpacked.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
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
    if (proto_fields_check (self->header, fault))
        return -1;

    const msgpack_object *type = s_find (self->header, "type");
    if (!type) {
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "header field 'type' is missing; every message needs one");
        return -1;
    }
    int parsed = proto_type_parse (type->via.str.ptr, type->via.str.size);
    if (parsed < 0) {
        char quoted [48];
        s_quote (quoted, sizeof (quoted), type->via.str.ptr, type->via.str.size);
        proto_fault_set (fault, PROTO_E_BAD_REQUEST,
            "header field 'type' has unknown value '%s'", quoted);
        return -1;
    }
    self->type = (proto_type_t) parsed;
    if (s_check_type (self, fault))
        return -1;

    const msgpack_object *session = s_find (self->header, "session");
    if (session) {
        //  A valid key: at most PROTO_SESSION_MAX bytes (s_check_type)
        self->session = mem_strndup (session->via.str.ptr, session->via.str.size);
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
        proto_fault_set (fault, PROTO_E_BAD_REQUEST, "no message to decode");
        return NULL;
    }
    proto_msg_t *self = (proto_msg_t *) zmalloc (sizeof (proto_msg_t));
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
    free (self->payloads);
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

const msgpack_object_map *
proto_msg_header (const proto_msg_t *self)
{
    assert (self);
    return self->header;
}

zmsg_t *
proto_msg_dup_frames (const proto_msg_t *self)
{
    assert (self);
    return zmsg_dup (self->msg);
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
    }
    char *copy = (char *) zhash_lookup (self->strings, key);
    if (copy)
        return copy;
    //  Within the header, which the decoder bounded to PROTO_MAX_HEADER
    copy = mem_strndup (obj->via.str.ptr, obj->via.str.size);
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

size_t
proto_msg_uints (const proto_msg_t *self, const char *key, uint64_t *values, size_t max)
{
    assert (self && (values || max == 0));
    const msgpack_object *obj = s_find (self->header, key);
    if (!obj || obj->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    size_t count = 0;
    for (uint32_t i = 0; i < obj->via.array.size && count < max; i++)
        if (obj->via.array.ptr [i].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            values [count++] = obj->via.array.ptr [i].via.u64;
    return count;
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
    return s_is_reply (self->header, self->type)
        && s_str_is (s_find (self->header, "status"), "ok");
}

proto_error_t
proto_msg_error (proto_msg_t *self)
{
    assert (self);
    if (!s_is_reply (self->header, self->type)
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
