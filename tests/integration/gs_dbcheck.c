#include "gs_dbcheck.h"

#include <sqlite3.h>
#include <stddef.h>

int gs_db_char_pos(const char *db, const char *name, int *zone, double *x, double *y)
{
    sqlite3 *h;
    sqlite3_stmt *s;
    int found = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    if (sqlite3_prepare_v2(h, "SELECT zone, x, y FROM characters WHERE name = ?1", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            if (zone)
                *zone = sqlite3_column_int(s, 0);
            *x = sqlite3_column_double(s, 1);
            *y = sqlite3_column_double(s, 2);
            found = 1;
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return found ? 0 : -1;
}
