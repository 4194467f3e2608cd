/*
 * limits.c - the limits table, per-tenant overrides and their runtime
 * reload.
 *
 * Overrides are published as immutable generations: a sorted array of
 * tenants, each with its effective limits (the overridden fields layered
 * over the defaults). Readers load the current generation with one atomic
 * load and binary-search it, no lock. A reload builds a new generation and
 * swaps the pointer; the old one is retired, not freed, because readers may
 * still hold pointers into it. An unchanged reload publishes nothing, so a
 * periodic reload does not grow memory; each real change keeps one more
 * small array until the registry is freed.
 */
#include "limits/limits.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"

#define OFF(f) offsetof(fx_limits_t, f)
#define NONNEG 0, INT64_MAX
#define RT FX_OPT_RUNTIME

static const fx_opt_t limits_opts[] = {
    {"distributor.ingestion-rate-limit-mb", "ingestion_rate_mb", FX_OPT_DOUBLE,
     OFF(ingestion_rate_mb), FX_LIMIT_INGESTION_RATE_MB,
     "Per-tenant ingestion rate limit in MiB of uncompressed profile per second.", NONNEG, NULL,
     RT},
    {"distributor.ingestion-burst-size-mb", "ingestion_burst_size_mb", FX_OPT_DOUBLE,
     OFF(ingestion_burst_size_mb), FX_LIMIT_INGESTION_BURST_SIZE_MB,
     "Per-tenant ingestion burst size in MiB; at least the largest single push.", NONNEG, NULL,
     RT},
    {"distributor.ingestion-body-limit-mb", "ingestion_body_limit_mb", FX_OPT_DOUBLE,
     OFF(ingestion_body_limit_mb), FX_LIMIT_INGESTION_BODY_LIMIT_MB,
     "Largest push request body in MiB, before decompression.", NONNEG, NULL, RT},
    {"validation.max-label-names-per-series", "max_label_names_per_series", FX_OPT_INT,
     OFF(max_label_names_per_series), FX_LIMIT_MAX_LABEL_NAMES_PER_SERIES,
     "Maximum number of labels per series, __name__ included.", NONNEG, NULL, RT},
    {"validation.max-length-label-name", "max_label_name_length", FX_OPT_INT,
     OFF(max_label_name_length), FX_LIMIT_MAX_LABEL_NAME_LENGTH,
     "Maximum length of a label name in bytes.", NONNEG, NULL, RT},
    {"validation.max-length-label-value", "max_label_value_length", FX_OPT_INT,
     OFF(max_label_value_length), FX_LIMIT_MAX_LABEL_VALUE_LENGTH,
     "Maximum length of a label value in bytes.", NONNEG, NULL, RT},
    {"validation.max-profile-size-bytes", "max_profile_size_bytes", FX_OPT_SIZE,
     OFF(max_profile_size_bytes), FX_LIMIT_MAX_PROFILE_SIZE_BYTES,
     "Maximum size of one profile, uncompressed.", NONNEG, NULL, RT},
    {"validation.max-profile-stacktrace-samples", "max_profile_stacktrace_samples", FX_OPT_INT,
     OFF(max_profile_stacktrace_samples), FX_LIMIT_MAX_PROFILE_STACKTRACE_SAMPLES,
     "Maximum number of samples in a profile.", NONNEG, NULL, RT},
    {"validation.max-profile-stacktrace-sample-labels", "max_profile_stacktrace_sample_labels",
     FX_OPT_INT, OFF(max_profile_stacktrace_sample_labels),
     FX_LIMIT_MAX_PROFILE_STACKTRACE_SAMPLE_LABELS,
     "Maximum number of labels on one sample.", NONNEG, NULL, RT},
    {"validation.max-profile-stacktrace-depth", "max_profile_stacktrace_depth", FX_OPT_INT,
     OFF(max_profile_stacktrace_depth), FX_LIMIT_MAX_PROFILE_STACKTRACE_DEPTH,
     "Maximum stack depth; deeper stacks are truncated (root side kept), not rejected.",
     NONNEG, NULL, RT},
    {"validation.max-profile-symbol-value-length", "max_profile_symbol_value_length",
     FX_OPT_INT, OFF(max_profile_symbol_value_length), FX_LIMIT_MAX_PROFILE_SYMBOL_VALUE_LENGTH,
     "Maximum length of a symbol string; longer ones are truncated (tail kept).", NONNEG, NULL,
     RT},
    {"validation.reject-older-than", "reject_older_than", FX_OPT_DURATION,
     OFF(reject_older_than_ns), FX_LIMIT_REJECT_OLDER_THAN,
     "Refuse profiles timestamped more than this in the past.", NONNEG, NULL, RT},
    {"validation.reject-newer-than", "reject_newer_than", FX_OPT_DURATION,
     OFF(reject_newer_than_ns), FX_LIMIT_REJECT_NEWER_THAN,
     "Refuse profiles timestamped more than this in the future.", NONNEG, NULL, RT},
    {"validation.disable-label-sanitization", "disable_label_sanitization", FX_OPT_BOOL,
     OFF(disable_label_sanitization), FX_LIMIT_DISABLE_LABEL_SANITIZATION,
     "Keep any UTF-8 label name as is instead of requiring [A-Za-z_.][A-Za-z0-9_.]* and "
     "rewriting dots to underscores.",
     0, 0, NULL, RT},
    {"ingester.max-global-series-per-tenant", "max_global_series_per_tenant", FX_OPT_INT,
     OFF(max_global_series_per_tenant), FX_LIMIT_MAX_GLOBAL_SERIES_PER_TENANT,
     "Maximum active series per tenant across the cluster.", NONNEG, NULL, RT},
    {"ingester.max-local-series-per-tenant", "max_local_series_per_tenant", FX_OPT_INT,
     OFF(max_local_series_per_tenant), FX_LIMIT_MAX_LOCAL_SERIES_PER_TENANT,
     "Maximum active series per tenant on one ingester.", NONNEG, NULL, RT},
    {"querier.max-query-length", "max_query_length", FX_OPT_DURATION, OFF(max_query_length_ns),
     FX_LIMIT_MAX_QUERY_LENGTH, "Longest time range one query may cover.", NONNEG, NULL, RT},
    {"querier.max-query-lookback", "max_query_lookback", FX_OPT_DURATION,
     OFF(max_query_lookback_ns), FX_LIMIT_MAX_QUERY_LOOKBACK,
     "How far back queries may reach; earlier starts are clamped.", NONNEG, NULL, RT},
    {"querier.max-flamegraph-nodes-default", "max_flamegraph_nodes_default", FX_OPT_INT,
     OFF(max_flamegraph_nodes_default), FX_LIMIT_MAX_FLAMEGRAPH_NODES_DEFAULT,
     "Flame graph nodes when a query gives no max_nodes.", NONNEG, NULL, RT},
    {"querier.max-flamegraph-nodes-max", "max_flamegraph_nodes_max", FX_OPT_INT,
     OFF(max_flamegraph_nodes_max), FX_LIMIT_MAX_FLAMEGRAPH_NODES_MAX,
     "Largest max_nodes a query may ask for.", NONNEG, NULL, RT},
    {"compactor.blocks-retention-period", "compactor_blocks_retention_period", FX_OPT_DURATION,
     OFF(compactor_blocks_retention_period_ns), FX_LIMIT_COMPACTOR_BLOCKS_RETENTION_PERIOD,
     "Delete blocks whose newest profile is older than this; 0 keeps them forever.", NONNEG,
     NULL, RT},
};

const fx_opt_table_t fx_limits_table = {"limits", "limits", limits_opts,
                                        FX_ARRAY_LEN(limits_opts)};

typedef struct tenant {
    char *id;
    uint64_t set;     /* bit i: limits_opts[i] is overridden */
    fx_limits_t vals; /* the overridden values (other fields unused) */
    fx_limits_t eff;  /* vals layered over the defaults */
} tenant_t;

typedef struct gen {
    tenant_t *t;
    size_t n;
    struct gen *older; /* retired chain */
} gen_t;

struct fx_limits_registry {
    fx_limits_t defaults;
    _Atomic(gen_t *) cur;
    gen_t *parsed;       /* read by the config section, published by finish */
    gen_t *retired;
    pthread_mutex_t mu;  /* serialises writers */
};

static void gen_free(gen_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        free(g->t[i].id);
    free(g->t);
    free(g);
}

static size_t opt_size(const fx_opt_t *o)
{
    switch (o->type) {
    case FX_OPT_DOUBLE: return sizeof(double);
    case FX_OPT_BOOL: return sizeof(bool);
    case FX_OPT_INT:
    case FX_OPT_DURATION:
    case FX_OPT_SIZE: return sizeof(int64_t);
    default: FX_PANIC("limits hold numbers and bools only");
    }
}

static void layer(const fx_limits_t *defaults, tenant_t *t)
{
    t->eff = *defaults;
    for (size_t i = 0; i < FX_ARRAY_LEN(limits_opts); i++)
        if (t->set & (1ULL << i)) {
            const fx_opt_t *o = &limits_opts[i];
            memcpy((char *)&t->eff + o->offset, (const char *)&t->vals + o->offset, opt_size(o));
        }
}

static int tenant_cmp(const void *a, const void *b)
{
    return strcmp(((const tenant_t *)a)->id, ((const tenant_t *)b)->id);
}

static int cmp_id(const void *id, const void *t)
{
    return strcmp(id, ((const tenant_t *)t)->id);
}

/* dskit's tenant ID rules, so an ID valid in X-Scope-OrgID is valid here. */
static const char *tenant_id_problem(const char *id)
{
    size_t n = strlen(id);
    if (n == 0)
        return "it is empty";
    if (n > 150)
        return "it is longer than 150 characters";
    if (!strcmp(id, ".") || !strcmp(id, ".."))
        return "\".\" and \"..\" are not allowed";
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("!-_.*'()", *p)))
            return "only letters, digits and !-_.*'() are allowed";
    return NULL;
}

/* Reads an `overrides:` node into a new (unpublished) generation. */
static int parse_overrides(const fx_limits_registry_t *reg, const fx_yaml_node_t *node,
                           const char *file, gen_t **out, fx_err_t *err)
{
    gen_t *g = fx_calloc(1, sizeof *g);
    int rc = FX_OK;

    *out = NULL;
    if (node && node->type == FX_YAML_MAP) {
        g->t = fx_calloc(node->n ? node->n : 1, sizeof *g->t);
        for (const fx_yaml_node_t *c = node->child; c; c = c->next) {
            char where[200];
            const char *why = tenant_id_problem(c->key);
            if (why) {
                rc = fx_err_set(err, FX_EINVAL, "%s:%d: overrides: invalid tenant ID \"%.160s\": %s",
                                file, c->key_line, c->key, why);
                goto out;
            }
            tenant_t *t = &g->t[g->n++];
            t->id = fx_strdup(c->key);
            t->vals = reg->defaults;
            snprintf(where, sizeof where, "overrides.%s", c->key);
            if ((rc = fx_opt_apply_map(&fx_limits_table, &t->vals, c, file, where, &t->set,
                                       err)) != FX_OK)
                goto out;
        }
        qsort(g->t, g->n, sizeof *g->t, tenant_cmp);
    } else if (node && node->type != FX_YAML_NULL) {
        rc = fx_err_set(err, FX_EINVAL,
                        "%s:%d: overrides: expected a map of tenant IDs to limits, got a %s",
                        file, node->line, fx_yaml_type_name(node->type));
    }
out:
    if (rc != FX_OK)
        gen_free(g);
    else
        *out = g;
    return rc;
}

static int same(const gen_t *a, const gen_t *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->t[i].id, b->t[i].id) != 0 || a->t[i].set != b->t[i].set ||
            memcmp(&a->t[i].eff, &b->t[i].eff, sizeof a->t[i].eff) != 0)
            return 0;
    return 1;
}

/* Layers g over the defaults and makes it current, unless it equals the
 * current generation (then g is freed). Caller holds reg->mu. */
static bool publish(fx_limits_registry_t *reg, gen_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        layer(&reg->defaults, &g->t[i]);
    gen_t *old = atomic_load(&reg->cur);
    if (old && same(old, g)) {
        gen_free(g);
        return false;
    }
    atomic_store(&reg->cur, g);
    if (old) {
        old->older = reg->retired;
        reg->retired = old;
    }
    return true;
}

static gen_t *gen_copy(const gen_t *g)
{
    gen_t *c = fx_calloc(1, sizeof *c);
    c->t = fx_calloc(g->n ? g->n : 1, sizeof *c->t);
    c->n = g->n;
    for (size_t i = 0; i < g->n; i++) {
        c->t[i] = g->t[i];
        c->t[i].id = fx_strdup(g->t[i].id);
    }
    return c;
}

/* ---- config section ---------------------------------------------------------- */

static int section_apply(void *ctx, const fx_yaml_node_t *node, const char *file, fx_err_t *err)
{
    fx_limits_registry_t *reg = ctx;
    gen_t *g;
    int rc = parse_overrides(reg, node, file, &g, err);
    if (rc != FX_OK)
        return rc;
    pthread_mutex_lock(&reg->mu);
    gen_free(reg->parsed);
    reg->parsed = g;
    pthread_mutex_unlock(&reg->mu);
    return FX_OK;
}

static int check(const char *who, const fx_limits_t *l, fx_err_t *err)
{
    if (l->max_flamegraph_nodes_max > 0 &&
        l->max_flamegraph_nodes_default > l->max_flamegraph_nodes_max)
        return fx_err_set(err, FX_EINVAL,
                          "%s: max_flamegraph_nodes_default (%lld) is larger than "
                          "max_flamegraph_nodes_max (%lld)",
                          who, (long long)l->max_flamegraph_nodes_default,
                          (long long)l->max_flamegraph_nodes_max);
    return FX_OK;
}

/* After flags: the overrides sit on top of the final defaults. */
static int section_finish(void *ctx, fx_err_t *err)
{
    fx_limits_registry_t *reg = ctx;
    int rc = check("limits", &reg->defaults, err);
    if (rc != FX_OK)
        return rc;
    pthread_mutex_lock(&reg->mu);
    gen_t *g = reg->parsed ? reg->parsed : gen_copy(atomic_load(&reg->cur));
    reg->parsed = NULL;
    for (size_t i = 0; i < g->n && rc == FX_OK; i++) {
        char who[200];
        layer(&reg->defaults, &g->t[i]);
        snprintf(who, sizeof who, "overrides.%s", g->t[i].id);
        rc = check(who, &g->t[i].eff, err);
    }
    if (rc == FX_OK)
        publish(reg, g);
    else
        gen_free(g);
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

static void section_dump(void *ctx, fx_config_dump_mode_t mode, fx_buf_t *out)
{
    fx_limits_registry_t *reg = ctx;
    const gen_t *g = atomic_load(&reg->cur);
    char key[128];
    if (mode == FX_CONFIG_DUMP_DEFAULTS || g->n == 0)
        return;
    fx_buf_puts(out, "overrides:\n");
    for (size_t i = 0; i < g->n; i++) {
        const tenant_t *t = &g->t[i];
        fx_buf_puts(out, "  ");
        fx_config_yaml_str(t->id, out);
        fx_buf_puts(out, t->set ? ":\n" : ": {}\n");
        for (size_t j = 0; j < FX_ARRAY_LEN(limits_opts); j++)
            if (t->set & (1ULL << j)) {
                fx_buf_printf(out, "    %s: ",
                              fx_opt_yaml_key(&limits_opts[j], key, sizeof key));
                fx_opt_format_yaml(&limits_opts[j], &t->eff, out);
                fx_buf_putc(out, '\n');
            }
    }
}

/* ---- public API -------------------------------------------------------------- */

fx_limits_registry_t *fx_limits_registry_new(void)
{
    fx_limits_registry_t *reg = fx_calloc(1, sizeof *reg);
    FX_ASSERT(FX_ARRAY_LEN(limits_opts) <= 64);
    for (size_t i = 0; i < FX_ARRAY_LEN(limits_opts); i++) {
        fx_err_t err = {0};
        int rc = fx_opt_parse(&limits_opts[i], &reg->defaults, limits_opts[i].def, &err);
        FX_ASSERT(rc == FX_OK);
    }
    atomic_store(&reg->cur, fx_calloc(1, sizeof(gen_t)));
    pthread_mutex_init(&reg->mu, NULL);
    return reg;
}

void fx_limits_registry_free(fx_limits_registry_t *reg)
{
    if (!reg)
        return;
    gen_free(atomic_load(&reg->cur));
    gen_free(reg->parsed);
    for (gen_t *g = reg->retired, *next; g; g = next) {
        next = g->older;
        gen_free(g);
    }
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

void fx_limits_register(fx_config_t *cfg, fx_limits_registry_t *reg)
{
    fx_config_add(cfg, &fx_limits_table, &reg->defaults);
    fx_config_section_t sec = {
        .key = "overrides",
        .help = "Per-tenant limits: a map of tenant ID to any keys of the limits section; "
                "re-read at runtime by fx_limits_reload.",
        .apply = section_apply,
        .dump = section_dump,
        .finish = section_finish,
        .ctx = reg,
    };
    fx_config_add_section(cfg, &sec);
}

const fx_limits_t *fx_limits_for(const fx_limits_registry_t *reg, const char *tenant)
{
    const gen_t *g = atomic_load_explicit(&((fx_limits_registry_t *)reg)->cur,
                                          memory_order_acquire);
    int found;
    size_t i = fx_lower_bound(tenant, g->t, g->n, sizeof *g->t, cmp_id, &found);
    return found ? &g->t[i].eff : &reg->defaults;
}

const fx_limits_t *fx_limits_defaults(const fx_limits_registry_t *reg)
{
    return &reg->defaults;
}

size_t fx_limits_tenants(const fx_limits_registry_t *reg)
{
    return atomic_load(&((fx_limits_registry_t *)reg)->cur)->n;
}

int fx_limits_reload(fx_limits_registry_t *reg, const char *path, bool *changed, fx_err_t *err)
{
    fx_yaml_doc_t doc;
    gen_t *g = NULL;
    int rc;
    bool pub = false;

    if (changed)
        *changed = false;
    if ((rc = fx_yaml_parse_file(path, &doc, err)) != FX_OK)
        return rc;
    if (doc.root->type != FX_YAML_MAP && doc.root->type != FX_YAML_NULL) {
        rc = fx_err_set(err, FX_EINVAL, "%s:%d: expected a map at the top level", doc.name,
                        doc.root->line);
        goto out;
    }
    if ((rc = parse_overrides(reg, fx_yaml_get(doc.root, "overrides"), doc.name, &g, err)) !=
        FX_OK)
        goto out;
    pthread_mutex_lock(&reg->mu);
    for (size_t i = 0; i < g->n && rc == FX_OK; i++) {
        char who[200];
        layer(&reg->defaults, &g->t[i]);
        snprintf(who, sizeof who, "%s: overrides.%s", doc.name, g->t[i].id);
        rc = check(who, &g->t[i].eff, err);
    }
    if (rc == FX_OK)
        pub = publish(reg, g);
    else
        gen_free(g);
    pthread_mutex_unlock(&reg->mu);
    if (pub)
        fx_log_info("per-tenant limit overrides reloaded", "file=%s tenants=%zu", fx_q(path),
                    fx_limits_tenants(reg));
    if (changed)
        *changed = pub;
out:
    fx_yaml_free(&doc);
    return rc;
}
