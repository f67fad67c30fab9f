/* Interest grid and id sets: neighbours within the view radius only, cells
 * follow moves, sets survive heavy insert/delete churn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "zone_grid.h"

static void count_visit(zone_ent_t *o, void *ud)
{
    (void)o;
    (*(int *)ud)++;
}

static void test_visit_finds_only_entities_within_radius(void **state)
{
    (void)state;
    zone_grid_t g;
    assert_int_equal(zone_grid_init(&g, 1000, 1000, 50), 0);
    zone_ent_t me = {1, 500, 500, -1, 0}, near = {2, 530, 520, -1, 0};
    zone_ent_t edge = {3, 549, 500, -1, 0}, far = {4, 560, 500, -1, 0},
               corner = {5, 540, 540, -1, 0};
    zone_ent_t *all[] = {&me, &near, &edge, &far, &corner};
    for (int i = 0; i < 5; i++)
        assert_int_equal(zone_grid_insert(&g, all[i]), 0);
    int n = 0;
    zone_grid_visit(&g, &me, me.x, me.y, 50, count_visit, &n);
    assert_int_equal(n, 2); /* near, edge; far is 60 away, corner 56.6 */
    zone_grid_free(&g);
}

static void test_update_moves_entity_between_cells(void **state)
{
    (void)state;
    zone_grid_t g;
    assert_int_equal(zone_grid_init(&g, 1000, 1000, 50), 0);
    zone_ent_t a = {1, 10, 10, -1, 0}, b = {2, 900, 900, -1, 0};
    zone_grid_insert(&g, &a);
    zone_grid_insert(&g, &b);
    int n = 0;
    zone_grid_visit(&g, &a, a.x, a.y, 50, count_visit, &n);
    assert_int_equal(n, 0);
    a.x = 880;
    a.y = 890;
    assert_int_equal(zone_grid_update(&g, &a), 0);
    zone_grid_visit(&g, &a, a.x, a.y, 50, count_visit, &n);
    assert_int_equal(n, 1);
    zone_grid_remove(&g, &b);
    n = 0;
    zone_grid_visit(&g, &a, a.x, a.y, 50, count_visit, &n);
    assert_int_equal(n, 0);
    zone_grid_free(&g);
}

static void test_positions_on_the_border_are_bucketed(void **state)
{
    (void)state;
    zone_grid_t g;
    assert_int_equal(zone_grid_init(&g, 100, 100, 30), 0);
    zone_ent_t a = {1, 100, 100, -1, 0}, b = {2, 0, 0, -1, 0};
    assert_int_equal(zone_grid_insert(&g, &a), 0);
    assert_int_equal(zone_grid_insert(&g, &b), 0);
    assert_true(a.cell >= 0 && a.cell < g.cols * g.rows);
    zone_grid_free(&g);
}

static void test_idset_survives_churn(void **state)
{
    (void)state;
    zone_idset_t s = {0};
    for (uint32_t i = 1; i <= 5000; i++)
        assert_int_equal(zone_idset_add(&s, i), 1);
    assert_int_equal(zone_idset_add(&s, 7), 0);
    for (uint32_t i = 1; i <= 5000; i += 2)
        assert_int_equal(zone_idset_del(&s, i), 1);
    assert_int_equal(s.n, 2500);
    for (uint32_t i = 1; i <= 5000; i++)
        assert_int_equal(zone_idset_has(&s, i), i % 2 == 0);
    assert_int_equal(zone_idset_del(&s, 1), 0);
    zone_idset_free(&s);
}

static void test_idmap_maps_and_deletes(void **state)
{
    (void)state;
    zone_idmap_t m = {0};
    int vals[300];
    for (uint32_t i = 0; i < 300; i++)
        assert_int_equal(zone_idmap_put(&m, i + 1, &vals[i]), 1);
    for (uint32_t i = 0; i < 300; i += 3)
        assert_ptr_equal(zone_idmap_del(&m, i + 1), &vals[i]);
    for (uint32_t i = 0; i < 300; i++)
        assert_ptr_equal(zone_idmap_get(&m, i + 1), i % 3 ? &vals[i] : NULL);
    zone_idmap_free(&m);
}

/* Interest selection (issue 15): the first k are k of the nearest, for
 * random, all-equal (a crowd on one point) and sorted inputs; the set of
 * candidates is only reordered. */
static void check_select(zone_cand_t *c, uint32_t n, uint32_t k)
{
    uint64_t sum = 0, sum2 = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += c[i].slot;
    zone_interest_select(c, n, k);
    for (uint32_t i = 0; i < n; i++)
        sum2 += c[i].slot;
    assert_true(sum == sum2);
    if (k == 0 || k >= n)
        return;
    float worst_in = 0, best_out = 1e30f;
    for (uint32_t i = 0; i < k; i++)
        worst_in = c[i].d2 > worst_in ? c[i].d2 : worst_in;
    for (uint32_t i = k; i < n; i++)
        best_out = c[i].d2 < best_out ? c[i].d2 : best_out;
    assert_true(worst_in <= best_out);
}

static void test_interest_select_keeps_the_nearest(void **state)
{
    (void)state;
    enum { N = 1000 };
    static zone_cand_t c[N];
    srand(7);
    uint32_t ks[] = {0, 1, 16, 64, 500, 999, 1000, 2000};
    for (int mode = 0; mode < 3; mode++)
        for (unsigned t = 0; t < sizeof ks / sizeof ks[0]; t++) {
            for (uint32_t i = 0; i < N; i++) {
                float d = mode == 0 ? (float)(rand() % 5000) : mode == 1 ? 7.0f : (float)i;
                c[i] = (zone_cand_t){d, i, NULL};
            }
            check_select(c, N, ks[t]);
        }
    zone_cand_t one = {1.0f, 3, NULL};
    zone_interest_select(&one, 1, 1);
    zone_interest_select(NULL, 0, 5);
    assert_true(one.slot == 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_visit_finds_only_entities_within_radius),
        cmocka_unit_test(test_update_moves_entity_between_cells),
        cmocka_unit_test(test_positions_on_the_border_are_bucketed),
        cmocka_unit_test(test_idset_survives_churn),
        cmocka_unit_test(test_idmap_maps_and_deletes),
        cmocka_unit_test(test_interest_select_keeps_the_nearest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
