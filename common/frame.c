/*  frame — the frame object (see frame.h, protocol.md section 11): made
    from a description and buffers or from a .kmqf file, its accessors, and
    .kmqf writing. Validation is frame_check.c's, CSV and JSON frame_write.c's.
*/
#include "frame_internal.h"
#include "proto.h"
#include "proto_stream.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Values in buffers (frame_internal.h)

size_t
frame_type_width (frame_type_t type)
{
    switch (type) {
        case FRAME_I8: case FRAME_U8: case FRAME_BOOL: return 1;
        case FRAME_I16: case FRAME_U16: return 2;
        case FRAME_I32: case FRAME_U32: case FRAME_F32: return 4;
        default: return 8;
    }
}

uint64_t
frame_load_u64 (const uint8_t *data, frame_type_t type, size_t row)
{
    size_t width = frame_type_width (type);
    const uint8_t *at = data + row * width;
    uint64_t value = 0;
    for (size_t i = width; i > 0; i--)
        value = (value << 8) | at [i - 1];
    return value;
}

int64_t
frame_load_i64 (const uint8_t *data, frame_type_t type, size_t row)
{
    uint64_t value = frame_load_u64 (data, type, row);
    size_t bits = 8 * frame_type_width (type);
    if (bits < 64 && (value >> (bits - 1)) & 1)
        value |= ~(uint64_t) 0 << bits;          //  sign-extend
    return (int64_t) value;
}

bool
frame_entry_valid (const frame_entry_t *entry, size_t row)
{
    return !entry->validity || (entry->validity [row / 8] >> (row % 8)) & 1;
}

void
frame_destroy (frame_t **self_p)
{
    assert (self_p);
    frame_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    frame_entry_free (&self->index);
    for (size_t i = 0; self->columns && i < self->column_count; i++)
        frame_entry_free (&self->columns [i]);
    free (self->columns);
    free (self->buffers);
    msgpack_unpacked_destroy (&self->unpacked);
    msgpack_sbuffer_destroy (&self->packed);
    zmsg_destroy (&self->owned);
    free (self);
}

//  A new frame over the buffers, with its own copy of the description;
//  takes *owned_p (the frames the buffers point into) when not NULL.
static frame_t *
s_frame_new (const msgpack_object *description, const frame_buffer_t *buffers,
             size_t count, zmsg_t **owned_p, char *error, size_t error_size)
{
    char scratch [8];
    if (!error || !error_size) {
        error = scratch;
        error_size = sizeof scratch;
    }
    frame_t *self = (frame_t *) calloc (1, sizeof (frame_t));
    if (!self) {
        snprintf (error, error_size, "frame: out of memory; free some memory");
        return NULL;
    }
    msgpack_sbuffer_init (&self->packed);
    msgpack_unpacked_init (&self->unpacked);
    if (owned_p) {
        self->owned = *owned_p;
        *owned_p = NULL;
    }
    self->buffers = (frame_buffer_t *) calloc (count + 1, sizeof (frame_buffer_t));
    if (!self->buffers) {
        snprintf (error, error_size, "frame: out of memory for %zu buffers; free "
                  "some memory", count);
        goto fail;
    }
    if (count)
        memcpy (self->buffers, buffers, count * sizeof (frame_buffer_t));
    self->buffer_count = count;
    //  Our copy: packed once, unpacked into our own zone
    msgpack_packer packer;
    msgpack_packer_init (&packer, &self->packed, msgpack_sbuffer_write);
    if (msgpack_pack_object (&packer, *description) != 0
    ||  msgpack_unpack_next (&self->unpacked, self->packed.data, self->packed.size,
                             NULL) != MSGPACK_UNPACK_SUCCESS) {
        snprintf (error, error_size, "frame: the description could not be copied "
                  "(it nests too deeply, or memory ran out)");
        goto fail;
    }
    if (frame_check (self, &self->unpacked.data, error, error_size) == 0)
        return self;
fail:
    frame_destroy (&self);
    return NULL;
}

frame_t *
frame_new (const msgpack_object *description, const frame_buffer_t *buffers,
           size_t count, char *error, size_t error_size)
{
    assert (description);
    assert (buffers || count == 0);
    return s_frame_new (description, buffers, count, NULL, error, error_size);
}

//  Fills error with ".kmqf: problem; ..." and returns NULL.
static frame_t *
s_kmqf_fail (char *error, size_t error_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static frame_t *
s_kmqf_fail (char *error, size_t error_size, const char *format, ...)
{
    char problem [256];
    va_list args;
    va_start (args, format);
    vsnprintf (problem, sizeof problem, format, args);
    va_end (args);
    if (error && error_size)
        snprintf (error, error_size, ".kmqf: %s; the file is not a whole .kmqf "
                  "(protocol.md 11.7): download it again", problem);
    return NULL;
}

frame_t *
frame_from_kmqf (const void *data, size_t size, char *error, size_t error_size)
{
    zmsg_t *msg = proto_stream_unpack (data, size, 2 + FRAME_MAX_BUFFERS,
                                       PROTO_MAX_PAYLOAD);
    if (!msg && errno == EMSGSIZE)
        return s_kmqf_fail (error, error_size, "more than %d frames, or a frame of "
                            "more than 1 GiB", 2 + FRAME_MAX_BUFFERS);
    if (!msg && errno == ENOMEM)
        return s_kmqf_fail (error, error_size, "out of memory for %zu bytes", size);
    if (!msg)
        return s_kmqf_fail (error, error_size, "%zu bytes that are truncated, empty or "
                            "longer than their frames", size);
    size_t frames = zmsg_size (msg);
    zframe_t *signature = zmsg_first (msg);
    zframe_t *packed = zmsg_next (msg);
    proto_fault_t fault;
    frame_t *self = NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    frame_buffer_t *buffers = NULL;
    if (frames < 2)
        s_kmqf_fail (error, error_size, "%zu frames; a .kmqf has 2 to %d", frames,
                     2 + FRAME_MAX_BUFFERS);
    else
    if (!zframe_streq (signature, FRAME_KMQF_SIGNATURE))
        s_kmqf_fail (error, error_size, "it does not start with the signature "
                     FRAME_KMQF_SIGNATURE);
    else
    if (zframe_size (packed) > PROTO_MAX_HEADER)
        s_kmqf_fail (error, error_size, "the description is %zu bytes, more than %u",
                     zframe_size (packed), PROTO_MAX_HEADER);
    else
    if (proto_msgpack_check (zframe_data (packed), zframe_size (packed),
                             "the description", &fault))
        s_kmqf_fail (error, error_size, "%s", fault.text);
    else
    if (msgpack_unpack_next (&unpacked, (const char *) zframe_data (packed),
                             zframe_size (packed), NULL) != MSGPACK_UNPACK_SUCCESS)
        s_kmqf_fail (error, error_size, "the description nests too deeply");
    else
    if (!(buffers = (frame_buffer_t *) calloc (frames - 1, sizeof (frame_buffer_t))))
        s_kmqf_fail (error, error_size, "out of memory for %zu buffers", frames - 2);
    else {
        zframe_t *frame;
        size_t count = 0;
        while ((frame = zmsg_next (msg))) {
            buffers [count].data = zframe_data (frame);
            buffers [count++].size = zframe_size (frame);
        }
        self = s_frame_new (&unpacked.data, buffers, count, &msg, error, error_size);
    }
    free (buffers);
    msgpack_unpacked_destroy (&unpacked);
    zmsg_destroy (&msg);
    return self;
}

size_t
frame_rows (frame_t *self)
{
    assert (self);
    return self->rows;
}

size_t
frame_columns (frame_t *self)
{
    assert (self);
    return self->column_count;
}

const msgpack_object *
frame_description (frame_t *self)
{
    assert (self);
    return &self->unpacked.data;
}

size_t
frame_buffer_count (frame_t *self)
{
    assert (self);
    return self->buffer_count;
}

const void *
frame_buffer (frame_t *self, size_t index, size_t *size)
{
    assert (self);
    if (index >= self->buffer_count)
        return NULL;
    if (size)
        *size = self->buffers [index].size;
    return self->buffers [index].size ? self->buffers [index].data : "";
}

//  One frame of the stream framing: big-endian u64 size, then the bytes.
static bool
s_write_frame (FILE *out, const void *data, size_t size)
{
    uint8_t head [8];
    for (int i = 0; i < 8; i++)
        head [i] = (uint8_t) ((uint64_t) size >> (56 - 8 * i));
    return fwrite (head, 1, 8, out) == 8
        && (size == 0 || fwrite (data, 1, size, out) == size);
}

int
frame_write_kmqf (frame_t *self, FILE *out)
{
    assert (self);
    assert (out);
    errno = 0;
    uint32_t frames = (uint32_t) (2 + self->buffer_count);
    uint8_t count [4] = { (uint8_t) (frames >> 24), (uint8_t) (frames >> 16),
                          (uint8_t) (frames >> 8), (uint8_t) frames };
    bool ok = fwrite (count, 1, 4, out) == 4
           && s_write_frame (out, FRAME_KMQF_SIGNATURE, strlen (FRAME_KMQF_SIGNATURE))
           && s_write_frame (out, self->packed.data, self->packed.size);
    for (size_t i = 0; ok && i < self->buffer_count; i++)
        ok = s_write_frame (out, self->buffers [i].data, self->buffers [i].size);
    if (ok && fflush (out) == 0)
        return 0;
    if (!errno)
        errno = EIO;
    return -1;
}
