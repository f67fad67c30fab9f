/* The gameserver's side of accounts (issue 13): the login server's key
 * from the config, the dev-mode warning, and the offline
 * `--claim-character NAME --account ID` that gives a legacy character to
 * an account. */
#include "gs_app.h"

#include "content_db.h"
#include "proto_auth.h"

#include <stdio.h>
#include <string.h>

#define TAG "auth"

int gs_auth_prepare(gs_app_t *a, char *err, size_t errlen)
{
    const gs_config_t *c = &a->cfg;
    if (gs_config_check_auth(c, err, errlen) != 0)
        return -1;
    if (pa_init() != PA_OK) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    a->have_login_pk = c->auth_login_public_key[0] &&
                       pa_unhex(c->auth_login_public_key, a->login_pk, sizeof a->login_pk) == 0;
    a->have_login_pk_next =
        a->have_login_pk && c->auth_login_public_key_next[0] &&
        pa_unhex(c->auth_login_public_key_next, a->login_pk_next, sizeof a->login_pk_next) == 0;
    if (strcmp(c->auth_mode, "dev") == 0)
        nc_log(NC_LOG_WARN, TAG,
               "auth.mode is \"dev\": NAME-ONLY LOGIN, anyone can log in as anyone (role %s) "
               "and take over any character; never expose this shard. Tickets are %s",
               c->auth_dev_role,
               a->have_login_pk ? "still verified when a client sends one"
                                : "ignored (no auth.login_public_key)");
    else
        nc_log(NC_LOG_INFO, TAG, "logins need a ticket from the login server (key %.16s...)",
               c->auth_login_public_key);
    return 0;
}

int gs_auth_claim(const gs_config_t *c)
{
    content_db_t *db = NULL;
    char err[512];
    content_db_opts_t o = CONTENT_DB_OPTS_DEFAULT;
    o.driver = strcmp(c->db_driver, "postgres") == 0 ? CONTENT_DB_POSTGRES : CONTENT_DB_SQLITE;
    o.url = c->db_url;
    if (content_db_open_opts(c->db_path, &o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "gameserver: %s\n", err);
        return 1;
    }
    int outcome = CONTENT_CLAIM_NO_SUCH;
    uint64_t prev = 0;
    int rc = content_db_claim(db, c->claim_name, c->claim_account, &outcome, &prev);
    content_db_close(db);
    unsigned long long acc = (unsigned long long)c->claim_account;
    if (rc != CONTENT_DB_OK) {
        fprintf(stderr, "gameserver: claim of '%s' failed: database error (see the log above)\n",
                c->claim_name);
        return 1;
    }
    switch (outcome) {
    case CONTENT_CLAIM_DONE:
        printf("character '%s' now belongs to account %llu\n", c->claim_name, acc);
        return 0;
    case CONTENT_CLAIM_ALREADY:
        printf("character '%s' already belongs to account %llu\n", c->claim_name, acc);
        return 0;
    case CONTENT_CLAIM_OWNED:
        fprintf(stderr,
                "gameserver: character '%s' belongs to account %llu, not a legacy one; nothing "
                "changed (to move it anyway, see content/README.md, \"Accounts\")\n",
                c->claim_name, (unsigned long long)prev);
        return 1;
    default:
        fprintf(stderr, "gameserver: no character named '%s' in %s\n", c->claim_name,
                o.driver == CONTENT_DB_POSTGRES ? "the character database" : c->db_path);
        return 1;
    }
}
