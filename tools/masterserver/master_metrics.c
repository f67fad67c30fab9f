/* The login server's metrics page (issue 16): `--metrics-port` /
 * metrics.port, Prometheus text on GET /metrics and "ok" on GET /healthz,
 * served by netcore's nc_http (the gameserver's page uses the same piece)
 * on a queue of its own (cap 1, low priority), so a scrape never takes a
 * login or registry worker.  Every value is read lock-free or under a short
 * lock (counters are atomics; the store's health never reconnects here). */
#include "master_auth.h"
#include "nc_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "metrics"

struct master_metrics_s {
    nc_http_t *http;
    nc_queue_t *q;
    master_login_t *login;
    macct_t *acct;
    uint64_t started_ms;
};

typedef struct buf_s {
    char *p;
    size_t len, cap;
    int failed;
} buf_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(buf_t *b, const char *fmt, ...)
{
    while (!b->failed) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

static void head(buf_t *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(buf_t *b, const char *name, const char *help, uint64_t v)
{
    head(b, name, "counter", help);
    put(b, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(buf_t *b, const char *name, const char *help, uint64_t v)
{
    head(b, name, "gauge", help);
    put(b, "%s %llu\n", name, (unsigned long long)v);
}

/* The results a login can have, and a registration (the others never
 * happen to it: their series would be noise). */
static const int login_res[] = {
    MASTER_RES_OK,         MASTER_RES_AUTH_FAILED, MASTER_RES_LOCKED_OUT,    MASTER_RES_SERVER_FULL,
    MASTER_RES_STORE_DOWN, MASTER_RES_INTERNAL,    MASTER_RES_SHUTTING_DOWN, MASTER_RES_OTHER};
static const int reg_res[] = {MASTER_RES_OK,           MASTER_RES_NAME_TAKEN,
                              MASTER_RES_CLOSED,       MASTER_RES_BAD_NAME,
                              MASTER_RES_BAD_PASSWORD, MASTER_RES_RATE_LIMITED,
                              MASTER_RES_SERVER_FULL,  MASTER_RES_STORE_DOWN,
                              MASTER_RES_INTERNAL,     MASTER_RES_SHUTTING_DOWN,
                              MASTER_RES_OTHER};

static void by_result(buf_t *b, const char *name, const char *help, const uint64_t *v,
                      const int *res, size_t n)
{
    head(b, name, "counter", help);
    for (size_t i = 0; i < n; i++)
        put(b, "%s{result=\"%s\"} %llu\n", name, master_result_label(res[i]),
            (unsigned long long)v[res[i]]);
}

static void render_metrics(master_metrics_t *m, buf_t *b)
{
    master_login_stats_t ls;
    master_login_stats(m->login, &ls);
    macct_stats_t ss;
    macct_stats(m->acct, &ss);
    by_result(b, "ls_logins_total", "Login attempts by result.", ls.logins, login_res,
              sizeof login_res / sizeof login_res[0]);
    by_result(b, "ls_registrations_total", "Registration attempts by result.", ls.registrations,
              reg_res, sizeof reg_res / sizeof reg_res[0]);
    counter(b, "ls_tickets_issued_total", "Game server tickets signed.", ls.tickets);
    counter(b, "ls_lockouts_total",
            "Locks started or extended by a failed login (account name or address).", ls.lockouts);
    gauge(b, "ls_hash_queue_depth",
          "Password hashing jobs waiting or running (accounts.hash_queue bounds the waiting).",
          ls.hash_pending + ls.hash_running);
    counter(b, "ls_hash_rejected_total",
            "Logins and registrations answered server full: the hashing queue was full.",
            ls.hash_rejected);
    gauge(b, "ls_login_sessions", "Login connections open now.", ls.sessions);
    head(b, "ls_store_up", "gauge", "1 if the account store was reachable at its last use.");
    put(b, "ls_store_up{driver=\"%s\"} %d\n", macct_driver(m->acct), ss.up ? 1 : 0);
    head(b, "ls_store_outage_seconds_total", "counter",
         "Time the account store was unreachable, the current outage included.");
    put(b, "ls_store_outage_seconds_total %.3f\n", (double)ss.outage_ms / 1000.0);
    counter(b, "ls_store_connection_losses_total", "Account store connections found broken.",
            ss.losses);
    counter(b, "ls_store_reconnects_total", "Account store connections restored after a loss.",
            ss.reconnects);
    proto_shard_info_t *v = calloc(PROTO_REALM_LIST_SHARDS_MAX, sizeof *v);
    int n = v ? master_registry_list(v, PROTO_REALM_LIST_SHARDS_MAX) : 0, up = 0;
    for (int i = 0; i < n; i++)
        up += v[i].healthy != 0;
    free(v);
    head(b, "ls_registry_shards", "gauge", "Game servers registered, by health.");
    put(b, "ls_registry_shards{state=\"up\"} %d\nls_registry_shards{state=\"down\"} %d\n", up,
        n - up);
    head(b, "ls_uptime_seconds", "gauge", "Seconds since the process started.");
    put(b, "ls_uptime_seconds %.3f\n", (double)(nc_now_ms() - m->started_ms) / 1000.0);
}

static int render(void *ud, const char *path, char **body, size_t *len, const char **ctype)
{
    master_metrics_t *m = ud;
    buf_t b = {0};
    int status = 200;
    if (!strcmp(path, "/metrics")) {
        *ctype = "text/plain; version=0.0.4";
        render_metrics(m, &b);
    } else if (!strcmp(path, "/healthz")) {
        put(&b, "ok\n");
    } else {
        status = 404;
        put(&b, "not found: /metrics or /healthz\n");
    }
    if (b.failed) {
        free(b.p);
        *body = NULL;
        *len = 0;
        return 500;
    }
    *body = b.p;
    *len = b.len;
    return status;
}

int master_metrics_start(nc_engine_t *e, nc_pool_t *pool, const char *host, uint16_t port,
                         master_login_t *login, macct_t *accounts, uint64_t started_ms,
                         master_metrics_t **out, uint16_t *bound, char *err, size_t errlen)
{
    master_metrics_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "metrics page: out of memory");
        return NC_ENOMEM;
    }
    m->login = login;
    m->acct = accounts;
    m->started_ms = started_ms;
    nc_queue_opts_t qo = {.name = "metrics", .max_threads = 1, .priority = NC_PRIO_LOW};
    int rc = nc_queue_create(pool, &qo, &m->q);
    nc_http_opts_t ho = {.host = host, .port = port};
    if (rc == 0)
        rc = nc_http_start(e, m->q, &ho, render, m, &m->http, bound);
    if (rc != 0) {
        snprintf(err, errlen, "metrics page: cannot listen on %s:%u: %s", host, (unsigned)port,
                 nc_strerror(rc));
        free(m);
        return rc;
    }
    nc_log(NC_LOG_INFO, TAG, "metrics page on http://%s:%u/metrics", host, (unsigned)*bound);
    *out = m;
    return 0;
}

void master_metrics_stop(master_metrics_t *m)
{
    if (!m)
        return;
    nc_http_stop(m->http); /* no render runs after this */
    free(m);
}
