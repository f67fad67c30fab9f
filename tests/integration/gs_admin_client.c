/* See gs_admin_client.h. */
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
#include <time.h>
#include <unistd.h>

#include "gs_admin_client.h"

char gs_adm_zones[256], gs_adm_secret[256], gs_adm_fault[256];

void gs_adm_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

int gs_adm_start(gs_proc_t *p, const char *zones_json)
{
    gs_proc_init(p);
    snprintf(gs_adm_zones, sizeof gs_adm_zones, "%s/zones.json", p->dir);
    snprintf(gs_adm_secret, sizeof gs_adm_secret, "%s/admin.secret", p->dir);
    snprintf(gs_adm_fault, sizeof gs_adm_fault, "%s/fault", p->dir); /* absent: no fault */
    gs_adm_write_file(gs_adm_zones, zones_json);
    gs_adm_write_file(gs_adm_secret, GS_ADM_SECRET "\n");
    static char secret_kv[300], fault_kv[300];
    snprintf(secret_kv, sizeof secret_kv, "admin.secret_file=%s", gs_adm_secret);
    snprintf(fault_kv, sizeof fault_kv, "database.fault_file=%s", gs_adm_fault);
    const char *args[] = {"--zones",     gs_adm_zones,
                          "--set",       secret_kv,
                          "--set",       "admin.port=0",
                          "--set",       "zones.max_speed=100000",
                          "--set",       "admin.auth_timeout_ms=1500",
                          "--set",       fault_kv,
                          "--log-level", getenv("GS_DUMP") ? "debug" : "info",
                          NULL};
    return gs_proc_start(p, args, GS_ADM_T);
}

int gs_adm_open(gs_adm_t *a, uint16_t port)
{
    memset(a, 0, sizeof *a);
    a->port = port;
    a->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(a->fd, (struct sockaddr *)&sa, sizeof sa);
}

void gs_adm_close(gs_adm_t *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

/* One line (without '\n') into line: 1, 0 timeout, -1 closed. */
int gs_adm_line(gs_adm_t *a, char *line, size_t cap, int timeout_ms)
{
    int64_t end = tl_now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(a->buf, '\n', a->len);
        if (nl) {
            size_t n = (size_t)(nl - a->buf);
            snprintf(line, cap, "%.*s", (int)n, a->buf);
            a->len -= n + 1;
            memmove(a->buf, nl + 1, a->len);
            return 1;
        }
        int left = (int)(end - tl_now_ms());
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
int gs_adm_answer(gs_adm_t *a, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = 0;
    char line[4096];
    for (;;) {
        if (gs_adm_line(a, line, sizeof line, GS_ADM_T) != 1)
            return -1;
        used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s\n", line);
        if (strcmp(line, "ok") == 0)
            return 1;
        if (strncmp(line, "error ", 6) == 0)
            return 0;
    }
}

int gs_adm_cmd(gs_adm_t *a, const char *cmd, char *out, size_t cap)
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
    return gs_adm_answer(a, out, cap);
}

int gs_adm_expect_close(gs_adm_t *a, int timeout_ms)
{
    char line[4096];
    int64_t end = tl_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - tl_now_ms());
        int r = left > 0 ? gs_adm_line(a, line, sizeof line, left) : 0;
        if (r == 0)
            return -1;
        if (r < 0) {
            gs_adm_close(a);
            return 0;
        }
    }
}

void gs_adm_login(gs_adm_t *a, uint16_t port)
{
    char out[256];
    assert_int_equal(gs_adm_open(a, port), 0);
    assert_int_equal(gs_adm_cmd(a, "auth " GS_ADM_SECRET, out, sizeof out), 1);
}
