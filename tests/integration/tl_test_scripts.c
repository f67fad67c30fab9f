/* Runs one testclient script (tests/scripts/NAME.tc, one ctest each:
 * tc_script_NAME) against a real gameserver in auth.mode dev: the script
 * passes when `testclient --script` exits 0.  Lines `#set KEY=VALUE` in the
 * script become gameserver `--set KEY=VALUE` (a VALUE starting with "./" is
 * relative to the script's directory); lines `#parallel FILE` run FILE (a
 * script, relative to this one's directory, not named *.tc so it is no test
 * of its own) at the same time with another testclient, and it must exit 0
 * too (a second player: one sees what the other does).  With --selfcheck
 * instead of a file:
 * failing scripts exit 1 naming their failing line (the runner can fail). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_server.h"

#define DEADLINE_MS 10000
#define MAX_SETS 16
#define MAX_SIDE 4

static tl_server_t game;
static tl_proc_t client;
static char port[16];
static const char *script; /* NULL: --selfcheck */
static char sets[MAX_SETS][512];
static int nsets;
static tl_proc_t side[MAX_SIDE];
static char side_path[MAX_SIDE][512];
static int nside;

/* "#parallel FILE": FILE relative to the script's directory. */
static int add_side(const char *file, int dlen, const char *d)
{
    if (nside == MAX_SIDE)
        return -1;
    int n = snprintf(side_path[nside], sizeof side_path[0], "%.*s/%s", dlen, d, file);
    if (n < 0 || (size_t)n >= sizeof side_path[0])
        return -1;
    nside++;
    return 0;
}

/* "#set KEY=VALUE" lines of the script: gameserver --set arguments;
 * "#parallel FILE" lines: scripts run beside it. */
static int read_sets(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    const char *slash = strrchr(path, '/');
    int dlen = slash ? (int)(slash - path) : 1;
    const char *d = slash ? path : ".";
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!strncmp(line, "#parallel ", 10) && add_side(line + 10, dlen, d) != 0) {
            fclose(f);
            fprintf(stderr, "%s: bad or too many #parallel lines: '%s'\n", path, line);
            return -1;
        }
        if (strncmp(line, "#set ", 5))
            continue;
        char *kv = line + 5, *eq = strchr(kv, '=');
        if (!eq || nsets == MAX_SETS) {
            fclose(f);
            fprintf(stderr, "%s: bad or too many #set lines: '%s'\n", path, line);
            return -1;
        }
        int n = !strncmp(eq + 1, "./", 2) ? snprintf(sets[nsets], sizeof sets[0], "%.*s=%.*s/%s",
                                                     (int)(eq - kv), kv, dlen, d, eq + 3)
                                          : snprintf(sets[nsets], sizeof sets[0], "%s", kv);
        if (n < 0 || (size_t)n >= sizeof sets[0]) {
            fclose(f);
            return -1;
        }
        nsets++;
    }
    fclose(f);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    const char *args[1 + 2 * MAX_SETS];
    int argc = 0;
    if (script && read_sets(script) != 0)
        return -1;
    for (int i = 0; i < nsets; i++) {
        args[argc++] = "--set";
        args[argc++] = sets[i];
    }
    args[argc] = NULL;
    if (tl_server_up(&game, "tl_scripts", GAMESERVER_BIN, args, DEADLINE_MS) != 0)
        return -1;
    snprintf(port, sizeof port, "%d", game.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tl_proc_stop(&client, SIGKILL, DEADLINE_MS); /* only if a test left it */
    for (int i = 0; i < nside; i++)
        tl_proc_stop(&side[i], SIGKILL, DEADLINE_MS);
    return tl_server_down(&game, DEADLINE_MS);
}

static int run_script(const char *path)
{
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, "--script", path, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 0), 0);
    int rc = tl_proc_wait_exit(&client, 60000);
    printf("%s", client.out);
    return rc;
}

static void test_script_passes(void **state)
{
    (void)state;
    for (int i = 0; i < nside; i++) {
        const char *argv[] = {TESTCLIENT_BIN, "--port", port, "--script", side_path[i], NULL};
        assert_int_equal(tl_proc_start(&side[i], argv, 0), 0);
    }
    int rc = run_script(script);
    int side_failed = 0;
    for (int i = 0; i < nside; i++) {
        int r = tl_proc_wait_exit(&side[i], 60000);
        printf("--- %s (parallel, exit %d) ---\n%s", side_path[i], r, side[i].out);
        side_failed |= r != 0;
    }
    assert_int_equal(rc, 0);
    assert_false(side_failed);
}

/* every file the test writes must be written: a failure fails the test */
static void write_file(const char *path, const char *text)
{
    assert_int_equal(tl_write_file(path, text, -1), 0);
}

/* A packet that never comes, a bad send, a packet name that does not
 * exist: exit 1 and the failing line named; a missing file: exit 2. */
static void test_failing_scripts_exit_1_naming_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"login selfcheck\nexpect world_entered {}\nexpect chat_deliver {\"text\": \"never\"} "
         "300\nsay not reached\n",
         ":3: expect chat_deliver {\"text\": \"never\"} 300: timed out"},
        {"login selfcheck\nsend move {\"pos\": {\"x\": \"far\"}}\n", ":2: send move"},
        {"login selfcheck\nsend no_such_packet {}\n", "no packet named 'no_such_packet'"},
        {"login selfcheck\nsend pong {}\n", "pong is not a client-to-server packet"},
        {"login selfcheck\nexpect world_entered {\"zone\": 99} 300\n", "received but not "
                                                                       "matching"},
    };
    char path[128];
    snprintf(path, sizeof path, "%s/fail.tc", game.dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(path, cases[i].text);
        assert_int_equal(run_script(path), 1);
        assert_non_null(strstr(client.out, "script "));
        assert_non_null(strstr(client.out, cases[i].want));
        assert_null(strstr(client.out, "not reached"));
    }
    snprintf(path, sizeof path, "%s/missing.tc", game.dir);
    assert_int_equal(run_script(path), 2);
    assert_non_null(strstr(client.out, "cannot open"));
}

/* Interactive (stdin) `send PACKET {json}`: any c2s packet by name; a
 * packet without a pretty-printer (emote_notify) is shown as JSON; a bad
 * send says why and the session goes on. */
static void test_interactive_send_and_json_printing(void **state)
{
    (void)state;
    const char *argv[] = {TESTCLIENT_BIN, "--port", port, NULL};
    assert_int_equal(tl_proc_start(&client, argv, 1), 0);
    assert_int_equal(tl_proc_write(&client, "login sender\nsend emote {\"id\": 2}\n"
                                            "send bogus {}\nsend emote {\"id\": 70000}\n"
                                            "send emote {\"id\": 1, \"extra\": 1}\nping\n"),
                     0);
    tl_proc_close_stdin(&client);
    int rc = tl_proc_wait_exit(&client, DEADLINE_MS);
    printf("%s", client.out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(client.out, "< emote_notify {\"entity_id\":"));
    assert_non_null(strstr(client.out, "\"id\":2}"));
    assert_non_null(strstr(client.out, "! send: no packet named 'bogus'"));
    assert_non_null(strstr(client.out, "! send: emote: id:")); /* out of u16 range */
    assert_non_null(strstr(client.out, "! send: emote: unknown field 'extra'"));
    assert_non_null(strstr(client.out, "pong: "));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tl_test_scripts SCRIPT.tc | --selfcheck\n");
        return 2;
    }
    script = strcmp(argv[1], "--selfcheck") ? argv[1] : NULL;
    const struct CMUnitTest one[] = {cmocka_unit_test(test_script_passes)};
    const struct CMUnitTest self[] = {cmocka_unit_test(test_failing_scripts_exit_1_naming_the_line),
                                      cmocka_unit_test(test_interactive_send_and_json_printing)};
    return script ? cmocka_run_group_tests(one, setup, teardown)
                  : cmocka_run_group_tests(self, setup, teardown);
}
