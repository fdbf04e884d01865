/*  http_multipart — parts of a multipart/form-data body. See http_multipart.h.
    Only what form uploads use: a boundary parameter, parts of headers and
    bytes, Content-Disposition's name and filename (quoted or not).       */
#include <czmq.h>
#include "http_multipart.h"
#include "selftest.h"

//  The value of parameter key ("name") in a header value, into out.
static bool
s_param (const char *header, size_t len, const char *key, char *out, size_t out_size)
{
    size_t klen = strlen (key);
    for (size_t i = 0; i + klen + 1 < len; i++) {
        if ((i > 0 && header [i - 1] != ';' && header [i - 1] != ' ')
        ||  strncasecmp (header + i, key, klen) != 0 || header [i + klen] != '=')
            continue;
        const char *value = header + i + klen + 1;
        const char *end = header + len;
        size_t n = 0;
        if (*value == '"') {
            for (value++; value < end && *value != '"' && n + 1 < out_size; value++) {
                if (*value == '\\' && value + 1 < end)
                    value++;
                out [n++] = *value;
            }
        }
        else
            while (value < end && *value != ';' && *value != ' ' && *value != '\r'
                   && n + 1 < out_size)
                out [n++] = *value++;
        out [n] = 0;
        return true;
    }
    return false;
}

int
http_multipart_find (const char *content_type, const char *body, size_t size,
                     const char *field, http_multipart_part_t *part)
{
    assert (body && field && part);
    if (!content_type || strncasecmp (content_type, "multipart/form-data", 19) != 0)
        return -1;
    char boundary [80];
    if (!s_param (content_type, strlen (content_type), "boundary", boundary + 2,
                  sizeof boundary - 2) || !boundary [2])
        return -1;
    boundary [0] = boundary [1] = '-';
    size_t blen = strlen (boundary);
    const char *end = body + size;
    const char *at = memmem (body, size, boundary, blen);
    http_multipart_part_t first_file;
    bool have_file = false;
    while (at) {
        at += blen;
        if (end - at >= 2 && at [0] == '-' && at [1] == '-')
            break;                  //  the closing delimiter
        if (end - at < 2 || at [0] != '\r' || at [1] != '\n')
            return -1;
        at += 2;
        const char *headers_end = memmem (at, (size_t) (end - at), "\r\n\r\n", 4);
        if (!headers_end)
            return -1;
        http_multipart_part_t found;
        memset (&found, 0, sizeof found);
        for (const char *line = at; line < headers_end; ) {
            const char *eol = memmem (line, (size_t) (headers_end + 2 - line), "\r\n", 2);
            size_t len = (size_t) (eol - line);
            if (len > 20 && strncasecmp (line, "Content-Disposition:", 20) == 0) {
                s_param (line + 20, len - 20, "name", found.name, sizeof found.name);
                s_param (line + 20, len - 20, "filename", found.filename,
                         sizeof found.filename);
            }
            line = eol + 2;
        }
        found.data = headers_end + 4;
        //  The part ends at CRLF before the next delimiter
        char delimiter [84];
        snprintf (delimiter, sizeof delimiter, "\r\n%s", boundary);
        const char *next = memmem (found.data, (size_t) (end - found.data),
                                   delimiter, blen + 2);
        if (!next)
            return -1;
        found.size = (size_t) (next - found.data);
        if (streq (found.name, field)) {
            *part = found;
            return 0;
        }
        if (*found.filename && !have_file) {
            first_file = found;
            have_file = true;
        }
        at = next + 2;
    }
    if (!have_file)
        return -1;
    *part = first_file;
    return 0;
}

void
http_multipart_test (bool verbose)
{
    if (verbose)
        printf (" * http_multipart: ");
    const char *type = "multipart/form-data; boundary=XyZ";
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n"
                       "Content-Type: text/csv\r\n\r\nA,B\r\n1,2\r\n\r\n--XyZ--\r\n";
    http_multipart_part_t part;
    SELFTEST_CHECK (http_multipart_find (type, body, strlen (body), "file", &part) == 0);
    SELFTEST_CHECK (streq (part.filename, "d.csv"));
    SELFTEST_CHECK (part.size == 10 && memcmp (part.data, "A,B\r\n1,2\r\n", 10) == 0);
    SELFTEST_CHECK (http_multipart_find (type, body, strlen (body), "note", &part) == 0);
    SELFTEST_CHECK (part.size == 2 && !*part.filename);
    //  Another field name: the first part with a file name
    SELFTEST_CHECK (http_multipart_find (type, body, strlen (body), "upload", &part) == 0);
    SELFTEST_CHECK (streq (part.name, "file"));
    //  Quoted boundary; refusals
    SELFTEST_CHECK (http_multipart_find ("multipart/form-data; boundary=\"XyZ\"", body,
                                         strlen (body), "file", &part) == 0);
    SELFTEST_CHECK (http_multipart_find ("text/csv", body, strlen (body), "file", &part) == -1);
    SELFTEST_CHECK (http_multipart_find (type, "--XyZ\r\nnothing", 14, "file", &part) == -1);
    SELFTEST_CHECK (http_multipart_find (type, "junk", 4, "file", &part) == -1);
    SELFTEST_CHECK (http_multipart_find ("multipart/form-data", body, strlen (body), "file",
                                         &part) == -1);
    if (verbose)
        printf ("OK\n");
}
