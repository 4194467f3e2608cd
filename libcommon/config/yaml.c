/*
 * yaml.c - libyaml events -> fx_yaml_node_t tree (see yaml.h for the rules).
 */
#include "config/yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct frame {
    fx_yaml_node_t *node;
    fx_yaml_node_t *tail;
    const char *key; /* MAP: key read, value pending */
    int key_line;
} frame_t;

typedef struct builder {
    fx_yaml_doc_t *doc;
    frame_t stack[FX_YAML_MAX_DEPTH];
    int depth;
    size_t nodes;
} builder_t;

static int is_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = (const char *)ev->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static fx_yaml_node_t *new_node(builder_t *b, fx_yaml_type_t t, int line)
{
    fx_yaml_node_t *n = fx_arena_calloc(&b->doc->arena, sizeof *n);
    n->type = t;
    n->line = line;
    return n;
}

/* Attaches n to the open container (or makes it the root). */
static int add(builder_t *b, fx_yaml_node_t *n, fx_err_t *err)
{
    if (++b->nodes > FX_YAML_MAX_NODES)
        return fx_err_set(err, FX_EINVAL, "%s:%d: more than %d YAML nodes", b->doc->name,
                          n->line, FX_YAML_MAX_NODES);
    if (b->depth == 0) {
        b->doc->root = n;
        return FX_OK;
    }
    frame_t *f = &b->stack[b->depth - 1];
    if (f->node->type == FX_YAML_MAP) {
        n->key = f->key;
        n->key_line = f->key_line;
        f->key = NULL;
    }
    if (++f->node->n > FX_YAML_MAX_CHILDREN)
        return fx_err_set(err, FX_EINVAL, "%s:%d: more than %d entries in one map or sequence",
                          b->doc->name, n->line, FX_YAML_MAX_CHILDREN);
    if (f->tail)
        f->tail->next = n;
    else
        f->node->child = n;
    f->tail = n;
    return FX_OK;
}

/* True when the open container is a map waiting for a key. */
static int wants_key(const builder_t *b)
{
    if (b->depth == 0)
        return 0;
    const frame_t *f = &b->stack[b->depth - 1];
    return f->node->type == FX_YAML_MAP && !f->key;
}

static int set_key(builder_t *b, const yaml_event_t *ev, int line, fx_err_t *err)
{
    frame_t *f = &b->stack[b->depth - 1];
    const char *k = (const char *)ev->data.scalar.value;
    if (is_null(ev))
        return fx_err_set(err, FX_EINVAL, "%s:%d: empty map key", b->doc->name, line);
    for (const fx_yaml_node_t *c = f->node->child; c; c = c->next)
        if (strcmp(c->key, k) == 0)
            return fx_err_set(err, FX_EINVAL, "%s:%d: duplicate key \"%s\" (first at line %d)",
                              b->doc->name, line, k, c->key_line);
    f->key = fx_arena_strndup(&b->doc->arena, k, ev->data.scalar.length);
    f->key_line = line;
    return FX_OK;
}

static int handle(builder_t *b, const yaml_event_t *ev, int *docs, fx_err_t *err)
{
    int line = (int)ev->start_mark.line + 1;
    fx_yaml_node_t *n;
    int rc;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*docs > 1)
            return fx_err_set(err, FX_EINVAL,
                              "%s:%d: a second YAML document; put all settings in one",
                              b->doc->name, line);
        return FX_OK;
    case YAML_ALIAS_EVENT:
        return fx_err_set(err, FX_EINVAL, "%s:%d: YAML aliases (*%s) are not supported",
                          b->doc->name, line, (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        if (wants_key(b))
            return set_key(b, ev, line, err);
        n = new_node(b, is_null(ev) ? FX_YAML_NULL : FX_YAML_SCALAR, line);
        n->str = fx_arena_strndup(&b->doc->arena, (const char *)ev->data.scalar.value,
                                  ev->data.scalar.length);
        n->len = ev->data.scalar.length;
        return add(b, n, err);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (wants_key(b))
            return fx_err_set(err, FX_EINVAL, "%s:%d: a map key must be a plain value",
                              b->doc->name, line);
        if (b->depth == FX_YAML_MAX_DEPTH)
            return fx_err_set(err, FX_EINVAL, "%s:%d: nesting deeper than %d levels",
                              b->doc->name, line, FX_YAML_MAX_DEPTH);
        n = new_node(b, ev->type == YAML_MAPPING_START_EVENT ? FX_YAML_MAP : FX_YAML_SEQ, line);
        if ((rc = add(b, n, err)) != FX_OK)
            return rc;
        b->stack[b->depth++] = (frame_t){n, NULL, NULL, 0};
        return FX_OK;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        FX_ASSERT(b->depth > 0);
        b->depth--;
        return FX_OK;
    default:
        return FX_OK;
    }
}

int fx_yaml_parse(const char *text, size_t len, const char *name, fx_yaml_doc_t *doc,
                  fx_err_t *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    builder_t b = {.doc = doc};
    int docs = 0, rc = FX_OK, done = 0;

    fx_arena_init(&doc->arena);
    doc->name = fx_arena_strdup(&doc->arena, name ? name : "config");
    doc->root = NULL;
    if (!yaml_parser_initialize(&parser))
        FX_PANIC("yaml_parser_initialize: out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done && rc == FX_OK) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = fx_err_set(err, FX_EINVAL, "%s:%d:%d: invalid YAML: %s%s%s", doc->name,
                            (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "syntax error",
                            parser.context ? " " : "", parser.context ? parser.context : "");
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = handle(&b, &ev, &docs, err);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (rc != FX_OK) {
        fx_arena_free(&doc->arena);
        doc->root = NULL;
        return rc;
    }
    if (!doc->root)
        doc->root = new_node(&b, FX_YAML_NULL, 1);
    return FX_OK;
}

int fx_yaml_parse_file(const char *path, fx_yaml_doc_t *doc, fx_err_t *err)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc;

    if (!f)
        return fx_err_set(err, FX_EINVAL, "cannot open config file %s: %s", path,
                          strerror(errno));
    for (;;) {
        FX_GROW(text, cap, len + 65536);
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (len > FX_YAML_MAX_FILE) {
            rc = fx_err_set(err, FX_EINVAL, "config file %s is larger than %u bytes", path,
                            FX_YAML_MAX_FILE);
            goto out;
        }
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        rc = fx_err_set(err, FX_EIO, "cannot read config file %s", path);
        goto out;
    }
    rc = fx_yaml_parse(text, len, path, doc, err);
out:
    fclose(f);
    free(text);
    return rc;
}

void fx_yaml_free(fx_yaml_doc_t *doc)
{
    fx_arena_free(&doc->arena);
    doc->root = NULL;
}

const fx_yaml_node_t *fx_yaml_get(const fx_yaml_node_t *map, const char *key)
{
    if (!map || map->type != FX_YAML_MAP)
        return NULL;
    for (const fx_yaml_node_t *c = map->child; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

const char *fx_yaml_type_name(fx_yaml_type_t t)
{
    switch (t) {
    case FX_YAML_NULL: return "null";
    case FX_YAML_SCALAR: return "scalar";
    case FX_YAML_MAP: return "map";
    case FX_YAML_SEQ: return "sequence";
    }
    return "?";
}
