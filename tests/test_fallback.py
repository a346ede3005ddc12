"""CPython-API fallback stubs (issue 8): a plain C-API extension (Python.h, no HPy), built for the
interpreter running the tests (on PyPy through cpyext), consumes the calc API through the generated
calc_capi.h, with the provider in each HPy mode and each trampoline backend: every kind of
signature, the provider's exception, NULL results, version skew and signature mismatches with
the same messages as HPy consumers get, reference counts, the debug-mode leak detector, threads."""

import os

import pytest

import hpybridge
from conftest import CONTEXT_NAMES, EXT, INTERPRETER, generate_headers, run_modules
from hpybridge import devel
from test_api_tables import CALC, provider, spec

MODES = hpybridge.MODES
BACKENDS = ("dynasm", "libffi")


def capi_consumer(text=None, minor_needed=None):
    """calccapi.c against the calc_capi.h generated from `text`, for this interpreter."""
    macros = [("CALC_API_MINOR_NEEDED", str(minor_needed))] if minor_needed is not None else []
    headers = generate_headers(text or CALC)
    return devel.compile_capi_extension("calccapi", [os.path.join(EXT, "calccapi.c")], include_dirs=[headers],
                                        define_macros=macros)


LOAD = """
from hpybridge import devel
calccapi = cons = devel.load_capi_extension("calccapi", %r)
"""


def run(prov_mode, body, backend="dynasm", prov=None, cons=None):
    """Loads the calc provider in `prov_mode` (registered), then the C-API consumer, then `body`."""
    env = {"HPYBRIDGE_TRAMPOLINES": backend}
    return run_modules([("calcprov", prov or provider(), prov_mode)], LOAD % (cons or capi_consumer()) + body,
                       env_extra=env)


CALLS = """
cons.connect()
marker = object()
result = {
    "add": cons.add(40, 2),
    "add_str": cons.add("ab", "cd"),
    "hypot": cons.hypot(3.0, 4.0),
    "repeat": cons.repeat([1, 2], 3),
    "mix": cons.mix(1, 2.0, 3, 4.0, 5, 6.0, 7, 8.0, 9, 10.0),
    "fill": cons.fill(4, 1.5),
    "fail": outcome(cons.fail, "raised by the provider"),
    "add_fails": outcome(cons.add, 1, "x"),
    "pick_is_same": [cons.pick(marker, None, None, 0) is marker, cons.pick(1, "b", 3, 1)],
    "provider_context": cons.provider_context(),
}
before = [cons.refcount(x) for x in (marker, result)]
cons.pick_many(marker, result, marker, 10000)
for i in range(2000):
    assert cons.add(i, 1) == i + 1
    assert outcome(cons.fail, "x")[0] == "ValueError"
result["refcounts_unchanged"] = [cons.refcount(x) for x in (marker, result)] == before
"""


def check_calls(r, prov_mode):
    assert r["add"] == 42 and r["add_str"] == "abcd"
    assert r["hypot"] == 5.0
    assert r["repeat"] == [1, 2] * 3
    assert r["mix"] == 1 + 2 * 2.0 + 3 * 3 + 4 * 4.0 + 5 * 5 + 6 * 6.0 + 7 * 7 + 8 * 8.0 + 9 * 9 + 10 * 10.0
    assert r["fill"] == [0.0, 1.5, 3.0, 4.5]
    assert r["fail"] == ["ValueError", "raised by the provider"], "the provider's exception, unchanged"
    assert r["add_fails"][0] == "TypeError", "a NULL result with the provider's exception"
    assert r["pick_is_same"] == [True, "b"]
    assert r["provider_context"] == CONTEXT_NAMES[INTERPRETER][prov_mode], "the provider runs in its own context"
    assert r["refcounts_unchanged"], "borrowed arguments, new-reference results"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("prov_mode", MODES)
def test_capi_consumer_calls(prov_mode, backend):
    check_calls(run(prov_mode, CALLS, backend), prov_mode)


# Bodies shared with the Rust consumer's tests (test_rust.py): `cons` is the consumer module.
LEAKS = """
from hpy.debug import LeakDetector
cons.connect()
with LeakDetector():
    for i in range(3000):
        assert cons.add(i, 1) == i + 1
        assert cons.pick(i, None, None, 0) == i
        assert outcome(cons.fail, "x")[0] == "ValueError"
        assert cons.repeat("ab", 2) == "abab"
result = "clean"
"""

THREADS = """
import threading
cons.connect()
errors = []
def work(k):
    try:
        for i in range(3000):
            assert cons.add(i, k) == i + k
            assert cons.pick(k, i, None, i % 2) == (i if i % 2 else k)
            assert cons.hypot(3.0 * k, 4.0 * k) == 5.0 * k
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 7)]
for t in threads: t.start()
for t in threads: t.join()
result = errors
"""


def test_debug_provider_leaks_no_handle():
    assert run("debug", LEAKS) == "clean"


@pytest.mark.parametrize("prov_mode", MODES)
def test_threads(prov_mode):
    assert run(prov_mode, THREADS) == []


def test_older_consumer_with_newer_provider():
    r = run("universal", """
calccapi.connect()
result = [calccapi.add(1, 2), hasattr(calccapi, "mix"), hpybridge.apis("calcprov")[0]["capi_consumers"]]
""", cons=capi_consumer(minor_needed=0))
    assert r[:2] == [3, False]
    [consumer] = r[2]
    assert [consumer[k] for k in ("module", "version", "slots", "imports")] == ["calccapi", "1.0", 3, 1]


def test_consumer_needs_newer_minor():
    older = provider(spec("1.1", drop=("fail", "pick", "context_name")))
    r = run("universal", "result = outcome(calccapi.connect)", prov=older)
    assert r == ["APIVersionError", "calc API: consumer needs version 1.2, provider module 'calcprov' has 1.1"]


def test_wrong_signature():
    changed = spec(change=("double (HPyContext *ctx, double x, double y)", "float (HPyContext *, float, float)"))
    r = run("universal", "result = outcome(calccapi.connect)", cons=capi_consumer(changed))
    assert r == ["APISlotError", "calc API: slot 1 'hypot': consumer expects \"float (float, float)\", provider "
                                 "module 'calcprov' 1.2 has \"double (double, double)\""]


def test_missing_provider():
    cons = capi_consumer(spec(module="no_such_provider"))
    r = run_modules([], LOAD % cons + "result = outcome(calccapi.connect)")
    assert r == ["ModuleNotFoundError",
                 "calc API: expected provider module 'no_such_provider', found no module of that name"]


@pytest.mark.parametrize("prov_mode", MODES)
def test_call_counts_per_capi_consumer(prov_mode):
    """`count_calls` counts C-API consumers' calls per edge too: each consumer has a table of its
    own, counting stubs in front of the stubs while counting is on, the stubs again after."""
    r = run(prov_mode, """
calccapi.connect()
assert hpybridge.count_calls(True) is False
for i in range(3):
    calccapi.add(i, 1)
calccapi.hypot(3.0, 4.0)
outcome(calccapi.fail, "counted too")
edges = [e for e in hpybridge.call_counts() if e["consumer_family"] == "C-API"]
counts = {e["function"]: e["calls"] for e in edges}
assert hpybridge.count_calls(False) is True
calccapi.add(1, 2)
after = {e["function"]: e["calls"] for e in hpybridge.call_counts() if e["consumer_family"] == "C-API"}
result = [counts, sorted({(e["consumer"], e["provider"], e["api"]) for e in edges}), after == counts]
""")
    counts, who, unchanged = r
    assert counts == {"add": 3, "hypot": 1, "repeat": 0, "mix": 0, "fill": 0, "fail": 1, "pick": 0,
                      "context_name": 0}
    assert who == [["calccapi", "calcprov", "calc"]]
    assert unchanged, "counting off: the table holds the stubs again, and counts stay"


def test_fallback_table_published_and_inspected():
    """The provider module carries `_calc_CAPI` beside `_calc_API`; `apis()` and `inspect` show its
    slots and C-API consumers."""
    r = run("debug", """
calccapi.connect()
api = hpybridge.apis("calcprov")[0]
result = [type(calcprov._calc_CAPI).__name__, api["capi_slots"], api["capi_consumers"][0]["module"]]
""")
    assert r[0] == "PyCapsule"
    assert [(s["name"], s["signature"], s["missing"]) for s in r[1]] == [
        ("add", "PyObject * (PyObject *, PyObject *)", None),
        ("hypot", "double (double, double)", None),
        ("repeat", "PyObject * (PyObject *, Py_ssize_t)", None),
        ("mix", "double (long, double, int, double, long long, float, Py_ssize_t, double, short, double)", None),
        ("fill", "long (double *, long, double)", None),
        ("fail", "PyObject * (PyObject *)", None),
        ("pick", "PyObject * (PyObject *, PyObject *, PyObject *, int)", None),
        ("context_name", "char * (void)", None),
    ]
    assert r[2] == "calccapi"


def test_fallback_signatures():
    assert hpybridge.fallback_signature("HPy (HPyContext *ctx, HPy, HPy_ssize_t)") == \
        "PyObject * (PyObject *, Py_ssize_t)"
    assert hpybridge.fallback_signature("double (double)") == "double (double)"
    with pytest.raises(hpybridge.errors.NoFallbackError, match="no HPyContext \\* to translate them in"):
        hpybridge.fallback_signature("HPy (HPy)")
    with pytest.raises(hpybridge.errors.SignatureSyntaxError):
        hpybridge.fallback_signature("HPy (HPyContext *, dobule)")


def test_slot_without_a_cpython_form():
    """A slot whose signature has no CPython-API form is NULL in the table and says why; the rest of
    the API still serves C-API consumers."""
    text = CALC + '\n[[functions]]\nname = "bare"\nsignature = "HPy (HPy)"\nsince = "1.2"\n'
    r = run("universal", """
calccapi.connect()
api = hpybridge.apis("calcprov")[0]
result = [calccapi.add(1, 2), api["capi_slots"][-1]]
""", prov=provider(text), cons=capi_consumer(text))
    assert r[0] == 3
    assert r[1] == {"name": "bare", "signature": "HPy (HPy)",
                    "missing": "\"HPy (HPy)\" has no CPython-API form: it passes HPy handles but no HPyContext * "
                               "to translate them in"}


def cython_consumer():
    """calccy.pyx, which cimports the generated calc_capi.pxd, built for this interpreter."""
    headers = generate_headers(CALC)
    return devel.compile_cython_extension("calccy", os.path.join(EXT, "calccy.pyx"), include_dirs=[headers])


@pytest.mark.parametrize("prov_mode", MODES)
def test_cython_consumer(prov_mode):
    """Cython code `cimport`s the API and calls it with Python objects and C scalars; the provider's
    exception propagates as a Python exception (object results: NULL; others: `except *`)."""
    r = run_modules([("calcprov", provider(), prov_mode)], """
from hpybridge import devel
calccy = devel.load_capi_extension("calccy", %r)
calccy.connect()
marker = object()
result = [calccy.add(40, 2), calccy.hypot(3.0, 4.0), calccy.repeat("ab", 2), calccy.fill(3, 0.5),
          outcome(calccy.fail, "raised by the provider"), calccy.pick(None, marker, None, 1) is marker,
          calccy.provider_context(), outcome(calccy.add, 1, "x")[0]]
""" % cython_consumer())
    assert r == [42, 5.0, "abab", [0.0, 0.5, 1.0], ["ValueError", "raised by the provider"], True,
                 CONTEXT_NAMES[INTERPRETER][prov_mode], "TypeError"]
