/* proto_auth: tickets, the login channel and s2s proofs (see proto_auth.h).
 * Every primitive is libsodium's; this file only lays out bytes. */
#include "proto_auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

typedef crypto_secretstream_xchacha20poly1305_state ss_state_t;
_Static_assert(sizeof(ss_state_t) <= sizeof(((pa_chan_t *)0)->tx), "secretstream state size");
_Static_assert(_Alignof(ss_state_t) <= 16, "secretstream state alignment");
_Static_assert(crypto_secretstream_xchacha20poly1305_ABYTES == PA_SEAL_OVERHEAD, "ABYTES");
_Static_assert(crypto_secretstream_xchacha20poly1305_HEADERBYTES == PA_HEADER_BYTES, "header");
_Static_assert(crypto_kx_PUBLICKEYBYTES == PA_KX_PK_BYTES, "kx pk");
_Static_assert(crypto_kx_SECRETKEYBYTES == PA_KX_SK_BYTES, "kx sk");
_Static_assert(crypto_kx_SESSIONKEYBYTES == 32, "kx session key");
_Static_assert(crypto_sign_PUBLICKEYBYTES == PA_SIGN_PK_BYTES, "sign pk");
_Static_assert(crypto_sign_SECRETKEYBYTES == PA_SIGN_SK_BYTES, "sign sk");
_Static_assert(crypto_sign_BYTES == PA_TICKET_SIG_BYTES, "sig");
_Static_assert(crypto_auth_BYTES == PA_S2S_PROOF_BYTES, "auth tag");
_Static_assert(crypto_auth_KEYBYTES == PA_S2S_KEY_BYTES, "auth key");
_Static_assert(crypto_kdf_KEYBYTES == PA_SEED_BYTES, "kdf key");

#define TICKET_MAGIC "GST1"
#define S2S_LABEL "gs-s2s-v1"
#define KDF_CTX "gs-ident"

enum { CH_NONE = 0, CH_SERVER_WAIT = 1, CH_OPEN = 2 };

const char *pa_strerror(int err)
{
    switch (err) {
    case PA_OK: return "ok";
    case PA_EMALFORMED: return "malformed";
    case PA_EBADSIG: return "bad signature";
    case PA_ECRYPTO: return "authentication failed (tampered, replayed or wrong key)";
    case PA_ESTATE: return "out of order";
    case PA_EBUFSIZE: return "buffer too small";
    case PA_EINIT: return "libsodium initialisation failed";
    default: return "unknown error";
    }
}

int pa_init(void)
{
    return sodium_init() < 0 ? PA_EINIT : PA_OK;
}

void pa_random(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

void pa_hex(const uint8_t *in, size_t n, char *out, size_t cap)
{
    if (cap == 0)
        return;
    if (cap < 2 * n + 1) {
        out[0] = '\0';
        return;
    }
    sodium_bin2hex(out, cap, in, n);
}

int pa_unhex(const char *hex, uint8_t *out, size_t n)
{
    size_t got = 0;
    const char *end = NULL;
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    if (sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, &end) != 0 || got != n || *end != '\0')
        return -1;
    return 0;
}

int pa_memcmp(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0 ? 0 : 1;
}

void pa_wipe(void *p, size_t n)
{
    sodium_memzero(p, n);
}

/* ---- identity ------------------------------------------------------------ */

int pa_identity_from_seed(const uint8_t seed[PA_SEED_BYTES], pa_identity_t *out)
{
    uint8_t sub[32];
    int rc = 0;
    rc |= crypto_kdf_derive_from_key(sub, sizeof sub, 1, KDF_CTX, seed);
    rc |= crypto_sign_seed_keypair(out->sign_pk, out->sign_sk, sub);
    rc |= crypto_kdf_derive_from_key(sub, sizeof sub, 2, KDF_CTX, seed);
    rc |= crypto_kx_seed_keypair(out->kx_pk, out->kx_sk, sub);
    sodium_memzero(sub, sizeof sub);
    return rc ? PA_ECRYPTO : PA_OK;
}

int pa_identity_format(const uint8_t seed[PA_SEED_BYTES], char *out, size_t cap)
{
    char hex[2 * PA_SEED_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, seed, PA_SEED_BYTES);
    int n = snprintf(out, cap,
                     "# Login server identity: the secret seed of its signing and key-exchange\n"
                     "# keys. Keep it secret (mode 0600); see docs/security.md.\n"
                     "seed %s\n",
                     hex);
    sodium_memzero(hex, sizeof hex);
    return n < 0 || (size_t)n >= cap ? PA_EBUFSIZE : PA_OK;
}

int pa_identity_parse(const char *text, uint8_t seed_out[PA_SEED_BYTES])
{
    const char *p = text;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len && *p != '#') {
            char hex[2 * PA_SEED_BYTES + 1];
            if (len != 5 + 2 * PA_SEED_BYTES || memcmp(p, "seed ", 5) != 0)
                return PA_EMALFORMED;
            memcpy(hex, p + 5, 2 * PA_SEED_BYTES);
            hex[2 * PA_SEED_BYTES] = '\0';
            int rc = pa_unhex(hex, seed_out, PA_SEED_BYTES);
            sodium_memzero(hex, sizeof hex);
            return rc == 0 ? PA_OK : PA_EMALFORMED;
        }
        p = eol ? eol + 1 : NULL;
    }
    return PA_EMALFORMED;
}

/* ---- tickets ------------------------------------------------------------- */

static const char *const role_names[PA_ROLE_COUNT] = {"player", "gm", "admin"};

const char *pa_role_name(int role)
{
    return role >= 0 && role < PA_ROLE_COUNT ? role_names[role] : "?";
}

int pa_role_parse(const char *s)
{
    for (int i = 0; s && i < PA_ROLE_COUNT; i++)
        if (strcmp(s, role_names[i]) == 0)
            return i;
    return -1;
}

static size_t bounded_len(const char *s, size_t max)
{
    const char *z = memchr(s, '\0', max);
    return z ? (size_t)(z - s) : max;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int pa_ticket_sign(const pa_ticket_t *t, const uint8_t sign_sk[PA_SIGN_SK_BYTES], uint8_t *out,
                   size_t cap)
{
    size_t nl = bounded_len(t->name, sizeof t->name), sl = bounded_len(t->shard, sizeof t->shard);
    if (nl == 0 || nl > PA_TICKET_NAME_MAX || sl == 0 || sl > PA_TICKET_SHARD_MAX ||
        t->role >= PA_ROLE_COUNT)
        return PA_EMALFORMED;
    size_t body = 4 + 1 + 8 + 8 + PA_TICKET_NONCE_BYTES + 1 + nl + 1 + sl;
    if (cap < body + PA_TICKET_SIG_BYTES)
        return PA_EBUFSIZE;
    uint8_t *p = out;
    memcpy(p, TICKET_MAGIC, 4), p += 4;
    *p++ = t->role;
    put_le(p, t->account_id, 8), p += 8;
    put_le(p, t->expires_s, 8), p += 8;
    memcpy(p, t->nonce, PA_TICKET_NONCE_BYTES), p += PA_TICKET_NONCE_BYTES;
    *p++ = (uint8_t)nl;
    memcpy(p, t->name, nl), p += nl;
    *p++ = (uint8_t)sl;
    memcpy(p, t->shard, sl), p += sl;
    if (crypto_sign_detached(p, NULL, out, body, sign_sk) != 0)
        return PA_ECRYPTO;
    return (int)(body + PA_TICKET_SIG_BYTES);
}

/* A length-prefixed name of 1..max bytes without NUL; advances *pp. */
static int take_name(const uint8_t **pp, const uint8_t *end, char *dst, size_t max)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return -1;
    size_t n = *p++;
    if (n == 0 || n > max || (size_t)(end - p) < n || memchr(p, 0, n))
        return -1;
    memcpy(dst, p, n);
    dst[n] = '\0';
    *pp = p + n;
    return 0;
}

int pa_ticket_verify(const uint8_t *buf, size_t len, const uint8_t sign_pk[PA_SIGN_PK_BYTES],
                     pa_ticket_t *out)
{
    if (!buf || len < PA_TICKET_MIN || len > PA_TICKET_MAX || memcmp(buf, TICKET_MAGIC, 4) != 0)
        return PA_EMALFORMED;
    const uint8_t *p = buf + 4, *end = buf + len - PA_TICKET_SIG_BYTES;
    pa_ticket_t t;
    memset(&t, 0, sizeof t);
    t.role = *p++;
    t.account_id = get_le(p, 8), p += 8;
    t.expires_s = get_le(p, 8), p += 8;
    memcpy(t.nonce, p, PA_TICKET_NONCE_BYTES), p += PA_TICKET_NONCE_BYTES;
    if (t.role >= PA_ROLE_COUNT || take_name(&p, end, t.name, PA_TICKET_NAME_MAX) != 0 ||
        take_name(&p, end, t.shard, PA_TICKET_SHARD_MAX) != 0 || p != end)
        return PA_EMALFORMED;
    if (crypto_sign_verify_detached(end, buf, (size_t)(end - buf), sign_pk) != 0)
        return PA_EBADSIG;
    *out = t;
    return PA_OK;
}

/* ---- channel ------------------------------------------------------------- */

int pa_kx_keypair(uint8_t pk[PA_KX_PK_BYTES], uint8_t sk[PA_KX_SK_BYTES])
{
    return crypto_kx_keypair(pk, sk) == 0 ? PA_OK : PA_ECRYPTO;
}

int pa_kx_client_keys(const uint8_t cpk[32], const uint8_t csk[32], const uint8_t spk[32],
                      uint8_t rx[32], uint8_t tx[32])
{
    return crypto_kx_client_session_keys(rx, tx, cpk, csk, spk) == 0 ? PA_OK : PA_ECRYPTO;
}

int pa_chan_server_start(pa_chan_t *ch, const pa_identity_t *id,
                         const uint8_t client_pk[PA_KX_PK_BYTES], uint8_t hdr_s2c[PA_HEADER_BYTES])
{
    uint8_t rx[32], tx[32];
    memset(ch, 0, sizeof *ch);
    if (crypto_kx_server_session_keys(rx, tx, id->kx_pk, id->kx_sk, client_pk) != 0)
        return PA_ECRYPTO;
    int rc =
        crypto_secretstream_xchacha20poly1305_init_push((ss_state_t *)(void *)ch->tx, hdr_s2c, tx);
    memcpy(ch->rx_key, rx, sizeof rx);
    sodium_memzero(rx, sizeof rx);
    sodium_memzero(tx, sizeof tx);
    if (rc != 0) {
        pa_chan_wipe(ch);
        return PA_ECRYPTO;
    }
    ch->state = CH_SERVER_WAIT;
    return PA_OK;
}

int pa_chan_server_begin(pa_chan_t *ch, const uint8_t hdr_c2s[PA_HEADER_BYTES])
{
    if (ch->state != CH_SERVER_WAIT)
        return PA_ESTATE;
    int rc = crypto_secretstream_xchacha20poly1305_init_pull((ss_state_t *)(void *)ch->rx, hdr_c2s,
                                                             ch->rx_key);
    sodium_memzero(ch->rx_key, sizeof ch->rx_key);
    if (rc != 0)
        return PA_ECRYPTO;
    ch->state = CH_OPEN;
    return PA_OK;
}

int pa_chan_client_start(pa_chan_t *ch, const uint8_t client_pk[PA_KX_PK_BYTES],
                         const uint8_t client_sk[PA_KX_SK_BYTES],
                         const uint8_t server_pk[PA_KX_PK_BYTES],
                         const uint8_t hdr_s2c[PA_HEADER_BYTES], uint8_t hdr_c2s[PA_HEADER_BYTES])
{
    uint8_t rx[32], tx[32];
    memset(ch, 0, sizeof *ch);
    if (crypto_kx_client_session_keys(rx, tx, client_pk, client_sk, server_pk) != 0)
        return PA_ECRYPTO;
    int rc =
        crypto_secretstream_xchacha20poly1305_init_pull((ss_state_t *)(void *)ch->rx, hdr_s2c, rx);
    if (rc == 0)
        rc = crypto_secretstream_xchacha20poly1305_init_push((ss_state_t *)(void *)ch->tx, hdr_c2s,
                                                             tx);
    sodium_memzero(rx, sizeof rx);
    sodium_memzero(tx, sizeof tx);
    if (rc != 0) {
        pa_chan_wipe(ch);
        return PA_ECRYPTO;
    }
    ch->state = CH_OPEN;
    return PA_OK;
}

int pa_chan_seal(pa_chan_t *ch, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    /* the server's tx stream exists from pa_chan_server_start (SERVER_WAIT) */
    if (ch->state == CH_NONE)
        return PA_ESTATE;
    if (n > PA_PLAIN_MAX)
        return PA_EMALFORMED;
    if (cap < n + PA_SEAL_OVERHEAD)
        return PA_EBUFSIZE;
    unsigned long long clen = 0;
    if (crypto_secretstream_xchacha20poly1305_push(
            (ss_state_t *)(void *)ch->tx, out, &clen, in, n, NULL, 0,
            crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) != 0)
        return PA_ECRYPTO;
    return (int)clen;
}

int pa_chan_open(pa_chan_t *ch, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    if (ch->state != CH_OPEN)
        return PA_ESTATE;
    if (n < PA_SEAL_OVERHEAD || n > PA_SEAL_MAX)
        return PA_EMALFORMED;
    if (cap < n - PA_SEAL_OVERHEAD)
        return PA_EBUFSIZE;
    unsigned long long mlen = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull((ss_state_t *)(void *)ch->rx, out, &mlen, &tag,
                                                   in, n, NULL, 0) != 0 ||
        tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        return PA_ECRYPTO;
    return (int)mlen;
}

void pa_chan_wipe(pa_chan_t *ch)
{
    sodium_memzero(ch, sizeof *ch);
}

/* ---- server-to-server ---------------------------------------------------- */

int pa_s2s_key(const char *secret, uint8_t key[PA_S2S_KEY_BYTES])
{
    size_t n = secret ? strlen(secret) : 0;
    if (n < PA_S2S_SECRET_MIN)
        return PA_EMALFORMED;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PA_S2S_KEY_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)S2S_LABEL, sizeof S2S_LABEL - 1);
    crypto_generichash_update(&st, (const uint8_t *)secret, n);
    crypto_generichash_final(&st, key, PA_S2S_KEY_BYTES);
    sodium_memzero(&st, sizeof st);
    return PA_OK;
}

void pa_s2s_proof(const uint8_t key[PA_S2S_KEY_BYTES], int side,
                  const uint8_t nonce_c[PA_S2S_NONCE_BYTES],
                  const uint8_t nonce_s[PA_S2S_NONCE_BYTES], uint8_t proof[PA_S2S_PROOF_BYTES])
{
    uint8_t msg[sizeof S2S_LABEL - 1 + 1 + 2 * PA_S2S_NONCE_BYTES];
    size_t o = 0;
    memcpy(msg, S2S_LABEL, sizeof S2S_LABEL - 1), o += sizeof S2S_LABEL - 1;
    msg[o++] = side == PA_S2S_SERVER ? 'S' : 'C';
    memcpy(msg + o, nonce_c, PA_S2S_NONCE_BYTES), o += PA_S2S_NONCE_BYTES;
    memcpy(msg + o, nonce_s, PA_S2S_NONCE_BYTES), o += PA_S2S_NONCE_BYTES;
    crypto_auth(proof, msg, o, key);
}

int pa_s2s_check(const uint8_t key[PA_S2S_KEY_BYTES], int side,
                 const uint8_t nonce_c[PA_S2S_NONCE_BYTES],
                 const uint8_t nonce_s[PA_S2S_NONCE_BYTES], const uint8_t *proof, size_t len)
{
    uint8_t want[PA_S2S_PROOF_BYTES];
    if (!proof || len != PA_S2S_PROOF_BYTES)
        return PA_ECRYPTO;
    pa_s2s_proof(key, side, nonce_c, nonce_s, want);
    int ok = sodium_memcmp(want, proof, PA_S2S_PROOF_BYTES) == 0;
    sodium_memzero(want, sizeof want);
    return ok ? PA_OK : PA_ECRYPTO;
}
