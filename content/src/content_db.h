/* Character persistence on SQLite (WAL).  Synchronous calls: the caller runs
 * them on the `db` queue only (one connection, one strand), never on an I/O
 * thread or inside a zone tick.  Statements are prepared once and reused. */
#ifndef CONTENT_DB_H
#define CONTENT_DB_H

#include <stddef.h>
#include <stdint.h>

#define CONTENT_DB_SCHEMA_VERSION 2
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
} content_char_t;

typedef struct content_pos_s {
    int64_t id;
    int32_t zone;
    float x, y;
    int64_t played_s;
} content_pos_t;

/* Opens (creating if needed) and migrates to CONTENT_DB_SCHEMA_VERSION.  On
 * failure returns -1 and writes a message to err. */
int content_db_open(const char *path, content_db_t **out, char *err, size_t errlen);
/* Checkpoints the WAL and closes. */
void content_db_close(content_db_t *db);
int content_db_user_version(content_db_t *db);

/* Loads `name` or creates it at (zone, x, y); stamps last_login.  0 or -1. */
int content_db_load_or_create(content_db_t *db, const char *name, int32_t zone, float x, float y,
                              int64_t now_ms, content_char_t *out);
/* Saves n positions in one transaction.  0 or -1 (nothing saved). */
int content_db_save_positions(content_db_t *db, const content_pos_t *v, size_t n);

/* Adds delta (may be negative) to the character's gold in one transaction;
 * refuses (-2) to go below zero.  *balance gets the committed value. */
int content_db_gold_add(content_db_t *db, int64_t char_id, int64_t delta, int64_t *balance);
/* Buys `count` of `item` for `price` gold in one transaction: both change or
 * neither (-2 if the gold is short). */
int content_db_buy_item(content_db_t *db, int64_t char_id, int32_t item, int32_t count,
                        int64_t price, int64_t *balance);
int64_t content_db_item_count(content_db_t *db, int64_t char_id, int32_t item);

/* Cumulative latency of statements, for metrics. */
typedef struct content_db_stats_s {
    uint64_t ops, errors;
    uint64_t total_us;
    uint64_t buckets[8]; /* <=0.1,0.5,1,5,10,50,100,+Inf ms, cumulative counts */
} content_db_stats_t;
void content_db_stats(content_db_t *db, content_db_stats_t *out);
extern const double content_db_bucket_ms[8];

#endif
