/* bench_zone: cost of one zone's tick with N simulated players moving every
 * tick (grid interest vs zone-wide fan-out), and a 10,000-character autosave
 * transaction on the db queue while a 2,000-player zone keeps ticking. */
#define _POSIX_C_SOURCE 200809L
#include "content_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZONE_W 1000.0f
#define HZ 20

static atomic_uint_fast64_t sends;

static int count_send(void *ud, nc_sid_t sid, nc_packet_t *p)
{
    (void)ud;
    (void)sid;
    (void)p;
    atomic_fetch_add_explicit(&sends, 1, memory_order_relaxed);
    return 0;
}

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 16777216.0f;
}

static const char *zone_file(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/bench_zone_%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"zones\":[{\"id\":1,\"name\":\"bench\",\"width\":%g,\"height\":%g,"
            "\"spawn\":{\"x\":500,\"y\":500}}]}",
            ZONE_W, ZONE_W);
    fclose(f);
    return path;
}

typedef struct env_s {
    nc_pool_t *pool;
    nc_queue_t *game, *db;
    content_world_t *w;
    char db_path[64];
} env_t;

static void env_open(env_t *e, int interest, int manual)
{
    nc_pool_opts_t po = {.name = "bench", .threads = 2};
    nc_pool_create(&po, &e->pool);
    nc_queue_opts_t g = {.name = "game", .max_threads = 2, .priority = NC_PRIO_HIGH};
    nc_queue_opts_t d = {.name = "db", .max_threads = 1, .priority = NC_PRIO_NORMAL};
    nc_queue_create(e->pool, &g, &e->game);
    nc_queue_create(e->pool, &d, &e->db);
    snprintf(e->db_path, sizeof e->db_path, "/tmp/bench_zone_%d.db", (int)getpid());
    content_opts_t o = {.game_queue = e->game,
                        .db_queue = e->db,
                        .db_path = e->db_path,
                        .zones_file = zone_file(),
                        .tick_hz = HZ,
                        .view_radius = 50,
                        .max_speed = 10,
                        .interest = interest,
                        .chat_per_s = 1,
                        .chat_burst = 5,
                        .chat_mute_ms = 1000,
                        .autosave_ms = 0,
                        .send_fn = count_send,
                        .manual_tick = manual};
    char err[256];
    if (content_world_create(&o, &e->w, err, sizeof err) != 0) {
        fprintf(stderr, "bench_zone: %s\n", err);
        exit(1);
    }
}

static void env_close(env_t *e)
{
    content_world_destroy(e->w);
    nc_pool_destroy(e->pool);
}

/* Adds n players at random positions; caller must be the zone's only user. */
static void add_players(zone_t *z, int n)
{
    for (int i = 0; i < n; i++) {
        content_char_t c = {.id = i + 1, .zone = 1, .x = frand() * ZONE_W, .y = frand() * ZONE_W};
        snprintf(c.name, sizeof c.name, "bot%d", i);
        zone_add_player(z, player_new(z->w, &c, (nc_sid_t)(i + 1), (uint32_t)(i + 1)));
    }
}

/* Every player takes one legal step (max_speed / HZ) in a random direction. */
static void move_all(zone_t *z)
{
    for (uint32_t i = 0; i < z->nall; i++) {
        player_t *p = z->all[i];
        float a = frand() * 6.2831853f, step = 10.0f / HZ;
        p->ent.x = fminf(fmaxf(p->ent.x + cosf(a) * step, 0), ZONE_W);
        p->ent.y = fminf(fmaxf(p->ent.y + sinf(a) * step, 0), ZONE_W);
        p->ver++; /* as on_move: neighbours get it in the tick's entity_updates */
        zone_mark_dirty(z, p);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_tick(int n, int interest, int ticks)
{
    env_t e;
    env_open(&e, interest, 1);
    zone_t *z = &e.w->zones[0];
    add_players(z, n);
    uint64_t *us = malloc((size_t)ticks * sizeof *us), notes = 0;
    for (int t = 0; t < ticks; t++) {
        move_all(z);
        uint64_t t0 = nc_now_ns();
        notes += zone_tick(z);
        us[t] = (nc_now_ns() - t0) / 1000u;
    }
    qsort(us, (size_t)ticks, sizeof *us, cmp_u64);
    printf("| %5d | %-8s | %9.3f | %9.3f | %12.0f | %s |\n", n, interest ? "grid" : "none",
           (double)us[ticks / 2] / 1000.0, (double)us[(ticks * 99) / 100] / 1000.0,
           (double)notes / ticks, us[(ticks * 99) / 100] < 1000000 / HZ ? "yes" : "no");
    free(us);
    env_close(&e);
    remove(e.db_path);
}

typedef struct live_s {
    zone_t *z;
    int n;
    uint64_t last_ns, max_gap_ns;
    int armed;
} live_t;

static void live_add_job(void *arg)
{
    live_t *l = arg;
    add_players(l->z, l->n);
}

/* Runs on the zone strand beside the zone's own tick timer. */
static void live_move_job(void *arg)
{
    live_t *l = arg;
    uint64_t now = nc_now_ns();
    if (l->armed && l->last_ns && now - l->last_ns > l->max_gap_ns)
        l->max_gap_ns = now - l->last_ns;
    l->last_ns = now;
    move_all(l->z);
}

static void create_characters(content_world_t *w, int n, content_pos_t *v)
{
    for (int i = 0; i < n; i++) {
        char name[32];
        content_char_t c;
        snprintf(name, sizeof name, "saver%d", i);
        content_db_load_or_create(w->db, name, 1, 1, 1, 1, &c);
        v[i] = (content_pos_t){c.id, 1, frand() * ZONE_W, frand() * ZONE_W, i, ""};
    }
}

static void bench_autosave(int nchars, int nplayers)
{
    env_t e;
    env_open(&e, 1, 0);
    zone_t *z = &e.w->zones[0];
    live_t l = {z, nplayers, 0, 0, 0};
    content_pos_t *v = malloc((size_t)nchars * sizeof *v);
    uint64_t c0 = nc_now_ns();
    create_characters(e.w, nchars, v); /* no db jobs run yet: direct use is safe */
    double create_s = (double)(nc_now_ns() - c0) / 1e9;
    nc_strand_post(z->strand, live_add_job, &l);
    world_fence(z->strand);
    nc_timer_id_t mover;
    nc_timer_start(z->strand, 1000 / HZ, 1000 / HZ, live_move_job, &l, &mover);
    world_fence(z->strand);
    l.armed = 1;
    uint64_t t0 = nc_now_ns(), ticks0 = atomic_load(&z->ticks), worst = 0, total = 0;
    int saves = 0;
    while (nc_now_ns() - t0 < 2000000000ull) {
        uint64_t s0 = nc_now_ns();
        world_save_async(e.w, v, (size_t)nchars);
        world_fence(e.w->db_strand);
        uint64_t d = nc_now_ns() - s0;
        total += d;
        worst = d > worst ? d : worst;
        saves++;
    }
    double secs = (double)(nc_now_ns() - t0) / 1e9;
    double rate = (double)(atomic_load(&z->ticks) - ticks0) / secs;
    nc_timer_cancel(e.pool, mover);
    world_fence(z->strand);
    printf("| %6d | %6.3f | %5d | %8.1f | %8.1f | %5d | %6.1f Hz | %7.1f |\n", nchars, create_s,
           saves, (double)total / saves / 1e6, (double)worst / 1e6, nplayers, rate,
           (double)l.max_gap_ns / 1e6);
    free(v);
    env_close(&e);
    remove(e.db_path);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Crowd (issue 15): n players in a disc of radius 30 around the zone's
 * centre (everyone sees everyone), each taking a 0.8-unit step every 4th tick
 * (the bots' 5 Hz at 20 Hz), opts as the gameserver's defaults. */
static void bench_crowd(int n, int ticks, uint32_t full, float slack)
{
    env_t e;
    env_open(&e, 1, 1);
    zone_t *z = &e.w->zones[0];
    z->full_n = full;
    e.w->o.view_slack = slack;
    if (getenv("BUDGET_US"))
        z->budget_us = strtoull(getenv("BUDGET_US"), NULL, 10);
    for (int i = 0; i < n; i++) {
        float r = 30.0f * sqrtf(frand()), a = frand() * 6.2831853f;
        content_char_t c = {.id = i + 1, .zone = 1, .x = 500 + r * cosf(a), .y = 500 + r * sinf(a)};
        snprintf(c.name, sizeof c.name, "bot%d", i);
        zone_add_player(z, player_new(z->w, &c, (nc_sid_t)(i + 1), (uint32_t)(i + 1)));
    }
    zone_tick(z); /* the arrivals' spawns */
    uint64_t *us = malloc((size_t)ticks * sizeof *us), notes = 0, up0 = atomic_load(&z->updates);
    for (int t = 0; t < ticks; t++) {
        for (uint32_t i = 0; i < z->nall; i++) {
            player_t *p = z->all[i];
            if ((i + (uint32_t)t) % 4)
                continue;
            float a = frand() * 6.2831853f;
            p->ent.x += cosf(a) * 0.8f;
            p->ent.y += sinf(a) * 0.8f;
            p->ver++;
            zone_mark_dirty(z, p);
        }
        uint64_t t0 = thread_cpu_ns(); /* CPU, not wall: the machine is shared */
        notes += zone_tick(z);
        us[t] = (thread_cpu_ns() - t0) / 1000u;
    }
    uint64_t ups = atomic_load(&z->updates) - up0;
    qsort(us, (size_t)ticks, sizeof *us, cmp_u64);
    printf("| %5d | %4u | %4.1f | %9.3f | %9.3f | %9.0f | %9.0f | %u |\n", n, full, (double)slack,
           (double)us[ticks / 2] / 1000.0, (double)us[(ticks * 99) / 100] / 1000.0,
           (double)notes / ticks, (double)ups / ticks, atomic_load(&z->divider_now));
    free(us);
    env_close(&e);
    remove(e.db_path);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--crowd") == 0) {
        int n = argc > 2 ? atoi(argv[2]) : 1000;
        nc_log_set_level(NC_LOG_WARN);
        printf("| players | full | slack | tick CPU p50 ms | tick CPU p99 ms | packets/tick | "
               "positions/tick | divider |\n|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        bench_crowd(n, 200, 64, 3);
        bench_crowd(n, 200, 64, 0);
        bench_crowd(n, 100, 0, 3);
        return 0;
    }
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    nc_log_set_level(NC_LOG_WARN);
    printf("Zone tick: N players in one %gx%g zone, each moving every tick, view radius 50, "
           "%d Hz (budget %d ms)\n\n",
           ZONE_W, ZONE_W, HZ, 1000 / HZ);
    printf("| players | interest | tick p50 ms | tick p99 ms | notifications/tick | fits %d Hz |\n",
           HZ);
    printf("|------:|----------|----------:|----------:|-------------:|----|\n");
    int sizes[] = {500, 2000, 5000};
    for (int i = 0; i < 3; i++) {
        bench_tick(sizes[i], 1, quick ? 20 : 200);
        bench_tick(sizes[i], 0, quick ? 3 : sizes[i] > 2000 ? 10 : 40);
    }
    printf("\nAutosave: one transaction of N positions on the db queue, repeated for 2 s, "
           "while a zone with P players ticks at %d Hz on the game queue (2 workers)\n\n",
           HZ);
    printf("| chars | create s | saves | avg ms | max ms | players | tick rate | max gap ms |\n");
    printf("|------:|------:|-----:|------:|------:|------:|------:|------:|\n");
    bench_autosave(quick ? 1000 : 10000, 2000);
    return 0;
}
