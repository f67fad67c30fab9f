/* Eviction lists (nc_evict.h): order, O(1) removal from anywhere, the
 * victim choice (oldest, skipped nodes, the biggest group, the scan bound),
 * the deadline sweep, and a real server role whose newcomers evict the
 * oldest silent connection while others close on their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "nc_evict.h"
#include "nc_testutil.h"
#include "netcore.h"
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the list alone ------------------------------------------------------ */

typedef struct {
    nc_evict_node_t node;
    int group; /* e.g. the remote address */
    int busy;  /* e.g. a password check in flight */
} item_t;

static int sids_in_order(const nc_evict_t *l, nc_sid_t *out, int max)
{
    int n = 0;
    for (nc_evict_node_t *e = nc_evict_oldest(l); e && n < max; e = e->next)
        out[n++] = e->sid;
    return n;
}

static void test_list_keeps_arrival_order_and_removes_from_anywhere(void **st)
{
    (void)st;
    nc_evict_t l = {0};
    item_t it[5] = {0};
    for (int i = 0; i < 5; i++)
        nc_evict_add(&l, &it[i].node, (nc_sid_t)(i + 1), 100 + (uint64_t)i);
    assert_int_equal(nc_evict_count(&l), 5);
    assert_int_equal(nc_evict_remove(&l, &it[2].node), 1); /* middle */
    assert_int_equal(nc_evict_remove(&l, &it[0].node), 1); /* oldest */
    assert_int_equal(nc_evict_remove(&l, &it[4].node), 1); /* newest */
    assert_int_equal(nc_evict_remove(&l, &it[4].node), 0); /* twice: nothing */
    nc_sid_t got[5];
    assert_int_equal(sids_in_order(&l, got, 5), 2);
    assert_int_equal(got[0], 2);
    assert_int_equal(got[1], 4);
    assert_false(nc_evict_listed(&it[0].node));
    assert_true(nc_evict_listed(&it[1].node));
    nc_evict_touch(&l, &it[1].node, 200); /* to the newest end */
    nc_evict_touch(&l, &it[0].node, 200); /* not listed: stays off */
    assert_int_equal(sids_in_order(&l, got, 5), 2);
    assert_int_equal(got[0], 4);
    assert_int_equal(got[1], 2);
    assert_int_equal(it[1].node.since_ms, 200);
    nc_evict_add(&l, &it[0].node, 1, 201); /* a removed node comes back */
    assert_int_equal(nc_evict_count(&l), 3);
    assert_int_equal(l.newest->sid, 1);
    assert_int_equal(nc_evict_remove(&l, &it[3].node), 1);
    assert_int_equal(nc_evict_remove(&l, &it[1].node), 1);
    assert_int_equal(nc_evict_remove(&l, &it[0].node), 1);
    assert_int_equal(nc_evict_count(&l), 0);
    assert_null(l.oldest);
    assert_null(l.newest);
}

static int is_busy(const nc_evict_node_t *n, void *ud)
{
    (void)ud;
    return NC_EVICT_ENTRY(n, item_t, node)->busy;
}

/* The size of a node's group among the items (ud): what the login server
 * asks its per-address connection table. */
static uint32_t group_size(const nc_evict_node_t *n, void *ud)
{
    const item_t *all = ud;
    int g = NC_EVICT_ENTRY(n, item_t, node)->group;
    uint32_t k = 0;
    for (int i = 0; i < 8; i++)
        k += all[i].group == g;
    return k;
}

static void test_pick_is_the_oldest_not_skipped(void **st)
{
    (void)st;
    nc_evict_t l = {0};
    assert_null(nc_evict_pick(&l, NULL, NULL)); /* empty */
    item_t it[3] = {0};
    for (int i = 0; i < 3; i++)
        nc_evict_add(&l, &it[i].node, (nc_sid_t)(i + 1), 0);
    uint32_t g = 99;
    assert_ptr_equal(nc_evict_pick(&l, NULL, &g), &it[0].node);
    assert_int_equal(g, 0);
    it[0].busy = it[1].busy = 1;
    nc_evict_policy_t p = {.skip = is_busy};
    assert_ptr_equal(nc_evict_pick(&l, &p, NULL), &it[2].node);
    it[2].busy = 1;
    assert_null(nc_evict_pick(&l, &p, NULL)); /* all busy: the newcomer is refused */
    assert_int_equal(nc_evict_count(&l), 3);  /* pick leaves the victim listed */
}

/* "Biggest address": the oldest connection of the group holding the most
 * wins over older connections of smaller groups; among equal groups the
 * oldest; a busy node neither wins nor counts against the scan bound. */
static void test_pick_takes_the_oldest_of_the_biggest_group(void **st)
{
    (void)st;
    nc_evict_t l = {0};
    item_t it[8] = {0};
    /* arrival order: groups 1 2 3 3 2 3 1 2; group 3 holds 3, 2 holds 3,
     * 1 holds 2 */
    static const int grp[8] = {1, 2, 3, 3, 2, 3, 1, 2};
    for (int i = 0; i < 8; i++) {
        it[i].group = grp[i];
        nc_evict_add(&l, &it[i].node, (nc_sid_t)(i + 1), 0);
    }
    nc_evict_policy_t p = {.skip = is_busy, .group_size = group_size, .ud = it, .scan = 8};
    uint32_t g = 0;
    /* groups 2 and 3 both hold 3: the older of their oldest (index 1) */
    assert_ptr_equal(nc_evict_pick(&l, &p, &g), &it[1].node);
    assert_int_equal(g, 3);
    it[7].group = 3; /* now group 3 holds 4 */
    assert_ptr_equal(nc_evict_pick(&l, &p, &g), &it[2].node);
    assert_int_equal(g, 4);
    it[2].busy = 1; /* in flight: the next of its group */
    assert_ptr_equal(nc_evict_pick(&l, &p, &g), &it[3].node);
    /* scan 2 compares the two oldest candidates not busy (0 and 1, both
     * of a group of 2) only: the oldest */
    p.scan = 2;
    assert_ptr_equal(nc_evict_pick(&l, &p, &g), &it[0].node);
    assert_int_equal(g, 2);
    it[0].busy = 1; /* skipped ones do not use the scan: 1 and 3 compared */
    assert_ptr_equal(nc_evict_pick(&l, &p, &g), &it[3].node);
    assert_int_equal(g, 4);
}

static void test_pop_older_takes_expired_nodes_oldest_first(void **st)
{
    (void)st;
    nc_evict_t l = {0};
    item_t it[3] = {0};
    nc_evict_add(&l, &it[0].node, 1, 1000);
    nc_evict_add(&l, &it[1].node, 2, 1500);
    nc_evict_add(&l, &it[2].node, 3, 2000);
    assert_null(nc_evict_pop_older(&l, 1999, 1000)); /* none 1 s old */
    assert_ptr_equal(nc_evict_pop_older(&l, 2500, 1000), &it[0].node);
    assert_ptr_equal(nc_evict_pop_older(&l, 2500, 1000), &it[1].node);
    assert_null(nc_evict_pop_older(&l, 2500, 1000));
    assert_false(nc_evict_listed(&it[0].node));
    nc_evict_touch(&l, &it[2].node, 3000); /* activity restarts its clock */
    assert_null(nc_evict_pop_older(&l, 3500, 1000));
    assert_null(nc_evict_pop_older(&l, 10, 1000)); /* a clock behind: nothing */
    assert_ptr_equal(nc_evict_pop_older(&l, 4000, 1000), &it[2].node);
    assert_int_equal(nc_evict_count(&l), 0);
}

/* ---- a server role using one ---------------------------------------------
 * The list is shared by every session's strand (4 workers): under a mutex,
 * as the servers keep theirs. */

#define CAP 4

typedef struct {
    nc_engine_t *e;
    nc_mutex_t mu;
    nc_evict_t silent; /* under mu */
    atomic_int opened, closed, evicted, live_conns;
} srv_t;

typedef struct {
    nc_evict_node_t node;
} conn_t;

static void ev_open(nc_session_t *s, void *ud)
{
    srv_t *v = ud;
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        nc_session_close(s, NC_ENOMEM, "out of memory");
        return;
    }
    atomic_fetch_add(&v->live_conns, 1);
    nc_session_set_ud(s, c);
    nc_sid_t victim = 0;
    nc__mutex_lock(&v->mu);
    if (nc_evict_count(&v->silent) >= CAP) {
        nc_evict_node_t *n = nc_evict_pick(&v->silent, NULL, NULL);
        victim = n->sid;
        nc_evict_remove(&v->silent, n);
    }
    nc_evict_add(&v->silent, &c->node, nc_session_id(s), nc_now_ms());
    nc__mutex_unlock(&v->mu);
    if (victim) {
        atomic_fetch_add(&v->evicted, 1);
        nc_close_id(v->e, victim, 0, "evicted for a newcomer");
    }
    atomic_fetch_add(&v->opened, 1); /* last: the test reads the rest after it */
}

static void ev_packet(nc_session_t *s, uint16_t type, const uint8_t *b, size_t n, void *ud)
{
    (void)s, (void)type, (void)b, (void)n, (void)ud;
}

static void ev_close(nc_session_t *s, const nc_close_reason_t *why, void *ud)
{
    (void)why;
    srv_t *v = ud;
    conn_t *c = nc_session_ud(s);
    if (c) {
        nc__mutex_lock(&v->mu);
        nc_evict_remove(&v->silent, &c->node);
        nc__mutex_unlock(&v->mu);
        free(c);
        atomic_fetch_sub(&v->live_conns, 1);
    }
    atomic_fetch_add(&v->closed, 1);
}

typedef struct {
    nc_pool_t *pool;
    nc_server_t *srv;
    srv_t v;
} efx_t;

static efx_t *efx_new(void)
{
    efx_t *f = calloc(1, sizeof *f);
    nc__mutex_init(&f->v.mu);
    nc_pool_opts_t po = {.name = "evict", .threads = 4};
    assert_int_equal(nc_pool_create(&po, &f->pool), 0);
    nc_queue_t *q;
    nc_queue_opts_t qo = {.name = "game", .max_threads = 4, .priority = NC_PRIO_HIGH};
    assert_int_equal(nc_queue_create(f->pool, &qo, &q), 0);
    nc_engine_opts_t eo = {.io_threads = 2};
    assert_int_equal(nc_engine_create(&eo, &f->v.e), 0);
    nc_role_opts_t ro = {.name = "srv",
                         .queue = q,
                         .ud = &f->v,
                         .handlers = {ev_open, ev_packet, ev_close},
                         .max_sessions = 256};
    assert_int_equal(nc_server_create(f->v.e, "127.0.0.1", 0, &ro, &f->srv), 0);
    return f;
}

static void efx_free(efx_t *f)
{
    nc_engine_destroy(f->v.e);
    nc_pool_destroy(f->pool);
    assert_int_equal(atomic_load(&f->v.opened), atomic_load(&f->v.closed));
    assert_int_equal(atomic_load(&f->v.live_conns), 0);
    assert_int_equal(nc_evict_count(&f->v.silent), 0); /* every node left the list */
    nc__mutex_destroy(&f->v.mu);
    free(f);
}

static uint32_t silent_count(srv_t *v)
{
    nc__mutex_lock(&v->mu);
    uint32_t n = nc_evict_count(&v->silent);
    nc__mutex_unlock(&v->mu);
    return n;
}

static bool one_place_free(void *arg)
{
    return silent_count(arg) == CAP - 1;
}

/* Connects and waits until the server's on_open ran, so arrival order is
 * the test's order. */
static int connect_in_order(efx_t *f, int *opened)
{
    int fd = nc_test_sock_connect(nc_server_port(f->srv));
    assert_true(fd >= 0);
    assert_true(nc_test_wait_atomic_ge(&f->v.opened, ++*opened, 5000));
    return fd;
}

static void test_newcomer_evicts_the_oldest_and_a_closed_session_leaves_the_list(void **st)
{
    (void)st;
    efx_t *f = efx_new();
    int fd[7], opened = 0;
    for (int i = 0; i < CAP; i++)
        fd[i] = connect_in_order(f, &opened);
    assert_int_equal(atomic_load(&f->v.evicted), 0);
    fd[4] = connect_in_order(f, &opened); /* at the cap: 0 goes */
    assert_int_equal(atomic_load(&f->v.evicted), 1);
    assert_true(nc_test_sock_wait_eof(fd[0], 5000));
    /* 1 closes on its own: its on_close takes it off the list */
    nc_test_sock_close(fd[1]);
    assert_true(nc_test_wait(one_place_free, &f->v, 5000));
    fd[5] = connect_in_order(f, &opened); /* a free place: nobody evicted */
    assert_int_equal(atomic_load(&f->v.evicted), 1);
    fd[6] = connect_in_order(f, &opened); /* the cap again: the oldest listed is 2 */
    assert_int_equal(atomic_load(&f->v.evicted), 2);
    assert_true(nc_test_sock_wait_eof(fd[2], 5000));
    assert_int_equal(silent_count(&f->v), CAP);
    nc_test_sock_close(fd[0]);
    for (int i = 2; i < 7; i++)
        nc_test_sock_close(fd[i]);
    assert_true(nc_test_wait_atomic_ge(&f->v.closed, 7, 5000));
    efx_free(f);
}

/* Many connections at once over two I/O threads and four workers: the list
 * stays consistent (TSan: every access under the mutex; ASan: no node used
 * after its session's free) and ends empty. */
static void test_concurrent_opens_and_closes_keep_the_list_consistent(void **st)
{
    (void)st;
    efx_t *f = efx_new();
    enum { N = 64 };
    int fd[N];
    for (int i = 0; i < N; i++) {
        fd[i] = nc_test_sock_connect(nc_server_port(f->srv));
        assert_true(fd[i] >= 0);
        if (i % 3 == 2)
            nc_test_sock_close(fd[i - 1]), fd[i - 1] = -1;
    }
    assert_true(nc_test_wait_atomic_ge(&f->v.opened, N, 10000));
    assert_true(silent_count(&f->v) <= CAP);
    assert_true(atomic_load(&f->v.evicted) >= N - N / 3 - CAP);
    for (int i = 0; i < N; i++)
        if (fd[i] >= 0)
            nc_test_sock_close(fd[i]);
    assert_true(nc_test_wait_atomic_ge(&f->v.closed, N, 10000));
    efx_free(f);
}

int main(void)
{
    nc_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_keeps_arrival_order_and_removes_from_anywhere),
        cmocka_unit_test(test_pick_is_the_oldest_not_skipped),
        cmocka_unit_test(test_pick_takes_the_oldest_of_the_biggest_group),
        cmocka_unit_test(test_pop_older_takes_expired_nodes_oldest_first),
        cmocka_unit_test(test_newcomer_evicts_the_oldest_and_a_closed_session_leaves_the_list),
        cmocka_unit_test(test_concurrent_opens_and_closes_keep_the_list_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
