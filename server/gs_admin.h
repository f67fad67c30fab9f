/* The operator's console (issue 14): a local-only line protocol on the
 * process's engine, usable with nc/socat.  The first line must be
 * `auth <secret>` (admin.secret_file); then one command per line, each
 * answered by lines ending with `ok` or `error <reason>`.  Connections and
 * commands run on the low-priority `control` queue.  server/README.md,
 * "Operator's console". */
#ifndef GS_ADMIN_H
#define GS_ADMIN_H

#include "gs_app.h"

#include <stdarg.h>

/* Starts the console when admin.secret_file is set (else logs that it is
 * disabled: *out NULL, *port 0).  0, or -1 (logged: unreadable or short
 * secret, listen failure). */
int gs_admin_start(gs_app_t *a, gs_admin_t **out, uint16_t *port);
/* Cancels a shutdown countdown, closes the connections and returns once
 * no console job or request in flight can touch the app.  NULL-safe. */
void gs_admin_stop(gs_admin_t *ad);
/* Connections closed for a wrong or missing `auth` line. */
uint64_t gs_admin_auth_failures(const gs_admin_t *ad);

/* ---- between gs_admin.c (transport) and gs_admin_cmd.c (commands) ---- */

typedef struct gs_admin_conn_s gs_admin_conn_t;

/* One data line of an answer (control characters become '?'). */
void gs_admin_say(gs_admin_conn_t *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The answer's last line: `ok`, or `error <reason>`. */
void gs_admin_ok(gs_admin_conn_t *c);
void gs_admin_error(gs_admin_conn_t *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
gs_app_t *gs_admin_app(gs_admin_conn_t *c);
gs_admin_t *gs_admin_of(gs_admin_conn_t *c);
/* "[sid] peer" for log lines. */
const char *gs_admin_who(gs_admin_conn_t *c);

/* An asynchronous command: gs_admin_async returns the ud to hand to
 * content (with gs_admin_done as its callback) and holds the connection's
 * later lines until the answer was sent.  NULL: out of memory (answered). */
void *gs_admin_async(gs_admin_conn_t *c);
/* content_done_fn: sends text (lines) then ok/error on the connection's
 * strand, then runs the lines that waited.  Any thread, once per ud. */
void gs_admin_done(void *ud, int ok, const char *text);
/* When content refused an async request: releases ud (nothing sent). */
void gs_admin_async_cancel(void *ud);

/* Runs one authenticated command line (gs_admin_cmd.c; no control
 * characters in it).  Returns 0 when it was answered, 1 when the answer
 * comes later (gs_admin_done), 2 when the connection is to be closed. */
int gs_admin_command(gs_admin_conn_t *c, char *line);

/* The shutdown countdown (gs_admin.c): 0, or -1 with err (one already
 * runs).  seconds 0: stop now. */
int gs_admin_shutdown_start(gs_admin_t *ad, uint32_t seconds, char *err, size_t errlen);
/* 0, or -1 when no countdown runs. */
int gs_admin_shutdown_cancel(gs_admin_t *ad);
/* Seconds left, or -1 when no countdown runs. */
int gs_admin_shutdown_left(gs_admin_t *ad);
uint32_t gs_admin_connections(gs_admin_t *ad);

#endif
