/* One-shot admin commands of masterserver: `--add-account NAME [--role R]`
 * (the password comes from stdin's first line or a no-echo prompt, never
 * from argv) and `--show-keys`. */
#include "master_auth.h"
#include "tl_common.h"

#include <stdio.h>
#include <string.h>

int master_show_keys(const char *key_file)
{
    pa_identity_t id;
    char err[512];
    int created = 0;
    if (master_identity_load(key_file, &id, &created, err, sizeof err) != 0) {
        fprintf(stderr, "masterserver: %s\n", err);
        return 1;
    }
    if (created)
        fprintf(stderr, "masterserver: created the login identity %s (owner-only)\n", key_file);
    master_identity_print(&id);
    pa_wipe(&id, sizeof id);
    return 0;
}

int master_new_secret(const char *path)
{
    uint8_t raw[32];
    char text[sizeof raw * 2 + 2];
    pa_random(raw, sizeof raw);
    pa_hex(raw, sizeof raw, text, sizeof text - 1);
    pa_wipe(raw, sizeof raw);
    size_t len = strlen(text);
    text[len++] = '\n';
    int rc = nc_file_write_private(path, text, len);
    pa_wipe(text, sizeof text);
    if (rc == NC_EEXIST)
        return 0; /* kept: never overwritten */
    if (rc != 0) {
        fprintf(stderr, "masterserver: cannot create %s: %s\n", path, nc_strerror(rc));
        return 1;
    }
    return 0;
}

int master_add_account(const char *db, const master_auth_cfg_t *c, const char *name,
                       const char *role_s)
{
    int role = role_s ? pa_role_parse(role_s) : PA_ROLE_PLAYER;
    if (role < 0) {
        fprintf(stderr, "masterserver: --role must be player, gm or admin (got '%s')\n", role_s);
        return 2;
    }
    if (!master_account_name_ok(name)) {
        fprintf(stderr, "masterserver: account names are 2-24 of A-Z a-z 0-9 _ . - (got '%s')\n",
                name);
        return 2;
    }
    char pw[MASTER_PW_MAX + 2], hash[MASTER_HASH_MAX];
    int n = tl_read_secret("password: ", pw, sizeof pw);
    if (n < 0 || !master_password_ok((size_t)n) || memchr(pw, 0, (size_t)n)) {
        fprintf(stderr,
                "masterserver: the password (first line of stdin) must be %d..%d bytes, no NUL\n",
                MASTER_PW_MIN, MASTER_PW_MAX);
        pa_wipe(pw, sizeof pw);
        return 2;
    }
    int hrc = master_hash(c, pw, (size_t)n, hash);
    pa_wipe(pw, sizeof pw);
    macct_t *a = NULL;
    char err[512];
    if (hrc != 0 || macct_open(c->db_driver, !strcmp(c->db_driver, "postgres") ? c->db_url : db, &a,
                               err, sizeof err) != 0) {
        fprintf(stderr, "masterserver: %s\n", hrc ? "password hashing failed (memory?)" : err);
        return 1;
    }
    uint64_t id = 0;
    int rc = macct_insert(a, name, hash, role, &id);
    macct_close(a);
    if (rc != 0) {
        fprintf(stderr, "masterserver: %s\n",
                rc > 0 ? "that account name is taken" : "database error adding the account");
        return 1;
    }
    printf("account '%s' created: id %llu, role %s\n", name, (unsigned long long)id,
           pa_role_name(role));
    return 0;
}
