/* The protocol side of testclient scripts and of `send`: packets by name
 * through the generated JSON codecs (proto_json.h, target protocol_json),
 * received packets into the log `expect` reads (tc_json.c), and packets
 * without a pretty-printer shown as JSON. */
#include "tc.h"
#include "tc_script.h"

#include "proto_json.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int recording; /* a script runs: keep packets for expect */

/* The packet type named `name`, or -1 (the generated table). */
static int type_by_name(const char *name)
{
    for (size_t i = 0; i < PROTO_NTYPES; i++) {
        const char *n = proto_type_name(proto_types[i]);
        if (n && !strcmp(n, name))
            return proto_types[i];
    }
    return -1;
}

void tc_script_note(const proto_msg_t *m)
{
    if (!atomic_load(&recording))
        return;
    const char *name = proto_type_name(m->type);
    cJSON *j = name ? proto_to_json(m) : NULL;
    if (j)
        tc_plog_push(name, j);
}

void tc_print_json(const proto_msg_t *m)
{
    const char *name = proto_type_name(m->type);
    cJSON *j = proto_to_json(m);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    if (name && txt)
        tc_printf("< %s %s\n", name, txt);
    else
        tc_printf("< packet %u (cannot show it as JSON)\n", (unsigned)m->type);
    free(txt);
    cJSON_Delete(j);
}

static int send_json(const char *name, const cJSON *json, char *err, size_t errlen)
{
    static proto_msg_t m; /* several KB; sends come from the main thread only */
    int t = type_by_name(name);
    if (t < 0) {
        snprintf(err, errlen, "no packet named '%s' (protocol/packets.json)", name);
        return -1;
    }
    if (proto_type_dir((uint16_t)t) != PROTO_DIR_C2S) {
        snprintf(err, errlen, "%s is not a client-to-server packet", name);
        return -1;
    }
    char why[256] = "";
    if (proto_from_json((uint16_t)t, json, &m, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: %s", name, why[0] ? why : "not a valid packet");
        return -1;
    }
    int rc = tc_game_send(&m);
    if (rc != 0) {
        snprintf(err, errlen, "cannot send %s: %s", name, nc_strerror(rc));
        return -1;
    }
    return 0;
}

void tc_cmd_send(const char *rest)
{
    char name[TC_SCRIPT_NAME_MAX + 1], err[512];
    cJSON *json = NULL;
    int timeout;
    if (tc_json_parse_cmd(rest, 0, name, sizeof name, &json, &timeout, err, sizeof err) != 0 ||
        send_json(name, json, err, sizeof err) != 0)
        tc_printf("! send: %s (usage: send PACKET {json})\n", err);
    cJSON_Delete(json);
}

int tc_script_main(const char *path, int (*command)(char *line))
{
    tc_script_ops_t ops = {command, send_json};
    atomic_store(&recording, 1);
    int rc = tc_script_run_file(path, &ops);
    atomic_store(&recording, 0);
    tc_plog_clear();
    return rc;
}
