/* Error names and texts, generated from NC_ERRNO_MAP. */
#include "netcore.h"

const char *nc_strerror(int err)
{
    switch (err) {
    case 0: return "success";
#define NC_ERR_TEXT(name, val, text)                                                               \
    case NC_##name: return text;
        NC_ERRNO_MAP(NC_ERR_TEXT)
#undef NC_ERR_TEXT
    default: return "unknown error";
    }
}

const char *nc_errname(int err)
{
    switch (err) {
    case 0: return "OK";
#define NC_ERR_NAME(name, val, text)                                                               \
    case NC_##name: return #name;
        NC_ERRNO_MAP(NC_ERR_NAME)
#undef NC_ERR_NAME
    default: return "EUNKNOWN";
    }
}
