/*  owners — which key a session belongs to (see owners.h).                */
#include "owners.h"
#include "keys.h"
#include "mem.h"
#include "proto.h"
#include "selftest.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char *owner;
    zlistx_t *shared;               //  identities (strings)
} s_claim_t;

struct _owners_t {
    zhashx_t *claims;               //  session key -> s_claim_t
    char *path;                     //  the log, NULL in memory only
    FILE *log;                      //  open for appending
};

static void
s_claim_destroy (void **item_p)
{
    s_claim_t *claim = (s_claim_t *) *item_p;
    if (!claim)
        return;
    free (claim->owner);
    zlistx_destroy (&claim->shared);
    free (claim);
    *item_p = NULL;
}

static s_claim_t *
s_claim_new (const char *owner)
{
    s_claim_t *claim = (s_claim_t *) zmalloc (sizeof (s_claim_t));
    claim->owner = mem_strdup (owner);
    claim->shared = zlistx_new ();
    zlistx_set_destructor (claim->shared, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (claim->shared, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (claim->shared, (zlistx_comparator_fn *) strcmp);
    return claim;
}

//  Applies one change to memory. Returns 0, or -1 for a line that is not
//  one (a torn last line after a crash, or a hand edit: skipped).
static int
s_apply (owners_t *self, const char *verb, const char *session, const char *who)
{
    if (!proto_session_valid (session, strlen (session)))
        return -1;
    s_claim_t *claim = (s_claim_t *) zhashx_lookup (self->claims, session);
    if (streq (verb, "forget")) {
        zhashx_delete (self->claims, session);
        return 0;
    }
    if (!who || (!keys_is_identity (who) && !streq (who, KEYS_LOCAL)))
        return -1;
    if (streq (verb, "claim")) {
        zhashx_update (self->claims, session, s_claim_new (who));
        return 0;
    }
    if (!claim)
        return -1;
    void *found = zlistx_find (claim->shared, (void *) who);
    if (streq (verb, "share") && !found)
        zlistx_add_end (claim->shared, (void *) who);
    else if (streq (verb, "unshare") && found)
        zlistx_delete (claim->shared, found);
    else if (!streq (verb, "share") && !streq (verb, "unshare"))
        return -1;
    return 0;
}

//  Records a change: memory, then a line of the log.
static void
s_record (owners_t *self, const char *verb, const char *session, const char *who)
{
    if (s_apply (self, verb, session, who) || !self->log)
        return;
    if (fprintf (self->log, "%s %s%s%s\n", verb, session, who ? " " : "", who ? who : "") < 0
    ||  fflush (self->log) != 0) {
        zsys_error ("owners: cannot write %s: %s; session owners are kept in memory "
                    "only, and a restarted broker will not know them", self->path,
                    strerror (errno));
        fclose (self->log);
        self->log = NULL;
    }
}

static void
s_load (owners_t *self)
{
    FILE *in = fopen (self->path, "r");
    if (!in) {
        if (errno != ENOENT)
            zsys_warning ("owners: cannot read %s: %s (starting with no session "
                          "owners)", self->path, strerror (errno));
        return;
    }
    char line [512];
    size_t bad = 0;
    while (fgets (line, sizeof line, in)) {
        line [strcspn (line, "\n")] = 0;
        char *save = NULL;
        char *verb = strtok_r (line, " ", &save);
        char *session = verb ? strtok_r (NULL, " ", &save) : NULL;
        char *who = session ? strtok_r (NULL, " ", &save) : NULL;
        if (!verb || !session || s_apply (self, verb, session, who))
            bad++;
    }
    fclose (in);
    if (bad)
        zsys_warning ("owners: %s: %zu lines were not changes of owners; skipped",
                      self->path, bad);
}

//  Writes the claims as a fresh log (claims and shares only) in place of
//  the old one, and opens it for appending.
static void
s_compact (owners_t *self)
{
    char *tmp = mem_sprintf ("%s.new", self->path);
    mode_t old = umask (077);
    FILE *out = fopen (tmp, "w");
    umask (old);
    bool ok = out != NULL;
    for (s_claim_t *claim = (s_claim_t *) zhashx_first (self->claims); ok && claim;
         claim = (s_claim_t *) zhashx_next (self->claims)) {
        const char *session = (const char *) zhashx_cursor (self->claims);
        ok = fprintf (out, "claim %s %s\n", session, claim->owner) > 0;
        for (char *who = (char *) zlistx_first (claim->shared); ok && who;
             who = (char *) zlistx_next (claim->shared))
            ok = fprintf (out, "share %s %s\n", session, who) > 0;
    }
    if (out && fclose (out) != 0)
        ok = false;
    if (ok && rename (tmp, self->path) == 0) {
        old = umask (077);
        self->log = fopen (self->path, "a");
        umask (old);
    }
    if (!self->log) {
        zsys_error ("owners: cannot write %s: %s; session owners are kept in memory "
                    "only, and a restarted broker will not know them", self->path,
                    strerror (errno));
        unlink (tmp);
    }
    free (tmp);
}

owners_t *
owners_new (const char *path)
{
    owners_t *self = (owners_t *) zmalloc (sizeof (owners_t));
    self->claims = zhashx_new ();
    zhashx_set_destructor (self->claims, s_claim_destroy);
    if (path) {
        self->path = mem_strdup (path);
        s_load (self);
        s_compact (self);
    }
    return self;
}

void
owners_destroy (owners_t **self_p)
{
    assert (self_p);
    owners_t *self = *self_p;
    if (!self)
        return;
    if (self->log)
        fclose (self->log);
    zhashx_destroy (&self->claims);
    free (self->path);
    free (self);
    *self_p = NULL;
}

bool
owners_check (owners_t *self, const char *session, const char *identity, bool claim)
{
    assert (self && session && identity);
    s_claim_t *found = (s_claim_t *) zhashx_lookup (self->claims, session);
    if (!found) {
        //  Everyone is "local" where there are no keys: nothing to record
        if (claim && !streq (identity, KEYS_LOCAL))
            s_record (self, "claim", session, identity);
        return true;
    }
    return streq (found->owner, identity)
        || zlistx_find (found->shared, (void *) identity) != NULL;
}

const char *
owners_owner (owners_t *self, const char *session)
{
    assert (self && session);
    s_claim_t *found = (s_claim_t *) zhashx_lookup (self->claims, session);
    return found ? found->owner : NULL;
}

int
owners_share (owners_t *self, const char *session, const char *by, const char *with,
              bool revoke)
{
    assert (self && session && by && with);
    s_claim_t *found = (s_claim_t *) zhashx_lookup (self->claims, session);
    if (!found)
        return -2;
    if (!streq (found->owner, by))
        return -1;
    s_record (self, revoke ? "unshare" : "share", session, with);
    return 0;
}

zlistx_t *
owners_shared (owners_t *self, const char *session)
{
    assert (self && session);
    s_claim_t *found = (s_claim_t *) zhashx_lookup (self->claims, session);
    if (found)
        return zlistx_dup (found->shared);
    zlistx_t *empty = zlistx_new ();
    zlistx_set_destructor (empty, (zlistx_destructor_fn *) zstr_free);
    return empty;
}

void
owners_forget (owners_t *self, const char *session)
{
    assert (self && session);
    if (zhashx_lookup (self->claims, session))
        s_record (self, "forget", session, NULL);
}

size_t
owners_size (owners_t *self)
{
    assert (self);
    return zhashx_size (self->claims);
}

//  --- selftest -----------------------------------------------------------

void
owners_test (bool verbose)
{
    (void) verbose;
    const char *a = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const char *b = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    char template [] = "/tmp/kmq-owners-test-XXXXXX";
    char *dir = mkdtemp (template);
    SELFTEST_CHECK (dir && keys_is_identity (a) && keys_is_identity (b));
    char *path = mem_sprintf ("%s/owners", dir);

    owners_t *owners = owners_new (path);
    //  The first user claims; others are refused until shared with
    SELFTEST_CHECK (owners_check (owners, "s1", a, true));
    SELFTEST_CHECK (streq (owners_owner (owners, "s1"), a));
    SELFTEST_CHECK (owners_check (owners, "s1", a, true));
    SELFTEST_CHECK (!owners_check (owners, "s1", b, true));
    SELFTEST_CHECK (!owners_check (owners, "s1", KEYS_LOCAL, true));
    SELFTEST_CHECK (owners_share (owners, "s1", b, b, false) == -1);     //  not b's
    SELFTEST_CHECK (owners_share (owners, "nobody", a, b, false) == -2);
    SELFTEST_CHECK (owners_share (owners, "s1", a, b, false) == 0);
    SELFTEST_CHECK (owners_share (owners, "s1", a, b, false) == 0);      //  once
    SELFTEST_CHECK (owners_check (owners, "s1", b, false));
    zlistx_t *shared = owners_shared (owners, "s1");
    SELFTEST_CHECK (zlistx_size (shared) == 1 && streq ((char *) zlistx_first (shared), b));
    zlistx_destroy (&shared);
    //  "local" claims nothing: without keys everyone is the same client
    SELFTEST_CHECK (owners_check (owners, "s2", KEYS_LOCAL, true));
    SELFTEST_CHECK (!owners_owner (owners, "s2"));
    SELFTEST_CHECK (owners_check (owners, "s2", b, false));              //  unclaimed
    SELFTEST_CHECK (!owners_owner (owners, "s2"));
    SELFTEST_CHECK (owners_check (owners, "s3", b, true));
    owners_forget (owners, "s3");
    SELFTEST_CHECK (!owners_owner (owners, "s3"));
    owners_destroy (&owners);

    //  A restarted broker finds the same owners and shares in the log
    FILE *torn = fopen (path, "a");
    SELFTEST_CHECK (torn);
    fprintf (torn, "share s1 short\nclaim bad/key %s\nclai", a);
    fclose (torn);
    owners = owners_new (path);
    SELFTEST_CHECK (owners_size (owners) == 1);
    SELFTEST_CHECK (streq (owners_owner (owners, "s1"), a));
    SELFTEST_CHECK (owners_check (owners, "s1", b, false));
    SELFTEST_CHECK (owners_share (owners, "s1", a, b, true) == 0);
    SELFTEST_CHECK (!owners_check (owners, "s1", b, false));
    owners_destroy (&owners);
    owners = owners_new (path);
    SELFTEST_CHECK (!owners_check (owners, "s1", b, false));
    owners_destroy (&owners);
    owners_destroy (&owners);

    //  In memory only
    owners = owners_new (NULL);
    SELFTEST_CHECK (owners_check (owners, "m", a, true) && !owners_check (owners, "m", b, true));
    owners_destroy (&owners);

    char *rm = mem_sprintf ("rm -rf '%s'", dir);
    SELFTEST_CHECK (system (rm) == 0);
    free (rm);
    free (path);
}
