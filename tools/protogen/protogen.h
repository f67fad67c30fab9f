/* protogen: reads protocol/packets.json (cJSON) into a validated model and
 * emits C codecs, a markdown packet table and the protocol hash.
 * Shared model between protogen.c (load, hash, main) and the emitters. */
#ifndef PROTOGEN_H
#define PROTOGEN_H

#include <stdint.h>
#include <stdio.h>

#define PG_NAME_MAX 48
#define PG_FIELDS_MAX 64
#define PG_MAX_BODY (65535 - 4)

typedef enum {
    K_U8,
    K_U16,
    K_U32,
    K_U64,
    K_I8,
    K_I16,
    K_I32,
    K_I64,
    K_F32,
    K_BOOL,
    K_STRING,
    K_BYTES,
    K_STRUCT,
    K_ARRAY
} pg_kind_t;

typedef struct {
    pg_kind_t kind;
    unsigned max; /* string/bytes length, array count */
    int sidx;     /* struct index for K_STRUCT */
} pg_type_t;

typedef struct {
    char name[PG_NAME_MAX];
    const char *doc; /* may be NULL; owned by the cJSON tree */
    pg_type_t t;
    pg_type_t elem; /* element of K_ARRAY: scalar, string or struct */
} pg_field_t;

/* A schema struct or a packet (a packet is a struct with a type). */
typedef struct {
    char name[PG_NAME_MAX];
    const char *doc;
    int type;  /* packets only */
    int dir;   /* 1 c2s, 2 s2c, 3 s2s; packets only */
    int route; /* c2s only: PG_ROUTE_*; 0 for s2c/s2s */
    int nfields;
    pg_field_t fields[PG_FIELDS_MAX];
    unsigned long maxsize;
} pg_msg_t;

typedef struct {
    char prefix[PG_NAME_MAX]; /* "proto" */
    char upper[PG_NAME_MAX];  /* "PROTO" */
    int nstructs, npackets;
    pg_msg_t *structs;
    pg_msg_t *packets; /* sorted by type */
    uint64_t hash;
    void *json; /* the cJSON tree; docs point into it */
} pg_schema_t;

/* Who handles a c2s packet ("route" in the schema; not on the wire). */
enum { PG_ROUTE_NONE, PG_ROUTE_SESSION, PG_ROUTE_ZONE, PG_ROUTE_LOGIN_SERVER, PG_ROUTE_COUNT };
extern const char *const pg_route_names[PG_ROUTE_COUNT];

extern const char *const pg_kind_names[];
const char *pg_dir_name(int dir);
void pg_upper(char *dst, const char *src, size_t cap);
/* Writes the type of a field as the schema spells it, e.g. "array(64) of who_entry". */
void pg_type_desc(const pg_schema_t *s, const pg_field_t *f, char *buf, size_t cap);

/* Reads a whole file (NUL-terminated, *len bytes); NULL on failure. */
char *pg_slurp(FILE *f, long *len);

/* Emitters: 0 on success, -1 with a message on stderr. */
int pg_emit_header(const pg_schema_t *s, FILE *out);
int pg_emit_source(const pg_schema_t *s, FILE *out);
int pg_emit_sample(const pg_schema_t *s, FILE *out);
int pg_emit_doc(const pg_schema_t *s, FILE *out);
int pg_emit_json_header(const pg_schema_t *s, FILE *out);
int pg_emit_json_source(const pg_schema_t *s, FILE *out);
int pg_emit_routes_header(const pg_schema_t *s, FILE *out);
int pg_emit_routes_source(const pg_schema_t *s, FILE *out);
int pg_readme(const pg_schema_t *s, const char *path, int update);

#endif
