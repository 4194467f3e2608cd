/* fuzz_objstore_xml.c - the S3 response decoders and the XML parser under
 * them (objstore/s3_resp.h, objstore/xml.h). The input is a response body
 * from an S3 server, which Fornax must not trust. Checks: no crash, no leak;
 * a list page that parses is sorted, has keys, sizes >= 0 for objects and
 * -1 for prefixes, and a token when truncated; every refusal has a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/s3_resp.h"
#include "objstore/xml.h"

static void need_msg(int rc, const fx_err_t *err)
{
    if (rc != FX_OK && !err->msg[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    fx_arena_t a;
    fx_err_t err = {0};
    fx_s3_list_page_t pg;
    fx_s3_error_t e;
    fx_xml_node_t *root;
    const char *id;

    fx_arena_init(&a);
    int rc = fx_s3_parse_list(body, size, &a, &pg, &err);
    need_msg(rc, &err);
    if (rc == FX_OK) {
        if (pg.truncated && (!pg.next_token || !*pg.next_token))
            abort();
        for (size_t i = 0; i < pg.n; i++) {
            if (!pg.v[i].key || !*pg.v[i].key)
                abort();
            if (pg.v[i].is_prefix ? pg.v[i].size != -1 : pg.v[i].size < 0)
                abort();
            if (i && strcmp(pg.v[i - 1].key, pg.v[i].key) > 0)
                abort();
        }
    } else if (rc != FX_EINVAL) {
        abort();
    }
    err.msg[0] = 0;
    rc = fx_s3_parse_error(body, size, &a, &e, &err);
    need_msg(rc, &err);
    if (rc == FX_OK && (!e.code || !*e.code))
        abort();
    err.msg[0] = 0;
    rc = fx_s3_parse_initiate(body, size, &a, &id, &err);
    need_msg(rc, &err);
    if (rc == FX_OK && (!id || !*id))
        abort();
    err.msg[0] = 0;
    rc = fx_s3_parse_complete(body, size, &a, &e, &err);
    need_msg(rc, &err);
    if (rc == FX_EUNAVAIL && !e.code)
        abort();
    err.msg[0] = 0;
    rc = fx_xml_parse(body, size, &a, &root, &err);
    need_msg(rc, &err);
    if (rc == FX_OK && (!root || !root->name || !root->text))
        abort();
    fx_arena_free(&a);

    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    int64_t t = fx_s3_parse_time(s);
    if (t < -1)
        abort();
    free(s);
    return 0;
}
