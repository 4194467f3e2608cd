/* profile_type.c - profile type id parsing. */
#include "model/profile_type.h"

#include <string.h>

int fx_profile_type_parse(const char *id, fx_arena_t *a, fx_profile_type_t *out, fx_err_t *err)
{
    const char *parts[6];
    size_t lens[6], n = 0;
    const char *p = id;

    memset(out, 0, sizeof *out);
    for (;;) {
        const char *c = strchr(p, ':');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (n == 6)
            return fx_err_set(err, FX_EINVAL,
                              "invalid profile type \"%.200s\": expected "
                              "name:sample_type:sample_unit:period_type:period_unit", id);
        parts[n] = p;
        lens[n++] = len;
        if (!c)
            break;
        p = c + 1;
    }
    if (n < 5 || lens[0] == 0 || lens[1] == 0)
        return fx_err_set(err, FX_EINVAL,
                          "invalid profile type \"%.200s\": expected "
                          "name:sample_type:sample_unit:period_type:period_unit", id);
    out->name = fx_arena_strndup(a, parts[0], lens[0]);
    out->sample_type = fx_arena_strndup(a, parts[1], lens[1]);
    out->sample_unit = fx_arena_strndup(a, parts[2], lens[2]);
    out->period_type = fx_arena_strndup(a, parts[3], lens[3]);
    out->period_unit = fx_arena_strndup(a, parts[4], lens[4]);
    out->id = fx_arena_strndup(a, id, (size_t)(parts[4] + lens[4] - id));
    return FX_OK;
}
