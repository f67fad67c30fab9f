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
    struct timespec ts;
    deadline(&ts, timeout_ms);
    pthread_mutex_lock(&plog.mu);
    size_t scanned = 0; /* entries checked so far (not consumed: the ring keeps them) */
    int rc = -1, timed_out = 0;
    for (;;) {
        for (; scanned < plog.count; scanned++)
            if (!strcmp(at(scanned)->name, name) && tc_json_match(want, at(scanned)->j)) {
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

/* ---- the runner ---------------------------------------------------------- */

static int run_line(char *line, const tc_script_ops_t *ops, char *err, size_t errlen, int *quit)
{
    char name[TC_SCRIPT_NAME_MAX + 1];
    cJSON *json = NULL;
    int timeout = 0, rc = 0;
    char *s = line + strspn(line, " \t");
    if (!strncmp(s, "expect", 6) && (s[6] == ' ' || s[6] == '\t' || !s[6])) {
        if (tc_json_parse_cmd(s + 6, 1, name, sizeof name, &json, &timeout, err, errlen) != 0)
            return -1;
        rc = tc_plog_expect(name, json, timeout, err, errlen);
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
    if (rc == TC_SCRIPT_OK && ferror(f)) {
        fprintf(stderr, "script %s: read error after line %d\n", path, lineno);
        rc = TC_SCRIPT_FAILED;
    }
    fclose(f);
    return rc;
}
