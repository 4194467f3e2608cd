/* time.h - wall-clock and monotonic time helpers. */
#ifndef FX_TIME_H
#define FX_TIME_H

#include <stdint.h>

int64_t fx_now_ns(void);       /* wall clock, ns since epoch */
int64_t fx_now_ms(void);       /* wall clock, ms since epoch */
int64_t fx_mono_ns(void);      /* monotonic, for durations */
/* Formats ms since epoch as RFC 3339 UTC with milliseconds into buf (>= 32). */
char *fx_time_rfc3339(int64_t ms, char *buf, unsigned len);

#endif
