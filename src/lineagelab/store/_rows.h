/* Fact rows as tuples, shared by the C derivation (_derive.c) and the bulk ingest's fast path (_fast.c). */
#ifndef LINEAGELAB_ROWS_H
#define LINEAGELAB_ROWS_H

/* Schema and column-lineage hashes: the first hex digits of a sha256 (derive.CONTENT_HASH_CHARS) */
#define CONTENT_HASH_CHARS 24

/* A tuple of the n items, stolen; NULL items (an error already set) make it NULL, the other items released. */
static PyObject *tuple_of(Py_ssize_t n, PyObject **items) {
    PyObject *t = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (items[i] == NULL) goto fail;
    }
    t = PyTuple_New(n);
    if (t == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(t, i, items[i]);
    return t;
fail:
    for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(items[i]);
    return NULL;
}

/* Append a tuple of the stolen items to list; -1 on error. */
static int append_row(PyObject *list, Py_ssize_t n, PyObject **items) {
    PyObject *t = tuple_of(n, items);
    if (t == NULL) return -1;
    int rc = PyList_Append(list, t);
    Py_DECREF(t);
    return rc;
}
#endif
