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
