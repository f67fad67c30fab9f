/* Runtime of the generated JSON codecs: see include/proto_json_rt.h.
 * Every value read from JSON is range-checked before it is converted, so a
 * hostile document never reaches an out-of-range cast. */
#include "proto_json_rt.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PJ_EXACT 9007199254740992.0 /* 2^53: larger integers are not exact doubles */
/* cJSON prints numbers with 15 significant digits when that reads back
 * "close enough": integers from 10^15 on are written as strings. */
#define PJ_PRINT_MAX 999999999999999

cJSON *pj_u64(uint64_t v)
{
    if (v <= PJ_PRINT_MAX)
        return cJSON_CreateNumber((double)v);
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return cJSON_CreateString(b);
}

cJSON *pj_i64(int64_t v)
{
    if (v <= PJ_PRINT_MAX && v >= -PJ_PRINT_MAX)
        return cJSON_CreateNumber((double)v);
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return cJSON_CreateString(b);
}

cJSON *pj_f32(float v)
{
    if (isnan(v))
        return cJSON_CreateString("nan");
    if (isinf(v))
        return cJSON_CreateString(v > 0 ? "inf" : "-inf");
    if (v == 0 && signbit(v)) /* cJSON prints -0.0 as 0 */
        return cJSON_CreateString("-0");
    return cJSON_CreateNumber((double)v);
}

cJSON *pj_bool(int v)
{
    return cJSON_CreateBool(v != 0);
}

cJSON *pj_str(const char *s)
{
    return cJSON_CreateString(s);
}

cJSON *pj_hex(const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = '\0';
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

int pj_add(cJSON *to, const char *key, cJSON *item)
{
    if (!item)
        return 0;
    if (key ? cJSON_AddItemToObject(to, key, item) : cJSON_AddItemToArray(to, item))
        return 1;
    cJSON_Delete(item);
    return 0;
}

int pj_fail(pj_ctx_t *c, const char *reason)
{
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s%s%s", c->path, c->plen ? ": " : "", reason);
    return -1;
}

static size_t push(pj_ctx_t *c, const char *seg)
{
    size_t mark = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s", seg);
    if (n > 0)
        c->plen += (size_t)n < sizeof c->path - c->plen ? (size_t)n : sizeof c->path - 1 - c->plen;
    return mark;
}

size_t pj_key(pj_ctx_t *c, const char *key)
{
    char seg[80];
    snprintf(seg, sizeof seg, "%s%s", c->plen ? "." : "", key);
    return push(c, seg);
}

size_t pj_idx(pj_ctx_t *c, size_t i)
{
    char seg[32];
    snprintf(seg, sizeof seg, "[%zu]", i);
    return push(c, seg);
}

void pj_pop(pj_ctx_t *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

int pj_object(pj_ctx_t *c, const cJSON *j, const char *const *keys)
{
    if (!cJSON_IsObject(j))
        return pj_fail(c, "expected an object");
    for (const cJSON *e = j->child; e; e = e->next) {
        size_t k = 0;
        while (keys[k] && strcmp(keys[k], e->string ? e->string : "") != 0)
            k++;
        char why[128];
        if (!keys[k]) {
            snprintf(why, sizeof why, "unknown field '%.80s'", e->string ? e->string : "");
            return pj_fail(c, why);
        }
        for (const cJSON *d = j->child; d != e; d = d->next)
            if (strcmp(d->string, e->string) == 0) {
                snprintf(why, sizeof why, "duplicate field '%.80s'", e->string);
                return pj_fail(c, why);
            }
    }
    return 0;
}

/* A decimal integer string: optional '-', digits only, no overflow. */
static int parse_dec(const char *s, int *neg, uint64_t *mag)
{
    *neg = *s == '-';
    s += *neg;
    if (!*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *mag = v;
    return 0;
}

/* An integer as a JSON number (exact: integral and within 2^53) or a
 * decimal string.  *neg and *mag: sign and magnitude. */
static int read_int(pj_ctx_t *c, const cJSON *j, int *neg, uint64_t *mag)
{
    if (cJSON_IsString(j)) {
        if (parse_dec(j->valuestring, neg, mag) < 0)
            return pj_fail(c, "expected an integer (a number or a decimal string)");
        return 0;
    }
    if (!cJSON_IsNumber(j))
        return pj_fail(c, "expected an integer");
    double d = j->valuedouble;
    if (!(d >= -PJ_EXACT && d <= PJ_EXACT))
        return pj_fail(c, "integer beyond 2^53: give it as a decimal string");
    if (d != floor(d))
        return pj_fail(c, "expected an integer, not a fraction");
    *neg = d < 0;
    *mag = (uint64_t)(d < 0 ? -d : d);
    return 0;
}

int pj_r_u(pj_ctx_t *c, const cJSON *j, uint64_t max, uint64_t *out)
{
    int neg;
    uint64_t mag;
    if (read_int(c, j, &neg, &mag) < 0)
        return -1;
    if ((neg && mag) || mag > max) {
        char why[64];
        snprintf(why, sizeof why, "out of range 0..%llu", (unsigned long long)max);
        return pj_fail(c, why);
    }
    *out = mag;
    return 0;
}

int pj_r_i(pj_ctx_t *c, const cJSON *j, int64_t min, int64_t max, int64_t *out)
{
    int neg;
    uint64_t mag;
    if (read_int(c, j, &neg, &mag) < 0)
        return -1;
    /* min = -(max + 1): |min| = max + 1 */
    uint64_t lim = neg ? (uint64_t)max + 1 : (uint64_t)max;
    (void)min;
    if (mag > lim) {
        char why[80];
        snprintf(why, sizeof why, "out of range %lld..%lld", (long long)min, (long long)max);
        return pj_fail(c, why);
    }
    *out = neg ? (mag == (uint64_t)max + 1 ? min : -(int64_t)mag) : (int64_t)mag;
    return 0;
}

int pj_r_f32(pj_ctx_t *c, const cJSON *j, float *out)
{
    if (cJSON_IsString(j)) {
        const char *s = j->valuestring;
        if (strcmp(s, "nan") == 0)
            *out = NAN;
        else if (strcmp(s, "inf") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-inf") == 0)
            *out = -INFINITY;
        else if (strcmp(s, "-0") == 0)
            *out = -0.0f;
        else
            return pj_fail(c, "expected a number (or \"nan\", \"inf\", \"-inf\", \"-0\")");
        return 0;
    }
    if (!cJSON_IsNumber(j))
        return pj_fail(c, "expected a number");
    double d = j->valuedouble;
    if (!(d >= -(double)FLT_MAX && d <= (double)FLT_MAX))
        return pj_fail(c, "number out of f32 range");
    *out = (float)d;
    return 0;
}

int pj_r_bool(pj_ctx_t *c, const cJSON *j, _Bool *out)
{
    if (!cJSON_IsBool(j))
        return pj_fail(c, "expected true or false");
    *out = cJSON_IsTrue(j);
    return 0;
}

int pj_r_str(pj_ctx_t *c, const cJSON *j, char *out, size_t max)
{
    if (!cJSON_IsString(j))
        return pj_fail(c, "expected a string");
    size_t n = strlen(j->valuestring);
    if (n > max) {
        char why[64];
        snprintf(why, sizeof why, "string longer than %zu bytes", max);
        return pj_fail(c, why);
    }
    memcpy(out, j->valuestring, n + 1);
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int pj_r_hex(pj_ctx_t *c, const cJSON *j, uint8_t *out, uint16_t *len, size_t max)
{
    if (!cJSON_IsString(j))
        return pj_fail(c, "expected a hex string");
    const char *s = j->valuestring;
    size_t n = strlen(s);
    if (n % 2)
        return pj_fail(c, "hex string of odd length");
    if (n / 2 > max) {
        char why[64];
        snprintf(why, sizeof why, "more than %zu bytes", max);
        return pj_fail(c, why);
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return pj_fail(c, "not a hex digit");
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = (uint16_t)(n / 2);
    return 0;
}

int pj_r_array(pj_ctx_t *c, const cJSON *j, size_t max, uint16_t *count)
{
    if (!cJSON_IsArray(j))
        return pj_fail(c, "expected an array");
    size_t n = 0;
    for (const cJSON *e = j->child; e; e = e->next)
        if (++n > max) {
            char why[64];
            snprintf(why, sizeof why, "more than %zu elements", max);
            return pj_fail(c, why);
        }
    *count = (uint16_t)n;
    return 0;
}
