/* See pg_cluster.h. */
#define _GNU_SOURCE
#include "pg_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG_DEADLINE_MS 15000

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void find_bindir(pg_cluster_t *pc)
{
    const char *env = getenv("NC_PG_BINDIR");
    if (env && *env) {
        snprintf(pc->bindir, sizeof pc->bindir, "%s", env);
        return;
    }
    glob_t g;
    pc->bindir[0] = 0;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0) {
        /* glob sorts: the last is the newest major version (same digit count) */
        const char *p = g.gl_pathv[g.gl_pathc - 1];
        snprintf(pc->bindir, sizeof pc->bindir, "%.*s", (int)(strrchr(p, '/') - p), p);
    }
    globfree(&g);
}

/* fork + (drop to pc's user) + exec argv; stdout/stderr to dir/log.txt.
 * Returns the pid or -1. */
static int spawn(pg_cluster_t *pc, const char *const *argv)
{
    char log[128];
    snprintf(log, sizeof log, "%s/log.txt", pc->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0); /* a test's Ctrl-C reaches the test, which stops it */
        FILE *f = fopen(log, "a");
        if (f) {
            dup2(fileno(f), 1);
            dup2(fileno(f), 2);
        }
        if (pc->uid >= 0 &&
            (setgroups(0, NULL) != 0 || setgid((gid_t)pc->gid) != 0 || setuid((uid_t)pc->uid) != 0))
            _exit(126);
        char prog[320];
        if (pc->bindir[0])
            snprintf(prog, sizeof prog, "%s/%s", pc->bindir, argv[0]);
        else
            snprintf(prog, sizeof prog, "%s", argv[0]);
        execvp(prog, (char *const *)argv);
        _exit(127);
    }
    return (int)pid;
}

/* Waits for pid's exit (deadline; SIGKILL after it).  Exit status or -1. */
static int reap(int pid, int timeout_ms)
{
    long long end = mono_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR)
            return -1;
        if (mono_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nap_ms(10);
    }
}

static void dump_log(const pg_cluster_t *pc)
{
    char path[128], line[512];
    snprintf(path, sizeof path, "%s/log.txt", pc->dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        fprintf(stderr, "  pg| %s", line);
    if (f)
        fclose(f);
}

/* text and a newline into a new file, mode 0600, owned by uid/gid (-1:
 * the current user).  0 or -1. */
static int write_private(const char *path, const char *text, int uid, int gid)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
    if (uid >= 0 && fchown(fd, (uid_t)uid, (gid_t)gid) != 0)
        ok = 0;
    close(fd);
    return ok ? 0 : -1;
}

static int launch(pg_cluster_t *pc)
{
    char data[96], port[16];
    snprintf(data, sizeof data, "%s/data", pc->dir);
    snprintf(port, sizeof port, "%d", pc->port);
    const char *argv[] = {"postgres",
                          "-D",
                          data,
                          "-p",
                          port,
                          "-k",
                          pc->dir,
                          "-c",
                          "listen_addresses=127.0.0.1",
                          "-c",
                          "fsync=off",
                          "-c",
                          "full_page_writes=off",
                          "-c",
                          "max_connections=50",
                          NULL};
    pc->pid = spawn(pc, argv);
    if (pc->pid < 0) {
        pc->pid = 0;
        return -1;
    }
    long long end = mono_ms() + PG_DEADLINE_MS;
    while (mono_ms() < end) {
        if (PQping(pc->url) == PQPING_OK)
            return 0;
        int st;
        if (waitpid(pc->pid, &st, WNOHANG) == pc->pid) {
            pc->pid = 0;
            break;
        }
        nap_ms(20);
    }
    fprintf(stderr, "pg_cluster: postgres did not become ready on port %d\n", pc->port);
    dump_log(pc);
    return -1;
}

#ifdef PG_CLUSTER_TEMPLATE
/* The template: PG_CLUSTER_TEMPLATE/data (a fresh initdb), next to a file
 * `bindir` naming the binaries that made it.  Copied as it is (cp -a keeps
 * the owner and the 0700 mode postgres insists on).  0 copied, -1 none. */
static int template_copy(pg_cluster_t *pc)
{
    char path[320], made_by[256] = "", cmd[512];
    snprintf(path, sizeof path, "%s/bindir", PG_CLUSTER_TEMPLATE);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(made_by, 1, sizeof made_by - 1, f);
    made_by[n] = 0;
    fclose(f);
    if (strcmp(made_by, pc->bindir) != 0)
        return -1; /* another PostgreSQL made it: initdb */
    snprintf(cmd, sizeof cmd, "cp -a '%s/data' '%s/data'", PG_CLUSTER_TEMPLATE, pc->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Publishes pc's fresh (never started) data dir as the template: a copy
 * beside it, renamed into place (atomic: a test running beside this one
 * sees no template or a whole one; the loser of a race removes its copy). */
static void template_publish(const pg_cluster_t *pc)
{
    char tmp[320], path[360], cmd[1200];
    snprintf(tmp, sizeof tmp, "%s.%d", PG_CLUSTER_TEMPLATE, (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp -a '%s/data' '%s/data'", tmp, tmp,
             pc->dir, tmp);
    if (system(cmd) != 0)
        return;
    snprintf(path, sizeof path, "%s/bindir", tmp);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(pc->bindir, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, PG_CLUSTER_TEMPLATE) != 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "pg_cluster: could not remove %s\n", tmp);
    }
}

/* A copied cluster still has the template's password: the new one, set
 * over the Unix socket (trust; the socket is in pc's 0700 dir). */
static int set_password(pg_cluster_t *pc)
{
    char conninfo[160], sql[96];
    snprintf(conninfo, sizeof conninfo, "host=%s port=%d user=test dbname=postgres", pc->dir,
             pc->port);
    snprintf(sql, sizeof sql, "ALTER ROLE test PASSWORD '%s'", pc->password); /* hex */
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "pg_cluster: cannot set the password: %s\n", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}
#endif

int pg_cluster_start(pg_cluster_t *pc)
{
    memset(pc, 0, sizeof *pc);
    pc->uid = pc->gid = -1;
    snprintf(pc->dir, sizeof pc->dir, "/tmp/pgc_XXXXXX");
    if (!mkdtemp(pc->dir)) {
        perror("pg_cluster: mkdtemp");
        return -1;
    }
    if (geteuid() == 0) { /* postgres refuses to run as root */
        struct passwd *pw = getpwnam("postgres");
        if (!pw)
            pw = getpwnam("nobody");
        if (!pw) {
            fprintf(stderr, "pg_cluster: running as root and no user 'postgres' or 'nobody'\n");
            pg_cluster_stop(pc);
            return -1;
        }
        pc->uid = (int)pw->pw_uid;
        pc->gid = (int)pw->pw_gid;
        if (chown(pc->dir, pw->pw_uid, pw->pw_gid) != 0) {
            perror("pg_cluster: chown");
            pg_cluster_stop(pc);
            return -1;
        }
    }
    find_bindir(pc);
    pc->port = free_port();
    snprintf(pc->url, sizeof pc->url,
             "host=127.0.0.1 port=%d user=test dbname=postgres passfile=%s/pgpass", pc->port,
             pc->dir);
    /* the password: random, into initdb's --pwfile (removed after) and the
     * libpq password file the URLs name */
    unsigned char rnd[16] = {0};
    FILE *ur = fopen("/dev/urandom", "rb");
    size_t got = ur ? fread(rnd, 1, sizeof rnd, ur) : 0;
    if (ur)
        fclose(ur);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(pc->password + 2 * i, 3, "%02x", rnd[i]);
    char pwfile[96], passfile[96];
    snprintf(pwfile, sizeof pwfile, "%s/initdb.pw", pc->dir);
    snprintf(passfile, sizeof passfile, "%s/pgpass", pc->dir);
    if (got != sizeof rnd || write_private(pwfile, pc->password, pc->uid, pc->gid) != 0) {
        fprintf(stderr, "pg_cluster: cannot make a password file in %s\n", pc->dir);
        pg_cluster_stop(pc);
        return -1;
    }
    char line[128];
    snprintf(line, sizeof line, "127.0.0.1:%d:*:test:%s", pc->port, pc->password);
    if (write_private(passfile, line, -1, -1) != 0) {
        fprintf(stderr, "pg_cluster: cannot write %s\n", passfile);
        pg_cluster_stop(pc);
        return -1;
    }
    int copied = 0;
#ifdef PG_CLUSTER_TEMPLATE
    copied = template_copy(pc) == 0;
#endif
    char data[96], pwopt[128];
    snprintf(data, sizeof data, "%s/data", pc->dir);
    snprintf(pwopt, sizeof pwopt, "--pwfile=%s", pwfile);
    /* a change here leaves the template of an existing build dir
     * (PG_CLUSTER_TEMPLATE) as it was: remove BUILD/pg-template then */
    const char *argv[] = {"initdb",
                          "-D",
                          data,
                          "-U",
                          "test",
                          "--auth-local=trust",
                          "--auth-host=scram-sha-256",
                          pwopt,
                          "-E",
                          "UTF8",
                          "--no-sync",
                          "--no-locale",
                          NULL};
    int pid = copied ? 0 : spawn(pc, argv);
    int st = copied ? 0 : pid > 0 ? reap(pid, 60000) : -1;
    unlink(pwfile);
    if (st != 0) {
        fprintf(stderr, "pg_cluster: initdb failed (status %d; bindir '%s')\n", st, pc->bindir);
        dump_log(pc);
        pg_cluster_stop(pc);
        return -1;
    }
#ifdef PG_CLUSTER_TEMPLATE
    if (!copied)
        template_publish(pc);
#endif
    if (pc->port < 0 || launch(pc) != 0) {
        pg_cluster_stop(pc);
        return -1;
    }
#ifdef PG_CLUSTER_TEMPLATE
    if (copied && set_password(pc) != 0) {
        pg_cluster_stop(pc);
        return -1;
    }
#endif
    return 0;
}

int pg_cluster_createdb(pg_cluster_t *pc, const char *name, char *out, size_t cap)
{
    PGconn *c = PQconnectdb(pc->url);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "pg_cluster: %s: %s\n", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(out, cap, "host=127.0.0.1 port=%d user=test dbname=%s passfile=%s/pgpass", pc->port,
             name, pc->dir);
    return ok ? 0 : -1;
}

int pg_cluster_kill(pg_cluster_t *pc)
{
    if (!pc->pid)
        return -1;
    kill(pc->pid, SIGQUIT);
    int st = reap(pc->pid, PG_DEADLINE_MS);
    pc->pid = 0;
    return st < 0 ? -1 : 0;
}

int pg_cluster_restart(pg_cluster_t *pc)
{
    return pc->pid ? -1 : launch(pc);
}

void pg_cluster_stop(pg_cluster_t *pc)
{
    if (pc->pid) {
        kill(pc->pid, SIGINT); /* fast shutdown */
        reap(pc->pid, PG_DEADLINE_MS);
        pc->pid = 0;
    }
    if (pc->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", pc->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "pg_cluster: could not remove %s\n", pc->dir);
        pc->dir[0] = 0;
    }
}
