/* /status on the metrics port: one self-contained HTML page for people (no
 * external assets, inline CSS, refreshes itself every 2 s) with the players
 * online, each zone's population and tick p99, each queue's depth, running
 * workers and wait p99, and the chat/master links.  Every string from
 * outside (shard, zone and queue names) is HTML-escaped. */
#include "gs_admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hbuf_s {
    char *p;
    size_t len, cap;
    int oom;
} hbuf_t;

static void grow(hbuf_t *b, size_t need)
{
    if (b->oom || b->len + need + 1 <= b->cap)
        return;
    size_t ncap = (b->cap + need + 1) * 2;
    char *np = realloc(b->p, ncap);
    if (!np) {
        b->oom = 1;
        return;
    }
    b->p = np;
    b->cap = ncap;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(hbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    grow(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Text content and attribute values alike. */
static void esc(hbuf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': put(b, "&amp;"); break;
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '"': put(b, "&quot;"); break;
        case '\'': put(b, "&#39;"); break;
        default:
            if ((unsigned char)*s < 0x20 || *s == 0x7f)
                put(b, "?");
            else
                put(b, "%c", *s);
        }
    }
}

double gs_tick_p99_ms(const content_zone_stats_t *z)
{
    if (z->ticks == 0)
        return 0;
    /* the first bucket holding the 99th percentile tick */
    uint64_t want = z->ticks - z->ticks / 100;
    for (int i = 0; i < CONTENT_TICK_BUCKETS - 1; i++)
        if (z->tick_buckets[i] >= want)
            return content_tick_bucket_ms[i];
    return -content_tick_bucket_ms[CONTENT_TICK_BUCKETS - 2];
}

static const char *const css =
    "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}"
    "h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.4em}"
    "table{border-collapse:collapse;min-width:24em}"
    "td,th{border:1px solid #ccc;padding:.25em .7em;text-align:right}"
    "th{background:#eee}td:first-child,th:first-child{text-align:left}"
    ".up{color:#080;font-weight:bold}.down{color:#b00;font-weight:bold}.off{color:#888}"
    ".big{font-size:2em;font-weight:bold}";

static void zones_table(hbuf_t *b, gs_app_t *a)
{
    content_zone_stats_t z[64];
    int n = content_zone_stats(a->world, z, 64);
    put(b, "<h2>Zones</h2><table id=\"zones\"><tr><th>zone</th><th>id</th><th>players</th>"
           "<th>tick p99 (since start)</th></tr>");
    for (int i = 0; i < n && i < 64; i++) {
        double p99 = gs_tick_p99_ms(&z[i]);
        put(b, "<tr class=\"zone\" data-zone=\"%u\"><td>", z[i].id);
        esc(b, z[i].name);
        put(b, "</td><td>%u</td><td class=\"players\">%u</td><td>%s%g ms</td></tr>", z[i].id,
            z[i].players, p99 < 0 ? "&gt; " : "&le; ", p99 < 0 ? -p99 : p99);
    }
    put(b, "</table>");
    if (n > 64)
        put(b, "<p>%d zones; the first 64 are shown.</p>", n);
}

static void queues_table(hbuf_t *b, gs_app_t *a)
{
    put(b, "<h2>Queues</h2><table id=\"queues\"><tr><th>queue</th><th>depth</th>"
           "<th>running / cap</th><th>wait p99</th><th>jobs run</th></tr>");
    for (int i = 0; i < a->npools; i++) {
        nc_queue_stats_t q[8];
        int k = nc_pool_stats(a->pools[i], q, 8);
        for (int j = 0; j < k && j < 8; j++) {
            put(b, "<tr><td>");
            esc(b, q[j].name);
            put(b, "</td><td>%llu</td><td>%d / %d</td><td>%.3f ms</td><td>%llu</td></tr>",
                (unsigned long long)q[j].pending, q[j].running, q[j].max_threads,
                (double)q[j].wait_p99_us / 1000.0, (unsigned long long)q[j].jobs_run);
        }
    }
    put(b, "</table>");
}

static void link_row(hbuf_t *b, const char *name, const char *state)
{
    put(b, "<tr><td>%s</td><td class=\"%s\" id=\"link-%s\">%s</td></tr>", name, state, name, state);
}

int gs_status_render(gs_app_t *a, char **body, size_t *len)
{
    hbuf_t b = {0};
    content_stats_t s;
    content_stats(a->world, &s);
    put(&b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"refresh\" content=\"2\"><title>");
    esc(&b, a->cfg.shard_name);
    put(&b, " status</title><style>%s</style></head><body><h1>Shard ", css);
    esc(&b, a->cfg.shard_name);
    put(&b, "</h1><p><span class=\"big\" id=\"online\">%u</span> players online", s.online);
    put(&b, " &middot; up %.0f s", (double)(nc_now_ms() - a->started_ms) / 1000.0);
    if (content_draining(a->world))
        put(&b, " &middot; <b id=\"draining\">draining: new logins refused</b>");
    put(&b, " &middot; database <span class=\"%s\">%s</span></p>", s.db_up ? "up" : "down",
        s.db_up ? "up" : "down");
    zones_table(&b, a);
    queues_table(&b, a);
    put(&b, "<h2>Links</h2><table id=\"links\"><tr><th>link</th><th>state</th></tr>");
    link_row(&b, "chat", gs_peers_chat_state(a));
    link_row(&b, "master", gs_peers_master_state(a));
    put(&b, "</table><p><small>Refreshes every 2 s. Machine-readable: "
            "<a href=\"/metrics\">/metrics</a>.</small></p></body></html>\n");
    if (b.oom) {
        free(b.p);
        return -1;
    }
    *body = b.p;
    *len = b.len;
    return 0;
}
