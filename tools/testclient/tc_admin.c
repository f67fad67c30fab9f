/* testclient --admin HOST:PORT --admin-secret-file FILE [command...]: a
 * non-interactive client of the gameserver's operator's console.  Sends
 * `auth`, then each command given on the command line (or, with none, each
 * line of stdin), printing every answer line; exit 0 when every answer was
 * `ok`, 1 when one was `error ...` (the later commands still run), 2 on bad
 * usage, 3 when the console could not be reached or refused the secret.
 * The connection is a raw netcore client role; lines are cut here. */
#include "tc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANSWER_MS 30000 /* one command's answer (a save waits for the database) */
#define SECRET_MAX 255
#define LINE_MAX_ 4096

typedef struct adm_s {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    nc_sid_t sid;
    int closed;
    char reason[64];
    char *in;
    size_t len, cap;
} adm_t;

static adm_t adm = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void a_open(nc_session_t *s, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&adm.mu);
    adm.sid = nc_session_id(s);
    pthread_cond_broadcast(&adm.cv);
    pthread_mutex_unlock(&adm.mu);
}

static void a_packet(nc_session_t *s, uint16_t type, const uint8_t *data, size_t len, void *ud)
{
    (void)type;
    (void)ud;
    pthread_mutex_lock(&adm.mu);
    if (adm.len + len > adm.cap) {
        size_t ncap = (adm.len + len) * 2;
        char *n = ncap <= (64u << 20) ? realloc(adm.in, ncap) : NULL;
        if (!n) {
            pthread_mutex_unlock(&adm.mu);
            nc_session_close(s, NC_ENOMEM, "answer too large");
            return;
        }
        adm.in = n;
        adm.cap = ncap;
    }
    memcpy(adm.in + adm.len, data, len);
    adm.len += len;
    pthread_cond_broadcast(&adm.cv);
    pthread_mutex_unlock(&adm.mu);
}

static void a_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)s;
    (void)ud;
    pthread_mutex_lock(&adm.mu);
    adm.closed = 1;
    snprintf(adm.reason, sizeof adm.reason, "%s", why->text);
    pthread_cond_broadcast(&adm.cv);
    pthread_mutex_unlock(&adm.mu);
}

/* The next line (no '\n') into buf: 1, 0 on timeout, -1 when closed. */
static int next_line(char *buf, size_t cap, int timeout_ms)
{
    struct timespec ts;
    tl_deadline(&ts, timeout_ms);
    pthread_mutex_lock(&adm.mu);
    for (;;) {
        char *nl = memchr(adm.in ? adm.in : "", '\n', adm.len);
        if (nl) {
            size_t n = (size_t)(nl - adm.in);
            snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), adm.in);
            adm.len -= n + 1;
            memmove(adm.in, nl + 1, adm.len);
            pthread_mutex_unlock(&adm.mu);
            return 1;
        }
        if (adm.closed || pthread_cond_timedwait(&adm.cv, &adm.mu, &ts) != 0) {
            int closed = adm.closed;
            pthread_mutex_unlock(&adm.mu);
            return closed ? -1 : 0;
        }
    }
}

static int send_line(const char *text, nc_engine_t *e)
{
    size_t n = strlen(text);
    char *b = malloc(n + 1);
    if (!b)
        return -1;
    memcpy(b, text, n);
    b[n] = '\n';
    pthread_mutex_lock(&adm.mu);
    nc_sid_t sid = adm.sid;
    pthread_mutex_unlock(&adm.mu);
    nc_session_t *s = nc_session_get(e, sid);
    int rc = s ? nc_send_raw(s, b, n + 1) : NC_ECLOSED;
    if (s)
        nc_session_put(s);
    free(b);
    return rc;
}

/* Prints the answer to one line sent: 1 ok, 0 error, -1 closed/timeout. */
static int answer(int quiet_ok)
{
    char line[LINE_MAX_];
    for (;;) {
        int r = next_line(line, sizeof line, ANSWER_MS);
        if (r != 1) {
            pthread_mutex_lock(&adm.mu);
            fprintf(stderr, "testclient: console %s\n",
                    r == 0 ? "did not answer within 30 s" : "closed the connection");
            if (r < 0 && adm.reason[0])
                fprintf(stderr, "testclient: (%s)\n", adm.reason);
            pthread_mutex_unlock(&adm.mu);
            return -1;
        }
        int ok = strcmp(line, "ok") == 0, err = strncmp(line, "error ", 6) == 0;
        if (!ok || !quiet_ok)
            printf("%s\n", line);
        if (ok || err) {
            fflush(stdout);
            return ok;
        }
    }
}

static int read_secret(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "testclient: cannot open --admin-secret-file %s\n", path);
        return -1;
    }
    size_t n = fgets(out, (int)cap, f) ? strlen(out) : 0;
    fclose(f);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = 0;
    if (n == 0) {
        fprintf(stderr, "testclient: %s: the first line must be the console secret\n", path);
        return -1;
    }
    return 0;
}

/* "host:port" or "[v6]:port". */
static int parse_addr(const char *a, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a)
        return -1;
    size_t hl = (size_t)(colon - a);
    if (a[0] == '[' && hl >= 2 && a[hl - 1] == ']') {
        a++;
        hl -= 2;
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (hl == 0 || hl >= cap || *end || p == 0 || p > 65535)
        return -1;
    memcpy(host, a, hl);
    host[hl] = 0;
    *port = (uint16_t)p;
    return 0;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Connects and authenticates: 0, or 3 (printed). */
static int connect_auth(tc_net_t *net, nc_client_t **cl, const char *host, uint16_t port,
                        const char *secret)
{
    nc_role_opts_t ro = {.name = "admin",
                         .queue = net->queue,
                         .handlers = {a_open, a_packet, a_close},
                         .raw = 1,
                         .no_reconnect = 1,
                         .max_packet = 4096};
    if (nc_client_create(net->engine, host, port, &ro, cl) != 0) {
        fprintf(stderr, "testclient: cannot connect to the console at %s:%u\n", host, port);
        return 3;
    }
    struct timespec ts;
    tl_deadline(&ts, 5000);
    pthread_mutex_lock(&adm.mu);
    while (!adm.sid && !adm.closed && pthread_cond_timedwait(&adm.cv, &adm.mu, &ts) == 0)
        ;
    int up = adm.sid != 0 && !adm.closed;
    pthread_mutex_unlock(&adm.mu);
    if (!up) {
        fprintf(stderr, "testclient: cannot connect to the console at %s:%u (%s)\n", host, port,
                adm.reason[0] ? adm.reason : "timed out");
        return 3;
    }
    char line[SECRET_MAX + 8];
    snprintf(line, sizeof line, "auth %s", secret);
    int rc = send_line(line, net->engine);
    memset(line, 0, sizeof line);
    if (rc != 0 || answer(1) != 1) {
        fprintf(stderr, "testclient: the console at %s:%u refused the secret\n", host, port);
        return 3;
    }
    return 0;
}

/* Runs the commands of argv[first..] or, with none, of stdin. */
static int run_commands(tc_net_t *net, char **argv, int first, int argc)
{
    int rc = 0;
    char line[LINE_MAX_];
    for (int i = first;; i++) {
        if (first < argc) {
            if (i >= argc)
                break;
            snprintf(line, sizeof line, "%s", argv[i]);
        } else {
            int r = tc_stdin_readline(line, sizeof line, 1000);
            if (r < 0)
                break;
            if (r == 0)
                continue;
            if (!line[0] || line[0] == '#')
                continue;
        }
        if (has_control(line)) {
            fprintf(stderr, "testclient: control characters in a command: not sent\n");
            rc = 1;
            continue;
        }
        printf("> %s\n", line);
        if (send_line(line, net->engine) != 0)
            return 3;
        int ok = answer(0);
        if (ok < 0)
            return strcmp(line, "quit") == 0 || strncmp(line, "shutdown", 8) == 0 ? rc : 3;
        if (!ok)
            rc = 1;
    }
    return rc;
}

int tc_admin_main(int argc, char **argv)
{
    const char *addr = NULL, *secret_file = NULL;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        if (!strcmp(argv[i], "--admin"))
            addr = argv[i + 1];
        else if (!strcmp(argv[i], "--admin-secret-file"))
            secret_file = argv[i + 1];
        else
            break;
    }
    char host[256];
    uint16_t port = 0;
    if (!addr || !secret_file || parse_addr(addr, host, sizeof host, &port) != 0 ||
        (i < argc && argv[i][0] == '-')) {
        fprintf(stderr, "usage: testclient --admin HOST:PORT --admin-secret-file FILE "
                        "[command...]\n(with no command, commands are read from stdin)\n");
        return 2;
    }
    char secret[SECRET_MAX + 2];
    if (read_secret(secret_file, secret, sizeof secret) != 0)
        return 3;
    nc_log_set_level(NC_LOG_ERROR);
    tl_signals_block();
    tc_net_t net;
    if (tc_net_start(&net, 1) != 0) {
        fprintf(stderr, "testclient: cannot start the network engine\n");
        return 3;
    }
    nc_client_t *cl = NULL;
    int rc = connect_auth(&net, &cl, host, port, secret);
    memset(secret, 0, sizeof secret);
    if (rc == 0)
        rc = run_commands(&net, argv, i, argc);
    fflush(stdout);
    if (cl)
        nc_client_destroy(cl);
    tc_net_stop(&net);
    free(adm.in);
    return rc;
}
