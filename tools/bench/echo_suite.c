/* echo_suite.c: bench_echo --suite.  Starts uv_echo_peer and nc_echo_server
 * (next to bench_echo) as children, waits for READY, runs the same load matrix
 * against both, stops them and prints a markdown table with the ratios. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "echo_bench.h"

/* ---- suite: spawn the servers, run the matrix, print the table ------------ */

typedef struct child_s {
    pid_t pid;
    int out_fd; /* kept open so a late write to stdout cannot SIGPIPE it */
    int port;
} child_t;

static int child_wait_ready(child_t *ch, int ms)
{
    char buf[512];
    size_t len = 0;
    uint64_t deadline = now_ns() + (uint64_t)ms * 1000000ull;
    while (now_ns() < deadline) {
        struct pollfd pfd = {.fd = ch->out_fd, .events = POLLIN};
        int left = (int)((deadline - now_ns()) / 1000000ull) + 1;
        if (poll(&pfd, 1, left) <= 0)
            continue;
        ssize_t n = read(ch->out_fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = 0;
        char *p = strstr(buf, "READY port=");
        if (p && strchr(p, '\n')) {
            ch->port = atoi(p + 11);
            return ch->port > 0 ? 0 : -1;
        }
        if (len == sizeof(buf) - 1)
            len = 0;
    }
    return -1;
}

/* With --pin, the servers run on the CPUs the generator does not use, so
 * both servers get the same CPUs and neither competes with the generator. */
static cpu_set_t server_cpus;
static int server_cpus_set;

static void plan_server_cpus(const opts_t *o)
{
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (o->pin < 0 || ncpu < 2)
        return;
    CPU_ZERO(&server_cpus);
    for (int c = 0; c < ncpu; c++)
        CPU_SET(c, &server_cpus);
    for (int t = 0; t < o->threads; t++)
        CPU_CLR((o->pin + t) % ncpu, &server_cpus);
    server_cpus_set = CPU_COUNT(&server_cpus) > 0;
    if (!server_cpus_set)
        fprintf(stderr, "bench_echo: --pin leaves no CPU for the servers; not pinning them\n");
}

static int child_spawn(const char *path, const char *extra, child_t *ch)
{
    char *argv[32], *copy = strdup(extra ? extra : "");
    int argc = 0;
    argv[argc++] = (char *)path;
    argv[argc++] = "--port";
    argv[argc++] = "0";
    for (char *tok = strtok(copy, " "); tok && argc < 31; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (server_cpus_set)
            sched_setaffinity(0, sizeof(server_cpus), &server_cpus);
        dup2(pfd[1], STDOUT_FILENO);
        execv(path, argv);
        _exit(127);
    }
    free(copy);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -1;
    }
    ch->pid = pid;
    ch->out_fd = pfd[0];
    if (child_wait_ready(ch, 10000) < 0) {
        fprintf(stderr, "bench_echo: %s did not print READY within 10 s\n", path);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(pfd[0]);
        return -1;
    }
    return 0;
}

static void child_stop(child_t *ch)
{
    if (ch->pid <= 0)
        return;
    kill(ch->pid, SIGTERM);
    int st;
    uint64_t deadline = now_ns() + 5000000000ull;
    while (waitpid(ch->pid, &st, WNOHANG) == 0) {
        if (now_ns() > deadline) {
            fprintf(stderr, "bench_echo: pid %d ignored SIGTERM, killing\n", (int)ch->pid);
            kill(ch->pid, SIGKILL);
            waitpid(ch->pid, &st, 0);
            break;
        }
        usleep(10000);
    }
    close(ch->out_fd);
    ch->pid = 0;
}

static void sibling_path(const char *name, char *out, size_t cap)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        slash[1] = 0;
    else
        strcpy(self, "./");
    snprintf(out, cap, "%s%s", self, name);
}

enum { SRV_UV, SRV_NC, SRV_COUNT };
static const char *const srv_label[SRV_COUNT] = {"libuv", "netcore"};

static int cmp_rt(const void *a, const void *b)
{
    double x = ((const result_t *)a)->rt_per_s, y = ((const result_t *)b)->rt_per_s;
    return (x > y) - (x < y);
}

/* Runs one matrix row `repeat` times per server, alternating which server
 * goes first so background load on a shared machine hits both alike, and
 * keeps each server's median run by rt/s. */
static void suite_row(const opts_t *o, const child_t *ch, result_t out[SRV_COUNT])
{
    result_t runs[SRV_COUNT][16];
    int n = o->repeat < 1 ? 1 : o->repeat > 16 ? 16 : o->repeat, got[SRV_COUNT] = {0};
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < SRV_COUNT; k++) {
            int srv = (i & 1) ? SRV_COUNT - 1 - k : k;
            if (ch[srv].pid <= 0)
                continue;
            if (run_load(o, srv_label[srv], o->host, ch[srv].port, ch[srv].pid,
                         &runs[srv][got[srv]]) == 0)
                got[srv]++;
            usleep(300000); /* let the server finish closing the previous sessions */
        }
    }
    for (int srv = 0; srv < SRV_COUNT; srv++) {
        memset(&out[srv], 0, sizeof(out[srv]));
        if (!got[srv])
            continue;
        qsort(runs[srv], (size_t)got[srv], sizeof(result_t), cmp_rt);
        out[srv] = runs[srv][got[srv] / 2];
    }
}

static void print_row(const char *srv, const opts_t *o, const result_t *r, const char *ratios)
{
    if (!r->rt_per_s) {
        printf("| %s | %d | %d | n/a | n/a | n/a | n/a | %s |\n", srv, o->conns, o->inflight,
               ratios);
        return;
    }
    printf("| %s | %d | %d | %.0f | %.1f | %.1f | %.2f | %s |%s\n", srv, o->conns, o->inflight,
           r->rt_per_s, r->p50_us, r->p99_us, r->srv_cpu_us_rt, ratios,
           r->errors ? " errors!" : "");
}

int run_suite(const opts_t *base)
{
    static const int matrix[][2] = {{64, 1}, {64, 8}, {1000, 1}, {1000, 8}};
    char uvp[4200], ncp[4200];
    sibling_path("uv_echo_peer", uvp, sizeof(uvp));
    sibling_path("nc_echo_server", ncp, sizeof(ncp));
    const char *paths[SRV_COUNT] = {base->uv_path ? base->uv_path : uvp,
                                    base->nc_path ? base->nc_path : ncp};
    const char *args[SRV_COUNT] = {"", base->nc_args};
    child_t ch[SRV_COUNT];
    memset(ch, 0, sizeof(ch));
    plan_server_cpus(base);
    for (int s = 0; s < SRV_COUNT; s++) {
        if (access(paths[s], X_OK) != 0)
            fprintf(stderr, "bench_echo: %s not found, its rows are n/a\n", paths[s]);
        else if (child_spawn(paths[s], args[s], &ch[s]) < 0)
            memset(&ch[s], 0, sizeof(ch[s]));
    }
    result_t res[4][SRV_COUNT];
    for (int m = 0; m < 4; m++) {
        opts_t o = *base;
        o.conns = matrix[m][0];
        o.inflight = matrix[m][1];
        suite_row(&o, ch, res[m]);
    }
    for (int s = 0; s < SRV_COUNT; s++)
        child_stop(&ch[s]);
    printf("| server | conns | inflight | rt/s | p50 us | p99 us | server CPU us/rt "
           "| netcore/libuv: rt/s | CPU/rt |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int m = 0; m < 4; m++) {
        opts_t o = *base;
        o.conns = matrix[m][0];
        o.inflight = matrix[m][1];
        const result_t *u = &res[m][SRV_UV], *n = &res[m][SRV_NC];
        char ratio[64] = "n/a | n/a";
        if (u->rt_per_s > 0 && n->rt_per_s > 0)
            snprintf(ratio, sizeof(ratio), "**%.2fx** | %.2fx", n->rt_per_s / u->rt_per_s,
                     u->srv_cpu_us_rt > 0 ? n->srv_cpu_us_rt / u->srv_cpu_us_rt : 0.0);
        print_row(srv_label[SRV_UV], &o, &res[m][SRV_UV], " | ");
        print_row(srv_label[SRV_NC], &o, &res[m][SRV_NC], ratio);
    }
    fflush(stdout);
    return 0;
}
