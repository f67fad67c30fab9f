/* masterserver's JSON config (`--config FILE`): the accounts.*, login.* and
 * metrics.* keys, each with a default and a range; an unknown key or a value out of
 * range is an error naming the key (a typo must not silently keep a
 * default).  Documented in tools/README.md, "masterserver". */
#include "master_auth.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct key_s {
    const char *section, *name;
    size_t off;
    int is_bool;
    double min, max;
} key_t_;

#define U32(sec, nm, field, lo, hi)                                                                \
    {                                                                                              \
        sec, nm, offsetof(master_auth_cfg_t, field), 0, lo, hi                                     \
    }

static const key_t_ keys[] = {
    {"accounts", "open_registration", offsetof(master_auth_cfg_t, open_registration), 1, 0, 1},
    U32("accounts", "hash_ops", hash_ops, 1, 64),
    U32("accounts", "hash_mem_kib", hash_mem_kib, 8, 4194304),
    U32("accounts", "hash_threads", hash_threads, 1, 64),
    U32("accounts", "hash_queue", hash_queue, 1, 1000000),
    U32("accounts", "ticket_ttl_s", ticket_ttl_s, 5, 3600),
    U32("accounts", "lockout_account_failures", lock_account, 1, 1000000),
    U32("accounts", "lockout_address_failures", lock_address, 1, 1000000),
    U32("accounts", "lockout_base_ms", lock_base_ms, 1, 86400000),
    U32("accounts", "lockout_max_ms", lock_max_ms, 1, 604800000),
    U32("accounts", "lockout_forget_ms", lock_forget_ms, 1, 604800000),
    U32("accounts", "lockout_table_size", lock_table, 16, 16777216),
    U32("accounts", "registrations_per_address", reg_per_address, 0, 1000000),
    U32("accounts", "registration_window_ms", reg_window_ms, 1, 604800000),
    U32("login", "max_sessions", login_sessions, 1, 1000000),
    U32("login", "idle_timeout_ms", login_idle_ms, 0, 3600000),
    U32("login", "max_pending", login_pending, 1, 64),
    U32("login", "packets_per_s", login_rate, 0, 1000000),
    U32("login", "max_sessions_per_address", login_per_addr, 0, 1000000),
    U32("login", "worker_threads", registry_threads, 1, 64),
    U32("metrics", "port", metrics_port, 0, 65535), /* issue 16: 0 = off */
    U32("accounts", "hash_per_address", hash_per_addr, 0, 1000000),
    {"login", "exempt_loopback", offsetof(master_auth_cfg_t, login_exempt_loopback), 1, 0, 1},
};

void master_auth_cfg_defaults(master_auth_cfg_t *c)
{
    *c = (master_auth_cfg_t){
        .open_registration = 0,
        .hash_ops = 2,         /* OWASP's Argon2id baseline: t=2 */
        .hash_mem_kib = 19456, /* ... m=19 MiB; measured in BENCHMARKS.md, "Logins" */
        .hash_threads = 1,
        .hash_queue = 256,
        .ticket_ttl_s = 60,
        .lock_account = 5,
        .lock_address = 20,
        .lock_base_ms = 30000,
        .lock_max_ms = 900000,
        .lock_forget_ms = 3600000,
        .lock_table = 65536,
        .reg_per_address =
            10, /* an hour (reg_window_ms); loopback exempt (login.exempt_loopback) */
        .reg_window_ms = 3600000,
        .login_sessions = 4096,
        .login_idle_ms = 30000,
        .login_pending = 4,
        .login_rate = 20,
        .login_per_addr = 64, /* red-team review: was 0 (off); loopback exempt below */
        .registry_threads = 2,
        .hash_per_addr = 4,
        .login_exempt_loopback = 1,
        .db_driver = "sqlite",
        .metrics_host = "127.0.0.1",
    };
}

static int apply(master_auth_cfg_t *c, const key_t_ *k, const cJSON *v, char *err, size_t errlen)
{
    if (k->is_bool) {
        if (!cJSON_IsBool(v)) {
            snprintf(err, errlen, "%s.%s: expected true or false", k->section, k->name);
            return -1;
        }
        *(int *)((char *)c + k->off) = cJSON_IsTrue(v);
        return 0;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!cJSON_IsNumber(v) || d != (double)(uint64_t)d || d < k->min || d > k->max) {
        snprintf(err, errlen, "%s.%s: expected an integer in %.0f..%.0f", k->section, k->name,
                 k->min, k->max);
        return -1;
    }
    *(uint32_t *)((char *)c + k->off) = (uint32_t)d;
    return 0;
}

/* accounts.driver / accounts.url: the only string keys.  1 handled (0 or
 * -1 in *rc), 0 not one of them. */
static int string_key(master_auth_cfg_t *c, const cJSON *obj, const cJSON *it, int *rc, char *err,
                      size_t errlen)
{
    if (!strcmp(obj->string, "metrics") && !strcmp(it->string, "host")) { /* issue 16 */
        *rc = -1;
        if (!cJSON_IsString(it) || !it->valuestring[0] ||
            strlen(it->valuestring) >= sizeof c->metrics_host)
            snprintf(err, errlen, "metrics.host: expected an address shorter than %zu bytes",
                     sizeof c->metrics_host);
        else {
            snprintf(c->metrics_host, sizeof c->metrics_host, "%s", it->valuestring);
            *rc = 0;
        }
        return 1;
    }
    if (strcmp(obj->string, "accounts") ||
        (strcmp(it->string, "driver") && strcmp(it->string, "url")))
        return 0;
    int drv = !strcmp(it->string, "driver");
    char *dst = drv ? c->db_driver : c->db_url;
    size_t cap = drv ? sizeof c->db_driver : sizeof c->db_url;
    *rc = -1;
    if (!cJSON_IsString(it) || strlen(it->valuestring) >= cap)
        snprintf(err, errlen, "accounts.%s: expected a string shorter than %zu bytes", it->string,
                 cap);
    else if (drv && strcmp(it->valuestring, "sqlite") && strcmp(it->valuestring, "postgres"))
        snprintf(err, errlen, "accounts.driver: expected \"sqlite\" or \"postgres\", not \"%s\"",
                 it->valuestring);
    else {
        snprintf(dst, cap, "%s", it->valuestring);
        *rc = 0;
    }
    return 1;
}

static int section(master_auth_cfg_t *c, const cJSON *obj, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        int src = 0;
        if (string_key(c, obj, it, &src, err, errlen)) {
            if (src != 0)
                return -1;
            continue;
        }
        const key_t_ *k = NULL;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !k; i++)
            if (!strcmp(keys[i].section, obj->string) && !strcmp(keys[i].name, it->string))
                k = &keys[i];
        if (!k) {
            snprintf(err, errlen, "unknown key %s.%s", obj->string, it->string);
            return -1;
        }
        if (apply(c, k, it, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static char *slurp(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    enum { MAX = 1 << 20 };
    char *buf = malloc(MAX + 1);
    size_t n = buf ? fread(buf, 1, MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > MAX) {
        snprintf(err, errlen, "%s: %s", path, buf ? "larger than 1 MiB" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

int master_auth_cfg_load(master_auth_cfg_t *c, const char *path, char *err, size_t errlen)
{
    char *text = slurp(path, err, errlen);
    if (!text)
        return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s: not a JSON object", path);
        rc = -1;
    }
    const cJSON *it;
    if (rc == 0)
        cJSON_ArrayForEach(it, root)
        {
            if (!cJSON_IsObject(it) ||
                (strcmp(it->string, "accounts") && strcmp(it->string, "login") &&
                 strcmp(it->string, "metrics"))) {
                snprintf(err, errlen, "%s: unknown section '%s' (accounts, login, metrics)", path,
                         it->string);
                rc = -1;
                break;
            }
            if (section(c, it, err, errlen) != 0) {
                rc = -1;
                break;
            }
        }
    cJSON_Delete(root);
    if (rc == 0 && !strcmp(c->db_driver, "postgres") && !c->db_url[0]) {
        snprintf(err, errlen, "accounts.driver \"postgres\" needs accounts.url (a libpq URL)");
        rc = -1;
    }
    if (rc == 0 && c->lock_max_ms < c->lock_base_ms) {
        snprintf(err, errlen, "accounts.lockout_max_ms is below accounts.lockout_base_ms");
        rc = -1;
    }
    return rc;
}
