/* Accounts in content (issue 13): the schema migration that makes existing
 * characters legacy, the owner rules of a login, the admin claim, the
 * bounded replay cache and the order of the ticket checks.  Built twice
 * (db_backend.h): the database cases on SQLite and on PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "content_auth.h"
#include "content_db.h"
#include "db_backend.h"

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

static content_db_t *open_db(void)
{
    return tdb_open();
}

/* A database as the server before accounts left it (schema v2). */
static void make_v2_database(void)
{
    tdb_sql(tdb_old_schema(2));
    tdb_sql("INSERT INTO characters(name, zone, x, y, created, last_login) VALUES('olduser', 2, 3,"
            " 4, 1000, 1000)");
}

static content_login_t ticket_of(uint64_t account)
{
    return (content_login_t){.checked = 1, .account_id = account, .legacy_ok = 0};
}

static void test_migration_makes_existing_characters_legacy_until_claimed(void **state)
{
    (void)state;
    make_v2_database();
    content_db_t *db = open_db();
    assert_int_equal(content_db_user_version(db), CONTENT_DB_SCHEMA_VERSION);
    content_char_t c;
    content_login_t t5 = ticket_of(5), t6 = ticket_of(6);
    assert_int_equal(content_db_login(db, "olduser", &t5, 1, 0, 0, 2000, &c), CONTENT_DB_NOT_OWNER);
    assert_int_equal(c.has_owner, 0); /* legacy */
    content_login_t dev = {.checked = 0, .legacy_ok = 1};
    assert_int_equal(content_db_login(db, "olduser", &dev, 1, 0, 0, 2000, &c), CONTENT_DB_OK);
    assert_int_equal(c.zone, 2); /* the old row, unchanged */
    int outcome;
    uint64_t prev;
    assert_int_equal(content_db_claim(db, "olduser", 5, &outcome, &prev), CONTENT_DB_OK);
    assert_int_equal(outcome, CONTENT_CLAIM_DONE);
    assert_int_equal(content_db_claim(db, "olduser", 5, &outcome, &prev), CONTENT_DB_OK);
    assert_int_equal(outcome, CONTENT_CLAIM_ALREADY);
    assert_int_equal(content_db_claim(db, "olduser", 6, &outcome, &prev), CONTENT_DB_OK);
    assert_int_equal(outcome, CONTENT_CLAIM_OWNED);
    assert_true(prev == 5);
    assert_int_equal(content_db_claim(db, "nobody", 6, &outcome, &prev), CONTENT_DB_OK);
    assert_int_equal(outcome, CONTENT_CLAIM_NO_SUCH);
    assert_int_equal(content_db_login(db, "olduser", &t5, 1, 0, 0, 3000, &c), CONTENT_DB_OK);
    assert_true(c.has_owner && c.account_id == 5);
    assert_int_equal(content_db_login(db, "olduser", &t6, 1, 0, 0, 4000, &c), CONTENT_DB_NOT_OWNER);
    assert_true(c.has_owner && c.account_id == 5);
    content_db_close(db);
}

static void test_refused_login_changes_nothing(void **state)
{
    (void)state;
    content_db_t *db = open_db();
    content_char_t c;
    content_login_t t1 = ticket_of(1), t2 = ticket_of(2);
    assert_int_equal(content_db_login(db, "mine", &t1, 1, 0, 0, 1000, &c), CONTENT_DB_OK);
    assert_int_equal(content_db_login(db, "mine", &t2, 1, 0, 0, 5000, &c), CONTENT_DB_NOT_OWNER);
    assert_int_equal(content_db_login(db, "mine", &t1, 1, 0, 0, 6000, &c), CONTENT_DB_OK);
    assert_true(c.last_login_ms == 6000);
    content_db_close(db);
    /* 5000 was rolled back */
    assert_true(tdb_int("SELECT last_login FROM characters WHERE name='mine'") == 6000);
}

static void test_new_character_belongs_to_the_ticket_account(void **state)
{
    (void)state;
    content_db_t *db = open_db();
    content_char_t c;
    content_login_t big = ticket_of(UINT64_MAX); /* stored as the same 64 bits */
    assert_int_equal(content_db_login(db, "hero", &big, 1, 0, 0, 1000, &c), CONTENT_DB_OK);
    assert_true(c.created_now && c.has_owner && c.account_id == UINT64_MAX);
    assert_int_equal(content_db_login(db, "hero", &big, 1, 0, 0, 2000, &c), CONTENT_DB_OK);
    assert_true(!c.created_now && c.account_id == UINT64_MAX);
    assert_int_equal(content_db_load_or_create(db, "devchar", 1, 0, 0, 1000, &c), CONTENT_DB_OK);
    assert_int_equal(c.has_owner, 0); /* name-only: legacy */
    content_login_t dev_ticket = {.checked = 1, .account_id = 3, .legacy_ok = 1};
    assert_int_equal(content_db_login(db, "devchar", &dev_ticket, 1, 0, 0, 1000, &c),
                     CONTENT_DB_OK);
    assert_int_equal(content_db_login(db, "hero", &dev_ticket, 1, 0, 0, 1000, &c),
                     CONTENT_DB_NOT_OWNER);
    content_db_close(db);
}

static void nonce_of(uint32_t i, uint8_t n[PA_TICKET_NONCE_BYTES])
{
    memset(n, 0, PA_TICKET_NONCE_BYTES);
    uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    memcpy(n, &h, sizeof h);
    memcpy(n + 8, &i, sizeof i);
}

static void test_replay_cache_is_bounded_and_forgets_only_expired(void **state)
{
    (void)state;
    replay_cache_t r;
    uint8_t n[PA_TICKET_NONCE_BYTES];
    assert_int_equal(replay_init(&r, 3), 0);
    for (uint32_t i = 0; i < 3; i++) {
        nonce_of(i, n);
        assert_int_equal(replay_add(&r, n, 100 + i, 50), 0);
    }
    nonce_of(3, n);
    assert_int_equal(replay_add(&r, n, 100, 50), -1); /* full: refused, nothing forgotten */
    nonce_of(0, n);
    assert_int_equal(replay_add(&r, n, 100, 100), 1); /* still remembered at its last second */
    nonce_of(3, n);
    assert_int_equal(replay_add(&r, n, 200, 101), 0); /* nonce 0 expired: room */
    nonce_of(0, n);
    assert_int_equal(replay_add(&r, n, 200, 101), -1); /* 1, 2, 3 still there */
    assert_int_equal(replay_size(&r), 3);
    assert_int_equal(replay_add(&r, n, 300, 201), 0); /* everything before 201 forgotten */
    assert_int_equal(replay_size(&r), 1);
    replay_free(&r);

    /* many expiries in random order: forgotten exactly when due */
    enum { N = 2000 };
    static uint64_t until[N];
    assert_int_equal(replay_init(&r, N + 64), 0); /* room for the fresh ones */
    srand(7);
    for (uint32_t i = 0; i < N; i++) {
        until[i] = 10 + (uint64_t)(rand() % 1000);
        nonce_of(i, n);
        assert_int_equal(replay_add(&r, n, until[i], 0), 0);
    }
    for (uint64_t now = 0; now < 1100; now += 37) {
        uint32_t live = 0;
        for (uint32_t i = 0; i < N; i++)
            live += until[i] >= now;
        nonce_of(N + (uint32_t)now, n); /* a fresh nonce, remembered to the end */
        assert_int_equal(replay_add(&r, n, 5000, now), 0);
        assert_int_equal(replay_size(&r), live + 1 + (uint32_t)(now / 37));
        for (uint32_t i = 0; i < N; i += 97) {
            nonce_of(i, n);
            if (until[i] >= now + 1) /* still remembered: a replay */
                assert_int_equal(replay_add(&r, n, until[i], now), 1);
        }
    }
    replay_free(&r);
}

static void test_ticket_checks_in_order(void **state)
{
    (void)state;
    uint8_t seed[PA_SEED_BYTES];
    memset(seed, 9, sizeof seed);
    pa_identity_t id;
    assert_int_equal(pa_init(), PA_OK);
    assert_int_equal(pa_identity_from_seed(seed, &id), PA_OK);
    auth_rules_t rules = {.shard = "s1", .skew_s = 5, .max_lifetime_s = 200};
    memcpy(rules.login_pk, id.sign_pk, sizeof rules.login_pk);
    replay_cache_t r;
    assert_int_equal(replay_init(&r, 1), 0);
    pa_ticket_t t = {.role = PA_ROLE_GM, .account_id = 4, .expires_s = 1000}, got;
    memset(t.nonce, 1, sizeof t.nonce);
    snprintf(t.name, sizeof t.name, "ann");
    snprintf(t.shard, sizeof t.shard, "s1");
    uint8_t tk[PA_TICKET_MAX];
    int n = pa_ticket_sign(&t, id.sign_sk, tk, sizeof tk);
    assert_true(n > 0);
    size_t len = (size_t)n;
    /* expires 1000: at 794 that is 206 s ahead, past 200 + 5 of skew */
    assert_int_equal(auth_check_ticket(&r, &rules, tk, len, "ann", 794, &got), AUTH_TOO_LONG);
    assert_int_equal(replay_size(&r), 0);
    assert_int_equal(auth_check_ticket(&r, &rules, tk, len - 1, "ann", 900, &got), AUTH_MALFORMED);
    assert_int_equal(auth_check_ticket(&r, &rules, NULL, 0, "ann", 900, &got), AUTH_MALFORMED);
    tk[len - 1] ^= 1;
    assert_int_equal(auth_check_ticket(&r, &rules, tk, len, "ann", 900, &got), AUTH_FORGED);
    tk[len - 1] ^= 1;
    rules.shard = "s2";
    assert_int_equal(auth_check_ticket(&r, &rules, tk, len, "ann", 900, &got), AUTH_WRONG_SHARD);
    rules.shard = "s1";
    assert_int_equal(auth_check_ticket(&r, &rules, tk, len, "ann", 1006, &got), AUTH_EXPIRED);
    assert_int_equal(auth_check_ticket(&r, &rules, tk, len, "bob", 900, &got),
                     AUTH_WRONG_CHARACTER);
    assert_int_equal(replay_size(&r), 0); /* no refusal so far took a nonce */
    assert_int_equal(auth_check_ticket(&r, &rules, tk, len, "ann", 1005, &got), AUTH_OK);
    assert_true(got.account_id == 4 && got.role == PA_ROLE_GM);
    assert_int_equal(auth_check_ticket(&r, &rules, tk, len, "ann", 1005, &got), AUTH_REPLAYED);
    memset(t.nonce, 2, sizeof t.nonce); /* another ticket while the cache (1) is full */
    n = pa_ticket_sign(&t, id.sign_sk, tk, sizeof tk);
    assert_int_equal(auth_check_ticket(&r, &rules, tk, (size_t)n, "ann", 1005, &got),
                     AUTH_CACHE_FULL);
    assert_int_equal(auth_check_ticket(&r, &rules, tk, (size_t)n, "ann", 1006 - 1, &got),
                     AUTH_CACHE_FULL);
    replay_free(&r);
}

/* Key rotation: a ticket from the next login key is accepted only while
 * auth.login_public_key_next names it; any other key stays forged. */
static void test_next_key_is_accepted_for_rotation(void **state)
{
    (void)state;
    uint8_t seed[PA_SEED_BYTES];
    pa_identity_t old_id, new_id, other;
    assert_int_equal(pa_init(), PA_OK);
    memset(seed, 1, sizeof seed);
    assert_int_equal(pa_identity_from_seed(seed, &old_id), PA_OK);
    memset(seed, 2, sizeof seed);
    assert_int_equal(pa_identity_from_seed(seed, &new_id), PA_OK);
    memset(seed, 3, sizeof seed);
    assert_int_equal(pa_identity_from_seed(seed, &other), PA_OK);
    auth_rules_t rules = {.shard = "s1", .skew_s = 5, .max_lifetime_s = 200};
    memcpy(rules.login_pk, old_id.sign_pk, sizeof rules.login_pk);
    replay_cache_t r;
    assert_int_equal(replay_init(&r, 8), 0);
    pa_ticket_t t = {.role = PA_ROLE_PLAYER, .account_id = 7, .expires_s = 1000}, got;
    snprintf(t.name, sizeof t.name, "ann");
    snprintf(t.shard, sizeof t.shard, "s1");
    uint8_t tk[PA_TICKET_MAX];
    memset(t.nonce, 1, sizeof t.nonce);
    int n = pa_ticket_sign(&t, new_id.sign_sk, tk, sizeof tk);
    assert_int_equal(auth_check_ticket(&r, &rules, tk, (size_t)n, "ann", 900, &got), AUTH_FORGED);
    memcpy(rules.login_pk_next, new_id.sign_pk, sizeof rules.login_pk_next);
    rules.have_next = 1;
    assert_int_equal(auth_check_ticket(&r, &rules, tk, (size_t)n, "ann", 900, &got), AUTH_OK);
    memset(t.nonce, 2, sizeof t.nonce); /* the old key still works during the overlap */
    n = pa_ticket_sign(&t, old_id.sign_sk, tk, sizeof tk);
    assert_int_equal(auth_check_ticket(&r, &rules, tk, (size_t)n, "ann", 900, &got), AUTH_OK);
    memset(t.nonce, 3, sizeof t.nonce);
    n = pa_ticket_sign(&t, other.sign_sk, tk, sizeof tk);
    assert_int_equal(auth_check_ticket(&r, &rules, tk, (size_t)n, "ann", 900, &got), AUTH_FORGED);
    replay_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_migration_makes_existing_characters_legacy_until_claimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_login_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_character_belongs_to_the_ticket_account, setup,
                                        teardown),
        cmocka_unit_test(test_replay_cache_is_bounded_and_forgets_only_expired),
        cmocka_unit_test(test_ticket_checks_in_order),
        cmocka_unit_test(test_next_key_is_accepted_for_rotation),
    };
    return cmocka_run_group_tests_name(tdb_name, tests, tdb_group_setup, tdb_group_teardown);
}
