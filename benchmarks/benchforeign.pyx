# benchforeign: the foreign module of the foreign-table benchmark (benchmarks/run.py, "Foreign
# C-API tables"): a plain Cython module, no HPy, that publishes two trivial C-API functions in a
# table capsule without a name, NumPy's `_ARRAY_API` style, and times a C loop calling them through
# that table directly, as a C-API consumer would: the baseline for an HPy consumer's loop through
# the table hpybridge gives it (benchfcons.c).
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_New
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC


cdef api object ident(object o):
    return o


cdef api double inc(double x) noexcept:
    return x + 1.0


ctypedef object (*ident_t)(object)
ctypedef double (*inc_t)(double) noexcept

cdef void *table[2]
table[0] = <void *>ident
table[1] = <void *>inc
_TABLE = PyCapsule_New(<void *>table, NULL, NULL)

cdef double sink = 0


cdef double now():
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return <double>t.tv_sec * 1e9 + <double>t.tv_nsec


def time(fn, obj, long n):
    """ns of n calls of `fn` ("ident": its result released, or "inc") through the table."""
    global sink
    cdef long i
    cdef double start, s = 0
    # From the capsule, as a consumer gets them: calls the compiler cannot inline.
    cdef void **t = <void **>PyCapsule_GetPointer(_TABLE, NULL)
    cdef ident_t f_ident = <ident_t>t[0]
    cdef inc_t f_inc = <inc_t>t[1]
    if fn == "ident":
        start = now()
        for i in range(n):
            f_ident(obj)
        return now() - start
    start = now()
    for i in range(n):
        s += f_inc(<double>i)
    sink = s
    return now() - start
