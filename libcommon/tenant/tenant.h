/*
 * tenant.h - who a request belongs to (reference pyroscope-api.md §8).
 *
 * With multi-tenancy off every request belongs to "anonymous" and the
 * X-Scope-OrgID header is ignored. With it on the header is required and must
 * name exactly one valid tenant: characters [A-Za-z0-9] and ! - _ . * ' ( ),
 * at most 150 bytes, not "." or "..". As in dskit, the header may list
 * several IDs separated by '|'; duplicates collapse, so "a|a" is tenant "a",
 * but two different IDs are refused (no Fornax path serves several tenants).
 * The same rules serve the public HTTP routes, the Connect layer and gRPC.
 */
#ifndef FX_TENANT_H
#define FX_TENANT_H

#include <stddef.h>

#include "core/core.h"
#include "core/mem.h"

#define FX_TENANT_HEADER "X-Scope-OrgID"
#define FX_TENANT_ANONYMOUS "anonymous"
#define FX_TENANT_MAX_LEN 150

/* Checks one tenant ID of len bytes (no '|'). FX_OK, or FX_EINVAL with err
 * saying which rule it breaks. */
int fx_tenant_validate(const char *id, size_t len, fx_err_t *err);

/*
 * Resolves the tenant of a request from its X-Scope-OrgID value (NULL when
 * the header is absent). On FX_OK *tenant is "anonymous" (a static string)
 * when multitenancy is 0, else the ID: header itself when it is a single ID,
 * or a copy in arena when duplicates had to be collapsed. Fails with
 * FX_EUNAUTH (401) when the header is missing or empty and FX_EINVAL (400)
 * when it is invalid; err says why.
 */
int fx_tenant_resolve(int multitenancy, const char *header, fx_arena_t *arena,
                      const char **tenant, fx_err_t *err);

#endif
