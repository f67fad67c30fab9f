/* The character store's drivers (issue 16): content_db.c holds every rule
 * and operation flow of content_db.h once (transactions, owner checks,
 * range checks, request ids, CONTENT_DB_* results, the meter, fault
 * injection); a driver only runs statements, through the table below.
 * SQLite: content_db_sqlite.c; PostgreSQL: content_db_pg.c (libpq) or
 * content_db_nopg.c (a build without NC_POSTGRES: the open is refused). */
#ifndef CONTENT_DB_DRIVER_H
#define CONTENT_DB_DRIVER_H

#include "content_db.h"

#include <stdatomic.h>
#include "netcore.h"

/* Statement counts, faults and latency of one handle: written on the db
 * strand, read by the metrics thread. */
typedef struct content_db_meter_s {
    atomic_uint_fast64_t ops, errors, total_us, buckets[8];
    atomic_uint_fast64_t faults[CONTENT_DB_F_COUNT], range_refused, reconnects;
} content_db_meter_t;

/* The store's statements.  Each driver writes them in its own dialect
 * (parameters numbered as listed; NULL: a statement it does without);
 * the ones of the declared fields (char_fields.h) are generated:
 * CONTENT_ST_FIELDS_GET reads them all (id first), CONTENT_ST_FIELD_SET0 + f
 * writes field f. */
enum {
    CONTENT_ST_BEGIN,
    CONTENT_ST_COMMIT,
    CONTENT_ST_ROLLBACK,
    CONTENT_ST_LOAD,     /* name -> the character and its gold (the load primitive) */
    CONTENT_ST_INSERT,   /* name, zone, x, y, now, owner (the insert primitive) */
    CONTENT_ST_TOUCH,    /* id, last_login */
    CONTENT_ST_SAVE_POS, /* id, zone, x, y, played (the save primitive) */
    CONTENT_ST_SAVE_BATCH,
    CONTENT_ST_GOLD_GET,  /* id -> gold; locks the wallet row */
    CONTENT_ST_GOLD_SET,  /* id, gold */
    CONTENT_ST_ITEM_ADD,  /* id, item, n: changes no row when the count would overflow */
    CONTENT_ST_ITEM_GET,  /* id, item -> count */
    CONTENT_ST_OWNER_GET, /* name -> id, account_id; locks the row */
    CONTENT_ST_OWNER_SET, /* id, account_id */
    CONTENT_ST_REQ_GET,   /* boot, seq -> value */
    CONTENT_ST_REQ_PUT,   /* boot, seq, value */
    CONTENT_ST_REQ_PRUNE, /* boot, below seq */
    CONTENT_ST_FIELDS_GET,
    CONTENT_ST_FIELD_SET0,
    CONTENT_ST_COUNT = CONTENT_ST_FIELD_SET0 + CONTENT_FIELD_COUNT
};
/* A statement's name, for logs. */
const char *content_db_stmt_name(int st);

/* Conventions: every primitive runs on the db strand; those that return
 * int give CONTENT_DB_OK (or a count of rows found, >= 0) or a fault's
 * result (< 0, from content_db_fault).  Between begin and commit/rollback
 * they share one transaction. */
typedef struct content_db_driver_s {
    const char *name; /* content_db_driver_name */
    /* 1: a COMMIT's answer can be lost, so changes record their request
     * ids (CONTENT_ST_REQ_*); 0: its outcome is always known (SQLite) */
    int requests;
    void (*close)(content_db_t *db);
    int (*user_version)(content_db_t *db);
    /* Outside a transaction: 1 connected (reconnecting if due), 0 not.
     * NULL: always connected. */
    int (*connected)(content_db_t *db);
    int (*begin)(content_db_t *db);
    /* lose_answer (tests): commit, then drop the answer with the
     * connection and set db->unknown; a driver whose COMMIT's outcome is
     * always known ignores it.  A failed COMMIT leaves no transaction. */
    int (*commit)(content_db_t *db, int lose_answer);
    void (*rollback)(content_db_t *db); /* ends a transaction, if one is open */
    /* Statement st with n (<= 5) int64 parameters: OK or the fault.
     * rows (may be NULL): the rows it changed, or found; first (may be
     * NULL): the first column of the row it found (0 without one). */
    int (*run)(content_db_t *db, int st, int n, const int64_t *v, int *rows, int64_t *first);
    /* The statements with other than int64 parameters or one column: */
    int (*load)(content_db_t *db, const char *name, content_char_t *out); /* 1, 0 none */
    /* owner: the new character's account, or NULL (nobody) */
    int (*insert)(content_db_t *db, const char *name, int32_t zone, float x, float y,
                  int64_t now_ms, const uint64_t *owner);
    int (*owner_get)(content_db_t *db, const char *name, int64_t *id, int *owned,
                     uint64_t *owner); /* 1, 0 none */
    int (*save)(content_db_t *db, const content_pos_t *v, size_t n);
    int (*fields_get)(content_db_t *db, int64_t id, content_fields_t *out); /* 1, 0 none */
} content_db_driver_t;

/* Operations, for logs (one rate-limited line per second each). */
enum {
    CONTENT_DB_OP_OPEN,
    CONTENT_DB_OP_LOGIN,
    CONTENT_DB_OP_SAVE,
    CONTENT_DB_OP_GOLD,
    CONTENT_DB_OP_PROBE,
    CONTENT_DB_OP_EXISTS,
    CONTENT_DB_OP_CLAIM,
    CONTENT_DB_OP_FIELD,
    CONTENT_DB_OP_COUNT
};

/* One handle: the driver's state behind drv, the rest shared. */
struct content_db_s {
    const content_db_driver_t *d;
    void *drv;
    const char *fault_file; /* content_db_opts_t.fault_file */
    int op;                 /* CONTENT_DB_OP_* in progress, for logs */
    /* db strand only: */
    nc_log_state_t lim[CONTENT_DB_OP_COUNT], range_lim;
    int inject_kind;
    uint32_t inject_left, lose_commits;
    int file_lost;        /* tests: the fault file says "lostcommit" */
    int lose_armed;       /* tests: drop this transaction's COMMIT answer */
    int unknown;          /* the last RETRY was a COMMIT without an answer */
    uint64_t unknown_req; /* and its request id (0: none) */
    int64_t boot;         /* request ids are (boot, req): boot set by the driver */
    /* read by the metrics thread: */
    content_db_meter_t m;
};

/* Counts a failed statement of kind (CONTENT_DB_F_*) and logs it, one line
 * a second per operation; returns its result (RETRY, or ERROR for
 * CONTENT_DB_F_OTHER).  detail: the database's message. */
int content_db_fault(content_db_t *db, int kind, const char *what, const char *detail);
/* The fault kind of an SQLite result code (content_db_inject_fault). */
int content_db_sqlite_kind(int rc);

/* Prepares a driver's statements (sql[st] for st < CONTENT_ST_FIELDS_GET,
 * NULL skipped; the fields' generated with parameters written mark1,
 * mark2: '?' or '$') through prepare, which returns NULL or the
 * database's message.  The fields' writes go first: a field without its
 * column (a migration step forgotten) stops the start with its name. */
int content_db_prepare(const char *const *sql, char mark,
                       const char *(*prepare)(void *ctx, int i, const char *sql), void *ctx,
                       char *err, size_t errlen);

/* Open the driver's side of db (db->d, db->drv); on failure -1 and err,
 * with nothing left to free. */
int content_db_sqlite_open(content_db_t *db, const char *path, const content_db_opts_t *o,
                           char *err, size_t errlen);
int content_db_pg_open(content_db_t *db, const content_db_opts_t *o, char *err, size_t errlen);

#endif
