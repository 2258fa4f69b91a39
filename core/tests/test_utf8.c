/*
** test_utf8.c — strict UTF-8 validation and code point counting: every
** rejected class (overlong, surrogate, > U+10FFFF, truncated, stray
** continuation) with its reported offset, and the boundary code points.
*/
#include <stdio.h>
#include <string.h>

#include "astro/text.h"
#include "check.h"

/* Returns astro_utf8_valid on a NUL-terminated literal, reporting the offset. */
static int valid(const char *s, size_t *off) { return astro_utf8_valid(s, strlen(s), off); }

int main(void) {
    size_t off = 99;
    CHECK("utf8-1.0", astro_utf8_valid("", 0, &off) == 1);
    CHECK("utf8-1.1", valid("hello", &off) == 1);
    CHECK("utf8-1.2", valid("caf\xC3\xA9", &off) == 1);
    CHECK("utf8-1.3", valid("\xE2\x82\xAC", &off) == 1);             /* U+20AC */
    CHECK("utf8-1.4", valid("\xF0\x9F\x98\x80", &off) == 1);         /* U+1F600 */
    CHECK("utf8-1.5", valid("\xF4\x8F\xBF\xBF", &off) == 1);         /* U+10FFFF */
    CHECK("utf8-1.6", valid("\xED\x9F\xBF", &off) == 1);             /* U+D7FF */
    CHECK("utf8-1.7", valid("\xEE\x80\x80", &off) == 1);             /* U+E000 */
    CHECK("utf8-1.8", valid("\xC2\x80", &off) == 1);                 /* U+0080 */
    CHECK("utf8-1.9", valid("\xE0\xA0\x80", &off) == 1);             /* U+0800 */
    CHECK("utf8-1.10", valid("\xF0\x90\x80\x80", &off) == 1);        /* U+10000 */
    CHECK("utf8-1.11", astro_utf8_valid("a\0b", 3, &off) == 1);      /* NUL is valid */

    off = 99;
    CHECK("utf8-2.0", valid("ab\xC0\x80", &off) == 0 && off == 2);   /* overlong NUL */
    CHECK("utf8-2.1", valid("\xC1\xBF", &off) == 0 && off == 0);
    CHECK("utf8-2.2", valid("x\xE0\x9F\xBF", &off) == 0 && off == 1);/* overlong 3-byte */
    CHECK("utf8-2.3", valid("\xF0\x8F\xBF\xBF", &off) == 0 && off == 0);
    CHECK("utf8-2.4", valid("abc\xED\xA0\x80", &off) == 0 && off == 3); /* surrogate */
    CHECK("utf8-2.5", valid("\xED\xBF\xBF", &off) == 0 && off == 0);
    CHECK("utf8-2.6", valid("\xF4\x90\x80\x80", &off) == 0 && off == 0);/* > U+10FFFF */
    CHECK("utf8-2.7", valid("\xF5\x80\x80\x80", &off) == 0 && off == 0);
    CHECK("utf8-2.8", valid("\xFF", &off) == 0 && off == 0);
    CHECK("utf8-2.9", valid("a\x80", &off) == 0 && off == 1);        /* stray continuation */
    CHECK("utf8-2.10", valid("ab\xE2\x82", &off) == 0 && off == 2);  /* truncated */
    CHECK("utf8-2.11", valid("\xF0\x9F\x98", &off) == 0 && off == 0);
    CHECK("utf8-2.12", valid("\xC3", &off) == 0 && off == 0);
    CHECK("utf8-2.13", valid("\xE2\x28\xA1", &off) == 0 && off == 0);/* bad continuation */
    CHECK("utf8-2.14", valid("\xF0\x9F\x98\x28", &off) == 0 && off == 0);
    CHECK("utf8-2.15", astro_utf8_valid("\xE2\x82\xAC", 2, NULL) == 0); /* len cuts it */
    CHECK("utf8-2.16", astro_utf8_valid(NULL, 1, &off) == 0);
    CHECK("utf8-2.17", astro_utf8_valid(NULL, 0, &off) == 1);

    CHECK("utf8-3.0", astro_utf8_count("", 0) == 0);
    CHECK("utf8-3.1", astro_utf8_count("abc", 3) == 3);
    CHECK("utf8-3.2", astro_utf8_count("caf\xC3\xA9", 5) == 4);
    CHECK("utf8-3.3", astro_utf8_count("\xE6\x97\xA5\xE6\x9C\xAC", 6) == 2);
    CHECK("utf8-3.4", astro_utf8_count("\xF0\x9F\x98\x80!", 5) == 2);

    /* Sweep: every 2-byte lead with a valid continuation. */
    for (unsigned c = 0x80; c <= 0xFF; c++) {
        char b[2] = { (char)c, (char)0x80 };
        int want = (c >= 0xC2 && c <= 0xDF);
        CHECK("utf8-4.0", astro_utf8_valid(b, 2, NULL) == want);
    }
    return check_report("test_utf8");
}
