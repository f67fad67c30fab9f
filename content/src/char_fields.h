/* The declared list of persistent character fields a fork extends: one
 * X(...) line here plus one migration step in content_db.c (a column on
 * `characters`) is all it takes; load, save, range checks, the `/show` and
 * `/set` chat commands and the tests' loops are generated from this list.
 * Every field is a whole number (SQLite INTEGER, int64_t in C). */
#ifndef CHAR_FIELDS_H
#define CHAR_FIELDS_H

#include <stddef.h>
#include <stdint.h>

/* X(name, default, min, max, description)
 *  name:    the column in `characters` and the C member of content_fields_t
 *  default: what the migration gives existing rows and new characters get
 *  min/max: every write outside [min, max] is refused (CONTENT_DB_RANGE) */
#define CONTENT_CHAR_FIELDS(X) X(level, 1, 1, 1000, "character level")

typedef struct content_fields_s {
#define CONTENT_FIELD_MEMBER(name, def, lo, hi, desc) int64_t name;
    CONTENT_CHAR_FIELDS(CONTENT_FIELD_MEMBER)
#undef CONTENT_FIELD_MEMBER
} content_fields_t;

enum {
#define CONTENT_FIELD_ENUM(name, def, lo, hi, desc) CONTENT_FIELD_##name,
    CONTENT_CHAR_FIELDS(CONTENT_FIELD_ENUM)
#undef CONTENT_FIELD_ENUM
        CONTENT_FIELD_COUNT
};

typedef struct content_field_info_s {
    const char *name, *desc;
    int64_t def, min, max;
    size_t offset; /* of the member in content_fields_t */
} content_field_info_t;

/* The table generated from the list, CONTENT_FIELD_COUNT entries. */
extern const content_field_info_t content_fields[CONTENT_FIELD_COUNT];
/* Index of the field called `name` (n bytes), or -1. */
int content_field_find(const char *name, size_t n);
/* Pointer to field i of f. */
int64_t *content_field_ptr(content_fields_t *f, int i);
/* Every field at its default. */
void content_fields_default(content_fields_t *f);

#endif
