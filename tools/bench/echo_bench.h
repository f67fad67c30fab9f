/* echo_bench.h: shared by bench_echo's load generator (bench_echo.c) and its
 * --suite driver (echo_suite.c), which spawns the servers and prints the
 * table.  Benchmark-internal; nothing here links netcore. */
#ifndef ECHO_BENCH_H
#define ECHO_BENCH_H

#include <stdint.h>
#include <sys/types.h>

typedef struct opts_s {
    const char *host;
    int port;
    int conns;
    int inflight;
    int body;        /* body bytes per packet; >= 4 carries a sequence number */
    double warmup;   /* seconds */
    double duration; /* seconds */
    int threads;
    int pin; /* -1 = no pinning, else first CPU for generator threads */
    int quiet;
    int suite;
    int repeat;    /* suite: runs per cell, the median by rt/s is reported */
    pid_t srv_pid; /* standalone: server to charge CPU time to, 0 = none */
    const char *uv_path, *nc_path, *nc_args;
} opts_t;

typedef struct result_s {
    double rt_per_s;
    double p50_us, p99_us, p999_us, max_us;
    double srv_cpu_us_rt; /* server CPU per round trip; < 0 when unknown */
    uint64_t round_trips, errors;
    int ok;
} result_t;

uint64_t now_ns(void);
/* One load run against host:port; srv_pid (0 = none) is charged CPU time. */
int run_load(const opts_t *o, const char *label, const char *host, int port, pid_t srv_pid,
             result_t *r);
/* Spawns uv_echo_peer and nc_echo_server, runs the matrix, prints the table. */
int run_suite(const opts_t *base);

#endif
