/* fuzz_storage.c - the head's decoders of stored bytes on hostile input:
 * profile rows and symbol/series chunks come back from disk, and a corrupt
 * one must give FX_ECORRUPT, never a crash. Input: records of (kind byte,
 * uvarint length, payload); kind 'R' is a row (parsed, then every column
 * accumulated), '1'..'7' a chunk loaded into one tenant's tables in order,
 * so later chunks can reference earlier ones. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>

#include "storage/tables.h"

#define MAX_STACK 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    fx__symbols_t sym;
    fx__index_t idx;
    fx_err_t err;
    int64_t *acc = calloc(MAX_STACK, sizeof *acc);
    uint8_t *touched = calloc(MAX_STACK, 1);

    fx__symbols_init(&sym);
    fx__index_init(&idx);
    while (p < end) {
        int kind = *p++;
        uint64_t len;
        if (fx_uvarint(&p, end, &len) || len > (uint64_t)(end - p))
            break;
        if (kind == 'R') {
            fx_row_t row;
            if (fx_row_parse(p, len, &row, &err) == FX_OK)
                for (uint32_t c = 0; c < row.ncols; c++)
                    if (fx_row_accumulate(&row, c, MAX_STACK, acc, touched, &err) != FX_OK)
                        FX_ASSERT(err.code == FX_ECORRUPT);
        } else if (kind == FX__K_SERIES || kind == FX__K_PSERIES) {
            int rc = fx__index_load_chunk(&idx, kind, (uint32_t)(kind == FX__K_SERIES ? idx.nseries
                                                                                    : idx.nps),
                                          p, len, &err);
            FX_ASSERT(rc == FX_OK || rc == FX_ECORRUPT);
        } else {
            size_t first = kind == FX__K_STRINGS ? sym.strs.len : kind == FX__K_MAPPINGS ? sym.nmaps
                         : kind == FX__K_FUNCTIONS ? sym.nfns : kind == FX__K_LOCATIONS ? sym.nlocs
                                                                                        : sym.nnodes;
            int rc = fx__sym_load_chunk(&sym, kind, (uint32_t)first, p, len, &err);
            FX_ASSERT(rc == FX_OK || rc == FX_ECORRUPT);
        }
        p += len;
    }
    /* Whatever loaded must be internally consistent: walk every stack. */
    for (size_t i = 1; i < sym.nnodes; i++) {
        FX_ASSERT(sym.node_parent[i] < i && sym.node_loc[i] < sym.nlocs);
        const fx__loc_t *l = &sym.locs[sym.node_loc[i]];
        FX_ASSERT(l->mapping <= sym.nmaps);
        for (uint32_t j = 0; j < l->nlines; j++)
            FX_ASSERT(sym.fns[sym.lines[l->line0 + j].fn].name < sym.strs.len);
    }
    for (size_t i = 0; i < idx.nps; i++)
        for (uint32_t c = 0; c < idx.ps[i].ncols; c++)
            FX_ASSERT(idx.pcols[idx.ps[i].col_off + c] < idx.nseries);
    fx__symbols_free(&sym);
    fx__index_free(&idx);
    free(acc);
    free(touched);
    return 0;
}
