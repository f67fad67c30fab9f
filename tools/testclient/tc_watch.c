/* testclient --bots: a few watched bots keep, per neighbour, its last known
 * position and how many positions arrived for it, so the summary can say at
 * what rate each watched bot's nearest neighbours were updated (issue 15:
 * "each bot still seeing its nearest neighbours move at the full rate"). */
#include "tc.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_MAX 8
#define WATCH_CAP 8192 /* neighbours per watched bot (open addressing) */

typedef struct nb_s {
    uint32_t id; /* 0 = empty */
    float x, y;
    uint32_t updates, snap; /* snap: updates at tc_watch_mark */
    int marked;
} nb_t;

typedef struct watch_s {
    int bot; /* -1 = unused */
    pthread_mutex_t mu;
    nb_t *t;
    uint32_t n;
} watch_t;

static watch_t w[WATCH_MAX];
static int nwatch;
static uint64_t mark_ms, end_ms;

void tc_watch_init(int bots)
{
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

static nb_t *slot(watch_t *x, uint32_t id)
{
    uint32_t h = (id * 2654435761u) & (WATCH_CAP - 1);
    for (uint32_t k = 0; k < WATCH_CAP; k++, h = (h + 1) & (WATCH_CAP - 1)) {
        if (x->t[h].id == id)
            return &x->t[h];
        if (!x->t[h].id) {
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

void tc_watch_pos(int bot, uint32_t id, float x, float y, int is_update)
{
    watch_t *a = find(bot);
    if (!a || !id)
        return;
    pthread_mutex_lock(&a->mu);
    nb_t *n = slot(a, id);
    if (n) {
        n->x = x;
        n->y = y;
        n->updates += is_update ? 1u : 0u;
    }
    pthread_mutex_unlock(&a->mu);
}

static int cmp_dist(const void *pa, const void *pb)
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return a < b ? -1 : a > b;
}

static int cmp_rate(const void *pa, const void *pb) /* descending */
{
    float a = ((const float *)pa)[1], b = ((const float *)pb)[1];
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

/* For each watched bot at (x, y) (its last position): its `near` nearest
 * neighbours by last known position (known since the mark), and their
 * positions per second since the mark; prints the median over watched bots
 * of the median and of the slowest rate. */
static void report(int near, double move_hz, void (*pos_of)(int bot, float *x, float *y),
                   int busiest)
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
        float bx, by;
        pos_of(w[i].bot, &bx, &by);
        pthread_mutex_lock(&w[i].mu);
        float(*d)[2] = malloc(sizeof *d * (w[i].n ? w[i].n : 1));
        int k = 0;
        for (uint32_t j = 0; d && j < WATCH_CAP; j++) {
            nb_t *n = &w[i].t[j];
            if (!n->id || !n->marked)
                continue;
            d[k][0] = hypotf(n->x - bx, n->y - by);
            d[k][1] = (float)((n->updates - n->snap) / secs);
            k++;
        }
        pthread_mutex_unlock(&w[i].mu);
        if (d && k > 0) {
            qsort(d, (size_t)k, sizeof *d, busiest ? cmp_rate : cmp_dist);
            int m = k < near ? k : near;
            double r[512];
            for (int j = 0; j < m && j < 512; j++)
                r[j] = d[j][1];
            qsort(r, (size_t)m, sizeof r[0], cmp_dbl);
            med[nm] = r[m / 2];
            mins[nm] = r[0];
            nm++;
        }
        free(d);
    }
    if (!nm)
        return;
    qsort(med, (size_t)nm, sizeof med[0], cmp_dbl);
    qsort(mins, (size_t)nm, sizeof mins[0], cmp_dbl);
    printf("  %s %d  positions/s per neighbour over the last %.0f s, %d watched bots: "
           "median %.2f, slowest %.2f (they move %.2f/s)\n",
           busiest ? "busiest" : "nearest", near, secs, nm, med[nm / 2], mins[nm / 2], move_hz);
}

/* Two views: the `near` nearest by last known position (in a dense crowd
 * the far ones' positions are seconds old, so this set is approximate), and
 * the `near` most updated (the server's full-rate set, if it holds). */
void tc_watch_report(int near, double move_hz, void (*pos_of)(int bot, float *x, float *y))
{
    report(near, move_hz, pos_of, 0);
    report(near, move_hz, pos_of, 1);
}
