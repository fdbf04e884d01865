/*  kmq_json — raw kernelmq payloads as JSON. See kmq_json.h.
    The trap: jansson refuses a string that is not valid UTF-8 (it returns
    NULL), and stream chunks may split a character, so text is repaired
    here and streams carry an incomplete tail over to their next chunk.  */
#include <sodium.h>
#include <czmq.h>
#include "kmq_json.h"
#include "kmq_private.h"
#include "mem.h"
#include "selftest.h"
#include "utf8.h"

json_t *
kmq_json_text (const void *data, size_t size)
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
kmq_json_complete_utf8 (const void *data, size_t size)
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

json_t *
kmq_json_base64 (const void *data, size_t size)
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
kmq_json_bundle (kmq_reply_t *msg)
{
    json_t *data = json_object ();
    size_t count = kmq_reply_mime_count (msg);
    for (size_t i = 0; i < count; i++) {
        const char *mime = kmq_reply_mime (msg, i);
        size_t size = 0;
        const void *bytes = kmq_reply_mime_data (msg, i, &size);
        if (!mime || !bytes || streq (mime, KMQ_JSON_CLEAR_OUTPUT))
            continue;
        json_t *value = NULL;
        if (s_is_json_type (mime))
            value = json_loadb ((const char *) bytes, size, JSON_DECODE_ANY, NULL);
        if (!value)
            value = s_is_text_type (mime) || s_is_json_type (mime)
                  ? kmq_json_text (bytes, size)
                  : kmq_json_base64 (bytes, size);
        json_object_set_new (data, mime, value);
    }
    return data;
}

bool
kmq_json_is_clear_output (kmq_reply_t *msg, bool *wait)
{
    size_t size = 0;
    const void *bytes = kmq_reply_mime_find (msg, KMQ_JSON_CLEAR_OUTPUT, &size);
    if (!bytes)
        return false;
    json_t *value = json_loadb ((const char *) bytes, size, 0, NULL);
    *wait = json_is_true (json_object_get (value, "wait"));
    json_decref (value);
    return true;
}

json_t *
kmq_json_fields (kmq_reply_t *msg, const char *const *drop)
{
    char *text = kmq_reply_json (msg);
    json_t *json = json_loads (text, 0, NULL);
    free (text);
    if (!json)
        json = json_object ();
    for (size_t i = 0; drop && drop [i]; i++)
        json_object_del (json, drop [i]);
    return json;
}

void
kmq_json_test (bool verbose)
{
    if (verbose)
        printf (" * kmq_json: ");
    json_t *text = kmq_json_text ("caf\xc3\xa9 \xff!", 8);
    SELFTEST_CHECK (streq (json_string_value (text), "caf\xc3\xa9 \xef\xbf\xbd!"));
    json_decref (text);
    //  "é" split after its first byte: the first chunk keeps 3 of 4 bytes
    SELFTEST_CHECK (kmq_json_complete_utf8 ("ab\xc3", 3) == 2);
    SELFTEST_CHECK (kmq_json_complete_utf8 ("ab\xc3\xa9", 4) == 4);
    SELFTEST_CHECK (kmq_json_complete_utf8 ("\xf0\x9f\x98", 3) == 0);
    SELFTEST_CHECK (kmq_json_complete_utf8 ("abc", 3) == 3);

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
    json_t *bundle = kmq_json_bundle (event);
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
    SELFTEST_CHECK (!kmq_json_is_clear_output (event, &wait));
    const char *drop [] = { "mime", NULL };
    json_t *fields = kmq_json_fields (event, drop);
    SELFTEST_CHECK (streq (json_string_value (json_object_get (fields, "session")), "nb1"));
    SELFTEST_CHECK (!json_object_get (fields, "mime"));
    json_decref (fields);
    json_decref (bundle);
    kmq_reply_destroy (&event);

    //  clear_output(wait=True) as the glue sends it
    const char *clear [] = { "text/plain", KMQ_JSON_CLEAR_OUTPUT };
    const void *clear_data [] = { "", "{\"wait\": true}" };
    size_t clear_sizes [] = { 0, 14 };
    zmsg = proto_encode_display (8, "nb1", clear, clear_data, clear_sizes, 2);
    decoded = proto_decode (&zmsg, &fault);
    event = kmq_reply_from_msg (&decoded);
    wait = false;
    SELFTEST_CHECK (kmq_json_is_clear_output (event, &wait) && wait);
    bundle = kmq_json_bundle (event);
    SELFTEST_CHECK (json_object_size (bundle) == 1);    //  its own type left out
    json_decref (bundle);
    kmq_reply_destroy (&event);
    if (verbose)
        printf ("OK\n");
}
