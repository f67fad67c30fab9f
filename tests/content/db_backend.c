/* See db_backend.h. */
#include "db_backend.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char tdb_path[64];

#ifndef CONTENT_DB_TEST_PG
#include <sqlite3.h>

const char *const tdb_name = "sqlite";
static sqlite3 *lock_h;

int tdb_group_setup(void **state)
{
    (void)state;
    snprintf(tdb_path, sizeof tdb_path, "/tmp/gs_test_db_%d.db", (int)getpid());
    return 0;
}

int tdb_group_teardown(void **state)
{
    (void)state;
    tdb_wipe();
    return 0;
}

void tdb_wipe(void)
{
    char p[80];
    remove(tdb_path);
    snprintf(p, sizeof p, "%s-wal", tdb_path);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", tdb_path);
    remove(p);
}

int tdb_open_err(content_db_t **db, char *err, size_t errlen)
{
    return content_db_open(tdb_path, db, err, errlen);
}

void tdb_sql(const char *q)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(tdb_path, &h), SQLITE_OK);
    if (sqlite3_exec(h, q, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", q, sqlite3_errmsg(h));
    sqlite3_close(h);
}

int64_t tdb_int(const char *q)
{
    sqlite3 *h;
    sqlite3_stmt *s;
    int64_t v = -1;
    assert_int_equal(sqlite3_open(tdb_path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, q, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return v;
}

void tdb_lock_begin(void)
{
    assert_int_equal(sqlite3_open(tdb_path, &lock_h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(lock_h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
}

void tdb_lock_sql(const char *q)
{
    assert_int_equal(sqlite3_exec(lock_h, q, NULL, NULL, NULL), SQLITE_OK);
}

void tdb_lock_end(void)
{
    assert_int_equal(sqlite3_exec(lock_h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(lock_h);
    lock_h = NULL;
}

/* The v2 tables, then (v3) the account column. */
#define TDB_V2_TABLES                                                                              \
    "CREATE TABLE characters(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"                   \
    " zone INTEGER NOT NULL, x REAL NOT NULL, y REAL NOT NULL, created INTEGER NOT NULL,"          \
    " last_login INTEGER NOT NULL, played_time INTEGER NOT NULL DEFAULT 0);"                       \
    "CREATE TABLE wallet(char_id INTEGER PRIMARY KEY REFERENCES characters(id),"                   \
    " gold INTEGER NOT NULL DEFAULT 0 CHECK(gold >= 0));"                                          \
    "CREATE TABLE inventory(char_id INTEGER NOT NULL REFERENCES characters(id),"                   \
    " item INTEGER NOT NULL, count INTEGER NOT NULL CHECK(count >= 0),"                            \
    " PRIMARY KEY(char_id, item));"

const char *tdb_old_schema(int v)
{
    if (v == 2)
        return TDB_V2_TABLES "PRAGMA user_version = 2;";
    return TDB_V2_TABLES "ALTER TABLE characters ADD COLUMN account_id INTEGER;"
                         "PRAGMA user_version = 3;";
}

#else
#include <libpq-fe.h>

const char *const tdb_name = "postgres";
pg_cluster_t tdb_pg;
char tdb_url[256];
static PGconn *lock_c;

int tdb_group_setup(void **state)
{
    (void)state;
    if (pg_cluster_start(&tdb_pg) != 0 ||
        pg_cluster_createdb(&tdb_pg, "content_test", tdb_url, sizeof tdb_url) != 0)
        return -1;
    return 0;
}

int tdb_group_teardown(void **state)
{
    (void)state;
    pg_cluster_stop(&tdb_pg);
    return 0;
}

static void exec_on(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQerrorMessage(c));
    PQclear(r);
}

void tdb_sql(const char *q)
{
    PGconn *c = PQconnectdb(tdb_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    exec_on(c, q);
    PQfinish(c);
}

int64_t tdb_int(const char *q)
{
    PGconn *c = PQconnectdb(tdb_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, q);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t v = PQntuples(r) > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

void tdb_wipe(void)
{
    tdb_sql("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

int tdb_open_err(content_db_t **db, char *err, size_t errlen)
{
    content_db_opts_t o = CONTENT_DB_OPTS_DEFAULT;
    o.driver = CONTENT_DB_POSTGRES;
    o.url = tdb_url;
    return content_db_open_opts(NULL, &o, db, err, errlen);
}

void tdb_lock_begin(void)
{
    lock_c = PQconnectdb(tdb_url);
    assert_int_equal(PQstatus(lock_c), CONNECTION_OK);
    /* EXCLUSIVE: plain reads go on, every write waits (as SQLite's WAL) */
    exec_on(lock_c, "BEGIN; LOCK TABLE characters, wallet, inventory IN EXCLUSIVE MODE");
}

void tdb_lock_sql(const char *q)
{
    exec_on(lock_c, q);
}

void tdb_lock_end(void)
{
    exec_on(lock_c, "COMMIT");
    PQfinish(lock_c);
    lock_c = NULL;
}

/* content_db_pg.c's migration steps 1..v, as they were written: the v2
 * tables, (v3) the account column and its index, then the version row. */
#define TDB_V2_TABLES                                                                              \
    "CREATE TABLE characters("                                                                     \
    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT NOT NULL UNIQUE,"          \
    " zone INTEGER NOT NULL, x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL,"            \
    " created BIGINT NOT NULL, last_login BIGINT NOT NULL, played_time BIGINT NOT NULL"            \
    " DEFAULT 0);"                                                                                 \
    "CREATE TABLE content_requests(boot BIGINT NOT NULL, seq BIGINT NOT NULL,"                     \
    " value BIGINT NOT NULL, PRIMARY KEY(boot, seq));"                                             \
    "CREATE SEQUENCE content_boot;"                                                                \
    "CREATE TABLE wallet(char_id BIGINT PRIMARY KEY REFERENCES characters(id),"                    \
    " gold BIGINT NOT NULL DEFAULT 0 CHECK(gold >= 0));"                                           \
    "CREATE TABLE inventory(char_id BIGINT NOT NULL REFERENCES characters(id),"                    \
    " item INTEGER NOT NULL, count BIGINT NOT NULL CHECK(count >= 0),"                             \
    " PRIMARY KEY(char_id, item));"
#define TDB_VERSION_TABLE "CREATE TABLE content_schema_version(v INTEGER NOT NULL);"

const char *tdb_old_schema(int v)
{
    if (v == 2)
        return TDB_V2_TABLES TDB_VERSION_TABLE "INSERT INTO content_schema_version VALUES(2);";
    return TDB_V2_TABLES
        "ALTER TABLE characters ADD COLUMN account_id BIGINT;"
        "CREATE INDEX characters_by_account ON characters(account_id);" TDB_VERSION_TABLE
        "INSERT INTO content_schema_version VALUES(3);";
}
#endif

content_db_t *tdb_open(void)
{
    char err[512];
    content_db_t *db = NULL;
    if (tdb_open_err(&db, err, sizeof err) != 0)
        fail_msg("open (%s): %s", tdb_name, err);
    return db;
}
