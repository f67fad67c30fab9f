/* Process helpers for the tools' integration tests (tl_test_*.c): start a
 * real executable with stdout (and optionally stdin) on pipes, wait for
 * lines (stdout and stderr together) with deadlines, stop and reap.  POSIX implementation:
 * tl_proc_posix.c. */
#ifndef TL_PROC_H
#define TL_PROC_H

#include <stddef.h>

typedef struct tl_proc_s {
    int pid;
    int group;         /* TL_PROC_GROUP: pid is also its process group's id */
    int out_fd, in_fd; /* in_fd -1 unless stdin is piped */
    char out[1 << 16]; /* everything read from stdout so far (NUL-terminated) */
    size_t len, scanned;
} tl_proc_t;

/* argv[0] is the path; NULL-terminated.  0 or -1. */
int tl_proc_start(tl_proc_t *p, const char *const *argv, int pipe_stdin);
/* tl_proc_spawn's flags: stdin on a pipe (tl_proc_write); the child in a
 * process group of its own, which the deadline's SIGKILL and the end of
 * tl_proc_wait_exit kill whole (a browser's helpers). */
enum { TL_PROC_STDIN = 1, TL_PROC_GROUP = 2 };
/* As tl_proc_start, with stderr appended to err_path (created; NULL: with
 * stdout on the pipe).  0 or -1. */
int tl_proc_spawn(tl_proc_t *p, const char *const *argv, int flags, const char *err_path);
/* Reads stdout until it holds `needle` after offset `from` (deadline).
 * Returns the offset just past the match, or -1. */
long tl_proc_wait_for(tl_proc_t *p, const char *needle, size_t from, int timeout_ms);
/* Waits for "READY port=N"; returns N or -1. */
int tl_proc_ready(tl_proc_t *p, int timeout_ms);
int tl_proc_write(tl_proc_t *p, const char *text);
void tl_proc_close_stdin(tl_proc_t *p);
/* Reads stdout until EOF and waits for exit (deadline; SIGKILL after it).
 * Returns the exit status, 128+signal, or -1 on timeout. */
int tl_proc_wait_exit(tl_proc_t *p, int timeout_ms);
/* Sends sig, then as tl_proc_wait_exit.  Safe on a never-started proc. */
int tl_proc_stop(tl_proc_t *p, int sig, int timeout_ms);
/* Runs argv to completion; stdout into out.  Exit status or -1. */
int tl_run(const char *const *argv, char *out, size_t cap, int timeout_ms);

/* Issue 13: writes `secret` and a newline to dir/name with mode 0600 (the
 * s2s links' --secret-file / links.secret_file); the path goes to out.
 * 0 or -1. */
int tl_write_secret(const char *dir, const char *name, const char *secret, char *out, size_t cap);

#endif
