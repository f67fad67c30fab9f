/* SQLite persistence: schema migrations by PRAGMA user_version, prepared
 * statements reused for the life of the connection, explicit transactions
 * for batches and for every gold/item change.  A handle opened with
 * CONTENT_DB_POSTGRES forwards every call to content_db_pg.c (issue 16). */
#include "content_db.h"
#include "content_db_pg.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netcore.h"

#define TAG "db"

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_LOAD,
    ST_INSERT,
    ST_TOUCH,
    ST_SAVE_POS,
    ST_GOLD_GET,
    ST_GOLD_SET,
    ST_ITEM_ADD,
    ST_ITEM_GET,
    ST_OWNER_GET,
    ST_OWNER_SET,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_LOAD] = "SELECT c.id, c.name, c.zone, c.x, c.y, c.created, c.last_login, c.played_time,"
                " COALESCE(w.gold, 0), c.account_id"
                " FROM characters c LEFT JOIN wallet w ON w.char_id = c.id"
                " WHERE c.name = ?1",
    [ST_INSERT] = "INSERT INTO characters(name, zone, x, y, created, last_login, played_time,"
                  " account_id) VALUES(?1, ?2, ?3, ?4, ?5, ?5, 0, ?6)",
    [ST_TOUCH] = "UPDATE characters SET last_login = ?2 WHERE id = ?1",
    [ST_SAVE_POS] = "UPDATE characters SET zone = ?2, x = ?3, y = ?4, played_time = ?5"
                    " WHERE id = ?1",
    [ST_GOLD_GET] = "SELECT gold FROM wallet WHERE char_id = ?1",
    [ST_GOLD_SET] = "INSERT INTO wallet(char_id, gold) VALUES(?1, ?2)"
                    " ON CONFLICT(char_id) DO UPDATE SET gold = excluded.gold",
    /* the WHERE keeps count + n within int64: no row changes on overflow */
    [ST_ITEM_ADD] = "INSERT INTO inventory(char_id, item, count) VALUES(?1, ?2, ?3)"
                    " ON CONFLICT(char_id, item) DO UPDATE SET count = count + excluded.count"
                    " WHERE count <= 9223372036854775807 - excluded.count",
    [ST_ITEM_GET] = "SELECT count FROM inventory WHERE char_id = ?1 AND item = ?2",
    /* accounts (issue 13): NULL account_id = a legacy (unowned) character */
    [ST_OWNER_GET] = "SELECT id, account_id FROM characters WHERE name = ?1",
    [ST_OWNER_SET] = "UPDATE characters SET account_id = ?2 WHERE id = ?1",
};

/* Migration i brings user_version from i to i + 1; append, never edit. */
static const char *const migrations[] = {
    "CREATE TABLE characters("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, zone INTEGER NOT NULL,"
    " x REAL NOT NULL, y REAL NOT NULL, created INTEGER NOT NULL,"
    " last_login INTEGER NOT NULL, played_time INTEGER NOT NULL DEFAULT 0);",
    "CREATE TABLE wallet(char_id INTEGER PRIMARY KEY REFERENCES characters(id),"
    " gold INTEGER NOT NULL DEFAULT 0 CHECK(gold >= 0));"
    "CREATE TABLE inventory(char_id INTEGER NOT NULL REFERENCES characters(id),"
    " item INTEGER NOT NULL, count INTEGER NOT NULL CHECK(count >= 0),"
    " PRIMARY KEY(char_id, item));",
    /* issue 13: characters belong to accounts (the login server's account
     * ids); the ones created before have none: "legacy" until claimed */
    ("ALTER TABLE characters ADD COLUMN account_id INTEGER;"
     "CREATE INDEX characters_by_account ON characters(account_id);"),
    /* issue 14: the declared fields of char_fields.h, one column each (a
     * fork adding a field appends its ALTER TABLE here) */
    "ALTER TABLE characters ADD COLUMN level INTEGER NOT NULL DEFAULT 1;",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == CONTENT_DB_SCHEMA_VERSION,
               "one migration step per schema version: appended a step? bump "
               "CONTENT_DB_SCHEMA_VERSION in content_db.h (and the other way round)");

const double content_db_bucket_ms[8] = {0.1, 0.5, 1, 5, 10, 50, 100, 1e300};

_Static_assert(CONTENT_DB_F_COUNT == 6, "content.h declares content_db_fault_name[6]");
const char *const content_db_fault_name[CONTENT_DB_F_COUNT] = {"busy", "locked", "readonly",
                                                               "full", "ioerr",  "other"};

/* Operations, for logs (one rate-limited line per second each). */
enum { OP_OPEN, OP_LOGIN, OP_SAVE, OP_GOLD, OP_PROBE, OP_EXISTS, OP_CLAIM, OP_FIELD, OP_COUNT };
static const char *const op_name[OP_COUNT] = {"open",  "login",  "save",  "gold",
                                              "probe", "exists", "claim", "field"};

struct content_db_s {
    content_pg_t *pg; /* CONTENT_DB_POSTGRES: every call goes there */
    sqlite3 *h;
    sqlite3_stmt *st[ST_COUNT];
    /* generated from char_fields.h at open: one SELECT of every field, one
     * UPDATE per field */
    sqlite3_stmt *fields_get, *field_set[CONTENT_FIELD_COUNT];
    content_db_opts_t o;
    int op; /* OP_* of the transaction in progress */
    /* db strand only: */
    nc_log_state_t lim[OP_COUNT], range_lim;
    int inject_rc;
    uint32_t inject_left;
    /* read by the metrics thread: */
    content_db_meter_t m;
};

static int fault_kind(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY: return CONTENT_DB_F_BUSY;
    case SQLITE_LOCKED: return CONTENT_DB_F_LOCKED;
    case SQLITE_READONLY: return CONTENT_DB_F_READONLY;
    case SQLITE_FULL: return CONTENT_DB_F_FULL;
    case SQLITE_IOERR: return CONTENT_DB_F_IOERR;
    default: return CONTENT_DB_F_OTHER;
    }
}

/* Counts a failed statement and logs it, at most one line per second per
 * operation; returns the CONTENT_DB_* result it maps to. */
static int fault(content_db_t *db, int rc, const char *what)
{
    int kind = fault_kind(rc);
    atomic_fetch_add(&db->m.faults[kind], 1);
    int result = kind == CONTENT_DB_F_OTHER ? CONTENT_DB_ERROR : CONTENT_DB_RETRY;
    nc_log_limited(&db->lim[db->op], 1000, result == CONTENT_DB_RETRY ? NC_LOG_WARN : NC_LOG_ERROR,
                   TAG, "%s: %s failed: %s [%s, %s]", op_name[db->op], what, sqlite3_errstr(rc),
                   content_db_fault_name[kind],
                   result == CONTENT_DB_RETRY ? "will retry" : "permanent");
    return result;
}

static int fault_from_name(const char *s)
{
    static const struct {
        const char *n;
        int rc;
    } map[] = {{"busy", SQLITE_BUSY}, {"locked", SQLITE_LOCKED}, {"readonly", SQLITE_READONLY},
               {"full", SQLITE_FULL}, {"ioerr", SQLITE_IOERR},   {"corrupt", SQLITE_CORRUPT}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(s, map[i].n, strlen(map[i].n)) == 0)
            return map[i].rc;
    return SQLITE_IOERR;
}

void content_db_fault_of_sqlite(int rc, int *kind, int *result)
{
    *kind = fault_kind(rc);
    *result = *kind == CONTENT_DB_F_OTHER ? CONTENT_DB_ERROR : CONTENT_DB_RETRY;
}

int content_db_fault_file(const char *file, int *kind, int *result)
{
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f)
        return -1;
    char word[32] = "";
    if (!fgets(word, sizeof word, f))
        word[0] = 0;
    fclose(f);
    if (strncmp(word, "lostcommit", 10) == 0)
        return 1;
    content_db_fault_of_sqlite(fault_from_name(word), kind, result);
    return 0;
}

/* Test hooks: an injected fault, or one named in o.fault_file. */
static int injected(content_db_t *db)
{
    if (db->inject_left > 0) {
        db->inject_left--;
        return db->inject_rc;
    }
    if (!db->o.fault_file)
        return SQLITE_OK;
    FILE *f = fopen(db->o.fault_file, "r");
    if (!f)
        return SQLITE_OK;
    char word[32] = "";
    if (!fgets(word, sizeof word, f))
        word[0] = 0;
    fclose(f);
    if (strncmp(word, "lostcommit", 10) == 0)
        return SQLITE_OK; /* PostgreSQL only: a SQLite COMMIT's answer is never lost */
    return fault_from_name(word);
}

static uint64_t mono_us(void)
{
    return nc_now_ns() / 1000u;
}

void content_db_meter_record(content_db_meter_t *m, uint64_t t0, int ok)
{
    uint64_t us = mono_us() - t0;
    atomic_fetch_add(&m->ops, 1);
    atomic_fetch_add(&m->total_us, us);
    if (!ok)
        atomic_fetch_add(&m->errors, 1);
    for (int i = 0; i < 8; i++)
        if ((double)us / 1000.0 <= content_db_bucket_ms[i])
            atomic_fetch_add(&m->buckets[i], 1);
}

void content_db_meter_read(content_db_meter_t *m, content_db_stats_t *out)
{
    out->ops = atomic_load(&m->ops);
    out->errors = atomic_load(&m->errors);
    out->total_us = atomic_load(&m->total_us);
    for (int i = 0; i < CONTENT_DB_F_COUNT; i++)
        out->faults[i] = atomic_load(&m->faults[i]);
    out->range_refused = atomic_load(&m->range_refused);
    for (int i = 0; i < 8; i++)
        out->buckets[i] = atomic_load(&m->buckets[i]);
    out->reconnects = atomic_load(&m->reconnects);
}

static void record(content_db_t *db, uint64_t t0, int ok)
{
    content_db_meter_record(&db->m, t0, ok);
}

static const char *const stmt_name[ST_COUNT] = {
    [ST_BEGIN] = "begin",           [ST_COMMIT] = "commit",
    [ST_ROLLBACK] = "rollback",     [ST_LOAD] = "load",
    [ST_INSERT] = "insert",         [ST_TOUCH] = "touch",
    [ST_SAVE_POS] = "save",         [ST_GOLD_GET] = "gold read",
    [ST_GOLD_SET] = "gold write",   [ST_ITEM_ADD] = "item write",
    [ST_ITEM_GET] = "item read",    [ST_OWNER_GET] = "owner read",
    [ST_OWNER_SET] = "owner write",
};

/* One statement that returns no row: CONTENT_DB_OK or the fault's result. */
static int exec1(content_db_t *db, int which)
{
    sqlite3_stmt *s = db->st[which];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? CONTENT_DB_OK : fault(db, rc, stmt_name[which]);
}

/* Transactions.  tx_begin records a failed BEGIN itself; tx_end commits
 * when rc is OK and rolls back otherwise, records the outcome and returns
 * rc (or the commit's fault). */
static int tx_begin(content_db_t *db, int op, uint64_t t0)
{
    db->op = op;
    int inj = injected(db);
    int rc = inj != SQLITE_OK ? fault(db, inj, "begin (injected)") : exec1(db, ST_BEGIN);
    if (rc != CONTENT_DB_OK)
        record(db, t0, 0);
    return rc;
}

static int tx_end(content_db_t *db, uint64_t t0, int rc)
{
    if (rc == CONTENT_DB_OK)
        rc = exec1(db, ST_COMMIT);
    if (rc != CONTENT_DB_OK && !sqlite3_get_autocommit(db->h)) {
        sqlite3_stmt *s = db->st[ST_ROLLBACK]; /* a failed rollback leaves nothing to undo */
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    if (rc == CONTENT_DB_RANGE)
        atomic_fetch_add(&db->m.range_refused, 1);
    record(db, t0,
           rc == CONTENT_DB_OK || rc == CONTENT_DB_REFUSED || rc == CONTENT_DB_RANGE ||
               rc == CONTENT_DB_NOT_OWNER);
    return rc;
}

/* The statements generated from the declared fields.  A field without its
 * column (a migration step forgotten) stops the start with its name. */
static int prepare_fields(content_db_t *db, char *err, size_t errlen)
{
    char sql[96 + CONTENT_FIELD_COUNT * 40];
    size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT id");
    for (int i = 0; i < CONTENT_FIELD_COUNT; i++) {
        char one[96];
        snprintf(one, sizeof one, "UPDATE characters SET %s = ?2 WHERE id = ?1",
                 content_fields[i].name);
        if (sqlite3_prepare_v3(db->h, one, -1, SQLITE_PREPARE_PERSISTENT, &db->field_set[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen,
                     "character field '%s' (char_fields.h) has no column in the database (%s): "
                     "add a migration step for it (content_db.c, migrations[])",
                     content_fields[i].name, sqlite3_errmsg(db->h));
            return -1;
        }
        if (n < sizeof sql)
            n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", content_fields[i].name);
    }
    if (n < sizeof sql)
        n += (size_t)snprintf(sql + n, sizeof sql - n, " FROM characters WHERE id = ?1");
    if (n >= sizeof sql || sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                              &db->fields_get, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "character fields: cannot prepare the load: %s",
                 sqlite3_errmsg(db->h));
        return -1;
    }
    return 0;
}

static int migrate(content_db_t *db, char *err, size_t errlen)
{
    int v = content_db_user_version(db);
    if (v < 0 || v > CONTENT_DB_SCHEMA_VERSION) {
        snprintf(err, errlen, "database schema version %d is newer than this server (%d)", v,
                 CONTENT_DB_SCHEMA_VERSION);
        return -1;
    }
    for (; v < CONTENT_DB_SCHEMA_VERSION; v++) {
        char sql[64], *msg = NULL;
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; COMMIT;", v + 1);
        if (sqlite3_exec(db->h, "BEGIN IMMEDIATE;", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db->h, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "migration to version %d failed: %s", v + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

/* A file that exists but cannot be opened for writing.  SQLite would open
 * it read-only: the database then answers SQLITE_READONLY forever, and a
 * read-only -shm is mapped read-only and kills the process with SIGBUS. */
static int unwritable(const char *path, const char *suffix, char *err, size_t errlen)
{
    char p[1200];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    FILE *f = fopen(p, "rb");
    if (!f)
        return 0; /* absent: SQLite creates it (and says so if it cannot) */
    fclose(f);
    f = fopen(p, "r+b");
    if (f) {
        fclose(f);
        return 0;
    }
    snprintf(err, errlen,
             "%s exists but cannot be opened for writing; fix its permissions (the server "
             "needs to write the database, its -wal and its -shm file)",
             p);
    return -1;
}

int content_db_open(const char *path, content_db_t **out, char *err, size_t errlen)
{
    content_db_opts_t o = CONTENT_DB_OPTS_DEFAULT;
    return content_db_open_opts(path, &o, out, err, errlen);
}

int content_db_open_opts(const char *path, const content_db_opts_t *o, content_db_t **out,
                         char *err, size_t errlen)
{
    if (o->driver == CONTENT_DB_POSTGRES) {
        content_db_t *db = calloc(1, sizeof *db);
        if (!db) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (content_pg_open(o, &db->pg, err, errlen) != 0) {
            free(db);
            return -1;
        }
        *out = db;
        return 0;
    }
    if (unwritable(path, "", err, errlen) || unwritable(path, "-wal", err, errlen) ||
        unwritable(path, "-shm", err, errlen))
        return -1;
    content_db_t *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    db->o = *o;
    db->op = OP_OPEN;
    const char *what = "open";
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        goto fail;
    if (sqlite3_db_readonly(db->h, "main") == 1) {
        snprintf(err, errlen, "%s is read-only; the server needs to write it", path);
        content_db_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db->h, 5000); /* start-up may wait for a lock; jobs later may not */
    what = "pragmas";
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;",
             o->synchronous_full ? "FULL" : "NORMAL");
    if (sqlite3_exec(db->h, pragmas, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (migrate(db, err, errlen) != 0) {
        content_db_close(db);
        return -1;
    }
    what = "prepare";
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(db->h, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
                               NULL) != SQLITE_OK)
            goto fail;
    if (prepare_fields(db, err, errlen) != 0) {
        content_db_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db->h, (int)(o->busy_timeout_ms > 60000 ? 60000 : o->busy_timeout_ms));
    *out = db;
    return 0;
fail:
    snprintf(err, errlen, "%s %s: %s", what, path, db->h ? sqlite3_errmsg(db->h) : "?");
    content_db_close(db);
    return -1;
}

void content_db_close(content_db_t *db)
{
    if (!db)
        return;
    if (db->pg) {
        content_pg_close(db->pg);
        free(db);
        return;
    }
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(db->st[i]);
    sqlite3_finalize(db->fields_get);
    for (int i = 0; i < CONTENT_FIELD_COUNT; i++)
        sqlite3_finalize(db->field_set[i]);
    if (db->h) {
        sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(db->h);
    }
    free(db);
}

int content_db_user_version(content_db_t *db)
{
    if (db->pg)
        return content_pg_user_version(db->pg);
    sqlite3_stmt *s;
    int v = -1;
    if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* 1 found, 0 not found, or a CONTENT_DB_* fault result (< 0). */
static int load_row(content_db_t *db, const char *name, content_char_t *c)
{
    sqlite3_stmt *s = db->st[ST_LOAD];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *n = sqlite3_column_text(s, 1);
        c->id = sqlite3_column_int64(s, 0);
        snprintf(c->name, sizeof c->name, "%s", n ? (const char *)n : "");
        c->zone = sqlite3_column_int(s, 2);
        c->x = (float)sqlite3_column_double(s, 3);
        c->y = (float)sqlite3_column_double(s, 4);
        c->created_ms = sqlite3_column_int64(s, 5);
        c->last_login_ms = sqlite3_column_int64(s, 6);
        c->played_s = sqlite3_column_int64(s, 7);
        c->gold = sqlite3_column_int64(s, 8);
        c->has_owner = sqlite3_column_type(s, 9) != SQLITE_NULL;
        c->account_id = c->has_owner ? (uint64_t)sqlite3_column_int64(s, 9) : 0;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : fault(db, rc, stmt_name[ST_LOAD]);
}

/* owner: the account a new character belongs to, or NULL (nobody). */
static int insert_row(content_db_t *db, const char *name, int32_t zone, float x, float y,
                      int64_t now_ms, const uint64_t *owner)
{
    sqlite3_stmt *s = db->st[ST_INSERT];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, zone);
    sqlite3_bind_double(s, 3, x);
    sqlite3_bind_double(s, 4, y);
    sqlite3_bind_int64(s, 5, now_ms);
    if (owner) /* stored as the same 64 bits: ids above INT64_MAX read back equal */
        sqlite3_bind_int64(s, 6, (int64_t)*owner);
    else
        sqlite3_bind_null(s, 6);
    return exec1(db, ST_INSERT);
}

/* Declared fields (char_fields.h).  Inside a transaction (or alone). */
static int field_write(content_db_t *db, int64_t char_id, int i, int64_t v)
{
    sqlite3_stmt *s = db->field_set[i];
    sqlite3_bind_int64(s, 1, char_id);
    sqlite3_bind_int64(s, 2, v);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fault(db, rc, "field write");
    return sqlite3_changes(db->h) == 1 ? CONTENT_DB_OK : CONTENT_DB_REFUSED;
}

static int fields_write_defaults(content_db_t *db, int64_t char_id)
{
    int rc = CONTENT_DB_OK;
    for (int i = 0; i < CONTENT_FIELD_COUNT && rc == CONTENT_DB_OK; i++)
        rc = field_write(db, char_id, i, content_fields[i].def);
    return rc;
}

/* OK, REFUSED (no such character) or the fault. */
static int fields_read(content_db_t *db, int64_t char_id, content_fields_t *out)
{
    sqlite3_stmt *s = db->fields_get;
    sqlite3_bind_int64(s, 1, char_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        for (int i = 0; i < CONTENT_FIELD_COUNT; i++)
            *content_field_ptr(out, i) = sqlite3_column_int64(s, i + 1);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return CONTENT_DB_OK;
    return rc == SQLITE_DONE ? CONTENT_DB_REFUSED : fault(db, rc, "field read");
}

/* The owner rules for an existing character (content_db.h). */
static int owner_ok(const content_login_t *who, const content_char_t *c)
{
    if (!who->checked)
        return 1;
    if (!c->has_owner)
        return who->legacy_ok;
    return c->account_id == who->account_id;
}

int content_db_load_or_create(content_db_t *db, const char *name, int32_t zone, float x, float y,
                              int64_t now_ms, content_char_t *out)
{
    const content_login_t anyone = {.checked = 0, .legacy_ok = 1};
    return content_db_login(db, name, &anyone, zone, x, y, now_ms, out);
}

int content_db_login(content_db_t *db, const char *name, const content_login_t *who, int32_t zone,
                     float x, float y, int64_t now_ms, content_char_t *out)
{
    if (db->pg)
        return content_pg_login(db->pg, name, who, zone, x, y, now_ms, out);
    uint64_t t0 = mono_us();
    memset(out, 0, sizeof *out);
    int rc = tx_begin(db, OP_LOGIN, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    int found = load_row(db, name, out);
    rc = found < 0 ? found : CONTENT_DB_OK;
    if (found == 1 && !owner_ok(who, out))
        rc = CONTENT_DB_NOT_OWNER;
    int has_owner = out->has_owner;
    uint64_t owner = out->account_id;
    if (found == 0) {
        rc = insert_row(db, name, zone, x, y, now_ms, who->checked ? &who->account_id : NULL);
        if (rc == CONTENT_DB_OK) {
            found = load_row(db, name, out);
            rc = found < 0 ? found : found == 1 ? CONTENT_DB_OK : CONTENT_DB_ERROR;
        }
        out->created_now = rc == CONTENT_DB_OK;
        if (rc == CONTENT_DB_OK) /* the declared defaults, not the column's */
            rc = fields_write_defaults(db, out->id);
    }
    if (rc == CONTENT_DB_OK)
        rc = fields_read(db, out->id, &out->f);
    if (rc == CONTENT_DB_OK) {
        sqlite3_stmt *s = db->st[ST_TOUCH];
        sqlite3_bind_int64(s, 1, out->id);
        sqlite3_bind_int64(s, 2, now_ms);
        rc = exec1(db, ST_TOUCH);
    }
    rc = tx_end(db, t0, rc);
    if (rc == CONTENT_DB_OK) {
        out->last_login_ms = now_ms;
    } else {
        memset(out, 0, sizeof *out);
        out->has_owner = has_owner; /* NOT_OWNER: legacy or another account's */
        out->account_id = owner;
    }
    return rc;
}

int content_db_claim(content_db_t *db, const char *name, uint64_t account_id, int *outcome,
                     uint64_t *prev_owner)
{
    if (db->pg)
        return content_pg_claim(db->pg, name, account_id, outcome, prev_owner);
    uint64_t t0 = mono_us();
    *outcome = CONTENT_CLAIM_NO_SUCH;
    *prev_owner = 0;
    int rc = tx_begin(db, OP_CLAIM, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    sqlite3_stmt *s = db->st[ST_OWNER_GET];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int owned = step == SQLITE_ROW && sqlite3_column_type(s, 1) != SQLITE_NULL;
    uint64_t owner = owned ? (uint64_t)sqlite3_column_int64(s, 1) : 0;
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = fault(db, step, stmt_name[ST_OWNER_GET]);
    else if (step == SQLITE_ROW && owned) {
        *prev_owner = owner;
        *outcome = owner == account_id ? CONTENT_CLAIM_ALREADY : CONTENT_CLAIM_OWNED;
    } else if (step == SQLITE_ROW) {
        s = db->st[ST_OWNER_SET];
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, (int64_t)account_id);
        rc = exec1(db, ST_OWNER_SET);
        if (rc == CONTENT_DB_OK)
            *outcome = CONTENT_CLAIM_DONE;
    }
    return tx_end(db, t0, rc);
}

int content_db_exists(content_db_t *db, const char *name, int *exists)
{
    if (db->pg)
        return content_pg_exists(db->pg, name, exists);
    uint64_t t0 = mono_us();
    content_char_t scratch;
    db->op = OP_EXISTS;
    int found = load_row(db, name, &scratch);
    record(db, t0, found >= 0);
    *exists = found == 1;
    return found < 0 ? found : CONTENT_DB_OK;
}

int content_db_save_positions(content_db_t *db, const content_pos_t *v, size_t n)
{
    if (db->pg)
        return content_pg_save_positions(db->pg, v, n);
    uint64_t t0 = mono_us();
    int rc = tx_begin(db, OP_SAVE, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    sqlite3_stmt *s = db->st[ST_SAVE_POS];
    for (size_t i = 0; i < n && rc == CONTENT_DB_OK; i++) {
        sqlite3_bind_int64(s, 1, v[i].id);
        sqlite3_bind_int(s, 2, v[i].zone);
        sqlite3_bind_double(s, 3, v[i].x);
        sqlite3_bind_double(s, 4, v[i].y);
        sqlite3_bind_int64(s, 5, v[i].played_s);
        rc = exec1(db, ST_SAVE_POS);
    }
    return tx_end(db, t0, rc);
}

/* Inside a transaction: the balance (0 without a wallet row) or a fault. */
static int gold_get(content_db_t *db, int64_t char_id, int64_t *g)
{
    sqlite3_stmt *s = db->st[ST_GOLD_GET];
    sqlite3_bind_int64(s, 1, char_id);
    int rc = sqlite3_step(s);
    *g = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return CONTENT_DB_OK;
    return fault(db, rc, stmt_name[ST_GOLD_GET]);
}

/* Inside an open transaction: balance + delta, checked (never wraps). */
static int gold_apply(content_db_t *db, int64_t char_id, int64_t delta, int64_t *balance)
{
    int64_t g, n;
    int rc = gold_get(db, char_id, &g);
    if (rc != CONTENT_DB_OK)
        return rc;
    if (__builtin_add_overflow(g, delta, &n)) {
        nc_log_limited(&db->range_lim, 1000, NC_LOG_WARN, TAG,
                       "gold: character %lld: %lld %+lld overflows; refused", (long long)char_id,
                       (long long)g, (long long)delta);
        return CONTENT_DB_RANGE;
    }
    if (n < 0)
        return CONTENT_DB_REFUSED;
    sqlite3_stmt *s = db->st[ST_GOLD_SET];
    sqlite3_bind_int64(s, 1, char_id);
    sqlite3_bind_int64(s, 2, n);
    if ((rc = exec1(db, ST_GOLD_SET)) != CONTENT_DB_OK)
        return rc;
    *balance = n;
    return CONTENT_DB_OK;
}

/* One transaction: gold += delta, then (count > 0) item += count. */
static int wallet_tx(content_db_t *db, uint64_t req, int64_t char_id, int64_t delta, int32_t item,
                     int32_t count, int64_t *balance)
{
    if (db->pg)
        return content_pg_wallet(db->pg, req, char_id, delta, item, count, balance);
    uint64_t t0 = mono_us();
    int64_t bal = 0;
    int rc = tx_begin(db, OP_GOLD, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    rc = gold_apply(db, char_id, delta, &bal);
    if (rc == CONTENT_DB_OK && count > 0) {
        sqlite3_stmt *s = db->st[ST_ITEM_ADD];
        sqlite3_bind_int64(s, 1, char_id);
        sqlite3_bind_int(s, 2, item);
        sqlite3_bind_int(s, 3, count);
        rc = exec1(db, ST_ITEM_ADD);
        if (rc == CONTENT_DB_OK && sqlite3_changes(db->h) == 0) {
            nc_log_limited(&db->range_lim, 1000, NC_LOG_WARN, TAG,
                           "item: character %lld: item %d %+d overflows; refused",
                           (long long)char_id, (int)item, (int)count);
            rc = CONTENT_DB_RANGE;
        }
    }
    rc = tx_end(db, t0, rc);
    if (rc == CONTENT_DB_OK)
        *balance = bal;
    return rc;
}

int content_db_gold_add(content_db_t *db, int64_t char_id, int64_t delta, int64_t *balance)
{
    return wallet_tx(db, 0, char_id, delta, 0, 0, balance);
}

int content_db_gold_add_req(content_db_t *db, uint64_t req, int64_t char_id, int64_t delta,
                            int64_t *balance)
{
    return wallet_tx(db, req, char_id, delta, 0, 0, balance);
}

int content_db_buy_item_req(content_db_t *db, uint64_t req, int64_t char_id, int32_t item,
                            int32_t count, int64_t price, int64_t *balance)
{
    if (price < 0 || count < 0) { /* -price is then always defined */
        if (db->pg)
            return content_pg_wallet(db->pg, req, char_id, 0, 0, -1, balance); /* counted */
        atomic_fetch_add(&db->m.range_refused, 1);
        return CONTENT_DB_RANGE;
    }
    return wallet_tx(db, req, char_id, -price, item, count, balance);
}

int content_db_buy_item(content_db_t *db, int64_t char_id, int32_t item, int32_t count,
                        int64_t price, int64_t *balance)
{
    return content_db_buy_item_req(db, 0, char_id, item, count, price, balance);
}

int content_db_outcome_unknown(content_db_t *db)
{
    return db->pg ? content_pg_outcome_unknown(db->pg) : 0;
}

const char *content_db_driver_name(content_db_t *db)
{
    return db->pg ? "postgres" : "sqlite";
}

int64_t content_db_item_count(content_db_t *db, int64_t char_id, int32_t item)
{
    if (db->pg)
        return content_pg_item_count(db->pg, char_id, item);
    sqlite3_stmt *s = db->st[ST_ITEM_GET];
    sqlite3_bind_int64(s, 1, char_id);
    sqlite3_bind_int(s, 2, item);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

/* One transaction: the field becomes v (is_delta 0) or value + v, checked. */
static int field_update(content_db_t *db, uint64_t req, int64_t char_id, int field, int is_delta,
                        int64_t v, int64_t *value)
{
    if (db->pg)
        return content_pg_field_update(db->pg, req, char_id, field, is_delta, v, value);
    if (field < 0 || field >= CONTENT_FIELD_COUNT)
        return CONTENT_DB_REFUSED;
    const content_field_info_t *fi = &content_fields[field];
    uint64_t t0 = mono_us();
    int rc = tx_begin(db, OP_FIELD, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    content_fields_t f;
    int64_t *cur = content_field_ptr(&f, field), n = v;
    rc = fields_read(db, char_id, &f);
    if (rc == CONTENT_DB_OK && is_delta && __builtin_add_overflow(*cur, v, &n))
        rc = CONTENT_DB_RANGE;
    if (rc == CONTENT_DB_OK && (n < fi->min || n > fi->max))
        rc = CONTENT_DB_RANGE;
    if (rc == CONTENT_DB_RANGE)
        nc_log_limited(&db->range_lim, 1000, NC_LOG_WARN, TAG,
                       "%s: character %lld: %s%lld outside [%lld, %lld]; refused", fi->name,
                       (long long)char_id, is_delta ? "+" : "", (long long)v, (long long)fi->min,
                       (long long)fi->max);
    if (rc == CONTENT_DB_OK)
        rc = field_write(db, char_id, field, n);
    rc = tx_end(db, t0, rc);
    if (rc == CONTENT_DB_OK)
        *value = n;
    return rc;
}

int content_db_field_set(content_db_t *db, int64_t char_id, int field, int64_t v, int64_t *value)
{
    return field_update(db, 0, char_id, field, 0, v, value);
}

int content_db_field_add(content_db_t *db, int64_t char_id, int field, int64_t delta,
                         int64_t *value)
{
    return field_update(db, 0, char_id, field, 1, delta, value);
}

int content_db_field_add_req(content_db_t *db, uint64_t req, int64_t char_id, int field,
                             int64_t delta, int64_t *value)
{
    return field_update(db, req, char_id, field, 1, delta, value);
}

int content_db_fields_get(content_db_t *db, int64_t char_id, content_fields_t *out)
{
    if (db->pg)
        return content_pg_fields_get(db->pg, char_id, out);
    uint64_t t0 = mono_us();
    db->op = OP_FIELD;
    int rc = fields_read(db, char_id, out);
    record(db, t0, rc == CONTENT_DB_OK || rc == CONTENT_DB_REFUSED);
    return rc;
}

int content_db_probe(content_db_t *db)
{
    if (db->pg)
        return content_pg_probe(db->pg);
    uint64_t t0 = mono_us();
    int rc = tx_begin(db, OP_PROBE, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    sqlite3_stmt *s = db->st[ST_ROLLBACK];
    sqlite3_step(s);
    sqlite3_reset(s);
    return CONTENT_DB_OK;
}

void content_db_inject_fault(content_db_t *db, int sqlite_rc, uint32_t count)
{
    if (db->pg) {
        int kind, result;
        content_db_fault_of_sqlite(sqlite_rc, &kind, &result);
        content_pg_inject_fault(db->pg, kind, result, count);
        return;
    }
    db->inject_rc = sqlite_rc;
    db->inject_left = count;
}

void content_db_lose_commit_answers(content_db_t *db, uint32_t count)
{
    if (db->pg)
        content_pg_lose_commit_answers(db->pg, count);
}

void content_db_stats(content_db_t *db, content_db_stats_t *out)
{
    if (db->pg) {
        content_pg_stats(db->pg, out);
        return;
    }
    content_db_meter_read(&db->m, out);
}
