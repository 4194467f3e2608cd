/*
 * etcd.h - the etcd KV backend, through etcd's v3 JSON gateway (HTTP/1.1 +
 * JSON on the client port, served by every etcd 3.4+; Debian etcd-server).
 *
 * Versions are etcd mod_revisions; fx_kv_cas compares them in a txn, so a
 * write based on a stale read fails with FX_EPRECOND. Watches stream
 * /v3/watch on a background thread; when etcd goes away the thread retries
 * with backoff and, once it is back, re-lists the prefix and reports what
 * changed meanwhile (deletions included) before watching again, so a
 * watcher's view converges after any outage.
 */
#ifndef FX_KV_ETCD_H
#define FX_KV_ETCD_H

#include "kv/kv.h"

/* endpoints: "host:port" (or with http://); tried in order, rotating on
 * failure. timeout_ms bounds one request. Returns NULL with err only for
 * bad arguments: etcd need not be up yet. Release with fx_kv_close. */
fx_kv_t *fx_kv_etcd_new(const char *const *endpoints, size_t n, int64_t timeout_ms, fx_err_t *err);

#endif
