/*  jupyter_server — a Jupyter kernel's five sockets. See jupyter_server.h. */
#include "jupyter_server.h"
#include "mem.h"

static const char *s_channel_names [JUPYTER_CHANNEL_COUNT] = {
    "shell", "control", "stdin", "iopub"
};

struct _jupyter_server_t {
    zsock_t *sockets [JUPYTER_CHANNEL_COUNT];
    zsock_t *hb;
    jupyter_signer_t *signer;
    char *session;                  //  our Jupyter session id
    size_t dropped;
};

static int
s_bind (zsock_t *socket, json_t *config, const char *port_key,
        const char *name, char *error, size_t error_size)
{
    const char *transport = json_string_value (json_object_get (config, "transport"));
    const char *ip = json_string_value (json_object_get (config, "ip"));
    json_t *port = json_object_get (config, port_key);
    if (!transport)
        transport = "tcp";
    if (!ip || !json_is_integer (port)) {
        snprintf (error, error_size, "connection file has no ip or %s", port_key);
        return -1;
    }
    zsock_set_linger (socket, 1000);
    int rc = streq (transport, "ipc")
           ? zsock_bind (socket, "ipc://%s-%" JSON_INTEGER_FORMAT, ip, json_integer_value (port))
           : zsock_bind (socket, "%s://%s:%" JSON_INTEGER_FORMAT, transport, ip,
                         json_integer_value (port));
    if (rc == -1) {
        snprintf (error, error_size, "cannot bind the %s socket to %s %s port %"
                  JSON_INTEGER_FORMAT ": %s", name, transport, ip,
                  json_integer_value (port), zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

jupyter_server_t *
jupyter_server_new (const char *path, char *error, size_t error_size)
{
    assert (path);
    json_error_t json_error;
    json_t *config = json_load_file (path, 0, &json_error);
    if (!config || !json_is_object (config)) {
        snprintf (error, error_size, "cannot read the connection file %s: %s",
                  path, config? "not a JSON object": json_error.text);
        json_decref (config);
        return NULL;
    }
    jupyter_server_t *self = (jupyter_server_t *) zmalloc (sizeof (jupyter_server_t));
    const char *key = json_string_value (json_object_get (config, "key"));
    const char *scheme = json_string_value (json_object_get (config, "signature_scheme"));
    self->signer = jupyter_signer_new (key, key? strlen (key): 0, scheme,
                                       error, error_size);
    if (!self->signer)
        goto fail;
    zuuid_t *uuid = zuuid_new ();
    self->session = mem_strdup (zuuid_str_canonical (uuid));
    zuuid_destroy (&uuid);
    static const int types [JUPYTER_CHANNEL_COUNT] = {
        ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_PUB
    };
    static const char *ports [JUPYTER_CHANNEL_COUNT] = {
        "shell_port", "control_port", "stdin_port", "iopub_port"
    };
    for (int i = 0; i < JUPYTER_CHANNEL_COUNT; i++) {
        self->sockets [i] = zsock_new (types [i]);
        if (!self->sockets [i]
        ||  s_bind (self->sockets [i], config, ports [i], s_channel_names [i],
                    error, error_size) != 0)
            goto fail;
    }
    self->hb = zsock_new (ZMQ_REP);
    if (!self->hb || s_bind (self->hb, config, "hb_port", "hb", error, error_size) != 0)
        goto fail;
    json_decref (config);
    return self;

fail:
    json_decref (config);
    jupyter_server_destroy (&self);
    return NULL;
}

void
jupyter_server_destroy (jupyter_server_t **self_p)
{
    assert (self_p);
    jupyter_server_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < JUPYTER_CHANNEL_COUNT; i++)
        zsock_destroy (&self->sockets [i]);
    zsock_destroy (&self->hb);
    jupyter_signer_destroy (&self->signer);
    free (self->session);
    free (self);
    *self_p = NULL;
}

//  Echoes every ping waiting on hb: frontends judge the kernel alive by
//  this alone, so it never waits for the broker.
static void
s_heartbeat (jupyter_server_t *self)
{
    zmsg_t *ping;
    while ((zsock_events (self->hb) & ZMQ_POLLIN)
    &&     (ping = zmsg_recv (self->hb)))
        if (zmsg_send (&ping, self->hb) != 0)
            zmsg_destroy (&ping);
}

jupyter_msg_t *
jupyter_server_wait (jupyter_server_t *self, void *extra, int timeout,
                     jupyter_channel_t *channel, bool *extra_ready)
{
    assert (self && channel && extra_ready);
    *extra_ready = false;
    int64_t deadline = timeout < 0? -1: zclock_mono () + timeout;
    while (true) {
        zmq_pollitem_t items [] = {
            { zsock_resolve (self->sockets [JUPYTER_CONTROL]), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->sockets [JUPYTER_SHELL]), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->sockets [JUPYTER_STDIN]), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->hb), 0, ZMQ_POLLIN, 0 },
            { extra, 0, ZMQ_POLLIN, 0 },
        };
        static const jupyter_channel_t order [] = {
            JUPYTER_CONTROL, JUPYTER_SHELL, JUPYTER_STDIN
        };
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - zclock_mono ();
            wait = left > 0? (int) left: 0;
        }
        int rc = zmq_poll (items, extra? 5: 4, wait);
        if (rc < 0)
            return NULL;            //  EINTR: let the caller see its signal flag
        if (items [3].revents & ZMQ_POLLIN)
            s_heartbeat (self);
        //  Control first: an interrupt must not wait behind shell traffic
        for (int i = 0; i < 3; i++) {
            if (!(items [i].revents & ZMQ_POLLIN))
                continue;
            zmsg_t *zmsg = zmsg_recv (self->sockets [order [i]]);
            if (!zmsg)
                continue;
            char error [256];
            jupyter_msg_t *msg = jupyter_msg_decode (&zmsg, self->signer,
                                                     error, sizeof error);
            if (!msg) {
                self->dropped++;
                zsys_warning ("jupyter %s: message dropped: %s",
                              s_channel_names [order [i]], error);
                continue;
            }
            *channel = order [i];
            if (extra && (items [4].revents & ZMQ_POLLIN))
                *extra_ready = true;
            return msg;
        }
        if (extra && (items [4].revents & ZMQ_POLLIN)) {
            *extra_ready = true;
            return NULL;
        }
        if (rc == 0 || (deadline >= 0 && zclock_mono () >= deadline))
            return NULL;
    }
}

int
jupyter_server_send (jupyter_server_t *self, jupyter_channel_t channel,
                     jupyter_msg_t **msg_p)
{
    assert (self && msg_p && *msg_p && channel < JUPYTER_CHANNEL_COUNT);
    jupyter_msg_t *msg = *msg_p;
    zmsg_t *zmsg = jupyter_msg_encode (msg, self->signer,
                                       channel == JUPYTER_IOPUB? jupyter_msg_type (msg): NULL);
    jupyter_msg_destroy (msg_p);
    if (zmsg_send (&zmsg, self->sockets [channel]) != 0) {
        zsys_warning ("jupyter %s: cannot send: %s", s_channel_names [channel],
                      zmq_strerror (zmq_errno ()));
        zmsg_destroy (&zmsg);
        return -1;
    }
    return 0;
}

const char *
jupyter_server_session (jupyter_server_t *self)
{
    assert (self);
    return self->session;
}

size_t
jupyter_server_dropped (jupyter_server_t *self)
{
    assert (self);
    return self->dropped;
}
