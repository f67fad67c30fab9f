/* protogen documentation: the markdown packet table kept between markers in
 * protocol/README.md, with a check mode (a CTest) so it never goes stale. */
#include "protogen.h"

#include <stdlib.h>
#include <string.h>

#define BEGIN_MARK "<!-- BEGIN packet table (protogen --update-readme) -->\n"
#define END_MARK "<!-- END packet table -->\n"

static void emit_fields(const pg_schema_t *s, const pg_msg_t *m, FILE *o)
{
    if (m->nfields == 0)
        fputs("(none)", o);
    for (int i = 0; i < m->nfields; i++) {
        char desc[160];
        pg_type_desc(s, &m->fields[i], desc, sizeof desc);
        fprintf(o, "%s`%s` %s", i ? ", " : "", m->fields[i].name, desc);
    }
}

int pg_emit_doc(const pg_schema_t *s, FILE *o)
{
    fprintf(o, "Protocol hash: `0x%016llx` (%d packets)\n\n", (unsigned long long)s->hash,
            s->npackets);
    fputs("| type | name | dir | route | fields (wire order) | max body | meaning |\n"
          "|-----:|------|-----|-------|---------------------|---------:|---------|\n",
          o);
    for (int i = 0; i < s->npackets; i++) {
        const pg_msg_t *m = &s->packets[i];
        fprintf(o, "| %d | `%s` | %s | %s | ", m->type, m->name, pg_dir_name(m->dir),
                m->route ? pg_route_names[m->route] : "");
        emit_fields(s, m, o);
        fprintf(o, " | %lu | %s |\n", m->maxsize, m->doc ? m->doc : "");
    }
    fputs("\n| struct | fields (wire order) | max size | meaning |\n"
          "|--------|---------------------|---------:|---------|\n",
          o);
    for (int i = 0; i < s->nstructs; i++) {
        const pg_msg_t *m = &s->structs[i];
        fprintf(o, "| `%s` | ", m->name);
        emit_fields(s, m, o);
        fprintf(o, " | %lu | %s |\n", m->maxsize, m->doc ? m->doc : "");
    }
    return ferror(o) ? -1 : 0;
}

static char *doc_text(const pg_schema_t *s)
{
    FILE *tmp = tmpfile();
    long len;
    if (!tmp)
        return NULL;
    char *text = pg_emit_doc(s, tmp) == 0 ? pg_slurp(tmp, &len) : NULL;
    fclose(tmp);
    return text;
}

/* Returns 0 when in sync (or updated), 1 when stale or on error. */
int pg_readme(const pg_schema_t *s, const char *path, int update)
{
    FILE *f = fopen(path, "rb");
    long len;
    char *readme = f ? pg_slurp(f, &len) : NULL;
    if (f)
        fclose(f);
    char *doc = doc_text(s);
    int rc = 1;
    if (!readme || !doc) {
        fprintf(stderr, "protogen: cannot read %s\n", path);
        goto out;
    }
    char *b = strstr(readme, BEGIN_MARK);
    char *e = b ? strstr(b, END_MARK) : NULL;
    if (!update) {
        b = b ? b + strlen(BEGIN_MARK) : NULL;
        rc = !(b && e && (size_t)(e - b) == strlen(doc) && memcmp(b, doc, strlen(doc)) == 0);
        if (rc)
            fprintf(stderr,
                    "protogen: the packet table in %s is stale; run\n"
                    "  protogen --update-readme %s SCHEMA\n",
                    path, path);
        goto out;
    }
    if (!b || !e) { /* no markers yet: append */
        b = e = readme + strlen(readme);
    } else {
        e += strlen(END_MARK);
    }
    f = fopen(path, "wb");
    if (!f)
        goto out;
    fwrite(readme, 1, (size_t)(b - readme), f);
    fputs(BEGIN_MARK, f);
    fputs(doc, f);
    fputs(END_MARK, f);
    fputs(e, f);
    rc = fclose(f) != 0;
out:
    free(readme);
    free(doc);
    return rc;
}
