/* Character persistence: one interface, two drivers chosen at open
 * (issue 16): SQLite (WAL, the default, content_db.c) and PostgreSQL through
 * libpq (content_db_pg.c; content_db_nopg.c when built without it).
 * Synchronous calls: the caller runs them on the `db` queue only (one
 * connection, one strand), never on an I/O thread or inside a zone tick.
 * Statements are prepared once per connection and reused. */
#ifndef CONTENT_DB_H
#define CONTENT_DB_H

#include <stddef.h>
#include <stdint.h>
#include "char_fields.h"

#define CONTENT_DB_SCHEMA_VERSION 4
#define CONTENT_NAME_MAX 24

typedef struct content_db_s content_db_t;

typedef struct content_char_s {
    int64_t id;
    char name[CONTENT_NAME_MAX + 1];
    int32_t zone;
    float x, y;
    int64_t created_ms, last_login_ms;
    int64_t played_s;
    int64_t gold;
    int created_now; /* 1 when this load created the character */
    /* accounts (issue 13): the owner; has_owner 0 = a legacy character */
    int has_owner;
    uint64_t account_id;
    /* the declared fields (char_fields.h), loaded at login (issue 14) */
    content_fields_t f;
} content_char_t;

typedef struct content_pos_s {
    int64_t id;
    int32_t zone;
    float x, y;
    int64_t played_s;
    char name[CONTENT_NAME_MAX + 1]; /* for logs only (a save that could not be made) */
} content_pos_t;

/* Results of the operations below. */
enum {
    CONTENT_DB_OK = 0,
    CONTENT_DB_ERROR = -1,    /* permanent (constraint, corrupt file...): retrying will not help */
    CONTENT_DB_REFUSED = -2,  /* a rule said no (gold would go below zero); nothing changed */
    CONTENT_DB_RETRY = -3,    /* transient fault (busy, locked, read-only, full, I/O): nothing
                                 changed; the same call may succeed later */
    CONTENT_DB_RANGE = -4,    /* an amount out of range (overflow); nothing changed */
    CONTENT_DB_NOT_OWNER = -5 /* the character belongs to another account, or to none
                                 (legacy) where that is not allowed; nothing changed */
};

/* Fault kinds counted by content_db_stats (SQLite primary result codes). */
enum {
    CONTENT_DB_F_BUSY,
    CONTENT_DB_F_LOCKED,
    CONTENT_DB_F_READONLY,
    CONTENT_DB_F_FULL,
    CONTENT_DB_F_IOERR,
    CONTENT_DB_F_OTHER,
    CONTENT_DB_F_COUNT
};
extern const char *const content_db_fault_name[CONTENT_DB_F_COUNT];

typedef struct content_db_opts_s {
    int synchronous_full;     /* 1: PRAGMA synchronous=FULL (durable commits), 0: NORMAL */
    uint32_t busy_timeout_ms; /* how long one statement waits for a lock; keep it short */
    /* Tests only: when non-NULL and this file exists, every transaction
     * fails at BEGIN with the fault named in it (busy, locked, readonly,
     * full, ioerr) as if SQLite had returned it.  PostgreSQL also knows
     * "lostcommit": each change carrying a request id commits, then its
     * answer is lost with the connection (the idempotent resend path). */
    const char *fault_file;
    /* issue 16: the driver.  CONTENT_DB_SQLITE (0, default): `path` is the
     * SQLite file.  CONTENT_DB_POSTGRES: `url` is a libpq conninfo or URL
     * without a password (a libpq passfile holds it; a url carrying one is
     * refused at open), `path` is ignored; busy_timeout_ms becomes the
     * session's lock_timeout. */
    int driver;
    const char *url;
} content_db_opts_t;
enum { CONTENT_DB_SQLITE = 0, CONTENT_DB_POSTGRES = 1 };
#define CONTENT_DB_OPTS_DEFAULT                                                                    \
    {                                                                                              \
        1, 100, NULL, CONTENT_DB_SQLITE, NULL                                                      \
    }

/* Opens (creating if needed) and migrates to CONTENT_DB_SCHEMA_VERSION.  On
 * failure returns -1 and writes a message to err.  content_db_open uses
 * CONTENT_DB_OPTS_DEFAULT.  Refuses (clearly) a database whose directory,
 * file, -wal or -shm cannot be written: SQLite would otherwise map a
 * read-only -shm and die of SIGBUS on its first transaction. */
int content_db_open(const char *path, content_db_t **out, char *err, size_t errlen);
int content_db_open_opts(const char *path, const content_db_opts_t *o, content_db_t **out,
                         char *err, size_t errlen);
/* Checkpoints the WAL and closes. */
void content_db_close(content_db_t *db);
int content_db_user_version(content_db_t *db);

/* Every operation below runs in one transaction and returns a CONTENT_DB_*
 * result; on anything but CONTENT_DB_OK nothing changed.  Faults are
 * counted by kind and logged (rate-limited: one line per second per
 * operation, with the count of the ones not logged). */

/* Loads `name` or creates it at (zone, x, y); stamps last_login. */
int content_db_load_or_create(content_db_t *db, const char *name, int32_t zone, float x, float y,
                              int64_t now_ms, content_char_t *out);
/* Who logs in (issue 13).  checked: the login carried a verified ticket
 * for account_id, and the owner rules apply: a new character is created
 * for that account; an existing one must belong to it, or (legacy_ok) to
 * nobody.  Unchecked logins (dev mode, name only) create unowned
 * characters and may use any. */
typedef struct content_login_s {
    int checked;
    uint64_t account_id;
    int legacy_ok;
} content_login_t;
/* content_db_load_or_create for `who`: CONTENT_DB_NOT_OWNER when the rules
 * say no (out->has_owner and out->account_id then say whose it is). */
int content_db_login(content_db_t *db, const char *name, const content_login_t *who, int32_t zone,
                     float x, float y, int64_t now_ms, content_char_t *out);
/* Admin (gameserver --claim-character): gives the legacy character `name`
 * to account_id.  *outcome: CONTENT_CLAIM_DONE, _ALREADY (it is that
 * account's), _OWNED (another account's: *prev_owner; nothing changed) or
 * _NO_SUCH.  Returns the transaction's CONTENT_DB_* result. */
enum { CONTENT_CLAIM_DONE, CONTENT_CLAIM_ALREADY, CONTENT_CLAIM_OWNED, CONTENT_CLAIM_NO_SUCH };
int content_db_claim(content_db_t *db, const char *name, uint64_t account_id, int *outcome,
                     uint64_t *prev_owner);
/* Whether `name` has a character (*exists 1 or 0), creating nothing: one
 * SELECT outside any transaction (WAL: a write lock held elsewhere does not
 * block it).  OK, or the fault (*exists is then 0). */
int content_db_exists(content_db_t *db, const char *name, int *exists);
/* Saves n positions in one transaction (all or nothing). */
int content_db_save_positions(content_db_t *db, const content_pos_t *v, size_t n);

/* Adds delta (may be negative) to the character's gold in one transaction;
 * refuses (CONTENT_DB_REFUSED) to go below zero and (CONTENT_DB_RANGE) a
 * balance that would not fit in int64.  *balance gets the committed value. */
int content_db_gold_add(content_db_t *db, int64_t char_id, int64_t delta, int64_t *balance);
/* Buys `count` of `item` for `price` gold in one transaction: both change or
 * neither (CONTENT_DB_REFUSED if the gold is short, CONTENT_DB_RANGE for a
 * negative price or count, or an item count that would overflow). */
int content_db_buy_item(content_db_t *db, int64_t char_id, int32_t item, int32_t count,
                        int64_t price, int64_t *balance);
/* Declared character fields (char_fields.h), issue 14.  Each write is one
 * transaction, committed before the call returns (acknowledge after it):
 * CONTENT_DB_RANGE for a value outside the field's [min, max] (or a sum
 * that overflows), CONTENT_DB_REFUSED for no such character or field;
 * *value gets the committed value. */
int content_db_field_set(content_db_t *db, int64_t char_id, int field, int64_t v, int64_t *value);
int content_db_field_add(content_db_t *db, int64_t char_id, int field, int64_t delta,
                         int64_t *value);
/* Idempotent changes (issue 16).  req: the caller's id of this change,
 * nonzero and unique for the life of the handle; after CONTENT_DB_RETRY the
 * caller resends the change with the same req.  PostgreSQL records req in
 * the change's own transaction, so when the connection was lost at COMMIT
 * (outcome unknown) the resend finds it and returns the committed result
 * (*balance / *value) instead of applying the change twice.  SQLite always
 * knows a COMMIT's outcome and ignores req.  req 0: not recorded. */
int content_db_gold_add_req(content_db_t *db, uint64_t req, int64_t char_id, int64_t delta,
                            int64_t *balance);
int content_db_buy_item_req(content_db_t *db, uint64_t req, int64_t char_id, int32_t item,
                            int32_t count, int64_t price, int64_t *balance);
int content_db_field_add_req(content_db_t *db, uint64_t req, int64_t char_id, int field,
                             int64_t delta, int64_t *value);
/* 1 when the last CONTENT_DB_RETRY may nevertheless have committed (the
 * connection was lost at COMMIT): only a resend with the same req tells. */
int content_db_outcome_unknown(content_db_t *db);
/* "sqlite" or "postgres". */
const char *content_db_driver_name(content_db_t *db);
/* Reads every declared field of a character (CONTENT_DB_REFUSED: none). */
int content_db_fields_get(content_db_t *db, int64_t char_id, content_fields_t *out);
/* Takes and drops the write lock (BEGIN IMMEDIATE; ROLLBACK): OK, or the
 * fault.  A lock held elsewhere shows; a read-only or full disk shows only
 * at the next write. */
int content_db_probe(content_db_t *db);
int64_t content_db_item_count(content_db_t *db, int64_t char_id, int32_t item);

/* Cumulative latency of statements, for metrics. */
typedef struct content_db_stats_s {
    uint64_t ops, errors;
    uint64_t faults[CONTENT_DB_F_COUNT]; /* failed statements by kind */
    uint64_t range_refused;              /* CONTENT_DB_RANGE answers */
    uint64_t total_us;
    uint64_t buckets[8]; /* <=0.1,0.5,1,5,10,50,100,+Inf ms, cumulative counts */
    uint64_t reconnects; /* PostgreSQL: connections re-established after a loss */
} content_db_stats_t;
void content_db_stats(content_db_t *db, content_db_stats_t *out);
/* Tests: the next `count` transactions fail at BEGIN with SQLite result
 * code `sqlite_rc` (e.g. 8 SQLITE_READONLY, 13 SQLITE_FULL); on PostgreSQL
 * as the fault kind SQLite's code maps to. */
void content_db_inject_fault(content_db_t *db, int sqlite_rc, uint32_t count);
/* Tests (PostgreSQL): the next `count` COMMITs are sent and committed, but
 * their answer is dropped with the connection, as if the network failed
 * right there: the call returns CONTENT_DB_RETRY with the outcome unknown.
 * SQLite ignores it (its COMMIT's outcome is always known). */
void content_db_lose_commit_answers(content_db_t *db, uint32_t count);
extern const double content_db_bucket_ms[8];

#endif
