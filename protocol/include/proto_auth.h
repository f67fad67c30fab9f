/* proto_auth: the cryptography of accounts and links, on libsodium only.
 *
 *   - the login server's identity: one 32-byte secret seed from which its
 *     Ed25519 signing key pair (tickets) and its X25519 key-exchange key pair
 *     (the client's encrypted login connection) are derived;
 *   - login tickets: a small binary record signed with Ed25519 that a game
 *     server verifies on its own (no call back, no shared secret);
 *   - the login connection's channel: crypto_kx session keys, then one
 *     crypto_secretstream_xchacha20poly1305 stream per direction;
 *   - server-to-server challenge-response: crypto_auth (HMAC-SHA-512-256)
 *     over both sides' fresh nonces, keyed by a hash of the shared secret.
 *
 * No I/O, no malloc, no clocks: callers pass times and own the files.  Link
 * the `protocol_auth` target (it brings libsodium).  The wire formats are
 * specified in protocol/README.md ("Login handshake", "Tickets",
 * "Server-to-server authentication") with test vectors. */
#ifndef PROTO_AUTH_H
#define PROTO_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Results (0 = ok). */
enum {
    PA_OK = 0,
    PA_EMALFORMED = -1, /* wrong size, bad length field, bad magic, trailing bytes */
    PA_EBADSIG = -2,    /* well formed but the signature does not verify */
    PA_ECRYPTO = -3,    /* decryption/authentication failed (tampered, reordered, wrong key) */
    PA_ESTATE = -4,     /* call out of order (channel not open yet, ...) */
    PA_EBUFSIZE = -5,   /* output buffer too small */
    PA_EINIT = -6,      /* libsodium failed to initialise */
};
const char *pa_strerror(int err);

/* Call once before anything else (thread-safe, idempotent). */
int pa_init(void);

/* Cryptographically secure random bytes. */
void pa_random(void *buf, size_t n);

/* Hex helpers: pa_hex writes 2n lowercase digits + NUL into out (cap >= 2n+1).
 * pa_unhex parses exactly n bytes from 2n hex digits (no separators); 0 or -1. */
void pa_hex(const uint8_t *in, size_t n, char *out, size_t cap);
int pa_unhex(const char *hex, uint8_t *out, size_t n);

/* Constant-time comparison of two n-byte buffers: 0 when equal. */
int pa_memcmp(const void *a, const void *b, size_t n);

/* Wipe secret material. */
void pa_wipe(void *p, size_t n);

/* ---- identity ------------------------------------------------------------ */
#define PA_SEED_BYTES 32
#define PA_SIGN_PK_BYTES 32
#define PA_SIGN_SK_BYTES 64
#define PA_KX_PK_BYTES 32
#define PA_KX_SK_BYTES 32
#define PA_KEY_HEX_LEN 64 /* hex digits of a 32-byte key or seed */

typedef struct pa_identity_s {
    uint8_t sign_pk[PA_SIGN_PK_BYTES]; /* in game servers' auth.login_public_key */
    uint8_t sign_sk[PA_SIGN_SK_BYTES];
    uint8_t kx_pk[PA_KX_PK_BYTES]; /* sent in secure_hello_result; clients pin it */
    uint8_t kx_sk[PA_KX_SK_BYTES];
} pa_identity_t;

/* Derives both key pairs from the seed (crypto_kdf subkeys 1 and 2, context
 * "gs-ident"; then crypto_sign_seed_keypair and crypto_kx_seed_keypair). */
int pa_identity_from_seed(const uint8_t seed[PA_SEED_BYTES], pa_identity_t *out);

/* The identity file's text: "# ...comment lines\nseed <64 hex>\n".
 * pa_identity_format writes it (cap >= 256); pa_identity_parse reads it,
 * ignoring '#' lines and surrounding blanks: 0 or PA_EMALFORMED. */
int pa_identity_format(const uint8_t seed[PA_SEED_BYTES], char *out, size_t cap);
int pa_identity_parse(const char *text, uint8_t seed_out[PA_SEED_BYTES]);

/* ---- tickets ------------------------------------------------------------- */
#define PA_TICKET_NAME_MAX 24
#define PA_TICKET_SHARD_MAX 32
#define PA_TICKET_NONCE_BYTES 16
#define PA_TICKET_SIG_BYTES 64
#define PA_TICKET_MIN 100 /* 4+1+8+8+16+1+1+1+1 + 64: names of one byte */
#define PA_TICKET_MAX 159 /* both names at their maximum */

enum { PA_ROLE_PLAYER = 0, PA_ROLE_GM = 1, PA_ROLE_ADMIN = 2, PA_ROLE_COUNT };
const char *pa_role_name(int role); /* "player", "gm", "admin", or "?" */
int pa_role_parse(const char *s);   /* PA_ROLE_* or -1 */

typedef struct pa_ticket_s {
    uint8_t role; /* PA_ROLE_* */
    uint64_t account_id;
    uint64_t expires_s; /* unix time, seconds */
    uint8_t nonce[PA_TICKET_NONCE_BYTES];
    char name[PA_TICKET_NAME_MAX + 1];   /* character name, 1..24 bytes */
    char shard[PA_TICKET_SHARD_MAX + 1]; /* shard name, 1..32 bytes */
} pa_ticket_t;

/* Layout (little-endian):  "GST1" u8 role  u64 account_id  u64 expires_s
 * nonce[16]  u8 name_len name  u8 shard_len shard  sig[64]
 * where sig = crypto_sign_detached over every byte before it.
 * pa_ticket_sign returns the length written (<= PA_TICKET_MAX) or a PA_E*
 * (PA_EMALFORMED for an empty/too long name or shard, or a role out of range). */
int pa_ticket_sign(const pa_ticket_t *t, const uint8_t sign_sk[PA_SIGN_SK_BYTES], uint8_t *out,
                   size_t cap);

/* Checks the format, then the signature: PA_OK, PA_EMALFORMED (missing,
 * truncated, bad magic/lengths, NUL in a name, role out of range, trailing
 * bytes) or PA_EBADSIG.  *out is filled only on PA_OK.  Expiry, shard and
 * replay are the caller's checks (it has the clock and the nonce cache). */
int pa_ticket_verify(const uint8_t *buf, size_t len, const uint8_t sign_pk[PA_SIGN_PK_BYTES],
                     pa_ticket_t *out);

/* ---- the login connection's channel -------------------------------------
 * client                                  server (identity id)
 *   pa_kx_keypair(cpk, csk)
 *   secure_hello{proto_hash, cpk}  --->   pa_chan_server_start(ch, id, cpk, hdr_s2c)
 *                                  <---   secure_hello_result{0, id.kx_pk, hdr_s2c}
 *   (check id.kx_pk against the pin)
 *   pa_chan_client_start(ch, cpk, csk, spk, hdr_s2c, hdr_c2s)
 *   secure_begin{hdr_c2s}          --->   pa_chan_server_begin(ch, hdr_c2s)
 *   sealed_c2s{pa_chan_seal(...)}  <-->   sealed_s2c{...}
 * Each sealed box is one secretstream message (TAG_MESSAGE) whose plaintext
 * is an inner packet: u16 type (little-endian) + its body.  The streams
 * reject tampering, truncation, reordering and replay: any PA_ECRYPTO is
 * fatal for the connection. */
#define PA_HEADER_BYTES 24
#define PA_SEAL_OVERHEAD 17 /* crypto_secretstream_xchacha20poly1305_ABYTES */
#define PA_SEAL_MAX 8192    /* largest sealed box (the schema's sealed_*.box max) */
#define PA_PLAIN_MAX (PA_SEAL_MAX - PA_SEAL_OVERHEAD)

typedef struct pa_chan_s {
    /* opaque: libsodium's secretstream states, sized to fit (checked in proto_auth.c) */
    _Alignas(16) uint8_t tx[64];
    _Alignas(16) uint8_t rx[64];
    uint8_t rx_key[32];
    int state; /* 0 none, 1 server waiting for secure_begin, 2 open */
} pa_chan_t;

int pa_kx_keypair(uint8_t pk[PA_KX_PK_BYTES], uint8_t sk[PA_KX_SK_BYTES]);

/* Server: session keys from its identity and the client's key; starts the
 * s2c stream and writes its header.  PA_ECRYPTO for an unacceptable client key. */
int pa_chan_server_start(pa_chan_t *ch, const pa_identity_t *id,
                         const uint8_t client_pk[PA_KX_PK_BYTES], uint8_t hdr_s2c[PA_HEADER_BYTES]);
/* Server: the client's c2s header arrived; the channel is open. */
int pa_chan_server_begin(pa_chan_t *ch, const uint8_t hdr_c2s[PA_HEADER_BYTES]);

/* Client: session keys, opens the s2c stream with the server's header and
 * starts the c2s stream, writing its header (send it in secure_begin). */
int pa_chan_client_start(pa_chan_t *ch, const uint8_t client_pk[PA_KX_PK_BYTES],
                         const uint8_t client_sk[PA_KX_SK_BYTES],
                         const uint8_t server_pk[PA_KX_PK_BYTES],
                         const uint8_t hdr_s2c[PA_HEADER_BYTES], uint8_t hdr_c2s[PA_HEADER_BYTES]);

/* Seal n plaintext bytes (n <= PA_PLAIN_MAX) into out: returns n +
 * PA_SEAL_OVERHEAD or a PA_E*. */
int pa_chan_seal(pa_chan_t *ch, const uint8_t *in, size_t n, uint8_t *out, size_t cap);
/* Open a sealed box into out: returns the plaintext length or a PA_E*
 * (PA_ECRYPTO: tampered, replayed, reordered or not from the peer). */
int pa_chan_open(pa_chan_t *ch, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* Session keys only (for test vectors): crypto_kx_{client,server}_session_keys. */
int pa_kx_client_keys(const uint8_t cpk[32], const uint8_t csk[32], const uint8_t spk[32],
                      uint8_t rx[32], uint8_t tx[32]);

void pa_chan_wipe(pa_chan_t *ch);

/* ---- server-to-server challenge-response ---------------------------------
 * hello{nonce_c}  --->  hello_result{nonce_s, proof_s = pa_s2s_proof(key, SERVER, nonce_c,
 * nonce_s)} (client checks proof_s)   s2s_auth{proof_c = pa_s2s_proof(key, CLIENT, nonce_c,
 * nonce_s)} ---> (server checks proof_c before accepting anything else). */
#define PA_S2S_KEY_BYTES 32
#define PA_S2S_NONCE_BYTES 32
#define PA_S2S_PROOF_BYTES 32
#define PA_S2S_SECRET_MIN 16 /* shortest accepted shared secret, in bytes */
enum { PA_S2S_CLIENT = 0, PA_S2S_SERVER = 1 };

/* key = crypto_generichash(32, "gs-s2s-v1" || secret); PA_EMALFORMED when the
 * secret is shorter than PA_S2S_SECRET_MIN. */
int pa_s2s_key(const char *secret, uint8_t key[PA_S2S_KEY_BYTES]);
/* proof = crypto_auth(key, "gs-s2s-v1" || side ('C' or 'S') || nonce_c || nonce_s). */
void pa_s2s_proof(const uint8_t key[PA_S2S_KEY_BYTES], int side,
                  const uint8_t nonce_c[PA_S2S_NONCE_BYTES],
                  const uint8_t nonce_s[PA_S2S_NONCE_BYTES], uint8_t proof[PA_S2S_PROOF_BYTES]);
/* Constant-time check of a received proof (len must be PA_S2S_PROOF_BYTES):
 * PA_OK or PA_ECRYPTO. */
int pa_s2s_check(const uint8_t key[PA_S2S_KEY_BYTES], int side,
                 const uint8_t nonce_c[PA_S2S_NONCE_BYTES],
                 const uint8_t nonce_s[PA_S2S_NONCE_BYTES], const uint8_t *proof, size_t len);

#endif
