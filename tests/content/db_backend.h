/* The content_db tests' driver under test (issue 16): the same cases
 * (test_content_db.c, test_content_fields.c, test_content_accounts.c) are
 * built twice, once on SQLite and, with CONTENT_DB_TEST_PG, once on a real
 * throwaway PostgreSQL cluster (tests/integration/pg_cluster.c).  This is
 * what a case needs besides content_db.h: a fresh database, another
 * connection for plain SQL, one that holds the write lock, and the schema
 * of an older version. */
#ifndef DB_BACKEND_H
#define DB_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "content_db.h"

extern const char *const tdb_name; /* "sqlite" or "postgres" */
extern char tdb_path[64];          /* SQLite: the file */

/* Group setup/teardown: PostgreSQL starts and stops its cluster. */
int tdb_group_setup(void **state);
int tdb_group_teardown(void **state);
/* Removes the database: the next open creates it empty. */
void tdb_wipe(void);
/* Opens the database (creating, migrating): 0 or -1 with err. */
int tdb_open_err(content_db_t **db, char *err, size_t errlen);
/* tdb_open_err that fails the test on error. */
content_db_t *tdb_open(void);
/* Runs SQL on another connection (autocommit); fails the test on error. */
void tdb_sql(const char *q);
/* The first column of the first row of q as an integer (-1: no row). */
int64_t tdb_int(const char *q);
/* Another connection takes the write lock (reads go on, writes wait),
 * runs SQL inside that transaction, and commits. */
void tdb_lock_begin(void);
void tdb_lock_sql(const char *q);
void tdb_lock_end(void);
/* SQL that makes this driver's schema as version v (2 or 3) left it, with
 * no rows (the caller adds them). */
const char *tdb_old_schema(int v);

#ifdef CONTENT_DB_TEST_PG
#include "pg_cluster.h"
extern pg_cluster_t tdb_pg;
extern char tdb_url[256];
#endif

#endif
