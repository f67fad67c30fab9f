/* masterserver's login side (issue 13): configuration, the account store,
 * the failed-login lock-out tables, the login identity and the encrypted
 * login listener.  The registry (masterserver.c) exposes its shard table
 * through master_registry_*; everything else here is self-contained. */
#ifndef MASTER_AUTH_H
#define MASTER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "netcore.h"
#include "proto_auth.h"
#include "proto_packets.h"

/* ---- configuration (master_config.c) ------------------------------------ */
typedef struct master_auth_cfg_s {
    int open_registration;     /* accounts.open_registration */
    uint32_t hash_ops;         /* accounts.hash_ops: Argon2id passes (t) */
    uint32_t hash_mem_kib;     /* accounts.hash_mem_kib: Argon2id memory (m) */
    uint32_t hash_threads;     /* accounts.hash_threads: cap of the auth queue */
    uint32_t hash_queue;       /* accounts.hash_queue: pending hashing jobs */
    uint32_t ticket_ttl_s;     /* accounts.ticket_ttl_s */
    uint32_t lock_account;     /* accounts.lockout_account_failures */
    uint32_t lock_address;     /* accounts.lockout_address_failures */
    uint32_t lock_base_ms;     /* accounts.lockout_base_ms */
    uint32_t lock_max_ms;      /* accounts.lockout_max_ms */
    uint32_t lock_forget_ms;   /* accounts.lockout_forget_ms */
    uint32_t lock_table;       /* accounts.lockout_table_size (per table) */
    uint32_t reg_per_address;  /* accounts.registrations_per_address (0 = off) */
    uint32_t reg_window_ms;    /* accounts.registration_window_ms */
    uint32_t login_sessions;   /* login.max_sessions */
    uint32_t login_idle_ms;    /* login.idle_timeout_ms */
    uint32_t login_pending;    /* login.max_pending: requests queued behind a hash */
    uint32_t login_rate;       /* login.packets_per_s */
    uint32_t login_per_addr;   /* login.max_sessions_per_address (0 = off) */
    uint32_t registry_threads; /* login.worker_threads: login + registry workers */
    /* red-team review (issue 16 session) */
    uint32_t hash_per_addr;    /* accounts.hash_per_address: hashes queued per address (0 = off) */
    int login_exempt_loopback; /* login.exempt_loopback: max_sessions_per_address skips loopback */
    char db_driver[16];        /* accounts.driver: "sqlite" (default) or "postgres" */
    char db_url[1024];         /* accounts.url: libpq conninfo / URL (postgres only) */
    uint32_t metrics_port;     /* metrics.port: Prometheus page (0 = off, the default) */
    char metrics_host[64];     /* metrics.host: its address (default 127.0.0.1) */
} master_auth_cfg_t;

void master_auth_cfg_defaults(master_auth_cfg_t *c);
/* Reads a JSON config file over the current values.  0, or -1 with err. */
int master_auth_cfg_load(master_auth_cfg_t *c, const char *path, char *err, size_t errlen);

/* ---- password hashing (master_accounts.c) ------------------------------- */
#define MASTER_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define MASTER_PW_MIN 8
#define MASTER_PW_MAX 128

/* 1 if name is 2..24 of [A-Za-z0-9_.-]. */
int master_account_name_ok(const char *name);
/* 1 if a password of len bytes meets the policy (8..128). */
int master_password_ok(size_t len);
/* Argon2id string of pw at the configured cost.  0 or -1 (out of memory). */
int master_hash(const master_auth_cfg_t *c, const char *pw, size_t len, char out[MASTER_HASH_MAX]);
/* 0 if pw matches the hash string, -1 otherwise. */
int master_verify(const char *hash, const char *pw, size_t len);
/* 1 if hash was made with another cost than the configured one. */
int master_needs_rehash(const master_auth_cfg_t *c, const char *hash);

/* ---- account store (master_accounts.c) ---------------------------------- */
typedef struct macct_s macct_t;
typedef struct macct_row_s {
    uint64_t id;
    int role;
    char name[PA_TICKET_NAME_MAX + 1];
    char hash[MASTER_HASH_MAX];
    uint32_t failed;
    uint64_t locked_until_ms; /* wall clock */
    uint64_t last_failed_ms;  /* wall clock of the last counted failure (schema 2) */
} macct_row_t;

/* driver "sqlite" (target: a file path) or "postgres" (target: a libpq
 * conninfo string or URL; needs NC_POSTGRES).  NULL driver = "sqlite".
 * A PostgreSQL store that cannot connect at start fails here; once open, a
 * lost connection makes the calls below return -1 (fast, while a back-off
 * runs) until a reconnect succeeds. */
int macct_open(const char *driver, const char *target, macct_t **out, char *err, size_t errlen);
void macct_close(macct_t *a);
const char *macct_driver(const macct_t *a);
/* 1 if the store is reachable now (a -1 from a call below was an outage,
 * not a bad row); the SQLite driver always is. */
int macct_available(macct_t *a);
/* 1 found, 0 not found, -1 database error. */
int macct_find(macct_t *a, const char *name, macct_row_t *out);
/* 0 created (*id set), 1 the name is taken, -1 database error. */
int macct_insert(macct_t *a, const char *name, const char *hash, int role, uint64_t *id);
/* Success: last_login now, failures cleared; new_hash (may be NULL) replaces
 * the stored hash.  0 or -1. */
int macct_login_ok(macct_t *a, uint64_t id, const char *new_hash);
int macct_login_failed(macct_t *a, uint64_t id, uint32_t failed, uint64_t locked_until_ms);
/* Up to max characters used by the account, most recent first: count or -1. */
int macct_characters(macct_t *a, uint64_t id, proto_character_ref_t *out, int max);
/* Remembers (shard, name) for the account, keeping its `keep` most recent. */
int macct_character_used(macct_t *a, uint64_t id, const char *shard, const char *name, int keep);

/* Store health for the metrics page (issue 16): lock-free reads, never a
 * reconnect.  up: the connection is usable as far as the last call saw
 * (SQLite: always); outage_ms: total time without a connection, the
 * current outage included; reconnects: connections restored after a loss. */
typedef struct macct_stats_s {
    int up;
    uint64_t outage_ms, losses, reconnects;
} macct_stats_t;
void macct_stats(macct_t *a, macct_stats_t *out);

/* ---- failed-login lock-out (master_lockout.c) ----------------------------
 * A bounded table of failure counters keyed by a string (an account name,
 * folded to lower case, or an address).  `threshold` failures lock the key
 * for base_ms, each further failure doubles it up to max_ms; a key with no
 * failure for forget_ms starts over.  Thread-safe. */
typedef struct mlock_s mlock_t;
mlock_t *mlock_create(uint32_t slots, uint32_t threshold, uint32_t base_ms, uint32_t max_ms,
                      uint32_t forget_ms);
void mlock_destroy(mlock_t *l);
/* ms the key stays locked (0: not locked). now: monotonic ms. */
uint64_t mlock_check(mlock_t *l, const char *key, uint64_t now);
/* Counts one failure; returns the failures now counted and sets *lock_ms
 * to the lock it started (0 none). */
uint32_t mlock_fail(mlock_t *l, const char *key, uint64_t now, uint64_t *lock_ms);
void mlock_reset(mlock_t *l, const char *key);
uint32_t mlock_used(mlock_t *l);

/* Live connections per address, in a bounded table (same file).
 * mconn_add: 1 counted, 0 refused (the address holds cap already), -1 not
 * counted (its table window is full: the caller lets it in uncounted). */
typedef struct mconn_s mconn_t;
mconn_t *mconn_create(uint32_t slots);
void mconn_destroy(mconn_t *c);
int mconn_add(mconn_t *c, const char *key, uint32_t cap);
void mconn_del(mconn_t *c, const char *key);
/* The key's count now (0 when absent or not counted). */
uint32_t mconn_count(mconn_t *c, const char *key);

/* ---- login identity (master_identity.c) --------------------------------- */
/* Loads the identity from path, creating it (mode 0600, random seed) when
 * missing.  Refuses (-1 with err) a file that group or others can read or
 * that is malformed.  *created = 1 when it was made now. */
int master_identity_load(const char *path, pa_identity_t *id, int *created, char *err,
                         size_t errlen);
/* "sign_pk <hex>\nkx_pk <hex>\n" on stdout. */
void master_identity_print(const pa_identity_t *id);

/* ---- admin commands (master_admin.c) ------------------------------------ */
/* --add-account NAME [--role R]: password from stdin (first line) or a
 * no-echo prompt.  Returns the process exit code. */
int master_add_account(const char *db, const master_auth_cfg_t *c, const char *name,
                       const char *role);
/* --show-keys.  Exit code. */
int master_show_keys(const char *key_file);
/* `--new-secret FILE`: 32 random bytes as hex and a newline into a new
 * owner-only FILE (a links' secret, a console secret, a dev password for
 * scripts without a random source, e.g. tools/dev/run.cmd); an existing
 * FILE is kept.  0, or 1 with a message. */
int master_new_secret(const char *path);

/* ---- registry view (masterserver.c) ------------------------------------- */
/* Copies the shard table as shard_list_response shows it: count. */
int master_registry_list(proto_shard_info_t *out, int max);
/* 1 and *out if a healthy shard of that name is registered, else 0. */
int master_registry_find(const char *name, proto_shard_info_t *out);

/* ---- login listener (master_login.c) ------------------------------------ */
typedef struct master_login_s master_login_t;
/* Creates the auth queue (cap hash_threads) and the login queue on pool and
 * listens on host:port.  0 or an NC_E* code (err says what). */
int master_login_start(nc_engine_t *e, nc_pool_t *pool, const master_auth_cfg_t *c,
                       const pa_identity_t *id, macct_t *accounts, const char *host, uint16_t port,
                       master_login_t **out, char *err, size_t errlen);
uint16_t master_login_port(const master_login_t *l);
/* Stops listening and closes its sessions (call before the engine goes). */
void master_login_stop(master_login_t *l);
/* Frees what remains (after the pool drained). */
void master_login_free(master_login_t *l);

/* Counters for the metrics page (issue 16).  Results of logins and
 * registrations by label (MASTER_RES_*: the answer's code, or ok). */
enum {
    MASTER_RES_OK,
    MASTER_RES_AUTH_FAILED,
    MASTER_RES_LOCKED_OUT,
    MASTER_RES_SERVER_FULL,
    MASTER_RES_STORE_DOWN,
    MASTER_RES_INTERNAL,
    MASTER_RES_SHUTTING_DOWN,
    MASTER_RES_NAME_TAKEN,
    MASTER_RES_CLOSED,
    MASTER_RES_BAD_NAME,
    MASTER_RES_BAD_PASSWORD,
    MASTER_RES_RATE_LIMITED,
    MASTER_RES_OTHER,
    MASTER_RES_N
};
/* The label of a result ("ok", "auth_failed", ...). */
const char *master_result_label(int res);
typedef struct master_login_stats_s {
    uint64_t logins[MASTER_RES_N], registrations[MASTER_RES_N];
    uint64_t tickets, lockouts;
    uint64_t hash_pending, hash_running, hash_rejected; /* the "auth" queue */
    uint64_t sessions;                                  /* login connections open now */
} master_login_stats_t;
void master_login_stats(master_login_t *l, master_login_stats_t *out);

/* ---- metrics page (master_metrics.c, issue 16) -------------------------- */
typedef struct master_metrics_s master_metrics_t;
/* Serves /metrics (Prometheus text, ls_*) and /healthz on host:port through
 * netcore's nc_http on its own low-priority queue of pool (cap 1).  port 0
 * = a free one; *bound set to the port.  started_ms: the process's start
 * (nc_now_ms), for ls_uptime_seconds. */
int master_metrics_start(nc_engine_t *e, nc_pool_t *pool, const char *host, uint16_t port,
                         master_login_t *login, macct_t *accounts, uint64_t started_ms,
                         master_metrics_t **out, uint16_t *bound, char *err, size_t errlen);
void master_metrics_stop(master_metrics_t *m);

#endif
