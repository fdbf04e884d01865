/*  http_token — bearer tokens: made once, kept 0600, checked in constant
    time. See http_token.h.                                               */
#include <czmq.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include "http_token.h"
#include "keys.h"
#include "mem.h"
#include "selftest.h"

#define S_MAX_TOKENS 256
#define S_TOKEN_BYTES 32            //  random bytes of a made token
#define S_HASH_BYTES crypto_generichash_BYTES

struct _http_token_t {
    size_t count;
    unsigned char hash [S_MAX_TOKENS][S_HASH_BYTES];
    char id [S_MAX_TOKENS][17];
    char key [S_MAX_TOKENS][KEYS_Z85_LEN + 1];  //  "" when the line names none
};

char *
http_token_default_path (void)
{
    char *dir = keys_dir_default ();
    char *path = dir? mem_sprintf ("%s/http_token", dir): NULL;
    free (dir);
    return path;
}

//  The public key a token line names after its token: a z85 key, or NAME
//  for the certificate clients/NAME.key beside the token file. Fills key;
//  -1 when it names neither.
static int
s_line_key (const char *path, const char *name, char *key)
{
    char *found = NULL;
    if (keys_is_identity (name))
        found = mem_strdup (name);
    else
    if (!strchr (name, '/') && *name != '.') {
        char *dir = mem_strdup (path);
        char *slash = strrchr (dir, '/');
        if (slash)
            *slash = 0;
        char *file = mem_sprintf ("%s/clients/%s.key", slash? dir: ".", name);
        found = keys_public_from (file);
        free (file);
        free (dir);
    }
    if (!found)
        return -1;
    snprintf (key, KEYS_Z85_LEN + 1, "%s", found);
    free (found);
    return 0;
}

//  mkdir -p of path's parent directories; the last one made 0700.
static int
s_make_parents (const char *path, char *error, size_t error_size)
{
    char *dir = mem_strdup (path);
    char *slash = strrchr (dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = 0;
        for (char *p = dir + 1; *p && rc == 0; p++) {
            if (*p != '/')
                continue;
            *p = 0;
            if (mkdir (dir, 0700) != 0 && errno != EEXIST)
                rc = -1;
            *p = '/';
        }
        if (rc == 0 && mkdir (dir, 0700) != 0 && errno != EEXIST)
            rc = -1;
        if (rc != 0)
            snprintf (error, error_size, "cannot make the directory of %s: %s",
                      path, strerror (errno));
    }
    free (dir);
    return rc;
}

//  Writes a fresh token to path (which must not exist), mode 0600.
static int
s_create (const char *path, char *error, size_t error_size)
{
    if (s_make_parents (path, error, error_size) != 0)
        return -1;
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (error, error_size, "cannot create the token file %s: %s",
                  path, strerror (errno));
        return -1;
    }
    unsigned char bytes [S_TOKEN_BYTES];
    randombytes_buf (bytes, sizeof bytes);
    char hex [2 * S_TOKEN_BYTES + 2];
    sodium_bin2hex (hex, sizeof hex, bytes, sizeof bytes);
    sodium_memzero (bytes, sizeof bytes);
    size_t len = strlen (hex);
    hex [len++] = '\n';
    ssize_t written = write (fd, hex, len);
    int saved = errno;
    sodium_memzero (hex, sizeof hex);
    if (close (fd) != 0 && written == (ssize_t) len) {
        written = -1;
        saved = errno;
    }
    if (written != (ssize_t) len) {
        snprintf (error, error_size, "cannot write the token file %s: %s", path,
                  written < 0? strerror (saved): "short write");
        unlink (path);
        return -1;
    }
    return 0;
}

static void
s_hash (const char *token, size_t len, unsigned char *hash)
{
    crypto_generichash (hash, S_HASH_BYTES, (const unsigned char *) token, len, NULL, 0);
}

http_token_t *
http_token_load (const char *path, bool *created, char *error, size_t error_size)
{
    assert (path);
    if (sodium_init () < 0) {
        snprintf (error, error_size, "libsodium could not start");
        return NULL;
    }
    bool made = false;
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        if (s_create (path, error, error_size) != 0)
            return NULL;
        made = true;
        fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        snprintf (error, error_size, "cannot open the token file %s: %s", path,
                  strerror (errno));
        return NULL;
    }
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || (st.st_mode & 077)
    ||  st.st_size > 64 * 1024) {
        snprintf (error, error_size, "the token file %s must be a regular file of"
                  " at most 64 KiB that only its owner may read (chmod 600 %s)",
                  path, path);
        close (fd);
        return NULL;
    }
    char *text = (char *) mem_alloc ((size_t) st.st_size + 1);
    ssize_t got = read (fd, text, (size_t) st.st_size);
    int saved = errno;
    close (fd);
    if (got < 0) {
        snprintf (error, error_size, "cannot read the token file %s: %s", path,
                  strerror (saved));
        free (text);
        return NULL;
    }
    text [got] = 0;
    http_token_t *self = (http_token_t *) zmalloc (sizeof (http_token_t));
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        size_t len = strlen (line);
        while (len && (line [len - 1] == '\r' || line [len - 1] == ' '))
            line [--len] = 0;
        while (*line == ' ')
            line++, len--;
        if (!len || *line == '#' || self->count == S_MAX_TOKENS)
            continue;
        //  TOKEN [KEY]: the key its requests act for (protocol.md 13.4)
        char *space = strchr (line, ' ');
        self->key [self->count][0] = 0;
        if (space) {
            *space = 0;
            len = (size_t) (space - line);
            char *name = space + 1;
            while (*name == ' ')
                name++;
            if (*name && s_line_key (path, name, self->key [self->count]) != 0) {
                snprintf (error, error_size, "the token file %s: '%.64s' after a token "
                          "is neither a CURVE public key nor a name of clients/NAME.key",
                          path, name);
                sodium_memzero (text, (size_t) got);
                free (text);
                http_token_destroy (&self);
                return NULL;
            }
        }
        s_hash (line, len, self->hash [self->count]);
        sodium_bin2hex (self->id [self->count], 17, self->hash [self->count], 8);
        self->count++;
    }
    sodium_memzero (text, (size_t) got);
    free (text);
    if (self->count == 0) {
        snprintf (error, error_size, "the token file %s holds no token (one a line)", path);
        http_token_destroy (&self);
        return NULL;
    }
    if (created)
        *created = made;
    return self;
}

void
http_token_destroy (http_token_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sodium_memzero (*self_p, sizeof (http_token_t));
        free (*self_p);
        *self_p = NULL;
    }
}

int
http_token_check (http_token_t *self, const char *authorization)
{
    assert (self);
    if (!authorization || strncasecmp (authorization, "Bearer ", 7) != 0)
        return -1;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    size_t len = strlen (token);
    while (len && token [len - 1] == ' ')
        len--;
    if (!len || len > 4096)
        return -1;
    unsigned char hash [S_HASH_BYTES];
    s_hash (token, len, hash);
    int found = -1;
    //  Every token is compared, whatever matched, so the time is the same
    for (size_t i = 0; i < self->count; i++)
        if (sodium_memcmp (hash, self->hash [i], S_HASH_BYTES) == 0 && found < 0)
            found = (int) i;
    return found;
}

const char *
http_token_key (http_token_t *self, size_t index)
{
    assert (self && index < self->count);
    return self->key [index][0]? self->key [index]: NULL;
}

size_t
http_token_count (http_token_t *self)
{
    assert (self);
    return self->count;
}

const char *
http_token_id (http_token_t *self, size_t index)
{
    assert (self && index < self->count);
    return self->id [index];
}

void
http_token_test (bool verbose)
{
    if (verbose)
        printf (" * http_token: ");
    char dir [] = "/tmp/kmq-token-test.XXXXXX";
    SELFTEST_CHECK (mkdtemp (dir));
    char *path = mem_sprintf ("%s/a/b/http_token", dir);
    char error [256];
    bool created = false;
    http_token_t *tokens = http_token_load (path, &created, error, sizeof error);
    SELFTEST_CHECK (tokens && created && http_token_count (tokens) == 1);
    struct stat st;
    SELFTEST_CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
    char *parent = mem_sprintf ("%s/a/b", dir);
    SELFTEST_CHECK (stat (parent, &st) == 0 && (st.st_mode & 0777) == 0700);
    //  The made token is 64 hex digits and checks; others do not
    FILE *file = fopen (path, "r");
    char line [128] = "";
    SELFTEST_CHECK (file && fgets (line, sizeof line, file));
    fclose (file);
    line [strcspn (line, "\n")] = 0;
    SELFTEST_CHECK (strlen (line) == 64);
    char *header = mem_sprintf ("Bearer %s", line);
    SELFTEST_CHECK (http_token_check (tokens, header) == 0);
    SELFTEST_CHECK (http_token_check (tokens, "Bearer nope") == -1);
    SELFTEST_CHECK (http_token_check (tokens, line) == -1);
    SELFTEST_CHECK (http_token_check (tokens, NULL) == -1);
    SELFTEST_CHECK (http_token_check (tokens, "Bearer ") == -1);
    SELFTEST_CHECK (strlen (http_token_id (tokens, 0)) == 16);
    http_token_destroy (&tokens);
    //  A second load finds the same token, not a new one
    tokens = http_token_load (path, &created, error, sizeof error);
    SELFTEST_CHECK (tokens && !created && http_token_check (tokens, header) == 0);
    http_token_destroy (&tokens);
    //  Open to others: refused
    SELFTEST_CHECK (chmod (path, 0644) == 0);
    SELFTEST_CHECK (!http_token_load (path, &created, error, sizeof error));
    SELFTEST_CHECK (strstr (error, "chmod 600"));
    //  Several tokens, comments skipped
    SELFTEST_CHECK (chmod (path, 0600) == 0);
    file = fopen (path, "w");
    fprintf (file, "# two\nalpha\n\nbeta \n");
    fclose (file);
    tokens = http_token_load (path, &created, error, sizeof error);
    SELFTEST_CHECK (tokens && http_token_count (tokens) == 2);
    SELFTEST_CHECK (http_token_check (tokens, "Bearer beta") == 1);
    SELFTEST_CHECK (http_token_check (tokens, "bearer alpha") == 0);
    SELFTEST_CHECK (strcmp (http_token_id (tokens, 0), http_token_id (tokens, 1)) != 0);
    http_token_destroy (&tokens);
    unlink (path);
    rmdir (parent);
    free (parent);
    parent = mem_sprintf ("%s/a", dir);
    rmdir (parent);
    rmdir (dir);
    free (parent);
    free (header);
    free (path);
    if (verbose)
        printf ("OK\n");
}
