/* "Does this character exist?" without creating it, for the new-character
 * limit (issue 12).  A second, read-only SQLite connection to the same file,
 * used on the db strand only and only when the creation budget is spent:
 * content_db.c's load_or_create creates unknown names in the same
 * transaction, so it cannot be asked first.  (If content_db grows a
 * load-without-create call, this file goes away.) */
#include "content_internal.h"

#include <sqlite3.h>
#include <stdlib.h>

struct content_probe_s {
    sqlite3 *h;
    sqlite3_stmt *st;
};

static void probe_close(struct content_probe_s *p)
{
    if (!p)
        return;
    sqlite3_finalize(p->st);
    sqlite3_close(p->h);
    free(p);
}

void content_probe_free(content_world_t *w)
{
    probe_close(w->probe);
    w->probe = NULL;
}

int content_probe_exists(content_world_t *w, const char *name)
{
    if (!w->o.db_path)
        return -1;
    if (!w->probe) {
        struct content_probe_s *p = calloc(1, sizeof *p);
        if (!p)
            return -1;
        if (sqlite3_open_v2(w->o.db_path, &p->h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_busy_timeout(p->h, 1000) != SQLITE_OK ||
            sqlite3_prepare_v2(p->h, "SELECT 1 FROM characters WHERE name = ?1", -1, &p->st,
                               NULL) != SQLITE_OK) {
            nc_log_limited(&w->rl_db, 1000, NC_LOG_WARN, "world",
                           "character probe: cannot open %s: %s", w->o.db_path,
                           p->h ? sqlite3_errmsg(p->h) : "out of memory");
            probe_close(p);
            return -1;
        }
        w->probe = p;
    }
    sqlite3_stmt *st = w->probe->st;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (out < 0)
        nc_log_limited(&w->rl_db, 1000, NC_LOG_WARN, "world", "character probe failed: %s",
                       sqlite3_errmsg(w->probe->h));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}
