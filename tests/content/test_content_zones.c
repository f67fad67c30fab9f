/* Zone content file: the shipped file loads; bad files name the culprit by
 * its full path; unknown and duplicate keys, wrong types, syntax errors
 * (file:line:column), NUL bytes and oversized files are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    assert_non_null(strstr(err, "zones[0].spawn.x: out of range"));
}

#define ZONE(id, extra, spawn)                                                                     \
    "{\"id\":" #id ",\"name\":\"z\",\"width\":10,\"height\":10,\"spawn\":" spawn extra "}"
#define SPAWN "{\"x\":1,\"y\":1}"

/* Parses j, expects a refusal whose message contains want. */
static void refused(const char *j, const char *want)
{
    content_zone_defs_t d;
    char err[512] = "";
    assert_int_equal(content_zones_parse(j, &d, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    assert_null(d.v);
}

static void test_every_error_names_the_full_path(void **state)
{
    (void)state;
    refused("{\"zones\":[" ZONE(1, "", SPAWN) "," ZONE(2, "", SPAWN) "," ZONE(
                3, "", SPAWN) "," ZONE(4, "", "{\"x\":99,\"y\":1}") "]}",
            "zones[3].spawn.x: out of range (a number in [0, 10])");
    refused("{\"zones\":[" ZONE(1, "", "{\"x\":1}") "]}", "zones[0].spawn.y: missing");
    refused("{\"zones\":[" ZONE(1, "", "[1,2]") "]}", "zones[0].spawn: expected an object");
    refused("{\"zones\":[" ZONE(1, ",\"portals\":[{\"x\":1}]", SPAWN) "]}",
            "zones[0].portals[0].y: missing");
    refused("{\"zones\":[" ZONE(1, ",\"portals\":{}", SPAWN) "]}",
            "zones[0].portals: expected an array");
    refused("{\"zones\":[" ZONE(1,
                                ",\"portals\":[{\"x\":1,\"y\":1,\"radius\":1,\"to_zone\":9,"
                                "\"to_x\":1,\"to_y\":1}]",
                                SPAWN) "]}",
            "zones[0].portals[0].to_zone: no zone with id 9");
    refused("{\"zones\":[" ZONE(1, "", SPAWN) "," ZONE(1, "", SPAWN) "]}",
            "zones[1].id: duplicate id 1 (also zones[0].id)");
    refused("{\"zones\":[]}", "zones: expected an array");
    refused("{}", "zones: missing");
    refused("[]", "(top level): expected an object");
}

static void test_wrong_types_are_named(void **state)
{
    (void)state;
    refused("{\"zones\":[{\"id\":\"1\",\"name\":\"z\"}]}", "zones[0].id: expected a number");
    refused("{\"zones\":[{\"id\":1.5,\"name\":\"z\"}]}", "zones[0].id: expected a whole number");
    refused("{\"zones\":[{\"id\":1,\"name\":7}]}", "zones[0].name: expected a string");
    refused("{\"zones\":[{\"id\":1,\"name\":\"\"}]}", "zones[0].name: empty or too long");
    refused("{\"zones\":[{\"id\":1,\"name\":\"a\\nb\"}]}",
            "zones[0].name: contains a control character");
    refused("{\"zones\":[7]}", "zones[0]: expected an object");
}

static void test_unknown_keys_are_errors_at_every_level(void **state)
{
    (void)state;
    refused("{\"zone\":[]}", "(top level).zone: unknown key (allowed: zones)");
    refused("{\"zones\":[" ZONE(1, ",\"colour\":1", SPAWN) "]}", "zones[0].colour: unknown key");
    refused("{\"zones\":[" ZONE(1, "", "{\"x\":1,\"y\":1,\"z\":1}") "]}",
            "zones[0].spawn.z: unknown key (allowed: x, y)");
    refused("{\"zones\":[" ZONE(1,
                                ",\"portals\":[{\"x\":1,\"y\":1,\"rad\":1,\"to_zone\":1,"
                                "\"to_x\":1,\"to_y\":1}]",
                                SPAWN) "]}",
            "zones[0].portals[0].rad: unknown key");
}

static void test_duplicate_keys_are_errors(void **state)
{
    (void)state;
    refused("{\"zones\":[" ZONE(1, "", "{\"x\":1,\"y\":1,\"x\":2}") "]}",
            "zones[0].spawn.x: duplicate key");
    refused("{\"zones\":[" ZONE(1, ",\"name\":\"again\"", SPAWN) "]}",
            "zones[0].name: duplicate key");
    refused("{\"zones\":[" ZONE(1, "", SPAWN) "],\"zones\":[" ZONE(2, "", SPAWN) "]}",
            "(top level).zones: duplicate key");
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
}

static void load_refused(const char *text, size_t n, const char *want_after_path)
{
    char path[64], want[256], err[512] = "";
    snprintf(path, sizeof path, "/tmp/gs_test_zones_%d.json", (int)getpid());
    write_file(path, text, n);
    content_zone_defs_t d;
    int rc = content_zones_load(path, &d, err, sizeof err);
    remove(path);
    assert_int_equal(rc, -1);
    snprintf(want, sizeof want, "%s%s", path, want_after_path);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_syntax_errors_give_file_line_and_column(void **state)
{
    (void)state;
    const char *bad = "{\n  \"zones\": [\n    {\"id\": 1,, \"name\": \"a\"}\n  ]\n}\n";
    load_refused(bad, strlen(bad), ":3:15: JSON syntax error");
    const char *cut = "{\"zones\": [ {\"id\": 1, ";
    load_refused(cut, strlen(cut), ":1:23: JSON syntax error (unexpected end of file)");
    const char *trailing = "{\"zones\": []}\n}";
    load_refused(trailing, strlen(trailing), ":2:1: JSON syntax error");
    load_refused("{\"zones\"\0: []}", 14, ":1:9: NUL byte");
    load_refused("{\"zones\":[" ZONE(1, ",\"x\":1", SPAWN) "]}",
                 strlen("{\"zones\":[" ZONE(1, ",\"x\":1", SPAWN) "]}"),
                 ": zones[0].x: unknown key");
}

static void test_oversized_file_is_refused(void **state)
{
    (void)state;
    size_t n = (size_t)CONTENT_ZONES_FILE_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    load_refused(big, n, ": larger than");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_zone_file_loads),
        cmocka_unit_test(test_portal_to_missing_zone_is_rejected),
        cmocka_unit_test(test_spawn_outside_zone_is_rejected),
        cmocka_unit_test(test_every_error_names_the_full_path),
        cmocka_unit_test(test_wrong_types_are_named),
        cmocka_unit_test(test_unknown_keys_are_errors_at_every_level),
        cmocka_unit_test(test_duplicate_keys_are_errors),
        cmocka_unit_test(test_syntax_errors_give_file_line_and_column),
        cmocka_unit_test(test_oversized_file_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
