/*  http_token — kmq-http's bearer tokens.

    A token file holds one token a line (blank lines and lines starting
    with # are skipped). Where it lives by default, beside where kernelmq
    keeps its keys, as Jupyter keeps its tokens:

        $XDG_CONFIG_HOME/kernelmq/http_token, else ~/.config/kernelmq/http_token

    On first start the file does not exist: it is created with one fresh
    token (32 bytes from libsodium's randombytes, as 64 hex digits), mode
    0600, in a directory made 0700. A file that group or others may read
    is refused, as ssh refuses such a key. Several lines give several
    tokens; each has an id (16 hex digits of a hash of it) that names it
    in logs and, with --compat-session per-token, picks its session.

    A line may name, after its token and a space, the client key its
    requests act for: a CURVE public key (z85), or NAME for the public
    certificate clients/NAME.key beside the token file (the broker's
    allowlist). kmq-http then sends them with `as` (protocol.md 13.4), so
    the sessions' owners and shares apply over HTTP as over ZeroMQ. A line
    without one acts for the owner's client key (client.key there).

    Checks compare BLAKE2b hashes of the tokens with sodium_memcmp, so a
    guess learns nothing from the time an answer takes.
*/
#ifndef HTTP_TOKEN_H
#define HTTP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _http_token_t http_token_t;

//  The default path (see above); caller frees. NULL when neither
//  XDG_CONFIG_HOME nor HOME is set.
char *http_token_default_path (void);

//  Loads the tokens of path, creating the file first when it does not
//  exist (*created then true). Returns NULL with error filled when it
//  cannot be read or made, is open to others, or holds no token.
http_token_t *http_token_load (const char *path, bool *created,
                               char *error, size_t error_size);
void http_token_destroy (http_token_t **self_p);

//  The index of the token that authorization ("Bearer TOKEN") carries,
//  or -1 when it carries none of them (or is NULL or malformed).
int http_token_check (http_token_t *self, const char *authorization);

size_t http_token_count (http_token_t *self);
//  The public key (z85) token index acts for, NULL when its line names
//  none (owned by self).
const char *http_token_key (http_token_t *self, size_t index);
//  Token index's id: 16 hex digits (owned by self).
const char *http_token_id (http_token_t *self, size_t index);

void http_token_test (bool verbose);

#endif
