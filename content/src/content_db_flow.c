/* The character store's operations, written once for every driver
 * (content_db_driver.h): transactions, the owner rules, range and overflow
 * checks, request ids, the CONTENT_DB_* results, the meter and the fault
 * hooks.  The drivers (content_db.c: SQLite, content_db_pg.c: PostgreSQL)
 * only run statements. */
#include "content_db_driver.h"
#include "content_hist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "db"
#define REQ_KEEP 4096 /* request ids kept per handle */

const double content_db_bucket_ms[8] = {0.1, 0.5, 1, 5, 10, 50, 100, 1e300};

_Static_assert(CONTENT_DB_F_COUNT == 6, "content.h declares content_db_fault_name[6]");
const char *const content_db_fault_name[CONTENT_DB_F_COUNT] = {"busy", "locked", "readonly",
                                                               "full", "ioerr",  "other"};

static const char *const op_name[CONTENT_DB_OP_COUNT] = {"open",  "login",  "save",  "gold",
                                                         "probe", "exists", "claim", "field"};

static const char *const stmt_name[CONTENT_ST_FIELDS_GET] = {
    [CONTENT_ST_BEGIN] = "begin",
    [CONTENT_ST_COMMIT] = "commit",
    [CONTENT_ST_ROLLBACK] = "rollback",
    [CONTENT_ST_LOAD] = "load",
    [CONTENT_ST_INSERT] = "insert",
    [CONTENT_ST_TOUCH] = "touch",
    [CONTENT_ST_SAVE_POS] = "save",
    [CONTENT_ST_SAVE_BATCH] = "save batch",
    [CONTENT_ST_GOLD_GET] = "gold read",
    [CONTENT_ST_GOLD_SET] = "gold write",
    [CONTENT_ST_ITEM_ADD] = "item write",
    [CONTENT_ST_ITEM_GET] = "item read",
    [CONTENT_ST_OWNER_GET] = "owner read",
    [CONTENT_ST_OWNER_SET] = "owner write",
    [CONTENT_ST_REQ_GET] = "request read",
    [CONTENT_ST_REQ_PUT] = "request write",
    [CONTENT_ST_REQ_PRUNE] = "request prune",
};

const char *content_db_stmt_name(int st)
{
    return st < CONTENT_ST_FIELDS_GET    ? stmt_name[st]
           : st == CONTENT_ST_FIELDS_GET ? "field read"
                                         : "field write";
}

static uint64_t mono_us(void)
{
    return nc_now_ns() / 1000u;
}

/* One operation that started at t0 ended, ok or not. */
static void record(content_db_t *db, uint64_t t0, int ok)
{
    if (!ok)
        atomic_fetch_add(&db->m.errors, 1);
    content_hist_add(db->m.buckets, content_db_bucket_ms, 8, &db->m.ops, &db->m.total_us,
                     mono_us() - t0);
}

void content_db_stats(content_db_t *db, content_db_stats_t *out)
{
    content_db_meter_t *m = &db->m;
    out->ops = atomic_load(&m->ops);
    out->errors = atomic_load(&m->errors);
    out->total_us = atomic_load(&m->total_us);
    for (int i = 0; i < CONTENT_DB_F_COUNT; i++)
        out->faults[i] = atomic_load(&m->faults[i]);
    out->range_refused = atomic_load(&m->range_refused);
    for (int i = 0; i < 8; i++)
        out->buckets[i] = atomic_load(&m->buckets[i]);
    out->reconnects = atomic_load(&m->reconnects);
}

int content_db_fault(content_db_t *db, int kind, const char *what, const char *detail)
{
    atomic_fetch_add(&db->m.faults[kind], 1);
    int result = kind == CONTENT_DB_F_OTHER ? CONTENT_DB_ERROR : CONTENT_DB_RETRY;
    char one[256]; /* one line: libpq's messages end in, and may hold, newlines */
    snprintf(one, sizeof one, "%s", detail);
    for (char *q = one; *q; q++)
        if (*q == '\n')
            *q = ' ';
    for (size_t n = strlen(one); n > 0 && one[n - 1] == ' ';)
        one[--n] = 0;
    nc_log_limited(&db->lim[db->op], 1000, result == CONTENT_DB_RETRY ? NC_LOG_WARN : NC_LOG_ERROR,
                   TAG, "%s: %s failed: %s [%s, %s]", op_name[db->op], what, one,
                   content_db_fault_name[kind],
                   result == CONTENT_DB_RETRY ? "will retry" : "permanent");
    return result;
}

/* Test hooks: the fault a transaction fails with at BEGIN (a kind), or -1.
 * An injected one first; else the one named in the fault file ("busy",
 * "locked", "readonly", "full", "ioerr", "corrupt"; anything else is an
 * I/O error), whose "lostcommit" arms instead the loss of the COMMIT
 * answers of changes carrying a request id. */
static int injected(content_db_t *db)
{
    if (db->inject_left > 0) {
        db->inject_left--;
        return db->inject_kind;
    }
    FILE *f = db->fault_file ? fopen(db->fault_file, "r") : NULL;
    db->file_lost = 0;
    if (!f)
        return -1;
    char word[32] = "";
    if (!fgets(word, sizeof word, f))
        word[0] = 0;
    fclose(f);
    if (strncmp(word, "lostcommit", 10) == 0) {
        db->file_lost = 1;
        return -1;
    }
    if (strncmp(word, "corrupt", 7) == 0)
        return CONTENT_DB_F_OTHER;
    for (int k = 0; k < CONTENT_DB_F_OTHER; k++)
        if (strncmp(word, content_db_fault_name[k], strlen(content_db_fault_name[k])) == 0)
            return k;
    return CONTENT_DB_F_IOERR;
}

/* Transactions.  tx_begin records a failed BEGIN itself; tx_end commits
 * when rc is OK and rolls back otherwise, records the outcome and returns
 * rc (or the commit's fault: then db->unknown says whether its answer was
 * lost). */
static int tx_begin(content_db_t *db, int op, uint64_t t0)
{
    db->op = op;
    db->unknown = 0;
    int kind = injected(db);
    db->lose_armed = 0;
    int rc = kind >= 0 ? content_db_fault(db, kind, "begin (injected)", content_db_fault_name[kind])
                       : db->d->begin(db);
    if (rc != CONTENT_DB_OK)
        record(db, t0, 0);
    return rc;
}

static int tx_end(content_db_t *db, uint64_t t0, int rc)
{
    if (rc == CONTENT_DB_OK) {
        int lose = db->lose_commits > 0 || db->lose_armed;
        if (db->lose_commits > 0)
            db->lose_commits--;
        rc = db->d->commit(db, lose);
    } else {
        db->d->rollback(db);
    }
    if (rc == CONTENT_DB_RANGE)
        atomic_fetch_add(&db->m.range_refused, 1);
    record(db, t0,
           rc == CONTENT_DB_OK || rc == CONTENT_DB_REFUSED || rc == CONTENT_DB_RANGE ||
               rc == CONTENT_DB_NOT_OWNER);
    return rc;
}

/* Outside a transaction: OK when the driver is connected, else the
 * operation is counted as a failed one and RETRY. */
static int ready(content_db_t *db, int op, uint64_t t0)
{
    db->op = op;
    if (!db->d->connected || db->d->connected(db))
        return CONTENT_DB_OK;
    atomic_fetch_add(&db->m.faults[CONTENT_DB_F_IOERR], 1);
    record(db, t0, 0);
    return CONTENT_DB_RETRY;
}

/* Inside the transaction: 1 and *value when request req was committed
 * before (its COMMIT's answer lost), 0 not, or the fault. */
static int req_done(content_db_t *db, uint64_t req, int64_t *value)
{
    if (req == 0 || req != db->unknown_req || !db->d->requests)
        return 0;
    int found = 0;
    int rc =
        db->d->run(db, CONTENT_ST_REQ_GET, 2, (int64_t[]){db->boot, (int64_t)req}, &found, value);
    if (rc != CONTENT_DB_OK)
        return rc;
    nc_log(NC_LOG_INFO, TAG, "request %llu: the commit whose answer was lost %s",
           (unsigned long long)req, found ? "happened: not applied again" : "did not happen");
    return found == 1;
}

/* Inside the transaction: remembers request req's committed value.  A
 * handle keeps its last REQ_KEEP (a resend is of the newest), pruned every
 * 1024 requests. */
static int req_put(content_db_t *db, uint64_t req, int64_t value)
{
    if (req == 0 || !db->d->requests)
        return CONTENT_DB_OK;
    db->lose_armed = db->file_lost; /* tests: database.fault_file "lostcommit" */
    int rc = db->d->run(db, CONTENT_ST_REQ_PUT, 3, (int64_t[]){db->boot, (int64_t)req, value}, NULL,
                        NULL);
    if (rc == CONTENT_DB_OK && req % 1024 == 0 && req > REQ_KEEP)
        rc = db->d->run(db, CONTENT_ST_REQ_PRUNE, 2,
                        (int64_t[]){db->boot, (int64_t)(req - REQ_KEEP)}, NULL, NULL);
    return rc;
}

/* The end of a change that carries req: a lost COMMIT answer is
 * remembered for the resend; any other outcome settles it. */
static int req_end(content_db_t *db, uint64_t req, int rc)
{
    if (req && rc == CONTENT_DB_RETRY && db->unknown)
        db->unknown_req = req;
    else if (req && req == db->unknown_req && rc != CONTENT_DB_RETRY)
        db->unknown_req = 0;
    return rc;
}

/* ---- open, close ---- */

int content_db_open(const char *path, content_db_t **out, char *err, size_t errlen)
{
    content_db_opts_t o = CONTENT_DB_OPTS_DEFAULT;
    return content_db_open_opts(path, &o, out, err, errlen);
}

int content_db_open_opts(const char *path, const content_db_opts_t *o, content_db_t **out,
                         char *err, size_t errlen)
{
    content_db_t *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    db->op = CONTENT_DB_OP_OPEN;
    db->fault_file = o->fault_file;
    int rc = o->driver == CONTENT_DB_POSTGRES ? content_db_pg_open(db, o, err, errlen)
                                              : content_db_sqlite_open(db, path, o, err, errlen);
    if (rc != 0) {
        free(db);
        return -1;
    }
    *out = db;
    return 0;
}

void content_db_close(content_db_t *db)
{
    if (!db)
        return;
    db->d->close(db);
    free(db);
}

int content_db_user_version(content_db_t *db)
{
    return db->d->user_version(db);
}

const char *content_db_driver_name(content_db_t *db)
{
    return db->d->name;
}

/* ---- characters ---- */

/* A primitive's count of rows (found, changed) as a result: OK for one,
 * `none` for none, or its fault. */
static int one(int rows, int none)
{
    return rows < 0 ? rows : rows == 1 ? CONTENT_DB_OK : none;
}

/* A declared field's new value: OK, REFUSED (no such character) or the
 * fault. */
static int field_write(content_db_t *db, int64_t char_id, int field, int64_t v)
{
    int changed = 0;
    int rc =
        db->d->run(db, CONTENT_ST_FIELD_SET0 + field, 2, (int64_t[]){char_id, v}, &changed, NULL);
    return rc != CONTENT_DB_OK ? rc : changed == 1 ? CONTENT_DB_OK : CONTENT_DB_REFUSED;
}

/* The owner rules for an existing character (content_db.h). */
static int owner_ok(const content_login_t *who, const content_char_t *c)
{
    if (!who->checked)
        return 1;
    if (!c->has_owner)
        return who->legacy_ok;
    return c->account_id == who->account_id;
}

int content_db_load_or_create(content_db_t *db, const char *name, int32_t zone, float x, float y,
                              int64_t now_ms, content_char_t *out)
{
    const content_login_t anyone = {.checked = 0, .legacy_ok = 1};
    return content_db_login(db, name, &anyone, zone, x, y, now_ms, out);
}

/* Inside the login's transaction: a new character, loaded, with the
 * declared defaults (not the columns'). */
static int create(content_db_t *db, const char *name, const content_login_t *who, int32_t zone,
                  float x, float y, int64_t now_ms, content_char_t *out)
{
    int rc = db->d->insert(db, name, zone, x, y, now_ms, who->checked ? &who->account_id : NULL);
    if (rc == CONTENT_DB_OK)
        rc = one(db->d->load(db, name, out), CONTENT_DB_ERROR);
    out->created_now = rc == CONTENT_DB_OK;
    for (int i = 0; i < CONTENT_FIELD_COUNT && rc == CONTENT_DB_OK; i++)
        rc = field_write(db, out->id, i, content_fields[i].def);
    return rc;
}

int content_db_login(content_db_t *db, const char *name, const content_login_t *who, int32_t zone,
                     float x, float y, int64_t now_ms, content_char_t *out)
{
    uint64_t t0 = mono_us();
    memset(out, 0, sizeof *out);
    int rc = tx_begin(db, CONTENT_DB_OP_LOGIN, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    int found = db->d->load(db, name, out);
    rc = found < 0 ? found : CONTENT_DB_OK;
    if (found == 1 && !owner_ok(who, out))
        rc = CONTENT_DB_NOT_OWNER;
    int has_owner = out->has_owner;
    uint64_t owner = out->account_id;
    if (found == 0)
        rc = create(db, name, who, zone, x, y, now_ms, out);
    if (rc == CONTENT_DB_OK)
        rc = one(db->d->fields_get(db, out->id, &out->f), CONTENT_DB_REFUSED);
    if (rc == CONTENT_DB_OK)
        rc = db->d->run(db, CONTENT_ST_TOUCH, 2, (int64_t[]){out->id, now_ms}, NULL, NULL);
    rc = tx_end(db, t0, rc);
    if (rc == CONTENT_DB_OK) {
        out->last_login_ms = now_ms;
    } else {
        memset(out, 0, sizeof *out);
        out->has_owner = has_owner; /* NOT_OWNER: legacy or another account's */
        out->account_id = owner;
    }
    return rc;
}

int content_db_claim(content_db_t *db, const char *name, uint64_t account_id, int *outcome,
                     uint64_t *prev_owner)
{
    uint64_t t0 = mono_us();
    *outcome = CONTENT_CLAIM_NO_SUCH;
    *prev_owner = 0;
    int rc = tx_begin(db, CONTENT_DB_OP_CLAIM, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    int64_t id = 0;
    int owned = 0;
    uint64_t owner = 0;
    int found = db->d->owner_get(db, name, &id, &owned, &owner);
    rc = found < 0 ? found : CONTENT_DB_OK;
    if (found == 1 && owned) {
        *prev_owner = owner;
        *outcome = owner == account_id ? CONTENT_CLAIM_ALREADY : CONTENT_CLAIM_OWNED;
    } else if (found == 1) {
        rc = db->d->run(db, CONTENT_ST_OWNER_SET, 2, (int64_t[]){id, (int64_t)account_id}, NULL,
                        NULL);
        if (rc == CONTENT_DB_OK)
            *outcome = CONTENT_CLAIM_DONE;
    }
    return tx_end(db, t0, rc);
}

int content_db_exists(content_db_t *db, const char *name, int *exists)
{
    uint64_t t0 = mono_us();
    content_char_t scratch;
    *exists = 0;
    int rc = ready(db, CONTENT_DB_OP_EXISTS, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    int found = db->d->load(db, name, &scratch);
    record(db, t0, found >= 0);
    *exists = found == 1;
    return found < 0 ? found : CONTENT_DB_OK;
}

int content_db_save_positions(content_db_t *db, const content_pos_t *v, size_t n)
{
    uint64_t t0 = mono_us();
    int rc = tx_begin(db, CONTENT_DB_OP_SAVE, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    return tx_end(db, t0, db->d->save(db, v, n));
}

/* ---- changes: gold, items, fields ---- */

/* What a change does inside its transaction: the new value in *value, or
 * not OK (nothing is committed). */
typedef struct change_s {
    int64_t char_id;
    int64_t delta; /* gold += delta / the field becomes v (or += v) */
    int32_t item;  /* then (count > 0) item += count */
    int32_t count;
    int field; /* a field change: its index, is_delta */
    int is_delta;
} change_t;
typedef int (*apply_fn)(content_db_t *db, const change_t *c, int64_t *value);

/* One change carrying request id req (0: none) in one transaction: the
 * resend of a change whose COMMIT's answer was lost returns the committed
 * value instead of applying it again; *value gets the committed value. */
static int change(content_db_t *db, int op, uint64_t req, apply_fn apply, const change_t *c,
                  int64_t *value)
{
    uint64_t t0 = mono_us();
    int64_t v = 0;
    int rc = tx_begin(db, op, t0);
    if (rc != CONTENT_DB_OK)
        return req_end(db, req, rc);
    int done = req_done(db, req, &v);
    rc = done < 0 ? done : done ? CONTENT_DB_OK : apply(db, c, &v);
    if (done == 0 && rc == CONTENT_DB_OK)
        rc = req_put(db, req, v);
    rc = req_end(db, req, tx_end(db, t0, rc));
    if (rc == CONTENT_DB_OK)
        *value = v;
    return rc;
}

/* gold += delta (never below zero, never wraps), then item += count. */
static int wallet_apply(content_db_t *db, const change_t *c, int64_t *balance)
{
    int64_t g, n;
    int rc = db->d->run(db, CONTENT_ST_GOLD_GET, 1, (int64_t[]){c->char_id}, NULL, &g);
    if (rc != CONTENT_DB_OK)
        return rc;
    if (__builtin_add_overflow(g, c->delta, &n)) {
        nc_log_limited(&db->range_lim, 1000, NC_LOG_WARN, TAG,
                       "gold: character %lld: %lld %+lld overflows; refused", (long long)c->char_id,
                       (long long)g, (long long)c->delta);
        return CONTENT_DB_RANGE;
    }
    if (n < 0)
        return CONTENT_DB_REFUSED;
    rc = db->d->run(db, CONTENT_ST_GOLD_SET, 2, (int64_t[]){c->char_id, n}, NULL, NULL);
    *balance = n;
    int changed = 1;
    if (rc == CONTENT_DB_OK && c->count > 0)
        rc = db->d->run(db, CONTENT_ST_ITEM_ADD, 3, (int64_t[]){c->char_id, c->item, c->count},
                        &changed, NULL);
    if (rc != CONTENT_DB_OK || changed != 0)
        return rc;
    nc_log_limited(&db->range_lim, 1000, NC_LOG_WARN, TAG,
                   "item: character %lld: item %d %+d overflows; refused", (long long)c->char_id,
                   (int)c->item, (int)c->count);
    return CONTENT_DB_RANGE;
}

static int wallet_tx(content_db_t *db, uint64_t req, int64_t char_id, int64_t delta, int32_t item,
                     int32_t count, int64_t *balance)
{
    const change_t c = {.char_id = char_id, .delta = delta, .item = item, .count = count};
    return change(db, CONTENT_DB_OP_GOLD, req, wallet_apply, &c, balance);
}

int content_db_gold_add(content_db_t *db, int64_t char_id, int64_t delta, int64_t *balance)
{
    return wallet_tx(db, 0, char_id, delta, 0, 0, balance);
}

int content_db_gold_add_req(content_db_t *db, uint64_t req, int64_t char_id, int64_t delta,
                            int64_t *balance)
{
    return wallet_tx(db, req, char_id, delta, 0, 0, balance);
}

int content_db_buy_item_req(content_db_t *db, uint64_t req, int64_t char_id, int32_t item,
                            int32_t count, int64_t price, int64_t *balance)
{
    if (price < 0 || count < 0) { /* -price is then always defined */
        atomic_fetch_add(&db->m.range_refused, 1);
        return CONTENT_DB_RANGE;
    }
    return wallet_tx(db, req, char_id, -price, item, count, balance);
}

int content_db_buy_item(content_db_t *db, int64_t char_id, int32_t item, int32_t count,
                        int64_t price, int64_t *balance)
{
    return content_db_buy_item_req(db, 0, char_id, item, count, price, balance);
}

int64_t content_db_item_count(content_db_t *db, int64_t char_id, int32_t item)
{
    int64_t n = 0;
    if (!db->d->connected || db->d->connected(db))
        db->d->run(db, CONTENT_ST_ITEM_GET, 2, (int64_t[]){char_id, item}, NULL, &n);
    return n;
}

/* ---- declared fields ---- */

/* The field becomes v, or (is_delta) value + v: within [min, max]. */
static int field_apply(content_db_t *db, const change_t *c, int64_t *value)
{
    const content_field_info_t *fi = &content_fields[c->field];
    content_fields_t f;
    int64_t n = c->delta;
    int rc = one(db->d->fields_get(db, c->char_id, &f), CONTENT_DB_REFUSED);
    if (rc == CONTENT_DB_OK && c->is_delta &&
        __builtin_add_overflow(*content_field_ptr(&f, c->field), c->delta, &n))
        rc = CONTENT_DB_RANGE;
    if (rc == CONTENT_DB_OK && (n < fi->min || n > fi->max))
        rc = CONTENT_DB_RANGE;
    if (rc == CONTENT_DB_RANGE)
        nc_log_limited(&db->range_lim, 1000, NC_LOG_WARN, TAG,
                       "%s: character %lld: %s%lld outside [%lld, %lld]; refused", fi->name,
                       (long long)c->char_id, c->is_delta ? "+" : "", (long long)c->delta,
                       (long long)fi->min, (long long)fi->max);
    if (rc == CONTENT_DB_OK)
        rc = field_write(db, c->char_id, c->field, n);
    *value = n;
    return rc;
}

static int field_update(content_db_t *db, uint64_t req, int64_t char_id, int field, int is_delta,
                        int64_t v, int64_t *value)
{
    if (field < 0 || field >= CONTENT_FIELD_COUNT)
        return CONTENT_DB_REFUSED;
    const change_t c = {.char_id = char_id, .delta = v, .field = field, .is_delta = is_delta};
    return change(db, CONTENT_DB_OP_FIELD, req, field_apply, &c, value);
}

int content_db_field_set(content_db_t *db, int64_t char_id, int field, int64_t v, int64_t *value)
{
    return field_update(db, 0, char_id, field, 0, v, value);
}

int content_db_field_add(content_db_t *db, int64_t char_id, int field, int64_t delta,
                         int64_t *value)
{
    return field_update(db, 0, char_id, field, 1, delta, value);
}

int content_db_field_add_req(content_db_t *db, uint64_t req, int64_t char_id, int field,
                             int64_t delta, int64_t *value)
{
    return field_update(db, req, char_id, field, 1, delta, value);
}

int content_db_fields_get(content_db_t *db, int64_t char_id, content_fields_t *out)
{
    uint64_t t0 = mono_us();
    int rc = ready(db, CONTENT_DB_OP_FIELD, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    rc = one(db->d->fields_get(db, char_id, out), CONTENT_DB_REFUSED);
    record(db, t0, rc == CONTENT_DB_OK || rc == CONTENT_DB_REFUSED);
    return rc;
}

/* ---- probes and test hooks ---- */

int content_db_probe(content_db_t *db)
{
    uint64_t t0 = mono_us();
    int rc = tx_begin(db, CONTENT_DB_OP_PROBE, t0);
    if (rc != CONTENT_DB_OK)
        return rc;
    db->d->rollback(db);
    return CONTENT_DB_OK;
}

int content_db_outcome_unknown(content_db_t *db)
{
    return db->unknown;
}

void content_db_inject_fault(content_db_t *db, int sqlite_rc, uint32_t count)
{
    db->inject_kind = content_db_sqlite_kind(sqlite_rc);
    db->inject_left = count;
}

void content_db_lose_commit_answers(content_db_t *db, uint32_t count)
{
    db->lose_commits = count;
}

/* ---- shared by the drivers ---- */

/* The statements generated from the declared fields (char_fields.h), with
 * parameters written mark1, mark2: field < 0 reads them all (id first),
 * field >= 0 writes that one.  0, or -1: too long for buf. */
static int field_sql(char *buf, size_t size, int field, char mark)
{
    int n = field >= 0 ? snprintf(buf, size, "UPDATE characters SET %s = %c2 WHERE id = %c1",
                                  content_fields[field].name, mark, mark)
                       : snprintf(buf, size, "SELECT id");
    for (int f = 0; field < 0 && f < CONTENT_FIELD_COUNT && n > 0 && (size_t)n < size; f++)
        n += snprintf(buf + n, size - (size_t)n, ", %s", content_fields[f].name);
    if (field < 0 && n > 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " FROM characters WHERE id = %c1", mark);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

int content_db_prepare(const char *const *sql, char mark,
                       const char *(*prepare)(void *ctx, int i, const char *sql), void *ctx,
                       char *err, size_t errlen)
{
    for (int k = 0; k < CONTENT_ST_COUNT; k++) {
        int st = (k + CONTENT_ST_FIELD_SET0) % CONTENT_ST_COUNT, f = st - CONTENT_ST_FIELD_SET0;
        char gen[96 + CONTENT_FIELD_COUNT * 40];
        if (st >= CONTENT_ST_FIELDS_GET && field_sql(gen, sizeof gen, f, mark) != 0) {
            snprintf(err, errlen, "character fields: statement %d too long", st);
            return -1;
        }
        const char *q = st < CONTENT_ST_FIELDS_GET ? sql[st] : gen;
        const char *why = q ? prepare(ctx, st, q) : NULL;
        if (!why)
            continue;
        if (f >= 0)
            snprintf(err, errlen,
                     "character field '%s' (char_fields.h) has no column in the database (%s): "
                     "add a migration step for it (migrations[] of content_db.c and "
                     "content_db_pg.c)",
                     content_fields[f].name, why);
        else
            snprintf(err, errlen, "prepare %s: %s", content_db_stmt_name(st), why);
        return -1;
    }
    return 0;
}
