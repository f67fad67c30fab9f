/* testclient --bots: a few watched bots keep, per neighbour, its last known
 * position, when it came and how many positions arrived for it, so the
 * summary can say how fresh each watched bot's view of its nearest
 * neighbours was (issue 15: "each bot still seeing its nearest neighbours
 * move at the full rate").  The nearest are taken from where the bots really
 * are (the testclient drives them all), sampled every 100 ms: in a dense
 * random-walking crowd the nearest 64 change within a second, so a rate
 * per neighbour over seconds understates what the nearest get at any one
 * time. */
#include "tc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_MAX 8
#define WATCH_CAP 8192 /* neighbours per watched bot (open addressing) */

typedef struct nb_s {
    uint32_t id;            /* 0 = empty */
    uint32_t updates, snap; /* snap: updates at tc_watch_mark */
    int marked;
    uint64_t last_ms; /* when its last position came (0: despawned) */
} nb_t;

typedef struct watch_s {
    int bot; /* -1 = unused */
    pthread_mutex_t mu;
    nb_t *t;
    uint32_t n;
} watch_t;

typedef struct cand_s {
    float d2;
    uint32_t id;
} cand_t;

static watch_t w[WATCH_MAX];
static int nwatch;
static uint64_t mark_ms, end_ms;
static cand_t *cand; /* tc_watch_sample's, one per bot */
static int ncand;

void tc_watch_init(int bots)
{
    cand = calloc((size_t)(bots > 0 ? bots : 1), sizeof *cand);
    ncand = cand ? bots : 0;
    nwatch = bots < WATCH_MAX ? bots : WATCH_MAX;
    for (int i = 0; i < nwatch; i++) {
        w[i].bot = (int)((long)i * bots / nwatch);
        pthread_mutex_init(&w[i].mu, NULL);
        w[i].t = calloc(WATCH_CAP, sizeof *w[i].t);
        if (!w[i].t)
            w[i].bot = -1;
    }
}

static watch_t *find(int bot)
{
    for (int i = 0; i < nwatch; i++)
        if (w[i].bot == bot)
            return &w[i];
    return NULL;
}

static nb_t *slot(watch_t *x, uint32_t id, int add)
{
    uint32_t h = (id * 2654435761u) & (WATCH_CAP - 1);
    for (uint32_t k = 0; k < WATCH_CAP; k++, h = (h + 1) & (WATCH_CAP - 1)) {
        if (x->t[h].id == id)
            return &x->t[h];
        if (!x->t[h].id) {
            if (!add)
                return NULL;
            if (x->n * 4 >= WATCH_CAP * 3)
                return NULL; /* full enough: ignore newcomers */
            x->n++;
            x->t[h].id = id;
            return &x->t[h];
        }
    }
    return NULL;
}

int tc_watching(int bot)
{
    return bot >= 0 && find(bot) != NULL;
}

void tc_watch_pos(int bot, uint32_t id, int is_update)
{
    watch_t *a = find(bot);
    if (!a || !id)
        return;
    pthread_mutex_lock(&a->mu);
    nb_t *n = slot(a, id, 1);
    if (n) {
        n->updates += is_update ? 1u : 0u;
        n->last_ms = nc_now_ms();
    }
    pthread_mutex_unlock(&a->mu);
}

/* A zone change despawns nothing one by one: every neighbour is gone. */
void tc_watch_zone_changed(int bot)
{
    watch_t *a = find(bot);
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    for (uint32_t j = 0; j < WATCH_CAP; j++)
        a->t[j].last_ms = 0;
    pthread_mutex_unlock(&a->mu);
}

void tc_watch_gone(int bot, uint32_t id)
{
    watch_t *a = find(bot);
    if (!a || !id)
        return;
    pthread_mutex_lock(&a->mu);
    nb_t *n = slot(a, id, 0);
    if (n)
        n->last_ms = 0;
    pthread_mutex_unlock(&a->mu);
}

static int cmp_rate(const void *pa, const void *pb) /* descending */
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return a > b ? -1 : a < b;
}

static int cmp_dbl(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b;
}

/* Starts the measured window: rates are over what arrives from now on, for
 * neighbours already known now. */
void tc_watch_mark(void)
{
    for (int i = 0; i < nwatch; i++) {
        if (w[i].bot < 0)
            continue;
        pthread_mutex_lock(&w[i].mu);
        for (uint32_t j = 0; j < WATCH_CAP; j++) {
            w[i].t[j].snap = w[i].t[j].updates;
            w[i].t[j].marked = w[i].t[j].id != 0;
        }
        pthread_mutex_unlock(&w[i].mu);
    }
    mark_ms = nc_now_ms();
}

/* Ends the measured window (the bots stop moving). */
void tc_watch_end(void)
{
    end_ms = nc_now_ms();
}

/* The busiest `near` neighbours of each watched bot (the server's full-rate
 * set, if it holds): their positions per second since the mark; prints the
 * median over watched bots of the median and of the slowest rate. */
static void report_busiest(int near, double move_hz)
{
    double med[WATCH_MAX], mins[WATCH_MAX];
    int nm = 0;
    uint64_t now = end_ms ? end_ms : nc_now_ms();
    if (!mark_ms || now - mark_ms < 1000)
        return;
    double secs = (double)(now - mark_ms) / 1000.0;
    for (int i = 0; i < nwatch; i++) {
        if (w[i].bot < 0)
            continue;
        pthread_mutex_lock(&w[i].mu);
        float *r = malloc(sizeof *r * (w[i].n ? w[i].n : 1));
        int k = 0;
        for (uint32_t j = 0; r && j < WATCH_CAP; j++) {
            nb_t *n = &w[i].t[j];
            if (n->id && n->marked)
                r[k++] = (float)((n->updates - n->snap) / secs);
        }
        pthread_mutex_unlock(&w[i].mu);
        if (r && k > 0) {
            qsort(r, (size_t)k, sizeof *r, cmp_rate);
            int m = k < near ? k : near;
            med[nm] = r[m / 2];
            mins[nm] = r[m - 1];
            nm++;
        }
        free(r);
    }
    if (!nm)
        return;
    qsort(med, (size_t)nm, sizeof med[0], cmp_dbl);
    qsort(mins, (size_t)nm, sizeof mins[0], cmp_dbl);
    printf("  busiest %d  positions/s per neighbour over the last %.0f s, %d watched bots: "
           "median %.2f, slowest %.2f (they move %.2f/s)\n",
           near, secs, nm, med[nm / 2], mins[nm / 2], move_hz);
}

/* ---- how fresh the true nearest are ---- */
#define AGE_MS 10       /* histogram bucket */
#define AGE_BUCKETS 500 /* 5 s; older ones count in the last */

static uint64_t age_hist[AGE_BUCKETS], age_unseen, age_n; /* main thread */
static uint32_t age_looks;

static int cmp_cand(const void *pa, const void *pb)
{
    float a = ((const cand_t *)pa)->d2, b = ((const cand_t *)pb)->d2;
    return a < b ? -1 : a > b;
}

/* One look (main thread): for each watched bot, its `near` nearest by where
 * the bots are (`all`, indexed by bot; id 0: not in the world), and how old
 * its last position of each of them is (never seen, or despawned: unseen). */
void tc_watch_sample(const tc_truth_t *all, int n, int near)
{
    cand_t *c = cand;
    if (n > ncand)
        return; /* more bots than tc_watch_init was told, or out of memory */
    uint64_t now = nc_now_ms();
    for (int i = 0; i < nwatch; i++) {
        int b = w[i].bot;
        if (b < 0 || b >= n || !all[b].id)
            continue;
        int k = 0;
        for (int j = 0; j < n; j++) {
            if (j == b || !all[j].id || all[j].zone != all[b].zone)
                continue;
            float dx = all[j].x - all[b].x, dy = all[j].y - all[b].y;
            c[k++] = (cand_t){dx * dx + dy * dy, all[j].id};
        }
        qsort(c, (size_t)k, sizeof *c, cmp_cand);
        int m = k < near ? k : near;
        pthread_mutex_lock(&w[i].mu);
        for (int j = 0; j < m; j++) {
            nb_t *nb = slot(&w[i], c[j].id, 0);
            if (!nb || !nb->last_ms) {
                age_unseen++;
            } else {
                /* it may have come after `now` was taken */
                uint64_t a = nb->last_ms < now ? (now - nb->last_ms) / AGE_MS : 0;
                age_hist[a < AGE_BUCKETS ? a : AGE_BUCKETS - 1]++;
            }
            age_n++;
        }
        pthread_mutex_unlock(&w[i].mu);
    }
    age_looks++;
}

/* The age at percentile pct of those seen, in ms (upper bucket edge). */
static long age_pct(double pct)
{
    uint64_t want = (uint64_t)((double)(age_n - age_unseen) * pct / 100.0), acc = 0;
    for (int i = 0; i < AGE_BUCKETS; i++) {
        acc += age_hist[i];
        if (acc > want)
            return (long)(i + 1) * AGE_MS;
    }
    return (long)AGE_BUCKETS * AGE_MS;
}

static void report_age(int near, double move_hz)
{
    if (age_n == age_unseen)
        return;
    /* unseen: never spawned for the watched bot, or despawned (out of the
     * server's view, which ranks by positions a move period old) */
    printf("  nearest %d  by true position, %u looks every 100 ms: position age p50 %ld ms, "
           "p90 %ld ms, p99 %ld ms of those seen; unseen %.2f %% (they move every %.0f ms)\n",
           near, age_looks, age_pct(50), age_pct(90), age_pct(99),
           100.0 * (double)age_unseen / (double)age_n, 1000.0 / move_hz);
}

/* Two views: how old a watched bot's view of its `near` truly nearest was,
 * and the `near` most updated (the server's full-rate set, if it holds). */
void tc_watch_report(int near, double move_hz)
{
    report_age(near, move_hz);
    report_busiest(near, move_hz);
}
