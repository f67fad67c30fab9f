/* SQLite persistence: schema migrations by PRAGMA user_version, prepared
 * statements reused for the life of the connection, explicit transactions
 * for batches and for every gold/item change. */
#include "content_db.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netcore.h"

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
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_LOAD] = "SELECT c.id, c.name, c.zone, c.x, c.y, c.created, c.last_login, c.played_time,"
                " COALESCE(w.gold, 0) FROM characters c LEFT JOIN wallet w ON w.char_id = c.id"
                " WHERE c.name = ?1",
    [ST_INSERT] = "INSERT INTO characters(name, zone, x, y, created, last_login, played_time)"
                  " VALUES(?1, ?2, ?3, ?4, ?5, ?5, 0)",
    [ST_TOUCH] = "UPDATE characters SET last_login = ?2 WHERE id = ?1",
    [ST_SAVE_POS] = "UPDATE characters SET zone = ?2, x = ?3, y = ?4, played_time = ?5"
                    " WHERE id = ?1",
    [ST_GOLD_GET] = "SELECT gold FROM wallet WHERE char_id = ?1",
    [ST_GOLD_SET] = "INSERT INTO wallet(char_id, gold) VALUES(?1, ?2)"
                    " ON CONFLICT(char_id) DO UPDATE SET gold = excluded.gold",
    [ST_ITEM_ADD] = "INSERT INTO inventory(char_id, item, count) VALUES(?1, ?2, ?3)"
                    " ON CONFLICT(char_id, item) DO UPDATE SET count = count + excluded.count",
    [ST_ITEM_GET] = "SELECT count FROM inventory WHERE char_id = ?1 AND item = ?2",
};

/* Migration i brings user_version from i to i + 1; append, never edit. */
static const char *const migrations[CONTENT_DB_SCHEMA_VERSION] = {
    "CREATE TABLE characters("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, zone INTEGER NOT NULL,"
    " x REAL NOT NULL, y REAL NOT NULL, created INTEGER NOT NULL,"
    " last_login INTEGER NOT NULL, played_time INTEGER NOT NULL DEFAULT 0);",
    "CREATE TABLE wallet(char_id INTEGER PRIMARY KEY REFERENCES characters(id),"
    " gold INTEGER NOT NULL DEFAULT 0 CHECK(gold >= 0));"
    "CREATE TABLE inventory(char_id INTEGER NOT NULL REFERENCES characters(id),"
    " item INTEGER NOT NULL, count INTEGER NOT NULL CHECK(count >= 0),"
    " PRIMARY KEY(char_id, item));",
};

const double content_db_bucket_ms[8] = {0.1, 0.5, 1, 5, 10, 50, 100, 1e300};

struct content_db_s {
    sqlite3 *h;
    sqlite3_stmt *st[ST_COUNT];
    atomic_uint_fast64_t ops, errors, total_us, buckets[8];
};

static uint64_t mono_us(void)
{
    return nc_now_ns() / 1000u;
}

static void record(content_db_t *db, uint64_t t0, int ok)
{
    uint64_t us = mono_us() - t0;
    atomic_fetch_add(&db->ops, 1);
    atomic_fetch_add(&db->total_us, us);
    if (!ok)
        atomic_fetch_add(&db->errors, 1);
    for (int i = 0; i < 8; i++)
        if ((double)us / 1000.0 <= content_db_bucket_ms[i])
            atomic_fetch_add(&db->buckets[i], 1);
}

static int exec1(content_db_t *db, int which)
{
    sqlite3_stmt *s = db->st[which];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Transactions.  tx_begin records a failed BEGIN itself; tx_end commits
 * when rc is 0 and rolls back otherwise, records the outcome and returns rc
 * (or -1 when the commit fails). */
static int tx_begin(content_db_t *db, uint64_t t0)
{
    if (exec1(db, ST_BEGIN) == 0)
        return 0;
    record(db, t0, 0);
    return -1;
}

static int tx_end(content_db_t *db, uint64_t t0, int rc)
{
    if (rc == 0)
        rc = exec1(db, ST_COMMIT);
    if (rc != 0)
        exec1(db, ST_ROLLBACK);
    record(db, t0, rc == 0);
    return rc;
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

int content_db_open(const char *path, content_db_t **out, char *err, size_t errlen)
{
    content_db_t *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *what = "open";
    if (sqlite3_open(path, &db->h) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(db->h, 5000);
    what = "pragmas";
    if (sqlite3_exec(db->h,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     " PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK)
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
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(db->st[i]);
    if (db->h) {
        sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(db->h);
    }
    free(db);
}

int content_db_user_version(content_db_t *db)
{
    sqlite3_stmt *s;
    int v = -1;
    if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int load_row(content_db_t *db, const char *name, content_char_t *c)
{
    sqlite3_stmt *s = db->st[ST_LOAD];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        c->id = sqlite3_column_int64(s, 0);
        snprintf(c->name, sizeof c->name, "%s", (const char *)sqlite3_column_text(s, 1));
        c->zone = sqlite3_column_int(s, 2);
        c->x = (float)sqlite3_column_double(s, 3);
        c->y = (float)sqlite3_column_double(s, 4);
        c->created_ms = sqlite3_column_int64(s, 5);
        c->last_login_ms = sqlite3_column_int64(s, 6);
        c->played_s = sqlite3_column_int64(s, 7);
        c->gold = sqlite3_column_int64(s, 8);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int insert_row(content_db_t *db, const char *name, int32_t zone, float x, float y,
                      int64_t now_ms)
{
    sqlite3_stmt *s = db->st[ST_INSERT];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, zone);
    sqlite3_bind_double(s, 3, x);
    sqlite3_bind_double(s, 4, y);
    sqlite3_bind_int64(s, 5, now_ms);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int content_db_load_or_create(content_db_t *db, const char *name, int32_t zone, float x, float y,
                              int64_t now_ms, content_char_t *out)
{
    uint64_t t0 = mono_us();
    memset(out, 0, sizeof *out);
    if (tx_begin(db, t0) != 0)
        return -1;
    int found = load_row(db, name, out);
    int rc = found < 0 ? -1 : 0;
    if (found == 0) {
        rc = insert_row(db, name, zone, x, y, now_ms) != 0 || load_row(db, name, out) != 1 ? -1 : 0;
        out->created_now = rc == 0;
    }
    if (rc == 0) {
        sqlite3_stmt *s = db->st[ST_TOUCH];
        sqlite3_bind_int64(s, 1, out->id);
        sqlite3_bind_int64(s, 2, now_ms);
        rc = exec1(db, ST_TOUCH);
    }
    rc = tx_end(db, t0, rc);
    if (rc == 0)
        out->last_login_ms = now_ms;
    return rc;
}

int content_db_save_positions(content_db_t *db, const content_pos_t *v, size_t n)
{
    uint64_t t0 = mono_us();
    if (tx_begin(db, t0) != 0)
        return -1;
    sqlite3_stmt *s = db->st[ST_SAVE_POS];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_int64(s, 1, v[i].id);
        sqlite3_bind_int(s, 2, v[i].zone);
        sqlite3_bind_double(s, 3, v[i].x);
        sqlite3_bind_double(s, 4, v[i].y);
        sqlite3_bind_int64(s, 5, v[i].played_s);
        rc = exec1(db, ST_SAVE_POS);
    }
    return tx_end(db, t0, rc);
}

static int64_t gold_get(content_db_t *db, int64_t char_id)
{
    sqlite3_stmt *s = db->st[ST_GOLD_GET];
    sqlite3_bind_int64(s, 1, char_id);
    int64_t g = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return g;
}

/* Inside an open transaction: 0, -1 error, -2 would go negative. */
static int gold_apply(content_db_t *db, int64_t char_id, int64_t delta, int64_t *balance)
{
    int64_t g = gold_get(db, char_id) + delta;
    if (g < 0)
        return -2;
    sqlite3_stmt *s = db->st[ST_GOLD_SET];
    sqlite3_bind_int64(s, 1, char_id);
    sqlite3_bind_int64(s, 2, g);
    if (exec1(db, ST_GOLD_SET) != 0)
        return -1;
    *balance = g;
    return 0;
}

int content_db_gold_add(content_db_t *db, int64_t char_id, int64_t delta, int64_t *balance)
{
    return content_db_buy_item(db, char_id, 0, 0, -delta, balance);
}

int content_db_buy_item(content_db_t *db, int64_t char_id, int32_t item, int32_t count,
                        int64_t price, int64_t *balance)
{
    uint64_t t0 = mono_us();
    int64_t bal = 0;
    if (tx_begin(db, t0) != 0)
        return -1;
    int rc = gold_apply(db, char_id, -price, &bal);
    if (rc == 0 && count > 0) {
        sqlite3_stmt *s = db->st[ST_ITEM_ADD];
        sqlite3_bind_int64(s, 1, char_id);
        sqlite3_bind_int(s, 2, item);
        sqlite3_bind_int(s, 3, count);
        rc = exec1(db, ST_ITEM_ADD);
    }
    rc = tx_end(db, t0, rc);
    if (rc == 0)
        *balance = bal;
    return rc;
}

int64_t content_db_item_count(content_db_t *db, int64_t char_id, int32_t item)
{
    sqlite3_stmt *s = db->st[ST_ITEM_GET];
    sqlite3_bind_int64(s, 1, char_id);
    sqlite3_bind_int(s, 2, item);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

void content_db_stats(content_db_t *db, content_db_stats_t *out)
{
    out->ops = atomic_load(&db->ops);
    out->errors = atomic_load(&db->errors);
    out->total_us = atomic_load(&db->total_us);
    for (int i = 0; i < 8; i++)
        out->buckets[i] = atomic_load(&db->buckets[i]);
}
