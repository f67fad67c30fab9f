/* The account store without PostgreSQL support (NC_POSTGRES=OFF, e.g. the
 * Windows cross build): accounts.driver "postgres" is refused at start. */
#include "master_store.h"

#include <stdio.h>

int macct_pg_open(const char *url, macct_t **out, char *err, size_t errlen)
{
    (void)url;
    (void)out;
    snprintf(err, errlen,
             "accounts.driver \"postgres\": this build has no PostgreSQL support"
             " (configure with -DNC_POSTGRES=ON and libpq installed)");
    return -1;
}
