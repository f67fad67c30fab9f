/* SQLite persistence: create on first login, load afterwards, batched
 * position saves, transactional gold and items, schema version on reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "content_db.h"

static char path[64];

static int setup(void **state)
{
    snprintf(path, sizeof path, "/tmp/gs_test_db_%d.db", (int)getpid());
    remove(path);
    char err[256];
    content_db_t *db;
    if (content_db_open(path, &db, err, sizeof err) != 0)
        return -1;
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    content_db_close(*state);
    char p[80];
    remove(path);
    snprintf(p, sizeof p, "%s-wal", path);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", path);
    remove(p);
    return 0;
}

static void test_first_login_creates_then_loads(void **state)
{
    content_db_t *db = *state;
    content_char_t c, d;
    assert_int_equal(content_db_load_or_create(db, "alice", 1, 5, 6, 1000, &c), 0);
    assert_int_equal(c.created_now, 1);
    assert_true(c.id > 0);
    assert_int_equal(c.zone, 1);
    assert_int_equal(content_db_load_or_create(db, "alice", 2, 0, 0, 2000, &d), 0);
    assert_int_equal(d.created_now, 0);
    assert_int_equal(d.id, c.id);
    assert_int_equal(d.zone, 1);
    assert_int_equal(d.created_ms, 1000);
    assert_int_equal(d.last_login_ms, 2000);
}

static void test_batched_positions_survive_reopen(void **state)
{
    content_db_t *db = *state;
    content_char_t a, b;
    content_db_load_or_create(db, "a", 1, 0, 0, 1, &a);
    content_db_load_or_create(db, "b", 1, 0, 0, 1, &b);
    content_pos_t v[2] = {{a.id, 2, 11.5f, 12.5f, 30, "a"}, {b.id, 3, 1, 2, 40, "b"}};
    assert_int_equal(content_db_save_positions(db, v, 2), 0);
    content_db_close(db);
    char err[256];
    assert_int_equal(content_db_open(path, &db, err, sizeof err), 0);
    *state = db;
    assert_int_equal(content_db_user_version(db), CONTENT_DB_SCHEMA_VERSION);
    content_db_load_or_create(db, "a", 1, 0, 0, 2, &a);
    assert_int_equal(a.zone, 2);
    assert_true(a.x == 11.5f && a.y == 12.5f);
    assert_int_equal(a.played_s, 30);
}

static void test_gold_never_goes_negative_and_purchase_is_atomic(void **state)
{
    content_db_t *db = *state;
    content_char_t c;
    int64_t bal = -1;
    content_db_load_or_create(db, "rich", 1, 0, 0, 1, &c);
    assert_int_equal(content_db_gold_add(db, c.id, 100, &bal), 0);
    assert_int_equal(bal, 100);
    assert_int_equal(content_db_buy_item(db, c.id, 7, 2, 60, &bal), 0);
    assert_int_equal(bal, 40);
    assert_int_equal(content_db_buy_item(db, c.id, 7, 2, 60, &bal), -2);
    assert_int_equal(content_db_item_count(db, c.id, 7), 2);
    assert_int_equal(content_db_gold_add(db, c.id, -41, &bal), -2);
    content_db_load_or_create(db, "rich", 1, 0, 0, 2, &c);
    assert_int_equal(c.gold, 40);
    content_db_stats_t st;
    content_db_stats(db, &st);
    assert_true(st.ops >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_login_creates_then_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batched_positions_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gold_never_goes_negative_and_purchase_is_atomic, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
