/* Prometheus text exposition of the shard: sessions and bad input (from the
 * player role), per-queue job metrics (from every pool), zone tick histogram,
 * database latency histogram and content counters. */
#include "gs_admin.h"
#include "gs_bus_redis.h"
#include "gs_links.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf_s {
    char *p;
    size_t len, cap;
} buf_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
put(buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, ncap);
        if (!np)
            return;
        b->p = np;
        b->cap = ncap;
    }
}

static void head(buf_t *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Abuse limits (issue 12): content's request budgets and connection caps. */
static void limit_metrics(buf_t *b, const content_stats_t *c)
{
    head(b, "gs_requests_dropped_total", "counter", "Player requests dropped: over budget.");
    put(b, "gs_requests_dropped_total %llu\n", (unsigned long long)c->requests_dropped);
    head(b, "gs_request_warnings_total", "counter", "Over-budget warnings sent to players.");
    put(b, "gs_request_warnings_total %llu\n", (unsigned long long)c->flood_warnings);
    head(b, "gs_sessions_refused_total", "counter", "Connections refused with SERVER_FULL.");
    put(b, "gs_sessions_refused_total{reason=\"server_full\"} %llu\n",
        (unsigned long long)c->refused_full);
    put(b, "gs_sessions_refused_total{reason=\"prelogin_cap\"} %llu\n",
        (unsigned long long)c->refused_prelogin);
    put(b, "gs_sessions_refused_total{reason=\"per_ip_cap\"} %llu\n",
        (unsigned long long)c->refused_per_ip);
    head(b, "gs_sessions_kicked_total", "counter", "Sessions closed by a limit.");
    put(b, "gs_sessions_kicked_total{reason=\"request_flood\"} %llu\n",
        (unsigned long long)c->kicked_flood);
    put(b, "gs_sessions_kicked_total{reason=\"login_timeout\"} %llu\n",
        (unsigned long long)c->login_timeouts);
    put(b, "gs_sessions_kicked_total{reason=\"prelogin_packets\"} %llu\n",
        (unsigned long long)c->kicked_prelogin_packets);
    head(b, "gs_new_characters_refused_total", "counter",
         "Logins of unknown names refused by the creation limit.");
    put(b, "gs_new_characters_refused_total %llu\n", (unsigned long long)c->new_chars_refused);
    head(b, "gs_prelogin_sessions", "gauge", "Player connections not logged in yet.");
    put(b, "gs_prelogin_sessions %u\n", c->prelogin);
}

/* Accounts (issue 13): tickets, ownership, privileged commands. */
static void auth_metrics(buf_t *b, const content_stats_t *c)
{
    head(b, "gs_auth_tickets_accepted_total", "counter", "Login tickets that passed every check.");
    put(b, "gs_auth_tickets_accepted_total %llu\n", (unsigned long long)c->tickets_accepted);
    head(b, "gs_auth_tickets_rejected_total", "counter", "Login tickets refused, by reason.");
    for (int i = 0; i < CONTENT_TICKET_REASONS; i++)
        put(b, "gs_auth_tickets_rejected_total{reason=\"%s\"} %llu\n",
            content_ticket_reject_name[i], (unsigned long long)c->tickets_rejected[i]);
    head(b, "gs_auth_not_owner_total", "counter",
         "Logins refused: the character is another account's, or legacy (unclaimed).");
    put(b, "gs_auth_not_owner_total %llu\n", (unsigned long long)c->not_owner);
    head(b, "gs_commands_not_allowed_total", "counter",
         "Privileged chat commands refused for the player's role.");
    put(b, "gs_commands_not_allowed_total %llu\n", (unsigned long long)c->not_allowed);
    head(b, "gs_auth_replay_cache_nonces", "gauge",
         "Ticket nonces remembered now (auth.replay_cache_max at most).");
    put(b, "gs_auth_replay_cache_nonces %u\n", c->replay_cache_size);
}

static void role_metrics(buf_t *b, gs_app_t *a)
{
    nc_role_stats_t s;
    nc_server_stats(a->players, &s);
    head(b, "gs_sessions", "gauge", "Live player sessions.");
    put(b, "gs_sessions %llu\n", (unsigned long long)s.sessions_live);
    head(b, "gs_sessions_total", "counter", "Player sessions accepted.");
    put(b, "gs_sessions_total %llu\n", (unsigned long long)s.sessions_total);
    head(b, "gs_online_players", "gauge", "Characters in the world.");
    put(b, "gs_online_players %u\n", content_online(a->world));
    head(b, "gs_packets_total", "counter", "Packets by direction.");
    put(b, "gs_packets_total{dir=\"in\"} %llu\n", (unsigned long long)s.packets_in);
    put(b, "gs_packets_total{dir=\"out\"} %llu\n", (unsigned long long)s.packets_out);
    head(b, "gs_bytes_total", "counter", "Bytes by direction.");
    put(b, "gs_bytes_total{dir=\"in\"} %llu\n", (unsigned long long)s.bytes_in);
    put(b, "gs_bytes_total{dir=\"out\"} %llu\n", (unsigned long long)s.bytes_out);
    head(b, "gs_read_pauses_total", "counter", "Reads paused because a queue was full.");
    put(b, "gs_read_pauses_total %llu\n", (unsigned long long)s.read_pauses);
    head(b, "gs_input_pauses_total", "counter",
         "A session's reads paused at its own input bound (listen.max_input_bytes).");
    put(b, "gs_input_pauses_total %llu\n", (unsigned long long)s.input_pauses);
    head(b, "gs_rate_pauses_total", "counter",
         "A session's reads paused at its packet rate (listen.packets_per_s).");
    put(b, "gs_rate_pauses_total %llu\n", (unsigned long long)s.rate_pauses);
    head(b, "gs_accept_errors_total", "counter",
         "Accepts that failed (out of descriptors, buffers or memory).");
    put(b, "gs_accept_errors_total %llu\n", (unsigned long long)s.accept_errors);
    head(b, "gs_accept_pauses_total", "counter", "Times the listener paused after accept errors.");
    put(b, "gs_accept_pauses_total %llu\n", (unsigned long long)s.accept_pauses);
    head(b, "gs_accept_shed_total", "counter",
         "Connections closed at once on the reserve descriptor while out of descriptors.");
    put(b, "gs_accept_shed_total %llu\n", (unsigned long long)s.accept_shed);

    content_stats_t c;
    content_stats(a->world, &c);
    head(b, "gs_bad_input_total", "counter", "Rejected client input by reason.");
    const struct {
        const char *r;
        uint64_t v;
    } bad[] = {{"bad_length", s.closed_bad_length},
               {"send_full", s.closed_send_full},
               {"idle", s.closed_idle},
               {"input_backlog", s.closed_stalled},
               {"over_capacity", s.rejected_cap},
               {"bad_packet", c.bad_packets},
               {"move_too_fast", c.moves_too_fast},
               {"move_out_of_bounds", c.moves_out_of_bounds},
               {"move_bad_value", c.moves_bad_value},
               {"chat_flood", c.chat_muted},
               /* content's limits (also in their own families below) */
               {"over_budget", c.requests_dropped},
               {"request_flood", c.kicked_flood},
               {"login_timeout", c.login_timeouts},
               {"prelogin", c.kicked_prelogin_packets},
               {"prelogin_full", c.refused_prelogin},
               {"per_ip_full", c.refused_per_ip},
               {"server_full", c.refused_full},
               {"new_character_limit", c.new_chars_refused}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        put(b, "gs_bad_input_total{reason=\"%s\"} %llu\n", bad[i].r, (unsigned long long)bad[i].v);
    limit_metrics(b, &c);
    auth_metrics(b, &c);
}

typedef struct qrow_s {
    char labels[128];
    nc_queue_stats_t s;
} qrow_t;

/* nc_prio_t is 1-based (LOW = 1 .. HIGH = 3; 0 = DEFAULT means NORMAL). */
const char *gs_prio_label(int prio)
{
    switch (prio) {
    case NC_PRIO_LOW: return "low";
    case NC_PRIO_HIGH: return "high";
    default: return "normal";
    }
}

static int collect_queues(gs_app_t *a, qrow_t *rows, int max)
{
    int n = 0;
    for (int i = 0; i < a->npools; i++) {
        nc_queue_stats_t q[8];
        int k = nc_pool_stats(a->pools[i], q, 8);
        for (int j = 0; j < k && j < 8 && n < max; j++, n++) {
            rows[n].s = q[j];
            snprintf(rows[n].labels, sizeof rows[n].labels, "queue=\"%.31s\",priority=\"%s\"",
                     q[j].name, gs_prio_label((int)q[j].priority));
        }
    }
    return n;
}

/* One family at a time: the text format wants each family's samples together. */
static void queue_metrics(buf_t *b, gs_app_t *a)
{
    qrow_t r[16];
    int n = collect_queues(a, r, 16);
    head(b, "gs_queue_pending", "gauge", "Jobs waiting per queue.");
    for (int i = 0; i < n; i++)
        put(b, "gs_queue_pending{%s} %llu\n", r[i].labels, (unsigned long long)r[i].s.pending);
    head(b, "gs_queue_running", "gauge", "Workers running the queue's jobs now.");
    for (int i = 0; i < n; i++)
        put(b, "gs_queue_running{%s} %d\n", r[i].labels, r[i].s.running);
    head(b, "gs_queue_max_threads", "gauge", "Thread cap per queue.");
    for (int i = 0; i < n; i++)
        put(b, "gs_queue_max_threads{%s} %d\n", r[i].labels, r[i].s.max_threads);
    head(b, "gs_queue_max_running_seen", "gauge", "Highest concurrency observed per queue.");
    for (int i = 0; i < n; i++)
        put(b, "gs_queue_max_running_seen{%s} %d\n", r[i].labels, r[i].s.max_running_seen);
    head(b, "gs_queue_jobs_total", "counter", "Jobs run per queue.");
    for (int i = 0; i < n; i++)
        put(b, "gs_queue_jobs_total{%s} %llu\n", r[i].labels, (unsigned long long)r[i].s.jobs_run);
    head(b, "gs_queue_rejected_total", "counter", "Posts refused because the queue was full.");
    for (int i = 0; i < n; i++)
        put(b, "gs_queue_rejected_total{%s} %llu\n", r[i].labels,
            (unsigned long long)r[i].s.rejected);
    head(b, "gs_queue_wait_p50_seconds", "gauge", "Post-to-start wait p50, recent window.");
    for (int i = 0; i < n; i++)
        put(b, "gs_queue_wait_p50_seconds{%s} %g\n", r[i].labels, (double)r[i].s.wait_p50_us / 1e6);
    head(b, "gs_queue_wait_p99_seconds", "gauge", "Post-to-start wait p99, recent window.");
    for (int i = 0; i < n; i++)
        put(b, "gs_queue_wait_p99_seconds{%s} %g\n", r[i].labels, (double)r[i].s.wait_p99_us / 1e6);
}

static void histogram(buf_t *b, const char *name, const char *labels, const double *le_ms,
                      const uint64_t *cum, int n, uint64_t count, double sum_s)
{
    for (int i = 0; i < n; i++) {
        if (i == n - 1)
            put(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
                (unsigned long long)count);
        else
            put(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
                le_ms[i] / 1000.0, (unsigned long long)cum[i]);
    }
    put(b, "%s_sum%s%s%s %g\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", sum_s);
    put(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
        (unsigned long long)count);
}

static void content_metrics(buf_t *b, gs_app_t *a)
{
    content_zone_stats_t z[64];
    int n = content_zone_stats(a->world, z, 64);
    head(b, "gs_zone_players", "gauge", "Players per zone.");
    for (int i = 0; i < n && i < 64; i++)
        put(b, "gs_zone_players{zone=\"%u\"} %u\n", z[i].id, z[i].players);
    head(b, "gs_zone_notifications_total", "counter", "Packets fanned out by zones.");
    for (int i = 0; i < n && i < 64; i++)
        put(b, "gs_zone_notifications_total{zone=\"%u\"} %llu\n", z[i].id,
            (unsigned long long)z[i].notifications);
    head(b, "gs_zone_updates_total", "counter", "Neighbour positions sent in entity_updates.");
    for (int i = 0; i < n && i < 64; i++)
        put(b, "gs_zone_updates_total{zone=\"%u\"} %llu\n", z[i].id,
            (unsigned long long)z[i].updates);
    head(b, "gs_zone_update_packets_total", "counter", "entity_updates packets sent.");
    for (int i = 0; i < n && i < 64; i++)
        put(b, "gs_zone_update_packets_total{zone=\"%u\"} %llu\n", z[i].id,
            (unsigned long long)z[i].update_packets);
    head(b, "gs_zone_tick_overruns_total", "counter",
         "Zone ticks longer than zones.tick_budget_ms (each lowers the update rate).");
    for (int i = 0; i < n && i < 64; i++)
        put(b, "gs_zone_tick_overruns_total{zone=\"%u\"} %llu\n", z[i].id,
            (unsigned long long)z[i].overruns);
    head(b, "gs_zone_encode_batches_total", "counter",
         "Fan-out batches encoded and sent (zones.encode_jobs) by a game-queue job, or on the "
         "zone strand when the queue was full.");
    for (int i = 0; i < n && i < 64; i++) {
        put(b, "gs_zone_encode_batches_total{zone=\"%u\",on=\"job\"} %llu\n", z[i].id,
            (unsigned long long)z[i].encode_jobs);
        put(b, "gs_zone_encode_batches_total{zone=\"%u\",on=\"strand\"} %llu\n", z[i].id,
            (unsigned long long)z[i].encode_inline);
    }
    head(b, "gs_zone_update_divider", "gauge",
         "Updates go out every Nth zone tick (1 = every tick; more under overload).");
    for (int i = 0; i < n && i < 64; i++)
        put(b, "gs_zone_update_divider{zone=\"%u\"} %u\n", z[i].id, z[i].update_divider);
    head(b, "gs_zone_tick_seconds", "histogram", "Zone tick duration.");
    for (int i = 0; i < n && i < 64; i++) {
        char l[32];
        snprintf(l, sizeof l, "zone=\"%u\"", z[i].id);
        histogram(b, "gs_zone_tick_seconds", l, content_tick_bucket_ms, z[i].tick_buckets,
                  CONTENT_TICK_BUCKETS, z[i].ticks, (double)z[i].tick_sum_us / 1e6);
    }
    head(b, "gs_zone_request_wait_seconds", "histogram",
         "Players' requests (moves, pings, chat): from decoded to handled by their zone.");
    for (int i = 0; i < n && i < 64; i++) {
        char l[32];
        snprintf(l, sizeof l, "zone=\"%u\"", z[i].id);
        histogram(b, "gs_zone_request_wait_seconds", l, content_tick_bucket_ms, z[i].wait_buckets,
                  CONTENT_TICK_BUCKETS, z[i].waits, (double)z[i].wait_sum_us / 1e6);
    }
    content_stats_t c;
    content_stats(a->world, &c);
    head(b, "gs_db_op_seconds", "histogram", "Database operation (transaction) latency.");
    histogram(b, "gs_db_op_seconds", "", content_db_latency_bucket_ms, c.db_buckets, 8, c.db_ops,
              (double)c.db_total_us / 1e6);
    head(b, "gs_db_errors_total", "counter", "Failed database operations.");
    put(b, "gs_db_errors_total %llu\n", (unsigned long long)c.db_errors);
    head(b, "gs_db_up", "gauge", "1 while the database answers, 0 while operations are retried.");
    put(b, "gs_db_up %d\n", c.db_up);
    head(b, "gs_db_faults_total", "counter", "Failed database statements by kind.");
    for (int i = 0; i < 6; i++)
        put(b, "gs_db_faults_total{kind=\"%s\"} %llu\n", content_db_fault_name[i],
            (unsigned long long)c.db_faults[i]);
    head(b, "gs_db_saves_pending", "gauge", "Characters whose save waits for the database.");
    put(b, "gs_db_saves_pending %llu\n", (unsigned long long)c.db_saves_pending);
    head(b, "gs_db_requests_waiting", "gauge", "Logins and gold changes waiting for the database.");
    put(b, "gs_db_requests_waiting %llu\n", (unsigned long long)c.db_requests_waiting);
    head(b, "gs_db_retries_total", "counter", "Retries while the database was unavailable.");
    put(b, "gs_db_retries_total %llu\n", (unsigned long long)c.db_retries);
    head(b, "gs_db_requests_timed_out_total", "counter",
         "Logins and gold changes refused: database unavailable too long.");
    put(b, "gs_db_requests_timed_out_total %llu\n", (unsigned long long)c.db_requests_timed_out);
    head(b, "gs_db_saves_lost_total", "counter", "Character saves dropped (permanent error).");
    put(b, "gs_db_saves_lost_total %llu\n", (unsigned long long)c.db_saves_lost);
    head(b, "gs_db_reconnects_total", "counter",
         "PostgreSQL connections re-established after a loss (0 on SQLite).");
    put(b, "gs_db_reconnects_total %llu\n", (unsigned long long)c.db_reconnects);
    head(b, "gs_money_overflow_refused_total", "counter",
         "Gold/item changes refused: amount or result out of range.");
    put(b, "gs_money_overflow_refused_total %llu\n", (unsigned long long)c.money_range_refused);
    head(b, "gs_logins_total", "counter", "Successful logins.");
    put(b, "gs_logins_total %llu\n", (unsigned long long)c.logins);
    head(b, "gs_takeovers_total", "counter", "Logins that took over an online character.");
    put(b, "gs_takeovers_total %llu\n", (unsigned long long)c.takeovers);
    head(b, "gs_moves_total", "counter", "Move requests.");
    put(b, "gs_moves_total %llu\n", (unsigned long long)c.moves);
    head(b, "gs_content_queue_full_total", "counter", "Content posts that met a full queue.");
    put(b, "gs_content_queue_full_total %llu\n", (unsigned long long)c.queue_full);
}

/* issue 13: authentication of the chat and master links. */
static void link_metrics(buf_t *b)
{
    gs_links_stats_t ls;
    gs_peers_stats(&ls);
    head(b, "gs_link_auth_failures_total", "counter",
         "Chat/master link handshakes that failed authentication (wrong proof, refused, "
         "link auth mismatch).");
    put(b, "gs_link_auth_failures_total{link=\"chat\"} %llu\n",
        (unsigned long long)ls.chat_auth_failures);
    put(b, "gs_link_auth_failures_total{link=\"master\"} %llu\n",
        (unsigned long long)ls.master_auth_failures);
    /* issue 16: one link per master (master.host, master.extra) */
    char addr[80];
    int up;
    for (int i = 0; gs_peers_master_info(i, addr, sizeof addr, &up) == 0; i++) {
        if (i == 0)
            head(b, "gs_master_link_up", "gauge",
                 "1 while this shard is registered with the master (master.host, master.extra).");
        put(b, "gs_master_link_up{master=\"%s\"} %d\n", addr, up);
    }
}

/* issue 16: the Redis chat bus (chat.bus "redis"; absent otherwise). */
static void bus_metrics(buf_t *b)
{
    gs_bus_stats_t s;
    int on;
    gs_peers_bus_stats(&s, &on);
    if (!on)
        return;
    head(b, "gs_bus_up", "gauge", "1 while the Redis chat bus is connected (both connections).");
    put(b, "gs_bus_up{bus=\"redis\"} %d\n", s.up);
    head(b, "gs_bus_reconnects_total", "counter", "Redis connections re-established.");
    put(b, "gs_bus_reconnects_total{bus=\"redis\"} %llu\n", (unsigned long long)s.reconnects);
    head(b, "gs_bus_published_total", "counter", "Messages published (shouts, whispers).");
    put(b, "gs_bus_published_total{bus=\"redis\"} %llu\n", (unsigned long long)s.published);
    head(b, "gs_bus_received_total", "counter", "Messages received on this shard's channels.");
    put(b, "gs_bus_received_total{bus=\"redis\"} %llu\n", (unsigned long long)s.received);
    head(b, "gs_bus_errors_total", "counter", "Redis error replies and malformed messages.");
    put(b, "gs_bus_errors_total{bus=\"redis\"} %llu\n", (unsigned long long)s.errors);
}

int gs_metrics_render(void *app, const char *path, char **body, size_t *len, const char **ctype)
{
    gs_app_t *a = app;
    buf_t b = {0};
    int status = 200;
    *ctype = "text/plain; charset=utf-8";
    if (strcmp(path, "/healthz") == 0) {
        put(&b, "ok\n");
    } else if (strcmp(path, "/metrics") == 0) {
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        role_metrics(&b, a);
        queue_metrics(&b, a);
        content_metrics(&b, a);
        link_metrics(&b);
        bus_metrics(&b);
        nc_http_stats_t hs;
        nc_http_stats(a->http, &hs);
        head(&b, "gs_metrics_http_closed_total", "counter",
             "Metrics connections closed by the page's limits, by reason.");
        put(&b, "gs_metrics_http_closed_total{reason=\"timeout\"} %llu\n",
            (unsigned long long)hs.timeouts);
        put(&b, "gs_metrics_http_closed_total{reason=\"evicted\"} %llu\n",
            (unsigned long long)hs.evicted);
        put(&b, "gs_metrics_http_closed_total{reason=\"refused\"} %llu\n",
            (unsigned long long)hs.refused);
        put(&b, "gs_metrics_http_closed_total{reason=\"bad_request\"} %llu\n",
            (unsigned long long)hs.bad);
        head(&b, "gs_admin_auth_failures_total", "counter",
             "Console connections closed for a wrong or missing auth line.");
        put(&b, "gs_admin_auth_failures_total %llu\n",
            (unsigned long long)gs_admin_auth_failures(a->admin));
        head(&b, "gs_uptime_seconds", "gauge", "Seconds since start.");
        put(&b, "gs_uptime_seconds %g\n", (double)(nc_now_ms() - a->started_ms) / 1000.0);
    } else if (strcmp(path, "/status") == 0) { /* gs_status.c: the page for people */
        if (gs_status_render(a, &b.p, &b.len) == 0)
            *ctype = "text/html; charset=utf-8";
        else
            status = 500;
    } else {
        status = 404;
        put(&b, "not found\n");
    }
    *body = b.p;
    *len = b.len;
    return status;
}
