/* The s2s shared secret's file and the link servers' flags (see tl_s2s.h);
 * the file itself and the handshake's client side are protocol_auth's
 * (proto_s2s.h), shared with the gameserver. */
#include "tl_s2s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tl_s2s_load_key(const char *path, uint8_t key[PA_S2S_KEY_BYTES], char *err, size_t errlen)
{
    if (pa_s2s_key_file(path, key, err, errlen) != 0)
        return -1;
    if (nc_file_is_private(path) == 0)
        nc_log(NC_LOG_WARN, "s2s", "secret file '%s' is readable by other users: chmod 600 it",
               path);
    return 0;
}

int tl_s2s_flag(tl_s2s_args_t *sa, int argc, char **argv, int i)
{
    if (!strcmp(argv[i], "--insecure-no-link-auth")) {
        sa->insecure = 1;
        return 1;
    }
    if (!strcmp(argv[i], "--secret-file") && i + 1 < argc) {
        sa->secret_file = argv[i + 1];
        return 2;
    }
    if (!strcmp(argv[i], "--auth-timeout-ms") && i + 1 < argc) {
        char *end = NULL;
        long v = strtol(argv[i + 1], &end, 10);
        if (!*argv[i + 1] || *end || v < 100 || v > 600000)
            return -1;
        sa->timeout_ms = (uint32_t)v;
        return 2;
    }
    return 0;
}

int tl_s2s_key_from_args(const char *prog, const tl_s2s_args_t *sa, uint8_t key[PA_S2S_KEY_BYTES],
                         const uint8_t **key_out)
{
    char err[256];
    *key_out = NULL;
    if (sa->insecure && sa->secret_file) {
        fprintf(stderr, "%s: --secret-file and --insecure-no-link-auth exclude each other\n", prog);
        return -1;
    }
    if (sa->insecure) {
        nc_log(NC_LOG_WARN, "s2s",
               "*** --insecure-no-link-auth: server-to-server links are NOT authenticated; anyone "
               "who reaches this port can act as a game server. Development only. ***");
        return 0;
    }
    if (!sa->secret_file) {
        fprintf(stderr,
                "%s: no link secret: pass --secret-file FILE (its first line, >= %d bytes, "
                "shared with the game servers' links.secret_file), or --insecure-no-link-auth "
                "for a development shard\n",
                prog, PA_S2S_SECRET_MIN);
        return -1;
    }
    if (tl_s2s_load_key(sa->secret_file, key, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    *key_out = key;
    return 0;
}
