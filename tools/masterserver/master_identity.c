/* The login server's identity file (`--key-file`, default `<db>.key`): one
 * random seed in pa_identity_format's text, created on first start with
 * mode 0600 through netcore's nc_file_write_private, refused when group or
 * others can read it or when it does not parse. */
#include "master_auth.h"

#include <stdio.h>
#include <string.h>

static int read_small(const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    int big = n == cap - 1 && fgetc(f) != EOF;
    fclose(f);
    if (big) {
        snprintf(err, errlen, "%s is larger than an identity file (%zu bytes max)", path, cap - 2);
        return -1;
    }
    buf[n] = 0;
    return 0;
}

/* 0, NC_EEXIST (someone else created it first), or -1 with err. */
static int create(const char *path, pa_identity_t *id, char *err, size_t errlen)
{
    uint8_t seed[PA_SEED_BYTES];
    char text[512];
    pa_random(seed, sizeof seed);
    int rc = pa_identity_format(seed, text, sizeof text);
    if (rc == 0)
        rc = nc_file_write_private(path, text, strlen(text));
    if (rc == 0)
        rc = pa_identity_from_seed(seed, id);
    pa_wipe(seed, sizeof seed);
    pa_wipe(text, sizeof text);
    if (rc == NC_EEXIST)
        return rc;
    if (rc != 0)
        snprintf(err, errlen, "cannot create the key file %s: %s", path, nc_strerror(rc));
    return rc == 0 ? 0 : -1;
}

int master_identity_load(const char *path, pa_identity_t *id, int *created, char *err,
                         size_t errlen)
{
    *created = 0;
    int priv = nc_file_is_private(path);
    if (priv < 0) {
        FILE *f = fopen(path, "rb");
        if (f) { /* exists but cannot be examined */
            fclose(f);
            snprintf(err, errlen, "cannot examine %s: %s", path, nc_strerror(priv));
            return -1;
        }
        int rc = create(path, id, err, errlen);
        if (rc != NC_EEXIST) {
            *created = rc == 0;
            return rc == 0 ? 0 : -1;
        }
        priv = nc_file_is_private(path); /* another process created it meanwhile: load it */
    }
    if (priv < 0) {
        snprintf(err, errlen, "cannot examine %s: %s", path, nc_strerror(priv));
        return -1;
    }
    if (priv == 0) {
        snprintf(err, errlen,
                 "%s is readable by group or others; it holds the login server's secret key: "
                 "run `chmod 600 %s` (and consider the key compromised if others could read it)",
                 path, path);
        return -1;
    }
    char text[1024];
    uint8_t seed[PA_SEED_BYTES];
    if (read_small(path, text, sizeof text, err, errlen) != 0)
        return -1;
    int rc = pa_identity_parse(text, seed);
    pa_wipe(text, sizeof text);
    if (rc == 0)
        rc = pa_identity_from_seed(seed, id);
    pa_wipe(seed, sizeof seed);
    if (rc != 0) {
        snprintf(err, errlen,
                 "%s is not a login identity file (expected a line 'seed <64 hex digits>'): %s",
                 path, pa_strerror(rc));
        return -1;
    }
    return 0;
}

void master_identity_print(const pa_identity_t *id)
{
    char hex[2 * PA_KEY_HEX_LEN];
    pa_hex(id->sign_pk, sizeof id->sign_pk, hex, sizeof hex);
    printf("sign_pk %s\n", hex);
    pa_hex(id->kx_pk, sizeof id->kx_pk, hex, sizeof hex);
    printf("kx_pk %s\n", hex);
    fflush(stdout);
}
