/* testclient: interactive client for a gameserver, or with --bots N a load
 * generator.  Parses the command line and hands over to one of the modes. */
#include "tc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: testclient [--host 127.0.0.1] [--port 7777] [--moves-quiet]\n"
               "       testclient --login [HOST:PORT] [--known-hosts FILE] [--password-file FILE]\n"
               "                  [--shard NAME]\n"
               "       testclient --bots N --duration S [--ramp R] [--move-hz F] [--chat-hz F]\n"
               "                  [--ping-hz F] [--host H] [--port P]\n"
               "                  [--spread [--zones 1,2,3] [--spread-radius 100]]\n"
               "                  [--status-interval S] [--threads T]\n"
               "                  [--bot-prefix P] [--whisper-hz R --whisper-targets P:N[,P:N]]\n"
               "\n"
               "Interactive mode reads commands from stdin (a terminal or a pipe) and prints\n"
               "server events as they arrive. At end of input it waits briefly for pending\n"
               "replies, logs out and exits 0.\n"
               "  login NAME | move X Y | w a s d (n e s, west) | say TEXT | shout TEXT |\n"
               "  whisper NAME TEXT | who [zone] | zone ID | ping | quit | help\n"
               "\n"
               "Accounts (--login): the client talks to the login server (masterserver) over\n"
               "an encrypted channel pinned to its key (trust on first use, --known-hosts):\n"
               "  register NAME | login NAME (lists characters and shards) | realms |\n"
               "  play [CHARACTER] [SHARD] (a ticket, then the game server it names)\n"
               "Without --login, login NAME is the name-only login of a dev shard (--port).\n"
               "\n"
               "Bots mode: N bots (bot0001...) connect at R per second (default 200), log in,\n"
               "walk (--move-hz, default 5), chat in their zone (--chat-hz, default 0.2) and\n"
               "ping (--ping-hz, default 1) for S seconds (default 10), then log out. One\n"
               "status line per second on stderr, a summary on stdout; exit 1 on errors or\n"
               "unexpected disconnects.\n"
               "With --spread, bot i changes to zone i mod Z of --zones (default 1,2,3, the\n"
               "template's zones.json) and walks from that zone's spawn to a home drawn in a\n"
               "disc of --spread-radius units (default 100), then random-walks there.\n"
               "--status-interval S: one status line per S seconds (default 1); its p50/p99\n"
               "are over that window's pings.\n"
               "With --login the bots are accounts bot-0001... playing characters bot0001...:\n"
               "each registers (open registration) or logs in (the name exists), gets a\n"
               "ticket for --shard (default the first healthy shard) and enters with it.\n"
               "Password: --password-file, else \"" TC_BOT_PASSWORD "\" (dev shards only).\n"
               "--threads T: T I/O threads (default 1) and max(2, T) handler workers; the\n"
               "status lines and the summary show the testclient's own CPU and warn when it\n"
               "is likely the limit of the run.\n"
               "\n"
               "  --host H         server address (default 127.0.0.1)\n"
               "  --port P         server port (default 7777)\n"
               "  --moves-quiet    interactive: do not print neighbours' moves\n"
               "  --keepalive MS   interactive: a silent ping every MS ms keeps an idle player\n"
               "                   connected (default 30000; 0 = never)\n"
               "  --walk-speed U   interactive: move X Y walks at U units/s (default 8; the\n"
               "                   server corrects faster than zones.max_speed, default 10)\n"
               "  --proto-hash X   send X (hex) as protocol hash (tests the mismatch error)\n"
               "  --login [H:P]    use accounts on the login server H:P (default 127.0.0.1:7002)\n"
               "  --known-hosts F  login server key pins (default $HOME/.gameserver/known_logins)\n"
               "  --password-file F  the password is F's first line (else a no-echo prompt on\n"
               "                   a terminal, or the next line of piped input)\n"
               "  --shard NAME     play / bots: this shard (default: first healthy)\n"
               "  --script FILE    run FILE's commands (one a line; also send PACKET {json}\n"
               "                   and expect PACKET {partial json} [timeout_ms]) instead of\n"
               "                   stdin; exit 0 when every line ran, 1 at the first failing\n"
               "                   line (printed), 2 if FILE cannot be read\n"
               "  --help           this text\n"
               "\n"
               "       testclient --admin HOST:PORT --admin-secret-file FILE [command...]\n"
               "Operator's console: runs each command (or each stdin line) on the\n"
               "gameserver's admin port and prints the answers; exit 1 if one answered\n"
               "`error`, 3 if the console is unreachable or refuses the secret.\n");
    fprintf(f, "\nBots' names and whispers (issue 16):\n"
               "--bot-prefix P: bots are P0001... (accounts P-0001...; default bot, 1-8 of\n"
               "A-Z a-z 0-9 _). --whisper-hz R: each bot whispers a random name of\n"
               "--whisper-targets P:N (P0001..PN; several comma-separated, e.g. the other\n"
               "shards' bots) every 1/R s on average (default 0 = never); a bot answers each\n"
               "whisper it gets, and the answer's arrival is a whisper round trip (status\n"
               "line and summary: p50/p99, sent, echoed, answered, not found).\n");
}

static int parse_num(const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < lo || d > hi)
        return -1;
    *out = d;
    return 0;
}

/* "1,2,3": 1..16 zone ids in 1..65535 */
static int parse_zones(tc_opts_t *o, const char *v)
{
    o->nzones = 0;
    while (*v) {
        char *end;
        unsigned long z = strtoul(v, &end, 10);
        if (end == v || z < 1 || z > 65535 || o->nzones == 16 || (*end && *end != ','))
            return -1;
        o->zones[o->nzones++] = (uint16_t)z;
        v = *end ? end + 1 : end;
    }
    return o->nzones > 0 ? 0 : -1;
}

/* A bot name prefix: 1..8 of [A-Za-z0-9_] (a character name's letters). */
static int prefix_ok(const char *v, size_t len)
{
    if (len < 1 || len > 8)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
              (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
            return 0;
    return 1;
}

/* --whisper-targets PREFIX:COUNT[,PREFIX:COUNT...] (up to 8) */
static int parse_wtargets(tc_opts_t *o, const char *v)
{
    o->nwtargets = 0;
    while (*v) {
        const char *colon = strchr(v, ':');
        char *end;
        if (!colon || !prefix_ok(v, (size_t)(colon - v)) || o->nwtargets == 8)
            return -1;
        unsigned long n = strtoul(colon + 1, &end, 10);
        if (end == colon + 1 || n < 1 || n > 60000 || (*end && *end != ','))
            return -1;
        snprintf(o->wtargets[o->nwtargets].prefix, sizeof o->wtargets[0].prefix, "%.*s",
                 (int)(colon - v), v);
        o->wtargets[o->nwtargets++].count = (int)n;
        v = *end ? end + 1 : end;
    }
    return o->nwtargets > 0 ? 0 : -1;
}

/* "HOST:PORT" (the last colon splits) */
static int parse_hostport(tc_opts_t *o, const char *v)
{
    const char *colon = strrchr(v, ':');
    double d = 0;
    if (!colon || colon == v || (size_t)(colon - v) >= sizeof o->login_host ||
        parse_num(colon + 1, 1, 65535, &d) != 0)
        return -1;
    snprintf(o->login_host, sizeof o->login_host, "%.*s", (int)(colon - v), v);
    o->login_port = (uint16_t)d;
    o->use_login = 1;
    return 0;
}

static int parse_opt(tc_opts_t *o, const char *k, const char *v)
{
    double d = 0;
    if (!strcmp(k, "--login"))
        return parse_hostport(o, v);
    else if (!strcmp(k, "--known-hosts") && *v &&
             snprintf(o->known_hosts, sizeof o->known_hosts, "%s", v) < (int)sizeof o->known_hosts)
        ;
    else if (!strcmp(k, "--password-file"))
        o->password_file = v;
    else if (!strcmp(k, "--shard") && *v && strlen(v) <= PROTO_TICKET_REQUEST_SHARD_MAX)
        o->shard = v;
    else if (!strcmp(k, "--script") && *v)
        o->script = v;
    else if (!strcmp(k, "--host"))
        o->host = v;
    else if (!strcmp(k, "--port") && parse_num(v, 1, 65535, &d) == 0)
        o->port = (uint16_t)d;
    else if (!strcmp(k, "--bots") && parse_num(v, 1, 60000, &d) == 0)
        o->bots = (int)d;
    else if (!strcmp(k, "--duration") && parse_num(v, 0.1, 86400, &d) == 0)
        o->duration_s = d;
    else if (!strcmp(k, "--ramp") && parse_num(v, 0.1, 1e6, &d) == 0)
        o->ramp_per_s = d;
    else if (!strcmp(k, "--move-hz") && parse_num(v, 0, 100, &d) == 0)
        o->move_hz = d;
    else if (!strcmp(k, "--chat-hz") && parse_num(v, 0, 100, &d) == 0)
        o->chat_hz = d;
    else if (!strcmp(k, "--ping-hz") && parse_num(v, 0, 1000, &d) == 0)
        o->ping_hz = d;
    else if (!strcmp(k, "--zones"))
        return parse_zones(o, v);
    else if (!strcmp(k, "--status-interval") && parse_num(v, 0.1, 3600, &d) == 0)
        o->status_s = d;
    else if (!strcmp(k, "--spread-radius") && parse_num(v, 0, 10000, &d) == 0)
        o->spread_radius = d;
    else if (!strcmp(k, "--threads") && parse_num(v, 1, 64, &d) == 0)
        o->threads = (int)d;
    else if (!strcmp(k, "--proto-hash"))
        o->proto_hash = strtoull(v, NULL, 16);
    else if (!strcmp(k, "--keepalive") && parse_num(v, 0, 3600000, &d) == 0)
        o->keepalive_ms = (int)d;
    else if (!strcmp(k, "--walk-speed") && parse_num(v, 0.1, 1000, &d) == 0)
        o->walk_speed = (float)d;
    else if (!strcmp(k, "--bot-prefix") && prefix_ok(v, strlen(v)))
        snprintf(o->bot_prefix, sizeof o->bot_prefix, "%s", v);
    else if (!strcmp(k, "--whisper-hz") && parse_num(v, 0, 100, &d) == 0)
        o->whisper_hz = d;
    else if (!strcmp(k, "--whisper-targets"))
        return parse_wtargets(o, v);
    else
        return -1;
    return 0;
}

/* --known-hosts unset: $HOME/.gameserver/known_logins, the directory
 * created (owner only) when missing. */
static int default_known_hosts(tc_opts_t *o)
{
    if (o->known_hosts[0])
        return 0;
    const char *home = tc_home_dir();
    char dir[sizeof o->known_hosts];
    int n = home ? snprintf(dir, sizeof dir, "%s/.gameserver", home) : -1;
    if (n < 0 || (size_t)n + sizeof "/known_logins" > sizeof dir) {
        fprintf(stderr, "testclient: no home directory for the known-hosts file: give "
                        "--known-hosts FILE\n");
        return -1;
    }
    if (tc_mkdir_private(dir) != 0) {
        fprintf(stderr, "testclient: cannot create %s: give --known-hosts FILE\n", dir);
        return -1;
    }
    n = snprintf(o->known_hosts, sizeof o->known_hosts, "%s/known_logins", dir);
    return n > 0 && (size_t)n < sizeof o->known_hosts ? 0 : -1;
}

int main(int argc, char **argv)
{
    tc_opts_t o = {.host = "127.0.0.1",
                   .port = 7777,
                   .proto_hash = PROTO_HASH,
                   .duration_s = 10,
                   .ramp_per_s = 200,
                   .move_hz = 5,
                   .chat_hz = 0.2,
                   .ping_hz = 1,
                   .nzones = 3,
                   .zones = {1, 2, 3},
                   .spread_radius = 100,
                   .status_s = 1,
                   .login_host = "127.0.0.1",
                   .login_port = 7002,
                   .keepalive_ms = 30000,
                   .walk_speed = 8,
                   .threads = 1,
                   .bot_prefix = "bot"};
    tl_console_init();
    if (argc > 1 && !strcmp(argv[1], "--admin")) /* the operator's console: tc_admin.c */
        return tc_admin_main(argc, argv);
    int i = 1;
    while (i < argc) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--spread")) {
            o.spread = 1;
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--moves-quiet")) {
            o.quiet_moves = 1;
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--login") && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))) {
            o.use_login = 1; /* the default login server */
            i++;
            continue;
        }
        if (i + 1 >= argc || parse_opt(&o, argv[i], argv[i + 1]) != 0) {
            fprintf(stderr, "testclient: bad option '%s' (see --help)\n", argv[i]);
            return 2;
        }
        i += 2;
    }
    if (o.whisper_hz > 0 && o.nwtargets == 0) {
        fprintf(stderr, "testclient: --whisper-hz needs --whisper-targets PREFIX:COUNT\n");
        return 2;
    }
    if (o.use_login && default_known_hosts(&o) != 0)
        return 2;
    FILE *script = o.script ? fopen(o.script, "r") : NULL; /* before connecting */
    if (o.script && !script) {
        fprintf(stderr, "script %s: cannot open: %s\n", o.script, strerror(errno));
        return 2;
    }
    if (script)
        fclose(script);
    nc_log_set_level(NC_LOG_ERROR);
    tl_signals_block();
    return o.bots > 0 ? tc_bots_main(&o) : tc_interactive_main(&o);
}
