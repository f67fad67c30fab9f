/* Protocol codec tests: every packet round-trips at its extremes (binary and
 * JSON), and hostile bodies (truncated, trailing, over-limit, invalid
 * values) and JSON documents are rejected without touching memory outside
 * the buffers.  Every loop walks the generated table proto_packets[]: the
 * same file is built as test_proto_fork against packets.json plus the
 * fixture schemas/fork.json (user types 1999/2999/3000), which must pass
 * with no hand-written list of packets or type ranges anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "proto_json.h"
#include "proto_packets.h"

static proto_msg_t g_a, g_b; /* large: keep off the stack */
static uint8_t g_buf[PROTO_MAX_BODY + 16];
/* per table row: round trips done (binary, JSON); checked at the end, so a
 * loop that skips a range (e.g. the user types) fails */
static unsigned g_seen_bin[PROTO_NTYPES], g_seen_json[PROTO_NTYPES];

static void seen(unsigned *v, uint16_t type)
{
    const proto_packet_info_t *pi = proto_packet_info(type);
    assert_non_null(pi);
    v[pi - proto_packets]++;
}

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
    seen(g_seen_bin, type);
}

static void test_every_packet_round_trips_at_max_lengths_and_counts(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        round_trip(proto_packets[i].type, 0, 0);
        /* mode 0 hits every limit, so the encoding is exactly the maximum */
        assert_int_equal(encode_sample(proto_packets[i].type, 0, 0),
                         (int)proto_max_size(proto_packets[i].type));
    }
}

static void test_every_packet_round_trips_empty_and_signed_max(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++)
        round_trip(proto_packets[i].type, 1, 0);
}

static void test_every_packet_round_trips_random_values(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++)
        for (uint32_t seed = 1; seed <= 200; seed++)
            round_trip(proto_packets[i].type, 2, seed);
}

static void test_every_truncation_at_every_offset_is_rejected(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        for (int mode = 0; mode <= 2; mode++) {
            int n = encode_sample(proto_packets[i].type, mode, 7);
            for (int cut = 0; cut < n; cut++) {
                /* copy to an exact-size heap block so ASan sees any over-read */
                uint8_t *p = malloc((size_t)cut + 1);
                memcpy(p, g_buf, (size_t)cut);
                int rc = proto_decode(proto_packets[i].type, p, (size_t)cut, &g_b);
                free(p);
                if (rc != PROTO_ETRUNC)
                    fail_msg("%s cut at %d/%d: %s", proto_type_name(proto_packets[i].type), cut, n,
                             proto_strerror(rc));
            }
        }
    }
}

static void test_trailing_byte_is_rejected(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        int n = encode_sample(proto_packets[i].type, 2, 3);
        g_buf[n] = 0;
        assert_int_equal(proto_decode(proto_packets[i].type, g_buf, (size_t)n + 1, &g_b),
                         PROTO_ETRAILING);
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
        int n = encode_sample(proto_packets[i].type, 0, 0);
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

/* The README's type ranges, template and user: protogen refuses anything
 * else, so this holds for any schema. */
static int documented_dir(unsigned t)
{
    if (t >= 1000 && t <= 3999)
        return (int)(t / 1000);
    return t >= 1 && t <= 99      ? PROTO_DIR_C2S
           : t >= 100 && t <= 199 ? PROTO_DIR_S2C
           : t >= 200 && t <= 299 ? PROTO_DIR_S2S
                                  : 0;
}

static void test_type_tables_match_ranges_and_body_limit(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        const proto_packet_info_t *pi = &proto_packets[i];
        uint16_t t = pi->type;
        assert_int_equal(proto_types[i], t);
        assert_ptr_equal(proto_packet_info(t), pi);
        assert_string_equal(proto_type_name(t), pi->name);
        assert_int_equal(proto_type_by_name(pi->name), t);
        assert_int_equal(proto_max_size(t), pi->max_size);
        assert_true(pi->max_size <= PROTO_MAX_BODY);
        assert_true(pi->max_size <= PROTO_MAX_SIZE_ANY);
        assert_int_equal(proto_type_dir(t), pi->dir);
        assert_int_equal(pi->dir, documented_dir(t));
        /* every c2s packet says who handles it; nothing else has a route */
        if (pi->dir == PROTO_DIR_C2S)
            assert_true(pi->route >= PROTO_ROUTE_SESSION && pi->route <= PROTO_ROUTE_LOGIN_SERVER);
        else
            assert_int_equal(pi->route, PROTO_ROUTE_NONE);
        assert_true(proto_route_name(pi->route)[0] != '\0' || pi->route == PROTO_ROUTE_NONE);
        if (i > 0)
            assert_true(proto_packets[i - 1].type < t);
    }
    assert_null(proto_packet_info(0));
    assert_null(proto_packet_info(65535));
    assert_int_equal(proto_type_by_name("no_such_packet"), -1);
    assert_int_equal(proto_type_by_name(NULL), -1);
    assert_string_equal(proto_type_name(PROTO_T_MOVE), "move");
    assert_int_equal(proto_packet_info(PROTO_T_MOVE)->route, PROTO_ROUTE_ZONE);
    assert_int_equal(proto_packet_info(PROTO_T_LOGIN)->route, PROTO_ROUTE_SESSION);
    assert_string_equal(proto_route_name(PROTO_ROUTE_ZONE), "zone");
}

/* Through cJSON text and back, every packet re-encodes to the same bytes. */
static void json_round_trip(uint16_t type, int mode, uint32_t seed)
{
    int n = encode_sample(type, mode, seed);
    cJSON *j = proto_to_json(&g_a);
    if (!j)
        fail_msg("%s: proto_to_json failed", proto_type_name(type));
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    assert_non_null(text);
    cJSON *back = cJSON_Parse(text);
    assert_non_null(back);
    char err[256];
    int rc = proto_from_json(type, back, &g_b, err, sizeof err);
    cJSON_Delete(back);
    if (rc != 0)
        fail_msg("%s (mode %d): %s in %.200s", proto_type_name(type), mode, err, text);
    free(text);
    assert_int_equal(g_b.type, type);
    uint8_t again[PROTO_MAX_SIZE_ANY + 1];
    assert_int_equal(proto_encode(&g_b, again, sizeof again), n);
    if (memcmp(again, g_buf, (size_t)n) != 0)
        fail_msg("%s (mode %d seed %u) differs after a JSON round trip", proto_type_name(type),
                 mode, seed);
    seen(g_seen_json, type);
}

static void test_every_packet_round_trips_through_json(void **st)
{
    (void)st;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        json_round_trip(proto_packets[i].type, 0, 0);
        json_round_trip(proto_packets[i].type, 1, 0);
        for (uint32_t seed = 1; seed <= 20; seed++)
            json_round_trip(proto_packets[i].type, 2, seed);
    }
}

/* proto_from_json on text; returns its code, err gets the reason. */
static int from_text(uint16_t type, const char *text, char *err, size_t errlen)
{
    cJSON *j = cJSON_Parse(text);
    if (!j)
        fail_msg("bad test JSON: %s", text);
    int rc = proto_from_json(type, j, &g_b, err, errlen);
    cJSON_Delete(j);
    return rc;
}

static void expect_reject(uint16_t type, const char *text, const char *want_err)
{
    char err[256];
    int rc = from_text(type, text, err, sizeof err);
    if (rc != PROTO_EINVAL || strstr(err, want_err) == NULL)
        fail_msg("%s %s: rc %d, err '%s', wanted '%s'", proto_type_name(type), text, rc, err,
                 want_err);
}

static void test_json_values_are_checked_with_a_path(void **st)
{
    (void)st;
    char err[256];
    /* missing fields are zero, NULL is {} */
    assert_int_equal(from_text(PROTO_T_MOVE, "{\"dir\": 3}", err, sizeof err), 0);
    assert_int_equal(g_b.move.dir, 3);
    assert_true(g_b.move.pos.x == 0.0f && g_b.move.client_time == 0);
    assert_int_equal(proto_from_json(PROTO_T_LOGOUT, NULL, &g_b, err, sizeof err), 0);
    assert_int_equal(g_b.type, PROTO_T_LOGOUT);
    /* 64-bit: exact numbers up to 2^53, decimal strings beyond */
    assert_int_equal(
        from_text(PROTO_T_LOGIN, "{\"proto_hash\": \"18446744073709551615\"}", err, sizeof err), 0);
    assert_true(g_b.login.proto_hash == UINT64_MAX);
    assert_int_equal(from_text(PROTO_T_LOGIN, "{\"token\": \"00fFa0\"}", err, sizeof err), 0);
    assert_int_equal(g_b.login.token_len, 3);
    assert_int_equal(g_b.login.token[1], 0xff);
    assert_int_equal(from_text(PROTO_T_ERROR, "{\"code\": -2147483648}", err, sizeof err), 0);
    assert_int_equal(g_b.error.code, INT32_MIN);

    expect_reject(PROTO_T_MOVE, "{\"pos\": {\"x\": \"a\"}}", "pos.x: expected a number");
    expect_reject(PROTO_T_MOVE, "{\"pos\": {\"x\": 1e39}}", "pos.x: number out of f32 range");
    expect_reject(PROTO_T_MOVE, "{\"dir\": 256}", "dir: out of range 0..255");
    expect_reject(PROTO_T_MOVE, "{\"dir\": -1}", "dir: out of range");
    expect_reject(PROTO_T_MOVE, "{\"dir\": 1.5}", "dir: expected an integer, not a fraction");
    expect_reject(PROTO_T_MOVE, "{\"dirr\": 1}", "unknown field 'dirr'");
    expect_reject(PROTO_T_MOVE, "{\"dir\": 1, \"dir\": 2}", "duplicate field 'dir'");
    expect_reject(PROTO_T_MOVE, "[]", "expected an object");
    expect_reject(PROTO_T_ERROR, "{\"code\": 2147483648}", "code: out of range");
    expect_reject(PROTO_T_ERROR, "{\"fatal\": 1}", "fatal: expected true or false");
    expect_reject(PROTO_T_LOGIN, "{\"proto_hash\": 18446744073709551615}", "beyond 2^53");
    expect_reject(PROTO_T_LOGIN, "{\"proto_hash\": \"18446744073709551616\"}",
                  "expected an integer");
    expect_reject(PROTO_T_LOGIN, "{\"name\": \"0123456789012345678901234\"}",
                  "name: string longer than 24 bytes");
    expect_reject(PROTO_T_LOGIN, "{\"token\": \"abc\"}", "token: hex string of odd length");
    expect_reject(PROTO_T_LOGIN, "{\"token\": \"zz\"}", "token: not a hex digit");
    expect_reject(PROTO_T_WHO_RESPONSE,
                  "{\"entries\": [{\"name\": \"a\"}, {\"name\": \"b\", \"zone\": 70000}]}",
                  "entries[1].zone: out of range 0..65535");
    /* an array over its maximum */
    char big[2048] = "{\"entries\": [";
    for (int i = 0; i <= PROTO_WHO_RESPONSE_ENTRIES_MAX; i++)
        strcat(big, i ? ",{}" : "{}");
    strcat(big, "]}");
    expect_reject(PROTO_T_WHO_RESPONSE, big, "entries: more than 64 elements");
    /* unknown type */
    assert_int_equal(proto_from_json(999, NULL, &g_b, err, sizeof err), PROTO_EUNKNOWN);
    assert_non_null(strstr(err, "unknown packet type 999"));
    g_a.type = 999;
    assert_null(proto_to_json(&g_a));
    /* a small err buffer is never overrun */
    char tiny[4];
    assert_int_equal(from_text(PROTO_T_MOVE, "{\"dirr\": 1}", tiny, sizeof tiny), PROTO_EINVAL);
    assert_int_equal(strlen(tiny), 3);
    /* the text form a tool prints */
    proto_move_t mv = {.pos = {1.5f, -2}, .dir = 7, .client_time = 9};
    g_a.type = PROTO_T_MOVE;
    g_a.move = mv;
    cJSON *j = proto_to_json(&g_a);
    char *text = cJSON_PrintUnformatted(j);
    assert_string_equal(text, "{\"pos\":{\"x\":1.5,\"y\":-2},\"dir\":7,\"client_time\":9}");
    free(text);
    cJSON_Delete(j);
}

/* Runs last: every row of the table went through both round trips. */
static void test_every_table_row_was_exercised(void **st)
{
    (void)st;
    int user = 0;
    for (int i = 0; i < PROTO_NTYPES; i++) {
        if (g_seen_bin[i] == 0 || g_seen_json[i] == 0)
            fail_msg("%s (%u) skipped by the round trips", proto_packets[i].name,
                     proto_packets[i].type);
        /* the fixture's rows (packets.json itself has user packets too: emote) */
        user += proto_packets[i].type >= 1000 && !strncmp(proto_packets[i].name, "fork_", 5);
    }
#ifdef PROTO_FIXTURE_FORK
    /* the fixture pair is in every generated table, found by name */
    assert_true(user >= 3); /* a fork's own packets may be there too */
    assert_int_equal(proto_type_by_name("fork_wave"), 1999);
    assert_int_equal(proto_packet_info(1999)->route, PROTO_ROUTE_ZONE);
    assert_int_equal(proto_type_dir(2999), PROTO_DIR_S2C);
    assert_int_equal(proto_max_size(3000), 2 + 8);
    assert_int_equal(PROTO_T_FORK_WAVE_NOTIFY, 2999);
#else
    (void)user;
#endif
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
        cmocka_unit_test(test_every_packet_round_trips_through_json),
        cmocka_unit_test(test_json_values_are_checked_with_a_path),
        cmocka_unit_test(test_every_table_row_was_exercised), /* last */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
