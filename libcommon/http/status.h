/*
 * status.h - HTTP status codes for Fornax status codes.
 *
 * The Connect protocol names an error by its code ("invalid_argument", from
 * fx_status_name) and carries it with an HTTP status. The table is connect-go's
 * (reference pyroscope-api.md §11): clients read the JSON code, and those that
 * cannot parse the body fall back on the status, so both must agree.
 * One deliberate exception: FX_ETOOBIG is 413 (its Connect code stays
 * resource_exhausted), because a body over the size limit is an HTTP-level
 * condition that every HTTP client and proxy understands as 413.
 */
#ifndef FX_HTTP_STATUS_H
#define FX_HTTP_STATUS_H

/* HTTP status for an FX_E* code (FX_OK gives 200, unknown codes 500). */
int fx_http_status(int fx_code);

/* Reason phrase for an HTTP status ("Not Found"); never NULL. */
const char *fx_http_reason(int status);

#endif
