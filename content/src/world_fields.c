/* Chat commands over the declared character fields (char_fields.h):
 * "/show" lists them, "/set NAME N" (GM) writes one.  Parsed here on the
 * zone strand (checked: the name must be declared, N a whole number);
 * the database work and the reply run on the db strand (world_db.c). */
#include "content_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct field_job_s {
    content_world_t *w;
    nc_sid_t sid;
    int64_t char_id, v;
    int field, mode;
} field_job_t;

static void db_field_job(void *arg)
{
    field_job_t *j = arg;
    world_db_field(j->w, j->sid, j->char_id, j->field, j->mode, j->v);
    free(j);
}

void world_field_async(content_world_t *w, nc_sid_t sid, int64_t char_id, int field, int mode,
                       int64_t v)
{
    field_job_t *j = malloc(sizeof *j);
    if (!j)
        return;
    *j = (field_job_t){w, sid, char_id, v, field, mode};
    if (world_post_critical(w, w->db_strand, db_field_job, j) != 0)
        free(j);
}

/* "NAME N": 0 with *field and *v, or -1 (the player was told why). */
static int parse_set(content_world_t *w, nc_sid_t sid, const char *arg, int *field, int64_t *v)
{
    size_t n = strcspn(arg, " ");
    *field = content_field_find(arg, n);
    if (*field < 0) {
        world_send_error(w, sid, PROTO_ERR_BAD_PACKET, 0, "usage: /set FIELD N (see /show)");
        return -1;
    }
    const char *num = arg[n] ? arg + n + 1 : "";
    errno = 0;
    char *end = NULL;
    long long x = strtoll(num, &end, 10);
    while (end && (*end == ' ' || *end == '\t'))
        end++;
    if (end == num || !end || *end != 0 || errno == ERANGE) {
        world_send_error(w, sid, PROTO_ERR_BAD_PACKET, 0, "usage: /set FIELD N (a whole number)");
        return -1;
    }
    *v = (int64_t)x;
    return 0;
}

void world_field_command(content_world_t *w, nc_sid_t sid, int64_t char_id, int mode,
                         const char *arg)
{
    int field = -1;
    int64_t v = 0;
    if (mode != WORLD_FIELD_SHOW && parse_set(w, sid, arg, &field, &v) != 0)
        return;
    world_field_async(w, sid, char_id, field, mode, v);
}
