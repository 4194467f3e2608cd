/* log.c - logfmt lines to stderr. */
#include "log/log.h"
#include "core/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int g_level = FX_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void fx_log_set_level(enum fx_log_level level)
{
    g_level = level;
}

int fx_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int fx_log_enabled(enum fx_log_level level)
{
    return (int)level >= g_level;
}

#define QBUFS 8
#define QBUF_LEN 512

const char *fx_q(const char *s)
{
    static _Thread_local char bufs[QBUFS][QBUF_LEN];
    static _Thread_local unsigned next;
    char *b = bufs[next++ % QBUFS];
    size_t o = 0;
    int needs = !s || !*s;

    if (!s)
        s = "";
    for (const char *p = s; *p && !needs; p++)
        needs = *p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p >= 0x7f;
    if (!needs)
        return s;
    b[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o < QBUF_LEN - 8; p++) {
        if (*p == '"' || *p == '\\') {
            b[o++] = '\\';
            b[o++] = (char)*p;
        } else if (*p == '\n') {
            b[o++] = '\\';
            b[o++] = 'n';
        } else if (*p < 0x20) {
            o += (size_t)snprintf(b + o, 5, "\\x%02x", *p);
        } else {
            b[o++] = (char)*p;
        }
    }
    b[o++] = '"';
    b[o] = 0;
    return b;
}

void fx_log(enum fx_log_level level, const char *msg, const char *fields, ...)
{
    char line[4096], ts[40];
    size_t o;
    va_list ap;

    if ((int)level < g_level)
        return;
    fx_time_rfc3339(fx_now_ms(), ts, sizeof ts);
    o = (size_t)snprintf(line, sizeof line, "ts=%s level=%s msg=%s", ts,
                         level_names[level], fx_q(msg));
    if (fields && *fields && o < sizeof line - 2) {
        line[o++] = ' ';
        va_start(ap, fields);
        int n = vsnprintf(line + o, sizeof line - o, fields, ap);
        va_end(ap);
        if (n > 0)
            o += (size_t)n;
    }
    if (o > sizeof line - 2)
        o = sizeof line - 2;
    line[o++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, o);
    (void)w;
}
