/*  auth — the broker's CURVE servers and its ZAP handler (see auth.h).   */
#include "auth.h"
#include "keys.h"
#include "mem.h"
#include "selftest.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define S_ZAP_ENDPOINT  "inproc://zeromq.zap.01"
#define S_MONITORS      2           //  the frontend and the backend

typedef struct {
    int64_t window_start;
    unsigned logged;                //  lines in this window
    uint64_t suppressed;            //  refusals not logged in this window
} s_limit_t;

struct _auth_t {
    const char *dir;
    zsock_t *zap;                   //  REP bound to the ZAP endpoint
    zcertstore_t *clients;
    zcertstore_t *hosts;
    zcertstore_t *gateways;
    zsock_t *monitors [S_MONITORS]; //  PAIR ends of socket monitors
    char *watched [S_MONITORS];     //  what each watches, for the log
    size_t nmonitors;
    s_limit_t limit [2];            //  ZAP denials, failed handshakes: apart, so
                                    //  a flood of one never hides the other
    uint64_t refusals;
};

//  --- refusal log: a burst per window, then a count --------------------

//  True when a refusal at now may have its own line. A new window first
//  reports what the last one held back (*held_back, 0 when nothing).
static bool
s_limit_take (s_limit_t *self, int64_t now, uint64_t *held_back)
{
    *held_back = 0;
    if (now - self->window_start >= AUTH_LOG_WINDOW_MS) {
        *held_back = self->suppressed;
        self->window_start = now;
        self->logged = 0;
        self->suppressed = 0;
    }
    if (self->logged < AUTH_LOG_BURST) {
        self->logged++;
        return true;
    }
    self->suppressed++;
    return false;
}

static void
s_refused (auth_t *self, s_limit_t *limit, const char *format, ...)
{
    self->refusals++;
    uint64_t held_back;
    bool log = s_limit_take (limit, zclock_mono (), &held_back);
    if (held_back)
        zsys_warning ("auth: %" PRIu64 " more refusals in %d s were not logged",
                      held_back, AUTH_LOG_WINDOW_MS / 1000);
    if (!log) {
        if (limit->suppressed == 1)
            zsys_warning ("auth: more than %d refusals in %d s; the rest of this "
                          "window is counted, not logged", AUTH_LOG_BURST,
                          AUTH_LOG_WINDOW_MS / 1000);
        return;
    }
    va_list args;
    va_start (args, format);
    char *text = mem_vsprintf (format, args);
    va_end (args);
    zsys_warning ("%s", text);
    free (text);
}

//  --- ZAP ----------------------------------------------------------------

static zcertstore_t *
s_store (const char *dir, const char *sub)
{
    char *path = mem_sprintf ("%s/%s", dir, sub);
    if (mkdir (path, 0700) == -1 && errno != EEXIST)
        zsys_warning ("auth: mkdir %s: %s (no key of that list is allowed)", path,
                      strerror (errno));
    zcertstore_t *store = zcertstore_new (path);
    free (path);
    return store;
}

auth_t *
auth_new (const char *dir)
{
    assert (dir);
    auth_t *self = (auth_t *) zmalloc (sizeof (auth_t));
    self->dir = dir;
    self->clients = s_store (dir, "clients");
    self->hosts = s_store (dir, "hosts");
    self->gateways = s_store (dir, "gateways");
    self->zap = zsock_new (ZMQ_REP);
    if (!self->zap || zsock_bind (self->zap, S_ZAP_ENDPOINT) == -1) {
        zsys_error ("auth: cannot bind the ZAP handler %s: %s", S_ZAP_ENDPOINT,
                    zmq_strerror (zmq_errno ()));
        auth_destroy (&self);
        return NULL;
    }
    zsock_set_rcvtimeo (self->zap, 0);
    zsock_set_sndtimeo (self->zap, 0);
    return self;
}

void
auth_destroy (auth_t **self_p)
{
    assert (self_p);
    auth_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nmonitors; i++) {
        zsock_destroy (&self->monitors [i]);
        free (self->watched [i]);
    }
    zsock_destroy (&self->zap);
    zcertstore_destroy (&self->clients);
    zcertstore_destroy (&self->hosts);
    zcertstore_destroy (&self->gateways);
    free (self);
    *self_p = NULL;
}

void
auth_server (auth_t *self, zsock_t *sock, const char *endpoint, zcert_t *cert,
             const char *domain)
{
    assert (self && sock && cert && domain);
    if (!keys_endpoint_needs_curve (endpoint))
        return;
    zcert_apply (cert, zsock_resolve (sock));
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, domain);
}

int
auth_watch (auth_t *self, zsock_t *sock, const char *what)
{
    assert (self && sock && what);
    if (zsock_mechanism (sock) != ZMQ_CURVE || self->nmonitors == S_MONITORS)
        return 0;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://kmq-auth-monitor-%zu-%p",
              self->nmonitors, (void *) self);
    //  Protocol failures only: a peer that hangs up mid-handshake (NO_DETAIL)
    //  was not refused, and ZAP denials are logged by the handler
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    if (zmq_socket_monitor (zsock_resolve (sock), endpoint, events) == -1) {
        zsys_warning ("auth: %s: cannot monitor handshakes: %s (peers without a key are "
                      "still refused, but not logged)", what, zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_t *pair = zsock_new (ZMQ_PAIR);
    if (!pair || zsock_connect (pair, "%s", endpoint) == -1) {
        zsock_destroy (&pair);
        zsys_warning ("auth: %s: cannot read the handshake monitor", what);
        return -1;
    }
    zsock_set_rcvtimeo (pair, 0);
    self->monitors [self->nmonitors] = pair;
    self->watched [self->nmonitors++] = mem_strdup (what);
    return 0;
}

size_t
auth_poll_items (auth_t *self, zmq_pollitem_t *items)
{
    assert (self && items);
    size_t n = 0;
    items [n++] = (zmq_pollitem_t) { zsock_resolve (self->zap), 0, ZMQ_POLLIN, 0 };
    for (size_t i = 0; i < self->nmonitors; i++)
        items [n++] = (zmq_pollitem_t) { zsock_resolve (self->monitors [i]), 0,
                                         ZMQ_POLLIN, 0 };
    return n;
}

//  The allowlist of a ZAP domain, NULL for an unknown one.
static bool
s_allowed (auth_t *self, const char *domain, const char *key)
{
    if (streq (domain, "clients"))
        return zcertstore_lookup (self->clients, key)
            || zcertstore_lookup (self->gateways, key);
    if (streq (domain, "hosts"))
        return zcertstore_lookup (self->hosts, key) != NULL;
    return false;
}

static void
s_zap_request (auth_t *self, zmsg_t *request)
{
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *routing = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credential = zmsg_pop (request);
    bool ok = false;
    char key [KEYS_Z85_LEN + 1] = "";
    const char *why = "not a CURVE handshake";
    if (version && streq (version, "1.0") && mechanism && streq (mechanism, "CURVE")
    &&  credential && zframe_size (credential) == 32 && domain) {
        zmq_z85_encode (key, zframe_data (credential), 32);
        ok = s_allowed (self, domain, key);
        why = "key not in the allowlist";
    }
    if (!ok && *key)
        s_refused (self, &self->limit [0], "auth: refused %s from %s: key %s is not in %s/%s/ "
                   "(kmq keys allow it to let it in)",
                   domain && streq (domain, "hosts") ? "a kernel host" : "a client",
                   address ? address : "?", key, self->dir, domain);
    else if (!ok)
        s_refused (self, &self->limit [0], "auth: refused a peer from %s: %s",
                   address ? address : "?", why);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, sequence ? sequence : "");
    zmsg_addstr (reply, ok ? "200" : "400");
    zmsg_addstr (reply, ok ? "OK" : "key not allowed");
    zmsg_addstr (reply, ok ? key : "");
    zmsg_addmem (reply, "", 0);
    if (zmsg_send (&reply, self->zap) != 0)
        zmsg_destroy (&reply);
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&routing);
    zstr_free (&mechanism);
    zframe_destroy (&credential);
}

static void
s_monitor_event (auth_t *self, size_t index, zmsg_t *event)
{
    zframe_t *head = zmsg_first (event);
    if (!head || zframe_size (head) < 6)
        return;
    uint16_t id;
    uint32_t value;
    memcpy (&id, zframe_data (head), 2);
    memcpy (&value, zframe_data (head) + 2, 4);
    if (id != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        return;
    s_refused (self, &self->limit [1], "auth: %s: refused a peer: protocol error (a peer "
               "without CURVE, or not a ZeroMQ peer), code 0x%x", self->watched [index],
               (unsigned) value);
}

void
auth_handle (auth_t *self)
{
    assert (self);
    for (int i = 0; i < 256; i++) {
        zmsg_t *request = zmsg_recv (self->zap);
        if (!request)
            break;
        s_zap_request (self, request);
        zmsg_destroy (&request);
    }
    for (size_t m = 0; m < self->nmonitors; m++)
        for (int i = 0; i < 256; i++) {
            zmsg_t *event = zmsg_recv (self->monitors [m]);
            if (!event)
                break;
            s_monitor_event (self, m, event);
            zmsg_destroy (&event);
        }
}

bool
auth_is_gateway (auth_t *self, const char *identity)
{
    assert (self);
    return identity && keys_is_identity (identity)
        && zcertstore_lookup (self->gateways, identity) != NULL;
}

uint64_t
auth_refusals (auth_t *self)
{
    assert (self);
    return self->refusals;
}

//  --- selftest -----------------------------------------------------------

void
auth_test (bool verbose)
{
    (void) verbose;
    //  The log limit: a burst, then counted, then reported in the next window
    s_limit_t limit = { 0 };
    uint64_t held;
    unsigned lines = 0;
    for (int i = 0; i < 1000; i++)
        lines += s_limit_take (&limit, 1000 + i, &held);
    SELFTEST_CHECK (lines == AUTH_LOG_BURST && held == 0);
    SELFTEST_CHECK (s_limit_take (&limit, 1000 + AUTH_LOG_WINDOW_MS, &held));
    SELFTEST_CHECK (held == 1000 - AUTH_LOG_BURST);

    //  A CURVE server in domain "clients": the owner's key gets in with its
    //  key as User-Id; a stranger's key never delivers a message
    char template [] = "/tmp/kmq-auth-test-XXXXXX";
    char *dir = mkdtemp (template);
    SELFTEST_CHECK (dir);
    char error [256];
    zcert_t *broker = keys_broker_init (dir, error, sizeof error);
    SELFTEST_CHECK (broker);
    auth_t *auth = auth_new (dir);
    SELFTEST_CHECK (auth);
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    auth_server (auth, server, "tcp://127.0.0.1:*", broker, "clients");
    int port = zsock_bind (server, "tcp://127.0.0.1:*");
    SELFTEST_CHECK (port > 0);
    SELFTEST_CHECK (auth_watch (auth, server, "frontend") == 0);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);

    zsock_t *good = zsock_new (ZMQ_DEALER);
    SELFTEST_CHECK (keys_apply (good, endpoint, dir, "client", NULL, error,
                                sizeof error) == 0);
    zsock_connect (good, "%s", endpoint);
    zsock_t *stranger = zsock_new (ZMQ_DEALER);
    zcert_t *other = zcert_new ();
    zcert_apply (other, zsock_resolve (stranger));
    zsock_set_curve_serverkey (stranger, zcert_public_txt (broker));
    zsock_connect (stranger, "%s", endpoint);
    zsock_t *plain = zsock_new (ZMQ_DEALER);
    zsock_connect (plain, "%s", endpoint);
    zstr_send (stranger, "stranger");
    zstr_send (plain, "plain");
    zstr_send (good, "good");

    zmq_pollitem_t items [1 + AUTH_POLL_MAX];
    items [0] = (zmq_pollitem_t) { zsock_resolve (server), 0, ZMQ_POLLIN, 0 };
    size_t n = 1 + auth_poll_items (auth, items + 1);
    bool got_good = false;
    int64_t deadline = zclock_mono () + 3000;
    while (zclock_mono () < deadline && (!got_good || auth_refusals (auth) < 2)) {
        if (zmq_poll (items, (int) n, 100) <= 0)
            continue;
        auth_handle (auth);
        if (items [0].revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (server);
            zframe_t *routing = zmsg_pop (msg);
            zframe_t *body = zmsg_first (msg);
            SELFTEST_CHECK (zframe_streq (body, "good"));
            const char *user = zframe_meta (body, "User-Id");
            zcert_t *mine = keys_cert_ensure (dir, "client", NULL, error, sizeof error);
            SELFTEST_CHECK (mine && user && streq (user, zcert_public_txt (mine)));
            zcert_destroy (&mine);
            got_good = true;
            zframe_destroy (&routing);
            zmsg_destroy (&msg);
        }
    }
    SELFTEST_CHECK (got_good);
    SELFTEST_CHECK (auth_refusals (auth) >= 2);
    SELFTEST_CHECK (!auth_is_gateway (auth, zcert_public_txt (other)));
    SELFTEST_CHECK (keys_allow (dir, "gateways", "gw", zcert_public_txt (other),
                                error, sizeof error) == 0);
    zclock_sleep (10);
    SELFTEST_CHECK (auth_is_gateway (auth, zcert_public_txt (other)));

    zsock_destroy (&good);
    zsock_destroy (&stranger);
    zsock_destroy (&plain);
    zsock_destroy (&server);
    auth_destroy (&auth);
    zcert_destroy (&other);
    zcert_destroy (&broker);
    char *rm = mem_sprintf ("rm -rf '%s'", dir);
    SELFTEST_CHECK (system (rm) == 0);
    free (rm);
}
