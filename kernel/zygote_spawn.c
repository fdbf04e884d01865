/*  zygote_spawn — a spawn's decoding and checks (zygote_spawn.h).

    The trap: sandbox_config is compared on its bytes and length, not as a
    C string. A copy made for strcmp stops at an embedded NUL, so a value
    of "<the zygote's own>\0anything" would pass as equal.
*/
#include "zygote_spawn.h"
#include "mem.h"
#include "selftest.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int
zygote_spawn_decode (zmsg_t **raw_p, size_t nfds, const char *fingerprint,
                     zygote_spawn_t *spawn, char *why, size_t why_size)
{
    assert (raw_p && spawn && why);
    memset (spawn, 0, sizeof *spawn);
    proto_fault_t fault;
    proto_msg_t *msg = proto_decode (raw_p, &fault);
    if (!msg) {
        snprintf (why, why_size, "malformed spawn: %s", fault.text);
        return -1;
    }
    //  A valid key is at most PROTO_SESSION_MAX bytes (proto_decode)
    spawn->id = proto_msg_id (msg);
    snprintf (spawn->session, sizeof spawn->session, "%s", proto_msg_session (msg));
    const char *theirs = NULL;
    size_t theirs_len = 0;
    bool has_theirs = proto_msg_strn (msg, "sandbox_config", &theirs, &theirs_len);
    int rc = -1;
    if (proto_msg_type (msg) != PROTO_SPAWN)
        snprintf (why, why_size, "expected spawn, got %s",
                  proto_type_name (proto_msg_type (msg)));
    else
    if (nfds != ZYGOTE_SPAWN_FDS)
        snprintf (why, why_size, "spawn carries %zu fds; it must carry %d (socket, "
                  "stdout, stderr)", nfds, ZYGOTE_SPAWN_FDS);
    else
    if (fingerprint && (!has_theirs || theirs_len != strlen (fingerprint)
                        || memcmp (theirs, fingerprint, theirs_len) != 0))
        snprintf (why, why_size, "the kernel's sandbox settings (%s) differ from "
                  "the zygote's (%s)", has_theirs? proto_msg_str (msg, "sandbox_config")
                  : "none", fingerprint);
    else {
        const char *notice = proto_msg_str (msg, "notice");
        spawn->notice = notice? mem_strdup (notice): NULL;
        rc = 0;
    }
    proto_msg_destroy (&msg);
    return rc;
}

void
zygote_spawn_clear (zygote_spawn_t *spawn)
{
    assert (spawn);
    free (spawn->notice);
    memset (spawn, 0, sizeof *spawn);
}

//  --- selftest ------------------------------------------------------------

//  A spawn for session nb1, id 7, with sandbox_config config (config_len
//  bytes; none when NULL) and notice (none when NULL).
static zmsg_t *
s_test_spawn (const char *config, size_t config_len, const char *notice)
{
    proto_builder_t *builder = proto_builder_new (PROTO_SPAWN, 7, "nb1");
    if (config)
        proto_builder_strn (builder, "sandbox_config", config, config_len);
    if (notice)
        proto_builder_str (builder, "notice", notice);
    return proto_builder_finish (&builder);
}

//  Expects *msg_p (taken), with nfds descriptors, refused with a reason
//  that holds needle; returns the id the refusal echoes.
static uint64_t
s_test_refused (zmsg_t *msg, size_t nfds, const char *fingerprint, const char *needle)
{
    zygote_spawn_t spawn;
    char why [256];
    SELFTEST_CHECK (zygote_spawn_decode (&msg, nfds, fingerprint, &spawn, why,
                                         sizeof why) == -1);
    SELFTEST_CHECK (!msg && strstr (why, needle));
    uint64_t id = spawn.id;
    SELFTEST_CHECK (!spawn.notice);
    zygote_spawn_clear (&spawn);
    return id;
}

void
zygote_spawn_test (bool verbose)
{
    (void) verbose;
    zygote_spawn_t spawn;
    char why [256];
    //  The zygote's check: right config, three fds
    zmsg_t *msg = s_test_spawn ("a=1", 3, "state lost");
    SELFTEST_CHECK (zygote_spawn_decode (&msg, 3, "a=1", &spawn, why, sizeof why) == 0);
    SELFTEST_CHECK (!msg && spawn.id == 7 && streq (spawn.session, "nb1"));
    SELFTEST_CHECK (spawn.notice && streq (spawn.notice, "state lost"));
    zygote_spawn_clear (&spawn);
    SELFTEST_CHECK (!spawn.notice && spawn.id == 0);
    //  A pool child's: no fingerprint to compare, no notice
    msg = s_test_spawn (NULL, 0, NULL);
    SELFTEST_CHECK (zygote_spawn_decode (&msg, 3, NULL, &spawn, why, sizeof why) == 0);
    SELFTEST_CHECK (!spawn.notice);
    zygote_spawn_clear (&spawn);
    //  Refusals still know the id (and the session: s_reply_error)
    msg = s_test_spawn ("a=1", 3, NULL);
    SELFTEST_CHECK (zygote_spawn_decode (&msg, 2, "a=1", &spawn, why, sizeof why) == -1);
    SELFTEST_CHECK (strstr (why, "carries 2 fds") && spawn.id == 7
                    && streq (spawn.session, "nb1"));
    zygote_spawn_clear (&spawn);
    s_test_refused (s_test_spawn ("a=2", 3, NULL), 3, "a=1",
                    "(a=2) differ from the zygote's (a=1)");
    s_test_refused (s_test_spawn (NULL, 0, NULL), 3, "a=1", "(none)");
    //  The zygote's own value, then a NUL and more: not equal
    s_test_refused (s_test_spawn ("a=1\0b=2", 7, NULL), 3, "a=1", "differ");
    //  Another type, and no header at all
    SELFTEST_CHECK (s_test_refused (proto_encode_simple (PROTO_ACK, 9, NULL), 3, NULL,
                                    "expected spawn, got ack") == 9);
    msg = zmsg_new ();
    zmsg_addstr (msg, "KMQ1");
    SELFTEST_CHECK (s_test_refused (msg, 3, NULL, "malformed spawn: ") == 0);
}
