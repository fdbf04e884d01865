/*  hosts — the broker's registry of kernel hosts (see hosts.h). */
#include "hosts.h"
#include "selftest.h"

#include <string.h>

struct _hosts_t {
    zlistx_t *entries;              //  hosts_entry_t *, registration order
};

static void
s_entry_destroy (void **item)
{
    hosts_entry_t *entry = (hosts_entry_t *) *item;
    if (!entry)
        return;
    zframe_destroy (&entry->route);
    free (entry);
    *item = NULL;
}

hosts_t *
hosts_new (void)
{
    hosts_t *self = (hosts_t *) zmalloc (sizeof (hosts_t));
    self->entries = zlistx_new ();
    zlistx_set_destructor (self->entries, s_entry_destroy);
    return self;
}

void
hosts_destroy (hosts_t **self_p)
{
    assert (self_p);
    hosts_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->entries);
    free (self);
    *self_p = NULL;
}

hosts_entry_t *
hosts_lookup (hosts_t *self, const char *id)
{
    assert (self && id);
    for (hosts_entry_t *entry = (hosts_entry_t *) zlistx_first (self->entries); entry;
         entry = (hosts_entry_t *) zlistx_next (self->entries))
        if (streq (entry->id, id))
            return entry;
    return NULL;
}

hosts_entry_t *
hosts_ready (hosts_t *self, const char *id, zframe_t *route, pid_t pid,
             uint64_t max_sessions, uint64_t running, int64_t settle_until, int64_t now)
{
    assert (self && id && route);
    hosts_entry_t *entry = hosts_lookup (self, id);
    if (!entry) {
        entry = (hosts_entry_t *) zmalloc (sizeof (hosts_entry_t));
        snprintf (entry->id, sizeof entry->id, "%s", id);
        zlistx_add_end (self->entries, entry);
    }
    zframe_destroy (&entry->route);
    entry->route = zframe_dup (route);
    entry->pid = pid;
    entry->max_sessions = max_sessions;
    entry->heard = now;
    entry->running = running;
    entry->expected = (size_t) running;
    entry->settle_until = running? settle_until: 0;
    return entry;
}

void
hosts_remove (hosts_t *self, const char *id)
{
    assert (self && id);
    if (hosts_lookup (self, id))
        zlistx_delete (self->entries, zlistx_cursor (self->entries));
}

size_t
hosts_size (hosts_t *self)
{
    assert (self);
    return zlistx_size (self->entries);
}

void
hosts_kernel_back (hosts_t *self, const char *id)
{
    assert (self && id);
    hosts_entry_t *entry = hosts_lookup (self, id);
    if (entry && entry->expected > 0)
        entry->expected--;
}

bool
hosts_settling (hosts_t *self, int64_t now)
{
    assert (self);
    for (hosts_entry_t *entry = (hosts_entry_t *) zlistx_first (self->entries); entry;
         entry = (hosts_entry_t *) zlistx_next (self->entries))
        if (entry->expected > 0 && now < entry->settle_until)
            return true;
    return false;
}

uint64_t
hosts_capacity (const hosts_entry_t *entry)
{
    assert (entry);
    if (entry->memory_sessions && entry->memory_sessions < entry->max_sessions)
        return entry->memory_sessions;
    return entry->max_sessions;
}

hosts_entry_t *
hosts_memory_bound (hosts_t *self, hosts_load_fn *load, void *arg)
{
    assert (self && load);
    for (hosts_entry_t *entry = (hosts_entry_t *) zlistx_first (self->entries); entry;
         entry = (hosts_entry_t *) zlistx_next (self->entries))
        if (entry->memory_sessions && entry->memory_sessions < entry->max_sessions
        &&  (uint64_t) load (entry->id, arg) >= entry->memory_sessions)
            return entry;
    return NULL;
}

hosts_entry_t *
hosts_place (hosts_t *self, hosts_load_fn *load, void *arg)
{
    assert (self && load);
    hosts_entry_t *best = NULL;
    uint64_t best_room = 0;
    for (hosts_entry_t *entry = (hosts_entry_t *) zlistx_first (self->entries); entry;
         entry = (hosts_entry_t *) zlistx_next (self->entries)) {
        uint64_t placed = (uint64_t) load (entry->id, arg);
        uint64_t capacity = hosts_capacity (entry);
        uint64_t room = capacity > placed? capacity - placed: 0;
        if (room > best_room) {
            best = entry;
            best_room = room;
        }
    }
    return best;
}

zlistx_t *
hosts_list (hosts_t *self)
{
    assert (self);
    return self->entries;
}

//  --- selftest -----------------------------------------------------------

//  The test's load: sessions per host id in a zhashx of counts.
static size_t
s_test_load (const char *id, void *arg)
{
    return (size_t) (uintptr_t) zhashx_lookup ((zhashx_t *) arg, id);
}

void
hosts_test (bool verbose)
{
    if (verbose)
        printf (" * hosts: ");
    hosts_t *hosts = hosts_new ();
    zhashx_t *load = zhashx_new ();
    SELFTEST_CHECK (hosts_place (hosts, s_test_load, load) == NULL);

    zframe_t *route_a = zframe_new ("host:a", 6);
    zframe_t *route_b = zframe_new ("host:b", 6);
    hosts_entry_t *a = hosts_ready (hosts, "a", route_a, 100, 2, 0, 0, 10);
    SELFTEST_CHECK (a && streq (a->id, "a") && a->max_sessions == 2 && a->heard == 10);
    SELFTEST_CHECK (zframe_eq (a->route, route_a));
    hosts_entry_t *b = hosts_ready (hosts, "b", route_b, 200, 3, 2, 500, 20);
    SELFTEST_CHECK (hosts_size (hosts) == 2 && hosts_lookup (hosts, "b") == b);

    //  b has two kernels to come back: settling until they do or 500
    SELFTEST_CHECK (hosts_settling (hosts, 100));
    hosts_kernel_back (hosts, "b");
    SELFTEST_CHECK (hosts_settling (hosts, 100));
    hosts_kernel_back (hosts, "b");
    SELFTEST_CHECK (!hosts_settling (hosts, 100));
    hosts_kernel_back (hosts, "b");             //  one too many: harmless
    hosts_kernel_back (hosts, "nobody");
    hosts_ready (hosts, "b", route_b, 200, 3, 1, 500, 30);
    SELFTEST_CHECK (hosts_settling (hosts, 499) && !hosts_settling (hosts, 500));

    //  Placement: most headroom, the earliest on a tie, none when full
    SELFTEST_CHECK (hosts_place (hosts, s_test_load, load) == b);     //  3 vs 2
    zhashx_update (load, "b", (void *) 1);
    SELFTEST_CHECK (hosts_place (hosts, s_test_load, load) == a);     //  2 vs 2: a first
    zhashx_update (load, "a", (void *) 2);
    zhashx_update (load, "b", (void *) 3);
    SELFTEST_CHECK (hosts_place (hosts, s_test_load, load) == NULL);

    //  A host whose memory admits fewer sessions than max_sessions
    SELFTEST_CHECK (hosts_memory_bound (hosts, s_test_load, load) == NULL);
    b->memory_sessions = 2;
    SELFTEST_CHECK (hosts_capacity (b) == 2 && hosts_capacity (a) == 2);
    SELFTEST_CHECK (hosts_memory_bound (hosts, s_test_load, load) == b);
    b->memory_sessions = 0;

    //  A host that re-registers keeps its place, takes the new route
    zframe_t *route_a2 = zframe_new ("host:a", 6);
    SELFTEST_CHECK (hosts_ready (hosts, "a", route_a2, 101, 5, 0, 0, 40) == a);
    SELFTEST_CHECK (a->pid == 101 && a->max_sessions == 5 && hosts_size (hosts) == 2);
    SELFTEST_CHECK (hosts_place (hosts, s_test_load, load) == a);
    hosts_remove (hosts, "a");
    hosts_remove (hosts, "a");
    SELFTEST_CHECK (hosts_size (hosts) == 1 && !hosts_lookup (hosts, "a"));
    SELFTEST_CHECK (zlistx_first (hosts_list (hosts)) == b);

    zframe_destroy (&route_a);
    zframe_destroy (&route_a2);
    zframe_destroy (&route_b);
    zhashx_destroy (&load);
    hosts_destroy (&hosts);
    hosts_destroy (&hosts);
    if (verbose)
        printf ("OK\n");
}
