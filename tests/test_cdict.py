"""The `__cdict__` protocol, calling from Python (issue 9, the mtypes half): every module that exports
an API has a read-only `__cdict__` of `hpybridge.CFunction`s, callable from Python with arguments
marshalled by C type, whatever HPy mode the provider and the runtime run in, on CPython and PyPy.
The provider `tests/ext/cdictprov.c` exports the cdt API (tests/ext/cdict.toml): every C type the
marshaller knows."""

import importlib.util
import os

import pytest

import hpybridge
from conftest import CONTEXT_NAMES, EXT, INTERPRETER, IS_PYPY, build_with_headers, generate_headers, run_modules

MODES = hpybridge.MODES
with open(os.path.join(EXT, "cdict.toml")) as f:
    CDT = f.read()

# (entry suffix, C type, smallest, largest) on x86_64 Linux (LP64).
INTS = [("i8", "int8_t", -2**7, 2**7 - 1), ("u8", "uint8_t", 0, 2**8 - 1), ("i16", "int16_t", -2**15, 2**15 - 1),
        ("u16", "uint16_t", 0, 2**16 - 1), ("i32", "int32_t", -2**31, 2**31 - 1), ("u32", "uint32_t", 0, 2**32 - 1),
        ("i64", "int64_t", -2**63, 2**63 - 1), ("u64", "uint64_t", 0, 2**64 - 1),
        ("schar", "signed char", -128, 127), ("uchar", "unsigned char", 0, 255), ("char_", "char", -128, 127),
        ("short_", "short", -2**15, 2**15 - 1), ("ushort", "unsigned short", 0, 2**16 - 1),
        ("int_", "int", -2**31, 2**31 - 1), ("uint", "unsigned int", 0, 2**32 - 1),
        ("long_", "long", -2**63, 2**63 - 1), ("ulong", "unsigned long", 0, 2**64 - 1),
        ("llong", "long long", -2**63, 2**63 - 1), ("ullong", "unsigned long long", 0, 2**64 - 1),
        ("size", "size_t", 0, 2**64 - 1), ("ssize", "ssize_t", -2**63, 2**63 - 1),
        ("hpy_ssize", "HPy_ssize_t", -2**63, 2**63 - 1), ("intptr", "intptr_t", -2**63, 2**63 - 1),
        ("uintptr", "uintptr_t", 0, 2**64 - 1), ("ucs4", "HPy_UCS4", 0, 2**32 - 1)]


@pytest.fixture(scope="module")
def cdictprov():
    return build_with_headers("cdictprov", "cdictprov.c", generate_headers(CDT, "cdt"), libraries=["m"])


def runtime_env(mode):
    """The environment that loads the runtime (hpybridge._runtime) in `mode`."""
    return {"HPY": "hpybridge:%s" % mode}


CALLS = r"""
import array, ctypes, sys, threading
cd = cdictprov.__cdict__
fn = lambda name: cd[name]

class Index:
    def __init__(self, v): self.v = v
    def __index__(self): return self.v

class Real:
    def __float__(self): return 2.25

class BadFloat:
    def __float__(self): raise ZeroDivisionError("from __float__")

r = {"runtime_mode": hpybridge.abi_info()["mode"]}
r["keys"] = sorted(cd)
r["repr"] = repr(cd["same"])
r["signatures"] = {k: list(cd[k].signatures) for k in ("same", "sum", "cosine", "root", "context_name", "nested")}
r["implementations"] = [list(i) for i in cd["same"].implementations]
r["context_name"] = cd["context_name"]()
r["ints"] = {name: [fn("echo_" + name)(lo), fn("echo_" + name)(hi), outcome(fn("echo_" + name), lo - 1),
                    outcome(fn("echo_" + name), hi + 1)] for name, _, lo, hi in %(ints)r}
r["int_rules"] = [fn("echo_u8")(True), fn("echo_i32")(Index(-5)), outcome(fn("echo_i32"), 1.0),
                  outcome(fn("echo_i64"), "1"), outcome(fn("echo_u64"), 2**70), outcome(fn("echo_i64"), -2**70),
                  fn("echo_ctx_u16")(65535), outcome(fn("echo_ctx_u16"), 65536)]
r["bool"] = [fn("negate")(True), fn("negate")(0), fn("negate")(Index(1)), outcome(fn("negate"), 2),
             outcome(fn("negate"), "x"), outcome(fn("negate"), None)]
r["float"] = [fn("half")(3), fn("half")(Real()), fn("half")(Index(5)), outcome(fn("half"), 1e300),
              fn("half")(float("inf")), outcome(fn("half"), "x")]
r["double"] = [fn("root")(16), fn("root")(Index(9)), fn("root")(Real()), fn("cosine")(0.0),
               outcome(fn("root"), -1.0), outcome(fn("root"), "x"), outcome(fn("root"), 2**2000),
               outcome(fn("root"), BadFloat())]
marker = object()
r["handles"] = [fn("same")(marker) is marker, fn("same")(None) is None, fn("pair")([1], 2, "b"),
                outcome(fn("fail"), "raised by the provider"), outcome(fn("null"))]
capi_same = cd["same"].select("PyObject *(PyObject *o)")
r["objects"] = [capi_same(marker) is marker, outcome(cd["fail"].select("PyObject * (PyObject *)"), "capi"),
                list(capi_same.signatures),
                outcome(cd["same"].select, "int (int)")]
r["text"] = [fn("length")(b"abc"), fn("length")("h\u00e9llo"), fn("length")(None), outcome(fn("length"), b"a\0b"),
             outcome(fn("length"), "a\0b"), outcome(fn("length"), 3), fn("upper")("abc"), fn("upper")(b"xy")]
d = array.array("d", [1.0, 2.0, 3.0])
out = array.array("d", [0.0] * 3)
fn("fill")(out, 3, 2.5)
ro = memoryview(bytes(array.array("d", [1.0, 2.0]))).cast("d")
long_array = (ctypes.c_long * 3)(1, 2, 3)
r["arrays"] = [fn("sum")(d, 3), fn("sum")(ro, 2), fn("sum")(None, 0), list(out),
               outcome(fn("sum"), array.array("f", [1.0]), 1), outcome(fn("sum"), [1.0], 1),
               outcome(fn("sum"), memoryview(array.array("d", [1, 2, 3, 4]))[::2], 2),
               outcome(fn("fill"), bytes(8), 1, 0.0), outcome(fn("fill"), ro, 1, 0.0),
               fn("sum_i32")(array.array("i", [1, -2, 3]), 3), outcome(fn("sum_i32"), array.array("l", [1]), 1),
               fn("sum_long")(array.array("l", [4, 5]), 2), fn("sum_long")(array.array("q", [6, 7]), 2),
               fn("sum_long")(long_array, 3), fn("sum_long")(memoryview(array.array("q", [8])).cast("B").cast("n"), 1),
               outcome(fn("sum_long"), array.array("Q", [1]), 1), outcome(fn("sum_long"), array.array("d", [1]), 1),
               fn("sum_u8")(bytearray(b"\x01\x02"), 2), fn("sum_u8")(b"\x03\x04", 2),
               fn("sum_float")(array.array("f", [0.5, 0.25]), 2),
               fn("count_true")(memoryview(b"\x01\x00\x01").cast("?"), 3),
               outcome(fn("count_true"), b"\x01", 1)]
buf = bytearray(4)
fn("poke")(buf, 7)
cell = ctypes.c_int(0)
ptr = ctypes.pointer(cell)
fn("poke")(ptr, 9)
arr = (ctypes.c_ubyte * 2)()
fn("poke")(arr, 5)
r["addresses"] = [fn("address")(None), fn("address")(12345), outcome(fn("address"), -1), buf[0], cell.value, arr[0],
                  fn("address")(ptr) == ctypes.addressof(cell), fn("address")(ctypes.c_void_p(1234)),
                  fn("address")(ctypes.c_void_p()), fn("address")(b"abc") != 0, outcome(fn("poke"), b"abc", 1),
                  fn("pass_through")(99), fn("pass_through")(None), outcome(fn("address"), 1.5),
                  outcome(fn("address"), 2**64)]
try:
    import cffi
except ImportError:
    r["cffi"] = None
else:
    ffi = cffi.FFI()
    p = ffi.new("unsigned char[2]")
    fn("poke")(p, 6)
    r["cffi"] = [p[0], fn("address")(p) == int(ffi.cast("uintptr_t", p)), fn("address")(ffi.NULL)]
r["refused"] = [outcome(fn("nested"), None), outcome(fn("sum"), d), outcome(fn("context_name"), 1)]
try:
    cd["x"] = 1
    r["readonly"] = "assigned"
except TypeError:
    r["readonly"] = "TypeError"
r["identity"] = [cd["same"] is cd["same"], cd["same"] == cd["same"], cd["same"] != cd["fail"],
                 cd["same"].select("HPy (HPyContext *, HPy)") == cd["same"], outcome(hpybridge.CFunction),
                 isinstance(cd["same"], hpybridge.CFunction), "same" in cd, len(cd) == len(r["keys"])]
import pickle
def set_doc(f):
    f.doc = "changed"
def set_other(f):
    f.other = 1
r["native"] = [type(cd["same"]) is hpybridge._runtime.CFunction is hpybridge.CFunction,
               outcome(lambda: cd["cosine"](x=0.0)), outcome(lambda: cd["cosine"](0.0, x=1.0))[0],
               outcome(set_doc, cd["same"]), outcome(set_other, cd["same"])[0],
               outcome(pickle.dumps, cd["same"]), cd["same"].name, cd["same"].doc, fn("cosine")(*[0.0])]

def many():
    values = [marker, (1, 2), "s"]
    for i in range(3000):
        v = values[i %% 3]
        assert fn("same")(v) is v and capi_same(v) is v
        assert fn("pair")(v, 1.0, v)[0] is v
        assert outcome(fn("fail"), "x")[0] == "ValueError"
        assert outcome(fn("root"), "x")[0] == "TypeError"
        assert outcome(fn("sum"), bytes(8), "n")[0] == "TypeError"
        assert fn("sum")(d, 3) == 6.0 and fn("length")("abc") == 3
if %(debug)r:
    from hpy.debug import LeakDetector
    with LeakDetector():
        many()
else:
    many()
if not hasattr(sys, "pypy_version_info"):
    before = [sys.getrefcount(x) for x in (marker, d, buf)]
    many()
    for i in range(2000):
        fn("poke")(buf, 1)
        outcome(fn("poke"), buf, 256)
    r["refcounts"] = [before, [sys.getrefcount(x) for x in (marker, d, buf)]]

errors = []
def worker(k):
    try:
        a = array.array("d", [k] * 4)
        for i in range(500):
            assert fn("sum")(a, 4) == 4.0 * k
            assert fn("same")(a) is a
            assert fn("root")(k * k) == k
            assert outcome(fn("fail"), "t%%d" %% k) == ["ValueError", "t%%d" %% k]
    except BaseException as e:
        errors.append(repr(e))
threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 7)]
for t in threads: t.start()
for t in threads: t.join()
r["threads"] = errors
result = r
"""


def calls(prov_path, prov_mode, runtime_mode):
    debug = "debug" in (prov_mode, runtime_mode)
    return run_modules([("cdictprov", prov_path, prov_mode)], CALLS % {"ints": INTS, "debug": debug},
                       env_extra=runtime_env(runtime_mode))


def what(entry, n, ctype):
    return "cdictprov.%s() argument %d (%s)" % (entry, n, ctype)


@pytest.mark.parametrize("runtime_mode", MODES)
@pytest.mark.parametrize("prov_mode", MODES)
def test_calls_through_cdict(cdictprov, prov_mode, runtime_mode):
    r = calls(cdictprov, prov_mode, runtime_mode)
    assert r["runtime_mode"] == runtime_mode
    family = "%s/%s" % (prov_mode, INTERPRETER)
    assert r["keys"] == sorted(line.split('"')[1] for line in CDT.split("[[functions]]", 1)[1].splitlines()
                               if line.startswith("name = "))
    assert r["repr"] == "<hpybridge.CFunction cdictprov.same: HPy (HPyContext *, HPy) [%s]; " \
                        "PyObject * (PyObject *) [C-API]>" % family
    assert r["signatures"] == {
        "same": ["HPy (HPyContext *, HPy)", "PyObject * (PyObject *)"],
        "sum": ["double (double *, long)"],  # no context, no handle: its own CPython-API form
        "cosine": ["double (double)"],
        "root": ["double (HPyContext *, double)", "double (double)"],
        "context_name": ["char * (HPyContext *)", "char * (void)"],
        "nested": ["void (double **)"],
    }
    assert r["implementations"] == [["HPy (HPyContext *, HPy)", family, "cdictprov", 0, None],
                                    ["PyObject * (PyObject *)", None, "cdictprov", 1, None]]
    # The provider was called with a valid context of its own mode, whatever the runtime's.
    assert r["context_name"] == CONTEXT_NAMES[INTERPRETER][prov_mode]

    for name, ctype, lo, hi in INTS:
        low, high, below, above = r["ints"][name]
        assert (low, high) == (lo, hi), name
        for value, got in ((lo - 1, below), (hi + 1, above)):
            shown = value if -2**63 <= value < 2**64 else "the int"
            assert got == ["OverflowError", "%s: %s is out of range for %s (%d to %d)"
                           % (what("echo_" + name, 1, ctype), shown, ctype, lo, hi)], name
    u8, index, f, s, big, small, u16, u16_over = r["int_rules"]
    assert (u8, index, u16) == (1, -5, 65535)
    int_wanted = ": expected an int (or an object with __index__), got "
    assert f == ["TypeError", what("echo_i32", 1, "int32_t") + int_wanted + "float"]
    assert s == ["TypeError", what("echo_i64", 1, "int64_t") + int_wanted + "str"]
    assert big == ["OverflowError", what("echo_u64", 1, "uint64_t") + ": the int is out of range for uint64_t "
                   "(0 to 18446744073709551615)"]
    assert small == ["OverflowError", what("echo_i64", 1, "int64_t") + ": the int is out of range for int64_t "
                     "(-9223372036854775808 to 9223372036854775807)"]
    assert u16_over == ["OverflowError", what("echo_ctx_u16", 1, "unsigned short")
                        + ": 65536 is out of range for unsigned short (0 to 65535)"]

    bool_wanted = ": expected a bool (or an object with __index__), got "
    assert r["bool"] == [False, True, False,
                         ["ValueError", what("negate", 1, "bool") + ": expected True, False, 0 or 1, got 2"],
                         ["TypeError", what("negate", 1, "bool") + bool_wanted + "str"],
                         ["TypeError", what("negate", 1, "bool") + bool_wanted + "NoneType"]]
    assert r["float"][:3] == [1.5, 1.125, 2.5]
    assert r["float"][3] == ["OverflowError", what("half", 1, "float") + ": 1e300 is out of range for float"]
    assert r["float"][4] == float("inf")
    assert r["float"][5] == ["TypeError", what("half", 1, "float")
                             + ": expected a float (or an object with __float__ or __index__), got str"]
    assert r["double"][:4] == [4.0, 3.0, 1.5, 1.0]
    assert r["double"][4] == ["ValueError", "root of a negative number"]  # the provider's own exception
    assert r["double"][5] == ["TypeError", what("root", 1, "double")
                              + ": expected a float (or an object with __float__ or __index__), got str"]
    assert r["double"][6] == ["OverflowError", what("root", 1, "double") + ": int too large to convert to a double"]
    assert r["double"][7] == ["ZeroDivisionError", "from __float__"]  # raised by the argument's own method

    assert r["handles"][:3] == [True, True, [[1], 2.0, "b"]]
    assert r["handles"][3] == ["ValueError", "raised by the provider"]
    assert r["handles"][4] == ["SystemError", "cdictprov.null() returned NULL without setting an exception"]
    assert r["objects"][0] is True
    assert r["objects"][1] == ["ValueError", "capi"]
    assert r["objects"][2] == ["PyObject * (PyObject *)"]
    assert r["objects"][3][0] == "KeyError" and "no implementation 'int (int)'" in r["objects"][3][1]

    assert r["text"][:3] == [3, 6, 0]
    assert r["text"][3] == ["ValueError", what("length", 1, "const char *") + ": embedded null byte"]
    assert r["text"][4] == ["ValueError", what("length", 1, "const char *") + ": embedded null byte"]
    assert r["text"][5] == ["TypeError", what("length", 1, "const char *") + ": expected bytes, a str or None, got int"]
    assert r["text"][6:] == ["ABC", "XY"]

    want_d = "a C-contiguous buffer of double (format 'd', itemsize 8) or None"
    want_wd = "a writable, C-contiguous buffer of double (format 'd', itemsize 8) or None"
    a = r["arrays"]
    assert a[:4] == [6.0, 3.0, 0.0, [2.5, 2.5, 2.5]]
    assert a[4] == ["TypeError", what("sum", 1, "const double *") + ": expected %s, got a buffer of format 'f' with "
                    "itemsize 4" % want_d]
    assert a[5] == ["TypeError", what("sum", 1, "const double *") + ": expected %s, got list" % want_d]
    assert a[6] == ["ValueError", what("sum", 1, "const double *") + ": expected %s, got a buffer that is not "
                    "C-contiguous" % want_d]
    assert a[7] == ["TypeError", what("fill", 1, "double *") + ": expected %s, got a read-only bytes (the parameter is "
                    "not const)" % want_wd]
    assert a[8] == ["TypeError", what("fill", 1, "double *") + ": expected %s, got a read-only memoryview (the "
                    "parameter is not const)" % want_wd]
    assert a[9] == 2
    assert a[10][0] == "TypeError" and "format 'l' with itemsize 8" in a[10][1]
    assert a[11:15] == [9, 13, 6, 8]  # long *: 'l', 'q', ctypes' c_long, 'n'
    assert a[15][0] == "TypeError" and "64-bit signed integers (format 'q', itemsize 8)" in a[15][1]
    assert a[16][0] == "TypeError" and "format 'd'" in a[16][1]
    assert a[17:21] == [3, 7, 0.75, 2]
    assert a[21][0] == "TypeError" and "buffer of bool (format '?', itemsize 1)" in a[21][1]

    want_addr = "an int address, None, a buffer, a ctypes pointer or a cffi pointer"
    ad = r["addresses"]
    assert ad[:3] == [0, 12345, ["OverflowError", what("address", 1, "const void *") + ": -1 is out of range for an "
                                 "address"]]
    assert ad[3:11] == [7, 9, 5, True, 1234, 0, True, ad[10]]
    assert ad[10] == ["TypeError", what("poke", 1, "void *") + ": expected %s, got a read-only bytes (the parameter is "
                      "not const)" % want_addr]
    assert ad[11:13] == [99, 0]
    assert ad[13] == ["TypeError", what("address", 1, "const void *") + ": expected %s, got float" % want_addr]
    assert ad[14] == ["OverflowError", what("address", 1, "const void *") + ": the int is out of range for an address"]
    if IS_PYPY or r["cffi"] is not None:  # cffi is built into PyPy; on CPython, requirements-dev.txt has it
        assert r["cffi"] == [6, True, 0]

    assert r["refused"][0] == ["TypeError", 'cdictprov.nested() "void (double **)" cannot be called from Python: '
                               "argument 1 (double **): pointers to pointers and to handles cannot be passed from "
                               "Python"]
    assert r["refused"][1] == ["TypeError", 'cdictprov.sum() takes 2 arguments ("double (double *, long)"), got 1']
    # Both implementations refuse: the first one's error.
    assert r["refused"][2] == ["TypeError", 'cdictprov.context_name() takes 0 arguments ("char * (HPyContext *)"), '
                               "got 1"]
    assert r["readonly"] == "TypeError"
    assert r["identity"][:4] == [True, True, True, False]
    assert r["identity"][4] == ["TypeError", "CFunction objects come from a __cdict__; they cannot be made by hand"]
    assert r["identity"][5:] == [True, True, True]
    if not IS_PYPY:
        before, after = r["refcounts"]
        assert before == after, "references leaked (or freed too early) over many calls"
    assert r["threads"] == []
    # The native type (hpybridge._runtime.CFunction): no keyword arguments, read-only attributes.
    # On PyPy 7.3.19 an assignment is ignored (doc) or lands in the instance's dict (other): see cfunction.c.
    refused = [["ok", None], "ok"] if IS_PYPY else [
        ["AttributeError", "attribute 'doc' of 'hpybridge.CFunction' objects is not writable"], "AttributeError"]
    assert r["native"] == [True, ["TypeError", "cdictprov.cosine() takes no keyword arguments"], "TypeError",
                           *refused,
                           ["TypeError", "CFunction objects cannot be pickled: they hold C function pointers"],
                           "cdictprov.same",
                           "obj itself, a new handle\n\ncdictprov.same: function 'same' of the cdt API, "
                           "HPy (HPyContext *, HPy); "
                           "PyObject * (PyObject *)", 1.0]


def test_error_paths_release_what_they_borrowed(cdictprov):
    """A call refused at a later argument calls nothing and releases the buffer taken for an earlier
    one: the array can be resized afterwards (an array with an exported buffer cannot)."""
    body = r"""
import array
cd = cdictprov.__cdict__
a = array.array("d", [1.0])
r = [outcome(cd["fill"], a, "n", 9.0)[0], outcome(cd["fill"], a, 2**70, 9.0)[0]]
a.append(2.0)
b = bytearray(1)
r.append(outcome(cd["poke"], b, -1)[0])
b.append(1)
result = r + [len(a), len(b), a[0], b[0]]
"""
    for mode in ("universal", "debug"):
        # Nothing was called: fill() would have overwritten a[0], poke() b[0].
        assert run_modules([("cdictprov", cdictprov, mode)], body) == ["TypeError", "OverflowError", "OverflowError",
                                                                      2, 2, 1.0, 0]


NESTED = r"""
cd = cdictprov.__cdict__
def down(k):
    # Python -> the provider's call() -> Python -> ... k levels deep, then a call with a context.
    return cd["call"](down, k - 1) if k > 0 else cd["root"](16.0)
result = [down(1), down(25), outcome(cd["call"], lambda x: 1 / x, 0)[0], cd["call"](cd["same"], "s")]
"""


@pytest.mark.parametrize("runtime_mode", MODES)
@pytest.mark.parametrize("prov_mode", MODES)
def test_nested_calls(cdictprov, prov_mode, runtime_mode, request):
    """A provider that calls back into Python, which calls the provider again through __cdict__: 25
    levels, more than CPython's debug mode has contexts in its cache (16), and both the provider and
    the runtime use their contexts again after each call-out."""
    if IS_PYPY and runtime_mode == prov_mode == "debug":
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "PyPy 7.3.19 aborts when Python re-enters a debug-mode module (the runtime) while debug code "
            "(the provider) calls out: docs/hpy-contexts.md, tests/test_reentry.py")))
    r = run_modules([("cdictprov", cdictprov, prov_mode)], NESTED, env_extra=runtime_env(runtime_mode))
    assert r == [4.0, 4.0, "ZeroDivisionError", "s"]


GEOMETRY = os.path.join(os.path.dirname(EXT), os.pardir, "examples", "geometry", "build.py")


@pytest.fixture(scope="module")
def geometry():
    spec = importlib.util.spec_from_file_location("geometry_build", GEOMETRY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_examples()["geometry"]


@pytest.mark.parametrize("runtime_mode", ["universal", "debug"])
@pytest.mark.parametrize("prov_mode", MODES)
def test_geometry_norm(geometry, prov_mode, runtime_mode):
    """The issue's example: geometry.__cdict__["norm"]((3.0, 4.0)) == 5.0, and the other entries."""
    body = r"""
import array
cd = geometry.__cdict__
x, y = array.array("d", [0.0]), array.array("d", [0.0])
result = [cd["norm"]((3.0, 4.0)), cd["norm"].select("double (PyObject *)")((3.0, 4.0)), cd["vec"](1, 2),
          cd["add"]((1, 2), (3, 4)), cd["components"]((5, 6), x, y), x[0], y[0], outcome(cd["norm"], "v"),
          sorted(cd), geometry.__cdict__ is cd]
"""
    r = run_modules([("geometry", geometry, prov_mode)], body, env_extra=runtime_env(runtime_mode))
    assert r[:7] == [5.0, 5.0, [1.0, 2.0], [4.0, 6.0], 0, 5.0, 6.0]
    assert r[7] == ["TypeError", "geometry: expected a vector (a 2-tuple of numbers), found an object of type 'str'"]
    assert r[8] == ["add", "components", "distance", "dot", "norm", "scale", "vec"]
    assert r[9] is True


def test_box_and_unbox():
    box, unbox = hpybridge.box, hpybridge.unbox
    for _, ctype, lo, hi in INTS:
        for v in (lo, hi, 0):
            assert unbox(ctype, box(ctype, v)) == v, ctype
        shown = hi + 1 if hi < 2**64 - 1 else "the int"
        with pytest.raises(OverflowError, match=r"^box\(\) value \(%s\): %s is out of range for %s \(%d to %d\)$"
                           % (ctype, shown, ctype, lo, hi)):
            box(ctype, hi + 1)
    assert box("unsigned short", 0x0102) == b"\x02\x01"  # native (little-endian) order
    assert box("double", 1.5) == b"\x00\x00\x00\x00\x00\x00\xf8?"
    assert unbox("float", box("float", 0.1)) == pytest.approx(0.1, rel=1e-7)
    assert (box("bool", True), unbox("bool", b"\x00"), box("_Bool", 0)) == (b"\x01", False, b"\x00")
    assert unbox("const double *", box("double *", 0x1234)) == 0x1234 and box("void *", None) == bytes(8)
    assert unbox("char *", box("char *", 7)) == 7
    with pytest.raises(TypeError, match=r"^box\(\) value \(double\): expected a float \(or an object with __float__ "
                                        r"or __index__\), got str$"):
        box("double", "x")
    with pytest.raises(ValueError, match=r"^box\(\) value \(bool\): expected True, False, 0 or 1, got 2$"):
        box("bool", 2)
    with pytest.raises(TypeError, match=r"^box\(\): HPy does not box: "):
        box("HPy", 1)
    with pytest.raises(TypeError, match=r"^box\(\): PyObject \* does not box: "):
        box("PyObject *", None)
    with pytest.raises(TypeError, match=r"pointers box from an int address or None only$"):
        box("const void *", b"abc")
    with pytest.raises(ValueError, match=r"^box\(\): \"dobule\" is not a C type: 'dobule'$"):
        box("dobule", 1)
    with pytest.raises(ValueError, match=r"^unbox\(\): a int is 4 bytes, got 2$"):
        unbox("int", b"\x00\x00")
    with pytest.raises(ValueError, match=r"^unbox\(\): a bool is 0 or 1, got 2$"):
        unbox("bool", b"\x02")
    with pytest.raises(TypeError, match=r"^unbox\(\): expected bytes, got bytearray$"):
        unbox("int", bytearray(4))


def test_export_table_keeps_const_and_import_ignores_it():
    """The generator writes const pointer targets into the provider's table; consumers' tables and
    import compare canonical signatures, which drop it."""
    folder = generate_headers(CDT, "cdt")
    with open(os.path.join(folder, "cdt_export.h")) as f:
        export = f.read()
    with open(os.path.join(folder, "cdt_api.h")) as f:
        consumer = f.read()
    assert '{"sum", "double (const double *, long)", (void *)cdt_sum},' in export
    assert '{"sum", "double (double *, long)", NULL},' in consumer
    assert hpybridge.parse_signature("double (const double *x, long n)", keep_const=True) == \
        "double (const double *, long)"
    assert hpybridge.parse_signature("double (const double *x, long n)") == "double (double *, long)"



def test_forged_keys_are_errors():
    """The runtime's cdict_call takes implementation indices from Python: a wrong one is an
    exception, never a wild call."""
    call = hpybridge._runtime.cdict_call
    cases = [((10**6, 1), ValueError, "no __cdict__ implementation has index 1000000"),
             ((-1,), ValueError, "no __cdict__ implementation has index -1"),
             (((-2, 0),), ValueError, "no __cdict__ implementation has index -2"),
             (("x",), TypeError, "cdict_call() key: expected an int or a tuple of ints"),
             (((),), TypeError, "a CFunction without implementations"),
             (((1.5,),), TypeError, "cdict_call() index: expected an int"),
             ((), TypeError, "cdict_call(key, *args): expected a key")]
    for args, exc, message in cases:
        with pytest.raises(exc) as e:
            call(*args)
        assert str(e.value) == message, args


NUMPY = r"""
import numpy as np
cd = cdictprov.__cdict__
a = np.arange(4, dtype=np.float64)
ro = np.arange(3, dtype=np.float64)
ro.flags.writeable = False
out = np.zeros(3)
cd["fill"](out, 3, 1.5)
grid = np.arange(6.0).reshape(2, 3)
result = [cd["sum"](a, 4), cd["sum"](ro, 3), out.tolist(), cd["sum_long"](np.array([1, 2], dtype=np.int64), 2),
          cd["sum_long"](np.array([3, 4], dtype=np.longlong), 2), cd["sum_i32"](np.array([5, 6], dtype=np.int32), 2),
          cd["sum_u8"](np.array([7, 8], dtype=np.uint8), 2), cd["count_true"](np.array([True, False, True]), 3),
          cd["sum"](grid, 6), cd["address"](a) == a.ctypes.data,
          outcome(cd["fill"], ro, 3, 0.0), outcome(cd["sum"], a[::2], 2), outcome(cd["sum"], grid.T, 6),
          outcome(cd["sum"], a.astype(np.float32), 4), outcome(cd["sum_long"], np.array([1], dtype=np.uint64), 1)]
"""


@pytest.mark.parametrize("prov_mode", MODES)
def test_numpy_buffers(cdictprov, prov_mode):
    """NumPy arrays as T * arguments: dtype and itemsize matched, read-only and non-contiguous
    arrays refused (NumPy has no PyPy wheels here: CPython only)."""
    pytest.importorskip("numpy")
    r = run_modules([("cdictprov", cdictprov, prov_mode)], NUMPY)
    assert r[:10] == [6.0, 3.0, [1.5, 1.5, 1.5], 3, 7, 11, 15, 2, 15.0, True]
    assert r[10] == ["TypeError", what("fill", 1, "double *") + ": expected a writable, C-contiguous buffer of double "
                     "(format 'd', itemsize 8) or None, got a read-only ndarray (the parameter is not const)"]
    assert r[11][0] == r[12][0] == "ValueError" and r[11][1].endswith("got a buffer that is not C-contiguous")
    assert r[13] == ["TypeError", what("sum", 1, "const double *") + ": expected a C-contiguous buffer of double "
                     "(format 'd', itemsize 8) or None, got a buffer of format 'f' with itemsize 4"]
    assert r[14][0] == "TypeError" and r[14][1].endswith("got a buffer of format 'L' with itemsize 8")
