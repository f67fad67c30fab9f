/* Encode-and-send helpers over netcore's zero-copy packets, so each tool
 * builds a proto_msg_t and never touches buffers; and a bounded line reader. */
#include "tl_common.h"

#include <stdio.h>
#include <time.h>

nc_packet_t *tl_packet(const proto_msg_t *m)
{
    size_t cap = proto_max_size(m->type);
    nc_packet_t *p = nc_packet_alloc(cap ? cap : 1);
    if (!p)
        return NULL;
    int n = proto_encode(m, nc_packet_body(p), p->cap);
    if (n < 0) {
        nc_packet_release(p);
        return NULL;
    }
    p->len = (uint32_t)n;
    p->type = m->type;
    return p;
}

int tl_send_msg(nc_session_t *s, const proto_msg_t *m)
{
    nc_packet_t *p = tl_packet(m);
    if (!p)
        return NC_ENOMEM;
    int rc = nc_send_packet(s, p);
    nc_packet_release(p);
    return rc;
}

int tl_send_msg_id(nc_engine_t *e, nc_sid_t sid, const proto_msg_t *m)
{
    nc_packet_t *p = tl_packet(m);
    if (!p)
        return NC_ENOMEM;
    int rc = nc_send_packet_id(e, sid, p);
    nc_packet_release(p);
    return rc;
}

void tl_deadline(struct timespec *ts, int timeout_ms)
{
    timespec_get(ts, TIME_UTC);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int tl_read_line(FILE *f, char *buf, size_t cap)
{
    size_t n = 0;
    int ch, over = 0;
    while ((ch = fgetc(f)) != EOF && ch != '\n') {
        if (n + 1 < cap)
            buf[n++] = (char)ch;
        else
            over = 1;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (cap)
        buf[n] = 0;
    if (over || (ch == EOF && n == 0) || n > INT32_MAX)
        return -1;
    return (int)n;
}
