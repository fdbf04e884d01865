/*  frame_test — selftest of the frame module: a frame of every kind written
    as CSV and JSON, .kmqf round trips, and the lying descriptions and
    buffers a hostile kernel or file could send, each refused with a
    sentence that names the column. Also the usage example of frame.h.
*/
#include "frame_internal.h"
#include "selftest.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define S_BUFFERS 16

//  A test frame: its packed description and its buffers' bytes.
typedef struct {
    msgpack_sbuffer packed;
    msgpack_packer packer;
    frame_buffer_t buffers [S_BUFFERS];
    uint8_t store [S_BUFFERS][64];
    size_t count;
} s_test_t;

//  How the test frame lies, when it does.
typedef struct {
    uint64_t rows;                  //  what the description says (3 is true)
    const char *kind;               //  column 0's kind ("numeric")
    const char *dtype;              //  column 0's dtype ("int64")
    const char *tz;                 //  column "t"'s time zone ("UTC")
    bool twice;                     //  column 0 says "kind" twice
} s_lies_t;

static void
s_str (msgpack_packer *packer, const char *text)
{
    msgpack_pack_str (packer, strlen (text));
    msgpack_pack_str_body (packer, text, strlen (text));
}

//  Packs a map of the pairs spec lists, one letter each: s str, u uint64,
//  i int64, b bool (an int), n nil, and '.' for a value the caller packs
//  next (only last). The arguments are each pair's key, then its value.
static void
s_map (msgpack_packer *packer, const char *spec, ...)
{
    va_list args;
    va_start (args, spec);
    msgpack_pack_map (packer, (uint32_t) strlen (spec));
    for (const char *c = spec; *c; c++) {
        s_str (packer, va_arg (args, const char *));
        switch (*c) {
            case 's': s_str (packer, va_arg (args, const char *)); break;
            case 'u': msgpack_pack_uint64 (packer, va_arg (args, uint64_t)); break;
            case 'i': msgpack_pack_int64 (packer, va_arg (args, int64_t)); break;
            case 'b': if (va_arg (args, int)) msgpack_pack_true (packer);
                      else msgpack_pack_false (packer);
                      break;
            case 'n': msgpack_pack_nil (packer); break;
            default: break;
        }
    }
    va_end (args);
}

static void
s_buffer (s_test_t *test, const void *data, size_t size)
{
    SELFTEST_CHECK (test->count < S_BUFFERS && size <= sizeof test->store [0]);
    memcpy (test->store [test->count], data, size);
    test->buffers [test->count].data = test->store [test->count];
    test->buffers [test->count].size = size;
    test->count++;
}

static void
s_int64s (s_test_t *test, int64_t a, int64_t b, int64_t c)
{
    int64_t values [3] = { a, b, c };
    s_buffer (test, values, sizeof values);     //  little-endian here
}

//  {rows, index: range, columns: [...]} of 8 columns, every kind, 3 rows,
//  and its 13 buffers; lies as told.
static void
s_build (s_test_t *test, const s_lies_t *lies)
{
    memset (test, 0, sizeof *test);
    msgpack_sbuffer_init (&test->packed);
    msgpack_packer_init (&test->packer, &test->packed, msgpack_sbuffer_write);
    msgpack_packer *packer = &test->packer;
    msgpack_pack_map (packer, 3);
    s_str (packer, "rows");
    msgpack_pack_uint64 (packer, lies->rows);
    s_str (packer, "index");
    s_map (packer, "siii", "kind", "range", "start", (int64_t) 0,
           "stop", (int64_t) (lies->rows > INT64_MAX ? 3 : lies->rows), "step", (int64_t) 1);
    s_str (packer, "columns");
    msgpack_pack_array (packer, 8);
    if (lies->twice)
        s_map (packer, "ssss", "name", "i", "kind", lies->kind, "kind", lies->kind,
               "dtype", lies->dtype);
    else
        s_map (packer, "sss", "name", "i", "kind", lies->kind, "dtype", lies->dtype);
    s_int64s (test, 1, -2, INT64_MAX);
    s_map (packer, "sss", "name", "f", "kind", "numeric", "dtype", "float64");
    double floats [3] = { 0.1, 0.0 / 0.0, 1.0 / 0.0 };
    s_buffer (test, floats, sizeof floats);
    s_map (packer, "sssb", "name", "s", "kind", "string", "dtype", "object",
           "validity", 1);
    s_buffer (test, "\x05", 1);
    int64_t offsets [4] = { 0, 4, 4, 7 };
    s_buffer (test, offsets, sizeof offsets);
    s_buffer (test, "a,\"b\xc3\xa9\n", 7);
    s_map (packer, "ssss", "name", "t", "kind", "datetime", "dtype", "datetime64[ns]",
           "tz", lies->tz);
    s_int64s (test, 0, INT64_MIN, 1500000000);
    s_map (packer, "sss", "name", "d", "kind", "timedelta", "dtype", "timedelta64[ns]");
    s_int64s (test, 93784500000000, INT64_MIN, -1000000000);
    s_map (packer, "sssbsu.", "name", "c", "kind", "categorical", "dtype", "category",
           "ordered", 0, "codes", "int8", "count", (uint64_t) 2, "categories");
    s_map (packer, "ss", "kind", "string", "dtype", "object");
    s_buffer (test, "\x01\xff\x00", 3);
    s_int64s (test, 0, 1, 2);
    s_buffer (test, "xy", 2);
    s_map (packer, "sssb", "name", "m", "kind", "masked", "dtype", "Int32",
           "validity", 1);
    s_buffer (test, "\x05", 1);
    int32_t masked [3] = { 7, -99, 9 };
    s_buffer (test, masked, sizeof masked);
    s_map (packer, "sss", "name", "b", "kind", "numeric", "dtype", "bool");
    s_buffer (test, "\x01\x00\x01", 3);
}

static const s_lies_t s_truth = { 3, "numeric", "int64", "UTC", false };

static const char *s_csv =
    "i,f,s,t,d,c,m,b\n"
    "1,0.1,\"a,\"\"b\",1970-01-01T00:00:00Z,P1DT2H3M4.5S,y,7,True\n"
    "-2,,,,,,,False\n"
    "9223372036854775807,inf,\"\xc3\xa9\n\",1970-01-01T00:00:01.5Z,-P0DT0H0M1S,x,9,True\n";

static const char *s_json =
    "[{\"i\":1,\"f\":0.1,\"s\":\"a,\\\"b\",\"t\":\"1970-01-01T00:00:00Z\","
    "\"d\":\"P1DT2H3M4.5S\",\"c\":\"y\",\"m\":7,\"b\":true},"
    "{\"i\":-2,\"f\":null,\"s\":null,\"t\":null,\"d\":null,\"c\":null,\"m\":null,"
    "\"b\":false},"
    "{\"i\":9223372036854775807,\"f\":null,\"s\":\"\xc3\xa9\\n\","
    "\"t\":\"1970-01-01T00:00:01.5Z\",\"d\":\"-P0DT0H0M1S\",\"c\":\"x\",\"m\":9,"
    "\"b\":true}]\n";

//  Validates the test frame; returns it (NULL when refused, error filled).
static frame_t *
s_frame (s_test_t *test, char *error, size_t error_size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    SELFTEST_CHECK (msgpack_unpack_next (&unpacked, test->packed.data, test->packed.size,
                                  NULL) == MSGPACK_UNPACK_SUCCESS);
    frame_t *frame = frame_new (&unpacked.data, test->buffers, test->count,
                                error, error_size);
    msgpack_unpacked_destroy (&unpacked);
    return frame;
}

//  What writer (csv, json or kmqf) writes for frame, as a new string.
static char *
s_written (frame_t *frame, int (*writer) (frame_t *, FILE *), size_t *size)
{
    char *text = NULL;
    size_t scratch;
    FILE *out = open_memstream (&text, size ? size : &scratch);
    SELFTEST_CHECK (out);
    SELFTEST_CHECK (writer (frame, out) == 0);
    fclose (out);
    return text;
}

//  Expects the test frame, as lies and the last change make it, to be
//  refused with an error that holds both needles.
static void
s_refused (s_test_t *test, const char *needle, const char *detail, bool verbose)
{
    char error [512] = "";
    frame_t *frame = s_frame (test, error, sizeof error);
    if (verbose)
        printf ("\n   refused: %s", error);
    if (frame || !strstr (error, needle) || (detail && !strstr (error, detail)))
        fprintf (stderr, "frame_test: expected '%s' / '%s', got '%s'\n", needle,
                 detail ? detail : "", frame ? "(valid)" : error);
    SELFTEST_CHECK (!frame);
    SELFTEST_CHECK (strstr (error, needle));
    SELFTEST_CHECK (!detail || strstr (error, detail));
    msgpack_sbuffer_destroy (&test->packed);
}

//  Refuses the test frame after buffer index is replaced by size bytes.
static void
s_refused_with (size_t index, const void *data, size_t size, const char *needle,
                const char *detail, bool verbose)
{
    s_test_t test;
    s_build (&test, &s_truth);
    memcpy (test.store [index], data, size);
    test.buffers [index].size = size;
    s_refused (&test, needle, detail, verbose);
}

static void
s_lie (s_lies_t lies, const char *needle, const char *detail, bool verbose)
{
    s_test_t test;
    s_build (&test, &lies);
    s_refused (&test, needle, detail, verbose);
}

static void
s_test_valid (void)
{
    s_test_t test;
    s_build (&test, &s_truth);
    char error [256];
    frame_t *frame = s_frame (&test, error, sizeof error);
    if (!frame)
        fprintf (stderr, "frame_test: %s\n", error);
    SELFTEST_CHECK (frame);
    SELFTEST_CHECK (frame_rows (frame) == 3);
    SELFTEST_CHECK (frame_columns (frame) == 8);
    SELFTEST_CHECK (frame_buffer_count (frame) == 13);
    size_t size;
    SELFTEST_CHECK (frame_buffer (frame, 12, &size) && size == 3);
    SELFTEST_CHECK (!frame_buffer (frame, 13, &size));
    SELFTEST_CHECK (frame_description (frame)->type == MSGPACK_OBJECT_MAP);
    char *csv = s_written (frame, frame_write_csv, NULL);
    if (strcmp (csv, s_csv) != 0)
        fprintf (stderr, "frame_test: csv was:\n%s", csv);
    SELFTEST_CHECK (strcmp (csv, s_csv) == 0);
    char *json = s_written (frame, frame_write_json, NULL);
    if (strcmp (json, s_json) != 0)
        fprintf (stderr, "frame_test: json was:\n%s", json);
    SELFTEST_CHECK (strcmp (json, s_json) == 0);

    //  .kmqf: written, read back, the same frame; every cut is refused
    size_t kmqf_size;
    char *kmqf = s_written (frame, frame_write_kmqf, &kmqf_size);
    SELFTEST_CHECK (memcmp (kmqf, "\0\0\0\x0f\0\0\0\0\0\0\0\x05KMQF1", 17) == 0);
    frame_t *back = frame_from_kmqf (kmqf, kmqf_size, error, sizeof error);
    SELFTEST_CHECK (back);
    char *again = s_written (back, frame_write_csv, NULL);
    SELFTEST_CHECK (strcmp (again, s_csv) == 0);
    frame_destroy (&back);
    SELFTEST_CHECK (!back);
    frame_destroy (&back);          //  no-op on NULL
    for (size_t cut = 0; cut < kmqf_size; cut++)
        SELFTEST_CHECK (!frame_from_kmqf (kmqf, cut, error, sizeof error));
    SELFTEST_CHECK (strstr (error, ".kmqf:"));
    SELFTEST_CHECK (!frame_from_kmqf (kmqf, kmqf_size + 1, error, sizeof error));
    kmqf [16] = '2';
    SELFTEST_CHECK (!frame_from_kmqf (kmqf, kmqf_size, error, sizeof error));
    SELFTEST_CHECK (strstr (error, "signature KMQF1"));
    kmqf [16] = '1';
    //  flipped bytes never crash and never pass unnoticed where it matters
    uint32_t seed = 7;
    for (int round = 0; round < 2000; round++) {
        char *copy = (char *) malloc (kmqf_size);
        memcpy (copy, kmqf, kmqf_size);
        for (int flips = 0; flips < 1 + round % 4; flips++) {
            seed = seed * 1103515245u + 12345u;
            copy [(seed >> 8) % kmqf_size] ^= (char) (1u << ((seed >> 4) % 8));
        }
        frame_t *mutant = frame_from_kmqf (copy, kmqf_size, error, sizeof error);
        if (mutant) {
            char *text = s_written (mutant, frame_write_json, NULL);
            free (text);
            frame_destroy (&mutant);
        }
        free (copy);
    }
    free (kmqf);
    free (again);
    free (json);
    free (csv);
    frame_destroy (&frame);
    msgpack_sbuffer_destroy (&test.packed);
}

//  An index of strings with a name, float32, uint64 and a naive datetime.
static void
s_test_index (void)
{
    s_test_t test;
    memset (&test, 0, sizeof test);
    msgpack_sbuffer_init (&test.packed);
    msgpack_packer_init (&test.packer, &test.packed, msgpack_sbuffer_write);
    msgpack_packer *packer = &test.packer;
    msgpack_pack_map (packer, 3);
    s_str (packer, "rows");
    msgpack_pack_uint64 (packer, 2);
    s_str (packer, "index");
    s_map (packer, "sss", "name", "k", "kind", "string", "dtype", "string");
    int64_t offsets [3] = { 0, 2, 4 };
    s_buffer (&test, offsets, sizeof offsets);
    s_buffer (&test, "r1r2", 4);
    s_str (packer, "columns");
    msgpack_pack_array (packer, 3);
    s_map (packer, "sss", "name", "u", "kind", "numeric", "dtype", "uint64");
    uint64_t unsigned_values [2] = { 0, UINT64_MAX };
    s_buffer (&test, unsigned_values, sizeof unsigned_values);
    s_map (packer, "sss", "name", "g", "kind", "numeric", "dtype", "float32");
    float floats [2] = { 1.5f, -0.0f };
    s_buffer (&test, floats, sizeof floats);
    s_map (packer, "sssn", "name", "n", "kind", "datetime", "dtype", "datetime64[ns]",
           "tz");
    int64_t times [2] = { 1709294400000000000, -1 };
    s_buffer (&test, times, sizeof times);
    char error [256];
    frame_t *frame = s_frame (&test, error, sizeof error);
    SELFTEST_CHECK (frame);
    char *csv = s_written (frame, frame_write_csv, NULL);
    SELFTEST_CHECK (streq (csv, "k,u,g,n\n"
                         "r1,0,1.5,2024-03-01T12:00:00\n"
                         "r2,18446744073709551615,-0.0,1969-12-31T23:59:59.999999999\n"));
    char *json = s_written (frame, frame_write_json, NULL);
    SELFTEST_CHECK (streq (json, "[{\"k\":\"r1\",\"u\":0,\"g\":1.5,\"n\":\"2024-03-01T12:00:00\"},"
                          "{\"k\":\"r2\",\"u\":18446744073709551615,\"g\":-0.0,"
                          "\"n\":\"1969-12-31T23:59:59.999999999\"}]\n"));
    free (csv);
    free (json);
    frame_destroy (&frame);
    msgpack_sbuffer_destroy (&test.packed);
}

static void
s_test_lies (bool verbose)
{
    //  buffer sizes
    s_refused_with (0, "12345678", 8, "column 'i'", "(buffer 0) is 8 bytes; it must "
                    "be exactly 24", verbose);
    uint8_t big [25] = { 0 };
    s_refused_with (0, big, 25, "column 'i'", "is 25 bytes", verbose);
    s_test_t test;
    s_build (&test, &s_truth);
    test.count--;
    s_refused (&test, "column 'b'", "its data is buffer 12, but the frame has only 12",
               verbose);
    s_build (&test, &s_truth);
    test.count++;
    s_refused (&test, "take 13 buffers, but the frame has 14", NULL, verbose);

    //  lying rows: sizes no longer match, and nothing is allocated for them
    s_lie ((s_lies_t) { 4, "numeric", "int64", "UTC", false }, "column 'i'",
           "exactly 32", verbose);
    s_lie ((s_lies_t) { 2, "numeric", "int64", "UTC", false }, "column 'i'",
           "exactly 16", verbose);
    s_lie ((s_lies_t) { FRAME_MAX_ROWS, "numeric", "int64", "UTC", false },
           "column 'i'", "exactly 17179869176", verbose);
    s_lie ((s_lies_t) { 1ull << 40, "numeric", "int64", "UTC", false },
           "1099511627776 rows, more than", NULL, verbose);
    s_lie ((s_lies_t) { UINT64_MAX, "numeric", "int64", "UTC", false },
           "rows, more than", NULL, verbose);

    //  kinds and dtypes
    s_lie ((s_lies_t) { 3, "pickle", "int64", "UTC", false }, "column 'i'",
           "unknown kind 'pickle'", verbose);
    s_lie ((s_lies_t) { 3, "numeric", "object", "UTC", false },
           "dtype 'object' is not one of kind 'numeric'", NULL, verbose);
    s_lie ((s_lies_t) { 3, "range", "int64", "UTC", false },
           "kind 'range' is only for the index", NULL, verbose);
    s_lie ((s_lies_t) { 3, "numeric", "int64", "UTC", true },
           "the key 'kind' twice in one map", NULL, verbose);
    s_lie ((s_lies_t) { 3, "numeric", "int64", "../../etc/passwd", false },
           "column 't'", "time zone '../../etc/passwd' is not", verbose);
    s_lie ((s_lies_t) { 3, "numeric", "int64", "/etc/localtime", false },
           "column 't'", "time zone", verbose);

    //  offsets, missing values, UTF-8
    int64_t offsets [4] = { 0, 4, 3, 7 };
    s_refused_with (3, offsets, 32, "column 's'", "decrease at value 1", verbose);
    offsets [0] = 1;
    offsets [2] = 4;
    s_refused_with (3, offsets, 32, "column 's'", "first offset is 1", verbose);
    int64_t past [4] = { 0, 4, 4, 99 };
    s_refused_with (3, past, 32, "column 's'", "(buffer 4) is 7 bytes; it must be "
                    "exactly 99", verbose);
    int64_t negative [4] = { 0, 4, 4, -7 };
    s_refused_with (3, negative, 32, "column 's'", "last offset is negative", verbose);
    int64_t full [4] = { 0, 4, 5, 7 };
    s_refused_with (3, full, 32, "column 's'", "missing value 1 is not empty", verbose);
    s_refused_with (4, "a,\"b\xff\xa9\n", 7, "column 's'", "value 2 is not valid UTF-8",
                    verbose);
    s_refused_with (4, "a,\"b\xc0\x8a\n", 7, "column 's'", "value 2 is not valid",
                    verbose);
    s_refused_with (4, "a,\"\xed\xa0\x80\n", 7, "column 's'", "value 0 is not valid",
                    verbose);
    //  a character split between two values
    int64_t split [4] = { 0, 5, 5, 7 };
    s_build (&test, &s_truth);
    memcpy (test.store [3], split, sizeof split);
    memcpy (test.store [2], "\x07", 1);
    s_refused (&test, "column 's'", "value 0 is not valid UTF-8", verbose);

    //  codes, categories, bools
    s_refused_with (7, "\x02\xff\x00", 3, "column 'c'", "code 2 of value 0 is "
                    "outside [-1, 2)", verbose);
    s_refused_with (7, "\x00\xfe\x00", 3, "column 'c'", "code -2 of value 1", verbose);
    s_refused_with (9, "xx", 2, "column 'c'", "its categories repeat a value", verbose);
    s_refused_with (12, "\x01\x02\x00", 3, "column 'b'", "value 1 is the byte 2",
                    verbose);
}

static void
s_test_shapes (bool verbose)
{
    char error [256];
    msgpack_object nil = { .type = MSGPACK_OBJECT_NIL };
    SELFTEST_CHECK (!frame_new (&nil, NULL, 0, error, sizeof error));
    SELFTEST_CHECK (strstr (error, "the description is a nil, not a map"));
    msgpack_object array = { .type = MSGPACK_OBJECT_ARRAY };
    SELFTEST_CHECK (!frame_new (&array, NULL, 0, NULL, 0));

    //  bin values, non-str keys and non-UTF-8 strings are not a description
    s_test_t test;
    memset (&test, 0, sizeof test);
    msgpack_sbuffer_init (&test.packed);
    msgpack_packer_init (&test.packer, &test.packed, msgpack_sbuffer_write);
    msgpack_pack_map (&test.packer, 1);
    s_str (&test.packer, "rows");
    msgpack_pack_bin (&test.packer, 1);
    msgpack_pack_bin_body (&test.packer, "x", 1);
    s_refused (&test, "bin or ext", NULL, verbose);
    msgpack_sbuffer_init (&test.packed);
    msgpack_pack_map (&test.packer, 1);
    msgpack_pack_uint64 (&test.packer, 1);
    msgpack_pack_uint64 (&test.packer, 1);
    s_refused (&test, "a map key that is not a str", NULL, verbose);
    msgpack_sbuffer_init (&test.packed);
    msgpack_pack_map (&test.packer, 1);
    msgpack_pack_str (&test.packer, 2);
    msgpack_pack_str_body (&test.packer, "\xff\xfe", 2);
    msgpack_pack_nil (&test.packer);
    s_refused (&test, "not UTF-8", NULL, verbose);
    msgpack_sbuffer_init (&test.packed);
    s_map (&test.packer, "us", "rows", (uint64_t) 0, "index", "range");
    s_refused (&test, "'index' is a str, not a map", NULL, verbose);
    msgpack_sbuffer_init (&test.packed);
    s_map (&test.packer, "u.", "rows", (uint64_t) 0, "columns");
    msgpack_pack_array (&test.packer, 0);
    s_refused (&test, "the description has no 'index'", NULL, verbose);

    //  the empty frame, and too many buffers
    msgpack_sbuffer_init (&test.packed);
    msgpack_pack_map (&test.packer, 3);
    s_str (&test.packer, "rows");
    msgpack_pack_uint64 (&test.packer, 0);
    s_str (&test.packer, "index");
    s_map (&test.packer, "siii", "kind", "range", "start", (int64_t) 0,
           "stop", (int64_t) 0, "step", (int64_t) 1);
    s_str (&test.packer, "columns");
    msgpack_pack_array (&test.packer, 0);
    frame_t *empty = s_frame (&test, error, sizeof error);
    SELFTEST_CHECK (empty && frame_rows (empty) == 0 && frame_columns (empty) == 0);
    char *csv = s_written (empty, frame_write_csv, NULL);
    char *json = s_written (empty, frame_write_json, NULL);
    SELFTEST_CHECK (streq (csv, "\n") && streq (json, "[]\n"));
    free (csv);
    free (json);
    frame_destroy (&empty);
    frame_buffer_t *many = (frame_buffer_t *) calloc (FRAME_MAX_BUFFERS + 1,
                                                      sizeof (frame_buffer_t));
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    SELFTEST_CHECK (msgpack_unpack_next (&unpacked, test.packed.data, test.packed.size, NULL)
             == MSGPACK_UNPACK_SUCCESS);
    SELFTEST_CHECK (!frame_new (&unpacked.data, many, FRAME_MAX_BUFFERS + 1, error,
                         sizeof error));
    SELFTEST_CHECK (strstr (error, "4097 buffers, more than the 4096"));
    msgpack_unpacked_destroy (&unpacked);
    free (many);
    msgpack_sbuffer_destroy (&test.packed);
}

void
frame_test (bool verbose)
{
    if (verbose)
        printf ("\n");
    s_test_valid ();
    s_test_index ();
    s_test_lies (verbose);
    s_test_shapes (verbose);
    if (verbose)
        printf ("\n");
}
