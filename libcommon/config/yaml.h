/*
 * yaml.h - a YAML document as a small tree with line numbers (libyaml).
 *
 * Configuration files are operator input: the parser accepts the YAML 1.1
 * that config files use (block and flow maps, sequences, all scalar styles,
 * comments) and rejects with a message naming the line: syntax errors,
 * aliases (so no billion-laughs expansion), non-scalar map keys, duplicate
 * keys, more than one document, nesting deeper than FX_YAML_MAX_DEPTH and
 * more than FX_YAML_MAX_NODES nodes.
 *
 * Every node and string lives in the document's arena; fx_yaml_free releases
 * them all at once.
 */
#ifndef FX_CONFIG_YAML_H
#define FX_CONFIG_YAML_H

#include <stddef.h>

#include "core/core.h"
#include "core/mem.h"

#define FX_YAML_MAX_DEPTH 64
#define FX_YAML_MAX_NODES 100000
#define FX_YAML_MAX_CHILDREN 10000
#define FX_YAML_MAX_FILE (16u << 20)

typedef enum fx_yaml_type {
    FX_YAML_NULL,   /* empty, ~ or null (unquoted) */
    FX_YAML_SCALAR,
    FX_YAML_MAP,
    FX_YAML_SEQ,
} fx_yaml_type_t;

typedef struct fx_yaml_node fx_yaml_node_t;

struct fx_yaml_node {
    fx_yaml_type_t type;
    int line;              /* 1-based line where the node starts */
    const char *key;       /* in a map: this value's key; NULL in a sequence */
    int key_line;
    const char *str;       /* SCALAR: the text, NUL-terminated */
    size_t len;
    fx_yaml_node_t *child; /* MAP/SEQ: first child, in document order */
    fx_yaml_node_t *next;  /* next sibling */
    size_t n;              /* MAP/SEQ: number of children */
};

typedef struct fx_yaml_doc {
    fx_arena_t arena;
    const char *name;      /* for messages: the file name (arena copy) */
    fx_yaml_node_t *root;  /* never NULL; FX_YAML_NULL for an empty document */
} fx_yaml_doc_t;

/* Parses len bytes of text; name prefixes error messages ("name:line: ...").
 * On success the caller owns doc (fx_yaml_free); on failure doc holds nothing
 * to free and err says what and where. */
int fx_yaml_parse(const char *text, size_t len, const char *name, fx_yaml_doc_t *doc,
                  fx_err_t *err);
/* Reads and parses a file (at most FX_YAML_MAX_FILE bytes). */
int fx_yaml_parse_file(const char *path, fx_yaml_doc_t *doc, fx_err_t *err);
void fx_yaml_free(fx_yaml_doc_t *doc);

/* The value under key in a MAP node, or NULL. */
const fx_yaml_node_t *fx_yaml_get(const fx_yaml_node_t *map, const char *key);
/* "map", "sequence", "scalar" or "null", for messages. */
const char *fx_yaml_type_name(fx_yaml_type_t t);

#endif
