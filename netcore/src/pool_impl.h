/* Private layout of the job system, shared by pool.c (scheduling), pool_stats.c
 * (histograms, nc_pool_stats) and timer.c (timer heap and thread).  The engine
 * never includes this; its contract with the pool is internal.h. */
#ifndef NC_POOL_IMPL_H
#define NC_POOL_IMPL_H

#include "internal.h"

/* A runnable entry on a queue's list: either one unordered job or a strand
 * that has jobs and is not running.  `is_strand` tells which. */
typedef struct nc__rnode_s {
    struct nc__rnode_s *next;
    int is_strand;
} nc__rnode_t;

typedef struct nc__job_s {
    nc__rnode_t node; /* link on a strand's job list or a queue's runnable list */
    nc_job_fn fn;
    void *arg;
    uint64_t post_ns; /* 0 when this job's wait is not sampled */
} nc__job_t;

#define NC__JOB_SLAB 256
typedef struct nc__job_slab_s {
    struct nc__job_slab_s *next;
    nc__job_t jobs[NC__JOB_SLAB];
} nc__job_slab_t;

/* Log-linear histogram of waits in microseconds: values below 16 are exact,
 * above that 8 sub-buckets per power of two (error <= 12.5%). */
#define NC__HIST_SUB 8
#define NC__HIST_BUCKETS (16 + 40 * NC__HIST_SUB)
typedef struct nc__hist_s {
    uint32_t count[NC__HIST_BUCKETS];
    uint64_t total;
} nc__hist_t;

enum { NC__STRAND_IDLE, NC__STRAND_RUNNABLE, NC__STRAND_RUNNING };

struct nc_strand_s {
    nc__rnode_t node; /* first: on the queue's runnable list when RUNNABLE */
    nc_queue_t *queue;
    nc__rnode_t *head; /* pending jobs, FIFO (guarded by pool->mu) */
    nc__rnode_t *tail;
    int state; /* NC__STRAND_*, guarded by pool->mu */
    /* Owners' references plus one while state != IDLE (held by the queue),
     * so memory outlives the last queued or running job. */
    atomic_int refs;
    struct nc_strand_s *live_prev, *live_next; /* pool->strands, under mu */
};

struct nc_queue_s {
    nc_pool_t *pool;
    char name[32];
    int cap;
    uint32_t capacity, low_water;
    nc_prio_t prio;
    /* Everything below is guarded by pool->mu. */
    nc__rnode_t *rhead, *rtail; /* runnable entries, FIFO */
    uint64_t pending;           /* posted jobs not started yet */
    int running;                /* workers inside this queue's jobs */
    int max_running_seen;
    uint64_t jobs_run, capacity_pauses, rejected;
    nc__waiter_t *waiters; /* paused readers, called below low_water */
    nc__hist_t hist[2];    /* current and previous wait window */
    int hist_cur;
    uint64_t hist_start_ns;
    uint64_t wait_max_us;
};

typedef struct nc__timer_s nc__timer_t;

/* Timer state lives in timer.c; guarded by tmu.  Lock order: tmu and mu are
 * never held together (the timer thread posts after dropping tmu). */
typedef struct nc__timers_s {
    nc_mutex_t tmu;
    nc_cond_t tcv;
    nc_thread_t thread;
    int thread_started;
    int stop;
    uint64_t next_id;
    nc__timer_t **heap; /* min-heap by (deadline, id) */
    size_t heap_len, heap_cap;
    nc__timer_t **map; /* open addressing id -> timer, linear probing */
    size_t map_cap, map_len;
    uint64_t coalesced;
} nc__timers_t;

struct nc_pool_s {
    char name[32];
    int nthreads;
    int strand_batch;
    uint64_t strand_slice_ns;
    nc_thread_t *threads;
    nc_mutex_t mu; /* guards every scheduling field of the pool, queues, strands */
    nc_cond_t cv;  /* idle workers */
    int idle;      /* workers waiting on cv */
    int wakes;     /* signals sent and not yet consumed by a waking worker */
    atomic_int stopping;
    uint64_t total_pending;
    nc_queue_t **queues; /* creation order */
    int nqueues;
    /* per priority (index prio - NC_PRIO_LOW): its queues, a round-robin cursor */
    nc_queue_t **byprio[3];
    int nbyprio[3];
    int rr[3];
    nc__waiter_t *ready_waiters; /* to be called by a worker, outside mu */
    nc__rnode_t *job_free;       /* freelist of nc__job_t, carved from slabs */
    nc__job_slab_t *slabs;
    nc_strand_t *strands; /* every live strand, for leak reports and destroy */
    int nstrands;
    nc__timers_t timers;
};

/* pool_stats.c */
void nc__hist_record(nc_queue_t *q, uint64_t now_ns, uint64_t wait_ns);

/* timer.c */
int nc__timers_init(nc_pool_t *pool);
/* Stops the timer thread and cancels every armed timer (DRAIN step 1). */
void nc__timers_stop(nc_pool_t *pool);
void nc__timers_free(nc_pool_t *pool);

#endif
