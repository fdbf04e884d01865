//  zbench: the ZeroMQ floor for `make bench`, and C load generators.
//
//  Raw libzmq only on the floor's paths, so the floor is what ZeroMQ itself
//  costs: a client DEALER, a ROUTER/ROUTER proxy that drains each ready
//  socket, a DEALER echo worker. The kmq modes link libkmq (the real C
//  client) and the codec (for the heartbeat header bytes).
//
//    zbench proxy FRONTEND BACKEND       ROUTER/ROUTER proxy to one echo worker
//    zbench worker BACKEND               DEALER echo worker (says READY first)
//    zbench selfecho FRONTEND            ROUTER that answers each message itself
//    zbench rtt ENDPOINT CALLS           one request at a time; JSON latencies
//    zbench load ENDPOINT CLIENTS SECONDS WINDOW KIND
//                                        pipelined load; KIND hb (kmq heartbeat
//                                        frames) or exec (kmq-like execute
//                                        frames, for the echo); JSON rate
//    zbench kmqrtt ENDPOINT SESSION CALLS  execute `x = 1` via libkmq; JSON
//
//  Every mode stops on SIGTERM/SIGINT; client modes also stop on their own
//  deadline. Output is one JSON line on stdout.
//
//  ZBENCH_CURVE=1 puts CURVE on the floors' client hop, as kmq has it on
//  tcp: proxy and selfecho bind their frontend as a CURVE server with the
//  broker's certificate from the config dir (no ZAP handler: any client key
//  is taken), and rtt and load connect as kmq's clients do (keys_apply). So
//  a floor can pay the same per-frame encryption as the broker it anchors.

#include <czmq.h>
#include <zmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "proto.h"
#include "keys.h"
#include "kmq.h"

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

//  Prints {"calls":n,"median_ms":..,"p99_ms":..} from n samples (ms).
static void
s_print_latency (double *ms, size_t n)
{
    qsort (ms, n, sizeof (double), s_cmp_double);
    double median = n % 2? ms [n / 2]: (ms [n / 2 - 1] + ms [n / 2]) / 2;
    size_t i99 = (size_t) (n * 0.99);
    if (i99 >= n)
        i99 = n - 1;
    printf ("{\"calls\": %zu, \"median_ms\": %.4f, \"p99_ms\": %.4f, "
            "\"min_ms\": %.4f, \"max_ms\": %.4f}\n",
            n, median, ms [i99], ms [0], ms [n - 1]);
}

//  Moves one whole multipart from src to dst. Returns 0, or -1 when src had
//  nothing (EAGAIN) or on error. prefix, when not NULL, is sent first.
static int
s_forward (void *src, void *dst, zmq_msg_t *prefix, bool drop_first)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, src, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&part);
        return -1;
    }
    if (prefix)
        zmq_msg_send (prefix, dst, ZMQ_SNDMORE);
    bool first = true;
    while (true) {
        bool more = zmq_msg_more (&part);
        if (drop_first && first)
            zmq_msg_close (&part);
        else
            zmq_msg_send (&part, dst, more? ZMQ_SNDMORE: 0);
        first = false;
        if (!more)
            break;
        zmq_msg_init (&part);
        zmq_msg_recv (&part, src, 0);
    }
    zmq_msg_close (&part);
    return 0;
}

static bool
s_curve (void)
{
    const char *curve = getenv ("ZBENCH_CURVE");
    return curve && streq (curve, "1");
}

//  With ZBENCH_CURVE=1, makes sock a CURVE server holding the broker's
//  secret key; returns 0, or -1 having said why.
static int
s_curve_server (void *sock)
{
    if (!s_curve ())
        return 0;
    char *dir = keys_dir_default ();
    char path [4096];
    snprintf (path, sizeof path, "%s/broker.key", dir? dir: ".");
    free (dir);
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        fprintf (stderr, "zbench: ZBENCH_CURVE=1 but no certificate at %s\n", path);
        return -1;
    }
    int server = 1;
    zmq_setsockopt (sock, ZMQ_CURVE_SERVER, &server, sizeof server);
    zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key (cert), 32);
    zcert_destroy (&cert);
    return 0;
}

//  With ZBENCH_CURVE=1 (or keyed), makes sock a CURVE client of the broker's
//  key; returns 0, or -1 having said why.
static int
s_curve_client (void *sock, const char *endpoint, bool keyed)
{
    char error [256];
    if ((keyed || s_curve ())
    &&  keys_apply (sock, endpoint, NULL, "client", NULL, error, sizeof error)) {
        fprintf (stderr, "zbench: %s\n", error);
        return -1;
    }
    return 0;
}

static int
s_proxy (const char *frontend_ep, const char *backend_ep)
{
    void *ctx = zmq_ctx_new ();
    void *frontend = zmq_socket (ctx, ZMQ_ROUTER);
    void *backend = zmq_socket (ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt (frontend, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (backend, ZMQ_LINGER, &zero, sizeof zero);
    if (s_curve_server (frontend))
        return 1;
    if (zmq_bind (frontend, frontend_ep) || zmq_bind (backend, backend_ep)) {
        fprintf (stderr, "zbench proxy: bind: %s\n", zmq_strerror (errno));
        return 1;
    }
    //  The worker's READY tells us its routing id.
    zmq_msg_t worker_id;
    zmq_msg_init (&worker_id);
    bool have_worker = false;
    zmq_pollitem_t items [] = {
        { backend, 0, ZMQ_POLLIN, 0 }, { frontend, 0, ZMQ_POLLIN, 0 }
    };
    while (!s_stop) {
        int rc = zmq_poll (items, have_worker? 2: 1, 500);
        if (rc < 0)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            while (true) {
                zmq_msg_t id;
                zmq_msg_init (&id);
                if (zmq_msg_recv (&id, backend, ZMQ_DONTWAIT) == -1) {
                    zmq_msg_close (&id);
                    break;
                }
                zmq_msg_t body;
                zmq_msg_init (&body);
                zmq_msg_recv (&body, backend, 0);
                if (!zmq_msg_more (&body)) {
                    //  [id, READY]
                    zmq_msg_copy (&worker_id, &id);
                    have_worker = true;
                    zmq_msg_close (&body);
                    zmq_msg_close (&id);
                    continue;
                }
                //  [worker id, client id, frames...] -> [client id, frames...]
                zmq_msg_close (&id);
                zmq_msg_send (&body, frontend, ZMQ_SNDMORE);
                while (true) {
                    zmq_msg_t part;
                    zmq_msg_init (&part);
                    zmq_msg_recv (&part, backend, 0);
                    bool more = zmq_msg_more (&part);
                    zmq_msg_send (&part, frontend, more? ZMQ_SNDMORE: 0);
                    zmq_msg_close (&part);
                    if (!more)
                        break;
                }
            }
        }
        if (have_worker && (items [1].revents & ZMQ_POLLIN)) {
            while (true) {
                zmq_msg_t prefix;
                zmq_msg_init (&prefix);
                zmq_msg_copy (&prefix, &worker_id);
                int moved = s_forward (frontend, backend, &prefix, false);
                zmq_msg_close (&prefix);
                if (moved)
                    break;
            }
        }
    }
    zmq_msg_close (&worker_id);
    zmq_close (frontend);
    zmq_close (backend);
    zmq_ctx_term (ctx);
    return 0;
}

static int
s_worker (const char *backend_ep)
{
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect (sock, backend_ep)) {
        fprintf (stderr, "zbench worker: connect: %s\n", zmq_strerror (errno));
        return 1;
    }
    zmq_send (sock, "READY", 5, 0);
    zmq_pollitem_t items [] = { { sock, 0, ZMQ_POLLIN, 0 } };
    while (!s_stop) {
        if (zmq_poll (items, 1, 500) < 0)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            while (s_forward (sock, sock, NULL, false) == 0)
                ;
    }
    zmq_close (sock);
    zmq_ctx_term (ctx);
    return 0;
}

static int
s_selfecho (const char *frontend_ep)
{
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    if (s_curve_server (sock))
        return 1;
    if (zmq_bind (sock, frontend_ep)) {
        fprintf (stderr, "zbench selfecho: bind: %s\n", zmq_strerror (errno));
        return 1;
    }
    zmq_pollitem_t items [] = { { sock, 0, ZMQ_POLLIN, 0 } };
    while (!s_stop) {
        if (zmq_poll (items, 1, 500) < 0)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            while (s_forward (sock, sock, NULL, false) == 0)
                ;
    }
    zmq_close (sock);
    zmq_ctx_term (ctx);
    return 0;
}

//  The frames a client sends: what kmq would send for this kind, built by
//  the codec so the floor carries the same bytes as kmq.
static zmsg_t *
s_request_frames (const char *kind)
{
    if (streq (kind, "hb"))
        return proto_encode_heartbeat ();
    if (streq (kind, "stats"))
        return proto_encode_stats (1);
    return proto_encode_execute (1, "bench-floor", "x = 1", 5, 0);
}

static int
s_send_frames (void *sock, zmsg_t *msg)
{
    size_t n = zmsg_size (msg), i = 0;
    for (zframe_t *f = zmsg_first (msg); f; f = zmsg_next (msg), i++)
        if (zmq_send (sock, zframe_data (f), zframe_size (f),
                      i + 1 < n? ZMQ_SNDMORE: 0) == -1)
            return -1;
    return 0;
}

//  Receives one whole multipart; returns 0, or -1 (EAGAIN with flags).
static int
s_recv_all (void *sock, int flags)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, sock, flags) == -1) {
        zmq_msg_close (&part);
        return -1;
    }
    while (zmq_msg_more (&part)) {
        zmq_msg_close (&part);
        zmq_msg_init (&part);
        zmq_msg_recv (&part, sock, 0);
    }
    zmq_msg_close (&part);
    return 0;
}

static int
s_rtt (const char *endpoint, int calls)
{
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, ZMQ_DEALER);
    int zero = 0, timeout = 5000;
    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (s_curve_client (sock, endpoint, false))
        return 1;
    zmq_connect (sock, endpoint);
    zmsg_t *req = s_request_frames ("exec");
    double *ms = calloc (calls, sizeof (double));
    int warm = calls / 10 + 1, done = 0;
    for (int i = -warm; i < calls && !s_stop; i++) {
        double t0 = s_now ();
        if (s_send_frames (sock, req) || s_recv_all (sock, 0)) {
            fprintf (stderr, "zbench rtt: no answer from %s: %s\n",
                     endpoint, zmq_strerror (errno));
            break;
        }
        if (i >= 0)
            ms [done++] = (s_now () - t0) * 1000;
    }
    int rc = 1;
    if (done > 0) {
        s_print_latency (ms, done);
        rc = 0;
    }
    free (ms);
    zmsg_destroy (&req);
    zmq_close (sock);
    zmq_ctx_term (ctx);
    return rc;
}

//  keyed: the broker's CURVE keys from the config dir (keys.h), as every
//  kernelmq client finds them; the floors' sockets only with ZBENCH_CURVE.
static int
s_load (const char *endpoint, int clients, double seconds, int window,
        const char *kind, bool keyed)
{
    void *ctx = zmq_ctx_new ();
    void **socks = calloc (clients, sizeof (void *));
    zmq_pollitem_t *items = calloc (clients, sizeof (zmq_pollitem_t));
    int *outstanding = calloc (clients, sizeof (int));
    zmsg_t *req = s_request_frames (kind);
    int zero = 0, hwm = 0;
    for (int c = 0; c < clients; c++) {
        socks [c] = zmq_socket (ctx, ZMQ_DEALER);
        zmq_setsockopt (socks [c], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt (socks [c], ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt (socks [c], ZMQ_RCVHWM, &hwm, sizeof hwm);
        if (s_curve_client (socks [c], endpoint, keyed))
            return 1;
        zmq_connect (socks [c], endpoint);
        items [c] = (zmq_pollitem_t) { socks [c], 0, ZMQ_POLLIN, 0 };
    }
    double start = s_now (), warm_end = start + 0.5;
    double end = warm_end + seconds;
    long replies = 0, counted = 0;
    bool counting = false;
    double t_count = warm_end;
    for (int c = 0; c < clients; c++)
        for (; outstanding [c] < window; outstanding [c]++)
            s_send_frames (socks [c], req);
    while (!s_stop) {
        double now = s_now ();
        if (!counting && now >= warm_end) {
            counting = true;
            counted = replies;
            t_count = now;
        }
        if (now >= end)
            break;
        int rc = zmq_poll (items, clients, 1000);
        if (rc < 0)
            break;
        if (rc == 0) {
            fprintf (stderr, "zbench load: %s answered nothing for 1 s\n", endpoint);
            break;
        }
        for (int c = 0; c < clients; c++) {
            if (!(items [c].revents & ZMQ_POLLIN))
                continue;
            while (s_recv_all (socks [c], ZMQ_DONTWAIT) == 0) {
                replies++;
                outstanding [c]--;
            }
            for (; outstanding [c] < window; outstanding [c]++)
                s_send_frames (socks [c], req);
        }
    }
    double elapsed = s_now () - t_count;
    long n = replies - counted;
    printf ("{\"clients\": %d, \"window\": %d, \"kind\": \"%s\", "
            "\"replies\": %ld, \"seconds\": %.3f, \"rate\": %.0f}\n",
            clients, window, kind, n, elapsed, elapsed > 0? n / elapsed: 0);
    for (int c = 0; c < clients; c++)
        zmq_close (socks [c]);
    zmsg_destroy (&req);
    free (socks);
    free (items);
    free (outstanding);
    zmq_ctx_term (ctx);
    return n > 0? 0: 1;
}

static int
s_kmqrtt (const char *endpoint, const char *session, int calls)
{
    char error [256] = "";
    kmq_t *kmq = kmq_new (endpoint, NULL, error, sizeof error);
    if (!kmq) {
        fprintf (stderr, "zbench kmqrtt: %s\n", error);
        return 1;
    }
    double *ms = calloc (calls, sizeof (double));
    int warm = calls / 10 + 1, done = 0;
    for (int i = -warm; i < calls && !s_stop; i++) {
        double t0 = s_now ();
        kmq_reply_t *reply = kmq_execute (kmq, session, "x = 1", 5, 0);
        double t1 = s_now ();
        bool ok = kmq_reply_ok (reply);
        if (!ok)
            fprintf (stderr, "zbench kmqrtt: %s: %s\n", kmq_reply_error (reply),
                     kmq_reply_message (reply));
        kmq_reply_destroy (&reply);
        if (!ok)
            break;
        if (i >= 0)
            ms [done++] = (t1 - t0) * 1000;
    }
    kmq_reply_t *reply = kmq_close (kmq, session);
    kmq_reply_destroy (&reply);
    kmq_destroy (&kmq);
    int rc = 1;
    if (done > 0) {
        s_print_latency (ms, done);
        rc = 0;
    }
    free (ms);
    return rc;
}

int
main (int argc, char *argv [])
{
    zsys_handler_set (NULL);
    signal (SIGTERM, s_on_signal);
    signal (SIGINT, s_on_signal);
    const char *mode = argc > 1? argv [1]: "";
    if (streq (mode, "proxy") && argc == 4)
        return s_proxy (argv [2], argv [3]);
    if (streq (mode, "worker") && argc == 3)
        return s_worker (argv [2]);
    if (streq (mode, "selfecho") && argc == 3)
        return s_selfecho (argv [2]);
    if (streq (mode, "rtt") && argc == 4)
        return s_rtt (argv [2], atoi (argv [3]));
    if ((streq (mode, "load") || streq (mode, "kmqload")) && argc == 7)
        return s_load (argv [2], atoi (argv [3]), atof (argv [4]),
                       atoi (argv [5]), argv [6], streq (mode, "kmqload"));
    if (streq (mode, "kmqrtt") && argc == 5)
        return s_kmqrtt (argv [2], argv [3], atoi (argv [4]));
    fprintf (stderr, "usage: zbench proxy FE BE | worker BE | selfecho FE | "
             "rtt EP CALLS | load|kmqload EP CLIENTS SECONDS WINDOW hb|stats|exec | "
             "kmqrtt EP SESSION CALLS\n");
    return 2;
}
