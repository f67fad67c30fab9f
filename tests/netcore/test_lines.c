/* Bounded line input (nc_lines.h): lines split across reads, CR LF and LF,
 * the per-line bound on complete and incomplete lines, the input bound,
 * and room coming back once lines are consumed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "nc_lines.h"
#include "netcore.h"

#include <string.h>

static void feed(nc_lines_t *r, const char *s)
{
    assert_int_equal(nc_lines_feed(r, s, strlen(s)), 0);
}

static void expect_line(nc_lines_t *r, size_t max, const char *want)
{
    char *line = NULL;
    size_t n = 0;
    assert_int_equal(nc_lines_next(r, max, &line, &n), 1);
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
}

static void expect_none(nc_lines_t *r, size_t max)
{
    char *line = NULL;
    size_t n = 0;
    assert_int_equal(nc_lines_next(r, max, &line, &n), 0);
}

static void test_lines_split_across_reads_come_out_whole(void **st)
{
    (void)st;
    char buf[65];
    nc_lines_t r;
    nc_lines_init(&r, buf, 64);
    expect_none(&r, 16);
    feed(&r, "au");
    expect_none(&r, 16);
    feed(&r, "th x\r");
    expect_none(&r, 16);
    feed(&r, "\nstatus\n\nlast\r\n");
    expect_line(&r, 16, "auth x"); /* CR LF */
    expect_line(&r, 16, "status"); /* LF */
    expect_line(&r, 16, "");       /* an empty line */
    expect_line(&r, 16, "last");
    expect_none(&r, 16);
}

static void test_line_over_the_bound_is_refused_before_its_end(void **st)
{
    (void)st;
    char buf[65];
    nc_lines_t r;
    nc_lines_init(&r, buf, 64);
    feed(&r, "12345678");
    expect_none(&r, 8); /* exactly max, no LF yet: wait */
    feed(&r, "9");      /* one more without an LF: refused at once */
    char *line;
    size_t n;
    assert_int_equal(nc_lines_next(&r, 8, &line, &n), NC_EMSGSIZE);
    nc_lines_init(&r, buf, 64);
    feed(&r, "12345678\n1234567\r\n"); /* 8 fits; 7 + CR = 8 fits */
    expect_line(&r, 8, "12345678");
    expect_line(&r, 8, "1234567");
    feed(&r, "1234567\r\n"); /* but 8 + CR does not */
    nc_lines_consume(&r);
    feed(&r, "12345678\r\n");
    assert_int_equal(nc_lines_next(&r, 8, &line, &n), 1);
    assert_int_equal(nc_lines_next(&r, 8, &line, &n), NC_EMSGSIZE);
}

static void test_input_bound_holds_and_consuming_makes_room(void **st)
{
    (void)st;
    char buf[9];
    memset(buf, 'x', sizeof buf);
    nc_lines_t r;
    nc_lines_init(&r, buf, 8);
    feed(&r, "ab\ncd\n");
    assert_int_equal(nc_lines_feed(&r, "efg", 3), NC_ENOBUFS); /* 9 > 8: nothing stored */
    assert_int_equal(r.len, 6);
    expect_line(&r, 8, "ab");
    assert_int_equal(nc_lines_feed(&r, "efg", 3), NC_ENOBUFS); /* returned, not consumed */
    nc_lines_consume(&r);
    assert_int_equal(nc_lines_feed(&r, "efg", 3), 0);
    assert_int_equal(nc_lines_feed(&r, "\n", 1), 0);
    assert_int_equal(nc_lines_feed(&r, "", 0), 0);
    assert_int_equal(nc_lines_feed(&r, "hi", 2), NC_ENOBUFS); /* 7 held */
    expect_line(&r, 8, "cd");
    expect_line(&r, 8, "efg");
    nc_lines_consume(&r);
    assert_int_equal(r.len, 0);
    for (size_t i = 0; i < sizeof buf; i++) /* no consumed input stays behind */
        assert_null(memchr("abcdefg\n", buf[i], 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_split_across_reads_come_out_whole),
        cmocka_unit_test(test_line_over_the_bound_is_refused_before_its_end),
        cmocka_unit_test(test_input_bound_holds_and_consuming_makes_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
