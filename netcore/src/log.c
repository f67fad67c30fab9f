/* Leveled, timestamped, thread-safe logging.  One line per call, written
 * with a single fwrite so lines from different threads never interleave. */
#include "netcore.h"
#include "platform.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static atomic_int g_level = NC_LOG_INFO;
static nc_log_sink_fn g_sink;
static void *g_sink_ud;

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void nc_log_set_level(nc_log_level_t lvl)
{
    atomic_store(&g_level, (int)lvl);
}
nc_log_level_t nc_log_get_level(void)
{
    return (nc_log_level_t)atomic_load(&g_level);
}

void nc_log_set_sink(nc_log_sink_fn fn, void *ud)
{
    g_sink = fn;
    g_sink_ud = ud;
}

int nc_log_level_parse(const char *s, nc_log_level_t *out)
{
    for (int i = NC_LOG_TRACE; i <= NC_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0 ||
            (i == NC_LOG_WARN && strcasecmp(s, "warning") == 0)) {
            *out = (nc_log_level_t)i;
            return 0;
        }
    }
    return NC_EINVAL;
}

static void log_emit(nc_log_level_t lvl, const char *tag, uint64_t more, const char *fmt,
                     va_list ap)
{
    char line[1024];
    char ts[32];
    nc__format_utc(ts, sizeof(ts), nc_wall_ms());
    int n = snprintf(line, sizeof(line), "%s %-5s [%s] ", ts, level_names[lvl], tag);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)(sizeof(line) - 2);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    if (more) {
        char tail[48];
        int t = snprintf(tail, sizeof(tail), " (%llu more since last)", (unsigned long long)more);
        if (t > 0 && (size_t)t <= sizeof(line) - 2 - len) {
            memcpy(line + len, tail, (size_t)t);
            len += (size_t)t;
        }
    }
    if (g_sink) {
        line[len] = '\0';
        g_sink(lvl, line, g_sink_ud);
        return;
    }
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
    fflush(stderr); /* a buffered stderr (the Windows executables') too */
}

void nc_log(nc_log_level_t lvl, const char *tag, const char *fmt, ...)
{
    if (lvl < nc_log_get_level() || lvl >= NC_LOG_OFF)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_emit(lvl, tag, 0, fmt, ap);
    va_end(ap);
}

/* One compare-and-swap on the deadline decides which caller prints; the
 * others only count themselves, so a flood costs an atomic add per line. */
int nc_log_limited(nc_log_state_t *st, uint32_t per_ms, nc_log_level_t lvl, const char *tag,
                   const char *fmt, ...)
{
    if (lvl < nc_log_get_level() || lvl >= NC_LOG_OFF)
        return 0;
    uint64_t now = nc_now_ms();
    uint64_t next = atomic_load_explicit(&st->next_ms, memory_order_relaxed);
    if (now < next ||
        !atomic_compare_exchange_strong(&st->next_ms, &next, now + (per_ms ? per_ms : 1000u))) {
        atomic_fetch_add_explicit(&st->suppressed, 1, memory_order_relaxed);
        return 0;
    }
    uint64_t more = atomic_exchange_explicit(&st->suppressed, 0, memory_order_relaxed);
    va_list ap;
    va_start(ap, fmt);
    log_emit(lvl, tag, more, fmt, ap);
    va_end(ap);
    return 1;
}

int nc_log_limited_flush(nc_log_state_t *st, nc_log_level_t lvl, const char *tag, const char *what)
{
    uint64_t n = atomic_exchange_explicit(&st->suppressed, 0, memory_order_relaxed);
    if (n == 0 || lvl < nc_log_get_level() || lvl >= NC_LOG_OFF)
        return 0;
    nc_log(lvl, tag, "%llu %s lines suppressed", (unsigned long long)n, what);
    return 1;
}
