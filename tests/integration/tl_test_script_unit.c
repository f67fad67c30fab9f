/* The testclient's script engine (tools/testclient/tc_json.c) without a
 * server: partial JSON matching, command parsing, expect on the packet log
 * (earlier packets, later packets from another thread, deadline, closed
 * connection) and the line runner's exit codes. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tc_script.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tl_script_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tc_plog_clear();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int match(const char *want, const char *got)
{
    cJSON *w = cJSON_Parse(want), *g = cJSON_Parse(got);
    assert_non_null(w);
    assert_non_null(g);
    int r = tc_json_match(w, g);
    cJSON_Delete(w);
    cJSON_Delete(g);
    return r;
}

static void test_match_is_partial_and_recursive(void **state)
{
    (void)state;
    const char *got = "{\"entity_id\":7,\"id\":3,\"pos\":{\"x\":500.5,\"y\":2},"
                      "\"name\":\"bob\",\"ok\":true,\"list\":[{\"a\":1,\"b\":2},{\"a\":3}]}";
    assert_true(match("{}", got));
    assert_true(match("{\"id\":3}", got));
    assert_true(match("{\"pos\":{\"x\":500.5}}", got));
    assert_true(match("{\"name\":\"bob\",\"ok\":true}", got));
    assert_true(match("{\"list\":[{\"a\":1},{}]}", got));
    assert_false(match("{\"id\":4}", got));
    assert_false(match("{\"pos\":{\"z\":0}}", got)); /* missing key */
    assert_false(match("{\"name\":\"bo\"}", got));   /* strings are exact */
    assert_false(match("{\"ok\":false}", got));
    assert_false(match("{\"id\":\"3x\"}", got));        /* type differs */
    assert_false(match("{\"list\":[{\"a\":1}]}", got)); /* arrays: same length */
    assert_false(match("{\"pos\":1}", got));            /* object vs number */
    assert_true(match("{\"n\":null}", "{\"n\":null}"));
    assert_false(match("{\"n\":null}", "{\"n\":0}"));
    /* u64 written as a string: a number in the script still matches */
    assert_true(match("{\"t\":18446744073709551615}", "{\"t\":\"18446744073709551615\"}"));
    assert_false(match("{\"t\":5}", "{\"t\":\"\"}"));
    assert_true(tc_json_match(NULL, NULL)); /* no JSON given: anything */
}

static void test_parse_cmd_name_json_and_timeout(void **state)
{
    (void)state;
    char name[TC_SCRIPT_NAME_MAX + 1], err[256];
    cJSON *j = NULL;
    int t = 0;
    assert_int_equal(tc_json_parse_cmd(" emote_notify {\"id\": 7, \"s\": \"a b\"} 250", 1, name,
                                       sizeof name, &j, &t, err, sizeof err),
                     0);
    assert_string_equal(name, "emote_notify");
    assert_int_equal(t, 250);
    assert_int_equal(cJSON_GetObjectItem(j, "id")->valueint, 7);
    assert_string_equal(cJSON_GetObjectItem(j, "s")->valuestring, "a b");
    cJSON_Delete(j);

    assert_int_equal(
        tc_json_parse_cmd("world_entered", 1, name, sizeof name, &j, &t, err, sizeof err), 0);
    assert_null(j);
    assert_int_equal(t, TC_SCRIPT_EXPECT_MS);
    assert_int_equal(tc_json_parse_cmd("pong 10", 1, name, sizeof name, &j, &t, err, sizeof err),
                     0);
    assert_int_equal(t, 10);

    const char *bad[] = {"",
                         "{\"id\":1}",
                         "emote {\"id\":",
                         "emote [1]",
                         "emote {} x",
                         "emote {} -5",
                         "emote {} 600001",
                         "emote {} 99999999999999999999",
                         "em-ote {}",
                         "a0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(tc_json_parse_cmd(bad[i], 1, name, sizeof name, &j, &t, err, sizeof err),
                         -1);
        assert_null(j);
        assert_true(err[0] != 0);
    }
    /* send takes no timeout */
    assert_int_equal(tc_json_parse_cmd("emote {} 5", 0, name, sizeof name, &j, &t, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "unexpected '5'"));
}

static void push(const char *name, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    tc_plog_push(name, j);
}

static cJSON *obj(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    return j;
}

static long long now_ms(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_expect_consumes_in_order(void **state)
{
    (void)state;
    char why[1024];
    tc_plog_set_closed(0, NULL);
    push("spawn", "{\"entity_id\":1}");
    push("emote_notify", "{\"entity_id\":1,\"id\":3}");
    push("emote_notify", "{\"entity_id\":1,\"id\":7}");
    cJSON *w7 = obj("{\"id\":7}"), *w3 = obj("{\"id\":3}"), *any = NULL;
    /* packets received before the expect count; non-matching ones are skipped */
    assert_int_equal(tc_plog_expect("emote_notify", w7, 0, why, sizeof why), 0);
    /* everything up to the match is consumed: id 3 came before it */
    assert_int_equal(tc_plog_expect("emote_notify", w3, 0, why, sizeof why), -1);
    assert_non_null(strstr(why, "timed out"));
    assert_int_equal(tc_plog_expect("spawn", any, 0, why, sizeof why), -1);
    cJSON_Delete(w7);
    cJSON_Delete(w3);
}

static void *late_pusher(void *arg)
{
    (void)arg;
    struct timespec d = {0, 50 * 1000000L};
    nanosleep(&d, NULL); /* the thing under test is the waiting side */
    push("pong", "{\"client_time\":1}");
    push("emote_notify", "{\"entity_id\":2,\"id\":9}");
    return NULL;
}

static void test_expect_waits_for_a_later_packet(void **state)
{
    (void)state;
    char why[1024];
    tc_plog_set_closed(0, NULL);
    pthread_t th;
    cJSON *w = obj("{\"id\":9}");
    assert_int_equal(pthread_create(&th, NULL, late_pusher, NULL), 0);
    long long t0 = now_ms();
    assert_int_equal(tc_plog_expect("emote_notify", w, 5000, why, sizeof why), 0);
    assert_true(now_ms() - t0 < 4000); /* woken by the push, not the deadline */
    pthread_join(th, NULL);
    cJSON_Delete(w);
}

static void test_expect_times_out_naming_near_misses(void **state)
{
    (void)state;
    char why[1024];
    tc_plog_set_closed(0, NULL);
    push("emote_notify", "{\"entity_id\":1,\"id\":4}");
    cJSON *w = obj("{\"id\":5}");
    long long t0 = now_ms();
    assert_int_equal(tc_plog_expect("emote_notify", w, 200, why, sizeof why), -1);
    long long took = now_ms() - t0;
    assert_true(took >= 190 && took < 3000);
    assert_non_null(strstr(why, "timed out"));
    assert_non_null(strstr(why, "\"id\":4")); /* what did arrive */
    assert_int_equal(tc_plog_expect("who_response", w, 0, why, sizeof why), -1);
    assert_non_null(strstr(why, "no who_response received"));
    cJSON_Delete(w);
    tc_plog_clear();
}

static void test_expect_fails_at_once_when_closed(void **state)
{
    (void)state;
    char why[1024];
    tc_plog_set_closed(1, "kicked: bye");
    long long t0 = now_ms();
    assert_int_equal(tc_plog_expect("pong", NULL, 5000, why, sizeof why), -1);
    assert_true(now_ms() - t0 < 2000);
    assert_non_null(strstr(why, "connection closed: kicked: bye"));
    /* but a packet received before the close still matches */
    push("pong", "{}");
    assert_int_equal(tc_plog_expect("pong", NULL, 5000, why, sizeof why), 0);
    tc_plog_set_closed(0, NULL);
}

static void test_log_drops_oldest_when_full(void **state)
{
    (void)state;
    char why[256];
    for (int i = 0; i < TC_SCRIPT_LOG_MAX + 10; i++) {
        char j[32];
        snprintf(j, sizeof j, "{\"i\":%d}", i);
        push("notice", j);
    }
    cJSON *first = obj("{\"i\":0}"), *last = obj("{\"i\":4105}");
    assert_int_equal(tc_plog_expect("notice", first, 0, why, sizeof why), -1);
    assert_int_equal(tc_plog_expect("notice", last, 0, why, sizeof why), 0);
    cJSON_Delete(first);
    cJSON_Delete(last);
    tc_plog_clear();
}

/* ---- the runner with fake operations ---- */
static char commands[1024], sent[1024];

static int fake_command(char *line)
{
    strncat(commands, line, sizeof commands - strlen(commands) - 2);
    strcat(commands, "|");
    if (!strcmp(line, "fakepacket"))
        push("pong", "{\"client_time\":42}");
    if (!strcmp(line, "fakelist"))
        push("who_response", "{\"total\":2,\"entries\":[{\"name\":\"a\"},{\"name\":\"b\"}]}");
    return !strcmp(line, "quit");
}

static int fake_send(const char *name, const cJSON *json, char *err, size_t errlen)
{
    if (!strcmp(name, "nosuch")) {
        snprintf(err, errlen, "no c2s packet named nosuch");
        return -1;
    }
    char *txt = json ? cJSON_PrintUnformatted(json) : NULL;
    snprintf(sent + strlen(sent), sizeof sent - strlen(sent), "%s %s|", name, txt ? txt : "-");
    free(txt);
    return 0;
}

static const tc_script_ops_t fake = {fake_command, fake_send};

static int run(const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/t.tc", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    commands[0] = sent[0] = 0;
    tc_plog_clear();
    tc_plog_set_closed(0, NULL);
    return tc_script_run_file(path, &fake);
}

static void test_runner_runs_lines_and_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(run("# a comment\n\nlogin alice\r\n  send emote {\"id\": 7}\n"
                         "send logout\nfakepacket\nexpect pong {\"client_time\": 42} 100\n"),
                     TC_SCRIPT_OK);
    assert_string_equal(commands, "login alice|fakepacket|");
    assert_string_equal(sent, "emote {\"id\":7}|logout -|");

    /* the first failing line stops the script */
    assert_int_equal(run("login a\nexpect pong {} 0\nsay never\n"), TC_SCRIPT_FAILED);
    assert_string_equal(commands, "login a|");
    assert_int_equal(run("send nosuch {}\nsay never\n"), TC_SCRIPT_FAILED);
    assert_string_equal(commands, "");
    assert_int_equal(run("expect pong {\"a\":}\n"), TC_SCRIPT_FAILED);
    /* quit ends it successfully */
    assert_int_equal(run("say a\nquit\nexpect pong {} 0\n"), TC_SCRIPT_OK);
    assert_string_equal(commands, "say a|quit|");

    char *big = malloc(TC_SCRIPT_LINE_MAX + 100);
    assert_non_null(big);
    memset(big, 'x', TC_SCRIPT_LINE_MAX + 98);
    memcpy(big, "say ", 4);
    big[TC_SCRIPT_LINE_MAX + 98] = '\n';
    big[TC_SCRIPT_LINE_MAX + 99] = 0;
    assert_int_equal(run(big), TC_SCRIPT_FAILED);
    assert_string_equal(commands, "");
    free(big);

    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.tc", dir);
    assert_int_equal(tc_script_run_file(missing, &fake), TC_SCRIPT_USAGE);
}

/* expect ... as NAME keeps the match; ${NAME.path} substitutes its JSON. */
static void test_runner_variables(void **state)
{
    (void)state;
    assert_int_equal(run("fakepacket\nexpect pong {} 100 as p\nfakelist\n"
                         "expect who_response as w\nsend echo {\"t\": ${p.client_time}}\n"
                         "say ${w.entries.1.name} ${w.total}\n"
                         "expect pong {\"client_time\": 42} 0 as p\n"),
                     TC_SCRIPT_FAILED); /* the last pong was consumed */
    assert_string_equal(sent, "echo {\"t\":42}|");
    assert_string_equal(commands, "fakepacket|fakelist|say \"b\" 2|");
    /* unknown variable, unknown field, index out of range: the line fails */
    const char *bad[] = {"say ${nope}\n", "fakepacket\nexpect pong as p\nsay ${p.nofield}\n",
                         "fakelist\nexpect who_response as w\nsay ${w.entries.2}\n",
                         "fakepacket\nexpect pong as p\nsay ${p.client_time.x}\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(run(bad[i]), TC_SCRIPT_FAILED);
        assert_null(strstr(commands, "say"));
    }
    /* "as" inside the JSON is not a variable */
    assert_int_equal(run("fakepacket\nexpect pong {\"client_time\": 42}\n"), TC_SCRIPT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_is_partial_and_recursive),
        cmocka_unit_test(test_parse_cmd_name_json_and_timeout),
        cmocka_unit_test(test_expect_consumes_in_order),
        cmocka_unit_test(test_expect_waits_for_a_later_packet),
        cmocka_unit_test(test_expect_times_out_naming_near_misses),
        cmocka_unit_test(test_expect_fails_at_once_when_closed),
        cmocka_unit_test(test_log_drops_oldest_when_full),
        cmocka_unit_test(test_runner_runs_lines_and_exit_codes),
        cmocka_unit_test(test_runner_variables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
