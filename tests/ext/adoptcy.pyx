# adoptcy: a plain Cython module (no hpybridge, no HPy) whose `cdef api` and `cpdef api` functions
# hpybridge.cfunction adopts from its `__pyx_capi__` (tests/test_adopt.py): scalars, a const
# buffer, a cpdef (trailing `int __pyx_skip_dispatch`), one that raises, and types hpybridge's
# signatures cannot express (long double, complex, a public ctypedef, whose name the parser cannot resolve).
from cpython.pycapsule cimport PyCapsule_New

ctypedef public double real_t

cdef api double hypot2(double x, double y) noexcept:
    return x * x + y * y


cpdef api double half(double x) noexcept:
    return x / 2


cdef api double times(double x, void *data) noexcept:
    """A LowLevelCallable's shape: user_data points to the factor."""
    return x * (<double *>data)[0]


cdef api long scaled(long v, int k) noexcept:
    return v * k


cdef api double total(const double *xs, Py_ssize_t n) noexcept:
    cdef double s = 0
    cdef Py_ssize_t i
    for i in range(n):
        s += xs[i]
    return s


cdef api double checked(double x) except? -1.0:
    if x < 0:
        raise ValueError("checked() got a negative number")
    return x


cdef api long double ld(long double x) noexcept:
    return x


cdef api double complex cplx(double complex z) noexcept:
    return z


cdef api real_t twice(real_t x) noexcept:
    return 2 * x


def capsule(name):
    """A capsule holding hypot2, named `name` (bytes, or None for no name)."""
    if name is None:
        return PyCapsule_New(<void *>hypot2, NULL, NULL)
    global _names
    _names.append(name)  # the capsule keeps a pointer to its name: keep the bytes alive
    return PyCapsule_New(<void *>hypot2, <char *>name, NULL)


_names = []
