/* The script engine of `testclient --script` (tc_script.h): partial JSON
 * matching, the received-packet log that `expect` waits on with a
 * deadline, and the line runner.  Knows nothing of the protocol; the
 * packet side goes through tc_script_ops_t. */
#include "tc_script.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int num_equal(const cJSON *want, const cJSON *got)
{
    if (cJSON_IsNumber(got))
        return want->valuedouble == got->valuedouble;
    if (!cJSON_IsString(got) || !got->valuestring[0])
        return 0;
    char *end;
    errno = 0;
    double d = strtod(got->valuestring, &end);
    return !*end && errno == 0 && d == want->valuedouble;
}

int tc_json_match(const cJSON *want, const cJSON *got)
{
    if (!want)
        return 1;
    if (!got)
        return 0;
    if (cJSON_IsNumber(want))
        return num_equal(want, got);
    if (cJSON_IsString(want))
        return cJSON_IsString(got) && !strcmp(want->valuestring, got->valuestring);
    if (cJSON_IsBool(want))
        return cJSON_IsBool(got) && cJSON_IsTrue(want) == cJSON_IsTrue(got);
    if (cJSON_IsNull(want))
        return cJSON_IsNull(got);
    if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got) || cJSON_GetArraySize(want) != cJSON_GetArraySize(got))
            return 0;
        const cJSON *g = got->child;
        for (const cJSON *w = want->child; w; w = w->next, g = g->next)
            if (!tc_json_match(w, g))
                return 0;
        return 1;
    }
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got))
            return 0;
        for (const cJSON *w = want->child; w; w = w->next)
            if (!tc_json_match(w, cJSON_GetObjectItemCaseSensitive(got, w->string)))
                return 0;
        return 1;
    }
    return 0;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The timeout after the JSON: digits only, 0..TC_SCRIPT_EXPECT_MAX_MS. */
static int parse_timeout(const char *s, int *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!isdigit((unsigned char)*s) || errno || *skip_ws(end) || v > TC_SCRIPT_EXPECT_MAX_MS) {
        snprintf(err, errlen, "bad timeout '%s' (milliseconds, 0..%d)", s, TC_SCRIPT_EXPECT_MAX_MS);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int tc_json_parse_cmd(const char *text, int allow_timeout, char *name, size_t name_cap,
                      cJSON **json, int *timeout_ms, char *err, size_t errlen)
{
    *json = NULL;
    *timeout_ms = TC_SCRIPT_EXPECT_MS;
    const char *s = skip_ws(text);
    size_t n = 0;
    while (s[n] && (isalnum((unsigned char)s[n]) || s[n] == '_'))
        n++;
    if (n == 0 || n >= name_cap || (s[n] && s[n] != ' ' && s[n] != '\t')) {
        snprintf(err, errlen, "expected a packet name (letters, digits, _; at most %zu)",
                 name_cap - 1);
        return -1;
    }
    memcpy(name, s, n);
    name[n] = 0;
    s = skip_ws(s + n);
    if (*s == '{') {
        const char *end = NULL;
        *json = cJSON_ParseWithOpts(s, &end, 0);
        if (!*json || !cJSON_IsObject(*json)) {
            const char *at = cJSON_GetErrorPtr();
            long col = at && at >= s ? (long)(at - s) + 1 : 1;
            snprintf(err, errlen, "bad JSON object for %s near column %ld of the JSON", name, col);
            cJSON_Delete(*json);
            *json = NULL;
            return -1;
        }
        s = skip_ws(end);
    }
    if (!*s)
        return 0;
    if (allow_timeout && parse_timeout(s, timeout_ms, err, errlen) == 0)
        return 0;
    if (!allow_timeout)
        snprintf(err, errlen, "unexpected '%s' after the JSON object", s);
    cJSON_Delete(*json);
    *json = NULL;
    return -1;
}

/* ---- the packet log ------------------------------------------------------
 * A ring of received packets; expect scans from `cursor` (everything before
 * it was consumed by an earlier match and freed). */
typedef struct entry_s {
    char name[TC_SCRIPT_NAME_MAX + 1];
    cJSON *j;
} entry_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    entry_t ring[TC_SCRIPT_LOG_MAX];
    size_t head, count; /* oldest at head */
    unsigned long long dropped;
    int closed;
    char why[128];
} plog = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static entry_t *at(size_t i)
{
    return &plog.ring[(plog.head + i) % TC_SCRIPT_LOG_MAX];
}

static void pop_front(void)
{
    cJSON_Delete(at(0)->j);
    at(0)->j = NULL;
    plog.head = (plog.head + 1) % TC_SCRIPT_LOG_MAX;
    plog.count--;
}

void tc_plog_push(const char *name, cJSON *j)
{
    pthread_mutex_lock(&plog.mu);
    if (plog.count == TC_SCRIPT_LOG_MAX) {
        pop_front();
        plog.dropped++;
    }
    entry_t *e = at(plog.count++);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->j = j;
    pthread_cond_broadcast(&plog.cv);
    pthread_mutex_unlock(&plog.mu);
}

void tc_plog_set_closed(int closed, const char *why)
{
    pthread_mutex_lock(&plog.mu);
    plog.closed = closed;
    snprintf(plog.why, sizeof plog.why, "%s", why ? why : "");
    pthread_cond_broadcast(&plog.cv);
    pthread_mutex_unlock(&plog.mu);
}

void tc_plog_clear(void)
{
    pthread_mutex_lock(&plog.mu);
    while (plog.count)
        pop_front();
    plog.dropped = 0;
    pthread_mutex_unlock(&plog.mu);
}

static void deadline(struct timespec *ts, int ms)
{
    timespec_get(ts, TIME_UTC);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Under the lock: the last (up to 3) packets named `name`, none matching. */
static void near_misses(const char *name, char *out, size_t cap)
{
    size_t n = 0, shown = 0;
    out[0] = 0;
    for (size_t i = plog.count; i-- > 0 && shown < 3;) {
        if (strcmp(at(i)->name, name))
            continue;
        char *txt = cJSON_PrintUnformatted(at(i)->j);
        int w = snprintf(out + n, cap - n, "%s%s", shown ? "; " : "", txt ? txt : "?");
        free(txt);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
        shown++;
    }
}

int tc_plog_expect(const char *name, const cJSON *want, int timeout_ms, char *why, size_t cap)
{
    return tc_plog_expect_take(name, want, timeout_ms, NULL, why, cap);
}

int tc_plog_expect_take(const char *name, const cJSON *want, int timeout_ms, cJSON **got, char *why,
                        size_t cap)
{
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&plog.mu);
    size_t scanned = 0; /* entries checked so far (not consumed: the ring keeps them) */
    int rc = -1, timed_out = 0;
    for (;;) {
        for (; scanned < plog.count; scanned++)
            if (!strcmp(at(scanned)->name, name) && tc_json_match(want, at(scanned)->j)) {
                if (got) { /* the caller keeps the match */
                    *got = at(scanned)->j;
                    at(scanned)->j = NULL;
                }
                for (size_t k = 0; k <= scanned; k++)
                    pop_front();
                rc = 0;
                break;
            }
        if (rc == 0 || plog.closed || timed_out)
            break;
        /* a push may drop the oldest entry: rescan from the start then */
        unsigned long long dropped = plog.dropped;
        timed_out = pthread_cond_timedwait(&plog.cv, &plog.mu, &ts) != 0;
        if (plog.dropped != dropped)
            scanned = 0;
    }
    if (rc != 0) {
        char seen[512];
        near_misses(name, seen, sizeof seen);
        char head[192];
        if (plog.closed)
            snprintf(head, sizeof head, "the connection closed%s%s", plog.why[0] ? ": " : "",
                     plog.why);
        else
            snprintf(head, sizeof head, "timed out after %d ms", timeout_ms);
        if (seen[0])
            snprintf(why, cap, "%s; received but not matching: %s", head, seen);
        else
            snprintf(why, cap, "%s; no %s received", head, name);
    }
    pthread_mutex_unlock(&plog.mu);
    return rc;
}

/* ---- the runner ----------------------------------------------------------
 * Variables: `expect ... as NAME` keeps the matched packet; `${NAME.a.b}`
 * (keys, or array indexes) in a later line is replaced by that value as
 * JSON text (strings quoted). */
static struct {
    char name[TC_SCRIPT_NAME_MAX + 1];
    cJSON *j;
} vars[TC_SCRIPT_VARS_MAX];

static void vars_clear(void)
{
    for (int i = 0; i < TC_SCRIPT_VARS_MAX; i++) {
        cJSON_Delete(vars[i].j);
        vars[i].j = NULL;
        vars[i].name[0] = 0;
    }
}

static int var_set(const char *name, cJSON *j, char *err, size_t errlen)
{
    int free_slot = -1;
    for (int i = 0; i < TC_SCRIPT_VARS_MAX; i++) {
        if (vars[i].j && !strcmp(vars[i].name, name)) {
            cJSON_Delete(vars[i].j);
            vars[i].j = j;
            return 0;
        }
        if (!vars[i].j && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0) {
        snprintf(err, errlen, "more than %d variables", TC_SCRIPT_VARS_MAX);
        cJSON_Delete(j);
        return -1;
    }
    snprintf(vars[free_slot].name, sizeof vars[0].name, "%s", name);
    vars[free_slot].j = j;
    return 0;
}

/* The value at "NAME.a.0.b" (n bytes), or NULL. */
static const cJSON *var_lookup(const char *ref, size_t n)
{
    size_t k = strcspn(ref, ".");
    if (k > n)
        k = n;
    const cJSON *v = NULL;
    for (int i = 0; i < TC_SCRIPT_VARS_MAX && !v; i++)
        if (vars[i].j && strlen(vars[i].name) == k && !strncmp(vars[i].name, ref, k))
            v = vars[i].j;
    while (v && k < n) {
        const char *seg = ref + k + 1;
        size_t len = strcspn(seg, ".");
        if (len > n - k - 1)
            len = n - k - 1;
        char key[TC_SCRIPT_NAME_MAX + 1];
        if (len == 0 || len > TC_SCRIPT_NAME_MAX)
            return NULL;
        memcpy(key, seg, len);
        key[len] = 0;
        if (cJSON_IsArray(v) && strspn(key, "0123456789") == len && len < 6)
            v = cJSON_GetArrayItem(v, atoi(key));
        else
            v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, key) : NULL;
        k += 1 + len;
    }
    return v;
}

/* Copies in to out with every ${ref} replaced; 0, or -1 with err set. */
static int substitute(const char *in, char *out, size_t cap, char *err, size_t errlen)
{
    size_t o = 0;
    while (*in) {
        const char *close = !strncmp(in, "${", 2) ? strchr(in + 2, '}') : NULL;
        if (!close) {
            if (o + 1 >= cap)
                goto too_long;
            out[o++] = *in++;
            continue;
        }
        const cJSON *v = var_lookup(in + 2, (size_t)(close - in - 2));
        if (!v) {
            snprintf(err, errlen, "unknown variable or field ${%.*s}", (int)(close - in - 2),
                     in + 2);
            return -1;
        }
        char *txt = cJSON_PrintUnformatted(v);
        size_t len = txt ? strlen(txt) : 0;
        if (!txt || o + len >= cap) {
            free(txt);
            goto too_long;
        }
        memcpy(out + o, txt, len);
        o += len;
        free(txt);
        in = close + 1;
    }
    out[o] = 0;
    return 0;
too_long:
    snprintf(err, errlen, "line longer than %zu bytes after substituting variables", cap - 1);
    return -1;
}

/* A trailing "as NAME" on an expect line: cut off, NAME in var. */
static int take_as(char *s, char *var, size_t cap)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    size_t end = n;
    while (n && (isalnum((unsigned char)s[n - 1]) || s[n - 1] == '_'))
        n--;
    size_t start = n;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (start == end || end - start >= cap || n == start || n < 3 || strncmp(s + n - 2, "as", 2) ||
        (s[n - 3] != ' ' && s[n - 3] != '\t'))
        return 0;
    memcpy(var, s + start, end - start);
    var[end - start] = 0;
    s[n - 3] = 0;
    return 1;
}

static int run_line(char *line, const tc_script_ops_t *ops, char *err, size_t errlen, int *quit)
{
    char name[TC_SCRIPT_NAME_MAX + 1];
    cJSON *json = NULL;
    int timeout = 0, rc = 0;
    static char expanded[TC_SCRIPT_LINE_MAX + 1];
    char var[TC_SCRIPT_NAME_MAX + 1];
    if (substitute(line, expanded, sizeof expanded, err, errlen) != 0)
        return -1;
    char *s = expanded + strspn(expanded, " \t");
    if (!strncmp(s, "expect", 6) && (s[6] == ' ' || s[6] == '\t' || !s[6])) {
        int keep = take_as(s + 6, var, sizeof var);
        if (tc_json_parse_cmd(s + 6, 1, name, sizeof name, &json, &timeout, err, errlen) != 0)
            return -1;
        cJSON *got = NULL;
        rc = tc_plog_expect_take(name, json, timeout, keep ? &got : NULL, err, errlen);
        if (rc == 0 && keep)
            rc = var_set(var, got, err, errlen);
    } else if (!strncmp(s, "send", 4) && (s[4] == ' ' || s[4] == '\t' || !s[4])) {
        if (tc_json_parse_cmd(s + 4, 0, name, sizeof name, &json, &timeout, err, errlen) != 0)
            return -1;
        rc = ops->send(name, json, err, errlen);
    } else {
        *quit = ops->command(s);
    }
    cJSON_Delete(json);
    return rc;
}

int tc_script_run_file(const char *path, const tc_script_ops_t *ops)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "script %s: cannot open: %s\n", path, strerror(errno));
        return TC_SCRIPT_USAGE;
    }
    static char line[TC_SCRIPT_LINE_MAX + 2];
    char err[1024];
    vars_clear();
    int lineno = 0, rc = TC_SCRIPT_OK, quit = 0;
    while (!quit && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len > TC_SCRIPT_LINE_MAX && line[len - 1] != '\n') {
            fprintf(stderr, "script %s:%d: line longer than %d bytes\n", path, lineno,
                    TC_SCRIPT_LINE_MAX);
            rc = TC_SCRIPT_FAILED;
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        const char *s = line + strspn(line, " \t");
        if (!*s || *s == '#')
            continue;
        char shown[120];
        snprintf(shown, sizeof shown, "%s", s);
        err[0] = 0;
        if (run_line(line, ops, err, sizeof err, &quit) != 0) {
            fprintf(stderr, "script %s:%d: %s: %s\n", path, lineno, shown, err);
            rc = TC_SCRIPT_FAILED;
            break;
        }
    }
    vars_clear();
    if (rc == TC_SCRIPT_OK && ferror(f)) {
        fprintf(stderr, "script %s: read error after line %d\n", path, lineno);
        rc = TC_SCRIPT_FAILED;
    }
    fclose(f);
    return rc;
}
