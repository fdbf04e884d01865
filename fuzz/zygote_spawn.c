/*  zygote_spawn — libFuzzer harness for the zygote's reading of a spawn
    (kernel/fd_message.c's datagram framing, kernel/zygote_spawn.c's
    checks): what a zygote does with the first datagram of a monitor's
    connection, and a pool child with its hand-over.

    Input: [descriptors] [datagram ...]
        descriptors  descriptors % 4 came with the datagram (the zygote's
                     recvmsg refuses more than 3 before any parsing)
        datagram     the bytes recvmsg returned; longer than
                     FD_MESSAGE_MAX_SIZE is not tried (recvmsg truncates
                     it, and fd_message_recv refuses a truncated one)
    The zygote runs with FUZZ_INPUT_FINGERPRINT as its sandbox settings.

    Beyond "no crash, no leak": what the zygote sends next decodes at the
    other end. A refusal is an error reply the monitor reads; an accepted
    spawn is forwarded to a pool child, which accepts it with the same
    session and notice.
*/
#include "fd_message.h"
#include "fuzz_input.h"
#include "proto.h"
#include "proto_stream.h"
#include "selftest.h"
#include "zygote_spawn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

//  The zygote's error reply, as s_reply_error builds it, reads back.
static void
s_check_refusal (const zygote_spawn_t *spawn, const char *why)
{
    SELFTEST_CHECK (why [0]);
    zmsg_t *reply = proto_encode_error (spawn->id, *spawn->session? spawn->session: NULL,
                                        PROTO_E_INTERNAL, why);
    proto_msg_t *decoded = proto_decode (&reply, NULL);
    SELFTEST_CHECK (decoded && proto_msg_error (decoded) == PROTO_E_INTERNAL
                    && proto_msg_id (decoded) == spawn->id);
    proto_msg_destroy (&decoded);
}

//  The hand-over the zygote sends a pool child (s_handover), through the
//  same datagram framing, is a spawn the child takes as the same one.
static void
s_check_handover (const zygote_spawn_t *spawn)
{
    SELFTEST_CHECK (proto_session_valid (spawn->session, strlen (spawn->session)));
    proto_builder_t *builder = proto_builder_new (PROTO_SPAWN, spawn->id, spawn->session);
    if (spawn->notice)
        proto_builder_str (builder, "notice", spawn->notice);
    zmsg_t *msg = proto_builder_finish (&builder);
    size_t size;
    uint8_t *datagram = proto_stream_pack (&msg, &size);
    SELFTEST_CHECK (datagram && size <= FD_MESSAGE_MAX_SIZE);
    zmsg_t *raw = fd_message_unpack (datagram, size);
    free (datagram);
    zygote_spawn_t child;
    char why [768];
    SELFTEST_CHECK (zygote_spawn_decode (&raw, ZYGOTE_SPAWN_FDS, NULL, &child,
                                         why, sizeof why) == 0);
    SELFTEST_CHECK (child.id == spawn->id && streq (child.session, spawn->session));
    SELFTEST_CHECK (!child.notice == !spawn->notice
                    && (!child.notice || streq (child.notice, spawn->notice)));
    zygote_spawn_clear (&child);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > FD_MESSAGE_MAX_SIZE)
        return 0;
    size_t nfds = data [0] % 4;
    zmsg_t *raw = fd_message_unpack (data + 1, size - 1);
    if (!raw) {
        SELFTEST_CHECK (errno == EPROTO);
        return 0;
    }
    zmsg_t *copy = zmsg_dup (raw);
    zygote_spawn_t spawn;
    char why [768] = "";
    int rc = zygote_spawn_decode (&raw, nfds, FUZZ_INPUT_FINGERPRINT, &spawn,
                                  why, sizeof why);
    SELFTEST_CHECK (!raw);
    if (rc == 0) {
        SELFTEST_CHECK (nfds == ZYGOTE_SPAWN_FDS);
        s_check_handover (&spawn);
    }
    else
        s_check_refusal (&spawn, why);
    zygote_spawn_clear (&spawn);
    //  A pool child reading the same datagram: no fingerprint to compare,
    //  so it accepts whatever the zygote accepted
    int child_rc = zygote_spawn_decode (&copy, nfds, NULL, &spawn, why, sizeof why);
    SELFTEST_CHECK (rc != 0 || child_rc == 0);
    zygote_spawn_clear (&spawn);
    return 0;
}
