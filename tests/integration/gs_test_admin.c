/* The operator's console (issue 14): every command against a real
 * gameserver on 127.0.0.1 (free ports, a temp dir with its secret, zones
 * file and database), the auth line and its failure counter, the limits,
 * the loopback-only rule at start, and `testclient --admin`. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gs_dbcheck.h"
#include "gs_harness.h"

#define T 5000
#define SECRET "it-admin-secret-0123456789"

static const char zones_v1[] =
    "{\"zones\": [\n"
    " {\"id\": 1, \"name\": \"Meadow\", \"width\": 1000, \"height\": 1000,\n"
    "  \"spawn\": {\"x\": 500, \"y\": 500}, \"portals\": []},\n"
    " {\"id\": 2, \"name\": \"Dark Forest\", \"width\": 800, \"height\": 800,\n"
    "  \"spawn\": {\"x\": 400, \"y\": 400}, \"portals\": []}]}\n";
/* safe changes: zone 2's name and spawn, a portal in zone 1 */
static const char zones_v2[] =
    "{\"zones\": [\n"
    " {\"id\": 1, \"name\": \"Meadow\", \"width\": 1000, \"height\": 1000,\n"
    "  \"spawn\": {\"x\": 500, \"y\": 500}, \"portals\": [\n"
    "   {\"x\": 990, \"y\": 500, \"radius\": 8, \"to_zone\": 2, \"to_x\": 20, \"to_y\": 30}]},\n"
    " {\"id\": 2, \"name\": \"Deep Forest\", \"width\": 800, \"height\": 800,\n"
    "  \"spawn\": {\"x\": 100, \"y\": 200}, \"portals\": []}]}\n";
/* needs a restart: zone 2's size */
static const char zones_resized[] =
    "{\"zones\": [\n"
    " {\"id\": 1, \"name\": \"Meadow\", \"width\": 1000, \"height\": 1000,\n"
    "  \"spawn\": {\"x\": 500, \"y\": 500}, \"portals\": []},\n"
    " {\"id\": 2, \"name\": \"Renamed\", \"width\": 900, \"height\": 800,\n"
    "  \"spawn\": {\"x\": 400, \"y\": 400}, \"portals\": []}]}\n";

static gs_proc_t srv;
static char zones_path[256], secret_path[256], fault_path[256];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    gs_proc_init(&srv);
    snprintf(zones_path, sizeof zones_path, "%s/zones.json", srv.dir);
    snprintf(secret_path, sizeof secret_path, "%s/admin.secret", srv.dir);
    write_file(zones_path, zones_v1);
    write_file(secret_path, SECRET "\n");
    static char secret_kv[300], fault_kv[300];
    snprintf(secret_kv, sizeof secret_kv, "admin.secret_file=%s", secret_path);
    snprintf(fault_path, sizeof fault_path, "%s/fault", srv.dir); /* absent: no fault */
    snprintf(fault_kv, sizeof fault_kv, "database.fault_file=%s", fault_path);
    const char *args[] = {"--zones",     zones_path,
                          "--set",       secret_kv,
                          "--set",       "admin.port=0",
                          "--set",       "zones.max_speed=100000",
                          "--set",       "admin.auth_timeout_ms=1500",
                          "--set",       fault_kv,
                          "--log-level", getenv("GS_DUMP") ? "debug" : "info",
                          NULL};
    return gs_proc_start(&srv, args, T);
}

static int teardown(void **state)
{
    (void)state;
    if (getenv("GS_DUMP")) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "cat %s/stderr.log >&2", srv.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "no log\n");
    }
    /* an orderly stop that exits 0: no crash, no leak (under ASan) */
    int st = srv.pid > 0 ? gs_proc_stop(&srv, SIGTERM, 10000) : 0;
    gs_proc_cleanup(&srv);
    if (st != 0)
        fprintf(stderr, "gameserver exited with %d at teardown\n", st);
    return st == 0 ? 0 : -1;
}

/* ---- a console client ---- */

typedef struct adm_s {
    int fd;
    char buf[1 << 16];
    size_t len;
} adm_t;

static int adm_open(adm_t *a)
{
    memset(a, 0, sizeof *a);
    a->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(srv.admin_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(a->fd, (struct sockaddr *)&sa, sizeof sa);
}

static void adm_close(adm_t *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

/* One line (without '\n') into line: 1, 0 timeout, -1 closed. */
static int adm_line(adm_t *a, char *line, size_t cap, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(a->buf, '\n', a->len);
        if (nl) {
            size_t n = (size_t)(nl - a->buf);
            snprintf(line, cap, "%.*s", (int)n, a->buf);
            a->len -= n + 1;
            memmove(a->buf, nl + 1, a->len);
            return 1;
        }
        int left = (int)(end - now_ms());
        if (left <= 0)
            return 0;
        struct pollfd p = {a->fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0)
            continue;
        ssize_t r = read(a->fd, a->buf + a->len, sizeof a->buf - a->len);
        if (r <= 0)
            return -1;
        a->len += (size_t)r;
    }
}

/* Reads an answer: every line into out ('\n'-joined).  1 ok, 0 error,
 * -1 timeout or closed. */
static int adm_answer(adm_t *a, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = 0;
    char line[4096];
    for (;;) {
        if (adm_line(a, line, sizeof line, T) != 1)
            return -1;
        used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s\n", line);
        if (strcmp(line, "ok") == 0)
            return 1;
        if (strncmp(line, "error ", 6) == 0)
            return 0;
    }
}

static int adm_cmd(adm_t *a, const char *cmd, char *out, size_t cap)
{
    size_t n = strlen(cmd);
    char *l = malloc(n + 1);
    assert_non_null(l);
    memcpy(l, cmd, n);
    l[n] = '\n';
    ssize_t w = write(a->fd, l, n + 1);
    free(l);
    if (w != (ssize_t)(n + 1))
        return -1;
    return adm_answer(a, out, cap);
}

static void adm_login(adm_t *a)
{
    char out[256];
    assert_int_equal(adm_open(a), 0);
    assert_int_equal(adm_cmd(a, "auth " SECRET, out, sizeof out), 1);
}

/* Polls the server's stderr log for `needle` (deadline).  0 or -1. */
static int wait_log(const char *needle, int timeout_ms)
{
    char path[192];
    static char buf[1 << 20];
    snprintf(path, sizeof path, "%s/stderr.log", srv.dir);
    for (int64_t end = now_ms() + timeout_ms; now_ms() < end;) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        if (strstr(buf, needle))
            return 0;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int match_text(const proto_msg_t *m, const void *text)
{
    if (m->type == PROTO_T_NOTICE)
        return strstr(m->notice.text, text) != NULL;
    if (m->type == PROTO_T_ERROR)
        return strstr(m->error.text, text) != NULL;
    return 0;
}

#define ASSERT_HAS(hay, needle)                                                                    \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("expected '%s' in:\n%s", (needle), (hay));                                    \
    } while (0)

/* ---- commands ---- */

static void test_status_shows_players_zones_queues_links_uptime(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "stat_one"), 0);
    adm_t a;
    adm_login(&a);
    static char out[8192];
    assert_int_equal(adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "players online=1 ");
    ASSERT_HAS(out, "zone id=1 name=\"Meadow\" players=1 tick_p99_ms=");
    ASSERT_HAS(out, "zone id=2 name=\"Dark Forest\" players=0 ");
    ASSERT_HAS(out, "queue name=game depth=");
    ASSERT_HAS(out, "queue name=control depth=");
    ASSERT_HAS(out, "queue name=db depth=");
    ASSERT_HAS(out, "links chat=off master=off");
    ASSERT_HAS(out, "uptime_s=");
    ASSERT_HAS(out, "draining=no");
    adm_close(&a);
    gs_close(&p);
    assert_int_equal(wait_log("ran: status", T), 0);
}

static void test_who_lists_every_player_with_zone(void **state)
{
    (void)state;
    static gs_client_t p1, p2;
    static proto_msg_t m;
    assert_int_equal(gs_login(&p1, srv.port, "who_one"), 0);
    assert_int_equal(gs_login(&p2, srv.port, "who_two"), 0);
    m = (proto_msg_t){.type = PROTO_T_ZONE_CHANGE_REQUEST};
    m.zone_change_request.zone = 2;
    assert_int_equal(gs_send(&p2, &m), 0);
    assert_int_equal(gs_expect(&p2, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    adm_t a;
    adm_login(&a);
    static char out[8192];
    assert_int_equal(adm_cmd(&a, "who", out, sizeof out), 1);
    ASSERT_HAS(out, "player name=who_one zone=1\n");
    ASSERT_HAS(out, "player name=who_two zone=2\n");
    ASSERT_HAS(out, "players 2\n");
    adm_close(&a);
    gs_close(&p1);
    gs_close(&p2);
}

static void test_kick_tells_the_reason_closes_and_saves(void **state)
{
    (void)state;
    static gs_client_t p, q;
    static proto_msg_t m;
    assert_int_equal(gs_login(&p, srv.port, "kick_me"), 0);
    assert_int_equal(gs_login(&q, srv.port, "kick_not"), 0);
    assert_int_equal(gs_move(&p, 510, 520), 0);
    assert_int_equal(gs_barrier(&p, NULL, NULL, T), 0);
    adm_t a;
    adm_login(&a);
    char out[512];
    assert_int_equal(adm_cmd(&a, "kick kick_me spamming the market", out, sizeof out), 1);
    ASSERT_HAS(out, "kicked kick_me");
    assert_int_equal(gs_expect(&p, PROTO_T_ERROR, match_text, "spamming the market", &m, T), 0);
    assert_int_equal(m.error.code, PROTO_ERR_NOT_ALLOWED);
    assert_true(m.error.fatal);
    assert_int_equal(gs_expect_close(&p, T), 0);
    assert_int_equal(gs_barrier(&q, NULL, NULL, T), 0); /* the other one plays on */
    assert_int_equal(adm_cmd(&a, "kick kick_me", out, sizeof out), 0);
    ASSERT_HAS(out, "error no player 'kick_me' online");
    assert_int_equal(adm_cmd(&a, "kick", out, sizeof out), 0);
    ASSERT_HAS(out, "usage: kick NAME");
    /* saved as on any logout */
    double x = 0, y = 0;
    for (int64_t end = now_ms() + T; now_ms() < end;)
        if (gs_db_char_pos(srv.db, "kick_me", NULL, &x, &y) == 0 && x == 510)
            break;
    assert_true(x == 510 && y == 520);
    adm_close(&a);
    gs_close(&p);
    gs_close(&q);
    assert_int_equal(wait_log("ran: kick kick_me spamming the market", T), 0);
}

static void test_announce_reaches_every_player(void **state)
{
    (void)state;
    static gs_client_t p1, p2;
    assert_int_equal(gs_login(&p1, srv.port, "ann_one"), 0);
    assert_int_equal(gs_login(&p2, srv.port, "ann_two"), 0);
    adm_t a;
    adm_login(&a);
    char out[512];
    assert_int_equal(adm_cmd(&a, "announce maintenance at 10:00 UTC", out, sizeof out), 1);
    ASSERT_HAS(out, "announced to 2 players");
    assert_int_equal(
        gs_expect(&p1, PROTO_T_NOTICE, match_text, "maintenance at 10:00 UTC", NULL, T), 0);
    assert_int_equal(
        gs_expect(&p2, PROTO_T_NOTICE, match_text, "maintenance at 10:00 UTC", NULL, T), 0);
    assert_int_equal(adm_cmd(&a, "announce", out, sizeof out), 0);
    ASSERT_HAS(out, "usage: announce TEXT");
    adm_close(&a);
    gs_close(&p1);
    gs_close(&p2);
}

static void test_drain_refuses_logins_keeps_players_and_undrain_reopens(void **state)
{
    (void)state;
    static gs_client_t p, late, later;
    static proto_msg_t m;
    assert_int_equal(gs_login(&p, srv.port, "drain_in"), 0);
    adm_t a;
    adm_login(&a);
    char out[512];
    assert_int_equal(adm_cmd(&a, "drain", out, sizeof out), 1);
    ASSERT_HAS(out, "draining: new logins are refused");
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "draining", NULL, T), 0);
    /* a new login: refused with SHUTTING_DOWN and a clear text */
    assert_int_equal(gs_connect(&late, srv.port), 0);
    memset(&m, 0, sizeof m);
    m.type = PROTO_T_LOGIN;
    snprintf(m.login.name, sizeof m.login.name, "drain_late");
    m.login.proto_hash = PROTO_HASH;
    assert_int_equal(gs_send(&late, &m), 0);
    assert_int_equal(gs_expect(&late, PROTO_T_ERROR, NULL, NULL, &m, T), 0);
    assert_int_equal(m.error.code, PROTO_ERR_SHUTTING_DOWN);
    ASSERT_HAS(m.error.text, "draining");
    assert_int_equal(gs_expect_close(&late, T), 0);
    /* the player inside keeps playing */
    assert_int_equal(gs_move(&p, 505, 505), 0);
    assert_int_equal(gs_barrier(&p, NULL, NULL, T), 0);
    assert_int_equal(adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "draining=yes");
    assert_int_equal(adm_cmd(&a, "undrain", out, sizeof out), 1);
    ASSERT_HAS(out, "logins are accepted again");
    assert_int_equal(gs_login(&later, srv.port, "drain_later"), 0);
    adm_close(&a);
    gs_close(&p);
    gs_close(&late);
    gs_close(&later);
}

static void test_save_answers_after_the_database_has_every_position(void **state)
{
    (void)state;
    static gs_client_t p1, p2;
    assert_int_equal(gs_login(&p1, srv.port, "save_one"), 0);
    assert_int_equal(gs_login(&p2, srv.port, "save_two"), 0);
    /* moved, not saved yet: the autosave is 30 s away */
    assert_int_equal(gs_move(&p1, 123, 45), 0);
    assert_int_equal(gs_move(&p2, 678, 90), 0);
    assert_int_equal(gs_barrier(&p1, NULL, NULL, T), 0);
    assert_int_equal(gs_barrier(&p2, NULL, NULL, T), 0);
    double x = 0, y = 0;
    assert_int_equal(gs_db_char_pos(srv.db, "save_one", NULL, &x, &y), 0);
    assert_true(x != 123);
    adm_t a;
    adm_login(&a);
    char out[512];
    assert_int_equal(adm_cmd(&a, "save", out, sizeof out), 1);
    ASSERT_HAS(out, "saved 2 characters");
    /* acknowledged means on disk: read at once, no waiting */
    assert_int_equal(gs_db_char_pos(srv.db, "save_one", NULL, &x, &y), 0);
    assert_true(x == 123 && y == 45);
    assert_int_equal(gs_db_char_pos(srv.db, "save_two", NULL, &x, &y), 0);
    assert_true(x == 678 && y == 90);
    /* a command queued behind the save is answered after it, in order */
    assert_int_equal(adm_cmd(&a, "save\nwho", out, sizeof out), 1);
    ASSERT_HAS(out, "saved 2 characters");
    assert_int_equal(adm_answer(&a, out, sizeof out), 1);
    ASSERT_HAS(out, "players 2");
    adm_close(&a);
    gs_close(&p1);
    gs_close(&p2);
}

/* While the database refuses writes the saves are kept and retried (as
 * always); `save` must not say "saved" then. */
static void test_save_says_so_when_the_database_is_unavailable(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "save_down"), 0);
    assert_int_equal(gs_move(&p, 111, 222), 0);
    assert_int_equal(gs_barrier(&p, NULL, NULL, T), 0);
    write_file(fault_path, "readonly\n");
    adm_t a;
    adm_login(&a);
    char out[512];
    assert_int_equal(adm_cmd(&a, "save", out, sizeof out), 0);
    ASSERT_HAS(out, "error database unavailable: 1 characters' saves are kept and retried");
    assert_int_equal(adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "database up=no saves_pending=1");
    assert_int_equal(remove(fault_path), 0);
    /* the retry writes it; then `save` succeeds again */
    double x = 0, y = 0;
    for (int64_t end = now_ms() + T; now_ms() < end && x != 111;) {
        gs_db_char_pos(srv.db, "save_down", NULL, &x, &y);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    assert_true(x == 111 && y == 222);
    assert_int_equal(adm_cmd(&a, "save", out, sizeof out), 1);
    ASSERT_HAS(out, "saved 1 characters");
    adm_close(&a);
    gs_close(&p);
}

static void test_reload_zones_applies_names_spawns_portals(void **state)
{
    (void)state;
    static gs_client_t p;
    static proto_msg_t m;
    assert_int_equal(gs_login(&p, srv.port, "reload_one"), 0);
    write_file(zones_path, zones_v2);
    adm_t a;
    adm_login(&a);
    static char out[4096];
    assert_int_equal(adm_cmd(&a, "reload zones", out, sizeof out), 1);
    ASSERT_HAS(out, "zone 2: name \"Dark Forest\" -> \"Deep Forest\"");
    ASSERT_HAS(out, "zone 2: spawn (400, 400) -> (100, 200)");
    ASSERT_HAS(out, "zone 1: portals (0 -> 1)");
    ASSERT_HAS(out, "3 changes applied");
    assert_int_equal(adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "zone id=2 name=\"Deep Forest\"");
    /* the zone change uses the new spawn and name */
    m = (proto_msg_t){.type = PROTO_T_ZONE_CHANGE_REQUEST};
    m.zone_change_request.zone = 2;
    assert_int_equal(gs_send(&p, &m), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_string_equal(m.zone_changed.zone_name, "Deep Forest");
    assert_true(m.zone_changed.pos.x == 100 && m.zone_changed.pos.y == 200);
    /* and the new portal works: back to zone 1, then walk into it */
    m = (proto_msg_t){.type = PROTO_T_ZONE_CHANGE_REQUEST};
    m.zone_change_request.zone = 1;
    assert_int_equal(gs_send(&p, &m), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_int_equal(gs_move(&p, 990, 500), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_ZONE_CHANGED, NULL, NULL, &m, T), 0);
    assert_int_equal(m.zone_changed.zone, 2);
    assert_true(m.zone_changed.pos.x == 20 && m.zone_changed.pos.y == 30);
    adm_close(&a);
    gs_close(&p);
}

static void test_reload_zones_bad_file_keeps_the_old_zones_and_says_why(void **state)
{
    (void)state;
    adm_t a;
    adm_login(&a);
    static char out[4096];
    write_file(zones_path, "{\"zones\": [ {\"id\": 1, ");
    assert_int_equal(adm_cmd(&a, "reload zones", out, sizeof out), 0);
    ASSERT_HAS(out, "error ");
    ASSERT_HAS(out, zones_path);
    ASSERT_HAS(out, "the running zones are unchanged");
    write_file(zones_path, zones_resized);
    assert_int_equal(adm_cmd(&a, "reload zones", out, sizeof out), 0);
    ASSERT_HAS(out, "size change needs a restart");
    write_file(zones_path, "{\"zones\": [{\"id\": 1, \"name\": \"Meadow\", \"width\": 1000, "
                           "\"height\": 1000, \"spawn\": {\"x\": 500, \"y\": 500}}]}");
    assert_int_equal(adm_cmd(&a, "reload zones", out, sizeof out), 0);
    ASSERT_HAS(out, "adding or removing zones needs a restart");
    assert_int_equal(adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "zone id=2 name=\"Dark Forest\"");
    assert_int_equal(adm_cmd(&a, "reload", out, sizeof out), 0);
    ASSERT_HAS(out, "usage: reload zones");
    adm_close(&a);
    assert_int_equal(wait_log("reload zones refused", T), 0);
}

static void test_log_sets_the_level_at_runtime(void **state)
{
    (void)state;
    adm_t a;
    adm_login(&a);
    char out[512];
    assert_int_equal(adm_cmd(&a, "log", out, sizeof out), 1);
    ASSERT_HAS(out, "log level info");
    assert_int_equal(adm_cmd(&a, "log debug", out, sizeof out), 1);
    ASSERT_HAS(out, "log level info -> debug");
    /* a DEBUG line appears now: a player's connection is one */
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "log_one"), 0);
    assert_int_equal(wait_log("] open from 127.0.0.1", T), 0);
    assert_int_equal(adm_cmd(&a, "log loud", out, sizeof out), 0);
    ASSERT_HAS(out, "unknown level 'loud'");
    assert_int_equal(adm_cmd(&a, "log warn", out, sizeof out), 1);
    assert_int_equal(adm_cmd(&a, "log", out, sizeof out), 1);
    ASSERT_HAS(out, "log level warn");
    assert_int_equal(wait_log("log level debug -> warn", T), 0); /* said before the change */
    adm_close(&a);
    gs_close(&p);
}

static void test_shutdown_counts_down_saves_and_exits_0(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "down_one"), 0);
    assert_int_equal(gs_move(&p, 321, 654), 0);
    assert_int_equal(gs_barrier(&p, NULL, NULL, T), 0);
    adm_t a;
    adm_login(&a);
    char out[512];
    assert_int_equal(adm_cmd(&a, "shutdown 2", out, sizeof out), 1);
    ASSERT_HAS(out, "shutdown in 2 s");
    assert_int_equal(adm_cmd(&a, "shutdown 5", out, sizeof out), 0);
    ASSERT_HAS(out, "a shutdown is counting down");
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "shutting down in 2 s", NULL, T), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "shutting down in 1 s", NULL, T), 0);
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "your character is saved", NULL, T),
                     0);
    /* exit 0 on its own (no signal: SIGCONT does nothing) */
    assert_int_equal(gs_proc_stop(&srv, SIGCONT, 10000), 0);
    double x = 0, y = 0;
    assert_int_equal(gs_db_char_pos(srv.db, "down_one", NULL, &x, &y), 0);
    assert_true(x == 321 && y == 654);
    adm_close(&a);
    gs_close(&p);
    assert_int_equal(wait_log("console shutdown: stopping", T), 0);
}

static void test_shutdown_cancel_keeps_running(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "cancel_one"), 0);
    adm_t a;
    adm_login(&a);
    char out[512];
    assert_int_equal(adm_cmd(&a, "shutdown 60", out, sizeof out), 1);
    assert_int_equal(adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "shutdown in_s=");
    assert_int_equal(adm_cmd(&a, "shutdown cancel", out, sizeof out), 1);
    assert_int_equal(gs_expect(&p, PROTO_T_NOTICE, match_text, "canceled", NULL, T), 0);
    assert_int_equal(adm_cmd(&a, "shutdown cancel", out, sizeof out), 0);
    assert_int_equal(adm_cmd(&a, "shutdown -1", out, sizeof out), 0);
    ASSERT_HAS(out, "usage: shutdown");
    assert_int_equal(adm_cmd(&a, "status", out, sizeof out), 1);
    assert_null(strstr(out, "shutdown in_s="));
    adm_close(&a);
    gs_close(&p);
}

static void test_help_lists_every_command(void **state)
{
    (void)state;
    adm_t a;
    adm_login(&a);
    static char out[4096];
    assert_int_equal(adm_cmd(&a, "help", out, sizeof out), 1);
    const char *names[] = {"status", "who",    "kick", "announce", "drain", "undrain",
                           "save",   "reload", "log",  "shutdown", "help"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char l[32];
        snprintf(l, sizeof l, "\n%s ", names[i]);
        if (strncmp(out, l + 1, strlen(l + 1)) != 0)
            ASSERT_HAS(out, l);
    }
    assert_int_equal(adm_cmd(&a, "frobnicate", out, sizeof out), 0);
    ASSERT_HAS(out, "unknown command 'frobnicate'");
    adm_close(&a);
}

/* ---- auth and limits ---- */

static void test_bad_secret_is_refused_closed_and_counted(void **state)
{
    (void)state;
    adm_t a;
    char out[512], line[256];
    assert_int_equal(adm_open(&a), 0);
    assert_int_equal(adm_cmd(&a, "auth not-the-secret-at-all", out, sizeof out), 0);
    ASSERT_HAS(out, "error authentication failed");
    assert_int_equal(adm_line(&a, line, sizeof line, T), -1); /* closed */
    adm_close(&a);
    /* a command before auth: refused the same way, nothing run */
    assert_int_equal(adm_open(&a), 0);
    assert_int_equal(adm_cmd(&a, "shutdown 0", out, sizeof out), 0);
    ASSERT_HAS(out, "error authentication failed");
    adm_close(&a);
    /* the secret as a prefix of a longer line is not the secret */
    assert_int_equal(adm_open(&a), 0);
    assert_int_equal(adm_cmd(&a, "auth " SECRET "x", out, sizeof out), 0);
    adm_close(&a);
    /* a first line over admin.max_line: an auth failure too */
    static char big[3000];
    memset(big, 'a', sizeof big - 1);
    assert_int_equal(adm_open(&a), 0);
    assert_int_equal(adm_cmd(&a, big, out, sizeof out), 0);
    ASSERT_HAS(out, "error authentication failed");
    adm_close(&a);
    assert_true(gs_metric(srv.metrics_port, "gs_admin_auth_failures_total") == 4);
    adm_login(&a);
    assert_int_equal(adm_cmd(&a, "status", out, sizeof out), 1);
    ASSERT_HAS(out, "auth_failures=4");
    adm_close(&a);
    assert_int_equal(wait_log("console authentication failed (wrong secret", T), 0);
    assert_int_equal(wait_log("127.0.0.1:", T), 0);
    /* the secret is never logged */
    assert_int_equal(wait_log(SECRET, 200), -1);
    assert_int_equal(wait_log("not-the-secret-at-all", 200), -1);
}

static void test_limits_line_length_connections_auth_deadline(void **state)
{
    (void)state;
    char out[512], line[256];
    /* no auth line within admin.auth_timeout_ms (1500 here): closed */
    adm_t a;
    assert_int_equal(adm_open(&a), 0);
    int64_t t0 = now_ms();
    assert_int_equal(adm_line(&a, line, sizeof line, T), -1);
    assert_true(now_ms() - t0 >= 1400);
    adm_close(&a);
    /* a line over admin.max_line (1024): error and closed */
    adm_login(&a);
    static char big[3000];
    memset(big, 'x', sizeof big - 1);
    assert_int_equal(adm_cmd(&a, big, out, sizeof out), 0);
    ASSERT_HAS(out, "line too long");
    assert_int_equal(adm_line(&a, line, sizeof line, T), -1);
    adm_close(&a);
    /* admin.max_connections (4): the fifth is refused (once the closed
     * connections' slots are free: their close completes after our FIN) */
    adm_t c[5];
    adm_login(&c[0]);
    for (int64_t end = now_ms() + T;;) {
        assert_int_equal(adm_cmd(&c[0], "status", out, sizeof out), 1);
        if (strstr(out, "console connections=1 "))
            break;
        assert_true(now_ms() < end);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 1; i < 4; i++)
        adm_login(&c[i]);
    assert_int_equal(adm_open(&c[4]), 0);
    assert_int_equal(adm_line(&c[4], line, sizeof line, T), 1);
    ASSERT_HAS(line, "too many console connections");
    assert_int_equal(adm_line(&c[4], line, sizeof line, T), -1);
    for (int i = 0; i < 5; i++)
        adm_close(&c[i]);
    assert_true(gs_metric(srv.metrics_port, "gs_admin_auth_failures_total") == 1);
}

/* ---- start-up ---- */

static void test_non_loopback_host_is_refused_at_start(void **state)
{
    (void)state;
    char err[4096], kv[300];
    snprintf(kv, sizeof kv, "admin.secret_file=%s", secret_path);
    const char *args[] = {"--db", srv.db, "--set", kv, "--set", "admin.host=0.0.0.0", NULL};
    assert_int_equal(gs_run_capture(args, err, sizeof err, T), 2);
    ASSERT_HAS(err, "'admin.host': '0.0.0.0' is not a loopback address");
    const char *args6[] = {"--db", srv.db, "--set", kv, "--set", "admin.host=127.0.0.1.evil", NULL};
    assert_int_equal(gs_run_capture(args6, err, sizeof err, T), 2);
    ASSERT_HAS(err, "not a loopback address");
}

static void test_short_secret_file_is_refused_at_start(void **state)
{
    (void)state;
    char err[4096], kv[300], path[256];
    snprintf(path, sizeof path, "%s/short.secret", srv.dir);
    write_file(path, "short\n");
    snprintf(kv, sizeof kv, "admin.secret_file=%s", path);
    const char *args[] = {"--db", srv.db, "--set", kv, "--set", "admin.port=0", NULL};
    assert_int_equal(gs_run_capture(args, err, sizeof err, T), 1);
    ASSERT_HAS(err, "the first line must be the secret, 16 to 255 bytes");
    assert_null(strstr(err, "short\n"));
}

static void test_console_port_in_use_fails_start(void **state)
{
    (void)state;
    char err[4096], kv[300], port[64], db[256];
    snprintf(kv, sizeof kv, "admin.secret_file=%s", secret_path);
    snprintf(port, sizeof port, "admin.port=%u", srv.admin_port); /* the running server's */
    snprintf(db, sizeof db, "%s/other.db", srv.dir);
    const char *args[] = {"--db", db, "--set", kv, "--set", port, NULL};
    assert_int_equal(gs_run_capture(args, err, sizeof err, T), 1);
    ASSERT_HAS(err, "console listen 127.0.0.1:");
    ASSERT_HAS(err, "start-up failed");
}

static void test_console_is_off_without_a_secret_file(void **state)
{
    (void)state;
    static gs_proc_t other;
    gs_proc_init(&other);
    assert_int_equal(gs_proc_start(&other, NULL, T), 0);
    assert_int_equal(other.admin_port, 0);
    assert_int_equal(gs_proc_stop(&other, SIGTERM, T), 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "grep -q 'console disabled (admin.secret_file is not set)' %s/stderr.log", other.dir);
    assert_int_equal(system(cmd), 0);
    gs_proc_cleanup(&other);
}

/* ---- testclient --admin ---- */

static int run_tc(const char *const *argv, const char *input, char *out, size_t cap)
{
    int in[2], o[2];
    if (pipe(in) != 0 || pipe(o) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        dup2(o[1], 2);
        close(in[1]);
        close(o[0]);
        execv(TESTCLIENT_BIN, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    if (input && write(in[1], input, strlen(input)) < 0)
        fprintf(stderr, "stdin write failed\n");
    close(in[1]);
    size_t got = 0;
    int64_t end = now_ms() + T;
    while (now_ms() < end && got < cap - 1) {
        struct pollfd p = {o[0], POLLIN, 0};
        if (poll(&p, 1, (int)(end - now_ms())) <= 0)
            continue;
        ssize_t r = read(o[0], out + got, cap - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    out[got] = 0;
    close(o[0]);
    int st;
    for (int64_t e2 = now_ms() + T;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (now_ms() >= e2) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void test_testclient_admin_runs_commands_and_fails_on_error(void **state)
{
    (void)state;
    static gs_client_t p;
    assert_int_equal(gs_login(&p, srv.port, "tc_admin"), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", srv.admin_port);
    static char out[16384];
    const char *argv[] = {TESTCLIENT_BIN, "--admin", addr,     "--admin-secret-file",
                          secret_path,    "who",     "status", NULL};
    assert_int_equal(run_tc(argv, NULL, out, sizeof out), 0);
    ASSERT_HAS(out, "player name=tc_admin zone=1");
    ASSERT_HAS(out, "players online=1");
    /* commands from stdin; an error makes the exit status non-zero */
    const char *argv2[] = {TESTCLIENT_BIN,        "--admin",   addr,
                           "--admin-secret-file", secret_path, NULL};
    assert_int_equal(run_tc(argv2, "who\nkick nobody_here\nstatus\n", out, sizeof out), 1);
    ASSERT_HAS(out, "error no player 'nobody_here' online");
    ASSERT_HAS(out, "players online=1"); /* the commands after the error still ran */
    /* a wrong secret: refused, non-zero */
    char bad[256];
    snprintf(bad, sizeof bad, "%s/bad.secret", srv.dir);
    write_file(bad, "wrong-secret-wrong-secret\n");
    const char *argv3[] = {TESTCLIENT_BIN, "--admin", addr, "--admin-secret-file", bad,
                           "who",          NULL};
    assert_int_not_equal(run_tc(argv3, NULL, out, sizeof out), 0);
    ASSERT_HAS(out, "authentication failed");
    gs_close(&p);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_status_shows_players_zones_queues_links_uptime),
        TEST(test_who_lists_every_player_with_zone),
        TEST(test_kick_tells_the_reason_closes_and_saves),
        TEST(test_announce_reaches_every_player),
        TEST(test_drain_refuses_logins_keeps_players_and_undrain_reopens),
        TEST(test_save_answers_after_the_database_has_every_position),
        TEST(test_save_says_so_when_the_database_is_unavailable),
        TEST(test_reload_zones_applies_names_spawns_portals),
        TEST(test_reload_zones_bad_file_keeps_the_old_zones_and_says_why),
        TEST(test_log_sets_the_level_at_runtime),
        TEST(test_shutdown_counts_down_saves_and_exits_0),
        TEST(test_shutdown_cancel_keeps_running),
        TEST(test_help_lists_every_command),
        TEST(test_bad_secret_is_refused_closed_and_counted),
        TEST(test_limits_line_length_connections_auth_deadline),
        TEST(test_non_loopback_host_is_refused_at_start),
        TEST(test_short_secret_file_is_refused_at_start),
        TEST(test_console_port_in_use_fails_start),
        TEST(test_console_is_off_without_a_secret_file),
        TEST(test_testclient_admin_runs_commands_and_fails_on_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
