/*
 * xml.h - a small, strict XML parser for S3 responses.
 *
 * S3 answers with short documents of nested elements and text (no mixed
 * content that matters, no attributes that matter). This parser builds a
 * tree of elements in an arena and keeps each element's text, entities
 * decoded. It accepts the XML declaration, processing instructions,
 * comments, CDATA, attributes (checked, then ignored) and the five
 * predefined plus numeric character references; it refuses DTDs (so no
 * entity expansion), unknown entities, mismatched or unclosed tags, text
 * outside the root, nesting deeper than 64 and NUL bytes. Namespace
 * prefixes are dropped from element names ("s3:Key" is "Key").
 */
#ifndef FX_OBJSTORE_XML_H
#define FX_OBJSTORE_XML_H

#include <stddef.h>

#include "core/buf.h"
#include "core/core.h"
#include "core/mem.h"

typedef struct fx_xml_node fx_xml_node_t;
struct fx_xml_node {
    const char *name;     /* local name, NUL-terminated */
    const char *text;     /* direct text content, decoded; "" if none */
    size_t text_len;      /* strlen(text): NUL is refused, even as &#0; */
    fx_xml_node_t *child; /* first child element */
    fx_xml_node_t *next;  /* next sibling */
};

/* Parses p[0..n) into a tree allocated from a (freed with the arena).
 * FX_EINVAL with the byte offset and what was wrong. */
int fx_xml_parse(const char *p, size_t n, fx_arena_t *a, fx_xml_node_t **root, fx_err_t *err);

/* First child element named name, or NULL. */
const fx_xml_node_t *fx_xml_child(const fx_xml_node_t *n, const char *name);
/* Its text, or NULL if there is no such child. */
const char *fx_xml_child_text(const fx_xml_node_t *n, const char *name);

/* Appends s with & < > " ' escaped, for building request bodies. */
void fx_xml_escape(const char *s, fx_buf_t *out);

#endif
