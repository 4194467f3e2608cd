/*
 * test_objstore_s3unit.c - the parts of the S3 bucket that need no server:
 * the strict XML parser, the S3 response decoders (ListObjectsV2 pages,
 * Error, multipart results), timestamps, and the retry policy and backoff.
 * The sample bodies follow the shapes in Amazon's S3 API Reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <string.h>

#include "objstore/s3.h"
#include "objstore/s3_resp.h"
#include "objstore/xml.h"

static const char list_page1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
    "  <Name>blocks</Name>\n"
    "  <Prefix>tenant/</Prefix>\n"
    "  <Delimiter>/</Delimiter>\n"
    "  <KeyCount>4</KeyCount>\n"
    "  <MaxKeys>4</MaxKeys>\n"
    "  <IsTruncated>true</IsTruncated>\n"
    "  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
    "  <Contents>\n"
    "    <Key>tenant/b &amp; c &lt;1&gt; &#x20AC;&#8364;</Key>\n"
    "    <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
    "    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>\n"
    "    <Size>434234</Size>\n"
    "    <StorageClass>STANDARD</StorageClass>\n"
    "  </Contents>\n"
    "  <Contents><Key>tenant/a</Key><Size>0</Size><LastModified>2026-01-02T03:04:05Z</LastModified></Contents>\n"
    "  <!-- a comment -->\n"
    "  <CommonPrefixes><Prefix>tenant/01H/</Prefix></CommonPrefixes>\n"
    "  <CommonPrefixes><Prefix><![CDATA[tenant/<raw>/]]></Prefix></CommonPrefixes>\n"
    "</ListBucketResult>\n";

static void test_list_page(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    fx_s3_list_page_t pg;
    fx_arena_init(&a);
    int rc = fx_s3_parse_list(list_page1, strlen(list_page1), &a, &pg, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_true(pg.truncated);
    assert_string_equal(pg.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_int_equal(pg.n, 4);
    /* Merged in key order. */
    assert_string_equal(pg.v[0].key, "tenant/01H/");
    assert_true(pg.v[0].is_prefix);
    assert_int_equal(pg.v[0].size, -1);
    assert_string_equal(pg.v[1].key, "tenant/<raw>/");
    assert_string_equal(pg.v[2].key, "tenant/a");
    assert_int_equal(pg.v[2].size, 0);
    assert_int_equal(pg.v[2].mtime_ms, 1767323045000LL);
    assert_string_equal(pg.v[3].key, "tenant/b & c <1> \xe2\x82\xac\xe2\x82\xac");
    assert_false(pg.v[3].is_prefix);
    assert_int_equal(pg.v[3].size, 434234);
    assert_int_equal(pg.v[3].mtime_ms, 1255369830000LL);

    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
    assert_int_equal(fx_s3_parse_list(last, strlen(last), &a, &pg, &err), FX_OK);
    assert_false(pg.truncated);
    assert_int_equal(pg.n, 0);
    fx_arena_free(&a);
}

static void expect_bad_list(const char *body, const char *msg_part)
{
    fx_arena_t a;
    fx_err_t err = {0};
    fx_s3_list_page_t pg;
    fx_arena_init(&a);
    int rc = fx_s3_parse_list(body, strlen(body), &a, &pg, &err);
    if (rc != FX_EINVAL || !strstr(err.msg, msg_part))
        fail_msg("%s\n -> rc %d msg \"%s\", wanted \"%s\"", body, rc, err.msg, msg_part);
    fx_arena_free(&a);
}

#define LBR(x) "<ListBucketResult>" x "</ListBucketResult>"
#define F "<IsTruncated>false</IsTruncated>"

static void test_list_strict(void **state)
{
    (void)state;
    expect_bad_list(LBR(""), "IsTruncated is missing");
    expect_bad_list(LBR("<IsTruncated>yes</IsTruncated>"), "neither true nor false");
    expect_bad_list(LBR("<IsTruncated>true</IsTruncated>"), "without a NextContinuationToken");
    expect_bad_list(LBR(F "<Contents><Size>1</Size></Contents>"), "Contents without a Key");
    expect_bad_list(LBR(F "<Contents><Key>k</Key></Contents>"), "Size is missing");
    expect_bad_list(LBR(F "<Contents><Key>k</Key><Size>-1</Size></Contents>"),
                    "not a non-negative integer");
    expect_bad_list(LBR(F "<Contents><Key>k</Key><Size>12a</Size></Contents>"),
                    "not a non-negative integer");
    expect_bad_list(LBR(F "<Contents><Key>k</Key><Size>99999999999999999999</Size></Contents>"),
                    "not a non-negative integer");
    expect_bad_list(LBR(F "<Contents><Key>k</Key><Size>1</Size><LastModified>yesterday"
                          "</LastModified></Contents>"),
                    "not an ISO 8601 UTC time");
    expect_bad_list(LBR(F "<CommonPrefixes></CommonPrefixes>"), "without a Prefix");
    expect_bad_list("<html><body>502 Bad Gateway</body></html>",
                    "expected a <ListBucketResult> document, got <html>");
    expect_bad_list("", "expected the root element");
}

static void expect_bad_xml(const char *doc, size_t n, const char *msg_part)
{
    fx_arena_t a;
    fx_err_t err = {0};
    fx_xml_node_t *root;
    fx_arena_init(&a);
    int rc = fx_xml_parse(doc, n, &a, &root, &err);
    if (rc != FX_EINVAL || !strstr(err.msg, msg_part))
        fail_msg("%.*s\n -> rc %d msg \"%s\", wanted \"%s\"", (int)n, doc, rc, err.msg, msg_part);
    fx_arena_free(&a);
}
#define BAD(lit, part) expect_bad_xml(lit, sizeof(lit) - 1, part)

static void test_xml_strict(void **state)
{
    (void)state;
    BAD("<a><b></a>", "end tag does not match");
    BAD("<a>", "unclosed element");
    BAD("<a></a><b/>", "content after the root element");
    BAD("<a/>trailing", "content after the root element");
    BAD("text<a/>", "expected the root element");
    BAD("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "DTDs");
    BAD("<a><!ENTITY x \"y\"></a>", "DTDs");
    BAD("<a>&nbsp;</a>", "unknown entity");
    BAD("<a>&#0;</a>", "XML forbids");
    BAD("<a>&#xD800;</a>", "XML forbids");
    BAD("<a>&#x110000;</a>", "out of range");
    BAD("<a>&#xZZ;</a>", "bad digit");
    BAD("<a>&amp</a>", "unterminated character reference");
    BAD("<a>\x00</a>", "NUL byte");
    BAD("<a>\xc3\x28</a>", "not valid UTF-8");
    BAD("<a>\x01</a>", "control byte 0x01");
    BAD("<a b=\"1\"c=\"2\"/>", "whitespace before an attribute");
    BAD("<a b=1/>", "quoted attribute value");
    BAD("<a b=\"<\"/>", "'<' in an attribute value");
    BAD("<a b=\"1/>", "unterminated attribute value");
    BAD("<a><!-- x </a>", "unterminated comment");
    BAD("<a><![CDATA[ x </a>", "unterminated CDATA");
    BAD("<1a/>", "expected a name");
    BAD("<a></ a>", "expected a name");
    char deep[1000];
    size_t n = 0;
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "<a>");
    expect_bad_xml(deep, n, "nested deeper than 64");

    /* Accepted forms. */
    const char *ok = "\xef\xbb\xbf<?xml version=\"1.0\"?><!-- c --><s3:R xmlns:s3=\"u\" "
                     "a='1' b = \"2\"><s3:K>v&apos;<?pi x?>w</s3:K><E/><E></E></s3:R> \n";
    fx_arena_t a;
    fx_err_t err = {0};
    fx_xml_node_t *root;
    fx_arena_init(&a);
    assert_int_equal(fx_xml_parse(ok, strlen(ok), &a, &root, &err), FX_OK);
    assert_string_equal(root->name, "R");
    assert_string_equal(fx_xml_child_text(root, "K"), "v'w");
    assert_string_equal(fx_xml_child_text(root, "E"), "");
    assert_null(fx_xml_child_text(root, "missing"));
    fx_arena_free(&a);

    fx_buf_t b = FX_BUF_INIT;
    fx_xml_escape("\"etag\" <&> 'x'", &b);
    assert_string_equal(fx_buf_cstr(&b), "&quot;etag&quot; &lt;&amp;&gt; &apos;x&apos;");
    fx_buf_free(&b);
}

static void test_error_docs(void **state)
{
    (void)state;
    fx_arena_t a;
    fx_err_t err = {0};
    fx_s3_error_t e;
    fx_arena_init(&a);
    const char *sig = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
                      "<Code>SignatureDoesNotMatch</Code>"
                      "<Message>The request signature we calculated does not match the "
                      "signature you provided.</Message>"
                      "<StringToSign>AWS4-HMAC-SHA256\n20260101T000000Z\n...</StringToSign>"
                      "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    assert_int_equal(fx_s3_parse_error(sig, strlen(sig), &a, &e, &err), FX_OK);
    assert_string_equal(e.code, "SignatureDoesNotMatch");
    assert_non_null(strstr(e.message, "does not match"));
    assert_string_equal(e.string_to_sign, "AWS4-HMAC-SHA256\n20260101T000000Z\n...");
    assert_string_equal(e.request_id, "4442587FB7D0A2F9");
    const char *nocode = "<Error><Message>m</Message></Error>";
    assert_int_equal(fx_s3_parse_error(nocode, strlen(nocode), &a, &e, &err), FX_EINVAL);
    const char *other = "<ListBucketResult/>";
    assert_int_equal(fx_s3_parse_error(other, strlen(other), &a, &e, &err), FX_EINVAL);

    const char *init = "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/"
                       "2006-03-01/\"><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE"
                       "</UploadId></InitiateMultipartUploadResult>";
    const char *id;
    assert_int_equal(fx_s3_parse_initiate(init, strlen(init), &a, &id, &err), FX_OK);
    assert_string_equal(id, "VXBsb2FkIElE");
    const char *noid = "<InitiateMultipartUploadResult/>";
    assert_int_equal(fx_s3_parse_initiate(noid, strlen(noid), &a, &id, &err), FX_EINVAL);

    const char *done = "<CompleteMultipartUploadResult><Location>l</Location><ETag>\"x-2\"</ETag>"
                       "</CompleteMultipartUploadResult>";
    assert_int_equal(fx_s3_parse_complete(done, strlen(done), &a, &e, &err), FX_OK);
    const char *failed = "<Error><Code>InternalError</Code><Message>We encountered an internal "
                         "error. Please try again.</Message></Error>";
    assert_int_equal(fx_s3_parse_complete(failed, strlen(failed), &a, &e, &err), FX_EUNAVAIL);
    assert_string_equal(e.code, "InternalError");
    assert_non_null(strstr(err.msg, "InternalError: We encountered"));
    assert_int_equal(fx_s3_parse_complete("<x/>", 4, &a, &e, &err), FX_EINVAL);
    fx_arena_free(&a);
}

static void test_times(void **state)
{
    (void)state;
    assert_int_equal(fx_s3_parse_time("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(fx_s3_parse_time("2009-10-12T17:50:30.000Z"), 1255369830000LL);
    assert_int_equal(fx_s3_parse_time("2009-10-12T17:50:30.5Z"), 1255369830500LL);
    assert_int_equal(fx_s3_parse_time("2009-10-12T17:50:30.123456Z"), 1255369830123LL);
    assert_int_equal(fx_s3_parse_time("2009-10-12T17:50:30"), -1);
    assert_int_equal(fx_s3_parse_time("2009-10-12T17:50:30.Z"), -1);
    assert_int_equal(fx_s3_parse_time("2009-13-12T17:50:30Z"), -1);
    assert_int_equal(fx_s3_parse_time("2009-10-12 17:50:30Z"), -1);
    assert_int_equal(fx_s3_parse_time("2009-10-12T17:50:30+01:00"), -1);
    assert_int_equal(fx_s3_parse_time(""), -1);
    assert_int_equal(fx_s3_parse_time("0009-10-12T17:50:30Z"), -1);
}

static void test_retry_policy(void **state)
{
    (void)state;
    /* Transient: the network, 5xx, throttling, S3's own RequestTimeout. */
    assert_true(fx__s3_retryable(CURLE_COULDNT_CONNECT, 0, NULL));
    assert_true(fx__s3_retryable(CURLE_OPERATION_TIMEDOUT, 0, NULL));
    assert_true(fx__s3_retryable(CURLE_RECV_ERROR, 0, NULL));
    assert_true(fx__s3_retryable(CURLE_GOT_NOTHING, 0, NULL));
    assert_true(fx__s3_retryable(0, 500, "InternalError"));
    assert_true(fx__s3_retryable(0, 503, "SlowDown"));
    assert_true(fx__s3_retryable(0, 502, NULL));
    assert_true(fx__s3_retryable(0, 429, NULL));
    assert_true(fx__s3_retryable(0, 400, "RequestTimeout"));
    /* Final: client errors and broken TLS trust. */
    assert_false(fx__s3_retryable(0, 400, "InvalidArgument"));
    assert_false(fx__s3_retryable(0, 403, "SignatureDoesNotMatch"));
    assert_false(fx__s3_retryable(0, 404, "NoSuchKey"));
    assert_false(fx__s3_retryable(0, 416, NULL));
    assert_false(fx__s3_retryable(0, 501, "NotImplemented"));
    assert_false(fx__s3_retryable(CURLE_PEER_FAILED_VERIFICATION, 0, NULL));
    assert_false(fx__s3_retryable(CURLE_URL_MALFORMAT, 0, NULL));

    /* Equal jitter on a doubling ramp: [cap/2, cap], cap capped. */
    assert_int_equal(fx__s3_backoff_ms(1, 100, 10000, 0.0), 50);
    assert_int_equal(fx__s3_backoff_ms(1, 100, 10000, 0.999999), 99);
    assert_int_equal(fx__s3_backoff_ms(2, 100, 10000, 0.0), 100);
    assert_int_equal(fx__s3_backoff_ms(4, 100, 10000, 0.5), 600);
    assert_int_equal(fx__s3_backoff_ms(8, 100, 10000, 0.0), 5000);
    assert_int_equal(fx__s3_backoff_ms(30, 100, 10000, 0.0), 5000);
    assert_int_equal(fx__s3_backoff_ms(30, 100, 10000, 0.999999), 9999);
    for (int att = 1; att < 40; att++) {
        int64_t d = fx__s3_backoff_ms(att, 100, 10000, 0.3);
        assert_true(d >= 50 && d <= 10000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_page),  cmocka_unit_test(test_list_strict),
        cmocka_unit_test(test_xml_strict), cmocka_unit_test(test_error_docs),
        cmocka_unit_test(test_times),      cmocka_unit_test(test_retry_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
