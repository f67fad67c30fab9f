/* Eviction lists (nc_evict.h): an intrusive doubly linked list, oldest
 * first, and the victim choice at a cap.  No locks here: the list's owner
 * serialises the calls. */
#include "nc_evict.h"

void nc_evict_add(nc_evict_t *l, nc_evict_node_t *n, nc_sid_t sid, uint64_t now_ms)
{
    if (n->listed)
        nc_evict_remove(l, n);
    n->sid = sid;
    n->since_ms = now_ms;
    n->next = NULL;
    n->prev = l->newest;
    if (l->newest)
        l->newest->next = n;
    else
        l->oldest = n;
    l->newest = n;
    n->listed = 1;
    l->count++;
}

int nc_evict_remove(nc_evict_t *l, nc_evict_node_t *n)
{
    if (!n->listed)
        return 0;
    if (n->prev)
        n->prev->next = n->next;
    else
        l->oldest = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->newest = n->prev;
    n->prev = n->next = NULL;
    n->listed = 0;
    l->count--;
    return 1;
}

void nc_evict_touch(nc_evict_t *l, nc_evict_node_t *n, uint64_t now_ms)
{
    if (n->listed)
        nc_evict_add(l, n, n->sid, now_ms);
}

nc_evict_node_t *nc_evict_pick(const nc_evict_t *l, const nc_evict_policy_t *p, uint32_t *group)
{
    static const nc_evict_policy_t oldest = {0};
    if (!p)
        p = &oldest;
    uint32_t scan = p->scan ? p->scan : 1, looked = 0, best_n = 0;
    nc_evict_node_t *best = NULL;
    for (nc_evict_node_t *e = l->oldest; e && looked < scan; e = e->next) {
        if (p->skip && p->skip(e, p->ud))
            continue;
        looked++;
        uint32_t n = p->group_size ? p->group_size(e, p->ud) : 0;
        if (!best || n > best_n) { /* strictly bigger: the oldest of equals stays */
            best = e;
            best_n = n;
        }
    }
    if (group)
        *group = best_n;
    return best;
}

nc_evict_node_t *nc_evict_pop_older(nc_evict_t *l, uint64_t now_ms, uint64_t age_ms)
{
    nc_evict_node_t *n = l->oldest;
    if (!n || now_ms < n->since_ms || now_ms - n->since_ms < age_ms)
        return NULL;
    nc_evict_remove(l, n);
    return n;
}
