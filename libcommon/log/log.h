/*
 * log.h - one logfmt line per event, to stderr.
 *
 *   fx_log_info("profile pushed", "tenant=%s bytes=%zu", fx_q(tenant), n);
 *
 * prints  ts=2026-11-21T10:00:00.123Z level=info msg="profile pushed" tenant=acme bytes=42
 * The fields argument is a printf format for the key=value tail; wrap any
 * value that may contain spaces, quotes or control bytes in fx_q(), which
 * returns it quoted and escaped (from a small per-thread ring of buffers, so
 * up to 8 fx_q() results may be used in one call). Thread-safe: each line is
 * written with a single write(2).
 */
#ifndef FX_LOG_H
#define FX_LOG_H

enum fx_log_level { FX_LOG_DEBUG = 0, FX_LOG_INFO, FX_LOG_WARN, FX_LOG_ERROR };

/* Lines below level are dropped. Default: info. */
void fx_log_set_level(enum fx_log_level level);
/* Parses "debug"/"info"/"warn"/"error"; returns -1 if unknown. */
int fx_log_parse_level(const char *s);
int fx_log_enabled(enum fx_log_level level);

void fx_log(enum fx_log_level level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Quotes and escapes s for logfmt if needed; see above for lifetime. */
const char *fx_q(const char *s);

#define fx_log_debug(msg, ...) \
    do { if (fx_log_enabled(FX_LOG_DEBUG)) fx_log(FX_LOG_DEBUG, msg, __VA_ARGS__); } while (0)
#define fx_log_info(msg, ...) fx_log(FX_LOG_INFO, msg, __VA_ARGS__)
#define fx_log_warn(msg, ...) fx_log(FX_LOG_WARN, msg, __VA_ARGS__)
#define fx_log_error(msg, ...) fx_log(FX_LOG_ERROR, msg, __VA_ARGS__)

#endif
