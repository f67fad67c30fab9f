/* login_burst: logins/s of the login server and its realm list's latency
 * during a burst of logins (BENCHMARKS.md, "Logins").
 *
 * Starts its own masterserver (temp dir, open registration, the hashing
 * cost of --hash-ops/--hash-mem-kib or the server's default, no per-session
 * packet rate limit so the prober measures queues, not the limiter),
 * registers --accounts accounts, then
 * per run: a realm-list prober alone (idle p50/p99), then --logins logins
 * from --clients concurrent connections (each: connect, handshake, login,
 * close) while the prober keeps asking for the realm list on its own
 * connection.  Prints one line per run and the median of the runs with
 * their spread.  POSIX (blocking sockets: tests/integration/ls_client.c). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_client.h"
#include "tl_proc.h"

#define PW "bench password"
#define TIMEOUT_MS 120000

typedef struct opts_s {
    const char *master;
    int accounts, logins, clients, runs, idle_samples;
    int hash_ops, hash_mem_kib; /* 0: the server's defaults */
    int hash_threads;           /* 0: the server's default (1) */
    const char *accounts_url;   /* --accounts-url: PostgreSQL store (NULL: SQLite) */
} opts_t;

typedef struct lat_s {
    uint64_t *v; /* microseconds */
    size_t n, cap;
} lat_t;

typedef struct run_s {
    const opts_t *o;
    uint16_t port;
    atomic_int next, ok, refused, errors;
    atomic_int done;
    uint64_t end_us;
    lat_t realm;
} run_t;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void lat_add(lat_t *l, uint64_t us)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        uint64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = us;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(lat_t *l, double p)
{
    if (!l->n)
        return 0;
    qsort(l->v, l->n, sizeof *l->v, cmp_u64);
    size_t i = (size_t)(p * (double)(l->n - 1) + 0.5);
    return (double)l->v[i] / 1000.0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *login_thread(void *arg)
{
    run_t *r = arg;
    for (;;) {
        int i = atomic_fetch_add(&r->next, 1);
        if (i >= r->o->logins)
            break;
        char name[32];
        snprintf(name, sizeof name, "bench-%04d", i % r->o->accounts);
        ls_client_t c;
        int code = ls_connect(&c, r->port, TIMEOUT_MS) == 0
                       ? ls_login(&c, name, PW, NULL, TIMEOUT_MS)
                       : -1;
        if (code >= 0 || c.fd >= 0)
            ls_close(&c);
        atomic_fetch_add(code == 0 ? &r->ok : code > 0 ? &r->refused : &r->errors, 1);
    }
    return NULL;
}

/* Realm list requests back to back (2 ms apart) until done, or n of them. */
static void probe(run_t *r, ls_client_t *c, lat_t *l, int n)
{
    for (int i = 0; n ? i < n : !atomic_load(&r->done); i++) {
        uint64_t t = now_us();
        if (ls_realm_list(c, NULL, TIMEOUT_MS) < 0) {
            atomic_fetch_add(&r->errors, 1);
            return;
        }
        lat_add(l, now_us() - t);
        sleep_ms(2);
    }
}

typedef struct result_s {
    double logins_s, idle_p50, idle_p99, burst_p50, burst_p99;
    int ok, refused, errors;
} result_t;

/* Starts the clients, joins them, marks the burst done (for the prober). */
static void *burst_thread(void *arg)
{
    run_t *r = arg;
    pthread_t *th = calloc((size_t)r->o->clients, sizeof *th);
    int n = 0;
    for (; th && n < r->o->clients; n++)
        if (pthread_create(&th[n], NULL, login_thread, r) != 0)
            break;
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    free(th);
    r->end_us = now_us();
    atomic_store(&r->done, 1);
    return NULL;
}

static int one_run(const opts_t *o, uint16_t port, result_t *res)
{
    run_t *r = calloc(1, sizeof *r);
    lat_t idle = {0};
    ls_client_t prober;
    if (!r || ls_connect(&prober, port, TIMEOUT_MS) != 0) {
        free(r);
        return -1;
    }
    r->o = o;
    r->port = port;
    probe(r, &prober, &idle, o->idle_samples);
    uint64_t t0 = now_us();
    pthread_t bt;
    if (pthread_create(&bt, NULL, burst_thread, r) != 0) {
        ls_close(&prober);
        free(r);
        return -1;
    }
    probe(r, &prober, &r->realm, 0);
    pthread_join(bt, NULL);
    ls_close(&prober);
    res->logins_s = (double)atomic_load(&r->ok) / ((double)(r->end_us - t0) / 1e6);
    res->idle_p50 = pct_ms(&idle, 0.50);
    res->idle_p99 = pct_ms(&idle, 0.99);
    res->burst_p50 = pct_ms(&r->realm, 0.50);
    res->burst_p99 = pct_ms(&r->realm, 0.99);
    res->ok = atomic_load(&r->ok);
    res->refused = atomic_load(&r->refused);
    res->errors = atomic_load(&r->errors);
    free(idle.v);
    free(r->realm.v);
    free(r);
    return 0;
}

/* Registers bench-0000.. through the protocol (open registration). */
static int provision(const opts_t *o, uint16_t port)
{
    ls_client_t c;
    if (ls_connect(&c, port, TIMEOUT_MS) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < o->accounts && rc == 0; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench-%04d", i);
        int code = ls_register(&c, name, PW, NULL, TIMEOUT_MS);
        rc = code == 0 || code == PROTO_ERR_NAME_TAKEN ? 0 : -1;
    }
    ls_close(&c);
    return rc;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "median (min-max)" of field off over the runs. */
static void summary(const char *what, const result_t *v, int n, size_t off, const char *unit)
{
    double *x = calloc((size_t)n, sizeof *x);
    if (!x)
        return;
    for (int i = 0; i < n; i++)
        x[i] = *(const double *)((const char *)&v[i] + off);
    qsort(x, (size_t)n, sizeof *x, cmp_d);
    printf("%-28s %10.2f %s   (min %.2f, max %.2f; %d runs)\n", what, x[n / 2], unit, x[0],
           x[n - 1], n);
    free(x);
}

static int parse(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--master"))
            o->master = v;
        else if (!strcmp(k, "--hash-ops"))
            o->hash_ops = atoi(v);
        else if (!strcmp(k, "--hash-mem-kib"))
            o->hash_mem_kib = atoi(v);
        else if (!strcmp(k, "--hash-threads"))
            o->hash_threads = atoi(v);
        else if (!strcmp(k, "--accounts"))
            o->accounts = atoi(v);
        else if (!strcmp(k, "--logins"))
            o->logins = atoi(v);
        else if (!strcmp(k, "--clients"))
            o->clients = atoi(v);
        else if (!strcmp(k, "--runs"))
            o->runs = atoi(v);
        else if (!strcmp(k, "--idle-samples"))
            o->idle_samples = atoi(v);
        else if (!strcmp(k, "--accounts-url") && strlen(v) < 1024 && !strpbrk(v, "\"\\"))
            o->accounts_url = v; /* issue 16: the PostgreSQL account store */
        else
            return -1;
    }
    return o->master && o->accounts > 0 && o->logins > 0 && o->clients > 0 && o->runs > 0 &&
                   o->runs <= 100 && o->idle_samples > 0
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    opts_t o = {.accounts = 100, .logins = 1000, .clients = 32, .runs = 5, .idle_samples = 1000};
    if ((argc - 1) % 2 || parse(argc, argv, &o) != 0 || pa_init() != 0) {
        fprintf(stderr,
                "usage: login_burst --master PATH/masterserver [--hash-ops T --hash-mem-kib M]\n"
                "                   [--hash-threads N] [--accounts 100] [--logins 1000]\n"
                "                   [--clients 32] [--runs 5]\n"
                "                   [--idle-samples 1000] [--accounts-url LIBPQ-URL]\n");
        return 2;
    }
    char dir[] = "/tmp/login_burst_XXXXXX", db[64], cfg[64], json[1536], cost[128] = "";
    char store[1100] = "";
    if (o.accounts_url)
        snprintf(store, sizeof store, ", \"driver\": \"postgres\", \"url\": \"%s\"",
                 o.accounts_url);
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/m.db", dir);
    snprintf(cfg, sizeof cfg, "%s/m.json", dir);
    char threads[64] = "";
    if (o.hash_threads > 0)
        snprintf(threads, sizeof threads, ", \"hash_threads\": %d", o.hash_threads);
    if (o.hash_ops > 0 && o.hash_mem_kib > 0)
        snprintf(cost, sizeof cost, ", \"hash_ops\": %d, \"hash_mem_kib\": %d", o.hash_ops,
                 o.hash_mem_kib);
    snprintf(json, sizeof json,
             "{\"login\": {\"packets_per_s\": 0}, \"accounts\": {\"hash_queue\": 256%s%s%s}}", cost,
             threads, store);
    FILE *f = fopen(cfg, "w");
    if (!f || fputs(json, f) < 0 || fclose(f) != 0)
        return 1;
    const char *args[] = {o.master,
                          "--port",
                          "0",
                          "--login-port",
                          "0",
                          "--log-level",
                          "warn",
                          "--db",
                          db,
                          "--config",
                          cfg,
                          "--open-registration",
                          "--insecure-no-link-auth",
                          NULL};
    tl_proc_t p;
    int rp = -1, port = -1;
    long at = tl_proc_start(&p, args, 0) == 0 ? tl_proc_wait_for(&p, "READY port=", 0, 30000) : -1;
    if (at < 0 || sscanf(p.out + at, "%d login_port=%d", &rp, &port) != 2) {
        fprintf(stderr, "login_burst: masterserver did not start:\n%s\n", p.out);
        return 1;
    }
    int rc = provision(&o, (uint16_t)port);
    result_t *res = calloc((size_t)o.runs, sizeof *res);
    printf("%-4s %10s %9s %9s %12s %12s %12s %12s\n", "run", "logins/s", "ok", "refused",
           "idle_p50_ms", "idle_p99_ms", "burst_p50_ms", "burst_p99_ms");
    for (int i = 0; rc == 0 && res && i < o.runs; i++) {
        rc = one_run(&o, (uint16_t)port, &res[i]);
        result_t *x = &res[i];
        printf("%-4d %10.1f %9d %9d %12.2f %12.2f %12.2f %12.2f%s\n", i + 1, x->logins_s, x->ok,
               x->refused, x->idle_p50, x->idle_p99, x->burst_p50, x->burst_p99,
               x->errors ? "  (errors!)" : "");
        fflush(stdout);
        if (x->errors)
            rc = -1;
    }
    if (rc == 0 && res) {
        summary("logins/s", res, o.runs, offsetof(result_t, logins_s), "/s");
        summary("realm list p99 idle", res, o.runs, offsetof(result_t, idle_p99), "ms");
        summary("realm list p99 during burst", res, o.runs, offsetof(result_t, burst_p99), "ms");
        summary("realm list p50 during burst", res, o.runs, offsetof(result_t, burst_p50), "ms");
    }
    free(res);
    tl_proc_stop(&p, 15, 30000);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = -1;
    return rc == 0 ? 0 : 1;
}
