/* Bounded line input (nc_lines.h): one buffer, lines cut in place. */
#include "nc_lines.h"

#include "netcore.h"

#include <string.h>

void nc_lines_init(nc_lines_t *r, char *buf, size_t cap)
{
    *r = (nc_lines_t){.buf = buf, .cap = cap};
    buf[0] = 0;
}

int nc_lines_feed(nc_lines_t *r, const void *data, size_t n)
{
    if (n > r->cap - r->len)
        return NC_ENOBUFS;
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    r->buf[r->len] = 0;
    return 0;
}

int nc_lines_next(nc_lines_t *r, size_t max, char **line, size_t *n)
{
    char *start = r->buf + r->pos;
    char *nl = memchr(start, '\n', r->len - r->pos);
    size_t k = nl ? (size_t)(nl - start) : r->len - r->pos;
    if (k > max)
        return NC_EMSGSIZE;
    if (!nl)
        return 0;
    *nl = 0;
    if (k && start[k - 1] == '\r')
        start[--k] = 0;
    r->pos = (size_t)(nl - r->buf) + 1;
    *line = start;
    *n = k;
    return 1;
}

void nc_lines_consume(nc_lines_t *r)
{
    size_t was = r->len;
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
    memset(r->buf + r->len, 0, was - r->len + 1); /* no stale input (a secret) stays behind */
}
