/* libFuzzer target for the zone file parser (issue 14's strict checks):
 * any bytes either parse into definitions that keep every invariant the
 * zones rely on, or are refused with a message; never a crash or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content_zones.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    content_zone_defs_t d;
    char err[256];
    if (content_zones_parse(text, &d, err, sizeof err) == 0) {
        if (d.n < 1 || d.n > CONTENT_MAX_ZONES)
            abort();
        for (int i = 0; i < d.n; i++) {
            const content_zone_def_t *z = &d.v[i];
            if (z->id == 0 || !(z->width >= 1) || z->spawn_x > z->width || z->spawn_y > z->height ||
                z->nportals > CONTENT_MAX_PORTALS || !z->name[0])
                abort();
            for (int k = 0; k < z->nportals; k++)
                if (!content_zones_find(&d, z->portals[k].to_zone))
                    abort();
        }
        content_zones_free(&d);
    } else if (!err[0] || d.v) {
        abort(); /* a refusal always says why and leaves nothing allocated */
    }
    free(text);
    return 0;
}
