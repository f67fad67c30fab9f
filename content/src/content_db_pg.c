/* The character store on PostgreSQL (issue 16, NC_POSTGRES): the same
 * schema, operations and CONTENT_DB_* results as content_db.c's SQLite
 * driver, through libpq.
 *
 * Threading: called only from the `db` strand (queue cap 1): one connection,
 * one job at a time, so no lock.  libpq's blocking calls are fine there: the
 * strand exists to block on the database, its queue has its own thread cap,
 * and the zones, sessions and metrics never wait for it.
 *
 * Statements are prepared (PQprepare) once per connection and reused; a new
 * connection prepares them again.  Every operation is one explicit
 * transaction, committed before the call returns (synchronous_commit is the
 * server's, "on" by default: a COMMIT that returned is durable).
 *
 * Outages: a statement that finds the connection broken (or a server error
 * of a transient class: serialization, deadlock, lock timeout, read-only,
 * disk full, shutdown) returns CONTENT_DB_RETRY; a broken connection is
 * dropped and the next call reconnects, then after failures waits 50 ms
 * doubling to 1 s between attempts (world_db.c retries the request with its
 * own back-off meanwhile).
 *
 * Idempotency: a connection lost at COMMIT leaves the outcome unknown.  A
 * change that carries a request id (content_db_*_req) records it in
 * content_requests in its own transaction; the resend of that id first looks
 * it up and, if the first attempt committed, returns the committed value
 * without applying the change again.  Request ids are (boot, seq): boot is
 * drawn from a sequence once per handle, seq is the caller's. */
#include "content_db_pg.h"

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netcore.h"

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

enum { OP_OPEN, OP_LOGIN, OP_SAVE, OP_GOLD, OP_PROBE, OP_EXISTS, OP_CLAIM, OP_FIELD, OP_COUNT };
static const char *const op_name[OP_COUNT] = {"open",  "login",  "save",  "gold",
                                              "probe", "exists", "claim", "field"};

struct content_pg_s {
    PGconn *c; /* NULL while disconnected */
    char url[1024];
    uint32_t lock_timeout_ms;
    const char *fault_file;
    int64_t boot; /* request ids: (boot, seq) */
    uint64_t next_try_ms;
    uint32_t backoff_ms;
    int op;
    int unknown;          /* the last RETRY was a COMMIT without an answer */
    uint64_t unknown_req; /* and its request id (0: none) */
    int inject_kind, inject_result;
    uint32_t inject_left;
    uint32_t lose_commits; /* tests: COMMIT answers to drop */
    int file_lost;         /* tests: the fault file says "lostcommit" */
    int lose_armed;        /* tests: drop this transaction's COMMIT answer */
    nc_log_state_t lim[OP_COUNT], range_lim, conn_lim;
    /* read by the metrics thread: */
    content_db_meter_t m;
};

static uint64_t mono_us(void)
{
    return nc_now_ns() / 1000u;
}

static void record(content_pg_t *p, uint64_t t0, int ok)
{
    content_db_meter_record(&p->m, t0, ok);
}

/* The fault kind and result of a failed statement (r may be NULL). */
static int classify(content_pg_t *p, const PGresult *r, int *kind)
{
    if (!p->c || PQstatus(p->c) != CONNECTION_OK) {
        *kind = CONTENT_DB_F_IOERR;
        return CONTENT_DB_RETRY;
    }
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    *kind = CONTENT_DB_F_OTHER;
    if (!st)
        return CONTENT_DB_ERROR;
    if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") ||
        !strcmp(st, "57014"))
        *kind = CONTENT_DB_F_BUSY; /* serialization, deadlock, lock/statement timeout */
    else if (!strcmp(st, "55006"))
        *kind = CONTENT_DB_F_LOCKED;
    else if (!strcmp(st, "25006"))
        *kind = CONTENT_DB_F_READONLY; /* a standby, or default_transaction_read_only */
    else if (!strncmp(st, "53", 2))
        *kind = CONTENT_DB_F_FULL; /* disk full, out of memory, too many connections */
    else if (!strncmp(st, "08", 2) || !strncmp(st, "57P", 3) || !strncmp(st, "58", 2))
        *kind = CONTENT_DB_F_IOERR; /* connection, shutdown, system I/O */
    return *kind == CONTENT_DB_F_OTHER ? CONTENT_DB_ERROR : CONTENT_DB_RETRY;
}

/* Drops a broken connection: the next call reconnects at once. */
static void drop(content_pg_t *p)
{
    if (p->c && PQstatus(p->c) != CONNECTION_OK) {
        PQfinish(p->c);
        p->c = NULL;
        p->next_try_ms = 0;
    }
}

/* Counts and logs (one line a second per operation) a failed statement;
 * returns its CONTENT_DB_* result. */
static int fault(content_pg_t *p, const PGresult *r, const char *what)
{
    int kind;
    int result = classify(p, r, &kind);
    atomic_fetch_add(&p->m.faults[kind], 1);
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg[0])
        msg = p->c ? PQerrorMessage(p->c) : "not connected";
    char one[256];
    snprintf(one, sizeof one, "%s", msg);
    for (char *q = one; *q; q++)
        if (*q == '\n')
            *q = ' ';
    nc_log_limited(&p->lim[p->op], 1000, result == CONTENT_DB_RETRY ? NC_LOG_WARN : NC_LOG_ERROR,
                   TAG, "%s: %s failed: %s[%s, %s]", op_name[p->op], what, one,
                   content_db_fault_name[kind],
                   result == CONTENT_DB_RETRY ? "will retry" : "permanent");
    drop(p);
    return result;
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

/* The session settings and every statement, on a fresh connection. */
static int prepare_all(content_pg_t *p, PGconn *c, char *err, size_t errlen)
{
    char sql[160 + CONTENT_FIELD_COUNT * 40];
    snprintf(sql, sizeof sql, "SET lock_timeout = %u", (unsigned)p->lock_timeout_ms);
    if (!exec_ok(c, sql)) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        return -1;
    }
    /* the fields' UPDATEs first: a field without its column is named */
    for (int k = 0; k < ST_COUNT; k++) {
        int i = (k + ST_FIELD_SET0) % ST_COUNT;
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        const char *q = sql;
        if (i < ST_FIELDS_GET) {
            q = stmt_sql[i];
        } else if (i == ST_FIELDS_GET) {
            size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT id");
            for (int f = 0; f < CONTENT_FIELD_COUNT && n < sizeof sql; f++)
                n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", content_fields[f].name);
            if (n < sizeof sql)
                snprintf(sql + n, sizeof sql - n, " FROM characters WHERE id = $1");
        } else {
            snprintf(sql, sizeof sql, "UPDATE characters SET %s = $2 WHERE id = $1",
                     content_fields[i - ST_FIELD_SET0].name);
        }
        PGresult *r = PQprepare(c, name, q, 0, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            if (i >= ST_FIELD_SET0)
                snprintf(err, errlen,
                         "character field '%s' (char_fields.h) has no column in the database "
                         "(%s): add a migration step for it (content_db.c and content_db_pg.c)",
                         content_fields[i - ST_FIELD_SET0].name, PQerrorMessage(c));
            else
                snprintf(err, errlen, "prepare %d: %s", i, PQerrorMessage(c));
            return -1;
        }
    }
    return 0;
}

/* 1 connected (reconnected if it was due), 0 not (counted, logged). */
static int ensure(content_pg_t *p)
{
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
        atomic_fetch_add(&p->m.reconnects, 1);
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
static int run(content_pg_t *p, int st, int n, const char *const *v, PGresult **out)
{
    char name[16];
    snprintf(name, sizeof name, "c%d", st);
    PGresult *r = p->c ? PQexecPrepared(p->c, name, n, v, NULL, NULL, 0) : NULL;
    ExecStatusType s = PQresultStatus(r);
    if (r && (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)) {
        *out = r;
        return CONTENT_DB_OK;
    }
    int rc = fault(p, r, st < ST_FIELDS_GET ? stmt_name[st] : "field");
    PQclear(r);
    *out = NULL;
    return rc;
}

/* A statement whose rows do not matter. */
static int run0(content_pg_t *p, int st, int n, const char *const *v)
{
    PGresult *r;
    int rc = run(p, st, n, v, &r);
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

/* Transactions: begin counts a failed BEGIN itself; end commits when rc is
 * OK, rolls back otherwise, records the outcome and returns rc (or the
 * commit's fault: then p->unknown says the answer was lost). */
static int tx_begin(content_pg_t *p, int op, uint64_t t0)
{
    p->op = op;
    p->unknown = 0;
    int kind, result = CONTENT_DB_OK;
    if (p->inject_left > 0) {
        p->inject_left--;
        kind = p->inject_kind;
        result = p->inject_result;
    } else {
        int ff = content_db_fault_file(p->fault_file, &kind, &result);
        p->file_lost = ff == 1;
        if (ff != 0)
            result = CONTENT_DB_OK;
    }
    p->lose_armed = 0;
    if (result != CONTENT_DB_OK) {
        atomic_fetch_add(&p->m.faults[kind], 1);
        nc_log_limited(&p->lim[op], 1000, result == CONTENT_DB_RETRY ? NC_LOG_WARN : NC_LOG_ERROR,
                       TAG, "%s: begin (injected) failed: %s [%s, %s]", op_name[op],
                       content_db_fault_name[kind], content_db_fault_name[kind],
                       result == CONTENT_DB_RETRY ? "will retry" : "permanent");
        record(p, t0, 0);
        return result;
    }
    /* a connection the server closed while idle shows at BEGIN: nothing was
     * sent in it, so one immediate reconnect and second BEGIN is safe */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!ensure(p)) {
            atomic_fetch_add(&p->m.faults[CONTENT_DB_F_IOERR], 1);
            record(p, t0, 0);
            return CONTENT_DB_RETRY;
        }
        PGresult *r = PQexec(p->c, "BEGIN");
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
            return CONTENT_DB_OK;
        }
        if (attempt == 1 || PQstatus(p->c) == CONNECTION_OK) {
            int rc = fault(p, r, "begin");
            PQclear(r);
            record(p, t0, 0);
            return rc;
        }
        PQclear(r);
        drop(p);
    }
    return CONTENT_DB_RETRY; /* not reached */
}

static int tx_end(content_pg_t *p, uint64_t t0, int rc)
{
    if (rc == CONTENT_DB_OK && p->c && (p->lose_commits > 0 || p->lose_armed)) {
        if (p->lose_commits > 0) /* tests: committed, but the answer never arrives */
            p->lose_commits--;
        PQclear(PQexec(p->c, "COMMIT"));
        PQfinish(p->c);
        p->c = NULL;
        p->next_try_ms = 0;
        p->unknown = 1;
        atomic_fetch_add(&p->m.faults[CONTENT_DB_F_IOERR], 1);
        nc_log(NC_LOG_WARN, TAG, "%s: commit: answer lost (test hook) [ioerr, will retry]",
               op_name[p->op]);
        rc = CONTENT_DB_RETRY;
    } else if (rc == CONTENT_DB_OK && p->c) {
        PGresult *r = PQexec(p->c, "COMMIT");
        /* COMMIT of a failed transaction answers ROLLBACK, not an error */
        if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0) {
            if (PQstatus(p->c) != CONNECTION_OK)
                p->unknown = 1;
            rc = fault(p, r, "commit");
        }
        PQclear(r);
    } else if (p->c && PQstatus(p->c) == CONNECTION_OK) {
        PQclear(PQexec(p->c, "ROLLBACK")); /* a failed rollback leaves nothing to undo */
        drop(p);
    }
    if (rc == CONTENT_DB_RANGE)
        atomic_fetch_add(&p->m.range_refused, 1);
    record(p, t0,
           rc == CONTENT_DB_OK || rc == CONTENT_DB_REFUSED || rc == CONTENT_DB_RANGE ||
               rc == CONTENT_DB_NOT_OWNER);
    return rc;
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

int content_pg_open(const content_db_opts_t *o, content_pg_t **out, char *err, size_t errlen)
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
    content_pg_t *p = calloc(1, sizeof *p);
    if (!p || strlen(url) >= sizeof p->url) {
        snprintf(err, errlen, p ? "database.url too long (at most %zu bytes)" : "out of memory",
                 sizeof p->url - 1);
        free(p);
        return -1;
    }
    snprintf(p->url, sizeof p->url, "%s", url);
    p->lock_timeout_ms = o->busy_timeout_ms ? o->busy_timeout_ms : 100;
    p->fault_file = o->fault_file;
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
    *out = p;
    return 0;
fail:
    for (char *q = err; *q; q++)
        if (*q == '\n')
            *q = ' ';
    PQfinish(p->c);
    free(p);
    return -1;
}

void content_pg_close(content_pg_t *p)
{
    if (!p)
        return;
    PQfinish(p->c);
    free(p);
}

int content_pg_user_version(content_pg_t *p)
{
    if (!ensure(p))
        return -1;
    PGresult *r = PQexec(p->c, "SELECT coalesce(max(v), 0) FROM content_schema_version");
    int v =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    drop(p);
    return v;
}

/* ---- operations ---- */

/* 1 found, 0 not found, or a CONTENT_DB_* fault result (< 0). */
static int load_row(content_pg_t *p, const char *name, content_char_t *c)
{
    const char *v[] = {name};
    PGresult *r;
    int rc = run(p, ST_LOAD, 1, v, &r);
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

static int field_write(content_pg_t *p, int64_t char_id, int i, int64_t v)
{
    num_t id = num(char_id), val = num(v);
    const char *pv[] = {id.s, val.s};
    PGresult *r;
    int rc = run(p, ST_FIELD_SET0 + i, 2, pv, &r);
    if (rc == CONTENT_DB_OK)
        rc = changes(r) == 1 ? CONTENT_DB_OK : CONTENT_DB_REFUSED;
    PQclear(r);
    return rc;
}

/* OK, REFUSED (no such character) or the fault. */
static int fields_read(content_pg_t *p, int64_t char_id, content_fields_t *out)
{
    num_t id = num(char_id);
    const char *v[] = {id.s};
    PGresult *r;
    int rc = run(p, ST_FIELDS_GET, 1, v, &r);
    if (rc != CONTENT_DB_OK)
        return rc;
    if (PQntuples(r) != 1)
        rc = CONTENT_DB_REFUSED;
    else
        for (int i = 0; i < CONTENT_FIELD_COUNT; i++)
            *content_field_ptr(out, i) = i64(r, 0, i + 1);
    PQclear(r);
    return rc;
}

static int owner_ok(const content_login_t *who, const content_char_t *c)
{
    if (!who->checked)
        return 1;
    if (!c->has_owner)
        return who->legacy_ok;
    return c->account_id == who->account_id;
}

int content_pg_login(content_pg_t *p, const char *name, const content_login_t *who, int32_t zone,
                     float x, float y, int64_t now_ms, content_char_t *out)
{
    uint64_t t0 = mono_us();
    memset(out, 0, sizeof *out);
    int rc = tx_begin(p, OP_LOGIN, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    int found = load_row(p, name, out);
    rc = found < 0 ? found : CONTENT_DB_OK;
    if (found == 1 && !owner_ok(who, out))
        rc = CONTENT_DB_NOT_OWNER;
    int has_owner = out->has_owner;
    uint64_t owner = out->account_id;
    if (found == 0) {
        num_t z = num(zone), xs = dbl(x), ys = dbl(y), now = num(now_ms),
              acc = num((int64_t)who->account_id); /* the same 64 bits */
        const char *v[] = {name, z.s, xs.s, ys.s, now.s, who->checked ? acc.s : NULL};
        rc = run0(p, ST_INSERT, 6, v);
        if (rc == CONTENT_DB_OK) {
            found = load_row(p, name, out);
            rc = found < 0 ? found : found == 1 ? CONTENT_DB_OK : CONTENT_DB_ERROR;
        }
        out->created_now = rc == CONTENT_DB_OK;
        for (int i = 0; i < CONTENT_FIELD_COUNT && rc == CONTENT_DB_OK; i++)
            rc = field_write(p, out->id, i, content_fields[i].def);
    }
    if (rc == CONTENT_DB_OK)
        rc = fields_read(p, out->id, &out->f);
    if (rc == CONTENT_DB_OK) {
        num_t id = num(out->id), now = num(now_ms);
        const char *v[] = {id.s, now.s};
        rc = run0(p, ST_TOUCH, 2, v);
    }
    rc = tx_end(p, t0, rc);
    if (rc == CONTENT_DB_OK) {
        out->last_login_ms = now_ms;
    } else {
        memset(out, 0, sizeof *out);
        out->has_owner = has_owner;
        out->account_id = owner;
    }
    return rc;
}

int content_pg_claim(content_pg_t *p, const char *name, uint64_t account_id, int *outcome,
                     uint64_t *prev_owner)
{
    uint64_t t0 = mono_us();
    *outcome = CONTENT_CLAIM_NO_SUCH;
    *prev_owner = 0;
    int rc = tx_begin(p, OP_CLAIM, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    const char *v[] = {name};
    PGresult *r;
    rc = run(p, ST_OWNER_GET, 1, v, &r);
    if (rc == CONTENT_DB_OK && PQntuples(r) == 1) {
        int64_t id = i64(r, 0, 0);
        if (!PQgetisnull(r, 0, 1)) {
            uint64_t owner = (uint64_t)i64(r, 0, 1);
            *prev_owner = owner;
            *outcome = owner == account_id ? CONTENT_CLAIM_ALREADY : CONTENT_CLAIM_OWNED;
        } else {
            num_t ids = num(id), acc = num((int64_t)account_id);
            const char *w[] = {ids.s, acc.s};
            rc = run0(p, ST_OWNER_SET, 2, w);
            if (rc == CONTENT_DB_OK)
                *outcome = CONTENT_CLAIM_DONE;
        }
    }
    PQclear(r);
    return tx_end(p, t0, rc);
}

int content_pg_exists(content_pg_t *p, const char *name, int *exists)
{
    uint64_t t0 = mono_us();
    content_char_t scratch;
    p->op = OP_EXISTS;
    *exists = 0;
    if (!ensure(p)) {
        atomic_fetch_add(&p->m.faults[CONTENT_DB_F_IOERR], 1);
        record(p, t0, 0);
        return CONTENT_DB_RETRY;
    }
    int found = load_row(p, name, &scratch);
    record(p, t0, found >= 0);
    *exists = found == 1;
    return found < 0 ? found : CONTENT_DB_OK;
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

int content_pg_save_positions(content_pg_t *p, const content_pos_t *v, size_t n)
{
    uint64_t t0 = mono_us();
    int rc = tx_begin(p, OP_SAVE, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    if (n > 1) {
        char *buf = NULL;
        const char *pv[5];
        if (batch_arrays(v, n, &buf, pv) != 0) {
            nc_log(NC_LOG_ERROR, TAG, "save: a batch of %zu characters: out of memory", n);
            rc = CONTENT_DB_RETRY; /* kept and retried (world_db.c) */
        } else {
            rc = run0(p, ST_SAVE_BATCH, 5, pv);
        }
        free(buf);
        n = 0;
    }
    for (size_t i = 0; i < n && rc == CONTENT_DB_OK; i++) {
        num_t id = num(v[i].id), z = num(v[i].zone), xs = dbl(v[i].x), ys = dbl(v[i].y),
              pl = num(v[i].played_s);
        const char *pv[] = {id.s, z.s, xs.s, ys.s, pl.s};
        rc = run0(p, ST_SAVE_POS, 5, pv);
    }
    return tx_end(p, t0, rc);
}

/* Inside the transaction: 1 and *value when request req was committed
 * before (its answer lost), 0 not, or the fault. */
static int req_done(content_pg_t *p, uint64_t req, int64_t *value)
{
    if (req == 0 || req != p->unknown_req)
        return 0;
    num_t b = num(p->boot), s = num((int64_t)req);
    const char *v[] = {b.s, s.s};
    PGresult *r;
    int rc = run(p, ST_REQ_GET, 2, v, &r);
    if (rc != CONTENT_DB_OK)
        return rc;
    int found = PQntuples(r) == 1;
    if (found)
        *value = i64(r, 0, 0);
    PQclear(r);
    nc_log(NC_LOG_INFO, TAG, "request %llu: the commit whose answer was lost %s",
           (unsigned long long)req, found ? "happened: not applied again" : "did not happen");
    return found;
}

/* Inside the transaction: remembers request req's committed value. */
static int req_put(content_pg_t *p, uint64_t req, int64_t value)
{
    if (req == 0)
        return CONTENT_DB_OK;
    p->lose_armed = p->file_lost; /* tests: database.fault_file "lostcommit" */
    num_t b = num(p->boot), s = num((int64_t)req), val = num(value);
    const char *v[] = {b.s, s.s, val.s};
    int rc = run0(p, ST_REQ_PUT, 3, v);
    if (rc == CONTENT_DB_OK && req % 1024 == 0 && req > REQ_KEEP) {
        num_t old = num((int64_t)(req - REQ_KEEP));
        const char *w[] = {b.s, old.s};
        rc = run0(p, ST_REQ_PRUNE, 2, w);
    }
    return rc;
}

/* The end of a change that carries req: a lost COMMIT answer is
 * remembered for the resend; any other outcome settles it. */
static int req_end(content_pg_t *p, uint64_t req, int rc)
{
    if (req && rc == CONTENT_DB_RETRY && p->unknown)
        p->unknown_req = req;
    else if (req && req == p->unknown_req && rc != CONTENT_DB_RETRY)
        p->unknown_req = 0;
    return rc;
}

static int gold_apply(content_pg_t *p, int64_t char_id, int64_t delta, int64_t *balance)
{
    num_t id = num(char_id);
    const char *v[] = {id.s};
    PGresult *r;
    int rc = run(p, ST_GOLD_GET, 1, v, &r);
    if (rc != CONTENT_DB_OK)
        return rc;
    int64_t g = PQntuples(r) == 1 ? i64(r, 0, 0) : 0, n;
    PQclear(r);
    if (__builtin_add_overflow(g, delta, &n)) {
        nc_log_limited(&p->range_lim, 1000, NC_LOG_WARN, TAG,
                       "gold: character %lld: %lld %+lld overflows; refused", (long long)char_id,
                       (long long)g, (long long)delta);
        return CONTENT_DB_RANGE;
    }
    if (n < 0)
        return CONTENT_DB_REFUSED;
    num_t ns = num(n);
    const char *w[] = {id.s, ns.s};
    if ((rc = run0(p, ST_GOLD_SET, 2, w)) != CONTENT_DB_OK)
        return rc;
    *balance = n;
    return CONTENT_DB_OK;
}

int content_pg_wallet(content_pg_t *p, uint64_t req, int64_t char_id, int64_t delta, int32_t item,
                      int32_t count, int64_t *balance)
{
    if (count < 0) { /* content_db.c: a negative price or count */
        atomic_fetch_add(&p->m.range_refused, 1);
        return CONTENT_DB_RANGE;
    }
    uint64_t t0 = mono_us();
    int64_t bal = 0;
    int rc = tx_begin(p, OP_GOLD, t0);
    if (rc != CONTENT_DB_OK)
        return req_end(p, req, rc);
    int done = req_done(p, req, &bal);
    rc = done < 0 ? done : CONTENT_DB_OK;
    if (done == 0)
        rc = gold_apply(p, char_id, delta, &bal);
    if (done == 0 && rc == CONTENT_DB_OK && count > 0) {
        num_t id = num(char_id), it = num(item), cn = num(count);
        const char *v[] = {id.s, it.s, cn.s};
        PGresult *r;
        rc = run(p, ST_ITEM_ADD, 3, v, &r);
        if (rc == CONTENT_DB_OK && changes(r) == 0) {
            nc_log_limited(&p->range_lim, 1000, NC_LOG_WARN, TAG,
                           "item: character %lld: item %d %+d overflows; refused",
                           (long long)char_id, (int)item, (int)count);
            rc = CONTENT_DB_RANGE;
        }
        PQclear(r);
    }
    if (done == 0 && rc == CONTENT_DB_OK)
        rc = req_put(p, req, bal);
    rc = req_end(p, req, tx_end(p, t0, rc));
    if (rc == CONTENT_DB_OK)
        *balance = bal;
    return rc;
}

int content_pg_field_update(content_pg_t *p, uint64_t req, int64_t char_id, int field, int is_delta,
                            int64_t v, int64_t *value)
{
    if (field < 0 || field >= CONTENT_FIELD_COUNT)
        return CONTENT_DB_REFUSED;
    const content_field_info_t *fi = &content_fields[field];
    uint64_t t0 = mono_us();
    int rc = tx_begin(p, OP_FIELD, t0);
    if (rc != CONTENT_DB_OK)
        return req_end(p, req, rc);
    content_fields_t f;
    int64_t *cur = content_field_ptr(&f, field), n = v;
    int done = req_done(p, req, &n);
    rc = done < 0 ? done : CONTENT_DB_OK;
    if (done == 0) {
        rc = fields_read(p, char_id, &f);
        if (rc == CONTENT_DB_OK && is_delta && __builtin_add_overflow(*cur, v, &n))
            rc = CONTENT_DB_RANGE;
        if (rc == CONTENT_DB_OK && (n < fi->min || n > fi->max))
            rc = CONTENT_DB_RANGE;
        if (rc == CONTENT_DB_RANGE)
            nc_log_limited(&p->range_lim, 1000, NC_LOG_WARN, TAG,
                           "%s: character %lld: %s%lld outside [%lld, %lld]; refused", fi->name,
                           (long long)char_id, is_delta ? "+" : "", (long long)v,
                           (long long)fi->min, (long long)fi->max);
        if (rc == CONTENT_DB_OK)
            rc = field_write(p, char_id, field, n);
        if (rc == CONTENT_DB_OK)
            rc = req_put(p, req, n);
    }
    rc = req_end(p, req, tx_end(p, t0, rc));
    if (rc == CONTENT_DB_OK)
        *value = n;
    return rc;
}

int content_pg_fields_get(content_pg_t *p, int64_t char_id, content_fields_t *out)
{
    uint64_t t0 = mono_us();
    p->op = OP_FIELD;
    if (!ensure(p)) {
        atomic_fetch_add(&p->m.faults[CONTENT_DB_F_IOERR], 1);
        record(p, t0, 0);
        return CONTENT_DB_RETRY;
    }
    int rc = fields_read(p, char_id, out);
    record(p, t0, rc == CONTENT_DB_OK || rc == CONTENT_DB_REFUSED);
    return rc;
}

int content_pg_probe(content_pg_t *p)
{
    uint64_t t0 = mono_us();
    int rc = tx_begin(p, OP_PROBE, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    PQclear(PQexec(p->c, "ROLLBACK"));
    drop(p);
    return CONTENT_DB_OK;
}

int64_t content_pg_item_count(content_pg_t *p, int64_t char_id, int32_t item)
{
    if (!ensure(p))
        return 0;
    num_t id = num(char_id), it = num(item);
    const char *v[] = {id.s, it.s};
    PGresult *r;
    int64_t n = 0;
    if (run(p, ST_ITEM_GET, 2, v, &r) == CONTENT_DB_OK && PQntuples(r) == 1)
        n = i64(r, 0, 0);
    PQclear(r);
    return n;
}

int content_pg_outcome_unknown(content_pg_t *p)
{
    return p->unknown;
}

void content_pg_lose_commit_answers(content_pg_t *p, uint32_t count)
{
    p->lose_commits = count;
}

void content_pg_inject_fault(content_pg_t *p, int kind, int result, uint32_t count)
{
    p->inject_kind = kind;
    p->inject_result = result;
    p->inject_left = count;
}

void content_pg_stats(content_pg_t *p, content_db_stats_t *out)
{
    content_db_meter_read(&p->m, out);
}
