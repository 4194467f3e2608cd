/*
 * config.h - configuration as tables of options, from defaults, one YAML
 * file and command-line flags.
 *
 * Each module declares its own options struct and a static table of
 * fx_opt_t entries (flag name, YAML key, type, offset in the struct, default,
 * help, bounds) and registers it with fx_config_add(), so a service adds
 * options without touching a central file (nginx directive tables, redis
 * config.c).
 *
 * Precedence, lowest first: defaults < the YAML file named by -config.file <
 * flags. YAML nesting maps to the dots of a flag name and YAML keys use '_'
 * where flags use '-':  `server: {http_listen_port: 4040}` is
 * `-server.http-listen-port=4040`; a table may give an entry another YAML
 * key (limits use Pyroscope's names). Flags: -name=value, -name value,
 * --name=value; a bool flag alone means true. An unknown flag or YAML key, or
 * a value of the wrong type, is an error naming it (with the YAML line).
 *
 * A module may also claim a whole YAML subtree (fx_config_add_section), e.g.
 * the per-tenant `overrides:` map of libcommon/limits.
 *
 * The registry owns the strings it stores into string and list options; they
 * stay valid until the next set of that option or fx_config_free. Load once
 * at startup from one thread; afterwards the option structs are read-only
 * and may be read from any thread.
 */
#ifndef FX_CONFIG_H
#define FX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/yaml.h"
#include "core/buf.h"
#include "core/core.h"

typedef enum fx_opt_type {
    FX_OPT_STRING,   /* char *                                             */
    FX_OPT_INT,      /* int64_t                                            */
    FX_OPT_BOOL,     /* bool: true/false, 1/0, yes/no, on/off               */
    FX_OPT_DOUBLE,   /* double                                             */
    FX_OPT_DURATION, /* int64_t nanoseconds: "1h30m", "10s", "500ms", "7d"  */
    FX_OPT_SIZE,     /* int64_t bytes: "4MiB", "512KB", "1048576"          */
    FX_OPT_LIST,     /* fx_strlist_t: "a,b,c" or a YAML sequence           */
} fx_opt_type_t;

typedef struct fx_strlist {
    char **v;
    size_t n;
} fx_strlist_t;

/* Entry flags. */
#define FX_OPT_RUNTIME 1u   /* may change while running (per-tenant overrides) */
#define FX_OPT_FLAG_ONLY 2u /* no YAML key, not in dumps (e.g. -config.file) */
#define FX_OPT_SECRET 4u    /* STRING: dumps show "********" instead of a set value */

typedef struct fx_opt {
    const char *flag;     /* "server.http-listen-port" (without the dash) */
    const char *yaml;     /* key path under the table's section; NULL = flag
                           * with '-' -> '_' */
    fx_opt_type_t type;
    size_t offset;        /* offsetof the value in the table's struct */
    const char *def;      /* default, in flag syntax */
    const char *help;
    int64_t min, max;     /* INT/DURATION/SIZE/DOUBLE bounds, inclusive, if min < max */
    const char *choices;  /* STRING: allowed values "a|b|c", or NULL */
    unsigned flags;
} fx_opt_t;

typedef struct fx_opt_table {
    const char *group;    /* heading in -help and the docs */
    const char *section;  /* YAML path the keys live under; NULL = top level */
    const fx_opt_t *opts;
    size_t n;
} fx_opt_table_t;

typedef enum fx_config_dump_mode {
    FX_CONFIG_DUMP_ALL,      /* the effective configuration */
    FX_CONFIG_DUMP_DIFF,     /* only what differs from the defaults */
    FX_CONFIG_DUMP_DEFAULTS, /* the defaults */
} fx_config_dump_mode_t;

/* A YAML subtree owned by a module. apply gets the node under the key (any
 * type) and the file name for messages; dump appends YAML lines indented by
 * indent spaces to out (key included) and may append nothing. */
typedef struct fx_config_section {
    const char *key;      /* top-level YAML key, e.g. "overrides" */
    const char *help;     /* one line for the docs */
    int (*apply)(void *ctx, const fx_yaml_node_t *node, const char *file, fx_err_t *err);
    void (*dump)(void *ctx, fx_config_dump_mode_t mode, fx_buf_t *out);
    /* Runs once all sources are applied (end of fx_config_load and
     * fx_config_load_yaml, or fx_config_finish): e.g. to layer per-tenant
     * overrides over the final defaults. May be NULL. */
    int (*finish)(void *ctx, fx_err_t *err);
    void *ctx;
} fx_config_section_t;

typedef struct fx_config fx_config_t;

fx_config_t *fx_config_new(void);
/* Frees the registry and every string it stored in registered structs. */
void fx_config_free(fx_config_t *cfg);
/* How many tables were registered so far: marks for fx_config_forget_tables. */
size_t fx_config_ntables(const fx_config_t *cfg);
/* The structs of the tables registered [from, to) (fx_config_ntables before
 * and after) are about to be freed: frees the strings stored in them now and
 * forgets them, so fx_config_free does not touch them later. Their options
 * must not be set or dumped afterwards. */
void fx_config_forget_tables(fx_config_t *cfg, size_t from, size_t to);

/* Registers table t whose values live in the struct at base, and stores the
 * defaults there at once. t must outlive cfg. A flag or YAML key already
 * registered is a bug (asserts). */
void fx_config_add(fx_config_t *cfg, const fx_opt_table_t *t, void *base);
/* Registers a YAML subtree handler; *sec is copied. */
void fx_config_add_section(fx_config_t *cfg, const fx_config_section_t *sec);

/* Loads the YAML file named by -config.file (if any) and then the flags of
 * argv[1..argc-1]. -help / -h only sets fx_config_help_requested. */
int fx_config_load(fx_config_t *cfg, int argc, char **argv, fx_err_t *err);
/* Applies YAML text (name is used in messages). */
int fx_config_load_yaml(fx_config_t *cfg, const char *text, size_t len, const char *name,
                        fx_err_t *err);
/* Sets one option by flag name from flag syntax text. Call
 * fx_config_finish afterwards if sections depend on it. */
int fx_config_set(fx_config_t *cfg, const char *flag, const char *value, fx_err_t *err);
/* Runs the sections' finish hooks. */
int fx_config_finish(fx_config_t *cfg, fx_err_t *err);

bool fx_config_help_requested(const fx_config_t *cfg);
/* The -config.file value, or "" if none. */
const char *fx_config_file(const fx_config_t *cfg);

/* Appends `-help` text: every flag by group, with type, default and help. */
void fx_config_help(const fx_config_t *cfg, const char *argv0, fx_buf_t *out);
/* Appends a Markdown reference (one table per group). */
void fx_config_markdown(const fx_config_t *cfg, fx_buf_t *out);
/* Appends the configuration as YAML. */
void fx_config_dump(const fx_config_t *cfg, fx_config_dump_mode_t mode, fx_buf_t *out);

/* ---- building blocks for modules with their own YAML (limits) ---------- */

/* Parses text into the option's storage at base. Strings are fx_strdup'd and
 * the previous value freed (so the storage must hold a valid value or
 * NULL). err says what was expected, without naming the option. */
int fx_opt_parse(const fx_opt_t *o, void *base, const char *text, fx_err_t *err);
/* Sets the option from a YAML node (scalar, or sequence for lists). */
int fx_opt_parse_node(const fx_opt_t *o, void *base, const fx_yaml_node_t *node, fx_err_t *err);
/* Appends the value in flag syntax (lists comma-joined). */
void fx_opt_format(const fx_opt_t *o, const void *base, fx_buf_t *out);
/* Appends a YAML scalar for the value, quoted when YAML needs it (lists as
 * a flow sequence). */
void fx_opt_format_yaml(const fx_opt_t *o, const void *base, fx_buf_t *out);
/* Appends s as a YAML scalar, double-quoted when YAML would read it as
 * anything but this string. */
void fx_config_yaml_str(const char *s, fx_buf_t *out);
/* The YAML key of o relative to its table's section, written into buf (n
 * bytes); returns buf. */
const char *fx_opt_yaml_key(const fx_opt_t *o, char *buf, size_t n);
/* "int", "duration", ... for messages and help. */
const char *fx_opt_type_name(fx_opt_type_t t);

/* Applies a YAML map to table t at base, keys relative to the table's
 * section. Sets bit i of *set (if not NULL) for each opts[i] given (t->n <=
 * 64). Unknown keys and bad values fail naming file:line and the key, shown
 * as "<where>.<key>" (where may be NULL). A null node is an empty map. */
int fx_opt_apply_map(const fx_opt_table_t *t, void *base, const fx_yaml_node_t *map,
                     const char *file, const char *where, uint64_t *set, fx_err_t *err);

/* Duration and size text, shared with other parsers. */
int fx_parse_duration(const char *s, int64_t *ns);
void fx_format_duration(int64_t ns, fx_buf_t *out);
int fx_parse_size(const char *s, int64_t *bytes);
void fx_format_size(int64_t bytes, fx_buf_t *out);

#endif
