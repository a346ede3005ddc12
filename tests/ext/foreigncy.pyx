# foreigncy: a plain Cython module (no hpybridge, no HPy) that publishes C-API functions two ways,
# for HPy consumers to import as a foreign table (tests/test_foreign.py): `cdef api` functions in
# `__pyx_capi__` (one capsule per function, named by its C signature), and the same functions in a
# `void *` table held by a capsule without a name, NumPy's `_ARRAY_API` style (entry 2 is NULL, as
# removed entries of NumPy's table are).
from cpython.pycapsule cimport PyCapsule_New


cdef extern from "Python.h":
    Py_ssize_t Py_REFCNT(object o)


def refcount(o):
    """The reference count the C API sees (cpyext keeps one too)."""
    return Py_REFCNT(o)


cdef api object scale(object seq, double k):
    return [x * k for x in seq]


cdef api double total(object seq) except? -1.0:
    cdef double s = 0
    for x in seq:
        s += x
    return s


cdef api Py_ssize_t count(object o) except -1:
    return len(o)


cdef api object ident(object o):
    return o


cdef api object fail(object message):
    raise ValueError(message)


cpdef api object pair(object a, object b):
    return (a, b)


cdef api object mix(object a, double b, int c, object d, Py_ssize_t e, double f, long g, object h):
    return (a, b, c, d, e, f, g, h)


cdef api double inc(double x):
    return x + 1.0


cdef void *table[8]
table[0] = <void *>scale
table[1] = <void *>total
table[2] = NULL
table[3] = <void *>count
table[4] = <void *>ident
table[5] = <void *>fail
table[6] = <void *>mix
table[7] = <void *>inc


TABLE = PyCapsule_New(<void *>table, NULL, NULL)
NAMED_TABLE = PyCapsule_New(<void *>table, b"foreigncy.table", NULL)
NOT_A_CAPSULE = 42
