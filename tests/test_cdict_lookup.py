"""The `__cdict__` protocol's C half (issue 9, the CEP 1001 half; docs/cdict.md §3, §7): entries on
types and single objects (`HPyBridge_CDictSet`), and C consumers looking them up by name and
signature (`HPyBridge_CDictLookup`), with a function pointer valid for their own context family.

The point of the protocol: two independent providers, tests/ext/duckpa.c (type Point) and
tests/ext/duckpb.c (type Polar, another layout), implement the same entries on their own types; one
consumer, tests/ext/duckcons.c, knowing neither, works with instances of both, in every pairing of
HPy modes, on CPython and PyPy."""

import itertools
import os

import pytest

import hpybridge
from conftest import EXT, IS_PYPY, build, build_with_headers, generate_headers, read_text, run_modules

MODES = hpybridge.MODES
NORM = "double (HPyContext *, HPy)"


@pytest.fixture(scope="module")
def ducks():
    headers = generate_headers(read_text(os.path.join(EXT, "duckpa.toml")), "duckpa")
    return (build_with_headers("duckpa", "duckpa.c", headers, libraries=["m"]), build("duckpb", "duckpb.c"),
            build("duckcons", "duckcons.c"))


def load_ducks(ducks, a, b, c):
    pa, pb, dc = ducks
    return [("duckpa", pa, a), ("duckpb", pb, b), ("duckcons", dc, c)]


DUCKS = r"""
P = duckpa.make(3.0, 4.0); Q = duckpb.make(2.0, 1.0)
r = {}
r["norm"] = [duckcons.norm(P), duckcons.norm(Q), duckcons.total([P, Q, P, Q])]
s, t = duckcons.scaled(P, 2.0), duckcons.scaled(Q, 3.0)
r["scaled"] = [type(s).__name__, duckcons.norm(s), type(t).__name__, duckcons.norm(t)]
r["tag"] = [duckcons.tag(P, 1), duckcons.tag(Q, 1)]
r["calls"] = duckpb.calls(Q)
r["python"] = [type(P).__cdict__["norm"](P), type(Q).__cdict__["norm"](Q), sorted(type(P).__cdict__),
               sorted(type(Q).__cdict__), duckpa.__cdict__["point"](1.0, 0.0).__class__.__name__,
               type(P).__cdict__["scaled"].signatures]
r["family"] = [type(P).__cdict__["norm"].implementations[0].family, type(Q).__cdict__["norm"].implementations[0].family]
result = r
"""


@pytest.mark.parametrize("a,b,c", list(itertools.product(MODES, MODES, MODES)))
def test_one_consumer_two_independent_providers(ducks, a, b, c):
    """The consumer calls each object's own provider's entries, in every pairing of the three modes."""
    r = run_modules(load_ducks(ducks, a, b, c), DUCKS)
    assert r["norm"] == [5.0, 2.0, 14.0]
    # The handles each provider returns come back as the consumer's.
    assert r["scaled"] == ["Point", 10.0, "Polar", 6.0]
    # Polar has no tag entry: NULL without an exception.
    assert r["tag"] == [1001, None]
    # Polar's norm ran in its own provider, on the object the consumer passed: 1 + 2 (total) + 0.
    assert r["calls"] == 3
    assert r["python"] == [5.0, 2.0, ["norm", "scaled", "tag"], ["norm", "scaled"], "Point",
                           ["HPy (HPyContext *, HPy, double)"]]
    interp = "PyPy" if IS_PYPY else "CPython"
    assert r["family"] == ["%s/%s" % (a, interp), "%s/%s" % (b, interp)]


LOOKUPS = r"""
P = duckpa.make(3.0, 4.0); Q = duckpb.make(2.0, 1.0)
r = {}
addr = lambda o, n=NORM: duckcons.lookup(o, "norm", n)
r["misses"] = [duckcons.lookup(P, "norm", "double (HPyContext *, HPy, double)"), duckcons.lookup(P, "nope", NORM),
               duckcons.lookup(1, "norm", NORM), duckcons.lookup(None, "norm", NORM), duckcons.norm(object()),
               duckcons.lookup(duckpa, "norm", NORM), duckcons.lookup(P, "tag", "int (int)")]
r["spellings"] = [addr(P) == addr(P, "double(HPyContext *ctx, HPy self)"), addr(P) == addr(P), addr(P) != addr(Q)]
r["errors"] = [outcome(duckcons.lookup, P, "norm", "double ("), outcome(duckcons.lookup, P, "norm", "double (...)")]
class D:
    pass
d, e = D(), D()
duckcons.set_norm(d, "double (HPyContext *c, HPy o)")
r["object"] = [duckcons.norm(d), duckcons.norm(e), sorted(d.__cdict__), d.__cdict__["norm"](d)]
duckcons.set_norm(D, NORM)
r["type"] = [duckcons.norm(e), duckcons.norm(D()), duckcons.norm(d)]
class E(D):
    pass
r["subclass"] = duckcons.norm(E())
before = type(Q).__cdict__
r["before"] = [duckcons.norm(Q), duckcons.norm(Q)]
duckcons.set_norm(type(Q), NORM)
r["after"] = [duckcons.norm(Q), duckcons.norm(P), sorted(type(Q).__cdict__), sorted(before), before["norm"](Q),
              type(Q).__cdict__ is not before, len(type(Q).__cdict__["norm"].signatures)]
r["set_errors"] = [outcome(duckcons.set_norm, 1, NORM), outcome(duckcons.set_norm, int, NORM),
                   outcome(duckcons.set_raw, d, "1x", "void (void)", 0),
                   outcome(duckcons.set_raw, d, "x", "void (", 0), outcome(duckcons.set_raw, d, "x", "void (void)", 1),
                   outcome(duckcons.set_norm, duckpa, NORM), duckcons.norm(duckpa)]
r["null"] = [outcome(duckcons.with_null, 0), outcome(duckcons.with_null, 1), outcome(duckcons.with_null, 2)]
cd = type(P).__cdict__
def store():
    cd["x"] = 1
r["readonly"] = [outcome(store)[0], "norm" in cd, len(cd), repr(cd)]
result = r
""".replace("NORM", repr(NORM))


@pytest.mark.parametrize("mode", MODES)
def test_misses_dynamic_entries_and_invalidation(ducks, mode):
    r = run_modules(load_ducks(ducks, mode, mode, mode), LOOKUPS)
    # A miss is NULL without an exception: wrong signature, unknown name, objects without entries,
    # a name the module's API __cdict__ does not have, another signature's entry.
    assert r["misses"] == [None] * 7
    # Signatures compare canonically; one object's pointer is the same every time.
    assert r["spellings"] == [True, True, True]
    assert r["errors"][0][0] == "SignatureSyntaxError"
    assert r["errors"][0][1].startswith('HPyBridge_CDictLookup(): signature "double (": ')
    assert r["errors"][1][0] == "SignatureSyntaxError"
    # A single object's own entry; its type has none yet.
    assert r["object"] == [42.0, None, ["norm"], 42.0]
    # The type's entry: every instance answers, and an object's own entry wins (the same here).
    assert r["type"] == [42.0, 42.0, 42.0]
    assert r["subclass"] == 42.0
    # Replacing an entry of a type makes a new __cdict__; lookups see it at once.
    assert r["before"] == [2.0, 2.0]
    assert r["after"] == [42.0, 5.0, ["norm", "scaled"], ["norm", "scaled"], 2.0, True, 1]
    se = r["set_errors"]
    assert se[0] == ["TypeError", "HPyBridge_CDictSet(): cannot set the __cdict__ of an object of type 'int': "
                     + se[0][1].split(": ", 2)[2]]
    assert se[1][0] == "TypeError"
    assert se[1][1].startswith("HPyBridge_CDictSet(): cannot set the __cdict__ of type 'int'")
    assert se[2] == ["ValueError", 'HPyBridge_CDictSet(): entry name "1x" is not a C identifier']
    assert se[3][0] == "SignatureSyntaxError" and se[3][1].startswith("HPyBridge_CDictSet(): entry 'x' signature")
    assert se[4] == ["ValueError", "HPyBridge_CDictSet(): entry 'x' \"void (void)\": the function is NULL"]
    # duckpa exports an API: its module __cdict__ is the API's, not for CDictSet.
    assert se[5] == ["TypeError", "HPyBridge_CDictSet(): module 'duckpa' already has a __cdict__ of another kind "
                     "(ModuleCDict)"]
    assert se[6] is None
    null = "HPyBridge_CDictLookup() or HPyBridge_CDictSet(): obj is HPy_NULL"
    assert r["null"] == [["SystemError", null]] * 3
    assert r["readonly"][:3] == ["TypeError", True, 3]
    assert r["readonly"][3] == "<hpybridge __cdict__ of Point: norm, scaled, tag>"


def test_runtime_in_debug_mode(ducks):
    """The runtime's own mode changes nothing for C consumers (it only sets and looks up)."""
    r = run_modules(load_ducks(ducks, "universal", "trace", "debug"), DUCKS, {"HPY": "hpybridge:debug"})
    assert r["norm"] == [5.0, 2.0, 14.0] and r["scaled"] == ["Point", 10.0, "Polar", 6.0]


SITES = r"""
P = duckpa.make(3.0, 4.0); Q = duckpb.make(2.0, 1.0)
class C:
    pass
c = C(); duckcons.set_norm(c, NORM)
r = {}
r["P"] = [duckcons.norm(P), duckcons.norm(P), duckcons.norm_site_state(), id(type(P))]
r["Q"] = [duckcons.norm(Q), duckcons.norm_site_state(), id(type(Q))]
# An instance of a Python class may have its own __cdict__: it never fills the site.
r["python"] = [duckcons.norm(c), duckcons.norm_site_state(), duckcons.norm(Q)]
# Replacing the entry of the type the site holds: the next lookup sees it.
duckcons.set_norm(type(Q), NORM)
r["replaced"] = [duckcons.norm(Q), duckcons.norm(P), duckcons.norm(Q)]
# Types alternating at one site (norm's, total's).
r["alternating"] = [duckcons.norm(o) for o in [P, Q, P, Q, P, c]] + [duckcons.total([P, Q] * 3)]
result = r
""".replace("NORM", repr(NORM))


@pytest.mark.parametrize("a,b,c", list(itertools.product(MODES, MODES, MODES)))
def test_call_site_cache(ducks, a, b, c):
    """HPyBridge_CDictLookupAt: filled for CPython universal and trace consumers and types without
    an instance __dict__, answering inline afterwards; never for debug-mode or PyPy consumers; stale
    once an entry changes or the type differs."""
    r = run_modules(load_ducks(ducks, a, b, c), SITES)
    cached = c != "debug" and not IS_PYPY
    assert r["P"] == [5.0, 5.0, [True, r["P"][3]] if cached else [False, None], r["P"][3]]
    assert r["Q"] == [2.0, [True, r["Q"][2]] if cached else [False, None], r["Q"][2]]
    assert r["python"] == [42.0, [True, r["Q"][2]] if cached else [False, None], 2.0]
    assert r["replaced"] == [42.0, 5.0, 42.0]
    assert r["alternating"] == [5.0, 42.0, 5.0, 42.0, 5.0, 42.0, 3 * (5.0 + 42.0)]


MODULE_ENTRIES = r"""
import sys
P = duckpa.make(3.0, 4.0)
HPY_RADIUS, CAPI_RADIUS = "double (HPyContext *, HPy)", "double (PyObject *)"
def calls():
    p = duckcons.module_point(duckpa, 6.0, 8.0)
    return [type(p).__name__, duckcons.norm(p), duckcons.module_radius(duckpa, P), duckcons.module_radius(duckpa, p)]
if "debug" in MODES_HERE:
    from hpy.debug import LeakDetector
    with LeakDetector():
        for _ in range(20):
            calls(); outcome(duckcons.module_radius, duckpa, 1.5); duckcons.lookup(duckpa, "nope", HPY_RADIUS)
r = {}
r["calls"] = calls()
r["raises"] = outcome(duckcons.module_radius, duckpa, 1.5)
addr = lambda name, sig: duckcons.lookup(duckpa, name, sig)
r["misses"] = [addr("radius", "double (HPyContext *, double)"), addr("nope", HPY_RADIUS), addr("norm", NORM),
               addr("point", "HPy (HPyContext *, double)"), addr("radius", "long (PyObject *)"),
               duckcons.lookup(duckpb, "radius", HPY_RADIUS), duckcons.module_point(duckpb, 1.0, 2.0),
               duckcons.lookup(sys, "radius", HPY_RADIUS)]
r["errors"] = [outcome(duckcons.lookup, duckpa, "radius", "double (HPyContext *, HPy")]
r["same"] = [addr("radius", HPY_RADIUS) == addr("radius", "double(HPyContext *c, HPy o)"),
             addr("radius", CAPI_RADIUS) == addr("radius", "double(PyObject*o)"),
             addr("radius", CAPI_RADIUS) != addr("radius", HPY_RADIUS),
             addr("point", "PyObject * (double, double)") is not None]
if not IS_PYPY:
    # The CPython-API forms are the API's stubs, callable with the GIL held (ctypes' PYFUNCTYPE).
    import ctypes
    radius = ctypes.PYFUNCTYPE(ctypes.c_double, ctypes.py_object)(addr("radius", CAPI_RADIUS))
    point = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_double, ctypes.c_double)(
        addr("point", "PyObject * (double, double)"))
    r["stubs"] = [radius(P), type(point(1.0, 0.0)).__name__, duckcons.norm(point(0.0, 2.0))]
result = r
""".replace("NORM", repr(NORM))


@pytest.mark.parametrize("a,c", list(itertools.product(MODES, MODES)))
def test_module_entries(ducks, a, c):
    """HPyBridge_CDictLookup on a provider module: its API's entries, in their HPy form (what an
    import of the API holds for the consumer's family) and their CPython-API form (the API's
    stubs), in every pairing of provider and consumer modes."""
    body = "MODES_HERE = %r\nIS_PYPY = %r\n" % ((a, c), IS_PYPY) + MODULE_ENTRIES
    r = run_modules(load_ducks(ducks, a, "universal", c), body)
    # point returns the provider's new object as the consumer's handle; radius takes a handle.
    assert r["calls"] == ["Point", 10.0, 5.0, 10.0]
    assert r["raises"] == ["TypeError", "radius() expects a duckpa.Point"]
    # Wrong signature, unknown name, a type entry's name, a module without an API, a Python module.
    assert r["misses"] == [None] * 8
    assert r["errors"][0][0] == "SignatureSyntaxError"
    assert r["same"] == [True, True, True, True]
    if not IS_PYPY:
        assert r["stubs"] == [5.0, "Point", 2.0]


@pytest.fixture(scope="module")
def duckimp():
    headers = generate_headers(read_text(os.path.join(EXT, "duckpa.toml")), "duckpa")
    return build_with_headers("duckimp", "duckimp.c", headers)


@pytest.mark.parametrize("a,c", list(itertools.product(MODES, MODES)))
def test_module_entry_is_the_import(ducks, duckimp, a, c):
    """A lookup of a module's API entry gives what import_<api>() holds in that slot for the
    consumer's family: the same call plans, not a second mechanism."""
    pa = ducks[0]
    r = run_modules([("duckpa", pa, a), ("duckimp", duckimp, c)],
                    "result = [duckimp.lookup(duckpa, 'point', 'HPy (HPyContext *, double, double)'), "
                    "duckimp.lookup(duckpa, 'radius', 'double (HPyContext *, HPy)'), duckimp.imported()]")
    assert r[:2] == r[2] and None not in r[:2]


RUNTIME_CACHE = r"""
import hpybridge
info = hpybridge._runtime.lookup_cache_info
P = duckpa.make(3.0, 4.0); Q = duckpb.make(2.0, 1.0)
class C:
    pass
c = C(); duckcons.set_norm(c, NORM)
r = {}
def hits(o):
    # norm_loop looks norm up (string literals) before its loop and before each of its 5 calls.
    first = duckcons.norm_loop(o, 5, 1)
    before = info()["hits"]
    again = duckcons.norm_loop(o, 5, 1)
    return [first, again, info()["hits"] - before]
r["P"] = hits(P) + [id(type(P)) in info()["kept"]]
r["Q"] = hits(Q)
# An instance of a Python class may have its own __cdict__: never cached.
r["python"] = hits(c) + [id(C) in info()["kept"]]
# A module has a __dict__: its entries are never cached either.
before = info()["hits"]
r["module"] = [duckcons.module_radius(duckpa, P) for _ in range(3)] + [info()["hits"] - before]
# Replacing the entry of a cached type: the next lookup sees it, and is cached again.
duckcons.set_norm(type(Q), NORM)
r["replaced"] = hits(Q) + hits(P)
# Types without an instance __dict__ whose instances still answer each for itself: a __slots__
# member named __cdict__ (set through HPyBridge_CDictSet), a __getattr__. Never cached: each
# instance gets its own answer, through the runtime's cache and through a call site's.
class Slotted:
    __slots__ = ("__cdict__",)
s1, s2 = Slotted(), Slotted()
duckcons.set_norm(s2, NORM)
own = {}
class Dynamic:
    __slots__ = ()
    def __getattr__(self, name):
        if name == "__cdict__" and id(self) in own:
            return own[id(self)]
        raise AttributeError(name)
d1, d2 = Dynamic(), Dynamic()
own[id(d2)] = c.__cdict__
r["per_instance"] = [[duckcons.norm_loop(o, 2, 1) for o in (s1, s2, s1, s2, d1, d2, d1, d2)],
                     [duckcons.norm(o) for o in (s1, s2, s1, s2, d1, d2, d1, d2)],
                     id(Slotted) in info()["kept"] or id(Dynamic) in info()["kept"]]
r["debug_modes"] = info()["debug_modes"]
if "debug" in MODES_HERE:
    from hpy.debug import LeakDetector
    with LeakDetector():
        for _ in range(20):
            duckcons.norm(P); duckcons.norm(Q); duckcons.scaled(P, 2.0); duckcons.lookup(P, "nope", NORM)
result = r
""".replace("NORM", repr(NORM))


@pytest.mark.parametrize("a,c", list(itertools.product(MODES, MODES)))
def test_runtime_cache(ducks, a, c):
    """HPyBridge_CDictLookup's own cache: CPython universal, trace and debug-mode consumers get cached
    answers for types without an instance __dict__ (debug handles read through HPy's DebugHandle, a
    layout checked once per debug mode); PyPy consumers, Python-class instances and modules never;
    replacing an entry invalidates."""
    body = "MODES_HERE = %r\n" % ((a, c),) + RUNTIME_CACHE
    r = run_modules(load_ducks(ducks, a, a, c), body)
    cached = not IS_PYPY
    # Once filled, each of norm_loop's 6 lookups is answered from the cache.
    n = 6 if cached else 0
    assert r["P"] == [25.0, 25.0, n, cached]
    assert r["Q"] == [10.0, 10.0, n]
    assert r["python"] == [210.0, 210.0, 0, False]
    assert r["module"] == [5.0, 5.0, 5.0, 0]
    assert r["replaced"] == [210.0, 210.0, n, 25.0, 25.0, n]
    assert r["per_instance"] == [[None, 84.0] * 4, [None, 42.0] * 4, False]
    assert r["debug_modes"] == (1 if c == "debug" and not IS_PYPY else 0)


@pytest.mark.parametrize("mode", MODES)
def test_runtime_api_1_2_consumer(ducks, mode):
    """An extension built with runtime API 1.2's hpybridge.h (five slots) works with this runtime."""
    compat = build("duckcons12", "duckcons12.c",
                   include_dirs=[os.path.join(EXT, "compat12"), hpybridge.get_include()])
    pa, pb, _ = ducks
    r = run_modules([("duckpa", pa, mode), ("duckpb", pb, mode), ("duckcons12", compat, mode)],
                    "result = [duckcons12.norm(duckpa.make(3.0, 4.0)), duckcons12.norm(duckpb.make(2.0, 1.0)), "
                    "duckcons12.norm(object())]")
    assert r == [5.0, 2.0, None]


LEAKS_AND_THREADS = r"""
import threading
from hpy.debug import LeakDetector
P = duckpa.make(3.0, 4.0); Q = duckpb.make(2.0, 1.0)
with LeakDetector():
    for _ in range(50):
        duckcons.norm(P); duckcons.norm(Q); duckcons.scaled(P, 2.0); duckcons.scaled(Q, 2.0); duckcons.tag(P, 1)
        duckcons.lookup(P, "nope", "void (void)")
errors = []
def worker(k):
    try:
        for i in range(300):
            o = P if (i + k) % 2 else Q
            want = 5.0 if o is P else 2.0
            got = duckcons.norm(o)
            if got != want or duckcons.norm(duckcons.scaled(o, k)) != want * k:
                errors.append((k, i, got))
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 7)]
for t in threads: t.start()
for t in threads: t.join()
result = errors
"""


@pytest.mark.parametrize("a,b,c", [("debug", "debug", "debug"), ("universal", "trace", "debug"),
                                   ("debug", "universal", "trace"), ("universal", "universal", "universal")])
def test_leak_detector_and_threads(ducks, a, b, c):
    assert run_modules(load_ducks(ducks, a, b, c), LEAKS_AND_THREADS) == []


SPEC = """
[api]
name = "t"
module = "m"
version = "1.0"

[[functions]]
name = "f"
signature = "int (void)"
"""


def spec_error(tmp_path, text):
    from hpybridge import gen

    path = tmp_path / "bad.toml"
    path.write_text(SPEC + text)
    with pytest.raises(gen.SpecError) as e:
        gen.load_spec(str(path))
    return str(e.value).replace(str(path), "bad.toml")


def test_types_in_specs(tmp_path):
    from hpybridge import gen

    text = read_text(os.path.join(EXT, "duckpa.toml"))
    header = gen.render(gen.load_spec(os.path.join(EXT, "duckpa.toml")))["duckpa_export.h"]
    assert "double duckpa_Point_norm(HPyContext *ctx, HPy self);" in header
    assert '    {"scaled", "HPy (HPyContext *, HPy, double)", (void *)duckpa_Point_scaled},' in header
    assert "static inline int register_Point_cdict(HPyContext *ctx, HPy type)" in header
    # Consumers need nothing from [[types]]: they look entries up by name and signature.
    assert "register_Point" not in gen.render(gen.load_spec(os.path.join(EXT, "duckpa.toml")))["duckpa_api.h"]
    assert "[[types]]" in text
    entry = '[[types]]\nname = "P"\n[[types.entries]]\nname = "%s"\nsignature = "%s"\n'
    assert spec_error(tmp_path, entry % ("n", "double (")).startswith(
        "bad.toml: [[types]] #1 'P' entry #1 'n': signature: ")
    assert spec_error(tmp_path, entry % ("n", "int (void)") + 'oops = 1\n') == (
        "bad.toml: [[types]] #1 'P' entry #1 'n': unknown key 'oops'; expected keys: doc, name, nogil, signature")
    assert spec_error(tmp_path, entry % ("n", "int (void)") + entry.split("\n", 2)[2] % ("n", "int (void)")) == (
        "bad.toml: [[types]] #1 'P' entry #2 'n': name: expected a name unique in the type, found 'n' again (it "
        "is entry #1)")
    assert spec_error(tmp_path, entry % ("n", "int (void)") + entry % ("m", "int (void)")).startswith(
        "bad.toml: [[types]] #2 'P': name: expected a type name unique in the spec, found 'P' again")
    assert spec_error(tmp_path, '[[types]]\nname = "P"\n').startswith(
        "bad.toml: [[types]] #1 'P': missing key 'entries'")
    assert spec_error(tmp_path, '[[types]]\nname = "P"\nentries = []\n').startswith(
        "bad.toml: [[types]] #1 'P': entries: expected [[types.entries]] (at least one table)")
