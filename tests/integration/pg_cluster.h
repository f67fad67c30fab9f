/* A throwaway PostgreSQL cluster for integration tests (issue 16): initdb
 * into a fresh temporary directory, `postgres` on a free 127.0.0.1 port
 * with its Unix socket in the same directory, trust authentication (the
 * cluster lives for one test run and listens on loopback only), fsync off.
 * The superuser `test` has a random password (scram-sha-256 over TCP,
 * trust on the Unix socket): the URLs name a libpq password file
 * (`passfile=DIR/pgpass`, 0600), as a deployment should.
 * When the test runs as root, the cluster runs as the unprivileged user
 * `postgres` (Debian's package creates it) or else `nobody`, which owns the
 * directory.  Binaries: $NC_PG_BINDIR, else the newest
 * /usr/lib/postgresql/N/bin, else PATH.  POSIX only.  Reused by issue 16's
 * content (character store) tests.
 * Built with PG_CLUSTER_TEMPLATE (a path; the tests' CMakeLists set it in
 * the build dir), the first cluster's fresh initdb is kept there and later
 * clusters start from a copy of it (a new password each), so a build dir
 * runs initdb once, not once per test. */
#ifndef PG_CLUSTER_H
#define PG_CLUSTER_H

#include <stddef.h>

typedef struct pg_cluster_s {
    char dir[64]; /* temp dir: data/ and the socket */
    char bindir[256];
    char url[256];     /* conninfo of the "postgres" database over TCP */
    char password[40]; /* the superuser's (only in DIR/pgpass and here) */
    int port;
    int pid;      /* the postmaster, or 0 when stopped */
    int uid, gid; /* the user it runs as (-1: the current one) */
} pg_cluster_t;

/* initdb + start.  0, or -1 with a message on stderr (everything made so
 * far removed). */
int pg_cluster_start(pg_cluster_t *pc);
/* Creates database `name` (owned by the test user): 0 or -1.  The conninfo
 * for it goes to out. */
int pg_cluster_createdb(pg_cluster_t *pc, const char *name, char *out, size_t cap);
/* The postmaster's immediate shutdown (SIGQUIT: every backend killed, no
 * checkpoint, crash recovery at the next start — `pg_ctl stop -m
 * immediate`), waiting for it to exit.  0 or -1. */
int pg_cluster_kill(pg_cluster_t *pc);
/* Starts the stopped cluster again on the same port and data.  0 or -1. */
int pg_cluster_restart(pg_cluster_t *pc);
/* Fast shutdown and removes the directory.  Safe on a never-started one. */
void pg_cluster_stop(pg_cluster_t *pc);

#endif
