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

names = ("halve", "wsum2", "answer", "ctx_wsum3", "scalar_fail", "choose", "dup_fail", "null_handle", "mix", "pick",
         "neg8", "inv16", "not_", "halff", "nothing", "iadd", "ctx_div", "band", "is_neg", "put", "get", "imix",
         "sum5", "ctx_sum5", "sum6", "ctx_sum6", "to_u32") + tuple(n for n in cd if n.startswith("id_"))
result = {name: which(cd[name]) for name in names}
"""


@pytest.mark.skipif(IS_PYPY, reason="PyPy has no vectorcall slot: its calls take HPy's path")
@pytest.mark.parametrize("backend", ["dynasm", "libffi"])
@pytest.mark.parametrize("runtime_mode", MODES)
@pytest.mark.parametrize("prov_mode", MODES)
def test_object_call_stubs_serve_scalar_signatures(cdictnative, prov_mode, runtime_mode, backend):
    """Which vectorcall function each instance got: an object-call stub (in the trampolines' code
    memory) for signatures of `double`, integers, `bool`, `void` and `HPy` (within the argument
    registers) where the provider is entered at its home context, the runtime's own native
    function for the other instances (a `float`, too many words, a crossing), HPy's trampoline on
    a debug runtime. The libffi backend makes no stubs."""
    env = {"HPY": "hpybridge:%s" % runtime_mode, "HPYBRIDGE_TRAMPOLINES": backend}
    r = run_modules([("cdictnative", cdictnative, prov_mode)], WHICH, env)
    if runtime_mode == "debug":
        assert set(r.values()) == {"hpy"}, r
        return
    stub = "stub" if backend == "dynasm" else "native"
    home = stub if prov_mode in ("universal", "trace") else "native"
    assert r == {"halve": stub, "wsum2": stub, "answer": stub, "ctx_wsum3": home, "scalar_fail": home,
                 "choose": home, "dup_fail": home, "null_handle": home, "mix": "native", "pick": home,
                 "neg8": stub, "inv16": stub, "not_": stub, "halff": "native", "nothing": stub, "iadd": stub,
                 "ctx_div": home, "band": stub, "is_neg": stub, "put": home, "get": stub, "imix": home,
                 "sum5": stub, "ctx_sum5": home, "sum6": "native", "ctx_sum6": "native", "to_u32": stub,
                 **{n: stub for n in WIDTHS}}


WIDTHS = {
    "id_i8": (8, True), "id_u8": (8, False), "id_i16": (16, True), "id_u16": (16, False),
    "id_i32": (32, True), "id_u32": (32, False), "id_i64": (64, True), "id_u64": (64, False),
    "id_schar": (8, True), "id_char": (8, True), "id_uchar": (8, False), "id_short": (16, True),
    "id_ushort": (16, False), "id_int": (32, True), "id_uint": (32, False), "id_long": (64, True),
    "id_ulong": (64, False), "id_llong": (64, True), "id_ullong": (64, False), "id_ssize": (64, True),
    "id_hssize": (64, True), "id_size": (64, False), "id_intptr": (64, True), "id_uintptr": (64, False),
}

INT_CALLS = r"""
import sys
cd = cdictnative.__cdict__
class I(int): pass
class Idx:
    def __index__(self): return 7
widths = %(widths)r
def bounds(bits, signed):
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
r = {}
for name, (bits, signed) in widths.items():
    lo, hi = bounds(bits, signed)
    values = [lo, hi, lo - 1, hi + 1, 0, 1, -1, 5, -5, 2**30 - 1, -(2**30 - 1), 2**30, -(2**30), 2**31,
              -(2**31) - 1, 2**63, -(2**63) - 1, 2**64, 2**2000, I(5), I(-5), True, False, Idx(), 2.0, "x", None]
    f = cd[name]
    r[name] = [outcome(f, v) for v in values] + [outcome(f), outcome(f, 1, 2), outcome(lambda: f(x=1))]
big = 0x1ead_beef_1234_5678
r["to"] = [[outcome(cd[n], v) for v in (big, -big, 0x80, 0x8000, 0x8000_0000, -1, 0x7f, 255)]
           for n in ("to_i8", "to_u8", "to_i16", "to_u16", "to_i32", "to_u32")]
r["iadd"] = [outcome(cd["iadd"], *a) for a in ((1, 2), (2**31 - 1, 1), (-2**31, -1), (2**31, 0), (1, "x"), (1,))]
r["ctx_div"] = [outcome(cd["ctx_div"], *a) for a in ((7, 2), (-7, 2), (-2**31, -1), (1, 0), (2**31, 1), (True, 1))]
r["bools"] = [outcome(cd["band"], *a) for a in ((True, True), (True, False), (False, False), (1, True),
                                                 (0, True), (2, True), (I(1), True), (None, True), (1.0, True))]
r["is_neg"] = [outcome(cd["is_neg"], v) for v in (-1, 0, 1, -2**63, 2**63 - 1, 2**63, True)]
r["void"] = [outcome(cd["put"], 12), outcome(cd["get"]), outcome(cd["put"], -3), outcome(cd["get"]),
             outcome(cd["put"], 2**63), outcome(cd["get"]), outcome(cd["put"], I(9)), outcome(cd["get"])]
r["imix"] = [outcome(cd["imix"], *a) for a in ((-128, 2.5, True, 2**32 - 1, None), (127, -1.0, False, 0, 1),
                                              (-129, 2.5, True, 1, None), (1, 2, True, 1, None),
                                              (1, 2.5, 1, 1, None), (1, 2.5, True, -1, None),
                                              (1, 2.5, True, 2**32, None), (1, 2.5, True, 1))]
r["sum6"] = [outcome(cd["sum6"], 1, 2, 3, 4, 5, -6), outcome(cd["ctx_sum6"], 1, 2, 3, 4, 5, -6),
             outcome(cd["sum6"], 1, 2, 3, 4, 5, 2**63), outcome(cd["sum5"], 1, 2, 3, 4, -5),
             outcome(cd["ctx_sum5"], 1, 2, 3, 4, -5), outcome(cd["ctx_sum5"], 1, 2, 3, 4, 2**63)]
# References: arguments borrowed, results new (None, True, False and cached small ints included).
count = sys.getrefcount if hasattr(sys, "getrefcount") else lambda v: 0
x, small, sub = 123456789, 5, I(77)
watched = (x, small, sub, None, True, False)
before = [count(v) for v in watched]
for _ in range(1000):
    cd["id_i64"](x); cd["id_u32"](small); cd["id_i16"](small); cd["id_long"](sub); cd["put"](small)
    cd["band"](True, False); cd["band"](True, True); cd["is_neg"](x)
    outcome(cd["put"], -x); outcome(cd["id_u8"], x); outcome(cd["ctx_div"], small, 0)
after = [count(v) for v in watched]
r["refs"] = [a - b for a, b in zip(after, before)]
result = r
"""


def int_results(cdictnative, prov_mode, runtime_mode, backend):
    env = {"HPY": "hpybridge:%s" % runtime_mode, "HPYBRIDGE_TRAMPOLINES": backend}
    body = INT_CALLS % {"widths": WIDTHS}
    return run_modules([("cdictnative", cdictnative, prov_mode)], body, env)


@pytest.mark.parametrize("runtime_mode", MODES)
@pytest.mark.parametrize("prov_mode", MODES)
def test_integer_bool_void_paths_agree(cdictnative, prov_mode, runtime_mode):
    """Integers of every width, bools and void: the same results, messages and references whether
    a call takes an object-call stub (dynasm, universal or trace runtime on CPython), the runtime's
    native function or HPy's path (libffi, a debug runtime, PyPy), at each type's bounds and past
    them, with int subclasses, bools, big ints and other types."""
    r = int_results(cdictnative, prov_mode, runtime_mode, "dynasm")
    if not IS_PYPY:
        # The libffi backend makes no stubs: every instance keeps the runtime's general path.
        assert r == int_results(cdictnative, prov_mode, runtime_mode, "libffi")
    for name, (bits, signed) in WIDTHS.items():
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        values = [lo, hi, lo - 1, hi + 1, 0, 1, -1, 5, -5, 2**30 - 1, -(2**30 - 1), 2**30, -(2**30), 2**31,
                  -(2**31) - 1, 2**63, -(2**63) - 1, 2**64, 2**2000, 5, -5, 1, 0, 7]
        got = r[name]
        for v, out in zip(values, got):
            if lo <= v <= hi:
                assert out == ["ok", v], (name, v, out)
            else:
                assert out[0] == "OverflowError", (name, v, out)
                assert out[1].startswith("module.%s() argument 1 (" % name), out
        assert [o[0] for o in got[len(values):]] == ["TypeError"] * 6, (name, got[len(values):])
    ctype = r["id_uchar"][2][1]
    assert ctype == "module.id_uchar() argument 1 (unsigned char): -1 is out of range for unsigned char (0 to 255)"
    big = 0x1ead_beef_1234_5678

    def wrap(v, bits, signed):
        v &= (1 << bits) - 1
        return v - (1 << bits) if signed and v >> (bits - 1) else v

    to = [(8, True), (8, False), (16, True), (16, False), (32, True), (32, False)]
    assert r["to"] == [[["ok", wrap(v, b, s)] for v in (big, -big, 0x80, 0x8000, 0x8000_0000, -1, 0x7f, 255)]
                       for b, s in to]
    assert r["iadd"][:3] == [["ok", 3], ["ok", -2**31], ["ok", 2**31 - 1]]
    assert r["iadd"][3][0] == "OverflowError" and r["iadd"][4][0] == r["iadd"][5][0] == "TypeError"
    assert r["ctx_div"] == [["ok", 3], ["ok", -3], ["ok", -2**31], ["ZeroDivisionError", "ctx_div: b is 0"],
                            r["ctx_div"][4], ["ok", 1]]
    assert r["ctx_div"][4][0] == "OverflowError"
    assert r["bools"][:5] == [["ok", True], ["ok", False], ["ok", False], ["ok", True], ["ok", False]]
    assert r["bools"][5] == ["ValueError", "module.band() argument 1 (bool): expected True, False, 0 or 1, got 2"]
    assert [o[0] for o in r["bools"][6:]] == ["ok", "TypeError", "TypeError"] or r["bools"][6][0] != "ok"
    assert r["is_neg"][:6] == [["ok", True], ["ok", False], ["ok", False], ["ok", True], ["ok", False],
                               r["is_neg"][5]] and r["is_neg"][6] == ["ok", False]
    assert r["is_neg"][5][0] == "OverflowError"
    assert r["void"] == [["ok", None], ["ok", 12], ["ValueError", "put: x is negative"], ["ok", -3],
                         r["void"][4], ["ok", -3], ["ok", None], ["ok", 9]]
    assert r["void"][4][0] == "OverflowError"
    assert r["imix"][:2] == [["ok", -128 + 25 + 100 + (2**32 - 1) * 1000 + 7], ["ok", 127 - 10]]
    assert r["imix"][3] == ["ok", 1 + 20 + 100 + 1000 + 7] and r["imix"][4] == r["imix"][3][:1] + [1 + 25 + 1107]
    assert [o[0] for o in r["imix"][5:]] == ["OverflowError", "OverflowError", "TypeError"]
    assert r["imix"][2][0] == "OverflowError"
    assert r["sum6"][:2] == [["ok", 9], ["ok", 9]] and r["sum6"][2][0] == "OverflowError"
    assert r["sum6"][3:5] == [["ok", 5], ["ok", 5]] and r["sum6"][5][0] == "OverflowError"
    assert r["refs"] == [0] * 6 or IS_PYPY
