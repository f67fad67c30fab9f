/* The character store on PostgreSQL (issue 16, NC_POSTGRES; the driver
 * table of content_db_driver.h): the same schema as content_db.c's SQLite
 * driver, through libpq.  The operations and their rules (transactions,
 * request ids, results) are content_db_flow.c's; this file runs statements
 * and keeps the connection.
 *
 * Threading: called only from the `db` strand (queue cap 1): one connection,
 * one job at a time, so no lock.  libpq's blocking calls are fine there: the
 * strand exists to block on the database, its queue has its own thread cap,
 * and the zones, sessions and metrics never wait for it.
 *
 * Statements are prepared (PQprepare) once per connection and reused; a new
 * connection prepares them again.  synchronous_commit is the server's ("on"
 * by default: a COMMIT that returned is durable).
 *
 * Outages: a statement that finds the connection broken (or a server error
 * of a transient class: serialization, deadlock, lock timeout, read-only,
 * disk full, shutdown) returns CONTENT_DB_RETRY; a broken connection is
 * dropped and the next call reconnects, then after failures waits 50 ms
 * doubling to 1 s between attempts (world_db.c retries the request with its
 * own back-off meanwhile).
 *
 * Request ids (content_db.h) are stored in content_requests as (boot, seq):
 * boot is drawn from a sequence once per handle, seq is the caller's. */
#include "content_db_driver.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "db"
#define BACKOFF_MIN_MS 50u
#define BACKOFF_MAX_MS 1000u
#define MIGRATE_LOCK 727016 /* pg_advisory_xact_lock key of the migrations */
#define REQ_KEEP 4096       /* request ids kept per handle (a resend is the newest) */

enum {
    ST_LOAD,
    ST_INSERT,
    ST_TOUCH,
    ST_SAVE_POS,
    ST_SAVE_BATCH,
    ST_GOLD_GET,
    ST_GOLD_SET,
    ST_ITEM_ADD,
    ST_ITEM_GET,
    ST_OWNER_GET,
    ST_OWNER_SET,
    ST_REQ_GET,
    ST_REQ_PUT,
    ST_REQ_PRUNE,
    ST_FIELDS_GET,
    ST_FIELD_SET0, /* one per declared field */
    ST_COUNT = ST_FIELD_SET0 + CONTENT_FIELD_COUNT
};

static const char *const stmt_sql[ST_FIELDS_GET] = {
    [ST_LOAD] = "SELECT c.id, c.name, c.zone, c.x, c.y, c.created, c.last_login, c.played_time,"
                " COALESCE(w.gold, 0), c.account_id"
                " FROM characters c LEFT JOIN wallet w ON w.char_id = c.id"
                " WHERE c.name = $1",
    [ST_INSERT] = "INSERT INTO characters(name, zone, x, y, created, last_login, played_time,"
                  " account_id) VALUES($1, $2, $3, $4, $5, $5, 0, $6)",
    [ST_TOUCH] = "UPDATE characters SET last_login = $2 WHERE id = $1",
    [ST_SAVE_POS] = "UPDATE characters SET zone = $2, x = $3, y = $4, played_time = $5"
                    " WHERE id = $1",
    /* a batch in one round trip: arrays of the columns; a character twice
     * in one batch gets its last position (as the SQLite driver's loop) */
    [ST_SAVE_BATCH] = "UPDATE characters c SET zone = v.zone, x = v.x, y = v.y,"
                      " played_time = v.played FROM (SELECT DISTINCT ON (u.id) u.* FROM"
                      " unnest($1::bigint[], $2::integer[], $3::float8[], $4::float8[],"
                      " $5::bigint[]) WITH ORDINALITY AS u(id, zone, x, y, played, ord)"
                      " ORDER BY u.id, u.ord DESC) v WHERE c.id = v.id",
    [ST_GOLD_GET] = "SELECT gold FROM wallet WHERE char_id = $1 FOR UPDATE",
    [ST_GOLD_SET] = "INSERT INTO wallet(char_id, gold) VALUES($1, $2)"
                    " ON CONFLICT(char_id) DO UPDATE SET gold = excluded.gold",
    /* the WHERE keeps count + n within int64: no row changes on overflow */
    [ST_ITEM_ADD] = "INSERT INTO inventory(char_id, item, count) VALUES($1, $2, $3)"
                    " ON CONFLICT(char_id, item) DO UPDATE SET count = inventory.count +"
                    " excluded.count WHERE inventory.count <= 9223372036854775807 - excluded.count",
    [ST_ITEM_GET] = "SELECT count FROM inventory WHERE char_id = $1 AND item = $2",
    [ST_OWNER_GET] = "SELECT id, account_id FROM characters WHERE name = $1 FOR UPDATE",
    [ST_OWNER_SET] = "UPDATE characters SET account_id = $2 WHERE id = $1",
    [ST_REQ_GET] = "SELECT value FROM content_requests WHERE boot = $1 AND seq = $2",
    [ST_REQ_PUT] = "INSERT INTO content_requests(boot, seq, value) VALUES($1, $2, $3)",
    [ST_REQ_PRUNE] = "DELETE FROM content_requests WHERE boot = $1 AND seq < $2",
};

static const char *const stmt_name[ST_FIELDS_GET] = {
    [ST_LOAD] = "load",
    [ST_INSERT] = "insert",
    [ST_TOUCH] = "touch",
    [ST_SAVE_POS] = "save",
    [ST_SAVE_BATCH] = "save batch",
    [ST_GOLD_GET] = "gold read",
    [ST_GOLD_SET] = "gold write",
    [ST_ITEM_ADD] = "item write",
    [ST_ITEM_GET] = "item read",
    [ST_OWNER_GET] = "owner read",
    [ST_OWNER_SET] = "owner write",
    [ST_REQ_GET] = "request read",
    [ST_REQ_PUT] = "request write",
    [ST_REQ_PRUNE] = "request prune",
};

/* Migration i brings content_schema_version from i to i + 1; append, never
 * edit.  The same steps as content_db.c's SQLite migrations (times: unix
 * ms; ids and account ids: the same 64 bits), plus content_requests in the
 * first step (only PostgreSQL can lose a COMMIT's answer). */
static const char *const migrations[] = {
    ("CREATE TABLE characters("
     " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
     " zone INTEGER NOT NULL, x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL,"
     " created BIGINT NOT NULL, last_login BIGINT NOT NULL, played_time BIGINT NOT NULL"
     " DEFAULT 0);"
     "CREATE TABLE content_requests(boot BIGINT NOT NULL, seq BIGINT NOT NULL,"
     " value BIGINT NOT NULL, PRIMARY KEY(boot, seq));"
     "CREATE SEQUENCE content_boot;"),
    ("CREATE TABLE wallet(char_id BIGINT PRIMARY KEY REFERENCES characters(id),"
     " gold BIGINT NOT NULL DEFAULT 0 CHECK(gold >= 0));"
     "CREATE TABLE inventory(char_id BIGINT NOT NULL REFERENCES characters(id),"
     " item INTEGER NOT NULL, count BIGINT NOT NULL CHECK(count >= 0),"
     " PRIMARY KEY(char_id, item));"),
    /* issue 13: NULL account_id = a legacy (unowned) character */
    ("ALTER TABLE characters ADD COLUMN account_id BIGINT;"
     "CREATE INDEX characters_by_account ON characters(account_id);"),
    /* issue 14: the declared fields of char_fields.h, one column each */
    "ALTER TABLE characters ADD COLUMN level BIGINT NOT NULL DEFAULT 1;",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == CONTENT_DB_SCHEMA_VERSION,
               "one PostgreSQL migration step per schema version, as in content_db.c");

typedef struct pg_s {
    PGconn *c; /* NULL while disconnected */
    char url[1024];
    uint32_t lock_timeout_ms;
    int64_t boot; /* request ids: (boot, seq) */
    uint64_t next_try_ms;
    uint32_t backoff_ms;
    nc_log_state_t conn_lim;
} pg_t;

#define PG(db) ((pg_t *)(db)->drv)

/* The fault kind of a failed statement (r may be NULL). */
static int classify(const pg_t *p, const PGresult *r)
{
    if (!p->c || PQstatus(p->c) != CONNECTION_OK)
        return CONTENT_DB_F_IOERR;
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!st)
        return CONTENT_DB_F_OTHER;
    if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") ||
        !strcmp(st, "57014"))
        return CONTENT_DB_F_BUSY; /* serialization, deadlock, lock/statement timeout */
    if (!strcmp(st, "55006"))
        return CONTENT_DB_F_LOCKED;
    if (!strcmp(st, "25006"))
        return CONTENT_DB_F_READONLY; /* a standby, or default_transaction_read_only */
    if (!strncmp(st, "53", 2))
        return CONTENT_DB_F_FULL; /* disk full, out of memory, too many connections */
    if (!strncmp(st, "08", 2) || !strncmp(st, "57P", 3) || !strncmp(st, "58", 2))
        return CONTENT_DB_F_IOERR; /* connection, shutdown, system I/O */
    return CONTENT_DB_F_OTHER;
}

/* Drops a broken connection: the next call reconnects at once. */
static void drop(pg_t *p)
{
    if (p->c && PQstatus(p->c) != CONNECTION_OK) {
        PQfinish(p->c);
        p->c = NULL;
        p->next_try_ms = 0;
    }
}

/* Counts and logs a failed statement; returns its CONTENT_DB_* result. */
static int fault(content_db_t *db, const PGresult *r, const char *what)
{
    pg_t *p = PG(db);
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg[0])
        msg = p->c ? PQerrorMessage(p->c) : "not connected";
    int rc = content_db_fault(db, classify(p, r), what, msg);
    drop(p);
    return rc;
}

/* The server's notices and warnings ("terminating connection due to
 * immediate shutdown") go to the log, not to stderr. */
static void notice(void *arg, const char *msg)
{
    (void)arg;
    char one[256];
    snprintf(one, sizeof one, "%s", msg);
    for (char *q = one; *q; q++)
        if (*q == '\n')
            *q = ' ';
    nc_log(NC_LOG_INFO, TAG, "postgres says: %s", one);
}

static PGconn *connect_url(const char *url)
{
    /* defaults first: a value in the url itself wins over them.  A server
     * that goes silent (a partition, not a refused connection) is noticed
     * by TCP: keepalives on an idle connection (10 s + 3 x 3 s), and
     * tcp_user_timeout (libpq 12+) for data sent but not acknowledged
     * within 10 s, so a dead peer holds the db strand ~20 s at most (a slow
     * but live server is bounded by lock_timeout instead). */
    const char *k[] = {"connect_timeout",
                       "keepalives_idle",
                       "keepalives_interval",
                       "keepalives_count",
                       "application_name",
                       "tcp_user_timeout",
                       "dbname",
                       NULL};
    const char *v[] = {"3", "10", "3", "3", "gameserver", "10000", url, NULL};
    if (PQlibVersion() < 120000) { /* no tcp_user_timeout: drop it */
        k[5] = "dbname";
        v[5] = url;
        k[6] = NULL;
        v[6] = NULL;
    }
    PGconn *c = PQconnectdbParams(k, v, 1);
    if (c)
        PQsetNoticeProcessor(c, notice, NULL);
    return c;
}

static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
}

static const char *prepare1(void *ctx, int i, const char *sql)
{
    char name[16];
    snprintf(name, sizeof name, "c%d", i);
    PGresult *r = PQprepare(ctx, name, sql, 0, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? NULL : PQerrorMessage(ctx);
}

/* The session settings and every statement, on a fresh connection. */
static int prepare_all(pg_t *p, PGconn *c, char *err, size_t errlen)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SET lock_timeout = %u", (unsigned)p->lock_timeout_ms);
    if (!exec_ok(c, sql)) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        return -1;
    }
    return content_db_prepare(ST_FIELDS_GET, stmt_sql, '$', prepare1, c, err, errlen);
}

/* 1 connected (reconnected if it was due), 0 not (counted, logged). */
static int ensure(content_db_t *db)
{
    pg_t *p = PG(db);
    if (p->c && PQstatus(p->c) == CONNECTION_OK)
        return 1;
    uint64_t now = nc_now_ms();
    if (p->c) {
        PQfinish(p->c);
        p->c = NULL;
    }
    if (now < p->next_try_ms)
        return 0;
    PGconn *c = connect_url(p->url);
    char err[512] = "";
    if (c && PQstatus(c) == CONNECTION_OK && prepare_all(p, c, err, sizeof err) == 0) {
        p->c = c;
        p->backoff_ms = BACKOFF_MIN_MS;
        atomic_fetch_add(&db->m.reconnects, 1);
        nc_log(NC_LOG_INFO, TAG, "postgres: connection re-established (%s:%s database %s)",
               PQhost(c), PQport(c), PQdb(c));
        return 1;
    }
    if (!err[0])
        snprintf(err, sizeof err, "%s", c ? PQerrorMessage(c) : "out of memory");
    for (char *q = err; *q; q++)
        if (*q == '\n')
            *q = ' ';
    PQfinish(c);
    p->next_try_ms = nc_now_ms() + p->backoff_ms;
    nc_log_limited(&p->conn_lim, 1000, NC_LOG_WARN, TAG,
                   "postgres: reconnect failed (next attempt in %u ms): %s", p->backoff_ms, err);
    p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
    return 0;
}

/* Runs prepared statement st with n text parameters.  The result (tuples or
 * command ok) goes to *out (the caller clears it); else the fault's
 * CONTENT_DB_* result. */
static int run(content_db_t *db, int st, int n, const char *const *v, PGresult **out)
{
    char name[16];
    snprintf(name, sizeof name, "c%d", st);
    PGresult *r = PG(db)->c ? PQexecPrepared(PG(db)->c, name, n, v, NULL, NULL, 0) : NULL;
    ExecStatusType s = PQresultStatus(r);
    if (r && (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)) {
        *out = r;
        return CONTENT_DB_OK;
    }
    int rc = fault(db, r, st < ST_FIELDS_GET ? stmt_name[st] : "field");
    PQclear(r);
    *out = NULL;
    return rc;
}

/* A statement whose rows do not matter. */
static int run0(content_db_t *db, int st, int n, const char *const *v)
{
    PGresult *r;
    int rc = run(db, st, n, v, &r);
    PQclear(r);
    return rc;
}

static int changes(const PGresult *r)
{
    return atoi(PQcmdTuples((PGresult *)r));
}

static int64_t i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

typedef struct num_s {
    char s[32];
} num_t;

static num_t num(int64_t v)
{
    num_t n;
    snprintf(n.s, sizeof n.s, "%lld", (long long)v);
    return n;
}

static num_t dbl(double v)
{
    num_t n;
    snprintf(n.s, sizeof n.s, "%.17g", v);
    return n;
}

/* Statement st with n (<= 5) int64 parameters: OK or the fault.  rows: the
 * rows it changed or found; first: the first column of its row (0 without
 * exactly one). */
static int run_i(content_db_t *db, int st, int n, const int64_t *iv, int *rows, int64_t *first)
{
    num_t s[5];
    const char *v[5];
    for (int i = 0; i < n; i++) {
        s[i] = num(iv[i]);
        v[i] = s[i].s;
    }
    PGresult *r;
    int rc = run(db, st, n, v, &r);
    if (rows)
        *rows = rc == CONTENT_DB_OK ? changes(r) : 0;
    if (first)
        *first = rc == CONTENT_DB_OK && PQntuples(r) == 1 ? i64(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

/* ---- transactions ---- */

/* A connection the server closed while idle shows at BEGIN: nothing was
 * sent in it, so one immediate reconnect and second BEGIN is safe. */
static int pg_begin(content_db_t *db)
{
    pg_t *p = PG(db);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!ensure(db)) {
            atomic_fetch_add(&db->m.faults[CONTENT_DB_F_IOERR], 1);
            return CONTENT_DB_RETRY;
        }
        PGresult *r = PQexec(p->c, "BEGIN");
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
            return CONTENT_DB_OK;
        }
        if (attempt == 1 || PQstatus(p->c) == CONNECTION_OK) {
            int rc = fault(db, r, "begin");
            PQclear(r);
            return rc;
        }
        PQclear(r);
        drop(p);
    }
    return CONTENT_DB_RETRY; /* not reached */
}

/* A COMMIT whose answer does not come (the connection lost) leaves the
 * outcome unknown: db->unknown. */
static int pg_commit(content_db_t *db, int lose_answer)
{
    pg_t *p = PG(db);
    if (!p->c)
        return fault(db, NULL, "commit");
    PGresult *r = PQexec(p->c, "COMMIT");
    int rc = CONTENT_DB_OK;
    if (lose_answer) { /* tests: committed, but the answer never arrives */
        PQfinish(p->c);
        p->c = NULL;
        p->next_try_ms = 0;
        db->unknown = 1;
        rc = content_db_fault(db, CONTENT_DB_F_IOERR, "commit", "answer lost (test hook)");
    } else if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        /* COMMIT of a failed transaction answers ROLLBACK, not an error */
        db->unknown = PQstatus(p->c) != CONNECTION_OK;
        rc = fault(db, r, "commit");
    }
    PQclear(r);
    return rc;
}

static void pg_rollback(content_db_t *db)
{
    pg_t *p = PG(db);
    if (p->c && PQstatus(p->c) == CONNECTION_OK) {
        PQclear(PQexec(p->c, "ROLLBACK")); /* a failed rollback leaves nothing to undo */
        drop(p);
    }
}

/* ---- open, migrate, close ---- */

/* A conninfo or URL that carries a password: 1 (refused), 0 fine, -1 not
 * parseable.  The url itself is never echoed (it may hold a secret). */
static int has_password(const char *url)
{
    char *msg = NULL;
    PQconninfoOption *o = PQconninfoParse(url, &msg);
    PQfreemem(msg);
    if (!o)
        return -1;
    int found = 0;
    for (PQconninfoOption *i = o; i->keyword; i++)
        if (!strcmp(i->keyword, "password") && i->val && i->val[0])
            found = 1;
    PQconninfoFree(o);
    return found;
}

static int migrate(PGconn *c, char *err, size_t errlen)
{
    char sql[128];
    snprintf(sql, sizeof sql,
             "BEGIN; SELECT pg_advisory_xact_lock(%d);"
             " CREATE TABLE IF NOT EXISTS content_schema_version(v INTEGER NOT NULL);",
             MIGRATE_LOCK);
    int ok = exec_ok(c, sql), v = -1;
    if (ok) {
        PGresult *r = PQexec(c, "SELECT coalesce(max(v), 0) FROM content_schema_version");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    if (v < 0 || v > CONTENT_DB_SCHEMA_VERSION) {
        snprintf(err, errlen, "database schema version %d is newer than this server (%d)%s%s", v,
                 CONTENT_DB_SCHEMA_VERSION, ok ? "" : ": ", ok ? "" : PQerrorMessage(c));
        exec_ok(c, "ROLLBACK");
        return -1;
    }
    for (; v < CONTENT_DB_SCHEMA_VERSION; v++) {
        snprintf(sql, sizeof sql,
                 "DELETE FROM content_schema_version; INSERT INTO content_schema_version"
                 " VALUES(%d)",
                 v + 1);
        if (!exec_ok(c, migrations[v]) || !exec_ok(c, sql)) {
            snprintf(err, errlen, "migration to version %d failed: %s", v + 1, PQerrorMessage(c));
            exec_ok(c, "ROLLBACK");
            return -1;
        }
    }
    if (!exec_ok(c, "COMMIT")) {
        snprintf(err, errlen, "migration commit failed: %s", PQerrorMessage(c));
        return -1;
    }
    return 0;
}

static void pg_close(content_db_t *db)
{
    PQfinish(PG(db)->c);
    free(db->drv);
}

static int pg_user_version(content_db_t *db)
{
    pg_t *p = PG(db);
    if (!ensure(db))
        return -1;
    PGresult *r = PQexec(p->c, "SELECT coalesce(max(v), 0) FROM content_schema_version");
    int v =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    drop(p);
    return v;
}

/* ---- statements ---- */

/* 1 found, 0 not found, or a CONTENT_DB_* fault result (< 0). */
static int pg_load(content_db_t *db, const char *name, content_char_t *c)
{
    const char *v[] = {name};
    PGresult *r;
    int rc = run(db, ST_LOAD, 1, v, &r);
    if (rc != CONTENT_DB_OK)
        return rc;
    int found = PQntuples(r) == 1;
    if (found) {
        c->id = i64(r, 0, 0);
        snprintf(c->name, sizeof c->name, "%s", PQgetvalue(r, 0, 1));
        c->zone = (int32_t)i64(r, 0, 2);
        c->x = (float)strtod(PQgetvalue(r, 0, 3), NULL);
        c->y = (float)strtod(PQgetvalue(r, 0, 4), NULL);
        c->created_ms = i64(r, 0, 5);
        c->last_login_ms = i64(r, 0, 6);
        c->played_s = i64(r, 0, 7);
        c->gold = i64(r, 0, 8);
        c->has_owner = !PQgetisnull(r, 0, 9);
        c->account_id = c->has_owner ? (uint64_t)i64(r, 0, 9) : 0;
    }
    PQclear(r);
    return found;
}

static int pg_insert(content_db_t *db, const char *name, int32_t zone, float x, float y,
                     int64_t now_ms, const uint64_t *owner)
{
    num_t z = num(zone), xs = dbl(x), ys = dbl(y), now = num(now_ms),
          acc = num(owner ? (int64_t)*owner : 0); /* the same 64 bits */
    const char *v[] = {name, z.s, xs.s, ys.s, now.s, owner ? acc.s : NULL};
    return run0(db, ST_INSERT, 6, v);
}

static int pg_touch(content_db_t *db, int64_t id, int64_t now_ms)
{
    return run_i(db, ST_TOUCH, 2, (int64_t[]){id, now_ms}, NULL, NULL);
}

static int pg_owner_get(content_db_t *db, const char *name, int64_t *id, int *owned,
                        uint64_t *owner)
{
    const char *v[] = {name};
    PGresult *r;
    int rc = run(db, ST_OWNER_GET, 1, v, &r);
    int found = rc == CONTENT_DB_OK && PQntuples(r) == 1;
    if (found) {
        *id = i64(r, 0, 0);
        *owned = !PQgetisnull(r, 0, 1);
        *owner = *owned ? (uint64_t)i64(r, 0, 1) : 0;
    }
    PQclear(r);
    return rc == CONTENT_DB_OK ? found : rc;
}

static int pg_owner_set(content_db_t *db, int64_t id, uint64_t account_id)
{
    return run_i(db, ST_OWNER_SET, 2, (int64_t[]){id, (int64_t)account_id}, NULL, NULL);
}

/* The columns of a batch as five array literals ("{1,2,...}") in one
 * buffer: 0, or -1 (too large, out of memory). */
static int batch_arrays(const content_pos_t *v, size_t n, char **buf, const char *pv[5])
{
    enum { PER = 24 + 12 + 26 + 26 + 24 }; /* widest int64, int32, %.17g x2, int64 + commas */
    if (n > SIZE_MAX / PER - 16)
        return -1;
    size_t cap = n * PER + 16, off = 0;
    char *b = malloc(cap);
    if (!b)
        return -1;
    for (int col = 0; col < 5; col++) {
        pv[col] = b + off;
        b[off++] = '{';
        for (size_t i = 0; i < n; i++) {
            num_t x = col == 0   ? num(v[i].id)
                      : col == 1 ? num(v[i].zone)
                      : col == 2 ? dbl(v[i].x)
                      : col == 3 ? dbl(v[i].y)
                                 : num(v[i].played_s);
            off += (size_t)snprintf(b + off, cap - off, "%s%s", i ? "," : "", x.s);
        }
        b[off++] = '}';
        b[off++] = 0;
    }
    *buf = b;
    return 0;
}

/* A batch in one round trip (UPDATE ... FROM unnest()), one row alone. */
static int pg_save(content_db_t *db, const content_pos_t *v, size_t n)
{
    if (n > 1) {
        char *buf = NULL;
        const char *pv[5];
        int rc;
        if (batch_arrays(v, n, &buf, pv) != 0) {
            nc_log(NC_LOG_ERROR, TAG, "save: a batch of %zu characters: out of memory", n);
            rc = CONTENT_DB_RETRY; /* kept and retried (world_db.c) */
        } else {
            rc = run0(db, ST_SAVE_BATCH, 5, pv);
        }
        free(buf);
        return rc;
    }
    if (n == 0)
        return CONTENT_DB_OK;
    num_t id = num(v->id), z = num(v->zone), xs = dbl(v->x), ys = dbl(v->y), pl = num(v->played_s);
    const char *pv[] = {id.s, z.s, xs.s, ys.s, pl.s};
    return run0(db, ST_SAVE_POS, 5, pv);
}

static int pg_gold_get(content_db_t *db, int64_t id, int64_t *gold)
{
    return run_i(db, ST_GOLD_GET, 1, (int64_t[]){id}, NULL, gold);
}

static int pg_gold_set(content_db_t *db, int64_t id, int64_t gold)
{
    return run_i(db, ST_GOLD_SET, 2, (int64_t[]){id, gold}, NULL, NULL);
}

/* the statement's WHERE leaves the row unchanged on overflow */
static int pg_item_add(content_db_t *db, int64_t id, int32_t item, int32_t count)
{
    int rows, rc = run_i(db, ST_ITEM_ADD, 3, (int64_t[]){id, item, count}, &rows, NULL);
    return rc < 0 ? rc : rows;
}

static int pg_item_get(content_db_t *db, int64_t id, int32_t item, int64_t *count)
{
    return run_i(db, ST_ITEM_GET, 2, (int64_t[]){id, item}, NULL, count);
}

static int pg_fields_get(content_db_t *db, int64_t id, content_fields_t *out)
{
    num_t ids = num(id);
    const char *v[] = {ids.s};
    PGresult *r;
    int rc = run(db, ST_FIELDS_GET, 1, v, &r);
    int found = rc == CONTENT_DB_OK && PQntuples(r) == 1;
    for (int i = 0; found && i < CONTENT_FIELD_COUNT; i++)
        *content_field_ptr(out, i) = i64(r, 0, i + 1);
    PQclear(r);
    return rc == CONTENT_DB_OK ? found : rc;
}

static int pg_field_set(content_db_t *db, int64_t id, int field, int64_t v)
{
    int rows, rc = run_i(db, ST_FIELD_SET0 + field, 2, (int64_t[]){id, v}, &rows, NULL);
    return rc < 0 ? rc : rows;
}

static int pg_req_get(content_db_t *db, uint64_t req, int64_t *value)
{
    int rows, rc = run_i(db, ST_REQ_GET, 2, (int64_t[]){PG(db)->boot, (int64_t)req}, &rows, value);
    return rc < 0 ? rc : rows == 1;
}

/* Every 1024 requests, those older than the last REQ_KEEP go. */
static int pg_req_put(content_db_t *db, uint64_t req, int64_t value)
{
    int64_t boot = PG(db)->boot;
    int rc = run_i(db, ST_REQ_PUT, 3, (int64_t[]){boot, (int64_t)req, value}, NULL, NULL);
    if (rc == CONTENT_DB_OK && req % 1024 == 0 && req > REQ_KEEP)
        rc = run_i(db, ST_REQ_PRUNE, 2, (int64_t[]){boot, (int64_t)(req - REQ_KEEP)}, NULL, NULL);
    return rc;
}

static const content_db_driver_t pg_driver = {
    .name = "postgres",
    .close = pg_close,
    .user_version = pg_user_version,
    .connected = ensure,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .load = pg_load,
    .insert = pg_insert,
    .touch = pg_touch,
    .owner_get = pg_owner_get,
    .owner_set = pg_owner_set,
    .save = pg_save,
    .gold_get = pg_gold_get,
    .gold_set = pg_gold_set,
    .item_add = pg_item_add,
    .item_get = pg_item_get,
    .fields_get = pg_fields_get,
    .field_set = pg_field_set,
    .req_get = pg_req_get,
    .req_put = pg_req_put,
};

int content_db_pg_open(content_db_t *db, const content_db_opts_t *o, char *err, size_t errlen)
{
    const char *url = o->url ? o->url : "";
    int pw = has_password(url);
    if (pw != 0) {
        snprintf(err, errlen,
                 pw > 0 ? "database.url carries a password: refused. Put it in a libpq password "
                          "file (passfile=PATH in the url, or PGPASSFILE; mode 0600), never in "
                          "the config"
                        : "database.url is not a libpq conninfo (key=value ...) or "
                          "postgresql:// URL");
        return -1;
    }
    pg_t *p = calloc(1, sizeof *p);
    if (!p || strlen(url) >= sizeof p->url) {
        snprintf(err, errlen, p ? "database.url too long (at most %zu bytes)" : "out of memory",
                 sizeof p->url - 1);
        free(p);
        return -1;
    }
    snprintf(p->url, sizeof p->url, "%s", url);
    p->lock_timeout_ms = o->busy_timeout_ms ? o->busy_timeout_ms : 100;
    p->backoff_ms = BACKOFF_MIN_MS;
    p->c = connect_url(url);
    char why[512] = "";
    if (!p->c || PQstatus(p->c) != CONNECTION_OK) {
        snprintf(err, errlen, "character store (postgres): cannot connect: %s",
                 p->c ? PQerrorMessage(p->c) : "out of memory");
        goto fail;
    }
    if (migrate(p->c, err, errlen) != 0)
        goto fail;
    PGresult *r = PQexec(p->c, "SELECT nextval('content_boot')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        p->boot = i64(r, 0, 0);
    PQclear(r);
    if (p->boot <= 0) {
        snprintf(err, errlen, "character store (postgres): cannot draw a boot id: %s",
                 PQerrorMessage(p->c));
        goto fail;
    }
    /* the request ids of earlier handles: nobody resends those any more */
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM content_requests WHERE boot < %lld", (long long)p->boot);
    if (!exec_ok(p->c, sql) || prepare_all(p, p->c, why, sizeof why) != 0) {
        snprintf(err, errlen, "character store (postgres): %s",
                 why[0] ? why : PQerrorMessage(p->c));
        goto fail;
    }
    nc_log(NC_LOG_INFO, TAG, "character store: postgres %s:%s database %s (schema v%d)",
           PQhost(p->c), PQport(p->c), PQdb(p->c), CONTENT_DB_SCHEMA_VERSION);
    db->d = &pg_driver;
    db->drv = p;
    return 0;
fail:
    for (char *q = err; *q; q++)
        if (*q == '\n')
            *q = ' ';
    PQfinish(p->c);
    free(p);
    return -1;
}
