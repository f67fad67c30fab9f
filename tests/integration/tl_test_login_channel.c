/* The testclient's login-connection core (tools/common/tl_login.c) against
 * the server side of proto_auth in process: the handshake, sealed inner
 * packets both ways, the known-hosts pin (new, same, changed, malformed),
 * tampered and replayed boxes, and the password file. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tl_login.h"

static char dir[64], pins[128];
static proto_msg_t out, sbox, inner; /* a few KB each: not on the stack */

typedef struct server_s {
    pa_identity_t id;
    pa_chan_t ch;
} server_t;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tl_login_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(pins, sizeof pins, "%s/known_logins", dir);
    return pa_init();
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void server_identity(server_t *s, uint8_t seed_byte)
{
    uint8_t seed[PA_SEED_BYTES];
    memset(seed, seed_byte, sizeof seed);
    assert_int_equal(pa_identity_from_seed(seed, &s->id), PA_OK);
}

/* The server's answer to the client's secure_hello (in out). */
static void server_hello(server_t *s, proto_secure_hello_result_t *r)
{
    assert_int_equal(out.type, PROTO_T_SECURE_HELLO);
    assert_int_equal(out.secure_hello.client_key_len, PA_KX_PK_BYTES);
    memset(r, 0, sizeof *r);
    assert_int_equal(pa_chan_server_start(&s->ch, &s->id, out.secure_hello.client_key, r->header),
                     PA_OK);
    r->header_len = PA_HEADER_BYTES;
    r->server_key_len = PA_KX_PK_BYTES;
    memcpy(r->server_key, s->id.kx_pk, PA_KX_PK_BYTES);
}

/* Full handshake: the client's channel is open and the server's too. */
static void handshake(tl_login_t *l, server_t *s)
{
    proto_secure_hello_result_t r;
    assert_int_equal(tl_login_init(l, "127.0.0.1", 7002, pins), 0);
    assert_int_equal(tl_login_hello(l, PROTO_HASH, &out), 0);
    server_hello(s, &r);
    assert_int_equal(tl_login_on_hello_result(l, &r, &out), 0);
    assert_int_equal(out.type, PROTO_T_SECURE_BEGIN);
    assert_int_equal(pa_chan_server_begin(&s->ch, out.secure_begin.header), PA_OK);
}

/* Server side: seal an inner s2c packet into sbox (sealed_s2c). */
static void server_seal(server_t *s, const proto_msg_t *m)
{
    uint8_t plain[PA_PLAIN_MAX];
    plain[0] = (uint8_t)(m->type & 0xff);
    plain[1] = (uint8_t)(m->type >> 8);
    int n = proto_encode(m, plain + 2, sizeof plain - 2);
    assert_true(n >= 0);
    memset(&sbox, 0, sizeof sbox);
    sbox.type = PROTO_T_SEALED_S2C;
    int c =
        pa_chan_seal(&s->ch, plain, (size_t)n + 2, sbox.sealed_s2c.box, sizeof sbox.sealed_s2c.box);
    assert_true(c > 0);
    sbox.sealed_s2c.box_len = (uint16_t)c;
}

static void test_handshake_then_sealed_packets_both_ways(void **state)
{
    (void)state;
    tl_login_t l;
    server_t s;
    server_identity(&s, 7);
    handshake(&l, &s);
    assert_int_equal(l.state, TL_LS_OPEN);
    /* client -> server: account_login, as the server would open it */
    proto_msg_t m = {.type = PROTO_T_ACCOUNT_LOGIN};
    snprintf(m.account_login.name, sizeof m.account_login.name, "dev");
    snprintf(m.account_login.password, sizeof m.account_login.password, "hunter2-long");
    assert_int_equal(tl_login_seal(&l, &m, &out), 0);
    assert_int_equal(out.type, PROTO_T_SEALED_C2S);
    for (size_t i = 0; i + 7 <= out.sealed_c2s.box_len; i++)
        assert_memory_not_equal(out.sealed_c2s.box + i, "hunter2", 7);
    uint8_t plain[PA_PLAIN_MAX];
    int n = pa_chan_open(&s.ch, out.sealed_c2s.box, out.sealed_c2s.box_len, plain, sizeof plain);
    assert_true(n > 2);
    assert_int_equal(plain[0] | plain[1] << 8, PROTO_T_ACCOUNT_LOGIN);
    assert_int_equal(proto_decode(PROTO_T_ACCOUNT_LOGIN, plain + 2, (size_t)n - 2, &inner), 0);
    assert_string_equal(inner.account_login.password, "hunter2-long");
    /* server -> client: account_result with a character */
    proto_msg_t r = {.type = PROTO_T_ACCOUNT_RESULT};
    r.account_result.account_id = 42;
    r.account_result.role = PA_ROLE_GM;
    r.account_result.characters_count = 1;
    snprintf(r.account_result.characters[0].name, 25, "alice");
    snprintf(r.account_result.characters[0].shard, 33, "shard-1");
    server_seal(&s, &r);
    assert_int_equal(tl_login_open(&l, &sbox.sealed_s2c, &inner), 0);
    assert_int_equal(inner.type, PROTO_T_ACCOUNT_RESULT);
    assert_int_equal(inner.account_result.account_id, 42);
    assert_string_equal(inner.account_result.characters[0].name, "alice");
    tl_login_wipe(&l);
}

static void test_first_key_is_pinned_and_announced_then_matched(void **state)
{
    (void)state;
    tl_login_t l;
    server_t s;
    server_identity(&s, 1);
    handshake(&l, &s);
    char hex[65], want[256];
    pa_hex(s.id.kx_pk, 32, hex, sizeof hex);
    snprintf(want, sizeof want, "new login server key for 127.0.0.1:7002: %s (stored in %s)", hex,
             pins);
    assert_string_equal(l.note, want);
    FILE *f = fopen(pins, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    snprintf(want, sizeof want, "127.0.0.1:7002 %s\n", hex);
    assert_string_equal(line, want);
    /* second connection: same key, no note */
    handshake(&l, &s);
    assert_string_equal(l.note, "");
}

static void test_changed_key_is_refused_before_anything_is_sent(void **state)
{
    (void)state;
    tl_login_t l;
    server_t s, evil;
    server_identity(&s, 1);
    handshake(&l, &s); /* pins s */
    server_identity(&evil, 2);
    proto_secure_hello_result_t r;
    assert_int_equal(tl_login_init(&l, "127.0.0.1", 7002, pins), 0);
    assert_int_equal(tl_login_hello(&l, PROTO_HASH, &out), 0);
    server_hello(&evil, &r);
    memset(&out, 0, sizeof out);
    assert_int_equal(tl_login_on_hello_result(&l, &r, &out), -1);
    assert_int_equal(out.type, 0); /* no secure_begin */
    assert_int_equal(l.state, TL_LS_FAILED);
    assert_non_null(strstr(l.err, "DIFFERENT key"));
    assert_non_null(strstr(l.err, "Nothing was sent"));
    char hint[256];
    snprintf(hint, sizeof hint, "sed -i '/^127.0.0.1:7002 /d' %s", pins);
    assert_non_null(strstr(l.err, hint));
    proto_msg_t m = {.type = PROTO_T_ACCOUNT_LOGIN};
    assert_int_equal(tl_login_seal(&l, &m, &out), -1); /* the password cannot leave */
    /* another port is another server: pinned separately */
    assert_int_equal(tl_login_init(&l, "127.0.0.1", 7003, pins), 0);
    assert_int_equal(tl_login_hello(&l, PROTO_HASH, &out), 0);
    server_hello(&evil, &r);
    assert_int_equal(tl_login_on_hello_result(&l, &r, &out), 0);
}

static void test_malformed_pin_line_is_an_error_naming_the_line(void **state)
{
    (void)state;
    FILE *f = fopen(pins, "w");
    assert_non_null(f);
    fputs("# pins\n127.0.0.1:7002 not-hex\n", f);
    fclose(f);
    uint8_t key[32] = {0};
    char msg[TL_LOGIN_MSG_MAX];
    assert_int_equal(tl_known_hosts_check(pins, "127.0.0.1:7002", key, msg, sizeof msg),
                     TL_PIN_ERROR);
    assert_non_null(strstr(msg, "line 2 is malformed"));
    /* a longer host name that starts the same is another entry */
    assert_int_equal(tl_known_hosts_check(pins, "127.0.0.1:700", key, msg, sizeof msg), TL_PIN_NEW);
}

static void test_tampered_box_fails_the_channel(void **state)
{
    (void)state;
    tl_login_t l;
    server_t s;
    server_identity(&s, 3);
    handshake(&l, &s);
    proto_msg_t r = {.type = PROTO_T_REALM_LIST};
    server_seal(&s, &r);
    sbox.sealed_s2c.box[sbox.sealed_s2c.box_len / 2] ^= 1;
    assert_int_equal(tl_login_open(&l, &sbox.sealed_s2c, &inner), -1);
    assert_non_null(strstr(l.err, "failed authentication"));
    assert_int_equal(l.state, TL_LS_FAILED);
    proto_msg_t m = {.type = PROTO_T_REALM_LIST_REQUEST};
    assert_int_equal(tl_login_seal(&l, &m, &out), -1);
}

static void test_replayed_box_fails_the_channel(void **state)
{
    (void)state;
    tl_login_t l;
    server_t s;
    server_identity(&s, 4);
    handshake(&l, &s);
    proto_msg_t r = {.type = PROTO_T_REALM_LIST};
    server_seal(&s, &r);
    proto_sealed_s2c_t copy = sbox.sealed_s2c;
    assert_int_equal(tl_login_open(&l, &sbox.sealed_s2c, &inner), 0);
    assert_int_equal(tl_login_open(&l, &copy, &inner), -1);
    assert_non_null(strstr(l.err, "failed authentication"));
}

static void test_unexpected_inner_packet_fails_the_channel(void **state)
{
    (void)state;
    tl_login_t l;
    server_t s;
    server_identity(&s, 5);
    handshake(&l, &s);
    proto_msg_t r = {.type = PROTO_T_PONG}; /* a game packet inside the channel */
    server_seal(&s, &r);
    assert_int_equal(tl_login_open(&l, &sbox.sealed_s2c, &inner), -1);
    assert_non_null(strstr(l.err, "unexpected or malformed inner packet"));
}

static void test_server_refusal_code_is_reported(void **state)
{
    (void)state;
    tl_login_t l;
    proto_secure_hello_result_t r = {.code = PROTO_ERR_HASH_MISMATCH};
    assert_int_equal(tl_login_init(&l, "127.0.0.1", 7002, pins), 0);
    assert_int_equal(tl_login_hello(&l, 1234, &out), 0);
    assert_int_equal(out.secure_hello.proto_hash, 1234);
    assert_int_equal(tl_login_on_hello_result(&l, &r, &out), -1);
    assert_non_null(strstr(l.err, "protocol hash mismatch"));
    assert_non_null(strstr(l.err, "rebuild"));
    /* a truncated key is malformed, never pinned */
    assert_int_equal(tl_login_init(&l, "127.0.0.1", 7002, pins), 0);
    assert_int_equal(tl_login_hello(&l, PROTO_HASH, &out), 0);
    r = (proto_secure_hello_result_t){.server_key_len = 31, .header_len = PA_HEADER_BYTES};
    assert_int_equal(tl_login_on_hello_result(&l, &r, &out), -1);
    assert_non_null(strstr(l.err, "malformed"));
    assert_int_equal(access(pins, F_OK), -1);
}

static void test_password_file_first_line(void **state)
{
    (void)state;
    char path[160], pw[130], msg[256];
    snprintf(path, sizeof path, "%s/pw", dir);
    FILE *f = fopen(path, "w");
    fputs("s3cret pass\r\nsecond line\n", f);
    fclose(f);
    assert_int_equal(tl_read_first_line(path, pw, sizeof pw, msg, sizeof msg), 0);
    assert_string_equal(pw, "s3cret pass");
    f = fopen(path, "w");
    fputs("\n", f);
    fclose(f);
    assert_int_equal(tl_read_first_line(path, pw, sizeof pw, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "empty"));
    f = fopen(path, "w");
    for (int i = 0; i < 200; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(tl_read_first_line(path, pw, sizeof pw, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "longer than"));
    assert_int_equal(tl_read_first_line("/nonexistent/pw", pw, sizeof pw, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_then_sealed_packets_both_ways, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_first_key_is_pinned_and_announced_then_matched, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_key_is_refused_before_anything_is_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed_pin_line_is_an_error_naming_the_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tampered_box_fails_the_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_box_fails_the_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unexpected_inner_packet_fails_the_channel, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_refusal_code_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_file_first_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
