/*  jupyter_message — Jupyter wire messages: decode, check, build, sign.
    See jupyter_message.h.

    The trap: the signature covers the JSON frames exactly as they travel,
    so a received message is checked on its raw bytes before anything is
    parsed, and an outgoing one is signed on the very bytes it sends.     */
#include <sodium.h>
#include <sys/time.h>
#include <time.h>
#include "jupyter_message.h"
#include "mem.h"
#include "selftest.h"

#define S_DELIMITER "<IDS|MSG>"
#define S_HMAC_HEX  (crypto_auth_hmacsha256_BYTES * 2 + 1)

struct _jupyter_signer_t {
    unsigned char *key;
    size_t key_size;
};

struct _jupyter_msg_t {
    zlist_t *identities;        //  zframe_t, owned
    json_t *header;
    json_t *parent_header;
    json_t *metadata;
    json_t *content;
    zlist_t *buffers;           //  zframe_t, owned
};

jupyter_signer_t *
jupyter_signer_new (const void *key, size_t key_size, const char *scheme,
                    char *error, size_t error_size)
{
    if (scheme && *scheme && strcmp (scheme, "hmac-sha256") != 0) {
        snprintf (error, error_size, "signature scheme \"%.40s\" is not"
                  " supported: use hmac-sha256", scheme);
        return NULL;
    }
    if (sodium_init () < 0) {
        snprintf (error, error_size, "libsodium failed to initialise");
        return NULL;
    }
    jupyter_signer_t *self = (jupyter_signer_t *) zmalloc (sizeof (jupyter_signer_t));
    self->key_size = key_size;
    self->key = (unsigned char *) mem_alloc (key_size + 1);
    if (key_size)
        memcpy (self->key, key, key_size);
    return self;
}

void
jupyter_signer_destroy (jupyter_signer_t **self_p)
{
    assert (self_p);
    jupyter_signer_t *self = *self_p;
    if (!self)
        return;
    sodium_memzero (self->key, self->key_size);
    free (self->key);
    free (self);
    *self_p = NULL;
}

//  hex: the signature of the four parts, NUL-terminated (S_HMAC_HEX bytes).
static void
s_sign (jupyter_signer_t *self, zframe_t *parts [4], char *hex)
{
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init (&state, self->key, self->key_size);
    for (int i = 0; i < 4; i++)
        crypto_auth_hmacsha256_update (&state, zframe_data (parts [i]),
                                       zframe_size (parts [i]));
    unsigned char mac [crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final (&state, mac);
    sodium_bin2hex (hex, S_HMAC_HEX, mac, sizeof mac);
}

static json_t *
s_parse_object (zframe_t *frame, const char *what, char *error, size_t error_size)
{
    json_error_t json_error;
    json_t *value = json_loadb ((const char *) zframe_data (frame),
                                zframe_size (frame), 0, &json_error);
    if (!value || !json_is_object (value)) {
        snprintf (error, error_size, "%s is not a JSON object (%s)", what,
                  value? "another JSON value": json_error.text);
        json_decref (value);
        return NULL;
    }
    return value;
}

static void
s_frames_destroy (zlist_t **list_p)
{
    if (!*list_p)
        return;
    zframe_t *frame;
    while ((frame = (zframe_t *) zlist_pop (*list_p)))
        zframe_destroy (&frame);
    zlist_destroy (list_p);
}

jupyter_msg_t *
jupyter_msg_decode (zmsg_t **zmsg_p, jupyter_signer_t *signer, char *error,
                    size_t error_size)
{
    assert (zmsg_p && *zmsg_p && signer);
    zmsg_t *zmsg = *zmsg_p;
    *zmsg_p = NULL;
    jupyter_msg_t *self = (jupyter_msg_t *) zmalloc (sizeof (jupyter_msg_t));
    self->identities = zlist_new ();
    self->buffers = zlist_new ();
    zframe_t *parts [4] = { NULL, NULL, NULL, NULL };
    zframe_t *signature = NULL;
    zframe_t *frame;
    bool delimited = false;
    while (!delimited && (frame = zmsg_pop (zmsg))) {
        delimited = zframe_streq (frame, S_DELIMITER);
        if (delimited)
            zframe_destroy (&frame);
        else
            zlist_append (self->identities, frame);
    }
    if (!delimited) {
        snprintf (error, error_size, "no <IDS|MSG> delimiter");
        goto fail;
    }
    signature = zmsg_pop (zmsg);
    for (int i = 0; i < 4; i++)
        parts [i] = zmsg_pop (zmsg);
    if (!signature || !parts [3]) {
        snprintf (error, error_size, "fewer than the 5 frames after <IDS|MSG>");
        goto fail;
    }
    if (signer->key_size > 0) {
        char hex [S_HMAC_HEX];
        s_sign (signer, parts, hex);
        if (zframe_size (signature) != S_HMAC_HEX - 1
        ||  sodium_memcmp (zframe_data (signature), hex, S_HMAC_HEX - 1) != 0) {
            snprintf (error, error_size, "wrong HMAC-SHA256 signature");
            goto fail;
        }
    }
    if (!(self->header = s_parse_object (parts [0], "header", error, error_size))
    ||  !(self->parent_header = s_parse_object (parts [1], "parent_header", error, error_size))
    ||  !(self->metadata = s_parse_object (parts [2], "metadata", error, error_size))
    ||  !(self->content = s_parse_object (parts [3], "content", error, error_size)))
        goto fail;
    if (!json_is_string (json_object_get (self->header, "msg_type"))
    ||  !json_is_string (json_object_get (self->header, "msg_id"))) {
        snprintf (error, error_size, "header without msg_type or msg_id");
        goto fail;
    }
    while ((frame = zmsg_pop (zmsg)))
        zlist_append (self->buffers, frame);
    for (int i = 0; i < 4; i++)
        zframe_destroy (&parts [i]);
    zframe_destroy (&signature);
    zmsg_destroy (&zmsg);
    return self;

fail:
    for (int i = 0; i < 4; i++)
        zframe_destroy (&parts [i]);
    zframe_destroy (&signature);
    zmsg_destroy (&zmsg);
    jupyter_msg_destroy (&self);
    return NULL;
}

void
jupyter_msg_now (char *buffer, size_t size)
{
    struct timeval now;
    gettimeofday (&now, NULL);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char seconds [32];
    strftime (seconds, sizeof seconds, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buffer, size, "%s.%06ldZ", seconds, (long) now.tv_usec);
}

static json_t *
s_header (const char *msg_type, const char *session_id)
{
    zuuid_t *uuid = zuuid_new ();
    char date [64];
    jupyter_msg_now (date, sizeof date);
    json_t *header = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}",
                                "msg_id", zuuid_str_canonical (uuid),
                                "msg_type", msg_type,
                                "session", session_id,
                                "username", "kernel",
                                "date", date,
                                "version", JUPYTER_PROTOCOL_VERSION);
    zuuid_destroy (&uuid);
    if (!header)
        mem_oom ("a Jupyter header");
    return header;
}

jupyter_msg_t *
jupyter_msg_new_with_header (const char *msg_type, const char *session_id,
                             json_t *parent_header, json_t *content)
{
    assert (msg_type && session_id);
    jupyter_msg_t *self = (jupyter_msg_t *) zmalloc (sizeof (jupyter_msg_t));
    self->identities = zlist_new ();
    self->buffers = zlist_new ();
    self->header = s_header (msg_type, session_id);
    self->parent_header = parent_header? json_deep_copy (parent_header): json_object ();
    self->metadata = json_object ();
    self->content = content? content: json_object ();
    if (!self->parent_header || !self->metadata || !self->content)
        mem_oom ("a Jupyter message");
    return self;
}

jupyter_msg_t *
jupyter_msg_new (const char *msg_type, const char *session_id,
                 jupyter_msg_t *parent, json_t *content)
{
    jupyter_msg_t *self = jupyter_msg_new_with_header (
        msg_type, session_id, parent? parent->header: NULL, content);
    if (parent)
        for (zframe_t *frame = (zframe_t *) zlist_first (parent->identities);
             frame; frame = (zframe_t *) zlist_next (parent->identities))
            zlist_append (self->identities, zframe_dup (frame));
    return self;
}

void
jupyter_msg_destroy (jupyter_msg_t **self_p)
{
    assert (self_p);
    jupyter_msg_t *self = *self_p;
    if (!self)
        return;
    s_frames_destroy (&self->identities);
    s_frames_destroy (&self->buffers);
    json_decref (self->header);
    json_decref (self->parent_header);
    json_decref (self->metadata);
    json_decref (self->content);
    free (self);
    *self_p = NULL;
}

static zframe_t *
s_json_frame (json_t *value)
{
    //  Compact, and non-ASCII as UTF-8 (jansson's default)
    char *text = json_dumps (value, JSON_COMPACT);
    if (!text)
        mem_oom ("a Jupyter JSON frame");
    zframe_t *frame = zframe_new (text, strlen (text));
    free (text);
    return frame;
}

zmsg_t *
jupyter_msg_encode (jupyter_msg_t *self, jupyter_signer_t *signer,
                    const char *topic)
{
    assert (self && signer);
    zmsg_t *zmsg = zmsg_new ();
    if (zlist_size (self->identities) == 0 && topic)
        zmsg_addstr (zmsg, topic);
    for (zframe_t *frame = (zframe_t *) zlist_first (self->identities);
         frame; frame = (zframe_t *) zlist_next (self->identities))
        zmsg_addmem (zmsg, zframe_data (frame), zframe_size (frame));
    zmsg_addstr (zmsg, S_DELIMITER);
    zframe_t *parts [4] = {
        s_json_frame (self->header), s_json_frame (self->parent_header),
        s_json_frame (self->metadata), s_json_frame (self->content)
    };
    if (signer->key_size > 0) {
        char hex [S_HMAC_HEX];
        s_sign (signer, parts, hex);
        zmsg_addstr (zmsg, hex);
    }
    else
        zmsg_addstr (zmsg, "");
    for (int i = 0; i < 4; i++)
        zmsg_append (zmsg, &parts [i]);
    return zmsg;
}

const char *
jupyter_msg_type (jupyter_msg_t *self)
{
    assert (self);
    return json_string_value (json_object_get (self->header, "msg_type"));
}

const char *
jupyter_msg_id (jupyter_msg_t *self)
{
    assert (self);
    return json_string_value (json_object_get (self->header, "msg_id"));
}

json_t *
jupyter_msg_header (jupyter_msg_t *self)
{
    assert (self);
    return self->header;
}

json_t *
jupyter_msg_content (jupyter_msg_t *self)
{
    assert (self);
    return self->content;
}

json_t *
jupyter_msg_parent_header (jupyter_msg_t *self)
{
    assert (self);
    return self->parent_header;
}

const char *
jupyter_msg_str (jupyter_msg_t *self, const char *key, const char *dflt)
{
    assert (self);
    json_t *value = json_object_get (self->content, key);
    return json_is_string (value)? json_string_value (value): dflt;
}

json_int_t
jupyter_msg_int (jupyter_msg_t *self, const char *key, json_int_t dflt)
{
    assert (self);
    json_t *value = json_object_get (self->content, key);
    return json_is_integer (value)? json_integer_value (value): dflt;
}

bool
jupyter_msg_bool (jupyter_msg_t *self, const char *key, bool dflt)
{
    assert (self);
    json_t *value = json_object_get (self->content, key);
    return json_is_boolean (value)? json_is_true (value): dflt;
}

//  --- selftest ------------------------------------------------------------

void
jupyter_message_test (bool verbose)
{
    if (verbose)
        printf (" * jupyter_message: ");
    char error [256];
    jupyter_signer_t *signer = jupyter_signer_new ("secret", 6, "hmac-sha256",
                                                   error, sizeof error);
    SELFTEST_CHECK (signer);
    SELFTEST_CHECK (!jupyter_signer_new ("k", 1, "hmac-md5", error, sizeof error));
    SELFTEST_CHECK (strstr (error, "hmac-md5"));

    //  A request as a client sends it, known signature (Python's
    //  hmac.new(b"secret", h + p + m + c, hashlib.sha256).hexdigest())
    const char *h = "{\"msg_id\":\"a1\",\"msg_type\":\"kernel_info_request\","
                    "\"session\":\"s\",\"username\":\"u\",\"date\":\"d\",\"version\":\"5.3\"}";
    zframe_t *parts [4] = {
        zframe_new (h, strlen (h)), zframe_new ("{}", 2),
        zframe_new ("{}", 2), zframe_new ("{\"code\":\"1\"}", 12)
    };
    char hex [S_HMAC_HEX];
    s_sign (signer, parts, hex);
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "client-id");
    zmsg_addstr (zmsg, S_DELIMITER);
    zmsg_addstr (zmsg, hex);
    for (int i = 0; i < 4; i++)
        zmsg_append (zmsg, &parts [i]);
    zmsg_t *tampered = zmsg_dup (zmsg);
    jupyter_msg_t *msg = jupyter_msg_decode (&zmsg, signer, error, sizeof error);
    SELFTEST_CHECK (msg && !zmsg);
    SELFTEST_CHECK (streq (jupyter_msg_type (msg), "kernel_info_request"));
    SELFTEST_CHECK (streq (jupyter_msg_str (msg, "code", ""), "1"));
    SELFTEST_CHECK (jupyter_msg_int (msg, "missing", 7) == 7);

    //  A reply goes back to the same identity, signed on its own bytes
    jupyter_msg_t *reply = jupyter_msg_new ("kernel_info_reply", "kernel-session",
                                            msg, json_pack ("{s:s}", "status", "ok"));
    zmsg_t *wire = jupyter_msg_encode (reply, signer, NULL);
    SELFTEST_CHECK (zmsg_size (wire) == 7);
    SELFTEST_CHECK (zframe_streq (zmsg_first (wire), "client-id"));
    jupyter_msg_t *back = jupyter_msg_decode (&wire, signer, error, sizeof error);
    SELFTEST_CHECK (back);
    SELFTEST_CHECK (streq (json_string_value (json_object_get (
        jupyter_msg_parent_header (back), "msg_id")), "a1"));
    SELFTEST_CHECK (streq (json_string_value (json_object_get (
        jupyter_msg_header (back), "version")), "5.3"));
    jupyter_msg_destroy (&back);
    jupyter_msg_destroy (&reply);
    jupyter_msg_destroy (&msg);

    //  One byte changed in the content: dropped
    zframe_t *last = zmsg_last (tampered);
    ((char *) zframe_data (last)) [9] = '2';
    SELFTEST_CHECK (!jupyter_msg_decode (&tampered, signer, error, sizeof error));
    SELFTEST_CHECK (streq (error, "wrong HMAC-SHA256 signature"));
    SELFTEST_CHECK (!tampered);
    //  Garbage: no delimiter, too few frames, not JSON
    zmsg = zmsg_new ();
    zmsg_addstr (zmsg, "x");
    SELFTEST_CHECK (!jupyter_msg_decode (&zmsg, signer, error, sizeof error));
    SELFTEST_CHECK (strstr (error, "delimiter"));
    jupyter_signer_t *open = jupyter_signer_new (NULL, 0, "", error, sizeof error);
    zmsg = zmsg_new ();
    zmsg_addstr (zmsg, S_DELIMITER);
    zmsg_addstr (zmsg, "");
    zmsg_addstr (zmsg, "{");
    zmsg_addstr (zmsg, "{}");
    zmsg_addstr (zmsg, "{}");
    zmsg_addstr (zmsg, "{}");
    SELFTEST_CHECK (!jupyter_msg_decode (&zmsg, open, error, sizeof error));
    SELFTEST_CHECK (strstr (error, "header is not a JSON object"));
    //  Unsigned: empty signature frame, IOPub topic first
    reply = jupyter_msg_new ("status", "k", NULL, NULL);
    wire = jupyter_msg_encode (reply, open, "status");
    SELFTEST_CHECK (zframe_streq (zmsg_first (wire), "status"));
    SELFTEST_CHECK (zframe_streq (zmsg_next (wire), S_DELIMITER));
    SELFTEST_CHECK (zframe_size (zmsg_next (wire)) == 0);
    zmsg_destroy (&wire);
    jupyter_msg_destroy (&reply);
    jupyter_signer_destroy (&open);
    jupyter_signer_destroy (&signer);
    if (verbose)
        printf ("OK\n");
}
