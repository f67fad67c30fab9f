/* Parser for the zone content file, as strict as the config: unknown and
 * duplicate keys are errors, every error names its full path
 * (`zones[3].spawn.x`), a JSON syntax error names file, line and column.
 * Every zone and portal is checked (ids unique, sizes positive, spawn and
 * portals inside, targets exist) so zones can trust their definition. */
#include "content_zones.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const root_keys[] = {"zones", NULL};
static const char *const zone_keys[] = {"id", "name", "width", "height", "spawn", "portals", NULL};
static const char *const spawn_keys[] = {"x", "y", NULL};
static const char *const portal_keys[] = {"x", "y", "radius", "to_zone", "to_x", "to_y", NULL};

/* obj must be an object whose keys are all in `allowed`, each at most once.
 * Linear in the members: an object with many keys fails at the first
 * unknown or repeated one. */
static int check_keys(const cJSON *obj, const char *where, const char *const *allowed, char *err,
                      size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "%s: %s", where, obj ? "expected an object" : "missing");
        return -1;
    }
    unsigned seen = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        int k = 0;
        while (allowed[k] && strcmp(allowed[k], m->string) != 0)
            k++;
        if (!allowed[k]) {
            char list[96] = "";
            for (int i = 0; allowed[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         allowed[i]);
            snprintf(err, errlen, "%s.%.40s: unknown key (allowed: %s)", where, m->string, list);
            return -1;
        }
        if (seen & (1u << k)) {
            snprintf(err, errlen, "%s.%s: duplicate key", where, allowed[k]);
            return -1;
        }
        seen |= 1u << k;
    }
    return 0;
}

/* The number at where.key, within [lo, hi] (whole when integer). */
static int num(const cJSON *o, const char *key, double lo, double hi, int integer, double *out,
               char *err, size_t errlen, const char *where)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    const char *why = NULL;
    if (!v)
        why = "missing";
    else if (!cJSON_IsNumber(v))
        why = "expected a number";
    else if (!isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        why = "out of range";
    else if (integer && v->valuedouble != floor(v->valuedouble))
        why = "expected a whole number";
    if (why) {
        snprintf(err, errlen, "%s.%s: %s (a number in [%g, %g])", where, key, why, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int parse_portal(const cJSON *p, content_portal_t *o, char *err, size_t errlen,
                        const char *where)
{
    double x, y, r, to, tx, ty;
    if (check_keys(p, where, portal_keys, err, errlen) ||
        num(p, "x", 0, 1e6, 0, &x, err, errlen, where) ||
        num(p, "y", 0, 1e6, 0, &y, err, errlen, where) ||
        num(p, "radius", 0.1, 1e4, 0, &r, err, errlen, where) ||
        num(p, "to_zone", 1, 65535, 1, &to, err, errlen, where) ||
        num(p, "to_x", 0, 1e6, 0, &tx, err, errlen, where) ||
        num(p, "to_y", 0, 1e6, 0, &ty, err, errlen, where))
        return -1;
    *o = (content_portal_t){(float)x, (float)y, (float)r, (uint16_t)to, (float)tx, (float)ty};
    return 0;
}

static int parse_name(const cJSON *z, char *out, char *err, size_t errlen, const char *where)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(z, "name");
    const char *why = NULL;
    if (!name)
        why = "missing";
    else if (!cJSON_IsString(name))
        why = "expected a string";
    else if (!name->valuestring[0] || strlen(name->valuestring) > CONTENT_ZONE_NAME_MAX)
        why = "empty or too long";
    else
        for (const unsigned char *c = (const unsigned char *)name->valuestring; *c && !why; c++)
            if (*c < 0x20 || *c == 0x7f)
                why = "contains a control character";
    if (why) {
        snprintf(err, errlen, "%s.name: %s (a string of 1..%d bytes)", where, why,
                 CONTENT_ZONE_NAME_MAX);
        return -1;
    }
    snprintf(out, CONTENT_ZONE_NAME_MAX + 1, "%s", name->valuestring);
    return 0;
}

static int parse_portals(const cJSON *z, content_zone_def_t *d, char *err, size_t errlen, int idx)
{
    char where[64];
    const cJSON *p, *portals = cJSON_GetObjectItemCaseSensitive(z, "portals");
    if (!portals)
        return 0;
    if (!cJSON_IsArray(portals) || cJSON_GetArraySize(portals) > CONTENT_MAX_PORTALS) {
        snprintf(err, errlen, "zones[%d].portals: expected an array of at most %d portals", idx,
                 CONTENT_MAX_PORTALS);
        return -1;
    }
    cJSON_ArrayForEach(p, portals)
    {
        snprintf(where, sizeof where, "zones[%d].portals[%d]", idx, d->nportals);
        if (parse_portal(p, &d->portals[d->nportals], err, errlen, where) != 0)
            return -1;
        d->nportals++;
    }
    return 0;
}

static int parse_zone(const cJSON *z, content_zone_def_t *d, char *err, size_t errlen, int idx)
{
    char where[48], swhere[64];
    snprintf(where, sizeof where, "zones[%d]", idx);
    snprintf(swhere, sizeof swhere, "zones[%d].spawn", idx);
    double id, w, h, sx, sy;
    memset(d, 0, sizeof *d);
    if (check_keys(z, where, zone_keys, err, errlen) ||
        num(z, "id", 1, 65535, 1, &id, err, errlen, where) ||
        parse_name(z, d->name, err, errlen, where) ||
        num(z, "width", 1, 1e6, 0, &w, err, errlen, where) ||
        num(z, "height", 1, 1e6, 0, &h, err, errlen, where))
        return -1;
    const cJSON *spawn = cJSON_GetObjectItemCaseSensitive(z, "spawn");
    if (check_keys(spawn, swhere, spawn_keys, err, errlen) ||
        num(spawn, "x", 0, w, 0, &sx, err, errlen, swhere) ||
        num(spawn, "y", 0, h, 0, &sy, err, errlen, swhere))
        return -1;
    d->id = (uint16_t)id;
    d->width = (float)w;
    d->height = (float)h;
    d->spawn_x = (float)sx;
    d->spawn_y = (float)sy;
    return parse_portals(z, d, err, errlen, idx);
}

static int check_links(const content_zone_defs_t *defs, char *err, size_t errlen)
{
    for (int i = 0; i < defs->n; i++) {
        const content_zone_def_t *d = &defs->v[i];
        for (int j = 0; j < i; j++)
            if (defs->v[j].id == d->id) {
                snprintf(err, errlen, "zones[%d].id: duplicate id %u (also zones[%d].id)", i, d->id,
                         j);
                return -1;
            }
        for (int k = 0; k < d->nportals; k++) {
            const content_portal_t *p = &d->portals[k];
            const content_zone_def_t *t = content_zones_find(defs, p->to_zone);
            if (!t) {
                snprintf(err, errlen, "zones[%d].portals[%d].to_zone: no zone with id %u", i, k,
                         p->to_zone);
                return -1;
            }
            if (p->to_x > t->width || p->to_y > t->height) {
                snprintf(err, errlen,
                         "zones[%d].portals[%d].to_x/to_y: (%g, %g) is outside zone %u "
                         "(%g x %g)",
                         i, k, (double)p->to_x, (double)p->to_y, p->to_zone, (double)t->width,
                         (double)t->height);
                return -1;
            }
        }
    }
    return 0;
}

/* "name:line:col" (or "line L, column C" without a name) of json + off. */
static void syntax_error(const char *json, size_t off, const char *name, const char *what,
                         char *err, size_t errlen)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (json[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (name)
        snprintf(err, errlen, "%s:%d:%d: %s", name, line, col, what);
    else
        snprintf(err, errlen, "line %d, column %d: %s", line, col, what);
}

static int parse_defs(const cJSON *root, content_zone_defs_t *out, char *err, size_t errlen)
{
    if (check_keys(root, "(top level)", root_keys, err, errlen) != 0)
        return -1;
    const cJSON *z, *zones = cJSON_GetObjectItemCaseSensitive(root, "zones");
    int n = cJSON_GetArraySize(zones);
    if (!cJSON_IsArray(zones) || n < 1 || n > CONTENT_MAX_ZONES) {
        snprintf(err, errlen, "zones: %s (an array of 1..%d zones)",
                 zones ? "expected an array" : "missing", CONTENT_MAX_ZONES);
        return -1;
    }
    out->v = calloc((size_t)n, sizeof *out->v);
    if (!out->v) {
        snprintf(err, errlen, "zones: out of memory");
        return -1;
    }
    cJSON_ArrayForEach(z, zones)
    {
        if (parse_zone(z, &out->v[out->n], err, errlen, out->n) != 0)
            return -1;
        out->n++;
    }
    return check_links(out, err, errlen);
}

/* json: len bytes plus a terminating NUL; name: the file, for messages. */
static int parse_text(const char *json, size_t len, const char *name, content_zone_defs_t *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t nul = strlen(json);
    if (nul != len) {
        syntax_error(json, nul, name, "NUL byte in the file", err, errlen);
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len + 1, &end, 1);
    if (!root) {
        size_t off = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        size_t rest = off + strspn(json + off, " \t\r\n");
        if (rest >= len) /* only blanks left: the file ended too soon */
            off = len;
        syntax_error(json, off, name,
                     off >= len ? "JSON syntax error (unexpected end of file)"
                                : "JSON syntax error",
                     err, errlen);
        return -1;
    }
    char why[384];
    int rc = parse_defs(root, out, why, sizeof why);
    cJSON_Delete(root);
    if (rc != 0) {
        if (name)
            snprintf(err, errlen, "%s: %s", name, why);
        else
            snprintf(err, errlen, "%s", why);
        content_zones_free(out);
    }
    return rc;
}

int content_zones_parse(const char *json, content_zone_defs_t *out, char *err, size_t errlen)
{
    return parse_text(json, strlen(json), NULL, out, err, errlen);
}

int content_zones_load(const char *path, content_zone_defs_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open zone file %s", path);
        return -1;
    }
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        len <= CONTENT_ZONES_FILE_MAX)
        buf = malloc((size_t)len + 1);
    size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)len) {
        free(buf);
        if (len > CONTENT_ZONES_FILE_MAX)
            snprintf(err, errlen, "%s: larger than %d bytes", path, CONTENT_ZONES_FILE_MAX);
        else
            snprintf(err, errlen, "cannot read zone file %s", path);
        return -1;
    }
    buf[len] = 0;
    int rc = parse_text(buf, (size_t)len, path, out, err, errlen);
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
