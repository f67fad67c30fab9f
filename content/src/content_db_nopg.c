/* The character store without PostgreSQL support (NC_POSTGRES=OFF, e.g. the
 * Windows cross build): database.driver "postgres" is refused at open with
 * a clear message, so no handle ever has the PostgreSQL driver. */
#include "content_db_driver.h"

#include <stdio.h>

int content_db_pg_open(content_db_t *db, const content_db_opts_t *o, char *err, size_t errlen)
{
    (void)db, (void)o;
    snprintf(err, errlen,
             "database.driver \"postgres\": this build has no PostgreSQL support"
             " (configure with -DNC_POSTGRES=ON and libpq installed)");
    return -1;
}
