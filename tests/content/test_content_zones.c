/* Zone content file: the shipped file loads; bad files name the culprit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "content_zones.h"

static void test_shipped_zone_file_loads(void **state)
{
    (void)state;
    content_zone_defs_t d;
    char err[256] = "";
    assert_int_equal(content_zones_load(CONTENT_DEFAULT_ZONES_FILE, &d, err, sizeof err), 0);
    assert_true(d.n >= 2);
    const content_zone_def_t *z = content_zones_find(&d, 1);
    assert_non_null(z);
    assert_true(z->nportals >= 1);
    content_zones_free(&d);
}

static void test_portal_to_missing_zone_is_rejected(void **state)
{
    (void)state;
    const char *j = "{\"zones\":[{\"id\":1,\"name\":\"a\",\"width\":10,\"height\":10,"
                    "\"spawn\":{\"x\":1,\"y\":1},\"portals\":[{\"x\":1,\"y\":1,\"radius\":1,"
                    "\"to_zone\":9,\"to_x\":1,\"to_y\":1}]}]}";
    content_zone_defs_t d;
    char err[256] = "";
    assert_int_equal(content_zones_parse(j, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "zones[0].portals[0]"));
}

static void test_spawn_outside_zone_is_rejected(void **state)
{
    (void)state;
    const char *j = "{\"zones\":[{\"id\":1,\"name\":\"a\",\"width\":10,\"height\":10,"
                    "\"spawn\":{\"x\":11,\"y\":1}}]}";
    content_zone_defs_t d;
    char err[256] = "";
    assert_int_equal(content_zones_parse(j, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "zones[0].x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_zone_file_loads),
        cmocka_unit_test(test_portal_to_missing_zone_is_rejected),
        cmocka_unit_test(test_spawn_outside_zone_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
