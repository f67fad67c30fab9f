/* The table generated from CONTENT_CHAR_FIELDS (char_fields.h). */
#include "char_fields.h"

#include <stddef.h>
#include <string.h>

const content_field_info_t content_fields[CONTENT_FIELD_COUNT] = {
#define CONTENT_FIELD_INFO(n, d, lo, hi, text) {#n, text, d, lo, hi, offsetof(content_fields_t, n)},
    CONTENT_CHAR_FIELDS(CONTENT_FIELD_INFO)
#undef CONTENT_FIELD_INFO
};

#define CONTENT_FIELD_CHECK(n, d, lo, hi, text)                                                    \
    _Static_assert((lo) <= (d) && (d) <= (hi), "field " #n ": default outside [min, max]");
CONTENT_CHAR_FIELDS(CONTENT_FIELD_CHECK)
#undef CONTENT_FIELD_CHECK

int content_field_find(const char *name, size_t n)
{
    for (int i = 0; i < CONTENT_FIELD_COUNT; i++)
        if (strlen(content_fields[i].name) == n && memcmp(content_fields[i].name, name, n) == 0)
            return i;
    return -1;
}

int64_t *content_field_ptr(content_fields_t *f, int i)
{
    return (int64_t *)(void *)((char *)f + content_fields[i].offset);
}

void content_fields_default(content_fields_t *f)
{
    for (int i = 0; i < CONTENT_FIELD_COUNT; i++)
        *content_field_ptr(f, i) = content_fields[i].def;
}
