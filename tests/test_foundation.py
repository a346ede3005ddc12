"""The foundation: the runtime and C HPy extensions load in every HPy mode, on CPython and PyPy,
from the same binaries; the loader turns bad files into clear errors."""

import json
import os
import shutil
import subprocess
import sys

import pytest

import hpybridge
from conftest import (
    CONTEXT_NAMES,
    EXT,
    INTERPRETER,
    IS_PYPY,
    check_same_binary_as_cpython,
    leak_detector,
    load,
    run_python,
)
from hpybridge import devel

MODES = hpybridge.MODES


# --- the runtime -------------------------------------------------------------------------------

ABI_INFO = "import json, hpybridge; print(json.dumps(hpybridge.abi_info()))"


@pytest.mark.parametrize("mode", MODES)
def test_runtime_reports_its_context(mode):
    info = json.loads(run_python(ABI_INFO, {"HPY": mode}))
    assert info["context_name"] == CONTEXT_NAMES[INTERPRETER][mode]
    assert info["mode"] == mode
    assert info["interpreter"] == INTERPRETER
    assert info["hpy_abi"] == "universal"
    assert info["hpy_version"] == devel.HPY_VERSION
    assert info["hpybridge_version"] == hpybridge.__version__


@pytest.mark.parametrize("hpy, mode", [
    ("hpybridge._runtime:trace", "trace"),
    ("hpybridge:debug", "debug"),               # a package selects the modules in it
    ("other:trace", "universal"),               # unlisted modules get the default
    ("other:trace,debug", "debug"),             # ... which an entry without a name sets
    ("hpybridge:trace,hpybridge._runtime:debug", "debug"),  # the longest match wins
    ("", "debug"),                              # as CPython's own loader
])
def test_runtime_mode_from_HPY(hpy, mode):
    assert json.loads(run_python(ABI_INFO, {"HPY": hpy}))["mode"] == mode


def test_bad_HPY_is_a_clear_error():
    expected = r"HPY='hpybridge:fast': expected a mode among universal, debug, trace, found 'fast'"
    with pytest.raises(ValueError, match=expected):
        hpybridge.mode_from_env("hpybridge._runtime", {"HPY": "hpybridge:fast"})


def test_runtime_in_debug_mode_leaks_nothing():
    out = run_python(
        "import hpybridge\n"
        "from hpy.debug import LeakDetector\n"
        "with LeakDetector():\n"
        "    for _ in range(1000): hpybridge.abi_info()\n"
        "print(hpybridge.abi_info()['mode'])\n",
        {"HPY": "debug"},
    )
    assert out.strip() == "debug"


def test_runtime_is_the_file_cpython_loaded():
    if IS_PYPY:
        check_same_binary_as_cpython(hpybridge._runtime_path)
    else:
        assert os.path.exists(hpybridge._runtime_path)


def test_get_include_has_the_header():
    assert os.path.isfile(os.path.join(hpybridge.get_include(), "hpybridge.h"))


# --- C extensions in every mode ----------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_extension_loads_in_mode(probe_path, mode):
    probe = load("probe", probe_path, mode)
    assert probe.context_name() == CONTEXT_NAMES[INTERPRETER][mode]
    assert probe.add(40, 2) == 42
    with pytest.raises(ValueError, match="from C"):
        probe.fail("from C")


def test_all_modes_side_by_side(probe_path):
    modules = {mode: load("probe", probe_path, mode) for mode in MODES}
    for _ in range(3):  # interleaved calls: each copy keeps its own context
        for mode, probe in modules.items():
            assert probe.context_name() == CONTEXT_NAMES[INTERPRETER][mode]


def test_debug_mode_leak_detector_is_clean(probe_path):
    probe = load("probe", probe_path, "debug")
    with leak_detector():
        for i in range(1000):
            assert probe.add(i, 1) == i + 1
        with pytest.raises(ValueError):
            probe.fail("no leak on the error path either")


def test_leak_detector_sees_a_real_leak(probe_path):
    """Negative control: the clean result above means something only if a leak is caught."""
    from hpy.debug import HPyLeakError

    probe = load("probe", probe_path, "debug")
    with pytest.raises(HPyLeakError):
        with leak_detector():
            probe.leak(object())


def test_stub_makes_the_extension_importable(probe_path, tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    so = folder / "probe.hpy0.so"
    shutil.copyfile(probe_path, so)
    devel.write_stub(str(so))
    code = "import sys; sys.path.insert(0, %r); import probe; print(probe.context_name())" % str(folder)
    for mode in MODES:
        assert run_python(code, {"HPY": mode}).strip() == CONTEXT_NAMES[INTERPRETER][mode]


# --- bad input: clear exceptions from the package's own loader, never a crash ------------------

def test_not_an_elf_file(tmp_path):
    bogus = tmp_path / "junk.hpy0.so"
    bogus.write_text("this is not a shared object\n")
    expected = r"expected an ELF shared object, found not an ELF file \(it starts with b'this'"
    with pytest.raises(hpybridge.LoadError, match=expected):
        hpybridge.load_extension("junk", str(bogus))


def test_shared_object_without_hpy_module(tmp_path):
    so = tmp_path / "not_hpy.hpy0.so"
    subprocess.run(["gcc", "-shared", "-fPIC", os.path.join(EXT, "not_hpy.c"), "-o", str(so)], check=True)
    with pytest.raises(hpybridge.LoadError, match=r"defines no HPy module \(no HPyInit_<name> symbol\)"):
        hpybridge.load_extension("not_hpy", str(so))


def test_file_without_the_hpy0_tag(probe_path, tmp_path):
    untagged = tmp_path / "probe.so"
    shutil.copyfile(probe_path, untagged)
    with pytest.raises(hpybridge.LoadError, match=r"expected a file name ending in '\.hpy0\.so' .* found 'probe\.so'"):
        hpybridge.load_extension("probe", str(untagged))


def test_wrong_module_name(probe_path):
    expected = r"expected the HPy module 'other' \(symbol HPyInit_other\), the file defines 'probe'"
    with pytest.raises(hpybridge.LoadError, match=expected):
        hpybridge.load_extension("pkg.other", probe_path)


def test_missing_file(tmp_path):
    with pytest.raises(hpybridge.LoadError, match="no such file"):
        hpybridge.load_extension("probe", str(tmp_path / "probe.hpy0.so"))


def test_unknown_mode(probe_path):
    with pytest.raises(ValueError, match=r"mode: expected one of universal, debug, trace, found 'fast'"):
        hpybridge.load_extension("probe", probe_path, mode="fast")


def test_load_errors_are_import_errors():
    assert issubclass(hpybridge.LoadError, ImportError)


def test_capi_extension_for_this_interpreter():
    """devel.compile_capi_extension builds a plain C-API extension for the interpreter running it:
    its own headers (on PyPy, pypy3-dev's, used through cpyext) and its own file suffix."""
    import sysconfig

    path = devel.compile_capi_extension("capi_probe", [os.path.join(EXT, "capi_probe.c")])
    assert path.endswith("capi_probe" + sysconfig.get_config_var("EXT_SUFFIX"))
    module = devel.load_capi_extension("capi_probe", path)
    assert module.twice(21) == 42 and module.twice("ab") == "abab"
    assert module.implementation() == INTERPRETER


def test_loader_backend_per_interpreter(monkeypatch):
    """HPy's loader: `hpy.universal` from the hpy package on CPython; the built-in `_hpy_universal`
    on any other interpreter that has one (PyPy; GraalPy by its sources, docs/graalpy.md)."""
    import types

    from hpybridge import loader

    builtin = types.ModuleType("_hpy_universal")
    monkeypatch.setitem(sys.modules, "_hpy_universal", builtin)
    monkeypatch.setattr(sys.implementation, "name", "graalpy")
    assert loader._backend() is builtin
    if not IS_PYPY:  # (PyPy's own hpy.universal shim re-exports its _hpy_universal: not this fake)
        monkeypatch.setattr(sys.implementation, "name", "cpython")
        assert loader._backend() is not builtin
