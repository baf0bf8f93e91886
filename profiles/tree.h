/* A small YAML tree with source positions: what profiles are merged and validated on. */
#ifndef TP_PROFILE_TREE_H
#define TP_PROFILE_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "tokprep.h"

typedef enum { TP_NODE_SCALAR, TP_NODE_SEQ, TP_NODE_MAP } tp_node_kind;

typedef struct tp_node tp_node;
struct tp_node {
    tp_node_kind kind;
    char *key;    /* within a map */
    char *value;  /* scalars */
    bool quoted;  /* scalar was quoted: never null */
    const char *file; /* owned by the loader's file list */
    int line, col;    /* 1-based position of the value */
    int kline, kcol;  /* position of the key, for map entries */
    tp_node **items;
    size_t n;
};

/* Parse YAML text into a tree. Limits: nesting depth, node count (alias bombs), scalar size. */
int tp_tree_parse(tp_node **out, const char *text, size_t len, const char *file, tp_error *err);
void tp_tree_free(tp_node *n);
tp_node *tp_tree_get(const tp_node *map, const char *key);
/* Deep merge src into dst (maps merge, everything else replaced); src is consumed. */
int tp_tree_merge(tp_node *dst, tp_node *src);
/* Set the value at a dotted path (creating maps), value parsed as YAML flow when it starts
 * with [ or {, else a plain string. */
int tp_tree_set(tp_node *root, const char *path, const char *value, tp_error *err);
bool tp_scalar_is_null(const tp_node *n);

#endif
