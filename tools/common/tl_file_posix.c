/* POSIX file checks for the tools (tl_s2s.h). */
#define _POSIX_C_SOURCE 200809L
#include "tl_s2s.h"

#include <sys/stat.h>

int tl_file_readable_by_others(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}
