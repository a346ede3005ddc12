/* benchcapi: a plain C-API consumer (Python.h, no HPy) of the bench API, through the generated
   bench_capi.h, for the CPython-API fallback stubs' benchmark (benchmarks/run.py). Built for the
   interpreter that runs it with hpybridge.devel.compile_capi_extension (on PyPy through cpyext).

   Two tables of the same type, bench_CAPI, called by the very same loops:
   - "stub": the table import_bench_capi() returns, the runtime's fallback stubs in front of the
     HPy provider benchprov (benchprov.c), in whatever HPy mode it was loaded;
   - "base": the baseline, the same three functions written directly against the C-API in this
     file, in a table of this module's read through a volatile pointer (no inlining).

   The loops are `noipa` (never inlined, cloned or merged) and take the table as an argument, so
   every call is an indirect call through a pointer loaded from memory, as in benchloop.h. The
   result's Py_DECREF goes through a non-inlined function of its own, so that callgrind can tell it
   apart; the callee's own work (Py_INCREF here, HPy_Dup in the provider) callgrind attributes to
   the callee's symbol. Under callgrind (run with --collect-atstart=no) time() switches collection
   on around its loop with a client request and dumps the profile after it, named
   benchcapi_<table>_<function>: one dump per loop. */
#include <time.h>
#include "bench_capi.h"

#include "benchcallgrind.h"

#define BENCH_NOIPA __attribute__((noipa, aligned(64)))

/* The baseline: the bench API's functions as a C-API author writes them (borrowed arguments, new
   references out). Global symbols, so callgrind names them. */
__attribute__((aligned(64))) PyObject *benchcapi_ident(PyObject *x)
{
    Py_INCREF(x);
    return x;
}

__attribute__((aligned(64))) double benchcapi_inc(double x) { return x + 1.0; }

__attribute__((aligned(64))) PyObject *benchcapi_mix(PyObject *x, double y, long n)
{
    PyObject *r = y + (double)n >= 0.0 ? x : Py_None;
    Py_INCREF(r);
    return r;
}

static const bench_CAPI own = {benchcapi_ident, benchcapi_inc, benchcapi_mix};
static const bench_CAPI *volatile own_table = &own;

static const bench_CAPI *stubs;

/* The result's Py_DECREF, the same in both loops. */
BENCH_NOIPA void benchcapi_decref(PyObject *r) { Py_DECREF(r); }

/* n calls of api->ident(x), releasing each result; returns how many succeeded. */
static BENCH_NOIPA long benchcapi_loop_ident(const bench_CAPI *api, PyObject *x, long n)
{
    for (long i = 0; i < n; i++) {
        PyObject *r = api->ident(x);
        if (r == NULL)
            return i;
        benchcapi_decref(r);
    }
    return n;
}

/* n chained calls x = api->inc(x) from 0: returns n when every call worked. */
static BENCH_NOIPA long benchcapi_loop_inc(const bench_CAPI *api, PyObject *unused, long n)
{
    double x = 0.0;
    (void)unused;
    for (long i = 0; i < n; i++)
        x = api->inc(x);
    return x == (double)n ? n : 0;
}

/* n calls of api->mix(x, 0.5, i), releasing each result; returns how many succeeded. */
static BENCH_NOIPA long benchcapi_loop_mix(const bench_CAPI *api, PyObject *x, long n)
{
    for (long i = 0; i < n; i++) {
        PyObject *r = api->mix(x, 0.5, i);
        if (r == NULL)
            return i;
        benchcapi_decref(r);
    }
    return n;
}

typedef long (*loop_fn)(const bench_CAPI *, PyObject *, long);

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static PyObject *connect_(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    stubs = import_bench_capi();
    if (stubs == NULL)
        return NULL;
    Py_RETURN_NONE;
}

/* Parses (table, function, obj, n) for time() and warm(). */
static int parse(PyObject *args, const bench_CAPI **api, loop_fn *loop, PyObject **obj, long *n, char *dump,
                 size_t size)
{
    const char *table, *function;
    if (!PyArg_ParseTuple(args, "ssOl", &table, &function, obj, n))
        return 0;
    if (strcmp(table, "stub") == 0) {
        if (stubs == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "benchcapi: call connect() first");
            return 0;
        }
        *api = stubs;
    } else if (strcmp(table, "base") == 0) {
        *api = own_table;
    } else {
        PyErr_Format(PyExc_ValueError, "table must be 'stub' or 'base', not %R", PyTuple_GET_ITEM(args, 0));
        return 0;
    }
    if (strcmp(function, "ident") == 0)
        *loop = benchcapi_loop_ident;
    else if (strcmp(function, "inc") == 0)
        *loop = benchcapi_loop_inc;
    else if (strcmp(function, "mix") == 0)
        *loop = benchcapi_loop_mix;
    else {
        PyErr_Format(PyExc_ValueError, "no function %R", PyTuple_GET_ITEM(args, 1));
        return 0;
    }
    if (*n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0");
        return 0;
    }
    snprintf(dump, size, "benchcapi_%s_%s", table, function);
    return 1;
}

static PyObject *check(long done, long n, double ns)
{
    if (done != n) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "a call through the bench table failed");
        return NULL;
    }
    if (ns < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(ns);
}

/* time(table, function, obj, n): n calls in the loop, counted by callgrind; the nanoseconds. */
static PyObject *time_(PyObject *self, PyObject *args)
{
    const bench_CAPI *api;
    loop_fn loop;
    PyObject *obj;
    long n;
    char dump[64];
    (void)self;
    if (!parse(args, &api, &loop, &obj, &n, dump, sizeof dump))
        return NULL;
    double t0 = now_ns();
    CALLGRIND_TOGGLE_COLLECT;
    long done = loop(api, obj, n);
    CALLGRIND_TOGGLE_COLLECT;
    double t1 = now_ns();
    CALLGRIND_DUMP_STATS_AT(dump);
    return check(done, n, t1 - t0);
}

/* warm(table, function, obj, n): the same loop, uncounted; None. */
static PyObject *warm(PyObject *self, PyObject *args)
{
    const bench_CAPI *api;
    loop_fn loop;
    PyObject *obj;
    long n;
    char dump[64];
    (void)self;
    if (!parse(args, &api, &loop, &obj, &n, dump, sizeof dump))
        return NULL;
    return check(loop(api, obj, n), n, -1);
}

static PyObject *callgrind_support(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(BENCH_CALLGRIND);
}

/* The stub table's entries, as addresses. */
static PyObject *stub_addresses(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (stubs == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "benchcapi: call connect() first");
        return NULL;
    }
    return Py_BuildValue("(nnn)", (Py_ssize_t)(Py_intptr_t)stubs->ident, (Py_ssize_t)(Py_intptr_t)stubs->inc,
                         (Py_ssize_t)(Py_intptr_t)stubs->mix);
}

static PyMethodDef methods[] = {
    {"connect", connect_, METH_NOARGS, "import_bench_capi()"},
    {"time", time_, METH_VARARGS, "time(table, function, obj, n): ns of n calls ('stub' or 'base' table)"},
    {"warm", warm, METH_VARARGS, "warm(table, function, obj, n): n calls, not counted"},
    {"callgrind_support", callgrind_support, METH_NOARGS, "built with <valgrind/callgrind.h>"},
    {"stub_addresses", stub_addresses, METH_NOARGS, "the stub table's entries"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "benchcapi",
                                       "C-API consumer of the bench API; baseline C-API functions", -1, methods};

PyMODINIT_FUNC PyInit_benchcapi(void)
{
    return PyModule_Create(&moduledef);
}
