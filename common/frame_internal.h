/*  frame_internal — what the frame module's files share; nothing else
    includes it. frame.c is the frame object and .kmqf files, frame_check.c
    validates descriptions and buffers, frame_write.c writes CSV and JSON,
    frame_test.c is the selftest. The public API is frame.h.
*/
#ifndef KMQ_FRAME_INTERNAL_H
#define KMQ_FRAME_INTERNAL_H

#include "frame.h"

#include <czmq.h>

typedef enum {
    FRAME_NUMERIC, FRAME_MASKED, FRAME_DATETIME, FRAME_TIMEDELTA,
    FRAME_STRING, FRAME_CATEGORICAL, FRAME_RANGE
} frame_kind_t;

//  How a value is stored: its width and what the bytes mean.
typedef enum {
    FRAME_I8, FRAME_I16, FRAME_I32, FRAME_I64,
    FRAME_U8, FRAME_U16, FRAME_U32, FRAME_U64,
    FRAME_F32, FRAME_F64, FRAME_BOOL
} frame_type_t;

typedef struct _frame_entry_t frame_entry_t;

//  One validated entry (the index, a column, or a categorical's
//  categories). Pointers point into the frame's buffers and description.
struct _frame_entry_t {
    char where [80];                //  "column 'x'", for messages
    const char *name;               //  NULL for a nil or absent name
    size_t name_len;
    frame_kind_t kind;
    frame_type_t type;              //  numeric, masked: values; categorical: codes;
                                    //  datetime, timedelta, range: FRAME_I64
    size_t length;                  //  values: rows, or the categories' count
    const uint8_t *validity;        //  bitmap, or NULL when every value is valid
    const uint8_t *data;            //  values, codes or UTF-8 bytes
    const uint8_t *offsets;         //  string: length + 1 int64
    const char *tz;                 //  datetime: time zone, NULL when naive
    size_t tz_len;
    frame_entry_t *categories;      //  categorical: its categories (owned)
    int64_t start, step;            //  range
};

struct _frame_t {
    msgpack_sbuffer packed;         //  the description, our copy
    msgpack_unpacked unpacked;      //  ... decoded (strings point into packed)
    zmsg_t *owned;                  //  a .kmqf's frames, when read from one
    frame_buffer_t *buffers;
    size_t buffer_count;
    size_t rows;
    frame_entry_t index;
    frame_entry_t *columns;
    size_t column_count;
};

//  The signed or unsigned integer of type at position row of data (as
//  int64 bits for the unsigned: callers that print use frame_load_u64).
int64_t frame_load_i64 (const uint8_t *data, frame_type_t type, size_t row);
uint64_t frame_load_u64 (const uint8_t *data, frame_type_t type, size_t row);
//  Width in bytes of a value of type.
size_t frame_type_width (frame_type_t type);
//  True when value row of entry is valid by its bitmap (or has none).
bool frame_entry_valid (const frame_entry_t *entry, size_t row);

//  Validates root (self's own copy of the description) against self's
//  buffers, as protocol.md 11.6 says, filling self's rows, index and
//  columns. Returns 0, or -1 with error filled (frame_new's sentence).
int frame_check (frame_t *self, const msgpack_object *root, char *error,
                 size_t error_size);
//  Frees what an entry owns (its categories), not the entry.
void frame_entry_free (frame_entry_t *entry);

#endif
