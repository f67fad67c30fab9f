/* Hostile input against the real gameserver, with witnesses (issue 12).
 *
 * Two witnesses log in -- one in zone 1, where the logged-in attackers are,
 * one in zone 3 -- and ping at 50 Hz throughout.  After a 2 s baseline,
 * each attack class of tools/bench/hostile.c runs for a short window (one
 * cmocka test per class, on the same server; 1.5 s, so 75 pings per
 * witness group, or the class's own window), the witnesses' pongs are
 * drained, and the test checks:
 *   - the server is alive;
 *   - neither witness was disconnected or got an error packet;
 *   - each witness group's p99 during the attack is within
 *       max(2 x its baseline p99, its baseline p99 + 25 ms)
 *     (the + 25 ms absorbs scheduling noise on a shared 2-core machine and
 *     the sanitizer build; the bound is 2x).  A p99 over the bound
 *     gets one re-run of the class (a stall of the machine, not of the
 *     server, is common on a loaded CI box): once the witnesses are quiet
 *     again, a no-attack window of the same length, just before the
 *     re-run, is the re-run's baseline when it is slower than the first
 *     one (the machine's load now, measured adjacent to the attack, not a
 *     minute earlier), and the re-run's p99 against max(2 x that, that +
 *     25 ms) decides;
 *   - the attacker got a reason where one is due (a close, an error packet
 *     or a notice; see expect_* below);
 *   - the counter for that input moved in /metrics;
 *   - the server's open fds (/proc/PID/fd) and live sessions (gs_sessions)
 *     come back to their baseline within 10 s.
 *
 * Some checks describe behaviour other branches of issue 12 add (login
 * deadline, pre-login cap, request budgets): the keys they need are passed
 * with --set only when `gameserver --help` lists them, and counters that do
 * not exist yet are marked TODO(lead) -- warned about, not failed, while
 * absent. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gs_harness.h"
#include "hostile.h"

#define ATTACK_MS 1500   /* each class's window (unless the class sets its own) */
#define BASELINE_MS 2000 /* witnesses' no-attack window */
#define WIT_HZ 50        /* pings per second per witness */
#define SETTLE_MS 10000  /* deadline for fds and sessions to come back */
#define QUIET_MS 10000   /* deadline for the witnesses to be quiet before a class */
#define P99_SLACK_MS 25.0
/* The attacker shares the server's 2 cores here: churn is capped so the
 * test measures the server's accept path, not the attacker's CPU use. */
#if defined(__SANITIZE_ADDRESS__)
#define HA_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HA_SANITIZED 1
#endif
#endif
/* Under a sanitizer the attacker (compiled into this test) costs several
 * times more per connection and takes the witnesses' CPU: a quarter of the
 * rate measures the same accept path. */
#ifdef HA_SANITIZED
#define CHURN_PER_S 500
#else
#define CHURN_PER_S 2000
#endif

/* Config keys of the target behaviour, set when this gameserver has them
 * (content's limits, content/README.md "Limits"). */
static const char *const target_keys[][2] = {
    {"limits.login_timeout_ms", "2000"}, /* accept -> valid login deadline */
    {"limits.max_prelogin", "64"},       /* cap on not-yet-logged-in sessions */
    {"limits.flood_kick_s", "1"},        /* over-budget floods kicked within a class */
};

static gs_proc_t srv;
static int have_prelogin_cap; /* limits.max_prelogin was set */
static ha_wit_t *wit;
static double base_p99[2];
static int base_fds, phase;
static double base_sessions;
static char page[1 << 18];

static double metric(const char *name)
{
    if (ha_http_get(srv.metrics_port, "/metrics", page, sizeof page) < 0)
        return -1;
    return ha_metric(page, name);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int has_key(const char *help, const char *key)
{
    const char *p = strstr(help, key);
    return p && (p[strlen(key)] == ' ' || p[strlen(key)] == '\t');
}

static int group_setup(void **state)
{
    (void)state;
    static char help[1 << 15];
    FILE *hf = popen(GS_BIN " --help 2>&1", "r");
    size_t hn = hf ? fread(help, 1, sizeof help - 1, hf) : 0;
    help[hn] = 0;
    if (hf)
        pclose(hf);
    static char sets[8][96];
    const char *extra[24] = {"--log-level", "warn"};
    int n = 2;
    for (size_t i = 0; i < sizeof target_keys / sizeof target_keys[0]; i++) {
        if (!has_key(help, target_keys[i][0])) {
            fprintf(stderr, "TODO(lead): gameserver has no key %s yet; its checks will fail\n",
                    target_keys[i][0]);
            continue;
        }
        snprintf(sets[i], sizeof sets[i], "%s=%s", target_keys[i][0], target_keys[i][1]);
        have_prelogin_cap |= i == 1;
        extra[n++] = "--set";
        extra[n++] = sets[i];
    }
    extra[n] = NULL;
    gs_proc_init(&srv);
    if (gs_proc_start(&srv, extra, 10000) != 0)
        return -1;
    ha_wit_opts_t wo = {.host = "127.0.0.1", .port = srv.port, .n = 2, .hz = WIT_HZ, .groups = 2};
    wo.zone[0] = 1;
    wo.zone[1] = 3;
    if (ha_wit_start(&wo, &wit, 10000) != 0)
        return -1;
    /* the baseline: a measuring window, not a wait for a condition; a
     * second one when the first got under 10 pongs a group (the machine
     * stalled: a VM paused, say) */
    for (int attempt = 0, ok = 0; !ok; attempt++) {
        if (attempt == 2)
            return -1;
        ha_wit_reset(wit, 0);
        ha_wit_phase(wit, 0);
        sleep_ms(BASELINE_MS);
        ha_wit_phase(wit, HA_MAX_PHASES - 1);
        ha_wit_drain(wit, 0, 3000);
        ok = 1;
        for (int g = 0; g < 2; g++) {
            ha_wit_stats_t s;
            ha_wit_stats(wit, g, 0, &s);
            base_p99[g] = s.p99_ms;
            printf("baseline zone %d: %llu pings, p50 %.2f ms, p99 %.2f ms\n", wo.zone[g],
                   (unsigned long long)s.received, s.p50_ms, s.p99_ms);
            ok = ok && s.received >= 10;
        }
    }
    base_fds = ha_proc_fds(srv.pid);
    base_sessions = metric("gs_sessions");
    printf("baseline: %d fds, %.0f sessions, %ld KiB RSS\n", base_fds, base_sessions,
           ha_proc_rss_kb(srv.pid));
    return base_fds > 0 && base_sessions == 2 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    ha_wit_stop(wit);
    int rc = gs_proc_stop(&srv, SIGTERM, 20000);
    gs_proc_cleanup(&srv);
    return rc == 0 ? 0 : -1;
}

enum {
    E_CLOSE = 1,  /* the attacker must see the server close a connection */
    E_REASON = 2, /* an error packet, a notice or a close */
    E_FULL = 4,   /* SERVER_FULL error packets (only when the pre-login cap key exists) */
};

typedef struct check_s {
    const char *cls;
    int attackers, expect;
    const char *counter[3]; /* existing counters; the first that moves is enough */
    const char *todo;       /* TODO(lead): counter another branch adds */
    int window_ms;          /* the attack's window; 0: ATTACK_MS */
} check_t;

#define BAD(r) "gs_bad_input_total{reason=\"" r "\"}"

static double sum_counters(const check_t *c)
{
    double s = 0;
    for (int i = 0; i < 3 && c->counter[i]; i++) {
        double v = metric(c->counter[i]);
        s += v > 0 ? v : 0;
    }
    return s;
}

static int server_alive(void)
{
    int st;
    return waitpid(srv.pid, &st, WNOHANG) == 0;
}

/* fds and sessions back to baseline (deadline SETTLE_MS). */
static int back_to_baseline(int *fds, double *sessions)
{
    uint64_t end = ha_now_ms() + SETTLE_MS;
    for (;;) {
        *fds = ha_proc_fds(srv.pid);
        *sessions = metric("gs_sessions");
        if (*fds <= base_fds && *sessions <= base_sessions && *sessions >= 0)
            return 1;
        if (ha_now_ms() >= end || !server_alive())
            return 0;
        sleep_ms(50); /* polling a condition, with the deadline above */
    }
}

/* One window of the class in a new witness phase. */
static void attack_once(const check_t *c, ha_result_t *r, ha_wit_stats_t w[2])
{
    phase++;
    ha_attack_opts_t ao = {.host = "127.0.0.1",
                           .port = srv.port,
                           .attackers = c->attackers,
                           .silent_cap = 200,
                           .churn_per_s = CHURN_PER_S,
                           .zone = 1};
    ha_wit_phase(wit, phase);
    assert_int_equal(ha_attack(&ao, c->cls, c->window_ms > 0 ? c->window_ms : ATTACK_MS, r), 0);
    ha_wit_phase(wit, HA_MAX_PHASES - 1);
    ha_wit_drain(wit, phase, 5000);
    for (int g = 0; g < 2; g++)
        ha_wit_stats(wit, g, phase, &w[g]);
}

static int p99_ok(const ha_wit_stats_t w[2], const double bound[2])
{
    return w[0].p99_ms <= bound[0] && w[1].p99_ms <= bound[1];
}

/* max(2 x p99, p99 + slack): the bound over a baseline p99. */
static double bound_of(double p99)
{
    return p99 * 2 > p99 + P99_SLACK_MS ? p99 * 2 : p99 + P99_SLACK_MS;
}

/* A no-attack window as long as the class's attack, in a new phase: the
 * witnesses' p99 now (the re-run's adjacent baseline). */
static void quiet_window(const check_t *c, double p99[2])
{
    phase++;
    ha_wit_phase(wit, phase);
    sleep_ms(c->window_ms > 0 ? c->window_ms : ATTACK_MS); /* a measuring window */
    ha_wit_phase(wit, HA_MAX_PHASES - 1);
    ha_wit_drain(wit, phase, 5000);
    for (int g = 0; g < 2; g++) {
        ha_wit_stats_t s;
        ha_wit_stats(wit, g, phase, &s);
        p99[g] = s.p99_ms;
    }
}

/* Before a class: the witnesses' p99 over 0.5 s windows back within the
 * bound (deadline QUIET_MS), so one class's backlog is not billed to the
 * next.  Past the deadline the class runs anyway (a machine that stays
 * slow is what the re-run's adjacent baseline is for). */
#define SCRATCH_PHASE (HA_MAX_PHASES - 2)
static void wait_quiet(const double bound[2])
{
    uint64_t end = ha_now_ms() + QUIET_MS;
    for (;;) {
        ha_wit_reset(wit, SCRATCH_PHASE);
        ha_wit_phase(wit, SCRATCH_PHASE);
        sleep_ms(500); /* a measuring window */
        ha_wit_phase(wit, HA_MAX_PHASES - 1);
        ha_wit_drain(wit, SCRATCH_PHASE, 2000);
        ha_wit_stats_t w[2];
        ha_wit_stats(wit, 0, SCRATCH_PHASE, &w[0]);
        ha_wit_stats(wit, 1, SCRATCH_PHASE, &w[1]);
        if (w[0].late + w[1].late == 0 && w[0].p99_ms <= bound[0] && w[1].p99_ms <= bound[1])
            return;
        if (ha_now_ms() >= end || !server_alive()) {
            printf("server still slow before this class (witness p99 %.2f / %.2f ms)\n",
                   w[0].p99_ms, w[1].p99_ms);
            return;
        }
    }
}

static void run_check(const check_t *c)
{
    double bound[2];
    for (int g = 0; g < 2; g++)
        bound[g] = bound_of(base_p99[g]);
    wait_quiet(bound);
    double before = sum_counters(c), todo_before = c->todo ? metric(c->todo) : -1;
    ha_result_t r;
    ha_wit_stats_t w[2];
    attack_once(c, &r, w);
    int alive = server_alive();
    int fds = -1;
    double sessions = -1;
    int settled = alive && back_to_baseline(&fds, &sessions);
    double after = alive ? sum_counters(c) : -1,
           todo_after = c->todo && alive ? metric(c->todo) : -1;
    char codes[256];
    ha_codes_text(&r, codes, sizeof codes);
    printf(
        "%-12s witness p99 %.2f / %.2f ms (bounds %.2f / %.2f), late %llu, disconnected %d | "
        "attacker %llu conns (%llu logins failed), %.1f MB out, %llu closes, errors: %s, notices "
        "%llu | counter %+.0f | fds %d (base %d), sessions %.0f (base %.0f), RSS %ld KiB\n",
        c->cls, w[0].p99_ms, w[1].p99_ms, bound[0], bound[1],
        (unsigned long long)(w[0].late + w[1].late), w[0].disconnected + w[1].disconnected,
        (unsigned long long)r.conns, (unsigned long long)r.login_fail, (double)r.bytes_out / 1e6,
        (unsigned long long)r.closes, codes, (unsigned long long)r.notices, after - before, fds,
        base_fds, sessions, base_sessions, ha_proc_rss_kb(srv.pid));
    fflush(stdout);

    /* every check is evaluated and printed before the first assert */
    int ok_wit = w[0].disconnected + w[1].disconnected == 0 && w[0].errors + w[1].errors == 0;
    int ok_p99 = p99_ok(w, bound);
    if (!ok_p99 && alive && settled) {
        ha_result_t r2;
        ha_wit_stats_t w2[2];
        double adj[2], bound2[2];
        wait_quiet(bound); /* the first run's backlog is not the machine's load */
        quiet_window(c, adj);
        for (int g = 0; g < 2; g++)
            bound2[g] = bound_of(adj[g] > base_p99[g] ? adj[g] : base_p99[g]);
        attack_once(c, &r2, w2);
        ok_p99 = p99_ok(w2, bound2);
        printf("%-12s re-run: witness p99 %.2f / %.2f ms (adjacent baseline %.2f / %.2f ms, "
               "bounds %.2f / %.2f)\n",
               c->cls, w2[0].p99_ms, w2[1].p99_ms, adj[0], adj[1], bound2[0], bound2[1]);
        ok_wit = ok_wit && w2[0].disconnected + w2[1].disconnected == 0;
        settled = server_alive() && back_to_baseline(&fds, &sessions);
    }
    int ok_reason = !(c->expect & E_CLOSE) || r.closes > 0;
    if (c->expect & E_REASON)
        ok_reason = ok_reason && ha_got_reason(&r);
    if ((c->expect & E_FULL) && have_prelogin_cap)
        ok_reason = ok_reason && r.errors[PROTO_ERR_SERVER_FULL] > 0;
    int ok_counter = !c->counter[0] || after > before;
    if (c->todo && todo_after < 0)
        printf("TODO(lead): counter %s not in /metrics yet (check skipped)\n", c->todo);
    int ok_todo = !c->todo || todo_after < 0 || todo_after > todo_before;
    const struct {
        int ok;
        const char *what;
    } res[] = {{alive, "server alive"},
               {ok_wit, "witnesses connected, no error packets"},
               {ok_p99, "witness p99 within bound"},
               {ok_reason, "attacker got a reason"},
               {ok_counter, "counter moved"},
               {ok_todo, "TODO counter moved"},
               {settled, "fds and sessions back to baseline"}};
    int failed = 0;
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++)
        if (!res[i].ok) {
            printf("FAILED %s: %s\n", c->cls, res[i].what);
            failed++;
        }
    fflush(stdout);
    assert_int_equal(failed, 0);
}

#define CHECK(fn, ...)                                                                             \
    static void fn(void **state)                                                                   \
    {                                                                                              \
        (void)state;                                                                               \
        static const check_t c = __VA_ARGS__;                                                      \
        run_check(&c);                                                                             \
    }

CHECK(test_random_bytes, {"random", 2, E_CLOSE, {BAD("bad_length"), BAD("bad_packet")}, NULL, 0})
CHECK(test_length_below_header, {"len_short", 2, E_CLOSE, {BAD("bad_length")}, NULL, 0})
CHECK(test_length_above_max, {"len_long", 2, E_CLOSE, {BAD("bad_length")}, NULL, 0})
CHECK(test_unknown_types, {"unknown_type", 2, E_CLOSE | E_REASON, {BAD("bad_packet")}, NULL, 0})
CHECK(test_malformed_bodies, {"malformed", 2, E_CLOSE | E_REASON, {BAD("bad_packet")}, NULL, 0})
/* target: pre-login game packets close the session after a few */
CHECK(test_prelogin_game_packets, {"prelogin", 2, E_CLOSE | E_REASON, {NULL}, BAD("prelogin"), 0})
CHECK(test_login_edge_cases, {"login_edge", 2, E_CLOSE | E_REASON, {BAD("bad_packet")}, NULL, 0})
/* target: the login deadline (2 s here) closes a 1-byte/s login: the
 * window outlasts it */
CHECK(test_slowloris, {"slowloris", 8, E_CLOSE, {NULL}, BAD("login_timeout"), 2500})
/* target: past the pre-login cap (64 here) SERVER_FULL then close; the
 * rest closed by the login deadline */
CHECK(test_silent_connections_at_cap,
      {"silent", 1, E_CLOSE | E_REASON | E_FULL, {NULL}, BAD("prelogin_full"), 0})
CHECK(test_connect_rst_churn, {"churn", 4, 0, {"gs_sessions_total"}, NULL, 0})
/* the non-reader's who requests are mostly dropped (request budget), so its
 * unsent bytes stay far below listen.max_send_bytes and it is not closed
 * for them.  With netcore's packet rate it is read in bursts (~3,300
 * packets, then ~11 s of pause to repay the debt), so within a class
 * content sees one burst: dropped and counted; the request-flood kick comes
 * at its second burst, after the class. */
CHECK(test_non_reader, {"nonreader", 1, 0, {BAD("over_budget")}, NULL, 0})
CHECK(test_chat_flood, {"chat_flood", 2, E_REASON, {BAD("chat_flood")}, NULL, 0})
/* target: request budgets drop, warn, then kick */
CHECK(test_move_flood, {"move_flood", 2, E_REASON, {"gs_moves_total"}, BAD("over_budget"), 0})
CHECK(test_who_flood, {"who_flood", 2, E_REASON, {NULL}, BAD("over_budget"), 0})
CHECK(test_ping_flood, {"ping_flood", 2, E_REASON, {NULL}, BAD("over_budget"), 0})

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_length_below_header),
        cmocka_unit_test(test_length_above_max),
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_prelogin_game_packets),
        cmocka_unit_test(test_login_edge_cases),
        cmocka_unit_test(test_slowloris),
        cmocka_unit_test(test_silent_connections_at_cap),
        cmocka_unit_test(test_connect_rst_churn),
        cmocka_unit_test(test_non_reader),
        cmocka_unit_test(test_chat_flood),
        cmocka_unit_test(test_move_flood),
        cmocka_unit_test(test_who_flood),
        cmocka_unit_test(test_ping_flood),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
