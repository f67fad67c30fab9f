/* Parser for the zone content file.  Every zone and portal is checked
 * (ids unique, sizes positive, spawn and portals inside, targets exist) so
 * zones can trust their definition afterwards. */
#include "content_zones.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int num(const cJSON *o, const char *key, double lo, double hi, double *out, char *err,
               size_t errlen, const char *where)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) {
        snprintf(err, errlen, "%s.%s: missing or not a number in [%g, %g]", where, key, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int parse_portal(const cJSON *p, content_portal_t *o, char *err, size_t errlen,
                        const char *where)
{
    double x, y, r, to, tx, ty;
    if (num(p, "x", 0, 1e6, &x, err, errlen, where) ||
        num(p, "y", 0, 1e6, &y, err, errlen, where) ||
        num(p, "radius", 0.1, 1e4, &r, err, errlen, where) ||
        num(p, "to_zone", 0, 65535, &to, err, errlen, where) ||
        num(p, "to_x", 0, 1e6, &tx, err, errlen, where) ||
        num(p, "to_y", 0, 1e6, &ty, err, errlen, where))
        return -1;
    *o = (content_portal_t){(float)x, (float)y, (float)r, (uint16_t)to, (float)tx, (float)ty};
    return 0;
}

static int parse_zone(const cJSON *z, content_zone_def_t *d, char *err, size_t errlen, int idx)
{
    char where[48];
    snprintf(where, sizeof where, "zones[%d]", idx);
    double id, w, h, sx, sy;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(z, "name");
    const cJSON *spawn = cJSON_GetObjectItemCaseSensitive(z, "spawn");
    if (num(z, "id", 1, 65535, &id, err, errlen, where) ||
        num(z, "width", 1, 1e6, &w, err, errlen, where) ||
        num(z, "height", 1, 1e6, &h, err, errlen, where))
        return -1;
    if (!cJSON_IsString(name) || strlen(name->valuestring) > CONTENT_ZONE_NAME_MAX) {
        snprintf(err, errlen, "%s.name: missing or longer than %d", where, CONTENT_ZONE_NAME_MAX);
        return -1;
    }
    if (num(spawn, "x", 0, w, &sx, err, errlen, where) ||
        num(spawn, "y", 0, h, &sy, err, errlen, where))
        return -1;
    memset(d, 0, sizeof *d);
    d->id = (uint16_t)id;
    snprintf(d->name, sizeof d->name, "%s", name->valuestring);
    d->width = (float)w;
    d->height = (float)h;
    d->spawn_x = (float)sx;
    d->spawn_y = (float)sy;
    const cJSON *p, *portals = cJSON_GetObjectItemCaseSensitive(z, "portals");
    cJSON_ArrayForEach(p, portals)
    {
        snprintf(where, sizeof where, "zones[%d].portals[%d]", idx, d->nportals);
        if (d->nportals == CONTENT_MAX_PORTALS) {
            snprintf(err, errlen, "%s: more than %d portals", where, CONTENT_MAX_PORTALS);
            return -1;
        }
        if (parse_portal(p, &d->portals[d->nportals], err, errlen, where) != 0)
            return -1;
        d->nportals++;
    }
    return 0;
}

static int check_links(const content_zone_defs_t *defs, char *err, size_t errlen)
{
    for (int i = 0; i < defs->n; i++) {
        const content_zone_def_t *d = &defs->v[i];
        for (int j = 0; j < i; j++)
            if (defs->v[j].id == d->id) {
                snprintf(err, errlen, "zones[%d].id: duplicate id %u", i, d->id);
                return -1;
            }
        for (int k = 0; k < d->nportals; k++) {
            const content_portal_t *p = &d->portals[k];
            const content_zone_def_t *t = content_zones_find(defs, p->to_zone);
            if (!t || p->to_x > t->width || p->to_y > t->height) {
                snprintf(err, errlen, "zones[%d].portals[%d]: target zone %u or point invalid", i,
                         k, p->to_zone);
                return -1;
            }
        }
    }
    return 0;
}

int content_zones_parse(const char *json, content_zone_defs_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_Parse(json);
    const cJSON *zones = cJSON_GetObjectItemCaseSensitive(root, "zones");
    int n = cJSON_GetArraySize(zones);
    if (!cJSON_IsArray(zones) || n < 1 || n > CONTENT_MAX_ZONES) {
        snprintf(err, errlen, "zones: expected an array of 1..%d zones%s", CONTENT_MAX_ZONES,
                 root ? "" : " (JSON syntax error)");
        cJSON_Delete(root);
        return -1;
    }
    out->v = calloc((size_t)n, sizeof *out->v);
    int rc = out->v ? 0 : -1;
    const cJSON *z;
    cJSON_ArrayForEach(z, zones)
    {
        if (rc == 0 && (rc = parse_zone(z, &out->v[out->n], err, errlen, out->n)) == 0)
            out->n++;
    }
    cJSON_Delete(root);
    if (rc == 0)
        rc = check_links(out, err, errlen);
    if (rc != 0)
        content_zones_free(out);
    return rc;
}

int content_zones_load(const char *path, content_zone_defs_t *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open zone file %s", path);
        return -1;
    }
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)len + 1);
    size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)len) {
        free(buf);
        snprintf(err, errlen, "cannot read zone file %s", path);
        return -1;
    }
    buf[len] = 0;
    int rc = content_zones_parse(buf, out, err, errlen);
    free(buf);
    return rc;
}

void content_zones_free(content_zone_defs_t *defs)
{
    free(defs->v);
    defs->v = NULL;
    defs->n = 0;
}

const content_zone_def_t *content_zones_find(const content_zone_defs_t *defs, uint16_t id)
{
    for (int i = 0; i < defs->n; i++)
        if (defs->v[i].id == id)
            return &defs->v[i];
    return NULL;
}
