/*
 * meta.c - a block's meta.json (id, tenant, time range, counts, compaction
 * level and sources, section sizes and crc32s) and ULIDs.
 *
 * meta.json checksums itself: its last field is the crc32 of the canonical
 * text of everything else (what fx_block_meta_encode writes without that
 * field). The parser rebuilds the canonical text from the parsed values, so
 * a flipped byte that changes any value - or breaks the JSON - is caught;
 * unknown fields are ignored (and not covered).
 */
#include "block/format.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char *const file_names[FX_BLOCK_NFILES] = {"meta.json", "index.fxb", "symbols.fxb",
                                                        "profiles.fxb"};

const char *fx_block_file_name(fx_block_file_t f)
{
    return (unsigned)f < FX_BLOCK_NFILES ? file_names[f] : "?";
}

const char *fx_block_corrupt_section(const char *msg)
{
    /* Sections first: a section's message may mention meta.json too
     * ("... meta.json says 120"). */
    for (int f = FX_BLOCK_META + 1; f < FX_BLOCK_NFILES; f++) {
        char want[32];
        int kind = (int)(strchr(file_names[f], '.') - file_names[f]);
        snprintf(want, sizeof want, "%s section", file_names[f]);
        if (strstr(msg, want))
            return file_names[f];
        snprintf(want, sizeof want, "%.*s section", kind, file_names[f]);
        if (strstr(msg, want))
            return file_names[f];
    }
    return strstr(msg, file_names[FX_BLOCK_META]) ? file_names[FX_BLOCK_META] : "unknown";
}

/* --- ULID: 48-bit ms time + 80 random bits, Crockford base32 ------------------------ */

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void fx_block_ulid(int64_t ms, char out[FX_BLOCK_ULID_LEN + 1])
{
    uint8_t b[16];
    uint64_t t = (uint64_t)ms & 0xffffffffffffULL;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(t >> (40 - 8 * i));
    size_t got = 0;
    while (got < 10) {
        ssize_t r = getrandom(b + 6 + got, 10 - got, 0);
        FX_ASSERT(r > 0 || errno == EINTR);
        if (r > 0)
            got += (size_t)r;
    }
    /* 128 bits as 26 base32 digits, most significant first (2 pad bits). */
    for (int i = 0; i < FX_BLOCK_ULID_LEN; i++) {
        int bit = i * 5 - 2, v = 0;
        for (int k = 0; k < 5; k++, bit++)
            v = v << 1 | (bit < 0 ? 0 : b[bit / 8] >> (7 - bit % 8) & 1);
        out[i] = b32[v];
    }
    out[FX_BLOCK_ULID_LEN] = 0;
}

int fx_block_ulid_valid(const char *s)
{
    if (!s || strlen(s) != FX_BLOCK_ULID_LEN || s[0] > '7')
        return 0;
    for (int i = 0; i < FX_BLOCK_ULID_LEN; i++)
        if (!strchr(b32, s[i]) || !s[i])
            return 0;
    return 1;
}

/* --- encoding ------------------------------------------------------------------------- */

void fx_block_meta_free(fx_block_meta_t *m)
{
    free(m->tenant);
    free(m->sources);
    memset(m, 0, sizeof *m);
}

static void canonical(const fx_block_meta_t *m, fx_buf_t *b)
{
    fx_buf_printf(b, "{\n  \"ulid\": \"%s\",\n  \"version\": %d,\n  \"tenant\": ", m->id,
                  m->version);
    fx_buf_json_str(b, m->tenant, strlen(m->tenant));
    fx_buf_printf(b, ",\n  \"minTime\": %lld,\n  \"maxTime\": %lld,\n", (long long)m->min_time_ms,
                  (long long)m->max_time_ms);
    fx_buf_printf(b,
                  "  \"stats\": {\"numSeries\": %llu, \"numProfiles\": %llu, "
                  "\"numSamples\": %llu, \"numStackNodes\": %llu},\n",
                  (unsigned long long)m->series, (unsigned long long)m->profiles,
                  (unsigned long long)m->samples, (unsigned long long)m->stack_nodes);
    fx_buf_printf(b, "  \"compaction\": {\"level\": %d, \"sources\": [", m->level);
    for (size_t i = 0; i < m->nsources; i++)
        fx_buf_printf(b, "%s\"%s\"", i ? ", " : "", m->sources[i]);
    fx_buf_puts(b, "]},\n  \"files\": [\n");
    for (int f = FX_BLOCK_INDEX; f < FX_BLOCK_NFILES; f++)
        fx_buf_printf(b, "    {\"relPath\": \"%s\", \"sizeBytes\": %llu, \"crc32\": \"%08x\"}%s\n",
                      file_names[f], (unsigned long long)m->files[f].size, m->files[f].crc32,
                      f + 1 < FX_BLOCK_NFILES ? "," : "");
    fx_buf_puts(b, "  ]");
}

void fx_block_meta_encode(const fx_block_meta_t *m, fx_buf_t *out)
{
    size_t start = out->len;
    canonical(m, out);
    uint32_t crc = fx__crc32(out->data + start, out->len - start);
    fx_buf_printf(out, ",\n  \"checksum\": \"crc32:%08x\"\n}\n", crc);
}

/* --- parsing -------------------------------------------------------------------------- */

#define CORRUPT(...) fx_err_set(err, FX_ECORRUPT, "meta.json: " __VA_ARGS__)

static int get_int(json_t *o, const char *k, long long lo, long long hi, long long *v)
{
    json_t *x = json_object_get(o, k);
    if (!json_is_integer(x))
        return -1;
    *v = json_integer_value(x);
    return *v >= lo && *v <= hi ? 0 : -1;
}

static int get_hex32(json_t *o, const char *k, const char *prefix, uint32_t *v)
{
    json_t *x = json_object_get(o, k);
    const char *s = json_is_string(x) ? json_string_value(x) : NULL;
    size_t pl = strlen(prefix);
    if (!s || strlen(s) != pl + 8 || strncmp(s, prefix, pl) != 0)
        return -1;
    /* Lower-case digits only: the canonical form, so no flipped case bit
     * can leave the value unchanged. */
    uint32_t u = 0;
    for (size_t i = pl; i < pl + 8; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            u = u << 4 | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            u = u << 4 | (uint32_t)(c - 'a' + 10);
        else
            return -1;
    }
    *v = u;
    return 0;
}

int fx_block_meta_parse(const uint8_t *p, size_t n, fx_block_meta_t *m, fx_err_t *err)
{
    json_error_t je;
    int rc = FX_OK;
    long long v;
    memset(m, 0, sizeof *m);
    json_t *root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        rc = CORRUPT("not a JSON object (%s)", root ? "wrong type" : je.text);
        goto out;
    }
    json_t *x = json_object_get(root, "ulid");
    if (!json_is_string(x) || !fx_block_ulid_valid(json_string_value(x))) {
        rc = CORRUPT("missing or malformed ulid");
        goto out;
    }
    strcpy(m->id, json_string_value(x));
    if (get_int(root, "version", 0, 1000, &v)) {
        rc = CORRUPT("missing version");
        goto out;
    }
    m->version = (int)v;
    if (m->version != FX_BLOCK_VERSION) {
        rc = CORRUPT("unsupported block version %d", m->version);
        goto out;
    }
    x = json_object_get(root, "tenant");
    if (!json_is_string(x) || json_string_length(x) == 0 ||
        strlen(json_string_value(x)) != json_string_length(x)) {
        rc = CORRUPT("missing tenant");
        goto out;
    }
    m->tenant = fx_strdup(json_string_value(x));
    long long mn, mx;
    if (get_int(root, "minTime", INT64_MIN, INT64_MAX, &mn) ||
        get_int(root, "maxTime", mn, INT64_MAX, &mx)) {
        rc = CORRUPT("missing or inconsistent minTime/maxTime");
        goto out;
    }
    m->min_time_ms = mn;
    m->max_time_ms = mx;
    json_t *st = json_object_get(root, "stats");
    long long s[4];
    static const char *const sk[4] = {"numSeries", "numProfiles", "numSamples", "numStackNodes"};
    for (int i = 0; i < 4; i++)
        if (!json_is_object(st) || get_int(st, sk[i], 0, INT64_MAX, &s[i])) {
            rc = CORRUPT("missing stats.%s", sk[i]);
            goto out;
        }
    m->series = (uint64_t)s[0];
    m->profiles = (uint64_t)s[1];
    m->samples = (uint64_t)s[2];
    m->stack_nodes = (uint64_t)s[3];
    json_t *cp = json_object_get(root, "compaction");
    json_t *src = json_is_object(cp) ? json_object_get(cp, "sources") : NULL;
    if (!json_is_object(cp) || get_int(cp, "level", 1, 1000, &v) || !json_is_array(src) ||
        json_array_size(src) > FX_BLOCK_MAX_SOURCES) {
        rc = CORRUPT("missing or malformed compaction");
        goto out;
    }
    m->level = (int)v;
    m->nsources = json_array_size(src);
    m->sources = fx_calloc(m->nsources + 1, sizeof *m->sources);
    for (size_t i = 0; i < m->nsources; i++) {
        json_t *e = json_array_get(src, i);
        if (!json_is_string(e) || !fx_block_ulid_valid(json_string_value(e))) {
            rc = CORRUPT("malformed source %zu", i);
            goto out;
        }
        strcpy(m->sources[i], json_string_value(e));
    }
    json_t *files = json_object_get(root, "files");
    if (!json_is_array(files) || json_array_size(files) != FX_BLOCK_NFILES - 1) {
        rc = CORRUPT("missing or malformed files");
        goto out;
    }
    for (int f = FX_BLOCK_INDEX; f < FX_BLOCK_NFILES; f++) {
        json_t *e = json_array_get(files, (size_t)f - 1), *rp = json_object_get(e, "relPath");
        if (!json_is_object(e) || !json_is_string(rp) ||
            strcmp(json_string_value(rp), file_names[f]) != 0 ||
            get_int(e, "sizeBytes", 0, INT64_MAX, &v) || get_hex32(e, "crc32", "", &m->files[f].crc32)) {
            rc = CORRUPT("malformed entry for %s", file_names[f]);
            goto out;
        }
        m->files[f].size = (uint64_t)v;
    }
    uint32_t want;
    if (get_hex32(root, "checksum", "crc32:", &want)) {
        rc = CORRUPT("missing checksum");
        goto out;
    }
    fx_buf_t b = FX_BUF_INIT;
    canonical(m, &b);
    uint32_t got = fx__crc32(b.data, b.len);
    fx_buf_free(&b);
    if (got != want)
        rc = CORRUPT("checksum mismatch (the file was changed or damaged)");
out:
    if (root)
        json_decref(root);
    return rc;
}
