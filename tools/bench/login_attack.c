/* login_attack: attacks a running login server (masterserver --login-port)
 * while a witness logs in to an account every --witness-ms, and prints the
 * witness's login time (p50/p99) and failures before, during and after.
 *
 *   login_attack --port 7002 --witness NAME --witness-password-file FILE
 *                --attack idle|hello|hash|reg|badpw|garbage [--conns N]
 *                [--duration S] [--baseline S] [--after S]
 *
 * The witness connects from 127.0.0.1; the attacker from --bind (default
 * 127.0.0.1 too; 127.0.0.2 makes it another address on loopback).
 * Classes (every attacker connection from one address):
 *   idle     N TCP connections that send nothing (held for the duration)
 *   hello    N connections that finish the handshake, then stay silent
 *   hash     N connections logging in back to back to the attacker's own
 *            account (created first; a right password never locks out)
 *   reg      N connections registering fresh names back to back
 *   badpw    N connections logging in with wrong passwords to random names
 *   garbage  N connections sending random bytes / junk boxes, reconnecting
 *
 * POSIX (blocking sockets: tests/integration/ls_client.c). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ls_client.h"

#define ATTACKER_PW "attacker password"

typedef struct opts_s {
    uint16_t port;
    const char *witness, *witness_pw_file, *attack, *bind;
    int conns, duration, baseline, after, witness_ms;
} opts_t;

static opts_t o = {.port = 7002,
                   .attack = "hash",
                   .conns = 64,
                   .duration = 10,
                   .baseline = 5,
                   .after = 5,
                   .witness_ms = 250};
static char witness_pw[160];
static atomic_int stop_attack, stop_witness, phase; /* 0 baseline, 1 during, 2 after */
static atomic_ullong n_req, n_ok, n_refused, n_closed;

typedef struct lat_s {
    double v[100000];
    int n, fail, codes[64];
} lat_t;
static lat_t lat[3];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(lat_t *l, double p)
{
    if (!l->n)
        return 0;
    qsort(l->v, (size_t)l->n, sizeof l->v[0], cmp_d);
    return l->v[(int)(p * (l->n - 1) + 0.5)];
}

/* One witness login: connect, handshake, login, close. */
static void *witness_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_witness)) {
        double t = now_ms();
        ls_client_t c;
        int code = ls_connect(&c, o.port, 10000) == 0
                       ? ls_login(&c, o.witness, witness_pw, NULL, 20000)
                       : -1;
        ls_close(&c);
        lat_t *l = &lat[atomic_load(&phase)];
        double ms = now_ms() - t;
        if (code == 0 && l->n < 100000)
            l->v[l->n++] = ms;
        else {
            l->fail++;
            l->codes[code < 0 ? 0 : code < 64 ? code : 63]++;
        }
        int rest = o.witness_ms - (int)ms;
        sleep_ms(rest > 10 ? rest : 10);
    }
    return NULL;
}

static void count(int code)
{
    atomic_fetch_add(&n_req, 1);
    atomic_fetch_add(code == 0 ? &n_ok : code > 0 ? &n_refused : &n_closed, 1);
}

static void *attack_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seed = (unsigned)id * 2654435761u ^ (unsigned)getpid();
    char name[32], pw[40];
    ls_client_t c = {.fd = -1};
    int up = 0;
    for (int k = 0; !atomic_load(&stop_attack); k++) {
        if (!strcmp(o.attack, "garbage")) {
            if (ls_connect_tcp_src(&c, o.port, o.bind) == 0) {
                uint8_t junk[512];
                for (size_t i = 0; i < sizeof junk; i++)
                    junk[i] = (uint8_t)rand_r(&seed);
                int type = k % 3 == 0 ? PROTO_T_SECURE_HELLO : k % 3 == 1 ? PROTO_T_SEALED_C2S : 22;
                ls_send_raw(&c, (uint16_t)type, junk, (size_t)(rand_r(&seed) % sizeof junk));
                count(ls_expect_close(&c, 5000) == 0 ? -1 : 1);
            }
            ls_close(&c);
            continue;
        }
        if (!up) {
            if (ls_connect_src(&c, o.port, o.bind, 10000) != 0) {
                count(-1);
                ls_close(&c);
                sleep_ms(50);
                continue;
            }
            up = 1;
        }
        int code = -1;
        if (!strcmp(o.attack, "hash")) {
            code = ls_login(&c, "attacker", ATTACKER_PW, NULL, 30000);
        } else if (!strcmp(o.attack, "reg")) {
            snprintf(name, sizeof name, "atk%d-%d-%u", id, k, (unsigned)rand_r(&seed) % 100000);
            code = ls_register(&c, name, ATTACKER_PW, NULL, 30000);
        } else if (!strcmp(o.attack, "badpw")) {
            snprintf(name, sizeof name, "victim%u", (unsigned)rand_r(&seed) % 100000);
            snprintf(pw, sizeof pw, "wrong-%u-pass", (unsigned)rand_r(&seed));
            code = ls_login(&c, name, pw, NULL, 30000);
        }
        count(code);
        if (code < 0) {
            ls_close(&c);
            up = 0;
        }
    }
    ls_close(&c);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: login_attack --port P --witness NAME --witness-password-file FILE\n"
                    "       --attack idle|hello|hash|reg|badpw|garbage [--conns N] [--duration S]\n"
                    "       [--baseline S] [--after S] [--witness-ms MS] [--bind 127.0.0.2]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "--port"))
            o.port = (uint16_t)atoi(v);
        else if (!strcmp(a, "--witness"))
            o.witness = v;
        else if (!strcmp(a, "--witness-password-file"))
            o.witness_pw_file = v;
        else if (!strcmp(a, "--attack"))
            o.attack = v;
        else if (!strcmp(a, "--conns"))
            o.conns = atoi(v);
        else if (!strcmp(a, "--duration"))
            o.duration = atoi(v);
        else if (!strcmp(a, "--baseline"))
            o.baseline = atoi(v);
        else if (!strcmp(a, "--after"))
            o.after = atoi(v);
        else if (!strcmp(a, "--bind"))
            o.bind = v;
        else if (!strcmp(a, "--witness-ms"))
            o.witness_ms = atoi(v);
        else
            usage();
        i++;
    }
    if (!o.witness || !o.witness_pw_file || o.conns < 1 || o.conns > 20000)
        usage();
    FILE *f = fopen(o.witness_pw_file, "r");
    if (!f || !fgets(witness_pw, sizeof witness_pw, f)) {
        fprintf(stderr, "login_attack: cannot read %s\n", o.witness_pw_file);
        return 2;
    }
    fclose(f);
    witness_pw[strcspn(witness_pw, "\r\n")] = 0;
    if (!strcmp(o.attack, "hash")) { /* the attacker's own account */
        ls_client_t c;
        int code = ls_connect_src(&c, o.port, o.bind, 10000) == 0
                       ? ls_register(&c, "attacker", ATTACKER_PW, NULL, 30000)
                       : -1;
        ls_close(&c);
        if (code != 0 && code != PROTO_ERR_NAME_TAKEN) {
            fprintf(stderr, "login_attack: cannot register 'attacker': %d\n", code);
            return 1;
        }
    }
    pthread_t wt;
    pthread_create(&wt, NULL, witness_thread, NULL);
    sleep_ms(o.baseline * 1000);
    atomic_store(&phase, 1);
    fprintf(stderr, "login_attack: %s x %d for %d s\n", o.attack, o.conns, o.duration);
    int held = 0, *fds = NULL;
    pthread_t *th = NULL;
    int nth = 0;
    if (!strcmp(o.attack, "idle") || !strcmp(o.attack, "hello")) {
        fds = calloc((size_t)o.conns, sizeof *fds);
        ls_client_t *cs = calloc((size_t)o.conns, sizeof *cs);
        for (int i = 0; i < o.conns && cs; i++) {
            int rc = !strcmp(o.attack, "idle") ? ls_connect_tcp_src(&cs[i], o.port, o.bind)
                                               : ls_connect_src(&cs[i], o.port, o.bind, 3000);
            fds[i] = rc == 0 ? cs[i].fd : -1;
            held += rc == 0;
            if (rc == 0)
                cs[i].fd = -1; /* keep the fd, free the client */
            pa_chan_wipe(&cs[i].ch);
        }
        free(cs);
        fprintf(stderr, "login_attack: %d connections open\n", held);
        sleep_ms(o.duration * 1000);
        int alive = 0;
        for (int i = 0; i < o.conns; i++) {
            if (fds[i] < 0)
                continue;
            char b;
            alive += recv(fds[i], &b, 1, MSG_DONTWAIT) < 0; /* EAGAIN: still open */
            close(fds[i]);
        }
        fprintf(stderr, "login_attack: %d still open at the end\n", alive);
    } else {
        th = calloc((size_t)o.conns, sizeof *th);
        for (; th && nth < o.conns; nth++)
            if (pthread_create(&th[nth], NULL, attack_thread, (void *)(intptr_t)nth) != 0)
                break;
        sleep_ms(o.duration * 1000);
        atomic_store(&stop_attack, 1);
        for (int i = 0; i < nth; i++)
            pthread_join(th[i], NULL);
    }
    atomic_store(&phase, 2);
    sleep_ms(o.after * 1000);
    atomic_store(&stop_witness, 1);
    pthread_join(wt, NULL);
    printf("| %s x%d | %.1f / %.1f ms (%d ok, %d failed) | %.1f / %.1f ms (%d ok, %d failed) "
           "| %.1f / %.1f ms (%d failed) | attacker: %llu requests, %llu ok, %llu refused, %llu "
           "closed/timeouts |\n",
           o.attack, o.conns, pct(&lat[0], .5), pct(&lat[0], .99), lat[0].n, lat[0].fail,
           pct(&lat[1], .5), pct(&lat[1], .99), lat[1].n, lat[1].fail, pct(&lat[2], .5),
           pct(&lat[2], .99), lat[2].fail, (unsigned long long)n_req, (unsigned long long)n_ok,
           (unsigned long long)n_refused, (unsigned long long)n_closed);
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < 64; k++)
            if (lat[p].codes[k])
                printf("  phase %d: witness failure code %d x%d\n", p, k ? k : -1, lat[p].codes[k]);
    free(th);
    free(fds);
    return 0;
}
