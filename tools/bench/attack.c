/* gs_attack: attack a running gameserver while witnesses ping it.
 *
 *   gs_attack --port 7777 [--metrics-port 9177] [--pid PID] --attack all
 *             [--attackers 1] [--witnesses 1] [--witness-zones 1[,3]]
 *             [--baseline 5] [--duration 10] [--silent-cap 1000]
 *
 * Witnesses log in and ping at 20 Hz throughout; a baseline window is
 * measured, then each attack class runs for --duration seconds (one after
 * another for `all`), the witnesses' pongs are drained, and one markdown
 * table row per class is printed on stdout: witness p50/p99 baseline vs
 * during (per witness zone group), late pings, disconnects, and what the
 * attacker got back.  One progress line per second on stderr.  Exit 1 if a
 * witness was disconnected. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostile.h"

typedef struct opts_s {
    const char *host, *attack;
    uint16_t port, metrics_port;
    int pid, attackers, witnesses, ngroups, silent_cap, hz, churn_per_s;
    uint16_t zones[HA_MAX_GROUPS], attack_zone;
    double baseline_s, duration_s, settle_s;
} opts_t;

static opts_t O = {.host = "127.0.0.1",
                   .attack = "all",
                   .port = 7777,
                   .attackers = 1,
                   .witnesses = 1,
                   .ngroups = 1,
                   .zones = {0},
                   .silent_cap = 1000,
                   .hz = 20,
                   .baseline_s = 5,
                   .duration_s = 10,
                   .settle_s = 2};
static ha_wit_t *W;
static int cur_phase;

static void usage(FILE *f)
{
    fprintf(f, "usage: gs_attack [--host 127.0.0.1] [--port 7777] [--attack CLASS[,CLASS..]|all]\n"
               "                 [--attackers N] [--witnesses N] [--witness-zones Z1[,Z2..]]\n"
               "                 [--attack-zone Z] [--baseline S] [--duration S] [--settle S]\n"
               "                 [--silent-cap N] [--churn-rate N/s] [--hz 20] [--metrics-port P]\n"
               "                 [--pid PID]\n"
               "\n"
               "Witnesses witness0.. are spread over the --witness-zones groups (witness i in\n"
               "group i mod G; 0 = where login puts it); logged-in attackers attack0.. go to\n"
               "--attack-zone (default: the first witness zone).  --metrics-port: sessions and\n"
               "bad-input counters per class; --pid: server RSS and open fds per class.\n"
               "Classes:\n");
    for (int i = 0; i < ha_nclasses(); i++)
        fprintf(f, "  %-13s %s\n", ha_class_name(i), ha_class_what(i));
}

static int num(const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < lo || d > hi)
        return -1;
    *out = d;
    return 0;
}

static int parse_zones(const char *v)
{
    O.ngroups = 0;
    while (*v) {
        char *end;
        unsigned long z = strtoul(v, &end, 10);
        if (end == v || z > 65535 || O.ngroups == HA_MAX_GROUPS || (*end && *end != ','))
            return -1;
        O.zones[O.ngroups++] = (uint16_t)z;
        v = *end ? end + 1 : end;
    }
    return O.ngroups ? 0 : -1;
}

static int parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!v)
            return -1;
        if (!strcmp(k, "--host"))
            O.host = v;
        else if (!strcmp(k, "--attack"))
            O.attack = v;
        else if (!strcmp(k, "--port") && !num(v, 1, 65535, &d))
            O.port = (uint16_t)d;
        else if (!strcmp(k, "--metrics-port") && !num(v, 1, 65535, &d))
            O.metrics_port = (uint16_t)d;
        else if (!strcmp(k, "--pid") && !num(v, 1, 1 << 30, &d))
            O.pid = (int)d;
        else if (!strcmp(k, "--attackers") && !num(v, 1, 10000, &d))
            O.attackers = (int)d;
        else if (!strcmp(k, "--witnesses") && !num(v, 1, 1024, &d))
            O.witnesses = (int)d;
        else if (!strcmp(k, "--witness-zones")) {
            if (parse_zones(v) != 0)
                return -1;
        } else if (!strcmp(k, "--attack-zone") && !num(v, 0, 65535, &d))
            O.attack_zone = (uint16_t)d;
        else if (!strcmp(k, "--churn-rate") && !num(v, 0, 1e6, &d))
            O.churn_per_s = (int)d;
        else if (!strcmp(k, "--silent-cap") && !num(v, 1, 100000, &d))
            O.silent_cap = (int)d;
        else if (!strcmp(k, "--hz") && !num(v, 1, 1000, &d))
            O.hz = (int)d;
        else if (!strcmp(k, "--baseline") && !num(v, 0.5, 3600, &d))
            O.baseline_s = d;
        else if (!strcmp(k, "--duration") && !num(v, 0.2, 3600, &d))
            O.duration_s = d;
        else if (!strcmp(k, "--settle") && !num(v, 0, 600, &d))
            O.settle_s = d;
        else
            return -1;
    }
    if (!O.attack_zone)
        O.attack_zone = O.zones[0];
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* "p50/p99" of each group, "; " between groups. */
static void wit_text(int phase, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int g = 0; g < O.ngroups && n < cap; g++) {
        ha_wit_stats_t s;
        ha_wit_stats(W, g, phase, &s);
        int w = snprintf(buf + n, cap - n, "%s%.2f / %.2f", g ? "; " : "", s.p50_ms, s.p99_ms);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

static void on_progress(void *arg, const char *cls, double t, const ha_result_t *r)
{
    (void)arg;
    char wt[128], codes[256];
    wit_text(cur_phase, wt, sizeof wt);
    ha_codes_text(r, codes, sizeof codes);
    fprintf(stderr,
            "[%s %4.1fs] conns %llu  out %.1f MB  in %.1f MB  closes %llu  errors: %s  notices "
            "%llu | witness p50/p99 ms %s  disconnected %d\n",
            cls, t, (unsigned long long)r->conns, (double)r->bytes_out / 1e6,
            (double)r->bytes_in / 1e6, (unsigned long long)r->closes, codes,
            (unsigned long long)r->notices, wt, ha_wit_disconnected(W));
}

static double metric(const char *name)
{
    static char page[1 << 18];
    if (!O.metrics_port || ha_http_get(O.metrics_port, "/metrics", page, sizeof page) < 0)
        return -1;
    return ha_metric(page, name);
}

/* Waits (up to 15 s) for the server's live sessions to come back to base. */
static void settle(double base_sessions)
{
    uint64_t end = ha_now_ms() + 15000;
    if (base_sessions >= 0)
        while (metric("gs_sessions") > base_sessions && ha_now_ms() < end)
            sleep_ms(100);
    if (O.settle_s > 0)
        sleep_ms((int)(O.settle_s * 1000));
}

typedef struct row_s {
    char text[1024];
} row_t;

static void make_row(row_t *row, const char *cls, const ha_result_t *r, long rss0, long rss1,
                     int fd0, int fd1)
{
    char base[128], during[128], codes[256], proc[96] = "";
    wit_text(0, base, sizeof base);
    wit_text(cur_phase, during, sizeof during);
    ha_codes_text(r, codes, sizeof codes);
    ha_wit_stats_t all;
    ha_wit_stats(W, -1, cur_phase, &all);
    if (O.pid)
        snprintf(proc, sizeof proc, " %ld → %ld KiB, %d → %d fds |", rss0, rss1, fd0, fd1);
    snprintf(row->text, sizeof row->text,
             "| %s | %d | %.1f MB | %s | %s | %llu/%llu, %d | %llu conns, %llu closes, "
             "errors: %s, notices %llu%s%s |%s",
             cls, O.attackers, (double)r->bytes_out / 1e6, base, during,
             (unsigned long long)all.late, (unsigned long long)all.sent, all.disconnected,
             (unsigned long long)r->conns, (unsigned long long)r->closes, codes,
             (unsigned long long)r->notices, r->no_reason ? ", some attempts got no answer" : "",
             r->login_fail ? ", some logins failed" : "", proc);
}

int main(int argc, char **argv)
{
    if (parse(argc, argv) != 0) {
        fprintf(stderr, "gs_attack: bad arguments (see --help)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *list[64];
    int nl = 0;
    static char abuf[1024];
    if (!strcmp(O.attack, "all")) {
        for (int i = 0; i < ha_nclasses() && nl < 63; i++)
            list[nl++] = ha_class_name(i);
    } else {
        snprintf(abuf, sizeof abuf, "%s", O.attack);
        for (char *t = strtok(abuf, ","); t && nl < 63; t = strtok(NULL, ",")) {
            int ok = 0;
            for (int i = 0; i < ha_nclasses(); i++)
                ok |= !strcmp(t, ha_class_name(i));
            if (!ok) {
                fprintf(stderr, "gs_attack: unknown class '%s' (see --help)\n", t);
                return 2;
            }
            list[nl++] = t;
        }
    }
    ha_wit_opts_t wo = {
        .host = O.host, .port = O.port, .n = O.witnesses, .hz = O.hz, .groups = O.ngroups};
    memcpy(wo.zone, O.zones, sizeof wo.zone);
    if (ha_wit_start(&wo, &W, 30000) != 0)
        return 1;
    fprintf(stderr, "gs_attack: %d witnesses in %d zone group(s), baseline %.1f s\n", O.witnesses,
            O.ngroups, O.baseline_s);
    uint64_t t0 = ha_now_ms();
    while (ha_now_ms() - t0 < (uint64_t)(O.baseline_s * 1000)) {
        sleep_ms(1000);
        char wt[128];
        wit_text(0, wt, sizeof wt);
        fprintf(stderr, "[baseline %4.1fs] witness p50/p99 ms %s\n",
                (double)(ha_now_ms() - t0) / 1000.0, wt);
    }
    ha_wit_phase(W, HA_MAX_PHASES - 1); /* between windows: not counted */
    ha_wit_drain(W, 0, 5000);
    double base_sessions = metric("gs_sessions");

    static row_t rows[64];
    for (int i = 0; i < nl; i++) {
        long rss0 = O.pid ? ha_proc_rss_kb(O.pid) : -1;
        int fd0 = O.pid ? ha_proc_fds(O.pid) : -1;
        cur_phase = i + 1;
        ha_wit_phase(W, cur_phase);
        ha_attack_opts_t ao = {.host = O.host,
                               .port = O.port,
                               .attackers = O.attackers,
                               .silent_cap = O.silent_cap,
                               .churn_per_s = O.churn_per_s,
                               .zone = O.attack_zone,
                               .progress = on_progress};
        ha_result_t r;
        ha_attack(&ao, list[i], (int)(O.duration_s * 1000), &r);
        ha_wit_phase(W, HA_MAX_PHASES - 1);
        ha_wit_drain(W, cur_phase, 5000);
        long rss1 = O.pid ? ha_proc_rss_kb(O.pid) : -1;
        int fd1 = O.pid ? ha_proc_fds(O.pid) : -1;
        make_row(&rows[i], list[i], &r, rss0, rss1, fd0, fd1);
        fprintf(stderr, "%s\n", rows[i].text);
        if (i + 1 < nl)
            settle(base_sessions);
    }
    char zones[64] = "";
    for (int g = 0, n = 0; g < O.ngroups; g++)
        n += snprintf(zones + n, sizeof zones - (size_t)n, "%s%u", g ? "; " : "",
                      (unsigned)O.zones[g]);
    printf(
        "\nwitnesses %d (zone groups %s), attackers %d (zone %u), %.0f s per class, ping %d Hz\n\n",
        O.witnesses, zones, O.attackers, (unsigned)O.attack_zone, O.duration_s, O.hz);
    printf("| attack | attackers | sent | witness p50 / p99 ms, baseline (per zone group) | "
           "during | late pings / sent, disconnected | attacker got |%s\n",
           O.pid ? " server RSS, fds before → after |" : "");
    printf("|---|---|---|---|---|---|---|%s\n", O.pid ? "---|" : "");
    for (int i = 0; i < nl; i++)
        printf("%s\n", rows[i].text);
    int disc = ha_wit_disconnected(W);
    ha_wit_stop(W);
    return disc ? 1 : 0;
}
