/* bench_jobs: jobs/s through the netcore job system (unordered queue posts
 * and strands) against a plain mutex + condition-variable queue, in the same
 * run, with the same producers and worker count.  Not a test.
 * Each cell is the median of --reps runs (default 3): on a small machine the
 * runs are noisy because producers and workers share the cores.
 *   bench_jobs [--jobs N] [--workers W[,W...]] [--producers P] [--reps R] */
#include "netcore.h"
#include "../../netcore/src/platform.h" /* threads and locks, as netcore uses them */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_llong done;

static void tick(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
}

/* ---- baseline: one mutex, one condvar per direction, a bounded ring ------- */

#define RING (1u << 16)
typedef struct {
    nc_mutex_t mu;
    nc_cond_t not_empty, not_full;
    nc_job_fn fn[RING];
    void *arg[RING];
    uint32_t head, tail;
    int stop, waiting, pwaiting; /* consumers / producers blocked */
} plain_q_t;

static void plain_push(plain_q_t *q, nc_job_fn fn, void *arg)
{
    nc__mutex_lock(&q->mu);
    while (q->tail - q->head == RING) {
        q->pwaiting++;
        nc__cond_wait(&q->not_full, &q->mu);
        q->pwaiting--;
    }
    q->fn[q->tail % RING] = fn;
    q->arg[q->tail % RING] = arg;
    q->tail++;
    if (q->waiting)
        nc__cond_signal(&q->not_empty);
    nc__mutex_unlock(&q->mu);
}

static void plain_worker(void *p)
{
    plain_q_t *q = p;
    nc__mutex_lock(&q->mu);
    for (;;) {
        if (q->head == q->tail) {
            if (q->stop)
                break;
            q->waiting++;
            nc__cond_wait(&q->not_empty, &q->mu);
            q->waiting--;
            continue;
        }
        nc_job_fn fn = q->fn[q->head % RING];
        void *arg = q->arg[q->head % RING];
        if (q->pwaiting)
            nc__cond_signal(&q->not_full);
        q->head++;
        nc__mutex_unlock(&q->mu);
        fn(arg);
        nc__mutex_lock(&q->mu);
    }
    nc__mutex_unlock(&q->mu);
}

/* ---- producers ---------------------------------------------------------- */

enum { MODE_PLAIN, MODE_QUEUE, MODE_STRAND_MANY, MODE_STRAND_ONE };
static const char *mode_names[] = {"mutex+condvar queue", "nc_queue_post", "nc_strand_post x64",
                                   "nc_strand_post x1/producer"};

typedef struct {
    int mode, index;
    long long n;
    plain_q_t *plain;
    nc_queue_t *q;
    nc_strand_t **strands;
    long long full_retries;
} producer_t;

static void producer_main(void *arg)
{
    producer_t *p = arg;
    for (long long i = 0; i < p->n; i++) {
        int rc;
        switch (p->mode) {
        case MODE_PLAIN: plain_push(p->plain, tick, NULL); continue;
        case MODE_QUEUE: rc = nc_queue_post(p->q, tick, NULL); break;
        case MODE_STRAND_MANY: rc = nc_strand_post(p->strands[i & 63], tick, NULL); break;
        default: rc = nc_strand_post(p->strands[p->index], tick, NULL); break;
        }
        if (rc == NC_EQFULL) { /* bounded queue: back off, never drop */
            p->full_retries++;
            i--;
            nc__sleep_ms(0);
        }
    }
}

static void wait_done(long long total, const char *label)
{
    uint64_t next = nc_now_ms() + 250;
    while (atomic_load(&done) < total) {
        nc__sleep_ms(1);
        if (nc_now_ms() >= next) {
            fprintf(stderr, "\r  %-28s %3lld%%", label, atomic_load(&done) * 100 / total);
            next += 250;
        }
    }
    fprintf(stderr, "\r%60s\r", "");
}

static double run(int mode, int workers, int producers, long long total, long long *retries)
{
    plain_q_t *plain = NULL;
    nc_thread_t wth[64];
    nc_pool_t *pool = NULL;
    nc_queue_t *q = NULL;
    nc_strand_t *strands[64] = {0};
    if (mode == MODE_PLAIN) {
        plain = calloc(1, sizeof(*plain));
        nc__mutex_init(&plain->mu);
        nc__cond_init(&plain->not_empty);
        nc__cond_init(&plain->not_full);
        for (int i = 0; i < workers; i++)
            nc__thread_create(&wth[i], plain_worker, plain, "plain");
    } else {
        nc_pool_opts_t po = {.name = "bench", .threads = workers};
        nc_queue_opts_t qo = {.name = "bench", .max_threads = workers, .capacity = RING};
        if (nc_pool_create(&po, &pool) < 0 || nc_queue_create(pool, &qo, &q) < 0)
            exit(1);
        for (int i = 0; i < 64; i++)
            nc_strand_create(q, &strands[i]);
    }
    atomic_store(&done, 0);
    producer_t pr[16];
    nc_thread_t pth[16];
    uint64_t t0 = nc_now_ns();
    for (int i = 0; i < producers; i++) {
        pr[i] = (producer_t){mode, i, total / producers, plain, q, strands, 0};
        nc__thread_create(&pth[i], producer_main, &pr[i], "producer");
    }
    for (int i = 0; i < producers; i++)
        nc__thread_join(pth[i]);
    long long want = (total / producers) * producers;
    wait_done(want, mode_names[mode]);
    double secs = (double)(nc_now_ns() - t0) / 1e9;
    *retries = 0;
    for (int i = 0; i < producers; i++)
        *retries += pr[i].full_retries;
    if (plain) {
        nc__mutex_lock(&plain->mu);
        plain->stop = 1;
        nc__cond_broadcast(&plain->not_empty);
        nc__mutex_unlock(&plain->mu);
        for (int i = 0; i < workers; i++)
            nc__thread_join(wth[i]);
        free(plain);
    } else {
        for (int i = 0; i < 64; i++)
            nc_strand_release(strands[i]);
        nc_pool_destroy(pool);
    }
    return (double)want / secs;
}

int main(int argc, char **argv)
{
    long long total = 2000000;
    int producers = 2, workers[8] = {2, 4}, nworkers = 2, reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--jobs"))
            total = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--producers"))
            producers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) {
            nworkers = 0;
            for (char *t = strtok(argv[i + 1], ","); t && nworkers < 8; t = strtok(NULL, ","))
                workers[nworkers++] = atoi(t);
        }
    }
    if (producers < 1 || producers > 16 || total < producers || reps < 1 || reps > 15)
        return 2;
    printf("bench_jobs: %lld empty jobs from %d producers, queue capacity %u\n\n", total, producers,
           RING);
    printf("| %-28s | %7s | %12s | %8s | %12s |\n", "path", "workers", "jobs/s", "vs plain",
           "EQFULL retries");
    printf(
        "|------------------------------|---------|--------------|----------|----------------|\n");
    for (int w = 0; w < nworkers; w++) {
        double base = 0;
        for (int mode = MODE_PLAIN; mode <= MODE_STRAND_ONE; mode++) {
            long long retries = 0, r;
            double rates[15];
            for (int k = 0; k < reps; k++) {
                rates[k] = run(mode, workers[w], producers, total, &r);
                retries += r;
                for (int m = k; m > 0 && rates[m] < rates[m - 1]; m--) {
                    double t = rates[m];
                    rates[m] = rates[m - 1];
                    rates[m - 1] = t;
                }
            }
            double rate = rates[reps / 2];
            if (mode == MODE_PLAIN)
                base = rate;
            printf("| %-28s | %7d | %12.0f | %7.2fx | %14lld |\n", mode_names[mode], workers[w],
                   rate, rate / base, retries);
            fflush(stdout);
        }
    }
    return 0;
}
