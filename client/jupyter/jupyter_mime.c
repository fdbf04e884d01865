/*  jupyter_mime — raw kernelmq payloads as Jupyter JSON. See jupyter_mime.h.
    The trap: jansson refuses a string that is not valid UTF-8 (it returns
    NULL), and stream chunks may split a character, so text is repaired
    here and streams carry an incomplete tail over to their next chunk.  */
#include <sodium.h>
#include <czmq.h>
#include "jupyter_mime.h"
#include "kmq_private.h"
#include "mem.h"
#include "selftest.h"
#include "utf8.h"

json_t *
jupyter_mime_text (const void *data, size_t size)
{
    const unsigned char *bytes = (const unsigned char *) data;
    //  Worst case every byte becomes the 3 bytes of U+FFFD
    char *text = (char *) mem_alloc (size * 3 + 1);
    size_t out = 0;
    for (size_t i = 0; i < size; ) {
        size_t len = utf8_sequence (bytes + i, size - i);
        if (len == 0) {
            memcpy (text + out, "\xef\xbf\xbd", 3);
            out += 3;
            i++;
        }
        else {
            memcpy (text + out, bytes + i, len);
            out += len;
            i += len;
        }
    }
    json_t *string = json_stringn (text, out);
    free (text);
    if (!string)
        mem_oom ("a JSON string");
    return string;
}

size_t
jupyter_mime_complete_utf8 (const void *data, size_t size)
{
    const unsigned char *bytes = (const unsigned char *) data;
    //  Look back at most 3 bytes for the start of a sequence
    for (size_t back = 1; back <= 3 && back <= size; back++) {
        unsigned char c = bytes [size - back];
        if ((c & 0xc0) == 0x80)
            continue;               //  a continuation byte: keep looking
        size_t want = c >= 0xf0? 4: c >= 0xe0? 3: c >= 0xc0? 2: 1;
        return want > back? size - back: size;
    }
    return size;
}

static bool
s_is_json_type (const char *mime)
{
    size_t len = strlen (mime);
    return streq (mime, "application/json")
        || (len > 5 && streq (mime + len - 5, "+json"));
}

static bool
s_is_text_type (const char *mime)
{
    return strncmp (mime, "text/", 5) == 0 || streq (mime, "image/svg+xml")
        || streq (mime, "application/javascript");
}

static json_t *
s_base64 (const void *data, size_t size)
{
    int variant = sodium_base64_VARIANT_ORIGINAL;
    size_t length = sodium_base64_ENCODED_LEN (size, variant);
    char *text = (char *) mem_alloc (length);
    sodium_bin2base64 (text, length, (const unsigned char *) data, size, variant);
    json_t *string = json_string (text);
    free (text);
    if (!string)
        mem_oom ("a base64 string");
    return string;
}

json_t *
jupyter_mime_bundle (kmq_reply_t *msg)
{
    json_t *data = json_object ();
    size_t count = kmq_reply_mime_count (msg);
    for (size_t i = 0; i < count; i++) {
        const char *mime = kmq_reply_mime (msg, i);
        size_t size = 0;
        const void *bytes = kmq_reply_mime_data (msg, i, &size);
        if (!mime || !bytes || streq (mime, JUPYTER_MIME_CLEAR_OUTPUT))
            continue;
        json_t *value = NULL;
        if (s_is_json_type (mime))
            value = json_loadb ((const char *) bytes, size, JSON_DECODE_ANY, NULL);
        if (!value)
            value = s_is_text_type (mime) || s_is_json_type (mime)
                  ? jupyter_mime_text (bytes, size)
                  : s_base64 (bytes, size);
        json_object_set_new (data, mime, value);
    }
    return data;
}

bool
jupyter_mime_is_clear_output (kmq_reply_t *msg, bool *wait)
{
    size_t size = 0;
    const void *bytes = kmq_reply_mime_find (msg, JUPYTER_MIME_CLEAR_OUTPUT, &size);
    if (!bytes)
        return false;
    json_t *value = json_loadb ((const char *) bytes, size, 0, NULL);
    *wait = json_is_true (json_object_get (value, "wait"));
    json_decref (value);
    return true;
}

size_t
jupyter_mime_cursor_to_byte (const char *code, size_t size, size_t cursor)
{
    size_t offset = 0;
    for (size_t points = 0; points < cursor && offset < size; points++) {
        size_t len = utf8_sequence ((const uint8_t *) code + offset,
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
        size_t len = utf8_sequence ((const uint8_t *) code + i, size - i);
        i += len? len: 1;
    }
    return points;
}

void
jupyter_mime_test (bool verbose)
{
    if (verbose)
        printf (" * jupyter_mime: ");
    json_t *text = jupyter_mime_text ("caf\xc3\xa9 \xff!", 8);
    SELFTEST_CHECK (streq (json_string_value (text), "caf\xc3\xa9 \xef\xbf\xbd!"));
    json_decref (text);
    //  "é" split after its first byte: the first chunk keeps 3 of 4 bytes
    SELFTEST_CHECK (jupyter_mime_complete_utf8 ("ab\xc3", 3) == 2);
    SELFTEST_CHECK (jupyter_mime_complete_utf8 ("ab\xc3\xa9", 4) == 4);
    SELFTEST_CHECK (jupyter_mime_complete_utf8 ("\xf0\x9f\x98", 3) == 0);
    SELFTEST_CHECK (jupyter_mime_complete_utf8 ("abc", 3) == 3);
    //  "é = x": code point 4 is byte 5
    const char *code = "\xc3\xa9 = x";
    SELFTEST_CHECK (jupyter_mime_cursor_to_byte (code, 6, 4) == 5);
    SELFTEST_CHECK (jupyter_mime_byte_to_cursor (code, 6, 5) == 4);
    SELFTEST_CHECK (jupyter_mime_cursor_to_byte (code, 6, 99) == 6);

    //  A display event's bundle: text as text, PNG bytes as base64, JSON
    //  types as JSON values, a broken JSON payload as its text
    const char *mime [] = { "text/plain", "image/png", "application/json",
                            "application/vnd.plotly.v1+json" };
    const void *data [] = { "caf\xc3\xa9", "\x89PNG\0", "{\"a\": [1]}", "{broken" };
    size_t sizes [] = { 5, 5, 10, 7 };
    zmsg_t *zmsg = proto_encode_display (7, "nb1", mime, data, sizes, 4);
    proto_fault_t fault;
    proto_msg_t *decoded = proto_decode (&zmsg, &fault);
    SELFTEST_CHECK (decoded);
    kmq_reply_t *event = kmq_reply_from_msg (&decoded);
    json_t *bundle = jupyter_mime_bundle (event);
    SELFTEST_CHECK (json_object_size (bundle) == 4);
    SELFTEST_CHECK (streq (json_string_value (json_object_get (bundle, "text/plain")),
                           "caf\xc3\xa9"));
    SELFTEST_CHECK (streq (json_string_value (json_object_get (bundle, "image/png")),
                           "iVBORwA="));
    SELFTEST_CHECK (json_integer_value (json_array_get (json_object_get (
        json_object_get (bundle, "application/json"), "a"), 0)) == 1);
    SELFTEST_CHECK (streq (json_string_value (json_object_get (
        bundle, "application/vnd.plotly.v1+json")), "{broken"));
    bool wait = true;
    SELFTEST_CHECK (!jupyter_mime_is_clear_output (event, &wait));
    json_decref (bundle);
    kmq_reply_destroy (&event);

    //  clear_output(wait=True) as the glue sends it
    const char *clear [] = { "text/plain", JUPYTER_MIME_CLEAR_OUTPUT };
    const void *clear_data [] = { "", "{\"wait\": true}" };
    size_t clear_sizes [] = { 0, 14 };
    zmsg = proto_encode_display (8, "nb1", clear, clear_data, clear_sizes, 2);
    decoded = proto_decode (&zmsg, &fault);
    event = kmq_reply_from_msg (&decoded);
    wait = false;
    SELFTEST_CHECK (jupyter_mime_is_clear_output (event, &wait) && wait);
    bundle = jupyter_mime_bundle (event);
    SELFTEST_CHECK (json_object_size (bundle) == 1);    //  its own type left out
    json_decref (bundle);
    kmq_reply_destroy (&event);
    if (verbose)
        printf ("OK\n");
}
