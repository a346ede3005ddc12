/* shapes_capi: the shapes example written against the plain C-API (Python.h, no HPy), consuming the
 * geometry API through its CPython-API stubs: geometry_capi.h, which `python -m hpybridge gen
 * geometry.toml` writes, gives the functions with PyObject * for HPy and no HPyContext *. The
 * provider runs in whatever HPy mode it was loaded in; this module neither knows nor cares.
 * Built per interpreter: on PyPy through cpyext. */
#include "geometry_capi.h"

static const geometry_CAPI *geometry;

/* perimeter(points) -> the length of the closed polygon through points (2-tuples). */
static PyObject *perimeter(PyObject *self, PyObject *points)
{
    PyObject *pts = PySequence_Tuple(points);
    double total = 0.0;
    (void)self;
    if (pts == NULL)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(pts);
    for (Py_ssize_t i = 0; i < n; i++) {
        /* Borrowed points, borrowed arguments: nothing to release. */
        double d = geometry->distance(PyTuple_GET_ITEM(pts, i), PyTuple_GET_ITEM(pts, (i + 1) % n));
        if (d == -1.0 && PyErr_Occurred()) {
            Py_DECREF(pts);
            return NULL;
        }
        total += d;
    }
    Py_DECREF(pts);
    return PyFloat_FromDouble(total);
}

/* centroid(points) -> the mean of the points, a new vector from the provider. */
static PyObject *centroid(PyObject *self, PyObject *points)
{
    PyObject *pts = PySequence_Tuple(points), *sum;
    (void)self;
    if (pts == NULL)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(pts);
    if (n == 0) {
        Py_DECREF(pts);
        PyErr_SetString(PyExc_ValueError, "centroid: expected at least 1 point, found none");
        return NULL;
    }
    sum = geometry->vec(0.0, 0.0);
    for (Py_ssize_t i = 0; sum != NULL && i < n; i++) {
        PyObject *next = geometry->add(sum, PyTuple_GET_ITEM(pts, i)); /* a new reference, or NULL */
        Py_DECREF(sum);
        sum = next;
    }
    Py_DECREF(pts);
    if (sum == NULL)
        return NULL;
    PyObject *result = geometry->scale(sum, 1.0 / (double)n);
    Py_DECREF(sum);
    return result;
}

static PyMethodDef methods[] = {
    {"perimeter", perimeter, METH_O, "perimeter(points) -> the length of the closed polygon through points"},
    {"centroid", centroid, METH_O, "centroid(points) -> the mean of the points"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "shapes_capi",
                                       "shapes through the geometry API's CPython-API stubs", -1, methods};

PyMODINIT_FUNC PyInit_shapes_capi(void)
{
    /* NumPy's import_array() pattern: a failed import fails this module's import, naming both sides. */
    geometry = import_geometry_capi();
    if (geometry == NULL)
        return NULL;
    return PyModule_Create(&moduledef);
}
