/* Bounded line input for text protocols on raw roles: the console's lines
 * (server/gs_admin.c) and a metrics request's head (src/http.c).  The
 * caller gives the storage, nothing allocates; every length is checked
 * before a byte is stored.  The deadline that goes with it (a line or a
 * request not complete in time) is an eviction list's sweep (nc_evict.h,
 * nc_evict_pop_older).  A reader belongs to one session: its strand only.
 * Not part of netcore.h, an optional piece of the library. */
#ifndef NC_LINES_H
#define NC_LINES_H

#include <stddef.h>

typedef struct nc_lines_s {
    char *buf;  /* cap + 1 bytes, the caller's */
    size_t cap; /* bytes held at most: the input queued */
    size_t len; /* bytes held */
    size_t pos; /* where the next line starts (those before it were returned) */
} nc_lines_t;

void nc_lines_init(nc_lines_t *r, char *buf, size_t cap);
/* Appends n bytes: 0, or NC_ENOBUFS when more than cap bytes would be held
 * (nothing is appended). */
int nc_lines_feed(nc_lines_t *r, const void *data, size_t n);
/* The next line: 1 with *line (its LF, and a CR before it, replaced by NUL)
 * and *n its length without them; 0 when no complete line is held yet;
 * NC_EMSGSIZE when the line, complete or not, is longer than max bytes (a
 * CR before its LF counted).  A line stays valid until nc_lines_consume. */
int nc_lines_next(nc_lines_t *r, size_t max, char **line, size_t *n);
/* Drops the lines returned so far: their room takes more input. */
void nc_lines_consume(nc_lines_t *r);

#endif
