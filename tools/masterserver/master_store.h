/* The account store's drivers (issue 16): one small table of operations,
 * implemented by master_accounts.c (SQLite, embedded, the default) and
 * master_accounts_pg.c (PostgreSQL through libpq, NC_POSTGRES).  The
 * macct_* functions of master_auth.h dispatch through it; callers never
 * see which driver runs.  Same schema and migrations, once per driver. */
#ifndef MASTER_STORE_H
#define MASTER_STORE_H

#include "master_auth.h"

typedef struct macct_ops_s {
    const char *name;
    void (*close)(macct_t *a);
    int (*find)(macct_t *a, const char *name, macct_row_t *out);
    int (*insert)(macct_t *a, const char *name, const char *hash, int role, uint64_t *id);
    int (*login_ok)(macct_t *a, uint64_t id, const char *new_hash);
    int (*login_failed)(macct_t *a, uint64_t id, uint32_t failed, uint64_t locked_until_ms);
    int (*characters)(macct_t *a, uint64_t id, proto_character_ref_t *out, int max);
    int (*character_used)(macct_t *a, uint64_t id, const char *shard, const char *name, int keep);
    int (*available)(macct_t *a);
    void (*stats)(macct_t *a, macct_stats_t *out); /* issue 16: metrics; lock-free */
} macct_ops_t;

/* Every driver's handle starts with this. */
struct macct_s {
    const macct_ops_t *ops;
};

int macct_sqlite_open(const char *path, macct_t **out, char *err, size_t errlen);
int macct_pg_open(const char *url, macct_t **out, char *err, size_t errlen);

#endif
