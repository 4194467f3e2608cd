/* status.c - FX_E* code -> HTTP status, and reason phrases. */
#include "http/status.h"

#include "core/core.h"

int fx_http_status(int fx_code)
{
    switch (fx_code) {
    case FX_OK: return 200;
    case FX_EINVAL: return 400;
    case FX_EPRECOND: return 400;
    case FX_EUNAUTH: return 401;
    case FX_EPERM: return 403;
    case FX_ENOTFOUND: return 404;
    case FX_EEXIST: return 409;
    case FX_ETOOBIG: return 413;
    case FX_ELIMIT: return 429;
    case FX_ECANCELED: return 499;
    case FX_EINTERNAL: return 500;
    case FX_EIO: return 500;
    case FX_ECORRUPT: return 500;
    case FX_EUNIMPL: return 501;
    case FX_EUNAVAIL: return 503;
    case FX_EDEADLINE: return 504;
    default: return 500;
    }
}

const char *fx_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : "Error";
    }
}
