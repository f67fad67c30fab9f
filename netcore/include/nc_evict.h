/* Eviction lists: the sessions of one role that are in a state a newcomer
 * may take a place from (not logged in, not authenticated, idle), oldest
 * first.  At a cap the caller picks a victim (the oldest, or the oldest of
 * the biggest group, e.g. the remote address holding the most connections),
 * takes it off the list and closes it by id.  Add, remove and touch are O(1);
 * the list node lives in the caller's per-session state (intrusive, no
 * allocation).  Not part of netcore.h, an optional piece of the library.
 *
 * Threads: a list has no lock of its own.  Its owner serialises every call:
 * one mutex (the sessions of a role run on many strands: what the servers
 * do) or one strand that owns the list.  A node must be off its list before
 * the memory holding it is freed (nc_evict_remove in on_close, under the
 * owner's lock); a victim is named by its sid, so closing it after the lock
 * is released is safe even when it closed on its own meanwhile. */
#ifndef NC_EVICT_H
#define NC_EVICT_H

#include <stddef.h>
#include <stdint.h>

#include "netcore.h"

typedef struct nc_evict_node_s {
    struct nc_evict_node_s *prev, *next; /* towards the oldest / the newest */
    nc_sid_t sid;
    uint64_t since_ms; /* when it was added or last touched */
    int listed;
} nc_evict_node_t;

/* Zero-initialised = empty. */
typedef struct nc_evict_s {
    nc_evict_node_t *oldest, *newest;
    uint32_t count;
} nc_evict_t;

/* The struct holding a node (offsetof, as container_of). */
#define NC_EVICT_ENTRY(node, type, member) ((type *)(void *)((char *)(node)-offsetof(type, member)))

/* Appends n at the newest end (n must be zero-initialised or removed). */
void nc_evict_add(nc_evict_t *l, nc_evict_node_t *n, nc_sid_t sid, uint64_t now_ms);
/* Takes n off the list: 1 if it was on it, 0 if not (already evicted,
 * timed out or never added): safe to call twice. */
int nc_evict_remove(nc_evict_t *l, nc_evict_node_t *n);
/* Moves a listed n to the newest end with since_ms = now_ms. */
void nc_evict_touch(nc_evict_t *l, nc_evict_node_t *n, uint64_t now_ms);
static inline int nc_evict_listed(const nc_evict_node_t *n)
{
    return n->listed;
}
static inline uint32_t nc_evict_count(const nc_evict_t *l)
{
    return l->count;
}
static inline nc_evict_node_t *nc_evict_oldest(const nc_evict_t *l)
{
    return l->oldest;
}

/* How a victim is chosen among the listed nodes, oldest first.  All zero:
 * the oldest node. */
typedef struct nc_evict_policy_s {
    /* 1 = this node may not be evicted now (a request in flight); it is
     * passed over and does not count against scan.  NULL: none skipped. */
    int (*skip)(const nc_evict_node_t *n, void *ud);
    /* The size of the node's group (the connections of its address): the
     * candidate of the biggest group wins, the oldest among equals.  NULL:
     * no groups, the oldest candidate wins. */
    uint32_t (*group_size)(const nc_evict_node_t *n, void *ud);
    void *ud;
    /* Candidates compared at most (bounded work per newcomer under a
     * reconnect flood); 0 = 1. */
    uint32_t scan;
} nc_evict_policy_t;

/* The victim, left on the list (the caller copies what it needs, then
 * nc_evict_remove), or NULL when every node is skipped or the list is
 * empty.  *group (may be NULL) gets its group size (0 without groups). */
nc_evict_node_t *nc_evict_pick(const nc_evict_t *l, const nc_evict_policy_t *p, uint32_t *group);

/* The oldest node if it was added (or touched) at least age_ms before now_ms,
 * taken off the list; NULL otherwise.  A deadline sweep calls it in a loop:
 * it costs one step per expired node, not one per listed node. */
nc_evict_node_t *nc_evict_pop_older(nc_evict_t *l, uint64_t now_ms, uint64_t age_ms);

#endif
