/* Growable arrays in content: one helper instead of a realloc block per
 * array. */
#ifndef CONTENT_GROW_H
#define CONTENT_GROW_H

#include <stdint.h>
#include <stdlib.h>

/* Room for element n of the array v (capacity *cap, elements of `elem`
 * bytes): returns v itself while n < *cap, else v reallocated to twice the
 * capacity (`first` when empty) with *cap updated.  NULL when out of memory:
 * v and *cap are then unchanged. */
static inline void *content_grow(void *v, uint32_t *cap, uint32_t n, size_t elem, uint32_t first)
{
    if (n < *cap)
        return v;
    uint32_t ncap = *cap ? *cap * 2 : first;
    void *nv = realloc(v, (size_t)ncap * elem);
    if (nv)
        *cap = ncap;
    return nv;
}

#endif
