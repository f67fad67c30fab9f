/* The content_db contract (content_db.h): create on first login, load
 * afterwards, batched position saves, transactional gold and items, schema
 * version on reopen, faults and locks.  One set of cases, two drivers
 * (issue 16): this file builds test_content_db (SQLite) and, with
 * CONTENT_DB_TEST_PG, test_content_db_pg: the same cases on a real,
 * throwaway PostgreSQL cluster (db_backend.c) plus the PostgreSQL-only ones
 * (a lost COMMIT answer, a password in the url, the server killed). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "content_db.h"
#include "db_backend.h"
#include "netcore.h"

static int setup(void **state)
{
    tdb_wipe();
    char err[512];
    content_db_t *db;
    if (tdb_open_err(&db, err, sizeof err) != 0) {
        fprintf(stderr, "open (%s): %s\n", tdb_name, err);
        return -1;
    }
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    content_db_close(*state);
    *state = NULL;
    tdb_wipe();
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

/* "Does this name exist" creates nothing, sees committed characters, and
 * is not blocked by a write lock held elsewhere (WAL readers). */
static void test_exists_creates_nothing_and_reads_under_a_write_lock(void **state)
{
    content_db_t *db = *state;
    int exists = -1;
    assert_int_equal(content_db_exists(db, "carol", &exists), CONTENT_DB_OK);
    assert_int_equal(exists, 0);
    assert_int_equal(content_db_exists(db, "carol", &exists), CONTENT_DB_OK);
    assert_int_equal(exists, 0);
    content_char_t c;
    assert_int_equal(content_db_load_or_create(db, "carol", 1, 0, 0, 1, &c), CONTENT_DB_OK);
    assert_int_equal(c.created_now, 1); /* the questions above created nothing */
    assert_int_equal(content_db_exists(db, "carol", &exists), CONTENT_DB_OK);
    assert_int_equal(exists, 1);
    assert_int_equal(content_db_exists(db, "Carol", &exists), CONTENT_DB_OK);
    assert_int_equal(exists, 0); /* names are exact, as in load_or_create */
    tdb_lock_begin();
    tdb_lock_sql("INSERT INTO characters(name, zone, x, y, created, last_login)"
                 " VALUES('dave', 1, 0, 0, 1, 1)");
    assert_int_equal(content_db_exists(db, "carol", &exists), CONTENT_DB_OK);
    assert_int_equal(exists, 1);
    assert_int_equal(content_db_exists(db, "dave", &exists), CONTENT_DB_OK);
    assert_int_equal(exists, 0); /* not committed yet */
    tdb_lock_end();
    assert_int_equal(content_db_exists(db, "dave", &exists), CONTENT_DB_OK);
    assert_int_equal(exists, 1);
    content_db_stats_t st;
    content_db_stats(db, &st);
    for (int i = 0; i < CONTENT_DB_F_COUNT; i++)
        assert_int_equal(st.faults[i], 0);
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
    assert_int_equal(tdb_open_err(&db, err, sizeof err), 0);
    *state = db;
    assert_int_equal(content_db_user_version(db), CONTENT_DB_SCHEMA_VERSION);
    content_db_load_or_create(db, "a", 1, 0, 0, 2, &a);
    assert_int_equal(a.zone, 2);
    assert_true(a.x == 11.5f && a.y == 12.5f);
    assert_int_equal(a.played_s, 30);
}

/* A character twice in one batch: the last position wins (the batch is
 * one statement on PostgreSQL, a loop on SQLite). */
static void test_a_character_twice_in_a_batch_gets_the_last_position(void **state)
{
    content_db_t *db = *state;
    content_char_t a, b;
    content_db_load_or_create(db, "twice", 1, 0, 0, 1, &a);
    content_db_load_or_create(db, "other", 1, 0, 0, 1, &b);
    content_pos_t v[3] = {{a.id, 2, 1, 1, 10, "twice"},
                          {b.id, 4, -7.25f, 3, 5, "other"},
                          {a.id, 3, 2, 2, 20, "twice"}};
    assert_int_equal(content_db_save_positions(db, v, 3), CONTENT_DB_OK);
    content_db_load_or_create(db, "twice", 1, 0, 0, 2, &a);
    assert_int_equal(a.zone, 3);
    assert_true(a.x == 2 && a.y == 2);
    assert_int_equal(a.played_s, 20);
    content_db_load_or_create(db, "other", 1, 0, 0, 2, &b);
    assert_int_equal(b.zone, 4);
    assert_true(b.x == -7.25f && b.y == 3);
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

/* Issue 12: /gold INT64_MAX then /gold 1 was signed overflow (UB). */
static void test_gold_overflow_is_refused_and_changes_nothing(void **state)
{
    content_db_t *db = *state;
    content_char_t c;
    int64_t bal = -1;
    assert_int_equal(content_db_load_or_create(db, "croesus", 1, 0, 0, 1, &c), CONTENT_DB_OK);
    assert_int_equal(content_db_gold_add(db, c.id, INT64_MAX, &bal), CONTENT_DB_OK);
    assert_true(bal == INT64_MAX);
    bal = -1;
    assert_int_equal(content_db_gold_add(db, c.id, 1, &bal), CONTENT_DB_RANGE);
    assert_int_equal(bal, -1); /* untouched */
    assert_int_equal(content_db_gold_add(db, c.id, INT64_MAX, &bal), CONTENT_DB_RANGE);
    /* INT64_MIN: would go below zero (and -INT64_MIN is never computed) */
    assert_int_equal(content_db_gold_add(db, c.id, INT64_MIN, &bal), CONTENT_DB_REFUSED);
    assert_int_equal(content_db_buy_item(db, c.id, 1, 1, INT64_MIN, &bal), CONTENT_DB_RANGE);
    assert_int_equal(content_db_buy_item(db, c.id, 1, -1, 5, &bal), CONTENT_DB_RANGE);
    assert_int_equal(content_db_gold_add(db, c.id, -INT64_MAX, &bal), CONTENT_DB_OK);
    assert_int_equal(bal, 0);
    assert_int_equal(content_db_gold_add(db, c.id, INT64_MIN, &bal), CONTENT_DB_REFUSED);

    /* an item count at the top: buying more is refused, gold unchanged */
    assert_int_equal(content_db_gold_add(db, c.id, 100, &bal), CONTENT_DB_OK);
    assert_int_equal(content_db_buy_item(db, c.id, 9, 1, 10, &bal), CONTENT_DB_OK);
    tdb_sql("UPDATE inventory SET count = 9223372036854775806 WHERE item = 9");
    assert_int_equal(content_db_buy_item(db, c.id, 9, 1, 10, &bal), CONTENT_DB_OK);
    assert_true(content_db_item_count(db, c.id, 9) == INT64_MAX);
    assert_int_equal(content_db_buy_item(db, c.id, 9, 1, 10, &bal), CONTENT_DB_RANGE);
    assert_true(content_db_item_count(db, c.id, 9) == INT64_MAX);
    content_db_load_or_create(db, "croesus", 1, 0, 0, 2, &c);
    assert_int_equal(c.gold, 80);
    content_db_stats_t st;
    content_db_stats(db, &st);
    assert_true(st.range_refused >= 5);
}

/* Another connection holds the write lock: the operation fails fast
 * (busy_timeout, not forever) with CONTENT_DB_RETRY, counted as busy, and
 * changes nothing; it succeeds once the lock is gone. */
static void test_locked_database_fails_fast_then_recovers(void **state)
{
    content_db_t *db = *state;
    content_char_t c;
    int64_t bal = 0;
    assert_int_equal(content_db_load_or_create(db, "lock", 1, 0, 0, 1, &c), CONTENT_DB_OK);
    assert_int_equal(content_db_gold_add(db, c.id, 10, &bal), CONTENT_DB_OK);
    tdb_lock_begin();
    uint64_t t0 = nc_now_ms();
    assert_int_equal(content_db_gold_add(db, c.id, 5, &bal), CONTENT_DB_RETRY);
    content_pos_t v = {c.id, 2, 3, 4, 5, "lock"};
    assert_int_equal(content_db_save_positions(db, &v, 1), CONTENT_DB_RETRY);
    content_char_t d;
    assert_int_equal(content_db_load_or_create(db, "newbie", 1, 0, 0, 1, &d), CONTENT_DB_RETRY);
    uint64_t took = nc_now_ms() - t0;
    assert_true(took < 2000); /* 3 x busy_timeout (100 ms), not 3 x 5 s */
    content_db_stats_t st;
    content_db_stats(db, &st);
    assert_true(st.faults[CONTENT_DB_F_BUSY] >= 3);
    tdb_lock_end();
    assert_int_equal(content_db_gold_add(db, c.id, 5, &bal), CONTENT_DB_OK);
    assert_int_equal(bal, 15); /* the refused +5 changed nothing */
    assert_int_equal(content_db_save_positions(db, &v, 1), CONTENT_DB_OK);
}

/* Read-only / full / I/O errors (injected: the tests run as root, for whom
 * permissions do not apply): transient, counted by kind, nothing changed. */
static void test_injected_faults_are_transient_and_counted(void **state)
{
    content_db_t *db = *state;
    content_char_t c;
    int64_t bal = 0;
    assert_int_equal(content_db_load_or_create(db, "ro", 1, 0, 0, 1, &c), CONTENT_DB_OK);
    content_db_inject_fault(db, SQLITE_READONLY, 1);
    assert_int_equal(content_db_gold_add(db, c.id, 5, &bal), CONTENT_DB_RETRY);
    content_db_inject_fault(db, SQLITE_FULL, 1);
    content_pos_t v = {c.id, 2, 3, 4, 5, "ro"};
    assert_int_equal(content_db_save_positions(db, &v, 1), CONTENT_DB_RETRY);
    content_db_inject_fault(db, SQLITE_IOERR, 1);
    assert_int_equal(content_db_save_positions(db, &v, 1), CONTENT_DB_RETRY);
    content_db_inject_fault(db, SQLITE_CORRUPT, 1);
    assert_int_equal(content_db_save_positions(db, &v, 1), CONTENT_DB_ERROR);
    content_db_stats_t st;
    content_db_stats(db, &st);
    assert_int_equal(st.faults[CONTENT_DB_F_READONLY], 1);
    assert_int_equal(st.faults[CONTENT_DB_F_FULL], 1);
    assert_int_equal(st.faults[CONTENT_DB_F_IOERR], 1);
    assert_int_equal(st.faults[CONTENT_DB_F_OTHER], 1);
    assert_int_equal(content_db_gold_add(db, c.id, 5, &bal), CONTENT_DB_OK);
    assert_int_equal(bal, 5);
}

static int log_lines;
static void count_sink(nc_log_level_t lvl, const char *line, void *ud)
{
    (void)lvl;
    (void)ud;
    if (strstr(line, "gold: begin (injected) failed"))
        log_lines++;
}

/* 200 faults of one operation within a second: one log line (rate limit),
 * 200 counted. */
static void test_fault_log_is_rate_limited(void **state)
{
    content_db_t *db = *state;
    content_char_t c;
    int64_t bal;
    assert_int_equal(content_db_load_or_create(db, "noisy", 1, 0, 0, 1, &c), CONTENT_DB_OK);
    log_lines = 0;
    nc_log_set_sink(count_sink, NULL);
    uint64_t t0 = nc_now_ms();
    content_db_inject_fault(db, SQLITE_BUSY, 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(content_db_gold_add(db, c.id, 1, &bal), CONTENT_DB_RETRY);
    int lines = log_lines;
    nc_log_set_sink(NULL, NULL);
    content_db_stats_t st;
    content_db_stats(db, &st);
    assert_int_equal(st.faults[CONTENT_DB_F_BUSY], 200);
    if (nc_now_ms() - t0 < 1000) /* the loop takes microseconds; never near 1 s */
        assert_int_equal(lines, 1);
}

#ifdef CONTENT_DB_TEST_PG
/* A url carrying a password is refused at open, and the message does not
 * repeat it (either form: key=value or URL). */
static void test_ptdb_url_with_a_password_is_refused(void **state)
{
    (void)state;
    char url[512], err[512];
    content_db_opts_t o = CONTENT_DB_OPTS_DEFAULT;
    o.driver = CONTENT_DB_POSTGRES;
    o.url = url;
    content_db_t *db = NULL;
    snprintf(url, sizeof url, "%s password=Sekr1tXyz", tdb_url);
    assert_int_equal(content_db_open_opts(NULL, &o, &db, err, sizeof err), -1);
    assert_null(db);
    assert_non_null(strstr(err, "password"));
    assert_null(strstr(err, "Sekr1tXyz"));
    snprintf(url, sizeof url, "postgresql://test:Sekr1tXyz@127.0.0.1:%d/content_test", tdb_pg.port);
    assert_int_equal(content_db_open_opts(NULL, &o, &db, err, sizeof err), -1);
    assert_non_null(strstr(err, "passfile"));
    assert_null(strstr(err, "Sekr1tXyz"));
    snprintf(url, sizeof url, "host=127.0.0.1 port='unterminated Sekr1tXyz");
    assert_int_equal(content_db_open_opts(NULL, &o, &db, err, sizeof err), -1);
    assert_null(strstr(err, "Sekr1tXyz"));
}

/* The connection drops after the server committed but before its answer
 * arrived: RETRY with the outcome unknown; the resend of the same request
 * finds it committed and returns the committed balance; applied once. */
static void test_pg_lost_commit_answer_is_never_applied_twice(void **state)
{
    content_db_t *db = *state;
    content_char_t c;
    int64_t bal = -1, v = -1;
    assert_int_equal(content_db_load_or_create(db, "once", 1, 0, 0, 1, &c), CONTENT_DB_OK);
    content_db_lose_commit_answers(db, 1);
    assert_int_equal(content_db_gold_add_req(db, 1, c.id, 10, &bal), CONTENT_DB_RETRY);
    assert_int_equal(content_db_outcome_unknown(db), 1);
    assert_int_equal(bal, -1); /* nothing reported */
    assert_int_equal(content_db_gold_add_req(db, 1, c.id, 10, &bal), CONTENT_DB_OK);
    assert_int_equal(bal, 10); /* found committed: not 20 */
    assert_int_equal(content_db_gold_add_req(db, 2, c.id, 5, &bal), CONTENT_DB_OK);
    assert_int_equal(bal, 15);
    /* a purchase: gold and item once */
    content_db_lose_commit_answers(db, 1);
    assert_int_equal(content_db_buy_item_req(db, 3, c.id, 4, 2, 5, &bal), CONTENT_DB_RETRY);
    assert_int_equal(content_db_buy_item_req(db, 3, c.id, 4, 2, 5, &bal), CONTENT_DB_OK);
    assert_int_equal(bal, 10);
    assert_int_equal(content_db_item_count(db, c.id, 4), 2);
    /* a field: +3 once */
    content_db_lose_commit_answers(db, 1);
    assert_int_equal(content_db_field_add_req(db, 4, c.id, CONTENT_FIELD_level, 3, &v),
                     CONTENT_DB_RETRY);
    assert_int_equal(content_db_field_add_req(db, 4, c.id, CONTENT_FIELD_level, 3, &v),
                     CONTENT_DB_OK);
    assert_int_equal(v, 4);
    /* a change that failed before COMMIT (injected at BEGIN): applied by the resend */
    content_db_inject_fault(db, SQLITE_IOERR, 1);
    assert_int_equal(content_db_gold_add_req(db, 5, c.id, 1, &bal), CONTENT_DB_RETRY);
    assert_int_equal(content_db_outcome_unknown(db), 0);
    assert_int_equal(content_db_gold_add_req(db, 5, c.id, 1, &bal), CONTENT_DB_OK);
    assert_int_equal(bal, 11);
    content_db_load_or_create(db, "once", 1, 0, 0, 2, &c);
    assert_int_equal(c.gold, 11);
    content_db_stats_t st;
    content_db_stats(db, &st);
    assert_true(st.reconnects >= 3);
}

/* PostgreSQL killed: every operation answers RETRY at once (no hang) and
 * changes nothing; once it is back the handle reconnects by itself. */
static void test_pg_server_killed_then_restarted(void **state)
{
    content_db_t *db = *state;
    content_char_t c;
    int64_t bal = 0;
    assert_int_equal(content_db_load_or_create(db, "phoenix", 1, 0, 0, 1, &c), CONTENT_DB_OK);
    assert_int_equal(content_db_gold_add_req(db, 1, c.id, 7, &bal), CONTENT_DB_OK);
    assert_int_equal(pg_cluster_kill(&tdb_pg), 0);
    uint64_t t0 = nc_now_ms();
    assert_int_equal(content_db_gold_add_req(db, 2, c.id, 5, &bal), CONTENT_DB_RETRY);
    content_pos_t v = {c.id, 2, 3, 4, 5, "phoenix"};
    assert_int_equal(content_db_save_positions(db, &v, 1), CONTENT_DB_RETRY);
    int exists = 1;
    assert_int_equal(content_db_exists(db, "phoenix", &exists), CONTENT_DB_RETRY);
    assert_int_equal(content_db_probe(db), CONTENT_DB_RETRY);
    assert_true(nc_now_ms() - t0 < 3000);
    assert_int_equal(pg_cluster_restart(&tdb_pg), 0);
    int rc = CONTENT_DB_RETRY;
    uint64_t end = nc_now_ms() + 10000;
    while (rc == CONTENT_DB_RETRY && nc_now_ms() < end) {
        rc = content_db_gold_add_req(db, 2, c.id, 5, &bal);
        if (rc == CONTENT_DB_RETRY) { /* the driver's back-off, at most 1 s */
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(rc, CONTENT_DB_OK);
    assert_int_equal(bal, 12);
    assert_int_equal(content_db_save_positions(db, &v, 1), CONTENT_DB_OK);
    content_db_stats_t st;
    content_db_stats(db, &st);
    assert_true(st.reconnects >= 1);
    assert_true(st.faults[CONTENT_DB_F_IOERR] >= 4);
}

#else
/* A -shm that cannot be opened for writing is refused at open with a
 * message naming it (SQLite would map it read-only: SIGBUS). */
static void test_unwritable_shm_is_refused_at_open(void **state)
{
    content_db_close(*state);
    *state = NULL;
    char shm[96], err[512];
    snprintf(shm, sizeof shm, "%s-shm", tdb_path);
    remove(shm);
    assert_int_equal(mkdir(shm, 0700), 0); /* unwritable even for root */
    content_db_t *db = NULL;
    assert_int_equal(content_db_open(tdb_path, &db, err, sizeof err), -1);
    assert_null(db);
    assert_non_null(strstr(err, "-shm"));
    assert_non_null(strstr(err, "cannot be opened for writing"));
    rmdir(shm);
    assert_int_equal(content_db_open(tdb_path, &db, err, sizeof err), 0);
    *state = db;
}

#endif

#define CASE(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE(test_first_login_creates_then_loads),
        CASE(test_exists_creates_nothing_and_reads_under_a_write_lock),
        CASE(test_batched_positions_survive_reopen),
        CASE(test_a_character_twice_in_a_batch_gets_the_last_position),
        CASE(test_gold_never_goes_negative_and_purchase_is_atomic),
        CASE(test_gold_overflow_is_refused_and_changes_nothing),
        CASE(test_locked_database_fails_fast_then_recovers),
        CASE(test_injected_faults_are_transient_and_counted),
        CASE(test_fault_log_is_rate_limited),
#ifdef CONTENT_DB_TEST_PG
        CASE(test_ptdb_url_with_a_password_is_refused),
        CASE(test_pg_lost_commit_answer_is_never_applied_twice),
        CASE(test_pg_server_killed_then_restarted),
#else
        CASE(test_unwritable_shm_is_refused_at_open),
#endif
    };
#ifdef CONTENT_DB_TEST_PG
    return cmocka_run_group_tests_name("content_db on postgres", tests, tdb_group_setup,
                                       tdb_group_teardown);
#else
    return cmocka_run_group_tests_name("content_db on sqlite", tests, tdb_group_setup,
                                       tdb_group_teardown);
#endif
}
