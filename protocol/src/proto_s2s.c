/* proto_s2s: secret files and the client side of the s2s challenge-response
 * (see proto_s2s.h). */
#include "proto_s2s.h"

#include <stdio.h>
#include <string.h>

int pa_read_first_line(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    if (cap < 3) {
        snprintf(err, errlen, "%s: buffer too small", path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open '%s'", path);
        return -1;
    }
    size_t n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = '\0';
    const char *nl = memchr(out, '\n', n);
    size_t len = nl ? (size_t)(nl - out) : n;
    const char *why = NULL;
    if (!nl && n == cap - 1)
        why = "the first line is longer than the limit";
    else if (memchr(out, '\0', len))
        why = "the first line has a NUL byte";
    while (len > 0 && out[len - 1] == '\r')
        len--;
    if (!why && len == 0)
        why = "the first line is empty";
    if (why) {
        pa_wipe(out, cap);
        snprintf(err, errlen, "'%s': %s (at most %zu bytes)", path, why, cap - 2);
        return -1;
    }
    pa_wipe(out + len, cap - len);
    return (int)len;
}

int pa_s2s_key_file(const char *path, uint8_t key[PA_S2S_KEY_BYTES], char *err, size_t errlen)
{
    char line[1024], why[512];
    if (pa_read_first_line(path, line, sizeof line, why, sizeof why) < 0) {
        snprintf(err, errlen, "secret file %s", why);
        return -1;
    }
    int rc = 0;
    if (pa_init() != PA_OK || pa_s2s_key(line, key) != PA_OK) {
        snprintf(err, errlen, "secret file '%s': the secret (first line) must be at least %d bytes",
                 path, PA_S2S_SECRET_MIN);
        rc = -1;
    }
    pa_wipe(line, sizeof line);
    return rc;
}

void pa_s2s_client_hello(const uint8_t *key, const char *name, uint8_t role, proto_s2s_hello_t *h)
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

int pa_s2s_client_result(const uint8_t *key, const proto_s2s_hello_t *h,
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
