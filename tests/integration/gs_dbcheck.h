/* Reading a gameserver's database from a test (read-only, its own
 * connection; WAL lets it read while the server writes). */
#ifndef GS_DBCHECK_H
#define GS_DBCHECK_H

/* The saved zone and position of character `name` in database `db`; zone
 * may be NULL.  0, or -1 if the file or the character is not there. */
int gs_db_char_pos(const char *db, const char *name, int *zone, double *x, double *y);

#endif
