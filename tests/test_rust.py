"""Rust consumers (issue 11): `python -m hpybridge gen --rust` writes a PyO3 module for an API's
CPython-API table; tests/ext/calcrs, a PyO3 extension built with maturin for the interpreter running
the tests (on PyPy through cpyext), consumes the calc API through it, with the provider in each HPy
mode: results, the provider's exception as a PyErr, version skew and signature mismatches with the
same messages C-API consumers get, reference counts, the debug-mode leak detector, threads. And the
generated module compiles warning-free under the project's clippy settings for any spec."""

import os
import re
import subprocess
import sys

import pytest

import hpybridge
from conftest import EXT, HERE, INTERPRETER, generate_headers, run_modules
from hpybridge import devel, gen
from test_api_tables import CALC, provider, spec
from test_fallback import CALLS, LEAKS, THREADS, check_calls

MODES = hpybridge.MODES
CRATE = os.path.join(EXT, "calcrs")
ROOT = os.path.dirname(HERE)


def rust_consumer(text=None, minor=None):
    """calcrs built against the calc_capi.rs generated from `text` (for version 1.`minor`)."""
    spec_file = os.path.join(generate_headers(text or CALC), "calc.toml")
    env = {"CALCRS_SPEC": spec_file}
    if minor is not None:
        env["CALCRS_MINOR"] = "1.%d" % minor
    return devel.compile_pyo3_extension("calcrs", CRATE, env=env, inputs=[spec_file])


LOAD = """
from hpybridge import devel
calcrs = cons = devel.load_capi_extension("calcrs", %r)
"""


def run(prov_mode, body, backend="dynasm", prov=None, cons=None):
    """Loads the calc provider in `prov_mode` (registered), then the Rust consumer, then `body`."""
    return run_modules([("calcprov", prov or provider(), prov_mode)], LOAD % (cons or rust_consumer()) + body,
                       env_extra={"HPYBRIDGE_TRAMPOLINES": backend})


# The calls of the C-API consumer's tests (test_fallback.CALLS), through calcrs: the same results,
# checked by the same function.
@pytest.mark.parametrize("prov_mode", MODES)
def test_rust_consumer_calls(prov_mode):
    check_calls(run(prov_mode, CALLS), prov_mode)


def test_rust_consumer_through_libffi_stubs():
    check_calls(run("debug", CALLS, backend="libffi"), "debug")


def test_provider_exception_reaches_rust_as_pyerr():
    """The provider's ValueError crosses Rust as a PyErr (`?` in calcrs) and reaches Python with its
    type, message and identity of class unchanged; a scalar slot's error (-1.0 with an exception
    set) too, and nothing is left set afterwards."""
    r = run("debug", """
import sys
calcrs.connect()
try:
    calcrs.fail("from the provider")
except ValueError as e:
    caught = [type(e) is ValueError, str(e)]
result = [caught, outcome(calcrs.hypot, "x", 1.0), sys.exc_info()[0] is None, calcrs.add(1, 2)]
""")
    assert r[0] == [True, "from the provider"]
    assert r[1][0] == "TypeError", "PyO3's own argument conversion, before any call"
    assert r[2:] == [True, 3]


def test_debug_provider_leaks_no_handle():
    assert run("debug", LEAKS) == "clean"


@pytest.mark.parametrize("prov_mode", MODES)
def test_threads(prov_mode):
    assert run(prov_mode, THREADS) == []


def test_import_is_once_per_process():
    """`import(py)` fetches the table once: the runtime sees one import however often it is asked."""
    r = run("universal", """
for _ in range(5):
    calcrs.connect()
[consumer] = hpybridge.apis("calcprov")[0]["capi_consumers"]
result = [consumer[k] for k in ("module", "version", "slots", "imports")]
""")
    assert r == ["calcrs", "1.2", 8, 1]


def test_older_consumer_with_newer_provider():
    """Generated with --minor 1.0: the module has 1.0's slots (calcrs's cfgs leave out the rest)."""
    r = run("universal", """
calcrs.connect()
result = [calcrs.add(1, 2), hasattr(calcrs, "mix"), hasattr(calcrs, "fail"),
          hpybridge.apis("calcprov")[0]["capi_consumers"]]
""", cons=rust_consumer(minor=0))
    assert r[:3] == [3, False, False]
    [consumer] = r[3]
    assert [consumer[k] for k in ("module", "version", "slots", "imports")] == ["calcrs", "1.0", 3, 1]


def test_consumer_needs_newer_minor():
    older = provider(spec("1.1", drop=("fail", "pick", "context_name")))
    r = run("universal", "result = [outcome(calcrs.connect), outcome(calcrs.add, 1, 2)]", prov=older)
    assert r[0] == ["APIVersionError", "calc API: consumer needs version 1.2, provider module 'calcprov' has 1.1"]
    assert r[1] == ["RuntimeError", "calcrs: call connect() first"], "a failed import leaves no table behind"


def test_wrong_signature():
    """A consumer whose spec differs from the provider's in a slot it uses (`int32_t which` where
    the provider has `int which`: the same Rust type, so calcrs compiles, but another C signature)
    fails at import naming both sides, before any call."""
    changed = spec(change=("HPy (HPyContext *, HPy, HPy, HPy, int which)",
                           "HPy (HPyContext *, HPy, HPy, HPy, int32_t which)"))
    r = run("universal", "result = [outcome(calcrs.connect), outcome(calcrs.add, 1, 2)]", cons=rust_consumer(changed))
    assert r[0] == ["APISlotError", "calc API: slot 6 'pick': consumer expects \"PyObject * (PyObject *, PyObject *, "
                                    "PyObject *, int32_t)\", provider module 'calcprov' 1.2 has \"PyObject * "
                                    "(PyObject *, PyObject *, PyObject *, int)\""]
    assert r[1] == ["RuntimeError", "calcrs: call connect() first"]


def test_major_skew():
    r = run("universal", "result = outcome(calcrs.connect)", cons=rust_consumer(spec("2.2")))
    assert r[0] == "APIVersionError" and "consumer needs version 2.2" in r[1] and "has 1.2" in r[1], r


def test_missing_provider():
    cons = rust_consumer(spec(module="no_such_provider"))
    r = run_modules([], LOAD % cons + "result = outcome(calcrs.connect)")
    assert r == ["ModuleNotFoundError",
                 "calc API: expected provider module 'no_such_provider', found no module of that name"]


# --- the generated module itself -----------------------------------------------------------------

# Every kind of slot the generator handles: names that are Rust keywords (raw or suffixed), a slot
# without a CPython-API form, const and mutable pointers at several depths, every scalar type, void.
KITCHEN = '''
[api]
name = "kitchen"
module = "kitchenprov"
version = "2.1"
doc = "Every kind of slot."

[[functions]]
name = "type"
signature = "HPy (HPyContext *ctx, HPy self, HPy match)"
since = "2.0"

[[functions]]
name = "crate"
signature = "void (HPyContext *, const char *text, char **out, const double *const *rows)"
since = "2.0"

[[functions]]
name = "bare"
signature = "HPy (HPy)"
since = "2.0"

[[functions]]
name = "scalars"
signature = "_Bool (HPyContext *, char, signed char, unsigned char, short, unsigned short, int, unsigned int, long, \
unsigned long, long long, unsigned long long, size_t, ssize_t, HPy_ssize_t, intptr_t, uintptr_t, int8_t, uint8_t, \
int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t, float, double, HPy_UCS4)"
since = "2.1"

[[functions]]
name = "plain"
signature = "void *(void)"
since = "2.1"
'''


def kitchen_module(tmp_path, minor=None):
    path = tmp_path / "kitchen.toml"
    path.write_text(KITCHEN)
    from hpybridge import gen_rust

    return gen_rust.render_rust(gen.load_spec(str(path)), minor)


def test_generated_types_and_names(tmp_path):
    text = kitchen_module(tmp_path)
    assert "pub r#type: unsafe extern \"C\" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject," in text
    assert "pub fn r#type<'py>(" in text
    assert "self_: &Bound<'py, PyAny>," in text and "r#match: &Bound<'py, PyAny>," in text
    # `crate` cannot be a raw identifier; pointee const is kept at each level.
    assert ("pub crate_: unsafe extern \"C\" fn(\n        *const ::std::ffi::c_char,\n"
            "        *mut *mut ::std::ffi::c_char,\n        *const *const f64,\n    ),") in text
    assert "pub unsafe fn crate_(" in text and "# Safety" in text
    assert "/// Always `None`: \"HPy (HPy)\" has no CPython-API form" in text
    assert "pub bare: Option<unsafe extern \"C\" fn()>," in text
    assert "pub fn bare" not in text
    assert "-> bool" in text and "f32" in text and "ffi::Py_ssize_t" in text and "u32" in text
    assert "pub plain: unsafe extern \"C\" fn() -> *mut ::std::ffi::c_void," in text
    assert '("scalars", "bool (char, signed char, ' in text
    older = kitchen_module(tmp_path, minor=0)
    assert "pub const MINOR: u32 = 0;" in older and "scalars" not in older
    assert "static SLOTS: [(&str, &str); 3]" in older


def test_gen_rust_command(tmp_path):
    spec_file = tmp_path / "kitchen.toml"
    spec_file.write_text(KITCHEN)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "hpybridge", "gen", *args], capture_output=True, text=True)

    r = run(str(spec_file), "--rust", "--cargo", "--minor", "2.0", "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "cargo::rustc-check-cfg=cfg(kitchen_api_2_0, kitchen_api_2_1)" in r.stdout
    assert "cargo::rustc-cfg=kitchen_api_2_0" in r.stdout and "kitchen_api_2_1\n" not in r.stdout.split("check-cfg")[1]
    assert "cargo::rerun-if-changed=%s" % spec_file in r.stdout
    assert (tmp_path / "out" / "kitchen_capi.rs").exists()
    r = run(str(spec_file), "--rust", "--minor", "2.2")
    assert r.returncode == 2 and "--minor: expected a version 2.0 to 2.1 (the spec's), found '2.2'" in r.stderr
    r = run(str(spec_file), "--minor", "2.0")
    assert r.returncode == 2 and "--minor goes with --rust" in r.stderr


def _workspace_lints():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        text = f.read()
    return re.findall(r"^(\w+) = \"(\w+)\"$", text.split("[workspace.lints.rust]")[1].split("[workspace.package]")[0],
                      re.M)


def test_crates_use_the_project_lints():
    """The PyO3 crates live outside the workspace, so they repeat its lints: they must agree."""
    lints = _workspace_lints()
    assert lints, "no [workspace.lints] found"
    crates = (CRATE, os.path.join(ROOT, "examples", "geometry", "rust"), os.path.join(ROOT, "benchmarks", "benchrs"))
    for crate in crates:
        with open(os.path.join(crate, "Cargo.toml")) as f:
            text = f.read()
        assert re.findall(r"^(\w+) = \"(\w+)\"$", text.split("[lints.rust]")[1], re.M) == lints, crate


@pytest.mark.skipif(INTERPRETER != "CPython", reason="one clippy run is enough; it needs the venv's Python")
def test_generated_module_is_clippy_clean(tmp_path):
    """The kitchen-sink module, compiled by clippy with the project's lints as errors (-D warnings)."""
    crate = tmp_path / "kitchen"
    (crate / "src").mkdir(parents=True)
    (crate / "src" / "kitchen_capi.rs").write_text(kitchen_module(tmp_path))
    (crate / "src" / "lib.rs").write_text("mod kitchen_capi;\n")
    with open(os.path.join(CRATE, "Cargo.toml")) as f:
        calcrs = f.read()
    pyo3 = re.search(r"^pyo3 = .*$", calcrs, re.M).group(0)
    lints = calcrs[calcrs.index("[lints.rust]"):]  # checked against the workspace's by the test above
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "kitchen"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\ncrate-type = ["cdylib"]\n\n'
        "[dependencies]\n%s\n\n%s\n[workspace]\n" % (pyo3, lints))
    # calcrs's lock file: the same pyo3 and dependencies, no download.
    with open(os.path.join(CRATE, "Cargo.lock")) as f:
        (crate / "Cargo.lock").write_text(f.read().replace('name = "calcrs"', 'name = "kitchen"'))
    env = dict(os.environ, PYO3_PYTHON=sys.executable,
               CARGO_TARGET_DIR=os.path.join(devel.default_build_dir(), "cargo-clippy"))
    r = subprocess.run(["cargo", "clippy", "--locked", "--quiet", "--", "-D", "warnings"], cwd=crate,
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-6000:]
