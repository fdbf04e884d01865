/*  frame_kmqf — libFuzzer harness for the frame format's C decoder
    (common/frame.c, frame_check.c): a .kmqf file as `kmq convert` and
    kmq_frame_load read it, and as frame_new sees a frame download from a
    hostile kernel (the same validation, protocol.md 11.6).

    Input: the bytes of a .kmqf file (protocol.md 11.7).

    The C side is the one that reads buffers by offsets and codes a peer
    chose, so a valid frame is then written as CSV, JSON and .kmqf: each
    writer reads every value the validation let through. Beyond "no crash,
    no leak": the .kmqf written is valid again, writing it again gives the
    same bytes, and the CSV of both is the same.
*/
#include "frame.h"
#include "selftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *s_null;

//  The frame written by write into a new buffer (*size_p bytes; caller
//  frees).
static char *
s_written (frame_t *frame, int (*write) (frame_t *, FILE *), size_t *size_p)
{
    char *text = NULL;
    FILE *out = open_memstream (&text, size_p);
    SELFTEST_CHECK (out);
    SELFTEST_CHECK (write (frame, out) == 0);
    SELFTEST_CHECK (fclose (out) == 0);
    return text;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_null = fopen ("/dev/null", "w");
    SELFTEST_CHECK (s_null);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char error [512] = "";
    frame_t *frame = frame_from_kmqf (data, size, error, sizeof error);
    if (!frame) {
        SELFTEST_CHECK (error [0]);
        return 0;
    }
    for (size_t i = 0; i < frame_buffer_count (frame); i++) {
        size_t buffer_size = SIZE_MAX;
        SELFTEST_CHECK (frame_buffer (frame, i, &buffer_size) && buffer_size < size);
    }
    SELFTEST_CHECK (!frame_buffer (frame, frame_buffer_count (frame), NULL));
    SELFTEST_CHECK (frame_description (frame)->type == MSGPACK_OBJECT_MAP);
    //  Rows without buffers (no columns, a range index) cost nothing in
    //  the input and a line each in the output: 2^31 of them are a valid
    //  frame and a 2 GiB CSV, not a finding.
    if (frame_rows (frame) > size) {
        frame_destroy (&frame);
        return 0;
    }
    SELFTEST_CHECK (frame_write_json (frame, s_null) == 0);

    size_t kmqf_size, csv_size;
    char *kmqf = s_written (frame, frame_write_kmqf, &kmqf_size);
    char *csv = s_written (frame, frame_write_csv, &csv_size);
    frame_t *again = frame_from_kmqf (kmqf, kmqf_size, error, sizeof error);
    if (!again)
        fprintf (stderr, "a written .kmqf is refused: %s\n", error);
    SELFTEST_CHECK (again);
    SELFTEST_CHECK (frame_rows (again) == frame_rows (frame)
                    && frame_columns (again) == frame_columns (frame)
                    && frame_buffer_count (again) == frame_buffer_count (frame));
    size_t kmqf_again_size, csv_again_size;
    char *kmqf_again = s_written (again, frame_write_kmqf, &kmqf_again_size);
    char *csv_again = s_written (again, frame_write_csv, &csv_again_size);
    SELFTEST_CHECK (kmqf_again_size == kmqf_size
                    && memcmp (kmqf_again, kmqf, kmqf_size) == 0);
    SELFTEST_CHECK (csv_again_size == csv_size && memcmp (csv_again, csv, csv_size) == 0);
    free (kmqf);
    free (csv);
    free (kmqf_again);
    free (csv_again);
    frame_destroy (&again);
    frame_destroy (&frame);
    return 0;
}
