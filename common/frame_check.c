/*  frame_check — the frame format's validation (protocol.md 11.6): a
    description and its buffers, into the entries of a frame_t. See
    frame.h; frame.c holds the frame object and .kmqf files.

    Validation runs in the order of kmq_frame.py's decoder, so both refuse
    the same frames with the same sentences: the description's msgpack
    shape (no bin or ext, str keys once each, UTF-8, bounded nesting),
    then its fields and the exact size of every buffer, entry by entry,
    then the values (bool bytes, offsets, UTF-8, codes, categories).
    Nothing is read from a buffer before its size is checked, and nothing
    is allocated but in proportion to bytes that are there.
*/
#include "frame_internal.h"
#include "utf8.h"
#include "proto.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH  8                  //  nesting of the description
#define S_MAX_TZ     64
#define S_REDO       "the frame does not follow protocol.md section 11: " \
                     "encode it again with kmq_frame, or send csv"

typedef enum { S_COLUMN, S_INDEX, S_CATEGORIES } s_role_t;

//  What a field must hold (kmq_frame.py's _field).
typedef enum { W_UINT, W_INT, W_STR, W_BOOL, W_MAP, W_ARRAY, W_STR_OR_NIL } s_want_t;

typedef struct {
    frame_t *frame;
    size_t next;                    //  the next buffer to hand out
    char *error;
    size_t error_size;
} s_parse_t;

typedef struct {
    const char *name;
    frame_type_t type;
} s_dtype_t;

//  The dtypes of each kind, as protocol.md 11.2 spells them.
static const s_dtype_t s_numeric [] = {
    { "int8", FRAME_I8 }, { "int16", FRAME_I16 }, { "int32", FRAME_I32 },
    { "int64", FRAME_I64 }, { "uint8", FRAME_U8 }, { "uint16", FRAME_U16 },
    { "uint32", FRAME_U32 }, { "uint64", FRAME_U64 }, { "float32", FRAME_F32 },
    { "float64", FRAME_F64 }, { "bool", FRAME_BOOL }, { NULL, FRAME_I8 }
};
static const s_dtype_t s_masked [] = {
    { "Int8", FRAME_I8 }, { "Int16", FRAME_I16 }, { "Int32", FRAME_I32 },
    { "Int64", FRAME_I64 }, { "UInt8", FRAME_U8 }, { "UInt16", FRAME_U16 },
    { "UInt32", FRAME_U32 }, { "UInt64", FRAME_U64 }, { "Float32", FRAME_F32 },
    { "Float64", FRAME_F64 }, { "boolean", FRAME_BOOL }, { NULL, FRAME_I8 }
};
static const s_dtype_t s_codes [] = {
    { "int8", FRAME_I8 }, { "int16", FRAME_I16 }, { "int32", FRAME_I32 },
    { "int64", FRAME_I64 }, { NULL, FRAME_I8 }
};
static const s_dtype_t s_datetime [] = { { "datetime64[ns]", FRAME_I64 }, { NULL, FRAME_I8 } };
static const s_dtype_t s_timedelta [] = { { "timedelta64[ns]", FRAME_I64 }, { NULL, FRAME_I8 } };
static const s_dtype_t s_string [] = { { "object", FRAME_U8 }, { "string", FRAME_U8 }, { NULL, FRAME_I8 } };
static const s_dtype_t s_categorical [] = { { "category", FRAME_I8 }, { NULL, FRAME_I8 } };

//  Indexed by frame_kind_t; range has no dtype.
static const struct {
    const char *name;
    const s_dtype_t *dtypes;
} s_kinds [] = {
    { "numeric", s_numeric }, { "masked", s_masked }, { "datetime", s_datetime },
    { "timedelta", s_timedelta }, { "string", s_string },
    { "categorical", s_categorical }, { "range", NULL }
};
#define S_KIND_COUNT (sizeof (s_kinds) / sizeof (s_kinds [0]))

//  --------------------------------------------------------------------------
//  Errors and msgpack helpers

//  Fills the error with "where: problem; hint" (hint NULL: S_REDO).
static int
s_fail (s_parse_t *ctx, const char *where, const char *hint, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
s_fail (s_parse_t *ctx, const char *where, const char *hint, const char *format, ...)
{
    char problem [256];
    va_list args;
    va_start (args, format);
    vsnprintf (problem, sizeof problem, format, args);
    va_end (args);
    snprintf (ctx->error, ctx->error_size, "%s: %s; %s", where, problem,
              hint ? hint : S_REDO);
    return -1;
}

//  At most 40 bytes of untrusted text, for a message, with anything
//  unprintable or a quote as '?'.
static void
s_quote (char *dst, size_t dst_size, const char *src, size_t len)
{
    size_t max = dst_size - 4 < 40 ? dst_size - 4 : 40;
    size_t i = 0;
    for (; i < len && i < max; i++) {
        unsigned char c = (unsigned char) src [i];
        dst [i] = c >= 0x20 && c < 0x7f && c != '\'' ? (char) c : '?';
    }
    if (i < len) {
        memcpy (dst + i, "...", 3);
        i += 3;
    }
    dst [i] = 0;
}

static const char *
s_kind_name (const msgpack_object *obj)
{
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL: return "nil";
        case MSGPACK_OBJECT_BOOLEAN: return "bool";
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
        case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64: return "float";
        case MSGPACK_OBJECT_STR: return "str";
        case MSGPACK_OBJECT_ARRAY: return "array";
        case MSGPACK_OBJECT_MAP: return "map";
        default: return "bin or ext";
    }
}

static bool
s_str_is (const msgpack_object *obj, const char *text)
{
    return obj && obj->type == MSGPACK_OBJECT_STR
        && obj->via.str.size == strlen (text)
        && memcmp (obj->via.str.ptr, text, obj->via.str.size) == 0;
}

static const msgpack_object *
s_find (const msgpack_object_map *map, const char *key)
{
    for (uint32_t i = 0; i < map->size; i++)
        if (s_str_is (&map->ptr [i].key, key))
            return &map->ptr [i].val;
    return NULL;
}

//  The value of key in map, checked for what it must hold; *value_p is
//  NULL when it is absent and not required. Returns 0 or -1 (error set).
static int
s_field (s_parse_t *ctx, const msgpack_object_map *map, const char *key,
         const char *where, s_want_t want, bool required,
         const msgpack_object **value_p)
{
    static const char *wanted [] = {
        "an unsigned integer", "a 64-bit integer", "a str", "a bool", "a map",
        "an array", "a str or nil"
    };
    const msgpack_object *value = s_find (map, key);
    *value_p = value;
    if (!value)
        return required ? s_fail (ctx, where, NULL, "the description has no '%s'", key)
                        : 0;
    msgpack_object_type type = value->type;
    bool ok = false;
    switch (want) {
        case W_UINT: ok = type == MSGPACK_OBJECT_POSITIVE_INTEGER; break;
        case W_INT: ok = type == MSGPACK_OBJECT_NEGATIVE_INTEGER
                      || (type == MSGPACK_OBJECT_POSITIVE_INTEGER
                          && value->via.u64 <= INT64_MAX); break;
        case W_STR: ok = type == MSGPACK_OBJECT_STR; break;
        case W_BOOL: ok = type == MSGPACK_OBJECT_BOOLEAN; break;
        case W_MAP: ok = type == MSGPACK_OBJECT_MAP; break;
        case W_ARRAY: ok = type == MSGPACK_OBJECT_ARRAY; break;
        case W_STR_OR_NIL: ok = type == MSGPACK_OBJECT_STR
                             || type == MSGPACK_OBJECT_NIL; break;
    }
    if (ok)
        return 0;
    if (want == W_INT)
        return s_fail (ctx, where, NULL, "'%s' is not %s", key, wanted [want]);
    return s_fail (ctx, where, NULL, "'%s' is a %s, not %s", key,
                   s_kind_name (value), wanted [want]);
}

static int
s_compare_keys (const void *a, const void *b)
{
    const msgpack_object *x = *(const msgpack_object *const *) a;
    const msgpack_object *y = *(const msgpack_object *const *) b;
    size_t len = x->via.str.size < y->via.str.size ? x->via.str.size : y->via.str.size;
    int order = len ? memcmp (x->via.str.ptr, y->via.str.ptr, len) : 0;
    if (order)
        return order;
    return x->via.str.size < y->via.str.size ? -1 : x->via.str.size > y->via.str.size;
}

//  No key twice in map (whose keys are all str): sorted, O(n log n), as a
//  map may hold a few hundred thousand keys in 1 MiB.
static int
s_unique_keys (s_parse_t *ctx, const msgpack_object_map *map)
{
    if (map->size < 2)
        return 0;
    const msgpack_object **keys = (const msgpack_object **)
        malloc (map->size * sizeof (msgpack_object *));
    if (!keys)
        return s_fail (ctx, "frame", "free some memory", "out of memory for %" PRIu32
                       " keys", map->size);
    for (uint32_t i = 0; i < map->size; i++)
        keys [i] = &map->ptr [i].key;
    qsort (keys, map->size, sizeof keys [0], s_compare_keys);
    int rc = 0;
    for (uint32_t i = 1; i < map->size && rc == 0; i++)
        if (s_compare_keys (&keys [i - 1], &keys [i]) == 0) {
            char quoted [48];
            s_quote (quoted, sizeof quoted, keys [i]->via.str.ptr, keys [i]->via.str.size);
            rc = s_fail (ctx, "frame", NULL, "the description is not valid: the "
                         "key '%s' twice in one map", quoted);
        }
    free (keys);
    return rc;
}

//  The description's msgpack shape, as kmq_frame.py's own reader checks it.
static int
s_walk (s_parse_t *ctx, const msgpack_object *obj, int depth)
{
    if (depth > S_MAX_DEPTH)
        return s_fail (ctx, "frame", NULL, "the description is not valid: "
                       "nesting deeper than %d", S_MAX_DEPTH);
    switch (obj->type) {
        case MSGPACK_OBJECT_STR:
            if (!utf8_valid ((const uint8_t *) obj->via.str.ptr, obj->via.str.size))
                return s_fail (ctx, "frame", NULL, "the description is not valid: "
                               "a string that is not UTF-8");
            return 0;
        case MSGPACK_OBJECT_BIN:
        case MSGPACK_OBJECT_EXT:
            return s_fail (ctx, "frame", NULL, "the description is not valid: a bin "
                           "or ext value where it holds only nil, bool, int, float, "
                           "str, array and map");
        case MSGPACK_OBJECT_ARRAY:
            for (uint32_t i = 0; i < obj->via.array.size; i++)
                if (s_walk (ctx, &obj->via.array.ptr [i], depth + 1))
                    return -1;
            return 0;
        case MSGPACK_OBJECT_MAP:
            for (uint32_t i = 0; i < obj->via.map.size; i++) {
                if (obj->via.map.ptr [i].key.type != MSGPACK_OBJECT_STR)
                    return s_fail (ctx, "frame", NULL, "the description is not "
                                   "valid: a map key that is not a str");
                if (s_walk (ctx, &obj->via.map.ptr [i].key, depth + 1)
                ||  s_walk (ctx, &obj->via.map.ptr [i].val, depth + 1))
                    return -1;
            }
            return s_unique_keys (ctx, &obj->via.map);
        default:
            return 0;
    }
}

//  --------------------------------------------------------------------------
//  Entries: fields and buffer sizes

//  Hands out the next buffer, which must be exactly size bytes.
static int
s_take (s_parse_t *ctx, const char *where, const char *what, uint64_t size,
        const uint8_t **data_p)
{
    frame_t *frame = ctx->frame;
    if (ctx->next >= frame->buffer_count)
        return s_fail (ctx, where, NULL, "its %s is buffer %zu, but the frame has "
                       "only %zu", what, ctx->next, frame->buffer_count);
    const frame_buffer_t *buffer = &frame->buffers [ctx->next];
    if ((uint64_t) buffer->size != size)
        return s_fail (ctx, where, NULL, "its %s (buffer %zu) is %zu bytes; it must "
                       "be exactly %" PRIu64, what, ctx->next, buffer->size, size);
    ctx->next++;
    //  A zero-size buffer may have no address; nothing is read from it then
    *data_p = buffer->data ? (const uint8_t *) buffer->data : (const uint8_t *) "";
    return 0;
}

static int
s_parse_range (s_parse_t *ctx, const msgpack_object_map *map, frame_entry_t *entry,
               s_role_t role)
{
    const char *where = entry->where;
    if (role != S_INDEX)
        return s_fail (ctx, where, NULL, "kind 'range' is only for the index");
    const msgpack_object *start, *stop, *step;
    if (s_field (ctx, map, "start", where, W_INT, true, &start)
    ||  s_field (ctx, map, "stop", where, W_INT, true, &stop)
    ||  s_field (ctx, map, "step", where, W_INT, true, &step))
        return -1;
    entry->kind = FRAME_RANGE;
    entry->type = FRAME_I64;
    entry->start = start->via.i64;
    entry->step = step->via.i64;
    int64_t end = stop->via.i64;
    if (entry->step == 0)
        return s_fail (ctx, where, NULL, "a range with step 0");
    //  len (range (start, stop, step)) without overflow: differences of
    //  int64 fit in uint64
    uint64_t count = 0;
    if (entry->step > 0 && entry->start < end)
        count = ((uint64_t) end - (uint64_t) entry->start - 1)
              / (uint64_t) entry->step + 1;
    else
    if (entry->step < 0 && entry->start > end)
        count = ((uint64_t) entry->start - (uint64_t) end - 1)
              / (0 - (uint64_t) entry->step) + 1;
    if (count != entry->length)
        return s_fail (ctx, where, NULL, "range(%" PRId64 ", %" PRId64 ", %" PRId64
                       ") does not have the frame's %zu rows",
                       entry->start, end, entry->step, entry->length);
    return 0;
}

//  The dtype's type in the kind's table, or -1 with the error set.
static int
s_dtype (s_parse_t *ctx, frame_entry_t *entry, const msgpack_object *dtype)
{
    const s_dtype_t *table = s_kinds [entry->kind].dtypes;
    char allowed [200] = "";
    for (size_t i = 0; table [i].name; i++) {
        if (s_str_is (dtype, table [i].name)) {
            entry->type = table [i].type;
            return 0;
        }
        size_t used = strlen (allowed);
        snprintf (allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "",
                  table [i].name);
    }
    char quoted [48];
    s_quote (quoted, sizeof quoted, dtype->via.str.ptr, dtype->via.str.size);
    return s_fail (ctx, entry->where, NULL, "dtype '%s' is not one of kind '%s' (%s)",
                   quoted, s_kinds [entry->kind].name, allowed);
}

static bool
s_tz_valid (const char *tz, size_t len)
{
    if (len == 0 || len > S_MAX_TZ || tz [0] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = tz [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '_' || c == '+' || c == '-' || c == ':' || c == '/'))
            return false;
    }
    return true;
}

static int s_parse_entry (s_parse_t *ctx, const msgpack_object *obj,
                          frame_entry_t *entry, size_t length, s_role_t role);

static int
s_parse_categorical (s_parse_t *ctx, const msgpack_object_map *map, frame_entry_t *entry)
{
    const char *where = entry->where;
    const msgpack_object *ordered, *codes, *count, *categories;
    if (s_field (ctx, map, "ordered", where, W_BOOL, true, &ordered)
    ||  s_field (ctx, map, "codes", where, W_STR, true, &codes))
        return -1;
    size_t i = 0;
    while (s_codes [i].name && !s_str_is (codes, s_codes [i].name))
        i++;
    if (!s_codes [i].name) {
        char quoted [48];
        s_quote (quoted, sizeof quoted, codes->via.str.ptr, codes->via.str.size);
        return s_fail (ctx, where, NULL, "codes '%s' is not one of int8, int16, "
                       "int32, int64", quoted);
    }
    entry->type = s_codes [i].type;
    if (s_field (ctx, map, "count", where, W_UINT, true, &count))
        return -1;
    if (count->via.u64 > FRAME_MAX_ROWS)
        return s_fail (ctx, where, NULL, "%" PRIu64 " categories, more than %u",
                       count->via.u64, FRAME_MAX_ROWS);
    if (s_take (ctx, where, "codes", entry->length * frame_type_width (entry->type),
                &entry->data)
    ||  s_field (ctx, map, "categories", where, W_MAP, true, &categories))
        return -1;
    entry->categories = (frame_entry_t *) calloc (1, sizeof (frame_entry_t));
    if (!entry->categories)
        return s_fail (ctx, where, "free some memory", "out of memory");
    snprintf (entry->categories->where, sizeof entry->categories->where,
              "%.60s categories", where);
    return s_parse_entry (ctx, categories, entry->categories,
                          (size_t) count->via.u64, S_CATEGORIES);
}

//  Checks an entry's fields and takes its buffers (sizes only: the values
//  are s_check_values's). entry->where is set by the caller.
static int
s_parse_entry (s_parse_t *ctx, const msgpack_object *obj, frame_entry_t *entry,
               size_t length, s_role_t role)
{
    const char *where = entry->where;
    entry->length = length;
    if (obj->type != MSGPACK_OBJECT_MAP)
        return s_fail (ctx, where, NULL, "its entry is a %s, not a map",
                       s_kind_name (obj));
    const msgpack_object_map *map = &obj->via.map;
    const msgpack_object *kind, *dtype, *validity, *tz;
    if (s_field (ctx, map, "kind", where, W_STR, true, &kind))
        return -1;
    if (s_str_is (kind, "range"))
        return s_parse_range (ctx, map, entry, role);
    size_t k = 0;
    while (k < S_KIND_COUNT && !s_str_is (kind, s_kinds [k].name))
        k++;
    if (k >= FRAME_RANGE) {
        char quoted [48];
        s_quote (quoted, sizeof quoted, kind->via.str.ptr, kind->via.str.size);
        return s_fail (ctx, where, NULL, "unknown kind '%s'", quoted);
    }
    entry->kind = (frame_kind_t) k;
    if (s_field (ctx, map, "dtype", where, W_STR, true, &dtype)
    ||  s_dtype (ctx, entry, dtype))
        return -1;
    if (role == S_CATEGORIES && entry->kind != FRAME_NUMERIC
    &&  entry->kind != FRAME_DATETIME && entry->kind != FRAME_TIMEDELTA
    &&  entry->kind != FRAME_STRING)
        return s_fail (ctx, where, NULL, "categories of kind '%s'", s_kinds [k].name);
    if (entry->kind == FRAME_MASKED || entry->kind == FRAME_STRING) {
        if (s_field (ctx, map, "validity", where, W_BOOL, false, &validity))
            return -1;
        bool has_validity = validity && validity->via.boolean;
        if (has_validity && role == S_CATEGORIES)
            return s_fail (ctx, where, NULL, "categories with a validity bitmap "
                           "(categories can't be missing)");
        if (has_validity
        &&  s_take (ctx, where, "validity bitmap", (length + 7) / 8, &entry->validity))
            return -1;
    }
    switch (entry->kind) {
        case FRAME_NUMERIC:
        case FRAME_MASKED:
            return s_take (ctx, where, "data", length * frame_type_width (entry->type),
                           &entry->data);
        case FRAME_DATETIME:
            if (s_field (ctx, map, "tz", where, W_STR_OR_NIL, false, &tz))
                return -1;
            if (tz && tz->type == MSGPACK_OBJECT_STR) {
                entry->tz = tz->via.str.ptr;
                entry->tz_len = tz->via.str.size;
                if (!s_tz_valid (entry->tz, entry->tz_len)) {
                    char quoted [48];
                    s_quote (quoted, sizeof quoted, entry->tz, entry->tz_len);
                    return s_fail (ctx, where, NULL, "time zone '%s' is not 1-%d of "
                                   "A-Z a-z 0-9 _ + - : /", quoted, S_MAX_TZ);
                }
            }
            return s_take (ctx, where, "data", (uint64_t) length * 8, &entry->data);
        case FRAME_TIMEDELTA:
            return s_take (ctx, where, "data", (uint64_t) length * 8, &entry->data);
        case FRAME_STRING: {
            if (s_take (ctx, where, "offsets", ((uint64_t) length + 1) * 8,
                        &entry->offsets))
                return -1;
            int64_t end = frame_load_i64 (entry->offsets, FRAME_I64, length);
            if (end < 0)
                return s_fail (ctx, where, NULL, "its last offset is negative (%"
                               PRId64 ")", end);
            return s_take (ctx, where, "data", (uint64_t) end, &entry->data);
        }
        default:
            return s_parse_categorical (ctx, map, entry);
    }
}

//  --------------------------------------------------------------------------
//  Entries: values

static int
s_check_bools (s_parse_t *ctx, const frame_entry_t *entry)
{
    for (size_t row = 0; row < entry->length; row++)
        if (entry->data [row] > 1)
            return s_fail (ctx, entry->where, NULL, "value %zu is the byte %u; bools "
                           "are 0 or 1", row, entry->data [row]);
    return 0;
}

static int
s_check_strings (s_parse_t *ctx, const frame_entry_t *entry)
{
    const char *where = entry->where;
    int64_t first = frame_load_i64 (entry->offsets, FRAME_I64, 0);
    if (first != 0)
        return s_fail (ctx, where, NULL, "its first offset is %" PRId64 ", not 0", first);
    for (size_t row = 0; row < entry->length; row++)
        if (frame_load_i64 (entry->offsets, FRAME_I64, row + 1)
          < frame_load_i64 (entry->offsets, FRAME_I64, row))
            return s_fail (ctx, where, NULL, "its offsets decrease at value %zu", row);
    //  From here offsets run from 0 up to the data's size: every slice fits
    for (size_t row = 0; row < entry->length; row++)
        if (!frame_entry_valid (entry, row)
        &&  frame_load_i64 (entry->offsets, FRAME_I64, row + 1)
         != frame_load_i64 (entry->offsets, FRAME_I64, row))
            return s_fail (ctx, where, NULL, "missing value %zu is not empty", row);
    for (size_t row = 0; row < entry->length; row++) {
        size_t from = (size_t) frame_load_i64 (entry->offsets, FRAME_I64, row);
        size_t to = (size_t) frame_load_i64 (entry->offsets, FRAME_I64, row + 1);
        if (!utf8_valid (entry->data + from, to - from))
            return s_fail (ctx, where, NULL, "value %zu is not valid UTF-8", row);
    }
    return 0;
}

//  A category, for sorting: NaN and NaT are refused before any compare.
static int
s_compare_values (const void *a, const void *b, void *arg)
{
    const frame_entry_t *entry = (const frame_entry_t *) arg;
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    if (entry->kind == FRAME_STRING) {
        size_t x_from = (size_t) frame_load_i64 (entry->offsets, FRAME_I64, x);
        size_t x_len = (size_t) frame_load_i64 (entry->offsets, FRAME_I64, x + 1) - x_from;
        size_t y_from = (size_t) frame_load_i64 (entry->offsets, FRAME_I64, y);
        size_t y_len = (size_t) frame_load_i64 (entry->offsets, FRAME_I64, y + 1) - y_from;
        size_t len = x_len < y_len ? x_len : y_len;
        int order = len ? memcmp (entry->data + x_from, entry->data + y_from, len) : 0;
        return order ? order : (x_len > y_len) - (x_len < y_len);
    }
    if (entry->type == FRAME_F32 || entry->type == FRAME_F64) {
        double p, q;
        if (entry->type == FRAME_F32) {
            float f, g;
            uint32_t bits = (uint32_t) frame_load_u64 (entry->data, FRAME_F32, x);
            memcpy (&f, &bits, sizeof f);
            bits = (uint32_t) frame_load_u64 (entry->data, FRAME_F32, y);
            memcpy (&g, &bits, sizeof g);
            p = f;
            q = g;
        }
        else {
            uint64_t bits = frame_load_u64 (entry->data, FRAME_F64, x);
            memcpy (&p, &bits, sizeof p);
            bits = frame_load_u64 (entry->data, FRAME_F64, y);
            memcpy (&q, &bits, sizeof q);
        }
        return (p > q) - (p < q);           //  0.0 and -0.0 are one value, as in pandas
    }
    if (entry->type >= FRAME_U8) {
        uint64_t p = frame_load_u64 (entry->data, entry->type, x);
        uint64_t q = frame_load_u64 (entry->data, entry->type, y);
        return (p > q) - (p < q);
    }
    int64_t p = frame_load_i64 (entry->data, entry->type, x);
    int64_t q = frame_load_i64 (entry->data, entry->type, y);
    return (p > q) - (p < q);
}

//  True when category row is NaN or NaT.
static bool
s_category_missing (const frame_entry_t *entry, size_t row)
{
    if (entry->kind == FRAME_DATETIME || entry->kind == FRAME_TIMEDELTA)
        return frame_load_i64 (entry->data, FRAME_I64, row) == INT64_MIN;
    if (entry->kind != FRAME_NUMERIC
    ||  (entry->type != FRAME_F32 && entry->type != FRAME_F64))
        return false;
    uint64_t bits = frame_load_u64 (entry->data, entry->type, row);
    if (entry->type == FRAME_F32)
        return (bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu);
    return (bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull
        && (bits & 0x000fffffffffffffull);
}

static int
s_check_categories (s_parse_t *ctx, const frame_entry_t *owner,
                    const frame_entry_t *entry)
{
    for (size_t row = 0; row < entry->length; row++)
        if (s_category_missing (entry, row))
            return s_fail (ctx, owner->where, NULL, "a category is missing (NaN or NaT)");
    if (entry->length < 2)
        return 0;
    size_t *order = (size_t *) malloc (entry->length * sizeof (size_t));
    if (!order)
        return s_fail (ctx, owner->where, "free some memory",
                       "out of memory for %zu categories", entry->length);
    for (size_t row = 0; row < entry->length; row++)
        order [row] = row;
    qsort_r (order, entry->length, sizeof (size_t), s_compare_values, (void *) entry);
    int rc = 0;
    for (size_t i = 1; i < entry->length && rc == 0; i++)
        if (s_compare_values (&order [i - 1], &order [i], (void *) entry) == 0)
            rc = s_fail (ctx, owner->where, NULL, "its categories repeat a value");
    free (order);
    return rc;
}

//  The values an entry holds, in the order kmq_frame.py builds them.
static int
s_check_values (s_parse_t *ctx, const frame_entry_t *entry)
{
    switch (entry->kind) {
        case FRAME_NUMERIC:
        case FRAME_MASKED:
            return entry->type == FRAME_BOOL ? s_check_bools (ctx, entry) : 0;
        case FRAME_STRING:
            return s_check_strings (ctx, entry);
        case FRAME_CATEGORICAL: {
            for (size_t row = 0; row < entry->length; row++) {
                int64_t code = frame_load_i64 (entry->data, entry->type, row);
                if (code < -1 || code >= (int64_t) entry->categories->length)
                    return s_fail (ctx, entry->where, NULL, "code %" PRId64 " of value "
                                   "%zu is outside [-1, %zu)", code, row,
                                   entry->categories->length);
            }
            if (s_check_values (ctx, entry->categories))
                return -1;
            return s_check_categories (ctx, entry, entry->categories);
        }
        default:
            return 0;
    }
}

//  --------------------------------------------------------------------------
//  The frame

//  "column 'x'" for messages.
static void
s_label (frame_entry_t *entry)
{
    char quoted [48];
    s_quote (quoted, sizeof quoted, entry->name, entry->name_len);
    snprintf (entry->where, sizeof entry->where, "column '%s'", quoted);
}

int
frame_check (frame_t *self, const msgpack_object *root, char *error, size_t error_size)
{
    s_parse_t ctx_ = { self, 0, error, error_size };
    s_parse_t *ctx = &ctx_;
    if (root->type != MSGPACK_OBJECT_MAP)
        return s_fail (ctx, "frame", NULL, "the description is a %s, not a map",
                       s_kind_name (root));
    if (s_walk (ctx, root, 0))
        return -1;
    if (self->buffer_count > FRAME_MAX_BUFFERS)
        return s_fail (ctx, "frame", "use csv", "%zu buffers, more than the %d a "
                       "frame may have", self->buffer_count, FRAME_MAX_BUFFERS);
    const msgpack_object_map *map = &root->via.map;
    const msgpack_object *rows, *index, *columns, *name;
    if (s_field (ctx, map, "rows", "frame", W_UINT, true, &rows))
        return -1;
    if (rows->via.u64 > FRAME_MAX_ROWS)
        return s_fail (ctx, "frame", NULL, "%" PRIu64 " rows, more than the format's %u",
                       rows->via.u64, FRAME_MAX_ROWS);
    self->rows = (size_t) rows->via.u64;
    if (s_field (ctx, map, "index", "frame", W_MAP, true, &index)
    ||  s_field (ctx, map, "columns", "frame", W_ARRAY, true, &columns))
        return -1;
    if (columns->via.array.size > FRAME_MAX_BUFFERS)
        return s_fail (ctx, "frame", NULL, "%" PRIu32 " columns, more than %d",
                       columns->via.array.size, FRAME_MAX_BUFFERS);
    snprintf (self->index.where, sizeof self->index.where, "the index");
    if (s_field (ctx, &index->via.map, "name", "the index", W_STR_OR_NIL, false, &name))
        return -1;
    if (name && name->type == MSGPACK_OBJECT_STR) {
        self->index.name = name->via.str.ptr;
        self->index.name_len = name->via.str.size;
    }
    if (s_parse_entry (ctx, index, &self->index, self->rows, S_INDEX))
        return -1;
    self->column_count = columns->via.array.size;
    self->columns = (frame_entry_t *) calloc (self->column_count + 1,
                                              sizeof (frame_entry_t));
    if (!self->columns)
        return s_fail (ctx, "frame", "free some memory", "out of memory");
    for (size_t i = 0; i < self->column_count; i++) {
        frame_entry_t *column = &self->columns [i];
        const msgpack_object *obj = &columns->via.array.ptr [i];
        snprintf (column->where, sizeof column->where, "column %zu", i);
        if (obj->type != MSGPACK_OBJECT_MAP)
            return s_fail (ctx, column->where, NULL, "its entry is a %s, not a map",
                           s_kind_name (obj));
        if (s_field (ctx, &obj->via.map, "name", column->where, W_STR, true, &name))
            return -1;
        column->name = name->via.str.ptr;
        column->name_len = name->via.str.size;
        s_label (column);
        if (s_parse_entry (ctx, obj, column, self->rows, S_COLUMN))
            return -1;
    }
    if (ctx->next != self->buffer_count)
        return s_fail (ctx, "frame", NULL, "the entries take %zu buffers, but the "
                       "frame has %zu", ctx->next, self->buffer_count);
    if (s_check_values (ctx, &self->index))
        return -1;
    for (size_t i = 0; i < self->column_count; i++)
        if (s_check_values (ctx, &self->columns [i]))
            return -1;
    return 0;
}

void
frame_entry_free (frame_entry_t *entry)
{
    while (entry && entry->categories) {
        frame_entry_t *categories = entry->categories;
        entry->categories = NULL;
        frame_entry_free (categories);
        free (categories);
    }
}
