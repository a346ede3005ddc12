/* duckcapi: a plain C-API consumer (Python.h, no HPy) of the "duck" __cdict__ entries
   (tests/test_export.py): it asks each object for its entries in their CPython-API form with
   HPyBridge_CDictLookup_CAPI (hpybridge_capi.h) and calls what it gets, whatever the objects'
   providers and HPy modes; module_point and module_radius ask a provider module for its API's
   entries. Built for the interpreter that runs the tests: on PyPy through cpyext. */
#include <Python.h>
#include "hpybridge_capi.h"

typedef double (*norm_fn)(PyObject *);
typedef PyObject *(*scaled_fn)(PyObject *, double);
typedef long (*tag_fn)(long);
typedef PyObject *(*point_fn)(double, double);

/* The entry `name`, "double (PyObject *)", of `owner` applied to obj: its result, the provider's
   exception, or None if `owner` has no such entry. */
static PyObject *apply_norm(PyObject *owner, const char *name, PyObject *obj)
{
    norm_fn f = (norm_fn)HPyBridge_CDictLookup_CAPI(owner, name, "double (PyObject *)");
    if (f == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    double r = f(obj);
    if (PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(r);
}

/* norm(obj): the object's norm entry's result, or None if it has none. */
static PyObject *norm(PyObject *self, PyObject *obj)
{
    (void)self;
    return apply_norm(obj, "norm", obj);
}

/* total(seq): the sum of the norms of the items, each looked up once per item. */
static PyObject *total(PyObject *self, PyObject *seq)
{
    (void)self;
    Py_ssize_t n = PySequence_Length(seq);
    if (n < 0)
        return NULL;
    double sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_GetItem(seq, i);
        if (item == NULL)
            return NULL;
        norm_fn f = (norm_fn)HPyBridge_CDictLookup_CAPI(item, "norm", "double(PyObject *o)");
        if (f == NULL) {
            Py_DECREF(item);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "an item has no norm entry");
            return NULL;
        }
        sum += f(item);
        Py_DECREF(item);
        if (PyErr_Occurred())
            return NULL;
    }
    return PyFloat_FromDouble(sum);
}

/* scaled(obj, k): the object's scaled entry's result (a new reference), or None. */
static PyObject *scaled(PyObject *self, PyObject *args)
{
    PyObject *obj;
    double k;
    (void)self;
    if (!PyArg_ParseTuple(args, "Od", &obj, &k))
        return NULL;
    scaled_fn f = (scaled_fn)HPyBridge_CDictLookup_CAPI(obj, "scaled", "PyObject * (PyObject *, double)");
    if (f == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    return f(obj, k);
}

/* tag(obj, n): the object's tag entry (long (long)) applied to n, or None. */
static PyObject *tag(PyObject *self, PyObject *args)
{
    PyObject *obj;
    long n;
    (void)self;
    if (!PyArg_ParseTuple(args, "Ol", &obj, &n))
        return NULL;
    tag_fn f = (tag_fn)HPyBridge_CDictLookup_CAPI(obj, "tag", "long (long)");
    if (f == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(f(n));
}

/* module_point(module, x, y): the module's API entry point in its CPython-API form,
   "PyObject * (double, double)" (a new reference), or None. */
static PyObject *module_point(PyObject *self, PyObject *args)
{
    PyObject *module;
    double x, y;
    (void)self;
    if (!PyArg_ParseTuple(args, "Odd", &module, &x, &y))
        return NULL;
    point_fn f = (point_fn)HPyBridge_CDictLookup_CAPI(module, "point", "PyObject * (double, double)");
    if (f == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    return f(x, y);
}

/* module_radius(module, obj): the module's API entry radius, "double (PyObject *)", applied to obj
   (the provider's exception comes through), or None. */
static PyObject *module_radius(PyObject *self, PyObject *args)
{
    PyObject *module, *obj;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &module, &obj))
        return NULL;
    return apply_norm(module, "radius", obj);
}

/* lookup(obj, name, signature): the address, or None (for the error cases). */
static PyObject *lookup(PyObject *self, PyObject *args)
{
    PyObject *obj;
    const char *name, *signature;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oss", &obj, &name, &signature))
        return NULL;
    void *f = HPyBridge_CDictLookup_CAPI(obj, name, signature);
    if (f == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    return PyLong_FromVoidPtr(f);
}

static PyMethodDef methods[] = {
    {"norm", norm, METH_O, NULL},
    {"total", total, METH_O, NULL},
    {"scaled", scaled, METH_VARARGS, NULL},
    {"tag", tag, METH_VARARGS, NULL},
    {"lookup", lookup, METH_VARARGS, NULL},
    {"module_point", module_point, METH_VARARGS, NULL},
    {"module_radius", module_radius, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "duckcapi", NULL, -1, methods};

PyMODINIT_FUNC PyInit_duckcapi(void) { return PyModule_Create(&moduledef); }
