/* proto_auth: the published test vectors (protocol/README.md), tickets
 * (round trip, forged, truncated, every malformation), the login channel
 * (round trip, tampered, replayed, reordered, wrong server key) and the
 * s2s proofs. */
#include "proto_auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* ---- the vectors in protocol/README.md ---- */
#define V_SIGN_PK "1c51044d29cd9619b74e7346f8c88737c5bbff444e0a914d947f2c8d92ec6891"
#define V_KX_PK "ab16d59a68668ae53a36b68f62935165004da11b303c56a4e0baa3ff5ec22411"
#define V_TICKET                                                                                   \
    "47535431012a0000000000000000d2496b00000000a0a1a2a3a4a5a6a7a8a9aaabacadaeaf05416c696365067368" \
    "61"                                                                                           \
    "726431652afdba3dfd3f9f720b574399e360777488b1842de09218b54b740d012becbdf7ac7126dfac82a90ca6b8" \
    "d0"                                                                                           \
    "e7012df1af8c09d1e67f151c2379d3d100dbbb00"
#define V_CLIENT_PK "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254"
#define V_CLIENT_RX "d698195aaccca952be3dbc35764eda822aa964f607ce2489080cac328f1f2499"
#define V_CLIENT_TX "997ed888515f7867651556a178c39d115073b859772a2e2b9f2c5c84d29d1772"
#define V_HDR_S2C "505152535455565758595a5b5c5d5e5f6061626364656667"
#define V_PLAIN "7a0000002a00000000000000010000"
#define V_SEALED "329d4bb729630005f08b990aa1cc2f1e11d3e407562ef6ac4ec0d64d0fe39d40"
#define V_S2S_SECRET "correct horse battery staple"
#define V_S2S_KEY "49b48906fefc7b9e3c5ea83d4b4bde2f1373e0411fe93fb2f48caf5190a59fa9"
#define V_PROOF_S "65d89b5a220e73eb63229b936d114b95030c4fdbeb4863121a0dc4ea54e5482a"
#define V_PROOF_C "75f41bf9ae7e440ce34d39b2bdd9e71d0013b486f6a54a3ab743a5e045e90e04"

static void seq(uint8_t *p, size_t n, uint8_t first)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(first + i);
}

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char got[1024];
    pa_hex(p, n, got, sizeof got);
    assert_string_equal(got, want);
}

static pa_identity_t vector_identity(void)
{
    uint8_t seed[PA_SEED_BYTES];
    pa_identity_t id;
    seq(seed, sizeof seed, 0);
    assert_int_equal(pa_identity_from_seed(seed, &id), PA_OK);
    return id;
}

static pa_ticket_t vector_ticket(void)
{
    pa_ticket_t t = {.role = PA_ROLE_GM, .account_id = 42, .expires_s = 1800000000};
    seq(t.nonce, sizeof t.nonce, 0xa0);
    strcpy(t.name, "Alice");
    strcpy(t.shard, "shard1");
    return t;
}

static void test_vector_identity_and_ticket(void **st)
{
    (void)st;
    pa_identity_t id = vector_identity();
    assert_hex(id.sign_pk, sizeof id.sign_pk, V_SIGN_PK);
    assert_hex(id.kx_pk, sizeof id.kx_pk, V_KX_PK);
    pa_ticket_t t = vector_ticket(), back;
    uint8_t buf[PA_TICKET_MAX];
    int n = pa_ticket_sign(&t, id.sign_sk, buf, sizeof buf);
    assert_int_equal(n, 114);
    assert_hex(buf, (size_t)n, V_TICKET);
    assert_int_equal(pa_ticket_verify(buf, (size_t)n, id.sign_pk, &back), PA_OK);
    assert_int_equal(back.role, PA_ROLE_GM);
    assert_true(back.account_id == 42 && back.expires_s == 1800000000);
    assert_string_equal(back.name, "Alice");
    assert_string_equal(back.shard, "shard1");
    assert_memory_equal(back.nonce, t.nonce, sizeof t.nonce);
}

static void test_vector_channel(void **st)
{
    (void)st;
    pa_identity_t id = vector_identity();
    uint8_t csk[32], cpk[32], rx[32], tx[32], hdr[24], hdr_c2s[24], sealed[32], plain[64];
    seq(csk, sizeof csk, 0x20);
    assert_int_equal(pa_unhex(V_CLIENT_PK, cpk, sizeof cpk), 0);
    assert_int_equal(pa_kx_client_keys(cpk, csk, id.kx_pk, rx, tx), PA_OK);
    assert_hex(rx, sizeof rx, V_CLIENT_RX);
    assert_hex(tx, sizeof tx, V_CLIENT_TX);
    assert_int_equal(pa_unhex(V_HDR_S2C, hdr, sizeof hdr), 0);
    assert_int_equal(pa_unhex(V_SEALED, sealed, sizeof sealed), 0);
    pa_chan_t ch;
    assert_int_equal(pa_chan_client_start(&ch, cpk, csk, id.kx_pk, hdr, hdr_c2s), PA_OK);
    int n = pa_chan_open(&ch, sealed, sizeof sealed, plain, sizeof plain);
    assert_int_equal(n, 15);
    assert_hex(plain, (size_t)n, V_PLAIN);
}

static void test_vector_s2s(void **st)
{
    (void)st;
    uint8_t key[32], nc[32], ns[32], p[32];
    assert_int_equal(pa_s2s_key(V_S2S_SECRET, key), PA_OK);
    assert_hex(key, sizeof key, V_S2S_KEY);
    memset(nc, 0x11, sizeof nc);
    memset(ns, 0x22, sizeof ns);
    pa_s2s_proof(key, PA_S2S_SERVER, nc, ns, p);
    assert_hex(p, sizeof p, V_PROOF_S);
    pa_s2s_proof(key, PA_S2S_CLIENT, nc, ns, p);
    assert_hex(p, sizeof p, V_PROOF_C);
}

static void test_identity_file(void **st)
{
    (void)st;
    uint8_t seed[32], back[32];
    char text[256];
    pa_random(seed, sizeof seed);
    assert_int_equal(pa_identity_format(seed, text, sizeof text), PA_OK);
    assert_int_equal(pa_identity_parse(text, back), PA_OK);
    assert_memory_equal(seed, back, sizeof seed);
    assert_int_equal(pa_identity_parse("  \n# only comments\n", back), PA_EMALFORMED);
    assert_int_equal(pa_identity_parse("seed 00\n", back), PA_EMALFORMED);
    assert_int_equal(pa_identity_parse("seed " V_SIGN_PK "\r\n", back), PA_OK);
    assert_int_equal(pa_identity_parse("seed " V_SIGN_PK "x\n", back), PA_EMALFORMED);
    assert_int_equal(pa_identity_parse("sead " V_SIGN_PK "\n", back), PA_EMALFORMED);
    char small[16];
    assert_int_equal(pa_identity_format(seed, small, sizeof small), PA_EBUFSIZE);
}

static void test_ticket_forged_truncated_malformed(void **st)
{
    (void)st;
    pa_identity_t id = vector_identity(), other;
    uint8_t oseed[32];
    seq(oseed, sizeof oseed, 1);
    assert_int_equal(pa_identity_from_seed(oseed, &other), PA_OK);
    pa_ticket_t t = vector_ticket(), out;
    uint8_t buf[PA_TICKET_MAX], bad[PA_TICKET_MAX + 8];
    int n = pa_ticket_sign(&t, id.sign_sk, buf, sizeof buf);
    assert_true(n > 0);
    /* signed by another key */
    assert_int_equal(pa_ticket_verify(buf, (size_t)n, other.sign_pk, &out), PA_EBADSIG);
    /* every single-bit flip is refused, as malformed or as forged */
    for (int i = 0; i < n; i++) {
        memcpy(bad, buf, (size_t)n);
        bad[i] ^= 0x04;
        int rc = pa_ticket_verify(bad, (size_t)n, id.sign_pk, &out);
        assert_true(rc == PA_EBADSIG || rc == PA_EMALFORMED);
    }
    /* every truncation and one trailing byte */
    for (int len = 0; len < n; len++)
        assert_int_equal(pa_ticket_verify(buf, (size_t)len, id.sign_pk, &out) < 0, 1);
    memcpy(bad, buf, (size_t)n);
    bad[n] = 0;
    assert_int_equal(pa_ticket_verify(bad, (size_t)n + 1, id.sign_pk, &out), PA_EMALFORMED);
    assert_int_equal(pa_ticket_verify(NULL, 0, id.sign_pk, &out), PA_EMALFORMED);
    /* bad fields are refused at signing */
    pa_ticket_t b = t;
    b.name[0] = '\0';
    assert_int_equal(pa_ticket_sign(&b, id.sign_sk, buf, sizeof buf), PA_EMALFORMED);
    b = t;
    b.role = PA_ROLE_COUNT;
    assert_int_equal(pa_ticket_sign(&b, id.sign_sk, buf, sizeof buf), PA_EMALFORMED);
    assert_int_equal(pa_ticket_sign(&t, id.sign_sk, buf, 50), PA_EBUFSIZE);
    /* longest names fit PA_TICKET_MAX exactly */
    b = t;
    memset(b.name, 'n', PA_TICKET_NAME_MAX);
    b.name[PA_TICKET_NAME_MAX] = '\0';
    memset(b.shard, 's', PA_TICKET_SHARD_MAX);
    b.shard[PA_TICKET_SHARD_MAX] = '\0';
    assert_int_equal(pa_ticket_sign(&b, id.sign_sk, buf, sizeof buf), PA_TICKET_MAX);
    assert_int_equal(pa_ticket_verify(buf, PA_TICKET_MAX, id.sign_pk, &out), PA_OK);
    assert_string_equal(out.shard, b.shard);
}

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

typedef struct pair_s {
    pa_chan_t c, s;
} pair_t;

static void open_pair(pair_t *p, const pa_identity_t *id)
{
    uint8_t cpk[32], csk[32], h1[24], h2[24];
    assert_int_equal(pa_kx_keypair(cpk, csk), PA_OK);
    assert_int_equal(pa_chan_server_start(&p->s, id, cpk, h1), PA_OK);
    assert_int_equal(pa_chan_open(&p->s, h1, sizeof h1, h2, sizeof h2), PA_ESTATE);
    assert_int_equal(pa_chan_client_start(&p->c, cpk, csk, id->kx_pk, h1, h2), PA_OK);
    assert_int_equal(pa_chan_server_begin(&p->s, h2), PA_OK);
    assert_int_equal(pa_chan_server_begin(&p->s, h2), PA_ESTATE);
}

static void test_channel_round_trip_and_attacks(void **st)
{
    (void)st;
    pa_identity_t id = vector_identity();
    pair_t p;
    open_pair(&p, &id);
    uint8_t m1[PA_SEAL_MAX], m2[PA_SEAL_MAX], out[PA_SEAL_MAX];
    const char *pw = "\x18\x00 password inside";
    int n1 = pa_chan_seal(&p.c, (const uint8_t *)pw, strlen(pw), m1, sizeof m1);
    int n2 = pa_chan_seal(&p.c, (const uint8_t *)"second", 6, m2, sizeof m2);
    assert_int_equal(n1, (int)strlen(pw) + PA_SEAL_OVERHEAD);
    assert_false(contains(m1, (size_t)n1, "password")); /* not in clear */
    /* reordered: the second first is refused */
    pair_t q;
    memcpy(&q, &p, sizeof q);
    assert_int_equal(pa_chan_open(&q.s, m2, (size_t)n2, out, sizeof out), PA_ECRYPTO);
    /* tampered: any flipped bit is refused */
    for (int i = 0; i < n1; i += 3) {
        memcpy(&q, &p, sizeof q);
        m1[i] ^= 1;
        assert_int_equal(pa_chan_open(&q.s, m1, (size_t)n1, out, sizeof out), PA_ECRYPTO);
        m1[i] ^= 1;
    }
    assert_int_equal(pa_chan_open(&p.s, m1, (size_t)n1, out, sizeof out), (int)strlen(pw));
    assert_memory_equal(out, pw, strlen(pw));
    /* replayed: the same box again is refused */
    memcpy(&q, &p, sizeof q);
    assert_int_equal(pa_chan_open(&q.s, m1, (size_t)n1, out, sizeof out), PA_ECRYPTO);
    assert_int_equal(pa_chan_open(&p.s, m2, (size_t)n2, out, sizeof out), 6);
    /* and the other direction */
    int n3 = pa_chan_seal(&p.s, (const uint8_t *)"reply", 5, m1, sizeof m1);
    assert_int_equal(pa_chan_open(&p.c, m1, (size_t)n3, out, sizeof out), 5);
    /* sizes */
    assert_int_equal(pa_chan_seal(&p.c, out, PA_PLAIN_MAX + 1, m1, sizeof m1), PA_EMALFORMED);
    assert_int_equal(pa_chan_seal(&p.c, out, 10, m1, 20), PA_EBUFSIZE);
    assert_int_equal(pa_chan_open(&p.s, m1, PA_SEAL_OVERHEAD - 1, out, sizeof out), PA_EMALFORMED);
    pa_chan_wipe(&p.c);
    assert_int_equal(pa_chan_seal(&p.c, out, 1, m1, sizeof m1), PA_ESTATE);
}

/* A client that trusts another key (a man in the middle's) cannot read the
 * server's stream, and the server cannot read what it sends. */
static void test_channel_wrong_server_key(void **st)
{
    (void)st;
    pa_identity_t id = vector_identity(), mitm;
    uint8_t seed[32], cpk[32], csk[32], h1[24], h2[24], box[64], out[64];
    pa_random(seed, sizeof seed);
    assert_int_equal(pa_identity_from_seed(seed, &mitm), PA_OK);
    pa_chan_t s, c;
    assert_int_equal(pa_kx_keypair(cpk, csk), PA_OK);
    assert_int_equal(pa_chan_server_start(&s, &id, cpk, h1), PA_OK);
    assert_int_equal(pa_chan_client_start(&c, cpk, csk, mitm.kx_pk, h1, h2), PA_OK);
    assert_int_equal(pa_chan_server_begin(&s, h2), PA_OK);
    int n = pa_chan_seal(&s, (const uint8_t *)"hi", 2, box, sizeof box);
    assert_int_equal(pa_chan_open(&c, box, (size_t)n, out, sizeof out), PA_ECRYPTO);
    n = pa_chan_seal(&c, (const uint8_t *)"pw", 2, box, sizeof box);
    assert_int_equal(pa_chan_open(&s, box, (size_t)n, out, sizeof out), PA_ECRYPTO);
}

static void test_s2s(void **st)
{
    (void)st;
    uint8_t k[32], k2[32], nc[32], ns[32], p[32];
    assert_int_equal(pa_s2s_key("short", k), PA_EMALFORMED);
    assert_int_equal(pa_s2s_key(NULL, k), PA_EMALFORMED);
    assert_int_equal(pa_s2s_key("0123456789abcdef", k), PA_OK);
    assert_int_equal(pa_s2s_key("0123456789abcdeF", k2), PA_OK);
    pa_random(nc, sizeof nc);
    pa_random(ns, sizeof ns);
    pa_s2s_proof(k, PA_S2S_CLIENT, nc, ns, p);
    assert_int_equal(pa_s2s_check(k, PA_S2S_CLIENT, nc, ns, p, sizeof p), PA_OK);
    /* a reflected proof (the other side's) does not pass */
    assert_int_equal(pa_s2s_check(k, PA_S2S_SERVER, nc, ns, p, sizeof p), PA_ECRYPTO);
    /* another secret, swapped nonces, short proof */
    assert_int_equal(pa_s2s_check(k2, PA_S2S_CLIENT, nc, ns, p, sizeof p), PA_ECRYPTO);
    assert_int_equal(pa_s2s_check(k, PA_S2S_CLIENT, ns, nc, p, sizeof p), PA_ECRYPTO);
    assert_int_equal(pa_s2s_check(k, PA_S2S_CLIENT, nc, ns, p, sizeof p - 1), PA_ECRYPTO);
    assert_int_equal(pa_s2s_check(k, PA_S2S_CLIENT, nc, ns, NULL, 32), PA_ECRYPTO);
}

static void test_helpers(void **st)
{
    (void)st;
    uint8_t b[2];
    assert_int_equal(pa_unhex("0aFf", b, 2), 0);
    assert_true(b[0] == 0x0a && b[1] == 0xff);
    assert_int_equal(pa_unhex("0aF", b, 2), -1);
    assert_int_equal(pa_unhex("0aFg", b, 2), -1);
    assert_int_equal(pa_unhex(NULL, b, 2), -1);
    assert_int_equal(pa_role_parse("gm"), PA_ROLE_GM);
    assert_int_equal(pa_role_parse("root"), -1);
    assert_string_equal(pa_role_name(PA_ROLE_ADMIN), "admin");
    assert_string_equal(pa_role_name(7), "?");
    assert_int_equal(pa_memcmp("abc", "abc", 3), 0);
    assert_int_equal(pa_memcmp("abc", "abd", 3), 1);
}

static int setup(void **st)
{
    (void)st;
    return pa_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_identity_and_ticket),
        cmocka_unit_test(test_vector_channel),
        cmocka_unit_test(test_vector_s2s),
        cmocka_unit_test(test_identity_file),
        cmocka_unit_test(test_ticket_forged_truncated_malformed),
        cmocka_unit_test(test_channel_round_trip_and_attacks),
        cmocka_unit_test(test_channel_wrong_server_key),
        cmocka_unit_test(test_s2s),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
