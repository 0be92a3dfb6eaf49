/* What the two walks of the compiled schema nodes share: ``_check.c`` walks parsed Python documents, the store's
 * ``_fast.c`` yyjson values; both load the node tuples ``precheck.py`` builds and combine their answers the same way.
 *
 * Include after Python.h, with INVALID, VALID and UNKNOWN defined (errors are negative), VALUE defined as the value
 * type, and ``static int eval(int id, VALUE x, int t, int depth);`` declared. */
#ifndef LINEAGELAB_NODES_H
#define LINEAGELAB_NODES_H

/* The links of a node to others (node ids, -1 for none): items 4-13 of its tuple. */
typedef struct {
    int addl, items, not_, if_, then_, else_, ref;
    Py_ssize_t n_all, n_any, n_one;
    int *all, *any, *one;
} Links;

static int node_id(PyObject *o, Py_ssize_t count, int *out) {
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < -1 || v >= count) {
        PyErr_Format(PyExc_ValueError, "node id %ld out of range", v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int id_array(PyObject *t, Py_ssize_t count, int **out, Py_ssize_t *n) {
    if (!PyTuple_Check(t)) {
        PyErr_SetString(PyExc_TypeError, "expected a tuple of node ids");
        return -1;
    }
    *n = PyTuple_GET_SIZE(t);
    *out = PyMem_Calloc(*n ? *n : 1, sizeof(int));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < *n; i++)
        if (node_id(PyTuple_GET_ITEM(t, i), count, &(*out)[i]) < 0) return -1;
    return 0;
}

static int load_links(Links *l, PyObject *t, Py_ssize_t count) {
#define ITEM(i) PyTuple_GET_ITEM(t, i)
    if (node_id(ITEM(4), count, &l->addl) < 0 || node_id(ITEM(5), count, &l->items) < 0) return -1;
    if (id_array(ITEM(6), count, &l->all, &l->n_all) < 0 || id_array(ITEM(7), count, &l->any, &l->n_any) < 0 ||
        id_array(ITEM(8), count, &l->one, &l->n_one) < 0)
        return -1;
    if (node_id(ITEM(9), count, &l->not_) < 0 || node_id(ITEM(10), count, &l->if_) < 0 ||
        node_id(ITEM(11), count, &l->then_) < 0 || node_id(ITEM(12), count, &l->else_) < 0 ||
        node_id(ITEM(13), count, &l->ref) < 0)
        return -1;
#undef ITEM
    return 0;
}

static void free_links(Links *l) {
    PyMem_Free(l->all);
    PyMem_Free(l->any);
    PyMem_Free(l->one);
}

/* Combine a conjunct's answer into ``acc``; returns at once on INVALID (settles the whole) or an error. */
#define AND(acc, r)                              \
    do {                                         \
        int r_ = (r);                            \
        if (r_ < 0) return r_;                   \
        if (r_ == INVALID) return INVALID;       \
        if (r_ == UNKNOWN) acc = UNKNOWN;        \
    } while (0)

/* $ref, allOf, anyOf, oneOf, not and if/then/else, in three-valued logic: UNKNOWN stays UNKNOWN through every one
 * of them, so that no negation turns a doubt into a pass. ``acc`` is the node's answer so far. */
static int combine(const Links *l, VALUE x, int t, int depth, int acc) {
    if (l->ref >= 0) AND(acc, eval(l->ref, x, t, depth));
    for (Py_ssize_t i = 0; i < l->n_all; i++) AND(acc, eval(l->all[i], x, t, depth));
    if (l->n_any) {
        int any = INVALID;
        for (Py_ssize_t i = 0; i < l->n_any && any != VALID; i++) {
            int r = eval(l->any[i], x, t, depth);
            if (r < 0) return r;
            if (r == VALID || r == UNKNOWN) any = r;
        }
        AND(acc, any);
    }
    if (l->n_one) {
        int valid = 0, unknown = 0;
        for (Py_ssize_t i = 0; i < l->n_one; i++) {
            int r = eval(l->one[i], x, t, depth);
            if (r < 0) return r;
            valid += r == VALID;
            unknown += r == UNKNOWN;
        }
        AND(acc, valid > 1 ? INVALID : unknown ? UNKNOWN : valid == 1 ? VALID : INVALID);
    }
    if (l->not_ >= 0) {
        int r = eval(l->not_, x, t, depth);
        if (r < 0) return r;
        AND(acc, r == VALID ? INVALID : r == INVALID ? VALID : UNKNOWN);
    }
    if (l->if_ >= 0 && (l->then_ >= 0 || l->else_ >= 0)) {
        int c = eval(l->if_, x, t, depth);
        if (c < 0) return c;
        if (c == UNKNOWN) acc = UNKNOWN;
        else if (c == VALID && l->then_ >= 0) AND(acc, eval(l->then_, x, t, depth));
        else if (c == INVALID && l->else_ >= 0) AND(acc, eval(l->else_, x, t, depth));
    }
    return acc;
}
#endif
