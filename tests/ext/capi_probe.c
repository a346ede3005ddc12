/* capi_probe: a plain C-API extension (Python.h, no HPy), built for the interpreter that runs the
   tests: on PyPy through cpyext, against the headers of PyPy's own pypy3-dev. */
#include <Python.h>

static PyObject *twice(PyObject *self, PyObject *obj)
{
    (void)self;
    return PyNumber_Add(obj, obj);
}

static PyObject *implementation(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
#ifdef PYPY_VERSION
    return PyUnicode_FromString("PyPy");
#else
    return PyUnicode_FromString("CPython");
#endif
}

static PyMethodDef methods[] = {
    {"twice", twice, METH_O, "twice(x) -> x + x"},
    {"implementation", implementation, METH_NOARGS, "the interpreter the headers were for"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "capi_probe", NULL, -1, methods};

PyMODINIT_FUNC PyInit_capi_probe(void)
{
    return PyModule_Create(&moduledef);
}
