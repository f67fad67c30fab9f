/* The s2s shared secret's file and flags, and the client side of the
 * challenge-response for tools that dial a link server (see tl_s2s.h). */
#include "tl_s2s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First line of f into line (NUL-terminated, CR/LF stripped): its length,
 * or -1 (too long for the buffer, or a NUL byte inside). */
static int first_line(FILE *f, char *line, size_t cap)
{
    size_t n = fread(line, 1, cap - 1, f);
    line[n] = 0;
    char *nl = memchr(line, '\n', n);
    if (!nl && n == cap - 1)
        return -1;
    size_t len = nl ? (size_t)(nl - line) : n;
    if (memchr(line, 0, len))
        return -1;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    line[len] = 0;
    return (int)len;
}

int tl_s2s_load_key(const char *path, uint8_t key[PA_S2S_KEY_BYTES], char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open the secret file '%s'", path);
        return -1;
    }
    char line[1024];
    int len = first_line(f, line, sizeof line);
    fclose(f);
    int rc = 0;
    if (len < 0) {
        snprintf(err, errlen, "secret file '%s': first line too long (max %zu bytes) or has a NUL",
                 path, sizeof line - 2);
        rc = -1;
    } else if (pa_init() != PA_OK || pa_s2s_key(line, key) != PA_OK) {
        snprintf(err, errlen, "secret file '%s': the secret (first line) must be at least %d bytes",
                 path, PA_S2S_SECRET_MIN);
        rc = -1;
    }
    pa_wipe(line, sizeof line);
    if (rc == 0 && tl_file_readable_by_others(path))
        nc_log(NC_LOG_WARN, "s2s", "secret file '%s' is readable by other users: chmod 600 it",
               path);
    return rc;
}

int tl_s2s_flag(tl_s2s_args_t *sa, int argc, char **argv, int i)
{
    if (!strcmp(argv[i], "--insecure-no-link-auth")) {
        sa->insecure = 1;
        return 1;
    }
    if (!strcmp(argv[i], "--secret-file") && i + 1 < argc) {
        sa->secret_file = argv[i + 1];
        return 2;
    }
    if (!strcmp(argv[i], "--auth-timeout-ms") && i + 1 < argc) {
        char *end = NULL;
        long v = strtol(argv[i + 1], &end, 10);
        if (!*argv[i + 1] || *end || v < 100 || v > 600000)
            return -1;
        sa->timeout_ms = (uint32_t)v;
        return 2;
    }
    return 0;
}

int tl_s2s_key_from_args(const char *prog, const tl_s2s_args_t *sa, uint8_t key[PA_S2S_KEY_BYTES],
                         const uint8_t **key_out)
{
    char err[256];
    *key_out = NULL;
    if (sa->insecure && sa->secret_file) {
        fprintf(stderr, "%s: --secret-file and --insecure-no-link-auth exclude each other\n", prog);
        return -1;
    }
    if (sa->insecure) {
        nc_log(NC_LOG_WARN, "s2s",
               "*** --insecure-no-link-auth: server-to-server links are NOT authenticated; anyone "
               "who reaches this port can act as a game server. Development only. ***");
        return 0;
    }
    if (!sa->secret_file) {
        fprintf(stderr,
                "%s: no link secret: pass --secret-file FILE (its first line, >= %d bytes, "
                "shared with the game servers' links.secret_file), or --insecure-no-link-auth "
                "for a development shard\n",
                prog, PA_S2S_SECRET_MIN);
        return -1;
    }
    if (tl_s2s_load_key(sa->secret_file, key, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    *key_out = key;
    return 0;
}

/* ---- client side ---- */

void tl_s2s_client_hello(const uint8_t *key, const char *name, uint8_t role, proto_s2s_hello_t *h)
{
    memset(h, 0, sizeof *h);
    h->role = role;
    h->proto_hash = PROTO_HASH;
    snprintf(h->name, sizeof h->name, "%s", name);
    if (key) {
        pa_random(h->nonce, PA_S2S_NONCE_BYTES);
        h->nonce_len = PA_S2S_NONCE_BYTES;
    }
}

int tl_s2s_client_result(const uint8_t *key, const proto_s2s_hello_t *h,
                         const proto_s2s_hello_result_t *r, proto_s2s_auth_t *auth, char *err,
                         size_t errlen)
{
    if (r->code != 0) {
        snprintf(err, errlen, "refused: %s", proto_err_text(r->code));
        return -1;
    }
    if (!key) {
        if (r->nonce_len == 0)
            return 0;
        snprintf(err, errlen, "the server requires link auth; we run insecure");
        return -1;
    }
    if (r->nonce_len != PA_S2S_NONCE_BYTES) {
        snprintf(err, errlen, "the server sent no challenge (it runs --insecure-no-link-auth?)");
        return -1;
    }
    if (pa_s2s_check(key, PA_S2S_SERVER, h->nonce, r->nonce, r->proof, r->proof_len) != PA_OK) {
        snprintf(err, errlen, "the server's proof is wrong (different secret?)");
        return -1;
    }
    pa_s2s_proof(key, PA_S2S_CLIENT, h->nonce, r->nonce, auth->proof);
    auth->proof_len = PA_S2S_PROOF_BYTES;
    return 0;
}
