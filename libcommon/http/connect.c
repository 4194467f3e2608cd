/*
 * connect.c - Connect unary calls: content negotiation, decoding into the
 * call arena, the fx_call_t, and encoding of the answer or the error.
 */
#include "http/connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/time.h"
#include "core/utf8.h"
#include "json/pbjson.h"
#include "log/log.h"


typedef struct method {
    char *path;
    const ProtobufCMessageDescriptor *in, *out;
    fx_method_fn fn;
    void *ctx;
} method_t;

enum codec { CODEC_NONE, CODEC_PROTO, CODEC_JSON };

static void method_free(void *p)
{
    method_t *m = p;
    free(m->path);
    free(m);
}

/* Media type of a Content-Type value, parameters ignored. */
static enum codec codec_of(const char *ct)
{
    if (!ct)
        return CODEC_NONE;
    ct += strspn(ct, " \t");
    size_t n = strcspn(ct, "; \t");
    if (n == 17 && strncasecmp(ct, "application/proto", n) == 0)
        return CODEC_PROTO;
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
        return CODEC_JSON;
    return CODEC_NONE;
}

static const char *call_header(const fx_call_t *call, const char *name)
{
    return fx_http_req_header(call->transport, name);
}

/* Connect-Timeout-Ms: 1 to 10 ASCII digits. Returns -1 when malformed. */
static int64_t parse_timeout_ms(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 10 || strspn(s, "0123456789") != n)
        return -1;
    return strtoll(s, NULL, 10);
}

/* Proto3 strings must be UTF-8; protobuf-c does not check, Go's decoder
 * does, and such strings would later break JSON output. Returns the name of
 * the first bad field or NULL. */
static const char *bad_utf8_field(const ProtobufCMessage *msg, int depth);

static const char *bad_utf8_field(const ProtobufCMessage *msg, int depth)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    if (depth > 100)
        return NULL; /* protobuf-c already bounded the nesting it decoded */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)msg + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)((const char *)msg + f->quantifier_offset);
            if (which != f->id)
                continue;
        }
        size_t n = 1;
        const void *const *items = (const void *const *)base;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)msg + f->quantifier_offset);
            items = *(const void *const *const *)base;
        }
        for (size_t k = 0; k < n; k++) {
            const void *v = items[k];
            if (!v)
                continue;
            if (f->type == PROTOBUF_C_TYPE_STRING && !fx_utf8_valid((const uint8_t *)v, strlen(v)))
                return f->name;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                const char *bad = bad_utf8_field(v, depth + 1);
                if (bad)
                    return bad;
            }
        }
    }
    return NULL;
}

static void handle(fx_http_req_t *req, void *ctx)
{
    const method_t *m = ctx;
    enum codec codec = codec_of(fx_http_req_header(req, "Content-Type"));
    ProtobufCMessage *in = NULL, *out = NULL;
    fx_err_t err = {0};

    if (codec == CODEC_NONE) {
        const char *ct = fx_http_req_header(req, "Content-Type");
        fx_http_add_header(req, "Accept-Post", "application/json, application/proto");
        fx_http_reply_error_status(req, 415, "invalid_argument",
                                   "unsupported Content-Type \"%s\" for %s; use application/proto "
                                   "or application/json",
                                   ct ? ct : "", m->path);
        return;
    }

    fx_call_t call = {
        .method = m->path,
        .tenant = req->tenant,
        .arena = req->arena,
        .ctx = m->ctx,
        .header = call_header,
        .transport = req,
    };
    const char *tmo = fx_http_req_header(req, "Connect-Timeout-Ms");
    if (tmo) {
        int64_t ms = parse_timeout_ms(tmo);
        if (ms < 0) {
            fx_http_reply_error(req, FX_EINVAL,
                                "invalid Connect-Timeout-Ms \"%s\": want 1 to 10 digits", tmo);
            return;
        }
        call.deadline_ns = fx_mono_ns() + ms * 1000000;
    }

    if (codec == CODEC_PROTO) {
        in = protobuf_c_message_unpack(m->in, fx_arena_pb(req->arena), req->body.len,
                                       req->body.data);
        if (!in) {
            fx_http_reply_error(req, FX_EINVAL,
                                "malformed request body: %zu bytes are not a valid protobuf %s",
                                req->body.len, m->in->name);
            return;
        }
    } else if (fx_pbjson_decode(m->in, (const char *)req->body.data, req->body.len,
                                fx_arena_pb(req->arena), &in, &err) != FX_OK) {
        fx_err_prefix(&err, "malformed JSON request body for %s", m->in->name);
        fx_http_reply_err(req, &err);
        return;
    }
    const char *bad = bad_utf8_field(in, 0);
    if (bad) {
        fx_http_reply_error(req, FX_EINVAL,
                            "malformed request body: string field \"%s\" of %s is not valid UTF-8",
                            bad, m->in->name);
        return;
    }

    int rc = m->fn(&call, in, &out, &err);
    if (rc != FX_OK) {
        if (err.code == FX_OK)
            fx_err_set(&err, rc, "%s", fx_status_name(rc));
        fx_http_reply_err(req, &err);
        return;
    }
    if (!out || out->descriptor != m->out) {
        fx_http_reply_error(req, FX_EINTERNAL, "handler for %s returned %s, expected %s", m->path,
                            out ? out->descriptor->name : "no message", m->out->name);
        return;
    }

    fx_buf_t b = FX_BUF_INIT;
    if (codec == CODEC_PROTO) {
        size_t n = protobuf_c_message_get_packed_size(out);
        fx_buf_reserve(&b, n);
        b.len = protobuf_c_message_pack(out, b.data);
        FX_ASSERT(b.len == n);
        fx_http_reply_buf(req, 200, "application/proto", &b);
    } else {
        fx_pbjson_encode(out, &b);
        fx_http_reply_buf(req, 200, "application/json", &b);
    }
}

int fx_connect_register(fx_http_server_t *srv, const char *path,
                        const ProtobufCMessageDescriptor *in,
                        const ProtobufCMessageDescriptor *out, fx_method_fn fn, void *ctx)
{
    fx_err_t err = {0};
    method_t *m = fx_calloc(1, sizeof *m);
    m->path = fx_strdup(path);
    m->in = in;
    m->out = out;
    m->fn = fn;
    m->ctx = ctx;
    int rc = fx_http_route(srv, path, FX_HTTP_POST, FX_HTTP_TENANT, handle, m, &err);
    if (rc != FX_OK) {
        fx_log_error("connect method not registered", "path=%s err=%s", fx_q(path),
                     fx_q(err.msg));
        method_free(m);
        return rc;
    }
    fx_http_server_attach(srv, m, method_free);
    return FX_OK;
}

int fx_connect_register_method(fx_http_server_t *srv, const ProtobufCServiceDescriptor *svc,
                               const char *method, fx_method_fn fn, void *ctx)
{
    for (unsigned i = 0; i < svc->n_methods; i++) {
        const ProtobufCMethodDescriptor *md = &svc->methods[i];
        if (strcmp(md->name, method) != 0)
            continue;
        char path[256];
        snprintf(path, sizeof path, "/%s/%s", svc->name, md->name);
        return fx_connect_register(srv, path, md->input, md->output, fn, ctx);
    }
    fx_log_error("connect method not registered", "service=%s method=%s err=%s",
                 fx_q(svc->name), fx_q(method), fx_q("no such method"));
    return FX_ENOTFOUND;
}
