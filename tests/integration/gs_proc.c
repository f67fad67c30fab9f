/* The gameserver process of gs_harness.h (gs_proc_*), on tl_server.h. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_harness.h"

/* The tests' copies of p->s. */
static void sync_view(gs_proc_t *p)
{
    p->pid = p->s.p.pid > 0 ? (pid_t)p->s.p.pid : -1;
    p->port = (uint16_t)p->s.port;
    p->metrics_port = (uint16_t)p->s.metrics_port;
    p->admin_port = (uint16_t)p->s.admin_port;
}

void gs_proc_init(gs_proc_t *p)
{
    memset(p, 0, sizeof *p);
    if (tl_server_init(&p->s, "gs_it") != 0)
        abort();
    snprintf(p->dir, sizeof p->dir, "%s", p->s.dir);
    snprintf(p->db, sizeof p->db, "%s", p->s.db);
    p->pid = -1;
}

int gs_proc_start(gs_proc_t *p, const char *const *extra, int timeout_ms)
{
    int rc = tl_server_start_game(&p->s, GS_BIN, extra, timeout_ms);
    sync_view(p);
    if (rc != 0)
        fprintf(stderr, "gameserver did not become READY; see above\n");
    return rc;
}

int gs_proc_stop(gs_proc_t *p, int sig, int timeout_ms)
{
    int st = tl_server_stop(&p->s, sig, timeout_ms);
    sync_view(p);
    return st;
}

int gs_run_capture(const char *const *args, char *err, size_t errlen, int timeout_ms)
{
    static tl_server_t t;
    /* no fixed port even if a config is (wrongly) accepted: args may
     * override these, later flags win; as gs_proc_start: args may set
     * auth.mode=ticket */
    const char *argv[32] = {
        GS_BIN, "--port",        "0", "--metrics-port", "-1",           "--chat-port",
        "0",    "--master-port", "0", "--set",          "auth.mode=dev"};
    int n = 11;
    for (; *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    int st = -1;
    err[0] = 0;
    if (tl_server_init(&t, "gs_cap") == 0 && tl_proc_spawn(&t.p, argv, 0, t.log) == 0) {
        st = tl_proc_wait_exit(&t.p, timeout_ms);
        tl_server_read_log(&t, err, errlen);
    }
    tl_server_cleanup(&t);
    return st;
}

void gs_proc_cleanup(gs_proc_t *p)
{
    if (getenv("GS_DUMP"))
        tl_server_dump_log(&p->s, 0);
    tl_server_cleanup(&p->s);
    sync_view(p);
}

int gs_proc_wait_log(gs_proc_t *p, const char *needle, int timeout_ms)
{
    return tl_server_wait_log(&p->s, needle, timeout_ms);
}

int gs_proc_finish(gs_proc_t *p)
{
    int st = p->pid > 0 ? gs_proc_stop(p, SIGTERM, 10000) : 0;
    gs_proc_cleanup(p);
    if (st != 0)
        fprintf(stderr, "gameserver exited with %d at teardown\n", st);
    return st == 0 ? 0 : -1;
}
