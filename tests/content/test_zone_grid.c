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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_visit_finds_only_entities_within_radius),
        cmocka_unit_test(test_update_moves_entity_between_cells),
        cmocka_unit_test(test_positions_on_the_border_are_bucketed),
        cmocka_unit_test(test_idset_survives_churn),
        cmocka_unit_test(test_idmap_maps_and_deletes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
