/* fuzz_profile_id.c - profile_id_selector entries (model/profile_id.h) and
 * heatmap bucketing (model/heatmap.h) on hostile input. Input: the id text;
 * if it is 36+16 bytes or longer, its first 16 bytes are also taken as two
 * int64 values lo, hi for a heatmap scale that every later 8 bytes are
 * bucketed in. A parsed id must format back to the same text (lower case). */
#include <ctype.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "core/core.h"
#include "model/heatmap.h"
#include "model/profile_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t id[16];
    char buf[FX_PROFILE_ID_LEN + 1];
    if (fx_profile_id_parse((const char *)data, size, id) == 0) {
        fx_profile_id_format(id, buf);
        for (size_t i = 0; i < FX_PROFILE_ID_LEN; i++)
            FX_ASSERT(buf[i] == tolower(data[i]));
    }
    if (size >= 16) {
        int64_t lo, hi, v;
        memcpy(&lo, data, 8);
        memcpy(&hi, data + 8, 8);
        if (lo > hi) {
            int64_t t = lo;
            lo = hi;
            hi = t;
        }
        fx_heatmap_scale_t s;
        fx_heatmap_scale(lo, hi, &s);
        FX_ASSERT(s.n >= 1 && s.n <= FX_HEATMAP_BUCKETS);
        for (size_t off = 16; off + 8 <= size; off += 8) {
            memcpy(&v, data + off, 8);
            size_t b = fx_heatmap_bucket(&s, v);
            FX_ASSERT(b < s.n);
            int64_t k = fx_heatmap_slot(v, lo, hi > 0 ? hi : 1);
            FX_ASSERT(k >= 0);
            (void)fx_heatmap_slot_time(lo, k, hi > 0 ? hi : 1);
        }
    }
    return 0;
}
