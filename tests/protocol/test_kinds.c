/* Generator coverage on a test-only schema (schemas/kinds.json, prefix tk):
 * every field kind, nested structs, arrays of scalars/strings/structs and
 * zero limits round-trip, and every truncation is rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tk_packets.h"

static tk_msg_t g_a, g_b;
static uint8_t g_buf[TK_MAX_SIZE_ANY + 1];

static int encode_sample(uint16_t type, int mode, uint32_t seed)
{
    assert_int_equal(tk_sample_fill(type, mode, seed, &g_a), 0);
    int n = tk_encode(&g_a, g_buf, sizeof g_buf);
    assert_true(n >= 0 && (size_t)n <= tk_max_size(type));
    if (mode == 0)
        assert_int_equal(n, (int)tk_max_size(type));
    return n;
}

static void test_every_kind_round_trips_in_every_mode(void **st)
{
    (void)st;
    for (int i = 0; i < TK_NTYPES; i++)
        for (int mode = 0; mode <= 2; mode++)
            for (uint32_t seed = 1; seed <= (mode == 2 ? 300u : 1u); seed++) {
                int n = encode_sample(tk_types[i], mode, seed);
                memset(&g_b, 0, sizeof g_b);
                assert_int_equal(tk_decode(tk_types[i], g_buf, (size_t)n, &g_b), 0);
                assert_memory_equal(&g_a, &g_b, sizeof g_a);
            }
}

static void test_every_kind_rejects_every_truncation(void **st)
{
    (void)st;
    for (int i = 0; i < TK_NTYPES; i++)
        for (int mode = 0; mode <= 2; mode++) {
            int n = encode_sample(tk_types[i], mode, 5);
            for (int cut = 0; cut < n; cut++) {
                uint8_t *p = malloc((size_t)cut + 1);
                memcpy(p, g_buf, (size_t)cut);
                assert_int_equal(tk_decode(tk_types[i], p, (size_t)cut, &g_b), PROTO_ETRUNC);
                free(p);
            }
        }
}

static void test_zero_max_string_and_bytes_accept_only_empty(void **st)
{
    (void)st;
    tk_variable_t v;
    memset(&v, 0, sizeof v);
    v.none_len = 1;
    assert_int_equal(tk_encode_variable(&v, g_buf, sizeof g_buf), PROTO_ETOOLONG);
    v.none_len = 0;
    int n = tk_encode_variable(&v, g_buf, sizeof g_buf);
    /* s(2) empty(2) blob(2) none(2) names(2) big(2) nested(2) o: in{a, tags(2)} s(2) */
    assert_int_equal(n, 2 * 7 + 1 + 2 + 2);
    g_buf[2] = 1; /* empty: length 1 */
    assert_int_equal(tk_decode_variable(g_buf, (size_t)n, &v), PROTO_ETOOLONG);
}

static void test_fixed_layout_of_scalars(void **st)
{
    (void)st;
    assert_int_equal(TK_MAX_SIZE_ALL_SCALARS, 1 + 2 + 4 + 8 + 1 + 2 + 4 + 8 + 4 + 1);
    assert_int_equal(TK_MAX_SIZE_NOTHING, 0);
    assert_int_equal(tk_type_dir(3000), PROTO_DIR_S2S);
    assert_int_equal(tk_encode_nothing(&g_a.nothing, g_buf, 0), 0);
    assert_int_equal(tk_decode_nothing(g_buf, 1, &g_b.nothing), PROTO_ETRAILING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_round_trips_in_every_mode),
        cmocka_unit_test(test_every_kind_rejects_every_truncation),
        cmocka_unit_test(test_zero_max_string_and_bytes_accept_only_empty),
        cmocka_unit_test(test_fixed_layout_of_scalars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
