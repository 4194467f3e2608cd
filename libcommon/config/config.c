/*
 * config.c - the option registry: registration, loading (defaults, YAML
 * file, flags), -help, Markdown reference and YAML dumps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

typedef struct flagent {
    const fx_opt_t *opt;
    void *base;
    const fx_opt_table_t *table;
    char *yaml;     /* full YAML path, NULL for flag-only options */
    char *def;      /* default, formatted in flag syntax */
    char *def_yaml; /* default, formatted as a YAML scalar */
} flagent_t;

typedef struct tabent {
    const fx_opt_table_t *t;
    void *base;
} tabent_t;

struct fx_config {
    tabent_t *tabs;
    size_t ntabs, tabs_cap;
    flagent_t *flags;
    size_t nflags, flags_cap;
    fx__cfgkey_t *keys;
    size_t nkeys, keys_cap;
    fx_config_section_t *secs[32];
    size_t nsecs;
    bool help;
    char *config_file; /* storage of the built-in -config.file */
};

static const fx_opt_t builtin_opts[] = {
    {"config.file", NULL, FX_OPT_STRING, offsetof(fx_config_t, config_file), "",
     "YAML configuration file to load; flags given on the command line override it.", 0, 0,
     NULL, FX_OPT_FLAG_ONLY},
};
static const fx_opt_table_t builtin_table = {"config", NULL, builtin_opts,
                                             FX_ARRAY_LEN(builtin_opts)};

static char *format_dup(const fx_opt_t *o, const void *base, int yaml)
{
    fx_buf_t b = FX_BUF_INIT;
    if (yaml)
        fx_opt_format_yaml(o, base, &b);
    else
        fx_opt_format(o, base, &b);
    fx_buf_cstr(&b);
    return (char *)fx_buf_steal(&b, NULL);
}

fx_config_t *fx_config_new(void)
{
    fx_config_t *cfg = fx_calloc(1, sizeof *cfg);
    fx_config_add(cfg, &builtin_table, cfg);
    return cfg;
}

static void add_key(fx_config_t *cfg, fx__cfgkey_t k)
{
    for (size_t i = 0; i < cfg->nkeys; i++)
        if (strcmp(cfg->keys[i].path, k.path) == 0) {
            fprintf(stderr, "config: YAML key %s registered twice\n", k.path);
            FX_PANIC("duplicate YAML key");
        }
    FX_GROW(cfg->keys, cfg->keys_cap, cfg->nkeys + 1);
    cfg->keys[cfg->nkeys++] = k;
}

void fx_config_add(fx_config_t *cfg, const fx_opt_table_t *t, void *base)
{
    FX_GROW(cfg->tabs, cfg->tabs_cap, cfg->ntabs + 1);
    cfg->tabs[cfg->ntabs++] = (tabent_t){t, base};
    for (size_t i = 0; i < t->n; i++) {
        const fx_opt_t *o = &t->opts[i];
        fx_err_t err = {0};
        char key[256];

        for (size_t j = 0; j < cfg->nflags; j++)
            if (strcmp(cfg->flags[j].opt->flag, o->flag) == 0) {
                fprintf(stderr, "config: flag -%s registered twice\n", o->flag);
                FX_PANIC("duplicate flag");
            }
        /* The storage may hold garbage: clear it before the first set. */
        switch (o->type) {
        case FX_OPT_STRING: *(char **)((char *)base + o->offset) = NULL; break;
        case FX_OPT_LIST:
            *(fx_strlist_t *)((char *)base + o->offset) = (fx_strlist_t){0};
            break;
        default: break;
        }
        if (fx_opt_parse(o, base, o->def ? o->def : "", &err) != FX_OK) {
            fprintf(stderr, "config: default of -%s: %s\n", o->flag, err.msg);
            FX_PANIC("bad option default");
        }
        flagent_t f = {o, base, t, NULL, format_dup(o, base, 0), format_dup(o, base, 1)};
        if (!(o->flags & FX_OPT_FLAG_ONLY)) {
            fx_opt_yaml_key(o, key, sizeof key);
            size_t n = strlen(key) + (t->section ? strlen(t->section) + 2 : 1);
            f.yaml = fx_malloc(n);
            snprintf(f.yaml, n, "%s%s%s", t->section ? t->section : "", t->section ? "." : "",
                     key);
            add_key(cfg, (fx__cfgkey_t){fx_strdup(f.yaml), o, base, NULL, 0});
        }
        FX_GROW(cfg->flags, cfg->flags_cap, cfg->nflags + 1);
        cfg->flags[cfg->nflags++] = f;
    }
}

void fx_config_add_section(fx_config_t *cfg, const fx_config_section_t *sec)
{
    FX_ASSERT(cfg->nsecs < FX_ARRAY_LEN(cfg->secs));
    fx_config_section_t *s = fx_malloc(sizeof *s);
    *s = *sec;
    cfg->secs[cfg->nsecs++] = s;
    add_key(cfg, (fx__cfgkey_t){fx_strdup(sec->key), NULL, NULL, s, 0});
}

/* Frees the string or list value f stored (f->base must still exist). */
static void free_value(flagent_t *f)
{
    void *p = (char *)f->base + f->opt->offset;
    if (f->opt->type == FX_OPT_STRING) {
        free(*(char **)p);
        *(char **)p = NULL;
    } else if (f->opt->type == FX_OPT_LIST) {
        fx_strlist_t *l = p;
        for (size_t j = 0; j < l->n; j++)
            free(l->v[j]);
        free(l->v);
        *l = (fx_strlist_t){0};
    }
}

size_t fx_config_ntables(const fx_config_t *cfg)
{
    return cfg->ntabs;
}

void fx_config_forget_tables(fx_config_t *cfg, size_t from, size_t to)
{
    for (size_t k = from; k < to && k < cfg->ntabs; k++) {
        tabent_t *te = &cfg->tabs[k];
        for (size_t i = 0; te->base && i < cfg->nflags; i++) {
            flagent_t *f = &cfg->flags[i];
            if (f->base == te->base && f->table == te->t) {
                free_value(f);
                f->base = NULL;
            }
        }
        te->base = NULL;
    }
}

void fx_config_free(fx_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nflags; i++) {
        flagent_t *f = &cfg->flags[i];
        if (f->base)
            free_value(f);
        free(f->yaml);
        free(f->def);
        free(f->def_yaml);
    }
    for (size_t i = 0; i < cfg->nkeys; i++)
        free(cfg->keys[i].path);
    for (size_t i = 0; i < cfg->nsecs; i++)
        free(cfg->secs[i]);
    free(cfg->keys);
    free(cfg->flags);
    free(cfg->tabs);
    free(cfg);
}

/* ---- loading ---------------------------------------------------------------- */

static flagent_t *find_flag(const fx_config_t *cfg, const char *name, size_t len)
{
    for (size_t i = 0; i < cfg->nflags; i++)
        if (strlen(cfg->flags[i].opt->flag) == len &&
            strncmp(cfg->flags[i].opt->flag, name, len) == 0)
            return &cfg->flags[i];
    return NULL;
}

static int unknown_flag(const fx_config_t *cfg, const char *name, size_t len, fx_err_t *err)
{
    char n[128];
    snprintf(n, sizeof n, "%.*s", (int)FX_MIN(len, sizeof n - 1), name);
    const char **cands = fx_calloc(cfg->nflags, sizeof *cands);
    for (size_t i = 0; i < cfg->nflags; i++)
        cands[i] = cfg->flags[i].opt->flag;
    const char *s = fx__config_suggest(n, cands, cfg->nflags);
    free(cands);
    if (s)
        return fx_err_set(err, FX_EINVAL, "unknown flag -%s (did you mean -%s?); -help lists "
                          "every flag", n, s);
    return fx_err_set(err, FX_EINVAL, "unknown flag -%s; -help lists every flag", n);
}

int fx_config_set(fx_config_t *cfg, const char *flag, const char *value, fx_err_t *err)
{
    flagent_t *f = find_flag(cfg, flag, strlen(flag));
    fx_err_t e = {0};
    if (!f)
        return unknown_flag(cfg, flag, strlen(flag), err);
    if (fx_opt_parse(f->opt, f->base, value, &e) != FX_OK)
        return fx_err_set(err, FX_EINVAL, "flag -%s: %s", flag, e.msg);
    return FX_OK;
}

int fx_config_load_yaml(fx_config_t *cfg, const char *text, size_t len, const char *name,
                        fx_err_t *err)
{
    fx_yaml_doc_t doc;
    int rc = fx_yaml_parse(text, len, name, &doc, err);
    if (rc != FX_OK)
        return rc;
    rc = fx__config_walk(cfg->keys, cfg->nkeys, doc.root, NULL, NULL, doc.name, NULL, err);
    fx_yaml_free(&doc);
    return rc != FX_OK ? rc : fx_config_finish(cfg, err);
}

static int load_file(fx_config_t *cfg, const char *path, fx_err_t *err)
{
    fx_yaml_doc_t doc;
    int rc = fx_yaml_parse_file(path, &doc, err);
    if (rc != FX_OK)
        return rc;
    rc = fx__config_walk(cfg->keys, cfg->nkeys, doc.root, NULL, NULL, doc.name, NULL, err);
    fx_yaml_free(&doc);
    return rc;
}

/* Splits argv[*i] into name and value (value NULL when not given inline).
 * Returns 0, or -1 if the argument is not a flag. */
static int split_flag(const char *a, const char **name, size_t *len, const char **value)
{
    if (a[0] != '-' || a[1] == 0)
        return -1;
    a += a[1] == '-' ? 2 : 1;
    if (!*a || *a == '-' || *a == '=')
        return -1;
    const char *eq = strchr(a, '=');
    *name = a;
    *len = eq ? (size_t)(eq - a) : strlen(a);
    *value = eq ? eq + 1 : NULL;
    return 0;
}

int fx_config_load(fx_config_t *cfg, int argc, char **argv, fx_err_t *err)
{
    const char *name, *value;
    size_t len;
    int rc;

    /* The file comes first so that every flag overrides it. */
    for (int i = 1; i < argc; i++) {
        if (split_flag(argv[i], &name, &len, &value) != 0)
            continue;
        if (len == 11 && strncmp(name, "config.file", 11) == 0) {
            if (!value && i + 1 < argc)
                value = argv[i + 1];
            if (value && (rc = fx_config_set(cfg, "config.file", value, err)) != FX_OK)
                return rc;
        }
    }
    if (cfg->config_file && cfg->config_file[0] &&
        (rc = load_file(cfg, cfg->config_file, err)) != FX_OK)
        return rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            if (i + 1 < argc)
                return fx_err_set(err, FX_EINVAL, "unexpected argument \"%s\"", argv[i + 1]);
            break;
        }
        if (split_flag(argv[i], &name, &len, &value) != 0)
            return fx_err_set(err, FX_EINVAL,
                              "unexpected argument \"%s\": settings are given as -name=value",
                              argv[i]);
        if ((len == 4 && strncmp(name, "help", 4) == 0) || (len == 1 && name[0] == 'h')) {
            cfg->help = true;
            continue;
        }
        flagent_t *f = find_flag(cfg, name, len);
        if (!f)
            return unknown_flag(cfg, name, len, err);
        if (!value) {
            if (f->opt->type == FX_OPT_BOOL)
                value = "true";
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return fx_err_set(err, FX_EINVAL, "flag -%s needs a value (%s)", f->opt->flag,
                                  fx_opt_type_name(f->opt->type));
        }
        fx_err_t e = {0};
        if (fx_opt_parse(f->opt, f->base, value, &e) != FX_OK)
            return fx_err_set(err, FX_EINVAL, "flag -%s: %s", f->opt->flag, e.msg);
    }
    return fx_config_finish(cfg, err);
}

int fx_config_finish(fx_config_t *cfg, fx_err_t *err)
{
    for (size_t i = 0; i < cfg->nsecs; i++) {
        int rc;
        if (cfg->secs[i]->finish && (rc = cfg->secs[i]->finish(cfg->secs[i]->ctx, err)) != FX_OK)
            return rc;
    }
    return FX_OK;
}

bool fx_config_help_requested(const fx_config_t *cfg)
{
    return cfg->help;
}

const char *fx_config_file(const fx_config_t *cfg)
{
    return cfg->config_file ? cfg->config_file : "";
}

/* ---- help and docs ------------------------------------------------------------ */

static void bound(const fx_opt_t *o, int64_t v, fx_buf_t *out)
{
    if (o->type == FX_OPT_DURATION)
        fx_format_duration(v, out);
    else if (o->type == FX_OPT_SIZE)
        fx_format_size(v, out);
    else
        fx_buf_printf(out, "%lld", (long long)v);
}

static void opt_extra(const flagent_t *f, fx_buf_t *out)
{
    const fx_opt_t *o = f->opt;
    if (o->choices) {
        fx_buf_puts(out, "one of ");
        for (const char *c = o->choices; *c; c++)
            if (*c == '|')
                fx_buf_puts(out, ", ");
            else
                fx_buf_putc(out, (uint8_t)*c);
    }
    if (o->min < o->max) {
        if (o->choices)
            fx_buf_puts(out, "; ");
        if (o->max == INT64_MAX)
            fx_buf_puts(out, ">= ");
        bound(o, o->min, out);
        if (o->max != INT64_MAX) {
            fx_buf_puts(out, "..");
            bound(o, o->max, out);
        }
    }
}

void fx_config_help(const fx_config_t *cfg, const char *argv0, fx_buf_t *out)
{
    fx_buf_printf(out,
                  "Usage: %s [-flag=value ...]\n\n"
                  "Settings come from the defaults, then the YAML file given by -config.file,\n"
                  "then these flags (highest precedence). -help prints this text.\n",
                  argv0 ? argv0 : "fornax");
    for (size_t t = 0; t < cfg->ntabs; t++) {
        const fx_opt_table_t *tab = cfg->tabs[t].t;
        fx_buf_printf(out, "\n%s:\n", tab->group);
        for (size_t i = 0; i < cfg->nflags; i++) {
            const flagent_t *f = &cfg->flags[i];
            if (f->table != tab)
                continue;
            fx_buf_printf(out, "  -%s %s\n      %s", f->opt->flag,
                          fx_opt_type_name(f->opt->type), f->opt->help);
            fx_buf_t extra = FX_BUF_INIT;
            opt_extra(f, &extra);
            if (extra.len)
                fx_buf_printf(out, " (%s)", fx_buf_cstr(&extra));
            fx_buf_free(&extra);
            fx_buf_printf(out, " (default \"%s\")", f->def);
            if (f->yaml)
                fx_buf_printf(out, " [yaml: %s]", f->yaml);
            if (f->opt->flags & FX_OPT_RUNTIME)
                fx_buf_puts(out, " [per-tenant]");
            fx_buf_putc(out, '\n');
        }
    }
    for (size_t s = 0; s < cfg->nsecs; s++)
        fx_buf_printf(out, "\nYAML section %s: (no flags)\n      %s\n", cfg->secs[s]->key,
                      cfg->secs[s]->help ? cfg->secs[s]->help : "");
}

static void md_text(const char *s, fx_buf_t *out)
{
    for (; *s; s++) {
        if (*s == '|')
            fx_buf_puts(out, "\\|");
        else if (*s == '\n')
            fx_buf_putc(out, ' ');
        else
            fx_buf_putc(out, (uint8_t)*s);
    }
}

void fx_config_markdown(const fx_config_t *cfg, fx_buf_t *out)
{
    for (size_t t = 0; t < cfg->ntabs; t++) {
        const fx_opt_table_t *tab = cfg->tabs[t].t;
        fx_buf_printf(out, "### %s\n\n", tab->group);
        fx_buf_puts(out, "| Flag | YAML key | Type | Default | Description |\n"
                         "|---|---|---|---|---|\n");
        for (size_t i = 0; i < cfg->nflags; i++) {
            const flagent_t *f = &cfg->flags[i];
            if (f->table != tab)
                continue;
            fx_buf_printf(out, "| `-%s` | %s%s%s | %s | `%s` | ", f->opt->flag,
                          f->yaml ? "`" : "", f->yaml ? f->yaml : "(flag only)",
                          f->yaml ? "`" : "", fx_opt_type_name(f->opt->type),
                          f->def[0] ? f->def : "\"\"");
            md_text(f->opt->help, out);
            fx_buf_t extra = FX_BUF_INIT;
            opt_extra(f, &extra);
            if (extra.len) {
                fx_buf_puts(out, " (");
                md_text(fx_buf_cstr(&extra), out);
                fx_buf_putc(out, ')');
            }
            fx_buf_free(&extra);
            if (f->opt->flags & FX_OPT_RUNTIME)
                fx_buf_puts(out, " Per-tenant: can be overridden under `overrides:`.");
            fx_buf_puts(out, " |\n");
        }
        fx_buf_putc(out, '\n');
    }
}

/* ---- YAML dump ------------------------------------------------------------------ */

/* The dump nests entries by their YAML path, keeping registration order. */
typedef struct dnode dnode_t;
struct dnode {
    const char *name;
    size_t name_len;
    const flagent_t *f; /* leaf */
    dnode_t *child, *last, *next;
};

static dnode_t *dchild(fx_arena_t *a, dnode_t *parent, const char *name, size_t len)
{
    for (dnode_t *c = parent->child; c; c = c->next)
        if (!c->f && c->name_len == len && strncmp(c->name, name, len) == 0)
            return c;
    dnode_t *c = fx_arena_calloc(a, sizeof *c);
    c->name = name;
    c->name_len = len;
    if (parent->last)
        parent->last->next = c;
    else
        parent->child = c;
    parent->last = c;
    return c;
}

static int leaf_differs(const flagent_t *f)
{
    fx_buf_t b = FX_BUF_INIT;
    fx_opt_format(f->opt, f->base, &b);
    int d = strcmp(fx_buf_cstr(&b), f->def) != 0;
    fx_buf_free(&b);
    return d;
}

/* A secret (a password, a key) that holds a value: dumps mask it, since
 * /api/v1/status/config serves them to anyone who can reach the port. */
static int secret_set(const flagent_t *f)
{
    if (!(f->opt->flags & FX_OPT_SECRET) || f->opt->type != FX_OPT_STRING)
        return 0;
    const char *v = *(char *const *)((const char *)f->base + f->opt->offset);
    return v && *v;
}

static int dvisible(const dnode_t *n, fx_config_dump_mode_t mode)
{
    if (n->f)
        return mode != FX_CONFIG_DUMP_DIFF || leaf_differs(n->f);
    for (const dnode_t *c = n->child; c; c = c->next)
        if (dvisible(c, mode))
            return 1;
    return 0;
}

static void demit(const dnode_t *n, fx_config_dump_mode_t mode, int indent, fx_buf_t *out)
{
    for (const dnode_t *c = n->child; c; c = c->next) {
        if (!dvisible(c, mode))
            continue;
        fx_buf_printf(out, "%*s%.*s:", indent, "", (int)c->name_len, c->name);
        if (c->f) {
            fx_buf_putc(out, ' ');
            if (mode == FX_CONFIG_DUMP_DEFAULTS)
                fx_buf_puts(out, c->f->def_yaml);
            else if (secret_set(c->f))
                fx_buf_puts(out, "\"********\"");
            else
                fx_opt_format_yaml(c->f->opt, c->f->base, out);
            fx_buf_putc(out, '\n');
        } else {
            fx_buf_putc(out, '\n');
            demit(c, mode, indent + 2, out);
        }
    }
}

void fx_config_dump(const fx_config_t *cfg, fx_config_dump_mode_t mode, fx_buf_t *out)
{
    fx_arena_t a;
    dnode_t root = {0};

    fx_arena_init(&a);
    for (size_t i = 0; i < cfg->nflags; i++) {
        const flagent_t *f = &cfg->flags[i];
        if (!f->yaml)
            continue;
        dnode_t *n = &root;
        const char *p = f->yaml;
        for (const char *dot; (dot = strchr(p, '.')); p = dot + 1)
            n = dchild(&a, n, p, (size_t)(dot - p));
        dnode_t *leaf = fx_arena_calloc(&a, sizeof *leaf);
        leaf->name = p;
        leaf->name_len = strlen(p);
        leaf->f = f;
        if (n->last)
            n->last->next = leaf;
        else
            n->child = leaf;
        n->last = leaf;
    }
    demit(&root, mode, 0, out);
    for (size_t s = 0; s < cfg->nsecs; s++)
        if (cfg->secs[s]->dump)
            cfg->secs[s]->dump(cfg->secs[s]->ctx, mode, out);
    fx_arena_free(&a);
}
