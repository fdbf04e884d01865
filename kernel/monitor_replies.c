/*  monitor_replies — the replies a kernel keeps (monitor_replies.h). */
#include "monitor_replies.h"
#include "selftest.h"

typedef struct {
    uint64_t id;
    zmsg_t *reply;                  //  NULL: free slot
    size_t bytes;
} s_kept_t;

struct _monitor_replies_t {
    s_kept_t kept [MONITOR_REPLIES_KEPT];   //  a ring, next = oldest
    size_t next;
    size_t bytes;
    uint64_t seen [MONITOR_REPLIES_SEEN];   //  a ring of received ids
    size_t seen_next;
    size_t seen_count;
};

monitor_replies_t *
monitor_replies_new (void)
{
    return (monitor_replies_t *) zmalloc (sizeof (monitor_replies_t));
}

static void
s_drop (monitor_replies_t *self, s_kept_t *slot)
{
    if (!slot->reply)
        return;
    self->bytes -= slot->bytes;
    zmsg_destroy (&slot->reply);
    slot->bytes = 0;
}

void
monitor_replies_destroy (monitor_replies_t **self_p)
{
    assert (self_p);
    monitor_replies_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < MONITOR_REPLIES_KEPT; i++)
        s_drop (self, &self->kept [i]);
    free (self);
    *self_p = NULL;
}

void
monitor_replies_received (monitor_replies_t *self, uint64_t id)
{
    assert (self);
    self->seen [self->seen_next] = id;
    self->seen_next = (self->seen_next + 1) % MONITOR_REPLIES_SEEN;
    if (self->seen_count < MONITOR_REPLIES_SEEN)
        self->seen_count++;
}

void
monitor_replies_keep (monitor_replies_t *self, uint64_t id, zmsg_t *reply)
{
    assert (self && reply);
    size_t bytes = zmsg_content_size (reply);
    if (bytes > MONITOR_REPLIES_BYTES)
        return;
    //  Room in bytes: the oldest go first
    for (size_t i = 0; i < MONITOR_REPLIES_KEPT
                    && self->bytes + bytes > MONITOR_REPLIES_BYTES; i++)
        s_drop (self, &self->kept [(self->next + i) % MONITOR_REPLIES_KEPT]);
    s_kept_t *slot = &self->kept [self->next];
    s_drop (self, slot);
    slot->id = id;
    slot->reply = zmsg_dup (reply);
    slot->bytes = bytes;
    self->bytes += bytes;
    self->next = (self->next + 1) % MONITOR_REPLIES_KEPT;
}

zmsg_t *
monitor_replies_copy (monitor_replies_t *self, uint64_t id)
{
    assert (self);
    //  Newest first: an id used twice is its latest request
    for (size_t i = 1; i <= MONITOR_REPLIES_KEPT; i++) {
        s_kept_t *slot = &self->kept [(self->next + MONITOR_REPLIES_KEPT - i)
                                      % MONITOR_REPLIES_KEPT];
        if (slot->reply && slot->id == id)
            return zmsg_dup (slot->reply);
    }
    return NULL;
}

bool
monitor_replies_seen (monitor_replies_t *self, uint64_t id)
{
    assert (self);
    for (size_t i = 0; i < self->seen_count; i++)
        if (self->seen [i] == id)
            return true;
    return false;
}

size_t
monitor_replies_ids (monitor_replies_t *self, uint64_t *ids)
{
    assert (self && ids);
    size_t count = 0;
    for (size_t i = 0; i < MONITOR_REPLIES_KEPT; i++) {
        s_kept_t *slot = &self->kept [(self->next + i) % MONITOR_REPLIES_KEPT];
        if (slot->reply)
            ids [count++] = slot->id;
    }
    return count;
}

size_t
monitor_replies_seen_ids (monitor_replies_t *self, uint64_t *ids)
{
    assert (self && ids);
    size_t first = (self->seen_next + MONITOR_REPLIES_SEEN - self->seen_count)
                   % MONITOR_REPLIES_SEEN;
    for (size_t i = 0; i < self->seen_count; i++)
        ids [i] = self->seen [(first + i) % MONITOR_REPLIES_SEEN];
    return self->seen_count;
}

//  --- selftest ------------------------------------------------------------

void
monitor_replies_test (bool verbose)
{
    (void) verbose;
    monitor_replies_t *replies = monitor_replies_new ();
    uint64_t ids [MONITOR_REPLIES_KEPT];
    SELFTEST_CHECK (monitor_replies_ids (replies, ids) == 0);
    SELFTEST_CHECK (!monitor_replies_seen (replies, 7));
    SELFTEST_CHECK (!monitor_replies_copy (replies, 7));
    for (uint64_t id = 1; id <= 20; id++) {
        monitor_replies_received (replies, id);
        zmsg_t *reply = zmsg_new ();
        zmsg_addstrf (reply, "reply %d", (int) id);
        monitor_replies_keep (replies, id, reply);
        zmsg_destroy (&reply);
    }
    //  the last 16 are held, oldest first; all 20 were seen
    SELFTEST_CHECK (monitor_replies_ids (replies, ids) == MONITOR_REPLIES_KEPT);
    SELFTEST_CHECK (ids [0] == 5 && ids [MONITOR_REPLIES_KEPT - 1] == 20);
    SELFTEST_CHECK (monitor_replies_seen (replies, 1) && monitor_replies_seen (replies, 20));
    uint64_t seen [MONITOR_REPLIES_SEEN];
    SELFTEST_CHECK (monitor_replies_seen_ids (replies, seen) == 20);
    SELFTEST_CHECK (seen [0] == 1 && seen [19] == 20);
    SELFTEST_CHECK (!monitor_replies_copy (replies, 4));
    zmsg_t *copy = monitor_replies_copy (replies, 9);
    SELFTEST_CHECK (copy);
    char *text = zmsg_popstr (copy);
    SELFTEST_CHECK (streq (text, "reply 9"));
    zstr_free (&text);
    zmsg_destroy (&copy);
    //  bytes: a reply past the budget is not kept; a big one pushes old ones out
    zmsg_t *huge = zmsg_new ();
    zmsg_append (huge, &(zframe_t *) { zframe_new (NULL, MONITOR_REPLIES_BYTES + 1) });
    monitor_replies_keep (replies, 99, huge);
    SELFTEST_CHECK (!monitor_replies_copy (replies, 99));
    zmsg_destroy (&huge);
    zmsg_t *big = zmsg_new ();
    zmsg_append (big, &(zframe_t *) { zframe_new (NULL, MONITOR_REPLIES_BYTES - 10) });
    monitor_replies_keep (replies, 100, big);
    zmsg_destroy (&big);
    SELFTEST_CHECK (monitor_replies_ids (replies, ids) == 2 && ids [0] == 20 && ids [1] == 100);
    //  seen ids wrap
    for (uint64_t id = 1000; id < 1000 + MONITOR_REPLIES_SEEN; id++)
        monitor_replies_received (replies, id);
    SELFTEST_CHECK (!monitor_replies_seen (replies, 20));
    SELFTEST_CHECK (monitor_replies_seen (replies, 1000));
    SELFTEST_CHECK (monitor_replies_seen_ids (replies, seen) == MONITOR_REPLIES_SEEN);
    SELFTEST_CHECK (seen [0] == 1000 && seen [MONITOR_REPLIES_SEEN - 1] == 999 + MONITOR_REPLIES_SEEN);
    monitor_replies_destroy (&replies);
    monitor_replies_destroy (&replies);
}
