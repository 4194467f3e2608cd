/*
 * test_explain.c - unit tests for libcommon/explain: frame classification, request
 * validation, SOURCE resolution through the resolver callbacks, the response shape, and the
 * language-model client against tests/explain/fake_openai.py (a local OpenAI-compatible
 * server started on a free loopback port; there is no model on the test machines).
 *
 * Runs from the repository root (make test-unit does). Needs python3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/gz.h"
#include "explain/analyze.h"
#include "explain/closure.h"
#include "explain/explain.h"
#include "explain/kb.h"
#include "explain/llm.h"
#include "explain/response.h"
#include "model/folded.h"

/* ---------------------------------------------------------------- knowledge base */

static void test_kb_classify(void **state)
{
    (void)state;
    static const struct {
        const char *frame;
        int lib, cat;
    } cases[] = {
        {"main.handleRequest", 0, FX_CAT_NONE},
        {"github.com/acme/shop/api.(*OrderHandler).ListOrders", 0, FX_CAT_NONE},
        {"runtime.mallocgc", 1, FX_CAT_GC},
        {"runtime.gcBgMarkWorker", 1, FX_CAT_GC},
        {"runtime.findRunnable", 1, FX_CAT_IDLE},
        {"encoding/json.Marshal", 1, FX_CAT_SERIALIZATION},
        {"encoding/json.appendString[...]", 1, FX_CAT_SERIALIZATION},
        {"regexp.(*Regexp).doExecute", 1, FX_CAT_REGEX},
        {"sync.(*Mutex).lockSlow", 1, FX_CAT_LOCK},
        {"sync.(*WaitGroup).Wait", 1, FX_CAT_IDLE},
        {"crypto/sha256.block", 1, FX_CAT_CRYPTO},
        {"compress/flate.(*compressor).deflate", 1, FX_CAT_COMPRESSION},
        {"reflect.Value.FieldByName", 1, FX_CAT_REFLECTION},
        {"go.uber.org/zap.(*Logger).Info", 1, FX_CAT_LOGGING},
        {"strings.Split", 1, FX_CAT_NONE},
        {"com.acme.orders.OrderService.place", 0, FX_CAT_NONE},
        {"java/util/regex/Pattern.compile", 1, FX_CAT_REGEX},
        {"java.util.concurrent.locks.ReentrantLock.lock", 1, FX_CAT_LOCK},
        {"java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject.await", 1,
         FX_CAT_IDLE},
        {"com.fasterxml.jackson.databind.ObjectMapper.writeValueAsString", 1,
         FX_CAT_SERIALIZATION},
        {"G1ParScanThreadState::trim_queue_to_threshold", 1, FX_CAT_GC},
        {"[GC Thread#0 tid=4101]", 1, FX_CAT_GC},
        {"[unknown]", 1, FX_CAT_NONE},
        {"System.Text.RegularExpressions.Regex..ctor", 1, FX_CAT_REGEX},
        {"Newtonsoft.Json!Newtonsoft.Json.JsonConvert.SerializeObject", 1, FX_CAT_SERIALIZATION},
        {"Acme.Billing!Acme.Billing.Export.InvoiceExporter.ExportBatch", 0, FX_CAT_NONE},
        {"coreclr!WKS::gc_heap::garbage_collect", 1, FX_CAT_GC},
        {"./src/routes/search.js:search:22", 0, FX_CAT_NONE},
        {"./node_modules/protobufjs/src/reader.js:Reader.string:330", 1, FX_CAT_SERIALIZATION},
        {"./node_modules/@protobufjs/utf8/index.js:utf8.read:60", 1, FX_CAT_SERIALIZATION},
        {"./node_modules/express/lib/router/layer.js:handle:95", 1, FX_CAT_NONE},
        {"node:internal/crypto/pbkdf2:pbkdf2Sync:64", 1, FX_CAT_CRYPTO},
        {":Garbage Collection:0", 1, FX_CAT_GC},
        {":Non JS threads activity:0", 1, FX_CAT_IDLE},
        {"(idle)", 1, FX_CAT_IDLE},
        {"(anonymous)", 0, FX_CAT_NONE},
        {"py::hash_chain:/srv/app/busy.py", 0, FX_CAT_NONE},
        {"py::JSONEncoder.iterencode:/usr/lib/python3.12/json/encoder.py", 1,
         FX_CAT_SERIALIZATION},
        {"parse_line (/srv/logparse/parser.py:33)", 0, FX_CAT_NONE},
        {"sub (/usr/lib/python3.11/re/__init__.py:185)", 1, FX_CAT_REGEX},
        {"select (/usr/lib/python3.11/selectors.py:468)", 1, FX_CAT_IDLE},
        {"loads (json/__init__.py:346)", 1, FX_CAT_SERIALIZATION},
        {"_PyEval_EvalFrameDefault", 1, FX_CAT_NONE},
        {"gsub [c function] - (unknown)", 1, FX_CAT_REGEX},
        {"render_markup - /app/app/helpers/markup_helper.rb:22", 0, FX_CAT_NONE},
        {"/usr/local/lib/ruby/3.2.0/json/common.rb:312 - generate", 1, FX_CAT_SERIALIZATION},
        {"/app/app/services/order_exporter.rb:30 - export", 0, FX_CAT_NONE},
        {"_int_malloc", 1, FX_CAT_GC},
        {"__GI___libc_write", 1, FX_CAT_SYSCALL_IO},
        {"clock_gettime@@GLIBC_2.17", 1, FX_CAT_NONE},
        {"finish_task_switch.isra.0", 1, FX_CAT_NONE},
        {"__lll_lock_wait", 1, FX_CAT_LOCK},
        {"__pthread_cond_wait", 1, FX_CAT_IDLE},
        {"epoll_wait", 1, FX_CAT_IDLE},
        {"do_futex_[k]", 1, FX_CAT_LOCK},
        {"some_kernel_helper_[k]", 1, FX_CAT_NONE},
        {"EVP_DigestUpdate", 1, FX_CAT_CRYPTO},
        {"deflate_slow", 1, FX_CAT_COMPRESSION},
        {"pcre2_match_8", 1, FX_CAT_REGEX},
        {"crc_bytes", 0, FX_CAT_NONE},
        {"worker_thread", 0, FX_CAT_NONE},
        {"Tokenizer::split(std::basic_string_view<char, std::char_traits<char> >)", 0,
         FX_CAT_NONE},
        {"std::mutex::lock()", 1, FX_CAT_LOCK},
        {"operator new(unsigned long)", 1, FX_CAT_GC},
        {"__sin_fma", 1, FX_CAT_NONE},
        {"__ieee754_exp_fma", 1, FX_CAT_NONE},
        {"pow", 1, FX_CAT_NONE},
        {"cblas_dgemm", 1, FX_CAT_NONE},
        {"__signal_handler", 0, FX_CAT_NONE},
        /* demangled templates carry their return type */
        {"bool std::__detail::__regex_algo_impl<char const*, std::allocator<std::__cxx11::"
         "sub_match<char const*> >, char, std::__cxx11::regex_traits<char> >(char const*)",
         1, FX_CAT_REGEX},
        {"void std::__detail::_Executor<char const*, std::allocator<char>, std::__cxx11::"
         "regex_traits<char>, true>::_M_dfs(long)",
         1, FX_CAT_REGEX},
        {"bool acme::Filter::check<int>(int)", 0, FX_CAT_NONE},
        /* generated glue is not the user's function */
        {"github.com/acme/users/pb._UserService_ListUsers_Handler", 1, FX_CAT_NONE},
        {"github.com/acme/users/pb._UserService_ListUsers_Handler.func1", 1, FX_CAT_NONE},
        {"com.acme.users.UserServiceGrpc$MethodHandlers.invoke", 1, FX_CAT_NONE},
        {"main._helper", 0, FX_CAT_NONE},
        /* unlisted npm packages by the words of their names */
        {"./node_modules/fast-json-stable-stringify/index.js:stringify:19", 1,
         FX_CAT_SERIALIZATION},
        {"./node_modules/@acme/log-shipper/index.js:send:4", 1, FX_CAT_LOGGING},
        {"./node_modules/product-catalog/index.js:find:4", 1, FX_CAT_NONE},
        /* py-spy's short paths of third-party packages */
        {"hashpw (bcrypt/__init__.py:84)", 1, FX_CAT_CRYPTO},
        {"model_dump_json (pydantic/main.py:352)", 1, FX_CAT_SERIALIZATION},
        {"send (requests/sessions.py:703)", 1, FX_CAT_NONE},
        {"export_users (app/api/users.py:30)", 0, FX_CAT_NONE},
        /* waiting for a pooled connection is contention */
        {"com.zaxxer.hikari.util.ConcurrentBag.borrow", 1, FX_CAT_LOCK},
        {"com.zaxxer.hikari.pool.HikariPool.getConnection", 1, FX_CAT_NONE},
        {"pop - /usr/local/bundle/gems/connection_pool-2.4.1/lib/connection_pool/timed_stack.rb:63",
         1, FX_CAT_LOCK},
        {"_do_get (sqlalchemy/pool/impl.py:169)", 1, FX_CAT_LOCK},
        {"github.com/jackc/puddle/v2.(*Pool[...]).Acquire", 1, FX_CAT_LOCK},
        /* Rust under perf: crates by path, "<Type as Trait>::method" by the type (or, for a
         * user type or a generic parameter, by a library trait with a category) */
        {"serde_json::de::Deserializer<R>::parse_object", 1, FX_CAT_SERIALIZATION},
        {"tokio::runtime::scheduler::multi_thread::worker::Context::park_timeout", 1,
         FX_CAT_IDLE},
        {"<std::net::tcp::TcpStream as std::io::Read>::read", 1, FX_CAT_SYSCALL_IO},
        {"<&std::fs::File as std::io::Write>::write_all", 1, FX_CAT_SYSCALL_IO},
        {"<billing::Invoice as serde::ser::Serialize>::serialize", 1, FX_CAT_SERIALIZATION},
        {"<billing::Ledger as core::iter::traits::iterator::Iterator>::next", 0, FX_CAT_NONE},
        {"<F as actix_web::handler::Handler<Args>>::call", 1, FX_CAT_NONE},
        {"billing::api::create_invoice::{{closure}}", 0, FX_CAT_NONE},
        {"parking_lot::raw_mutex::RawMutex::lock_slow", 1, FX_CAT_LOCK},
        {"std::sys::sync::mutex::futex::Mutex::lock_contended", 1, FX_CAT_LOCK},
        {"flate2::zio::Writer<W,D>::write_from_offset", 1, FX_CAT_COMPRESSION},
        /* py-spy --native symbols "sym (module)" and Austin's "/path/file.py:func:line" */
        {"nanosleep (libc.so.6)", 1, FX_CAT_IDLE},
        {"SHA256_Update (libcrypto.so.3)", 1, FX_CAT_CRYPTO},
        {"builtin_exec_impl (python3.12)", 1, FX_CAT_NONE},
        {"PyObject_Call (libpython3.10.so.1.0)", 1, FX_CAT_NONE},
        {"render_tile (tiles.cpython-311-x86_64-linux-gnu.so)", 0, FX_CAT_NONE},
        {"/usr/lib/python3.12/json/encoder.py:iterencode:261", 1, FX_CAT_SERIALIZATION},
        {"/srv/app/reports/build.py:render:40", 0, FX_CAT_NONE},
        {"T0:4127", 1, FX_CAT_NONE},
        /* V8 perf-map names (node --perf-basic-prof) and bare .cpuprofile names */
        {"JS:*renderInvoice /srv/billing/src/pdf.js:88", 0, FX_CAT_NONE},
        {"LazyCompile:~scryptSync node:internal/crypto/scrypt:77", 1, FX_CAT_CRYPTO},
        {"JS:^dispatch /srv/billing/node_modules/fastify/lib/route.js:400", 1, FX_CAT_NONE},
        {"RegExp:^[a-z0-9._%+-]+@", 1, FX_CAT_REGEX},
        {"inflateSync", 1, FX_CAT_COMPRESSION},
        {"kotlin/reflect/full/KClasses.getDeclaredMemberProperties", 1, FX_CAT_REFLECTION},
        /* Ruby methods by name (stackprof): core classes and gems are library code */
        {"Hash#each_with_object", 1, FX_CAT_NONE},
        {"String#gsub!", 1, FX_CAT_REGEX},
        {"ActiveSupport::JSON::Encoding::JSONGemEncoder#encode", 1, FX_CAT_SERIALIZATION},
        {"Invoices::PdfRenderer#render", 0, FX_CAT_NONE},
        {"(sweeping)", 1, FX_CAT_GC},
        /* gem files relative to the gems directory; the app's own relative paths */
        {"perform - sidekiq-7.2.4/lib/sidekiq/processor.rb:202", 1, FX_CAT_NONE},
        {"generate - json/lib/json/common.rb:306", 1, FX_CAT_SERIALIZATION},
        {"index - app/controllers/orders_controller.rb:9", 0, FX_CAT_NONE},
        {"call - lib/middleware/timing.rb:5", 0, FX_CAT_NONE},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(cases); i++) {
        fx_kb_class_t c;
        fx_kb_classify(cases[i].frame, strlen(cases[i].frame), &c);
        if (c.lib != cases[i].lib || c.cat != cases[i].cat)
            fail_msg("%s: lib=%d cat=%s, want lib=%d cat=%s", cases[i].frame, c.lib,
                     fx_cat_name(c.cat), cases[i].lib, fx_cat_name(cases[i].cat));
    }
    assert_string_equal(fx_cat_name(FX_CAT_SYSCALL_IO), "syscall-io");
    assert_int_equal(fx_cat_parse("recursion", 9), FX_CAT_RECURSION);
    assert_int_equal(fx_cat_parse("database", 8), -1);
}

/* ---------------------------------------------------------------- request validation */

static void test_request_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"", "not valid JSON"},
        {"[1]", "must be a JSON object"},
        {"{\"target\":{\"folded\":\"a 1\"},\"targer\":1}", "unknown field \"targer\""},
        {"{}", "give \"target\""},
        {"{\"baseline\":{\"folded\":\"a 1\"}}", "needs both \"baseline\" and \"comparison\""},
        {"{\"target\":{\"folded\":\"a 1\"},\"baseline\":{\"folded\":\"a 1\"}}", "not both"},
        {"{\"target\":{\"folded\":\"a 1\"},\"engine\":\"gpt\"}", "engine must be"},
        {"{\"target\":{\"folded\":\"a 1\"},\"engine\":3}", "engine must be"},
        {"{\"target\":5}", "target must be an object"},
        {"{\"target\":{}}", "exactly one of"},
        {"{\"target\":{\"folded\":\"a 1\",\"query\":{}}}", "exactly one of"},
        {"{\"target\":{\"folded\":\"\"}}", "target.folded must be a non-empty string"},
        {"{\"target\":{\"folded\":\"a 1\",\"sample_type\":\"cpu\"}}", "only applies"},
        {"{\"target\":{\"query\":{}}}", "target.query.profile_type_id is required"},
        {"{\"target\":{\"query\":{\"profile_type_id\":\"x\",\"start\":1}}}",
         "target.query.end is required"},
        {"{\"target\":{\"query\":{\"profile_type_id\":\"x\",\"start\":5,\"end\":5}}}",
         "start must be before"},
        {"{\"target\":{\"query\":{\"profile_type_id\":\"x\",\"start\":1,\"end\":2,\"step\":1}}}",
         "target.query: unknown field \"step\""},
        {"{\"target\":{\"query\":{\"profile_type_id\":\"x\",\"label_selector\":7,\"start\":1,"
         "\"end\":2}}}",
         "label_selector must be a string"},
        {"{\"target\":{\"pprof_base64\":\"!!!\"}}", "not valid base64"},
        {"{\"target\":{\"pprof_base64\":\"H4sIAAAA\"}}", "target.pprof_base64"},
        {"{\"target\":{\"pprof_base64\":\"aGk=\",\"sample_type\":1}}", "sample_type must be"},
        {"{\"target\":{\"folded\":\"a 1\"},\"target\":{\"folded\":\"a 1\"}}", "not valid JSON"},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(cases); i++) {
        fx_explain_request_t req;
        fx_err_t err = {0};
        int rc = fx_explain_request_parse(cases[i].body, strlen(cases[i].body), &req, &err);
        if (rc != FX_EINVAL || !strstr(err.msg, cases[i].want))
            fail_msg("%s: rc=%d msg=\"%s\", want FX_EINVAL with \"%s\"", cases[i].body, rc,
                     err.msg, cases[i].want);
        fx_explain_request_free(&req);
    }
}

static void test_request_ok(void **state)
{
    (void)state;
    const char *body = "{\"baseline\":{\"query\":{\"profile_type_id\":\"process_cpu:cpu:"
                       "nanoseconds:cpu:nanoseconds\",\"start\":\"1700000000000\",\"end\":"
                       "1700000600000}},\"comparison\":{\"pprof_base64\":\"aGVsbG8gcHByb2Y=\","
                       "\"sample_type\":\"cpu\"},\"engine\":\"builtin\"}";
    fx_explain_request_t req;
    fx_err_t err = {0};
    assert_int_equal(fx_explain_request_parse(body, strlen(body), &req, &err), FX_OK);
    assert_int_equal(req.diff, 1);
    assert_int_equal(req.engine, FX_EXPLAIN_BUILTIN);
    assert_int_equal(req.src[0].kind, FX_EXPLAIN_SRC_QUERY);
    assert_string_equal(req.src[0].query.label_selector, "{}");
    assert_true(req.src[0].query.start_ms == 1700000000000LL);
    assert_true(req.src[0].query.end_ms == 1700000600000LL);
    assert_int_equal(req.src[1].kind, FX_EXPLAIN_SRC_PPROF);
    assert_int_equal(req.src[1].pprof_len, 11);
    assert_memory_equal(req.src[1].pprof, "hello pprof", 11);
    assert_string_equal(req.src[1].sample_type, "cpu");
    fx_explain_request_free(&req);
}

/* ---------------------------------------------------------------- resolution */

typedef struct resolver_seen {
    int queries, pprofs;
    char selector[64], sample_type[16];
    int64_t start, end;
    fx_buf_t pprof;
} resolver_seen_t;

static int q_cb(void *ctx, const fx_explain_query_t *q, fx_tree_t *out, fx_err_t *err)
{
    resolver_seen_t *s = ctx;
    s->queries++;
    snprintf(s->selector, sizeof s->selector, "%s", q->label_selector);
    s->start = q->start_ms;
    s->end = q->end_ms;
    if (strcmp(q->profile_type_id, "empty") == 0)
        return FX_OK;
    if (strcmp(q->profile_type_id, "down") == 0)
        return fx_err_set(err, FX_EUNAVAIL, "no ingester answered");
    static const char text[] = "main.main;main.work;crypto/sha256.block 90\nmain.main 10\n";
    return fx_folded_to_tree(text, sizeof text - 1, out, err);
}

static int pprof_cb(void *ctx, const uint8_t *data, size_t len, const char *sample_type,
                    fx_tree_t *out, fx_err_t *err)
{
    resolver_seen_t *s = ctx;
    s->pprofs++;
    fx_buf_append(&s->pprof, data, len);
    snprintf(s->sample_type, sizeof s->sample_type, "%s", sample_type ? sample_type : "-");
    static const char text[] = "main.main;main.work;regexp.Compile 60\nmain.main;main.work 40\n";
    return fx_folded_to_tree(text, sizeof text - 1, out, err);
}

static const char *b64(const uint8_t *p, size_t n, fx_buf_t *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fx_buf_putc(out, (uint8_t)tab[v >> 18 & 63]);
        fx_buf_putc(out, (uint8_t)tab[v >> 12 & 63]);
        fx_buf_putc(out, i + 1 < n ? (uint8_t)tab[v >> 6 & 63] : '=');
        fx_buf_putc(out, i + 2 < n ? (uint8_t)tab[v & 63] : '=');
    }
    return fx_buf_cstr(out);
}

static json_t *handle_ok(const char *body, const fx_explain_resolver_t *r,
                         const fx_explain_llm_config_t *llm)
{
    fx_buf_t out = FX_BUF_INIT;
    fx_err_t err = {0};
    int rc = fx_explain_handle(body, strlen(body), r, llm, &out, &err);
    if (rc != FX_OK)
        fail_msg("handle failed (%d): %s", rc, err.msg);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)out.data, out.len, 0, &jerr);
    if (!root)
        fail_msg("response is not JSON: %s", jerr.text);
    fx_buf_free(&out);
    return root;
}

static const char *jstr(json_t *root, const char *a, const char *b)
{
    json_t *v = json_object_get(root, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static void test_resolvers(void **state)
{
    (void)state;
    resolver_seen_t seen = {0};
    fx_explain_resolver_t r = {&seen, q_cb, pprof_cb};

    const char *q = "{\"target\":{\"query\":{\"profile_type_id\":\"process_cpu:cpu:nanoseconds:"
                    "cpu:nanoseconds\",\"label_selector\":\"{service_name=\\\"api\\\"}\","
                    "\"start\":1000,\"end\":2000}}}";
    json_t *root = handle_ok(q, &r, NULL);
    assert_int_equal(seen.queries, 1);
    assert_string_equal(seen.selector, "{service_name=\"api\"}");
    assert_true(seen.start == 1000 && seen.end == 2000);
    assert_string_equal(jstr(root, "bottleneck", "function"), "main.work");
    assert_string_equal(jstr(root, "root_cause", "category"), "crypto");
    /* the unit comes from the profile type */
    assert_non_null(strstr(jstr(root, "bottleneck", "markdown"), "CPU time"));
    json_decref(root);

    /* pprof: base64 of a gzipped payload reaches the callback as plain bytes */
    fx_buf_t gz = FX_BUF_INIT, enc = FX_BUF_INIT, body = FX_BUF_INIT;
    fx_gzip((const uint8_t *)"plain pprof bytes", 17, 6, &gz);
    fx_buf_printf(&body, "{\"target\":{\"pprof_base64\":\"%s\",\"sample_type\":\"cpu\"}}",
                  b64(gz.data, gz.len, &enc));
    root = handle_ok(fx_buf_cstr(&body), &r, NULL);
    assert_int_equal(seen.pprofs, 1);
    assert_int_equal(seen.pprof.len, 17);
    assert_memory_equal(seen.pprof.data, "plain pprof bytes", 17);
    assert_string_equal(seen.sample_type, "cpu");
    assert_string_equal(jstr(root, "root_cause", "category"), "regex");
    json_decref(root);

    /* errors: empty query result, resolver failure passed through, missing callback,
     * bad folded text */
    static const struct {
        const char *body;
        int code;
        const char *want;
    } bad[] = {
        {"{\"target\":{\"query\":{\"profile_type_id\":\"empty\",\"start\":1,\"end\":2}}}",
         FX_EINVAL, "target: no samples of empty"},
        {"{\"target\":{\"query\":{\"profile_type_id\":\"down\",\"start\":1,\"end\":2}}}",
         FX_EUNAVAIL, "no ingester answered"},
        {"{\"target\":{\"folded\":\"main;x notanumber\"}}", FX_EINVAL,
         "target.folded: folded line 1"},
        {"{\"target\":{\"folded\":\"main;x 0\"}}", FX_EINVAL, "target: the profile has no samples"},
        {"{\"baseline\":{\"folded\":\"a 1\"},\"comparison\":{\"folded\":\"b x\"}}", FX_EINVAL,
         "comparison.folded"},
        {"{\"target\":{\"folded\":\"a 1\"},\"engine\":\"llm\"}", FX_EINVAL,
         "none is configured"},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(bad); i++) {
        fx_buf_t out = FX_BUF_INIT;
        fx_err_t err = {0};
        int rc = fx_explain_handle(bad[i].body, strlen(bad[i].body), &r, NULL, &out, &err);
        if (rc != bad[i].code || !strstr(err.msg, bad[i].want))
            fail_msg("%s: rc=%d \"%s\", want %d \"%s\"", bad[i].body, rc, err.msg, bad[i].code,
                     bad[i].want);
        assert_int_equal(out.len, 0);
        fx_buf_free(&out);
    }
    fx_explain_resolver_t none = {NULL, NULL, NULL};
    fx_buf_t out = FX_BUF_INIT;
    fx_err_t err = {0};
    assert_int_equal(fx_explain_handle(q, strlen(q), &none, NULL, &out, &err), FX_EUNIMPL);
    fx_buf_free(&out);
    fx_buf_free(&gz);
    fx_buf_free(&enc);
    fx_buf_free(&body);
    fx_buf_free(&seen.pprof);
}

/* ---------------------------------------------------------------- response shape */

static const char diff_body[] =
    "{\"baseline\":{\"folded\":\"main.main;main.handle;encoding/json.Marshal 50\\n"
    "main.main;main.validate 10\\nmain.main;main.handle 40\"},"
    "\"comparison\":{\"folded\":\"main.main;main.handle;encoding/json.Marshal 50\\n"
    "main.main;main.validate;regexp.MustCompile;regexp/syntax.Parse 60\\n"
    "main.main;main.handle 40\\nmain.main;main.audit;log.Printf 5\"}}";

static void test_response_shape(void **state)
{
    (void)state;
    json_t *root = handle_ok(diff_body, NULL, NULL);
    const char *top[] = {"engine", "bottleneck", "root_cause", "recommended_fix", "evidence",
                         "changes"};
    assert_int_equal(json_object_size(root), FX_ARRAY_LEN(top));
    for (size_t i = 0; i < FX_ARRAY_LEN(top); i++)
        assert_non_null(json_object_get(root, top[i]));
    assert_string_equal(jstr(root, "engine", NULL), "builtin");
    assert_null(json_object_get(root, "fallback_reason"));
    assert_string_equal(jstr(root, "bottleneck", "function"), "main.validate");
    assert_string_equal(jstr(root, "root_cause", "category"), "regex");
    assert_int_equal(json_object_size(json_object_get(root, "bottleneck")), 2);
    assert_int_equal(json_object_size(json_object_get(root, "root_cause")), 2);
    assert_int_equal(json_object_size(json_object_get(root, "recommended_fix")), 1);

    /* changes: what grew, shrank, appeared; shares of each side's total */
    json_t *changes = json_object_get(root, "changes");
    assert_true(json_array_size(changes) >= 3);
    /* sorted by the size of the change: main.handle lost 32 points, validate gained 29 */
    json_t *c0 = json_array_get(changes, 0), *c1 = json_array_get(changes, 1);
    assert_string_equal(jstr(c0, "function", NULL), "main.handle");
    assert_string_equal(jstr(c0, "change", NULL), "shrank");
    assert_string_equal(jstr(c1, "function", NULL), "main.validate");
    assert_string_equal(jstr(c1, "change", NULL), "grew");
    assert_string_equal(jstr(c1, "category", NULL), "regex");
    assert_true(fabs(json_number_value(json_object_get(c1, "baseline_share")) - 0.1) < 1e-4);
    assert_true(fabs(json_number_value(json_object_get(c1, "comparison_share")) - 60.0 / 155) <
                1e-4);
    int appeared = 0;
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c)
        appeared |= !strcmp(jstr(c, "function", NULL), "main.audit") &&
                    !strcmp(jstr(c, "change", NULL), "appeared") &&
                    json_number_value(json_object_get(c, "baseline_share")) == 0;
    assert_true(appeared);

    /* evidence: bottleneck first, then per profile top_self, top_total, hottest_paths,
     * categories */
    json_t *ev = json_object_get(root, "evidence");
    assert_int_equal(json_array_size(ev), 9);
    assert_string_equal(jstr(json_array_get(ev, 0), "kind", NULL), "bottleneck");
    const char *kinds[] = {"top_self", "top_total", "hottest_paths", "categories"};
    for (size_t k = 0; k < 8; k++) {
        json_t *e = json_array_get(ev, 1 + k);
        assert_string_equal(jstr(e, "kind", NULL), kinds[k % 4]);
        assert_string_equal(jstr(e, "profile", NULL), k < 4 ? "baseline" : "comparison");
    }
    json_t *ts = json_object_get(json_array_get(ev, 5), "functions");
    assert_string_equal(jstr(json_array_get(ts, 0), "function", NULL), "regexp/syntax.Parse");
    assert_true(json_is_true(json_object_get(json_array_get(ts, 0), "runtime")));
    assert_string_equal(jstr(json_array_get(ts, 0), "caller", NULL), "main.validate");
    json_decref(root);

    /* a single profile has no "changes" and a "target" side */
    root = handle_ok("{\"target\":{\"folded\":\"main;work 3\"},\"engine\":\"auto\"}", NULL, NULL);
    assert_null(json_object_get(root, "changes"));
    ev = json_object_get(root, "evidence");
    assert_string_equal(jstr(json_array_get(ev, 1), "profile", NULL), "target");
    json_decref(root);
}

/* Frames whose meaning depends on their caller. */
static void test_context_rules(void **state)
{
    (void)state;
    static const struct {
        const char *folded, *function, *cat;
    } cases[] = {
        /* a JNI native under a JDK method is the JDK's, not a user function */
        {"java/lang/Thread.run;com/acme/X.run;java/io/FileOutputStream.writeBytes;writeBytes;"
         "__GI___libc_write 10\njava/lang/Thread.run;com/acme/Y.run 6",
         "com/acme/X.run", "syscall-io"},
        /* perf's process name at depth 1 owns nothing */
        {"myproc;py::JSONEncoder.iterencode:/usr/lib/python3.12/json/encoder.py 10\n"
         "myproc;py::work:/app/w.py 4",
         "py::JSONEncoder.iterencode:/usr/lib/python3.12/json/encoder.py", "serialization"},
        /* an unknown static function inside OpenSSL is OpenSSL's */
        {"main;do_tls;SSL_write;some_static_helper 10\nmain;other 2", "do_tls", "crypto"},
        /* but a comparator called back by qsort is user code */
        {"main;sort_all;qsort;msort_with_tmp;cmp_records 50\nmain;sort_all;qsort;msort_with_tmp 10",
         "cmp_records", "compute"},
        /* the kernel never calls user code */
        {"app;main;flush_log;__GI___libc_write;entry_SYSCALL_64;do_syscall_64;ksys_write;"
         "my_fancy_fs_write 30\napp;main;compute 10",
         "flush_log", "syscall-io"},
        /* libm is the caller's numeric work */
        {"sim;main;step;__sin_fma 30\nsim;main;step;__ieee754_exp_fma 20\nsim;main;io 10",
         "step", "compute"},
        /* a closure is charged to the function it is written in, when that function calls it */
        {"main.main;main.sortAll;sort.Slice;sort.pdqsort_func;main.sortAll.func1 50\n"
         "main.main;main.other 20",
         "main.sortAll", "compute"},
        {":Node.js:0;./src/a.js:mapRows:8;./src/a.js:(anonymous:L#9:C#20):9;"
         "./node_modules/lodash/lodash.js:cloneDeep:11209 40\n:Node.js:0;./src/b.js:other:3 20",
         "./src/a.js:mapRows:8", "compute"},
        /* GC with no allocation frames to spread by (stackprof, V8): the verdict is gc when
         * GC is the profile's largest category, even if the spread share is below the work */
        {"(garbage collection);(marking) 40\nmain;Importer#load;Array#map 30\n"
         "main;Importer#load 5\nmain;Poller#run;IO#read 15",
         "Importer#load", "gc"},
        /* and plain work when it is not */
        {"(garbage collection);(marking) 20\nmain;Importer#load;Array#map 30\n"
         "main;Importer#load 5\nmain;Poller#run;IO#read 15",
         "Importer#load", "compute"},
        /* an encoder that writes to the file itself spends that time in I/O ... */
        {"main.main;main.exportAll;encoding/json.(*Encoder).Encode;os.(*File).Write;"
         "internal/poll.(*FD).Write;syscall.write 30\n"
         "main.main;main.exportAll;encoding/json.(*Encoder).Encode;"
         "encoding/json.(*encodeState).marshal 10\nmain.main;main.other 5",
         "main.exportAll", "syscall-io"},
        /* ... while a logger's writes stay logging */
        {"main.main;main.handle;go.uber.org/zap.(*Logger).Info;os.(*File).Write;"
         "internal/poll.(*FD).Write;syscall.write 30\nmain.main;main.other 5",
         "main.handle", "logging"},
        /* but not to a function of another file that happens to call it */
        {":Node.js:0;./src/b.js:dispatch:3;./src/a.js:(anonymous:L#9:C#20):9 40\n"
         ":Node.js:0;./src/b.js:other:3 20",
         "./src/a.js:(anonymous:L#9:C#20):9", "compute"},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(cases); i++) {
        fx_buf_t body = FX_BUF_INIT;
        fx_buf_puts(&body, "{\"target\":{\"folded\":");
        fx_explain_json_str(&body, cases[i].folded, strlen(cases[i].folded));
        fx_buf_puts(&body, "}}");
        json_t *root = handle_ok(fx_buf_cstr(&body), NULL, NULL);
        fx_buf_free(&body);
        const char *fn = jstr(root, "bottleneck", "function");
        const char *cat = jstr(root, "root_cause", "category");
        if (strcmp(fn, cases[i].function) || strcmp(cat, cases[i].cat))
            fail_msg("case %zu: %s [%s], want %s [%s]", i, fn, cat, cases[i].function,
                     cases[i].cat);
        json_decref(root);
    }
}

/* Anonymous code and the function it is written in, per runtime syntax. */
static void test_closures(void **state)
{
    (void)state;
    static const struct {
        const char *inner, *outer;
        int in;
    } cases[] = {
        {"main.(*Server).handle.func1", "main.(*Server).handle", 1},
        {"main.(*Server).handle.func1.2", "main.(*Server).handle", 1},
        {"main.run.gowrap3", "main.run", 1},
        {"main.(*Server).handle.func1", "main.(*Server).serve", 0},
        {"main.functional", "main", 0},
        {"Foo::bar(int)::{lambda(int)#1}::operator()(int) const", "Foo::bar(int)", 1},
        {"Foo::bar(int)::{lambda(int)#1}::operator()(int) const", "Foo::baz(int)", 0},
        {"com.acme.Orders.lambda$place$0", "com.acme.Orders.place", 1},
        {"com/acme/Orders.lambda$place$0", "com/acme/Orders.place", 1},
        {"com.acme.Orders.lambda$place$0", "com.acme.Orders.cancel", 0},
        {"com.acme.Orders.lambda$static$1", "com.acme.Orders.<clinit>", 1},
        {"com.acme.Orders$$Lambda$41/0x0000000800c0b4a8.accept", "com.acme.Orders.place", 1},
        {"com.acme.Orders$$Lambda.0x0000000800c0b4a8.accept", "com.acme.Other.place", 0},
        {"com.acme.rules.Engine.$anonfun$run$1", "com.acme.rules.Engine.run", 1},
        {"com.acme.rules.Engine$$anonfun$run$1.apply", "com.acme.rules.Engine.run", 1},
        {"com.acme.sync.SyncService$syncAll$1.invokeSuspend", "com.acme.sync.SyncService.syncAll",
         1},
        {"com.acme.sync.SyncService$syncAll$1.invokeSuspend", "com.acme.sync.SyncService.other",
         0},
        {"com.acme.Poller$1.run", "com.acme.Poller.start", 1},
        {"com.acme.Poller$Inner.run", "com.acme.Poller.start", 0},
        {"Acme.Feed.FeedService+<>c.<Build>b__3_0", "Acme.Feed.FeedService.Build", 1},
        {"Acme.Feed.FeedService+<>c__DisplayClass3_0.<Build>b__1", "Acme.Feed.FeedService.Build",
         1},
        {"Acme.Feed.FeedService+<BuildAsync>d__7.MoveNext", "Acme.Feed.FeedService.BuildAsync", 1},
        {"Acme.Feed.FeedService+<>c.<Build>b__3_0", "Acme.Feed.FeedService.Rank", 0},
        {"./src/etl/t.js:(anonymous:L#90:C#28):90", "./src/etl/t.js:mapRows:88", 1},
        {"./src/etl/t.js:(anonymous:L#90:C#28):90", "./src/etl/u.js:mapRows:88", 0},
        {"<listcomp> (nlp/tokenizer.py:55)", "tokenize (nlp/tokenizer.py:52)", 1},
        {"<lambda> (nlp/tokenizer.py:55)", "tokenize (nlp/other.py:52)", 0},
        {"py::<genexpr>:/srv/app/x.py", "py::build:/srv/app/x.py", 1},
        {"py::<genexpr>:/srv/app/x.py", "py::build:/srv/app/y.py", 0},
        {"block in perform - /app/jobs/import.rb:11", "perform - /app/jobs/import.rb:9", 1},
        {"block (2 levels) in perform - /app/jobs/import.rb:12", "perform - /app/jobs/import.rb:9",
         1},
        {"block in perform - /app/jobs/import.rb:11", "perform - /app/jobs/other.rb:9", 0},
        {"/app/jobs/import.rb:11 - block in perform", "/app/jobs/import.rb:9 - perform", 1},
        {"/app/jobs/import.rb:11 - block in perform", "/app/jobs/import.rb:9 - run", 0},
        {"scrub - /app/lib/sanitizer.rb:22", "run - /app/lib/sanitizer.rb:9", 0},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(cases); i++) {
        const char *c = cases[i].inner, *o = cases[i].outer;
        int k = fx__explain_closure_kind(c, strlen(c));
        int in = k && fx__explain_closure_in(k, c, strlen(c), o, strlen(o));
        if (in != cases[i].in)
            fail_msg("%s in %s: %d, want %d", c, o, in, cases[i].in);
    }
    /* named functions are not closures */
    assert_int_equal(fx__explain_closure_kind("main.handle", 11), 0);
    assert_int_equal(fx__explain_closure_kind("com.acme.Foo$Bar.run", 20), 0);
    assert_int_equal(fx__explain_closure_kind("", 0), 0);
}

static void test_deterministic_and_utf8(void **state)
{
    (void)state;
    fx_buf_t a = FX_BUF_INIT, b = FX_BUF_INIT;
    fx_err_t err = {0};
    assert_int_equal(fx_explain_handle(diff_body, strlen(diff_body), NULL, NULL, &a, &err), FX_OK);
    assert_int_equal(fx_explain_handle(diff_body, strlen(diff_body), NULL, NULL, &b, &err), FX_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    fx_buf_free(&a);
    fx_buf_free(&b);

    /* frame names with invalid UTF-8 (from a pprof string table) still give valid JSON */
    fx_tree_t t;
    fx_tree_init(&t);
    static const char text[] = "main.main;main.\xff\xfe\x80weird;encoding/json.Marshal 5\n";
    assert_int_equal(fx_folded_to_tree(text, sizeof text - 1, &t, &err), FX_OK);
    fx_explain_findings_t f;
    assert_int_equal(fx_explain_analyze(&t, NULL, &f, &err), FX_OK);
    fx_buf_t out = FX_BUF_INIT;
    fx_explain_write_response(&out, &f, NULL, NULL);
    json_t *root = json_loadb((const char *)out.data, out.len, 0, NULL);
    assert_non_null(root);
    assert_non_null(strstr(jstr(root, "bottleneck", "function"), "\xef\xbf\xbd"));
    json_decref(root);
    fx_buf_free(&out);
    fx_explain_findings_free(&f);
    fx_tree_free(&t);
}

/* ---------------------------------------------------------------- language model: parsing */

static void test_llm_parse_reply(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int ok;
        const char *want; /* function, or a fragment of the error */
    } cases[] = {
        {"{\"choices\":[{\"message\":{\"content\":\"{\\\"bottleneck\\\":{\\\"function\\\":\\\"f\\\","
         "\\\"markdown\\\":\\\"m\\\"},\\\"root_cause\\\":{\\\"category\\\":\\\"gc\\\",\\\"markdown\\\":"
         "\\\"r\\\"},\\\"recommended_fix\\\":{\\\"markdown\\\":\\\"x\\\"}}\"}}]}",
         1, "f"},
        {"{\"choices\":[{\"message\":{\"content\":\"Sure:\\n```json\\n{\\\"bottleneck\\\":{"
         "\\\"function\\\":\\\"g\\\",\\\"markdown\\\":\\\"m\\\"},\\\"root_cause\\\":{\\\"category\\\":"
         "\\\"lock\\\",\\\"markdown\\\":\\\"r\\\"},\\\"recommended_fix\\\":{\\\"markdown\\\":\\\"x\\\"}}"
         "\\n```\"}}]}",
         1, "g"},
        {"{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"bottleneck\\\":"
         "{\\\"function\\\":\\\"h\\\",\\\"markdown\\\":\\\"m\\\"},\\\"root_cause\\\":{\\\"category\\\":"
         "\\\"idle\\\",\\\"markdown\\\":\\\"r\\\"},\\\"recommended_fix\\\":{\\\"markdown\\\":\\\"x\\\"}}"
         "\"}]}}]}",
         1, "h"},
        {"not json", 0, "did not return JSON"},
        {"{\"choices\":[]}", 0, "no choices[0].message"},
        {"{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"no\"}}]}", 0, "refused: no"},
        {"{\"choices\":[{\"finish_reason\":\"content_filter\",\"message\":{\"content\":\"\"}}]}", 0,
         "content filter"},
        {"{\"choices\":[{\"message\":{\"content\":\"just prose\"}}]}", 0, "no JSON object"},
        {"{\"choices\":[{\"message\":{\"content\":\"{\\\"bottleneck\\\":{}}\"}}]}", 0,
         "no bottleneck.function"},
        {"{\"choices\":[{\"message\":{\"content\":\"{\\\"bottleneck\\\":{\\\"function\\\":\\\"f\\\","
         "\\\"markdown\\\":\\\"m\\\"},\\\"root_cause\\\":{\\\"category\\\":\\\"db\\\",\\\"markdown\\\":"
         "\\\"r\\\"},\\\"recommended_fix\\\":{\\\"markdown\\\":\\\"x\\\"}}\"}}]}",
         0, "unknown category \"db\""},
    };
    for (size_t i = 0; i < FX_ARRAY_LEN(cases); i++) {
        fx_arena_t a;
        fx_arena_init(&a);
        fx_explain_answer_t ans;
        fx_err_t err = {0};
        int rc = fx_explain_llm_parse_reply(cases[i].body, strlen(cases[i].body), &a, &ans, &err);
        if (cases[i].ok) {
            if (rc != FX_OK)
                fail_msg("case %zu: %s", i, err.msg);
            assert_string_equal(ans.function, cases[i].want);
        } else if (rc == FX_OK || !strstr(err.msg, cases[i].want)) {
            fail_msg("case %zu: rc=%d \"%s\", want \"%s\"", i, rc, err.msg, cases[i].want);
        }
        fx_arena_free(&a);
    }
}

static void test_llm_config(void **state)
{
    (void)state;
    fx_explain_llm_config_t c;
    fx_err_t err = {0};
    fx_explain_llm_config_defaults(&c);
    assert_false(fx_explain_llm_enabled(&c));
    assert_int_equal(fx_explain_llm_config_check(&c, &err), FX_OK);
    c.base_url = "https://api.openai.com";
    assert_int_equal(fx_explain_llm_config_check(&c, &err), FX_OK);
    c.base_url = "http://localhost:11434";
    assert_int_equal(fx_explain_llm_config_check(&c, &err), FX_OK);
    c.base_url = "http://models.internal:8000";
    assert_int_equal(fx_explain_llm_config_check(&c, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "plain http is only allowed to a loopback host"));
    c.base_url = "ftp://x";
    assert_int_equal(fx_explain_llm_config_check(&c, &err), FX_EINVAL);
    c.base_url = "https://api.openai.com";
    c.timeout_ms = 0;
    assert_int_equal(fx_explain_llm_config_check(&c, &err), FX_EINVAL);
}

/* ---------------------------------------------------------------- language model: fake server */

typedef struct fake {
    pid_t pid;
    int port;
} fake_t;

static char tmpdir[64];
static char key_path[128], wrong_key_path[128];
static const char api_key[] = "sk-fornax-test-4f1c9e";
static fake_t plain_srv, tls_srv;

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static fake_t start_fake(const char *const *extra)
{
    int pipefd[2];
    fake_t f = {0, 0};
    if (pipe(pipefd) != 0)
        fail_msg("pipe failed");
    const char *argv[32] = {"python3", "tests/explain/fake_openai.py", "--key-file", key_path,
                            "--model", "fornax-test-model", "--expect", "main.(*Ingester).handleBatch",
                            "--answer-function", "main.(*Ingester).fromTheModel",
                            "--delay", "4"};
    size_t n = 12;
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    f.pid = fork();
    if (f.pid == 0) {
        /* the server must not outlive a crashed test */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    char line[64] = "";
    size_t len = 0;
    struct pollfd pfd = {pipefd[0], POLLIN, 0};
    while (len < sizeof line - 1 && poll(&pfd, 1, 10000) > 0) {
        ssize_t r = read(pipefd[0], line + len, 1);
        if (r <= 0 || line[len] == '\n')
            break;
        len++;
    }
    line[len] = 0;
    close(pipefd[0]);
    if (sscanf(line, "PORT %d", &f.port) != 1)
        fail_msg("fake_openai.py did not start (needs python3): \"%s\"", line);
    return f;
}

static int setup_servers(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fx-explain-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(key_path, sizeof key_path, "%s/key", tmpdir);
    snprintf(wrong_key_path, sizeof wrong_key_path, "%s/wrong-key", tmpdir);
    char key_text[64];
    snprintf(key_text, sizeof key_text, "%s\n", api_key);
    write_file(key_path, key_text);
    write_file(wrong_key_path, "sk-not-the-right-one\n");
    plain_srv = start_fake(NULL);
    static const char *const tls[] = {"--tls-cert", "tests/explain/test-tls-cert.pem",
                                      "--tls-key", "tests/explain/test-tls-key.pem", NULL};
    tls_srv = start_fake(tls);
    return 0;
}

static int teardown_servers(void **state)
{
    (void)state;
    fake_t *srv[] = {&plain_srv, &tls_srv};
    for (size_t i = 0; i < 2; i++)
        if (srv[i]->pid > 0) {
            kill(srv[i]->pid, SIGTERM);
            waitpid(srv[i]->pid, NULL, 0);
        }
    unlink(key_path);
    unlink(wrong_key_path);
    rmdir(tmpdir);
    return 0;
}

static const char gc_body[] =
    "{\"target\":{\"folded\":\"main.main;main.(*Ingester).handleBatch;runtime.mallocgc 40\\n"
    "main.main;main.(*Ingester).handleBatch 10\\nruntime.gcBgMarkWorker;runtime.scanobject 50\"}"
    "%s}";

static json_t *ask(const char *mode, const char *key, int64_t timeout_ms, const char *engine,
                   int tls)
{
    char url[128], body[512];
    fx_explain_llm_config_t c;
    fx_explain_llm_config_defaults(&c);
    snprintf(url, sizeof url, "%s://127.0.0.1:%d/%s", tls ? "https" : "http",
             tls ? tls_srv.port : plain_srv.port, mode);
    c.base_url = url;
    c.model = "fornax-test-model";
    c.api_key_file = key;
    c.timeout_ms = timeout_ms;
    snprintf(body, sizeof body, gc_body, engine);
    return handle_ok(body, NULL, &c);
}

static long requests_seen(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import urllib.request,json;print(json.load(urllib.request.urlopen("
             "'http://127.0.0.1:%d/stats'))['requests'])\"",
             plain_srv.port);
    FILE *p = popen(cmd, "r");
    long n = -1;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%ld", &n), 1);
    pclose(p);
    return n;
}

static void expect_fallback(json_t *root, const char *why)
{
    assert_string_equal(jstr(root, "engine", NULL), "builtin");
    const char *reason = jstr(root, "fallback_reason", NULL);
    if (!reason || !strstr(reason, why))
        fail_msg("fallback_reason \"%s\", want \"%s\"", reason ? reason : "(none)", why);
    assert_null(strstr(reason, api_key));
    /* the built-in answer is complete */
    assert_string_equal(jstr(root, "bottleneck", "function"), "main.(*Ingester).handleBatch");
    assert_string_equal(jstr(root, "root_cause", "category"), "gc");
}

static void test_llm_answers(void **state)
{
    (void)state;
    /* auto with a configured model: the model's answer, evidence from the built-in analysis */
    json_t *root = ask("ok", key_path, 10000, "", 0);
    assert_string_equal(jstr(root, "engine", NULL), "llm");
    assert_string_equal(jstr(root, "model", NULL), "fornax-test-model");
    assert_null(json_object_get(root, "fallback_reason"));
    assert_string_equal(jstr(root, "bottleneck", "function"), "main.(*Ingester).fromTheModel");
    assert_string_equal(jstr(root, "bottleneck", "markdown"), "FAKE-LLM bottleneck text");
    assert_string_equal(jstr(root, "root_cause", "category"), "lock");
    assert_string_equal(jstr(root, "recommended_fix", "markdown"), "FAKE-LLM fix");
    assert_string_equal(jstr(json_array_get(json_object_get(root, "evidence"), 0), "function",
                             NULL),
                        "main.(*Ingester).handleBatch");
    json_decref(root);

    root = ask("fenced", key_path, 10000, ",\"engine\":\"llm\"", 0);
    assert_string_equal(jstr(root, "engine", NULL), "llm");
    assert_string_equal(jstr(root, "root_cause", "markdown"), "FAKE-LLM root cause");
    json_decref(root);

    /* engine builtin never asks the model */
    long before = requests_seen();
    root = ask("ok", key_path, 10000, ",\"engine\":\"builtin\"", 0);
    assert_string_equal(jstr(root, "engine", NULL), "builtin");
    assert_null(json_object_get(root, "fallback_reason"));
    json_decref(root);
    assert_int_equal(requests_seen(), before);
}

static void test_llm_fallbacks(void **state)
{
    (void)state;
    /* the warning logged on fallback must not contain the key: capture stderr */
    char log_path[160];
    snprintf(log_path, sizeof log_path, "%s/stderr", tmpdir);
    int saved = dup(2), fd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    dup2(fd, 2);
    close(fd);

    json_t *root = ask("garbage", key_path, 10000, "", 0);
    expect_fallback(root, "no JSON object");
    json_decref(root);
    root = ask("500", key_path, 10000, "", 0);
    expect_fallback(root, "HTTP 500: model overloaded");
    json_decref(root);
    root = ask("refusal", key_path, 10000, "", 0);
    expect_fallback(root, "refused");
    json_decref(root);
    root = ask("badcat", key_path, 10000, "", 0);
    expect_fallback(root, "unknown category \"database\"");
    json_decref(root);
    root = ask("timeout", key_path, 700, "", 0);
    expect_fallback(root, "did not answer within 700 ms");
    json_decref(root);
    /* the server checks the Authorization header against its key file */
    root = ask("ok", wrong_key_path, 10000, "", 0);
    expect_fallback(root, "fake_openai: Authorization header");
    json_decref(root);
    /* a missing key file is a reason too, and nothing is sent */
    long before = requests_seen();
    root = ask("ok", "/nonexistent/fx-key", 10000, "", 0);
    expect_fallback(root, "cannot read the API key file /nonexistent/fx-key");
    json_decref(root);
    assert_int_equal(requests_seen(), before);
    /* certificate verification is on: a self-signed server certificate is refused */
    root = ask("ok", key_path, 10000, "", 1);
    expect_fallback(root, "certificate");
    json_decref(root);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len;
    FILE *fp = fopen(log_path, "rb");
    char buf[16384];
    len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = 0;
    unlink(log_path);
    assert_non_null(strstr(buf, "language model not used"));
    assert_null(strstr(buf, api_key));
}

static void test_nothing_sent_unless_configured(void **state)
{
    (void)state;
    long before = requests_seen();
    json_t *root = handle_ok("{\"target\":{\"folded\":\"main;work 3\"}}", NULL, NULL);
    assert_string_equal(jstr(root, "engine", NULL), "builtin");
    assert_null(json_object_get(root, "fallback_reason"));
    json_decref(root);
    fx_explain_llm_config_t c;
    fx_explain_llm_config_defaults(&c);
    root = handle_ok("{\"target\":{\"folded\":\"main;work 3\"},\"engine\":\"auto\"}", NULL, &c);
    assert_string_equal(jstr(root, "engine", NULL), "builtin");
    json_decref(root);
    assert_int_equal(requests_seen(), before);
}

int main(void)
{
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_kb_classify),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_request_ok),
        cmocka_unit_test(test_resolvers),
        cmocka_unit_test(test_response_shape),
        cmocka_unit_test(test_context_rules),
        cmocka_unit_test(test_closures),
        cmocka_unit_test(test_deterministic_and_utf8),
        cmocka_unit_test(test_llm_parse_reply),
        cmocka_unit_test(test_llm_config),
    };
    const struct CMUnitTest with_server[] = {
        cmocka_unit_test(test_llm_answers),
        cmocka_unit_test(test_llm_fallbacks),
        cmocka_unit_test(test_nothing_sent_unless_configured),
    };
    int failed = cmocka_run_group_tests_name("explain", offline, NULL, NULL);
    failed += cmocka_run_group_tests_name("explain-llm", with_server, setup_servers,
                                          teardown_servers);
    return failed;
}
