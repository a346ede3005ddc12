/* calccapi: a plain C-API consumer (Python.h, no HPy) of the calc test API, through the generated
   calc_capi.h: the provider's functions in their CPython-API form. `connect()` imports the API (so
   tests see the exception import_calc_capi raises); the other methods call through the table.
   Built for the interpreter that runs the tests: on PyPy through cpyext. */
#include "calc_capi.h"

static const calc_CAPI *calc;

#define NEED_CALC                                                                    \
    if (calc == NULL) {                                                              \
        PyErr_SetString(PyExc_RuntimeError, "calccapi: call connect() first");       \
        return NULL;                                                                 \
    }

static PyObject *connect_(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    calc = import_calc_capi();
    if (calc == NULL)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *add(PyObject *self, PyObject *args)
{
    PyObject *a, *b;
    (void)self;
    NEED_CALC
    if (!PyArg_ParseTuple(args, "OO", &a, &b))
        return NULL;
    return calc->add(a, b);
}

static PyObject *hypot_(PyObject *self, PyObject *args)
{
    double x, y, r;
    (void)self;
    NEED_CALC
    if (!PyArg_ParseTuple(args, "dd", &x, &y))
        return NULL;
    r = calc->hypot(x, y);
    if (r == -1.0 && PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(r);
}

static PyObject *repeat(PyObject *self, PyObject *args)
{
    PyObject *seq;
    Py_ssize_t n;
    (void)self;
    NEED_CALC
    if (!PyArg_ParseTuple(args, "On", &seq, &n))
        return NULL;
    return calc->repeat(seq, n);
}

#if CALC_API_MINOR_NEEDED >= 1
static PyObject *mix(PyObject *self, PyObject *args)
{
    long a, e;
    double b, d, f, h, j;
    int c, i;
    Py_ssize_t g;
    (void)self;
    NEED_CALC
    if (!PyArg_ParseTuple(args, "ldidldndid", &a, &b, &c, &d, &e, &f, &g, &h, &i, &j))
        return NULL;
    return PyFloat_FromDouble(calc->mix(a, b, c, d, (long long)e, (float)f, g, h, (short)i, j));
}

static PyObject *fill(PyObject *self, PyObject *args)
{
    double out[16], value;
    long n, written;
    PyObject *list;
    (void)self;
    NEED_CALC
    if (!PyArg_ParseTuple(args, "ld", &n, &value))
        return NULL;
    if (n < 0 || n > 16) {
        PyErr_SetString(PyExc_ValueError, "fill(n, value): 0 <= n <= 16");
        return NULL;
    }
    written = calc->fill(out, n, value);
    list = PyList_New(written);
    for (long k = 0; list != NULL && k < written; k++) {
        PyObject *item = PyFloat_FromDouble(out[k]);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, k, item);
    }
    return list;
}
#endif

#if CALC_API_MINOR_NEEDED >= 2
static PyObject *fail(PyObject *self, PyObject *message)
{
    (void)self;
    NEED_CALC
    return calc->fail(message);
}

static PyObject *pick(PyObject *self, PyObject *args)
{
    PyObject *a, *b, *c;
    int which;
    (void)self;
    NEED_CALC
    if (!PyArg_ParseTuple(args, "OOOi", &a, &b, &c, &which))
        return NULL;
    return calc->pick(a, b, c, which);
}

static PyObject *provider_context(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    NEED_CALC
    return PyUnicode_FromString(calc->context_name());
}

/* pick(a, b, c, 0) `n` times, in a C loop: reference counts must not move. */
static PyObject *pick_many(PyObject *self, PyObject *args)
{
    PyObject *a, *b, *c;
    long n;
    (void)self;
    NEED_CALC
    if (!PyArg_ParseTuple(args, "OOOl", &a, &b, &c, &n))
        return NULL;
    for (long k = 0; k < n; k++) {
        PyObject *r = calc->pick(a, b, c, (int)(k % 3));
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}
#endif

/* The C-level reference count (PyPy has no sys.getrefcount; cpyext keeps this one). */
static PyObject *refcount(PyObject *self, PyObject *obj)
{
    (void)self;
    return PyLong_FromSsize_t(Py_REFCNT(obj));
}

static PyMethodDef methods[] = {
    {"refcount", refcount, METH_O, "Py_REFCNT(obj)"},
    {"connect", connect_, METH_NOARGS, "import_calc_capi(): the import under test"},
    {"add", add, METH_VARARGS, NULL},
    {"hypot", hypot_, METH_VARARGS, NULL},
    {"repeat", repeat, METH_VARARGS, NULL},
#if CALC_API_MINOR_NEEDED >= 1
    {"mix", mix, METH_VARARGS, NULL},
    {"fill", fill, METH_VARARGS, NULL},
#endif
#if CALC_API_MINOR_NEEDED >= 2
    {"fail", fail, METH_O, NULL},
    {"pick", pick, METH_VARARGS, NULL},
    {"pick_many", pick_many, METH_VARARGS, NULL},
    {"provider_context", provider_context, METH_NOARGS, NULL},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "calccapi", "C-API consumer of the calc test API", -1,
                                       methods};

PyMODINIT_FUNC PyInit_calccapi(void)
{
    return PyModule_Create(&moduledef);
}
