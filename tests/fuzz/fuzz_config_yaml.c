/*
 * fuzz_config_yaml.c - the YAML config parser (libcommon/config) with the
 * process and limits tables registered, as fornax registers them.
 *
 * Any input must give FX_OK or a clear error, never a crash or a leak. When
 * it loads, the effective-config dump must itself load and dump to the same
 * text (what /api/v1/status/config serves is valid config).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/process.h"
#include "limits/limits.h"

typedef struct env {
    fx_config_t *cfg;
    fx_process_opts_t p;
    fx_limits_registry_t *lim;
} env_t;

static void env_init(env_t *e)
{
    e->cfg = fx_config_new();
    e->lim = fx_limits_registry_new();
    fx_process_opts_register(e->cfg, &e->p);
    fx_limits_register(e->cfg, e->lim);
}

static void env_done(env_t *e)
{
    fx_config_free(e->cfg);
    fx_limits_registry_free(e->lim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    env_t a, b;
    fx_err_t err = {0};

    env_init(&a);
    if (fx_config_load_yaml(a.cfg, (const char *)data, size, "fuzz.yaml", &err) == FX_OK) {
        fx_buf_t d1 = FX_BUF_INIT, d2 = FX_BUF_INIT;
        fx_config_dump(a.cfg, FX_CONFIG_DUMP_ALL, &d1);
        env_init(&b);
        if (fx_config_load_yaml(b.cfg, (const char *)d1.data, d1.len, "dump.yaml", &err) != FX_OK) {
            fprintf(stderr, "dump does not load: %s\n%.*s\n", err.msg, (int)d1.len, d1.data);
            abort();
        }
        fx_config_dump(b.cfg, FX_CONFIG_DUMP_ALL, &d2);
        if (d1.len != d2.len || memcmp(d1.data, d2.data, d1.len) != 0) {
            fprintf(stderr, "dump changed on reload:\n%.*s\n---\n%.*s\n", (int)d1.len, d1.data,
                    (int)d2.len, d2.data);
            abort();
        }
        env_done(&b);
        fx_buf_free(&d1);
        fx_buf_free(&d2);
    } else if (!err.msg[0]) {
        abort(); /* every failure must say why */
    }
    env_done(&a);
    return 0;
}
