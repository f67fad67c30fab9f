/* The character store on SQLite (the default driver; content_db_driver.h):
 * WAL, schema migrations by PRAGMA user_version, statements prepared once
 * for the life of the connection.  The operations and their rules are
 * content_db_flow.c's; this file only runs statements. */
#include "content_db_driver.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stmt_sql[CONTENT_ST_FIELDS_GET] = {
    [CONTENT_ST_BEGIN] = "BEGIN IMMEDIATE",
    [CONTENT_ST_COMMIT] = "COMMIT",
    [CONTENT_ST_ROLLBACK] = "ROLLBACK",
    [CONTENT_ST_LOAD] =
        "SELECT c.id, c.name, c.zone, c.x, c.y, c.created, c.last_login, c.played_time,"
        " COALESCE(w.gold, 0), c.account_id"
        " FROM characters c LEFT JOIN wallet w ON w.char_id = c.id"
        " WHERE c.name = ?1",
    [CONTENT_ST_INSERT] =
        "INSERT INTO characters(name, zone, x, y, created, last_login, played_time,"
        " account_id) VALUES(?1, ?2, ?3, ?4, ?5, ?5, 0, ?6)",
    [CONTENT_ST_TOUCH] = "UPDATE characters SET last_login = ?2 WHERE id = ?1",
    [CONTENT_ST_SAVE_POS] = "UPDATE characters SET zone = ?2, x = ?3, y = ?4, played_time = ?5"
                            " WHERE id = ?1",
    [CONTENT_ST_GOLD_GET] = "SELECT gold FROM wallet WHERE char_id = ?1",
    [CONTENT_ST_GOLD_SET] = "INSERT INTO wallet(char_id, gold) VALUES(?1, ?2)"
                            " ON CONFLICT(char_id) DO UPDATE SET gold = excluded.gold",
    /* the WHERE keeps count + n within int64: no row changes on overflow */
    [CONTENT_ST_ITEM_ADD] =
        "INSERT INTO inventory(char_id, item, count) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(char_id, item) DO UPDATE SET count = count + excluded.count"
        " WHERE count <= 9223372036854775807 - excluded.count",
    [CONTENT_ST_ITEM_GET] = "SELECT count FROM inventory WHERE char_id = ?1 AND item = ?2",
    /* accounts (issue 13): NULL account_id = a legacy (unowned) character */
    [CONTENT_ST_OWNER_GET] = "SELECT id, account_id FROM characters WHERE name = ?1",
    [CONTENT_ST_OWNER_SET] = "UPDATE characters SET account_id = ?2 WHERE id = ?1",
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

typedef struct sq_s {
    sqlite3 *h;
    sqlite3_stmt *st[CONTENT_ST_COUNT];
} sq_t;

int content_db_sqlite_kind(int rc)
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

/* Statement `which` with its first n parameters bound to v. */
static sqlite3_stmt *bind(content_db_t *db, int which, int n, const int64_t *v)
{
    sqlite3_stmt *s = ((sq_t *)db->drv)->st[which];
    for (int i = 0; i < n; i++)
        sqlite3_bind_int64(s, i + 1, v[i]);
    return s;
}

/* The end of a step of `which` that returned rc: 1 a row, 0 done (its row
 * read by the caller before), or the fault. */
static int finish(content_db_t *db, int which, int rc)
{
    sqlite3_reset(((sq_t *)db->drv)->st[which]);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return rc == SQLITE_ROW;
    return content_db_fault(db, content_db_sqlite_kind(rc), content_db_stmt_name(which),
                            sqlite3_errstr(rc));
}

static int sq_run(content_db_t *db, int st, int n, const int64_t *v, int *rows, int64_t *first)
{
    sqlite3_stmt *s = bind(db, st, n, v);
    int rc = sqlite3_step(s);
    if (first)
        *first = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    rc = finish(db, st, rc);
    if (rows)
        *rows = rc < 0 ? 0 : sqlite3_column_count(s) ? rc : sqlite3_changes(((sq_t *)db->drv)->h);
    return rc < 0 ? rc : CONTENT_DB_OK;
}

static int ok(int rc)
{
    return rc < 0 ? rc : CONTENT_DB_OK;
}

static int migrate(content_db_t *db, char *err, size_t errlen)
{
    sq_t *q = db->drv;
    int v = content_db_user_version(db);
    if (v < 0 || v > CONTENT_DB_SCHEMA_VERSION) {
        snprintf(err, errlen, "database schema version %d is newer than this server (%d)", v,
                 CONTENT_DB_SCHEMA_VERSION);
        return -1;
    }
    for (; v < CONTENT_DB_SCHEMA_VERSION; v++) {
        char sql[64], *msg = NULL;
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; COMMIT;", v + 1);
        if (sqlite3_exec(q->h, "BEGIN IMMEDIATE;", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(q->h, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(q->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "migration to version %d failed: %s", v + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(q->h, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

static const char *prepare1(void *ctx, int i, const char *sql)
{
    sq_t *q = ctx;
    int rc = sqlite3_prepare_v3(q->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL);
    return rc == SQLITE_OK ? NULL : sqlite3_errmsg(q->h);
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

static void sq_close(content_db_t *db)
{
    sq_t *q = db->drv;
    for (int i = 0; i < CONTENT_ST_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    if (q->h) {
        sqlite3_wal_checkpoint_v2(q->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(q->h);
    }
    free(q);
}

static int sq_user_version(content_db_t *db)
{
    sqlite3_stmt *s;
    int v = -1;
    if (sqlite3_prepare_v2(((sq_t *)db->drv)->h, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int sq_begin(content_db_t *db)
{
    return sq_run(db, CONTENT_ST_BEGIN, 0, NULL, NULL, NULL);
}

static void sq_rollback(content_db_t *db)
{
    sq_t *q = db->drv;
    if (!sqlite3_get_autocommit(q->h)) { /* a failed rollback leaves nothing to undo */
        sqlite3_step(q->st[CONTENT_ST_ROLLBACK]);
        sqlite3_reset(q->st[CONTENT_ST_ROLLBACK]);
    }
}

/* A COMMIT's outcome is always known here: lose_answer does not apply. */
static int sq_commit(content_db_t *db, int lose_answer)
{
    (void)lose_answer;
    int rc = sq_run(db, CONTENT_ST_COMMIT, 0, NULL, NULL, NULL);
    if (rc != CONTENT_DB_OK)
        sq_rollback(db);
    return rc;
}

static int sq_load(content_db_t *db, const char *name, content_char_t *c)
{
    sqlite3_stmt *s = ((sq_t *)db->drv)->st[CONTENT_ST_LOAD];
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
    return finish(db, CONTENT_ST_LOAD, rc);
}

static int sq_insert(content_db_t *db, const char *name, int32_t zone, float x, float y,
                     int64_t now_ms, const uint64_t *owner)
{
    /* an owner is stored as the same 64 bits: ids above INT64_MAX read back equal */
    sqlite3_stmt *s = bind(db, CONTENT_ST_INSERT, 6, (int64_t[]){0, zone, 0, 0, now_ms, 0});
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 3, x);
    sqlite3_bind_double(s, 4, y);
    if (!owner)
        sqlite3_bind_null(s, 6);
    else
        sqlite3_bind_int64(s, 6, (int64_t)*owner);
    return ok(finish(db, CONTENT_ST_INSERT, sqlite3_step(s)));
}

static int sq_owner_get(content_db_t *db, const char *name, int64_t *id, int *owned,
                        uint64_t *owner)
{
    sqlite3_stmt *s = ((sq_t *)db->drv)->st[CONTENT_ST_OWNER_GET];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        *owned = sqlite3_column_type(s, 1) != SQLITE_NULL;
        *owner = *owned ? (uint64_t)sqlite3_column_int64(s, 1) : 0;
    }
    return finish(db, CONTENT_ST_OWNER_GET, rc);
}

static int sq_save(content_db_t *db, const content_pos_t *v, size_t n)
{
    int rc = CONTENT_DB_OK;
    for (size_t i = 0; i < n && rc == CONTENT_DB_OK; i++) {
        sqlite3_stmt *s =
            bind(db, CONTENT_ST_SAVE_POS, 5, (int64_t[]){v[i].id, v[i].zone, 0, 0, v[i].played_s});
        sqlite3_bind_double(s, 3, v[i].x);
        sqlite3_bind_double(s, 4, v[i].y);
        rc = ok(finish(db, CONTENT_ST_SAVE_POS, sqlite3_step(s)));
    }
    return rc;
}

static int sq_fields_get(content_db_t *db, int64_t id, content_fields_t *out)
{
    sqlite3_stmt *s = bind(db, CONTENT_ST_FIELDS_GET, 1, (int64_t[]){id});
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        for (int i = 0; i < CONTENT_FIELD_COUNT; i++)
            *content_field_ptr(out, i) = sqlite3_column_int64(s, i + 1);
    return finish(db, CONTENT_ST_FIELDS_GET, rc);
}

static const content_db_driver_t sqlite_driver = {
    .name = "sqlite",
    .close = sq_close,
    .user_version = sq_user_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .run = sq_run,
    .load = sq_load,
    .insert = sq_insert,
    .owner_get = sq_owner_get,
    .save = sq_save,
    .fields_get = sq_fields_get,
};

int content_db_sqlite_open(content_db_t *db, const char *path, const content_db_opts_t *o,
                           char *err, size_t errlen)
{
    if (unwritable(path, "", err, errlen) || unwritable(path, "-wal", err, errlen) ||
        unwritable(path, "-shm", err, errlen))
        return -1;
    sq_t *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    db->d = &sqlite_driver;
    db->drv = q;
    const char *what = "open";
    if (sqlite3_open_v2(path, &q->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        goto fail_sqlite;
    if (sqlite3_db_readonly(q->h, "main") == 1) {
        snprintf(err, errlen, "%s is read-only; the server needs to write it", path);
        goto fail;
    }
    sqlite3_busy_timeout(q->h, 5000); /* start-up may wait for a lock; jobs later may not */
    what = "pragmas";
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;",
             o->synchronous_full ? "FULL" : "NORMAL");
    if (sqlite3_exec(q->h, pragmas, NULL, NULL, NULL) != SQLITE_OK)
        goto fail_sqlite;
    if (migrate(db, err, errlen) != 0 ||
        content_db_prepare(stmt_sql, '?', prepare1, q, err, errlen) != 0)
        goto fail;
    sqlite3_busy_timeout(q->h, (int)(o->busy_timeout_ms > 60000 ? 60000 : o->busy_timeout_ms));
    return 0;
fail_sqlite:
    snprintf(err, errlen, "%s %s: %s", what, path, q->h ? sqlite3_errmsg(q->h) : "?");
fail:
    sq_close(db);
    return -1;
}
