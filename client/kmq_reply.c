/*  kmq_reply — libkmq's reply object: a decoded reply (or a local error)
    and typed accessors over it. Strings taken out of arrays and maps are
    copied once into a per-reply cache so callers get NUL-terminated text
    that lives as long as the reply.                                        */
#include <czmq.h>
#include <math.h>
#include <stdarg.h>
#include "frame.h"
#include "kmq_private.h"
#include "mem.h"
#include "utf8.h"

struct _kmq_reply_t {
    proto_msg_t *msg;           //  the decoded reply; NULL for local errors
    char *error;                //  local error name, or NULL
    char *message;              //  local error sentence, or NULL
    zhash_t *cache;             //  "key/index/field" -> NUL-terminated copy
    uint64_t id;                //  local errors: the request they answer
    char *session;              //  local errors: its session, or NULL
};

kmq_reply_t *
kmq_reply_from_msg (proto_msg_t **msg_p)
{
    assert (msg_p && *msg_p);
    kmq_reply_t *self = (kmq_reply_t *) zmalloc (sizeof (kmq_reply_t));
    self->msg = *msg_p;
    *msg_p = NULL;
    return self;
}

kmq_reply_t *
kmq_reply_local (const char *error, const char *format, ...)
{
    kmq_reply_t *self = (kmq_reply_t *) zmalloc (sizeof (kmq_reply_t));
    self->error = mem_strdup (error);
    va_list args;
    va_start (args, format);
    self->message = mem_vsprintf (format, args);
    va_end (args);
    return self;
}

void
kmq_reply_set_request (kmq_reply_t *self, uint64_t id, const char *session)
{
    assert (self && !self->msg);
    self->id = id;
    free (self->session);
    self->session = session? mem_strdup (session): NULL;
}

uint64_t
kmq_reply_id (kmq_reply_t *self)
{
    assert (self);
    return self->msg? proto_msg_id (self->msg): self->id;
}

const char *
kmq_reply_session_key (kmq_reply_t *self)
{
    assert (self);
    if (!self->msg)
        return self->session? self->session: "";
    return proto_msg_session (self->msg);
}

const char *
kmq_reply_event (kmq_reply_t *self)
{
    assert (self);
    if (!self->msg || proto_msg_type (self->msg) != PROTO_EVENT)
        return NULL;
    const char *kind = proto_msg_str (self->msg, "event");
    return kind? kind: "";
}

void
kmq_reply_destroy (kmq_reply_t **self_p)
{
    assert (self_p);
    kmq_reply_t *self = *self_p;
    if (!self)
        return;
    proto_msg_destroy (&self->msg);
    free (self->error);
    free (self->message);
    free (self->session);
    zhash_destroy (&self->cache);
    free (self);
    *self_p = NULL;
}

bool
kmq_reply_ok (kmq_reply_t *self)
{
    assert (self);
    return self->msg && proto_msg_is_ok (self->msg);
}

const char *
kmq_reply_error (kmq_reply_t *self)
{
    assert (self);
    if (!self->msg)
        return self->error;
    if (proto_msg_is_ok (self->msg))
        return NULL;
    //  Unknown names from a newer peer read as INTERNAL (protocol.md 6)
    return proto_error_name (proto_msg_error (self->msg));
}

const char *
kmq_reply_message (kmq_reply_t *self)
{
    assert (self);
    if (!self->msg)
        return self->message;
    const char *text = proto_msg_str (self->msg, "message");
    return text? text: "";
}

bool
kmq_reply_state_lost (kmq_reply_t *self)
{
    return kmq_reply_bool (self, "state_lost", false);
}

const char *
kmq_reply_notice (kmq_reply_t *self)
{
    const char *text = kmq_reply_str (self, "notice");
    return text? text: "";
}

const char *
kmq_reply_str (kmq_reply_t *self, const char *key)
{
    assert (self);
    return self->msg? proto_msg_str (self->msg, key): NULL;
}

uint64_t
kmq_reply_uint (kmq_reply_t *self, const char *key, uint64_t dflt)
{
    assert (self);
    return self->msg? proto_msg_uint (self->msg, key, dflt): dflt;
}

bool
kmq_reply_has (kmq_reply_t *self, const char *key)
{
    assert (self);
    return self->msg && proto_msg_has (self->msg, key);
}

bool
kmq_reply_bool (kmq_reply_t *self, const char *key, bool dflt)
{
    assert (self);
    return self->msg? proto_msg_bool (self->msg, key, dflt): dflt;
}

//  --- nested values --------------------------------------------------------

static const msgpack_object *
s_field (kmq_reply_t *self, const char *key, msgpack_object_type type)
{
    if (!self->msg)
        return NULL;
    const msgpack_object *object = proto_msg_object (self->msg, key);
    return object && object->type == type? object: NULL;
}

static const msgpack_object *
s_map_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
        &&  memcmp (k->via.str.ptr, key, len) == 0)
            return &map->via.map.ptr [i].val;
    }
    return NULL;
}

//  A NUL-terminated copy of a str object, kept in the reply's cache under
//  key/index/field. NULL when the object is not a string.
static const char *
s_cached_str (kmq_reply_t *self, const msgpack_object *object,
              const char *key, size_t index, const char *field)
{
    if (!object || object->type != MSGPACK_OBJECT_STR)
        return NULL;
    if (!self->cache) {
        self->cache = zhash_new ();
        zhash_autofree (self->cache);
    }
    char name [300];
    snprintf (name, sizeof name, "%s/%zu/%s", key, index, field);
    const char *copy = (const char *) zhash_lookup (self->cache, name);
    if (!copy) {
        char *text = (char *) zmalloc (object->via.str.size + 1);
        memcpy (text, object->via.str.ptr, object->via.str.size);
        zhash_insert (self->cache, name, text);
        free (text);
        copy = (const char *) zhash_lookup (self->cache, name);
    }
    return copy;
}

static uint64_t
s_uint (const msgpack_object *object, uint64_t dflt)
{
    if (object && object->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return object->via.u64;
    return dflt;
}

size_t
kmq_reply_strings (kmq_reply_t *self, const char *key)
{
    assert (self);
    const msgpack_object *array = s_field (self, key, MSGPACK_OBJECT_ARRAY);
    return array? array->via.array.size: 0;
}

const char *
kmq_reply_string_at (kmq_reply_t *self, const char *key, size_t index)
{
    assert (self);
    const msgpack_object *array = s_field (self, key, MSGPACK_OBJECT_ARRAY);
    if (!array || index >= array->via.array.size)
        return NULL;
    return s_cached_str (self, &array->via.array.ptr [index], key, index, "");
}

size_t
kmq_reply_payload_count (kmq_reply_t *self)
{
    assert (self);
    return self->msg? proto_msg_payload_count (self->msg): 0;
}

const void *
kmq_reply_payload (kmq_reply_t *self, size_t index, size_t *size)
{
    assert (self);
    if (!self->msg || index >= proto_msg_payload_count (self->msg)) {
        if (size)
            *size = 0;
        return NULL;
    }
    zframe_t *frame = proto_msg_payload (self->msg, index);
    if (size)
        *size = zframe_size (frame);
    return zframe_data (frame);
}

//  --- MIME bundles and completions ------------------------------------------

size_t
kmq_reply_mime_count (kmq_reply_t *self)
{
    assert (self);
    size_t count = kmq_reply_strings (self, "mime");
    //  A bundle MUST carry one payload per entry (protocol.md 4.3)
    return count == kmq_reply_payload_count (self)? count: 0;
}

const char *
kmq_reply_mime (kmq_reply_t *self, size_t index)
{
    if (index >= kmq_reply_mime_count (self))
        return NULL;
    return kmq_reply_string_at (self, "mime", index);
}

const void *
kmq_reply_mime_data (kmq_reply_t *self, size_t index, size_t *size)
{
    if (index >= kmq_reply_mime_count (self)) {
        if (size)
            *size = 0;
        return NULL;
    }
    return kmq_reply_payload (self, index, size);
}

const void *
kmq_reply_mime_find (kmq_reply_t *self, const char *mime, size_t *size)
{
    assert (mime);
    size_t count = kmq_reply_mime_count (self);
    for (size_t i = 0; i < count; i++) {
        const char *name = kmq_reply_mime (self, i);
        if (name && streq (name, mime))
            return kmq_reply_mime_data (self, i, size);
    }
    if (size)
        *size = 0;
    return NULL;
}

uint64_t
kmq_reply_execution_count (kmq_reply_t *self)
{
    return kmq_reply_uint (self, "execution_count", 0);
}

size_t
kmq_reply_match_count (kmq_reply_t *self)
{
    return kmq_reply_strings (self, "matches");
}

const char *
kmq_reply_match (kmq_reply_t *self, size_t index)
{
    return kmq_reply_string_at (self, "matches", index);
}

//  The map at row index of the array field key, or NULL.
static const msgpack_object *
s_row (kmq_reply_t *self, const char *key, size_t index)
{
    const msgpack_object *array = s_field (self, key, MSGPACK_OBJECT_ARRAY);
    if (!array || index >= array->via.array.size)
        return NULL;
    const msgpack_object *row = &array->via.array.ptr [index];
    return row->type == MSGPACK_OBJECT_MAP? row: NULL;
}

size_t
kmq_reply_var_count (kmq_reply_t *self)
{
    return kmq_reply_strings (self, "vars");
}

int
kmq_reply_var (kmq_reply_t *self, size_t index, kmq_var_t *var)
{
    assert (self && var);
    memset (var, 0, sizeof *var);
    const msgpack_object *row = s_row (self, "vars", index);
    if (!row)
        return -1;
    var->name = s_cached_str (self, s_map_get (row, "name"), "vars", index, "name");
    var->type = s_cached_str (self, s_map_get (row, "type"), "vars", index, "type");
    if (!var->name)
        var->name = "";
    if (!var->type)
        var->type = "";
    const msgpack_object *shape = s_map_get (row, "shape");
    if (shape && shape->type == MSGPACK_OBJECT_ARRAY) {
        size_t count = shape->via.array.size;
        var->ndim = count;
        for (size_t i = 0; i < count && i < 8; i++)
            var->shape [i] = s_uint (&shape->via.array.ptr [i], 0);
    }
    const msgpack_object *len = s_map_get (row, "len");
    if (len && len->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        var->has_len = true;
        var->len = len->via.u64;
    }
    return 0;
}

size_t
kmq_reply_session_count (kmq_reply_t *self)
{
    return kmq_reply_strings (self, "session_list");
}

int
kmq_reply_session (kmq_reply_t *self, size_t index, kmq_session_info_t *info)
{
    assert (self && info);
    memset (info, 0, sizeof *info);
    const msgpack_object *row = s_row (self, "session_list", index);
    if (!row)
        return -1;
    info->session = s_cached_str (self, s_map_get (row, "session"),
                                  "session_list", index, "session");
    info->state = s_cached_str (self, s_map_get (row, "state"),
                                "session_list", index, "state");
    if (!info->session)
        info->session = "";
    if (!info->state)
        info->state = "";
    info->pid = s_uint (s_map_get (row, "pid"), 0);
    info->queued = s_uint (s_map_get (row, "queued"), 0);
    info->idle_ms = s_uint (s_map_get (row, "idle_ms"), 0);
    info->requests = s_uint (s_map_get (row, "requests"), 0);
    return 0;
}

//  --- JSON -----------------------------------------------------------------

//  Every reply field protocol v1 defines, in the order we print them. The
//  codec has no iterator over a header, so a field a newer broker adds is
//  not shown until it is listed here.
static const char *s_json_keys [] = {
    "status", "error", "message", "session", "state_lost", "notice",
    "version", "broker", "heartbeat_ivl_ms", "heartbeat_liveness",
    "max_payload", "execution_count", "mime", "ename", "evalue", "traceback",
    "killed", "cause", "name", "kind", "format", "bytes", "rows", "columns",
    "interrupted", "vars", "uptime_ms", "sessions", "kernels", "queued",
    "max_sessions", "session_list", "matches", "cursor_start", "cursor_end",
    "found", "zygote", "completeness", "indent", "cells", "truncated",
    "duration_ms", "request", "client", "request_type", "running", "waiting",
    "attached", "hosts", "epoch", "ran", "restored", "auth_refusals", "owner",
    "shared", NULL
};

//  ptr's len bytes as a JSON string. JSON is UTF-8 (RFC 8259), and a
//  kernel's strings need not be: each byte that does not belong to valid
//  UTF-8 becomes U+FFFD, as kmq-jupyter does (found by fuzz/kmq_reply.c:
//  one such byte made the whole of `kmq --json` unreadable).
static void
s_json_string (zchunk_t *out, const char *ptr, size_t len)
{
    zchunk_extend (out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) ptr [i];
        char escape [8];
        if (c >= 0x80) {
            size_t sequence = utf8_sequence ((const uint8_t *) ptr + i, len - i);
            if (sequence == 0) {
                zchunk_extend (out, "\\ufffd", 6);
                continue;
            }
            zchunk_extend (out, ptr + i, sequence);
            i += sequence - 1;
            continue;
        }
        if (c == '"' || c == '\\') {
            escape [0] = '\\';
            escape [1] = (char) c;
            zchunk_extend (out, escape, 2);
        }
        else
        if (c == '\n')
            zchunk_extend (out, "\\n", 2);
        else
        if (c == '\r')
            zchunk_extend (out, "\\r", 2);
        else
        if (c == '\t')
            zchunk_extend (out, "\\t", 2);
        else
        if (c < 0x20 || c == 0x7f) {
            snprintf (escape, sizeof escape, "\\u%04x", c);
            zchunk_extend (out, escape, 6);
        }
        else
            zchunk_extend (out, &ptr [i], 1);
    }
    zchunk_extend (out, "\"", 1);
}

static void s_json_value (zchunk_t *out, const msgpack_object *object, int depth);

//  A map key that is not a str, as a JSON string (JSON keys are strings):
//  a scalar as its JSON text ("1", "true"), an array or a map by its kind
//  only. A container's JSON inside the string would be escaped once more
//  per level of keys within keys, doubling the output each time: 30 such
//  levels, 70 bytes of a kernel's header, asked `kmq --json` for
//  gigabytes (found by fuzz/kmq_reply.c).
static void
s_json_key (zchunk_t *out, const msgpack_object *key)
{
    if (key->type == MSGPACK_OBJECT_ARRAY || key->type == MSGPACK_OBJECT_MAP) {
        const char *kind = key->type == MSGPACK_OBJECT_ARRAY? "(array)": "(map)";
        s_json_string (out, kind, strlen (kind));
        return;
    }
    zchunk_t *inner = zchunk_new (NULL, 32);
    s_json_value (inner, key, 0);
    s_json_string (out, (const char *) zchunk_data (inner), zchunk_size (inner));
    zchunk_destroy (&inner);
}

static void
s_json_value (zchunk_t *out, const msgpack_object *object, int depth)
{
    char number [64];
    if (depth > 32) {               //  deeper than any v1 reply; refuse to recurse
        zchunk_extend (out, "null", 4);
        return;
    }
    switch (object->type) {
        case MSGPACK_OBJECT_BOOLEAN:
            if (object->via.boolean)
                zchunk_extend (out, "true", 4);
            else
                zchunk_extend (out, "false", 5);
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            snprintf (number, sizeof number, "%" PRIu64, object->via.u64);
            zchunk_extend (out, number, strlen (number));
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            snprintf (number, sizeof number, "%" PRId64, object->via.i64);
            zchunk_extend (out, number, strlen (number));
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            if (isfinite (object->via.f64)) {
                snprintf (number, sizeof number, "%.17g", object->via.f64);
                zchunk_extend (out, number, strlen (number));
            }
            else
                zchunk_extend (out, "null", 4);
            break;
        case MSGPACK_OBJECT_STR:
            s_json_string (out, object->via.str.ptr, object->via.str.size);
            break;
        case MSGPACK_OBJECT_BIN:
            s_json_string (out, object->via.bin.ptr, object->via.bin.size);
            break;
        case MSGPACK_OBJECT_ARRAY:
            zchunk_extend (out, "[", 1);
            for (uint32_t i = 0; i < object->via.array.size; i++) {
                if (i)
                    zchunk_extend (out, ",", 1);
                s_json_value (out, &object->via.array.ptr [i], depth + 1);
            }
            zchunk_extend (out, "]", 1);
            break;
        case MSGPACK_OBJECT_MAP:
            zchunk_extend (out, "{", 1);
            for (uint32_t i = 0; i < object->via.map.size; i++) {
                const msgpack_object *key = &object->via.map.ptr [i].key;
                if (i)
                    zchunk_extend (out, ",", 1);
                if (key->type == MSGPACK_OBJECT_STR)
                    s_json_string (out, key->via.str.ptr, key->via.str.size);
                else
                    s_json_key (out, key);
                zchunk_extend (out, ":", 1);
                s_json_value (out, &object->via.map.ptr [i].val, depth + 1);
            }
            zchunk_extend (out, "}", 1);
            break;
        default:                    //  nil, ext
            zchunk_extend (out, "null", 4);
            break;
    }
}

char *
kmq_reply_json (kmq_reply_t *self)
{
    assert (self);
    zchunk_t *out = zchunk_new (NULL, 256);
    zchunk_extend (out, "{", 1);
    bool first = true;
    if (!self->msg) {
        zchunk_extend (out, "\"status\":\"error\",\"error\":", 25);
        s_json_string (out, self->error, strlen (self->error));
        zchunk_extend (out, ",\"message\":", 11);
        s_json_string (out, self->message, strlen (self->message));
        first = false;
    }
    for (size_t i = 0; self->msg && s_json_keys [i]; i++) {
        const msgpack_object *object = proto_msg_object (self->msg, s_json_keys [i]);
        if (!object)
            continue;
        if (!first)
            zchunk_extend (out, ",", 1);
        first = false;
        s_json_string (out, s_json_keys [i], strlen (s_json_keys [i]));
        zchunk_extend (out, ":", 1);
        s_json_value (out, object, 0);
    }
    zchunk_extend (out, "}", 2);            //  with the terminating NUL
    char *text = mem_strdup ((const char *) zchunk_data (out));
    zchunk_destroy (&out);
    return text;
}

//  The reply's frame, validated (a kernel is not trusted); NULL with error
//  filled when it has none or it is invalid.
static frame_t *
s_reply_frame (kmq_reply_t *self, char *error, size_t error_size)
{
    const msgpack_object *description = self->msg && proto_msg_is_ok (self->msg)
                                      ? proto_msg_object (self->msg, "frame") : NULL;
    if (!description) {
        snprintf (error, error_size, "the reply carries no frame: download with "
                  "format \"frame\"");
        return NULL;
    }
    size_t count = proto_msg_payload_count (self->msg);
    frame_buffer_t *buffers = (frame_buffer_t *) mem_alloc ((count + 1) * sizeof (frame_buffer_t));
    for (size_t i = 0; i < count; i++) {
        zframe_t *frame = proto_msg_payload (self->msg, i);
        buffers [i].data = zframe_data (frame);
        buffers [i].size = zframe_size (frame);
    }
    char why [400];
    frame_t *frame = frame_new (description, buffers, count, why, sizeof why);
    free (buffers);
    if (!frame)
        snprintf (error, error_size, "the kernel sent an invalid frame: %s", why);
    return frame;
}

void *
kmq_reply_kmqf (kmq_reply_t *self, size_t *size, char *error, size_t error_size)
{
    assert (self && size);
    char scratch [8];
    if (!error || !error_size) {
        error = scratch;
        error_size = sizeof scratch;
    }
    *size = 0;
    frame_t *frame = s_reply_frame (self, error, error_size);
    if (!frame)
        return NULL;
    char *data = NULL;
    size_t length = 0;
    FILE *out = open_memstream (&data, &length);
    int rc = out? frame_write_kmqf (frame, out): -1;
    if (out && fclose (out) != 0)
        rc = -1;
    frame_destroy (&frame);
    if (rc != 0) {
        snprintf (error, error_size, "cannot write the frame in memory: %s",
                  strerror (errno));
        free (data);
        return NULL;
    }
    *size = length;
    return data;
}

int
kmq_reply_write_kmqf (kmq_reply_t *self, const char *path, char *error,
                      size_t error_size)
{
    assert (self);
    char scratch [8];
    if (!error || !error_size) {
        error = scratch;
        error_size = sizeof scratch;
    }
    size_t size;
    void *bytes = kmq_reply_kmqf (self, &size, error, error_size);
    if (!bytes)
        return -1;
    //  The file is made only now, once the frame is known valid
    FILE *out = path ? fopen (path, "wb") : stdout;
    int rc = out && fwrite (bytes, 1, size, out) == size ? 0 : -1;
    if (rc != 0)
        snprintf (error, error_size, "cannot write %s: %s", path ? path : "stdout",
                  strerror (errno));
    if (out && (out == stdout? fflush (out): fclose (out)) != 0 && rc == 0) {
        snprintf (error, error_size, "cannot write %s: %s", path ? path : "stdout",
                  strerror (errno));
        rc = -1;
    }
    free (bytes);
    return rc;
}
