/*
 * limits.h - every per-tenant limit of Fornax, its default, and why.
 *
 * Like sqliteLimit.h, this header is the one place to read what Fornax
 * refuses and where it truncates. Defaults match Grafana Pyroscope
 * (pkg/validation/limits.go) so an agent that works against Pyroscope works
 * here, and so do its operators' settings: the YAML keys are Pyroscope's
 * (`limits:` section, `overrides:` per tenant) and the flags are Pyroscope's
 * where it has one. For every limit, 0 disables it unless said otherwise.
 *
 * Where a limit is set, lowest precedence first:
 *   1. the default below,
 *   2. YAML  limits: {<key>: value}        (all tenants),
 *   3. flag  -<flag>=value                  (all tenants),
 *   4. YAML  overrides: {<tenant>: {<key>: value}}   (one tenant; also
 *      re-read at runtime by fx_limits_reload).
 *
 * Services read limits only through fx_limits_for(registry, tenant), which
 * is lock-free and returns a struct valid for the registry's lifetime. Each
 * rejection is named by a discard reason in the validator that enforces it.
 */
#ifndef FX_LIMITS_H
#define FX_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/core.h"

/* ---- ingestion (enforced by the distributor) ------------------------------ */

/* ingestion_rate_mb  -distributor.ingestion-rate-limit-mb  (float, MiB/s)
 * Sustained per-tenant ingestion rate in MiB (2^20 bytes, as Pyroscope's
 * "MB") of *uncompressed* profile bytes per second, per distributor. 4 MiB/s
 * is far above one service's agents (a Go CPU profile is ~50-100 KiB every
 * 10-15 s) yet stops a runaway fleet from starving other tenants; raise it
 * per tenant for large fleets. Over the rate: 429 resource_exhausted. */
#define FX_LIMIT_INGESTION_RATE_MB "4"

/* ingestion_burst_size_mb  -distributor.ingestion-burst-size-mb  (float, MiB)
 * Token-bucket depth on top of the rate. Must be at least the largest single
 * push, or that push can never pass; 2 MiB covers typical batched agent
 * pushes (Pyroscope's default). */
#define FX_LIMIT_INGESTION_BURST_SIZE_MB "2"

/* ingestion_body_limit_mb  -distributor.ingestion-body-limit-mb  (float, MiB)
 * Largest HTTP push body before decompression (413 above it). 256 MiB is
 * Pyroscope's ReadMaxBytes for Push: generous for batched pushes, still a
 * hard cap on what one request can make the server buffer. (The YAML key is
 * Pyroscope's; its flag name here is Fornax's own.) */
#define FX_LIMIT_INGESTION_BODY_LIMIT_MB "256"

/* max_label_names_per_series  -validation.max-label-names-per-series
 * Labels per series, counting __name__ and the derived __*__ labels. Each
 * label multiplies index size and selector cost; 30 is Pyroscope's value and
 * leaves room for Kubernetes metadata. */
#define FX_LIMIT_MAX_LABEL_NAMES_PER_SERIES "30"

/* max_label_name_length  -validation.max-length-label-name
 * Bytes in a label name; names are identifiers, 1024 is ample. */
#define FX_LIMIT_MAX_LABEL_NAME_LENGTH "1024"

/* max_label_value_length  -validation.max-length-label-value
 * Bytes in a label value (also the profile name). 2048 fits long k8s pod or
 * image names, and keeps every value storable inline in the index. */
#define FX_LIMIT_MAX_LABEL_VALUE_LENGTH "2048"

/* max_profile_size_bytes  -validation.max-profile-size-bytes  (size)
 * Largest *uncompressed* pprof accepted. 4 MiB holds a heap profile of ~10k
 * samples with symbols; bigger ones are almost always a misconfigured agent
 * and would dominate a tenant's ingest and memory. */
#define FX_LIMIT_MAX_PROFILE_SIZE_BYTES "4MiB"

/* max_profile_stacktrace_samples  -validation.max-profile-stacktrace-samples
 * Samples per profile. Pyroscope raised it from 2000 to 16000 (#2212) for
 * busy services' CPU profiles; more usually means unbounded sample labels. */
#define FX_LIMIT_MAX_PROFILE_STACKTRACE_SAMPLES "16000"

/* max_profile_stacktrace_sample_labels  -validation.max-profile-stacktrace-sample-labels
 * Labels on one sample (span_id, trace_id, thread, ...). 100 is Pyroscope's
 * value; sample labels split series, so they must stay few. */
#define FX_LIMIT_MAX_PROFILE_STACKTRACE_SAMPLE_LABELS "100"

/* max_profile_stacktrace_depth  -validation.max-profile-stacktrace-depth
 * Frames kept per stack; deeper stacks are *truncated* (root side kept), not
 * rejected. 1000 frames is beyond any readable flame graph and bounds the
 * stack tree's depth. */
#define FX_LIMIT_MAX_PROFILE_STACKTRACE_DEPTH "1000"

/* max_profile_symbol_value_length  -validation.max-profile-symbol-value-length
 * Bytes in one symbol string (function/file names, label strings); longer
 * strings are *truncated*, keeping the tail (the informative end of a
 * mangled C++ or Java name). 65535 is Pyroscope's value. */
#define FX_LIMIT_MAX_PROFILE_SYMBOL_VALUE_LENGTH "65535"

/* reject_older_than  -validation.reject-older-than  (duration)
 * Profiles timestamped further in the past are refused. 1h tolerates agent
 * retries and clock skew while keeping writes inside the ingester head (an
 * older profile would belong to a block already cut). */
#define FX_LIMIT_REJECT_OLDER_THAN "1h"

/* reject_newer_than  -validation.reject-newer-than  (duration)
 * Profiles timestamped further in the future are refused: 10m of clock skew
 * is plenty; beyond it a broken clock would write where no query looks. */
#define FX_LIMIT_REJECT_NEWER_THAN "10m"

/* disable_label_sanitization  -validation.disable-label-sanitization  (bool)
 * false (Pyroscope v1.x default): label names must match
 * [A-Za-z_.][A-Za-z0-9_.]* and dots become '_'. true (Pyroscope HEAD
 * default): any UTF-8 name is kept as is, e.g. OTel's k8s.pod.name. Fornax
 * keeps v1's default because Prometheus-style names are what Grafana's label
 * browser lists. */
#define FX_LIMIT_DISABLE_LABEL_SANITIZATION "false"

/* ---- series (enforced by the ingester) --------------------------------------- */

/* max_global_series_per_tenant  -ingester.max-global-series-per-tenant
 * Active series of one tenant across the cluster; each ingester enforces its
 * share (this x replication factor / ingesters). 5000 is Pyroscope's value:
 * ~100 services x 10 instances x 5 profile types. A label with unbounded
 * values (request id) hits it quickly, which is the point. */
#define FX_LIMIT_MAX_GLOBAL_SERIES_PER_TENANT "5000"

/* max_local_series_per_tenant  -ingester.max-local-series-per-tenant
 * The same per ingester, regardless of cluster size; 0 (off) by default
 * because the global limit is the one that scales. */
#define FX_LIMIT_MAX_LOCAL_SERIES_PER_TENANT "0"

/* ---- queries (enforced by the querier) ----------------------------------------- */

/* max_query_length  -querier.max-query-length  (duration)
 * Longest time range of one query; longer ones are refused (400). 24h keeps
 * a flame graph query within what the head plus a day of blocks can merge
 * interactively; 7-day flame graphs need it raised. */
#define FX_LIMIT_MAX_QUERY_LENGTH "24h"

/* max_query_lookback  -querier.max-query-lookback  (duration)
 * How far back a query may reach; the start is *clamped*, not refused. 7d
 * matches the default retention horizon operators expect from Pyroscope. */
#define FX_LIMIT_MAX_QUERY_LOOKBACK "7d"

/* max_flamegraph_nodes_default  -querier.max-flamegraph-nodes-default
 * Nodes in a flame graph when the request names no max_nodes; the rest fold
 * into "other". 8192 renders fast in a browser and keeps every frame a user
 * can see at 1 px. */
#define FX_LIMIT_MAX_FLAMEGRAPH_NODES_DEFAULT "8192"

/* max_flamegraph_nodes_max  -querier.max-flamegraph-nodes-max
 * Largest max_nodes a request may ask for (larger asks are refused).
 * 1048576 (2^20) bounds the memory and encoding time of one answer while
 * allowing full-fidelity exports; 0 removes the cap. */
#define FX_LIMIT_MAX_FLAMEGRAPH_NODES_MAX "1048576"

/* ---- retention (enforced by the compactor) -------------------------------------- */

/* compactor_blocks_retention_period  -compactor.blocks-retention-period  (duration)
 * Blocks whose newest profile is older than this get a deletion mark and are
 * deleted after -compactor.deletion-delay. 0 (keep forever) is Pyroscope's
 * default: deleting a tenant's data must be an operator's decision, and
 * object storage is cheap next to a lost incident's profiles. */
#define FX_LIMIT_COMPACTOR_BLOCKS_RETENTION_PERIOD "0"

/* Every limit of one tenant. Sizes in bytes, durations in nanoseconds. */
typedef struct fx_limits {
    double ingestion_rate_mb;
    double ingestion_burst_size_mb;
    double ingestion_body_limit_mb;
    int64_t max_label_names_per_series;
    int64_t max_label_name_length;
    int64_t max_label_value_length;
    int64_t max_profile_size_bytes;
    int64_t max_profile_stacktrace_samples;
    int64_t max_profile_stacktrace_sample_labels;
    int64_t max_profile_stacktrace_depth;
    int64_t max_profile_symbol_value_length;
    int64_t reject_older_than_ns;
    int64_t reject_newer_than_ns;
    bool disable_label_sanitization;
    int64_t max_global_series_per_tenant;
    int64_t max_local_series_per_tenant;
    int64_t max_query_length_ns;
    int64_t max_query_lookback_ns;
    int64_t max_flamegraph_nodes_default;
    int64_t max_flamegraph_nodes_max;
    int64_t compactor_blocks_retention_period_ns;
} fx_limits_t;

/* "MB" in limit names is Pyroscope's: 2^20 bytes. */
#define FX_LIMITS_MB 1048576.0

/* The table of limits (flag, YAML key, type, default, help), for docs and
 * for tools that list limits. */
extern const fx_opt_table_t fx_limits_table;

typedef struct fx_limits_registry fx_limits_registry_t;

/* A registry holding the defaults above and no overrides. Free with
 * fx_limits_registry_free after every reader is done. */
fx_limits_registry_t *fx_limits_registry_new(void);
void fx_limits_registry_free(fx_limits_registry_t *reg);

/* Registers the `limits:` table (defaults for all tenants, with flags) and
 * the `overrides:` section with cfg. reg must outlive the use of cfg. */
void fx_limits_register(fx_config_t *cfg, fx_limits_registry_t *reg);

/* The limits of tenant: its overrides layered over the defaults, or the
 * defaults. Thread-safe and lock-free; the pointer stays valid until
 * fx_limits_registry_free (a reload publishes new structs, old ones are
 * kept). */
const fx_limits_t *fx_limits_for(const fx_limits_registry_t *reg, const char *tenant);
const fx_limits_t *fx_limits_defaults(const fx_limits_registry_t *reg);
/* Number of tenants with overrides. */
size_t fx_limits_tenants(const fx_limits_registry_t *reg);

/* Re-reads only the `overrides:` section of the YAML file at path and, if
 * it changed, publishes it (the rest of the file is ignored: other settings
 * need a restart). On error the current overrides stay. *changed (may be
 * NULL) says whether anything was published. Safe while other threads call
 * fx_limits_for; reloads are serialised. */
int fx_limits_reload(fx_limits_registry_t *reg, const char *path, bool *changed, fx_err_t *err);

#endif
