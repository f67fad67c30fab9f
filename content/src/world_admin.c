/* The world's side of the operator's console (issue 14): who, kick,
 * announce, drain, save everything now, and the zones reload.  The server's
 * admin jobs call these from the control queue; the asynchronous ones
 * (save, reload) finish on content strands and report through a callback.
 *
 * Reload: a zone's definition is swapped on that zone's strand (its own
 * jobs see one definition per job); others load the pointer atomically and
 * may see the old one for a moment, which stays valid: replaced arrays are
 * kept until the world is destroyed (a reload costs one array). */
#include "content_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "world"

typedef struct defs_kept_s {
    struct defs_kept_s *next;
    content_zone_defs_t defs;
} defs_kept_t;

/* Text an operator reads on a line protocol: control characters become
 * '?', so a name can never end a line or fake the final `ok`. */
static void clean(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
    dst[i] = 0;
}

uint32_t content_who(content_world_t *w, content_who_fn fn, void *ud)
{
    uint32_t n = 0;
    pthread_mutex_lock(&w->reg_mu);
    for (int b = 0; b < REG_BUCKETS; b++)
        for (reg_entry_t *e = w->reg[b]; e; e = e->next)
            if (e->zone_idx >= 0 && !e->closing) {
                fn(ud, e->name, w->zones[e->zone_idx].def->id);
                n++;
            }
    pthread_mutex_unlock(&w->reg_mu);
    return n;
}

int content_kick(content_world_t *w, const char *name, const char *reason)
{
    nc_sid_t sid = 0, waiter = 0;
    pthread_mutex_lock(&w->reg_mu);
    reg_entry_t *e = reg_find_locked(w, name);
    if (e && !e->closing) {
        sid = e->sid;
        waiter = e->takeover_sid; /* a second login of the name goes too */
    }
    pthread_mutex_unlock(&w->reg_mu);
    /* a session already closing is gone as far as the operator can tell */
    nc_session_t *s = sid && w->o.engine ? nc_session_get(w->o.engine, sid) : NULL;
    int live = s && !nc_session_is_closing(s);
    if (s)
        nc_session_put(s);
    if (!sid || (w->o.engine && !live))
        return -1;
    char text[200];
    snprintf(text, sizeof text, "kicked by an operator%s%s", *reason ? ": " : "", reason);
    nc_sid_t sids[2] = {sid, waiter};
    for (int i = 0; i < 2; i++) {
        if (!sids[i])
            continue;
        world_send_error(w, sids[i], PROTO_ERR_NOT_ALLOWED, 1, text);
        if (w->o.engine)
            nc_close_id(w->o.engine, sids[i], PROTO_ERR_NOT_ALLOWED, "kicked by an operator");
    }
    return 0;
}

/* Under reg_mu: a notice to every character in the world. */
static uint32_t notice_world_locked(content_world_t *w, int code, const char *text)
{
    proto_notice_t m = {.code = code};
    snprintf(m.text, sizeof m.text, "%s", text);
    nc_packet_t *p;
    CONTENT_PKT(p, notice, NOTICE, &m);
    if (!p)
        return 0;
    uint32_t n = 0;
    for (int b = 0; b < REG_BUCKETS; b++)
        for (reg_entry_t *e = w->reg[b]; e; e = e->next)
            if (e->zone_idx >= 0 && !e->closing && world_send(w, e->sid, p) == 0)
                n++;
    nc_packet_release(p);
    return n;
}

uint32_t content_announce(content_world_t *w, const char *text)
{
    pthread_mutex_lock(&w->reg_mu);
    uint32_t n = notice_world_locked(w, PROTO_ERR_OK, text);
    pthread_mutex_unlock(&w->reg_mu);
    return n;
}

int content_set_draining(content_world_t *w, int on)
{
    int was = atomic_exchange(&w->draining, on != 0);
    if (was != (on != 0)) {
        pthread_mutex_lock(&w->reg_mu);
        notice_world_locked(w, PROTO_ERR_OK,
                            on ? "the server is draining for maintenance: no new logins; you "
                                 "can keep playing"
                               : "the server accepts new logins again");
        pthread_mutex_unlock(&w->reg_mu);
    }
    return was;
}

int content_draining(content_world_t *w)
{
    return atomic_load(&w->draining);
}

/* ---- save everything now ---- */

typedef struct save_all_s {
    content_world_t *w;
    content_done_fn done;
    void *ud;
    atomic_int zones_left;
    atomic_uint count;
    uint64_t lost_before;
} save_all_t;

/* On the db strand, after every save the zones posted for this request:
 * written (ok), or kept for a retry while the database is unavailable. */
static void save_done_job(void *arg)
{
    save_all_t *sa = arg;
    content_stats_t s;
    memset(&s, 0, sizeof s);
    world_db_stats(sa->w, &s);
    char text[160];
    unsigned n = atomic_load(&sa->count);
    int ok = 0;
    if (s.db_saves_pending > 0)
        snprintf(text, sizeof text,
                 "database unavailable: %llu characters' saves are kept and retried (%u asked)",
                 (unsigned long long)s.db_saves_pending, n);
    else if (s.db_saves_lost > sa->lost_before)
        snprintf(text, sizeof text, "%llu saves failed with a permanent database error (logged)",
                 (unsigned long long)(s.db_saves_lost - sa->lost_before));
    else {
        ok = 1;
        snprintf(text, sizeof text, "saved %u characters", n);
    }
    nc_log(ok ? NC_LOG_INFO : NC_LOG_WARN, TAG, "console save: %s", text);
    sa->done(sa->ud, ok, text);
    free(sa);
}

typedef struct save_zone_s {
    save_all_t *sa;
    zone_t *z;
} save_zone_t;

/* On a zone strand: the zone's characters go to the db strand as one
 * batch (the autosave's job); the last one done posts the report there,
 * behind every batch of this request. */
static int save_zone_finished(save_all_t *sa);
static void save_zone_job(void *arg)
{
    save_zone_t *a = arg;
    save_all_t *sa = a->sa;
    atomic_fetch_add(&sa->count, a->z->nall);
    zone_autosave_job(a->z);
    free(a);
    if (save_zone_finished(sa) != 0) {
        sa->done(sa->ud, 0, "the database strand is stopping");
        free(sa);
    }
}

/* The report behind the last zone's saves (or at once, if no zone ran). */
static int save_zone_finished(save_all_t *sa)
{
    if (atomic_fetch_sub(&sa->zones_left, 1) != 1)
        return 0;
    return world_post_critical(sa->w, sa->w->db_strand, save_done_job, sa);
}

int content_save_all(content_world_t *w, content_done_fn done, void *ud, char *err, size_t errlen)
{
    if (!w->db || atomic_load(&w->shutting_down)) {
        snprintf(err, errlen, "%s", w->db ? "the server is stopping" : "no database");
        return -1;
    }
    save_all_t *sa = calloc(1, sizeof *sa);
    if (!sa) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    content_stats_t s;
    memset(&s, 0, sizeof s);
    world_db_stats(w, &s);
    *sa = (save_all_t){.w = w, .done = done, .ud = ud, .lost_before = s.db_saves_lost};
    /* one extra count held by this loop, so no zone finishes the request
     * before every zone job is posted */
    atomic_store(&sa->zones_left, w->nzones + 1);
    for (int i = 0; i < w->nzones; i++) {
        save_zone_t *a = malloc(sizeof *a);
        if (a)
            *a = (save_zone_t){sa, &w->zones[i]};
        if (!a || world_post_critical(w, w->zones[i].strand, save_zone_job, a) != 0) {
            free(a); /* a stopping pool or no memory: that zone is not saved (logged) */
            nc_log(NC_LOG_ERROR, TAG, "console save: zone %u skipped", w->zones[i].def->id);
            save_zone_finished(sa);
        }
    }
    if (save_zone_finished(sa) != 0) {
        free(sa); /* every zone job ran: nobody else holds it */
        snprintf(err, errlen, "the database strand is stopping");
        return -1;
    }
    return 0;
}

/* ---- zones reload ---- */

/* What needs a restart: the set and order of zones (their strands and
 * indexes) and a zone's size (its interest grid).  0, or -1 with err. */
static int reload_check(content_world_t *w, const content_zone_defs_t *nd, char *err, size_t errlen)
{
    if (nd->n != w->nzones) {
        snprintf(err, errlen,
                 "the file has %d zones, the server runs %d: adding or removing "
                 "zones needs a restart",
                 nd->n, w->nzones);
        return -1;
    }
    for (int i = 0; i < nd->n; i++) {
        const content_zone_def_t *o = w->zones[i].def, *n = &nd->v[i];
        if (o->id != n->id) {
            snprintf(err, errlen,
                     "zones[%d].id: %u, the server runs zone %u there: reordering "
                     "or renumbering zones needs a restart",
                     i, n->id, o->id);
            return -1;
        }
        if (o->width != n->width || o->height != n->height) {
            snprintf(err, errlen,
                     "zones[%d] (zone %u): size %gx%g, the server runs %gx%g: a "
                     "size change needs a restart",
                     i, n->id, (double)n->width, (double)n->height, (double)o->width,
                     (double)o->height);
            return -1;
        }
    }
    return 0;
}

static int portals_equal(const content_zone_def_t *a, const content_zone_def_t *b)
{
    if (a->nportals != b->nportals)
        return 0;
    for (int i = 0; i < a->nportals; i++) {
        const content_portal_t *p = &a->portals[i], *q = &b->portals[i];
        if (p->x != q->x || p->y != q->y || p->radius != q->radius || p->to_zone != q->to_zone ||
            p->to_x != q->to_x || p->to_y != q->to_y)
            return 0;
    }
    return 1;
}

/* Appends "zone N: ..." lines for what differs; returns the lines added. */
static int describe(const content_zone_def_t *o, const content_zone_def_t *n, char *out, size_t cap)
{
    size_t len = strlen(out);
    int lines = 0;
    char on[CONTENT_ZONE_NAME_MAX + 1], nn[CONTENT_ZONE_NAME_MAX + 1];
    clean(on, sizeof on, o->name);
    clean(nn, sizeof nn, n->name);
    if (strcmp(o->name, n->name) != 0 && len < cap) {
        len += (size_t)snprintf(out + len, cap - len, "zone %u: name \"%s\" -> \"%s\"\n", n->id, on,
                                nn);
        lines++;
    }
    if ((o->spawn_x != n->spawn_x || o->spawn_y != n->spawn_y) && len < cap) {
        len += (size_t)snprintf(out + len, cap - len, "zone %u: spawn (%g, %g) -> (%g, %g)\n",
                                n->id, (double)o->spawn_x, (double)o->spawn_y, (double)n->spawn_x,
                                (double)n->spawn_y);
        lines++;
    }
    if (!portals_equal(o, n) && len < cap) {
        snprintf(out + len, cap - len, "zone %u: portals (%d -> %d)\n", n->id, o->nportals,
                 n->nportals);
        lines++;
    }
    return lines;
}

typedef struct reload_s {
    content_world_t *w;
    content_done_fn done;
    void *ud;
    atomic_int zones_left;
    const content_zone_def_t *v; /* the new array, kept in w->defs_kept */
    int changes;
    char text[4096];
} reload_t;

typedef struct reload_zone_s {
    reload_t *r;
    zone_t *z;
} reload_zone_t;

static void reload_finished(reload_t *r)
{
    if (atomic_fetch_sub(&r->zones_left, 1) != 1)
        return;
    atomic_store(&r->w->reloading, 0);
    r->done(r->ud, 1, r->text);
    free(r);
}

static void reload_zone_job(void *arg)
{
    reload_zone_t *a = arg;
    a->z->def = &a->r->v[a->z->idx];
    reload_t *r = a->r;
    free(a);
    reload_finished(r);
}

static int reload_prepare(content_world_t *w, reload_t *r, char *err, size_t errlen)
{
    content_zone_defs_t nd;
    char why[256];
    if (content_zones_load(w->o.zones_file, &nd, why, sizeof why) != 0) {
        char c[256];
        clean(c, sizeof c, why); /* names the file itself */
        snprintf(err, errlen, "%s; the running zones are unchanged", c);
        return -1;
    }
    if (reload_check(w, &nd, why, sizeof why) != 0) {
        content_zones_free(&nd);
        snprintf(err, errlen, "%s: %s; the running zones are unchanged", w->o.zones_file, why);
        return -1;
    }
    defs_kept_t *k = malloc(sizeof *k);
    if (!k) {
        content_zones_free(&nd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int changes = 0;
    for (int i = 0; i < nd.n; i++)
        changes += describe(w->zones[i].def, &nd.v[i], r->text, sizeof r->text);
    snprintf(r->text + strlen(r->text), sizeof r->text - strlen(r->text),
             "%d changes applied from %s", changes, w->o.zones_file);
    r->changes = changes;
    k->defs = nd;
    k->next = w->defs_kept; /* only reloads touch the list, one at a time */
    w->defs_kept = k;
    r->v = nd.v;
    return 0;
}

int content_reload_zones(content_world_t *w, content_done_fn done, void *ud, char *err,
                         size_t errlen)
{
    if (atomic_load(&w->shutting_down)) {
        snprintf(err, errlen, "the server is stopping");
        return -1;
    }
    if (atomic_exchange(&w->reloading, 1)) {
        snprintf(err, errlen, "a reload is already running");
        return -1;
    }
    reload_t *r = calloc(1, sizeof *r);
    if (!r || reload_prepare(w, r, err, errlen) != 0) {
        if (!r)
            snprintf(err, errlen, "out of memory");
        free(r);
        atomic_store(&w->reloading, 0);
        return -1;
    }
    r->w = w;
    r->done = done;
    r->ud = ud;
    atomic_store(&r->zones_left, w->nzones + 1); /* + this loop's own count */
    nc_log(NC_LOG_INFO, TAG, "zones reload from %s: %d changes", w->o.zones_file, r->changes);
    for (int i = 0; i < w->nzones; i++) {
        reload_zone_t *a = malloc(sizeof *a);
        if (a)
            *a = (reload_zone_t){r, &w->zones[i]};
        if (!a || world_post_critical(w, w->zones[i].strand, reload_zone_job, a) != 0) {
            /* no memory or a stopping pool: swapped from here (the atomic
             * pointer keeps it safe; that zone's job may see both) */
            free(a);
            w->zones[i].def = &r->v[i];
            reload_finished(r);
        }
    }
    reload_finished(r);
    return 0;
}

void world_admin_free(content_world_t *w)
{
    while (w->defs_kept) {
        defs_kept_t *k = w->defs_kept;
        w->defs_kept = k->next;
        content_zones_free(&k->defs);
        free(k);
    }
}
