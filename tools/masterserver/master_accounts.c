/* The login server's account store: its own SQLite database (WAL,
 * migrations by PRAGMA user_version like content/src/content_db.c) and the
 * Argon2id password hashes (libsodium crypto_pwhash_str).  One connection
 * behind a mutex: every statement is short; the slow part, hashing, runs
 * outside it (see master_login.c). */
#include "master_store.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(crypto_pwhash_STRBYTES <= MASTER_HASH_MAX, "hash string size");

enum {
    ST_FIND,
    ST_INSERT,
    ST_OK,
    ST_OK_REHASH,
    ST_FAILED,
    ST_CHARS,
    ST_CHAR_USE,
    ST_CHAR_TRIM,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_FIND] = "SELECT id, name, pw_hash, role, failed_attempts, locked_until, last_failed"
                " FROM accounts"
                " WHERE name = ?1",
    [ST_INSERT] = "INSERT INTO accounts(name, pw_hash, role, created) VALUES(?1, ?2, ?3, ?4)"
                  " ON CONFLICT(name) DO NOTHING",
    [ST_OK] = "UPDATE accounts SET last_login = ?2, failed_attempts = 0, locked_until = 0"
              " WHERE id = ?1",
    [ST_OK_REHASH] = "UPDATE accounts SET last_login = ?2, failed_attempts = 0, locked_until = 0,"
                     " pw_hash = ?3 WHERE id = ?1",
    [ST_FAILED] = "UPDATE accounts SET failed_attempts = ?2, locked_until = ?3, last_failed = ?4"
                  " WHERE id = ?1",
    [ST_CHARS] = "SELECT shard, name FROM account_characters WHERE account_id = ?1"
                 " ORDER BY last_used DESC, rowid DESC LIMIT ?2",
    [ST_CHAR_USE] = "INSERT INTO account_characters(account_id, shard, name, last_used)"
                    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(account_id, shard, name)"
                    " DO UPDATE SET last_used = excluded.last_used",
    [ST_CHAR_TRIM] = "DELETE FROM account_characters WHERE account_id = ?1 AND rowid NOT IN"
                     " (SELECT rowid FROM account_characters WHERE account_id = ?1"
                     " ORDER BY last_used DESC, rowid DESC LIMIT ?2)",
};

/* Migration i brings user_version from i to i + 1; append, never edit.
 * Times are unix milliseconds. */
#define SCHEMA_VERSION 2
static const char *const migrations[SCHEMA_VERSION] = {
    "CREATE TABLE accounts("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " pw_hash TEXT NOT NULL, role INTEGER NOT NULL DEFAULT 0 CHECK(role BETWEEN 0 AND 2),"
    " created INTEGER NOT NULL, last_login INTEGER NOT NULL DEFAULT 0,"
    " failed_attempts INTEGER NOT NULL DEFAULT 0, locked_until INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE account_characters("
    " account_id INTEGER NOT NULL REFERENCES accounts(id), shard TEXT NOT NULL,"
    " name TEXT NOT NULL, last_used INTEGER NOT NULL,"
    " PRIMARY KEY(account_id, shard, name));",
    /* 2 (issue 16): when the stored failure count last grew, so a count
     * shared between login servers is forgotten like the in-memory one */
    "ALTER TABLE accounts ADD COLUMN last_failed INTEGER NOT NULL DEFAULT 0;",
};

typedef struct sq_s {
    macct_t base; /* first: the driver table */
    pthread_mutex_t mu;
    sqlite3 *h;
    sqlite3_stmt *st[ST_COUNT];
} sq_t;

static const macct_ops_t sq_ops;
static void sq_close(macct_t *base_);

/* ---- names, passwords, hashes --------------------------------------------- */

int master_account_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 2 || n > PA_TICKET_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '.' || ch == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

int master_password_ok(size_t len)
{
    return len >= MASTER_PW_MIN && len <= MASTER_PW_MAX;
}

int master_hash(const master_auth_cfg_t *c, const char *pw, size_t len, char out[MASTER_HASH_MAX])
{
    return crypto_pwhash_str_alg(out, pw, len, c->hash_ops, (size_t)c->hash_mem_kib * 1024u,
                                 crypto_pwhash_ALG_ARGON2ID13) == 0
               ? 0
               : -1;
}

int master_verify(const char *hash, const char *pw, size_t len)
{
    return crypto_pwhash_str_verify(hash, pw, len) == 0 ? 0 : -1;
}

int master_needs_rehash(const master_auth_cfg_t *c, const char *hash)
{
    return crypto_pwhash_str_needs_rehash(hash, c->hash_ops, (size_t)c->hash_mem_kib * 1024u) != 0;
}

/* ---- store ------------------------------------------------------------------ */

static int migrate(sqlite3 *h, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (v < 0 || v > SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "account database schema version %d is not one this server knows (%d)", v,
                 SCHEMA_VERSION);
        return -1;
    }
    for (; v < SCHEMA_VERSION; v++) {
        char sql[64], *msg = NULL;
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; COMMIT;", v + 1);
        if (sqlite3_exec(h, "BEGIN IMMEDIATE;", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(h, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "migration to version %d failed: %s", v + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

int macct_sqlite_open(const char *path, macct_t **out, char *err, size_t errlen)
{
    sq_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&a->mu, NULL);
    const char *what = "open";
    if (sqlite3_open_v2(path, &a->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_db_readonly(a->h, "main") == 1) {
        snprintf(err, errlen, "%s is read-only; the login server needs to write it", path);
        sq_close(&a->base);
        return -1;
    }
    sqlite3_busy_timeout(a->h, 5000);
    what = "pragmas";
    if (sqlite3_exec(a->h,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (migrate(a->h, err, errlen) != 0) {
        sq_close(&a->base);
        return -1;
    }
    what = "prepare";
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(a->h, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &a->st[i], NULL) !=
            SQLITE_OK)
            goto fail;
    sqlite3_busy_timeout(a->h, 1000);
    a->base.ops = &sq_ops;
    *out = &a->base;
    return 0;
fail:
    snprintf(err, errlen, "%s %s: %s", what, path, a->h ? sqlite3_errmsg(a->h) : "?");
    sq_close(&a->base);
    return -1;
}

static void sq_close(macct_t *base_)
{
    sq_t *a = (sq_t *)base_;
    if (!a)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(a->st[i]);
    if (a->h) {
        sqlite3_wal_checkpoint_v2(a->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(a->h);
    }
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static uint64_t wall_ms(void)
{
    return nc_wall_ms();
}

/* Runs a statement that returns no rows; the caller holds mu. */
static int run_locked(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_find(macct_t *base_, const char *name, macct_row_t *out)
{
    sq_t *a = (sq_t *)base_;
    pthread_mutex_lock(&a->mu);
    sqlite3_stmt *s = a->st[ST_FIND];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s), found = 0;
    if (rc == SQLITE_ROW) {
        found = 1;
        memset(out, 0, sizeof *out);
        out->id = (uint64_t)sqlite3_column_int64(s, 0);
        const char *n = (const char *)sqlite3_column_text(s, 1);
        const char *h = (const char *)sqlite3_column_text(s, 2);
        snprintf(out->name, sizeof out->name, "%s", n ? n : "");
        snprintf(out->hash, sizeof out->hash, "%s", h ? h : "");
        out->role = sqlite3_column_int(s, 3);
        out->failed = (uint32_t)sqlite3_column_int64(s, 4);
        out->locked_until_ms = (uint64_t)sqlite3_column_int64(s, 5);
        out->last_failed_ms = (uint64_t)sqlite3_column_int64(s, 6);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    pthread_mutex_unlock(&a->mu);
    return found ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int sq_insert(macct_t *base_, const char *name, const char *hash, int role, uint64_t *id)
{
    sq_t *a = (sq_t *)base_;
    pthread_mutex_lock(&a->mu);
    sqlite3_stmt *s = a->st[ST_INSERT];
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, role);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)wall_ms());
    int rc = run_locked(s);
    int changed = rc == 0 ? sqlite3_changes(a->h) : 0;
    if (changed)
        *id = (uint64_t)sqlite3_last_insert_rowid(a->h);
    pthread_mutex_unlock(&a->mu);
    return rc < 0 ? -1 : changed ? 0 : 1;
}

static int sq_login_ok(macct_t *base_, uint64_t id, const char *new_hash)
{
    sq_t *a = (sq_t *)base_;
    pthread_mutex_lock(&a->mu);
    sqlite3_stmt *s = a->st[new_hash ? ST_OK_REHASH : ST_OK];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)wall_ms());
    if (new_hash)
        sqlite3_bind_text(s, 3, new_hash, -1, SQLITE_STATIC);
    int rc = run_locked(s);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static int sq_login_failed(macct_t *base_, uint64_t id, uint32_t failed, uint64_t locked_until_ms)
{
    sq_t *a = (sq_t *)base_;
    pthread_mutex_lock(&a->mu);
    sqlite3_stmt *s = a->st[ST_FAILED];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)failed);
    sqlite3_bind_int64(s, 3,
                       (sqlite3_int64)(locked_until_ms > INT64_MAX ? INT64_MAX : locked_until_ms));
    sqlite3_bind_int64(s, 4, (sqlite3_int64)wall_ms());
    int rc = run_locked(s);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static int sq_characters(macct_t *base_, uint64_t id, proto_character_ref_t *out, int max)
{
    sq_t *a = (sq_t *)base_;
    pthread_mutex_lock(&a->mu);
    sqlite3_stmt *s = a->st[ST_CHARS];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    sqlite3_bind_int(s, 2, max);
    int n = 0, rc;
    while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *sh = (const char *)sqlite3_column_text(s, 0);
        const char *nm = (const char *)sqlite3_column_text(s, 1);
        memset(&out[n], 0, sizeof out[n]);
        snprintf(out[n].shard, sizeof out[n].shard, "%s", sh ? sh : "");
        snprintf(out[n].name, sizeof out[n].name, "%s", nm ? nm : "");
        n++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    pthread_mutex_unlock(&a->mu);
    return n;
}

static int sq_character_used(macct_t *base_, uint64_t id, const char *shard, const char *name,
                             int keep)
{
    sq_t *a = (sq_t *)base_;
    pthread_mutex_lock(&a->mu);
    sqlite3_stmt *s = a->st[ST_CHAR_USE];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    sqlite3_bind_text(s, 2, shard, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)wall_ms());
    int rc = run_locked(s);
    if (rc == 0) {
        s = a->st[ST_CHAR_TRIM];
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        sqlite3_bind_int(s, 2, keep);
        rc = run_locked(s);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static int sq_available(macct_t *a)
{
    (void)a;
    return 1;
}

/* An embedded file: always reachable, never reconnects. */
static void sq_stats(macct_t *base_, macct_stats_t *out)
{
    (void)base_;
    *out = (macct_stats_t){.up = 1};
}

static const macct_ops_t sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .find = sq_find,
    .insert = sq_insert,
    .login_ok = sq_login_ok,
    .login_failed = sq_login_failed,
    .characters = sq_characters,
    .character_used = sq_character_used,
    .available = sq_available,
    .stats = sq_stats,
};

/* ---- the driver-neutral entry points ------------------------------------------ */

int macct_open(const char *driver, const char *target, macct_t **out, char *err, size_t errlen)
{
    if (!driver || !strcmp(driver, "sqlite"))
        return macct_sqlite_open(target, out, err, errlen);
    if (!strcmp(driver, "postgres"))
        return macct_pg_open(target, out, err, errlen);
    snprintf(err, errlen, "accounts.driver '%s': expected \"sqlite\" or \"postgres\"", driver);
    return -1;
}

void macct_close(macct_t *a)
{
    if (a)
        a->ops->close(a);
}

const char *macct_driver(const macct_t *a)
{
    return a->ops->name;
}

void macct_stats(macct_t *a, macct_stats_t *out)
{
    a->ops->stats(a, out);
}

int macct_available(macct_t *a)
{
    return a->ops->available(a);
}

int macct_find(macct_t *a, const char *name, macct_row_t *out)
{
    return a->ops->find(a, name, out);
}

int macct_insert(macct_t *a, const char *name, const char *hash, int role, uint64_t *id)
{
    return a->ops->insert(a, name, hash, role, id);
}

int macct_login_ok(macct_t *a, uint64_t id, const char *new_hash)
{
    return a->ops->login_ok(a, id, new_hash);
}

int macct_login_failed(macct_t *a, uint64_t id, uint32_t failed, uint64_t locked_until_ms)
{
    return a->ops->login_failed(a, id, failed, locked_until_ms);
}

int macct_characters(macct_t *a, uint64_t id, proto_character_ref_t *out, int max)
{
    return a->ops->characters(a, id, out, max);
}

int macct_character_used(macct_t *a, uint64_t id, const char *shard, const char *name, int keep)
{
    return a->ops->character_used(a, id, shard, name, keep);
}
