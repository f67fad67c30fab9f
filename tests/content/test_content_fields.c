/* Declared character fields (char_fields.h, issue 14): the worked example
 * `level`, and every declared field (a fork's too) through the same loops:
 * default on creation, persisted across reopen, range-checked writes that
 * change nothing when refused, and the migration of an older database.
 * Built twice (db_backend.h): on SQLite and on PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "content_db.h"
#include "db_backend.h"

static content_db_t *open_db(void)
{
    return tdb_open();
}

static int setup(void **state)
{
    (void)state;
    tdb_wipe();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tdb_wipe();
    return 0;
}

static content_char_t login(content_db_t *db, const char *name)
{
    content_char_t c;
    assert_int_equal(content_db_load_or_create(db, name, 1, 5, 5, 1000, &c), CONTENT_DB_OK);
    return c;
}

static void test_level_starts_at_1_and_a_set_survives_reopen(void **state)
{
    (void)state;
    content_db_t *db = open_db();
    content_char_t c = login(db, "alice");
    assert_int_equal(c.f.level, 1);
    int64_t v = 0;
    assert_int_equal(content_db_field_set(db, c.id, CONTENT_FIELD_level, 7, &v), CONTENT_DB_OK);
    assert_int_equal(v, 7);
    assert_int_equal(content_db_field_add(db, c.id, CONTENT_FIELD_level, 2, &v), CONTENT_DB_OK);
    assert_int_equal(v, 9);
    content_db_close(db);
    db = open_db();
    c = login(db, "alice");
    assert_int_equal(c.f.level, 9);
    content_fields_t f;
    assert_int_equal(content_db_fields_get(db, c.id, &f), CONTENT_DB_OK);
    assert_int_equal(f.level, 9);
    content_db_close(db);
}

static void test_out_of_range_writes_are_refused_and_change_nothing(void **state)
{
    (void)state;
    content_db_t *db = open_db();
    content_char_t c = login(db, "bob");
    for (int i = 0; i < CONTENT_FIELD_COUNT; i++) {
        const content_field_info_t *fi = &content_fields[i];
        int64_t v = -1, def = *content_field_ptr(&c.f, i);
        assert_int_equal(def, fi->def);
        assert_int_equal(content_db_field_set(db, c.id, i, fi->max, &v), CONTENT_DB_OK);
        assert_int_equal(v, fi->max);
        assert_int_equal(content_db_field_set(db, c.id, i, fi->min, &v), CONTENT_DB_OK);
        v = 12345;
        if (fi->max < INT64_MAX)
            assert_int_equal(content_db_field_set(db, c.id, i, fi->max + 1, &v), CONTENT_DB_RANGE);
        if (fi->min > INT64_MIN)
            assert_int_equal(content_db_field_set(db, c.id, i, fi->min - 1, &v), CONTENT_DB_RANGE);
        assert_int_equal(content_db_field_add(db, c.id, i, INT64_MIN, &v), CONTENT_DB_RANGE);
        assert_int_equal(v, 12345); /* untouched on a refusal */
        assert_int_equal(content_db_field_set(db, c.id, i, fi->max, &v), CONTENT_DB_OK);
        assert_int_equal(content_db_field_add(db, c.id, i, INT64_MAX, &v), CONTENT_DB_RANGE);
        content_fields_t f;
        assert_int_equal(content_db_fields_get(db, c.id, &f), CONTENT_DB_OK);
        assert_int_equal(*content_field_ptr(&f, i), fi->max);
    }
    int64_t v;
    assert_int_equal(content_db_field_set(db, c.id, CONTENT_FIELD_COUNT, 1, &v),
                     CONTENT_DB_REFUSED);
    assert_int_equal(content_db_field_set(db, c.id, -1, 1, &v), CONTENT_DB_REFUSED);
    assert_int_equal(content_db_field_set(db, c.id + 1000, CONTENT_FIELD_level, 1, &v),
                     CONTENT_DB_REFUSED); /* no such character */
    content_db_close(db);
}

static void test_a_write_that_meets_a_fault_changes_nothing(void **state)
{
    (void)state;
    content_db_t *db = open_db();
    content_char_t c = login(db, "carl");
    int64_t v = 0;
    content_db_inject_fault(db, SQLITE_BUSY, 1);
    assert_int_equal(content_db_field_set(db, c.id, CONTENT_FIELD_level, 5, &v), CONTENT_DB_RETRY);
    assert_int_equal(v, 0);
    content_fields_t f;
    assert_int_equal(content_db_fields_get(db, c.id, &f), CONTENT_DB_OK);
    assert_int_equal(f.level, 1);
    content_db_close(db);
}

/* A database of schema 3 (issue 13) gains the column; its characters get
 * the declared default. */
static void test_migration_gives_existing_characters_the_default(void **state)
{
    (void)state;
    tdb_sql(tdb_old_schema(3));
    tdb_sql("INSERT INTO characters(name, zone, x, y, created, last_login) VALUES('olduser', 2, 3,"
            " 4, 1000, 1000)");
    content_db_t *db = open_db();
    assert_int_equal(content_db_user_version(db), CONTENT_DB_SCHEMA_VERSION);
    content_char_t c = login(db, "olduser");
    assert_int_equal(c.created_now, 0);
    assert_int_equal(c.zone, 2);
    for (int i = 0; i < CONTENT_FIELD_COUNT; i++)
        assert_int_equal(*content_field_ptr(&c.f, i), content_fields[i].def);
    content_db_close(db);
}

/* A declared field without its column (the migration step forgotten) stops
 * the open with the field's name, not at the first login. */
static void test_a_field_without_its_column_fails_the_open_by_name(void **state)
{
    (void)state;
    content_db_t *db = open_db();
    content_db_close(db);
    char sql[128];
    snprintf(sql, sizeof sql, "ALTER TABLE characters DROP COLUMN %s", content_fields[0].name);
    tdb_sql(sql);
    char err[512];
    db = NULL;
    assert_int_equal(tdb_open_err(&db, err, sizeof err), -1);
    assert_null(db);
    assert_non_null(strstr(err, content_fields[0].name));
    assert_non_null(strstr(err, "migration"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_level_starts_at_1_and_a_set_survives_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range_writes_are_refused_and_change_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_write_that_meets_a_fault_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migration_gives_existing_characters_the_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_field_without_its_column_fails_the_open_by_name,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name(tdb_name, tests, tdb_group_setup, tdb_group_teardown);
}
