/*  frame — the frame format's C side (protocol.md section 11): a DataFrame
    as a description (a msgpack map) and raw column buffers.

    frame_new validates a description and its buffers exactly as
    common/kmq_frame.py's decoder does (11.6), so `kmq` can take a frame
    from a hostile kernel or a hostile file: every field's kind, every
    buffer's exact size before anything is read from it, offsets, codes,
    UTF-8, bool bytes, unique categories. It never asserts on its input and
    allocates nothing whose size the input announces before that size is
    checked against the bytes that are there. The one check it cannot make
    is whether a `tz` names a time zone (it has no tz database); it checks
    the syntax only and writes tz-aware values in UTC.

    A valid frame can be written back as a .kmqf file (11.7), or as CSV or
    JSON records for people and other tools:

        char error [256];
        frame_t *frame = frame_from_kmqf (data, size, error, sizeof error);
        if (!frame) { fprintf (stderr, "kmq: %s\n", error); ... }
        frame_write_csv (frame, stdout);
        frame_destroy (&frame);
*/
#ifndef KMQ_FRAME_H
#define KMQ_FRAME_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FRAME_MAX_ROWS       0x7fffffffu     //  rows, and categories (11.5)
#define FRAME_MAX_BUFFERS    4096            //  = PROTO_MAX_FRAME_PAYLOADS
#define FRAME_KMQF_SIGNATURE "KMQF1"         //  frame 0 of a .kmqf file

typedef struct _frame_t frame_t;

//  One buffer: a view of bytes someone else owns.
typedef struct {
    const void *data;
    size_t size;
} frame_buffer_t;

//  Validates description (a msgpack map, protocol.md 11.1) and its count
//  buffers, in order. Returns a new frame, or NULL with error filled with
//  one sentence that names the column, the rule and what to do. The frame
//  keeps its own copy of the description and of the buffer views, but
//  borrows the buffers' bytes: they must outlive it.
frame_t *frame_new (const msgpack_object *description,
                    const frame_buffer_t *buffers, size_t count,
                    char *error, size_t error_size);

//  Validates the size bytes of a .kmqf file (11.7) as frame_new does.
//  Returns a new frame that owns a copy of what it needs (data may go), or
//  NULL with error filled.
frame_t *frame_from_kmqf (const void *data, size_t size,
                          char *error, size_t error_size);

//  Destroys a frame. No-op on NULL.
void frame_destroy (frame_t **self_p);

//  Rows and columns (the index is not a column).
size_t frame_rows (frame_t *self);
size_t frame_columns (frame_t *self);
//  The description, a map owned by the frame (valid until destroy; its
//  strings are not NUL-terminated).
const msgpack_object *frame_description (frame_t *self);
//  The buffers: their count, and buffer index (size in *size), or NULL
//  when index is out of range. Owned by whoever owns the bytes.
size_t frame_buffer_count (frame_t *self);
const void *frame_buffer (frame_t *self, size_t index, size_t *size);

//  Writes the frame as a .kmqf file. Returns 0, or -1 with errno set.
int frame_write_kmqf (frame_t *self, FILE *out);

//  Writes the frame as CSV: a header line of the column names, then one
//  line per row, fields separated by ',' and quoted (as RFC 4180) when
//  they hold ',', '"' or a line break. An index other than the default
//  (0, 1, 2, ... without a name) comes first, as a column named after it
//  or "index". Integers are exact, floats the shortest text that reads
//  back the same (1.0, 0.1, 1e+20), bools True/False, datetimes ISO 8601
//  (2024-03-01T12:00:00.5, with Z when tz-aware: in UTC), timedeltas ISO
//  8601 durations (P1DT2H3M4.5S, -P0DT0H0M1S), missing values (NaN, NaT,
//  NA, None, a missing code) empty, infinities inf/-inf. Returns 0, or -1
//  with errno set.
int frame_write_csv (frame_t *self, FILE *out);

//  Writes the frame as JSON records, [{"name": value, ...}, ...] and a
//  newline: the same values as CSV, strings JSON-escaped, missing values
//  and infinities null, bools true/false, and a non-default index as the
//  first member (named as in CSV). Returns 0, or -1 with errno set.
int frame_write_json (frame_t *self, FILE *out);

//  Selftest.
void frame_test (bool verbose);

#endif
