/*
 * marks.c - the two marker objects of docs/bucket-layout.md:
 * deletion-mark.json (readers stop using the block, the compactor deletes it
 * after the deletion delay) and corrupted.json (a checksum failed; the block
 * is skipped until an operator deletes it).
 */
#include "compactor.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int put_mark(fx_bucket_t *b, const char *tenant, const char *id, const char *name,
                    fx_buf_t *body, fx_err_t *err)
{
    char key[FX_BUCKET_KEY_MAX + 1];
    snprintf(key, sizeof key, "%s/%s/%s", tenant, id, name);
    return fx_bucket_put(b, key, body->data, body->len, err);
}

int cp_mark_deletion(fx_bucket_t *b, const char *tenant, const char *id, int64_t now_ms,
                     const char *reason, fx_err_t *err)
{
    fx_buf_t j = FX_BUF_INIT;
    fx_buf_printf(&j, "{\"id\":\"%s\",\"deletion_time\":%lld,\"reason\":", id,
                  (long long)(now_ms / 1000));
    fx_buf_json_str(&j, reason, strlen(reason));
    fx_buf_printf(&j, "}\n");
    int rc = put_mark(b, tenant, id, CP_DELETION_MARK, &j, err);
    fx_buf_free(&j);
    return rc;
}

int cp_mark_corrupted(fx_bucket_t *b, const char *tenant, const char *id, int64_t now_ms,
                      const char *section, const char *error, fx_err_t *err)
{
    fx_buf_t j = FX_BUF_INIT;
    fx_buf_printf(&j, "{\"id\":\"%s\",\"time\":%lld,\"section\":", id, (long long)(now_ms / 1000));
    fx_buf_json_str(&j, section, strlen(section));
    fx_buf_printf(&j, ",\"error\":");
    fx_buf_json_str(&j, error, strlen(error));
    fx_buf_printf(&j, "}\n");
    int rc = put_mark(b, tenant, id, CP_CORRUPTED_MARK, &j, err);
    fx_buf_free(&j);
    return rc;
}

int cp_parse_deletion_mark(const uint8_t *p, size_t n, int64_t *deletion_time_s, fx_err_t *err)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)p, n, 0, &je);
    json_t *t = root ? json_object_get(root, "deletion_time") : NULL;
    int rc = FX_OK;
    if (!root)
        rc = fx_err_set(err, FX_ECORRUPT, "deletion mark: not JSON (%s)", je.text);
    else if (!json_is_integer(t))
        rc = fx_err_set(err, FX_ECORRUPT, "deletion mark: no integer deletion_time");
    else
        *deletion_time_s = (int64_t)json_integer_value(t);
    json_decref(root);
    return rc;
}
