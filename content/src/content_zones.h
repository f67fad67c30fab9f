/* Zone definitions loaded from the content file (content/data/zones.json):
 * id, name, size, spawn point and portals.  Read once at start-up. */
#ifndef CONTENT_ZONES_H
#define CONTENT_ZONES_H

#include <stddef.h>
#include <stdint.h>

#define CONTENT_ZONE_NAME_MAX 32
#define CONTENT_MAX_ZONES 256
#define CONTENT_MAX_PORTALS 16
/* A zone file larger than this is refused (256 zones of 16 portals take
 * about 0.7 MB). */
#define CONTENT_ZONES_FILE_MAX (4 * 1024 * 1024)

typedef struct content_portal_s {
    float x, y, radius;
    uint16_t to_zone;
    float to_x, to_y;
} content_portal_t;

typedef struct content_zone_def_s {
    uint16_t id;
    char name[CONTENT_ZONE_NAME_MAX + 1];
    float width, height;
    float spawn_x, spawn_y;
    content_portal_t portals[CONTENT_MAX_PORTALS];
    int nportals;
} content_zone_def_t;

typedef struct content_zone_defs_s {
    content_zone_def_t *v;
    int n;
} content_zone_defs_t;

/* Parses JSON text; on error returns -1 with a message naming the element
 * by its full path (`zones[3].spawn.x: out of range ...`).  Unknown and
 * duplicate keys are errors; a syntax error names line and column.
 * content_zones_load prefixes every message with the file's path
 * (`FILE:LINE:COLUMN: JSON syntax error`, `FILE: zones[0].id: missing`). */
int content_zones_parse(const char *json, content_zone_defs_t *out, char *err, size_t errlen);
int content_zones_load(const char *path, content_zone_defs_t *out, char *err, size_t errlen);
void content_zones_free(content_zone_defs_t *defs);
const content_zone_def_t *content_zones_find(const content_zone_defs_t *defs, uint16_t id);

#endif
