/*  utf8 — strict UTF-8 (utf8.h).  */
#include "utf8.h"
#include "selftest.h"

#include <string.h>

size_t
utf8_sequence (const uint8_t *text, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t c = text [0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t point, least;
    if ((c & 0xe0) == 0xc0) { len = 2; point = c & 0x1f; least = 0x80; }
    else
    if ((c & 0xf0) == 0xe0) { len = 3; point = c & 0x0f; least = 0x800; }
    else
    if ((c & 0xf8) == 0xf0) { len = 4; point = c & 0x07; least = 0x10000; }
    else
        return 0;
    if (size < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((text [i] & 0xc0) != 0x80)
            return 0;
        point = (point << 6) | (text [i] & 0x3f);
    }
    if (point < least || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
        return 0;
    return len;
}

bool
utf8_valid (const uint8_t *text, size_t size)
{
    size_t i = 0;
    while (i < size) {
        size_t len = utf8_sequence (text + i, size - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

//  --- selftest ------------------------------------------------------------

static bool
s_test_valid (const char *text)
{
    return utf8_valid ((const uint8_t *) text, strlen (text));
}

void
utf8_test (bool verbose)
{
    (void) verbose;
    SELFTEST_CHECK (s_test_valid (""));
    SELFTEST_CHECK (s_test_valid ("plain ASCII\n"));
    SELFTEST_CHECK (s_test_valid ("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));   //  é € 😀
    SELFTEST_CHECK (s_test_valid ("\xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf"));  //  U+D7FF U+E000 U+10FFFF
    SELFTEST_CHECK (utf8_sequence ((const uint8_t *) "\xe2\x82\xac", 3) == 3);
    SELFTEST_CHECK (utf8_sequence ((const uint8_t *) "\xe2\x82\xac", 2) == 0);
    SELFTEST_CHECK (utf8_sequence ((const uint8_t *) "a", 0) == 0);
    //  What Python refuses: overlongs, surrogates, past U+10FFFF, strays, cuts
    static const char *const invalid [] = {
        "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
        "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "\x80", "\xbf", "\xfe", "\xff", "\xc3", "\xe2\x82", "a\xe2\x82 ",
        "\xc3\x28"
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid [0]; i++)
        SELFTEST_CHECK (!s_test_valid (invalid [i]));
}
