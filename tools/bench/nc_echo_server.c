/* nc_echo_server: netcore echo server for bench_echo, in the product's shape:
 * one engine, one pool with a queue "game", and a server role whose on_packet
 * handler (a job on a pool worker) echoes each packet with nc_send. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "netcore.h"

static void on_packet(nc_session_t *s, uint16_t type, const uint8_t *body, size_t len, void *ud)
{
    (void)ud;
    int rc = nc_send(s, type, body, len);
    if (rc < 0 && rc != NC_ECLOSED)
        nc_session_close(s, rc, nc_strerror(rc));
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

typedef struct args_s {
    const char *host;
    int port, io_threads, workers, cap, io_preempt;
    nc_log_level_t log;
} args_t;

static int parse(int argc, char **argv, args_t *a)
{
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (!strcmp(argv[i], "--host"))
            a->host = v;
        else if (!strcmp(argv[i], "--port"))
            a->port = atoi(v);
        else if (!strcmp(argv[i], "--io-threads"))
            a->io_threads = atoi(v);
        else if (!strcmp(argv[i], "--workers"))
            a->workers = atoi(v);
        else if (!strcmp(argv[i], "--cap"))
            a->cap = atoi(v);
        else if (!strcmp(argv[i], "--io-preempt"))
            a->io_preempt = atoi(v);
        else if (!strcmp(argv[i], "--log") && nc_log_level_parse(v, &a->log) == 0)
            ;
        else
            return -1;
    }
    if (a->cap <= 0)
        a->cap = a->workers;
    return a->port < 0 || a->port > 65535 || a->io_threads < 1 || a->workers < 1 ? -1 : 0;
}

static void print_stats(nc_server_t *srv, nc_pool_t *pool)
{
    nc_role_stats_t rs;
    nc_server_stats(srv, &rs);
    nc_queue_stats_t qs;
    nc_pool_stats(pool, &qs, 1);
    fprintf(stderr,
            "nc_echo_server: sessions %llu, packets in %llu out %llu, read pauses %llu; "
            "queue %s: jobs %llu, max running %d, wait p50 %llu us p99 %llu us\n",
            (unsigned long long)rs.sessions_total, (unsigned long long)rs.packets_in,
            (unsigned long long)rs.packets_out, (unsigned long long)rs.read_pauses, qs.name,
            (unsigned long long)qs.jobs_run, qs.max_running_seen,
            (unsigned long long)qs.wait_p50_us, (unsigned long long)qs.wait_p99_us);
}

int main(int argc, char **argv)
{
    args_t a = {.host = "127.0.0.1", .io_threads = 1, .workers = 1, .log = NC_LOG_WARN};
    if (parse(argc, argv, &a) < 0) {
        fprintf(stderr, "usage: nc_echo_server [--host 127.0.0.1] [--port 0] [--io-threads 1]\n"
                        "                      [--workers 1] [--cap workers] [--io-preempt 0|1]\n"
                        "                      [--log warn]\n");
        return 2;
    }
    nc_log_set_level(a.log);
    raise_nofile();
    /* Block the stop signals before any thread exists; main takes them with
     * sigwait, so no handler runs on an engine or pool thread. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    nc_pool_t *pool = NULL;
    nc_queue_t *game = NULL;
    nc_engine_t *eng = NULL;
    nc_server_t *srv = NULL;
    nc_pool_opts_t po = {.name = "echo", .threads = a.workers};
    nc_queue_opts_t qo = {.name = "game", .max_threads = a.cap, .priority = NC_PRIO_HIGH};
    nc_engine_opts_t eo = {.io_threads = a.io_threads, .io_preempt = a.io_preempt};
    nc_role_opts_t ro = {.name = "echo", .handlers = {.on_packet = on_packet}};
    int rc = nc_pool_create(&po, &pool);
    if (rc == 0)
        rc = nc_queue_create(pool, &qo, &game);
    if (rc == 0)
        rc = nc_engine_create(&eo, &eng);
    ro.queue = game;
    if (rc == 0)
        rc = nc_server_create(eng, a.host, (uint16_t)a.port, &ro, &srv);
    if (rc < 0) {
        fprintf(stderr, "nc_echo_server: start failed: %s\n", nc_strerror(rc));
        return 1;
    }
    printf("READY port=%u\n", (unsigned)nc_server_port(srv));
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    print_stats(srv, pool);
    nc_server_destroy(srv);
    nc_engine_destroy(eng);
    nc_pool_destroy(pool);
    return 0;
}
