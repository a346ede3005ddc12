"""Foreign C-API tables into HPy (issue 10, "Foreign capsules into HPy"): an HPy universal consumer
(tests/ext/foreigncons.c) imports the C-API functions of a plain Cython module (tests/ext/foreigncy.pyx:
no HPy, no hpybridge) through headers generated from [foreign] specs, from its `__pyx_capi__` and from
a `void *` table in a capsule, NumPy's `_ARRAY_API` style, and calls them with its own context and
handles in each HPy mode, on CPython and on PyPy (cpyext); NumPy's own `_ARRAY_API` through the
examples/numpy_shapes example, on CPython. Errors: a missing module, attribute, capsule, entry or
key, a wrong capsule name, a signature that differs from the declared one."""

import os

import pytest

import hpybridge
from conftest import CONTEXT_NAMES, EXT, INTERPRETER, IS_PYPY, build_with_headers, run_modules
from hpybridge import devel, gen

MODES = hpybridge.MODES
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PYX = """
[foreign]
name = "%s"
module = "foreigncy"
pyx_capi = "%s"
"""
TABLE = """
[foreign]
name = "%s"
module = "%s"
capsule = "%s"
size = 8
"""
FUNCTIONS = """
[[functions]]
name = "scale"
signature = "PyObject *(PyObject *seq, double k)"
index = 0

[[functions]]
name = "total"
signature = "double (PyObject *seq)"
index = 1
doc = "-1.0 with an exception set on error"

[[functions]]
name = "count"
signature = "Py_ssize_t (PyObject *o)"
index = 3

[[functions]]
name = "ident"
signature = "PyObject *(PyObject *o)"
index = 4

[[functions]]
name = "fail"
signature = "PyObject *(PyObject *message)"
index = 5

[[functions]]
name = "mix"
signature = "PyObject *(PyObject *, double, int, PyObject *, Py_ssize_t, double, long, PyObject *)"
index = 6

[[functions]]
name = "inc"
signature = "double (double)"
index = 7
"""
PAIR = """
[[functions]]
name = "pair"
signature = "PyObject *(PyObject *, PyObject *, int __pyx_skip_dispatch)"
"""


def one(name, signature, where):
    return '\n[[functions]]\nname = "%s"\nsignature = "%s"\n%s\n' % (name, signature, where)


def pyx(text):
    return "\n".join(line for line in text.splitlines() if not line.startswith("index = "))


IDENT = '\n[[functions]]\nname = "ident"\nsignature = "PyObject *(PyObject *)"\n'
SPECS = {
    "fcy": PYX % ("fcy", "__pyx_capi__") + pyx(FUNCTIONS) + PAIR,
    "ftab": TABLE % ("ftab", "foreigncy", "TABLE") + FUNCTIONS,
    "no_module": TABLE % ("no_module", "foreigncy_missing", "TABLE") + IDENT + "index = 4\n",
    "no_attr": TABLE % ("no_attr", "foreigncy", "NO_SUCH") + IDENT + "index = 4\n",
    "not_capsule": TABLE % ("not_capsule", "foreigncy", "NOT_A_CAPSULE") + IDENT + "index = 4\n",
    "wrong_name": TABLE % ("wrong_name", "foreigncy", "TABLE") + 'capsule_name = "foreigncy.table"\n' + IDENT
    + "index = 4\n",
    "unnamed": TABLE % ("unnamed", "foreigncy", "NAMED_TABLE") + IDENT + "index = 4\n",
    "null_entry": TABLE % ("null_entry", "foreigncy", "TABLE") + one("removed", "PyObject *(PyObject *)", "index = 2"),
    "no_key": PYX % ("no_key", "__pyx_capi__") + one("nope", "PyObject *(PyObject *)", ""),
    "wrong_sig": PYX % ("wrong_sig", "__pyx_capi__") + one("total", "double (PyObject *, double)", ""),
    "not_dict": PYX % ("not_dict", "TABLE") + IDENT,
}


def generate(specs, name):
    """Generates every spec of `specs` into one build folder named by their hash; returns it."""
    import hashlib

    digest = hashlib.sha256(repr(sorted(specs.items())).encode()).hexdigest()[:12]
    folder = os.path.join(devel.default_build_dir(), "gen", "%s-%s" % (name, digest))
    os.makedirs(folder, exist_ok=True)
    for spec_name, text in specs.items():
        path = os.path.join(folder, spec_name + ".toml")
        with open(path, "w") as f:
            f.write(text)
        gen.generate(gen.load_spec(path), folder)
    return folder


@pytest.fixture(scope="module")
def consumer():
    return build_with_headers("foreigncons", "foreigncons.c", generate(SPECS, "foreign"))


@pytest.fixture(scope="module")
def provider():
    """The Cython module, built for this interpreter (on PyPy against cpyext)."""
    return devel.compile_cython_extension("foreigncy", os.path.join(EXT, "foreigncy.pyx"))


LOAD = """
from hpybridge import devel
sys.modules["foreigncy"] = foreigncy = devel.load_capi_extension("foreigncy", %r)
"""


def run(consumer, provider, mode, body, backend="dynasm"):
    return run_modules([("foreigncons", consumer, mode)], LOAD % provider + body,
                       env_extra={"HPYBRIDGE_TRAMPOLINES": backend})


CALLS = """
foreigncons.connect()
marker = object()
result = {"context": foreigncons.context_name()}
for which in (0, 1):
    result[which] = {
        "scale": foreigncons.scale(which, [1, 2.5], 2.0),
        "total": foreigncons.total(which, (1.5, 2.5, 3)),
        "total_fails": outcome(foreigncons.total, which, [1, "x"]),
        "count": foreigncons.count(which, "abcd"),
        "count_fails": outcome(foreigncons.count, which, 42),
        "ident_is_same": foreigncons.ident(which, marker) is marker,
        "fail": outcome(foreigncons.fail, which, "raised by Cython"),
        "mix": foreigncons.mix(which, "a", 2.5, 3, None, 5, 6.5, 7, [8]),
        "inc": foreigncons.inc_many(which, 1.5, 4),
    }
result["pair"] = foreigncons.pair("x", 1)
result["same_table"] = [foreigncons.try_import(n) == foreigncons.try_import(n) for n in ("fcy", "ftab")]
"""


@pytest.mark.parametrize("backend", ("dynasm", "libffi"))
@pytest.mark.parametrize("mode", MODES)
def test_calls_in_every_mode(consumer, provider, mode, backend):
    r = run(consumer, provider, mode, CALLS, backend)
    assert r["context"] == CONTEXT_NAMES[INTERPRETER][mode]
    for which in ("0", "1"):
        assert r[which] == {
            "scale": [2.0, 5.0],
            "total": 7.0,
            "total_fails": ["TypeError", r[which]["total_fails"][1]],
            "count": 4,
            "count_fails": ["TypeError", r[which]["count_fails"][1]],  # the message is the interpreter's
            "ident_is_same": True,
            "fail": ["ValueError", "raised by Cython"],
            "mix": ["a", 2.5, 3, None, 5, 6.5, 7, [8]],
            "inc": 10.0,
        }, which
    assert r["pair"] == ["x", 1]
    assert r["same_table"] == [True, True]



ERRORS = """
result = {n: outcome(foreigncons.try_import, n) for n in %r}
""" % [n for n in SPECS if n not in ("fcy", "ftab")]


def test_import_errors(consumer, provider):
    """Each a clear ImportError subclass naming what the spec expects and what the module has."""
    r = run(consumer, provider, "debug", ERRORS)
    assert r == {
        "no_module": ["ModuleNotFoundError",
                      "no_module foreign table: expected module 'foreigncy_missing', found no module of that name"],
        "no_attr": ["APICapsuleError",
                    "no_attr foreign table: expected module 'foreigncy' to have attribute 'NO_SUCH', found none"],
        "not_capsule": ["APICapsuleError",
                        "not_capsule foreign table: expected module 'foreigncy' attribute 'NOT_A_CAPSULE' to be a "
                        "capsule without a name, found an object of type 'int'"],
        "wrong_name": ["APICapsuleError",
                       "wrong_name foreign table: expected module 'foreigncy' attribute 'TABLE' to be a capsule named "
                       "'foreigncy.table', found a capsule without a name"],
        "unnamed": ["APICapsuleError",
                    "unnamed foreign table: expected module 'foreigncy' attribute 'NAMED_TABLE' to be a capsule "
                    "without a name, found a capsule named 'foreigncy.table'"],
        "null_entry": ["APISlotError",
                       "null_entry foreign table: function 'removed' is entry 2 of module 'foreigncy' attribute "
                       "'TABLE', which is NULL"],
        "no_key": ["APISlotError",
                   "no_key foreign table: expected module 'foreigncy' attribute '__pyx_capi__' to have function "
                   "'nope', found none (it has: count, fail, ident, inc, mix, pair, scale, total)"],
        "wrong_sig": ["APISlotError",
                      "wrong_sig foreign table: function 'total' (module 'foreigncy' __pyx_capi__['total']): consumer "
                      "expects \"double (PyObject *, double)\", the module has \"double (PyObject *)\""],
        "not_dict": ["APICapsuleError",
                     "not_dict foreign table: expected module 'foreigncy' attribute 'TABLE' to be a dict of capsules, "
                     "found an object of type 'PyCapsule'"],
    }
    assert all(issubclass(getattr(hpybridge.errors, kind, ImportError), ImportError) for kind, _ in r.values())


@pytest.mark.parametrize("mode", MODES)
def test_references_and_handles_unchanged(consumer, provider, mode):
    """Borrowed arguments and new-reference results: reference counts do not move over 10,000 calls
    of each table, and in debug mode HPy's leak detector finds no handle left open."""
    r = run(consumer, provider, mode, """
from hpy.debug import LeakDetector
foreigncons.connect()
marker = object()
before = foreigncy.refcount(marker)
with LeakDetector():
    for which in (0, 1):
        foreigncons.ident_many(which, marker, 10000)
        for i in range(500):
            assert foreigncons.scale(which, (i,), 2.0) == [2.0 * i]
            assert outcome(foreigncons.fail, which, "x")[0] == "ValueError"
            assert outcome(foreigncons.total, which, ["x"])[0] == "TypeError"
result = foreigncy.refcount(marker) - before
""")
    assert r == 0


@pytest.mark.parametrize("mode", MODES)
def test_threads(consumer, provider, mode):
    r = run(consumer, provider, mode, """
import threading
foreigncons.connect()
errors = []
def work(k):
    try:
        for i in range(2000):
            assert foreigncons.scale(i % 2, [k], float(i)) == [k * float(i)]
            assert foreigncons.count(k % 2, "x" * k) == k
            assert foreigncons.ident(i % 2, k) == k
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 7)]
for t in threads: t.start()
for t in threads: t.join()
result = errors
""")
    assert r == []


def test_foreign_signatures():
    assert hpybridge.foreign_signature("PyObject *(PyObject *, Py_ssize_t *, double)") == \
        "HPy (HPyContext *, HPy, HPy_ssize_t *, double)"
    assert hpybridge.foreign_signature("unsigned int (void)") == "unsigned int (HPyContext *)"
    with pytest.raises(ValueError, match="stub cannot know how many objects it points to"):
        hpybridge.foreign_signature("int (PyObject **)")


def spec_error(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(gen.SpecError) as e:
        gen.load_spec(str(path))
    return str(e.value).replace(str(path), "bad.toml")


def test_spec_errors(tmp_path):
    ident = one("ident", "PyObject *(PyObject *)", "index = 4")
    assert spec_error(tmp_path, TABLE % ("t", "m", "TABLE") + one("f", "int (void)", "index = 8")) == \
        "bad.toml: [[functions]] #1 'f': index: 8 is out of range: [foreign] size is 8"
    assert spec_error(tmp_path, TABLE.replace("size = 8\n", "") % ("t", "m", "TABLE") + ident).startswith(
        "bad.toml: [foreign] 't': missing key 'size'")
    assert spec_error(tmp_path, PYX % ("t", "__pyx_capi__") + 'capsule = "X"\n' + ident).startswith(
        "bad.toml: [foreign] 't': expected exactly one of 'capsule'")
    assert spec_error(tmp_path, PYX % ("t", "__pyx_capi__") + ident) == \
        "bad.toml: [[functions]] #1 'ident': index: goes with 'capsule'; a __pyx_capi__ function is found by its 'key'"
    assert spec_error(tmp_path, TABLE % ("t", "m", "TABLE") + one("f", "int (PyObject **)", "index = 1")) == \
        "bad.toml: [[functions]] #1 'f': signature: \"int (PyObject **)\" has no HPy form: parameter 0 is " \
        "PyObject **, and a stub cannot know how many objects it points to, nor who owns them"


# NumPy publishes no wheels for PyPy 3.11 in the registry (checked with `pip download --implementation pp
# --abi pypy311_pp73 numpy`: none for any version), and building it from source for PyPy is not part of
# provisioning. The Cython tests above exercise the same stubs on PyPy.
needs_numpy = pytest.mark.skipif(IS_PYPY, reason="NumPy has no PyPy 3.11 wheels in the registry")


@pytest.fixture(scope="module")
def npshapes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("numpy_shapes_build",
                                                  os.path.join(ROOT, "examples", "numpy_shapes", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_example()


NUMPY = """
import array, sys
import numpy
from hpy.debug import LeakDetector
buf = array.array("d", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
with LeakDetector():
    a = npshapes.from_buffer(buf)
    before = [sys.getrefcount(x) for x in (a, buf)]
    for i in range(3000):
        assert npshapes.shape(a)[1] == [6]
        assert npshapes.total(a) == 21.0
    after = [sys.getrefcount(x) for x in (a, buf)]
    raw = npshapes.from_buffer(memoryview(bytearray(b"ab")))
    result = {
        "context": npshapes.context_name(),
        "versions": list(npshapes.versions()),
        "from_buffer": [type(a).__name__, str(a.dtype), a.tolist()],
        "shape": npshapes.shape(a),
        "reshape": npshapes.reshape(a, 2, 3).tolist(),
        "reshape_fails": outcome(npshapes.reshape, a, 4, 4),
        "shape_2d": npshapes.shape(numpy.zeros((3, 4, 5))),
        "arange": npshapes.arange(4).tolist(),
        "total": [type(npshapes.total(a)).__name__, float(npshapes.total(a))],
        "from_bytearray": [str(raw.dtype), raw.tolist()],
        "refcounts_unchanged": before == after,
    }
"""


@needs_numpy
@pytest.mark.parametrize("mode", MODES)
def test_numpy_through_its_capsule(npshapes, mode):
    """examples/numpy_shapes: NumPy's own C API from an HPy universal binary, in each mode."""
    import numpy

    r = run_modules([("npshapes", npshapes, mode)], NUMPY)
    assert r == {
        "context": CONTEXT_NAMES[INTERPRETER][mode],
        "versions": [0x02000000, r["versions"][1]],
        "from_buffer": ["ndarray", "float64", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]],
        "shape": [1, [6], 6],
        "reshape": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        "reshape_fails": ["ValueError", "cannot reshape array of size 6 into shape (4,4)"],
        "shape_2d": [3, [3, 4, 5], 60],
        "arange": [0.0, 1.0, 2.0, 3.0],
        "total": ["float64", 21.0],
        "from_bytearray": ["uint8", [97, 98]],
        "refcounts_unchanged": True,
    }
    assert r["versions"][1] >= 0x12
    assert numpy.__version__.startswith("2.")
