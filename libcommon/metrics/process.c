/*
 * process.c - the standard process_* metrics, read from /proc at scrape
 * time (the same names and meanings as the Prometheus Go client, so stock
 * dashboards work):
 *
 *   process_cpu_seconds_total      user + system CPU time
 *   process_resident_memory_bytes  RSS
 *   process_virtual_memory_bytes   virtual memory size
 *   process_open_fds               entries in /proc/self/fd
 *   process_max_fds                RLIMIT_NOFILE soft limit
 *   process_start_time_seconds     start time, seconds since the epoch
 *
 * A value that cannot be read (no /proc) is left out of the scrape.
 */
#include "metrics/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Fields of /proc/self/stat we use (1-based numbers as in proc(5)). */
typedef struct stat_fields {
    unsigned long long utime, stime; /* 14, 15: clock ticks */
    unsigned long long starttime;    /* 22: clock ticks after boot */
    unsigned long long vsize;        /* 23: bytes */
    long long rss;                   /* 24: pages */
} stat_fields_t;

static int read_stat(stat_fields_t *st)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* comm (field 2) may hold spaces and parentheses: start after the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* p+2 is field 3 (state); skip to field 14 */
    int got = sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                     "%*d %llu %llu %lld",
                     &st->utime, &st->stime, &st->starttime, &st->vsize, &st->rss);
    return got == 5 ? 0 : -1;
}

static int cpu_seconds(void *ctx, double *v)
{
    stat_fields_t st;
    (void)ctx;
    if (read_stat(&st) < 0)
        return -1;
    *v = (double)(st.utime + st.stime) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

static int resident_bytes(void *ctx, double *v)
{
    stat_fields_t st;
    (void)ctx;
    if (read_stat(&st) < 0)
        return -1;
    *v = (double)st.rss * (double)sysconf(_SC_PAGESIZE);
    return 0;
}

static int virtual_bytes(void *ctx, double *v)
{
    stat_fields_t st;
    (void)ctx;
    if (read_stat(&st) < 0)
        return -1;
    *v = (double)st.vsize;
    return 0;
}

static int open_fds(void *ctx, double *v)
{
    (void)ctx;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    *v = (double)(n - 1); /* the directory stream's own descriptor */
    return 0;
}

static int max_fds(void *ctx, double *v)
{
    struct rlimit rl;
    (void)ctx;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    *v = rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur;
    if (*v < 0)
        return -1;
    return 0;
}

/* Boot time (btime in /proc/stat) plus the start offset from /proc/self/stat. */
static int start_time(void *ctx, double *v)
{
    stat_fields_t st;
    char line[256];
    unsigned long long btime = 0;
    int found = 0;
    (void)ctx;
    if (read_stat(&st) < 0)
        return -1;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1) {
            found = 1;
            break;
        }
    fclose(f);
    if (!found)
        return -1;
    *v = (double)btime + (double)st.starttime / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

void fx_metrics_register_process(fx_registry_t *r)
{
    fx_counter_func(r, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                    cpu_seconds, NULL);
    fx_gauge_func(r, "process_resident_memory_bytes", "Resident memory size in bytes.",
                  resident_bytes, NULL);
    fx_gauge_func(r, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                  virtual_bytes, NULL);
    fx_gauge_func(r, "process_open_fds", "Number of open file descriptors.", open_fds, NULL);
    fx_gauge_func(r, "process_max_fds", "Maximum number of open file descriptors.", max_fds, NULL);
    fx_gauge_func(r, "process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.", start_time, NULL);
}
