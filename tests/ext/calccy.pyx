# calccy: a Cython consumer of the calc test API, through the generated calc_capi.pxd: the
# provider's functions in their CPython-API form, called with Python objects and C scalars.
cimport calc_capi

cdef const calc_capi.calc_CAPI *calc = NULL


def connect():
    global calc
    calc = calc_capi.import_calc_capi()


def add(a, b):
    return calc.add(a, b)


def hypot(double x, double y):
    return calc.hypot(x, y)


def repeat(seq, Py_ssize_t n):
    return calc.repeat(seq, n)


def fill(long n, double value):
    cdef double out[16]
    if not 0 <= n <= 16:
        raise ValueError("fill(n, value): 0 <= n <= 16")
    cdef long written = calc.fill(out, n, value)
    return [out[k] for k in range(written)]


def fail(message):
    return calc.fail(message)


def pick(a, b, c, int which):
    return calc.pick(a, b, c, which)


def provider_context():
    return calc.context_name().decode()
