/* The bulk ingest's fast path: one NDJSON line to its raw row and its facts, without Python documents.
 *
 * A worker's time went to building the parsed event as Python objects (orjson), walking them (validation, facts,
 * content id) and freeing them again: ~2/3 of ~140 us a synthetic event. Here the line is parsed by yyjson into one
 * flat block, checked against the same compiled schema nodes as ``_check.c``, written in canonical form for the
 * content id and the schema hashes, and its facts appended to the same ``Facts`` lists as ``_derive.c`` appends.
 *
 * It is a fast path, never a second opinion: it answers only for an event it settles exactly as the reference path
 * would (valid, every value of a kind it reproduces byte for byte), and returns None for anything else — malformed
 * JSON, an event that is not certainly VALID, a float anywhere, a duplicate key, deep nesting, an odd type where a
 * fact expects text — which ``prepare.py`` then sends down the reference path (orjson, ``validate_event``,
 * ``derive``) unchanged. Tests hold the two paths to the same batches, row for row.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include "yyjson.h"
#include "_rows.h"

enum { INVALID = 0, VALID = 1, UNKNOWN = 2 };
#include "_formats.h"

#define VALUE yyjson_val *
static int eval(int id, yyjson_val *x, int t, int depth);
#include "_nodes.h"

enum { F_UNKNOWN = 1, F_FALSE = 2, F_ROUTE = 4 };
enum { T_NULL = 1, T_BOOL = 2, T_OBJECT = 4, T_ARRAY = 8, T_STRING = 16, T_INTEGER = 32, T_NUMBER = 64 };
/* an answer of the fast path's own steps: done, or "leave this event to the reference path", or a Python error */
enum { OK = 0, FALLBACK = 1, ERROR = -1 };

#define MAX_NESTING 256 /* deeper documents go to the reference path (orjson's own limit is 1024) */
#define MAX_EVAL 2000   /* node visits nested in one walk: $ref chains; beyond, UNKNOWN */

/* ---------------------------------------------------------------------------------------------------------------
 * Compiled schema nodes (the tuples precheck.py builds), with keys and constants as UTF-8
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct {
    const char *s;
    Py_ssize_t n;
} Str;

typedef struct { /* a JSON constant of an enum or const */
    int type;     /* T_* ; 0 for a kind this file does not compare (UNKNOWN) */
    Str s;
    int64_t i;
    int neg;      /* for integers: i is a signed value (else unsigned in u) */
    uint64_t u;
    int b;
} Const;

typedef struct {
    int flags, types, format;
    Links l;
    Py_ssize_t n_props, n_req, n_dep, n_enum;
    Str *prop_keys, *req, *dep_keys;
    Str **dep_vals;
    Py_ssize_t *dep_counts;
    int *prop_ids;
    Const *enum_, *const_;
    int has_min, min_unknown;
    int64_t minimum;
} Node;

static Node *nodes;
static Py_ssize_t n_nodes;
static PyObject *held; /* the node tuples (their strings back the Str pointers) */
static PyObject *route_fn;
static PyObject *roots; /* dict kind -> node id */
static Py_ssize_t max_bytes; /* reader.MAX_EVENT_BYTES: larger events are the reference path's to refuse */

static void free_nodes(void) {
    for (Py_ssize_t i = 0; i < n_nodes; i++) {
        Node *n = &nodes[i];
        PyMem_Free(n->prop_keys); PyMem_Free(n->req); PyMem_Free(n->dep_keys); PyMem_Free(n->dep_counts);
        for (Py_ssize_t j = 0; j < n->n_dep; j++) PyMem_Free(n->dep_vals ? n->dep_vals[j] : NULL);
        PyMem_Free(n->dep_vals);
        PyMem_Free(n->prop_ids);
        free_links(&n->l);
        PyMem_Free(n->enum_); PyMem_Free(n->const_);
    }
    PyMem_Free(nodes);
    nodes = NULL;
    n_nodes = 0;
    Py_CLEAR(held);
    Py_CLEAR(route_fn);
    Py_CLEAR(roots);
}

/* Routes: _schemaURL -> node id, memoized in an open-addressing table of copied strings. */
#define ROUTE_SLOTS 16384
#define ROUTES_MAX 10000
typedef struct {
    char *s;
    size_t n;
    int id;
} Route;
static Route route_table[ROUTE_SLOTS];
static int n_routes;

static void clear_routes(void) {
    for (int i = 0; i < ROUTE_SLOTS; i++) {
        PyMem_Free(route_table[i].s);
        route_table[i].s = NULL;
    }
    n_routes = 0;
}

/* A 64-bit hash of bytes, 8 at a time (the route, string and text caches' slots; not for anything stored). */
static uint64_t hash64(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

/* The node for a facet URL, -1 for none, -2 on a Python error. */
static int route(const char *s, size_t n) {
    size_t slot = hash64(s, n) & (ROUTE_SLOTS - 1);
    while (route_table[slot].s != NULL) {
        if (route_table[slot].n == n && memcmp(route_table[slot].s, s, n) == 0) return route_table[slot].id;
        slot = (slot + 1) & (ROUTE_SLOTS - 1);
    }
    PyObject *url = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    if (url == NULL) return -2;
    PyObject *r = PyObject_CallOneArg(route_fn, url);
    Py_DECREF(url);
    if (r == NULL) return -2;
    long id = PyLong_AsLong(r);
    Py_DECREF(r);
    if (id == -1 && PyErr_Occurred()) return -2;
    if (id < -1 || id >= n_nodes) {
        PyErr_SetString(PyExc_ValueError, "route out of range");
        return -2;
    }
    /* the call ran Python: another thread may have filled slots meanwhile, so probe again before taking one */
    slot = hash64(s, n) & (ROUTE_SLOTS - 1);
    while (route_table[slot].s != NULL) {
        if (route_table[slot].n == n && memcmp(route_table[slot].s, s, n) == 0) return (int)id;
        slot = (slot + 1) & (ROUTE_SLOTS - 1);
    }
    if (n_routes < ROUTES_MAX) {
        char *copy = PyMem_Malloc(n ? n : 1);
        if (copy != NULL) {
            memcpy(copy, s, n);
            route_table[slot] = (Route){copy, n, (int)id};
            n_routes++;
        }
    }
    return (int)id;
}

/* ---------------------------------------------------------------------------------------------------------------
 * The walk (the same logic as _check.c's eval_node, over yyjson values)
 * ------------------------------------------------------------------------------------------------------------- */

static int type_of(yyjson_val *x) {
    switch (yyjson_get_type(x)) {
    case YYJSON_TYPE_OBJ: return T_OBJECT;
    case YYJSON_TYPE_STR: return T_STRING;
    case YYJSON_TYPE_ARR: return T_ARRAY;
    case YYJSON_TYPE_NULL: return T_NULL;
    case YYJSON_TYPE_BOOL: return T_BOOL;
    case YYJSON_TYPE_NUM: return yyjson_is_real(x) ? 0 : T_INTEGER; /* floats never get here (see canonical) */
    default: return 0;
    }
}

static inline int str_eq(yyjson_val *x, const Str *s) {
    return (Py_ssize_t)yyjson_get_len(x) == s->n && memcmp(yyjson_get_str(x), s->s, (size_t)s->n) == 0;
}

static int json_eq(yyjson_val *x, int t, const Const *c) {
    if (!c->type || !t) return UNKNOWN;
    if (c->type != t) return INVALID;
    switch (t) {
    case T_STRING: return str_eq(x, &c->s) ? VALID : INVALID;
    case T_NULL: return VALID;
    case T_BOOL: return (yyjson_get_bool(x) == (bool)c->b) ? VALID : INVALID;
    case T_INTEGER:
        if (yyjson_is_uint(x)) return (!c->neg && yyjson_get_uint(x) == c->u) ? VALID : INVALID;
        return (c->neg && yyjson_get_sint(x) == c->i) ? VALID : INVALID;
    default: return UNKNOWN;
    }
}



static inline int child(int id, yyjson_val *x, int depth) {
    int t = type_of(x);
    return t ? eval(id, x, t, depth) : UNKNOWN;
}

/* Facets found valid, by their schema node and canonical text: the same facet recurs from event to event (a job's
 * schema and column lineage in each run, START and COMPLETE, environment facets), and its text confirmed byte for
 * byte costs a fraction of the walk. A verdict is the schema's over the value, which the canonical text fixes
 * (floats, duplicate keys and deep nesting never get this far). Direct-mapped; copies in malloc'd memory. */
/* A copy of a text remembered in a slot of a direct-mapped cache, under a key that starts with its hash64 (in
 * malloc'd memory: out of it, a text is only not remembered). */
typedef struct {
    uint64_t key;
    size_t len;
    char *text;
} Remembered;

#define REMEMBER_MAX_BYTES (16 * 1024)

static int recalls(const Remembered *r, uint64_t key, const char *text, size_t n) {
    return r->text != NULL && r->key == key && r->len == n && memcmp(r->text, text, n) == 0;
}

static int remember(Remembered *r, uint64_t key, const char *text, size_t n) {
    char *copy = n <= REMEMBER_MAX_BYTES ? malloc(n ? n : 1) : NULL;
    if (copy == NULL) return 0;
    memcpy(copy, text, n);
    free(r->text);
    *r = (Remembered){key, n, copy};
    return 1;
}

static void forget(Remembered *r) {
    free(r->text);
    *r = (Remembered){0, 0, NULL};
}

#define MEMO_SLOTS 512
static Remembered memo[MEMO_SLOTS]; /* keyed by the text and its schema node */
/* the event being checked: its values' canonical spans (set by one_line around its walk, else NULL) */
static struct {
    yyjson_val *base;
    const char *json;
    const uint32_t *spans;
} walk;

static int memo_eval(int id, yyjson_val *v, int depth) {
    if (walk.base == NULL) return eval(id, v, T_OBJECT, depth);
    size_t at = (size_t)(v - walk.base);
    const char *text = walk.json + walk.spans[2 * at];
    size_t n = walk.spans[2 * at + 1] - walk.spans[2 * at];
    uint64_t key = hash64(text, n) ^ ((uint64_t)id * 0x9E3779B97F4A7C15ULL); /* odd multiplier: one key per node */
    Remembered *r = &memo[key & (MEMO_SLOTS - 1)];
    if (recalls(r, key, text, n)) return VALID;
    int verdict = eval(id, v, T_OBJECT, depth);
    if (verdict == VALID) remember(r, key, text, n);
    return verdict;
}

static void forget_verdicts(void) { /* other schema nodes: other verdicts */
    for (size_t i = 0; i < MEMO_SLOTS; i++) forget(&memo[i]);
}

static int routed(yyjson_val *v, int depth) {
    if (!yyjson_is_obj(v)) return VALID;
    yyjson_val *url = yyjson_obj_get(v, "_schemaURL");
    if (url == NULL || !yyjson_is_str(url)) return VALID;
    int target = route(yyjson_get_str(url), yyjson_get_len(url));
    if (target == -2) return -1;
    return target >= 0 ? memo_eval(target, v, depth) : VALID;
}

static inline int has_key(yyjson_val *x, const Str *k) { return yyjson_obj_getn(x, k->s, (size_t)k->n) != NULL; }

static int eval_object(Node *n, yyjson_val *x, int depth) {
    int acc = VALID;
    for (Py_ssize_t i = 0; i < n->n_req; i++)
        if (!has_key(x, &n->req[i])) return INVALID;
    for (Py_ssize_t i = 0; i < n->n_dep; i++) {
        if (!has_key(x, &n->dep_keys[i])) continue;
        for (Py_ssize_t j = 0; j < n->dep_counts[i]; j++)
            if (!has_key(x, &n->dep_vals[i][j])) return INVALID;
    }
    int route_all = (n->flags & F_ROUTE) != 0;
    if (!n->n_props && n->l.addl < 0 && !route_all) return acc;
    yyjson_obj_iter it = yyjson_obj_iter_with(x);
    yyjson_val *k;
    while ((k = yyjson_obj_iter_next(&it)) != NULL) {
        yyjson_val *v = yyjson_obj_iter_get_val(k);
        if (n->n_props || n->l.addl >= 0) {
            Py_ssize_t found = -1;
            for (Py_ssize_t i = 0; i < n->n_props; i++) {
                if (str_eq(k, &n->prop_keys[i])) {
                    found = i;
                    break;
                }
            }
            if (found >= 0) {
                if (n->prop_ids[found] >= 0) AND(acc, child(n->prop_ids[found], v, depth));
            } else if (n->l.addl >= 0) {
                AND(acc, child(n->l.addl, v, depth));
            }
        }
        if (route_all) AND(acc, routed(v, depth));
    }
    return acc;
}

static int eval_node(Node *n, yyjson_val *x, int t, int depth) {
    if (n->flags & F_UNKNOWN) return UNKNOWN;
    if (n->flags & F_FALSE) return INVALID;
    int acc = VALID;
    if (n->types) {
        if (t == T_INTEGER) {
            if (!(n->types & (T_INTEGER | T_NUMBER))) return INVALID;
        } else if (!(n->types & t)) {
            return INVALID;
        }
    }
    if (t == T_OBJECT && (n->n_req || n->n_dep || n->n_props || n->l.addl >= 0 || (n->flags & F_ROUTE)))
        AND(acc, eval_object(n, x, depth));
    if (t == T_ARRAY && n->l.items >= 0) {
        yyjson_arr_iter it = yyjson_arr_iter_with(x);
        yyjson_val *v;
        while ((v = yyjson_arr_iter_next(&it)) != NULL) AND(acc, child(n->l.items, v, depth));
    }
    if (t == T_STRING && n->format)
        AND(acc, format_ascii_ok(n->format, (const unsigned char *)yyjson_get_str(x), (Py_ssize_t)yyjson_get_len(x)));
    if (n->has_min && t == T_INTEGER) {
        if (n->min_unknown) {
            acc = UNKNOWN;
        } else if (yyjson_is_uint(x)) {
            if (n->minimum > 0 && yyjson_get_uint(x) < (uint64_t)n->minimum) return INVALID;
        } else if (yyjson_get_sint(x) < n->minimum) {
            return INVALID;
        }
    }
    if (n->enum_ != NULL) {
        int found = INVALID;
        for (Py_ssize_t i = 0; i < n->n_enum && found != VALID; i++) {
            int r = json_eq(x, t, &n->enum_[i]);
            if (r == VALID || r == UNKNOWN) found = r;
        }
        AND(acc, found);
    }
    if (n->const_ != NULL) AND(acc, json_eq(x, t, n->const_));
    return combine(&n->l, x, t, depth, acc);
}

static int eval(int id, yyjson_val *x, int t, int depth) {
    if (depth >= MAX_EVAL) return UNKNOWN;
    return eval_node(&nodes[id], x, t, depth + 1);
}

/* ---- loading the node tuples ---- */

static int as_str(PyObject *o, Str *out) {
    if (!PyUnicode_CheckExact(o)) {
        PyErr_SetString(PyExc_TypeError, "expected a str");
        return -1;
    }
    out->s = PyUnicode_AsUTF8AndSize(o, &out->n);
    return out->s == NULL ? -1 : 0;
}



static int load_const(PyObject *o, Const *c) {
    memset(c, 0, sizeof(*c));
    if (PyUnicode_CheckExact(o)) {
        c->type = T_STRING;
        return as_str(o, &c->s);
    }
    if (o == Py_None) {
        c->type = T_NULL;
    } else if (PyBool_Check(o)) {
        c->type = T_BOOL;
        c->b = o == Py_True;
    } else if (PyLong_CheckExact(o)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (overflow == 0) {
            c->type = T_INTEGER;
            c->neg = v < 0;
            c->i = v;
            c->u = (uint64_t)v;
        } else if (overflow > 0) {
            unsigned long long u = PyLong_AsUnsignedLongLong(o);
            if (u == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear(); /* beyond 64 bits: compared by no one here (UNKNOWN) */
            } else {
                c->type = T_INTEGER;
                c->u = u;
            }
        }
    }
    return 0; /* anything else: type 0, UNKNOWN when compared */
}

static int load_node(Node *n, PyObject *t) {
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 19) {
        PyErr_SetString(PyExc_TypeError, "a node is a 19-tuple");
        return -1;
    }
#define ITEM(i) PyTuple_GET_ITEM(t, i)
    n->flags = (int)PyLong_AsLong(ITEM(0));
    n->types = (int)PyLong_AsLong(ITEM(1));
    n->format = (int)PyLong_AsLong(ITEM(16));
    if (PyErr_Occurred()) return -1;
    PyObject *props = ITEM(2), *req = ITEM(3), *dep = ITEM(17);
    if (!PyTuple_Check(props) || !PyTuple_Check(req) || !PyTuple_Check(dep)) {
        PyErr_SetString(PyExc_TypeError, "properties, required and dependentRequired are tuples");
        return -1;
    }
    n->n_props = PyTuple_GET_SIZE(props);
    n->n_req = PyTuple_GET_SIZE(req);
    n->n_dep = PyTuple_GET_SIZE(dep);
    n->prop_keys = PyMem_Calloc(n->n_props + 1, sizeof(Str));
    n->prop_ids = PyMem_Calloc(n->n_props + 1, sizeof(int));
    n->req = PyMem_Calloc(n->n_req + 1, sizeof(Str));
    n->dep_keys = PyMem_Calloc(n->n_dep + 1, sizeof(Str));
    n->dep_vals = PyMem_Calloc(n->n_dep + 1, sizeof(Str *));
    n->dep_counts = PyMem_Calloc(n->n_dep + 1, sizeof(Py_ssize_t));
    if (!n->prop_keys || !n->prop_ids || !n->req || !n->dep_keys || !n->dep_vals || !n->dep_counts) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n->n_props; i++) {
        PyObject *p = PyTuple_GET_ITEM(props, i);
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2) {
            PyErr_SetString(PyExc_TypeError, "a property is (name, node id)");
            return -1;
        }
        if (as_str(PyTuple_GET_ITEM(p, 0), &n->prop_keys[i]) < 0 || node_id(PyTuple_GET_ITEM(p, 1), n_nodes, &n->prop_ids[i]) < 0)
            return -1;
    }
    for (Py_ssize_t i = 0; i < n->n_req; i++)
        if (as_str(PyTuple_GET_ITEM(req, i), &n->req[i]) < 0) return -1;
    for (Py_ssize_t i = 0; i < n->n_dep; i++) {
        PyObject *p = PyTuple_GET_ITEM(dep, i);
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(p, 1))) {
            PyErr_SetString(PyExc_TypeError, "dependentRequired is ((name, (names...)), ...)");
            return -1;
        }
        PyObject *names = PyTuple_GET_ITEM(p, 1);
        n->dep_counts[i] = PyTuple_GET_SIZE(names);
        n->dep_vals[i] = PyMem_Calloc(n->dep_counts[i] + 1, sizeof(Str));
        if (n->dep_vals[i] == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        if (as_str(PyTuple_GET_ITEM(p, 0), &n->dep_keys[i]) < 0) return -1;
        for (Py_ssize_t j = 0; j < n->dep_counts[i]; j++)
            if (as_str(PyTuple_GET_ITEM(names, j), &n->dep_vals[i][j]) < 0) return -1;
    }
    if (load_links(&n->l, t, n_nodes) < 0) return -1;
    PyObject *e = ITEM(14);
    if (e != Py_None) {
        if (!PyTuple_Check(e)) {
            PyErr_SetString(PyExc_TypeError, "enum is a tuple");
            return -1;
        }
        n->n_enum = PyTuple_GET_SIZE(e);
        n->enum_ = PyMem_Calloc(n->n_enum + 1, sizeof(Const));
        if (n->enum_ == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n->n_enum; i++)
            if (load_const(PyTuple_GET_ITEM(e, i), &n->enum_[i]) < 0) return -1;
    }
    PyObject *c = ITEM(15);
    if (!PyTuple_Check(c) || PyTuple_GET_SIZE(c) > 1) {
        PyErr_SetString(PyExc_TypeError, "const is () or (value,)");
        return -1;
    }
    if (PyTuple_GET_SIZE(c)) {
        n->const_ = PyMem_Calloc(1, sizeof(Const));
        if (n->const_ == NULL || load_const(PyTuple_GET_ITEM(c, 0), n->const_) < 0) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            return -1;
        }
    }
    PyObject *m = ITEM(18);
    if (m != Py_None) {
        n->has_min = 1;
        int overflow = 0;
        long long v = PyLong_CheckExact(m) ? PyLong_AsLongLongAndOverflow(m, &overflow) : 0;
        if (v == -1 && PyErr_Occurred()) return -1;
        if (!PyLong_CheckExact(m) || overflow) n->min_unknown = 1; /* a float or huge minimum: left to the reference */
        n->minimum = v;
    }
#undef ITEM
    return 0;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Canonical JSON: orjson.dumps(doc[, option=OPT_SORT_KEYS]) byte for byte, for the values this path keeps
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static int grow(Buf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 8192;
    while (cap < b->len + more) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int put(Buf *b, const char *s, size_t n) {
    if (grow(b, n) < 0) return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* orjson's escaping: '"', '\\' and control characters (\b \t \n \f \r, the rest as \u00xx); nothing else. */
static int put_string(Buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (grow(b, n * 6 + 2) < 0) return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\t': *o++ = 't'; break;
        case '\n': *o++ = 'n'; break;
        case '\f': *o++ = 'f'; break;
        case '\r': *o++ = 'r'; break;
        default:
            *o++ = 'u'; *o++ = '0'; *o++ = '0'; *o++ = hex[c >> 4]; *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

/* A parsed string (value or key) in canonical form. yyjson marks a string read without escapes and all ASCII
 * ("NOESC"): then no byte of it needs escaping (a quote, backslash or control character would have been escaped in
 * valid JSON), and it is copied whole. */
static int put_str(Buf *b, yyjson_val *v) {
    size_t n = yyjson_get_len(v);
    if (yyjson_get_subtype(v) != YYJSON_SUBTYPE_NOESC) return put_string(b, yyjson_get_str(v), n);
    if (grow(b, n + 2) < 0) return -1;
    char *o = b->p + b->len;
    o[0] = '"';
    memcpy(o + 1, yyjson_get_str(v), n);
    o[n + 1] = '"';
    b->len += n + 2;
    return 0;
}

typedef struct {
    yyjson_val *key, *val;
} Member;

static inline int member_cmp(const Member *a, const Member *b) {
    size_t nx = yyjson_get_len(a->key), ny = yyjson_get_len(b->key);
    int c = memcmp(yyjson_get_str(a->key), yyjson_get_str(b->key), nx < ny ? nx : ny);
    return c ? c : (nx > ny) - (nx < ny);
}

/* Insertion sort: objects here have a handful of members (qsort's merge sort allocated per call). */
static void sort_members(Member *m, size_t n) {
    for (size_t i = 1; i < n; i++) {
        Member x = m[i];
        size_t j = i;
        while (j > 0 && member_cmp(&m[j - 1], &x) > 0) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = x;
    }
}

typedef struct {
    Buf *b;
    int sorted;        /* keys sorted (OPT_SORT_KEYS); the first, sorted pass also turns away duplicate keys */
    uint32_t *spans;   /* when set: where each value's text starts and ends in b, by its index from base */
    yyjson_val *base;
} Writer;

/* OK, FALLBACK (a float, a duplicate key, nesting beyond MAX_NESTING) or ERROR. */
static int put_value(Writer *w, yyjson_val *v, int depth) {
    Buf *b = w->b;
    size_t start = b->len;
    int r = OK;
    char num[32];
    switch (yyjson_get_type(v)) {
    case YYJSON_TYPE_NULL: r = put(b, "null", 4); break;
    case YYJSON_TYPE_BOOL: r = yyjson_get_bool(v) ? put(b, "true", 4) : put(b, "false", 5); break;
    case YYJSON_TYPE_STR: r = put_str(b, v); break;
    case YYJSON_TYPE_NUM:
        if (yyjson_is_uint(v)) r = put(b, num, (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)yyjson_get_uint(v)));
        else if (yyjson_is_sint(v)) r = put(b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)yyjson_get_sint(v)));
        else r = FALLBACK; /* floats: orjson's shortest form is not reproduced here */
        break;
    case YYJSON_TYPE_ARR: {
        if (depth >= MAX_NESTING) return FALLBACK;
        if (put(b, "[", 1) < 0) return ERROR;
        yyjson_arr_iter it = yyjson_arr_iter_with(v);
        yyjson_val *x;
        int first = 1;
        while (r == OK && (x = yyjson_arr_iter_next(&it)) != NULL) {
            if (!first && put(b, ",", 1) < 0) return ERROR;
            first = 0;
            r = put_value(w, x, depth + 1);
        }
        if (r == OK) r = put(b, "]", 1);
        break;
    }
    case YYJSON_TYPE_OBJ: {
        if (depth >= MAX_NESTING) return FALLBACK;
        size_t n = yyjson_obj_size(v);
        if (!w->sorted) { /* document order, as parsed */
            if (put(b, "{", 1) < 0) return ERROR;
            yyjson_obj_iter it = yyjson_obj_iter_with(v);
            yyjson_val *k;
            int first = 1;
            while (r == OK && (k = yyjson_obj_iter_next(&it)) != NULL) {
                if (!first && put(b, ",", 1) < 0) return ERROR;
                first = 0;
                if (put_str(b, k) < 0 || put(b, ":", 1) < 0) return ERROR;
                r = put_value(w, yyjson_obj_iter_get_val(k), depth + 1);
            }
            if (r == OK) r = put(b, "}", 1);
            break;
        }
        Member stack[32], *m = n <= 32 ? stack : PyMem_Malloc(n * sizeof(Member));
        if (m == NULL) {
            PyErr_NoMemory();
            return ERROR;
        }
        yyjson_obj_iter it = yyjson_obj_iter_with(v);
        yyjson_val *k;
        size_t i = 0;
        while ((k = yyjson_obj_iter_next(&it)) != NULL) m[i++] = (Member){k, yyjson_obj_iter_get_val(k)};
        sort_members(m, n);
        for (i = 1; i < n; i++)
            if (member_cmp(&m[i - 1], &m[i]) == 0) r = FALLBACK; /* orjson keeps the last; left to it */
        if (r == OK && put(b, "{", 1) < 0) r = ERROR;
        for (i = 0; r == OK && i < n; i++) {
            if (i && put(b, ",", 1) < 0) r = ERROR;
            else if (put_str(b, m[i].key) < 0 || put(b, ":", 1) < 0) r = ERROR;
            else r = put_value(w, m[i].val, depth + 1);
        }
        if (r == OK && put(b, "}", 1) < 0) r = ERROR;
        if (m != stack) PyMem_Free(m);
        break;
    }
    default: return FALLBACK;
    }
    if (r < 0) return ERROR;
    if (r == OK && w->spans != NULL) {
        size_t at = (size_t)(v - w->base);
        w->spans[2 * at] = (uint32_t)start;
        w->spans[2 * at + 1] = (uint32_t)b->len;
    }
    return r;
}

static int write_json(Buf *b, yyjson_val *v, int sorted) {
    Writer w = {b, sorted, NULL, NULL};
    b->len = 0;
    return put_value(&w, v, 0);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Facts (derive.py's derive_py and column_lineage.edges, over yyjson values)
 * ------------------------------------------------------------------------------------------------------------- */

static PyObject *stable_id_fn, *masking_fn, *sha256_fn;
static PyObject *s_static, *s_input, *s_output, *s_ref, *s_DIRECT, *s_RunEvent, *s_JobEvent, *s_DatasetEvent,
    *s_true, *s_false, *s_upper, *s_hexdigest;
static PyObject *a_events, *a_datasets, *a_symlinks, *a_lineage_facets, *a_lineage_edges, *a_lineage_inputs,
    *a_lineage_uses, *a_schemas, *a_run_keys, *a_job_ids, *a_ds_ids, *a_schemas_sent;

typedef struct {
    PyObject *events, *datasets, *symlinks, *lineage_facets, *lineage_edges, *lineage_inputs, *lineage_uses, *schemas,
        *run_keys, *job_ids, *ds_ids, *schemas_sent;
    /* what this event added, taken back if it falls back half-way */
    Py_ssize_t mark[6];
    PyObject *added_facets, *added_schemas;
    Buf buf;      /* scratch JSON text */
    Buf doc_json; /* the event's canonical JSON (its content id), and where each value's part of it lies */
    uint32_t *spans;
    size_t spans_cap;
    yyjson_val *base;
} Ctx;

static inline yyjson_val *get(yyjson_val *o, const char *key) { return yyjson_is_obj(o) ? yyjson_obj_get(o, key) : NULL; }
static inline yyjson_val *get_obj(yyjson_val *o, const char *key) {
    yyjson_val *v = get(o, key);
    return yyjson_is_obj(v) ? v : NULL;
}

/* Recently made short ASCII strings, by content: namespaces, names, field names, event types and transformation
 * kinds repeat from row to row, and one object for each spares an allocation, a decode and a free (and its hash is
 * computed once for the sets and dicts it goes into). Direct-mapped: a collision replaces the slot's string. */
#define STR_CACHE_SLOTS 4096
#define STR_CACHE_MAX_LEN 64
static PyObject *str_cache[STR_CACHE_SLOTS];

static PyObject *py_str(yyjson_val *v) {
    const char *s = yyjson_get_str(v);
    size_t n = yyjson_get_len(v);
    if (n > STR_CACHE_MAX_LEN) return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    PyObject **slot = &str_cache[hash64(s, n) & (STR_CACHE_SLOTS - 1)];
    PyObject *hit = *slot;
    if (hit != NULL && (size_t)PyUnicode_GET_LENGTH(hit) == n && memcmp(PyUnicode_DATA(hit), s, n) == 0)
        return Py_NewRef(hit); /* only ASCII strings are kept: their length in characters is their length in bytes */
    PyObject *str = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    if (str != NULL && PyUnicode_IS_ASCII(str)) Py_XSETREF(*slot, Py_NewRef(str));
    return str;
}

/* A str or None for a value a fact keeps as text as it is (``or_none`` of a str); FALLBACK for any other value. */
static int str_or_none(yyjson_val *v, PyObject **out) {
    if (v == NULL || yyjson_is_null(v)) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    if (!yyjson_is_str(v)) return FALLBACK;
    *out = py_str(v);
    return *out ? OK : ERROR;
}

/* Python's str() of a scalar as parsed (f"{value}"): None, True/False, integers, strings; FALLBACK otherwise. */
static int py_text_of(yyjson_val *v, PyObject **out) {
    char num[32];
    if (v == NULL || yyjson_is_null(v)) *out = PyUnicode_FromString("None");
    else if (yyjson_is_bool(v)) *out = PyUnicode_FromString(yyjson_get_bool(v) ? "True" : "False");
    else if (yyjson_is_str(v)) *out = py_str(v);
    else if (yyjson_is_uint(v)) *out = PyUnicode_FromStringAndSize(num, snprintf(num, sizeof num, "%llu", (unsigned long long)yyjson_get_uint(v)));
    else if (yyjson_is_sint(v)) *out = PyUnicode_FromStringAndSize(num, snprintf(num, sizeof num, "%lld", (long long)yyjson_get_sint(v)));
    else return FALLBACK;
    return *out ? OK : ERROR;
}

/* column_lineage._text: JSON text of anything not a string (as orjson.dumps writes it). */
static int text(Ctx *c, yyjson_val *v, PyObject **out) {
    if (v == NULL || yyjson_is_null(v)) {
        *out = Py_NewRef(Py_None);
        return OK;
    }
    if (yyjson_is_str(v)) {
        *out = py_str(v);
        return *out ? OK : ERROR;
    }
    if (yyjson_is_bool(v)) {
        *out = Py_NewRef(yyjson_get_bool(v) ? s_true : s_false);
        return OK;
    }
    int r = write_json(&c->buf, v, 0);
    if (r != OK) return r;
    *out = PyUnicode_DecodeUTF8(c->buf.p, (Py_ssize_t)c->buf.len, "strict");
    return *out ? OK : ERROR;
}

static int nonempty(Ctx *c, yyjson_val *v, PyObject **out) {
    int r = text(c, v, out);
    if (r == OK && *out != Py_None && PyUnicode_GET_LENGTH(*out) == 0) Py_SETREF(*out, Py_NewRef(Py_None));
    return r;
}

static int masking(Ctx *c, yyjson_val *v, PyObject **out) {
    if (v == NULL || yyjson_is_null(v)) {
        *out = Py_NewRef(Py_False);
        return OK;
    }
    if (yyjson_is_bool(v)) {
        *out = Py_NewRef(yyjson_get_bool(v) ? Py_True : Py_False);
        return OK;
    }
    PyObject *t;
    int r = text(c, v, &t);
    if (r != OK) return r;
    *out = PyObject_CallOneArg(masking_fn, t);
    Py_DECREF(t);
    return *out ? OK : ERROR;
}

static inline PyObject *or_none(PyObject *v) { return Py_NewRef(v ? v : Py_None); }

/* identity.stable_id of (namespace, name), remembered by the two string objects (held, so that their addresses
 * cannot be another string's): the string cache above hands out one object per text, so the same dataset named
 * again is found without a call through Python and its lru_cache. Direct-mapped, like the string cache. */
#define ID_CACHE_SLOTS 1024
static struct {
    PyObject *ns, *name, *id;
} id_cache[ID_CACHE_SLOTS];

static PyObject *stable_id(PyObject *ns, PyObject *name) {
    /* the slot by the texts' hashes (kept by each str), not by address: a name made anew each time (too long for
     * the string cache) takes over its own slot, not a new slot each time */
    Py_hash_t hn = PyObject_Hash(ns), hm = PyObject_Hash(name);
    if (hn == -1 || hm == -1) return NULL;
    size_t at = ((size_t)hn * 31 + (size_t)hm) & (ID_CACHE_SLOTS - 1);
    if (id_cache[at].ns == ns && id_cache[at].name == name) return Py_NewRef(id_cache[at].id);
    PyObject *args[2] = {ns, name};
    PyObject *id = PyObject_Vectorcall(stable_id_fn, args, 2, NULL);
    if (id != NULL) {
        Py_XSETREF(id_cache[at].ns, Py_NewRef(ns));
        Py_XSETREF(id_cache[at].name, Py_NewRef(name));
        Py_XSETREF(id_cache[at].id, Py_NewRef(id));
    }
    return id;
}

#define TRY(expr)                    \
    do {                             \
        int r_ = (expr);             \
        if (r_ != OK) {              \
            rc = r_;                 \
            goto done;               \
        }                            \
    } while (0)

/* One input field of a column-lineage facet (column_lineage.edges' inner loop). */
static int edge_rows(Ctx *c, PyObject *fid, PyObject *out_field, yyjson_val *inp, yyjson_val *legacy,
                     yyjson_val *legacy_desc, PyObject *named) {
    if (!yyjson_is_obj(inp)) return OK;
    int rc = OK;
    PyObject *ns = NULL, *name = NULL, *in_ds = NULL, *in_field = NULL, *entry = NULL;
    TRY(text(c, yyjson_obj_get(inp, "namespace"), &ns));
    TRY(text(c, yyjson_obj_get(inp, "name"), &name));
    if (ns == Py_None || name == Py_None) goto done;
    in_ds = stable_id(ns, name);
    if (in_ds == NULL) TRY(ERROR);
    int known = PyDict_Contains(named, in_ds); /* the facet named it for an earlier field: the same entry */
    if (known < 0) TRY(ERROR);
    if (!known) {
        entry = PyTuple_Pack(3, in_ds, ns, name);
        if (entry == NULL || PyDict_SetItem(named, in_ds, entry) < 0) TRY(ERROR);
    }
    TRY(text(c, yyjson_obj_get(inp, "field"), &in_field));
    yyjson_val *steps = yyjson_obj_get(inp, "transformations");
    size_t n = yyjson_is_arr(steps) ? yyjson_arr_size(steps) : 0;
    for (size_t i = 0; i < (n ? n : 1); i++) {
        yyjson_val *t = n ? yyjson_arr_get(steps, i) : NULL;
        PyObject *row[8] = {Py_NewRef(fid), or_none(out_field), Py_NewRef(in_ds), Py_NewRef(in_field)};
        int r = OK;
        if (yyjson_is_obj(t)) {
            if (r == OK) r = text(c, yyjson_obj_get(t, "type"), &row[4]);
            if (r == OK) r = text(c, yyjson_obj_get(t, "subtype"), &row[5]);
            if (r == OK) r = nonempty(c, yyjson_obj_get(t, "description"), &row[6]);
            if (r == OK) r = masking(c, yyjson_obj_get(t, "masking"), &row[7]);
        } else {
            PyObject *legacy_type = NULL;
            r = text(c, legacy, &legacy_type);
            if (r == OK && legacy_type != Py_None && PyUnicode_GET_LENGTH(legacy_type) > 0) {
                row[4] = Py_NewRef(s_DIRECT);
                row[5] = PyObject_CallMethodNoArgs(legacy_type, s_upper);
                if (row[5] == NULL) r = ERROR;
            } else if (r == OK) {
                row[4] = Py_NewRef(Py_None);
                row[5] = Py_NewRef(Py_None);
            }
            Py_XDECREF(legacy_type);
            if (r == OK) r = nonempty(c, legacy_desc, &row[6]);
            if (r == OK) row[7] = Py_NewRef(Py_False);
        }
        if (r != OK) {
            for (int k = 0; k < 8; k++) Py_XDECREF(row[k]);
            TRY(r);
        }
        TRY(append_row(c->lineage_edges, 8, row));
    }
done:
    Py_XDECREF(ns);
    Py_XDECREF(name);
    Py_XDECREF(in_ds);
    Py_XDECREF(in_field);
    Py_XDECREF(entry);
    return rc;
}

static int facet_edges(Ctx *c, PyObject *fid, yyjson_val *facet, PyObject *named) {
    yyjson_val *fields = yyjson_obj_get(facet, "fields");
    if (yyjson_is_obj(fields)) {
        yyjson_obj_iter it = yyjson_obj_iter_with(fields);
        yyjson_val *k;
        while ((k = yyjson_obj_iter_next(&it)) != NULL) {
            yyjson_val *spec = yyjson_obj_iter_get_val(k);
            yyjson_val *inputs = get(spec, "inputFields");
            if (!yyjson_is_arr(inputs)) continue;
            PyObject *out_field = py_str(k);
            if (out_field == NULL) return ERROR;
            yyjson_val *legacy = yyjson_obj_get(spec, "transformationType");
            yyjson_val *legacy_desc = yyjson_obj_get(spec, "transformationDescription");
            yyjson_arr_iter ai = yyjson_arr_iter_with(inputs);
            yyjson_val *inp;
            while ((inp = yyjson_arr_iter_next(&ai)) != NULL) {
                int r = edge_rows(c, fid, out_field, inp, legacy, legacy_desc, named);
                if (r != OK) {
                    Py_DECREF(out_field);
                    return r;
                }
            }
            Py_DECREF(out_field);
        }
    }
    yyjson_val *dataset = yyjson_obj_get(facet, "dataset");
    if (yyjson_is_arr(dataset)) {
        yyjson_arr_iter ai = yyjson_arr_iter_with(dataset);
        yyjson_val *inp;
        while ((inp = yyjson_arr_iter_next(&ai)) != NULL) {
            int r = edge_rows(c, fid, NULL, inp, NULL, NULL, named);
            if (r != OK) return r;
        }
    }
    return OK;
}

/* derive._flatten_fields */
static int flatten(yyjson_val *fields, PyObject *prefix, PyObject *out, int depth) {
    if (depth > MAX_NESTING) return FALLBACK;
    yyjson_arr_iter it = yyjson_arr_iter_with(fields);
    yyjson_val *f;
    while ((f = yyjson_arr_iter_next(&it)) != NULL) {
        yyjson_val *name = get(f, "name");
        if (!yyjson_is_str(name)) continue;
        PyObject *own = py_str(name);
        if (own == NULL) return ERROR;
        PyObject *full = prefix ? PyUnicode_Concat(prefix, own) : Py_NewRef(own);
        Py_DECREF(own);
        if (full == NULL) return ERROR;
        PyObject *row[3] = {Py_NewRef(full), NULL, NULL};
        int r = str_or_none(yyjson_obj_get(f, "type"), &row[1]);
        if (r == OK) r = str_or_none(yyjson_obj_get(f, "description"), &row[2]);
        if (r != OK) {
            for (int k = 0; k < 3; k++) Py_XDECREF(row[k]);
            Py_DECREF(full);
            return r;
        }
        r = append_row(out, 3, row);
        yyjson_val *nested = yyjson_obj_get(f, "fields");
        if (r == OK && yyjson_is_arr(nested)) {
            PyObject *dotted = PyUnicode_FromFormat("%U.", full);
            r = dotted == NULL ? ERROR : flatten(nested, dotted, out, depth + 1);
            Py_XDECREF(dotted);
        }
        Py_DECREF(full);
        if (r != OK) return r;
    }
    return OK;
}

/* The first ``chars`` hex digits of the sha256 of the bytes (hashed in place, through a memoryview). */
static PyObject *hexdigest(const char *data, size_t n, Py_ssize_t chars) {
    PyObject *view = PyMemoryView_FromMemory((char *)data, (Py_ssize_t)n, PyBUF_READ);
    if (view == NULL) return NULL;
    PyObject *h = PyObject_CallOneArg(sha256_fn, view);
    Py_DECREF(view);
    if (h == NULL) return NULL;
    PyObject *full = PyObject_CallMethodNoArgs(h, s_hexdigest);
    Py_DECREF(h);
    if (full == NULL) return NULL;
    PyObject *hex = PyUnicode_Substring(full, 0, chars);
    Py_DECREF(full);
    return hex;
}

#define EVENT_ID_CHARS 32     /* prepare.event_id_of */

/* Content hashes of schemas and column-lineage facets, remembered by their canonical text (confirmed byte for byte):
 * the same schema or facet recurs from event to event, and its SHA-256 is the fast path's largest single cost after
 * the event's own. Direct-mapped, like the verdicts above. */
#define HASH_SLOTS 1024
static struct {
    Remembered text;
    PyObject *hex;
} hashes[HASH_SLOTS];

static PyObject *content_hash(const char *text, size_t n) {
    uint64_t key = hash64(text, n);
    size_t slot = (size_t)(key & (HASH_SLOTS - 1));
    if (recalls(&hashes[slot].text, key, text, n)) return Py_NewRef(hashes[slot].hex);
    PyObject *hex = hexdigest(text, n, CONTENT_HASH_CHARS);
    if (hex != NULL && remember(&hashes[slot].text, key, text, n)) Py_XSETREF(hashes[slot].hex, Py_NewRef(hex));
    return hex;
}

/* derive._schema: the fields' hash (derive.schema_hash of their canonical JSON), flattened into facts.schemas when
 * new. */
static int schema_of(Ctx *c, yyjson_val *fields, PyObject **out) {
    /* the fields' canonical text is part of the whole event's, written for its content id */
    size_t at = (size_t)(fields - c->base);
    const char *text = c->doc_json.p + c->spans[2 * at];
    PyObject *hex = content_hash(text, c->spans[2 * at + 1] - c->spans[2 * at]);
    int r = OK;
    if (hex == NULL) return ERROR;
    int known = PyDict_Contains(c->schemas, hex);
    if (known == 0) known = PySequence_Contains(c->schemas_sent, hex);
    if (known == 0) {
        PyObject *flat = PyList_New(0);
        r = flat == NULL ? ERROR : flatten(fields, NULL, flat, 0);
        if (r == OK && (PyDict_SetItem(c->schemas, hex, flat) < 0 || PyList_Append(c->added_schemas, hex) < 0))
            r = ERROR;
        Py_XDECREF(flat);
    } else if (known < 0) {
        r = ERROR;
    }
    if (r != OK) {
        Py_DECREF(hex);
        return r;
    }
    *out = hex;
    return OK;
}

typedef struct {
    PyObject *event_id, *run_key, *job_id, *event_time, *event_type;
    int written;
    PyObject *own, *used;
} EventCtx;

static int dataset_facts(Ctx *c, EventCtx *e, PyObject *role, yyjson_val *ds) {
    yyjson_val *ns_v = get(ds, "namespace"), *name_v = get(ds, "name");
    if (!yyjson_is_str(ns_v) || !yyjson_is_str(name_v)) return FALLBACK; /* the reference raises or reads it */
    int rc = OK;
    PyObject *ns = py_str(ns_v), *name = py_str(name_v), *ds_id = NULL, *shash = NULL, *key = NULL, *number = NULL;
    PyObject *lifecycle = NULL, *stats = NULL;
    if (ns == NULL || name == NULL) TRY(ERROR);
    ds_id = stable_id(ns, name);
    if (ds_id == NULL || PySet_Add(c->ds_ids, ds_id) < 0 || PySet_Add(e->own, ds_id) < 0) TRY(ERROR);
    yyjson_val *facets = get_obj(ds, "facets");
    yyjson_val *fields = get(get_obj(facets, "schema"), "fields");
    if (yyjson_is_arr(fields)) TRY(schema_of(c, fields, &shash));
    yyjson_val *lc = get(get_obj(facets, "lifecycleStateChange"), "lifecycleStateChange");
    lifecycle = yyjson_is_str(lc) ? py_str(lc) : Py_NewRef(Py_None);
    yyjson_val *st = get(get_obj(get_obj(ds, "outputFacets"), "outputStatistics"), "rowCount");
    stats = yyjson_is_uint(st) ? PyLong_FromUnsignedLongLong(yyjson_get_uint(st))
            : yyjson_is_sint(st) ? PyLong_FromLongLong(yyjson_get_sint(st)) : Py_NewRef(Py_None);
    if (lifecycle == NULL || stats == NULL) TRY(ERROR);
    int is_output = role == s_output;
    PyObject *row[13] = {Py_NewRef(e->event_id), or_none(e->run_key), or_none(e->job_id), Py_NewRef(ds_id),
                         Py_NewRef(ns), Py_NewRef(name), Py_NewRef(role), or_none(e->event_time),
                         or_none(e->event_type), or_none(shash), PyBool_FromLong(e->written && is_output),
                         Py_NewRef(lifecycle), Py_NewRef(stats)};
    TRY(append_row(c->datasets, 13, row));

    yyjson_val *idents = get(get_obj(facets, "symlinks"), "identifiers");
    if (idents != NULL && !yyjson_is_arr(idents)) {
        /* ``... or ()`` then iterated: falsy values and strings (characters) and objects (keys) give no rows */
        int truthy = yyjson_is_bool(idents) ? yyjson_get_bool(idents)
                     : yyjson_is_uint(idents) ? yyjson_get_uint(idents) != 0
                     : yyjson_is_sint(idents) ? yyjson_get_sint(idents) != 0 : 0;
        if (truthy) TRY(FALLBACK); /* iterating a number raises there */
    } else if (idents != NULL) {
        yyjson_arr_iter it = yyjson_arr_iter_with(idents);
        yyjson_val *ident;
        while ((ident = yyjson_arr_iter_next(&it)) != NULL) {
            yyjson_val *ans = get(ident, "namespace"), *aname = get(ident, "name");
            if (!yyjson_is_str(ans) || !yyjson_is_str(aname)) continue;
            PyObject *pans = py_str(ans), *paname = py_str(aname), *type = NULL;
            int r = (pans && paname) ? str_or_none(yyjson_obj_get(ident, "type"), &type) : ERROR;
            if (r == OK && PyUnicode_Compare(pans, ns) == 0 && PyUnicode_Compare(paname, name) == 0) {
                Py_DECREF(pans); Py_DECREF(paname); Py_DECREF(type);
                continue;
            }
            if (r != OK) {
                Py_XDECREF(pans); Py_XDECREF(paname);
                TRY(r);
            }
            PyObject *srow[6] = {Py_NewRef(e->event_id), Py_NewRef(ds_id), stable_id(pans, paname), pans, paname,
                                 type};
            TRY(append_row(c->symlinks, 6, srow));
        }
    }

    yyjson_val *lineage = get(facets, "columnLineage");
    if (is_output && yyjson_is_obj(lineage)) {
        /* derive.lineage_hash: the content hash of the facet's sorted JSON, a span of the event's canonical text */
        size_t at = (size_t)(lineage - c->base);
        key = content_hash(c->doc_json.p + c->spans[2 * at], c->spans[2 * at + 1] - c->spans[2 * at]);
        if (key == NULL) TRY(ERROR);
        number = PyDict_GetItemWithError(c->lineage_facets, key);
        if (number != NULL) {
            Py_INCREF(number);
        } else {
            if (PyErr_Occurred()) TRY(ERROR);
            number = PyLong_FromSsize_t(PyDict_GET_SIZE(c->lineage_facets));
            if (number == NULL || PyDict_SetItem(c->lineage_facets, key, number) < 0 ||
                PyList_Append(c->added_facets, key) < 0)
                TRY(ERROR);
            PyObject *named = PyDict_New();
            if (named == NULL) TRY(ERROR);
            int r = facet_edges(c, number, lineage, named);
            PyObject *values = r == OK ? PyDict_Values(named) : NULL;
            Py_DECREF(named);
            if (r == OK && (values == NULL || PyList_Append(c->lineage_inputs, values) < 0)) r = ERROR;
            Py_XDECREF(values);
            TRY(r);
        }
        PyObject *urow[7] = {Py_NewRef(e->event_id), or_none(e->run_key), or_none(e->job_id), or_none(e->event_time),
                             or_none(e->event_type), Py_NewRef(ds_id), Py_NewRef(number)};
        TRY(append_row(c->lineage_uses, 7, urow));
        if (PyList_Append(e->used, number) < 0) TRY(ERROR);
    }
done:
    Py_XDECREF(ns);
    Py_XDECREF(name);
    Py_XDECREF(ds_id);
    Py_XDECREF(shash);
    Py_XDECREF(key);
    Py_XDECREF(number);
    Py_XDECREF(lifecycle);
    Py_XDECREF(stats);
    return rc;
}

static int side_facts(Ctx *c, EventCtx *e, PyObject *role, yyjson_val *items) {
    if (items == NULL || yyjson_is_null(items)) return OK;
    if (!yyjson_is_arr(items)) return FALLBACK; /* validated events have arrays here */
    yyjson_arr_iter it = yyjson_arr_iter_with(items);
    yyjson_val *ds;
    while ((ds = yyjson_arr_iter_next(&it)) != NULL) {
        int r = dataset_facts(c, e, role, ds);
        if (r != OK) return r;
    }
    return OK;
}

static int referenced(Ctx *c, EventCtx *e) {
    for (Py_ssize_t u = 0; u < PyList_GET_SIZE(e->used); u++) {
        Py_ssize_t number = PyLong_AsSsize_t(PyList_GET_ITEM(e->used, u));
        PyObject *inputs = PyList_GetItem(c->lineage_inputs, number);
        if (inputs == NULL) return ERROR;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(inputs); i++) {
            PyObject *entry = PyList_GET_ITEM(inputs, i);
            PyObject *in_ds = PyTuple_GET_ITEM(entry, 0);
            int known = PySet_Contains(e->own, in_ds);
            if (known < 0) return ERROR;
            if (known) continue;
            if (PySet_Add(e->own, in_ds) < 0 || PySet_Add(c->ds_ids, in_ds) < 0) return ERROR;
            PyObject *row[13] = {Py_NewRef(e->event_id), or_none(e->run_key), or_none(e->job_id), Py_NewRef(in_ds),
                                 Py_NewRef(PyTuple_GET_ITEM(entry, 1)), Py_NewRef(PyTuple_GET_ITEM(entry, 2)),
                                 Py_NewRef(s_ref), or_none(e->event_time), or_none(e->event_type), Py_NewRef(Py_None),
                                 Py_NewRef(Py_False), Py_NewRef(Py_None), Py_NewRef(Py_None)};
            if (append_row(c->datasets, 13, row) != OK) return ERROR;
        }
    }
    return OK;
}

/* ---------------------------------------------------------------------------------------------------------------
 * One line
 * ------------------------------------------------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d) { /* Howard Hinnant's algorithm */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int two(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

/* eventTime in microseconds since the epoch (derive.event_time_of), for a string the date-time check passed. */
static int event_micros(yyjson_val *v, PyObject **out) {
    if (v == NULL || !yyjson_is_str(v)) {
        if (v != NULL) return FALLBACK;
        *out = Py_NewRef(Py_None);
        return OK;
    }
    const char *s = yyjson_get_str(v);
    size_t n = yyjson_get_len(v);
    if (format_ascii_ok(FMT_DATETIME, (const unsigned char *)s, (Py_ssize_t)n) != VALID) return FALLBACK;
    int y = two(s) * 100 + two(s + 2);
    if (y < 2 || y > 9998) return FALLBACK; /* near the ends of Python's datetime range: the reference decides */
    int64_t secs = days_from_civil(y, two(s + 5), two(s + 8)) * 86400 + two(s + 11) * 3600 + two(s + 14) * 60 +
                   two(s + 17);
    int64_t micros = 0;
    size_t i = 19;
    if (s[i] == '.') {
        int digits = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (digits < 6) micros = micros * 10 + (s[i] - '0');
            digits++;
        }
        for (; digits < 6; digits++) micros *= 10;
    }
    if (s[i] != 'Z') {
        int offset = (two(s + i + 1) * 60 + two(s + i + 4)) * 60;
        secs -= s[i] == '+' ? offset : -offset;
    }
    *out = PyLong_FromLongLong(secs * 1000000 + micros);
    return *out ? OK : ERROR;
}

static int load_ctx(Ctx *c, PyObject *facts) {
    PyObject **slots[] = {&c->events, &c->datasets, &c->symlinks, &c->lineage_facets, &c->lineage_edges,
                          &c->lineage_inputs, &c->lineage_uses, &c->schemas, &c->run_keys, &c->job_ids, &c->ds_ids,
                          &c->schemas_sent};
    PyObject *names[] = {a_events, a_datasets, a_symlinks, a_lineage_facets, a_lineage_edges, a_lineage_inputs,
                         a_lineage_uses, a_schemas, a_run_keys, a_job_ids, a_ds_ids, a_schemas_sent};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *slots[i] = PyObject_GetAttr(facts, names[i]);
        if (*slots[i] == NULL) return -1;
    }
    if (!(PyList_CheckExact(c->events) && PyList_CheckExact(c->datasets) && PyList_CheckExact(c->symlinks) &&
          PyDict_CheckExact(c->lineage_facets) && PyList_CheckExact(c->lineage_edges) &&
          PyList_CheckExact(c->lineage_inputs) && PyList_CheckExact(c->lineage_uses) &&
          PyDict_CheckExact(c->schemas) && PySet_CheckExact(c->run_keys) && PySet_CheckExact(c->job_ids) &&
          PySet_CheckExact(c->ds_ids))) {
        PyErr_SetString(PyExc_TypeError, "facts must be a lineagelab.store.derive.Facts");
        return -1;
    }
    c->added_facets = PyList_New(0);
    c->added_schemas = PyList_New(0);
    return c->added_facets && c->added_schemas ? 0 : -1;
}

static void release_ctx(Ctx *c) {
    PyObject *all[] = {c->events, c->datasets, c->symlinks, c->lineage_facets, c->lineage_edges, c->lineage_inputs,
                       c->lineage_uses, c->schemas, c->run_keys, c->job_ids, c->ds_ids, c->schemas_sent,
                       c->added_facets, c->added_schemas};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) Py_XDECREF(all[i]);
    PyMem_Free(c->buf.p);
    PyMem_Free(c->doc_json.p);
    PyMem_Free(c->spans);
}

static PyObject **mark_lists(Ctx *c, int i) {
    PyObject **lists[] = {&c->events, &c->datasets, &c->symlinks, &c->lineage_edges, &c->lineage_inputs,
                          &c->lineage_uses};
    return lists[i];
}

static void mark(Ctx *c) {
    for (int i = 0; i < 6; i++) c->mark[i] = PyList_GET_SIZE(*mark_lists(c, i));
    PyList_SetSlice(c->added_facets, 0, PY_SSIZE_T_MAX, NULL);
    PyList_SetSlice(c->added_schemas, 0, PY_SSIZE_T_MAX, NULL);
}

/* Take back what a half-derived event appended (its key sets may keep a key: a refresh of it changes nothing). */
static int rollback(Ctx *c) {
    for (int i = 0; i < 6; i++)
        if (PyList_SetSlice(*mark_lists(c, i), c->mark[i], PY_SSIZE_T_MAX, NULL) < 0) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(c->added_facets); i++)
        if (PyDict_DelItem(c->lineage_facets, PyList_GET_ITEM(c->added_facets, i)) < 0) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(c->added_schemas); i++)
        if (PyDict_DelItem(c->schemas, PyList_GET_ITEM(c->added_schemas, i)) < 0) return -1;
    return 0;
}

static int derive_event(Ctx *c, yyjson_val *doc, PyObject *event_id, PyObject *kind, PyObject *event_time,
                        PyObject *event_type) {
    int rc = OK, is_run = kind == s_RunEvent, is_job = kind == s_JobEvent;
    EventCtx e = {event_id, NULL, NULL, event_time == Py_None ? NULL : event_time, event_type, 0, NULL, NULL};
    PyObject *job_ns = NULL, *job_name = NULL, *parent_run = NULL, *parent_job_key = NULL, *error = NULL;
    yyjson_val *job = get_obj(doc, "job"), *run = get_obj(doc, "run");
    if (job != NULL && yyjson_obj_size(job) > 0) {
        yyjson_val *ns = yyjson_obj_get(job, "namespace"), *name = yyjson_obj_get(job, "name");
        if (!yyjson_is_str(ns) || !yyjson_is_str(name)) TRY(FALLBACK);
        job_ns = py_str(ns);
        job_name = py_str(name);
        if (job_ns == NULL || job_name == NULL) TRY(ERROR);
        e.job_id = stable_id(job_ns, job_name);
        if (e.job_id == NULL || PySet_Add(c->job_ids, e.job_id) < 0) TRY(ERROR);
    } else if (job != NULL) {
        job_ns = Py_NewRef(Py_None);
        job_name = Py_NewRef(Py_None);
    }
    if (is_run) {
        yyjson_val *run_id = get(run, "runId");
        if (!yyjson_is_str(run_id)) TRY(FALLBACK);
        if ((e.run_key = py_str(run_id)) == NULL) TRY(ERROR);
    } else if (is_job) {
        if ((e.run_key = PyUnicode_FromFormat("job-event:%U", event_id)) == NULL) TRY(ERROR);
    }
    if (e.run_key != NULL && PySet_Add(c->run_keys, e.run_key) < 0) TRY(ERROR);

    yyjson_val *run_facets = get_obj(run, "facets");
    yyjson_val *parent = get_obj(run_facets, "parent");
    TRY(str_or_none(get(get_obj(parent, "run"), "runId"), &parent_run));
    yyjson_val *parent_job = get_obj(parent, "job");
    if (parent_job != NULL && yyjson_obj_size(parent_job) > 0) {
        PyObject *a = NULL, *b = NULL;
        int r = py_text_of(yyjson_obj_get(parent_job, "namespace"), &a);
        if (r == OK) r = py_text_of(yyjson_obj_get(parent_job, "name"), &b);
        parent_job_key = r == OK ? PyUnicode_FromFormat("%U.%U", a, b) : NULL;
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (r != OK) TRY(r);
        if (parent_job_key == NULL) TRY(ERROR);
    }
    yyjson_val *err = get(get_obj(run_facets, "errorMessage"), "message");
    error = yyjson_is_str(err) ? py_str(err) : Py_NewRef(Py_None);
    if (error == NULL) TRY(ERROR);
    PyObject *erow[11] = {Py_NewRef(event_id), Py_NewRef(kind), or_none(e.run_key), or_none(e.job_id),
                          or_none(job_ns), or_none(job_name), or_none(event_type), or_none(e.event_time),
                          Py_NewRef(parent_run), or_none(parent_job_key), Py_NewRef(error)};
    TRY(append_row(c->events, 11, erow));

    e.written = is_run && event_type != Py_None && PyUnicode_CompareWithASCIIString(event_type, "COMPLETE") == 0;
    e.own = PySet_New(NULL);
    e.used = PyList_New(0);
    if (e.own == NULL || e.used == NULL) TRY(ERROR);
    if (kind == s_DatasetEvent) {
        TRY(dataset_facts(c, &e, s_static, yyjson_obj_get(doc, "dataset")));
    } else {
        TRY(side_facts(c, &e, s_input, yyjson_obj_get(doc, "inputs")));
        TRY(side_facts(c, &e, s_output, yyjson_obj_get(doc, "outputs")));
    }
    if (PyList_GET_SIZE(e.used) > 0) TRY(referenced(c, &e));
done:
    Py_XDECREF(e.job_id);
    Py_XDECREF(e.run_key);
    Py_XDECREF(job_ns);
    Py_XDECREF(job_name);
    Py_XDECREF(parent_run);
    Py_XDECREF(parent_job_key);
    Py_XDECREF(error);
    Py_XDECREF(e.own);
    Py_XDECREF(e.used);
    return rc;
}

/* The raw row of one line, or FALLBACK. Facts appended to c only when OK. */
static int one_line(Ctx *c, const char *s, Py_ssize_t n, PyObject *seen, PyObject **out) {
    if (n > max_bytes) return FALLBACK;
    yyjson_doc *doc = yyjson_read(s, (size_t)n, 0);
    if (doc == NULL) return FALLBACK;
    int rc = OK;
    PyObject *event_id = NULL, *event_time = NULL, *event_type = NULL, *fields[5] = {NULL};
    yyjson_val *root = yyjson_doc_get_root(doc);
    if (!yyjson_is_obj(root)) TRY(FALLBACK);
    for (const char **k = (const char *[]){"run", "job", NULL}; *k; k++) { /* prepare.raw_fields reads them as dicts */
        yyjson_val *v = yyjson_obj_get(root, *k);
        if (v != NULL && !yyjson_is_obj(v)) TRY(FALLBACK);
    }
    int has_run = yyjson_obj_get(root, "run") != NULL, has_job = yyjson_obj_get(root, "job") != NULL,
        has_dataset = yyjson_obj_get(root, "dataset") != NULL;
    PyObject *kind = has_run && has_job ? s_RunEvent : has_dataset && !has_job ? s_DatasetEvent
                     : has_job && !has_dataset ? s_JobEvent : NULL;
    if (kind == NULL) TRY(FALLBACK);
    /* canonical form first: it turns away floats, duplicate keys and deep nesting before anything else looks */
    c->doc_json.len = 0;
    size_t count = yyjson_doc_get_val_count(doc);
    if (count > c->spans_cap) {
        PyMem_Free(c->spans);
        c->spans = PyMem_Malloc(count * 2 * sizeof(uint32_t));
        c->spans_cap = c->spans ? count : 0;
        if (c->spans == NULL) {
            PyErr_NoMemory();
            TRY(ERROR);
        }
    }
    c->base = root;
    Writer w = {&c->doc_json, 1, c->spans, root};
    TRY(put_value(&w, root, 0));
    PyObject *root_id = PyDict_GetItem(roots, kind);
    if (root_id == NULL) TRY(FALLBACK);
    walk.base = root;
    walk.json = c->doc_json.p;
    walk.spans = c->spans;
    int verdict = eval((int)PyLong_AsLong(root_id), root, T_OBJECT, 0);
    walk.base = NULL;
    if (verdict < 0) TRY(ERROR);
    if (verdict != VALID) TRY(FALLBACK);
    event_id = hexdigest(c->doc_json.p, c->doc_json.len, EVENT_ID_CHARS);
    if (event_id == NULL) TRY(ERROR);
    int dup = PySet_Contains(seen, event_id);
    if (dup < 0) TRY(ERROR);
    if (dup) {
        *out = Py_NewRef(Py_False);
        goto done;
    }
    TRY(event_micros(yyjson_obj_get(root, "eventTime"), &event_time));
    yyjson_val *type = yyjson_obj_get(root, "eventType");
    if (kind == s_RunEvent) TRY(str_or_none(type, &event_type));
    else event_type = Py_NewRef(Py_None);
    yyjson_val *run = get_obj(root, "run"), *job = get_obj(root, "job");
    TRY(str_or_none(get(run, "runId"), &fields[0]));
    TRY(str_or_none(get(job, "namespace"), &fields[1]));
    TRY(str_or_none(get(job, "name"), &fields[2]));
    TRY(str_or_none(yyjson_obj_get(root, "producer"), &fields[3]));
    TRY(str_or_none(yyjson_obj_get(root, "schemaURL"), &fields[4]));
    mark(c);
    rc = derive_event(c, root, event_id, kind, event_time, event_type);
    if (rc == FALLBACK && rollback(c) < 0) rc = ERROR;
    if (rc != OK) goto done;
    if (PySet_Add(seen, event_id) < 0) TRY(ERROR);
    PyObject *row[10] = {Py_NewRef(event_id), Py_NewRef(event_time), Py_NewRef(event_type), Py_NewRef(kind),
                         fields[0], fields[1], fields[2], fields[3], fields[4], PyLong_FromSsize_t(n)};
    for (int i = 0; i < 5; i++) fields[i] = NULL;
    *out = tuple_of(10, row);
    if (*out == NULL) rc = ERROR;
done:
    yyjson_doc_free(doc);
    Py_XDECREF(event_id);
    Py_XDECREF(event_time);
    Py_XDECREF(event_type);
    for (int i = 0; i < 5; i++) Py_XDECREF(fields[i]);
    return rc;
}

static inline int is_space(unsigned char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r'); } /* bytes.strip's */

static int append_bytes(PyObject *array, const char *s, Py_ssize_t n) {
    Py_ssize_t len = PyByteArray_GET_SIZE(array);
    if (PyByteArray_Resize(array, len + n) < 0) return -1;
    memcpy(PyByteArray_AS_STRING(array) + len, s, (size_t)n);
    return 0;
}

/* run_block(data, pos, facts, seen, out, text, offsets): the NDJSON lines of ``data`` from byte ``pos`` on, read in
 * place: each line stripped as bytes.strip() does, blank ones skipped; for each, its raw row (RAW_FIELDS order) or
 * False for a repeat of an event in ``seen`` appended to ``out``, and its facts to ``facts``; the text of each event
 * kept appended to the bytearray ``text`` and its end to ``offsets`` (int64, native order): the raw column's buffers,
 * with no bytes object a line. Stops at the start of the first line it does not settle (the caller settles that one
 * and goes on after it); returns that offset (len(data) when none) and how many line ends it went past. */
static PyObject *run_block(PyObject *self, PyObject *args) {
    Py_buffer data;
    Py_ssize_t pos;
    PyObject *facts, *seen, *out, *text, *offsets;
    if (!PyArg_ParseTuple(args, "y*nOO!O!O!O!", &data, &pos, &facts, &PySet_Type, &seen, &PyList_Type, &out,
                          &PyByteArray_Type, &text, &PyByteArray_Type, &offsets))
        return NULL;
    if (nodes == NULL) {
        PyBuffer_Release(&data);
        return PyErr_Format(PyExc_RuntimeError, "lineagelab.store._fast: configure() was not called");
    }
    const char *p = data.buf;
    Py_ssize_t n = data.len, ends = 0;
    if (pos < 0) pos = 0;
    Ctx c;
    memset(&c, 0, sizeof c);
    if (load_ctx(&c, facts) < 0) goto fail;
    while (pos < n) {
        const char *nl = memchr(p + pos, '\n', (size_t)(n - pos));
        Py_ssize_t end = nl ? (Py_ssize_t)(nl - p) : n, a = pos, b = end;
        while (a < b && is_space((unsigned char)p[a])) a++;
        while (b > a && is_space((unsigned char)p[b - 1])) b--;
        if (a < b) {
            PyObject *row = NULL;
            int r = one_line(&c, p + a, b - a, seen, &row);
            if (r == ERROR) goto fail;
            if (r == FALLBACK) break;
            if (row != Py_False) {
                int64_t stop = (int64_t)PyByteArray_GET_SIZE(text) + (int64_t)(b - a);
                if (append_bytes(text, p + a, b - a) < 0 || append_bytes(offsets, (const char *)&stop, 8) < 0) {
                    Py_DECREF(row);
                    goto fail;
                }
            }
            int rc = PyList_Append(out, row);
            Py_DECREF(row);
            if (rc < 0) goto fail;
        }
        if (nl == NULL) {
            pos = n;
            break;
        }
        pos = end + 1;
        ends++;
    }
    release_ctx(&c);
    PyBuffer_Release(&data);
    return Py_BuildValue("nn", pos, ends);
fail:
    release_ctx(&c);
    PyBuffer_Release(&data);
    return NULL;
}

static PyObject *configure(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"nodes", "route", "roots", "stable_id", "masking", "sha256", "max_bytes", NULL};
    PyObject *list, *fn, *root_ids, *sid, *mask, *sha;
    Py_ssize_t limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OO!OOOn", names, &PyList_Type, &list, &fn, &PyDict_Type,
                                     &root_ids, &sid, &mask, &sha, &limit))
        return NULL;
    max_bytes = limit;
    free_nodes();
    clear_routes();
    forget_verdicts();
    Py_ssize_t count = PyList_GET_SIZE(list);
    nodes = PyMem_Calloc(count ? count : 1, sizeof(Node));
    if (nodes == NULL) return PyErr_NoMemory();
    n_nodes = count;
    held = Py_NewRef(list);
    route_fn = Py_NewRef(fn);
    /* the kinds as this module's own strings, so that rows carry the same objects derive.py would */
    roots = PyDict_New();
    if (roots == NULL) goto fail;
    PyObject *kinds[] = {s_RunEvent, s_JobEvent, s_DatasetEvent};
    for (int i = 0; i < 3; i++) {
        PyObject *id = PyDict_GetItemWithError(root_ids, kinds[i]);
        if (id == NULL) {
            if (!PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "roots lacks %R", kinds[i]);
            goto fail;
        }
        if (PyDict_SetItem(roots, kinds[i], id) < 0) goto fail;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        if (load_node(&nodes[i], PyList_GET_ITEM(list, i)) < 0) goto fail;
    for (size_t i = 0; i < ID_CACHE_SLOTS; i++) { /* ids of another function */
        Py_CLEAR(id_cache[i].ns);
        Py_CLEAR(id_cache[i].name);
        Py_CLEAR(id_cache[i].id);
    }
    Py_XSETREF(stable_id_fn, Py_NewRef(sid));
    Py_XSETREF(masking_fn, Py_NewRef(mask));
    Py_XSETREF(sha256_fn, Py_NewRef(sha));
    Py_RETURN_NONE;
fail:
    free_nodes();
    return NULL;
}

static PyObject *canonical(PyObject *self, PyObject *args) {
    const char *s;
    Py_ssize_t n;
    int sorted = 1;
    if (!PyArg_ParseTuple(args, "y#|p", &s, &n, &sorted)) return NULL;
    yyjson_doc *doc = yyjson_read(s, (size_t)n, 0);
    if (doc == NULL) Py_RETURN_NONE;
    Buf b = {0};
    int r = write_json(&b, yyjson_doc_get_root(doc), sorted);
    yyjson_doc_free(doc);
    PyObject *out = r == OK ? PyBytes_FromStringAndSize(b.p ? b.p : "", (Py_ssize_t)b.len)
                    : r == FALLBACK ? Py_NewRef(Py_None) : NULL;
    PyMem_Free(b.p);
    return out;
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "configure(nodes, route, roots, stable_id, masking, sha256, max_bytes): schema nodes and helpers."},
    {"run_block", run_block, METH_VARARGS,
     "run_block(data, pos, facts, seen, out, text, offsets): run over the lines of data, read in place."},
    {"canonical", canonical, METH_VARARGS,
     "canonical(text, sorted=True): orjson.dumps of the parsed text as this module writes it (None: not its kind)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "lineagelab.store._fast",
                                    "The bulk ingest's native fast path (see fastpath.py).", -1, methods};

PyMODINIT_FUNC PyInit__fast(void) {
    init_classes();
    struct {
        PyObject **slot;
        const char *text;
    } strings[] = {
        {&s_static, "static"}, {&s_input, "input"}, {&s_output, "output"}, {&s_ref, "ref"}, {&s_DIRECT, "DIRECT"},
        {&s_RunEvent, "RunEvent"}, {&s_JobEvent, "JobEvent"}, {&s_DatasetEvent, "DatasetEvent"}, {&s_true, "true"},
        {&s_false, "false"}, {&s_upper, "upper"}, {&s_hexdigest, "hexdigest"},
        {&a_events, "events"}, {&a_datasets, "datasets"}, {&a_symlinks, "symlinks"},
        {&a_lineage_facets, "lineage_facets"}, {&a_lineage_edges, "lineage_edges"},
        {&a_lineage_inputs, "lineage_inputs"}, {&a_lineage_uses, "lineage_uses"}, {&a_schemas, "schemas"},
        {&a_run_keys, "run_keys"}, {&a_job_ids, "job_ids"}, {&a_ds_ids, "ds_ids"}, {&a_schemas_sent, "schemas_sent"},
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        *strings[i].slot = PyUnicode_InternFromString(strings[i].text);
        if (*strings[i].slot == NULL) return NULL;
    }
    return PyModule_Create(&module);
}
