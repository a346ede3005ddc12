"""The native call path of `CFunction` on CPython (docs/cdict.md §8): a vectorcall function of the
runtime's own takes calls of scalars and of universal or trace providers' handles with CPython's own
objects; everything else goes through HPy's trampoline. Whichever path a call takes, the answers,
messages and references must be the same: tests/ext/cdictnative.c's entries, called in every pairing
of the provider's and the runtime's modes (the native path exists for universal and trace runtimes
on CPython; debug-mode runtimes and PyPy give the reference answers)."""

import pytest

import hpybridge
from conftest import IS_PYPY, build, run_modules

MODES = hpybridge.MODES


@pytest.fixture(scope="module")
def cdictnative():
    return build("cdictnative", "cdictnative.c")


CALLS = r"""
import math, sys
cd = cdictnative.__cdict__
class F(float): pass
class I(int): pass
class Idx:
    def __index__(self): return 7
marker = object()
r = {}
r["mix"] = [cd["mix"](1.5, 2, True, 0.5, 3), cd["mix"](F(1.5), I(2), 1, F(0.5), I(3)),
            cd["mix"](1, Idx(), False, 2, True), outcome(cd["mix"], 1.0, 2, True, 0.5, 256),
            outcome(cd["mix"], 1.0, 2**63, True, 0.5, 1), outcome(cd["mix"], 1.0, 2, 2, 0.5, 1),
            outcome(cd["mix"], 1.0, 2, True, 1e300, 1), outcome(cd["mix"], 1.0, 2),
            outcome(cd["mix"], "x", 2, True, 0.5, 1)]
r["narrow"] = [cd["neg8"](5), cd["neg8"](-128), cd["neg8"](True), cd["inv16"](0), cd["inv16"](65535),
               cd["not_"](True), cd["not_"](False), cd["not_"](0), outcome(cd["not_"], 1.0),
               cd["halff"](3.0), cd["halff"](float("inf")), math.isnan(cd["halff"](float("nan"))),
               math.copysign(1.0, cd["halff"](-0.0)), cd["nothing"](1.0), outcome(lambda: cd["nothing"](1.0, k=1))]
r["handles"] = [cd["pick"](marker, None, 0) is marker, cd["pick"](marker, None, 1) is None,
                outcome(cd["pick"], marker, None, 2**64), outcome(cd["null_handle"], marker)]
refs = sys.getrefcount(marker) if hasattr(sys, "getrefcount") else 0
r["errors"] = [outcome(cd["dup_fail"], marker) for _ in range(100)][-1:] + \
              [outcome(cd["scalar_fail"], 2.0), outcome(cd["scalar_fail"], 2)]
r["refs"] = (sys.getrefcount(marker) if hasattr(sys, "getrefcount") else 0) - refs
x, y = 12345.5, F(2.0)
count = sys.getrefcount if hasattr(sys, "getrefcount") else lambda v: 0
xy_refs = count(x), count(y)
h, w, a, c3 = cd["halve"], cd["wsum2"], cd["answer"], cd["ctx_wsum3"]
r["doubles"] = [h(3.0), h(F(3.0)), h(3), h(Idx()), h(*(5.0,)), h(4.0, **{}), list(map(h, [1.0, 2.0])),
                outcome(h), outcome(h, 1.0, 2.0), outcome(lambda: h(x=1.0)), outcome(lambda: h(1.0, **{"k": 1})),
                outcome(h, "x"), outcome(h, 2**2000),
                w(1.0, 2.0), w(1.0, 2), w(F(1.0), 2.0), w(True, y), outcome(w, 1.0), outcome(w, 1.0, None),
                a(), outcome(a, 1.0),
                c3(1.0, 2.0, 3.0), c3(1, y, 3.0), outcome(c3, -1.0, 2.0, 3.0), outcome(c3, -1, 2.0, 3.0),
                outcome(c3, 1.0, 2.0), [h(x) for _ in range(100)][-1], [c3(x, y, x) for _ in range(100)][-1],
                [outcome(c3, -x, 0.0, 0.0) for _ in range(100)][-1]]
r["doubles_refs"] = [count(x) - xy_refs[0], count(y) - xy_refs[1]]
ch, o1, o2 = cd["choose"], object(), object()
o_refs = count(o1), count(o2)
r["objects"] = [ch(o1, 1.0, o2) is o1, ch(o1, -1.0, o2) is o2, ch(o1, F(-2.0), o2) is o2, ch(o1, 3, o2) is o1,
                outcome(ch, o1, 0.0, o2), outcome(ch, o1, float("nan"), o2), outcome(ch, o1, 1.0),
                outcome(lambda: ch(o1, 1.0, o2, k=1)), outcome(ch, o1, "x", o2),
                [ch(o1, 1.0, o2) for _ in range(100)][-1] is o1, [ch(o1, -1.0, o2) for _ in range(100)][-1] is o2,
                [outcome(ch, o1, float("nan"), o2) for _ in range(100)][-1],
                [outcome(ch, o1, 0.0, o2) for _ in range(100)][-1]]
r["objects_refs"] = [count(o1) - o_refs[0], count(o2) - o_refs[1]]
result = r
"""


@pytest.mark.parametrize("runtime_mode", MODES)
@pytest.mark.parametrize("prov_mode", MODES)
def test_native_and_hpy_paths_agree(cdictnative, prov_mode, runtime_mode):
    r = run_modules([("cdictnative", cdictnative, prov_mode)], CALLS, {"HPY": "hpybridge:%s" % runtime_mode})
    arg = "module.mix() argument %d (%s)"
    assert r["mix"] == [
        1.5 + 20 + 100 + 500 + 30000, 1.5 + 20 + 100 + 500 + 30000, 1 + 70 + 2000 + 10000,
        ["OverflowError", arg % (5, "unsigned char") + ": 256 is out of range for unsigned char (0 to 255)"],
        ["OverflowError", arg % (2, "long") + ": %d is out of range for long (%d to %d)" % (2**63, -2**63, 2**63 - 1)],
        ["ValueError", arg % (3, "bool") + ": expected True, False, 0 or 1, got 2"],
        ["OverflowError", arg % (4, "float") + ": 1e300 is out of range for float"],
        ["TypeError", 'module.mix() takes 5 arguments ("double (HPyContext *, double, long, bool, float, '
                      'unsigned char)"), got 2'],
        ["TypeError", arg % (1, "double") + ": expected a float (or an object with __float__ or __index__), got str"],
    ]
    assert r["narrow"] == [-5, -128, -1, 65535, 0, False, True, True,
                           r["narrow"][8], 1.5, float("inf"), True, -1.0, None,
                           ["TypeError", "module.nothing() takes no keyword arguments"]]
    assert r["narrow"][8][0] == "TypeError"
    assert r["handles"] == [True, True, r["handles"][2],
                            ["SystemError", "module.null_handle() returned NULL without setting an exception"]]
    assert r["handles"][2][0] == "OverflowError"
    assert r["errors"] == [["ValueError", "dup_fail: an exception with a result"],
                           ["ValueError", "scalar_fail: an exception with a result"],
                           ["ValueError", "scalar_fail: an exception with a result"]]
    # The result a failing provider returned was released, whichever path took the call.
    assert r["refs"] == 0 or IS_PYPY
    takes = 'module.%s() takes %s ("%s"), got %d'
    expected = "expected a float (or an object with __float__ or __index__), got"
    negative = ["ValueError", "ctx_wsum3: a is negative"]
    assert r["doubles"] == [
        1.5, 1.5, 1.5, 3.5, 2.5, 2.0, [0.5, 1.0],
        ["TypeError", takes % ("halve", "1 argument", "double (double)", 0)],
        ["TypeError", takes % ("halve", "1 argument", "double (double)", 2)],
        ["TypeError", "module.halve() takes no keyword arguments"],
        ["TypeError", "module.halve() takes no keyword arguments"],
        ["TypeError", "module.halve() argument 1 (double): %s str" % expected],
        ["OverflowError", "module.halve() argument 1 (double): int too large to convert to a double"],
        21.0, 21.0, 21.0, 21.0,
        ["TypeError", takes % ("wsum2", "2 arguments", "double (double, double)", 1)],
        ["TypeError", "module.wsum2() argument 2 (double): %s NoneType" % expected],
        42.0, ["TypeError", takes % ("answer", "0 arguments", "double (void)", 1)],
        321.0, 321.0, negative, negative,
        ["TypeError", takes % ("ctx_wsum3", "3 arguments", "double (HPyContext *, double, double, double)", 2)],
        6172.75, 12345.5 + 20 + 1234550, negative,
    ]
    # Arguments are borrowed, whichever path took the call (a float subclass's instance included).
    assert r["doubles_refs"] == [0, 0] or IS_PYPY
    null = ["SystemError", "module.choose() returned NULL without setting an exception"]
    nan = ["ValueError", "choose: x is NaN"]
    assert r["objects"] == [
        True, True, True, True, null, nan,
        ["TypeError", takes % ("choose", "3 arguments", "HPy (HPyContext *, HPy, double, HPy)", 2)],
        ["TypeError", "module.choose() takes no keyword arguments"],
        ["TypeError", "module.choose() argument 2 (double): %s str" % expected],
        True, True, nan, null,
    ]
    # Handle arguments borrowed, results owned by the caller, the result of a failed call released.
    assert r["objects_refs"] == [0, 0] or IS_PYPY


WHICH = r"""
import ctypes, sys
cd = cdictnative.__cdict__
runtime = ctypes.CDLL(sys.modules["hpybridge._runtime"].__file__)
native = ctypes.cast(runtime.hpybridge_cfunction_vectorcall, ctypes.c_void_p).value

def which(f):
    # CPython 3.11's PyTypeObject: tp_basicsize at byte 32 (checked), tp_vectorcall_offset at 56.
    t = type(f)
    assert ctypes.c_ssize_t.from_address(id(t) + 32).value == t.__basicsize__
    offset = ctypes.c_ssize_t.from_address(id(t) + 56).value
    address = ctypes.c_size_t.from_address(id(f) + offset).value
    if address == native:
        return "native"
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, _, _, _, _, *path = line.split()
            lo, hi = (int(a, 16) for a in span.split("-"))
            if lo <= address < hi:
                path = " ".join(path)
                return "stub" if "hpybridge-trampolines" in path else "hpy"
    return "unmapped"

names = ("halve", "wsum2", "answer", "ctx_wsum3", "scalar_fail", "choose", "dup_fail", "null_handle", "mix", "pick")
result = {name: which(cd[name]) for name in names}
"""


@pytest.mark.skipif(IS_PYPY, reason="PyPy has no vectorcall slot: its calls take HPy's path")
@pytest.mark.parametrize("backend", ["dynasm", "libffi"])
@pytest.mark.parametrize("runtime_mode", MODES)
@pytest.mark.parametrize("prov_mode", MODES)
def test_object_call_stubs_serve_double_signatures(cdictnative, prov_mode, runtime_mode, backend):
    """Which vectorcall function each instance got: an object-call stub (in the trampolines' code
    memory) for signatures of `double` and `HPy` only where the provider is entered at its home
    context, the runtime's own native function for the other instances, HPy's trampoline on a debug
    runtime. The libffi backend makes no stubs."""
    env = {"HPY": "hpybridge:%s" % runtime_mode, "HPYBRIDGE_TRAMPOLINES": backend}
    r = run_modules([("cdictnative", cdictnative, prov_mode)], WHICH, env)
    if runtime_mode == "debug":
        assert set(r.values()) == {"hpy"}, r
        return
    stub = "stub" if backend == "dynasm" else "native"
    home = stub if prov_mode in ("universal", "trace") else "native"
    assert r == {"halve": stub, "wsum2": stub, "answer": stub, "ctx_wsum3": home, "scalar_fail": home,
                 "choose": home, "dup_fail": home, "null_handle": home, "mix": "native", "pick": "native"}
