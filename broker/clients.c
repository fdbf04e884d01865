/*  clients — labels and owed notices of the broker's clients (clients.h). */
#include "clients.h"
#include "mem.h"
#include "selftest.h"

#include <string.h>

struct _clients_t {
    zhashx_t *labels;               //  hex routing id -> label (owned)
    zlistx_t *order;                //  hex routing ids, oldest first
    zlistx_t *notices;              //  clients_notice_t *, oldest first
    size_t max_clients;
};

static void
s_str_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_notice_destructor (void **item)
{
    clients_notice_t *notice = (clients_notice_t *) *item;
    if (notice) {
        zframe_destroy (&notice->client);
        free (notice);
    }
    *item = NULL;
}

clients_t *
clients_new (size_t max_clients)
{
    assert (max_clients > 0);
    clients_t *self = (clients_t *) zmalloc (sizeof (clients_t));
    self->labels = zhashx_new ();
    zhashx_set_destructor (self->labels, s_str_destructor);
    self->order = zlistx_new ();
    zlistx_set_destructor (self->order, s_str_destructor);
    self->notices = zlistx_new ();
    zlistx_set_destructor (self->notices, s_notice_destructor);
    self->max_clients = max_clients;
    return self;
}

void
clients_destroy (clients_t **self_p)
{
    assert (self_p);
    clients_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->labels);
    zlistx_destroy (&self->order);
    zlistx_destroy (&self->notices);
    free (self);
    *self_p = NULL;
}

//  The routing id as a hash key (hex, since it may hold any byte).
static char *
s_key (zframe_t *client)
{
    return zframe_strhex (client);
}

void
clients_set_label (clients_t *self, zframe_t *client, const char *label)
{
    assert (self && client);
    char clean [CLIENTS_LABEL_MAX + 1];
    size_t used = 0;
    for (const char *c = label? label: ""; *c && used < CLIENTS_LABEL_MAX; c++)
        clean [used++] = *c >= 0x20 && *c < 0x7f? *c: '?';
    clean [used] = 0;
    char *key = s_key (client);
    if (!zhashx_lookup (self->labels, key)) {
        if (zlistx_size (self->order) >= self->max_clients) {
            char *oldest = (char *) zlistx_first (self->order);
            zhashx_delete (self->labels, oldest);
            zlistx_delete (self->order, zlistx_cursor (self->order));
        }
        zlistx_add_end (self->order, mem_strdup (key));
    }
    zhashx_update (self->labels, key, mem_strdup (*clean? clean: "anonymous"));
    free (key);
}

const char *
clients_label (clients_t *self, zframe_t *client)
{
    assert (self);
    if (!client)
        return "anonymous";
    char *key = s_key (client);
    const char *label = (const char *) zhashx_lookup (self->labels, key);
    free (key);
    return label? label: "anonymous";
}

void
clients_owe_notice (clients_t *self, zframe_t *client, const char *session,
                    int64_t give_up)
{
    assert (self && client && session);
    if (zlistx_size (self->notices) >= self->max_clients)
        zlistx_delete (self->notices, zlistx_first (self->notices)?
                                      zlistx_cursor (self->notices): NULL);
    clients_notice_t *notice = (clients_notice_t *) zmalloc (sizeof (clients_notice_t));
    notice->client = zframe_dup (client);
    snprintf (notice->session, sizeof notice->session, "%s", session);
    notice->give_up = give_up;
    zlistx_add_end (self->notices, notice);
}

clients_notice_t *
clients_notice_first (clients_t *self)
{
    assert (self);
    return (clients_notice_t *) zlistx_first (self->notices);
}

clients_notice_t *
clients_notice_next (clients_t *self)
{
    assert (self);
    return (clients_notice_t *) zlistx_next (self->notices);
}

void
clients_notice_remove_current (clients_t *self)
{
    assert (self);
    void *cursor = zlistx_cursor (self->notices);
    //  zlistx_delete moves the cursor nowhere: step back first so that
    //  clients_notice_next continues with the one after it
    zlistx_prev (self->notices);
    zlistx_delete (self->notices, cursor);
}

size_t
clients_notices (clients_t *self)
{
    assert (self);
    return zlistx_size (self->notices);
}

//  --- selftest ------------------------------------------------------------

void
clients_test (bool verbose)
{
    (void) verbose;
    clients_t *table = clients_new (2);
    zframe_t *a = zframe_new ("\0a", 2);
    zframe_t *b = zframe_new ("\0b", 2);
    zframe_t *c = zframe_new ("\0c", 2);
    SELFTEST_CHECK (streq (clients_label (table, a), "anonymous"));
    SELFTEST_CHECK (streq (clients_label (table, NULL), "anonymous"));
    clients_set_label (table, a, "alice");
    clients_set_label (table, b, "bob\n\x01 the builder, with a name far, far longer than sixty-four bytes");
    SELFTEST_CHECK (streq (clients_label (table, a), "alice"));
    const char *bob = clients_label (table, b);
    SELFTEST_CHECK (strlen (bob) == CLIENTS_LABEL_MAX && strncmp (bob, "bob?? the", 9) == 0);
    clients_set_label (table, a, "");
    SELFTEST_CHECK (streq (clients_label (table, a), "anonymous"));
    //  bounded: a third client pushes the oldest out
    clients_set_label (table, c, "carol");
    SELFTEST_CHECK (streq (clients_label (table, c), "carol"));
    SELFTEST_CHECK (streq (clients_label (table, a), "anonymous"));

    clients_owe_notice (table, a, "nb1", 100);
    clients_owe_notice (table, b, "nb2", 200);
    clients_owe_notice (table, c, "nb3", 300);       //  over the bound: nb1 goes
    SELFTEST_CHECK (clients_notices (table) == 2);
    clients_notice_t *notice = clients_notice_first (table);
    SELFTEST_CHECK (notice && streq (notice->session, "nb2") && zframe_eq (notice->client, b));
    clients_notice_remove_current (table);
    notice = clients_notice_next (table);
    SELFTEST_CHECK (notice && streq (notice->session, "nb3"));
    SELFTEST_CHECK (!clients_notice_next (table));
    SELFTEST_CHECK (clients_notices (table) == 1);
    zframe_destroy (&a);
    zframe_destroy (&b);
    zframe_destroy (&c);
    clients_destroy (&table);
    clients_destroy (&table);
}
