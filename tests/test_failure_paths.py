"""A module whose initialisation fails raises its exception and leaves a healthy interpreter.

Every path on which an HPy module's exec slot fails: a consumer whose import finds no provider, an
older provider, another signature; a provider registering an API twice; a module raising an
exception of its own; the runtime itself refusing a bad HPYBRIDGE_TRAMPOLINES; each through
`load_extension` and through a stub (`import name`). After each: `gc.collect()`, later imports
that succeed, calls, interpreter exit.

On CPython, HPy 0.9's loader frees a failed module's definition while the module lives on
(python/hpybridge/failed_init.py explains it and what the loader does about it). Reading that
memory crashes only where the allocator has reused it, so every scenario here runs under
PYTHONMALLOC=debug, which fills freed memory with a pattern and makes such a read crash every time,
and in development mode (PYTHONDEVMODE=1, what -X dev sets). On PyPy those variables change
nothing and the scenarios run all the same.
"""

import os
import subprocess
import sys

import pytest

import hpybridge
from conftest import IS_PYPY, build, build_with_headers, generate_headers, mode_copy, run_modules
from test_api_tables import provider, spec

MODES = hpybridge.MODES
# Deterministic use-after-free detection in the interpreters these tests start.
STRICT = {"PYTHONMALLOC": "debug", "PYTHONDEVMODE": "1"}
NO_PROVIDER = "calc API: expected provider module 'calcprov', found no module of that name"


def exec_consumer(text=None):
    """calccons importing the calc API in its exec slot, as NumPy-style consumers do."""
    return build_with_headers("calccons", "calccons.c", generate_headers(text or spec()),
                              define_macros=[("CALCCONS_IMPORT_IN_EXEC", None)])


def probe(exec_raises=False):
    return build("probe", "probe.c", define_macros=[("PROBE_EXEC_RAISES", None)] if exec_raises else [])


def other(mode):
    return "universal" if mode == "debug" else "debug"


def after_failure(mode, failing, afterwards, preload=(), env=None):
    """In a fresh interpreter under STRICT: loads `preload` ((name, path, mode), registered), then
    runs the expression `failing` (it must raise) inside the debug-mode leak detector, collects,
    and runs `afterwards`, which leaves its result in `after`. Returns [outcome, after]."""
    body = """
import gc, importlib
from hpy.debug import LeakDetector
with LeakDetector():  # the failed initialisation leaves no debug-mode handle open
    failed = outcome(lambda: %s)
gc.collect()
after = None
%s
gc.collect()
result = [failed, after]
""" % (failing, afterwards)
    return run_modules(list(preload), body, env_extra=dict(STRICT, **(env or {})))


def load(name, path, mode, register=False):
    return "hpybridge.load_extension(%r, %r, mode=%r, register=%r)" % (name, path, mode, register)


@pytest.mark.parametrize("mode", MODES)
def test_consumer_without_provider(mode):
    cons, prov = mode_copy(exec_consumer(), mode), mode_copy(provider(), other(mode))
    r = after_failure(mode, load("calccons", cons, mode), """
%s
calccons = %s
after = [calccons.add(40, 2), calccons.hypot(3.0, 4.0)]
""" % (load("calcprov", prov, other(mode), register=True), load("calccons", cons, mode)))
    assert r == [["ModuleNotFoundError", NO_PROVIDER],
                 [42, 5.0]], "the same consumer loads once its provider is there"


@pytest.mark.parametrize("mode", MODES)
def test_consumer_needs_newer_provider(mode):
    older = provider(spec("1.1", drop=("fail", "pick", "context_name")))
    r = after_failure(mode, load("calccons", mode_copy(exec_consumer(), mode), mode),
                      "after = %s.add(1, 2)" % load("probe", mode_copy(probe(), mode), mode),
                      preload=[("calcprov", older, other(mode))])
    assert r == [["APIVersionError", "calc API: consumer needs version 1.2, provider module 'calcprov' has 1.1"], 3]


@pytest.mark.parametrize("mode", MODES)
def test_consumer_with_another_signature(mode):
    changed = exec_consumer(spec(change=("double (HPyContext *ctx, double x, double y)",
                                         "float (HPyContext *, float, float)")))
    good = mode_copy(exec_consumer(), mode)
    r = after_failure(mode, load("calccons", mode_copy(changed, mode), mode),
                      "after = %s.hypot(6.0, 8.0)" % load("calccons", good, mode),
                      preload=[("calcprov", provider(), other(mode))])
    assert r[0] == ["APISlotError",
                    "calc API: slot 1 'hypot': consumer expects \"float (HPyContext *, float, float)\", "
                    "provider module 'calcprov' 1.2 has \"double (HPyContext *, double, double)\""]
    assert r[1] == 10.0


@pytest.mark.parametrize("mode", MODES)
def test_provider_registering_twice(mode):
    # The first provider runs in another mode, so the second is another file (see devel.copy_for_mode).
    again = mode_copy(provider(), mode)
    r = after_failure(mode, load("calcprov", again, mode),
                      "after = %s.add(40, 2)" % load("calccons", mode_copy(exec_consumer(), mode), mode),
                      preload=[("calcprov", provider(), other(mode))])
    assert r[0][0] == "APIRegistrationError" and r[0][1].endswith("cannot register it again")
    assert r[1] == 42, "the first provider still serves its consumers"


@pytest.mark.parametrize("mode", MODES)
def test_module_raising_its_own_exception(mode):
    r = after_failure(mode, load("probe", mode_copy(probe(exec_raises=True), mode), mode),
                      "after = %s.add(1, 2)" % load("probe", mode_copy(probe(), mode), mode))
    assert r == [["KeyError", repr("probe: raised by the module's own exec slot")], 3]


@pytest.mark.parametrize("mode", MODES)
def test_import_through_a_stub(mode, tmp_path):
    """`import calccons` through the stub `devel.write_stub` writes: the failed import leaves no
    module behind, and the same import works once the provider is there."""
    from hpybridge import devel

    cons = mode_copy(exec_consumer(), mode)
    folder = tmp_path / "site"
    folder.mkdir()
    os.symlink(cons, folder / "calccons.hpy0.so")
    devel.write_stub(str(folder / "calccons.hpy0.so"))
    r = after_failure(mode, "importlib.import_module('calccons')", """
assert "calccons" not in sys.modules
%s
import calccons
after = [calccons.add(40, 2), calccons.context_name()]
""" % load("calcprov", mode_copy(provider(), other(mode)), other(mode), register=True),
        env={"PYTHONPATH": "%s:%s" % (folder, os.environ.get("PYTHONPATH", "")), "HPY": "calccons:%s" % mode})
    assert r[0] == ["ModuleNotFoundError", NO_PROVIDER]
    assert r[1][0] == 42 and r[1][1].startswith({"universal": "HPy Universal", "debug": "HPy Debug",
                                                 "trace": "HPy Trace"}[mode])


def run_strict(code, env=None):
    """Runs `code` in a fresh interpreter under STRICT (updated with `env`); returns the process."""
    full = {k: v for k, v in os.environ.items() if k != "HPY"}
    full.update(STRICT)
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)


def test_runtime_refusing_its_backend():
    """The runtime's own exec slot fails: `import hpybridge` raises; the interpreter collects and
    exits cleanly, whether the exception is caught or not."""
    caught = run_strict("""
import gc
try:
    import hpybridge
except ValueError as e:
    print("raised:", e)
gc.collect()
print("alive")
""", {"HPYBRIDGE_TRAMPOLINES": "jit"})
    assert caught.returncode == 0, caught.stderr
    assert caught.stdout.splitlines() == [
        'raised: HPYBRIDGE_TRAMPOLINES: expected dynasm or libffi (or unset), found "jit"', "alive"]
    uncaught = run_strict("import hpybridge", {"HPYBRIDGE_TRAMPOLINES": "jit"})
    assert uncaught.returncode == 1, uncaught.stderr
    assert uncaught.stderr.rstrip().endswith('ValueError: HPYBRIDGE_TRAMPOLINES: expected dynasm or libffi (or unset), '
                                             'found "jit"')


@pytest.mark.parametrize("allocator", ["default", "debug"])
@pytest.mark.parametrize("mode", MODES)
def test_uncaught_failure_exits_1(mode, allocator):
    """The NumPy pattern left uncaught: the exception reaches the top level and the interpreter
    exits 1, not with a crash; several times in a row, with either allocator."""
    cons = mode_copy(exec_consumer(), mode)
    # "default": what users have, without the allocator hooks of PYTHONMALLOC=debug or dev mode.
    env = {"PYTHONMALLOC": "debug"} if allocator == "debug" else {"PYTHONMALLOC": "", "PYTHONDEVMODE": ""}
    for _ in range(3):
        proc = run_strict("import hpybridge; %s" % load("calccons", cons, mode), env)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.rstrip().endswith("ModuleNotFoundError: " + NO_PROVIDER)


@pytest.mark.skipif(IS_PYPY, reason="CPython's loader only: PyPy keeps no definition to forget, and its str "
                                     "identity follows equality")
@pytest.mark.parametrize("name", ["p", "probe", "a.b"])
def test_spec_names_are_objects_of_their_own(name):
    """The failed module is found by the identity of its spec name: that object must be one no other
    module holds, also for one-character names, which CPython shares."""
    from hpybridge import failed_init

    shared = sys.intern(name)
    fresh = failed_init.fresh_name(shared)
    assert fresh == name and fresh is not shared and failed_init.fresh_name(shared) is not fresh
