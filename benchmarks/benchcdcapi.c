/* benchcdcapi: the C-API baselines of the __cdict__ section (cdictbench.py): METH_O methods calling
   libm's cos and returning their argument, the address of a plain `PyObject *same(PyObject *)` for
   ctypes, and callgrind's collection switched on and off around a Python loop (benchcallgrind.h). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include "benchcallgrind.h"

static PyObject *cosine(PyObject *self, PyObject *arg)
{
    (void)self;
    double x = PyFloat_AsDouble(arg);
    if (x == -1.0 && PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(cos(x));
}

static PyObject *same(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_INCREF(arg);
    return arg;
}

static PyObject *plain_same(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

static PyObject *addresses(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return Py_BuildValue("(nn)", (Py_ssize_t)(intptr_t)plain_same, (Py_ssize_t)(intptr_t)cos);
}

/* toggle(): switches callgrind's collection on or off; dump(name): writes a profile of what was
   collected since the last dump. No-ops without valgrind's header. */
static PyObject *toggle(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    CALLGRIND_TOGGLE_COLLECT;
    Py_RETURN_NONE;
}

static PyObject *dump(PyObject *self, PyObject *name)
{
    (void)self;
    const char *text = PyUnicode_AsUTF8(name);
    if (text == NULL)
        return NULL;
    (void)text;
    CALLGRIND_DUMP_STATS_AT(text);
    Py_RETURN_NONE;
}

static PyObject *callgrind_support(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(BENCH_CALLGRIND);
}

static PyMethodDef methods[] = {
    {"cosine", cosine, METH_O, "cos(x)"},
    {"same", same, METH_O, "x"},
    {"addresses", addresses, METH_NOARGS, "(plain same, cos)"},
    {"toggle", toggle, METH_NOARGS, "toggle callgrind's collection"},
    {"dump", dump, METH_O, "dump callgrind's profile"},
    {"callgrind_support", callgrind_support, METH_NOARGS, "built with callgrind's client requests"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "benchcdcapi", NULL, 0, methods};

PyMODINIT_FUNC PyInit_benchcdcapi(void) { return PyModule_Create(&moduledef); }
