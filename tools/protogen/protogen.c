/* protogen: loads and validates the packet schema, computes the protocol
 * hash (FNV-1a 64 over a canonical form) and dispatches to the emitters.
 * Usage: see usage() below; run by protocol/CMakeLists.txt at build time. */
#include "protogen.h"

#include <cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const pg_kind_names[] = {"u8",  "u16", "u32",  "u64",    "i8",    "i16",    "i32",
                                     "i64", "f32", "bool", "string", "bytes", "struct", "array"};

const char *const pg_route_names[PG_ROUTE_COUNT] = {"", "session", "zone", "login_server"};

static const unsigned scalar_size[] = {1, 2, 4, 8, 1, 2, 4, 8, 4, 1};

static const char *g_path = "";

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "protogen: %s: ", g_path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

const char *pg_dir_name(int dir)
{
    static const char *const names[] = {"?", "c2s", "s2c", "s2s"};
    return dir >= 1 && dir <= 3 ? names[dir] : "?";
}

void pg_upper(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

void pg_type_desc(const pg_schema_t *s, const pg_field_t *f, char *buf, size_t cap)
{
    const pg_type_t *t = f->t.kind == K_ARRAY ? &f->elem : &f->t;
    char inner[PG_NAME_MAX + 32];
    if (t->kind == K_STRUCT)
        snprintf(inner, sizeof inner, "%s", s->structs[t->sidx].name);
    else if (t->kind == K_STRING || t->kind == K_BYTES)
        snprintf(inner, sizeof inner, "%s(%u)", pg_kind_names[t->kind], t->max);
    else
        snprintf(inner, sizeof inner, "%s", pg_kind_names[t->kind]);
    if (f->t.kind == K_ARRAY)
        snprintf(buf, cap, "array(%u) of %s", f->t.max, inner);
    else
        snprintf(buf, cap, "%s", inner);
}

/* Names become C identifiers: lower-case, and never a C keyword or "type"
 * (proto_msg_t.type holds the packet type next to the union of packets). */
static int valid_ident(const char *s)
{
    static const char *const reserved[] = {
        "auto",  "bool",     "break",  "case",     "char",   "const",    "continue", "default",
        "do",    "double",   "else",   "enum",     "extern", "false",    "float",    "for",
        "goto",  "if",       "inline", "int",      "long",   "register", "restrict", "return",
        "short", "signed",   "sizeof", "static",   "struct", "switch",   "true",     "typedef",
        "union", "unsigned", "void",   "volatile", "while",  "type"};
    if (!s || !*s || strlen(s) >= PG_NAME_MAX || !(islower((unsigned char)*s)))
        return 0;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(s, reserved[i]) == 0)
            return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int find_struct(const pg_schema_t *s, const char *name)
{
    for (int i = 0; i < s->nstructs; i++)
        if (strcmp(s->structs[i].name, name) == 0)
            return i;
    return -1;
}

/* Resolves a kind name (builtin or an already declared struct) into t. */
static int parse_kind(const pg_schema_t *s, const char *kind, const cJSON *maxj, pg_type_t *t,
                      const char *where)
{
    t->sidx = -1;
    t->max = 0;
    int found = 0;
    for (int k = 0; k <= K_ARRAY && !found; k++) {
        found = k != K_STRUCT && strcmp(kind, pg_kind_names[k]) == 0;
        t->kind = (pg_kind_t)k;
    }
    if (!found) {
        t->sidx = find_struct(s, kind);
        if (t->sidx < 0)
            return fail("%s: unknown kind '%s' (structs must be declared before use)", where, kind);
        t->kind = K_STRUCT;
    }
    if (t->kind == K_STRING || t->kind == K_BYTES || t->kind == K_ARRAY) {
        if (!cJSON_IsNumber(maxj) || maxj->valuedouble < 0 || maxj->valuedouble > PG_MAX_BODY ||
            maxj->valuedouble != (double)(int)maxj->valuedouble)
            return fail("%s: '%s' needs an integer max in 0..%d", where, kind, PG_MAX_BODY);
        t->max = (unsigned)maxj->valueint;
    }
    return 0;
}

static unsigned long type_size(const pg_schema_t *s, const pg_type_t *t)
{
    if (t->kind <= K_BOOL)
        return scalar_size[t->kind];
    if (t->kind == K_STRUCT)
        return s->structs[t->sidx].maxsize;
    return 2ul + t->max; /* string, bytes */
}

static int parse_field(const pg_schema_t *s, const cJSON *j, pg_field_t *f, const char *owner)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(j, "doc");
    char where[2 * PG_NAME_MAX + 8];
    if (!cJSON_IsString(name) || !valid_ident(name->valuestring))
        return fail("%s: field without a valid name ([a-z][a-z0-9_]*, not a C keyword)", owner);
    snprintf(f->name, sizeof f->name, "%s", name->valuestring);
    snprintf(where, sizeof where, "%s.%s", owner, f->name);
    f->doc = cJSON_IsString(doc) ? doc->valuestring : NULL;
    if (!cJSON_IsString(kind))
        return fail("%s: missing kind", where);
    if (parse_kind(s, kind->valuestring, cJSON_GetObjectItemCaseSensitive(j, "max"), &f->t, where) <
        0)
        return -1;
    if (f->t.kind != K_ARRAY)
        return 0;
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(j, "of");
    if (!cJSON_IsString(of))
        return fail("%s: array needs 'of'", where);
    if (parse_kind(s, of->valuestring, cJSON_GetObjectItemCaseSensitive(j, "elem_max"), &f->elem,
                   where) < 0)
        return -1;
    if (f->elem.kind == K_ARRAY || f->elem.kind == K_BYTES)
        return fail("%s: arrays of %s are not supported", where, of->valuestring);
    return 0;
}

static int parse_msg(const pg_schema_t *s, const cJSON *j, pg_msg_t *m, int is_packet)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(j, "doc");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
    if (!cJSON_IsString(name) || !valid_ident(name->valuestring))
        return fail("%s without a valid name", is_packet ? "packet" : "struct");
    snprintf(m->name, sizeof m->name, "%s", name->valuestring);
    m->doc = cJSON_IsString(doc) ? doc->valuestring : NULL;
    if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) > PG_FIELDS_MAX)
        return fail("%s: 'fields' must be an array of at most %d", m->name, PG_FIELDS_MAX);
    const cJSON *fj;
    cJSON_ArrayForEach(fj, fields)
    {
        pg_field_t *f = &m->fields[m->nfields];
        if (parse_field(s, fj, f, m->name) < 0)
            return -1;
        for (int i = 0; i < m->nfields; i++)
            if (strcmp(m->fields[i].name, f->name) == 0)
                return fail("%s: duplicate field '%s'", m->name, f->name);
        m->maxsize +=
            f->t.kind == K_ARRAY ? 2ul + f->t.max * type_size(s, &f->elem) : type_size(s, &f->t);
        m->nfields++;
    }
    if (m->maxsize > PG_MAX_BODY)
        return fail("%s: largest encoding is %lu bytes, over the %d-byte body limit", m->name,
                    m->maxsize, PG_MAX_BODY);
    return 0;
}

/* Template types 1-299; user types 1000-3999; dir chosen by hundreds/thousands. */
static int dir_of_type(int type)
{
    if (type >= 1 && type <= 99)
        return 1;
    if (type >= 100 && type <= 199)
        return 2;
    if (type >= 200 && type <= 299)
        return 3;
    if (type >= 1000 && type <= 3999)
        return type / 1000;
    return 0;
}

static int parse_route(const cJSON *j, pg_msg_t *m);

static int parse_packet(pg_schema_t *s, const cJSON *j, pg_msg_t *m)
{
    if (parse_msg(s, j, m, 1) < 0)
        return -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(j, "dir");
    if (!cJSON_IsNumber(type) || type->valuedouble != (double)(int)type->valuedouble)
        return fail("%s: missing integer type", m->name);
    m->type = type->valueint;
    for (m->dir = 1; m->dir <= 3; m->dir++)
        if (cJSON_IsString(dir) && strcmp(dir->valuestring, pg_dir_name(m->dir)) == 0)
            break;
    if (m->dir > 3)
        return fail("%s: dir must be c2s, s2c or s2s", m->name);
    if (dir_of_type(m->type) != m->dir)
        return fail("%s: type %d is outside the %s ranges (c2s 1-99/1000-1999, s2c "
                    "100-199/2000-2999, s2s 200-299/3000-3999)",
                    m->name, m->type, pg_dir_name(m->dir));
    for (int i = 0; i < s->nstructs; i++)
        if (strcmp(s->structs[i].name, m->name) == 0)
            return fail("%s: a packet and a struct share this name", m->name);
    for (int i = 0; i < s->npackets; i++)
        if (strcmp(s->packets[i].name, m->name) == 0 || s->packets[i].type == m->type)
            return fail("%s: duplicate packet name or type %d", m->name, m->type);
    return parse_route(j, m);
}

/* "route": who handles a c2s packet (required); s2c and s2s have none. */
static int parse_route(const cJSON *j, pg_msg_t *m)
{
    const cJSON *route = cJSON_GetObjectItemCaseSensitive(j, "route");
    if (m->dir != 1) {
        if (route)
            return fail("%s: only c2s packets have a route", m->name);
        return 0;
    }
    for (m->route = PG_ROUTE_SESSION; m->route < PG_ROUTE_COUNT; m->route++)
        if (cJSON_IsString(route) && strcmp(route->valuestring, pg_route_names[m->route]) == 0)
            return 0;
    return fail("%s: a c2s packet needs \"route\": \"session\" (the player's session, before the "
                "world), \"zone\" (the player's zone) or \"login_server\" (the login server only)",
                m->name);
}

static int cmp_type(const void *a, const void *b)
{
    return ((const pg_msg_t *)a)->type - ((const pg_msg_t *)b)->type;
}

static int load_list(pg_schema_t *s, const cJSON *root, const char *key, int packets)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!list && !packets)
        return 0;
    if (!cJSON_IsArray(list))
        return fail("'%s' must be an array", key);
    int n = cJSON_GetArraySize(list);
    pg_msg_t *v = calloc((size_t)n + 1, sizeof *v);
    if (!v)
        return fail("out of memory");
    if (packets)
        s->packets = v;
    else
        s->structs = v;
    const cJSON *j;
    cJSON_ArrayForEach(j, list)
    {
        if (packets ? parse_packet(s, j, &v[s->npackets]) < 0
                    : parse_msg(s, j, &v[s->nstructs], 0) < 0)
            return -1;
        if (!packets && find_struct(s, v[s->nstructs].name) >= 0)
            return fail("duplicate struct '%s'", v[s->nstructs].name);
        *(packets ? &s->npackets : &s->nstructs) += 1;
    }
    return 0;
}

char *pg_slurp(FILE *f, long *len)
{
    if (fseek(f, 0, SEEK_END) != 0 || (*len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        return NULL;
    char *buf = malloc((size_t)*len + 1);
    if (buf && fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        free(buf);
        return NULL;
    }
    if (buf)
        buf[*len] = '\0';
    return buf;
}

/* The canonical form covers everything that shapes the wire (types, names,
 * kinds, limits, struct layouts inline) and nothing else (no docs, no
 * whitespace or key order), packets in type order. */
static void canonical_type(const pg_schema_t *s, const pg_type_t *t, FILE *out)
{
    fputs(pg_kind_names[t->kind], out);
    if (t->kind == K_STRING || t->kind == K_BYTES || t->kind == K_ARRAY)
        fprintf(out, "(%u)", t->max);
    if (t->kind != K_STRUCT)
        return;
    const pg_msg_t *m = &s->structs[t->sidx];
    fprintf(out, " %s{", m->name);
    for (int i = 0; i < m->nfields; i++) {
        fprintf(out, "%s%s:", i ? "," : "", m->fields[i].name);
        canonical_type(s, &m->fields[i].t, out);
        if (m->fields[i].t.kind == K_ARRAY) {
            fputs(" of ", out);
            canonical_type(s, &m->fields[i].elem, out);
        }
    }
    fputc('}', out);
}

static void emit_canonical(const pg_schema_t *s, FILE *out)
{
    for (int p = 0; p < s->npackets; p++) {
        const pg_msg_t *m = &s->packets[p];
        fprintf(out, "packet %d %s %s\n", m->type, m->name, pg_dir_name(m->dir));
        for (int i = 0; i < m->nfields; i++) {
            fprintf(out, "  field %s ", m->fields[i].name);
            canonical_type(s, &m->fields[i].t, out);
            if (m->fields[i].t.kind == K_ARRAY) {
                fputs(" of ", out);
                canonical_type(s, &m->fields[i].elem, out);
            }
            fputc('\n', out);
        }
    }
}

static int compute_hash(pg_schema_t *s)
{
    FILE *tmp = tmpfile();
    if (!tmp)
        return fail("tmpfile failed");
    emit_canonical(s, tmp);
    long len;
    char *text = pg_slurp(tmp, &len);
    fclose(tmp);
    if (!text)
        return fail("reading canonical form failed");
    uint64_t h = 0xcbf29ce484222325ull;
    for (long i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 0x100000001b3ull;
    }
    s->hash = h;
    free(text);
    return 0;
}

static const char *g_add; /* --add EXTRA.json: more structs and packets */

static cJSON *parse_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail("cannot open %s", path);
        return NULL;
    }
    long len;
    char *text = pg_slurp(f, &len);
    fclose(f);
    if (!text) {
        fail("cannot read %s", path);
        return NULL;
    }
    cJSON *root = cJSON_Parse(text);
    if (!root) /* the error pointer points into text: report before freeing it */
        fail("%s: invalid JSON near '%.40s'", path, cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
    free(text);
    return root;
}

/* Appends extra's "structs" and "packets" to root's (a fork's own packets
 * can live in a file of their own; tests add a fixture pair this way). */
static int merge_extra(cJSON *root, const char *path)
{
    cJSON *extra = parse_file(path);
    if (!extra)
        return -1;
    static const char *const keys[] = {"structs", "packets"};
    for (int k = 0; k < 2; k++) {
        cJSON *from = cJSON_GetObjectItemCaseSensitive(extra, keys[k]);
        cJSON *to = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
        if (!from)
            continue;
        if (!cJSON_IsArray(from) || (to && !cJSON_IsArray(to))) {
            cJSON_Delete(extra);
            return fail("%s: '%s' must be an array", path, keys[k]);
        }
        if (!to && !(to = cJSON_AddArrayToObject(root, keys[k]))) {
            cJSON_Delete(extra);
            return fail("out of memory");
        }
        while (cJSON_GetArraySize(from) > 0)
            cJSON_AddItemToArray(to, cJSON_DetachItemFromArray(from, 0));
    }
    cJSON_Delete(extra);
    return 0;
}

static int load_schema(pg_schema_t *s, const char *path)
{
    g_path = path;
    cJSON *root = parse_file(path);
    s->json = root;
    if (!root || (g_add && merge_extra(root, g_add) < 0))
        return -1;
    if (load_list(s, root, "structs", 0) < 0 || load_list(s, root, "packets", 1) < 0)
        return -1;
    qsort(s->packets, (size_t)s->npackets, sizeof *s->packets, cmp_type);
    return compute_hash(s);
}

static int emit_file(const pg_schema_t *s, const char *dir, const char *suffix,
                     int (*fn)(const pg_schema_t *, FILE *))
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_%s", dir, s->prefix, suffix);
    FILE *out = fopen(path, "w");
    if (!out)
        return fail("cannot write %s", path);
    int rc = fn(s, out);
    if (fclose(out) != 0 || rc < 0) {
        remove(path);
        return fail("writing %s failed", path);
    }
    return 0;
}

static int usage(void)
{
    fputs("usage: protogen [--prefix P] [--add EXTRA] SCHEMA OUTDIR\n"
          "           generate P_packets.{h,c}, P_sample.c, P_json.{h,c}, P_routes.{h,c};\n"
          "           EXTRA: a second schema file whose structs and packets are appended\n"
          "       protogen --doc SCHEMA                   print the markdown packet table\n"
          "       protogen --canonical SCHEMA             print the hashed canonical form\n"
          "       protogen --check-readme README SCHEMA   exit 1 if README's table is stale\n"
          "       protogen --update-readme README SCHEMA  rewrite README's table\n",
          stderr);
    return 2;
}

static int run(pg_schema_t *s, int argc, char **argv, int a)
{
    const char *mode = argc - a == 2 && argv[a][0] == '-' ? argv[a] : NULL;
    if (argc - a == 3 && argv[a][0] == '-') {
        int update = strcmp(argv[a], "--update-readme") == 0;
        if (!update && strcmp(argv[a], "--check-readme") != 0)
            return usage();
        return load_schema(s, argv[a + 2]) < 0 ? 1 : pg_readme(s, argv[a + 1], update);
    }
    if (argc - a != 2)
        return usage();
    if (load_schema(s, argv[mode ? a + 1 : a]) < 0)
        return 1;
    if (mode && strcmp(mode, "--doc") == 0)
        return pg_emit_doc(s, stdout) < 0;
    if (mode && strcmp(mode, "--canonical") == 0) {
        emit_canonical(s, stdout);
        printf("hash 0x%016llx\n", (unsigned long long)s->hash);
        return 0;
    }
    if (mode)
        return usage();
    const char *dir = argv[a + 1];
    if (emit_file(s, dir, "packets.h", pg_emit_header) < 0 ||
        emit_file(s, dir, "packets.c", pg_emit_source) < 0 ||
        emit_file(s, dir, "sample.c", pg_emit_sample) < 0 ||
        emit_file(s, dir, "json.h", pg_emit_json_header) < 0 ||
        emit_file(s, dir, "json.c", pg_emit_json_source) < 0 ||
        emit_file(s, dir, "routes.h", pg_emit_routes_header) < 0 ||
        emit_file(s, dir, "routes.c", pg_emit_routes_source) < 0)
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    pg_schema_t s = {.prefix = "proto"};
    int a = 1;
    if (argc > a + 2 && strcmp(argv[a], "--prefix") == 0) {
        if (!valid_ident(argv[a + 1]))
            return usage();
        snprintf(s.prefix, sizeof s.prefix, "%s", argv[a + 1]);
        a += 2;
    }
    if (argc > a + 2 && strcmp(argv[a], "--add") == 0) {
        g_add = argv[a + 1];
        a += 2;
    }
    pg_upper(s.upper, s.prefix, sizeof s.upper);
    int rc = run(&s, argc, argv, a);
    cJSON_Delete(s.json);
    free(s.structs);
    free(s.packets);
    return rc;
}
