/* Cost of durable commits: content_db with PRAGMA synchronous=NORMAL vs
 * FULL (WAL mode).  Per run, on a fresh file: one-character save
 * transactions (a logout) per second, gold-change transaction latency
 * p50/p99, and a 1,000-character autosave batch.  Prints the median of
 * --runs runs (default 5) per mode.
 *   bench_db [--runs N] [--ops N] [--dir DIR]   (DIR: where the file lives)
 * Issue 16, with --url CONNINFO: the character store's two drivers in the
 * same run instead, SQLite (synchronous FULL, the default) vs PostgreSQL at
 * CONNINFO (a throwaway database: its content tables are dropped before
 * each run; tools/bench/chardb.sh makes one), median and min-max.
 *   bench_db --url CONNINFO [--runs N] [--ops N] [--dir DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content_db.h"
#include "netcore.h"
#ifdef BENCH_PG
#include <libpq-fe.h>
#endif

#define CHARS 1000
#define BATCHES 20
#define MAX_RUNS 15

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void rm_db(const char *path)
{
    char p[600];
    remove(path);
    snprintf(p, sizeof p, "%s-wal", path);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", path);
    remove(p);
}

typedef struct result_s {
    double saves_per_s, gold_p50_us, gold_p99_us, batch_ms;
} result_t;

/* PostgreSQL: a fresh database for each run, as SQLite's fresh file. */
static int pg_wipe(const char *url)
{
#ifdef BENCH_PG
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQstatus(c) == CONNECTION_OK
                      ? PQexec(c, "SET client_min_messages = warning;"
                                  " DROP TABLE IF EXISTS inventory, wallet, content_requests,"
                                  " characters, content_schema_version;"
                                  " DROP SEQUENCE IF EXISTS content_boot")
                      : NULL;
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "bench_db: cannot reset the database: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
#else
    (void)url;
    fprintf(stderr, "bench_db: built without PostgreSQL (NC_POSTGRES=OFF)\n");
    return -1;
#endif
}

/* url NULL: SQLite at path (synchronous FULL or NORMAL); else PostgreSQL. */
static int run(const char *path, const char *url, int full, int ops, result_t *r)
{
    rm_db(path);
    content_db_opts_t o = CONTENT_DB_OPTS_DEFAULT;
    o.synchronous_full = full;
    if (url) {
        if (pg_wipe(url) != 0)
            return -1;
        o.driver = CONTENT_DB_POSTGRES;
        o.url = url;
    }
    content_db_t *db;
    char err[512];
    if (content_db_open_opts(path, &o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "bench_db: %s\n", err);
        return -1;
    }
    static content_pos_t v[CHARS];
    for (int i = 0; i < CHARS; i++) {
        content_char_t c;
        char name[32];
        snprintf(name, sizeof name, "bench%d", i);
        if (content_db_load_or_create(db, name, 1, 1, 1, 1, &c) != CONTENT_DB_OK) {
            content_db_close(db);
            return -1;
        }
        v[i] = (content_pos_t){c.id, 1, (float)i, (float)i, i, ""};
    }
    uint64_t t0 = nc_now_ns();
    for (int i = 0; i < ops; i++) {
        v[i % CHARS].x += 1;
        if (content_db_save_positions(db, &v[i % CHARS], 1) != CONTENT_DB_OK)
            return -1;
    }
    r->saves_per_s = ops / ((double)(nc_now_ns() - t0) / 1e9);
    uint64_t *lat = malloc((size_t)ops * sizeof *lat);
    if (!lat)
        return -1;
    for (int i = 0; i < ops; i++) {
        int64_t bal;
        uint64_t s = nc_now_ns();
        if (content_db_gold_add(db, v[i % CHARS].id, 1, &bal) != CONTENT_DB_OK) {
            free(lat);
            return -1;
        }
        lat[i] = nc_now_ns() - s;
    }
    qsort(lat, (size_t)ops, sizeof *lat, cmp_u64);
    r->gold_p50_us = (double)lat[ops / 2] / 1e3;
    r->gold_p99_us = (double)lat[(size_t)ops * 99 / 100] / 1e3;
    free(lat);
    t0 = nc_now_ns();
    for (int b = 0; b < BATCHES; b++)
        if (content_db_save_positions(db, v, CHARS) != CONTENT_DB_OK)
            return -1;
    r->batch_ms = (double)(nc_now_ns() - t0) / 1e6 / BATCHES;
    content_db_close(db);
    rm_db(path);
    return 0;
}

static double lo(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double hi(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* Issue 16: SQLite (FULL) vs PostgreSQL in the same run; the runs
 * alternate between the drivers so a noisy neighbour hits both. */
static int drivers(const char *path, const char *url, int runs, int ops)
{
    double s[2][MAX_RUNS], p50[2][MAX_RUNS], p99[2][MAX_RUNS], bm[2][MAX_RUNS];
    for (int i = 0; i < runs; i++)
        for (int d = 0; d < 2; d++) {
            result_t r;
            if (run(path, d ? url : NULL, 1, ops, &r) != 0) {
                fprintf(stderr, "bench_db: %s run failed\n", d ? "postgres" : "sqlite");
                return 1;
            }
            s[d][i] = r.saves_per_s;
            p50[d][i] = r.gold_p50_us;
            p99[d][i] = r.gold_p99_us;
            bm[d][i] = r.batch_ms;
        }
    printf("content_db, %d one-character save transactions + %d gold changes + %d x "
           "%d-character batches per run; median (min-max) of %d runs per driver\n\n",
           ops, ops, BATCHES, CHARS, runs);
    printf("| driver | saves/s | gold p50 us | gold p99 us | %d-char batch ms |\n", CHARS);
    printf("|--------|--------:|------------:|------------:|----------------:|\n");
    for (int d = 0; d < 2; d++) {
        double ms = median(s[d], runs), m50 = median(p50[d], runs), m99 = median(p99[d], runs),
               mb = median(bm[d], runs);
        printf("| %s | %.0f (%.0f-%.0f) | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2f (%.2f-%.2f) "
               "|\n",
               d ? "postgres" : "sqlite (FULL)", ms, lo(s[d], runs), hi(s[d], runs), m50,
               lo(p50[d], runs), hi(p50[d], runs), m99, lo(p99[d], runs), hi(p99[d], runs), mb,
               lo(bm[d], runs), hi(bm[d], runs));
    }
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 5, ops = 2000;
    const char *dir = "/tmp", *url = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ops") == 0)
            ops = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--url") == 0)
            url = argv[i + 1];
    }
    if (runs < 1 || runs > MAX_RUNS || ops < 100 || ops > 10000000) {
        fprintf(stderr,
                "usage: bench_db [--runs 1..%d] [--ops 100..] [--dir DIR] [--url CONNINFO]\n",
                MAX_RUNS);
        return 2;
    }
    nc_log_set_level(NC_LOG_WARN);
    char path[512];
    snprintf(path, sizeof path, "%s/bench_db_%d.db", dir, (int)nc_now_ms() % 100000);
    if (url)
        return drivers(path, url, runs, ops);
    printf("content_db, WAL, %d one-character saves + %d gold changes + %d x %d-character "
           "batches per run; median of %d runs\n\n",
           ops, ops, BATCHES, CHARS, runs);
    printf("| synchronous | saves/s | gold p50 us | gold p99 us | %d-char batch ms |\n", CHARS);
    printf("|-------------|--------:|------------:|------------:|----------------:|\n");
    for (int full = 0; full <= 1; full++) {
        double s[MAX_RUNS], p50[MAX_RUNS], p99[MAX_RUNS], bm[MAX_RUNS];
        for (int i = 0; i < runs; i++) {
            result_t r;
            if (run(path, NULL, full, ops, &r) != 0) {
                fprintf(stderr, "bench_db: run failed\n");
                return 1;
            }
            s[i] = r.saves_per_s;
            p50[i] = r.gold_p50_us;
            p99[i] = r.gold_p99_us;
            bm[i] = r.batch_ms;
        }
        printf("| %-11s | %7.0f | %11.1f | %11.1f | %15.2f |\n", full ? "FULL" : "NORMAL",
               median(s, runs), median(p50, runs), median(p99, runs), median(bm, runs));
    }
    return 0;
}
