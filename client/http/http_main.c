/*  kmq-http — an HTTP gateway to kernelmq sessions.

        kmq-http [--listen ADDR:PORT] [--endpoint E] [--no-auth] [--token-file F]
                 [--compat df-dict|code-sandbox] [--compat-session NAME|per-token]
                 [--tls-cert PEM --tls-key PEM] [limits...] [-v]

    Exit status: 0 after SIGTERM or SIGINT, 2 on a usage error, 3 when it
    cannot listen, read its token file or its TLS files.                 */
#include <czmq.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/resource.h>
#include "http_gateway.h"
#include "http_status.h"
#include "mem.h"

#define S_DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"
#define S_DEFAULT_LISTEN   "127.0.0.1:8080"

static const char *s_usage =
"usage: kmq-http [options]\n"
"\n"
"An HTTP gateway to kernelmq: POST /v1/sessions/KEY/execute and the rest of\n"
"client/http/openapi.json, as JSON or Server-Sent Events.\n"
"\n"
"  --listen ADDR:PORT      where to listen (default " S_DEFAULT_LISTEN "; [::1]:PORT for IPv6)\n"
"  --endpoint E            the broker (default $KMQ_ENDPOINT, else " S_DEFAULT_ENDPOINT ")\n"
"  --token-file F          bearer tokens, one a line (default\n"
"                          $XDG_CONFIG_HOME/kernelmq/http_token, else\n"
"                          ~/.config/kernelmq/http_token; made 0600 on first start)\n"
"  --no-auth               no token required; only with a loopback --listen\n"
"  --compat MODE           also serve a FastAPI sandbox's routes: df-dict\n"
"                          (/uploadfile/{name}, /files/, /downloadfile/{name},\n"
"                          /execute_code/, /clear_state/) or code-sandbox\n"
"                          (/execute_code, /upload_data/{key}, /get_data/{key},\n"
"                          /clear_data, /health)\n"
"  --compat-session S      the session compat routes use (default \"compat\"), or\n"
"                          per-token: one session per bearer token\n"
"  --tls-cert PEM, --tls-key PEM   serve HTTPS with this certificate and key\n"
"  --max-body BYTES        largest request body (default 64M; K, M, G suffixes)\n"
"  --max-header BYTES      memory per connection for the request line and headers\n"
"                          (default 32K)\n"
"  --max-connections N     open connections at most (default 4096)\n"
"  --max-per-ip N          open connections per client address (default 0: no limit)\n"
"  --read-timeout-s S      a request's headers and body must be in within S seconds\n"
"                          (default 30; slow clients are cut off)\n"
"  --idle-timeout-s S      a connection with no traffic for S seconds is closed\n"
"                          (default 60)\n"
"  -v, --verbose           log each request\n"
"  --routes                print the routes (with --compat: that mode's too) and exit\n"
"  --all-routes            print every route of every mode and exit\n"
"  --error-table           print the error name to HTTP status table as JSON and exit\n";

static int
s_usage_error (const char *what, const char *arg)
{
    fprintf (stderr, "kmq-http: %s%s%s\n%s", what, arg? ": ": "", arg? arg: "", s_usage);
    return 2;
}

//  A size with an optional K, M or G suffix; -1 on a bad value.
static int
s_size (const char *text, uint64_t max, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno || end == text || *text == '-')
        return -1;
    unsigned shift = *end == 'K'? 10: *end == 'M'? 20: *end == 'G'? 30: 0;
    if (shift)
        end++;
    if (*end || number > (max >> shift))
        return -1;
    *value = (uint64_t) number << shift;
    return 0;
}

//  ADDR:PORT, [ADDR6]:PORT or localhost:PORT into addr. -1 when invalid.
static int
s_listen (const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
    const char *colon = strrchr (text, ':');
    if (!colon || colon == text)
        return -1;
    char host [256];
    size_t hlen = (size_t) (colon - text);
    if (hlen >= sizeof host)
        return -1;
    memcpy (host, text, hlen);
    host [hlen] = 0;
    uint64_t port;
    if (s_size (colon + 1, 65535, &port) != 0 || colon [1] == 0)
        return -1;
    memset (addr, 0, sizeof *addr);
    if (host [0] == '[' && host [hlen - 1] == ']') {
        host [hlen - 1] = 0;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) addr;
        if (inet_pton (AF_INET6, host + 1, &in6->sin6_addr) != 1)
            return -1;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons ((uint16_t) port);
        *len = sizeof *in6;
        return 0;
    }
    struct sockaddr_in *in = (struct sockaddr_in *) addr;
    if (streq (host, "localhost"))
        snprintf (host, sizeof host, "127.0.0.1");
    if (inet_pton (AF_INET, host, &in->sin_addr) != 1)
        return -1;
    in->sin_family = AF_INET;
    in->sin_port = htons ((uint16_t) port);
    *len = sizeof *in;
    return 0;
}

static bool
s_loopback (const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET)
        return (ntohl (((const struct sockaddr_in *) addr)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *) addr)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK (a6);
}

//  The whole of a small file (a PEM), or NULL with errno set.
static char *
s_slurp (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *text = (char *) mem_alloc (1024 * 1024 + 1);
    size_t size = fread (text, 1, 1024 * 1024, file);
    int failed = ferror (file);
    fclose (file);
    if (failed) {
        free (text);
        errno = EIO;
        return NULL;
    }
    text [size] = 0;
    return text;
}

//  Enough descriptors for max_connections (the soft limit up to the hard one).
static void
s_raise_nofile (unsigned connections)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
        return;
    rlim_t want = (rlim_t) connections + 256;
    if (limit.rlim_cur >= want)
        return;
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY || limit.rlim_max > want
                   ? want: limit.rlim_max;
    if (setrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < want)
        zsys_warning ("kmq-http: only %lu file descriptors: fewer than --max-connections"
                      " %u clients can connect (raise ulimit -n)",
                      (unsigned long) limit.rlim_cur, connections);
}

int
main (int argc, char **argv)
{
    http_gateway_config_t config = { .auth = true, .compat_session = "compat" };
    const char *endpoint = getenv ("KMQ_ENDPOINT");
    config.endpoint = endpoint && *endpoint? endpoint: S_DEFAULT_ENDPOINT;
    config.listen = S_DEFAULT_LISTEN;
    uint64_t max_body = 64 << 20, max_header = 32 << 10, max_connections = 4096,
             max_per_ip = 0, read_timeout = 30, idle_timeout = 60;
    const char *tls_cert = NULL, *tls_key = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc? argv [i + 1]: NULL;
        uint64_t *size = streq (arg, "--max-body")? &max_body
                       : streq (arg, "--max-header")? &max_header
                       : streq (arg, "--max-connections")? &max_connections
                       : streq (arg, "--max-per-ip")? &max_per_ip
                       : streq (arg, "--read-timeout-s")? &read_timeout
                       : streq (arg, "--idle-timeout-s")? &idle_timeout: NULL;
        if (size) {
            if (!value || s_size (value, UINT32_MAX, size) != 0)
                return s_usage_error ("a whole number is needed after", arg);
            i++;
        }
        else
        if (streq (arg, "--listen") && value)
            config.listen = argv [++i];
        else
        if ((streq (arg, "--endpoint") || streq (arg, "-e")) && value)
            config.endpoint = argv [++i];
        else
        if (streq (arg, "--token-file") && value)
            config.token_file = argv [++i];
        else
        if (streq (arg, "--no-auth"))
            config.auth = false;
        else
        if (streq (arg, "--compat") && value) {
            i++;
            if (streq (value, "df-dict"))
                config.compat = HTTP_COMPAT_DF_DICT;
            else
            if (streq (value, "code-sandbox"))
                config.compat = HTTP_COMPAT_CODE_SANDBOX;
            else
                return s_usage_error ("--compat takes df-dict or code-sandbox", value);
        }
        else
        if (streq (arg, "--compat-session") && value)
            config.compat_session = argv [++i];
        else
        if (streq (arg, "--tls-cert") && value)
            tls_cert = argv [++i];
        else
        if (streq (arg, "--tls-key") && value)
            tls_key = argv [++i];
        else
        if (streq (arg, "-v") || streq (arg, "--verbose"))
            config.verbose = true;
        else
        if (streq (arg, "--routes") || streq (arg, "--all-routes")) {
            http_gateway_print_routes (config.compat, streq (arg, "--all-routes"), stdout);
            return 0;
        }
        else
        if (streq (arg, "--error-table")) {
            printf ("{");
            for (size_t e = 0; http_status_entry (e); e++)
                printf ("%s\n  \"%s\": %u", e? ",": "", http_status_entry (e)->error,
                        http_status_entry (e)->status);
            printf ("\n}\n");
            return 0;
        }
        else
        if (streq (arg, "-h") || streq (arg, "--help")) {
            printf ("%s", s_usage);
            return 0;
        }
        else
            return s_usage_error ("unknown or incomplete option", arg);
    }
    if (s_listen (config.listen, &config.server.addr, &config.server.addr_len) != 0)
        return s_usage_error ("--listen takes ADDR:PORT (127.0.0.1:8080, [::1]:8080)",
                              config.listen);
    if (!config.auth && !s_loopback (&config.server.addr))
        return s_usage_error ("--no-auth is allowed only on a loopback --listen"
                              " (127.0.0.1, ::1): anyone who reaches the port would"
                              " run code", config.listen);
    if (!streq (config.compat_session, "per-token")
    &&  (!*config.compat_session || strlen (config.compat_session) > 128
         || strspn (config.compat_session, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789._:-") != strlen (config.compat_session)))
        return s_usage_error ("--compat-session takes a session key or per-token",
                              config.compat_session);
    if (streq (config.compat_session, "per-token") && !config.auth)
        return s_usage_error ("--compat-session per-token needs tokens (drop --no-auth)", NULL);
    if (!tls_cert != !tls_key)
        return s_usage_error ("--tls-cert and --tls-key go together", NULL);
    if (max_body == 0 || max_connections == 0 || max_header < 1024)
        return s_usage_error ("--max-body and --max-connections must be positive,"
                              " --max-header at least 1K", NULL);
    config.server.max_body_bytes = (size_t) max_body;
    config.server.max_header_bytes = (size_t) max_header;
    config.server.max_connections = (unsigned) max_connections;
    config.server.max_per_ip = (unsigned) max_per_ip;
    config.server.read_timeout_s = (unsigned) read_timeout;
    config.server.idle_timeout_s = (unsigned) idle_timeout;
    zsys_handler_set (NULL);        //  signal_pipe takes SIGTERM and SIGINT
    zsys_init ();
    zsys_set_logstream (stderr);
    char *cert = NULL, *key = NULL;
    if (tls_cert) {
        cert = s_slurp (tls_cert);
        key = cert? s_slurp (tls_key): NULL;
        if (!cert || !key) {
            zsys_error ("kmq-http: cannot read %s: %s", cert? tls_key: tls_cert,
                        strerror (errno));
            free (cert);
            return 3;
        }
        config.server.tls_cert_pem = cert;
        config.server.tls_key_pem = key;
    }
    if (!config.auth)
        zsys_warning ("kmq-http: --no-auth: anyone who can reach %s runs code in"
                      " kernelmq sessions (it is a loopback address: only this"
                      " machine's users)", config.listen);
    s_raise_nofile (config.server.max_connections);
    char error [512];
    http_gateway_t *gateway = http_gateway_new (&config, error, sizeof error);
    if (key)
        memset (key, 0, strlen (key));
    free (cert);
    free (key);
    if (!gateway) {
        zsys_error ("kmq-http: %s", error);
        return 3;
    }
    int status = http_gateway_run (gateway);
    http_gateway_destroy (&gateway);
    return status;
}
