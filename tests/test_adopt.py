"""Adopting foreign C callables (issue 10, "Adopt"; docs/cdict.md §10): `hpybridge.cfunction` turns
a ctypes or cffi function pointer, a numba `@cfunc`, a Cython `__pyx_capi__` function (a real
Cython module, tests/ext/adoptcy.pyx, and SciPy's), a SciPy `LowLevelCallable`, a capsule named by
its signature or an address into a `CFunction` of one foreign implementation: called from Python
through the same marshalling, stored in an object's `__cdict__` (`hpybridge.cdict_set`) and looked
up from an HPy C consumer (tests/ext/duckcons.c) in every HPy mode.

On PyPy: ctypes, cffi, capsules, addresses and the Cython module (built against cpyext) run; numba
and SciPy have no PyPy 7.3.19 build here, so their tests skip saying so."""

import array
import ctypes
import ctypes.util
import itertools
import math
import os
import re
import threading
import time

import pytest

import hpybridge
from conftest import EXT, IS_PYPY, build, build_with_headers, generate_headers, read_text, run_modules
from hpybridge import devel
from hpybridge.cdict import FLAG_FOREIGN, FLAG_NOGIL
from hpybridge.errors import SignatureSyntaxError

NO_NUMBA = "numba has no PyPy 7.3.19 build here (it needs llvmlite and NumPy's C API)"
NO_SCIPY = "SciPy has no PyPy 7.3.19 build here (it needs NumPy, which is not installed for this PyPy)"
VALUES = [0.0, 0.5, -1.25, 3.0, 1e-300, 123.456]


def needs_numba():
    if IS_PYPY:
        pytest.skip(NO_NUMBA)


def needs_scipy():
    if IS_PYPY:
        pytest.skip(NO_SCIPY)


@pytest.fixture(scope="module")
def adoptcy_path():
    """tests/ext/adoptcy.pyx, a plain Cython module, built for this interpreter (PyPy: cpyext)."""
    return devel.compile_cython_extension("adoptcy", os.path.join(EXT, "adoptcy.pyx"))


@pytest.fixture(scope="module")
def adoptcy(adoptcy_path):
    return devel.load_capi_extension("adoptcy", adoptcy_path)


@pytest.fixture(scope="module")
def libm():
    return ctypes.CDLL(ctypes.util.find_library("m"))


def ctypes_cos(libm):
    cos = libm.cos
    cos.restype, cos.argtypes = ctypes.c_double, [ctypes.c_double]
    return cos


def address(f):
    return ctypes.cast(f, ctypes.c_void_p).value


def one(function):
    (imp,) = function.implementations
    return imp


def check_foreign(function, signature, provider, name):
    imp = one(function)
    assert imp.signature == signature and function.signatures == (signature,)
    assert (imp.family, imp.provider, imp.flags, imp.refused) == (None, provider, FLAG_FOREIGN, None)
    assert function.name == name
    assert isinstance(function, hpybridge.CFunction)


# -- ctypes ---------------------------------------------------------------------------------------


def test_ctypes_cdll_function(libm):
    cos = ctypes_cos(libm)
    f = hpybridge.cfunction(cos)
    check_foreign(f, "double (double)", "ctypes", "ctypes.cos")
    assert [f(x) for x in VALUES] == [cos(x) for x in VALUES] == [math.cos(x) for x in VALUES]
    assert repr(f) == "<hpybridge.CFunction ctypes.cos: double (double) [foreign, ctypes]>"
    assert "ctypes function pointer" in f.doc and "double (double)" in f.doc
    # The same marshalling, naming the entry.
    with pytest.raises(TypeError, match=r"^ctypes\.cos\(\) argument 1 \(double\): "):
        f("x")
    with pytest.raises(TypeError, match=r"^ctypes\.cos\(\) takes 1 argument \(\"double \(double\)\"\), got 2$"):
        f(1.0, 2.0)
    # An int and an object with __float__ convert as for any double parameter.
    assert f(0) == 1.0 and f(type("F", (), {"__float__": lambda self: 0.0})()) == 1.0


def test_ctypes_cfunctype_instance_and_name(libm):
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
    cos = proto(address(libm.cos))
    f = hpybridge.cfunction(cos, name="m.cosine")
    check_foreign(f, "double (double)", "ctypes", "m.cosine")
    assert [f(x) for x in VALUES] == [cos(x) for x in VALUES]
    # The given signature must agree with ctypes' description, in any spelling.
    assert hpybridge.cfunction(cos, "double(double x)").signatures == ("double (double)",)
    with pytest.raises(ValueError, match=r"signature 'float \(float\)' given, but the ctypes function is "
                                         r"'double \(double\)'"):
        hpybridge.cfunction(cos, "float (float)")


def test_ctypes_types_to_c_names(libm):
    """Each ctypes type has its C name; nothing here is called (the address is cos's)."""
    c = ctypes
    cases = [
        ((c.c_bool, c.c_byte, c.c_ubyte, c.c_short, c.c_ushort, c.c_int),
         "bool (signed char, unsigned char, short, unsigned short, int)"),
        # c_longlong is ctypes' alias of c_long where both have 8 bytes (here).
        ((c.c_uint, c.c_long, c.c_ulong, c.c_longlong, c.c_ulonglong),
         "unsigned int (long, unsigned long, %s)" % ("long, unsigned long" if c.c_longlong is c.c_long
                                                     else "long long, unsigned long long")),
        # c_size_t and c_ssize_t are ctypes' aliases of c_ulong and c_long on this platform.
        ((c.c_size_t, c.c_ssize_t, c.c_float, c.c_char), "unsigned long (long, float, char)"),
        ((c.c_void_p, c.c_char_p, c.py_object, c.POINTER(c.c_double)), "void * (char *, PyObject *, double *)"),
        ((c.POINTER(c.c_char), c.POINTER(c.POINTER(c.c_int)), c.c_int8, c.c_uint64), "char * (int **, signed char, "
         "unsigned long)"),
        ((None,), "void (void)"),
    ]
    for types, want in cases:
        f = hpybridge.cfunction(c.CFUNCTYPE(*types)(address(libm.cos)))
        assert f.signatures == (want,), types


def test_ctypes_pointers_strings_and_objects(adoptcy, libm):
    libc = ctypes.CDLL(None)
    strlen = libc.strlen
    strlen.restype, strlen.argtypes = ctypes.c_size_t, [ctypes.c_char_p]
    f = hpybridge.cfunction(strlen)
    assert f.signatures == ("unsigned long (char *)",)
    assert [f(b"hello"), f("h\u00e9"), f(b"")] == [5, 3, 0]
    # A pointer parameter takes any buffer of its type: the Cython module's total through ctypes.
    total_address = hpybridge._runtime.capsule_contents(adoptcy.__pyx_capi__["total"], None)[1]
    total = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t)(total_address)
    t = hpybridge.cfunction(total, name="total")
    assert t.signatures == ("double (double *, long)",)
    data = array.array("d", [1.5, 2.5, 3.0])
    assert t(data, 3) == 7.0 == total((ctypes.c_double * 3)(*data), 3)
    with pytest.raises(TypeError, match=r"^total\(\) argument 1 \(double \*\): expected a writable"):
        t(b"12345678", 1)


@pytest.mark.skipif(IS_PYPY, reason="PyPy's ctypes has no pythonapi (no PyDLL of the interpreter itself)")
def test_ctypes_pythonapi_objects():
    absolute = ctypes.pythonapi.PyNumber_Absolute
    absolute.restype, absolute.argtypes = ctypes.py_object, [ctypes.py_object]
    f = hpybridge.cfunction(absolute)
    assert f.signatures == ("PyObject * (PyObject *)",)
    assert [f(-5), f(2.5), f(-(2 ** 80))] == [5, 2.5, 2 ** 80]
    # The C function's own exception comes through.
    with pytest.raises(TypeError, match="bad operand type for abs"):
        f("x")


def test_ctypes_bad_inputs(libm):
    libc = ctypes.CDLL(None)
    with pytest.raises(TypeError, match=r"^cfunction\(\): ctypes function strlen has no argtypes: set \.argtypes"):
        hpybridge.cfunction(libc.strlen)
    if not IS_PYPY:  # PyPy's ctypes cannot make a function type returning c_longdouble ("unknown shape g")
        with pytest.raises(TypeError, match=r"ctypes\.function result: ctypes type c_longdouble is C long double, "
                                            r"which hpybridge's signatures cannot express"):
            hpybridge.cfunction(ctypes.CFUNCTYPE(ctypes.c_longdouble, ctypes.c_double)(address(libm.cos)))

    class Pair(ctypes.Structure):
        _fields_ = [("a", ctypes.c_int), ("b", ctypes.c_int)]

    with pytest.raises(TypeError, match=r"argument 1: ctypes type Pair .*structures, unions, arrays"):
        hpybridge.cfunction(ctypes.CFUNCTYPE(ctypes.c_int, Pair)(address(libm.cos)))
    checked = libm.sin
    checked.restype, checked.argtypes, checked.errcheck = ctypes.c_double, [ctypes.c_double], lambda r, f, a: r
    with pytest.raises(TypeError, match="has an errcheck, which calls through hpybridge would skip"):
        hpybridge.cfunction(checked)
    errno_proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, use_errno=True)
    with pytest.raises(TypeError, match="uses errno or LastError"):
        hpybridge.cfunction(errno_proto(address(libm.cos)))
    with pytest.raises(ValueError, match="NULL function pointer"):
        hpybridge.cfunction(ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)())


# -- cffi -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ffi():
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef("double cos(double); size_t strlen(const char *); long labs(long); int printf(const char *, ...);"
             "struct pair { int a, b; }; long double cosl(long double);")
    return ffi


def test_cffi_abi_mode(ffi):
    lib = ffi.dlopen(None)
    f = hpybridge.cfunction(lib.cos, name="libm.cos")
    check_foreign(f, "double (double)", "cffi", "libm.cos")
    assert [f(x) for x in VALUES] == [lib.cos(x) for x in VALUES]
    s = hpybridge.cfunction(lib.strlen)
    assert s.name == "cffi.function" and s.signatures == ("size_t (char *)",)
    assert s(b"four") == 4 == lib.strlen(b"four")
    labs = hpybridge.cfunction(ffi.cast("long(*)(long)", int(ffi.cast("uintptr_t", lib.labs))))
    assert labs.signatures == ("long (long)",) and labs(-7) == 7
    with pytest.raises(OverflowError, match=r"cffi\.function\(\) argument 1 \(long\): "):
        labs(2 ** 70)


def test_cffi_bad_inputs(ffi):
    lib = ffi.dlopen(None)
    with pytest.raises(TypeError, match=r"is variadic"):
        hpybridge.cfunction(lib.printf)
    with pytest.raises(TypeError, match=r"struct pair is a struct, which hpybridge's signatures cannot express"):
        hpybridge.cfunction(ffi.cast("int(*)(struct pair)", int(ffi.cast("uintptr_t", lib.labs))))
    with pytest.raises(SignatureSyntaxError, match="long double is unsupported"):
        hpybridge.cfunction(lib.cosl)
    with pytest.raises(TypeError, match=r"expected a cffi function pointer, got a cffi pointer \(int \*\)"):
        hpybridge.cfunction(ffi.new("int *"))


# -- numba ----------------------------------------------------------------------------------------


def test_numba_cfunc():
    needs_numba()
    import numba
    from numba import cfunc, types

    @cfunc("float64(float64, int32)")
    def poly(x, n):
        return x ** n + 1.0

    f = hpybridge.cfunction(poly)
    check_foreign(f, "double (double, int)", "numba", "numba.poly")
    assert [f(x, 3) for x in VALUES] == [poly.ctypes(x, 3) for x in VALUES]
    assert "numba @cfunc (float64, int32) -> float64" in f.doc

    @cfunc(types.float64(types.CPointer(types.float64), types.intp))
    def sum_of(xs, n):
        s = 0.0
        for i in range(n):
            s += xs[i]
        return s

    g = hpybridge.cfunction(sum_of)
    assert g.signatures == ("double (double *, long)",)
    assert g(array.array("d", [1.0, 2.0, 4.0]), 3) == 7.0

    @cfunc(types.complex128(types.complex128))
    def conj(z):
        return z.conjugate()

    with pytest.raises(TypeError, match=r"numba cfunc numba\.conj has signature \(complex128,\) -> complex128, "
                                        r"which has no C form"):
        hpybridge.cfunction(conj)
    assert numba.__version__


# -- Cython ---------------------------------------------------------------------------------------


def test_cython_module(adoptcy):
    hyp = hpybridge.cfunction_from_cython(adoptcy, "hypot2")
    check_foreign(hyp, "double (double, double)", "cython:adoptcy", "adoptcy.hypot2")
    assert hyp(3.0, 4.0) == 25.0
    # A cpdef function: its trailing __pyx_skip_dispatch is the runtime's (0), not an argument.
    half = hpybridge.cfunction_from_cython(adoptcy, "half")
    check_foreign(half, "double (double)", "cython:adoptcy", "adoptcy.half")
    assert [half(x) for x in VALUES] == [adoptcy.half(x) for x in VALUES]
    assert repr(half) == ("<hpybridge.CFunction adoptcy.half: double (double) [foreign, cython:adoptcy; binds "
                          "argument 2 (int) = 0]>")
    assert "binds int __pyx_skip_dispatch = 0" in half.doc
    with pytest.raises(TypeError, match=r"adoptcy\.half\(\) takes 1 argument"):
        half(1.0, 0)
    scaled = hpybridge.cfunction_from_cython(adoptcy, "scaled")
    assert scaled.signatures == ("long (long, int)",) and scaled(-4, 3) == -12
    total = hpybridge.cfunction_from_cython(adoptcy, "total")
    assert total.signatures == ("double (double *, Py_ssize_t)",)
    # `double const *` in Cython's spelling: read-only buffers are fine.
    assert total(memoryview(array.array("d", [0.0, 2.5])).toreadonly(), 2) == 2.5
    # The function's own exception (an `except? -1` function) comes through.
    checked = hpybridge.cfunction_from_cython(adoptcy, "checked")
    assert checked(2.0) == 2.0
    with pytest.raises(ValueError, match="checked\\(\\) got a negative number"):
        checked(-1.0)


def test_cython_refusals(adoptcy):
    for name, what in [("ld", "long double"), ("cplx", "__pyx_t_double_complex"), ("twice", "real_t")]:
        with pytest.raises(SignatureSyntaxError) as e:
            hpybridge.cfunction_from_cython(adoptcy, name)
        assert str(e.value).startswith("cfunction(): Cython function adoptcy.%s has the C signature '" % name)
        assert "which hpybridge's signatures cannot express" in str(e.value) and what in str(e.value)
    with pytest.raises(KeyError, match="module 'adoptcy' has no function 'nope' in its __pyx_capi__"):
        hpybridge.cfunction_from_cython(adoptcy, "nope")
    with pytest.raises(TypeError, match="expected a Cython module with a __pyx_capi__ dict"):
        hpybridge.cfunction_from_cython(math, "cos")


def test_scipy_cython_special():
    needs_scipy()
    import scipy.linalg.cython_blas as blas
    import scipy.special as special
    import scipy.special.cython_special as cs

    j0 = hpybridge.cfunction_from_cython("scipy.special.cython_special", "j0")
    check_foreign(j0, "double (double)", "cython:scipy.special.cython_special", "scipy.special.cython_special.j0")
    assert [j0(x) for x in VALUES] == [special.j0(x) for x in VALUES]
    # The capsule alone is a Cython one by its signature's trailing __pyx_skip_dispatch.
    raw = hpybridge.cfunction(cs.__pyx_capi__["j0"])
    assert one(raw).provider == "capsule" and raw.signatures == ("double (double)",) and raw(1.0) == j0(1.0)
    gamma = hpybridge.cfunction_from_cython(cs, "__pyx_fuse_1gamma")
    assert gamma(5.0) == 24.0
    mangled = [k for k, v in blas.__pyx_capi__.items() if "__pyx_t_5scipy" in repr(v)][0]
    with pytest.raises(SignatureSyntaxError, match="__pyx_t_5scipy_6linalg_11cython_blas_"):
        hpybridge.cfunction_from_cython(blas, mangled)


# -- SciPy LowLevelCallable ----------------------------------------------------------------------


def test_lowlevelcallable_user_data(adoptcy, libm):
    needs_scipy()
    from scipy import LowLevelCallable, integrate

    factor = ctypes.c_double(2.5)
    user_data = ctypes.cast(ctypes.pointer(factor), ctypes.c_void_p)
    # A ctypes callback reading user_data: a real C function pointer (ctypes' thunk).
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, ctypes.c_void_p)
    times = proto(lambda x, data: x * ctypes.cast(data, ctypes.POINTER(ctypes.c_double))[0])
    llc = LowLevelCallable(times, user_data)
    f = hpybridge.cfunction(llc, name="scipy.times")
    check_foreign(f, "double (double)", "scipy", "scipy.times")
    assert [f(x) for x in VALUES] == [x * 2.5 for x in VALUES]
    assert "binds argument 2 (void *) = 0x%x" % ctypes.addressof(factor) in repr(f)
    factor.value = 4.0  # the bound pointer is user_data itself, read at every call
    assert f(2.0) == 8.0
    # SciPy integrates with the same callable; so can anyone with the adopted one.
    assert integrate.quad(llc, 0, 1)[0] == pytest.approx(2.0)
    # Without user_data: a plain "double (double)" LowLevelCallable.
    g = hpybridge.cfunction(LowLevelCallable(ctypes_cos(libm)))
    assert g.signatures == ("double (double)",) and g(0.5) == math.cos(0.5)
    # The Cython module's function through LowLevelCallable.from_cython.
    h = hpybridge.cfunction(LowLevelCallable.from_cython(adoptcy, "hypot2"))
    assert h(1.0, 2.0) == 5.0
    with pytest.raises(ValueError, match="has user_data but its signature 'double \\(double\\)' has no trailing"):
        hpybridge.cfunction(LowLevelCallable(ctypes_cos(libm), user_data))


# -- capsules, addresses, anything else -----------------------------------------------------------


def test_capsules(adoptcy):
    f = hpybridge.cfunction(adoptcy.capsule(b"double (double, double)"))
    check_foreign(f, "double (double, double)", "capsule", "capsule.function")
    assert f(1.0, 2.0) == 5.0
    # Any spelling the parser accepts, names included.
    assert hpybridge.cfunction(adoptcy.capsule(b"double(double x, double y)"), name="h")(2.0, 0.0) == 4.0
    with pytest.raises(SignatureSyntaxError, match=r"^cfunction\(\): expected a capsule named by a C signature, got "
                                                   r"one named 'adoptcy\.table' \(pass signature="):
        hpybridge.cfunction(adoptcy.capsule(b"adoptcy.table"))
    with pytest.raises(ValueError, match="the capsule has no name; pass signature="):
        hpybridge.cfunction(adoptcy.capsule(None))
    # With signature= a capsule named otherwise (or not at all) is read under its own name.
    assert hpybridge.cfunction(adoptcy.capsule(b"adoptcy.table"), "double (double, double)")(3.0, 0.0) == 9.0
    assert hpybridge.cfunction(adoptcy.capsule(None), "double (double, double)")(0.0, 1.0) == 1.0
    with pytest.raises(SignatureSyntaxError):
        hpybridge.cfunction(adoptcy.capsule(b"double (double, double"))
    # A capsule named by a signature is that function's: signature= may only agree with it.
    named = adoptcy.capsule(b"double (double, double)")
    assert hpybridge.cfunction(named, "double(double a, double b)")(1.0, 1.0) == 2.0
    with pytest.raises(ValueError, match=r"signature 'float \(float\)' given, but the capsule function is "
                                         r"'double \(double, double\)'"):
        hpybridge.cfunction(named, "float (float)")
    with pytest.raises(SignatureSyntaxError, match="cannot express"):
        hpybridge.cfunction(adoptcy.__pyx_capi__["ld"], "double (double)")


def test_address(libm):
    at = address(libm.cos)
    f = hpybridge.cfunction(at, "double (double)")
    check_foreign(f, "double (double)", "address", "address.0x%x" % at)
    assert f(1.0) == math.cos(1.0)
    with pytest.raises(TypeError, match="an int address needs signature="):
        hpybridge.cfunction(at)
    with pytest.raises(ValueError, match="is not a function address"):
        hpybridge.cfunction(0, "double (double)")
    with pytest.raises(ValueError, match="is not a function address"):
        hpybridge.cfunction(-at, "double (double)")
    for sig, why in [("double (HPyContext *, double)", "it takes an HPyContext *"),
                     ("HPy (double)", "it passes HPy handles"), ("void (HPy *)", "it passes HPy handles")]:
        message = '"%s": %s, which only a function of a known HPy context family can take' % (sig, why)
        with pytest.raises(TypeError, match=re.escape(message)):
            hpybridge.cfunction(at, sig, name="x")


def test_not_c_callables(libm):
    for obj, what in [(3.5, "float"), ("cos", "str"), (math.cos, "builtin_function(_or_method)?"), (None, "NoneType"),
                      (True, "bool"), (lambda: 0, "function"), (ctypes.c_int(3), "ctypes.c_int")]:
        with pytest.raises(TypeError, match=r"^cfunction\(\): expected a C callable .*, got %s$" % what):
            hpybridge.cfunction(obj)
    with pytest.raises(TypeError, match="signature: expected a str, got bytes"):
        hpybridge.cfunction(address(libm.cos), b"double (double)")


def test_cfunction_passes_through(libm):
    f = hpybridge.cfunction(ctypes_cos(libm))
    assert hpybridge.cfunction(f) is f
    assert hpybridge.cfunction(f, "double(double)").signatures == ("double (double)",)
    with pytest.raises(KeyError):
        hpybridge.cfunction(f, "float (float)")


def test_adopting_again_reuses_the_implementation(libm):
    from hpybridge import adopt

    cos = ctypes_cos(libm)
    hpybridge.cfunction(cos)
    before = {k: list(v) for k, v in adopt._KEEP.items()}
    for _ in range(20):
        hpybridge.cfunction(cos)
    assert {k: list(v) for k, v in adopt._KEEP.items()} == before


@pytest.fixture(scope="module")
def cdictprov_lib():
    """tests/ext/cdictprov.c's shared object, opened by ctypes (not as a module): its plain C
    functions, `cdt_wait_flag` among them, are foreign functions like any library's."""
    path = build_with_headers("cdictprov", "cdictprov.c",
                              generate_headers(read_text(os.path.join(EXT, "cdict.toml")), "cdt"), libraries=["m"])
    return ctypes.CDLL(path)


def waits(function, seconds):
    """What `function(state, seconds)` (cdt_wait_flag) returns when another thread sets state[1] as
    soon as it sees state[0]: 1 if the call let the GIL go, 0 if it held it for `seconds`."""
    state = array.array("i", [0, 0])
    out = []
    t = threading.Thread(target=lambda: out.append(function(state, seconds)))
    t.start()
    while not state[0] and t.is_alive():  # runs only while the other thread lets the GIL go
        time.sleep(0.001)
    state[1] = 1
    t.join()
    return out[0]


def test_nogil(cdictprov_lib):
    """`nogil=True` adopts with FLAG_NOGIL: a Python call that passes a buffer releases the GIL (the
    other thread sets the flag the function waits for), while the same function adopted without it
    keeps the GIL (the wait times out: 0). Both adoptions are kept apart (the flags are part of
    what an adoption is), and nogil is refused where it cannot hold."""
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_double)
    wait = proto(("cdt_wait_flag", cdictprov_lib))
    free, held = hpybridge.cfunction(wait, nogil=True), hpybridge.cfunction(wait)
    assert (one(free).flags, one(held).flags) == (FLAG_FOREIGN | FLAG_NOGIL, FLAG_FOREIGN)
    assert free.signatures == held.signatures == ("int (int *, double)",)
    assert waits(free, 20.0) == 1
    assert waits(held, 0.2) == 0
    assert one(hpybridge.cfunction(wait, nogil=True)).flags == FLAG_FOREIGN | FLAG_NOGIL  # the same again
    # A function of scalars only keeps the GIL even with nogil: nothing it is passed needs releasing.
    twice = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(("cdt_twice", cdictprov_lib))
    assert hpybridge.cfunction(twice, nogil=True)(21.0) == 42.0
    with pytest.raises(TypeError, match=r"^cfunction\(\) nogil: expected a bool, got int$"):
        hpybridge.cfunction(wait, nogil=1)
    with pytest.raises(TypeError, match=r"^cfunction\(\): nogil= applies to a foreign C callable being adopted"):
        hpybridge.cfunction(free, nogil=True)
    # Refused at adoption, before any call: any address will do for a PyObject * signature.
    objects = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object)(address(wait))
    with pytest.raises(ValueError, match=r"^ctypes.function \"PyObject \* \(PyObject \*\)\": nogil "
                                         r"\(HPYBRIDGE_ENTRY_NOGIL\) needs a signature without HPyContext \*, HPy or "
                                         r"PyObject \* \(they need the GIL\), found PyObject \*$"):
        hpybridge.cfunction(objects, nogil=True)


def test_threads(adoptcy, libm):
    cos = hpybridge.cfunction(ctypes_cos(libm))
    hyp = hpybridge.cfunction_from_cython(adoptcy, "hypot2")
    half = hpybridge.cfunction_from_cython(adoptcy, "half")
    errors = []

    def work(k):
        try:
            for i in range(2000):
                x = (i + k) * 0.001
                if cos(x) != math.cos(x) or hyp(x, k) != x * x + k * k or half(x) != x / 2:
                    errors.append((k, i))
                if k == 0 and i % 500 == 0:
                    hpybridge.cfunction_from_cython(adoptcy, "half")  # adopting while others call
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- in a __cdict__, looked up by an HPy C consumer, in every mode -------------------------------

LOOKUP = r"""
import ctypes, math
from hpy.debug import LeakDetector
from hpybridge import devel
adoptcy = devel.load_capi_extension("adoptcy", ADOPTCY)
libc = ctypes.CDLL(None)
labs = libc.labs
labs.argtypes, labs.restype = [ctypes.c_long], ctypes.c_long
class D:
    pass
d, e = D(), D()
tag = hpybridge.cfunction(labs)
hpybridge.cdict_set(d, "tag", tag)
hpybridge.cdict_set(D, "half", hpybridge.cfunction_from_cython(adoptcy, "half"))
hpybridge.cdict_set(D, "tag", hpybridge.cfunction_from_cython(adoptcy, "scaled"))
r = {"backend": hpybridge.trampoline_info()["backend"]}
r["tag"] = [duckcons.tag(d, -5), duckcons.tag(d, 7), duckcons.tag(e, 1)]
r["address"] = duckcons.lookup(d, "tag", "long(long v)") == ctypes.cast(labs, ctypes.c_void_p).value
r["scaled"] = duckcons.lookup(e, "tag", "long (long, int)") == hpybridge._runtime.capsule_contents(
    adoptcy.__pyx_capi__["scaled"], None)[1]
# A bound entry: the consumer gets a binding stub of "double (double)" that passes
# __pyx_skip_dispatch = 0; called here through ctypes, as any C caller would.
stub = duckcons.lookup(e, "half", "double (double)")
r["bound"] = [ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(stub)(x) for x in (3.0, -1.0)]
r["bound"] += [stub == duckcons.lookup(D(), "half", "double(double x)"), stub != hpybridge._runtime.capsule_contents(
    adoptcy.__pyx_capi__["half"], None)[1], duckcons.lookup(e, "half", "double (double, int)")]
try:
    from scipy import LowLevelCallable
except ImportError:  # PyPy: no SciPy
    LowLevelCallable = None
r["llc"] = None
if LowLevelCallable is not None:
    factor = ctypes.c_double(3.0)
    llc = LowLevelCallable.from_cython(adoptcy, "times", ctypes.cast(ctypes.pointer(factor), ctypes.c_void_p))
    hpybridge.cdict_set(d, "times", hpybridge.cfunction(llc))
    times = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(duckcons.lookup(d, "times", "double (double)"))
    r["llc"] = [times(2.0), d.__cdict__["times"](2.0)]
    factor.value = -1.0
    r["llc"] += [times(2.0), d.__cdict__["times"](2.0)]
r["python"] = [d.__cdict__["tag"](-3), D.__cdict__["half"](3.0), D.__cdict__["tag"](2, 3), list(d.__cdict__),
               list(D.__cdict__), tuple(d.__cdict__["tag"].implementations[0])]
r["errors"] = [outcome(hpybridge.cdict_set, 1, "x", tag), outcome(hpybridge.cdict_set, d, "1x", tag),
               outcome(hpybridge.cdict_set, d, "x", 3.5)]
with LeakDetector():
    for i in range(50):
        duckcons.tag(d, -i); duckcons.tag(e, i); duckcons.lookup(e, "tag", "long (long, int)")
        d.__cdict__["tag"](-i); D.__cdict__["half"](1.0); hpybridge.cfunction(labs)(-1)
        ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(duckcons.lookup(e, "half", "double (double)"))(1.0)
result = r
"""


@pytest.fixture(scope="module")
def duckcons():
    return build("duckcons", "duckcons.c")


@pytest.mark.parametrize("consumer,runtime,backend", [
    *[(c, r, "dynasm") for c, r in itertools.product(hpybridge.MODES, hpybridge.MODES)],
    ("universal", "universal", "libffi"), ("debug", "trace", "libffi")])
def test_cdict_lookup_from_hpy_consumer(duckcons, adoptcy_path, consumer, runtime, backend):
    """Every pairing of consumer and runtime modes, and the libffi backend's binding stubs and calls."""
    r = run_modules([("duckcons", duckcons, consumer)], LOOKUP.replace("ADOPTCY", repr(adoptcy_path)),
                    {"HPY": "hpybridge:%s" % runtime, "HPYBRIDGE_TRAMPOLINES": backend})
    assert r["backend"] == backend
    # The consumer calls the adopted libc labs through the pointer its lookup gave: the function itself.
    assert r["tag"] == [5, 7, None]
    assert r["address"] is True and r["scaled"] is True
    # The bound entry's binding stub: the same one for every lookup, not the function itself; the
    # full signature is no entry of the __cdict__ (a miss).
    assert r["bound"] == [1.5, -0.5, True, True, None]
    # A LowLevelCallable's user_data bound the same way (its pointer: the value is read at each call).
    assert r["llc"] == (None if IS_PYPY else [6.0, 6.0, -2.0, -2.0])
    assert r["python"] == [3, 1.5, 6, ["tag"] if IS_PYPY else ["tag", "times"], ["half", "tag"],
                           ["long (long)", None, "ctypes", FLAG_FOREIGN, None]]
    assert r["errors"][0][0] == "TypeError"
    assert "cannot set the __cdict__ of an object of type 'int'" in r["errors"][0][1]
    assert r["errors"][1] == ["ValueError", 'cdict_set(): entry name "1x" is not a C identifier']
    assert r["errors"][2] == ["TypeError", "cdict_set() function: expected a hpybridge.CFunction "
                              "(hpybridge.cfunction() makes one), got float"]

