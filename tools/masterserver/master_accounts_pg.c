/* The account store on PostgreSQL (issue 16, NC_POSTGRES): the same schema
 * and operations as master_accounts.c's SQLite driver, through libpq.
 *
 * One connection behind a mutex, used only from the login server's "auth"
 * queue (cap accounts.hash_threads) and the few short calls on the login
 * strands: libpq's blocking calls are fine there because those workers
 * already block for ~40 ms on every Argon2 hash, the queue is capped and
 * bounded (accounts.hash_queue answers SERVER_FULL past it), and the
 * registry and realm list run on other queues, so a slow database never
 * stalls the engine thread or the registry.  Every statement is a single
 * autocommit round trip on a local network.
 *
 * Outages: a call that finds the connection broken drops it and returns -1
 * at once; the next call after the back-off (100 ms doubling to 5 s)
 * reconnects (connect_timeout 3 s).  Meanwhile macct_available() is 0 and
 * the login server answers TRY_LATER; nothing is reported done that the
 * database did not confirm. */
#include "master_store.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 5000u

/* Migration i brings schema_version from i to i + 1; append, never edit.
 * Mirrors master_accounts.c's SQLite migrations (times: unix ms). */
#define SCHEMA_VERSION 2
static const char *const migrations[SCHEMA_VERSION] = {
    "CREATE TABLE accounts("
    " id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL,"
    " pw_hash TEXT NOT NULL, role INTEGER NOT NULL DEFAULT 0 CHECK(role BETWEEN 0 AND 2),"
    " created BIGINT NOT NULL, last_login BIGINT NOT NULL DEFAULT 0,"
    " failed_attempts BIGINT NOT NULL DEFAULT 0, locked_until BIGINT NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX accounts_name_nocase ON accounts(lower(name));"
    "CREATE TABLE account_characters("
    " account_id BIGINT NOT NULL REFERENCES accounts(id), shard TEXT NOT NULL,"
    " name TEXT NOT NULL, last_used BIGINT NOT NULL,"
    " PRIMARY KEY(account_id, shard, name));",
    "ALTER TABLE accounts ADD COLUMN last_failed BIGINT NOT NULL DEFAULT 0;",
};

typedef struct pg_s {
    macct_t base; /* first: the driver table */
    pthread_mutex_t mu;
    PGconn *c;
    char url[1024];
    uint64_t next_try_ms; /* monotonic: no reconnect before */
    uint32_t backoff_ms;
    unsigned long outages;
    /* issue 16, the metrics page (read without mu): down_since_ms is the
     * monotonic start of the current outage (0 = connected) */
    atomic_ullong down_since_ms, outage_ms, losses, reconnects;
} pg_t;

static const macct_ops_t pg_ops;

static PGconn *connect_url(const char *url)
{
    /* connect_timeout first: a value in the URL itself wins over it */
    const char *k[] = {"connect_timeout", "dbname", NULL};
    const char *v[] = {"3", url, NULL};
    return PQconnectdbParams(k, v, 1);
}

static int migrate(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "BEGIN; SELECT pg_advisory_xact_lock(727001);"
                            " CREATE TABLE IF NOT EXISTS schema_version(v INTEGER NOT NULL);");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    int v = -1;
    if (ok) {
        r = PQexec(c, "SELECT coalesce(max(v), 0) FROM schema_version");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (v < 0 || v > SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "account database schema version %d is not one this server knows (%d)%s%s", v,
                 SCHEMA_VERSION, ok ? "" : ": ", ok ? "" : PQerrorMessage(c));
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    for (; v < SCHEMA_VERSION; v++) {
        char sql[96];
        snprintf(sql, sizeof sql,
                 "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d)", v + 1);
        r = PQexec(c, migrations[v]);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok) {
            r = PQexec(c, sql);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        if (!ok) {
            snprintf(err, errlen, "migration to version %d failed: %s", v + 1, PQerrorMessage(c));
            PQclear(PQexec(c, "ROLLBACK"));
            return -1;
        }
    }
    r = PQexec(c, "COMMIT");
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        snprintf(err, errlen, "migration commit failed: %s", PQerrorMessage(c));
    return ok ? 0 : -1;
}

/* The password never appears in a message: libpq's own errors do not carry
 * it, and we print the host part only through PQhost/PQport. */
int macct_pg_open(const char *url, macct_t **out, char *err, size_t errlen)
{
    pg_t *a = calloc(1, sizeof *a);
    if (!a || strlen(url) >= sizeof a->url) {
        snprintf(err, errlen, a ? "accounts.url too long" : "out of memory");
        free(a);
        return -1;
    }
    snprintf(a->url, sizeof a->url, "%s", url);
    a->c = connect_url(url);
    if (!a->c || PQstatus(a->c) != CONNECTION_OK) {
        snprintf(err, errlen, "account store (postgres): cannot connect: %s",
                 a->c ? PQerrorMessage(a->c) : "out of memory");
        PQfinish(a->c);
        free(a);
        return -1;
    }
    if (migrate(a->c, err, errlen) != 0) {
        PQfinish(a->c);
        free(a);
        return -1;
    }
    pthread_mutex_init(&a->mu, NULL);
    a->backoff_ms = BACKOFF_MIN_MS;
    a->base.ops = &pg_ops;
    nc_log(NC_LOG_INFO, "master", "account store: postgres %s:%s database %s", PQhost(a->c),
           PQport(a->c), PQdb(a->c));
    *out = &a->base;
    return 0;
}

static void pg_close(macct_t *base_)
{
    pg_t *a = (pg_t *)base_;
    if (a->outages)
        nc_log(NC_LOG_INFO, "master", "account store: %lu connection losses", a->outages);
    PQfinish(a->c);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* Caller holds mu.  1 connected (reconnected if it was due), 0 not. */
static int ensure(pg_t *a)
{
    if (a->c && PQstatus(a->c) == CONNECTION_OK)
        return 1;
    uint64_t now = nc_now_ms();
    if (now < a->next_try_ms)
        return 0;
    PQfinish(a->c);
    a->c = connect_url(a->url);
    if (a->c && PQstatus(a->c) == CONNECTION_OK) {
        nc_log(NC_LOG_INFO, "master", "account store: postgres connection restored");
        a->backoff_ms = BACKOFF_MIN_MS;
        uint64_t since = atomic_exchange(&a->down_since_ms, 0);
        if (since) {
            uint64_t now_ms = nc_now_ms();
            atomic_fetch_add(&a->outage_ms, now_ms > since ? now_ms - since : 0);
        }
        atomic_fetch_add(&a->reconnects, 1);
        return 1;
    }
    nc_log(NC_LOG_WARN, "master", "account store: reconnect failed (next in %u ms): %s",
           a->backoff_ms, a->c ? PQerrorMessage(a->c) : "out of memory");
    a->next_try_ms = nc_now_ms() + a->backoff_ms;
    a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->backoff_ms * 2;
    return 0;
}

/* Runs sql with text parameters; caller holds mu.  Returns the result when
 * its status is `want`, else NULL (logged; a broken connection is dropped
 * and the back-off starts).  A connection found broken on an idempotent
 * statement (every one but the INSERT of a new account, whose outcome would
 * be unknown) is replaced at once and the statement sent once more, so the
 * first login after PostgreSQL restarted does not fail on the stale
 * connection. */
static PGresult *run(pg_t *a, const char *sql, int n, const char *const *params,
                     ExecStatusType want, int idempotent)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!ensure(a))
            return NULL;
        PGresult *r = PQexecParams(a->c, sql, n, NULL, params, NULL, NULL, 0);
        if (r && PQresultStatus(r) == want)
            return r;
        if (PQstatus(a->c) == CONNECTION_OK) {
            nc_log(NC_LOG_ERROR, "master", "account store: statement failed: %s",
                   r ? PQresultErrorMessage(r) : PQerrorMessage(a->c));
            PQclear(r);
            return NULL;
        }
        PQclear(r);
        a->outages++;
        atomic_fetch_add(&a->losses, 1);
        unsigned long long zero = 0; /* the outage starts now, unless one runs */
        atomic_compare_exchange_strong(&a->down_since_ms, &zero, nc_now_ms() | 1);
        nc_log(NC_LOG_WARN, "master", "account store: postgres connection lost: %s",
               PQerrorMessage(a->c));
        PQfinish(a->c);
        a->c = NULL;
        /* attempt 0 of an idempotent statement: reconnect now (ensure sees
         * next_try_ms due); otherwise the back-off starts */
        a->next_try_ms = attempt == 0 && idempotent ? 0 : nc_now_ms() + a->backoff_ms;
        if (!idempotent)
            return NULL;
    }
    return NULL;
}

static uint64_t u64(const PGresult *r, int row, int col)
{
    return strtoull(PQgetvalue(r, row, col), NULL, 10);
}

static void pg_stats(macct_t *base_, macct_stats_t *out)
{
    pg_t *a = (pg_t *)base_;
    uint64_t since = atomic_load(&a->down_since_ms), now = nc_now_ms();
    *out = (macct_stats_t){.up = since == 0,
                           .outage_ms = atomic_load(&a->outage_ms) +
                                        (since && now > since ? now - since : 0),
                           .losses = atomic_load(&a->losses),
                           .reconnects = atomic_load(&a->reconnects)};
}

static int pg_available(macct_t *base_)
{
    pg_t *a = (pg_t *)base_;
    pthread_mutex_lock(&a->mu);
    int ok = ensure(a);
    pthread_mutex_unlock(&a->mu);
    return ok;
}

static int pg_find(macct_t *base_, const char *name, macct_row_t *out)
{
    pg_t *a = (pg_t *)base_;
    const char *p[] = {name};
    pthread_mutex_lock(&a->mu);
    PGresult *r = run(a,
                      "SELECT id, name, pw_hash, role, failed_attempts, locked_until, last_failed"
                      " FROM accounts"
                      " WHERE lower(name) = lower($1)",
                      1, p, PGRES_TUPLES_OK, 1);
    int rc = r ? PQntuples(r) > 0 : -1;
    if (rc == 1) {
        memset(out, 0, sizeof *out);
        out->id = u64(r, 0, 0);
        snprintf(out->name, sizeof out->name, "%s", PQgetvalue(r, 0, 1));
        snprintf(out->hash, sizeof out->hash, "%s", PQgetvalue(r, 0, 2));
        out->role = atoi(PQgetvalue(r, 0, 3));
        uint64_t f = u64(r, 0, 4);
        out->failed = f > UINT32_MAX ? UINT32_MAX : (uint32_t)f;
        out->locked_until_ms = u64(r, 0, 5);
        out->last_failed_ms = u64(r, 0, 6);
    }
    PQclear(r);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static int pg_insert(macct_t *base_, const char *name, const char *hash, int role, uint64_t *id)
{
    pg_t *a = (pg_t *)base_;
    char rs[16], now[24];
    snprintf(rs, sizeof rs, "%d", role);
    snprintf(now, sizeof now, "%llu", (unsigned long long)nc_wall_ms());
    const char *p[] = {name, hash, rs, now};
    pthread_mutex_lock(&a->mu);
    PGresult *r = run(a,
                      "INSERT INTO accounts(name, pw_hash, role, created) VALUES($1, $2, $3, $4)"
                      " ON CONFLICT (lower(name)) DO NOTHING RETURNING id",
                      4, p, PGRES_TUPLES_OK, 0);
    int rc = !r ? -1 : PQntuples(r) == 1 ? 0 : 1;
    if (rc == 0)
        *id = u64(r, 0, 0);
    PQclear(r);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static int exec_cmd(pg_t *a, const char *sql, int n, const char *const *p)
{
    pthread_mutex_lock(&a->mu);
    PGresult *r = run(a, sql, n, p, PGRES_COMMAND_OK, 1);
    PQclear(r);
    pthread_mutex_unlock(&a->mu);
    return r ? 0 : -1;
}

static int pg_login_ok(macct_t *base_, uint64_t id, const char *new_hash)
{
    char ids[24], now[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    snprintf(now, sizeof now, "%llu", (unsigned long long)nc_wall_ms());
    const char *p[] = {ids, now, new_hash};
    return exec_cmd((pg_t *)base_,
                    new_hash ? "UPDATE accounts SET last_login = $2, failed_attempts = 0,"
                               " locked_until = 0, pw_hash = $3 WHERE id = $1"
                             : "UPDATE accounts SET last_login = $2, failed_attempts = 0,"
                               " locked_until = 0 WHERE id = $1",
                    new_hash ? 3 : 2, p);
}

static int pg_login_failed(macct_t *base_, uint64_t id, uint32_t failed, uint64_t locked_until_ms)
{
    char ids[24], f[16], lu[24], now[24];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    snprintf(now, sizeof now, "%llu", (unsigned long long)nc_wall_ms());
    snprintf(f, sizeof f, "%u", (unsigned)failed);
    snprintf(lu, sizeof lu, "%llu",
             (unsigned long long)(locked_until_ms > INT64_MAX ? INT64_MAX : locked_until_ms));
    const char *p[] = {ids, f, lu, now};
    /* the caller already took the higher of its count and the stored one
     * (a stale stored count is forgotten, so no GREATEST on it); a lock is
     * never shortened by another login server's write */
    return exec_cmd((pg_t *)base_,
                    "UPDATE accounts SET failed_attempts = $2,"
                    " locked_until = GREATEST(locked_until, $3), last_failed = $4 WHERE id = $1",
                    4, p);
}

static int pg_characters(macct_t *base_, uint64_t id, proto_character_ref_t *out, int max)
{
    pg_t *a = (pg_t *)base_;
    char ids[24], m[16];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    snprintf(m, sizeof m, "%d", max);
    const char *p[] = {ids, m};
    pthread_mutex_lock(&a->mu);
    PGresult *r = run(a,
                      "SELECT shard, name FROM account_characters WHERE account_id = $1"
                      " ORDER BY last_used DESC, shard, name LIMIT $2",
                      2, p, PGRES_TUPLES_OK, 1);
    int n = 0;
    for (int i = 0; r && i < PQntuples(r) && n < max; i++, n++) {
        memset(&out[n], 0, sizeof out[n]);
        snprintf(out[n].shard, sizeof out[n].shard, "%s", PQgetvalue(r, i, 0));
        snprintf(out[n].name, sizeof out[n].name, "%s", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    pthread_mutex_unlock(&a->mu);
    return r ? n : -1;
}

static int pg_character_used(macct_t *base_, uint64_t id, const char *shard, const char *name,
                             int keep)
{
    char ids[24], now[24], k[16];
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    snprintf(now, sizeof now, "%llu", (unsigned long long)nc_wall_ms());
    snprintf(k, sizeof k, "%d", keep);
    const char *p[] = {ids, shard, name, now};
    int rc = exec_cmd((pg_t *)base_,
                      "INSERT INTO account_characters(account_id, shard, name, last_used)"
                      " VALUES($1, $2, $3, $4) ON CONFLICT(account_id, shard, name)"
                      " DO UPDATE SET last_used = excluded.last_used",
                      4, p);
    const char *q[] = {ids, k};
    if (rc == 0)
        rc = exec_cmd((pg_t *)base_,
                      "DELETE FROM account_characters WHERE account_id = $1 AND (shard, name)"
                      " NOT IN (SELECT shard, name FROM account_characters WHERE account_id = $1"
                      " ORDER BY last_used DESC, shard, name LIMIT $2)",
                      2, q);
    return rc;
}

static const macct_ops_t pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .find = pg_find,
    .insert = pg_insert,
    .login_ok = pg_login_ok,
    .login_failed = pg_login_failed,
    .characters = pg_characters,
    .character_used = pg_character_used,
    .available = pg_available,
    .stats = pg_stats,
};
