/* flamebearer.c - flamebearer JSON writer and timeline filler. */
#include "model/flamebearer.h"
#include "core/core.h"
#include "core/utf8.h"

#include <string.h>

void fx_flamebearer_units(const char *sample_type, const char *sample_unit, const char **units,
                          uint32_t *sample_rate)
{
    static const char *const objects[] = {"inuse_objects", "alloc_objects", "goroutine",
                                          "samples"};
    const char *st = sample_type ? sample_type : "";
    *units = sample_unit ? sample_unit : "";
    *sample_rate = 100;
    if (strcmp(st, "cpu") == 0) {
        *units = "samples";
        *sample_rate = 1000000000u;
        return;
    }
    for (size_t i = 0; i < FX_ARRAY_LEN(objects); i++)
        if (strcmp(st, objects[i]) == 0)
            *units = "objects";
}

void fx_timeline_from_points(fx_timeline_t *tl, const int64_t *ts_ms, const double *values,
                             size_t n, int64_t start_ms, int64_t end_ms, int64_t step_s,
                             fx_arena_t *a)
{
    int64_t start_s = start_ms / 1000, end_s = end_ms / 1000;
    if (step_s < 1)
        step_s = 1;
    size_t slots = end_ms > start_ms && end_s > start_s ? (size_t)((end_s - start_s) / step_s) : 0;
    uint64_t *samples = fx_arena_calloc(a, slots * sizeof *samples);
    for (size_t i = 0; i < n; i++) {
        if (ts_ms[i] < start_ms || ts_ms[i] >= end_ms)
            continue;
        size_t k = (size_t)((ts_ms[i] / 1000 - start_s) / step_s);
        if (k < slots) {
            double v = values[i];
            /* NaN and negatives become 0; huge values saturate. */
            samples[k] = !(v > 0) ? 0 : v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
        }
    }
    tl->start_time = start_s;
    tl->samples = samples;
    tl->n_samples = slots;
    tl->duration_delta = step_s;
}

/* Integers are most of the output: written straight into reserved room
 * (at most 20 digits and a sign), without printf or per-byte calls. */
static char *fmt_u64(char *p, uint64_t u)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *fmt_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return fmt_u64(p, -(uint64_t)v);
    }
    return fmt_u64(p, (uint64_t)v);
}

static void put_i64(fx_buf_t *b, int64_t v)
{
    fx_buf_reserve(b, 21);
    b->len = (size_t)(fmt_i64((char *)b->data + b->len, v) - (char *)b->data);
}

static void put_u64(fx_buf_t *b, uint64_t u)
{
    fx_buf_reserve(b, 21);
    b->len = (size_t)(fmt_u64((char *)b->data + b->len, u) - (char *)b->data);
}

/* "[v,v,...]" for n values, one reservation for the whole array. */
static void put_i64_array(fx_buf_t *b, const int64_t *v, size_t n)
{
    fx_buf_reserve(b, n * 21 + 2);
    char *p = (char *)b->data + b->len;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p = fmt_i64(p, v[i]);
    }
    *p++ = ']';
    b->len = (size_t)(p - (char *)b->data);
}

/* A JSON string the way Go's encoding/json writes it (Pyroscope's encoder):
 * <, >, & and U+2028/9 as \u escapes, invalid UTF-8 as U+FFFD, so the
 * document is valid UTF-8 whatever the frame names hold. Runs of plain
 * bytes are copied at once: names are most of a flame graph's text. */
static void put_json_str(fx_buf_t *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0;
    fx_buf_reserve(b, n + 2);
    fx_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
            i++;
            continue;
        }
        size_t l = fx_utf8_len(s + i, n - i);
        int sep = l == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9);
        if (l > 1 && !sep) {
            i += l;
            continue;
        }
        fx_buf_append(b, s + run, i - run);
        if (l == 0) {
            fx_buf_append(b, "\\ufffd", 6);
            i++;
        } else if (sep) {
            fx_buf_append(b, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            i += 3;
        } else {
            const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n"
                            : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b"
                            : c == '\f' ? "\\f" : NULL;
            if (e) {
                fx_buf_append(b, e, 2);
            } else {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                fx_buf_append(b, u, 6);
            }
            i++;
        }
        run = i;
    }
    fx_buf_append(b, s + run, n - run);
    fx_buf_putc(b, '"');
}

static void put_str(fx_buf_t *b, const char *s)
{
    s = s ? s : "";
    put_json_str(b, s, strlen(s));
}

static void put_flamebearer(fx_buf_t *b, char **names, size_t n_names,
                            Querier__V1__Level **levels, size_t n_levels, int64_t total,
                            int64_t max_self)
{
    fx_buf_puts(b, "\"flamebearer\":{\"names\":[");
    for (size_t i = 0; i < n_names; i++) {
        if (i)
            fx_buf_putc(b, ',');
        put_str(b, names[i]);
    }
    fx_buf_puts(b, "],\"levels\":[");
    for (size_t l = 0; l < n_levels; l++) {
        const Querier__V1__Level *lv = levels[l];
        size_t n = lv ? lv->n_values : 0;
        if (l)
            fx_buf_putc(b, ',');
        put_i64_array(b, n ? lv->values : NULL, n);
    }
    fx_buf_putc(b, ']');
    fx_buf_puts(b, ",\"numTicks\":");
    put_i64(b, total);
    fx_buf_puts(b, ",\"maxSelf\":");
    put_i64(b, max_self);
    fx_buf_putc(b, '}');
}

static void put_meta(fx_buf_t *b, const char *format, const fx_flamebearer_meta_t *m)
{
    const char *units;
    uint32_t rate;
    fx_flamebearer_units(m ? m->sample_type : NULL, m ? m->sample_unit : NULL, &units, &rate);
    fx_buf_puts(b, ",\"metadata\":{\"format\":");
    put_str(b, format);
    fx_buf_puts(b, ",\"spyName\":");
    put_str(b, m ? m->spy_name : NULL);
    fx_buf_puts(b, ",\"sampleRate\":");
    put_u64(b, rate);
    fx_buf_puts(b, ",\"units\":");
    put_str(b, units);
    fx_buf_puts(b, ",\"name\":");
    put_str(b, m ? m->sample_type : NULL);
    fx_buf_putc(b, '}');
}

static void put_timeline(fx_buf_t *b, const fx_timeline_t *tl)
{
    if (!tl) {
        fx_buf_puts(b, "null");
        return;
    }
    fx_buf_puts(b, "{\"startTime\":");
    put_i64(b, tl->start_time);
    fx_buf_puts(b, ",\"samples\":[");
    fx_buf_reserve(b, tl->n_samples * 21);
    for (size_t i = 0; i < tl->n_samples; i++) {
        if (i)
            fx_buf_putc(b, ',');
        put_u64(b, tl->samples[i]);
    }
    fx_buf_puts(b, "],\"durationDelta\":");
    put_i64(b, tl->duration_delta);
    fx_buf_puts(b, ",\"watermarks\":null}");
}

void fx_flamebearer_write(fx_buf_t *out, const Querier__V1__FlameGraph *fg,
                          const fx_flamebearer_meta_t *meta, const fx_timeline_t *timeline,
                          const fx_timeline_group_t *groups, size_t ngroups)
{
    fx_buf_puts(out, "{\"version\":1,");
    if (fg)
        put_flamebearer(out, fg->names, fg->n_names, fg->levels, fg->n_levels, fg->total,
                        fg->max_self);
    else
        put_flamebearer(out, NULL, 0, NULL, 0, 0, 0);
    put_meta(out, "single", meta);
    fx_buf_puts(out, ",\"timeline\":");
    put_timeline(out, timeline);
    fx_buf_puts(out, ",\"groups\":");
    if (!groups) {
        fx_buf_puts(out, "null");
    } else {
        fx_buf_putc(out, '{');
        for (size_t i = 0; i < ngroups; i++) {
            if (i)
                fx_buf_putc(out, ',');
            put_str(out, groups[i].name);
            fx_buf_putc(out, ':');
            put_timeline(out, &groups[i].timeline);
        }
        fx_buf_putc(out, '}');
    }
    fx_buf_puts(out, ",\"heatmap\":null}\n");
}

void fx_flamebearer_write_diff(fx_buf_t *out, const Querier__V1__FlameGraphDiff *fg,
                               const fx_flamebearer_meta_t *meta, const fx_timeline_t *timeline)
{
    fx_buf_puts(out, "{\"version\":1,");
    if (fg)
        put_flamebearer(out, fg->names, fg->n_names, fg->levels, fg->n_levels, fg->total,
                        fg->max_self);
    else
        put_flamebearer(out, NULL, 0, NULL, 0, 0, 0);
    put_meta(out, "double", meta);
    fx_buf_puts(out, ",\"timeline\":");
    put_timeline(out, timeline);
    fx_buf_puts(out, ",\"groups\":null,\"heatmap\":null");
    /* Go's uint64 omitempty: absent when 0. */
    if (fg && fg->leftticks) {
        fx_buf_puts(out, ",\"leftTicks\":");
        put_i64(out, fg->leftticks);
    }
    if (fg && fg->rightticks) {
        fx_buf_puts(out, ",\"rightTicks\":");
        put_i64(out, fg->rightticks);
    }
    fx_buf_puts(out, "}\n");
}
