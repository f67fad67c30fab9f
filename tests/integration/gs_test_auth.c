/* Accounts on the gameserver (issue 13): login tickets minted here with a
 * test identity (proto_auth, as the login server does) and checked by the
 * real gameserver in auth.mode "ticket" -- expired, replayed, another
 * shard, forged, truncated, another character, valid -- ownership and
 * takeover between accounts, legacy characters and their claim, GM-only
 * commands, gold overflow, and the refusal to start without a key. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gs_harness.h"
#include "proto.h"
#include "proto_auth.h"

#define T 5000
#define SHARD "shard-1" /* the gameserver's default shard.name */

static gs_proc_t srv;
static gs_client_t a, b;
static proto_msg_t m;
static pa_identity_t id; /* the test "login server" */
static char pk_arg[96];  /* auth.login_public_key=<hex> */
static uint8_t tk[PA_TICKET_MAX + 8];

static const char *ticket_args[] = {"--set", "auth.mode=ticket",     "--set", pk_arg,
                                    "--set", "chat.rate_per_s=1000", "--set", "chat.burst=1000",
                                    NULL};

/* A ticket for `name` on `shard`, expiring `ttl_s` seconds from now (may
 * be negative), with a fresh nonce; its length. */
static int mint_for(const char *name, uint64_t account, int role, int64_t ttl_s, const char *shard,
                    const uint8_t *sign_sk, uint8_t *out)
{
    pa_ticket_t t = {.role = (uint8_t)role, .account_id = account};
    t.expires_s = (uint64_t)((int64_t)time(NULL) + ttl_s);
    pa_random(t.nonce, sizeof t.nonce);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.shard, sizeof t.shard, "%s", shard);
    int n = pa_ticket_sign(&t, sign_sk, out, PA_TICKET_MAX);
    assert_true(n >= PA_TICKET_MIN);
    return n;
}

static int mint(const char *name, uint64_t account, int role)
{
    return mint_for(name, account, role, 60, SHARD, id.sign_sk, tk);
}

static double metric(const char *sample)
{
    return gs_metric(srv.metrics_port, sample);
}

static double rejected(const char *reason)
{
    char s[96];
    snprintf(s, sizeof s, "gs_auth_tickets_rejected_total{reason=\"%s\"}", reason);
    return metric(s);
}

/* A login with this token is refused with `code` and the session closed. */
static void refused(gs_client_t *c, const char *name, const uint8_t *tok, size_t len, int code)
{
    int err = -1;
    assert_int_equal(gs_login_token(c, srv.port, name, tok, len, &err), -1);
    assert_int_equal(err, code);
    assert_int_equal(gs_expect_close(c, T), 0);
    gs_close(c);
}

static int group_setup(void **state)
{
    (void)state;
    uint8_t seed[PA_SEED_BYTES];
    memset(seed, 0x42, sizeof seed);
    if (pa_init() != PA_OK || pa_identity_from_seed(seed, &id) != PA_OK)
        return -1;
    char hex[PA_KEY_HEX_LEN + 1];
    pa_hex(id.sign_pk, sizeof id.sign_pk, hex, sizeof hex);
    snprintf(pk_arg, sizeof pk_arg, "auth.login_public_key=%s", hex);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    return gs_proc_start(&srv, ticket_args, T);
}

static int teardown(void **state)
{
    (void)state;
    gs_close(&a);
    gs_close(&b);
    int rc = 0; /* a non-zero exit (an ASan/UBSan report too) fails the test */
    if (srv.pid > 0 && gs_proc_stop(&srv, SIGTERM, T) != 0)
        rc = -1;
    gs_proc_cleanup(&srv);
    return rc;
}

static void test_valid_ticket_logs_in(void **state)
{
    (void)state;
    int n = mint("alice", 1, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&a, srv.port, "alice", tk, (size_t)n, NULL), 0);
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0);
    assert_true(metric("gs_auth_tickets_accepted_total") == 1);
    assert_true(metric("gs_auth_replay_cache_nonces") == 1);
    /* a ticket that expired 2 s ago is still inside auth.clock_skew_s (5) */
    n = mint_for("alice2", 1, PA_ROLE_PLAYER, -2, SHARD, id.sign_sk, tk);
    assert_int_equal(gs_login_token(&b, srv.port, "alice2", tk, (size_t)n, NULL), 0);
}

static void test_expired_ticket_is_refused(void **state)
{
    (void)state;
    int n = mint_for("bob", 1, PA_ROLE_PLAYER, -60, SHARD, id.sign_sk, tk);
    refused(&a, "bob", tk, (size_t)n, PROTO_ERR_TICKET_EXPIRED);
    assert_true(rejected("expired") == 1);
    assert_true(metric("gs_auth_tickets_accepted_total") == 0);
}

static void test_replayed_ticket_is_refused(void **state)
{
    (void)state;
    int n = mint("carl", 1, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&a, srv.port, "carl", tk, (size_t)n, NULL), 0);
    proto_msg_t bye = {.type = PROTO_T_LOGOUT};
    assert_int_equal(gs_send(&a, &bye), 0);
    assert_int_equal(gs_expect_close(&a, T), 0);
    gs_close(&a);
    refused(&b, "carl", tk, (size_t)n, PROTO_ERR_TICKET_REPLAYED); /* same ticket again */
    assert_true(rejected("replayed") == 1);
    n = mint("carl", 1, PA_ROLE_PLAYER); /* a fresh one is fine */
    assert_int_equal(gs_login_token(&a, srv.port, "carl", tk, (size_t)n, NULL), 0);
}

static void test_ticket_for_another_shard_is_refused(void **state)
{
    (void)state;
    int n = mint_for("dana", 1, PA_ROLE_PLAYER, 60, "shard-2", id.sign_sk, tk);
    refused(&a, "dana", tk, (size_t)n, PROTO_ERR_TICKET_WRONG_SHARD);
    assert_true(rejected("wrong_shard") == 1);
}

static void test_forged_ticket_is_refused(void **state)
{
    (void)state;
    int n = mint("erik", 1, PA_ROLE_PLAYER);
    tk[n - 1] ^= 1; /* the signature's last byte */
    refused(&a, "erik", tk, (size_t)n, PROTO_ERR_TICKET_FORGED);
    n = mint("erik", 1, PA_ROLE_PLAYER);
    tk[5] ^= 1; /* account id: a player making itself another account */
    refused(&a, "erik", tk, (size_t)n, PROTO_ERR_TICKET_FORGED);
    n = mint("erik", 1, PA_ROLE_PLAYER);
    tk[4] = PA_ROLE_GM; /* role: a player making itself a GM */
    refused(&a, "erik", tk, (size_t)n, PROTO_ERR_TICKET_FORGED);
    pa_identity_t other; /* signed by a key the shard does not trust */
    uint8_t seed[PA_SEED_BYTES];
    memset(seed, 0x17, sizeof seed);
    assert_int_equal(pa_identity_from_seed(seed, &other), PA_OK);
    n = mint_for("erik", 1, PA_ROLE_GM, 60, SHARD, other.sign_sk, tk);
    refused(&a, "erik", tk, (size_t)n, PROTO_ERR_TICKET_FORGED);
    assert_true(rejected("forged") == 4);
    assert_true(metric("gs_auth_tickets_accepted_total") == 0);
}

static void test_truncated_or_missing_ticket_is_refused(void **state)
{
    (void)state;
    int n = mint("fay", 1, PA_ROLE_PLAYER);
    refused(&a, "fay", tk, (size_t)n - 1, PROTO_ERR_TICKET_MALFORMED); /* truncated */
    refused(&a, "fay", tk, 10, PROTO_ERR_TICKET_MALFORMED);            /* a stub */
    refused(&a, "fay", NULL, 0, PROTO_ERR_TICKET_MALFORMED);           /* missing */
    tk[n] = 0;
    refused(&a, "fay", tk, (size_t)n + 1, PROTO_ERR_TICKET_MALFORMED); /* trailing byte */
    uint8_t junk[PA_TICKET_MAX];
    memset(junk, 'x', sizeof junk);
    refused(&a, "fay", junk, sizeof junk, PROTO_ERR_TICKET_MALFORMED); /* bad magic */
    assert_true(rejected("malformed") == 5);
    /* none of those cost the real ticket its nonce */
    assert_int_equal(gs_login_token(&a, srv.port, "fay", tk, (size_t)n, NULL), 0);
}

static void test_ticket_for_another_character_is_refused(void **state)
{
    (void)state;
    int n = mint("gwen", 1, PA_ROLE_PLAYER);
    refused(&a, "hugo", tk, (size_t)n, PROTO_ERR_NOT_OWNER);
    assert_true(rejected("wrong_character") == 1);
}

/* The reply to a chat command: a notice, or an error packet (code). */
static int command(gs_client_t *c, const char *text, char *reply, size_t len)
{
    if (gs_chat(c, 0, NULL, text) != 0)
        return -1;
    for (;;) {
        if (gs_recv(c, &m, T) != 1)
            return -1;
        if (m.type == PROTO_T_NOTICE) {
            snprintf(reply, len, "%s", m.notice.text);
            return 0;
        }
        if (m.type == PROTO_T_ERROR) {
            snprintf(reply, len, "ERROR %d %s", (int)m.error.code, m.error.text);
            return 0;
        }
    }
}

static int gold(gs_client_t *c, const char *amount, char *reply, size_t len)
{
    char text[96];
    snprintf(text, sizeof text, "/gold %s", amount);
    return command(c, text, reply, len);
}

static void test_non_gm_gold_is_refused_and_gm_allowed(void **state)
{
    (void)state;
    char r[300], want[64];
    int n = mint("ivan", 1, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&a, srv.port, "ivan", tk, (size_t)n, NULL), 0);
    assert_int_equal(gold(&a, "1000", r, sizeof r), 0);
    snprintf(want, sizeof want, "ERROR %d not allowed", PROTO_ERR_NOT_ALLOWED);
    assert_string_equal(r, want);
    assert_true(metric("gs_commands_not_allowed_total") == 1);
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0); /* refused, not kicked */
    n = mint("judy", 2, PA_ROLE_GM);
    assert_int_equal(gs_login_token(&b, srv.port, "judy", tk, (size_t)n, NULL), 0);
    assert_int_equal(gold(&b, "1000", r, sizeof r), 0);
    assert_string_equal(r, "gold +1000, balance 1000");
    n = mint("kate", 3, PA_ROLE_ADMIN);
    gs_close(&a);
    assert_int_equal(gs_login_token(&a, srv.port, "kate", tk, (size_t)n, NULL), 0);
    assert_int_equal(gold(&a, "7", r, sizeof r), 0);
    assert_string_equal(r, "gold +7, balance 7");
    assert_true(metric("gs_commands_not_allowed_total") == 1);
}

static void test_gold_overflow_is_refused_and_the_server_still_serves(void **state)
{
    (void)state;
    char r[300];
    int n = mint("lars", 1, PA_ROLE_GM);
    assert_int_equal(gs_login_token(&a, srv.port, "lars", tk, (size_t)n, NULL), 0);
    assert_int_equal(gold(&a, "9223372036854775807", r, sizeof r), 0);
    assert_string_equal(r, "gold +9223372036854775807, balance 9223372036854775807");
    assert_int_equal(gold(&a, "5", r, sizeof r), 0); /* was signed overflow (UB) */
    assert_non_null(strstr(r, "overflow"));
    assert_int_equal(gold(&a, "99999999999999999999", r, sizeof r), 0); /* strtoll range */
    assert_non_null(strstr(r, "out of range"));
    assert_int_equal(gold(&a, "5junk", r, sizeof r), 0);
    assert_non_null(strstr(r, "usage"));
    assert_int_equal(gold(&a, "-9223372036854775807", r, sizeof r), 0);
    assert_string_equal(r, "gold -9223372036854775807, balance 0");
    assert_int_equal(gold(&a, "-1", r, sizeof r), 0); /* never negative */
    assert_non_null(strstr(r, "not enough"));
    assert_true(metric("gs_money_overflow_refused_total") == 2);
    /* still serving: the same player and a newcomer */
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0);
    n = mint("mona", 2, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&b, srv.port, "mona", tk, (size_t)n, NULL), 0);
    assert_int_equal(gs_barrier(&b, NULL, NULL, T), 0);
}

/* The worked example of a declared character field (issue 14): `level`,
 * shown to anyone (/show), set by a GM (/set level N) with the notice
 * after the commit, range-checked, and still there after a logout. */
static void test_level_is_set_by_a_gm_and_survives_relogin(void **state)
{
    (void)state;
    char r[300], want[64];
    int n = mint("otto", 1, PA_ROLE_GM);
    assert_int_equal(gs_login_token(&a, srv.port, "otto", tk, (size_t)n, NULL), 0);
    assert_int_equal(command(&a, "/show", r, sizeof r), 0);
    assert_string_equal(r, "level 1");
    assert_int_equal(command(&a, "/set level 7", r, sizeof r), 0);
    assert_string_equal(r, "level is now 7");
    assert_int_equal(command(&a, "/set level 1001", r, sizeof r), 0);
    assert_string_equal(r, "level refused (must be 1..1000)");
    assert_int_equal(command(&a, "/set level 7x", r, sizeof r), 0);
    assert_non_null(strstr(r, "usage"));
    assert_int_equal(command(&a, "/set mana 7", r, sizeof r), 0);
    assert_non_null(strstr(r, "usage"));
    proto_msg_t bye = {.type = PROTO_T_LOGOUT};
    assert_int_equal(gs_send(&a, &bye), 0);
    assert_int_equal(gs_expect_close(&a, T), 0);
    gs_close(&a);
    n = mint("otto", 1, PA_ROLE_PLAYER); /* the same account, now a player */
    assert_int_equal(gs_login_token(&a, srv.port, "otto", tk, (size_t)n, NULL), 0);
    assert_int_equal(command(&a, "/show", r, sizeof r), 0);
    assert_string_equal(r, "level 7");
    assert_int_equal(command(&a, "/set level 9", r, sizeof r), 0);
    snprintf(want, sizeof want, "ERROR %d not allowed", PROTO_ERR_NOT_ALLOWED);
    assert_string_equal(r, want);
}

static void test_second_account_cannot_take_over_a_character(void **state)
{
    (void)state;
    int n = mint("nora", 1, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&a, srv.port, "nora", tk, (size_t)n, NULL), 0);
    n = mint("nora", 2, PA_ROLE_GM); /* another account, even a GM's */
    refused(&b, "nora", tk, (size_t)n, PROTO_ERR_NOT_OWNER);
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0); /* the owner was not kicked */
    assert_true(metric("gs_takeovers_total") == 0);
    /* offline, the database says whose it is */
    proto_msg_t bye = {.type = PROTO_T_LOGOUT};
    assert_int_equal(gs_send(&a, &bye), 0);
    assert_int_equal(gs_expect_close(&a, T), 0);
    gs_close(&a);
    n = mint("nora", 2, PA_ROLE_PLAYER);
    refused(&b, "nora", tk, (size_t)n, PROTO_ERR_NOT_OWNER);
    assert_true(metric("gs_auth_not_owner_total") == 2);
    n = mint("nora", 1, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&a, srv.port, "nora", tk, (size_t)n, NULL), 0);
}

static void test_same_account_reconnect_takes_over(void **state)
{
    (void)state;
    int n = mint("otto", 5, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&a, srv.port, "otto", tk, (size_t)n, NULL), 0);
    n = mint("otto", 5, PA_ROLE_PLAYER); /* a new ticket after a "drop" */
    /* the takeover completes once the first connection is closed: the
     * first client reads its notice and closes when the server does */
    assert_int_equal(gs_login_send(&b, srv.port, "otto", tk, (size_t)n), 0);
    assert_int_equal(gs_expect(&a, PROTO_T_NOTICE, NULL, NULL, &m, T), 0);
    assert_int_equal(m.notice.code, PROTO_ERR_ALREADY_ONLINE);
    assert_int_equal(gs_expect_close(&a, T), 0);
    assert_int_equal(gs_login_finish(&b, NULL), 0);
    assert_int_equal(gs_barrier(&b, NULL, NULL, T), 0);
    assert_true(metric("gs_takeovers_total") == 1);
}

/* Characters made name-only (dev mode, or before accounts existed) have no
 * owner: refused in ticket mode until `gameserver --claim-character`. */
static void test_legacy_character_is_refused_until_claimed(void **state)
{
    (void)state;
    assert_int_equal(gs_proc_stop(&srv, SIGTERM, T), 0);
    assert_int_equal(gs_proc_start(&srv, NULL, T), 0); /* dev mode */
    assert_int_equal(gs_login(&a, srv.port, "pete"), 0);
    gs_close(&a);
    assert_int_equal(gs_proc_stop(&srv, SIGTERM, T), 0);
    assert_int_equal(gs_proc_start(&srv, ticket_args, T), 0);
    int n = mint("pete", 7, PA_ROLE_PLAYER);
    refused(&a, "pete", tk, (size_t)n, PROTO_ERR_NOT_OWNER);
    assert_true(metric("gs_auth_not_owner_total") == 1);
    /* the claim runs on the database while the shard runs (WAL) */
    char err[2048];
    const char *claim[] = {"--claim-character", "pete", "--account", "7", "--db", srv.db, NULL};
    assert_int_equal(gs_run_capture(claim, err, sizeof err, T), 0);
    const char *steal[] = {"--claim-character", "pete", "--account", "8", "--db", srv.db, NULL};
    assert_int_equal(gs_run_capture(steal, err, sizeof err, T), 1);
    assert_non_null(strstr(err, "belongs to account 7"));
    const char *nobody[] = {"--claim-character", "zed", "--account", "8", "--db", srv.db, NULL};
    assert_int_equal(gs_run_capture(nobody, err, sizeof err, T), 1);
    assert_non_null(strstr(err, "no character named 'zed'"));
    n = mint("pete", 7, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&a, srv.port, "pete", tk, (size_t)n, NULL), 0);
    n = mint("pete", 8, PA_ROLE_PLAYER);
    refused(&b, "pete", tk, (size_t)n, PROTO_ERR_NOT_OWNER);
}

/* A full replay cache refuses new logins instead of forgetting a nonce. */
static void test_full_replay_cache_refuses_new_logins(void **state)
{
    (void)state;
    assert_int_equal(gs_proc_stop(&srv, SIGTERM, T), 0);
    const char *one[] = {"--set", "auth.mode=ticket",        "--set", pk_arg,
                         "--set", "auth.replay_cache_max=1", NULL};
    assert_int_equal(gs_proc_start(&srv, one, T), 0);
    int n = mint("sven", 1, PA_ROLE_PLAYER);
    assert_int_equal(gs_login_token(&a, srv.port, "sven", tk, (size_t)n, NULL), 0);
    n = mint("tina", 2, PA_ROLE_PLAYER);
    refused(&b, "tina", tk, (size_t)n, PROTO_ERR_SERVER_FULL);
    assert_true(rejected("cache_full") == 1);
    assert_true(metric("gs_auth_replay_cache_nonces") == 1);
    assert_int_equal(gs_barrier(&a, NULL, NULL, T), 0);
}

static void test_ticket_mode_without_a_key_refuses_to_start(void **state)
{
    (void)state;
    char err[2048];
    const char *nokey[] = {"--set", "auth.mode=ticket", NULL};
    assert_int_equal(gs_run_capture(nokey, err, sizeof err, T), 2);
    assert_non_null(strstr(err, "auth.login_public_key is not set"));
    assert_non_null(strstr(err, "masterserver --show-keys"));
    const char *badkey[] = {"--set", "auth.mode=ticket", "--set", "auth.login_public_key=abc",
                            NULL};
    assert_int_equal(gs_run_capture(badkey, err, sizeof err, T), 2);
    assert_non_null(strstr(err, "auth.login_public_key"));
    const char *badmode[] = {"--set", "auth.mode=open", NULL};
    assert_int_equal(gs_run_capture(badmode, err, sizeof err, T), 2);
    assert_non_null(strstr(err, "auth.mode"));
}

/* Dev mode: name-only logins with auth.dev_role (gm: /gold works), a loud
 * warning, and a ticket that is sent is still verified. */
static void test_dev_mode_warns_and_still_verifies_tickets(void **state)
{
    (void)state;
    assert_int_equal(gs_proc_stop(&srv, SIGTERM, T), 0);
    const char *dev[] = {"--set", pk_arg, "--set", "chat.rate_per_s=1000", NULL};
    assert_int_equal(gs_proc_start(&srv, dev, T), 0); /* the harness sets auth.mode=dev */
    char r[300];
    assert_int_equal(gs_login(&a, srv.port, "quinn"), 0);
    assert_int_equal(gold(&a, "3", r, sizeof r), 0);
    assert_string_equal(r, "gold +3, balance 3");
    int n = mint("rita", 1, PA_ROLE_PLAYER);
    tk[n - 1] ^= 1;
    refused(&b, "rita", tk, (size_t)n, PROTO_ERR_TICKET_FORGED);
    assert_int_equal(gs_proc_wait_log(&srv, "anyone can log in as anyone", 0), 0);
}

int main(void)
{
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_valid_ticket_logs_in),
        TEST(test_expired_ticket_is_refused),
        TEST(test_replayed_ticket_is_refused),
        TEST(test_ticket_for_another_shard_is_refused),
        TEST(test_forged_ticket_is_refused),
        TEST(test_truncated_or_missing_ticket_is_refused),
        TEST(test_ticket_for_another_character_is_refused),
        TEST(test_non_gm_gold_is_refused_and_gm_allowed),
        TEST(test_gold_overflow_is_refused_and_the_server_still_serves),
        TEST(test_level_is_set_by_a_gm_and_survives_relogin),
        TEST(test_second_account_cannot_take_over_a_character),
        TEST(test_same_account_reconnect_takes_over),
        TEST(test_legacy_character_is_refused_until_claimed),
        TEST(test_full_replay_cache_refuses_new_logins),
        TEST(test_ticket_mode_without_a_key_refuses_to_start),
        TEST(test_dev_mode_warns_and_still_verifies_tickets),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
