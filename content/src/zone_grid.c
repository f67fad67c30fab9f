/* Interest grid and id sets used by zones for spawn/despawn/move fan-out.
 * Cell side = view radius, so a 3x3 neighbourhood covers the whole view. */
#include "zone_grid.h"
#include "grow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int zone_grid_init(zone_grid_t *g, float w, float h, float cell)
{
    memset(g, 0, sizeof *g);
    if (!(w > 0) || !(h > 0) || !(cell > 0))
        return -1;
    g->w = w;
    g->h = h;
    g->cell = cell;
    g->cols = (int)ceilf(w / cell);
    g->rows = (int)ceilf(h / cell);
    if (g->cols < 1)
        g->cols = 1;
    if (g->rows < 1)
        g->rows = 1;
    g->cells = calloc((size_t)g->cols * (size_t)g->rows, sizeof *g->cells);
    return g->cells ? 0 : -1;
}

void zone_grid_free(zone_grid_t *g)
{
    if (!g->cells)
        return;
    for (int i = 0; i < g->cols * g->rows; i++)
        free(g->cells[i].v);
    free(g->cells);
    g->cells = NULL;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int cell_of(const zone_grid_t *g, float x, float y)
{
    int cx = clampi((int)floorf(x / g->cell), 0, g->cols - 1);
    int cy = clampi((int)floorf(y / g->cell), 0, g->rows - 1);
    return cy * g->cols + cx;
}

static int cell_push(zone_cell_t *c, zone_ent_t *e)
{
    zone_ent_t **nv = content_grow(c->v, &c->cap, c->n, sizeof *nv, 8);
    if (!nv)
        return -1;
    c->v = nv;
    e->slot = c->n;
    c->v[c->n++] = e;
    return 0;
}

int zone_grid_insert(zone_grid_t *g, zone_ent_t *e)
{
    int ci = cell_of(g, e->x, e->y);
    if (cell_push(&g->cells[ci], e) != 0)
        return -1;
    e->cell = ci;
    return 0;
}

void zone_grid_remove(zone_grid_t *g, zone_ent_t *e)
{
    if (e->cell < 0)
        return;
    zone_cell_t *c = &g->cells[e->cell];
    zone_ent_t *last = c->v[--c->n];
    c->v[e->slot] = last;
    last->slot = e->slot;
    e->cell = -1;
}

int zone_grid_update(zone_grid_t *g, zone_ent_t *e)
{
    int ci = cell_of(g, e->x, e->y);
    if (ci == e->cell)
        return 0;
    zone_grid_remove(g, e);
    if (cell_push(&g->cells[ci], e) != 0)
        return -1;
    e->cell = ci;
    return 0;
}

size_t zone_grid_visit(const zone_grid_t *g, const zone_ent_t *self, float x, float y, float radius,
                       zone_grid_visit_fn fn, void *ud)
{
    int span = (int)ceilf(radius / g->cell);
    int cx = clampi((int)floorf(x / g->cell), 0, g->cols - 1);
    int cy = clampi((int)floorf(y / g->cell), 0, g->rows - 1);
    float r2 = radius * radius;
    size_t examined = 0;
    for (int yy = cy - span; yy <= cy + span; yy++) {
        if (yy < 0 || yy >= g->rows)
            continue;
        for (int xx = cx - span; xx <= cx + span; xx++) {
            if (xx < 0 || xx >= g->cols)
                continue;
            const zone_cell_t *c = &g->cells[yy * g->cols + xx];
            for (uint32_t i = 0; i < c->n; i++) {
                zone_ent_t *o = c->v[i];
                examined++;
                float dx = o->x - x, dy = o->y - y;
                if (o != self && dx * dx + dy * dy <= r2)
                    fn(o, ud);
            }
        }
    }
    return examined;
}

static uint32_t id_hash(uint32_t id)
{
    id ^= id >> 16;
    id *= 0x7feb352dU;
    id ^= id >> 15;
    return id;
}

/* The set and the map share one table; `vals` (may be NULL) moves with it. */
static int table_grow(zone_idset_t *s, void ***vals)
{
    uint32_t ncap = s->cap ? s->cap * 2 : 16;
    uint32_t *ns = calloc(ncap, sizeof *ns);
    void **nv = vals ? calloc(ncap, sizeof *nv) : NULL;
    if (!ns || (vals && !nv)) {
        free(ns);
        free(nv);
        return -1;
    }
    for (uint32_t i = 0; i < s->cap; i++) {
        uint32_t id = s->slots[i];
        if (!id)
            continue;
        uint32_t j = id_hash(id) & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = id;
        if (vals)
            nv[j] = (*vals)[i];
    }
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    if (vals) {
        free(*vals);
        *vals = nv;
    }
    return 0;
}

static int64_t table_find(const zone_idset_t *s, uint32_t id)
{
    if (!s->cap)
        return -1;
    for (uint32_t j = id_hash(id) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->slots[j] == id)
            return j;
        if (!s->slots[j])
            return -1;
    }
}

static int table_add(zone_idset_t *s, void ***vals, uint32_t id, void *val)
{
    int64_t at = table_find(s, id);
    if (at >= 0) {
        if (vals)
            (*vals)[at] = val;
        return 0;
    }
    if ((s->n + 1) * 4 > s->cap * 3 && table_grow(s, vals) != 0)
        return -1;
    uint32_t j = id_hash(id) & (s->cap - 1);
    while (s->slots[j])
        j = (j + 1) & (s->cap - 1);
    s->slots[j] = id;
    if (vals)
        (*vals)[j] = val;
    s->n++;
    return 1;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static int table_del(zone_idset_t *s, void **vals, uint32_t id)
{
    int64_t at = table_find(s, id);
    if (at < 0)
        return 0;
    uint32_t mask = s->cap - 1, i = (uint32_t)at, k = i;
    for (;;) {
        s->slots[i] = 0;
        for (;;) {
            k = (k + 1) & mask;
            if (!s->slots[k]) {
                s->n--;
                return 1;
            }
            uint32_t home = id_hash(s->slots[k]) & mask;
            /* slots[k] may fill the hole at i unless its home lies in (i, k] */
            if (i <= k ? (home <= i || home > k) : (home <= i && home > k))
                break;
        }
        s->slots[i] = s->slots[k];
        if (vals)
            vals[i] = vals[k];
        i = k;
    }
}

int zone_idset_has(const zone_idset_t *s, uint32_t id)
{
    return table_find(s, id) >= 0;
}

int zone_idset_add(zone_idset_t *s, uint32_t id)
{
    return table_add(s, NULL, id, NULL);
}

int zone_idset_del(zone_idset_t *s, uint32_t id)
{
    return table_del(s, NULL, id);
}

void zone_idset_free(zone_idset_t *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}

int zone_idmap_put(zone_idmap_t *m, uint32_t id, void *val)
{
    return table_add(&m->keys, &m->vals, id, val);
}

void *zone_idmap_get(const zone_idmap_t *m, uint32_t id)
{
    int64_t at = table_find(&m->keys, id);
    return at >= 0 ? m->vals[at] : NULL;
}

void *zone_idmap_del(zone_idmap_t *m, uint32_t id)
{
    void *v = zone_idmap_get(m, id);
    table_del(&m->keys, m->vals, id);
    return v;
}

void zone_idmap_free(zone_idmap_t *m)
{
    zone_idset_free(&m->keys);
    free(m->vals);
    m->vals = NULL;
}

int64_t zone_idmap_find(const zone_idmap_t *m, uint32_t id)
{
    return table_find(&m->keys, id);
}

static void cand_swap(zone_cand_t *a, zone_cand_t *b)
{
    zone_cand_t t = *a;
    *a = *b;
    *b = t;
}

/* Strict order: distance, then slot (unique), so equal distances (a crowd on
 * one point) cannot degrade the partition to O(n^2). */
static int cand_less(const zone_cand_t *a, const zone_cand_t *b)
{
    return a->d2 < b->d2 || (a->d2 == b->d2 && a->slot < b->slot);
}

/* Quickselect (Lomuto partition, median-of-three pivot) on [lo, hi]. */
void zone_interest_select(zone_cand_t *c, uint32_t n, uint32_t k)
{
    if (k == 0 || k >= n)
        return;
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cand_less(&c[mid], &c[lo]))
            cand_swap(&c[mid], &c[lo]);
        if (cand_less(&c[hi], &c[lo]))
            cand_swap(&c[hi], &c[lo]);
        if (cand_less(&c[hi], &c[mid]))
            cand_swap(&c[hi], &c[mid]);
        cand_swap(&c[mid], &c[hi]); /* pivot (the median) at hi */
        zone_cand_t pv = c[hi];
        uint32_t st = lo;
        for (uint32_t i = lo; i < hi; i++)
            if (cand_less(&c[i], &pv))
                cand_swap(&c[i], &c[st++]);
        cand_swap(&c[st], &c[hi]);
        /* c[lo..st) < pivot <= c(st..hi] */
        if (st == k || st + 1 == k)
            return;
        if (st > k)
            hi = st - 1;
        else
            lo = st + 1;
    }
}
