/*
 * load.c - decoding a block's index and symbols sections into memory: the
 * index into the head's series tables (fx__index_t with the stored
 * postings) plus chunk references, the symbols into plain arrays behind a
 * fx__symview_t. Every id is range-checked here so queries can index
 * arrays without checks; any inconsistency is FX_ECORRUPT naming the
 * section.
 */
#include "block/format.h"

#include <stdlib.h>
#include <string.h>

typedef struct rd {
    const uint8_t *p, *end;
} rd_t;

static int u(rd_t *r, uint64_t *v, uint64_t max)
{
    return fx_uvarint(&r->p, r->end, v) == 0 && *v <= max ? 0 : -1;
}

static int sv(rd_t *r, int64_t *v)
{
    uint64_t x;
    if (fx_uvarint(&r->p, r->end, &x))
        return -1;
    *v = fx_unzigzag(x);
    return 0;
}

/* A count of entries each taking at least min_bytes. */
static int count(rd_t *r, uint64_t *n, size_t min_bytes)
{
    return u(r, n, (uint64_t)(r->end - r->p) / (min_bytes ? min_bytes : 1) + 1);
}

/* --- index ---------------------------------------------------------------------------- */

#define ICORRUPT(...) fx_err_set(err, FX_ECORRUPT, "index section: " __VA_ARGS__)

static int read_str(rd_t *r, fx_buf_t *tmp)
{
    uint64_t n;
    if (u(r, &n, (uint64_t)(r->end - r->p)))
        return -1;
    tmp->len = 0;
    fx_buf_append(tmp, r->p, n);
    fx_buf_putc(tmp, 0);
    r->p += n;
    return 0;
}

void fx__bindex_free(fx__bindex_t *ix)
{
    fx__index_free(&ix->x);
    free(ix->chunks);
    free(ix->ps_chunk0);
    free(ix->tenant);
    memset(ix, 0, sizeof *ix);
}

int fx__bindex_load(fx__bindex_t *ix, const uint8_t *p, size_t n, uint64_t psize, int verify,
                    fx_err_t *err)
{
    fx__secr_t s;
    fx_buf_t b = FX_BUF_INIT, tmp = FX_BUF_INIT;
    int rc;
    uint64_t cnt, v, w;
    uint32_t *pairs = NULL;
    size_t cappairs = 0;
    fx__index_t *x = &ix->x;
    memset(ix, 0, sizeof *ix);
    fx__index_init(x);

    if ((rc = fx__secr_open(&s, FX_BLOCK_INDEX, p, n, verify, err)))
        goto out;
    /* info */
    if ((rc = fx__secr_part(&s, FX__P_INFO, &b, err)))
        goto out;
    rd_t r = {b.data, b.data + b.len};
    if (u(&r, &v, UINT64_MAX) || v != FX_BLOCK_VERSION || read_str(&r, &tmp)) {
        rc = ICORRUPT("bad info");
        goto out;
    }
    ix->tenant = fx_strdup((const char *)tmp.data);
    if (read_str(&r, &tmp) || !fx_block_ulid_valid((const char *)tmp.data) ||
        sv(&r, &ix->min_ns) || sv(&r, &ix->max_ns) || u(&r, &ix->profiles, UINT64_MAX) ||
        u(&r, &ix->samples, UINT64_MAX) || r.p != r.end) {
        rc = ICORRUPT("bad info");
        goto out;
    }
    strcpy(ix->id, (const char *)tmp.data);

    /* label strings */
    if ((rc = fx__secr_part(&s, FX__P_LSTR, &b, err)))
        goto out;
    r = (rd_t){b.data, b.data + b.len};
    if (count(&r, &cnt, 1)) {
        rc = ICORRUPT("bad label strings");
        goto out;
    }
    const uint8_t *lens = r.p;
    uint64_t total = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        if (u(&r, &v, UINT32_MAX)) {
            rc = ICORRUPT("bad label strings");
            goto out;
        }
        total += v;
    }
    if (total != (uint64_t)(r.end - r.p)) {
        rc = ICORRUPT("label string lengths do not match their bytes");
        goto out;
    }
    const uint8_t *blob = r.p;
    r.p = lens;
    for (uint64_t i = 0; i < cnt; i++) {
        (void)u(&r, &v, UINT32_MAX);
        if (memchr(blob, 0, v) || fx_strtab_intern(&x->lstr, (const char *)blob, v) != i) {
            rc = ICORRUPT("label string %llu is duplicated or has a NUL", (unsigned long long)i);
            goto out;
        }
        blob += v;
    }
    const uint64_t nstr = x->lstr.len;

    /* series */
    if ((rc = fx__secr_part(&s, FX__P_SERIES, &b, err)))
        goto out;
    r = (rd_t){b.data, b.data + b.len};
    if (count(&r, &cnt, 1) || cnt >= UINT32_MAX) {
        rc = ICORRUPT("bad series count");
        goto out;
    }
    fx_arena_t a;
    fx_arena_init(&a);
    for (uint64_t i = 0; i < cnt && rc == FX_OK; i++) {
        uint64_t nl;
        if (count(&r, &nl, 2)) {
            rc = ICORRUPT("bad series %llu", (unsigned long long)i);
            break;
        }
        FX_GROW(pairs, cappairs, 2 * nl + 1);
        fx_labels_t l = {fx_arena_alloc(&a, (nl + 1) * sizeof(fx_label_t)), nl};
        for (uint64_t j = 0; j < nl && rc == FX_OK; j++) {
            if (u(&r, &v, nstr - 1) || u(&r, &w, nstr - 1) || !nstr ||
                (j && strcmp(fx_strtab_get(&x->lstr, pairs[2 * j - 2]),
                             fx_strtab_get(&x->lstr, (uint32_t)v)) >= 0)) {
                rc = ICORRUPT("bad label in series %llu", (unsigned long long)i);
                break;
            }
            pairs[2 * j] = (uint32_t)v;
            pairs[2 * j + 1] = (uint32_t)w;
            l.v[j].name = fx_strtab_get(&x->lstr, (uint32_t)v);
            l.v[j].value = fx_strtab_get(&x->lstr, (uint32_t)w);
        }
        if (rc == FX_OK)
            fx__index_add_series_ids(x, pairs, (uint32_t)nl, fx_labels_fingerprint(&l));
        fx_arena_free(&a);
        fx_arena_init(&a);
    }
    fx_arena_free(&a);
    if (rc)
        goto out;
    if (r.p != r.end) {
        rc = ICORRUPT("trailing bytes after the series");
        goto out;
    }

    /* postings */
    if ((rc = fx__secr_part(&s, FX__P_POSTINGS, &b, err)))
        goto out;
    r = (rd_t){b.data, b.data + b.len};
    if (count(&r, &cnt, 3)) {
        rc = ICORRUPT("bad postings count");
        goto out;
    }
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t len;
        if (u(&r, &v, nstr - 1) || u(&r, &w, nstr - 1) || !nstr ||
            u(&r, &len, (uint64_t)(r.end - r.p))) {
            rc = ICORRUPT("bad postings entry %llu", (unsigned long long)i);
            goto out;
        }
        roaring_bitmap_t *bm = roaring_bitmap_portable_deserialize_safe((const char *)r.p, len);
        r.p += len;
        if (!bm || roaring_bitmap_get_cardinality(bm) == 0 ||
            roaring_bitmap_maximum(bm) >= x->nseries || fx__index_put_postings(x, (uint32_t)v, (uint32_t)w, bm)) {
            if (bm)
                roaring_bitmap_free(bm);
            rc = ICORRUPT("bad postings list %llu", (unsigned long long)i);
            goto out;
        }
    }
    if (r.p != r.end) {
        rc = ICORRUPT("trailing bytes after the postings");
        goto out;
    }

    /* pseries and chunks */
    if ((rc = fx__secr_part(&s, FX__P_PSERIES, &b, err)))
        goto out;
    r = (rd_t){b.data, b.data + b.len};
    if (count(&r, &cnt, 6) || cnt >= UINT32_MAX) {
        rc = ICORRUPT("bad pseries count");
        goto out;
    }
    ix->ps_chunk0 = fx_calloc(cnt + 1, sizeof *ix->ps_chunk0);
    size_t capch = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t nc, span, rows, nch;
        uint32_t cols[FX_ROW_MAX_COLS];
        int64_t mn;
        if (u(&r, &nc, FX_ROW_MAX_COLS) || nc == 0) {
            rc = ICORRUPT("bad pseries %llu", (unsigned long long)i);
            goto out;
        }
        for (uint64_t c = 0; c < nc; c++) {
            if (u(&r, &v, x->nseries ? x->nseries - 1 : 0) || !x->nseries) {
                rc = ICORRUPT("pseries %llu names an unknown series", (unsigned long long)i);
                goto out;
            }
            cols[c] = (uint32_t)v;
        }
        if (sv(&r, &mn) || u(&r, &span, UINT64_MAX) || u(&r, &rows, UINT64_MAX) ||
            count(&r, &nch, 5)) {
            rc = ICORRUPT("bad pseries %llu", (unsigned long long)i);
            goto out;
        }
        uint32_t id = fx__index_add_pseries(x, cols, (uint32_t)nc);
        fx__pseries_t *ps = &x->ps[id];
        ps->min_ns = mn;
        ps->max_ns = (int64_t)((uint64_t)mn + span);
        ps->rows = rows;
        if (ps->max_ns < ps->min_ns || (rows && !nch)) {
            rc = ICORRUPT("bad time range of pseries %llu", (unsigned long long)i);
            goto out;
        }
        ix->ps_chunk0[i] = (uint32_t)ix->nchunks;
        uint64_t nrows = 0;
        for (uint64_t k = 0; k < nch; k++) {
            uint64_t off, len, cr, d0, d1;
            if (u(&r, &off, psize) || u(&r, &len, UINT32_MAX) || len > psize - off ||
                off < FX__HEADER_LEN || len == 0 || u(&r, &cr, UINT32_MAX) ||
                u(&r, &d0, span) || u(&r, &d1, span - d0)) {
                rc = ICORRUPT("bad chunk %llu of pseries %llu", (unsigned long long)k,
                              (unsigned long long)i);
                goto out;
            }
            FX_GROW(ix->chunks, capch, ix->nchunks + 1);
            fx__bchunk_t *ch = &ix->chunks[ix->nchunks++];
            ch->off = off;
            ch->len = (uint32_t)len;
            ch->nrows = (uint32_t)cr;
            ch->min_ns = (int64_t)((uint64_t)mn + d0);
            ch->max_ns = (int64_t)((uint64_t)ch->min_ns + d1);
            nrows += cr;
        }
        if (nrows != rows) {
            rc = ICORRUPT("pseries %llu: chunk rows do not add up", (unsigned long long)i);
            goto out;
        }
    }
    ix->ps_chunk0[cnt] = (uint32_t)ix->nchunks;
    if (r.p != r.end) {
        rc = ICORRUPT("trailing bytes after the pseries");
        goto out;
    }
    ix->bytes = sizeof *ix + x->lstr.bytes + x->lstr.len * 16 + x->nlbl * 4 +
                x->nseries * (sizeof(fx__series_t) + 16) + x->nps * (sizeof(fx__pseries_t) + 8) +
                ix->nchunks * sizeof *ix->chunks + x->npost * 64;
    for (size_t i = 0; i < x->npost; i++)
        ix->bytes += roaring_bitmap_portable_size_in_bytes(x->post[i]);
out:
    fx__secr_free(&s);
    fx_buf_free(&b);
    fx_buf_free(&tmp);
    free(pairs);
    if (rc)
        fx__bindex_free(ix);
    return rc;
}

/* --- symbols ---------------------------------------------------------------------------- */

#define SCORRUPT(...) fx_err_set(err, FX_ECORRUPT, "symbols section: " __VA_ARGS__)

void fx__bsyms_free(fx__bsyms_t *s)
{
    fx_buf_free(&s->strblob);
    free(s->str);
    free(s->str_len);
    free(s->fns);
    free(s->maps);
    free(s->locs);
    free(s->lines);
    free(s->parent);
    free(s->loc);
    memset(s, 0, sizeof *s);
}

int fx__bsyms_load(fx__bsyms_t *s, const uint8_t *p, size_t n, int verify, fx_err_t *err)
{
    fx__secr_t sr;
    fx_buf_t b = FX_BUF_INIT;
    uint64_t cnt, v;
    int rc;
    memset(s, 0, sizeof *s);
    fx__symview_t *vw = &s->v;

    if ((rc = fx__secr_open(&sr, FX_BLOCK_SYMBOLS, p, n, verify, err)))
        goto out;

    /* strings: the part's buffer becomes the blob the pointers point into */
    if ((rc = fx__secr_part(&sr, FX__S_STRINGS, &s->strblob, err)))
        goto out;
    rd_t r = {s->strblob.data, s->strblob.data + s->strblob.len};
    if (count(&r, &cnt, 1) || cnt == 0 || cnt >= UINT32_MAX) {
        rc = SCORRUPT("bad strings");
        goto out;
    }
    s->str = fx_malloc(cnt * sizeof *s->str);
    s->str_len = fx_malloc(cnt * sizeof *s->str_len);
    uint64_t total = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        if (u(&r, &v, UINT32_MAX)) {
            rc = SCORRUPT("bad string length %llu", (unsigned long long)i);
            goto out;
        }
        s->str_len[i] = (uint32_t)v;
        total += v;
    }
    if (total != (uint64_t)(r.end - r.p)) {
        rc = SCORRUPT("string lengths do not match their bytes");
        goto out;
    }
    for (uint64_t i = 0; i < cnt; i++) {
        s->str[i] = (const char *)r.p;
        r.p += s->str_len[i];
    }
    vw->nstrs = cnt;
    const uint64_t ns = cnt;

    /* mappings */
    if ((rc = fx__secr_part(&sr, FX__S_MAPPINGS, &b, err)))
        goto out;
    r = (rd_t){b.data, b.data + b.len};
    if (count(&r, &cnt, 6) || cnt >= UINT32_MAX) {
        rc = SCORRUPT("bad mappings");
        goto out;
    }
    s->maps = fx_calloc(cnt + 1, sizeof *s->maps);
    for (int col = 0; col < 6; col++)
        for (uint64_t i = 0; i < cnt; i++) {
            uint64_t max = col == 3 || col == 4 ? ns - 1 : col == 5 ? 255 : UINT64_MAX;
            if (u(&r, &v, max)) {
                rc = SCORRUPT("bad mapping %llu", (unsigned long long)i);
                goto out;
            }
            fx__mapping_t *m = &s->maps[i];
            switch (col) {
            case 0: m->start = v; break;
            case 1: m->limit = v; break;
            case 2: m->offset = v; break;
            case 3: m->filename = (uint32_t)v; break;
            case 4: m->build_id = (uint32_t)v; break;
            default: m->flags = (uint8_t)v; break;
            }
        }
    vw->nmaps = cnt;

    /* functions */
    if ((rc = fx__secr_part(&sr, FX__S_FUNCTIONS, &b, err)))
        goto out;
    r = (rd_t){b.data, b.data + b.len};
    if (count(&r, &cnt, 4) || cnt >= UINT32_MAX) {
        rc = SCORRUPT("bad functions");
        goto out;
    }
    s->fns = fx_calloc(cnt + 1, sizeof *s->fns);
    for (int col = 0; col < 4; col++)
        for (uint64_t i = 0; i < cnt; i++) {
            int64_t x = 0;
            if (col < 3 ? u(&r, &v, ns - 1) : sv(&r, &x)) {
                rc = SCORRUPT("bad function %llu", (unsigned long long)i);
                goto out;
            }
            fx__fn_t *f = &s->fns[i];
            if (col == 0)
                f->name = (uint32_t)v;
            else if (col == 1)
                f->system_name = (uint32_t)v;
            else if (col == 2)
                f->filename = (uint32_t)v;
            else
                f->start_line = x;
        }
    vw->nfns = cnt;

    /* locations and their lines */
    if ((rc = fx__secr_part(&sr, FX__S_LOCATIONS, &b, err)))
        goto out;
    r = (rd_t){b.data, b.data + b.len};
    if (count(&r, &cnt, 3) || cnt >= UINT32_MAX) {
        rc = SCORRUPT("bad locations");
        goto out;
    }
    s->locs = fx_calloc(cnt + 1, sizeof *s->locs);
    uint64_t addr = 0, nlines = 0;
    for (uint64_t i = 0; i < cnt; i++) {
        int64_t d;
        if (sv(&r, &d)) {
            rc = SCORRUPT("bad location %llu", (unsigned long long)i);
            goto out;
        }
        addr += (uint64_t)d;
        s->locs[i].address = addr;
    }
    for (uint64_t i = 0; i < cnt; i++) {
        if (u(&r, &v, vw->nmaps)) {
            rc = SCORRUPT("location %llu has an unknown mapping", (unsigned long long)i);
            goto out;
        }
        s->locs[i].mapping = (uint32_t)v;
    }
    for (uint64_t i = 0; i < cnt; i++) {
        if (u(&r, &v, (uint64_t)(r.end - r.p) * 2 + 1)) {
            rc = SCORRUPT("bad location %llu", (unsigned long long)i);
            goto out;
        }
        s->locs[i].nlines = (uint32_t)(v >> 1);
        s->locs[i].folded = (uint8_t)(v & 1);
        s->locs[i].line0 = (uint32_t)nlines;
        nlines += v >> 1;
        if (nlines > (uint64_t)(r.end - r.p)) {
            rc = SCORRUPT("location lines overrun the section");
            goto out;
        }
    }
    s->lines = fx_calloc(nlines + 1, sizeof *s->lines);
    for (uint64_t i = 0; i < nlines; i++) {
        if (u(&r, &v, vw->nfns ? vw->nfns - 1 : 0) || !vw->nfns) {
            rc = SCORRUPT("line %llu has an unknown function", (unsigned long long)i);
            goto out;
        }
        s->lines[i].fn = (uint32_t)v;
    }
    for (uint64_t i = 0; i < nlines; i++)
        if (sv(&r, &s->lines[i].line)) {
            rc = SCORRUPT("bad line %llu", (unsigned long long)i);
            goto out;
        }
    if (r.p != r.end) {
        rc = SCORRUPT("trailing bytes after the locations");
        goto out;
    }
    vw->nlocs = cnt;
    vw->nlines = nlines;

    /* stack tree */
    if ((rc = fx__secr_part(&sr, FX__S_NODES, &b, err)))
        goto out;
    r = (rd_t){b.data, b.data + b.len};
    if (count(&r, &cnt, 2) || cnt >= UINT32_MAX - 1) {
        rc = SCORRUPT("bad stack tree");
        goto out;
    }
    s->parent = fx_malloc((cnt + 1) * sizeof *s->parent);
    s->loc = fx_malloc((cnt + 1) * sizeof *s->loc);
    s->parent[0] = 0;
    s->loc[0] = UINT32_MAX;
    for (uint64_t i = 1; i <= cnt; i++) {
        if (u(&r, &v, i) || v == 0) {
            rc = SCORRUPT("stack node %llu has a bad parent", (unsigned long long)i);
            goto out;
        }
        s->parent[i] = (uint32_t)(i - v);
    }
    for (uint64_t i = 1; i <= cnt; i++)
        if (u(&r, &v, vw->nlocs ? vw->nlocs - 1 : 0) || !vw->nlocs) {
            rc = SCORRUPT("stack node %llu has an unknown location", (unsigned long long)i);
            goto out;
        } else {
            s->loc[i] = (uint32_t)v;
        }
    if (r.p != r.end) {
        rc = SCORRUPT("trailing bytes after the stack tree");
        goto out;
    }
    vw->nnodes = cnt + 1;
    vw->str = s->str;
    vw->str_len = s->str_len;
    vw->fns = s->fns;
    vw->maps = s->maps;
    vw->locs = s->locs;
    vw->lines = s->lines;
    vw->node_parent = s->parent;
    vw->node_loc = s->loc;
    s->bytes = sizeof *s + s->strblob.cap + vw->nstrs * 12 + vw->nfns * sizeof(fx__fn_t) +
               vw->nmaps * sizeof(fx__mapping_t) + vw->nlocs * sizeof(fx__loc_t) +
               vw->nlines * sizeof(fx__line_t) + vw->nnodes * 8;
out:
    fx__secr_free(&sr);
    fx_buf_free(&b);
    if (rc)
        fx__bsyms_free(s);
    return rc;
}
