/* Timers: a binary min-heap by (deadline, id) with each timer's heap index
 * stored in it, an open-addressing id -> timer map, and one lazily started
 * timer thread per pool that posts each firing as a job on the timer's strand.
 *
 * Lifetime: a timer is freed when it is in neither the map nor the heap and
 * no firing job of it is queued (`job_queued`).  A repeating timer whose last
 * firing job has not started yet does not queue another one (coalesced).
 * All fields are guarded by timers.tmu, which is never held with pool->mu. */
#include "pool_impl.h"

#include <stdlib.h>

#define NO_HEAP SIZE_MAX
#define FIRE_BATCH 64 /* firings collected per tmu hold */

struct nc__timer_s {
    uint64_t id;
    uint64_t deadline_ns;
    uint64_t repeat_ns; /* 0 = one-shot */
    nc_pool_t *pool;
    nc_strand_t *strand; /* one reference, held for the timer's lifetime */
    nc_job_fn fn;
    void *arg;
    size_t heap_idx;
    int in_map;
    int job_queued;
    int canceled;
    nc__timer_t *next_free;
};

/* ---- heap --------------------------------------------------------------- */

static int before(const nc__timer_t *a, const nc__timer_t *b)
{
    return a->deadline_ns < b->deadline_ns || (a->deadline_ns == b->deadline_ns && a->id < b->id);
}

static void heap_set(nc__timers_t *T, size_t i, nc__timer_t *t)
{
    T->heap[i] = t;
    t->heap_idx = i;
}

static void sift_up(nc__timers_t *T, size_t i)
{
    nc__timer_t *t = T->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, T->heap[parent]))
            break;
        heap_set(T, i, T->heap[parent]);
        i = parent;
    }
    heap_set(T, i, t);
}

static void sift_down(nc__timers_t *T, size_t i)
{
    nc__timer_t *t = T->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= T->heap_len)
            break;
        if (c + 1 < T->heap_len && before(T->heap[c + 1], T->heap[c]))
            c++;
        if (!before(T->heap[c], t))
            break;
        heap_set(T, i, T->heap[c]);
        i = c;
    }
    heap_set(T, i, t);
}

static int heap_push(nc__timers_t *T, nc__timer_t *t)
{
    if (T->heap_len == T->heap_cap) {
        size_t cap = T->heap_cap ? T->heap_cap * 2 : 64;
        nc__timer_t **h = realloc(T->heap, cap * sizeof(*h));
        if (!h)
            return NC_ENOMEM;
        T->heap = h;
        T->heap_cap = cap;
    }
    heap_set(T, T->heap_len++, t);
    sift_up(T, t->heap_idx);
    return 0;
}

static void heap_remove(nc__timers_t *T, nc__timer_t *t)
{
    size_t i = t->heap_idx;
    t->heap_idx = NO_HEAP;
    nc__timer_t *last = T->heap[--T->heap_len];
    if (i == T->heap_len)
        return;
    heap_set(T, i, last);
    sift_up(T, i);
    sift_down(T, last->heap_idx);
}

/* ---- id map (linear probing, backward-shift deletion) -------------------- */

static size_t home(const nc__timers_t *T, uint64_t id)
{
    uint64_t h = id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (T->map_cap - 1);
}

static size_t map_slot(const nc__timers_t *T, uint64_t id)
{
    size_t i = home(T, id);
    while (T->map[i] && T->map[i]->id != id)
        i = (i + 1) & (T->map_cap - 1);
    return i;
}

static int map_insert(nc__timers_t *T, nc__timer_t *t)
{
    if ((T->map_len + 1) * 2 > T->map_cap) {
        size_t cap = T->map_cap ? T->map_cap * 2 : 64;
        nc__timer_t **old = T->map, **m = calloc(cap, sizeof(*m));
        if (!m)
            return NC_ENOMEM;
        size_t old_cap = T->map_cap;
        T->map = m;
        T->map_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                T->map[map_slot(T, old[i]->id)] = old[i];
        free(old);
    }
    T->map[map_slot(T, t->id)] = t;
    T->map_len++;
    t->in_map = 1;
    return 0;
}

static nc__timer_t *map_find(const nc__timers_t *T, uint64_t id)
{
    return T->map_cap ? T->map[map_slot(T, id)] : NULL;
}

static void map_remove(nc__timers_t *T, nc__timer_t *t)
{
    size_t mask = T->map_cap - 1, i = map_slot(T, t->id), j = i;
    T->map[i] = NULL;
    T->map_len--;
    t->in_map = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!T->map[j])
            break;
        size_t k = home(T, T->map[j]->id);
        /* Leave map[j] if its home lies cyclically in (i, j]. */
        if ((i < j) ? (k > i && k <= j) : (k > i || k <= j))
            continue;
        T->map[i] = T->map[j];
        T->map[j] = NULL;
        i = j;
    }
}

/* ---- firing ------------------------------------------------------------- */

static void timer_destroy(nc__timer_t *t)
{
    nc_strand_release(t->strand);
    free(t);
}

static int unreferenced(const nc__timer_t *t)
{
    return !t->in_map && t->heap_idx == NO_HEAP && !t->job_queued;
}

/* The job posted for each firing.  Runs on the timer's strand. */
static void timer_job(void *arg)
{
    nc__timer_t *t = arg;
    nc__timers_t *T = &t->pool->timers;
    nc__mutex_lock(&T->tmu);
    t->job_queued = 0;
    int run = !t->canceled;
    if (run && !t->repeat_ns)
        map_remove(T, t); /* fired: cancel now returns NC_ESTALE */
    nc_job_fn fn = t->fn;
    void *fn_arg = t->arg;
    int dead = unreferenced(t);
    nc__mutex_unlock(&T->tmu);
    /* If !dead, t may be freed by a concurrent cancel from here on. */
    if (run)
        fn(fn_arg);
    if (dead)
        timer_destroy(t);
}

/* Pops due timers into `batch`, re-arming repeating ones.  tmu held. */
static int collect_due(nc__timers_t *T, uint64_t now, nc__timer_t **batch)
{
    int n = 0;
    while (n < FIRE_BATCH && T->heap_len && T->heap[0]->deadline_ns <= now) {
        nc__timer_t *t = T->heap[0];
        heap_remove(T, t);
        if (t->repeat_ns) {
            t->deadline_ns += t->repeat_ns;
            if (t->deadline_ns <= now) /* fell behind: keep period, skip missed */
                t->deadline_ns = now + t->repeat_ns;
            heap_push(T, t); /* cannot fail: the slot was just freed */
        }
        if (t->job_queued) {
            T->coalesced++;
            continue;
        }
        t->job_queued = 1;
        batch[n++] = t;
    }
    return n;
}

static void timer_thread(void *arg)
{
    nc_pool_t *p = arg;
    nc__timers_t *T = &p->timers;
    nc__timer_t *batch[FIRE_BATCH];
    nc__mutex_lock(&T->tmu);
    while (!T->stop) {
        if (T->heap_len == 0) {
            nc__cond_wait(&T->tcv, &T->tmu);
            continue;
        }
        uint64_t now = nc_now_ns();
        if (T->heap[0]->deadline_ns > now) {
            nc__cond_timedwait(&T->tcv, &T->tmu, T->heap[0]->deadline_ns - now);
            continue;
        }
        int n = collect_due(T, now, batch);
        nc__mutex_unlock(&T->tmu);
        /* job_queued keeps each batch[i] alive until its job starts. */
        for (int i = 0; i < n; i++) {
            if (nc__strand_post_force(batch[i]->strand, timer_job, batch[i]) >= 0)
                continue;
            nc__mutex_lock(&T->tmu);
            batch[i]->job_queued = 0;
            int dead = unreferenced(batch[i]);
            nc__mutex_unlock(&T->tmu);
            if (dead)
                timer_destroy(batch[i]);
        }
        nc__mutex_lock(&T->tmu);
    }
    nc__mutex_unlock(&T->tmu);
}

/* ---- API ---------------------------------------------------------------- */

int nc_timer_start(nc_strand_t *s, uint64_t delay_ms, uint64_t repeat_ms, nc_job_fn fn, void *arg,
                   nc_timer_id_t *out)
{
    if (!s || !fn)
        return NC_EINVAL;
    nc_pool_t *p = nc_queue_pool(nc_strand_queue(s));
    nc__timers_t *T = &p->timers;
    nc__timer_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NC_ENOMEM;
    t->pool = p;
    t->strand = s;
    t->fn = fn;
    t->arg = arg;
    t->heap_idx = NO_HEAP;
    t->repeat_ns = repeat_ms * 1000000u;
    t->deadline_ns = nc_now_ns() + delay_ms * 1000000u;
    int rc = 0;
    nc__mutex_lock(&T->tmu);
    if (T->stop)
        rc = NC_ESTOPPED;
    else if (!T->thread_started) {
        rc = nc__thread_create(&T->thread, timer_thread, p, "nc-timer");
        T->thread_started = rc == 0;
    }
    if (rc == 0) {
        t->id = ++T->next_id;
        rc = map_insert(T, t);
    }
    if (rc == 0 && (rc = heap_push(T, t)) < 0)
        map_remove(T, t);
    if (rc == 0) {
        nc_strand_retain(s);
        if (t->heap_idx == 0)
            nc__cond_signal(&T->tcv);
        if (out)
            *out = t->id;
    }
    nc__mutex_unlock(&T->tmu);
    if (rc < 0)
        free(t);
    return rc;
}

int nc_timer_cancel(nc_pool_t *p, nc_timer_id_t id)
{
    if (!p)
        return NC_EINVAL;
    nc__timers_t *T = &p->timers;
    nc__mutex_lock(&T->tmu);
    nc__timer_t *t = map_find(T, id);
    if (!t) {
        nc__mutex_unlock(&T->tmu);
        return NC_ESTALE;
    }
    map_remove(T, t);
    t->canceled = 1;
    if (t->heap_idx != NO_HEAP)
        heap_remove(T, t);
    int dead = unreferenced(t);
    nc__mutex_unlock(&T->tmu);
    if (dead)
        timer_destroy(t);
    return 0;
}

int nc__timers_init(nc_pool_t *p)
{
    nc__mutex_init(&p->timers.tmu);
    nc__cond_init(&p->timers.tcv);
    return 0;
}

void nc__timers_stop(nc_pool_t *p)
{
    nc__timers_t *T = &p->timers;
    nc__timer_t *dead = NULL;
    nc__mutex_lock(&T->tmu);
    T->stop = 1;
    nc__cond_signal(&T->tcv);
    for (size_t i = 0; i < T->map_cap; i++) {
        nc__timer_t *t = T->map[i];
        if (!t)
            continue;
        T->map[i] = NULL;
        t->in_map = 0;
        t->canceled = 1;
        t->heap_idx = NO_HEAP;
        /* A queued firing job frees its timer when it runs during DRAIN. */
        if (!t->job_queued) {
            t->next_free = dead;
            dead = t;
        }
    }
    T->map_len = 0;
    T->heap_len = 0;
    int started = T->thread_started;
    nc__mutex_unlock(&T->tmu);
    if (started)
        nc__thread_join(T->thread);
    while (dead) {
        nc__timer_t *next = dead->next_free;
        timer_destroy(dead);
        dead = next;
    }
}

void nc__timers_free(nc_pool_t *p)
{
    nc__timers_t *T = &p->timers;
    free(T->heap);
    free(T->map);
    nc__cond_destroy(&T->tcv);
    nc__mutex_destroy(&T->tmu);
}

int nc__pool_live_timers(nc_pool_t *p)
{
    nc__mutex_lock(&p->timers.tmu);
    int n = (int)p->timers.map_len;
    nc__mutex_unlock(&p->timers.tmu);
    return n;
}
