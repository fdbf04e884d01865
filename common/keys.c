/*  keys — where kernelmq's CURVE keys live (see keys.h).                  */
#include "keys.h"
#include "mem.h"
#include "selftest.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

char *
keys_dir_default (void)
{
    const char *dir = getenv ("KMQ_CONFIG_DIR");
    if (dir && *dir)
        return mem_strdup (dir);
    const char *xdg = getenv ("XDG_CONFIG_HOME");
    if (xdg && *xdg)
        return mem_sprintf ("%s/kernelmq", xdg);
    const char *home = getenv ("HOME");
    if (home && *home)
        return mem_sprintf ("%s/.config/kernelmq", home);
    return NULL;
}

int
keys_dir_ensure (const char *dir, char *error, size_t error_size)
{
    assert (dir);
    //  The parent (~/.config) may be missing on a fresh account; it is
    //  made with the usual 0755 umask rules, only ours is private
    char *parent = mem_strdup (dir);
    char *slash = strrchr (parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (mkdir (parent, 0755) == -1 && errno != EEXIST) {
            snprintf (error, error_size, "mkdir %s: %s (create it, or set "
                      "KMQ_CONFIG_DIR / --config-dir)", parent, strerror (errno));
            free (parent);
            return -1;
        }
    }
    free (parent);
    if (mkdir (dir, 0700) == -1 && errno != EEXIST) {
        snprintf (error, error_size, "mkdir %s: %s (set KMQ_CONFIG_DIR or --config-dir "
                  "to a directory you may create)", dir, strerror (errno));
        return -1;
    }
    struct stat st;
    if (stat (dir, &st) || !S_ISDIR (st.st_mode) || st.st_uid != geteuid ()) {
        snprintf (error, error_size, "config dir %s is not a directory of ours "
                  "(choose another with KMQ_CONFIG_DIR or --config-dir)", dir);
        return -1;
    }
    if (st.st_mode & 077) {
        //  Secret keys live here: like ssh, refuse rather than use them
        snprintf (error, error_size, "config dir %s is open to others (mode %03o); "
                  "chmod 700 it", dir, (unsigned) (st.st_mode & 0777));
        return -1;
    }
    return 0;
}

bool
keys_endpoint_needs_curve (const char *endpoint)
{
    return endpoint && strncmp (endpoint, "tcp://", 6) == 0;
}

bool
keys_is_identity (const char *text)
{
    static const char z85 [] = "0123456789abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    return text && strlen (text) == KEYS_Z85_LEN
        && strspn (text, z85) == KEYS_Z85_LEN;
}

char *
keys_public_from (const char *text_or_path)
{
    if (!text_or_path)
        return NULL;
    if (keys_is_identity (text_or_path))
        return mem_strdup (text_or_path);
    //  zcert_load reads NAME_secret when it exists: a public file is enough
    if (access (text_or_path, R_OK) != 0)
        return NULL;
    zcert_t *cert = zcert_load (text_or_path);
    char *key = NULL;
    if (cert && keys_is_identity (zcert_public_txt (cert))
    &&  strcmp (zcert_public_txt (cert), "0000000000000000000000000000000000000000"))
        key = mem_strdup (zcert_public_txt (cert));
    zcert_destroy (&cert);
    return key;
}

//  Saves cert as path (public) and path_secret, neither readable by others.
//  Each file appears whole (written aside, then renamed), the secret one
//  first: a client that finds a key file never reads half of one.
static int
s_save (zcert_t *cert, const char *path, char *error, size_t error_size)
{
    char *tmp = mem_sprintf ("%s.%d.tmp", path, (int) getpid ());
    char *tmp_secret = mem_sprintf ("%s_secret", tmp);
    char *secret = mem_sprintf ("%s_secret", path);
    mode_t old = umask (077);
    int rc = zcert_save (cert, tmp);
    umask (old);
    if (rc == 0)
        rc = rename (tmp_secret, secret) || rename (tmp, path) ? -1 : 0;
    if (rc) {
        unlink (tmp);
        unlink (tmp_secret);
    }
    free (tmp);
    free (tmp_secret);
    free (secret);
    if (rc) {
        snprintf (error, error_size, "cannot save certificate %s: %s", path,
                  strerror (errno));
        return -1;
    }
    return 0;
}

zcert_t *
keys_cert_ensure (const char *dir, const char *name, bool *created,
                  char *error, size_t error_size)
{
    assert (dir && name);
    if (created)
        *created = false;
    char *path = mem_sprintf ("%s/%s.key", dir, name);
    char *secret = mem_sprintf ("%s_secret", path);
    zcert_t *cert = NULL;
    if (access (secret, F_OK) == 0) {
        cert = zcert_load (path);
        if (!cert || !*zcert_secret_txt (cert)
        ||  streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000")) {
            zcert_destroy (&cert);
            snprintf (error, error_size, "certificate %s is not a czmq secret "
                      "certificate (move it away to have a new one made)", secret);
        }
    }
    else {
        cert = zcert_new ();
        zcert_set_meta (cert, "created-by", "kernelmq");
        zcert_set_meta (cert, "role", "%s", name);
        if (!cert || s_save (cert, path, error, error_size))
            zcert_destroy (&cert);
        else if (created)
            *created = true;
    }
    free (path);
    free (secret);
    return cert;
}

int
keys_allow (const char *dir, const char *sub, const char *label,
            const char *identity, char *error, size_t error_size)
{
    assert (dir && sub && label);
    if (!keys_is_identity (identity)) {
        snprintf (error, error_size, "'%.64s' is not a CURVE public key (40 z85 "
                  "characters)", identity ? identity : "");
        return -1;
    }
    if (!*label || strchr (label, '/') || *label == '.') {
        snprintf (error, error_size, "'%.64s' is not a file name for a key", label);
        return -1;
    }
    char *subdir = mem_sprintf ("%s/%s", dir, sub);
    if (mkdir (subdir, 0700) == -1 && errno != EEXIST) {
        snprintf (error, error_size, "mkdir %s: %s", subdir, strerror (errno));
        free (subdir);
        return -1;
    }
    //  Public only: the secret half stays zeros, and is not saved
    byte public_key [32], secret_key [32] = { 0 };
    zcert_t *cert = zmq_z85_decode (public_key, identity)
                  ? zcert_new_from (public_key, secret_key) : NULL;
    char *path = mem_sprintf ("%s/%s.key", subdir, label);
    int rc = -1;
    if (!cert)
        snprintf (error, error_size, "'%.64s' is not a CURVE public key", identity);
    else {
        zcert_set_meta (cert, "name", "%s", label);
        mode_t old = umask (077);
        rc = zcert_save_public (cert, path);
        umask (old);
        if (rc)
            snprintf (error, error_size, "cannot write %s: %s", path, strerror (errno));
    }
    zcert_destroy (&cert);
    free (path);
    free (subdir);
    return rc;
}

zcert_t *
keys_broker_init (const char *dir, char *error, size_t error_size)
{
    if (keys_dir_ensure (dir, error, error_size))
        return NULL;
    bool created = false;
    zcert_t *broker = keys_cert_ensure (dir, "broker", &created, error, error_size);
    if (!broker)
        return NULL;
    if (created)
        zsys_info ("keys: created the broker's key pair in %s/broker.key_secret "
                   "(public key %s)", dir, zcert_public_txt (broker));
    //  Its owner's own client and kernel host: on this machine they share
    //  the directory, so they are allowed from the start
    const char *roles [3][2] = { { "client", "clients" }, { "host", "hosts" },
                                 { "gateway", "gateways" } };
    for (size_t i = 0; i < 3; i++) {
        zcert_t *own = keys_cert_ensure (dir, roles [i][0], &created, error, error_size);
        if (!own) {
            zcert_destroy (&broker);
            return NULL;
        }
        char *label = mem_sprintf ("%s-%s", roles [i][0], "owner");
        char *allowed = mem_sprintf ("%s/%s/%s.key", dir, roles [i][1], label);
        int rc = 0;
        if (created || access (allowed, F_OK) != 0) {
            rc = keys_allow (dir, roles [i][1], label, zcert_public_txt (own),
                             error, error_size);
            if (rc == 0)
                zsys_info ("keys: allowed the owner's %s key %s (%s)", roles [i][0],
                           zcert_public_txt (own), allowed);
        }
        free (label);
        free (allowed);
        zcert_destroy (&own);
        if (rc) {
            zcert_destroy (&broker);
            return NULL;
        }
    }
    return broker;
}

static bool
s_env_true (const char *name)
{
    const char *value = getenv (name);
    if (!value)
        return false;
    const char *yes [] = { "1", "true", "yes", "on" };
    for (size_t i = 0; i < 4; i++)
        if (strcasecmp (value, yes [i]) == 0)
            return true;
    return false;
}

int
keys_apply (void *sock, const char *endpoint, const char *dir, const char *name,
            const char **note, char *error, size_t error_size)
{
    assert (sock && name);
    if (note)
        *note = NULL;
    if (!keys_endpoint_needs_curve (endpoint) || s_env_true ("KMQ_INSECURE"))
        return 0;
    char *own_dir = dir ? mem_strdup (dir) : keys_dir_default ();
    int rc = -1;
    char *server = NULL;
    zcert_t *cert = NULL;
    const char *env_broker = getenv ("KMQ_BROKER_KEY");
    if (env_broker && *env_broker) {
        server = keys_public_from (env_broker);
        if (!server) {
            snprintf (error, error_size, "KMQ_BROKER_KEY: '%.64s' is neither a CURVE "
                      "public key nor a readable certificate file", env_broker);
            goto done;
        }
    }
    else if (own_dir) {
        char *path = mem_sprintf ("%s/broker.key", own_dir);
        server = keys_public_from (path);
        free (path);
    }
    if (!server) {
        //  A broker run with --insecure, or one whose key we were never
        //  given: plain, and the caller says why if nothing answers
        if (note)
            *note = "no broker key found (KMQ_BROKER_KEY or broker.key in the config "
                    "dir), so the connection is without CURVE";
        rc = 0;
        goto done;
    }
    char env [32];
    snprintf (env, sizeof env, "KMQ_%s_KEY", streq (name, "host") ? "HOST"
                                           : streq (name, "gateway") ? "GATEWAY" : "CLIENT");
    const char *env_own = getenv (env);
    if (env_own && *env_own) {
        char *secret = mem_sprintf ("%s_secret", env_own);
        cert = access (secret, R_OK) == 0 || access (env_own, R_OK) == 0
             ? zcert_load (env_own) : NULL;
        free (secret);
        if (!cert || !*zcert_secret_txt (cert)
        ||  streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000")) {
            snprintf (error, error_size, "%s: %.200s is not a readable secret certificate",
                      env, env_own);
            goto done;
        }
    }
    else {
        //  Never made here: the broker makes its owner's on first start,
        //  `kmq keys` another user's (a client that made one would race
        //  a broker making it)
        char *path = mem_sprintf ("%s/%s.key_secret", own_dir, name);
        cert = access (path, R_OK) == 0? zcert_load (path): NULL;
        free (path);
        if (!cert || !*zcert_secret_txt (cert)
        ||  streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000")) {
            snprintf (error, error_size, "no %s key in %s (%s.key_secret): `kmq keys` makes "
                      "one, which the broker's owner then allows", name, own_dir, name);
            goto done;
        }
    }
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, server);
    rc = 0;
done:
    zcert_destroy (&cert);
    free (server);
    free (own_dir);
    return rc;
}

//  --- selftest -----------------------------------------------------------

void
keys_test (bool verbose)
{
    (void) verbose;
    char error [512];
    char template [] = "/tmp/kmq-keys-test-XXXXXX";
    char *base = mkdtemp (template);
    SELFTEST_CHECK (base);
    char *dir = mem_sprintf ("%s/cfg/kernelmq", base);

    //  Default dir: KMQ_CONFIG_DIR, then XDG, then HOME
    char *saved_env = getenv ("KMQ_CONFIG_DIR") ? mem_strdup (getenv ("KMQ_CONFIG_DIR")) : NULL;
    setenv ("KMQ_CONFIG_DIR", "/x/y", 1);
    char *d = keys_dir_default ();
    SELFTEST_CHECK (d && streq (d, "/x/y"));
    free (d);
    unsetenv ("KMQ_CONFIG_DIR");
    setenv ("XDG_CONFIG_HOME", "/xdg", 1);
    d = keys_dir_default ();
    SELFTEST_CHECK (d && streq (d, "/xdg/kernelmq"));
    free (d);
    unsetenv ("XDG_CONFIG_HOME");
    d = keys_dir_default ();
    SELFTEST_CHECK (!getenv ("HOME") || strstr (d, "/.config/kernelmq"));
    free (d);

    //  The dir is made private; one open to others is refused
    SELFTEST_CHECK (keys_dir_ensure (dir, error, sizeof error) == 0);
    struct stat st;
    SELFTEST_CHECK (stat (dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    SELFTEST_CHECK (chmod (dir, 0755) == 0);
    SELFTEST_CHECK (keys_dir_ensure (dir, error, sizeof error) == -1
                    && strstr (error, "open to others"));
    SELFTEST_CHECK (chmod (dir, 0700) == 0);

    SELFTEST_CHECK (keys_endpoint_needs_curve ("tcp://127.0.0.1:5555"));
    SELFTEST_CHECK (!keys_endpoint_needs_curve ("ipc:///tmp/x"));
    SELFTEST_CHECK (!keys_endpoint_needs_curve (NULL));
    SELFTEST_CHECK (!keys_is_identity ("local"));
    SELFTEST_CHECK (!keys_is_identity ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf~"));   //  ~
    SELFTEST_CHECK (keys_is_identity ("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"
                                      "7"));

    //  First start: broker, client and host certificates, two allowed
    zcert_t *broker = keys_broker_init (dir, error, sizeof error);
    SELFTEST_CHECK (broker);
    char *path = mem_sprintf ("%s/broker.key_secret", dir);
    SELFTEST_CHECK (stat (path, &st) == 0 && (st.st_mode & 077) == 0);
    free (path);
    path = mem_sprintf ("%s/broker.key", dir);
    char *pub = keys_public_from (path);
    SELFTEST_CHECK (pub && streq (pub, zcert_public_txt (broker)));
    free (pub);
    free (path);
    bool created = true;
    zcert_t *client = keys_cert_ensure (dir, "client", &created, error, sizeof error);
    SELFTEST_CHECK (client && !created);
    path = mem_sprintf ("%s/clients/client-owner.key", dir);
    pub = keys_public_from (path);
    SELFTEST_CHECK (pub && streq (pub, zcert_public_txt (client)));
    free (pub);
    free (path);
    //  The allowlist is a zcertstore: the owner's key is found in it
    path = mem_sprintf ("%s/clients", dir);
    zcertstore_t *store = zcertstore_new (path);
    SELFTEST_CHECK (zcertstore_lookup (store, zcert_public_txt (client)));
    SELFTEST_CHECK (!zcertstore_lookup (store, zcert_public_txt (broker)));
    //  ... and sees a key allowed later
    SELFTEST_CHECK (keys_allow (dir, "clients", "other", zcert_public_txt (broker),
                                error, sizeof error) == 0);
    zclock_sleep (10);
    SELFTEST_CHECK (zcertstore_lookup (store, zcert_public_txt (broker)));
    zcertstore_destroy (&store);
    free (path);
    SELFTEST_CHECK (keys_allow (dir, "clients", "../x", zcert_public_txt (broker),
                                error, sizeof error) == -1);
    SELFTEST_CHECK (keys_allow (dir, "clients", "y", "short", error, sizeof error) == -1);
    //  A second start keeps the same keys
    zcert_t *again = keys_broker_init (dir, error, sizeof error);
    SELFTEST_CHECK (again && zcert_eq (again, broker));
    zcert_destroy (&again);
    SELFTEST_CHECK (keys_public_from ("no/such/file") == NULL);

    //  A socket: plain on ipc, CURVE on tcp with the keys found in dir
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    const char *note = NULL;
    SELFTEST_CHECK (keys_apply (sock, "ipc:///tmp/x", dir, "client", &note,
                                error, sizeof error) == 0);
    SELFTEST_CHECK (zsock_mechanism (sock) == ZMQ_NULL);
    SELFTEST_CHECK (keys_apply (sock, "tcp://127.0.0.1:1", dir, "client", &note,
                                error, sizeof error) == 0 && !note);
    SELFTEST_CHECK (zsock_mechanism (sock) == ZMQ_CURVE);
    char *key = zsock_curve_publickey (sock);
    SELFTEST_CHECK (streq (key, zcert_public_txt (client)));
    zstr_free (&key);
    key = zsock_curve_serverkey (sock);
    SELFTEST_CHECK (streq (key, zcert_public_txt (broker)));
    zstr_free (&key);
    zsock_destroy (&sock);
    //  No broker key: plain, and the note says why
    char *empty = mem_sprintf ("%s/empty", base);
    sock = zsock_new (ZMQ_DEALER);
    SELFTEST_CHECK (keys_apply (sock, "tcp://127.0.0.1:1", empty, "client", &note,
                                error, sizeof error) == 0 && note);
    SELFTEST_CHECK (zsock_mechanism (sock) == ZMQ_NULL);
    zsock_destroy (&sock);
    free (empty);

    zcert_destroy (&client);
    zcert_destroy (&broker);
    if (saved_env) {
        setenv ("KMQ_CONFIG_DIR", saved_env, 1);
        free (saved_env);
    }
    char *rm = mem_sprintf ("rm -rf '%s'", base);
    SELFTEST_CHECK (system (rm) == 0);
    free (rm);
    free (dir);
}
