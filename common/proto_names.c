/*  proto_names — the vocabulary of the kernelmq wire codec, protocol v1:
    message type and error code names, session keys, and the known header
    fields with the kind of value each must hold (protocol.md sections 3-5).
    See proto.h; proto.c decodes with proto_fields_check.
*/
#include "proto.h"
#include "proto_internal.h"

#include <string.h>

//  --- names ------------------------------------------------------------

static const char *s_type_names [PROTO_TYPE_COUNT] = {
    "hello", "execute", "upload", "download", "reset", "interrupt", "vars",
    "close", "attach", "detach", "complete", "inspect", "heartbeat", "stats",
    "ready", "event", "reply", "spawn", "ack", "is_complete", "history", "files",
    "resume", "shutdown", "host_ready", "host_status", "start", "stop",
    "kernel_exited", "reregister", "resend", "snapshot", "restore", "share",
    "upload_part", "next_part"
};

static const char *s_error_names [PROTO_E_COUNT] = {
    "NONE", "BAD_REQUEST", "UNSUPPORTED_VERSION", "NO_SUCH_SESSION",
    "SESSION_LIMIT", "QUEUE_FULL", "TOO_LARGE", "TIMEOUT", "INTERRUPTED",
    "KERNEL_DIED", "EVICTED", "CLOSED", "PYTHON_ERROR", "NOT_FOUND",
    "UNSUPPORTED", "INTERNAL", "LOST", "FORBIDDEN"
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
        case PROTO_COMPLETE: case PROTO_INSPECT: case PROTO_IS_COMPLETE:
        case PROTO_HISTORY: case PROTO_FILES: case PROTO_RESUME:
        case PROTO_SHARE: case PROTO_UPLOAD_PART:
            return true;
        default:
            return false;
    }
}

bool
proto_type_has_id (proto_type_t type)
{
    switch (type) {
        case PROTO_HEARTBEAT: case PROTO_READY: case PROTO_HOST_READY:
        case PROTO_HOST_STATUS: case PROTO_STOP: case PROTO_KERNEL_EXITED:
        case PROTO_REREGISTER:
            return false;
        default:
            return true;
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
    { "duration_ms", K_UINT, K_NONE },
    { "mime", K_ARRAY, K_STR },
    { "ename", K_STR, K_NONE },
    { "evalue", K_STR, K_NONE },
    { "traceback", K_ARRAY, K_STR },
    { "killed", K_BOOL, K_NONE },
    { "cause", K_STR, K_NONE },
    { "kind", K_STR, K_NONE },
    { "bytes", K_UINT, K_NONE },
    { "parts", K_UINT, K_NONE },
    { "part", K_UINT, K_NONE },
    { "sizes", K_ARRAY, K_UINT },
    { "in_parts", K_BOOL, K_NONE },
    { "rows", K_UINT, K_NONE },
    { "columns", K_UINT, K_NONE },
    { "interrupted", K_BOOL, K_NONE },
    { "vars", K_ARRAY, K_MAP },
    { "files", K_ARRAY, K_MAP },
    { "uptime_ms", K_UINT, K_NONE },
    { "sessions", K_UINT, K_NONE },
    { "kernels", K_UINT, K_NONE },
    { "queued", K_UINT, K_NONE },
    { "max_sessions", K_UINT, K_NONE },
    { "session_list", K_ARRAY, K_MAP },
    { "pid", K_UINT, K_NONE },
    { "cursor_pos", K_UINT, K_NONE },
    { "matches", K_ARRAY, K_STR },
    { "cursor_start", K_UINT, K_NONE },
    { "cursor_end", K_UINT, K_NONE },
    { "found", K_BOOL, K_NONE },
    { "executor_pid", K_UINT, K_NONE },
    { "wait_status", K_UINT, K_NONE },
    { "sandbox_config", K_STR, K_NONE },
    { "duration_ms", K_UINT, K_NONE },
    { "request", K_UINT, K_NONE },
    { "request_type", K_STR, K_NONE },
    { "state", K_STR, K_NONE },
    { "completeness", K_STR, K_NONE },
    { "indent", K_STR, K_NONE },
    { "last", K_UINT, K_NONE },
    { "cells", K_ARRAY, K_MAP },
    { "truncated", K_BOOL, K_NONE },
    { "running", K_MAP, K_NONE },
    { "waiting", K_ARRAY, K_MAP },
    { "attached", K_UINT, K_NONE },
    { "frame", K_MAP, K_NONE },
    { "host", K_STR, K_NONE },
    { "resumed", K_BOOL, K_NONE },
    { "busy", K_BOOL, K_NONE },
    { "replies", K_ARRAY, K_UINT },
    { "zygote_pid", K_UINT, K_NONE },
    { "zygote_restarts", K_UINT, K_NONE },
    { "pool_size", K_UINT, K_NONE },
    { "kernel_id", K_STR, K_NONE },
    { "restore", K_BOOL, K_NONE },
    { "restored", K_BOOL, K_NONE },
    { "snapshot", K_BOOL, K_NONE },
    { "quota", K_UINT, K_NONE },
    { "kept", K_ARRAY, K_STR },
    { "dropped", K_ARRAY, K_MAP },
    { "file_count", K_UINT, K_NONE },
    { "largest", K_ARRAY, K_MAP },
    { "exit_status", K_UINT, K_NONE },
    { "grace_ms", K_UINT, K_NONE },
    { "ran", K_BOOL, K_NONE },
    { "seen", K_ARRAY, K_UINT },
    { "end_sessions", K_BOOL, K_NONE },
    { "hosts", K_ARRAY, K_MAP },
    { "epoch", K_UINT, K_NONE },
    { "with", K_STR, K_NONE },
    { "revoke", K_BOOL, K_NONE },
    { "as", K_STR, K_NONE },
    { "owner", K_STR, K_NONE },
    { "shared", K_ARRAY, K_STR },
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

static int
s_field_index (const char *key, size_t len)
{
    for (size_t i = 0; i < S_FIELD_COUNT; i++)
        if (strlen (s_fields [i].name) == len
        &&  memcmp (s_fields [i].name, key, len) == 0)
            return (int) i;
    return -1;
}

//  Checks the kind of every known key, and that none appears twice.
int
proto_fields_check (const msgpack_object_map *map, proto_fault_t *fault)
{
    bool seen [S_FIELD_COUNT] = { false };
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr [i].key;
        const msgpack_object *val = &map->ptr [i].val;
        if (key->type != MSGPACK_OBJECT_STR) {
            proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                "header key %u is not a string; header keys must be strings", i);
            return -1;
        }
        int index = s_field_index (key->via.str.ptr, key->via.str.size);
        if (index < 0)
            continue;           //  unknown keys are ignored (protocol 2.)
        const s_field_t *field = &s_fields [index];
        if (seen [index]) {
            proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                "header field '%s' appears more than once", field->name);
            return -1;
        }
        seen [index] = true;
        if (!s_kind_match (val, field->kind)) {
            proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                "header field '%s' must be %s", field->name,
                s_kind_text (field->kind));
            return -1;
        }
        if (field->kind == K_ARRAY && field->elem != K_NONE)
            for (uint32_t j = 0; j < val->via.array.size; j++)
                if (!s_kind_match (&val->via.array.ptr [j], field->elem)) {
                    proto_fault_set (fault, PROTO_E_BAD_REQUEST,
                        "header field '%s' must be an array of %s",
                        field->name, s_kind_plural (field->elem));
                    return -1;
                }
    }
    return 0;
}
