/* The facts of one event, in C: ``lineagelab.store.derive.derive`` without the interpreter's cost.
 *
 * Deriving facts walks every dataset and every column-lineage edge of an event and builds a tuple per row: in the
 * bulk ingest's workers it was the largest stage (~40 us of a ~100 us synthetic event, mostly interpreter overhead
 * on dict lookups and tuple building). This file does the same walk over the same parsed documents and appends the
 * same tuples to the same ``Facts`` lists. ``derive.py`` stays the reference: tests hold this one to it, row for row,
 * on every fixture and on malformed facets, and it is the one used wherever this module did not build.
 *
 * Rare or hashing work is left to the Python helpers handed over by ``configure`` (dataset ids through the cached
 * ``stable_id``, schema hashes, the text of non-string JSON values), so both paths share one definition of each.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_rows.h"

/* Python helpers (see configure) */
static PyObject *stable_id_fn, *schema_fn, *text_fn, *masking_fn, *lineage_key_fn;
/* derive.schema_hash's own steps (orjson.dumps with sorted keys, the hex of a sha256 cut to CONTENT_HASH_CHARS), when
 * configure is given them */
static PyObject *dumps_fn, *sort_option, *sha256_fn, *kw_option, *s_hexdigest;

/* interned strings */
static PyObject *s_job, *s_run, *s_eventType, *s_namespace, *s_name, *s_runId, *s_facets, *s_parent,
    *s_errorMessage, *s_message, *s_dataset, *s_inputs, *s_outputs, *s_schema, *s_fields, *s_lifecycleStateChange,
    *s_outputFacets, *s_outputStatistics, *s_rowCount, *s_symlinks, *s_identifiers, *s_type, *s_columnLineage,
    *s_inputFields, *s_transformationType, *s_transformationDescription, *s_field, *s_transformations, *s_subtype,
    *s_description, *s_masking, *s_static, *s_input, *s_output, *s_ref, *s_DIRECT, *s_COMPLETE, *s_RunEvent,
    *s_JobEvent, *s_DatasetEvent, *s_true, *s_false, *s_upper;
/* Facts attributes */
static PyObject *a_events, *a_datasets, *a_symlinks, *a_lineage_facets, *a_lineage_edges, *a_lineage_inputs,
    *a_lineage_uses, *a_schemas, *a_run_keys, *a_job_ids, *a_ds_ids, *a_schemas_sent;

/* d[key] when d is a dict, else NULL (borrowed; never sets an error: keys are interned strings). */
static inline PyObject *get(PyObject *d, PyObject *key) {
    return (d != NULL && PyDict_Check(d)) ? PyDict_GetItem(d, key) : NULL;
}

/* _dict(d.get(key)): the value when it is a dict, else NULL (an empty mapping). */
static inline PyObject *get_dict(PyObject *d, PyObject *key) {
    PyObject *v = get(d, key);
    return (v != NULL && PyDict_Check(v)) ? v : NULL;
}

/* A new reference to v, or to None. */
static inline PyObject *or_none(PyObject *v) {
    v = v ? v : Py_None;
    Py_INCREF(v);
    return v;
}

static PyObject *call2(PyObject *fn, PyObject *a, PyObject *b) {
    PyObject *args[2] = {a, b};
    return PyObject_Vectorcall(fn, args, 2, NULL);
}

static PyObject *call1(PyObject *fn, PyObject *a) { return PyObject_Vectorcall(fn, &a, 1, NULL); }

/* column_lineage._text: strings and None as they are, anything else through the Python helper. New reference. */
static PyObject *text(PyObject *v) {
    if (v == NULL || v == Py_None) Py_RETURN_NONE;
    if (PyUnicode_CheckExact(v)) return Py_NewRef(v);
    if (v == Py_True) return Py_NewRef(s_true);
    if (v == Py_False) return Py_NewRef(s_false);
    return call1(text_fn, v);
}

/* column_lineage._nonempty */
static PyObject *nonempty(PyObject *v) {
    PyObject *t = text(v);
    if (t == NULL || t == Py_None) return t;
    if (PyUnicode_Check(t) && PyUnicode_GET_LENGTH(t) == 0) {
        Py_DECREF(t);
        Py_RETURN_NONE;
    }
    return t;
}

/* column_lineage._masking */
static PyObject *masking(PyObject *v) {
    if (v == NULL || v == Py_None || v == Py_False) Py_RETURN_FALSE;
    if (v == Py_True) Py_RETURN_TRUE;
    return call1(masking_fn, v);
}

/* The rows of one input field of a column-lineage facet (column_lineage.edges' inner loop). 0, or -1 on error. */
static int edge_rows(PyObject *fid, PyObject *out_field, PyObject *inp, PyObject *legacy, PyObject *legacy_desc,
                     PyObject *out, PyObject *named) {
    if (!PyDict_Check(inp)) return 0;
    PyObject *ns = text(get(inp, s_namespace));
    if (ns == NULL) return -1;
    PyObject *name = text(get(inp, s_name));
    if (name == NULL) {
        Py_DECREF(ns);
        return -1;
    }
    int rc = -1;
    PyObject *in_ds = NULL, *in_field = NULL, *entry;
    if (ns == Py_None || name == Py_None) {
        rc = 0;
        goto done;
    }
    in_ds = call2(stable_id_fn, ns, name);
    if (in_ds == NULL) goto done;
    entry = PyTuple_Pack(3, in_ds, ns, name);
    if (entry == NULL || PyDict_SetItem(named, in_ds, entry) < 0) {
        Py_XDECREF(entry);
        goto done;
    }
    Py_DECREF(entry);
    in_field = text(get(inp, s_field));
    if (in_field == NULL) goto done;
    PyObject *steps = get(inp, s_transformations);
    Py_ssize_t n = (steps != NULL && PyList_Check(steps)) ? PyList_GET_SIZE(steps) : 0;
    for (Py_ssize_t i = 0; i < (n ? n : 1); i++) {
        PyObject *t = n ? PyList_GET_ITEM(steps, i) : NULL;
        PyObject *row[8] = {Py_NewRef(fid), or_none(out_field), Py_NewRef(in_ds), Py_NewRef(in_field)};
        if (t != NULL && PyDict_Check(t)) {
            row[4] = text(get(t, s_type));
            row[5] = text(get(t, s_subtype));
            row[6] = nonempty(get(t, s_description));
            row[7] = masking(get(t, s_masking));
        } else {
            PyObject *legacy_type = text(legacy);
            int truthy = legacy_type == NULL ? -1 : PyObject_IsTrue(legacy_type);
            if (truthy < 0) {
                Py_XDECREF(legacy_type);
                for (int k = 0; k < 4; k++) Py_DECREF(row[k]);
                goto done;
            }
            if (truthy) {
                row[4] = Py_NewRef(s_DIRECT);
                row[5] = PyObject_CallMethodNoArgs(legacy_type, s_upper);
            } else {
                row[4] = Py_NewRef(Py_None);
                row[5] = Py_NewRef(Py_None);
            }
            Py_DECREF(legacy_type);
            row[6] = nonempty(legacy_desc);
            row[7] = Py_NewRef(Py_False);
        }
        if (append_row(out, 8, row) < 0) goto done;
    }
    rc = 0;
done:
    Py_DECREF(ns);
    Py_DECREF(name);
    Py_XDECREF(in_ds);
    Py_XDECREF(in_field);
    return rc;
}

/* column_lineage.edges: append the edges of one facet to out; record the input datasets it names in named. */
static int facet_edges(PyObject *fid, PyObject *facet, PyObject *out, PyObject *named) {
    PyObject *fields = get(facet, s_fields);
    if (fields != NULL && PyDict_Check(fields)) {
        PyObject *out_field, *spec;
        Py_ssize_t pos = 0;
        while (PyDict_Next(fields, &pos, &out_field, &spec)) {
            PyObject *inputs = get(spec, s_inputFields);
            if (!PyDict_Check(spec) || inputs == NULL || !PyList_Check(inputs)) continue;
            PyObject *legacy = get(spec, s_transformationType), *legacy_desc = get(spec, s_transformationDescription);
            Py_INCREF(inputs);  /* the helpers called below run Python code */
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(inputs); i++) {
                if (edge_rows(fid, out_field, PyList_GET_ITEM(inputs, i), legacy, legacy_desc, out, named) < 0) {
                    Py_DECREF(inputs);
                    return -1;
                }
            }
            Py_DECREF(inputs);
        }
    }
    PyObject *dataset = get(facet, s_dataset);
    if (dataset != NULL && PyList_Check(dataset)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(dataset); i++) {
            if (edge_rows(fid, NULL, PyList_GET_ITEM(dataset, i), NULL, NULL, out, named) < 0) return -1;
        }
    }
    return 0;
}

/* derive._flatten_fields: (dotted name, type, description) of every field of a schema, nested ones after their
 * parent. Appends to out; 0, or -1 on error. */
static int flatten(PyObject *fields, PyObject *prefix, PyObject *out) {
    if (Py_EnterRecursiveCall(" while flattening schema fields")) return -1;  /* RecursionError, as in Python */
    PyObject *it = PyObject_GetIter(fields);
    if (it == NULL) {
        Py_LeaveRecursiveCall();
        return -1;
    }
    PyObject *f;
    int rc = 0;
    while (rc == 0 && (f = PyIter_Next(it)) != NULL) {
        PyObject *name = get(f, s_name);
        if (name != NULL && PyUnicode_Check(name)) {
            PyObject *full = prefix ? PyUnicode_Concat(prefix, name) : Py_NewRef(name);
            PyObject *row[3] = {full ? Py_NewRef(full) : NULL, or_none(get(f, s_type)), or_none(get(f, s_description))};
            rc = append_row(out, 3, row);
            PyObject *nested = get(f, s_fields);
            if (rc == 0 && nested != NULL && PyList_Check(nested)) {
                PyObject *dotted = PyUnicode_FromFormat("%U.", full);
                rc = dotted == NULL ? -1 : flatten(nested, dotted, out);
                Py_XDECREF(dotted);
            }
            Py_XDECREF(full);
        }
        Py_DECREF(f);
    }
    Py_DECREF(it);
    Py_LeaveRecursiveCall();
    return rc == 0 && PyErr_Occurred() ? -1 : rc;
}

static PyObject *flatten_fields(PyObject *self, PyObject *fields) {
    PyObject *out = PyList_New(0);
    if (out != NULL && flatten(fields, NULL, out) < 0) Py_CLEAR(out);
    return out;
}

typedef struct {
    PyObject *obj;  /* the Facts (borrowed) */
    PyObject *events, *datasets, *symlinks, *lineage_facets, *lineage_edges, *lineage_inputs, *lineage_uses, *schemas,
        *run_keys, *job_ids, *ds_ids, *schemas_sent;
} FactLists;

static int load_facts(PyObject *facts, FactLists *f) {
    PyObject **slots[] = {&f->events, &f->datasets, &f->symlinks, &f->lineage_facets, &f->lineage_edges,
                          &f->lineage_inputs, &f->lineage_uses, &f->schemas, &f->run_keys, &f->job_ids, &f->ds_ids};
    PyObject *names[] = {a_events, a_datasets, a_symlinks, a_lineage_facets, a_lineage_edges, a_lineage_inputs,
                         a_lineage_uses, a_schemas, a_run_keys, a_job_ids, a_ds_ids};
    int ok = 1;
    f->obj = facts;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) *slots[i] = NULL;
    f->schemas_sent = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        PyObject *v = PyObject_GetAttr(facts, names[i]);
        if (v == NULL) return -1;
        *slots[i] = v;
    }
    f->schemas_sent = PyObject_GetAttr(facts, a_schemas_sent);
    if (f->schemas_sent == NULL) return -1;
    ok = PyList_CheckExact(f->events) && PyList_CheckExact(f->datasets) && PyList_CheckExact(f->symlinks) &&
         PyDict_CheckExact(f->lineage_facets) && PyList_CheckExact(f->lineage_edges) &&
         PyList_CheckExact(f->lineage_inputs) && PyList_CheckExact(f->lineage_uses) && PyDict_CheckExact(f->schemas) &&
         PySet_CheckExact(f->run_keys) && PySet_CheckExact(f->job_ids) && PySet_CheckExact(f->ds_ids);
    if (!ok) {
        PyErr_SetString(PyExc_TypeError, "derive: facts must be a lineagelab.store.derive.Facts");
        return -1;
    }
    return 0;
}

static void release_facts(FactLists *f) {
    PyObject *all[] = {f->events, f->datasets, f->symlinks, f->lineage_facets, f->lineage_edges, f->lineage_inputs,
                       f->lineage_uses, f->schemas, f->run_keys, f->job_ids, f->ds_ids, f->schemas_sent};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) Py_XDECREF(all[i]);
}

/* derive._schema: the schema's hash, its flat fields recorded in facts.schemas the first time (unless an earlier batch
 * sent it). The hash is schema_hash's own steps called from here (two Python frames fewer a schema facet); any field
 * orjson refuses (integers beyond 64 bits) goes through the Python helper, which falls back to the stdlib. */
static PyObject *schema_of(FactLists *f, PyObject *fields) {
    if (dumps_fn == NULL) return call2(schema_fn, f->obj, fields);
    PyObject *args[2] = {fields, sort_option};
    PyObject *text = PyObject_Vectorcall(dumps_fn, args, 1, kw_option);
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) return NULL;
        PyErr_Clear();
        return call2(schema_fn, f->obj, fields);
    }
    PyObject *h = PyObject_CallOneArg(sha256_fn, text);
    Py_DECREF(text);
    if (h == NULL) return NULL;
    PyObject *full = PyObject_CallMethodNoArgs(h, s_hexdigest);
    Py_DECREF(h);
    if (full == NULL) return NULL;
    PyObject *hex = PyUnicode_Substring(full, 0, CONTENT_HASH_CHARS);
    Py_DECREF(full);
    if (hex == NULL) return NULL;
    int known = PyDict_Contains(f->schemas, hex);
    if (known == 0) known = PySequence_Contains(f->schemas_sent, hex);
    if (known == 0) {
        PyObject *flat = PyList_New(0);
        if (flat == NULL || flatten(fields, NULL, flat) < 0 || PyDict_SetItem(f->schemas, hex, flat) < 0) known = -1;
        Py_XDECREF(flat);
    }
    if (known < 0) Py_CLEAR(hex);
    return hex;
}

/* A required key of a dict the spec guarantees (a validated event has it): KeyError like derive.py's ds["name"]. */
static PyObject *required(PyObject *d, PyObject *key) {
    PyObject *v = get(d, key);
    if (v == NULL) PyErr_SetObject(PyExc_KeyError, key);
    return v;
}

/* One dataset of the event (derive.py's loop body). 0, or -1 on error. */
static int dataset_facts(FactLists *f, PyObject *event_id, PyObject *run_key, PyObject *job_id, PyObject *event_time,
                         PyObject *event_type, int written, PyObject *role, PyObject *ds, PyObject *own,
                         PyObject *used) {
    ds = PyDict_Check(ds) ? ds : NULL;
    PyObject *namespace = required(ds, s_namespace), *name;
    if (namespace == NULL || (name = required(ds, s_name)) == NULL) return -1;
    int rc = -1;
    PyObject *ds_id = NULL, *shash = NULL, *key = NULL, *number = NULL;
    Py_INCREF(namespace);
    Py_INCREF(name);
    ds_id = call2(stable_id_fn, namespace, name);
    if (ds_id == NULL || PySet_Add(f->ds_ids, ds_id) < 0 || PySet_Add(own, ds_id) < 0) goto done;
    PyObject *facets = get_dict(ds, s_facets);
    PyObject *schema = get_dict(facets, s_schema);
    PyObject *fields = get(schema, s_fields);
    if (fields != NULL && PyList_Check(fields)) {
        shash = schema_of(f, fields);
        if (shash == NULL) goto done;
    }
    PyObject *lifecycle = get(get_dict(facets, s_lifecycleStateChange), s_lifecycleStateChange);
    PyObject *stats = get(get_dict(get_dict(ds, s_outputFacets), s_outputStatistics), s_rowCount);
    int is_output = role == s_output;
    PyObject *row[13] = {
        Py_NewRef(event_id), or_none(run_key), or_none(job_id), Py_NewRef(ds_id), Py_NewRef(namespace),
        Py_NewRef(name), Py_NewRef(role), or_none(event_time), or_none(event_type), or_none(shash),
        PyBool_FromLong(written && is_output), or_none(lifecycle && PyUnicode_Check(lifecycle) ? lifecycle : NULL),
        or_none(stats && PyLong_Check(stats) && !PyBool_Check(stats) ? stats : NULL)};
    if (append_row(f->datasets, 13, row) < 0) goto done;

    PyObject *idents = get(get_dict(facets, s_symlinks), s_identifiers);
    int any_idents = idents == NULL ? 0 : PyObject_IsTrue(idents);  /* ``... or ()`` */
    if (any_idents < 0) goto done;
    if (any_idents) {
        PyObject *it = PyObject_GetIter(idents);
        if (it == NULL) goto done;
        PyObject *ident;
        while ((ident = PyIter_Next(it)) != NULL) {
            PyObject *ans = get(ident, s_namespace), *aname = get(ident, s_name);
            int keep = ans && aname && PyUnicode_Check(ans) && PyUnicode_Check(aname);
            if (keep) {
                int same_ns = PyObject_RichCompareBool(ans, namespace, Py_EQ);
                int same_name = same_ns == 1 ? PyObject_RichCompareBool(aname, name, Py_EQ) : 0;
                if (same_ns < 0 || same_name < 0) {
                    Py_DECREF(ident);
                    Py_DECREF(it);
                    goto done;
                }
                keep = !(same_ns && same_name);
            }
            if (keep) {
                PyObject *srow[6] = {Py_NewRef(event_id), Py_NewRef(ds_id), call2(stable_id_fn, ans, aname),
                                     Py_NewRef(ans), Py_NewRef(aname), or_none(get(ident, s_type))};
                if (append_row(f->symlinks, 6, srow) < 0) {
                    Py_DECREF(ident);
                    Py_DECREF(it);
                    goto done;
                }
            }
            Py_DECREF(ident);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) goto done;
    }

    PyObject *lineage = get(facets, s_columnLineage);
    if (is_output && lineage != NULL && PyDict_Check(lineage)) {
        key = call1(lineage_key_fn, lineage);
        if (key == NULL) goto done;
        number = PyDict_GetItemWithError(f->lineage_facets, key);
        if (number != NULL) {
            Py_INCREF(number);
        } else {
            if (PyErr_Occurred()) goto done;
            number = PyLong_FromSsize_t(PyDict_GET_SIZE(f->lineage_facets));
            if (number == NULL || PyDict_SetItem(f->lineage_facets, key, number) < 0) goto done;
            PyObject *named = PyDict_New();
            if (named == NULL) goto done;
            PyObject *values = NULL;
            if (facet_edges(number, lineage, f->lineage_edges, named) < 0 || (values = PyDict_Values(named)) == NULL ||
                PyList_Append(f->lineage_inputs, values) < 0) {
                Py_DECREF(named);
                Py_XDECREF(values);
                goto done;
            }
            Py_DECREF(named);
            Py_DECREF(values);
        }
        PyObject *urow[7] = {Py_NewRef(event_id), or_none(run_key),   or_none(job_id), or_none(event_time),
                             or_none(event_type), Py_NewRef(ds_id), Py_NewRef(number)};
        if (append_row(f->lineage_uses, 7, urow) < 0 || PyList_Append(used, number) < 0) goto done;
    }
    rc = 0;
done:
    Py_DECREF(namespace);
    Py_DECREF(name);
    Py_XDECREF(ds_id);
    Py_XDECREF(shash);
    Py_XDECREF(key);
    Py_XDECREF(number);
    return rc;
}

/* The datasets of one role (inputs, outputs): ``doc.get(side) or ()``, iterated. */
static int side_facts(FactLists *f, PyObject *event_id, PyObject *run_key, PyObject *job_id, PyObject *event_time,
                      PyObject *event_type, int written, PyObject *role, PyObject *items, PyObject *own,
                      PyObject *used) {
    if (items == NULL) return 0;
    int truthy = PyObject_IsTrue(items);
    if (truthy <= 0) return truthy;
    PyObject *it = PyObject_GetIter(items);
    if (it == NULL) return -1;
    PyObject *ds;
    while ((ds = PyIter_Next(it)) != NULL) {
        int rc = dataset_facts(f, event_id, run_key, job_id, event_time, event_type, written, role, ds, own, used);
        Py_DECREF(ds);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* Datasets named only inside column lineage get a 'ref' row of this event. */
static int referenced(FactLists *f, PyObject *event_id, PyObject *run_key, PyObject *job_id, PyObject *event_time,
                      PyObject *event_type, PyObject *own, PyObject *used) {
    for (Py_ssize_t u = 0; u < PyList_GET_SIZE(used); u++) {
        Py_ssize_t number = PyLong_AsSsize_t(PyList_GET_ITEM(used, u));
        if (number < 0 && PyErr_Occurred()) return -1;
        PyObject *inputs = PyList_GetItem(f->lineage_inputs, number);
        if (inputs == NULL || !PyList_Check(inputs)) return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(inputs); i++) {
            PyObject *entry = PyList_GET_ITEM(inputs, i);  /* (in_ds, namespace, name) */
            PyObject *in_ds = PyTuple_GET_ITEM(entry, 0);
            int known = PySet_Contains(own, in_ds);
            if (known < 0) return -1;
            if (known) continue;
            if (PySet_Add(own, in_ds) < 0 || PySet_Add(f->ds_ids, in_ds) < 0) return -1;
            PyObject *row[13] = {Py_NewRef(event_id), or_none(run_key), or_none(job_id), Py_NewRef(in_ds),
                                 Py_NewRef(PyTuple_GET_ITEM(entry, 1)), Py_NewRef(PyTuple_GET_ITEM(entry, 2)),
                                 Py_NewRef(s_ref), or_none(event_time), or_none(event_type), Py_NewRef(Py_None),
                                 Py_NewRef(Py_False), Py_NewRef(Py_None), Py_NewRef(Py_None)};
            if (append_row(f->datasets, 13, row) < 0) return -1;
        }
    }
    return 0;
}

static PyObject *derive(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "derive(facts, event_id, kind, doc, event_time) takes 5 arguments");
        return NULL;
    }
    PyObject *facts = args[0], *event_id = args[1], *kind = args[2], *doc = args[3], *event_time = args[4];
    if (!PyUnicode_Check(event_id) || !PyUnicode_Check(kind) || !PyDict_Check(doc)) {
        PyErr_SetString(PyExc_TypeError, "derive: event_id and kind must be str, doc a dict");
        return NULL;
    }
    int is_run = PyUnicode_Compare(kind, s_RunEvent) == 0, is_job = PyUnicode_Compare(kind, s_JobEvent) == 0,
        is_dataset = PyUnicode_Compare(kind, s_DatasetEvent) == 0;
    if (!(is_run || is_job || is_dataset)) {
        PyErr_Format(PyExc_ValueError, "derive: unknown event kind %R", kind);
        return NULL;
    }
    if (event_time == Py_None) event_time = NULL;

    FactLists f;
    PyObject *job_id = NULL, *run_key = NULL, *parent_job_key = NULL, *own = NULL, *used = NULL, *result = NULL;
    PyObject *kind_value = NULL;
    if (load_facts(facts, &f) < 0) goto done;
    kind_value = is_run ? s_RunEvent : is_job ? s_JobEvent : s_DatasetEvent;  /* the plain str, not the enum */

    PyObject *job = get_dict(doc, s_job), *run = get_dict(doc, s_run);
    PyObject *event_type = is_run ? get(doc, s_eventType) : NULL;
    if (job != NULL && PyDict_GET_SIZE(job) > 0) {
        PyObject *ns = required(job, s_namespace), *name;
        if (ns == NULL || (name = required(job, s_name)) == NULL) goto done;
        job_id = call2(stable_id_fn, ns, name);
        if (job_id == NULL || PySet_Add(f.job_ids, job_id) < 0) goto done;
    }
    if (is_run) {
        PyObject *run_id = required(run, s_runId);
        if (run_id == NULL || (run_key = PyObject_Str(run_id)) == NULL) goto done;
    } else if (is_job) {
        if ((run_key = PyUnicode_FromFormat("job-event:%U", event_id)) == NULL) goto done;
    }
    if (run_key != NULL && PySet_Add(f.run_keys, run_key) < 0) goto done;

    PyObject *run_facets = get_dict(run, s_facets);
    PyObject *parent = get_dict(run_facets, s_parent);
    PyObject *parent_run = get(get_dict(parent, s_run), s_runId);
    PyObject *parent_job = get_dict(parent, s_job);
    if (parent_job != NULL && PyDict_GET_SIZE(parent_job) > 0) {
        PyObject *pns = get(parent_job, s_namespace), *pname = get(parent_job, s_name);
        parent_job_key = PyUnicode_FromFormat("%S.%S", pns ? pns : Py_None, pname ? pname : Py_None);
        if (parent_job_key == NULL) goto done;
    }
    PyObject *error = get(get_dict(run_facets, s_errorMessage), s_message);
    PyObject *erow[11] = {Py_NewRef(event_id), Py_NewRef(kind_value), or_none(run_key), or_none(job_id),
                          or_none(get(job, s_namespace)), or_none(get(job, s_name)), or_none(event_type),
                          or_none(event_time), or_none(parent_run), or_none(parent_job_key),
                          or_none(error && PyUnicode_Check(error) ? error : NULL)};
    if (append_row(f.events, 11, erow) < 0) goto done;

    int written = 0;
    if (is_run && event_type != NULL) {
        written = PyObject_RichCompareBool(event_type, s_COMPLETE, Py_EQ);
        if (written < 0) goto done;
    }
    own = PySet_New(NULL);
    used = PyList_New(0);
    if (own == NULL || used == NULL) goto done;
    if (is_dataset) {
        PyObject *ds = get(doc, s_dataset);
        if (dataset_facts(&f, event_id, run_key, job_id, event_time, event_type, written, s_static, ds ? ds : Py_None,
                          own, used) < 0)
            goto done;
    } else if (side_facts(&f, event_id, run_key, job_id, event_time, event_type, written, s_input,
                          get(doc, s_inputs), own, used) < 0 ||
               side_facts(&f, event_id, run_key, job_id, event_time, event_type, written, s_output,
                          get(doc, s_outputs), own, used) < 0) {
        goto done;
    }
    if (PyList_GET_SIZE(used) > 0 && referenced(&f, event_id, run_key, job_id, event_time, event_type, own, used) < 0)
        goto done;
    result = Py_NewRef(Py_None);
done:
    release_facts(&f);
    Py_XDECREF(job_id);
    Py_XDECREF(run_key);
    Py_XDECREF(parent_job_key);
    Py_XDECREF(own);
    Py_XDECREF(used);
    return result;
}

static PyObject *configure(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"stable_id", "schema", "text", "masking", "lineage_key", "dumps", "sort_option", "sha256",
                            NULL};
    PyObject *fns[5], *dumps = NULL, *option = NULL, *sha256 = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOO|OOO", names, &fns[0], &fns[1], &fns[2], &fns[3], &fns[4],
                                     &dumps, &option, &sha256))
        return NULL;
    PyObject **slots[5] = {&stable_id_fn, &schema_fn, &text_fn, &masking_fn, &lineage_key_fn};
    for (int i = 0; i < 5; i++) {
        if (!PyCallable_Check(fns[i])) {
            PyErr_Format(PyExc_TypeError, "configure: %s must be callable", names[i]);
            return NULL;
        }
    }
    if ((dumps != NULL || option != NULL || sha256 != NULL) &&
        (dumps == NULL || option == NULL || sha256 == NULL || !PyCallable_Check(dumps) || !PyCallable_Check(sha256))) {
        PyErr_SetString(PyExc_TypeError, "configure: dumps, sort_option and sha256 go together (callables and an int)");
        return NULL;
    }
    if (kw_option == NULL) {  /* an interned name: orjson matches keyword names by identity */
        PyObject *option_name = PyUnicode_InternFromString("option");
        kw_option = option_name ? PyTuple_Pack(1, option_name) : NULL;
        Py_XDECREF(option_name);
        if (kw_option == NULL) return NULL;
    }
    for (int i = 0; i < 5; i++) Py_XSETREF(*slots[i], Py_NewRef(fns[i]));
    Py_XSETREF(dumps_fn, Py_XNewRef(dumps));
    Py_XSETREF(sort_option, Py_XNewRef(option));
    Py_XSETREF(sha256_fn, Py_XNewRef(sha256));
    Py_RETURN_NONE;
}

static PyObject *derive_entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (stable_id_fn == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "lineagelab.store._derive: configure() was not called");
        return NULL;
    }
    return derive(self, args, nargs);
}

/* The keys looked up in event documents: ``use_keys`` may swap each for an equal string object (see derive.py). */
static PyObject **key_slots[] = {
    &s_job, &s_run, &s_eventType, &s_namespace, &s_name, &s_runId, &s_facets, &s_parent, &s_errorMessage,
    &s_message, &s_dataset, &s_inputs, &s_outputs, &s_schema, &s_fields, &s_lifecycleStateChange, &s_outputFacets,
    &s_outputStatistics, &s_rowCount, &s_symlinks, &s_identifiers, &s_type, &s_columnLineage, &s_inputFields,
    &s_transformationType, &s_transformationDescription, &s_field, &s_transformations, &s_subtype, &s_description,
    &s_masking,
};
#define N_KEYS (sizeof(key_slots) / sizeof(key_slots[0]))

static PyObject *key_names(PyObject *self, PyObject *unused) {
    PyObject *out = PyList_New(N_KEYS);
    if (out == NULL) return NULL;
    for (size_t i = 0; i < N_KEYS; i++) PyList_SET_ITEM(out, i, Py_NewRef(*key_slots[i]));
    return out;
}

static PyObject *use_keys(PyObject *self, PyObject *list) {
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != (Py_ssize_t)N_KEYS)
        return PyErr_Format(PyExc_ValueError, "use_keys takes a list of the %d key_names()", (int)N_KEYS);
    for (size_t i = 0; i < N_KEYS; i++) {
        PyObject *k = PyList_GET_ITEM(list, i);
        if (!PyUnicode_CheckExact(k) || PyUnicode_Compare(k, *key_slots[i]) != 0)
            return PyErr_Format(PyExc_ValueError, "use_keys: item %d is not %R", (int)i, *key_slots[i]);
    }
    for (size_t i = 0; i < N_KEYS; i++) Py_SETREF(*key_slots[i], Py_NewRef(PyList_GET_ITEM(list, i)));
    Py_RETURN_NONE;
}

/* -- fact rows to Arrow buffers -------------------------------------------------------------------------------------
 * ``columns(rows, codes)``: the columns of a list of equal-length tuples as the buffers of Arrow arrays, one code a
 * column: 's' string (int32 offsets), 'q' int64 (timestamps too: microseconds), 'i' int32, '?' bool. Each column is
 * (validity or None, values, string data or None, null count), or None where a value is not what its code takes
 * exactly (the caller then converts that column with pyarrow, which says what is wrong). pyarrow's conversion of the
 * Python values, a type dispatch and a builder call each, made FactTables.of 9.1-9.3 us a synthetic event; 3.9-4.4 from
 * these buffers. */
static PyObject *column_of(PyObject *rows, Py_ssize_t n, Py_ssize_t at, char code) {
    Py_ssize_t nulls = 0, width = code == 's' || code == 'i' ? 4 : code == 'q' ? 8 : 0;
    size_t data_len = 0;
    for (Py_ssize_t r = 0; r < n; r++) { /* first pass: types, nulls and the string data's size */
        PyObject *v = PyTuple_GET_ITEM(PyList_GET_ITEM(rows, r), at);
        if (v == Py_None) {
            nulls++;
        } else if (code == 's') {
            Py_ssize_t len;
            if (!PyUnicode_CheckExact(v) || PyUnicode_AsUTF8AndSize(v, &len) == NULL) {
                PyErr_Clear(); /* a lone surrogate: pyarrow's own error */
                Py_RETURN_NONE;
            }
            data_len += (size_t)len;
        } else if (code == '?' ? !PyBool_Check(v) : !PyLong_CheckExact(v)) {
            Py_RETURN_NONE;
        }
    }
    if (data_len > INT32_MAX) Py_RETURN_NONE;
    PyObject *validity = nulls ? PyBytes_FromStringAndSize(NULL, (n + 7) / 8) : Py_NewRef(Py_None);
    Py_ssize_t size = code == 's' ? (n + 1) * 4 : code == '?' ? (n + 7) / 8 : n * width;
    PyObject *values = PyBytes_FromStringAndSize(NULL, size);
    PyObject *data = code == 's' ? PyBytes_FromStringAndSize(NULL, (Py_ssize_t)data_len) : Py_NewRef(Py_None);
    if (validity == NULL || values == NULL || data == NULL) goto fail;
    uint8_t *valid = nulls ? (uint8_t *)PyBytes_AS_STRING(validity) : NULL;
    char *out = PyBytes_AS_STRING(values);
    if (valid) memset(valid, 0, (n + 7) / 8);
    if (code == '?') memset(out, 0, (n + 7) / 8);
    int32_t offset = 0;
    if (code == 's') memcpy(out, &offset, 4);
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *v = PyTuple_GET_ITEM(PyList_GET_ITEM(rows, r), at);
        int present = v != Py_None;
        if (valid && present) valid[r / 8] |= (uint8_t)(1u << (r % 8));
        if (code == 's') {
            if (present) {
                Py_ssize_t len;
                const char *u = PyUnicode_AsUTF8AndSize(v, &len); /* cached by the first pass */
                memcpy(PyBytes_AS_STRING(data) + offset, u, (size_t)len);
                offset += (int32_t)len;
            }
            memcpy(out + (r + 1) * 4, &offset, 4);
        } else if (code == '?') {
            if (v == Py_True) out[r / 8] |= (char)(1u << (r % 8));
        } else {
            int overflow = 0;
            long long x = present ? PyLong_AsLongLongAndOverflow(v, &overflow) : 0;
            if (overflow || (code == 'i' && (x < INT32_MIN || x > INT32_MAX))) {
                Py_DECREF(validity); Py_DECREF(values); Py_DECREF(data);
                Py_RETURN_NONE; /* pyarrow says it does not fit */
            }
            if (code == 'q') {
                int64_t y = (int64_t)x;
                memcpy(out + r * 8, &y, 8);
            } else {
                int32_t y = (int32_t)x;
                memcpy(out + r * 4, &y, 4);
            }
        }
    }
    return Py_BuildValue("(NNNn)", validity, values, data, nulls);
fail:
    Py_XDECREF(validity); Py_XDECREF(values); Py_XDECREF(data);
    return NULL;
}

static PyObject *columns(PyObject *self, PyObject *args) {
    PyObject *rows;
    const char *codes;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "O!s#", &PyList_Type, &rows, &codes, &width)) return NULL;
    for (Py_ssize_t i = 0; i < width; i++) {
        if (codes[i] == '\0' || strchr("sqi?", codes[i]) == NULL)
            return PyErr_Format(PyExc_ValueError, "columns: unknown code %c", codes[i]);
    }
    Py_ssize_t n = PyList_GET_SIZE(rows);
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *row = PyList_GET_ITEM(rows, r);
        if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != width)
            return PyErr_Format(PyExc_ValueError, "columns: row %zd is not a tuple of %zd values", r, width);
    }
    PyObject *out = PyList_New(width);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < width; i++) {
        PyObject *col = column_of(rows, n, i, codes[i]);
        if (col == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, col);
    }
    return out;
}

/* shifted(values, offset): int32 values (a buffer) each plus offset, as bytes (prepare._plus: a merged batch's facet
 * numbers; importing pyarrow.compute for it cost the writer ~40 ms, a Python loop ~0.2 us a row). */
static PyObject *shifted(PyObject *self, PyObject *args) {
    Py_buffer in;
    long long offset;
    if (!PyArg_ParseTuple(args, "y*L", &in, &offset)) return NULL;
    Py_ssize_t n = in.len / (Py_ssize_t)sizeof(int32_t);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int32_t));
    if (out != NULL) {
        const char *src = in.buf;
        char *dst = PyBytes_AS_STRING(out);
        for (Py_ssize_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, src + i * 4, 4);
            v = (int32_t)((int64_t)v + offset);
            memcpy(dst + i * 4, &v, 4);
        }
    }
    PyBuffer_Release(&in);
    return out;
}

static PyMethodDef methods[] = {
    {"shifted", shifted, METH_VARARGS, "shifted(values, offset): int32 values each plus offset, as bytes."},
    {"key_names", key_names, METH_NOARGS, "The keys this module looks up in documents."},
    {"use_keys", use_keys, METH_O, "Equal string objects to use for key_names() (same order)."},
    {"derive", (PyCFunction)(void (*)(void))derive_entry, METH_FASTCALL,
     "derive(facts, event_id, kind, doc, event_time): append the facts of one valid event (see derive.py)."},
    {"columns", columns, METH_VARARGS,
     "columns(rows, codes): Arrow buffers of the rows' columns (see prepare._columns)."},
    {"flatten_fields", (PyCFunction)flatten_fields, METH_O,
     "flatten_fields(fields): derive._flatten_fields in C."},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "configure(stable_id, schema, text, masking, lineage_key): the Python helpers this module calls."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "lineagelab.store._derive",
                                    "The facts of one event, in C (see derive.py).", -1, methods};

PyMODINIT_FUNC PyInit__derive(void) {
    struct {
        PyObject **slot;
        const char *text;
    } strings[] = {
        {&s_job, "job"}, {&s_run, "run"}, {&s_eventType, "eventType"}, {&s_namespace, "namespace"},
        {&s_name, "name"}, {&s_runId, "runId"}, {&s_facets, "facets"}, {&s_parent, "parent"},
        {&s_errorMessage, "errorMessage"}, {&s_message, "message"}, {&s_dataset, "dataset"}, {&s_inputs, "inputs"},
        {&s_outputs, "outputs"}, {&s_schema, "schema"}, {&s_fields, "fields"},
        {&s_lifecycleStateChange, "lifecycleStateChange"}, {&s_outputFacets, "outputFacets"},
        {&s_outputStatistics, "outputStatistics"}, {&s_rowCount, "rowCount"}, {&s_symlinks, "symlinks"},
        {&s_identifiers, "identifiers"}, {&s_type, "type"}, {&s_columnLineage, "columnLineage"},
        {&s_inputFields, "inputFields"}, {&s_transformationType, "transformationType"},
        {&s_transformationDescription, "transformationDescription"}, {&s_field, "field"},
        {&s_transformations, "transformations"}, {&s_subtype, "subtype"}, {&s_description, "description"},
        {&s_masking, "masking"}, {&s_static, "static"}, {&s_input, "input"}, {&s_output, "output"},
        {&s_ref, "ref"}, {&s_DIRECT, "DIRECT"}, {&s_COMPLETE, "COMPLETE"}, {&s_RunEvent, "RunEvent"},
        {&s_JobEvent, "JobEvent"}, {&s_DatasetEvent, "DatasetEvent"}, {&s_true, "true"}, {&s_false, "false"}, {&s_upper, "upper"},
        {&a_events, "events"}, {&a_datasets, "datasets"}, {&a_symlinks, "symlinks"},
        {&a_lineage_facets, "lineage_facets"}, {&a_lineage_edges, "lineage_edges"},
        {&a_lineage_inputs, "lineage_inputs"}, {&a_lineage_uses, "lineage_uses"}, {&a_schemas, "schemas"},
        {&a_run_keys, "run_keys"}, {&a_job_ids, "job_ids"}, {&a_ds_ids, "ds_ids"},
        {&a_schemas_sent, "schemas_sent"}, {&s_hexdigest, "hexdigest"},
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        *strings[i].slot = PyUnicode_InternFromString(strings[i].text);
        if (*strings[i].slot == NULL) return NULL;
    }
    return PyModule_Create(&module);
}
