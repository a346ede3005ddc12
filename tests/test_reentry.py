"""Issue 7, part 3: PyPy 7.3.19's own debug mode aborts on re-entry (docs/hpy-contexts.md, "PyPy's
debug mode and re-entry").

An HPy function that calls Python (`HPy_Call`), which calls an HPy function of a debug-mode module
again, aborts with "Wrong HPy Context!" on that PyPy: PyPy enters every debug-mode module with its
one debug context, and HPy's debug wrappers mark that context invalid while they call out. CPython
hands each nested entry a debug context of its own.

- `test_pure_hpy_module_reentered_from_python`: a pure HPy module (tests/ext/reenter.c), loaded with
  HPy's own loader in a fresh interpreter, no hpybridge there at all: a strict xfail on PyPy in
  debug mode (the abort is PyPy's), passing in every other mode and interpreter, and passing on
  PyPy in debug mode too when nothing re-enters (n = 0).
- `test_provider_calls_back_into_a_consumer`: through hpybridge, a provider calls back into Python,
  which re-enters the consumer, which calls the provider again, in every pairing of modes. The
  trampolines avoid the abort for calls that go through them (src/xcall.rs, `Entry::HomeRevalidated`);
  what PyPy enters itself (a debug-mode consumer called from Python) still aborts: a strict xfail
  on PyPy with both sides in debug mode. `test_call_out_of_another_debug_module`: the call-out that
  invalidates the context may be any debug-mode module's.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

import hpybridge
from conftest import (
    CONTEXT_NAMES,
    EXT,
    INTERPRETER,
    IS_PYPY,
    build,
    generate_headers,
    mode_copy,
    read_text,
    run_modules,
)
from hpybridge import devel

MODES = hpybridge.MODES
MODE_NUMBERS = {"universal": 0, "debug": 1, "trace": 2}  # hpy.universal.MODE_*

PYPY_ENTERS_INVALID = ("PyPy 7.3.19 enters a debug-mode module from Python with its one debug context, which an "
                       "outer HPy_Call has marked invalid: 'Wrong HPy Context!' (docs/hpy-contexts.md)")


class WrongHPyContext(Exception):
    """The interpreter aborted with HPy debug mode's "Wrong HPy Context!"."""


def aborted_with_wrong_context(returncode, stderr):
    return returncode == -signal.SIGABRT and "Wrong HPy Context!" in stderr


def xfail_on_pypy_debug(condition):
    # raises=: only that abort counts as the expected failure; anything else fails the test.
    return pytest.mark.xfail(IS_PYPY and condition, reason=PYPY_ENTERS_INVALID, strict=True, raises=WrongHPyContext)


# --- a pure HPy module, without hpybridge ------------------------------------------------------

# Runs in a fresh interpreter: HPy's own loader, no hpybridge imported.
_PURE = r"""
import importlib.machinery, json, sys
name, path, mode, method, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
if sys.implementation.name == "pypy":
    import _hpy_universal as backend
else:
    import hpy.universal as backend
module = backend.load(name, path, importlib.machinery.ModuleSpec(name, None, origin=path), debug=False, mode=mode)
assert not [m for m in sys.modules if m.startswith("hpybridge")]
call = getattr(module, method)

def f(k):
    print("in f(%d)" % k, flush=True)
    return call(f, k - 1) if k > 0 else 0

print("RESULT " + json.dumps([module.context_name(), call(f, n)]), flush=True)
"""


def run_pure(path, mode, method, n):
    copy = mode_copy(path, mode)
    env = dict(os.environ)
    env.pop("HPY", None)
    proc = subprocess.run([sys.executable, "-c", _PURE, "reenter", copy, str(MODE_NUMBERS[mode]), method, str(n)],
                          capture_output=True, text=True, env=env)
    if aborted_with_wrong_context(proc.returncode, proc.stderr):
        raise WrongHPyContext("exit %d after:\n%s" % (proc.returncode, proc.stdout))
    assert proc.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (proc.returncode, proc.stdout, proc.stderr)
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")][-1]
    return json.loads(result[len("RESULT "):])


@pytest.mark.parametrize("method", ["call", "call_td"])  # through HPy_Call, and HPy_CallTupleDict
@pytest.mark.parametrize("mode, n", [pytest.param(m, n, marks=xfail_on_pypy_debug(m == "debug" and n > 0))
                                     for m in MODES for n in (0, 3)])
def test_pure_hpy_module_reentered_from_python(mode, n, method):
    """call(f, n) calls f(n) through HPy, f calls call(f, n - 1): n nested entries, n + 1 at the end."""
    path = build("reenter", "reenter.c")
    assert run_pure(path, mode, method, n) == [CONTEXT_NAMES[INTERPRETER][mode], n + 1]


@pytest.mark.skipif(not IS_PYPY, reason="the abort is PyPy's")
def test_pypy_debug_aborts_in_the_reentered_call():
    """Where PyPy aborts: at the first use of the context by the re-entered method (its argument
    parsing), not later in the outer one; the outer method's f(3) ran, the inner call never got to f(2)."""
    path = build("reenter", "reenter.c")
    with pytest.raises(WrongHPyContext) as e:
        run_pure(path, "debug", "call", 3)
    assert str(e.value).splitlines()[1:] == ["in f(3)"]


# --- through hpybridge: provider -> Python -> consumer -> provider ... --------------------------

def callback_modules():
    headers = generate_headers(read_text(os.path.join(EXT, "callback.toml")), "callback")
    inc = [headers, hpybridge.get_include()]
    return (devel.compile_extension("cbprov", [os.path.join(EXT, "cbprov.c")], include_dirs=inc),
            devel.compile_extension("cbcons", [os.path.join(EXT, "cbcons.c")], include_dirs=inc))


CALLBACK_BODY = """
cbcons.connect()
def f(k):
    # The provider's handle-free slot, from inside its own call-out: a context swap where one applies.
    assert cbcons.bump(k) == k + 1
    return cbcons.call(f, k - 1) if k > 0 else 0
def run():
    return [cbcons.call(f, n) for n in (0, 1, 5)] + [cbcons.bump(41)]
if "debug" in %(modes)r:
    from hpy.debug import LeakDetector
    with LeakDetector():
        for _ in range(20):
            result = run()
else:
    result = run()
"""


# Deeper than CPython debug mode's cache of 16 contexts: each level's call of the consumer's method
# takes the next one, and the 17th reuses (and, returning, invalidates) the first level's, which the
# first level uses again when the provider returns to it (translate.rs marks it valid again). Both
# the provider's handle slot (call) and its handle-free one (bump) cross at every level.
DEEP_BODY = """
cbcons.connect()
def f(k):
    assert cbcons.bump(k) == k + 1
    return cbcons.call(f, k - 1) if k > 0 else 0
result = [cbcons.call(f, 40), cbcons.bump(41)]
"""


def callback(prov_mode, cons_mode, backend, body=CALLBACK_BODY):
    prov, cons = callback_modules()
    try:
        return run_modules([("cbprov", prov, prov_mode), ("cbcons", cons, cons_mode)],
                           body % {"modes": (prov_mode, cons_mode)}, {"HPYBRIDGE_TRAMPOLINES": backend})
    except AssertionError as e:
        # run_python reports a failed child as an AssertionError with its exit status and stderr.
        if "exit %d\n" % -signal.SIGABRT in str(e) and "Wrong HPy Context!" in str(e):
            raise WrongHPyContext(str(e)) from None
        raise


@pytest.mark.parametrize("prov_mode, cons_mode", [
    pytest.param(p, c, marks=xfail_on_pypy_debug(p == c == "debug")) for p in MODES for c in MODES])
def test_provider_calls_back_into_a_consumer(prov_mode, cons_mode):
    assert callback(prov_mode, cons_mode, "dynasm") == [1, 2, 6, 42]


@pytest.mark.parametrize("backend", ["dynasm", "libffi"])
@pytest.mark.parametrize("prov_mode, cons_mode", [
    pytest.param(p, c, marks=xfail_on_pypy_debug(p == c == "debug")) for p in MODES for c in MODES])
def test_callback_chain_deeper_than_debug_modes_context_cache(prov_mode, cons_mode, backend):
    assert callback(prov_mode, cons_mode, backend, DEEP_BODY) == [41, 42]


@pytest.mark.parametrize("cons_mode", ["universal", "trace"])
def test_provider_calls_back_into_a_consumer_libffi(cons_mode):
    """The pairings that enter PyPy's debug mode through a trampoline, with the other backend."""
    assert callback("debug", cons_mode, "libffi") == [1, 2, 6, 42]


@pytest.mark.parametrize("cons_mode", ["universal", "trace"])
def test_call_out_of_another_debug_module(cons_mode):
    """PyPy has one debug context for all debug-mode modules: a call-out of any of them (here
    `reenter`, which knows nothing of hpybridge) marks it invalid for the provider as well."""
    prov, cons = callback_modules()
    r = run_modules([("reenter", build("reenter", "reenter.c"), "debug"), ("cbprov", prov, "debug"),
                     ("cbcons", cons, cons_mode)], """
cbcons.connect()
def g(k):
    return cbcons.call(lambda j: cbcons.bump(j), k)
result = reenter.call(g, 2)
""")
    assert r == 5  # reenter: g(2) + 1; g: cbprov's h(2) + 1; h: bump(2) = 3
