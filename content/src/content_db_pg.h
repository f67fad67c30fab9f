/* The PostgreSQL driver of content_db.h (issue 16): content_db.c forwards
 * every call of a handle opened with CONTENT_DB_POSTGRES here.  Same
 * results, same rules; content_db_pg.c (libpq) or content_db_nopg.c (a build
 * without NC_POSTGRES: the open is refused with a clear message). */
#ifndef CONTENT_DB_PG_H
#define CONTENT_DB_PG_H

#include "content_db.h"

#include <stdatomic.h>

typedef struct content_pg_s content_pg_t;

/* Statement counts, faults and latency of one handle, either driver:
 * written on the db strand, read by the metrics thread. */
typedef struct content_db_meter_s {
    atomic_uint_fast64_t ops, errors, total_us, buckets[8];
    atomic_uint_fast64_t faults[CONTENT_DB_F_COUNT], range_refused, reconnects;
} content_db_meter_t;
/* One operation that started at t0 (mono us) ended, ok or not. */
void content_db_meter_record(content_db_meter_t *m, uint64_t t0, int ok);
void content_db_meter_read(content_db_meter_t *m, content_db_stats_t *out);

int content_pg_open(const content_db_opts_t *o, content_pg_t **out, char *err, size_t errlen);
void content_pg_close(content_pg_t *p);
int content_pg_user_version(content_pg_t *p);
int content_pg_login(content_pg_t *p, const char *name, const content_login_t *who, int32_t zone,
                     float x, float y, int64_t now_ms, content_char_t *out);
int content_pg_claim(content_pg_t *p, const char *name, uint64_t account_id, int *outcome,
                     uint64_t *prev_owner);
int content_pg_exists(content_pg_t *p, const char *name, int *exists);
int content_pg_save_positions(content_pg_t *p, const content_pos_t *v, size_t n);
/* gold += delta, then (count > 0) item += count; req as content_db.h. */
int content_pg_wallet(content_pg_t *p, uint64_t req, int64_t char_id, int64_t delta, int32_t item,
                      int32_t count, int64_t *balance);
int content_pg_field_update(content_pg_t *p, uint64_t req, int64_t char_id, int field, int is_delta,
                            int64_t v, int64_t *value);
int content_pg_fields_get(content_pg_t *p, int64_t char_id, content_fields_t *out);
int content_pg_probe(content_pg_t *p);
int64_t content_pg_item_count(content_pg_t *p, int64_t char_id, int32_t item);
int content_pg_outcome_unknown(content_pg_t *p);
void content_pg_stats(content_pg_t *p, content_db_stats_t *out);
/* kind: CONTENT_DB_F_*; result: CONTENT_DB_RETRY or CONTENT_DB_ERROR. */
void content_pg_inject_fault(content_pg_t *p, int kind, int result, uint32_t count);
void content_pg_lose_commit_answers(content_pg_t *p, uint32_t count);

/* Shared with content_db.c: the fault kind (CONTENT_DB_F_*) and result
 * named in o->fault_file, if that file exists (0), else -1; 1 when it says
 * "lostcommit" (PostgreSQL: the COMMIT answers of changes that carry a
 * request id are dropped with the connection while the file exists). */
int content_db_fault_file(const char *file, int *kind, int *result);
/* The fault kind and result SQLite's result code rc maps to. */
void content_db_fault_of_sqlite(int rc, int *kind, int *result);

#endif
