/*
 * test_objstore_sigv4.c - SigV4 signing against AWS's published vectors,
 * and URI encoding.
 *
 * Sources (values copied verbatim, never computed here):
 * - Amazon S3 API Reference, "Signature Calculations for the Authorization
 *   Header: Transferring Payload in a Single Chunk" (sig-v4-header-based-auth):
 *   GET Object with Range, PUT Object "test$file.text", GET Bucket
 *   Lifecycle, GET Bucket (List Objects). Key AKIAIOSFODNN7EXAMPLE, secret
 *   wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z, us-east-1, s3.
 *   Each gives the canonical request, the string to sign and the signature.
 * - The aws-sig-v4-test-suite (2015 edition) as AWS ships it in the JS SDK
 *   (aws-sdk-js-v3 packages/signature-v4/src/suite.fixture.ts): key
 *   AKIDEXAMPLE, secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 *   20150830T123600Z, us-east-1, service "service"; Authorization values.
 * - The 2011 edition of the same suite (botocore tests/unit/auth/
 *   aws4_testsuite: get-utf8, get-space .creq/.sts/.authz): service "host",
 *   a Date header instead of x-amz-date, and a request path that was
 *   already percent-encoded, so its '%' are encoded again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/core.h"
#include "objstore/sigv4.h"

typedef fx_sigv4_kv_t kv_t;

/* Signs and returns the Authorization value; creq/sts optional. */
static char *sign(const fx_sigv4_creds_t *c, const char *date, const fx_sigv4_req_t *r,
                  fx_buf_t *creq, fx_buf_t *sts)
{
    static fx_buf_t auth;
    auth.len = 0;
    fx_sigv4_sign(c, date, r, &auth, creq, sts);
    return fx_buf_cstr(&auth);
}

static const char *sig_of(const char *auth)
{
    const char *s = strstr(auth, "Signature=");
    assert_non_null(s);
    return s + 10;
}

/* ---- Amazon S3 API Reference examples ------------------------------------------ */

static const fx_sigv4_creds_t s3docs = {"AKIAIOSFODNN7EXAMPLE",
                                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1",
                                        "s3"};
#define S3DATE "20130524T000000Z"

static void check(const fx_sigv4_creds_t *c, const char *date, const fx_sigv4_req_t *r,
                  const char *want_creq, const char *want_sts, const char *want_sig)
{
    fx_buf_t creq = FX_BUF_INIT, sts = FX_BUF_INIT;
    const char *auth = sign(c, date, r, &creq, &sts);
    if (want_creq)
        assert_string_equal(fx_buf_cstr(&creq), want_creq);
    if (want_sts)
        assert_string_equal(fx_buf_cstr(&sts), want_sts);
    assert_string_equal(sig_of(auth), want_sig);
    fx_buf_free(&creq);
    fx_buf_free(&sts);
}

static void test_s3_get_object_range(void **state)
{
    (void)state;
    const kv_t h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"Range", "bytes=0-9"},
                      {"x-amz-content-sha256", FX_SHA256_EMPTY},
                      {"x-amz-date", S3DATE}};
    fx_sigv4_req_t r = {"GET", "/test.txt", NULL, 0, h, 4, FX_SHA256_EMPTY};
    check(&s3docs, S3DATE, &r,
          "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
          "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
          "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
          "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
          "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    /* The whole header, in the suite's format. */
    assert_string_equal(sign(&s3docs, S3DATE, &r, NULL, NULL),
                        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/"
                        "s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;"
                        "x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48d"
                        "d91039c6036bdb41");
}

static void test_s3_put_object(void **state)
{
    (void)state;
    const char *body = "Welcome to Amazon S3.";
    char hash[FX_SHA256_HEX_LEN + 1];
    fx_sha256_hex(body, strlen(body), hash);
    assert_string_equal(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    const kv_t h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                      {"x-amz-date", S3DATE},
                      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                      {"x-amz-content-sha256", hash}};
    fx_sigv4_req_t r = {"PUT", "/test$file.text", NULL, 0, h, 5, hash};
    check(&s3docs, S3DATE, &r,
          "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
          "host:examplebucket.s3.amazonaws.com\n"
          "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
          "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
          "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
          "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
          "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
          "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
          "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void test_s3_get_lifecycle(void **state)
{
    (void)state;
    const kv_t q[] = {{"lifecycle", NULL}};
    const kv_t h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"x-amz-date", S3DATE},
                      {"x-amz-content-sha256", FX_SHA256_EMPTY}};
    fx_sigv4_req_t r = {"GET", "/", q, 1, h, 3, FX_SHA256_EMPTY};
    check(&s3docs, S3DATE, &r,
          "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
          "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
          "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
          "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
          "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void test_s3_list_objects(void **state)
{
    (void)state;
    const kv_t q[] = {{"prefix", "J"}, {"max-keys", "2"}}; /* out of order on purpose */
    const kv_t h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"x-amz-date", S3DATE},
                      {"x-amz-content-sha256", FX_SHA256_EMPTY}};
    fx_sigv4_req_t r = {"GET", "/", q, 2, h, 3, FX_SHA256_EMPTY};
    check(&s3docs, S3DATE, &r,
          "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
          "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
          "x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n"
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
          "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
          "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
          "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* A wrong secret must change the signature (the vectors above pin the right one). */
static void test_s3_wrong_secret(void **state)
{
    (void)state;
    fx_sigv4_creds_t bad = s3docs;
    bad.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
    const kv_t h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"Range", "bytes=0-9"},
                      {"x-amz-content-sha256", FX_SHA256_EMPTY},
                      {"x-amz-date", S3DATE}};
    fx_sigv4_req_t r = {"GET", "/test.txt", NULL, 0, h, 4, FX_SHA256_EMPTY};
    assert_string_not_equal(sig_of(sign(&bad, S3DATE, &r, NULL, NULL)),
                            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* ---- aws-sig-v4-test-suite, 2015 edition ------------------------------------------ */

static const fx_sigv4_creds_t suite = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                       "us-east-1", "service"};
#define SDATE "20150830T123600Z"
#define AUTHZ(signed, sig)                                                                 \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "    \
    "SignedHeaders=" signed ", Signature=" sig

typedef struct vec {
    const char *name, *method, *path;
    kv_t query[3];
    size_t nq;
    kv_t extra[4]; /* besides host and x-amz-date */
    size_t nx;
    const char *body;
    const char *authz;
} vec_t;

static const vec_t vectors[] = {
    {"get-vanilla", "GET", "/", {{0}}, 0, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-vanilla-query-order-key-case", "GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}},
     2, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
    {"get-vanilla-empty-query-key", "GET", "/", {{"Param1", "value1"}}, 1, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")},
    {"get-vanilla-query-unreserved", "GET", "/",
     {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}},
     1, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")},
    {"get-vanilla-utf8-query", "GET", "/", {{"\xe1\x88\xb4", "bar"}}, 1, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
    {"get-unreserved", "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {{0}}, 0, {{0}}, 0,
     "",
     AUTHZ("host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
    {"get-utf8", "GET", "/\xe1\x88\xb4", {{0}}, 0, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")},
    /* The suite sends My-Header1 three times; the signer joins them in order. */
    {"get-header-key-duplicate", "GET", "/", {{0}}, 0,
     {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}, 3, "",
     AUTHZ("host;my-header1;x-amz-date",
           "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")},
    {"get-header-value-order", "GET", "/", {{0}}, 0,
     {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"},
      {"My-Header1", "value2"}},
     4, "",
     AUTHZ("host;my-header1;x-amz-date",
           "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01")},
    {"get-header-value-trim", "GET", "/", {{0}}, 0,
     {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}, 2, "",
     AUTHZ("host;my-header1;my-header2;x-amz-date",
           "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")},
    {"post-vanilla", "POST", "/", {{0}}, 0, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
    {"post-vanilla-query", "POST", "/", {{"Param1", "value1"}}, 1, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")},
    {"post-vanilla-query-nonunreserved", "POST", "/",
     {{"@#$%^", ""}, {"+", "/,?><`\";:\\|][{}"}}, 2, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e")},
    {"post-vanilla-query-space", "POST", "/", {{"p", ""}}, 1, {{0}}, 0, "",
     AUTHZ("host;x-amz-date", "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b")},
    {"post-header-key-sort", "POST", "/", {{0}}, 0, {{"My-Header1", "value1"}}, 1, "",
     AUTHZ("host;my-header1;x-amz-date",
           "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c")},
    {"post-header-value-case", "POST", "/", {{0}}, 0, {{"My-Header1", "VALUE1"}}, 1, "",
     AUTHZ("host;my-header1;x-amz-date",
           "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d")},
    {"post-x-www-form-urlencoded", "POST", "/", {{0}}, 0,
     {{"Content-Type", "application/x-www-form-urlencoded"}}, 1, "Param1=value1",
     AUTHZ("content-type;host;x-amz-date",
           "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")},
    {"post-x-www-form-urlencoded-parameters", "POST", "/", {{0}}, 0,
     {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}}, 1, "Param1=value1",
     AUTHZ("content-type;host;x-amz-date",
           "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe")},
};

static void test_suite_2015(void **state)
{
    (void)state;
    for (size_t i = 0; i < FX_ARRAY_LEN(vectors); i++) {
        const vec_t *v = &vectors[i];
        kv_t h[6] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SDATE}};
        size_t nh = 2;
        for (size_t j = 0; j < v->nx; j++)
            h[nh++] = v->extra[j];
        char hash[FX_SHA256_HEX_LEN + 1];
        fx_sha256_hex(v->body, strlen(v->body), hash);
        fx_sigv4_req_t r = {v->method, v->path, v->query, v->nq, h, nh, hash};
        const char *got = sign(&suite, SDATE, &r, NULL, NULL);
        if (strcmp(got, v->authz) != 0)
            fail_msg("%s:\n got  %s\n want %s", v->name, got, v->authz);
    }
}

/* ---- aws4_testsuite, 2011 edition ---------------------------------------------------- */

static void test_suite_2011(void **state)
{
    (void)state;
    const fx_sigv4_creds_t c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                "us-east-1", "host"};
    const kv_t h[] = {{"Date", "Mon, 09 Sep 2011 23:36:00 GMT"}, {"Host", "host.foo.com"}};
    fx_sigv4_req_t utf8 = {"GET", "/%E1%88%B4", NULL, 0, h, 2, FX_SHA256_EMPTY};
    fx_buf_t creq = FX_BUF_INIT, sts = FX_BUF_INIT;
    assert_string_equal(sign(&c, "20110909T233600Z", &utf8, &creq, &sts),
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/"
                        "aws4_request, SignedHeaders=date;host, Signature=57b1eb3df3b16a8479c00"
                        "97b66c0b261cfd65b829419a3f2c3d05319722490b8");
    assert_string_equal(fx_buf_cstr(&creq),
                        "GET\n/%25E1%2588%25B4\n\ndate:Mon, 09 Sep 2011 23:36:00 GMT\n"
                        "host:host.foo.com\n\ndate;host\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(fx_buf_cstr(&sts),
                        "AWS4-HMAC-SHA256\n20110909T233600Z\n20110909/us-east-1/host/"
                        "aws4_request\n47f4456c465167f4db3490a68903fe057412e6e030de38f71d900646"
                        "7eb4922a");

    fx_sigv4_req_t space = {"GET", "/%20/foo", NULL, 0, h, 2, FX_SHA256_EMPTY};
    creq.len = sts.len = 0;
    assert_string_equal(sign(&c, "20110909T233600Z", &space, &creq, &sts),
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/"
                        "aws4_request, SignedHeaders=date;host, Signature=2be9e587d1ee1f0fd0212"
                        "8724b86b4358ba3630d39f493b6e06610a19a50779e");
    assert_string_equal(fx_buf_cstr(&creq),
                        "GET\n/%2520/foo\n\ndate:Mon, 09 Sep 2011 23:36:00 GMT\n"
                        "host:host.foo.com\n\ndate;host\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(fx_buf_cstr(&sts),
                        "AWS4-HMAC-SHA256\n20110909T233600Z\n20110909/us-east-1/host/"
                        "aws4_request\n35975885599128f8963ce9be7219598b2b5a344321bae304529556c8"
                        "91e9e6ba");
    fx_buf_free(&creq);
    fx_buf_free(&sts);
}

/* ---- encoding and dates ------------------------------------------------------------ */

static const char *enc(const char *s, bool keep_slash)
{
    static fx_buf_t b;
    b.len = 0;
    fx_sigv4_uri_encode(s, strlen(s), keep_slash, &b);
    return fx_buf_cstr(&b);
}

static void test_uri_encode(void **state)
{
    (void)state;
    assert_string_equal(enc("AZaz09-._~", false), "AZaz09-._~");
    assert_string_equal(enc("a b+c*d", false), "a%20b%2Bc%2Ad");
    assert_string_equal(enc("t/01H/index", true), "t/01H/index");
    assert_string_equal(enc("t/01H/index", false), "t%2F01H%2Findex");
    assert_string_equal(enc("!'()$&=?#%", false), "%21%27%28%29%24%26%3D%3F%23%25");
    assert_string_equal(enc("\xc3\xa9\xe1\x88\xb4", false), "%C3%A9%E1%88%B4");
    assert_string_equal(enc("\x01\x7f\xff", true), "%01%7F%FF");
    assert_string_equal(enc("", true), "");

    /* The canonical query is also the query that is sent. */
    const kv_t q[] = {{"prefix", "tenant a/"}, {"list-type", "2"}, {"delimiter", "/"},
                      {"continuation-token", "1+2=3"}};
    fx_buf_t b = FX_BUF_INIT;
    fx_sigv4_canonical_query(q, 4, &b);
    assert_string_equal(fx_buf_cstr(&b), "continuation-token=1%2B2%3D3&delimiter=%2F&"
                                         "list-type=2&prefix=tenant%20a%2F");
    /* Same name: sorted by value, byte order (upper case first). */
    const kv_t dup[] = {{"Param1", "value2"}, {"Param1", "Value1"}};
    b.len = 0;
    fx_sigv4_canonical_query(dup, 2, &b);
    assert_string_equal(fx_buf_cstr(&b), "Param1=Value1&Param1=value2");
    fx_buf_free(&b);
}

static void test_amz_date(void **state)
{
    (void)state;
    char d[17];
    fx_sigv4_amz_date(1440938160, d); /* 2015-08-30T12:36:00Z */
    assert_string_equal(d, SDATE);
    fx_sigv4_amz_date(0, d);
    assert_string_equal(d, "19700101T000000Z");
    char h[FX_SHA256_HEX_LEN + 1];
    fx_sha256_hex("", 0, h);
    assert_string_equal(h, FX_SHA256_EMPTY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_get_object_range), cmocka_unit_test(test_s3_put_object),
        cmocka_unit_test(test_s3_get_lifecycle),    cmocka_unit_test(test_s3_list_objects),
        cmocka_unit_test(test_s3_wrong_secret),     cmocka_unit_test(test_suite_2015),
        cmocka_unit_test(test_suite_2011),          cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_amz_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
