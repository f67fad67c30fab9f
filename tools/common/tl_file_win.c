/* Windows file checks for the tools (tl_s2s.h): access is governed by ACLs,
 * which this template does not inspect (docs/windows.md); no warning. */
#include "tl_s2s.h"

int tl_file_readable_by_others(const char *path)
{
    (void)path;
    return 0;
}
