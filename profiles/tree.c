/* YAML → tp_node tree with libyaml's event parser, bounded against hostile input. */
#include "profiles/tree.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/tp_util.h"

#define TREE_MAX_DEPTH 64
#define TREE_MAX_NODES 20000
#define TREE_MAX_SCALAR 65536
#define TREE_MAX_ANCHORS 256

typedef struct {
    char *name;
    tp_node *node;
} anchor;

typedef struct {
    yaml_parser_t parser;
    const char *file;
    size_t nodes;
    anchor anchors[TREE_MAX_ANCHORS];
    size_t n_anchors;
    tp_error *err;
} parse_ctx;

void tp_tree_free(tp_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        tp_tree_free(n->items[i]);
    free(n->items);
    free(n->key);
    free(n->value);
    free(n);
}

static tp_node *node_new(tp_node_kind kind, const char *file, int line, int col)
{
    tp_node *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = kind;
        n->file = file;
        n->line = line;
        n->col = col;
    }
    return n;
}

static int node_append(tp_node *parent, tp_node *child)
{
    tp_node **items = realloc(parent->items, (parent->n + 1) * sizeof(*items));
    if (!items)
        return TP_ENOMEM;
    items[parent->n++] = child;
    parent->items = items;
    return 0;
}

/* Put node into map in the place of old (which is freed), or at the end when old is NULL.
 * TP_ENOMEM leaves map as it was and node the caller's. */
static int node_put(tp_node *map, tp_node *old, tp_node *node)
{
    if (!old)
        return node_append(map, node);
    for (size_t i = 0; i < map->n; i++)
        if (map->items[i] == old)
            map->items[i] = node;
    tp_tree_free(old);
    return 0;
}

static tp_node *node_clone(const tp_node *n, size_t *budget)
{
    if (*budget == 0)
        return NULL;
    (*budget)--;
    tp_node *c = node_new(n->kind, n->file, n->line, n->col);
    if (!c)
        return NULL;
    c->quoted = n->quoted;
    c->kline = n->kline;
    c->kcol = n->kcol;
    if ((n->key && !(c->key = tp_strdup(n->key))) ||
        (n->value && !(c->value = tp_strdup(n->value)))) {
        tp_tree_free(c);
        return NULL;
    }
    for (size_t i = 0; i < n->n; i++) {
        tp_node *ci = node_clone(n->items[i], budget);
        if (!ci || node_append(c, ci) < 0) {
            tp_tree_free(ci);
            tp_tree_free(c);
            return NULL;
        }
    }
    return c;
}

static int parse_fail(parse_ctx *ctx, int line, int col, const char *what)
{
    return tp_error_set(ctx->err, TP_ECONFIG, 0, "%s:%d:%d: %s", ctx->file, line, col, what);
}

static int parse_node(parse_ctx *ctx, yaml_event_t *ev, int depth, tp_node **out);

static int next_event(parse_ctx *ctx, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&ctx->parser, ev)) {
        int line = (int)ctx->parser.problem_mark.line + 1;
        int col = (int)ctx->parser.problem_mark.column + 1;
        char msg[512];
        snprintf(msg, sizeof(msg), "YAML syntax error: %s%s%s",
                 ctx->parser.problem ? ctx->parser.problem : "unknown",
                 ctx->parser.context ? " " : "", ctx->parser.context ? ctx->parser.context : "");
        return parse_fail(ctx, line, col, msg);
    }
    return 0;
}

static int remember_anchor(parse_ctx *ctx, const yaml_char_t *name, tp_node *n)
{
    if (!name)
        return 0;
    if (ctx->n_anchors >= TREE_MAX_ANCHORS)
        return parse_fail(ctx, n->line, n->col, "too many YAML anchors");
    ctx->anchors[ctx->n_anchors].name = tp_strdup((const char *)name);
    ctx->anchors[ctx->n_anchors].node = n;
    ctx->n_anchors++;
    return 0;
}

static int parse_children(parse_ctx *ctx, tp_node *parent, int depth, yaml_event_type_t end)
{
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(ctx, &ev);
        if (rc < 0)
            return rc;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return 0;
        }
        char *key = NULL;
        int kline = (int)ev.start_mark.line + 1, kcol = (int)ev.start_mark.column + 1;
        if (parent->kind == TP_NODE_MAP) {
            if (ev.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&ev);
                return parse_fail(ctx, kline, kcol, "map keys must be plain names");
            }
            key = tp_strdup((const char *)ev.data.scalar.value);
            yaml_event_delete(&ev);
            for (size_t i = 0; key && i < parent->n; i++)
                if (!strcmp(parent->items[i]->key, key)) {
                    free(key);
                    return parse_fail(ctx, kline, kcol, "duplicate key");
                }
            rc = next_event(ctx, &ev);
            if (rc < 0) {
                free(key);
                return rc;
            }
        }
        tp_node *child = NULL;
        rc = parse_node(ctx, &ev, depth + 1, &child);
        yaml_event_delete(&ev);
        if (rc < 0) {
            free(key);
            return rc;
        }
        if (key) {
            child->key = key;
            child->kline = kline;
            child->kcol = kcol;
        }
        if (node_append(parent, child) < 0) {
            tp_tree_free(child);
            return tp_error_set(ctx->err, TP_ENOMEM, 0, "out of memory");
        }
    }
}

static int parse_node(parse_ctx *ctx, yaml_event_t *ev, int depth, tp_node **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    if (depth > TREE_MAX_DEPTH)
        return parse_fail(ctx, line, col, "nesting deeper than 64 levels");
    if (++ctx->nodes > TREE_MAX_NODES)
        return parse_fail(ctx, line, col, "too many YAML nodes (alias bomb?)");
    tp_node *n = NULL;
    int rc = 0;
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (size_t i = 0; i < ctx->n_anchors; i++)
            if (ctx->anchors[i].name && !strcmp(ctx->anchors[i].name, name)) {
                size_t budget = TREE_MAX_NODES - ctx->nodes;
                n = node_clone(ctx->anchors[i].node, &budget);
                if (!n)
                    return parse_fail(ctx, line, col, "too many YAML nodes (alias bomb?)");
                ctx->nodes = TREE_MAX_NODES - budget;
                free(n->key);
                n->key = NULL;
                *out = n;
                return 0;
            }
        return parse_fail(ctx, line, col, "unknown YAML alias");
    }
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.length > TREE_MAX_SCALAR)
            return parse_fail(ctx, line, col, "value longer than 65536 bytes");
        n = node_new(TP_NODE_SCALAR, ctx->file, line, col);
        if (!n || !(n->value = tp_strdup((const char *)ev->data.scalar.value)))
            goto oom;
        n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        rc = remember_anchor(ctx, ev->data.scalar.anchor, n);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        n = node_new(map ? TP_NODE_MAP : TP_NODE_SEQ, ctx->file, line, col);
        if (!n)
            goto oom;
        const yaml_char_t *anchor_name =
            map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        rc = parse_children(ctx, n, depth, map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT);
        if (rc == 0)
            rc = remember_anchor(ctx, anchor_name, n);
        break;
    }
    default:
        return parse_fail(ctx, line, col, "unexpected YAML event");
    }
    if (rc < 0) {
        tp_tree_free(n);
        return rc;
    }
    *out = n;
    return 0;
oom:
    tp_tree_free(n);
    return tp_error_set(ctx->err, TP_ENOMEM, 0, "out of memory");
}

int tp_tree_parse(tp_node **out, const char *text, size_t len, const char *file, tp_error *err)
{
    parse_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.file = file;
    ctx.err = err;
    *out = NULL;
    if (!yaml_parser_initialize(&ctx.parser))
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    yaml_parser_set_input_string(&ctx.parser, (const unsigned char *)text, len);
    tp_node *root = NULL;
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        rc = next_event(&ctx, &ev);
        if (rc < 0)
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT) {
            if (root) {
                rc = parse_fail(&ctx, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                                "a profile is one YAML document");
                yaml_event_delete(&ev);
                break;
            }
            rc = parse_node(&ctx, &ev, 0, &root);
        }
        yaml_event_delete(&ev);
        if (rc < 0)
            break;
    }
    for (size_t i = 0; i < ctx.n_anchors; i++)
        free(ctx.anchors[i].name);
    yaml_parser_delete(&ctx.parser);
    if (rc < 0) {
        tp_tree_free(root);
        return rc;
    }
    if (!root || (root->kind == TP_NODE_SCALAR && tp_scalar_is_null(root))) {
        tp_tree_free(root);
        root = node_new(TP_NODE_MAP, file, 1, 1);
        if (!root)
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    if (root->kind != TP_NODE_MAP) {
        int line = root->line, col = root->col;
        tp_tree_free(root);
        return tp_error_set(err, TP_ECONFIG, 0, "%s:%d:%d: a profile must be a YAML map", file,
                            line, col);
    }
    *out = root;
    return 0;
}

tp_node *tp_tree_get(const tp_node *map, const char *key)
{
    if (!map || map->kind != TP_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->items[i]->key, key))
            return map->items[i];
    return NULL;
}

bool tp_scalar_is_null(const tp_node *n)
{
    return n->kind == TP_NODE_SCALAR && !n->quoted &&
           (!strcmp(n->value, "") || !strcmp(n->value, "null") || !strcmp(n->value, "~") ||
            !strcmp(n->value, "Null") || !strcmp(n->value, "NULL"));
}

int tp_tree_merge(tp_node *dst, tp_node *src)
{
    for (size_t i = 0; i < src->n; i++) {
        tp_node *s = src->items[i];
        tp_node *d = NULL;
        size_t di = 0;
        for (; di < dst->n; di++)
            if (!strcmp(dst->items[di]->key, s->key)) {
                d = dst->items[di];
                break;
            }
        if (d && d->kind == TP_NODE_MAP && s->kind == TP_NODE_MAP) {
            tp_tree_merge(d, s); /* consumes s */
        } else if (d) {
            tp_tree_free(d);
            dst->items[di] = s;
        } else if (node_append(dst, s) < 0) {
            tp_tree_free(s);
            return TP_ENOMEM;
        }
        src->items[i] = NULL;
    }
    src->n = 0;
    tp_tree_free(src);
    return 0;
}

int tp_tree_set(tp_node *root, const char *path, const char *value, tp_error *err)
{
    tp_node *value_node = NULL;
    if (value[0] == '[' || value[0] == '{') {
        char *doc = tp_asprintf("v: %s\n", value);
        tp_node *tmp = NULL;
        int rc = doc ? tp_tree_parse(&tmp, doc, strlen(doc), "--set", err) : TP_ENOMEM;
        free(doc);
        if (rc < 0)
            return tp_error_set(err, TP_ECONFIG, 0, "--set %s=%s: not a valid YAML value", path,
                                value);
        value_node = tmp->items[0];
        tmp->items[0] = NULL;
        tmp->n = 0;
        tp_tree_free(tmp);
    } else {
        value_node = node_new(TP_NODE_SCALAR, "--set", 1, 1);
        if (!value_node || !(value_node->value = tp_strdup(value))) {
            tp_tree_free(value_node);
            return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
        }
        value_node->quoted = true; /* "--set x=" sets an empty string, not null */
    }
    value_node->file = "--set";
    value_node->line = value_node->col = 1;
    char *copy = tp_strdup(path);
    if (!copy) {
        tp_tree_free(value_node);
        return tp_error_set(err, TP_ENOMEM, 0, "out of memory");
    }
    tp_node *cur = root;
    char *save = NULL;
    char *part = strtok_r(copy, ".", &save);
    int rc = 0;
    while (part) {
        char *next = strtok_r(NULL, ".", &save);
        tp_node *child = tp_tree_get(cur, part);
        if (!next) {
            free(value_node->key);
            value_node->key = tp_strdup(part);
            if (!value_node->key || node_put(cur, child, value_node) < 0)
                rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
            else
                value_node = NULL;
            break;
        }
        if (!child || child->kind != TP_NODE_MAP) {
            tp_node *m = node_new(TP_NODE_MAP, "--set", 1, 1);
            if (!m) {
                rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
                break;
            }
            m->key = tp_strdup(part);
            if (!m->key || node_put(cur, child, m) < 0) {
                tp_tree_free(m);
                rc = tp_error_set(err, TP_ENOMEM, 0, "out of memory");
                break;
            }
            child = m;
        }
        cur = child;
        part = next;
    }
    free(copy);
    tp_tree_free(value_node);
    return rc;
}
