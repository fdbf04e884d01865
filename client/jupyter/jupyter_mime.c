/*  jupyter_mime — cursor offsets, code points and bytes. See jupyter_mime.h. */
#include <czmq.h>
#include "jupyter_mime.h"
#include "selftest.h"
#include "utf8.h"

size_t
jupyter_mime_cursor_to_byte (const char *code, size_t size, size_t cursor)
{
    size_t offset = 0;
    for (size_t points = 0; points < cursor && offset < size; points++) {
        size_t len = utf8_sequence ((const unsigned char *) code + offset,
                                        size - offset);
        offset += len? len: 1;
    }
    return offset < size? offset: size;
}

size_t
jupyter_mime_byte_to_cursor (const char *code, size_t size, size_t offset)
{
    size_t points = 0;
    for (size_t i = 0; i < offset && i < size; points++) {
        size_t len = utf8_sequence ((const unsigned char *) code + i, size - i);
        i += len? len: 1;
    }
    return points;
}

void
jupyter_mime_test (bool verbose)
{
    if (verbose)
        printf (" * jupyter_mime: ");
    //  "é = x": code point 4 is byte 5
    const char *code = "\xc3\xa9 = x";
    SELFTEST_CHECK (jupyter_mime_cursor_to_byte (code, 6, 4) == 5);
    SELFTEST_CHECK (jupyter_mime_byte_to_cursor (code, 6, 5) == 4);
    SELFTEST_CHECK (jupyter_mime_cursor_to_byte (code, 6, 99) == 6);
    if (verbose)
        printf ("OK\n");
}
