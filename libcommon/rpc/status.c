/*
 * status.c - FX_E* <-> gRPC status codes.
 *
 * The table follows the Connect/HTTP mapping of core.c so an error keeps its
 * meaning whether it crosses the public HTTP port or the internal gRPC one.
 * Several FX codes share a gRPC code (ELIMIT/ETOOBIG, EINTERNAL/EIO); the
 * server sends the exact FX code in a trailer so Fornax peers recover it.
 */
#include <grpc/status.h>

#include "rpc/rpc.h"

int fx_rpc_status_from_fx(int fx_code)
{
    switch (fx_code) {
    case FX_OK: return GRPC_STATUS_OK;
    case FX_EINVAL: return GRPC_STATUS_INVALID_ARGUMENT;
    case FX_ENOTFOUND: return GRPC_STATUS_NOT_FOUND;
    case FX_EEXIST: return GRPC_STATUS_ALREADY_EXISTS;
    case FX_ELIMIT: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case FX_EUNAVAIL: return GRPC_STATUS_UNAVAILABLE;
    case FX_EINTERNAL: return GRPC_STATUS_INTERNAL;
    case FX_ETOOBIG: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case FX_EUNAUTH: return GRPC_STATUS_UNAUTHENTICATED;
    case FX_EUNIMPL: return GRPC_STATUS_UNIMPLEMENTED;
    case FX_EIO: return GRPC_STATUS_INTERNAL;
    case FX_ECORRUPT: return GRPC_STATUS_DATA_LOSS;
    case FX_EDEADLINE: return GRPC_STATUS_DEADLINE_EXCEEDED;
    case FX_ECANCELED: return GRPC_STATUS_CANCELLED;
    case FX_EPRECOND: return GRPC_STATUS_FAILED_PRECONDITION;
    case FX_EPERM: return GRPC_STATUS_PERMISSION_DENIED;
    default: return GRPC_STATUS_UNKNOWN;
    }
}

int fx_rpc_status_to_fx(int grpc_code)
{
    switch (grpc_code) {
    case GRPC_STATUS_OK: return FX_OK;
    case GRPC_STATUS_CANCELLED: return FX_ECANCELED;
    case GRPC_STATUS_INVALID_ARGUMENT: return FX_EINVAL;
    case GRPC_STATUS_DEADLINE_EXCEEDED: return FX_EDEADLINE;
    case GRPC_STATUS_NOT_FOUND: return FX_ENOTFOUND;
    case GRPC_STATUS_ALREADY_EXISTS: return FX_EEXIST;
    case GRPC_STATUS_PERMISSION_DENIED: return FX_EPERM;
    case GRPC_STATUS_RESOURCE_EXHAUSTED: return FX_ELIMIT;
    case GRPC_STATUS_FAILED_PRECONDITION: return FX_EPRECOND;
    /* ABORTED is a concurrency conflict: the caller may retry, like
     * UNAVAILABLE. */
    case GRPC_STATUS_ABORTED: return FX_EUNAVAIL;
    case GRPC_STATUS_OUT_OF_RANGE: return FX_EINVAL;
    case GRPC_STATUS_UNIMPLEMENTED: return FX_EUNIMPL;
    case GRPC_STATUS_UNAVAILABLE: return FX_EUNAVAIL;
    case GRPC_STATUS_DATA_LOSS: return FX_ECORRUPT;
    case GRPC_STATUS_UNAUTHENTICATED: return FX_EUNAUTH;
    case GRPC_STATUS_INTERNAL:
    case GRPC_STATUS_UNKNOWN:
    default: return FX_EINTERNAL;
    }
}
