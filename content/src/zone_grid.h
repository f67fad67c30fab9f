/* Interest grid: a zone's entities bucketed in square cells whose side is the
 * view radius, so "who is within view" only looks at the 3x3 neighbourhood.
 * Not thread-safe: a grid belongs to one zone strand. */
#ifndef ZONE_GRID_H
#define ZONE_GRID_H

#include <stddef.h>
#include <stdint.h>

typedef struct zone_ent_s {
    uint32_t id; /* unique within the zone, never 0 */
    float x, y;
    int32_t cell;  /* -1 when not in a grid */
    uint32_t slot; /* index inside the cell's array (swap-remove) */
} zone_ent_t;

typedef struct zone_cell_s {
    zone_ent_t **v;
    uint32_t n, cap;
} zone_cell_t;

typedef struct zone_grid_s {
    float w, h, cell;
    int cols, rows;
    zone_cell_t *cells;
} zone_grid_t;

int zone_grid_init(zone_grid_t *g, float w, float h, float cell);
void zone_grid_free(zone_grid_t *g);
/* Positions are clamped into the zone when bucketing. */
int zone_grid_insert(zone_grid_t *g, zone_ent_t *e);
void zone_grid_remove(zone_grid_t *g, zone_ent_t *e);
/* Call after changing e->x/e->y; moves e between cells when needed. */
int zone_grid_update(zone_grid_t *g, zone_ent_t *e);

typedef void (*zone_grid_visit_fn)(zone_ent_t *other, void *ud);
/* Visits every entity other than `self` within `radius` of (x, y).  Returns
 * the number of entities examined (the cost measure). */
size_t zone_grid_visit(const zone_grid_t *g, const zone_ent_t *self, float x, float y, float radius,
                       zone_grid_visit_fn fn, void *ud);

/* Set of entity ids (open addressing, ids never 0). */
typedef struct zone_idset_s {
    uint32_t *slots;
    uint32_t n, cap; /* cap is 0 or a power of two */
} zone_idset_t;

int zone_idset_add(zone_idset_t *s, uint32_t id); /* 1 added, 0 present, <0 oom */
int zone_idset_del(zone_idset_t *s, uint32_t id); /* 1 removed */
int zone_idset_has(const zone_idset_t *s, uint32_t id);
void zone_idset_free(zone_idset_t *s);
/* Iterate: for (i = 0; i < s->cap; i++) if (s->slots[i]) ... */

/* Map id -> pointer, same scheme; vals[i] belongs to slots[i]. */
typedef struct zone_idmap_s {
    zone_idset_t keys;
    void **vals;
} zone_idmap_t;
int zone_idmap_put(zone_idmap_t *m, uint32_t id, void *val);
void *zone_idmap_get(const zone_idmap_t *m, uint32_t id);
void *zone_idmap_del(zone_idmap_t *m, uint32_t id);
void zone_idmap_free(zone_idmap_t *m);
/* The slot index of id in m->keys (valid until the next put or del), or -1. */
int64_t zone_idmap_find(const zone_idmap_t *m, uint32_t id);

/* Interest selection (issue 15): a candidate neighbour and its squared
 * distance.  zone_interest_select reorders c[0..n) so that c[0..k) are k of
 * the nearest (any order; ties broken arbitrarily), in O(n) on average.
 * k >= n leaves c as it is. */
typedef struct zone_cand_s {
    float d2;
    uint32_t slot;
    void *ent;
} zone_cand_t;
void zone_interest_select(zone_cand_t *c, uint32_t n, uint32_t k);

#endif
