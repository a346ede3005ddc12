"""Exporting `CFunction`s to foreign callers (issue 10, the export half; docs/export.md): every
entry's *foreign form* (no `HPyContext *`, `PyObject *` for `HPy`) as a ctypes or cffi function
pointer, a SciPy `LowLevelCallable` named with SciPy's exact spelling, and an argument numba's
`@njit` code calls at native speed; type entries through a CPython-API stub made on demand.

Providers: tests/ext/cdictprov.c (the cdt API, tests/ext/cdict.toml) and tests/ext/duckpa.c /
duckpb.c (type entries), in each HPy mode, with the runtime in each mode; on CPython and on PyPy
(ctypes and cffi there; SciPy and numba have no PyPy 7.3.19 build here, and PyPy's ctypes crashes
passing a `py_object` to a C function, so `PyObject *` forms are called on CPython only)."""

import os

import pytest

import hpybridge
from conftest import EXT, IS_PYPY, build, build_with_headers, generate_headers, read_text, run_modules, run_python
from hpybridge import devel

MODES = hpybridge.MODES
NO_SCIPY = "SciPy and NumPy have no PyPy 7.3.19 build here (PyPy's site-packages are pure Python)"
NO_NUMBA = "numba has no PyPy build (it compiles through llvmlite for CPython only)"
NO_PY_OBJECT = "PyPy 7.3.19's ctypes crashes passing a py_object to a C function"

with open(os.path.join(EXT, "cdict.toml")) as f:
    CDT = f.read()


@pytest.fixture(scope="module")
def cdictprov():
    return build_with_headers("cdictprov", "cdictprov.c", generate_headers(CDT, "cdt"), libraries=["m"])


@pytest.fixture(scope="module")
def ducks():
    headers = generate_headers(read_text(os.path.join(EXT, "duckpa.toml")), "duckpa")
    return build_with_headers("duckpa", "duckpa.c", headers, libraries=["m"]), build("duckpb", "duckpb.c")


def runtime_env(mode):
    return {"HPY": "hpybridge:%s" % mode}


PAIRS = [(p, r) for p in MODES for r in MODES]

# ctypes and cffi: on both interpreters.
FOREIGN = r"""
import ctypes, sys, threading
import cffi
IS_PYPY = %(is_pypy)r
DEBUG = %(debug)r
cd = cdictprov.__cdict__
ffi = cffi.FFI()
r = {}
r["forms"] = {k: cd[k].foreign_form()[0] for k in ("cosine", "root", "echo_hpy_ssize", "echo_ctx_u16", "same", "pair",
                                                   "mean_filter", "ctx_mean_filter", "fill", "nested", "upper")}
r["stable"] = [cd["root"].foreign_form() == cd["root"].foreign_form(),
               # its HPy implementation alone: a stub made on demand
               cd["root"].select("double (HPyContext *, double)").as_ctypes()(2.25) == 1.5]
C = ctypes.c_double

def ctypes_calls():
    buf = (C * 3)()
    cd["fill"].as_ctypes()(buf, 3, 2.5)
    out = C()
    return [cd["cosine"].as_ctypes()(0.5) == cd["cosine"](0.5), cd["root"].as_ctypes()(2.25),
            # PyPy's ctypes ignores PYFUNCTYPE's exception check: the provider's exception would stay set.
            None if IS_PYPY else outcome(cd["root"].as_ctypes(), -1.0), cd["echo_ctx_u16"].as_ctypes()(65535),
            cd["half"].as_ctypes()(1.5), cd["echo_hpy_ssize"].as_ctypes()(-5), cd["echo_i8"].as_ctypes()(-128),
            cd["echo_u64"].as_ctypes()(2**64 - 1), cd["negate"].as_ctypes()(True),
            cd["sum"].as_ctypes()((C * 3)(1, 2, 3), 3), list(buf),
            [cd["ctx_mean_filter"].as_ctypes()((C * 4)(1, 2, 3, 4), 4, ctypes.byref(out), None), out.value],
            cd["root"].select("double (double)").as_ctypes()(6.25)]

def cffi_calls():
    buf = ffi.new("double[]", 3)
    cd["fill"].as_cffi(ffi)(buf, 3, 2.5)
    out = ffi.new("double *")
    return [cd["cosine"].as_cffi(ffi)(0.5) == cd["cosine"](0.5), cd["root"].as_cffi(ffi)(2.25),
            cd["echo_ctx_u16"].as_cffi(ffi)(65535), cd["half"].as_cffi(ffi)(1.5), cd["echo_hpy_ssize"].as_cffi(ffi)(-5),
            cd["echo_u64"].as_cffi(ffi)(2**64 - 1), cd["negate"].as_cffi(ffi)(True),
            cd["sum"].as_cffi(ffi)(ffi.new("double[]", [1, 2, 3]), 3), list(buf),
            [cd["ctx_mean_filter"].as_cffi(ffi)(ffi.new("double[]", [1, 2, 3, 4]), 4, out, ffi.NULL), out[0]],
            cd["root"].select("double (double)").as_cffi(ffi)(6.25)]

def object_calls():
    o, p = object(), [1]
    before = [sys.getrefcount(o), sys.getrefcount(p)]
    same, pair = cd["same"].as_ctypes(), cd["pair"].as_ctypes()
    for _ in range(1000):
        assert same(o) is o
        assert pair(o, 1.5, p) == (o, 1.5, p)
    after = [sys.getrefcount(o), sys.getrefcount(p)]
    return [same(o) is o, list(pair("a", 2.0, "b")), outcome(cd["fail"].as_ctypes(), "boom"), before == after]

if DEBUG:
    from hpy.debug import LeakDetector
    with LeakDetector():
        for _ in range(20):
            ctypes_calls(); cffi_calls()
            if not IS_PYPY:
                object_calls()
r["ctypes"] = ctypes_calls()
r["cffi"] = cffi_calls()
r["objects"] = None if IS_PYPY else object_calls()
f = cd["root"].as_ctypes()
g = cd["cosine"].as_ctypes()
r["ctypes_types"] = [f.restype.__name__, [t.__name__ for t in f.argtypes], type(f).__mro__[0]._flags_, type(g)._flags_,
                     [t.__name__ for t in cd["same"].as_ctypes().argtypes]]
r["cffi_types"] = [str(ffi.typeof(cd["root"].as_cffi(ffi))), str(ffi.typeof(cd["mean_filter"].as_cffi(ffi)))]
# Without numba imported, numba's hook attribute is absent (getattr with a default, inspect).
r["no_numba"] = ["numba" in sys.modules, getattr(cd["cosine"], "_numba_type_", None)]
r["refused"] = [outcome(cd["count_handles"].foreign_form), outcome(cd["count_handles"].as_ctypes),
                outcome(cd["count_handles"].as_cffi, ffi), outcome(cd["same"].as_cffi, ffi),
                outcome(cd["cosine"].as_cffi, 1)]

# Threads: ctypes' CFUNCTYPE and cffi release the GIL around the call; a form that enters a provider
# takes it back itself. PyPy's debug mode aborts when a thread enters a debug-mode module while
# another's HPy_Call runs Python code (docs/hpy-contexts.md), and as_cffi/as_ctypes call Python:
# with the runtime in debug mode there, the threads share forms made before they start.
made = [] if IS_PYPY and %(runtime_debug)r else None
def forms():
    return (cd["root"].as_cffi(ffi), cd["ctx_mean_filter"].as_cffi(ffi), cd["root"].as_ctypes())
if made is not None:
    made.extend(forms())
errors = []
def worker(k):
    try:
        f, g, h = made or forms()
        out = ffi.new("double *")
        for i in range(300):
            assert f(float(k * k)) == k
            assert h(float(k * k)) == k
            assert g(ffi.new("double[]", [k, k]), 2, out, ffi.NULL) == 1 and out[0] == k
    except BaseException as e:
        errors.append(repr(e))
threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 7)]
for t in threads: t.start()
for t in threads: t.join()
r["threads"] = errors
result = r
"""


@pytest.mark.parametrize("prov_mode,runtime_mode", PAIRS)
def test_ctypes_and_cffi(cdictprov, prov_mode, runtime_mode):
    debug = "debug" in (prov_mode, runtime_mode)
    body = FOREIGN % {"is_pypy": IS_PYPY, "debug": debug, "runtime_debug": runtime_mode == "debug"}
    r = run_modules([("cdictprov", cdictprov, prov_mode)], body,
                    env_extra=runtime_env(runtime_mode))
    assert r["forms"] == {
        "cosine": "double (double)", "root": "double (double)", "echo_hpy_ssize": "Py_ssize_t (Py_ssize_t)",
        "echo_ctx_u16": "unsigned short (unsigned short)", "same": "PyObject * (PyObject *)",
        "pair": "PyObject * (PyObject *, double, PyObject *)",
        "mean_filter": "int (double *, intptr_t, double *, void *)",
        "ctx_mean_filter": "int (double *, intptr_t, double *, void *)", "fill": "void (double *, long, double)",
        "nested": "void (double **)", "upper": "char * (char *)"}
    assert r["stable"] == [True, True]
    failed = None if IS_PYPY else ["ValueError", "root of a negative number"]
    assert r["ctypes"] == [True, 1.5, failed, 65535, 0.75, -5, -128, 2**64 - 1,
                           False, 6.0, [2.5, 2.5, 2.5], [1, 2.5], 2.5]
    assert r["cffi"] == [True, 1.5, 65535, 0.75, -5, 2**64 - 1, False, 6.0, [2.5, 2.5, 2.5], [1, 2.5], 2.5]
    if not IS_PYPY:
        assert r["objects"] == [True, ["a", 2.0, "b"], ["ValueError", "boom"], True]
    # root enters its provider: PYFUNCTYPE (keeps the GIL, raises the provider's exception); cosine is
    # a plain C function: CFUNCTYPE.
    pyapi, cdecl = 4, 1  # ctypes' _FUNCFLAG_PYTHONAPI and _FUNCFLAG_CDECL
    assert r["ctypes_types"][:2] == ["c_double", ["c_double"]]
    assert r["ctypes_types"][2] & pyapi and not r["ctypes_types"][3] & pyapi and r["ctypes_types"][3] & cdecl
    assert r["ctypes_types"][4] == ["py_object"]
    assert r["cffi_types"] == ["<ctype 'double(*)(double)'>", "<ctype 'int(*)(double *, intptr_t, double *, void *)'>"]
    assert r["refused"][0] == [
        "NoFallbackError", 'cdictprov.count_handles cannot be exported to foreign callers: none of its implementations '
        'has a form without HPyContext * and HPy ("HPy_ssize_t (HPyContext *, HPy *, HPy_ssize_t)" has no CPython-API '
        "form: parameter 1 points to handles (HPy *), and a stub cannot know how many to convert)"]
    assert r["refused"][1] == r["refused"][2] == r["refused"][0]
    assert r["refused"][3] == [
        "TypeError", 'cdictprov.same "PyObject * (PyObject *)" cannot be exported to cffi: its ABI mode cannot pass '
        "Python objects as PyObject * (use entry.as_ctypes(), whose py_object can)"]
    assert r["refused"][4] == ["TypeError", "as_cffi(ffi): expected a cffi.FFI instance, got int"]
    assert r["threads"] == []
    assert r["no_numba"] == [False, None]


SCIPY = r"""
import ctypes, math
import numpy as np
import scipy
from scipy import integrate, ndimage
DEBUG = %(debug)r
cd = cdictprov.__cdict__
r = {}
def quads():
    return [integrate.quad(cd["cosine"].lowlevelcallable(), 0, 2) == integrate.quad(math.cos, 0, 2),
            integrate.quad(cd["root"].lowlevelcallable(), 0, 4) == integrate.quad(math.sqrt, 0, 4),
            integrate.quad(cd["root"].select("double (double)").lowlevelcallable(), 0, 4)
            == integrate.quad(math.sqrt, 0, 4),
            # An entry is callable from Python, so quad also takes it directly (through Python calls).
            integrate.quad(cd["cosine"], 0, 2) == integrate.quad(math.cos, 0, 2)]
a = np.arange(36.0).reshape(6, 6) ** 1.5
def filters():
    want = ndimage.generic_filter(a, np.mean, size=3)
    extra = ctypes.c_double(10.0)
    data = ctypes.cast(ctypes.pointer(extra), ctypes.c_void_p)
    return [bool(np.allclose(ndimage.generic_filter(a, cd["mean_filter"].lowlevelcallable(), size=3), want)),
            bool(np.allclose(ndimage.generic_filter(a, cd["ctx_mean_filter"].lowlevelcallable(), size=3), want)),
            bool(np.allclose(ndimage.generic_filter(a, cd["ctx_mean_filter"].lowlevelcallable(data), size=3),
                             want + 10))]
if DEBUG:
    from hpy.debug import LeakDetector
    with LeakDetector():
        quads(); filters()
r["quad"] = quads()
r["filter"] = filters()
llc = cd["root"].lowlevelcallable()
r["llc"] = [type(llc).__name__, llc.signature, cd["mean_filter"].lowlevelcallable().signature,
            isinstance(llc, scipy.LowLevelCallable)]
r["refused"] = [outcome(cd["sum"].lowlevelcallable), outcome(cd["same"].lowlevelcallable),
                outcome(cd["cosine"].lowlevelcallable, ctypes.c_void_p(1)),
                outcome(cd["count_handles"].lowlevelcallable)]
result = r
"""

SCIPY_TAKES = ('scipy.integrate.quad: "double (double)", "double (double, void *)", "double (int, double *)", '
               '"double (int, double *, void *)"; scipy.ndimage.generic_filter: "int (double *, intptr_t, double *, '
               'void *)"; scipy.ndimage.generic_filter1d: "int (double *, intptr_t, double *, intptr_t, void *)"; '
               'scipy.ndimage.geometric_transform: "int (intptr_t *, double *, int, int, void *)"')


@pytest.mark.skipif(IS_PYPY, reason=NO_SCIPY)
@pytest.mark.parametrize("prov_mode,runtime_mode", PAIRS)
def test_scipy(cdictprov, prov_mode, runtime_mode):
    debug = "debug" in (prov_mode, runtime_mode)
    r = run_modules([("cdictprov", cdictprov, prov_mode)], SCIPY % {"debug": debug},
                    env_extra=runtime_env(runtime_mode))
    assert r["quad"] == [True, True, True, True]
    assert r["filter"] == [True, True, True]
    assert r["llc"] == ["LowLevelCallable", "double (double)", "int (double *, intptr_t, double *, void *)", True]
    assert r["refused"][0] == ["ValueError", 'cdictprov.sum "double (double *, long)" is not a signature SciPy accepts '
                               "for a LowLevelCallable (SciPy's routines take: %s)" % SCIPY_TAKES]
    assert r["refused"][1] == ["ValueError", 'cdictprov.same "PyObject * (PyObject *)" is not a signature SciPy '
                               "accepts for a LowLevelCallable (SciPy's routines take: %s)" % SCIPY_TAKES]
    assert r["refused"][2] == ["ValueError", 'cdictprov.cosine "double (double)" takes no void * user data: '
                               "user_data must be None"]
    assert r["refused"][3][0] == "NoFallbackError"


NUMBA = r"""
import math
import numba
cd = cdictprov.__cdict__
r = {}
@numba.njit
def total(f, n):
    s = 0.0
    for i in range(n):
        s += f(i * 0.001)
    return s
@numba.njit
def total_int(f, n):
    s = 0
    for i in range(n):
        s += f(i)
    return s
r["numba"] = [total(cd["cosine"], 1000) == sum(math.cos(i * 0.001) for i in range(1000)),
              total(cd["root"], 1000) == sum(math.sqrt(i * 0.001) for i in range(1000)),
              total_int(cd["echo_ssize"], 100) == sum(range(100)),
              total_int(cd["echo_i64"], 100) == sum(range(100))]
r["wap"] = [isinstance(cd["cosine"], numba.core.types.WrapperAddressProtocol), str(cd["root"].signature()),
            cd["root"].__wrapper_address__() == cd["root"].foreign_form()[1]]
r["refused"] = [outcome(total, cd["same"], 3), outcome(total, cd["count_handles"], 3)]
result = r
"""


@pytest.mark.skipif(IS_PYPY, reason=NO_NUMBA)
@pytest.mark.parametrize("prov_mode,runtime_mode", [(m, "universal") for m in MODES] + [("universal", "debug")])
def test_numba(cdictprov, prov_mode, runtime_mode):
    r = run_modules([("cdictprov", cdictprov, prov_mode)], NUMBA, env_extra=runtime_env(runtime_mode))
    assert r["numba"] == [True, True, True, True]
    assert r["wap"] == [True, "(float64,) -> float64", True]
    assert r["refused"][0][0] == "TypeError" and (
        'cdictprov.same "PyObject * (PyObject *)" cannot be called from numba\'s nopython code: it passes Python '
        "objects as PyObject * (use entry.as_ctypes())") in r["refused"][0][1]
    # numba reports a ValueError (NoFallbackError) of typing an argument as a TypingError naming it.
    assert r["refused"][1][0] == "TypingError" and "cdictprov.count_handles cannot be exported" in r["refused"][1][1]


@pytest.mark.skipif(IS_PYPY, reason=NO_NUMBA)
def test_numba_imported_first(cdictprov):
    """hpybridge imported after numba registers CFunction as a WrapperAddressProtocol at once."""
    out = run_python("import numba, hpybridge\n"
                     "print(isinstance(hpybridge.CFunction, type), issubclass(hpybridge.CFunction, "
                     "numba.core.types.WrapperAddressProtocol))")
    assert out.split() == ["True", "True"]


DUCKS = r"""
import ctypes, sys
import cffi
IS_PYPY = %(is_pypy)r
DEBUG = %(debug)r
ffi = cffi.FFI()
P = duckpa.make(3.0, 4.0); Q = duckpb.make(2.0, 1.0)
A, B = type(P).__cdict__, type(Q).__cdict__
r = {}
r["forms"] = [A["norm"].foreign_form()[0], B["norm"].foreign_form()[0], A["scaled"].foreign_form()[0],
              A["tag"].foreign_form()[0], A["norm"].foreign_form() == A["norm"].foreign_form()]
def calls():
    out = [A["tag"].as_ctypes()(1), A["tag"].as_cffi(ffi)(2)]
    if not IS_PYPY:
        s = A["scaled"].as_ctypes()(P, 2.0)
        t = B["scaled"].as_ctypes()(Q, 3.0)
        out += [A["norm"].as_ctypes()(P), B["norm"].as_ctypes()(Q), type(s).__name__, A["norm"].as_ctypes()(s),
                type(t).__name__, B["norm"].as_ctypes()(t)]
    return out
if DEBUG:
    from hpy.debug import LeakDetector
    with LeakDetector():
        for _ in range(20):
            calls()
r["calls"] = calls()
r["refused"] = [outcome(A["norm"].as_cffi, ffi)]
result = r
"""


@pytest.mark.parametrize("a,b", [(m, m) for m in MODES] + [("universal", "debug"), ("debug", "trace")])
def test_type_entries(ducks, a, b):
    """Type entries have no CPython-API stub of their own: the export makes one on demand."""
    pa, pb = ducks
    debug = "debug" in (a, b)
    r = run_modules([("duckpa", pa, a), ("duckpb", pb, b)], DUCKS % {"is_pypy": IS_PYPY, "debug": debug})
    assert r["forms"] == ["double (PyObject *)", "double (PyObject *)", "PyObject * (PyObject *, double)",
                          "long (long)", True]
    assert r["calls"][:2] == [1001, 1002]
    if not IS_PYPY:
        assert r["calls"][2:] == [5.0, 2.0, "Point", 10.0, "Polar", 6.0]
    assert r["refused"][0][0] == "TypeError"


@pytest.mark.skipif(not IS_PYPY, reason="the PyPy-only check of what is skipped there")
def test_pypy_has_no_scipy_or_numba():
    """What the skips above say: SciPy and numba cannot be imported on this PyPy."""
    out = run_python("import importlib.util as u\nprint(u.find_spec('scipy') is None, u.find_spec('numba') is None)")
    assert out.split() == ["True", "True"], NO_PY_OBJECT


def test_scipy_spellings_match_scipy():
    """The spellings hpybridge.export names capsules with are those SciPy compares with strcmp."""
    from hpybridge import export

    assert export.scipy_signature(("f", "double (double)", 1, False)) == "double (double)"
    assert export.scipy_signature(("f", "int (double *, long, double *, void *)", 1, False)) == \
        "int (double *, intptr_t, double *, void *)"
    assert export.scipy_signature(("f", "int (double *, Py_ssize_t, double *, void *)", 1, False)) == \
        "int (double *, intptr_t, double *, void *)"
    assert export.scipy_signature(("f", "double (int32_t, double *)", 1, False)) == "double (int, double *)"
    with pytest.raises(ValueError, match="is not a signature SciPy accepts"):
        export.scipy_signature(("f", "double (long, double *)", 1, False))
    if IS_PYPY:
        return
    import glob

    import scipy

    root = os.path.dirname(scipy.__file__)
    for routine, spellings in export.SCIPY_SIGNATURES.items():
        lib = glob.glob(os.path.join(root, "integrate" if "integrate" in routine else "ndimage", "_*.so"))
        blobs = b""
        for path in lib:
            with open(path, "rb") as f:
                blobs += f.read()
        for s in spellings:
            assert s.encode() + b"\0" in blobs, (routine, s)


@pytest.fixture(scope="module")
def duckcapi():
    return devel.compile_capi_extension("duckcapi", [os.path.join(EXT, "duckcapi.c")],
                                        include_dirs=[hpybridge.get_include()])


CAPI_LOOKUP = r"""
import sys, threading
from hpybridge import devel
duckcapi = devel.load_capi_extension("duckcapi", %(capi)r)
IS_PYPY = %(is_pypy)r
P = duckpa.make(3.0, 4.0); Q = duckpb.make(2.0, 1.0)
r = {}
def calls():
    s, t = duckcapi.scaled(P, 2.0), duckcapi.scaled(Q, 3.0)
    duckcapi.module_radius(duckpa, duckcapi.module_point(duckpa, 1.0, 2.0)); outcome(duckcapi.module_radius, duckpa, 1)
    return [duckcapi.norm(P), duckcapi.norm(Q), duckcapi.total([P, Q, P, Q]), type(s).__name__, duckcapi.norm(s),
            type(t).__name__, duckcapi.norm(t), duckcapi.tag(P, 1), duckcapi.tag(Q, 1)]
if %(debug)r:
    from hpy.debug import LeakDetector
    with LeakDetector():
        for _ in range(20):
            calls()
r["calls"] = calls()
A = type(P).__cdict__
r["same"] = [duckcapi.lookup(P, "norm", "double (PyObject *)") == duckcapi.lookup(duckpa.make(1.0, 1.0), "norm",
                                                                                   "double(PyObject*o)"),
             duckcapi.lookup(P, "norm", "double (PyObject *)") == A["norm"].foreign_form()[1],
             duckcapi.lookup(P, "tag", "long (long)") == A["tag"].foreign_form()[1]]
r["misses"] = [duckcapi.lookup(P, "norm", "double (double)"), duckcapi.lookup(P, "nope", "long (long)"),
               duckcapi.lookup(1, "norm", "double (PyObject *)"), duckcapi.lookup(Q, "tag", "long (long)"),
               duckcapi.lookup(duckpa, "point", "PyObject * (double)"),
               duckcapi.lookup(duckpa, "norm", "double (PyObject *)"),
               duckcapi.lookup(duckpb, "radius", "double (PyObject *)"), duckcapi.module_point(duckpb, 1.0, 2.0)]
# A module's API entries: their CPython-API stubs, as the module's __cdict__ exports them.
M = duckpa.__cdict__
p = duckcapi.module_point(duckpa, 6.0, 8.0)
r["module"] = [type(p).__name__, duckcapi.norm(p), duckcapi.module_radius(duckpa, P), duckcapi.module_radius(duckpa, p),
               outcome(duckcapi.module_radius, duckpa, 1.5),
               duckcapi.lookup(duckpa, "radius", "double(PyObject*o)") == M["radius"].foreign_form()[1],
               duckcapi.lookup(duckpa, "point", "PyObject * (double, double)") == M["point"].foreign_form()[1]]
r["errors"] = [outcome(duckcapi.lookup, P, "norm", "double (HPyContext *, HPy)"),
               outcome(duckcapi.lookup, P, "norm", "double (dobule"), outcome(duckcapi.lookup, P, "norm", "HPy (HPy)")]
if not IS_PYPY:
    before = [sys.getrefcount(P), sys.getrefcount(Q)]
    for _ in range(1000):
        duckcapi.norm(P); duckcapi.scaled(Q, 2.0); duckcapi.module_radius(duckpa, P)
    r["refcounts"] = before == [sys.getrefcount(P), sys.getrefcount(Q)]
errors = []
def worker(k):
    try:
        for i in range(300):
            o = P if (i + k) %% 2 else Q
            want = 5.0 if o is P else 2.0
            if duckcapi.norm(o) != want or duckcapi.norm(duckcapi.scaled(o, k)) != want * k:
                errors.append((k, i))
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 7)]
for t in threads: t.start()
for t in threads: t.join()
r["threads"] = errors
result = r
"""


@pytest.mark.parametrize("a,b", [(m, m) for m in MODES] + [("universal", "debug"), ("debug", "trace")])
def test_cdict_lookup_capi(ducks, duckcapi, a, b):
    """HPyBridge_CDictLookup_CAPI (hpybridge_capi.h): a plain C-API consumer, knowing neither provider,
    gets each object's entries in their CPython-API form (type entries: stubs made on demand)."""
    pa, pb = ducks
    debug = "debug" in (a, b)
    r = run_modules([("duckpa", pa, a), ("duckpb", pb, b)],
                    CAPI_LOOKUP % {"capi": duckcapi, "is_pypy": IS_PYPY, "debug": debug})
    assert r["calls"] == [5.0, 2.0, 14.0, "Point", 10.0, "Polar", 6.0, 1001, None]
    assert r["same"] == [True, True, True]
    assert r["misses"] == [None] * 8
    assert r["module"] == ["Point", 10.0, 5.0, 10.0, ["TypeError", "radius() expects a duckpa.Point"], True, True]
    assert r["errors"][0] == ["TypeError", 'HPyBridge_CDictLookup_CAPI(): "double (HPyContext *, HPy)" is not a '
                              'CPython-API signature (its CPython-API form is "double (PyObject *)")']
    assert r["errors"][1][0] == "SignatureSyntaxError"
    assert r["errors"][2] == ["TypeError", 'HPyBridge_CDictLookup_CAPI(): "HPy (HPy)" is not a CPython-API signature '
                              '("HPy (HPy)" has no CPython-API form: it passes HPy handles but no HPyContext * to '
                              "translate them in)"]
    if not IS_PYPY:
        assert r["refcounts"] is True
    assert r["threads"] == []


GEOMETRY = os.path.join(os.path.dirname(EXT), os.pardir, "examples", "geometry", "build.py")


@pytest.fixture(scope="module")
def geometry():
    import importlib.util

    spec = importlib.util.spec_from_file_location("geometry_build", GEOMETRY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_examples()["geometry"]


@pytest.mark.skipif(IS_PYPY, reason=NO_PY_OBJECT)
@pytest.mark.parametrize("prov_mode", MODES)
def test_geometry(geometry, prov_mode):
    """The real provider: vectors in and out of its entries through ctypes' py_object, its errors
    raised, and the leak detector clean in debug mode."""
    body = r"""
import ctypes
cd = geometry.__cdict__
def calls():
    x, y = ctypes.c_double(), ctypes.c_double()
    rc = cd["components"].as_ctypes()((5.0, 6.0), ctypes.byref(x), ctypes.byref(y))
    return [cd["norm"].as_ctypes()((3.0, 4.0)), list(cd["vec"].as_ctypes()(1.0, 2.0)),
            list(cd["add"].as_ctypes()((1, 2), (3, 4))), [rc, x.value, y.value],
            outcome(cd["norm"].as_ctypes(), "v"), [cd[k].foreign_form()[0] for k in ("norm", "vec", "components")]]
if %(debug)r:
    from hpy.debug import LeakDetector
    with LeakDetector():
        calls()
result = calls()
"""
    r = run_modules([("geometry", geometry, prov_mode)], body % {"debug": prov_mode == "debug"})
    assert r[:4] == [5.0, [1.0, 2.0], [4.0, 6.0], [0, 5.0, 6.0]]
    assert r[4] == ["TypeError", "geometry: expected a vector (a 2-tuple of numbers), found an object of type 'str'"]
    assert r[5] == ["double (PyObject *)", "PyObject * (double, double)", "int (PyObject *, double *, double *)"]


ROUND_TRIP = r"""
import ctypes, ctypes.util, math
import cffi
import hpybridge
IS_PYPY = %(is_pypy)r
libm = ctypes.CDLL(ctypes.util.find_library("m"))
cos = libm.cos
cos.restype, cos.argtypes = ctypes.c_double, [ctypes.c_double]
entry = hpybridge.cfunction(cos)
r = {}
r["cos"] = [entry.foreign_form() == ("double (double)", ctypes.cast(cos, ctypes.c_void_p).value),
            entry.as_ctypes()(0.5) == math.cos(0.5), entry.as_cffi(cffi.FFI())(0.5) == math.cos(0.5)]
# Bound trailing arguments: cdictprov's mean filter adopted with its void * user_data bound is an
# "int (double *, intptr_t, double *)"; its export is a binding stub passing the bound pointer.
extra = ctypes.c_double(10.0)
C = ctypes.c_double
data = ctypes.cast(ctypes.pointer(extra), ctypes.c_void_p).value
mean = hpybridge.cfunction(cdictprov.__cdict__["ctx_mean_filter"].foreign_form()[1],
                           "int (double *, intptr_t, double *, void *)", name="mean")
out = C()
r["mean"] = [mean.signatures[0], mean.as_ctypes()((C * 2)(1, 3), 2, ctypes.byref(out), None), out.value]
if not IS_PYPY:
    import scipy
    bound = hpybridge.cfunction(scipy.LowLevelCallable(cdictprov.__cdict__["mean_filter"].as_ctypes(),
                                                       ctypes.c_void_p(data)))
    r["bound"] = [bound.foreign_form()[0], bound.as_ctypes()((C * 2)(1, 3), 2, ctypes.byref(out)), out.value]
    from scipy import integrate
    import numba
    r["scipy"] = [integrate.quad(entry.lowlevelcallable(), 0, 2) == integrate.quad(math.cos, 0, 2)]
    @numba.cfunc("float64(float64)")
    def square(x):
        return x * x
    sq = hpybridge.cfunction(square)
    r["scipy"].append(integrate.quad(sq.lowlevelcallable(), 0, 3) == integrate.quad(lambda x: x * x, 0, 3))
    @numba.njit
    def total(f, n):
        s = 0.0
        for i in range(n):
            s += f(i * 0.001)
        return s
    r["numba"] = [total(entry, 1000) == sum(math.cos(i * 0.001) for i in range(1000)),
                  total(sq, 1000) == sum((i * 0.001) ** 2 for i in range(1000))]
result = r
"""


@pytest.mark.parametrize("prov_mode", MODES)
def test_adopted_round_trip(cdictprov, prov_mode):
    """Adopted foreign functions (hpybridge.cfunction) export like any entry: a libm function from
    ctypes back to ctypes, cffi, SciPy and numba; a numba cfunc to SciPy and numba; adopted functions
    with bound trailing arguments through a binding stub of their visible signature."""
    r = run_modules([("cdictprov", cdictprov, prov_mode)], ROUND_TRIP % {"is_pypy": IS_PYPY})
    assert r["cos"] == [True, True, True]
    assert r["mean"] == ["int (double *, intptr_t, double *, void *)", 1, 2.0]
    if not IS_PYPY:
        assert r["bound"] == ["int (double *, long, double *)", 1, 12.0]  # SciPy names c_ssize_t "long"
        assert r["scipy"] == [True, True]
        assert r["numba"] == [True, True]
