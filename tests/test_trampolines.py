"""Trampolines (issue 4): a consumer in one HPy context family calls a provider in another through
its table; both see only their own contexts and handles. Every test runs with the backend that
HPYBRIDGE_TRAMPOLINES selects, dynasm and libffi, on CPython and on PyPy."""

import os

import pytest

import hpybridge
from conftest import CONTEXT_NAMES, EXT, INTERPRETER, generate_headers, read_text, run_modules
from hpybridge import devel
from test_api_tables import CALLS, check_calls, consumer, provider, spec

MODES = hpybridge.MODES
PAIRS = [(p, c) for p in MODES for c in MODES]
BACKENDS = ["dynasm", "libffi"]


def run(backend, modules, body):
    return run_modules(modules, body, {"HPYBRIDGE_TRAMPOLINES": backend})


def calc(backend, prov_mode, cons_mode, body, prov=None, cons=None):
    modules = [("calcprov", prov or provider(), prov_mode), ("calccons", cons or consumer(), cons_mode)]
    return run(backend, modules, body)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("prov_mode, cons_mode", PAIRS)
def test_matrix(backend, prov_mode, cons_mode):
    """Every signature of the calc API, in every pairing of modes; debug leak detector clean after
    thousands of calls, the error path included."""
    check_calls(calc(backend, prov_mode, cons_mode, CALLS % {"modes": (prov_mode, cons_mode)}), prov_mode, cons_mode)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("a_mode, b_mode", [("universal", "debug"), ("debug", "trace"), ("trace", "universal"),
                                            ("debug", "debug")])
def test_callback_chain(backend, a_mode, b_mode):
    """pinger calls ponger calls pinger ... 60 levels deep, each in its own mode."""
    headers = [generate_headers(read_text(os.path.join(EXT, n + ".toml")), n) for n in ("ping", "pong")]
    inc = headers + [hpybridge.get_include()]
    pinger = devel.compile_extension("pinger", [os.path.join(EXT, "chain.c")], include_dirs=inc,
                                     define_macros=[("PINGER", None)])
    ponger = devel.compile_extension("ponger", [os.path.join(EXT, "chain.c")], include_dirs=inc)
    r = run(backend, [("pinger", pinger, a_mode), ("ponger", ponger, b_mode)], """
pinger.connect(); ponger.connect()
def chain():
    trail = []
    out = pinger.start(trail, 60)
    assert out is trail
    return trail
if "debug" in (%r, %r):
    from hpy.debug import LeakDetector
    with LeakDetector():
        for _ in range(20):
            trail = chain()
else:
    trail = chain()
result = trail
""" % (a_mode, b_mode))
    names = CONTEXT_NAMES[INTERPRETER]
    assert r == [names[a_mode] if i % 2 == 0 else names[b_mode] for i in range(61)]


DEBUG_HANDLES = """
calccons.connect()
from hpy.universal import _debug
def opened(f, n=10):
    # Debug handles opened per call, closed or not (debug mode keeps the last 1,024 closed ones).
    f()
    gen = _debug.new_generation()
    for _ in range(n):
        f()
    return (len(_debug.get_open_handles(gen)) + len(_debug.get_closed_handles(gen))) / n
result = {"pick": opened(lambda: calccons.pick("a", "b", "c", 0)), "add": opened(lambda: calccons.add(1, 2)),
          "hypot": opened(lambda: calccons.hypot(3.0, 4.0))}
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("plain", ["universal", "trace"])
def test_debug_handles_per_crossing(backend, plain):
    """A crossing opens no debug handle but those the provider needs: none for a handle leaving debug
    mode, one per handle entering it. Debug handles are what debug mode spends its time on (on PyPy
    7.3.19 each one opened or closed walks debug mode's handle queues: docs/trampolines.md)."""
    same = calc(backend, "debug", "debug", DEBUG_HANDLES)
    # Out of debug mode: the same debug handles as calling within it (Python's call of the consumer
    # and its arguments; the provider's result, which the crossing opens instead of the provider).
    assert calc(backend, plain, "debug", DEBUG_HANDLES) == same
    # Into debug mode: the handle arguments, and the provider's result.
    assert calc(backend, "debug", plain, DEBUG_HANDLES) == {"pick": 4.0, "add": 3.0, "hypot": 0.0}


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads(backend):
    r = calc(backend, "debug", "universal", """
import threading
calccons.connect()
errors = []
def work(k):
    try:
        for i in range(300):
            assert calccons.add(i, k) == i + k
            assert calccons.pick(k, i, None, 1) == i
            assert calccons.hypot(3.0 * k, 4.0 * k) == 5.0 * k
            assert outcome(calccons.fail, "t")[0] == "ValueError"
    except BaseException as e:
        errors.append(repr(e))
threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 9)]
[t.start() for t in threads]; [t.join() for t in threads]
result = errors
""")
    assert r == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_code_memory_is_write_xor_execute(backend):
    r = calc(backend, "debug", "trace", """
calccons.connect()
table = hpybridge.apis("calcprov")[0]["consumers"][0]["table"]
maps = []
for line in open("/proc/self/maps"):
    addr, perms = line.split()[:2]
    lo, hi = (int(x, 16) for x in addr.split("-"))
    maps.append((lo, hi, perms))
result = {"entries": [[p for lo, hi, p in maps if lo <= e < hi] for e in table],
          "code_bytes": hpybridge.trampoline_info()["code_bytes"]}
""")
    assert r["code_bytes"] > 0
    for perms in r["entries"]:
        assert len(perms) == 1 and "x" in perms[0] and "w" not in perms[0], r


@pytest.mark.parametrize("backend", BACKENDS)
def test_importing_again_makes_no_new_code(backend):
    r = calc(backend, "universal", "debug", """
calccons.connect()
before = hpybridge.trampoline_info()["code_bytes"]
for _ in range(1000):
    calccons.connect()
consumer, = hpybridge.apis("calcprov")[0]["consumers"]
result = [before, hpybridge.trampoline_info()["code_bytes"], consumer["imports"], calccons.add(1, 2)]
""")
    assert r[0] > 0 and r[0] == r[1] and r[2] == 1001 and r[3] == 3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("prov_mode, cons_mode", [("universal", "universal"), ("trace", "universal"),
                                                  ("debug", "universal")])
def test_call_accounting(backend, prov_mode, cons_mode):
    r = calc(backend, prov_mode, cons_mode, """
calccons.connect()
calccons.add(1, 2)                       # before counting: not counted
assert hpybridge.count_calls(True) is False
for i in range(7): calccons.add(i, i)
for i in range(3): calccons.hypot(1.0, 1.0)
outcome(calccons.fail, "counted too")
counts = {e["function"]: e["calls"] for e in hpybridge.call_counts()}
edge = [e for e in hpybridge.call_counts() if e["function"] == "add"][0]
assert hpybridge.count_calls(False) is True
for i in range(5): calccons.add(i, i)    # after: not counted
after = {e["function"]: e["calls"] for e in hpybridge.call_counts()}
result = [counts, after, edge, calccons.add(2, 3)]
""")
    counts, after, edge, five = r
    assert counts == {"add": 7, "hypot": 3, "repeat": 0, "mix": 0, "fill": 0, "fail": 1, "pick": 0, "context_name": 0}
    assert after == counts
    assert edge["consumer"] == "calccons" and edge["provider"] == "calcprov" and edge["api"] == "calc"
    assert edge["consumer_family"] == "%s/%s" % (cons_mode, INTERPRETER)
    assert edge["provider_family"] == "%s/%s" % (prov_mode, INTERPRETER)
    assert five == 5


def test_handles_without_context_cannot_cross():
    text = spec() + '\n[[functions]]\nname = "bare"\nsignature = "HPy (HPy)"\nsince = "1.2"\n'
    r = calc("dynasm", "universal", "debug", "result = outcome(calccons.connect)", prov=provider(text),
             cons=consumer(text))
    assert r == ["CrossModeError", "calc API: slot 8 'bare' cannot be called from debug/%s into provider module "
                 "'calcprov' in universal/%s: \"HPy (HPy)\" passes HPy handles but no HPyContext *: there is no "
                 "context to translate them from" % (INTERPRETER, INTERPRETER)]

