/* Protocol codec tests: every packet round-trips at its extremes, and hostile
 * bodies (truncated, trailing, over-limit, invalid values) are rejected
 * without touching memory outside the buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "proto_packets.h"

static proto_msg_t g_a, g_b; /* large: keep off the stack */
static uint8_t g_buf[PROTO_MAX_BODY + 16];

static int encode_sample(uint16_t type, int mode, uint32_t seed)
{
    assert_int_equal(proto_sample_fill(type, mode, seed, &g_a), 0);
    int n = proto_encode(&g_a, g_buf, sizeof g_buf);
    assert_true(n >= 0);
    assert_true((size_t)n <= proto_max_size(type));
    return n;
}

static void round_trip(uint16_t type, int mode, uint32_t seed)
{
    int n = encode_sample(type, mode, seed);
    memset(&g_b, 0, sizeof g_b); /* decode clears only its union member */
    assert_int_equal(proto_decode(type, g_buf, (size_t)n, &g_b), 0);
    assert_int_equal(g_b.type, type);
    if (memcmp(&g_a, &g_b, sizeof g_a) != 0)
        fail_msg("%s (mode %d seed %u) differs after round trip", proto_type_name(type), mode,
                 seed);
    uint8_t again[PROTO_MAX_SIZE_ANY + 1];
    assert_int_equal(proto_encode(&g_b, again, sizeof again), n);
    assert_memory_equal(again, g_buf, (size_t)n);
}

static void test_every_packet_round_trips_at_max_lengths_and_counts(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        round_trip(proto_types[i], 0, 0);
        /* mode 0 hits every limit, so the encoding is exactly the maximum */
        assert_int_equal(encode_sample(proto_types[i], 0, 0), (int)proto_max_size(proto_types[i]));
    }
}

static void test_every_packet_round_trips_empty_and_signed_max(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++)
        round_trip(proto_types[i], 1, 0);
}

static void test_every_packet_round_trips_random_values(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++)
        for (uint32_t seed = 1; seed <= 200; seed++)
            round_trip(proto_types[i], 2, seed);
}

static void test_every_truncation_at_every_offset_is_rejected(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        for (int mode = 0; mode <= 2; mode++) {
            int n = encode_sample(proto_types[i], mode, 7);
            for (int cut = 0; cut < n; cut++) {
                /* copy to an exact-size heap block so ASan sees any over-read */
                uint8_t *p = malloc((size_t)cut + 1);
                memcpy(p, g_buf, (size_t)cut);
                int rc = proto_decode(proto_types[i], p, (size_t)cut, &g_b);
                free(p);
                if (rc != PROTO_ETRUNC)
                    fail_msg("%s cut at %d/%d: %s", proto_type_name(proto_types[i]), cut, n,
                             proto_strerror(rc));
            }
        }
    }
}

static void test_trailing_byte_is_rejected(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        int n = encode_sample(proto_types[i], 2, 3);
        g_buf[n] = 0;
        assert_int_equal(proto_decode(proto_types[i], g_buf, (size_t)n + 1, &g_b), PROTO_ETRAILING);
    }
}

static void put_u16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static void test_over_limit_string_length_is_rejected(void **st)
{
    (void)st;
    /* login: name is the first field; claim max + 1 bytes and supply them */
    uint8_t body[2 + PROTO_LOGIN_NAME_MAX + 1 + 8 + 2];
    memset(body, 'x', sizeof body);
    put_u16(body, PROTO_LOGIN_NAME_MAX + 1);
    assert_int_equal(proto_decode(PROTO_T_LOGIN, body, sizeof body, &g_b), PROTO_ETOOLONG);
    put_u16(body, 0xffff); /* hostile length far past the buffer */
    assert_int_equal(proto_decode(PROTO_T_LOGIN, body, sizeof body, &g_b), PROTO_ETOOLONG);
    assert_int_equal(g_b.login.name[0], '\0');
}

static void test_over_limit_bytes_and_array_counts_are_rejected(void **st)
{
    (void)st;
    proto_login_t l = {.name = "bob"};
    int n = proto_encode_login(&l, g_buf, sizeof g_buf);
    assert_int_equal(n, 2 + 3 + 8 + 2);
    put_u16(g_buf + n - 2, PROTO_LOGIN_TOKEN_MAX + 1);
    assert_int_equal(proto_decode_login(g_buf, (size_t)n, &g_b.login), PROTO_ETOOLONG);

    proto_shard_list_response_t r = {0};
    n = proto_encode_shard_list_response(&r, g_buf, sizeof g_buf);
    assert_int_equal(n, 2);
    put_u16(g_buf, PROTO_SHARD_LIST_RESPONSE_SHARDS_MAX + 1);
    assert_int_equal(proto_decode_shard_list_response(g_buf, 2, &g_b.shard_list_response),
                     PROTO_ETOOLONG);
}

static void test_bool_other_than_0_or_1_is_rejected(void **st)
{
    (void)st;
    proto_error_t e = {.code = -5, .fatal = true, .text = "no"};
    int n = proto_encode_error(&e, g_buf, sizeof g_buf);
    assert_int_equal(g_buf[4], 1);
    g_buf[4] = 2;
    assert_int_equal(proto_decode_error(g_buf, (size_t)n, &g_b.error), PROTO_EINVAL);
}

static void test_nul_inside_a_string_is_rejected(void **st)
{
    (void)st;
    proto_chat_relay_t c = {.shard = "s1", .sender = "amy", .text = "hello"};
    int n = proto_encode_chat_relay(&c, g_buf, sizeof g_buf);
    assert_true(n > 0);
    g_buf[n - 3] = 0;
    assert_int_equal(proto_decode_chat_relay(g_buf, (size_t)n, &g_b.chat_relay), PROTO_EINVAL);
}

static void test_decoded_strings_are_nul_terminated(void **st)
{
    (void)st;
    assert_int_equal(proto_sample_fill(PROTO_T_CHAT, 0, 0, &g_a), 0);
    int n = proto_encode(&g_a, g_buf, sizeof g_buf);
    memset(&g_b, 'Z', sizeof g_b);
    assert_int_equal(proto_decode(PROTO_T_CHAT, g_buf, (size_t)n, &g_b), 0);
    assert_int_equal(strlen(g_b.chat.text), PROTO_CHAT_TEXT_MAX);
    assert_int_equal(strlen(g_b.chat.target), PROTO_CHAT_TARGET_MAX);
}

static void test_encode_refuses_unterminated_string_and_count_over_max(void **st)
{
    (void)st;
    proto_login_t l;
    memset(&l, 'a', sizeof l); /* name fills all max + 1 chars: no NUL */
    l.token_len = 0;
    assert_int_equal(proto_encode_login(&l, g_buf, sizeof g_buf), PROTO_ETOOLONG);
    l.name[PROTO_LOGIN_NAME_MAX] = '\0';
    l.token_len = PROTO_LOGIN_TOKEN_MAX + 1;
    assert_int_equal(proto_encode_login(&l, g_buf, sizeof g_buf), PROTO_ETOOLONG);
    proto_who_response_t w = {.entries_count = PROTO_WHO_RESPONSE_ENTRIES_MAX + 1};
    assert_int_equal(proto_encode_who_response(&w, g_buf, sizeof g_buf), PROTO_ETOOLONG);
}

static void test_encode_into_small_buffer_is_ebufsize_and_stays_in_bounds(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        int n = encode_sample(proto_types[i], 0, 0);
        for (int cap = 0; cap < n; cap++) {
            uint8_t *p = malloc((size_t)cap + 1);
            assert_int_equal(proto_encode(&g_a, p, (size_t)cap), PROTO_EBUFSIZE);
            free(p);
        }
    }
}

static void test_unknown_type_is_rejected(void **st)
{
    (void)st;
    assert_int_equal(proto_decode(0, g_buf, 0, &g_b), PROTO_EUNKNOWN);
    assert_int_equal(proto_decode(999, g_buf, 0, &g_b), PROTO_EUNKNOWN);
    g_a.type = 65535;
    assert_int_equal(proto_encode(&g_a, g_buf, sizeof g_buf), PROTO_EUNKNOWN);
    assert_null(proto_type_name(65535));
    assert_int_equal(proto_max_size(0), 0);
    assert_int_equal(proto_type_dir(0), 0);
}

static void test_type_tables_match_ranges_and_body_limit(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        uint16_t t = proto_types[i];
        assert_non_null(proto_type_name(t));
        assert_true(proto_max_size(t) <= PROTO_MAX_BODY);
        assert_true(proto_max_size(t) <= PROTO_MAX_SIZE_ANY);
        int want = t < 100 ? PROTO_DIR_C2S : t < 200 ? PROTO_DIR_S2C : PROTO_DIR_S2S;
        assert_int_equal(proto_type_dir(t), want);
        if (i > 0)
            assert_true(proto_types[i - 1] < t);
    }
    assert_string_equal(proto_type_name(PROTO_T_MOVE), "move");
}

/* The README's wire-format description, checked byte by byte on one packet. */
static void test_wire_format_matches_readme(void **st)
{
    (void)st;
    proto_spawn_t s = {.entity_id = 0x01020304,
                       .kind = 1,
                       .name = "Al",
                       .pos = {.x = 1.0f, .y = -2.5f},
                       .dir = 0x80};
    static const uint8_t want[] = {0x04, 0x03, 0x02, 0x01, 0x01, 0x02, 0x00, 'A',  'l',
                                   0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0, 0x80};
    assert_int_equal(proto_encode_spawn(&s, g_buf, sizeof g_buf), sizeof want);
    assert_memory_equal(g_buf, want, sizeof want);
    proto_ping_t p = {.client_time = 0x1122334455667788ull};
    static const uint8_t ping[] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
    assert_int_equal(proto_encode_ping(&p, g_buf, sizeof g_buf), 8);
    assert_memory_equal(g_buf, ping, 8);
    proto_notice_t nt = {.code = -2, .text = ""};
    static const uint8_t notice[] = {0xfe, 0xff, 0xff, 0xff, 0x00, 0x00};
    assert_int_equal(proto_encode_notice(&nt, g_buf, sizeof g_buf), 6);
    assert_memory_equal(g_buf, notice, 6);
}

static void test_runtime_signed_and_wide_integers_round_trip(void **st)
{
    (void)st;
    uint8_t b[32];
    proto_w_t w = {b, sizeof b, 0, 0};
    proto_w_i8(&w, INT8_MIN);
    proto_w_i16(&w, -2);
    proto_w_i64(&w, INT64_MIN);
    proto_w_u64(&w, UINT64_MAX);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.len, 1 + 2 + 8 + 8);
    proto_r_t r = {b, w.len, 0, 0};
    int8_t a;
    int16_t c;
    int64_t d;
    uint64_t e;
    proto_r_i8(&r, &a);
    proto_r_i16(&r, &c);
    proto_r_i64(&r, &d);
    proto_r_u64(&r, &e);
    assert_int_equal(proto_r_end(&r), 0);
    assert_true(a == INT8_MIN && c == -2 && d == INT64_MIN && e == UINT64_MAX);
}

static void test_error_strings_cover_every_code(void **st)
{
    (void)st;
    for (int e = PROTO_EINVAL; e <= PROTO_ETRUNC; e++)
        assert_string_not_equal(proto_strerror(e), "unknown protocol error");
    assert_string_equal(proto_strerror(1234), "unknown protocol error");
    assert_string_equal(proto_err_text(PROTO_ERR_HASH_MISMATCH),
                        "protocol hash mismatch: client and server differ");
    assert_true(PROTO_HASH != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_packet_round_trips_at_max_lengths_and_counts),
        cmocka_unit_test(test_every_packet_round_trips_empty_and_signed_max),
        cmocka_unit_test(test_every_packet_round_trips_random_values),
        cmocka_unit_test(test_every_truncation_at_every_offset_is_rejected),
        cmocka_unit_test(test_trailing_byte_is_rejected),
        cmocka_unit_test(test_over_limit_string_length_is_rejected),
        cmocka_unit_test(test_over_limit_bytes_and_array_counts_are_rejected),
        cmocka_unit_test(test_bool_other_than_0_or_1_is_rejected),
        cmocka_unit_test(test_nul_inside_a_string_is_rejected),
        cmocka_unit_test(test_decoded_strings_are_nul_terminated),
        cmocka_unit_test(test_encode_refuses_unterminated_string_and_count_over_max),
        cmocka_unit_test(test_encode_into_small_buffer_is_ebufsize_and_stays_in_bounds),
        cmocka_unit_test(test_unknown_type_is_rejected),
        cmocka_unit_test(test_type_tables_match_ranges_and_body_limit),
        cmocka_unit_test(test_wire_format_matches_readme),
        cmocka_unit_test(test_runtime_signed_and_wide_integers_round_trip),
        cmocka_unit_test(test_error_strings_cover_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
