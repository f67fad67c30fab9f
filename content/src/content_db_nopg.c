/* The character store without PostgreSQL support (NC_POSTGRES=OFF, e.g. the
 * Windows cross build): database.driver "postgres" is refused at open with
 * a clear message; content_db.c never forwards anything else here (no
 * handle can exist). */
#include "content_db_pg.h"

#include <stdio.h>

int content_pg_open(const content_db_opts_t *o, content_pg_t **out, char *err, size_t errlen)
{
    (void)o;
    *out = NULL;
    snprintf(err, errlen,
             "database.driver \"postgres\": this build has no PostgreSQL support"
             " (configure with -DNC_POSTGRES=ON and libpq installed)");
    return -1;
}

/* Unreachable: content_pg_open never made a handle. */
void content_pg_close(content_pg_t *p)
{
    (void)p;
}

int content_pg_user_version(content_pg_t *p)
{
    (void)p;
    return -1;
}

int content_pg_login(content_pg_t *p, const char *name, const content_login_t *who, int32_t zone,
                     float x, float y, int64_t now_ms, content_char_t *out)
{
    (void)p, (void)name, (void)who, (void)zone, (void)x, (void)y, (void)now_ms, (void)out;
    return CONTENT_DB_ERROR;
}

int content_pg_claim(content_pg_t *p, const char *name, uint64_t account_id, int *outcome,
                     uint64_t *prev_owner)
{
    (void)p, (void)name, (void)account_id, (void)outcome, (void)prev_owner;
    return CONTENT_DB_ERROR;
}

int content_pg_exists(content_pg_t *p, const char *name, int *exists)
{
    (void)p, (void)name;
    *exists = 0;
    return CONTENT_DB_ERROR;
}

int content_pg_save_positions(content_pg_t *p, const content_pos_t *v, size_t n)
{
    (void)p, (void)v, (void)n;
    return CONTENT_DB_ERROR;
}

int content_pg_wallet(content_pg_t *p, uint64_t req, int64_t char_id, int64_t delta, int32_t item,
                      int32_t count, int64_t *balance)
{
    (void)p, (void)req, (void)char_id, (void)delta, (void)item, (void)count, (void)balance;
    return CONTENT_DB_ERROR;
}

int content_pg_field_update(content_pg_t *p, uint64_t req, int64_t char_id, int field, int is_delta,
                            int64_t v, int64_t *value)
{
    (void)p, (void)req, (void)char_id, (void)field, (void)is_delta, (void)v, (void)value;
    return CONTENT_DB_ERROR;
}

int content_pg_fields_get(content_pg_t *p, int64_t char_id, content_fields_t *out)
{
    (void)p, (void)char_id, (void)out;
    return CONTENT_DB_ERROR;
}

int content_pg_probe(content_pg_t *p)
{
    (void)p;
    return CONTENT_DB_ERROR;
}

int64_t content_pg_item_count(content_pg_t *p, int64_t char_id, int32_t item)
{
    (void)p, (void)char_id, (void)item;
    return 0;
}

int content_pg_outcome_unknown(content_pg_t *p)
{
    (void)p;
    return 0;
}

void content_pg_stats(content_pg_t *p, content_db_stats_t *out)
{
    (void)p, (void)out;
}

void content_pg_lose_commit_answers(content_pg_t *p, uint32_t count)
{
    (void)p, (void)count;
}

void content_pg_inject_fault(content_pg_t *p, int kind, int result, uint32_t count)
{
    (void)p, (void)kind, (void)result, (void)count;
}
