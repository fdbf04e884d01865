/*  jupyter_decode — libFuzzer harness for kmq-jupyter's reading of a
    Jupyter wire message (client/jupyter/jupyter_message.c): identities,
    the <IDS|MSG> delimiter, the HMAC-SHA256 check, and the four JSON
    frames behind it, as the kernel's shell and control sockets get them
    from any process that can reach its ports.

    Input: [mode] [body ...], the body split into frames at 0xff bytes
    (fuzz_input.h). mode % 3 says what the body is:
        0 signed     the frames after the signature: header, parent_header,
                     metadata, content, buffers. The harness puts an
                     identity, the delimiter and the right signature under
                     FUZZ_INPUT_JUPYTER_KEY in front, so every input gets
                     past the check to the JSON.
        1 raw        every frame as is, checked under the same key: the
                     delimiter search and signature check themselves.
        2 unsigned   every frame as is, with an empty key (no signing, as
                     a connection file with key "" asks).
    The signature is computed here over the four frames joined, apart
    from the module's own signing, so the two check each other.

    Beyond "no crash, no leak": a decoded message has its msg_type and
    msg_id, its content's fields read as the handlers read them, and a
    reply to it (jupyter_msg_new with it as parent) encodes into frames
    that decode again, addressed to the same identities, with the request's
    msg_id as parent.
*/
#include "fuzz_input.h"
#include "jupyter_message.h"
#include "selftest.h"

#include <sodium.h>
#include <string.h>

typedef enum { S_SIGNED, S_RAW, S_UNSIGNED } s_mode_t;

static jupyter_signer_t *s_keyed;
static jupyter_signer_t *s_open;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    char error [256];
    s_keyed = jupyter_signer_new (FUZZ_INPUT_JUPYTER_KEY, strlen (FUZZ_INPUT_JUPYTER_KEY),
                                  "hmac-sha256", error, sizeof error);
    s_open = jupyter_signer_new (NULL, 0, "", error, sizeof error);
    SELFTEST_CHECK (s_keyed && s_open);
    return 0;
}

//  parts (the frames after the signature) behind an identity, the
//  delimiter and the hex HMAC of the first four of them.
static zmsg_t *
s_signed (zmsg_t *parts)
{
    const char *key = FUZZ_INPUT_JUPYTER_KEY;
    size_t total = 0;
    size_t count = 0;
    for (zframe_t *f = zmsg_first (parts); f && count < 4; f = zmsg_next (parts), count++)
        total += zframe_size (f);
    uint8_t *signed_bytes = (uint8_t *) malloc (total + 1);
    SELFTEST_CHECK (signed_bytes);
    size_t at = 0;
    count = 0;
    for (zframe_t *f = zmsg_first (parts); f && count < 4; f = zmsg_next (parts), count++) {
        memcpy (signed_bytes + at, zframe_data (f), zframe_size (f));
        at += zframe_size (f);
    }
    //  HMAC-SHA256 with a key that is not 32 bytes: the one-shot
    //  crypto_auth_hmacsha256 wants exactly 32, so go through the state
    crypto_auth_hmacsha256_state state;
    unsigned char mac [crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init (&state, (const unsigned char *) key, strlen (key));
    crypto_auth_hmacsha256_update (&state, signed_bytes, total);
    crypto_auth_hmacsha256_final (&state, mac);
    free (signed_bytes);
    char hex [2 * crypto_auth_hmacsha256_BYTES + 1];
    sodium_bin2hex (hex, sizeof hex, mac, sizeof mac);
    zmsg_pushstr (parts, hex);
    zmsg_pushstr (parts, "<IDS|MSG>");
    zmsg_pushstr (parts, "fuzz-client");
    return parts;
}

//  What the handlers read of a request's content.
static void
s_read_content (jupyter_msg_t *msg)
{
    SELFTEST_CHECK (jupyter_msg_type (msg) && jupyter_msg_id (msg));
    SELFTEST_CHECK (json_is_object (jupyter_msg_header (msg))
                    && json_is_object (jupyter_msg_parent_header (msg))
                    && json_is_object (jupyter_msg_content (msg)));
    const char *code = jupyter_msg_str (msg, "code", "");
    SELFTEST_CHECK (code);
    (void) jupyter_msg_int (msg, "cursor_pos", -1);
    (void) jupyter_msg_int (msg, "n", 0);
    (void) jupyter_msg_bool (msg, "silent", false);
    (void) jupyter_msg_bool (msg, "store_history", true);
    (void) jupyter_msg_bool (msg, "restart", false);
}

//  A reply to msg goes back to its sender, signed, and reads back.
static void
s_reply (jupyter_msg_t *msg, jupyter_signer_t *signer, size_t identities)
{
    jupyter_msg_t *reply = jupyter_msg_new ("fuzz_reply", "fuzz-kernel", msg,
                                            json_pack ("{s:s}", "status", "ok"));
    zmsg_t *wire = jupyter_msg_encode (reply, signer, NULL);
    SELFTEST_CHECK (zmsg_size (wire) == identities + 6);
    char error [256];
    jupyter_msg_t *back = jupyter_msg_decode (&wire, signer, error, sizeof error);
    if (!back)
        fprintf (stderr, "a reply is refused: %s\n", error);
    SELFTEST_CHECK (back);
    SELFTEST_CHECK (streq (jupyter_msg_type (back), "fuzz_reply"));
    const char *parent_id = json_string_value (
        json_object_get (jupyter_msg_parent_header (back), "msg_id"));
    SELFTEST_CHECK (parent_id && streq (parent_id, jupyter_msg_id (msg)));
    jupyter_msg_destroy (&back);
    jupyter_msg_destroy (&reply);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    s_mode_t mode = (s_mode_t) (data [0] % 3);
    zmsg_t *zmsg = fuzz_input_split (data + 1, size - 1);
    if (mode == S_SIGNED)
        zmsg = s_signed (zmsg);
    jupyter_signer_t *signer = mode == S_UNSIGNED? s_open: s_keyed;
    //  Identities: the frames before the first delimiter
    size_t identities = 0;
    for (zframe_t *f = zmsg_first (zmsg); f && !zframe_streq (f, "<IDS|MSG>");
         f = zmsg_next (zmsg))
        identities++;
    char error [256] = "";
    jupyter_msg_t *msg = jupyter_msg_decode (&zmsg, signer, error, sizeof error);
    SELFTEST_CHECK (!zmsg);
    if (!msg) {
        SELFTEST_CHECK (error [0]);
        return 0;
    }
    s_read_content (msg);
    s_reply (msg, signer, identities);
    jupyter_msg_destroy (&msg);
    return 0;
}
