/* Interactive account commands (testclient --login): register, login,
 * realms, play.  The main thread sends an inner packet on the login
 * connection (tc_login.c) and waits, with a deadline, for the answer that
 * its handlers store here; play hands the ticket to the game connection
 * (tc_interactive.c). */
#include "tc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_MS 5000
#define ANSWER_MS 20000 /* a login waits for Argon2 on a busy server */
#define PASSWORD_MAX PROTO_ACCOUNT_LOGIN_PASSWORD_MAX

static struct {
    const tc_opts_t *o;
    tc_net_t *net;
    tc_lconn_t *lc; /* main thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    int ready, ended, answered;
    proto_msg_t answer;
    /* main thread */
    int failed, logged_in, have_realms;
    char account[PROTO_ACCOUNT_LOGIN_NAME_MAX + 1];
    proto_account_result_t acct;
    proto_realm_list_t realms;
} ac = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void on_ready(tc_lconn_t *c, const char *note, void *ud)
{
    (void)c;
    (void)ud;
    if (note)
        tc_printf("* %s\n", note);
    pthread_mutex_lock(&ac.mu);
    ac.ready = 1;
    pthread_cond_broadcast(&ac.cv);
    pthread_mutex_unlock(&ac.mu);
}

static void on_inner(tc_lconn_t *c, const proto_msg_t *m, void *ud)
{
    (void)c;
    (void)ud;
    pthread_mutex_lock(&ac.mu);
    ac.answer = *m;
    ac.answered = 1;
    pthread_cond_broadcast(&ac.cv);
    pthread_mutex_unlock(&ac.mu);
}

static void on_end(tc_lconn_t *c, const char *why, int error, void *ud)
{
    (void)c;
    (void)ud;
    if (error)
        tc_printf("ERROR: login connection: %s\n", why);
    pthread_mutex_lock(&ac.mu);
    ac.ended = 1;
    pthread_cond_broadcast(&ac.cv);
    pthread_mutex_unlock(&ac.mu);
}

static const tc_lconn_cbs_t cbs = {on_ready, on_inner, on_end};

void tc_account_init(const tc_opts_t *o, tc_net_t *net)
{
    ac.o = o;
    ac.net = net;
}

int tc_account_failed(void)
{
    return ac.failed;
}

void tc_account_stop(void)
{
    tc_lconn_destroy(ac.lc);
    ac.lc = NULL;
    ac.logged_in = 0;
}

static int failed(void)
{
    ac.failed = 1;
    return -1;
}

/* Waits (bounded) for the channel to open or the connection to end. */
static int wait_ready(void)
{
    for (int waited = 0; waited < CONNECT_MS; waited += 50) {
        struct timespec ts;
        tl_deadline(&ts, 50);
        pthread_mutex_lock(&ac.mu);
        while (!ac.ready && !ac.ended && pthread_cond_timedwait(&ac.cv, &ac.mu, &ts) == 0)
            ;
        int ready = ac.ready && !ac.ended, ended = ac.ended;
        pthread_mutex_unlock(&ac.mu);
        if (ready)
            return 0;
        if (ended) /* on_end printed why */
            return -1;
        if (tc_lconn_connect_failed(ac.lc)) {
            tc_printf("ERROR: cannot connect to the login server %s:%u\n", ac.o->login_host,
                      (unsigned)ac.o->login_port);
            return -1;
        }
    }
    tc_printf("ERROR: no answer from the login server %s:%u within %d ms\n", ac.o->login_host,
              (unsigned)ac.o->login_port, CONNECT_MS);
    return -1;
}

/* An open channel to the login server, reusing the current one. */
static int ensure_conn(void)
{
    pthread_mutex_lock(&ac.mu);
    int ok = ac.lc && ac.ready && !ac.ended;
    pthread_mutex_unlock(&ac.mu);
    if (ok)
        return 0;
    tc_account_stop();
    pthread_mutex_lock(&ac.mu);
    ac.ready = ac.ended = ac.answered = 0;
    pthread_mutex_unlock(&ac.mu);
    int rc = tc_lconn_start(ac.net, ac.o->login_host, ac.o->login_port, ac.o, &cbs, NULL, &ac.lc);
    if (rc != 0) {
        tc_printf("ERROR: cannot connect to the login server %s:%u: %s\n", ac.o->login_host,
                  (unsigned)ac.o->login_port, nc_strerror(rc));
        return failed();
    }
    return wait_ready() == 0 ? 0 : failed();
}

/* Sends inner and waits for an answer of type want into ac.answer. */
static int request(const proto_msg_t *inner, uint16_t want)
{
    pthread_mutex_lock(&ac.mu);
    ac.answered = 0;
    pthread_mutex_unlock(&ac.mu);
    if (tc_lconn_send(ac.lc, inner) != 0) {
        tc_printf("ERROR: cannot send to the login server\n");
        return failed();
    }
    struct timespec ts;
    tl_deadline(&ts, ANSWER_MS);
    pthread_mutex_lock(&ac.mu);
    while (!ac.answered && !ac.ended && pthread_cond_timedwait(&ac.cv, &ac.mu, &ts) == 0)
        ;
    int got = ac.answered ? ac.answer.type : 0, ended = ac.ended;
    pthread_mutex_unlock(&ac.mu);
    if (got == want)
        return 0;
    if (got)
        tc_printf("ERROR: the login server answered %s instead of %s\n", proto_type_name(got),
                  proto_type_name(want));
    else if (!ended)
        tc_printf("ERROR: no answer from the login server within %d ms\n", ANSWER_MS);
    return failed();
}

int tc_password(const tc_opts_t *o, const char *prompt, char *out, size_t cap)
{
    char msg[TL_LOGIN_MSG_MAX];
    if (o->password_file) {
        if (tl_read_first_line(o->password_file, out, cap, msg, sizeof msg) != 0) {
            tc_printf("ERROR: --password-file: %s\n", msg);
            return -1;
        }
        return 0;
    }
    int r = tc_stdin_is_tty() ? tc_stdin_secret(prompt, out, cap)
                              : tc_stdin_readline(out, cap, ANSWER_MS);
    if (r != 1 || !out[0]) {
        pa_wipe(out, cap);
        tc_printf("ERROR: no password (give --password-file FILE, or type it at the prompt)\n");
        return -1;
    }
    return 0;
}

/* Password into the packet's field (checked length), then wiped locally. */
static int get_password(const char *prompt, char *field, size_t field_cap)
{
    char pw[PASSWORD_MAX + 2];
    if (tc_password(ac.o, prompt, pw, sizeof pw) != 0)
        return failed();
    size_t n = strlen(pw);
    int ok = n < field_cap;
    if (ok)
        memcpy(field, pw, n + 1);
    pa_wipe(pw, sizeof pw);
    if (!ok) {
        tc_printf("ERROR: the password is longer than %zu bytes\n", field_cap - 1);
        return failed();
    }
    return 0;
}

static void print_characters(void)
{
    const proto_account_result_t *a = &ac.acct;
    if (a->characters_count == 0) {
        tc_printf("characters: none yet (play NAME creates one)\n");
        return;
    }
    tc_printf("characters (%u):\n", (unsigned)a->characters_count);
    for (int i = 0; i < a->characters_count; i++)
        tc_printf("  %s on %s\n", a->characters[i].name, a->characters[i].shard);
}

static int cmd_realms(void)
{
    proto_msg_t m = {.type = PROTO_T_REALM_LIST_REQUEST};
    if (ensure_conn() != 0 || request(&m, PROTO_T_REALM_LIST) != 0)
        return -1;
    ac.realms = ac.answer.realm_list;
    ac.have_realms = 1;
    tc_printf("shards (%u):\n", (unsigned)ac.realms.shards_count);
    for (int i = 0; i < ac.realms.shards_count; i++) {
        const proto_shard_info_t *s = &ac.realms.shards[i];
        tc_printf("  %s at %s:%u  %u/%u players  %s\n", s->name, s->host, (unsigned)s->port,
                  (unsigned)s->population, (unsigned)s->capacity, s->healthy ? "up" : "DOWN");
    }
    return 0;
}

/* A new password typed at a terminal is typed twice. */
static int confirm_password(const char *pw)
{
    if (ac.o->password_file || !tc_stdin_is_tty())
        return 0;
    char again[PASSWORD_MAX + 2];
    int rc = tc_password(ac.o, "repeat it: ", again, sizeof again);
    if (rc == 0 && (strlen(again) != strlen(pw) || pa_memcmp(again, pw, strlen(pw)) != 0)) {
        tc_printf("ERROR: the two passwords differ\n");
        rc = -1;
    }
    pa_wipe(again, sizeof again);
    return rc == 0 ? 0 : failed();
}

/* register (reg = 1) or login: the answer is account_result either way. */
static int cmd_account(const char *name, int reg)
{
    proto_msg_t m = {.type = reg ? PROTO_T_ACCOUNT_REGISTER : PROTO_T_ACCOUNT_LOGIN};
    char prompt[96];
    snprintf(prompt, sizeof prompt, "%s for %s: ", reg ? "new password" : "password", name);
    /* account_register and account_login have the same fields */
    proto_account_login_t *a =
        reg ? (proto_account_login_t *)&m.account_register : &m.account_login;
    _Static_assert(sizeof m.account_register == sizeof m.account_login, "same layout");
    if (strlen(name) > PROTO_ACCOUNT_LOGIN_NAME_MAX) {
        tc_printf("ERROR: account names are at most %d bytes\n", PROTO_ACCOUNT_LOGIN_NAME_MAX);
        return failed();
    }
    snprintf(a->name, sizeof a->name, "%s", name);
    /* the channel first: a refused server key never sees the password */
    int rc = ensure_conn();
    if (rc == 0)
        rc = get_password(prompt, a->password, sizeof a->password);
    if (rc == 0 && reg)
        rc = confirm_password(a->password);
    if (rc == 0)
        rc = request(&m, PROTO_T_ACCOUNT_RESULT);
    pa_wipe(&m, sizeof m);
    if (rc != 0)
        return -1;
    const proto_account_result_t *r = &ac.answer.account_result;
    if (r->code != 0) {
        tc_printf("ERROR: %s %s: %s\n", reg ? "register" : "login", name, proto_err_text(r->code));
        return failed();
    }
    ac.acct = *r;
    ac.logged_in = 1;
    snprintf(ac.account, sizeof ac.account, "%s", name);
    tc_printf("* %s account %s (id %llu, role %s)\n",
              reg ? "registered and logged in to" : "logged in to", name,
              (unsigned long long)r->account_id, pa_role_name(r->role));
    print_characters();
    return cmd_realms();
}

/* The shard for play: given, --shard, the character's, or the first
 * healthy one of the realm list. */
static const char *pick_shard(const char *given, const char *character)
{
    if (given && *given)
        return given;
    if (ac.o->shard)
        return ac.o->shard;
    for (int i = 0; i < ac.acct.characters_count; i++)
        if (!strcmp(ac.acct.characters[i].name, character))
            return ac.acct.characters[i].shard;
    if (!ac.have_realms && cmd_realms() != 0)
        return NULL;
    for (int i = 0; i < ac.realms.shards_count; i++)
        if (ac.realms.shards[i].healthy)
            return ac.realms.shards[i].name;
    tc_printf("ERROR: no healthy shard in the realm list (realms to refresh it)\n");
    return NULL;
}

/* The character for play: given, or the account's only one. */
static const char *pick_character(const char *given)
{
    if (given && *given)
        return given;
    if (ac.acct.characters_count == 1)
        return ac.acct.characters[0].name;
    if (ac.acct.characters_count == 0)
        tc_printf("! this account has no character yet: play NAME creates one\n");
    else {
        tc_printf("! this account has %u characters; choose one: play NAME\n",
                  (unsigned)ac.acct.characters_count);
        print_characters();
    }
    return NULL;
}

static int cmd_play(char *args)
{
    pthread_mutex_lock(&ac.mu);
    int ended = ac.ended;
    pthread_mutex_unlock(&ac.mu);
    if (ac.logged_in && ended) { /* e.g. the server's login.idle_timeout_ms */
        tc_printf("! the login server ended the session; log in again: login %s\n", ac.account);
        ac.logged_in = 0;
    }
    if (!ac.logged_in) {
        tc_printf("! log in first: login NAME (or register NAME)\n");
        return failed();
    }
    if (tc_game_connected()) {
        tc_printf("! already connected to a game server (quit, then play again)\n");
        return failed();
    }
    char *ch_arg = strtok(args, " \t"), *shard_arg = strtok(NULL, " \t"); /* main thread */
    const char *character = pick_character(ch_arg);
    if (!character)
        return failed();
    proto_msg_t m = {.type = PROTO_T_TICKET_REQUEST};
    snprintf(m.ticket_request.character, sizeof m.ticket_request.character, "%s", character);
    const char *shard = pick_shard(shard_arg, character);
    if (!shard)
        return failed();
    snprintf(m.ticket_request.shard, sizeof m.ticket_request.shard, "%s", shard);
    if (ensure_conn() != 0 || request(&m, PROTO_T_TICKET_RESULT) != 0)
        return -1;
    proto_ticket_result_t t = ac.answer.ticket_result;
    if (t.code != 0) {
        tc_printf("ERROR: no ticket for %s on %s: %s\n", m.ticket_request.character,
                  m.ticket_request.shard, proto_err_text(t.code));
        return failed();
    }
    tc_printf("* ticket for %s on %s (valid %u s); game server %s:%u\n", m.ticket_request.character,
              m.ticket_request.shard, (unsigned)t.expires_in_s, t.host, (unsigned)t.port);
    /* the account session ends here: the game connection carries on */
    tc_account_stop();
    int rc = tc_game_play(t.host, t.port, m.ticket_request.character, t.ticket, t.ticket_len);
    pa_wipe(&t, sizeof t);
    return rc == 0 ? 0 : failed();
}

int tc_account_command(const char *cmd, const char *rest)
{
    char args[256];
    snprintf(args, sizeof args, "%s", rest);
    char *first = strtok(args, " \t"); /* main thread only */
    int acct_cmd = !strcmp(cmd, "register") || !strcmp(cmd, "login");
    if (acct_cmd && first && (ac.logged_in || tc_game_connected()))
        tc_printf("! already logged in%s%s (quit, then start again to use another account)\n",
                  ac.account[0] ? " as " : "", ac.account);
    else if (!strcmp(cmd, "register") && first)
        cmd_account(first, 1);
    else if (!strcmp(cmd, "login") && first)
        cmd_account(first, 0);
    else if (!strcmp(cmd, "realms"))
        cmd_realms();
    else if (!strcmp(cmd, "play")) {
        snprintf(args, sizeof args, "%s", rest);
        cmd_play(args);
    } else
        return 0;
    return 1;
}
