/* Runtime of the generated JSON codecs (<prefix>_json.c, target
 * protocol_json): cJSON values for each wire kind, with every range checked,
 * and an error path ("entries[3].name: ...") for the first bad value.  Used
 * only by generated code; the API is <prefix>_json.h (protocol/README.md,
 * "JSON"). */
#ifndef PROTO_JSON_RT_H
#define PROTO_JSON_RT_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pj_ctx_s {
    char *err; /* may be NULL */
    size_t errlen;
    char path[256]; /* where the reader is, e.g. "pos.x" */
    size_t plen;
} pj_ctx_t;

/* Writers: a new cJSON value, or NULL (out of memory). */
cJSON *pj_u64(uint64_t v); /* a number below 10^15, else a decimal string */
cJSON *pj_i64(int64_t v);  /* a number within +-10^15, else a decimal string */
cJSON *pj_f32(float v);    /* a number; "nan", "inf", "-inf", "-0" as strings */
cJSON *pj_bool(int v);
cJSON *pj_str(const char *s);
cJSON *pj_hex(const uint8_t *b, size_t n); /* bytes: lower-case hex string */
/* Adds item under key (or to an array when key is NULL); 0 when item is
 * NULL or the add fails (item freed). */
int pj_add(cJSON *to, const char *key, cJSON *item);

/* Readers: 0, or -1 with "path: reason" in c->err. */
int pj_fail(pj_ctx_t *c, const char *reason);
/* j must be an object whose keys are all in keys[] (NULL-terminated), no
 * key twice. */
int pj_object(pj_ctx_t *c, const cJSON *j, const char *const *keys);
size_t pj_key(pj_ctx_t *c, const char *key); /* path += ".key"; returns the old length */
size_t pj_idx(pj_ctx_t *c, size_t i);        /* path += "[i]" */
void pj_pop(pj_ctx_t *c, size_t mark);
int pj_r_u(pj_ctx_t *c, const cJSON *j, uint64_t max, uint64_t *out);
int pj_r_i(pj_ctx_t *c, const cJSON *j, int64_t min, int64_t max, int64_t *out);
int pj_r_f32(pj_ctx_t *c, const cJSON *j, float *out);
int pj_r_bool(pj_ctx_t *c, const cJSON *j, _Bool *out);
int pj_r_str(pj_ctx_t *c, const cJSON *j, char *out, size_t max);
int pj_r_hex(pj_ctx_t *c, const cJSON *j, uint8_t *out, uint16_t *len, size_t max);
/* j must be an array of at most max elements; *count = its size. */
int pj_r_array(pj_ctx_t *c, const cJSON *j, size_t max, uint16_t *count);

#endif
