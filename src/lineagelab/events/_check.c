/* An accept-only validation of parsed events against the spec's schemas, compiled by ``precheck.py``.
 *
 * Every node answers VALID, INVALID or UNKNOWN. UNKNOWN is whatever this file does not settle exactly (a keyword the
 * compiler did not know, a format string outside the plain forms below, a float where an integer is asked, a value
 * whose type is not one parsed JSON makes); it is sticky through allOf/anyOf/oneOf, ``not`` and ``if``, so a doubt is
 * never negated into a pass. ``validate_event`` accepts only VALID and sends the rest down the reference path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

enum { INVALID = 0, VALID = 1, UNKNOWN = 2, FAILED = -1 };
enum { F_UNKNOWN = 1, F_FALSE = 2, F_ROUTE = 4 };
#include "_formats.h"

#define VALUE PyObject *
static int eval(int id, PyObject *x, int t, int depth);
#include "_nodes.h"

enum { T_NULL = 1, T_BOOL = 2, T_OBJECT = 4, T_ARRAY = 8, T_STRING = 16, T_INTEGER = 32, T_NUMBER = 64 };

typedef struct {
    int flags, types, format;
    Links l;
    Py_ssize_t n_props, n_req, n_dep;
    PyObject **prop_keys, **req, **dep_keys, **dep_vals; /* borrowed from the node tuples */
    int *prop_ids;
    PyObject *prop_set; /* dict: property name -> its index in prop_keys */
    PyObject *enum_, *const_, *minimum;
} Node;

static Node *nodes;
static Py_ssize_t n_nodes;
static PyObject *held;      /* the node tuples and the compiled schemas, kept alive */
static PyObject *route_fn;  /* url -> node id or -1 */
static PyObject *routes;    /* dict url -> int: the memo of route_fn */
static PyObject *s_schemaURL;
#define ROUTES_MAX 10000

static void free_nodes(void) {
    for (Py_ssize_t i = 0; i < n_nodes; i++) {
        Node *n = &nodes[i];
        PyMem_Free(n->prop_keys); PyMem_Free(n->req); PyMem_Free(n->dep_keys); PyMem_Free(n->dep_vals);
        PyMem_Free(n->prop_ids);
        free_links(&n->l);
        Py_XDECREF(n->prop_set);
    }
    PyMem_Free(nodes);
    nodes = NULL;
    n_nodes = 0;
    Py_CLEAR(held);
    Py_CLEAR(route_fn);
    Py_CLEAR(routes);
}

static int format_ok(int format, PyObject *str) {
    if (!PyUnicode_IS_ASCII(str)) return UNKNOWN;
    return format_ascii_ok(format, PyUnicode_1BYTE_DATA(str), PyUnicode_GET_LENGTH(str));
}

/* ---- values ---- */

/* The JSON type of a value parsed JSON makes (exact types only), 0 for anything else. */
static int type_of(PyObject *x) {
    if (PyDict_CheckExact(x)) return T_OBJECT;
    if (PyUnicode_CheckExact(x)) return T_STRING;
    if (PyList_CheckExact(x)) return T_ARRAY;
    if (x == Py_None) return T_NULL;
    if (x == Py_True || x == Py_False) return T_BOOL;
    if (PyLong_CheckExact(x)) return T_INTEGER;
    if (PyFloat_CheckExact(x)) return isfinite(PyFloat_AS_DOUBLE(x)) ? T_NUMBER : 0;
    return 0;
}

/* JSON equality where it is plain (strings, null, booleans, integers, different types); UNKNOWN otherwise. */
static int json_eq(PyObject *a, PyObject *b) {
    int ta = type_of(a), tb = type_of(b);
    if (!ta || !tb) return UNKNOWN;
    int na = ta == T_INTEGER || ta == T_NUMBER, nb = tb == T_INTEGER || tb == T_NUMBER;
    if (na && nb) {
        if (ta != T_INTEGER || tb != T_INTEGER) return UNKNOWN;
        int r = PyObject_RichCompareBool(a, b, Py_EQ);
        return r < 0 ? FAILED : r ? VALID : INVALID;
    }
    if (ta != tb) return INVALID;
    switch (ta) {
    case T_STRING: {
        int r = PyUnicode_Compare(a, b);
        if (r == -1 && PyErr_Occurred()) return FAILED;
        return r == 0 ? VALID : INVALID;
    }
    case T_NULL: return VALID;
    case T_BOOL: return a == b ? VALID : INVALID;
    default: return UNKNOWN;
    }
}

/* ---- the walk ---- */

/* Nesting of eval calls is counted in an argument (``depth``), not a global: route() calls Python, which may let
 * another thread check meanwhile, and a thread-local costs a call per access in a shared library (measured: ~5% of
 * the check). A deeply nested document (or a $ref loop) ends as RecursionError instead of overflowing the C stack. */
#define MAX_DEPTH 2000



static inline int child(int id, PyObject *x, int depth) {
    int t = type_of(x);
    return t ? eval(id, x, t, depth) : UNKNOWN;
}

static int route(PyObject *url) {
    PyObject *hit = PyDict_GetItemWithError(routes, url);
    if (hit != NULL) return (int)PyLong_AsLong(hit);
    if (PyErr_Occurred()) return -2;
    PyObject *r = PyObject_CallOneArg(route_fn, url);
    if (r == NULL) return -2;
    long id = PyLong_AsLong(r);
    if (id == -1 && PyErr_Occurred()) { Py_DECREF(r); return -2; }
    if (id < -1 || id >= n_nodes) { Py_DECREF(r); PyErr_SetString(PyExc_ValueError, "route out of range"); return -2; }
    if (PyDict_GET_SIZE(routes) < ROUTES_MAX && PyDict_SetItem(routes, url, r) < 0) { Py_DECREF(r); return -2; }
    Py_DECREF(r);
    return (int)id;
}

/* A standard facet (a dict whose _schemaURL names one) checked against its own schema. */
static int routed(PyObject *v, int depth) {
    if (!PyDict_CheckExact(v)) return VALID;
    PyObject *url = PyDict_GetItemWithError(v, s_schemaURL);
    if (url == NULL) return PyErr_Occurred() ? FAILED : VALID;
    if (!PyUnicode_CheckExact(url)) return VALID;
    int target = route(url);
    if (target == -2) return FAILED;
    return target >= 0 ? eval(target, v, T_OBJECT, depth) : VALID;
}

static int eval_object(Node *n, PyObject *x, int depth) {
    int acc = VALID;
    for (Py_ssize_t i = 0; i < n->n_req; i++) {
        int has = PyDict_Contains(x, n->req[i]);
        if (has < 0) return FAILED;
        if (!has) return INVALID;
    }
    for (Py_ssize_t i = 0; i < n->n_dep; i++) {
        int has = PyDict_Contains(x, n->dep_keys[i]);
        if (has < 0) return FAILED;
        if (!has) continue;
        PyObject *need = n->dep_vals[i];
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(need); j++) {
            int h = PyDict_Contains(x, PyTuple_GET_ITEM(need, j));
            if (h < 0) return FAILED;
            if (!h) return INVALID;
        }
    }
    int route_all = (n->flags & F_ROUTE) != 0;
    if (n->l.addl >= 0 || route_all || PyDict_GET_SIZE(x) < n->n_props) {
        /* walk the instance: one lookup per member instead of one per declared property */
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(x, &pos, &k, &v)) {
            if (!PyUnicode_CheckExact(k)) return UNKNOWN;
            if (n->n_props || n->l.addl >= 0) {
                PyObject *index = PyDict_GetItemWithError(n->prop_set, k);
                if (index != NULL) {
                    int id = n->prop_ids[PyLong_AS_LONG(index)];
                    if (id >= 0) AND(acc, child(id, v, depth));
                }
                else if (PyErr_Occurred()) return FAILED;
                else if (n->l.addl >= 0) AND(acc, child(n->l.addl, v, depth));
            }
            if (route_all) AND(acc, routed(v, depth));
        }
        return acc;
    }
    /* declared properties looked up: members with keys that are not strings (a dict built in Python) go unseen */
    if (!_PyDict_HasOnlyStringKeys(x)) return UNKNOWN; /* O(1) for a dict of str keys */
    for (Py_ssize_t i = 0; i < n->n_props; i++) {
        PyObject *v = PyDict_GetItemWithError(x, n->prop_keys[i]);
        if (v != NULL) {
            if (n->prop_ids[i] >= 0) AND(acc, child(n->prop_ids[i], v, depth));
        }
        else if (PyErr_Occurred()) return FAILED;
    }
    return acc;
}

static int eval_node(Node *n, PyObject *x, int t, int depth) {
    if (n->flags & F_UNKNOWN) return UNKNOWN;
    if (n->flags & F_FALSE) return INVALID;
    int acc = VALID;
    if (n->types) {
        if (t == T_INTEGER) {
            if (!(n->types & (T_INTEGER | T_NUMBER))) return INVALID;
        } else if (t == T_NUMBER) {
            if (!(n->types & T_NUMBER)) {
                if (!(n->types & T_INTEGER)) return INVALID;
                double d = PyFloat_AS_DOUBLE(x);
                if (d != floor(d)) return INVALID;
                acc = UNKNOWN; /* 1.0 as an integer: left to the reference */
            }
        } else if (!(n->types & t)) {
            return INVALID;
        }
    }
    if (t == T_OBJECT && (n->n_req || n->n_dep || n->n_props || n->l.addl >= 0 || (n->flags & F_ROUTE)))
        AND(acc, eval_object(n, x, depth));
    if (t == T_ARRAY && n->l.items >= 0) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(x); i++) AND(acc, child(n->l.items, PyList_GET_ITEM(x, i), depth));
    }
    if (t == T_STRING && n->format) AND(acc, format_ok(n->format, x));
    if (n->minimum != NULL && (t == T_INTEGER || t == T_NUMBER)) {
        if (t == T_INTEGER && PyLong_CheckExact(n->minimum)) {
            int ge = PyObject_RichCompareBool(x, n->minimum, Py_GE);
            if (ge < 0) return FAILED;
            if (!ge) return INVALID;
        } else {
            acc = UNKNOWN;
        }
    }
    if (n->enum_ != NULL) {
        int found = INVALID;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(n->enum_) && found != VALID; i++) {
            int r = json_eq(x, PyTuple_GET_ITEM(n->enum_, i));
            if (r == FAILED) return FAILED;
            if (r == VALID || r == UNKNOWN) found = r;
        }
        AND(acc, found);
    }
    if (n->const_ != NULL) AND(acc, json_eq(x, n->const_));
    return combine(&n->l, x, t, depth, acc);
}

static int eval(int id, PyObject *x, int t, int depth) {
    if (depth >= MAX_DEPTH) {
        PyErr_SetString(PyExc_RecursionError, "maximum nesting exceeded in the event pre-check");
        return FAILED;
    }
    return eval_node(&nodes[id], x, t, depth + 1);
}

/* ---- configure ---- */



/* Item i of a tuple of pairs, checked to be a 2-tuple whose second item is of the given check (NULL, with TypeError
 * naming ``what``, otherwise). Borrowed. */
static PyObject *pair_at(PyObject *pairs, Py_ssize_t i, int (*second_ok)(PyObject *), const char *what) {
    PyObject *p = PyTuple_GET_ITEM(pairs, i);
    if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(p, 0)) ||
        !second_ok(PyTuple_GET_ITEM(p, 1))) {
        PyErr_Format(PyExc_TypeError, "%s", what);
        return NULL;
    }
    return p;
}

static int is_int(PyObject *o) { return PyLong_Check(o); }
static int is_tuple(PyObject *o) { return PyTuple_Check(o); }

static int load_node(Node *n, PyObject *t) {
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 19) {
        PyErr_SetString(PyExc_TypeError, "a node is a 19-tuple");
        return -1;
    }
#define ITEM(i) PyTuple_GET_ITEM(t, i)
    n->flags = (int)PyLong_AsLong(ITEM(0));
    n->types = (int)PyLong_AsLong(ITEM(1));
    if (PyErr_Occurred()) return -1;
    PyObject *props = ITEM(2), *req = ITEM(3), *dep = ITEM(17);
    if (!PyTuple_Check(props) || !PyTuple_Check(req) || !PyTuple_Check(dep)) {
        PyErr_SetString(PyExc_TypeError, "properties, required and dependentRequired are tuples");
        return -1;
    }
    n->n_props = PyTuple_GET_SIZE(props);
    n->prop_keys = PyMem_Calloc(n->n_props + 1, sizeof(PyObject *));
    n->prop_ids = PyMem_Calloc(n->n_props + 1, sizeof(int));
    n->prop_set = PyDict_New();
    if (!n->prop_keys || !n->prop_ids || !n->prop_set) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < n->n_props; i++) {
        PyObject *p = pair_at(props, i, is_int, "a property is (name, node id)");
        if (p == NULL) return -1;
        n->prop_keys[i] = PyTuple_GET_ITEM(p, 0);
        if (node_id(PyTuple_GET_ITEM(p, 1), n_nodes, &n->prop_ids[i]) < 0) return -1;
        PyObject *index = PyLong_FromSsize_t(i);
        if (index == NULL || PyDict_SetItem(n->prop_set, n->prop_keys[i], index) < 0) { Py_XDECREF(index); return -1; }
        Py_DECREF(index);
    }
    n->n_req = PyTuple_GET_SIZE(req);
    n->req = PyMem_Calloc(n->n_req + 1, sizeof(PyObject *));
    if (!n->req) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < n->n_req; i++) n->req[i] = PyTuple_GET_ITEM(req, i);
    if (load_links(&n->l, t, n_nodes) < 0) return -1;
    n->enum_ = ITEM(14) == Py_None ? NULL : ITEM(14);
    if (n->enum_ != NULL && !PyTuple_Check(n->enum_)) { PyErr_SetString(PyExc_TypeError, "enum is a tuple"); return -1; }
    PyObject *c = ITEM(15);
    if (!PyTuple_Check(c) || PyTuple_GET_SIZE(c) > 1) { PyErr_SetString(PyExc_TypeError, "const is () or (value,)"); return -1; }
    n->const_ = PyTuple_GET_SIZE(c) ? PyTuple_GET_ITEM(c, 0) : NULL;
    n->format = (int)PyLong_AsLong(ITEM(16));
    if (PyErr_Occurred()) return -1;
    n->n_dep = PyTuple_GET_SIZE(dep);
    n->dep_keys = PyMem_Calloc(n->n_dep + 1, sizeof(PyObject *));
    n->dep_vals = PyMem_Calloc(n->n_dep + 1, sizeof(PyObject *));
    if (!n->dep_keys || !n->dep_vals) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < n->n_dep; i++) {
        PyObject *p = pair_at(dep, i, is_tuple, "dependentRequired is ((name, (names...)), ...)");
        if (p == NULL) return -1;
        n->dep_keys[i] = PyTuple_GET_ITEM(p, 0);
        n->dep_vals[i] = PyTuple_GET_ITEM(p, 1);
    }
    n->minimum = ITEM(18) == Py_None ? NULL : ITEM(18);
#undef ITEM
    return 0;
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *list, *fn, *keep;
    if (!PyArg_ParseTuple(args, "O!OO", &PyList_Type, &list, &fn, &keep)) return NULL;
    free_nodes();
    Py_ssize_t count = PyList_GET_SIZE(list);
    nodes = PyMem_Calloc(count ? count : 1, sizeof(Node));
    if (nodes == NULL) return PyErr_NoMemory();
    n_nodes = count;
    held = Py_BuildValue("(OO)", list, keep);
    routes = PyDict_New();
    if (held == NULL || routes == NULL) { free_nodes(); return NULL; }
    Py_INCREF(fn);
    route_fn = fn;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (load_node(&nodes[i], PyList_GET_ITEM(list, i)) < 0) {
            free_nodes();
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *check(PyObject *self, PyObject *args) {
    int id;
    PyObject *doc;
    if (!PyArg_ParseTuple(args, "iO", &id, &doc)) return NULL;
    if (id < 0 || id >= n_nodes) return PyErr_Format(PyExc_ValueError, "no node %d (configure first)", id);
    int r = child(id, doc, 0);
    if (r == FAILED) return NULL;
    return PyLong_FromLong(r);
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "Load the compiled nodes and the facet router."},
    {"check", check, METH_VARARGS, "VALID (1), INVALID (0) or UNKNOWN (2) for a document against a node."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_check", NULL, -1, methods};

PyMODINIT_FUNC PyInit__check(void) {
    init_classes();
    s_schemaURL = PyUnicode_InternFromString("_schemaURL");
    if (s_schemaURL == NULL) return NULL;
    return PyModule_Create(&module);
}
