/* Job system scheduling: the worker pool, named queues with thread caps,
 * capacity and priority, and strands (ordered lanes on a queue).
 * Metrics live in pool_stats.c, timers in timer.c; layout in pool_impl.h.
 *
 * One pool mutex `mu` guards all scheduling state.  A queue's cap is a
 * `running` counter plus a runnable list (libuv threadpool.c's
 * slow_io_work_running): a worker picks the first runnable entry of the
 * highest-priority queue below its cap, round-robin among equal priority.
 * Jobs never run with `mu` held. */
#include "pool_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Post-to-start waits are measured on one post in WAIT_SAMPLE per posting
 * thread: reading the clock twice per job costs more than an empty job. */
#define WAIT_SAMPLE 8

static _Thread_local unsigned tls_post_seq;

static _Thread_local nc_strand_t *tls_strand;

/* ---- small helpers (all *_locked run with pool->mu held) ----------------- */

static void rlist_push(nc_queue_t *q, nc__rnode_t *n)
{
    n->next = NULL;
    if (q->rtail)
        q->rtail->next = n;
    else
        q->rhead = n;
    q->rtail = n;
}

static nc__rnode_t *rlist_pop(nc_queue_t *q)
{
    nc__rnode_t *n = q->rhead;
    q->rhead = n->next;
    if (!q->rhead)
        q->rtail = NULL;
    return n;
}

/* Job nodes come from slabs owned by the pool and are recycled through a
 * freelist, so steady-state posting never mallocs; memory stays at the peak
 * number of pending jobs until nc_pool_destroy. */
static nc__job_t *job_alloc_locked(nc_pool_t *p)
{
    if (!p->job_free) {
        nc__job_slab_t *sl = malloc(sizeof(*sl));
        if (!sl)
            return NULL;
        sl->next = p->slabs;
        p->slabs = sl;
        for (int i = 0; i < NC__JOB_SLAB; i++) {
            sl->jobs[i].node.next = p->job_free;
            p->job_free = &sl->jobs[i].node;
        }
    }
    nc__rnode_t *n = p->job_free;
    p->job_free = n->next;
    return NC_CONTAINER_OF(n, nc__job_t, node);
}

static void job_free_locked(nc_pool_t *p, nc__job_t *j)
{
    j->node.next = p->job_free;
    p->job_free = &j->node;
}

/* Claims a wake-up for one idle worker unless every idle worker already has
 * one in flight; returns 1 if the caller must nc__cond_signal(&p->cv).
 * `wakes` may undercount after spurious wakeups (an extra signal, harmless)
 * but never overcounts, so no runnable work is stranded.  Posters signal
 * after dropping mu: a worker woken on the poster's core would otherwise
 * preempt it only to block on mu. */
static int claim_wake_locked(nc_pool_t *p)
{
    if (p->idle > p->wakes) {
        p->wakes++;
        return 1;
    }
    return 0;
}

static void wake_one_locked(nc_pool_t *p)
{
    if (claim_wake_locked(p))
        nc__cond_signal(&p->cv);
}

static void send_wakes(nc_pool_t *p, int n)
{
    while (n-- > 0)
        nc__cond_signal(&p->cv);
}

static nc__rnode_t *pick_locked(nc_pool_t *p, nc_queue_t **qout, int take)
{
    for (int pr = 2; pr >= 0; pr--) { /* byprio[prio - NC_PRIO_LOW] */
        int n = p->nbyprio[pr];
        for (int i = 0; i < n; i++) {
            int idx = (p->rr[pr] + i) % n;
            nc_queue_t *q = p->byprio[pr][idx];
            if (!q->rhead || q->running >= q->cap)
                continue;
            if (!take)
                return q->rhead;
            p->rr[pr] = (idx + 1) % n;
            *qout = q;
            return rlist_pop(q);
        }
    }
    return NULL;
}

static void call_waiters(nc__waiter_t *w)
{
    while (w) {
        nc__waiter_t *next = w->next; /* fn may reuse w */
        w->fn(w);
        w = next;
    }
}

/* ---- posting ------------------------------------------------------------ */

/* Queues one job; mu held.  Returns 0, 1 (forced and the queue is now at or
 * above capacity) or a negative error; adds to *wake the signals owed. */
static int post_locked(nc_pool_t *p, nc_queue_t *q, nc_strand_t *s, nc_job_fn fn, void *arg,
                       int force, uint64_t now, int *wake)
{
    if (atomic_load_explicit(&p->stopping, memory_order_relaxed))
        return NC_ESTOPPED;
    if (!force && q->pending >= q->capacity) {
        q->rejected++;
        return NC_EQFULL;
    }
    nc__job_t *j = job_alloc_locked(p);
    if (!j)
        return NC_ENOMEM;
    j->node.next = NULL;
    j->node.is_strand = 0;
    j->fn = fn;
    j->arg = arg;
    j->post_ns = now;
    q->pending++;
    p->total_pending++;
    int became_runnable = 1;
    if (s) {
        if (s->tail)
            s->tail->next = &j->node;
        else
            s->head = &j->node;
        s->tail = &j->node;
        became_runnable = s->state == NC__STRAND_IDLE;
        if (became_runnable) {
            s->state = NC__STRAND_RUNNABLE;
            atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
            rlist_push(q, &s->node);
        }
    } else {
        rlist_push(q, &j->node);
    }
    /* Wake only if a worker could take it now: below the cap, counting
     * signals already in flight as future runners. */
    if (became_runnable && q->running + p->wakes < q->cap)
        *wake += claim_wake_locked(p);
    return force && q->pending >= q->capacity ? 1 : 0;
}

static uint64_t sample_clock(void)
{
    return (tls_post_seq++ % WAIT_SAMPLE) == 0 ? nc_now_ns() : 0;
}

static int post(nc_queue_t *q, nc_strand_t *s, nc_job_fn fn, void *arg, int force)
{
    if (!q || !fn)
        return NC_EINVAL;
    nc_pool_t *p = q->pool;
    uint64_t now = sample_clock();
    int wake = 0;
    nc__mutex_lock(&p->mu);
    int rc = post_locked(p, q, s, fn, arg, force, now, &wake);
    nc__mutex_unlock(&p->mu);
    send_wakes(p, wake);
    return rc;
}

void nc__strand_post_many(nc__post_t *items, int n)
{
    uint64_t now = sample_clock();
    int i = 0;
    while (i < n) {
        nc_pool_t *p = items[i].strand->queue->pool;
        int wake = 0;
        nc__mutex_lock(&p->mu);
        for (; i < n && items[i].strand->queue->pool == p; i++) {
            nc_strand_t *s = items[i].strand;
            items[i].rc = post_locked(p, s->queue, s, items[i].fn, items[i].arg, 1, now, &wake);
            now = 0; /* one sampled wait per batch is plenty */
        }
        nc__mutex_unlock(&p->mu);
        send_wakes(p, wake);
    }
}

int nc_queue_post(nc_queue_t *q, nc_job_fn fn, void *arg)
{
    return post(q, NULL, fn, arg, 0);
}

int nc_strand_post(nc_strand_t *s, nc_job_fn fn, void *arg)
{
    if (!s)
        return NC_EINVAL;
    return post(s->queue, s, fn, arg, 0);
}

int nc__strand_post_force(nc_strand_t *s, nc_job_fn fn, void *arg)
{
    if (!s)
        return NC_EINVAL;
    return post(s->queue, s, fn, arg, 1);
}

int nc_strand_post_force(nc_strand_t *s, nc_job_fn fn, void *arg)
{
    int rc = nc__strand_post_force(s, fn, arg);
    return rc < 0 ? rc : 0;
}

void nc__queue_wait_room(nc_queue_t *q, nc__waiter_t *w)
{
    nc_pool_t *p = q->pool;
    int inline_call = 0;
    nc__mutex_lock(&p->mu);
    q->capacity_pauses++;
    if (atomic_load_explicit(&p->stopping, memory_order_relaxed) || q->pending < q->low_water) {
        /* Called on a worker, never re-entrantly from the poster's thread,
         * unless no worker is left to call it. */
        if (p->nthreads == 0) {
            inline_call = 1;
        } else {
            w->next = p->ready_waiters;
            p->ready_waiters = w;
            wake_one_locked(p);
        }
    } else {
        w->next = q->waiters;
        q->waiters = w;
    }
    nc__mutex_unlock(&p->mu);
    if (inline_call) {
        w->next = NULL;
        w->fn(w);
    }
}

/* ---- workers ------------------------------------------------------------ */

#define STRAND_TAKE 16 /* strand jobs taken per lock hold */

/* Bookkeeping when a job leaves the pending set.  Returns the waiters to call
 * (outside mu) if the queue just dropped below its low-water mark. */
static nc__waiter_t *job_start_locked(nc_pool_t *p, nc_queue_t *q, nc__job_t *j, uint64_t now)
{
    q->pending--;
    p->total_pending--;
    q->jobs_run++;
    if (j->post_ns) { /* sampled */
        if (!now)
            now = nc_now_ns();
        nc__hist_record(q, now, now > j->post_ns ? now - j->post_ns : 0);
    }
    if (q->waiters && q->pending < q->low_water) {
        nc__waiter_t *w = q->waiters;
        q->waiters = NULL;
        return w;
    }
    return NULL;
}

/* Runs one job with mu dropped; returns with mu held. */
static void run_job_unlocked(nc_pool_t *p, nc_queue_t *q, nc__job_t *j, nc_strand_t *s,
                             uint64_t now)
{
    nc__waiter_t *w = job_start_locked(p, q, j, now);
    nc_job_fn fn = j->fn;
    void *arg = j->arg;
    job_free_locked(p, j);
    nc__mutex_unlock(&p->mu);
    call_waiters(w);
    tls_strand = s;
    fn(arg);
    tls_strand = NULL;
    nc__cork_flush();
    nc__mutex_lock(&p->mu);
}

static void strand_unlink_locked(nc_pool_t *p, nc_strand_t *s)
{
    if (s->live_prev)
        s->live_prev->live_next = s->live_next;
    else
        p->strands = s->live_next;
    if (s->live_next)
        s->live_next->live_prev = s->live_prev;
    p->nstrands--;
}

/* Runs a strand's jobs in order until it is empty or has used its batch or
 * time slice; then it goes to the back of its queue's runnable list. */
/* Takes up to `room` jobs off the strand in one lock hold (they count as
 * started: pending drops, waits are sampled now).  Returns how many. */
static int strand_take_locked(nc_pool_t *p, nc_queue_t *q, nc_strand_t *s, int room, nc_job_fn *fns,
                              void **args, nc__waiter_t **w)
{
    int n = 0;
    while (s->head && n < room) {
        nc__job_t *j = NC_CONTAINER_OF(s->head, nc__job_t, node);
        s->head = j->node.next;
        if (!s->head)
            s->tail = NULL;
        nc__waiter_t *wj = job_start_locked(p, q, j, 0);
        if (wj)
            *w = wj; /* the whole list; at most one per lock hold */
        fns[n] = j->fn;
        args[n] = j->arg;
        n++;
        job_free_locked(p, j);
    }
    return n;
}

/* Runs a strand's jobs in order, up to STRAND_TAKE per lock hold, until it
 * is empty or has used its batch or time slice (checked between takes);
 * then it goes to the back of its queue's runnable list.  Only this worker
 * runs the strand meanwhile (state RUNNING), so order and exclusion hold. */
static void run_strand_locked(nc_pool_t *p, nc_queue_t *q, nc_strand_t *s)
{
    s->state = NC__STRAND_RUNNING;
    /* The slice is timed from the end of the first take: most runs need
     * one take, and then the clock is never read. */
    uint64_t start = 0;
    int done = 0;
    while (s->head && done < p->strand_batch) {
        if (done) {
            uint64_t now = nc_now_ns();
            if (!start)
                start = now;
            else if (now - start >= p->strand_slice_ns)
                break;
        }
        nc_job_fn fns[STRAND_TAKE];
        void *args[STRAND_TAKE];
        nc__waiter_t *w = NULL;
        int room = p->strand_batch - done < STRAND_TAKE ? p->strand_batch - done : STRAND_TAKE;
        int n = strand_take_locked(p, q, s, room, fns, args, &w);
        nc__mutex_unlock(&p->mu);
        call_waiters(w);
        tls_strand = s;
        for (int i = 0; i < n; i++)
            fns[i](args[i]);
        tls_strand = NULL;
        nc__cork_flush();
        nc__mutex_lock(&p->mu);
        done += n;
    }
    if (s->head) {
        s->state = NC__STRAND_RUNNABLE; /* keeps the queue's reference */
        rlist_push(q, &s->node);
        return;
    }
    s->state = NC__STRAND_IDLE;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        strand_unlink_locked(p, s);
        free(s);
    }
}

static void worker_main(void *arg)
{
    nc_pool_t *p = arg;
    nc__cork_begin();
    nc__mutex_lock(&p->mu);
    for (;;) {
        if (p->ready_waiters) {
            nc__waiter_t *w = p->ready_waiters;
            p->ready_waiters = NULL;
            nc__mutex_unlock(&p->mu);
            call_waiters(w);
            nc__mutex_lock(&p->mu);
            continue;
        }
        nc_queue_t *q = NULL;
        nc__rnode_t *n = pick_locked(p, &q, 1);
        if (!n) {
            if (atomic_load_explicit(&p->stopping, memory_order_relaxed) && p->total_pending == 0) {
                nc__cond_broadcast(&p->cv); /* let the other idle workers see it */
                break;
            }
            p->idle++;
            nc__cond_wait(&p->cv, &p->mu);
            p->idle--;
            if (p->wakes > 0)
                p->wakes--;
            continue;
        }
        if (++q->running > q->max_running_seen)
            q->max_running_seen = q->running;
        /* More work another idle worker could take: pass the baton. */
        if (p->idle > p->wakes && pick_locked(p, NULL, 0))
            wake_one_locked(p);
        if (n->is_strand)
            run_strand_locked(p, q, NC_CONTAINER_OF(n, nc_strand_t, node));
        else
            run_job_unlocked(p, q, NC_CONTAINER_OF(n, nc__job_t, node), NULL, 0);
        q->running--;
    }
    nc__mutex_unlock(&p->mu);
}

/* ---- pool --------------------------------------------------------------- */

int nc_pool_create(const nc_pool_opts_t *opts, nc_pool_t **out)
{
    nc_pool_opts_t o = {0};
    if (opts)
        o = *opts;
    if (!out || o.threads < 0 || o.strand_batch < 0)
        return NC_EINVAL;
    nc_pool_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NC_ENOMEM;
    snprintf(p->name, sizeof(p->name), "%s", o.name ? o.name : "pool");
    int want = o.threads ? o.threads : 4;
    p->strand_batch = o.strand_batch ? o.strand_batch : 64;
    p->strand_slice_ns = (uint64_t)(o.strand_slice_us ? o.strand_slice_us : 2000) * 1000u;
    atomic_init(&p->stopping, 0);
    nc__mutex_init(&p->mu);
    nc__cond_init(&p->cv);
    int rc = nc__timers_init(p);
    p->threads = calloc((size_t)want, sizeof(nc_thread_t));
    if (rc < 0 || !p->threads) {
        nc_pool_destroy(p);
        return rc < 0 ? rc : NC_ENOMEM;
    }
    for (int i = 0; i < want; i++) {
        char tname[32];
        snprintf(tname, sizeof(tname), "%.9s-w%d", p->name, i);
        rc = nc__thread_create(&p->threads[i], worker_main, p, tname);
        if (rc < 0) {
            nc_pool_destroy(p);
            return rc;
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

int nc_pool_threads(const nc_pool_t *pool)
{
    return pool ? pool->nthreads : 0;
}

/* DRAIN: cancel timers, refuse new posts, let workers run every pending job
 * and call every waiter, join them, then free what is left. */
void nc_pool_destroy(nc_pool_t *p)
{
    if (!p)
        return;
    nc__timers_stop(p);
    nc__mutex_lock(&p->mu);
    atomic_store(&p->stopping, 1);
    for (int i = 0; i < p->nqueues; i++) {
        nc__waiter_t *w = p->queues[i]->waiters;
        while (w) {
            nc__waiter_t *next = w->next;
            w->next = p->ready_waiters;
            p->ready_waiters = w;
            w = next;
        }
        p->queues[i]->waiters = NULL;
    }
    nc__cond_broadcast(&p->cv);
    nc__mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        nc__thread_join(p->threads[i]);
    nc__mutex_lock(&p->mu);
    p->nthreads = 0; /* late waiters are now called inline */
    nc__waiter_t *late = p->ready_waiters;
    p->ready_waiters = NULL;
    nc__mutex_unlock(&p->mu);
    call_waiters(late);

    if (p->nstrands > 0)
        nc_log(NC_LOG_WARN, "pool", "%s: freeing %d strand(s) still referenced at destroy", p->name,
               p->nstrands);
    while (p->strands) {
        nc_strand_t *s = p->strands;
        p->strands = s->live_next;
        free(s);
    }
    while (p->slabs) {
        nc__job_slab_t *sl = p->slabs;
        p->slabs = sl->next;
        free(sl);
    }
    for (int i = 0; i < p->nqueues; i++)
        free(p->queues[i]);
    for (int i = 0; i < 3; i++)
        free(p->byprio[i]);
    free(p->queues);
    free(p->threads);
    nc__timers_free(p);
    nc__cond_destroy(&p->cv);
    nc__mutex_destroy(&p->mu);
    free(p);
}

/* ---- queues ------------------------------------------------------------- */

static nc_queue_t *find_locked(nc_pool_t *p, const char *name)
{
    for (int i = 0; i < p->nqueues; i++)
        if (strcmp(p->queues[i]->name, name) == 0)
            return p->queues[i];
    return NULL;
}

static int queue_validate(const nc_queue_opts_t *o)
{
    if (!o || !o->name || !o->name[0] || strlen(o->name) >= 32 || o->max_threads < 1)
        return NC_EINVAL;
    if (o->priority < NC_PRIO_DEFAULT || o->priority > NC_PRIO_HIGH)
        return NC_EINVAL;
    return 0;
}

int nc_queue_create(nc_pool_t *p, const nc_queue_opts_t *o, nc_queue_t **out)
{
    if (!p || !out || queue_validate(o) < 0)
        return NC_EINVAL;
    nc_queue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NC_ENOMEM;
    q->pool = p;
    snprintf(q->name, sizeof(q->name), "%s", o->name);
    q->cap = o->max_threads;
    q->capacity = o->capacity ? o->capacity : 65536;
    q->low_water = o->low_water ? o->low_water : q->capacity / 2;
    if (q->low_water > q->capacity)
        q->low_water = q->capacity;
    if (q->low_water == 0)
        q->low_water = 1;
    q->prio = o->priority == NC_PRIO_DEFAULT ? NC_PRIO_NORMAL : o->priority;
    int pr = (int)q->prio - NC_PRIO_LOW;

    nc__mutex_lock(&p->mu);
    int rc = 0;
    if (atomic_load_explicit(&p->stopping, memory_order_relaxed)) {
        rc = NC_ESTOPPED;
    } else if (find_locked(p, q->name)) {
        rc = NC_EEXIST;
    } else {
        /* Grow both arrays first; a failed realloc leaves the old one valid. */
        nc_queue_t **all = realloc(p->queues, sizeof(*all) * (size_t)(p->nqueues + 1));
        if (all)
            p->queues = all;
        nc_queue_t **lvl = realloc(p->byprio[pr], sizeof(*lvl) * (size_t)(p->nbyprio[pr] + 1));
        if (lvl)
            p->byprio[pr] = lvl;
        if (all && lvl) {
            lvl[p->nbyprio[pr]++] = q;
            all[p->nqueues++] = q;
        } else {
            rc = NC_ENOMEM;
        }
    }
    nc__mutex_unlock(&p->mu);
    if (rc < 0) {
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

nc_queue_t *nc_queue_find(nc_pool_t *p, const char *name)
{
    if (!p || !name)
        return NULL;
    nc__mutex_lock(&p->mu);
    nc_queue_t *q = find_locked(p, name);
    nc__mutex_unlock(&p->mu);
    return q;
}

const char *nc_queue_name(const nc_queue_t *q)
{
    return q ? q->name : NULL;
}

nc_pool_t *nc_queue_pool(const nc_queue_t *q)
{
    return q ? q->pool : NULL;
}

/* ---- strands ------------------------------------------------------------ */

int nc_strand_create(nc_queue_t *q, nc_strand_t **out)
{
    if (!q || !out)
        return NC_EINVAL;
    nc_strand_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NC_ENOMEM;
    s->node.is_strand = 1;
    s->queue = q;
    s->state = NC__STRAND_IDLE;
    atomic_init(&s->refs, 1);
    nc_pool_t *p = q->pool;
    nc__mutex_lock(&p->mu);
    if (atomic_load_explicit(&p->stopping, memory_order_relaxed)) {
        nc__mutex_unlock(&p->mu);
        free(s);
        return NC_ESTOPPED;
    }
    s->live_next = p->strands;
    if (p->strands)
        p->strands->live_prev = s;
    p->strands = s;
    p->nstrands++;
    nc__mutex_unlock(&p->mu);
    *out = s;
    return 0;
}

void nc_strand_retain(nc_strand_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void nc_strand_release(nc_strand_t *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Last reference: the strand is IDLE (a queued or running strand holds
     * the queue's reference), so no list but pool->strands knows it. */
    nc_pool_t *p = s->queue->pool;
    nc__mutex_lock(&p->mu);
    strand_unlink_locked(p, s);
    nc__mutex_unlock(&p->mu);
    free(s);
}

nc_queue_t *nc_strand_queue(const nc_strand_t *s)
{
    return s ? s->queue : NULL;
}

int nc_strand_running_here(const nc_strand_t *s)
{
    return s && tls_strand == s;
}

int nc__pool_live_strands(nc_pool_t *p)
{
    nc__mutex_lock(&p->mu);
    int n = p->nstrands;
    nc__mutex_unlock(&p->mu);
    return n;
}
