/*  kmq_check — the checks libkmq makes before it sends a request (an
    invalid session key, name, format or cursor, a payload over the broker's
    max_payload), shared by the blocking kmq and kmq_async.                 */
#include <czmq.h>
#include "kmq_private.h"

kmq_reply_t *
kmq_check_session (const char *session)
{
    if (kmq_session_valid (session))
        return NULL;
    return kmq_reply_local ("BAD_REQUEST", "invalid session key \"%.40s\": use"
                            " 1-%d characters of A-Z a-z 0-9 . _ : -",
                            session? session: "", PROTO_SESSION_MAX);
}

kmq_reply_t *
kmq_check_size (uint64_t max_payload, const char *what, size_t size)
{
    if ((uint64_t) size <= max_payload)
        return NULL;
    return kmq_reply_local ("TOO_LARGE", "%s is %zu bytes, over the broker's"
                            " max_payload of %" PRIu64 " bytes: send less, or"
                            " raise max_payload", what, size, max_payload);
}

kmq_reply_t *
kmq_check_name (const char *name, const char *format)
{
    if (!name || !*name || strlen (name) > PROTO_NAME_MAX)
        return kmq_reply_local ("BAD_REQUEST", "a name must be 1-%d bytes",
                                PROTO_NAME_MAX);
    if (!format || (strcmp (format, "csv") && strcmp (format, "json")
                    && strcmp (format, "frame") && strcmp (format, "file")))
        return kmq_reply_local ("BAD_REQUEST", "unknown format \"%.20s\":"
                                " use csv, json, frame or file", format? format: "");
    return NULL;
}

kmq_reply_t *
kmq_check_cursor (size_t cursor_pos, size_t len)
{
    if (cursor_pos <= len)
        return NULL;
    return kmq_reply_local ("BAD_REQUEST", "cursor position %zu is past the end"
                            " of the code (%zu bytes)", cursor_pos, len);
}
