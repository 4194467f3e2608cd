/* test_http_multipart.c - the multipart/form-data parser on the Node SDK
 * captures and on hand-written bodies, valid and broken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "core/gz.h"
#include "http/multipart.h"
#include "http_client.h"

/* Content-Type of a captured request, from its .request.json. */
static char *captured_content_type(const char *request_json)
{
    char path[512];
    json_error_t jerr;
    json_t *root = json_load_file(fixture_path(request_json, path, sizeof path), 0, &jerr);
    assert_non_null(root);
    const char *ct = json_string_value(json_object_get(json_object_get(root, "headers"),
                                                       "content-type"));
    assert_non_null(ct);
    char *copy = strdup(ct);
    json_decref(root);
    return copy;
}

static void check_sdk_capture(const char *stem)
{
    char rel[128], path[512];
    fx_buf_t body = FX_BUF_INIT, pprof = FX_BUF_INIT;
    fx_arena_t a;
    fx_multipart_t mp;
    fx_err_t err = {0};

    snprintf(rel, sizeof rel, "nodejs-sdk/%s.request.json", stem);
    char *ct = captured_content_type(rel);
    snprintf(rel, sizeof rel, "nodejs-sdk/%s.multipart.body", stem);
    read_file_or_die(fixture_path(rel, path, sizeof path), &body);
    fx_arena_init(&a);

    const char *boundary;
    assert_int_equal(fx_multipart_boundary(ct, &a, &boundary, &err), FX_OK);
    assert_non_null(strstr(ct, "boundary=----formdata-undici-"));
    assert_string_equal(boundary, strstr(ct, "boundary=") + 9);
    assert_int_equal(fx_multipart_parse(ct, body.data, body.len, &a, &mp, &err), FX_OK);
    assert_int_equal(mp.n, 1);
    const fx_mp_part_t *p = fx_multipart_get(&mp, "profile");
    assert_non_null(p);
    assert_string_equal(p->filename, "profile");
    assert_string_equal(p->content_type, "application/octet-stream");
    /* The part is exactly the gzipped pprof: it inflates cleanly, and it ends
     * where the closing delimiter begins. */
    assert_true(fx_gz_is_gzip(p->body.data, p->body.len));
    assert_int_equal(fx_gunzip(p->body.data, p->body.len, 64 << 20, &pprof, &err), FX_OK);
    assert_true(pprof.len > p->body.len);
    assert_int_equal(pprof.data[0], 0x0a); /* pprof field 1 (sample_type), length-delimited */
    size_t tail = body.len - (size_t)(p->body.data + p->body.len - body.data);
    assert_int_equal(tail, 2 + 2 + strlen(boundary) + 2 + 2); /* CRLF--B--CRLF */
    assert_null(fx_multipart_get(&mp, "sample_type_config"));

    fx_arena_free(&a);
    fx_buf_free(&pprof);
    fx_buf_free(&body);
    free(ct);
}

static void test_node_sdk_heap(void **state)
{
    (void)state;
    check_sdk_capture("sdk-0.4.13-heap");
}

static void test_node_sdk_wall(void **state)
{
    (void)state;
    check_sdk_capture("sdk-0.4.13-wall");
}

#define CT "multipart/form-data; boundary=XyZ"

static int parse(const char *ct, const char *body, fx_arena_t *a, fx_multipart_t *mp,
                 fx_err_t *err)
{
    return fx_multipart_parse(ct, (const uint8_t *)body, strlen(body), a, mp, err);
}

static void assert_body(const fx_mp_part_t *p, const char *want)
{
    assert_int_equal(p->body.len, strlen(want));
    if (p->body.len)
        assert_memory_equal(p->body.data, want, p->body.len);
}

static void test_many_parts(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_multipart_t mp;
    fx_err_t err = {0};
    fx_arena_init(&a);
    const char *body =
        "preamble to ignore\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"profile\"; filename=\"cpu.pb.gz\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "line1\r\n--XyZnot-a-delimiter\r\nline3\r\n"
        "--XyZ  \t\r\n" /* transport padding */
        "content-disposition: FORM-DATA; NAME=sample_type_config\r\n"
        "\r\n"
        "{\"cpu\":{\"units\":\"samples\"}}\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"empty\"\r\n"
        "\r\n"
        "\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"a \\\"quoted\\\" name\"; \r\n"
        "\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"profile\"\r\n"
        "\r\n"
        "second profile\r\n"
        "--XyZ--\r\n"
        "epilogue, also ignored --XyZ\r\n";
    assert_int_equal(parse(CT, body, &a, &mp, &err), FX_OK);
    assert_int_equal(mp.n, 5);
    assert_string_equal(mp.parts[0].name, "profile");
    assert_string_equal(mp.parts[0].filename, "cpu.pb.gz");
    assert_body(&mp.parts[0], "line1\r\n--XyZnot-a-delimiter\r\nline3");
    assert_string_equal(mp.parts[1].name, "sample_type_config");
    assert_null(mp.parts[1].filename);
    assert_null(mp.parts[1].content_type);
    assert_body(&mp.parts[1], "{\"cpu\":{\"units\":\"samples\"}}");
    assert_string_equal(mp.parts[2].name, "empty");
    assert_body(&mp.parts[2], "");
    assert_string_equal(mp.parts[3].name, "a \"quoted\" name");
    assert_body(&mp.parts[3], ""); /* no body section at all */
    assert_ptr_equal(fx_multipart_get(&mp, "profile"), &mp.parts[0]);
    assert_null(fx_multipart_get(&mp, "prev_profile"));

    /* A quoted boundary and an empty form. */
    assert_int_equal(parse("Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"", "--a b:c--",
                           &a, &mp, &err),
                     FX_OK);
    assert_int_equal(mp.n, 0);
    fx_arena_free(&a);
}

static void expect_error(const char *ct, const char *body, const char *want)
{
    fx_arena_t a;
    fx_multipart_t mp;
    fx_err_t err = {0};
    fx_arena_init(&a);
    assert_int_equal(parse(ct, body, &a, &mp, &err), FX_EINVAL);
    if (!strstr(err.msg, want)) {
        fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err.msg, want);
        fail();
    }
    fx_arena_free(&a);
}

static void test_errors(void **state)
{
    (void)state;
    const char *ok_part = "--XyZ\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nbody\r\n";

    expect_error("application/octet-stream", "", "is not multipart/form-data");
    expect_error("multipart/form-datax; boundary=a", "", "is not multipart/form-data");
    expect_error("multipart/form-data", "", "no boundary parameter");
    expect_error("multipart/form-data; boundary=", "", "empty value");
    expect_error("multipart/form-data; boundary=\"unterminated", "", "unterminated quoted string");
    expect_error("multipart/form-data; boundary=a; boundary=b", "", "two boundary parameters");
    expect_error("multipart/form-data; boundary="
                 "01234567890123456789012345678901234567890123456789012345678901234567890",
                 "", "1 to 70 characters");
    expect_error("multipart/form-data; boundary=\"a\x01\"", "", "invalid character");
    expect_error(CT, "no delimiter here", "does not contain the boundary");
    expect_error(CT, ok_part, "truncated: part #1 (\"p\") has no closing boundary");
    expect_error(CT, "--XyZ\r\nContent-Disposition: form-data; name=\"p\"\r\n", "headers are truncated");
    expect_error(CT, "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--",
                 "part #1 has no Content-Disposition");
    expect_error(CT, "--XyZ\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nx\r\n--XyZ--",
                 "part #1 has no name");
    expect_error(CT, "--XyZ\r\nContent-Disposition: attachment; name=\"p\"\r\n\r\nx\r\n--XyZ--",
                 "not form-data");
    expect_error(CT,
                 "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nx\r\n--XyZ--",
                 "repeats name");
    expect_error(CT, "--XyZ\r\nContent-Disposition: form-data;\r\n name=\"p\"\r\n\r\nx\r\n--XyZ--",
                 "folded header");
    expect_error(CT, "--XyZ\r\nContent-Disposition form-data\r\n\r\nx\r\n--XyZ--",
                 "malformed header line");
    expect_error(CT, "--XyZ\nContent-Disposition: form-data; name=\"p\"\n\nx\n--XyZ--\n",
                 "does not contain the boundary");
    expect_error(CT, "--XyZ\r\nContent-Disposition: form-data; name=p x\r\n\r\nx\r\n--XyZ--",
                 "expected ';'");

    /* Part count limit. */
    fx_buf_t b = FX_BUF_INIT;
    for (int i = 0; i <= FX_MULTIPART_MAX_PARTS; i++)
        fx_buf_puts(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nx\r\n");
    fx_buf_puts(&b, "--XyZ--");
    expect_error(CT, fx_buf_cstr(&b), "more than 1000 parts");
    fx_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_sdk_heap),
        cmocka_unit_test(test_node_sdk_wall),
        cmocka_unit_test(test_many_parts),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
