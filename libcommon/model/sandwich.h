/*
 * sandwich.h - the sandwich view of one function: its callers (an inverted
 * tree: the function, then who called it, then who called them...) and its
 * callees (the subtrees below every occurrence, merged).
 *
 * As @grafana/flamegraph's getSandwichLevels and Pyroscope's SandwichFromTree,
 * both halves are built from every occurrence, so a recursive function shows
 * at several depths and a half's root total may count its samples more than
 * once; fx_sandwich_t.total is the value counted once per sample, for
 * comparison with the top table. Each half is a normal tree whose single top
 * frame is the function, ready for the FlameGraph encoder.
 */
#ifndef FX_SANDWICH_H
#define FX_SANDWICH_H

#include <stddef.h>
#include <stdint.h>

#include "model/tree.h"

typedef struct fx_sandwich {
    fx_tree_t callers;  /* function -> caller -> caller's caller ...; totals valid */
    fx_tree_t callees;  /* function -> callees, merged; totals valid */
    int64_t total;      /* samples the function appears in, once per sample */
    int64_t self;       /* samples whose leaf is the function */
} fx_sandwich_t;

/* Builds the sandwich of function name[0..len) of t (totals valid). s is
 * initialised here and owned by the caller: release with fx_sandwich_free.
 * A function absent from t gives two empty trees and zero values. */
void fx_sandwich_build(const fx_tree_t *t, const char *name, size_t len, fx_sandwich_t *s);
void fx_sandwich_free(fx_sandwich_t *s);

#endif
