/* Line splitting for the testclient's stdin readers (tc_stdin_*.c): the
 * platform files fill a buffer, this takes whole lines out of it. */
#include "tc.h"

#include <string.h>

int tc_line_take(char *pend, size_t *npend, size_t pend_cap, int at_eof, char *buf, size_t cap)
{
    char *nl = memchr(pend, '\n', *npend);
    if (!nl && !(at_eof && *npend > 0) && *npend < pend_cap)
        return 0;
    size_t len = nl ? (size_t)(nl - pend) : *npend;
    size_t used = nl ? len + 1 : len;
    if (len > 0 && pend[len - 1] == '\r')
        len--;
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(buf, pend, n);
    buf[n] = 0;
    memmove(pend, pend + used, *npend - used);
    *npend -= used;
    return 1;
}
