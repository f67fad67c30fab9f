/* Readable one-line rendering of server packets for the interactive client.
 * Remembers entity names from spawn packets so moves and despawns show
 * names instead of numbers. */
#include "tc.h"
#include "tc_script.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NAMES 4096 /* open-addressed entity id -> name; collisions overwrite */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint32_t id;
    char name[PROTO_SPAWN_NAME_MAX + 1];
} names[NAMES];

void tc_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_mu);
    vprintf(fmt, ap);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    va_end(ap);
}

void tc_print_forget_entities(void)
{
    pthread_mutex_lock(&out_mu);
    memset(names, 0, sizeof names);
    pthread_mutex_unlock(&out_mu);
}

static const char *name_of(uint32_t id, char *tmp, size_t cap)
{
    pthread_mutex_lock(&out_mu);
    const char *n = names[id % NAMES].id == id ? names[id % NAMES].name : NULL;
    if (n)
        snprintf(tmp, cap, "%s", n);
    else
        snprintf(tmp, cap, "#%u", (unsigned)id);
    pthread_mutex_unlock(&out_mu);
    return tmp;
}

static void remember(uint32_t id, const char *name)
{
    pthread_mutex_lock(&out_mu);
    names[id % NAMES].id = id;
    snprintf(names[id % NAMES].name, sizeof names[0].name, "%s", name);
    pthread_mutex_unlock(&out_mu);
}

static void print_chat(const proto_chat_deliver_t *c)
{
    if (c->channel == 0)
        tc_printf("[zone] %s: %s\n", c->sender, c->text);
    else if (c->channel == 1 && c->shard[0])
        tc_printf("[global] %s@%s: %s\n", c->sender, c->shard, c->text);
    else if (c->channel == 1)
        tc_printf("[global] %s: %s\n", c->sender, c->text);
    else
        tc_printf("[whisper] %s: %s\n", c->sender, c->text);
}

static void print_who(const proto_who_response_t *w)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "online (%u):", (unsigned)w->total);
    for (int i = 0; i < w->entries_count && n > 0 && (size_t)n < sizeof line; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%s %s (zone %u)", i ? "," : "",
                      w->entries[i].name, (unsigned)w->entries[i].zone);
    tc_printf("%s\n", line);
}

static void print_world(const proto_msg_t *m, int quiet_moves)
{
    static const char *const why[] = {"out of range", "logged out", "changed zone"};
    char tmp[40];
    switch (m->type) {
    case PROTO_T_SPAWN:
        remember(m->spawn.entity_id, m->spawn.name);
        tc_printf("+ %s (%s #%u) at (%.1f, %.1f)\n", m->spawn.name,
                  m->spawn.kind ? "npc" : "player", (unsigned)m->spawn.entity_id, m->spawn.pos.x,
                  m->spawn.pos.y);
        break;
    case PROTO_T_DESPAWN:
        tc_printf("- %s left view (%s)\n", name_of(m->despawn.entity_id, tmp, sizeof tmp),
                  m->despawn.reason < 3 ? why[m->despawn.reason] : "?");
        break;
    case PROTO_T_ENTITY_UPDATES:
        for (uint16_t i = 0; !quiet_moves && i < m->entity_updates.entries_count; i++) {
            const proto_entity_update_t *e = &m->entity_updates.entries[i];
            tc_printf("~ %s moved to (%.1f, %.1f)\n", name_of(e->entity_id, tmp, sizeof tmp),
                      m->entity_updates.origin.x + e->qx * m->entity_updates.step,
                      m->entity_updates.origin.y + e->qy * m->entity_updates.step);
        }
        break;
    case PROTO_T_MOVE_NOTIFY:
        if (!quiet_moves)
            tc_printf("~ %s moved to (%.1f, %.1f)\n",
                      name_of(m->move_notify.entity_id, tmp, sizeof tmp), m->move_notify.pos.x,
                      m->move_notify.pos.y);
        break;
    default: tc_print_json(m); /* no pretty-printer: "< NAME {json}" */
    }
}

void tc_print_event(const proto_msg_t *m, int quiet_moves)
{
    switch (m->type) {
    case PROTO_T_WORLD_ENTERED:
        tc_printf("* entered zone %s (%u) at (%.1f, %.1f) as entity #%u\n",
                  m->world_entered.zone_name, (unsigned)m->world_entered.zone,
                  m->world_entered.pos.x, m->world_entered.pos.y,
                  (unsigned)m->world_entered.entity_id);
        break;
    case PROTO_T_ZONE_CHANGED:
        tc_print_forget_entities();
        tc_printf("* now in zone %s (%u) at (%.1f, %.1f)\n", m->zone_changed.zone_name,
                  (unsigned)m->zone_changed.zone, m->zone_changed.pos.x, m->zone_changed.pos.y);
        break;
    case PROTO_T_CHAT_DELIVER: print_chat(&m->chat_deliver); break;
    case PROTO_T_WHO_RESPONSE: print_who(&m->who_response); break;
    case PROTO_T_NOTICE: tc_printf("! notice: %s\n", m->notice.text); break;
    case PROTO_T_ERROR:
        tc_printf("! error %d (%s)%s: %s\n", (int)m->error.code, proto_err_text(m->error.code),
                  m->error.fatal ? ", fatal: the server closes the connection" : "", m->error.text);
        break;
    case PROTO_T_MOVE_CORRECTION:
        tc_printf("* position corrected by the server to (%.1f, %.1f)\n", m->move_correction.pos.x,
                  m->move_correction.pos.y);
        break;
    default: print_world(m, quiet_moves);
    }
}
