/*
 * buildinfo.c - version, revision and branch baked in at compile time. The
 * Makefile passes -DFX_VERSION/-DFX_REVISION/-DFX_BRANCH to this file only,
 * so a new commit recompiles one small file.
 *
 * JSON shape of Pyroscope's /api/v1/status/buildinfo (grpc-gateway,
 * camelCase). buildUser and buildDate are empty as in Pyroscope's own
 * builds; goVersion is empty because there is no Go runtime (the C compiler
 * is not a Go version, and clients that parse it must not be misled).
 */
#include <string.h>

#include "http/admin.h"

#ifndef FX_VERSION
#define FX_VERSION "unknown"
#endif
#ifndef FX_REVISION
#define FX_REVISION "unknown"
#endif
#ifndef FX_BRANCH
#define FX_BRANCH "unknown"
#endif

#define FX_STR2(x) #x
#define FX_STR(x) FX_STR2(x)

static const fx_buildinfo_t info = {
    .version = FX_VERSION,
    .revision = FX_REVISION,
    .branch = FX_BRANCH,
    .compiler = "gcc " FX_STR(__GNUC__) "." FX_STR(__GNUC_MINOR__) "." FX_STR(__GNUC_PATCHLEVEL__),
};

const fx_buildinfo_t *fx_buildinfo(void)
{
    return &info;
}

static void field(fx_buf_t *out, const char *name, const char *value, int last)
{
    fx_buf_json_str(out, name, strlen(name));
    fx_buf_putc(out, ':');
    fx_buf_json_str(out, value, strlen(value));
    if (!last)
        fx_buf_putc(out, ',');
}

void fx_buildinfo_json(fx_buf_t *out)
{
    fx_buf_puts(out, "{\"status\":\"success\",\"data\":{");
    field(out, "version", info.version, 0);
    field(out, "revision", info.revision, 0);
    field(out, "branch", info.branch, 0);
    field(out, "buildUser", "", 0);
    field(out, "buildDate", "", 0);
    field(out, "goVersion", "", 1);
    fx_buf_puts(out, "}}");
}
