"""`make bench`: the per-call cost of hpybridge's call paths between HPy modes, and of the
CPython-API fallback stubs.

Trivial functions of the bench API (benchmarks/bench.toml), provided by `benchprov`:
`HPy ident(HPyContext *, HPy)` (a new handle to its argument) and `double inc(HPyContext *, double)`
(x + 1); `HPy mix(HPyContext *, HPy, double, long)` is measured in the fallback section only.
`benchcons` calls ident and inc in a C loop (`benchloop.h`), through the table `import_bench` gave
it; the ident loop closes every handle it gets back.

Every path runs in a fresh subprocess (an API registers once per process), which measures, side by
side, the path (the consumer's loop calling through its table) and the baseline: the provider's own
loop, the very same machine code (benchloop.h), calling the provider's functions through a table
of its own read through a volatile pointer, in the provider's mode. Ratios are against the
baseline of the same process.

- Time: the loop's nanoseconds (clock_gettime around it, in C) divided by its calls; the number of
  calls is calibrated so that one repetition takes >= 25 ms; best of 7 repetitions, path and
  baseline interleaved.
- Instructions: the same process under `valgrind --tool=callgrind --collect-atstart=no`, 20,000
  calls per loop after an uncounted warm-up; the time_* methods switch collection on around their
  loop only and dump the profile after it (client requests, benchloop.h), so each dump is one
  loop. Instructions per call of each loop (everything it executed, divided by its calls), and of
  the loop without its HPy_Close (which runs in the consumer's mode on the path, in the
  provider's in the baseline); the excess of the latter over the baseline's is what the call path
  adds ("bridge" in the table).
- CPython-API fallback stubs ("C-API -> <mode>"): `benchcapi` (benchcapi.c, Python.h, no HPy),
  built for the interpreter with `devel.compile_capi_extension`, calls `ident`, `inc` and `mix`
  through the table of stubs `import_bench_capi()` gives it, the provider `benchprov` in each mode,
  and, in the same process and the same loops, the same functions written against the C-API in
  benchcapi.c (the baseline). Times and instructions as above; "stub" Ir/call leaves out the
  provider's HPy function's own excess over the C-API function (CAPI_METHOD). With --pypy also
  timed on PyPy, benchcapi built by PyPy (cpyext).
- Foreign C-API tables ("foreign <mode> <backend>"): `benchfcons` (an HPy consumer, each mode and
  backend) calls a plain Cython module's C-API functions through the table hpybridge gives it
  (benchforeign.toml, docs/foreign-capsules.md), against that module's own C loop calling them
  directly, in the same process (FOREIGN_METHOD). Times only; with --pypy also on PyPy.
- `__cdict__` entries (`cdictbench.py`): Python-level calls of a `double (double)`, a `double
  (HPyContext *, double)` and an `HPy (HPyContext *, HPy)` entry against `math.cos`, a C-API method,
  ctypes and cffi's ABI mode calling the same C function, in one process; times, and on CPython
  instructions per call (callgrind, collection toggled around each Python loop by a client request).
  With --pypy also timed on PyPy (cdictbench.METHOD).
- Interop (`interopbench.py`, issue 10's peer table): entries of examples/signals inside SciPy's
  `quad` and a numba `@njit` loop against their own native callables and a Python function, and a
  foreign function adopted with `hpybridge.cfunction` against ctypes and cffi calling the same
  address; times only, with --pypy the rows whose libraries exist there (interopbench.METHOD).
- PyPy (`--pypy`, which `make bench` passes): the same binaries on PyPy (.cache/pypy, as `make
  test-pypy` provisions it), timed the same way (best of 5), and counted by callgrind for the
  paths with debug mode on one side (dynasm), with 2,000 calls per loop: PyPy takes ~20 s to start
  under valgrind, and its debug-mode calls cost the same from the warm-up on. PyPy's debug -> debug
  call is the reference there (see PYPY_METHOD).

Usage: benchmarks/run.py [--pypy] [--no-callgrind] [--only SUBSTRING] [--reps N] [--pypy-reps N]
[--keep DIR] [--output FILE] (environment as the Makefile sets it: PYTHONPATH=python, HPY_PYTHON,
HPYBRIDGE_BUILD_DIR). --keep keeps callgrind's files for a closer look (`callgrind_annotate`
resolves names only in the first dump of a run; `read_dumps` here in all). Writes
benchmarks/results.md. Never fails because a target is missed; exits non-zero only if nothing
could be measured.
"""

import argparse
import concurrent.futures
import datetime
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if os.path.join(REPO, "python") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, "python"))

import cdictbench  # noqa: E402  (benchmarks/, on sys.path as the script's folder)
import interopbench  # noqa: E402

import hpybridge  # noqa: E402
from hpybridge import devel, gen  # noqa: E402

MODES = ("universal", "debug", "trace")
# (consumer mode, provider mode)
CROSS = [("universal", "trace"), ("trace", "universal"), ("universal", "debug"), ("debug", "universal"),
         ("debug", "trace"), ("trace", "debug")]
BACKENDS = ("dynasm", "libffi")
FUNCTIONS = ("ident", "inc")
CALLGRIND_CALLS = 20_000
# On PyPy fewer: its debug-mode calls cost tens of thousands of instructions each, and after the
# warm-up (debug mode's queue of closed handles is full by then) every call costs the same.
PYPY_CALLGRIND_CALLS = 2_000
# The PyPy paths whose instructions are counted too (each takes PyPy ~20 s to start under valgrind):
# those with debug mode on one side, where PyPy's debug handles set the cost. dynasm only: libffi
# adds over it what it adds on CPython.
PYPY_CALLGRIND = [("universal", "debug", "dynasm"), ("debug", "universal", "dynasm"), ("trace", "debug", "dynasm"),
                  ("debug", "trace", "dynasm")]
WARM_CALLS = 2_000
TARGET_NS = 25e6  # one timed repetition lasts at least this long
PYPY = os.path.join(REPO, ".cache", "pypy", "bin", "pypy3")
PYPY_SITE = os.path.join(REPO, ".cache", "pypy", "site-packages")
LOOP_SYMBOLS = ["%s_loop_%s" % (side, f) for side in ("benchprov", "benchcons") for f in FUNCTIONS]


class Path:
    def __init__(self, cons, prov, backend=None):
        self.cons, self.prov, self.backend = cons, prov, backend

    @property
    def same(self):
        return self.cons == self.prov

    @property
    def name(self):
        return "%s -> %s" % (self.cons, self.prov)

    @property
    def label(self):
        return "%s%s" % (self.name, "" if self.backend is None else " [%s]" % self.backend)

    def key(self):
        return (self.cons, self.prov, self.backend)


def all_paths():
    return [Path(m, m) for m in MODES] + [Path(c, p, b) for c, p in CROSS for b in BACKENDS]


# ---------------------------------------------------------------------------------------------
# Building


def build():
    """Generates the bench API's headers and compiles both modules; returns (provider, consumer)."""
    include = os.path.join(devel.default_build_dir(), "bench", "include")
    gen.generate(gen.load_spec(os.path.join(HERE, "bench.toml")), include)
    dirs = [include, HERE, hpybridge.get_include()]
    return tuple(devel.compile_extension(name, [os.path.join(HERE, name + ".c")], include_dirs=dirs)
                 for name in ("benchprov", "benchcons"))


# ---------------------------------------------------------------------------------------------
# The measuring process

# What both measuring processes start with: their configuration, their result, and the timing
# (calls calibrated until a repetition lasts cfg["target_ns"], then the best of cfg["reps"]).
_CHILD_COMMON = r'''
import json, sys
cfg = json.loads(sys.argv[1])
out = {}

def result():
    print("RESULT " + json.dumps(out))
    sys.stdout.flush()

def measure(keys, timed):
    """out["ns"] and out["calls"] for each key (a pair): timed(key, n) runs n calls, returns ns."""
    calls = {}
    for key in keys:
        n = 1000
        while True:
            t = timed(key, n)
            if t >= cfg["target_ns"]:
                break
            n = int(n * min(10.0, max(2.0, 1.2 * cfg["target_ns"] / max(t, 1.0))))
        calls[key] = n
    best = {key: float("inf") for key in keys}
    for _ in range(cfg["reps"]):
        for key in keys:
            best[key] = min(best[key], timed(key, calls[key]) / calls[key])
    out["ns"] = {"/".join(k): v for k, v in best.items()}
    out["calls"] = {"/".join(k): v for k, v in calls.items()}
'''

# How a child that defines `keys` and `timed(key, n)` ends: warm each key up, measure, report.
_TIMED_KEYS = r'''
try:
    for key in keys:
        timed(key, cfg["warm"])
    measure(keys, timed)
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
result()
'''

_CHILD = _CHILD_COMMON + r'''
try:
    import hpybridge
    prov = hpybridge.load_extension("benchprov", cfg["prov"], mode=cfg["prov_mode"])
    sys.modules["benchprov"] = prov
    cons = hpybridge.load_extension("benchcons", cfg["cons"], mode=cfg["cons_mode"])
    sys.modules["benchcons"] = cons
    out["contexts"] = [cons.context_name(), prov.context_name()]
    try:
        out["backend"] = hpybridge.trampoline_info()["backend"]
    except Exception:
        out["backend"] = None
    cons.connect()
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
    result()
    sys.exit(0)

try:  # what the consumer's table holds: the provider's own functions, or other code
    tables = [c["table"] for a in hpybridge.apis("benchprov") for c in a["consumers"]]
    out["raw"] = [e == f for e, f in zip(tables[0], prov.functions())]
except Exception:
    out["raw"] = None

OBJ = "a handle's object"
SIDES = {"baseline": prov, "path": cons}

def run(side, fn, n, warm=False):
    m = SIDES[side]
    if fn == "ident":
        return (m.warm_ident if warm else m.time_ident)(OBJ, n)
    return (m.warm_inc if warm else m.time_inc)(n)

keys = [(side, fn) for fn in ("ident", "inc") for side in ("baseline", "path")]
try:
    for side, fn in keys:
        run(side, fn, cfg["warm"], warm=True)
    if cfg["kind"] == "callgrind":
        if not (prov.callgrind_support() and cons.callgrind_support()):
            raise RuntimeError("benchprov/benchcons were built without <valgrind/callgrind.h>: no counts")
        for side, fn in keys:
            run(side, fn, cfg["calls"])
    else:
        measure(keys, lambda key, n: run(key[0], key[1], n))
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
result()
'''


def child_env(backend, pypy=False):
    env = dict(os.environ)
    env.pop("HPY", None)  # the runtime itself loads in universal mode
    env.pop("HPYBRIDGE_TRAMPOLINES", None)
    if backend:
        env["HPYBRIDGE_TRAMPOLINES"] = backend
    pythonpath = os.path.join(REPO, "python")
    if pypy:
        pythonpath += os.pathsep + PYPY_SITE
    env["PYTHONPATH"] = pythonpath
    return env


def run_measuring(code, cfg, python, backend=None, out_file=None, timeout=600):
    """Runs a measuring process, `code` given `cfg` (JSON) by `python` with the trampoline
    `backend`, under callgrind when `out_file` is given; returns its RESULT dict ("error" on
    failure, with the tail of its stderr)."""
    argv = [python, "-c", code, json.dumps(cfg)]
    # Collection off but for the loops: the loops switch it on and off around themselves and dump
    # after (client requests, see benchloop.h).
    if out_file:
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file, "--dump-instr=no",
                "--collect-atstart=no", *argv]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=child_env(backend, python == PYPY),
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %d s" % timeout}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-12:]
        return {"error": "exit status %d: %s" % (proc.returncode, " | ".join(tail))}
    out = json.loads(lines[-1][len("RESULT "):])
    if proc.returncode != 0 and "error" not in out:
        out["error"] = "exit status %d after the measurements" % proc.returncode
    return out


def run_child(path, mods, kind, python, reps=7, out_file=None, timeout=600, calls=CALLGRIND_CALLS):
    """Runs the measuring process for `path`; returns its result dict (with "error" on failure)."""
    prov, cons = mods
    cfg = {"prov": devel.copy_for_mode(prov, path.prov), "prov_mode": path.prov,
           "cons": devel.copy_for_mode(cons, path.cons), "cons_mode": path.cons,
           "kind": kind, "warm": WARM_CALLS, "calls": calls, "target_ns": TARGET_NS, "reps": reps}
    return run_measuring(_CHILD, cfg, python, path.backend, out_file if kind == "callgrind" else None, timeout)


# ---------------------------------------------------------------------------------------------
# Callgrind profiles

_NAME = re.compile(r"\((\d+)\)(?: (.*))?$")


def read_profile(out_file, names=None):
    """(self Ir per function, inclusive Ir per call arc (caller, callee), total Ir) from a callgrind
    file. `names`: the compressed names of the run's earlier dumps (callgrind names a function in
    full once per run, in the first dump that has it; later dumps give only its number)."""
    names = {} if names is None else names
    self_cost, arcs = {}, {}
    total = None
    fn = cfn = None
    in_call = False

    def name(text):
        m = _NAME.match(text.strip())
        if not m:
            return text.strip()
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), text.strip())

    with open(out_file) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
            elif line.startswith("fn="):
                fn = name(line[3:])
            elif line.startswith("cfn="):
                cfn = name(line[4:])
            elif line.startswith("calls="):
                in_call = True
            elif line[:1].isdigit() or line[:1] in ("+", "-", "*"):
                parts = line.split()
                ir = int(parts[1]) if len(parts) > 1 else 0
                if in_call:
                    arcs[(fn, cfn)] = arcs.get((fn, cfn), 0) + ir
                    in_call = False
                else:
                    self_cost[fn] = self_cost.get(fn, 0) + ir
    return self_cost, arcs, total


def inclusive(profile, fn):
    self_cost, arcs, _ = profile
    return self_cost.get(fn, 0) + sum(ir for (caller, callee), ir in arcs.items() if caller == fn and callee != fn)


def read_dumps(out_file):
    """{loop symbol: profile} from the dumps the time_* methods request after each loop."""
    found, names = {}, {}
    parts = [(int(d.rsplit(".", 1)[1]), d) for d in glob.glob(out_file + ".*") if d.rsplit(".", 1)[1].isdigit()]
    for _, dump in sorted(parts):
        with open(dump) as f:
            trigger = next((line for line in f if line.startswith("desc: Trigger:")), "")
        profile = read_profile(dump, names)
        symbol = next((s for s in LOOP_SYMBOLS if re.search(r"\b%s\b" % s, trigger)), None)
        if symbol is not None:
            found[symbol] = profile
    return found


def instructions(dumps, calls=CALLGRIND_CALLS):
    """Per function: Ir per call of the path's loop and of the baseline's, and of each without its
    HPy_Close, from one dump per loop. The HPy_Close is called straight from the loop, so callgrind
    attributes it reliably; the provider's function is not (behind libffi's ffi_call, callgrind
    does not see a call and books the function's instructions to libffi), so it is not split off:
    it does the same work in both loops, and cancels out of the difference."""
    result = {}
    for fn in FUNCTIONS:
        entry = {}
        for side, prefix in (("baseline", "benchprov"), ("path", "benchcons")):
            symbol = "%s_loop_%s" % (prefix, fn)
            if symbol not in dumps:
                found = ", ".join(sorted(dumps)) or "none"
                raise ValueError("callgrind wrote no dump for %s (found: %s)" % (symbol, found))
            profile = dumps[symbol]
            total = profile[2] or 0
            if total < calls:
                raise ValueError("callgrind counted %d instructions in %s: nothing was collected" % (total, symbol))
            close = inclusive(profile, prefix + "_close")
            if fn == "ident" and close < calls:
                raise ValueError("callgrind profile of %s: no cost for %s_close" % (symbol, prefix))
            entry[side] = total / calls
            entry[side + "_close"] = close / calls
        result[fn] = entry
    return result


def measure_callgrind(path, mods, python, workdir, calls=CALLGRIND_CALLS):
    out_file = os.path.join(workdir, "cg-%s%s-%s-%s.out" % (
        "pypy-" if python == PYPY else "", path.cons, path.prov, path.backend or "raw"))
    r = run_child(path, mods, "callgrind", python, out_file=out_file, timeout=900, calls=calls)
    if "error" in r:
        return r
    try:
        ir = instructions(read_dumps(out_file), calls)
    except (OSError, ValueError) as e:
        return {"error": str(e)}
    r["ir"] = ir
    return r


# ---------------------------------------------------------------------------------------------
# CPython-API fallback stubs

# The bench API's functions in the fallback benchmark (benchcapi.c), which calls each through two
# tables: "stub", the runtime's fallback stubs in front of benchprov; "base", the same functions
# written against the C-API in benchcapi.c.
CAPI_FUNCTIONS = ("ident", "inc", "mix")
# The CPython-API form of each function, for the report.
CAPI_FORMS = {"ident": "PyObject *(PyObject *)", "inc": "double (double)",
              "mix": "PyObject *(PyObject *, double, long)"}
# The universal provider's stub: at most this many instructions per call (issue 8).
CAPI_TARGET_IR = 10


class CapiPath:
    """The C-API consumer benchcapi calling the bench API's fallback stubs, provider in `prov`."""

    def __init__(self, prov):
        self.prov = prov

    @property
    def label(self):
        return "C-API -> %s" % self.prov

    def key(self):
        return ("capi", self.prov)


def capi_paths():
    return [CapiPath(m) for m in MODES]


def include_dir():
    return os.path.join(devel.default_build_dir(), "bench", "include")


_BUILD = r'''
import json, sys
from hpybridge import devel
function, args, kwargs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print("RESULT " + json.dumps(getattr(devel, function)(*args, **kwargs)))
'''


def build_for(python, function, *args, **kwargs):
    """`hpybridge.devel.<function>(*args, **kwargs)` run by `python` (a C-API, Cython or PyO3
    extension is for one interpreter: on PyPy it is built by PyPy, against its cpyext headers):
    in this process if it is `python`, else in a child; the built file's path, or RuntimeError."""
    if python == sys.executable:
        return getattr(devel, function)(*args, **kwargs)
    proc = subprocess.run([python, "-c", _BUILD, function, json.dumps(args), json.dumps(kwargs)],
                          capture_output=True, text=True, env=child_env(None, python == PYPY), timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError("building %s failed: %s" % (args[0], " | ".join(proc.stderr.strip().splitlines()[-6:])))
    return json.loads(lines[-1][len("RESULT "):])


def build_capi(python):
    """benchcapi.c compiled for `python`; returns its path, or raises RuntimeError."""
    return build_for(python, "compile_capi_extension", "benchcapi", [os.path.join(HERE, "benchcapi.c")],
                     include_dirs=[include_dir(), HERE])


_CAPI_CHILD = _CHILD_COMMON + r'''
try:
    import hpybridge
    from hpybridge import devel
    prov = hpybridge.load_extension("benchprov", cfg["prov"], mode=cfg["prov_mode"])
    sys.modules["benchprov"] = prov  # import_bench_capi() imports it by name
    capi = devel.load_capi_extension("benchcapi", cfg["capi"])
    capi.connect()
    out["context"] = prov.context_name()
    out["raw"] = [s == f for s, f in zip(capi.stub_addresses(), prov.functions())]
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
    result()
    sys.exit(0)

OBJ = "a stub's argument"
keys = [(table, fn) for fn in cfg["functions"] for table in ("base", "stub")]
try:
    for table, fn in keys:
        capi.warm(table, fn, OBJ, cfg["warm"])
    if cfg["kind"] == "callgrind":
        if not capi.callgrind_support():
            raise RuntimeError("benchcapi was built without <valgrind/callgrind.h>: no counts")
        for table, fn in keys:
            capi.time(table, fn, OBJ, cfg["calls"])
    else:
        measure(keys, lambda key, n: capi.time(key[0], key[1], OBJ, n))
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
result()
'''


def run_capi_child(path, prov, capi, kind, python, reps=7, out_file=None, timeout=600, calls=CALLGRIND_CALLS):
    """Runs the fallback benchmark's process for `path`; returns its result dict ("error" on failure)."""
    cfg = {"prov": devel.copy_for_mode(prov, path.prov), "prov_mode": path.prov, "capi": capi,
           "functions": CAPI_FUNCTIONS, "kind": kind, "warm": WARM_CALLS, "calls": calls, "target_ns": TARGET_NS,
           "reps": reps}
    return run_measuring(_CAPI_CHILD, cfg, python, None, out_file if kind == "callgrind" else None, timeout)


def capi_instructions(out_file, calls=CALLGRIND_CALLS):
    """Per function, from one dump per loop: Ir per call of the stub loop and of the baseline loop,
    and of the function each calls (inclusive: the provider's HPy function with its HPy_Dup, or
    the C-API function with its Py_INCREF)."""
    found, names = {}, {}
    parts = [(int(d.rsplit(".", 1)[1]), d) for d in glob.glob(out_file + ".*") if d.rsplit(".", 1)[1].isdigit()]
    for _, dump in sorted(parts):
        with open(dump) as f:
            trigger = next((line for line in f if line.startswith("desc: Trigger:")), "")
        profile = read_profile(dump, names)
        m = re.search(r"\bbenchcapi_(base|stub)_(\w+)", trigger)
        if m:
            found[(m.group(1), m.group(2))] = profile
    result = {}
    for fn in CAPI_FUNCTIONS:
        entry = {}
        for table, callee in (("base", "benchcapi_" + fn), ("stub", "bench_" + fn)):
            profile = found.get((table, fn))
            if profile is None:
                raise ValueError("callgrind wrote no dump for benchcapi_%s_%s (found: %s)" % (
                    table, fn, ", ".join("%s_%s" % k for k in sorted(found)) or "none"))
            total = profile[2] or 0
            if total < calls:
                raise ValueError("callgrind counted %d instructions in benchcapi_%s_%s: nothing was collected" % (
                    total, table, fn))
            function = inclusive(profile, callee)
            if function < calls:
                raise ValueError("callgrind profile of benchcapi_%s_%s: no cost for %s" % (table, fn, callee))
            entry[table] = total / calls
            entry[table + "_function"] = function / calls
        result[fn] = entry
    return result


def measure_capi_callgrind(path, prov, capi, python, workdir, calls=CALLGRIND_CALLS):
    out_file = os.path.join(workdir, "cg-capi-%s.out" % path.prov)
    r = run_capi_child(path, prov, capi, "callgrind", python, out_file=out_file, timeout=900, calls=calls)
    if "error" in r:
        return r
    try:
        r["ir"] = capi_instructions(out_file, calls)
    except (OSError, ValueError) as e:
        return {"error": str(e)}
    return r


def stub_of(ir):
    """The stub's own instructions per call: the stub loop's excess over the baseline loop's, less
    the excess of the provider's function (HPy_Dup through its context) over the C-API function
    (Py_INCREF). The loop and its Py_DECREF are the same code in both and cancel."""
    return (ir["stub"] - ir["stub_function"]) - (ir["base"] - ir["base_function"])


def capi_rows(paths, timing, cg, pypy=None):
    """Markdown table of the fallback stubs: CPython times and instructions; PyPy's times if given."""
    head = ("| provider mode | function (CPython-API form) | ns/call | C-API baseline ns/call | ratio | Ir/call | "
            "baseline Ir/call | added Ir/call | stub Ir/call |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in paths:
        t, c = timing.get(p.key(), {}), cg.get(p.key(), {})
        for fn in CAPI_FUNCTIONS:
            ns = t.get("ns")
            ir = (c.get("ir") or {}).get(fn)
            name = "%s `%s`" % (fn, CAPI_FORMS[fn])
            if ns is None and ir is None:
                lines.append("| %s | %s | not measured%s |  |  |  |  |  |  |" % (
                    p.prov, name, " (see below)" if t.get("error") or c.get("error") else ""))
                continue
            s, b = ns and ns["stub/" + fn], ns and ns["base/" + fn]
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                p.prov, name, fmt(s), fmt(b), fmt(s and s / b, 2), fmt(ir and ir["stub"]), fmt(ir and ir["base"]),
                fmt(ir and ir["stub"] - ir["base"]), fmt(ir and stub_of(ir))))
    return lines


def capi_pypy_rows(paths, timing):
    lines = ["| provider mode | function (CPython-API form) | ns/call | C-API baseline ns/call | ratio |",
             "|---|---|---:|---:|---:|"]
    for p in paths:
        t = timing.get(p.key(), {})
        for fn in CAPI_FUNCTIONS:
            ns = t.get("ns")
            name = "%s `%s`" % (fn, CAPI_FORMS[fn])
            if ns is None:
                lines.append("| %s | %s | not measured%s |  |  |" % (p.prov, name, " (see below)" if t.get("error")
                                                                       else ""))
                continue
            s, b = ns["stub/" + fn], ns["base/" + fn]
            lines.append("| %s | %s | %s | %s | %.2f |" % (p.prov, name, fmt(s), fmt(b), s / b))
    return lines


def capi_targets(timing, cg):
    """The universal provider's stub adds at most CAPI_TARGET_IR instructions per call (CPython)."""
    checks, details = [], []
    key = ("capi", "universal")
    ir_all = (cg.get(key) or {}).get("ir") or {}
    ns = (timing.get(key) or {}).get("ns")
    for fn in CAPI_FUNCTIONS:
        ir = ir_all.get(fn)
        checks.append(None if ir is None else stub_of(ir) <= CAPI_TARGET_IR)
        if ir is not None:
            details.append("%s: stub %.1f Ir/call (%s); with the provider's HPy_Dup over Py_INCREF, %+.1f Ir/call "
                           "over the C-API function; time ratio %s" % (
                               fn, stub_of(ir), "met" if checks[-1] else "NOT met", ir["stub"] - ir["base"],
                               fmt(ns and ns["stub/" + fn] / ns["base/" + fn], 2)))
    return [("CPython-API fallback stub of a universal provider adds <= %d instructions per call on CPython "
             "(stub Ir/call: over the same function written against the C-API, less the provider's own work)"
             % CAPI_TARGET_IR, verdict(checks), details)]


CAPI_METHOD = """\
### How the fallback stubs are measured

`benchcapi` (`benchmarks/benchcapi.c`: Python.h, no HPy) is built for the running interpreter with
`hpybridge.devel.compile_capi_extension` against the generated `bench_capi.h` (on PyPy, by PyPy,
through cpyext). Each provider mode runs in a fresh process that loads `benchprov` in that mode and
`benchcapi`, which gets the table of fallback stubs from `import_bench_capi()`. The same C loops
(`noipa`, an indirect call through a table entry loaded from memory, the result's `Py_DECREF`
through a non-inlined function, callgrind client requests around the loop, `clock_gettime`) call
through two tables of the same type: the stubs, and the baseline, the same three functions written
against the C-API in benchcapi.c (`PyObject *ident(PyObject *x)`: `Py_INCREF(x); return x`; `double
inc(double x)`: `x + 1`; `PyObject *mix(PyObject *x, double y, long n)`: a new reference to x if
y + n >= 0, else to None), read through a `volatile` pointer. The loops pass `mix` 0.5 and the
loop counter.

- **ns/call**, **ratio**: timed as the call paths are (Method below: best of %(reps)d, calibrated to
  >= 25 ms), stub and baseline loops interleaved in one process; on PyPy best of %(pypy_reps)d.
- **Ir/call**: callgrind, %(calls)s calls per loop after an uncounted warm-up. **added**: the stub
  loop's Ir/call minus the baseline loop's: all a C-API caller pays over calling the C-API-written
  function, including the provider's HPy function doing its work through its context (`HPy_Dup`,
  a call of the context's `ctx_Dup`, where the C-API function has an inline `Py_INCREF`).
  **stub**: added, less that difference of the two functions' own instructions (each function's
  inclusive cost in the profile: the provider's with its `HPy_Dup`, the C-API one with its
  `Py_INCREF`): what the stub itself runs between the loop and the function, on the way in and
  out. The loop and its `Py_DECREF` are the same code for both tables and cancel in both. For a
  universal or trace provider on CPython the stub is dynasm code that puts the provider's context
  in front and turns `PyObject *` into handles (+1) and back (-1); for a debug-mode provider it
  enters debug mode (`ctx_CallRealFunctionFromTrampoline`) and moves objects with
  `ctx_FromPyObject` / `ctx_AsPyObject` (so that reference-count work is the stub's). On PyPy every
  provider mode gets such a handler, and PyPy's debug mode pays its debug handles (PyPy's debug
  mode, below).
"""


# ---------------------------------------------------------------------------------------------
# Foreign C-API tables

# benchfcons (an HPy consumer, every mode) calls benchforeign's ident and inc (a plain Cython
# module) through the table import_bf(ctx) gives it ("hpy"); benchforeign's own C loop calls them
# through their table capsule directly ("c"), in the same process: the baseline.
FOREIGN_FUNCTIONS = ("ident", "inc")
FOREIGN_FORMS = {"ident": "PyObject *(PyObject *)", "inc": "double (double)"}

def build_foreign(python):
    """(benchfcons, benchforeign built for `python`); raises RuntimeError or BuildError."""
    include = os.path.join(devel.default_build_dir(), "bench", "foreign-include")
    gen.generate(gen.load_spec(os.path.join(HERE, "benchforeign.toml")), include)
    cons = devel.compile_extension("benchfcons", [os.path.join(HERE, "benchfcons.c")],
                                   include_dirs=[include, hpybridge.get_include()])
    return cons, build_for(python, "compile_cython_extension", "benchforeign", os.path.join(HERE, "benchforeign.pyx"))


_FOREIGN_CHILD = _CHILD_COMMON + r"""
try:
    import hpybridge
    from hpybridge import devel
    sys.modules["benchforeign"] = foreign = devel.load_capi_extension("benchforeign", cfg["foreign"])
    cons = hpybridge.load_extension("benchfcons", cfg["cons"], mode=cfg["mode"])
    out["context"] = cons.context_name()
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
    result()
    sys.exit(0)

OBJ = "an argument"
def timed(key, n):
    side, fn = key
    return (cons if side == "hpy" else foreign).time(fn, OBJ, n)

keys = [(side, fn) for fn in cfg["functions"] for side in ("c", "hpy")]
""" + _TIMED_KEYS


def time_foreign(python, reps, only=None):
    """{(mode, backend): result} of the foreign section on `python` ("error" in a result on failure)."""
    runs = [(m, b) for m in MODES for b in BACKENDS if not only or only in "foreign %s %s" % (m, b)]
    if not runs:
        return {}
    try:
        cons, foreign = build_foreign(python)
    except (RuntimeError, devel.BuildError, subprocess.TimeoutExpired) as e:
        return {r: {"error": str(e)} for r in runs}
    results = {}
    for mode, backend in runs:
        cfg = {"cons": devel.copy_for_mode(cons, mode), "mode": mode, "foreign": foreign,
               "functions": FOREIGN_FUNCTIONS, "warm": WARM_CALLS, "target_ns": TARGET_NS, "reps": reps}
        r = run_measuring(_FOREIGN_CHILD, cfg, python, backend)
        results[(mode, backend)] = r
        times = "   ".join("%s %.1f ns (C %.1f)" % (fn, r["ns"]["hpy/" + fn], r["ns"]["c/" + fn])
                           for fn in FOREIGN_FUNCTIONS) if "ns" in r else r.get("error", "")[:200]
        print("  %-9s %-32s %s" % ("pypy" if python == PYPY else "time", "foreign %s %s" % (mode, backend), times),
              flush=True)
    return results


def foreign_rows(results):
    lines = ["| consumer mode | backend | function (C-API form) | through the table ns/call | direct C ns/call | "
             "ratio |", "|---|---|---|---:|---:|---:|"]
    for (mode, backend), r in results.items():
        for fn in FOREIGN_FUNCTIONS:
            name = "%s `%s`" % (fn, FOREIGN_FORMS[fn])
            ns = r.get("ns")
            if ns is None:
                lines.append("| %s | %s | %s | not measured: %s |  |  |" % (mode, backend, name, r["error"][:200]))
                continue
            hpy, c = ns["hpy/" + fn], ns["c/" + fn]
            lines.append("| %s | %s | %s | %.1f | %.1f | %.2f |" % (mode, backend, name, hpy, c, hpy / c))
    return lines


FOREIGN_METHOD = """\
Method: `benchfcons` (benchmarks/benchfcons.c), an HPy universal extension loaded in the consumer
mode, calls `ident` (its result closed) and `inc` of `benchforeign` (benchmarks/benchforeign.pyx, a
plain Cython module) in a C loop through the table `import_bf(ctx)` gives it (benchforeign.toml:
the module's `_TABLE` capsule), against benchforeign's own C loop calling the same functions through
the same capsule's table directly (releasing ident's result), in the same process. Each loop is timed
in C (clock_gettime), calls calibrated to >= 25 ms per repetition, best of %(reps)d (PyPy: %(pypy_reps)d).
In trace mode the consumer's `HPy_Close` of ident's result is trace mode's own (it reads the clock);
in debug mode the stub converts through debug mode's `ctx_AsPyObject`/`ctx_FromPyObject`
(docs/foreign-capsules.md).
"""


# ---------------------------------------------------------------------------------------------
# The cached C-level __cdict__ lookup

# Within this many nanoseconds of a plain indirect call: the target of issue 9.
LOOKUP_TARGET_NS = 2.0

_LOOKUP_CHILD = _CHILD_COMMON + r"""
try:
    import hpybridge
    m = hpybridge.load_extension("benchlookup", cfg["path"], mode="universal")
    obj = m.make()
    loops = {"direct": 0, "lookup": 1, "site": 2}
    for which in loops.values():
        m.time(which, obj, cfg["warm"])
    if cfg["kind"] == "callgrind":
        if not m.callgrind_support():
            raise RuntimeError("benchlookup was built without <valgrind/callgrind.h>: no counts")
        for which in loops.values():
            m.time(which, obj, cfg["calls"])
    else:
        # A debug-mode copy too (time only: its loops would dump under the same names), and both
        # modes' uncached lookups.
        d = hpybridge.load_extension("benchlookup", cfg["debug_path"], mode="debug")
        dobj = d.make()
        runs = {"direct": (m, obj, 0), "lookup": (m, obj, 1), "site": (m, obj, 2), "uncached": (m, obj, 3),
                "debug_direct": (d, dobj, 0), "debug_lookup": (d, dobj, 1), "debug_uncached": (d, dobj, 3)}
        for mod, o, which in runs.values():
            mod.time(which, o, cfg["warm"])
        measure([(k, "inc") for k in runs], lambda key, n: runs[key[0]][0].time(runs[key[0]][2], runs[key[0]][1], n))
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
result()
"""


def time_lookup(reps, callgrind=True, workdir=None):
    """The lookup section on CPython: {"ns": {...}, "ir": {...}} or {"error": ...}."""
    try:
        path = devel.compile_extension("benchlookup", [os.path.join(HERE, "benchlookup.c")],
                                       include_dirs=[HERE, hpybridge.get_include()])
    except devel.BuildError as e:
        return {"error": str(e)}
    cfg = {"path": devel.copy_for_mode(path, "universal"), "debug_path": devel.copy_for_mode(path, "debug"),
           "kind": "time", "warm": WARM_CALLS,
           "calls": CALLGRIND_CALLS, "target_ns": TARGET_NS, "reps": reps}
    r = run_measuring(_LOOKUP_CHILD, cfg, sys.executable, timeout=900)
    if "error" in r or not callgrind:
        return r
    workdir = workdir or tempfile.mkdtemp(prefix="hpybridge-bench-")
    out_file = os.path.join(workdir, "cg-lookup.out")
    c = run_measuring(_LOOKUP_CHILD, dict(cfg, kind="callgrind"), sys.executable, out_file=out_file, timeout=900)
    if "error" in c:
        r["ir_error"] = c["error"]
        return r
    ir = {}
    # In dump order: the warm-up's dumps come first, the measured loops' last.
    dumps = sorted((int(d.rsplit(".", 1)[1]), d) for d in glob.glob(out_file + ".*") if d.rsplit(".", 1)[1].isdigit())
    for _, dump in dumps:
        with open(dump) as f:
            trigger = next((line for line in f if line.startswith("desc: Trigger:")), "")
        for which in ("direct", "lookup", "site"):
            if re.search(r"\bbenchlookup_loop_%s\b" % which, trigger):
                ir[which] = (read_profile(dump)[2] or 0) / CALLGRIND_CALLS
    if set(ir) != {"direct", "lookup", "site"}:
        r["ir_error"] = "callgrind wrote no dump for all three loops (found: %s)" % ", ".join(sorted(ir))
    else:
        r["ir"] = ir
    return r


def lookup_rows(r):
    lines = ["| loop (CPython; universal consumer unless named) | ns/call | Ir/call |", "|---|---:|---:|"]
    if "ns" not in r:
        return lines + ["| not measured: %s |  |  |" % r.get("error", "?")[:300]]
    ir = r.get("ir", {})
    for which, label in (("direct", "plain indirect call of `inc`"),
                         ("lookup", "`HPyBridge_CDictLookup` (runtime's cache) + call of `inc`"),
                         ("site", "`HPYBRIDGE_CDICT_LOOKUP` (call site's cache, inline) + call of `inc`"),
                         ("uncached", "`HPyBridge_CDictLookup`, strings on the stack (uncached) + call"),
                         ("debug_direct", "debug-mode consumer: plain indirect call of `inc`"),
                         ("debug_lookup", "debug-mode consumer: `HPyBridge_CDictLookup` (runtime's cache) + call"),
                         ("debug_uncached", "debug-mode consumer: `HPyBridge_CDictLookup`, uncached, + call")):
        if which + "/inc" not in r["ns"]:
            continue
        if which in ir:
            count = "%.1f" % ir[which]
        elif which.startswith("debug") or which == "uncached":
            count = "(time only)"
        else:
            count = r.get("ir_error", "")[:100]
        lines.append("| %s | %.2f | %s |" % (label, r["ns"][which + "/inc"], count))
    lines.append("")
    for which, what in (("lookup", "A lookup from the runtime's cache"),
                        ("site", "A lookup from the call site's cache")):
        added = r["ns"][which + "/inc"] - r["ns"]["direct/inc"]
        lines.append("%s adds %.2f ns%s per call (target: within %.0f ns of the plain call: %s)." % (
            what, added, " and %.0f instructions" % (ir[which] - ir["direct"]) if ir else "", LOOKUP_TARGET_NS,
            "met" if added <= LOOKUP_TARGET_NS else "not met"))
    if "debug_lookup/inc" in r["ns"]:
        ns = r["ns"]
        lines.append("A debug-mode consumer's lookup adds %.2f ns from the runtime's cache, %.2f ns uncached "
                     "(a universal consumer's uncached: %.2f ns)." % (
                         ns["debug_lookup/inc"] - ns["debug_direct/inc"], ns["debug_uncached/inc"]
                         - ns["debug_direct/inc"], ns["uncached/inc"] - ns["direct/inc"]))
    return lines


LOOKUP_METHOD = """\
Method: `benchlookup` (benchmarks/benchlookup.c), an HPy universal extension, defines a type whose
`__cdict__` entry `inc`, `double (HPyContext *, HPy, double)`, it registers with
`HPyBridge_CDictSet`, and calls it in a C loop on an instance: through a function pointer read from
volatile memory (the plain indirect call), after `HPyBridge_CDictLookup(ctx, obj, "inc", ...)` on
every iteration (answered from the runtime's lookup cache after the first), and after
`HPYBRIDGE_CDICT_LOOKUP(ctx, obj, "inc", ...)` on every iteration (answered inline from the call
site's cache after the first: compares of the context, the type and the version word), and with the
name and signature copied to the stack (the runtime caches only strings in read-only memory: the
uncached path). The same loops run in a debug-mode copy of the extension, whose lookups the
runtime's cache answers through HPy's `DebugHandle` (the call site's cache serves universal and
trace consumers only, so its loop is not run there). Same
process, loops timed in C, calls calibrated to >= 25 ms per repetition, best of %(reps)d;
instructions by callgrind over %(calls)s calls.
"""


# ---------------------------------------------------------------------------------------------
# Rust (PyO3) consumers

# benchrs (benchmarks/benchrs, PyO3) calls ident, inc and mix through the generated Rust module's
# safe methods ("safe") and through its raw table ("raw"); benchcapi's C loop through the same stubs
# ("c") is the baseline, in the same process.
RUST_TABLES = ("safe", "raw", "c")

def build_rust(python):
    """benchrs built with maturin for `python`; its path, or raises RuntimeError."""
    return build_for(python, "compile_pyo3_extension", "benchrs", os.path.join(HERE, "benchrs"),
                     inputs=[os.path.join(HERE, "bench.toml")])


_RUST_CHILD = _CHILD_COMMON + r'''
try:
    import hpybridge
    from hpybridge import devel
    prov = hpybridge.load_extension("benchprov", cfg["prov"], mode=cfg["prov_mode"])
    sys.modules["benchprov"] = prov
    capi = devel.load_capi_extension("benchcapi", cfg["capi"])
    capi.connect()
    rs = devel.load_capi_extension("benchrs", cfg["rust"])
    rs.connect()
except Exception as e:
    out["error"] = "%s: %s" % (type(e).__name__, e)
    result()
    sys.exit(0)

OBJ = "a stub's argument"

def timed(key, n):
    table, fn = key
    return capi.time("stub", fn, OBJ, n) if table == "c" else rs.time(table, fn, OBJ, n)

keys = [(table, fn) for fn in cfg["functions"] for table in cfg["tables"]]
''' + _TIMED_KEYS


def run_rust_child(prov_mode, prov, capi, rust, python, reps):
    """Times benchrs and benchcapi against benchprov in `prov_mode`; the result dict ("error" on failure)."""
    cfg = {"prov": devel.copy_for_mode(prov, prov_mode), "prov_mode": prov_mode, "capi": capi, "rust": rust,
           "functions": CAPI_FUNCTIONS, "tables": RUST_TABLES, "warm": WARM_CALLS, "target_ns": TARGET_NS,
           "reps": reps}
    return run_measuring(_RUST_CHILD, cfg, python)


def time_rust(python, prov, capi, reps, modes=MODES):
    """{provider mode: result} for the Rust consumer on `python`; builds benchrs first."""
    try:
        rust = build_rust(python)
    except (RuntimeError, devel.BuildError, subprocess.TimeoutExpired) as e:
        return {m: {"error": str(e)} for m in modes}
    if isinstance(capi, Exception):
        return {m: {"error": "benchcapi: %s" % capi} for m in modes}
    return {m: run_rust_child(m, prov, capi, rust, python, reps) for m in modes}


def pyo3_version():
    """The PyO3 version benchrs's Cargo.toml pins."""
    with open(os.path.join(HERE, "benchrs", "Cargo.toml")) as f:
        m = re.search(r'^pyo3 = \{ version = "=?([^"]+)"', f.read(), re.M)
    return m.group(1) if m else "?"


def rust_rows(results):
    lines = ["| provider mode | function (CPython-API form) | safe methods ns/call | raw table ns/call | "
             "C loop ns/call | safe / C | raw / C |", "|---|---|---:|---:|---:|---:|---:|"]
    for mode, r in results.items():
        for fn in CAPI_FUNCTIONS:
            name = "%s `%s`" % (fn, CAPI_FORMS[fn])
            ns = r.get("ns")
            if ns is None:
                lines.append("| %s | %s | not measured (see below) |  |  |  |  |" % (mode, name))
                continue
            safe, raw, c = ns["safe/" + fn], ns["raw/" + fn], ns["c/" + fn]
            lines.append("| %s | %s | %s | %s | %s | %.2f | %.2f |" % (mode, name, fmt(safe), fmt(raw), fmt(c),
                                                                       safe / c, raw / c))
    return lines


RUST_METHOD = """\
### How the Rust consumer is measured

`benchrs` (`benchmarks/benchrs`, PyO3 %(pyo3)s) is built with maturin for the running interpreter
(`hpybridge.devel.compile_pyo3_extension`); its build script generates `bench_capi.rs` from
bench.toml (`python -m hpybridge gen --rust`). Each provider mode runs in a fresh process that loads
`benchprov` in that mode, `benchcapi` and `benchrs`, both of which import the same table of
CPython-API stubs. Three loops call `ident`, `inc` and `mix` through it: benchrs's loop through the
generated safe methods (`&Bound` in, `PyResult<Bound>` out, dropped each call; a scalar result
followed by the `PyErr_Occurred` check), benchrs's loop through `api.raw`'s function pointers (a
NULL check and `Py_DECREF`, as C does), and benchcapi's C loop through its `bench_CAPI` table, the
baseline. In the Rust loops the table is re-read through `black_box` every call, so each call is an
indirect call through a pointer loaded from memory, as in the C loop. Timed with `Instant` (Rust)
and `clock_gettime` (C) around the loop; calibrated and interleaved as the call paths are, best of
%(reps)d (on PyPy %(pypy_reps)d). The provider's own work and the stub are the same in all three
loops: the ratios are what the Rust side adds.
"""


# ---------------------------------------------------------------------------------------------
# Report


def fmt(x, digits=1):
    return "n/a" if x is None else "%.*f" % (digits, x)


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    def first_line(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"
    git = first_line(["git", "-C", REPO, "describe", "--always", "--dirty"])
    with open(hpybridge._runtime_path, "rb") as f:
        runtime = hashlib.sha256(f.read()).hexdigest()[:12]
    return {
        "cpu": "%s (%d logical CPUs)" % (cpu, os.cpu_count() or 0),
        "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
        "system": "%s %s" % (platform.system(), platform.release()),
        "compiler": first_line([os.environ.get("CC", "gcc"), "--version"]),
        "valgrind": first_line(["valgrind", "--version"]),
        "source": "git %s, runtime sha256 %s" % (git, runtime),
    }


def rows(paths, timing, cg):
    lines = ["| path (consumer -> provider) | backend | function | ns/call | baseline ns/call | ratio | "
             "Ir/call | baseline Ir/call | added Ir/call | bridge Ir/call |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in paths:
        t, c = timing.get(p.key(), {}), cg.get(p.key(), {})
        backend = "raw pointers" if p.same else p.backend
        error = t.get("error") or c.get("error")
        for fn in FUNCTIONS:
            ns = t.get("ns")
            ir = (c.get("ir") or {}).get(fn)
            if ns is None and ir is None:
                lines.append("| %s | %s | %s | not measured%s |  |  |  |  |  |  |" % (
                    p.name, backend, fn, " (see below)" if error else ""))
                continue
            path_ns = ns and ns["path/" + fn]
            base_ns = ns and ns["baseline/" + fn]
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                p.name, backend, fn, fmt(path_ns), fmt(base_ns), fmt(path_ns and path_ns / base_ns, 2),
                fmt(ir and ir["path"]), fmt(ir and ir["baseline"]), fmt(ir and ir["path"] - ir["baseline"]),
                fmt(ir and bridge_of(ir))))
    return lines


def errors(paths, *results):
    """Markdown lines: each path's errors (time, callgrind, ...), once each."""
    lines = []
    for p in paths:
        seen = []
        for what, res in results:
            e = (res.get(p.key()) or {}).get("error")
            if e and e not in [x for _, x in seen]:
                seen.append((what, e))
        for what, e in seen:
            lines.append("- %s (%s): %s" % (p.label, what, e))
    return lines


def bridge_of(ir):
    """What the call path adds per call: the path's loop minus the baseline's, each without its
    HPy_Close (which runs in the consumer's mode on the path, in the provider's in the baseline)."""
    return (ir["path"] - ir["path_close"]) - (ir["baseline"] - ir["baseline_close"])


def bridge(cg, key, fn):
    ir = (cg.get(key) or {}).get("ir")
    return None if not ir else bridge_of(ir[fn])


def verdict(checks):
    """checks: [bool or None (not measured)]."""
    measured = [c for c in checks if c is not None]
    if not measured:
        return "not measured"
    if not all(measured):
        return "NOT met"
    return "met" if len(measured) == len(checks) else "met where measured (%d of %d)" % (len(measured), len(checks))


def targets(timing, cg):
    """[(target, verdict, details)], from the instruction counts (timings are shown alongside)."""
    out = []
    # 1. Same family ~ baseline: the table holds the provider's own functions.
    checks, details = [], []
    for m in MODES:
        for fn in FUNCTIONS:
            b = bridge(cg, (m, m, None), fn)
            ns = (timing.get((m, m, None)) or {}).get("ns")
            checks.append(None if b is None else abs(b) <= 1.0)
            if b is not None or ns:
                details.append("%s %s: %s Ir/call, time ratio %s" % (
                    m, fn, "n/a" if b is None else "%+.1f" % b, fmt(ns and ns["path/" + fn] / ns["baseline/" + fn], 2)))
    out.append(("same-family table ≈ baseline (bridge within ±1 instruction per call; time ratios for reference)",
                verdict(checks), details))
    # 2. universal <-> trace with dynasm: <= 8 instructions over the same-family path of the provider's mode.
    checks, details = [], []
    for cons, prov in (("universal", "trace"), ("trace", "universal")):
        for fn in FUNCTIONS:
            b, same = bridge(cg, (cons, prov, "dynasm"), fn), bridge(cg, (prov, prov, None), fn)
            checks.append(None if b is None or same is None else b - same <= 8.0)
            if checks[-1] is not None:
                details.append("%s -> %s %s: %+.1f" % (cons, prov, fn, b - same))
    out.append(("universal <-> trace with dynasm adds <= 8 instructions per call over the same-family path "
                "(bridge Ir/call minus that of the same-family path in the provider's mode)",
                verdict(checks), details))
    # 3. dynasm <= 1/3 of libffi for the same translating call (and, for information, for the stubs).
    checks, details = [], []
    for cons, prov in CROSS:
        translating = "debug" in (cons, prov)
        for fn in FUNCTIONS:
            d, f = bridge(cg, (cons, prov, "dynasm"), fn), bridge(cg, (cons, prov, "libffi"), fn)
            if translating:
                checks.append(None if d is None or f is None else d <= f / 3.0)
            if d is not None and f is not None:
                whole = [cg[(cons, prov, b)]["ir"][fn]["path"] for b in ("dynasm", "libffi")]
                details.append(
                    "%s -> %s %s: bridge dynasm %.1f vs libffi %.1f (%s); whole loop %.1f vs %.1f (%.0f%%)%s" % (
                        cons, prov, fn, d, f, "%.0f%%" % (100.0 * d / f) if f > 0 else "n/a", whole[0], whole[1],
                        100.0 * whole[0] / whole[1],
                        "" if translating else "; context-swap stub, not a translating call"))
    out.append(("dynasm needs <= 1/3 of libffi's instructions for the same translating call "
                "(bridge Ir/call; the paths with debug mode on one side)",
                verdict(checks), details))
    return out


def pypy_own_debug_call(timing, cg):
    """PyPy's own debug-mode call (ident, debug -> debug): (ns/call from its row, Ir/call: the
    baseline of any path into debug mode, the same loop in the same mode)."""
    ns = ((timing.get(("debug", "debug", None)) or {}).get("ns") or {}).get("path/ident")
    ir = next((r["ir"]["ident"]["baseline"] for k, r in sorted(cg.items(), key=lambda kv: str(kv[0]))
               if k[1] == "debug" and "ir" in r), None)
    return ns, ir


def pypy_rows(paths, timing, cg):
    own_ns, own_ir = pypy_own_debug_call(timing, cg)
    lines = ["| path (consumer -> provider) | backend | function | ns/call | baseline ns/call | ratio | "
             "x debug -> debug (ns) | Ir/call | baseline Ir/call | x debug -> debug (Ir) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in paths:
        t = timing.get(p.key(), {})
        ir = (cg.get(p.key()) or {}).get("ir")
        backend = "raw pointers" if p.same else p.backend
        for fn in FUNCTIONS:
            ns = t.get("ns")
            if ns is None:
                lines.append("| %s | %s | %s | not measured%s |  |  |  |  |  |  |" % (
                    p.name, backend, fn, " (see below)" if t.get("error") else ""))
                continue
            path_ns = ns["path/" + fn]
            own = fn == "ident" and "debug" in (p.cons, p.prov)
            path_ir = ir and ir[fn]["path"]
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                p.name, backend, fn, fmt(path_ns), fmt(ns["baseline/" + fn]), fmt(path_ns / ns["baseline/" + fn], 2),
                fmt(own_ns and own and path_ns / own_ns, 2) if own else "", fmt(path_ir, 0) if ir else "",
                fmt(ir[fn]["baseline"], 0) if ir else "", fmt(own_ir and path_ir / own_ir, 3) if ir and own else ""))
    return lines


def pypy_targets(timing, cg):
    """PyPy: crossings out of and into debug mode against PyPy's own debug-mode call (debug -> debug),
    and against the floor PyPy's debug handles set. An ident call made from debug mode opens and
    closes one debug handle (its result), as the debug -> debug call does; a call into debug mode
    opens and closes two (the argument the provider needs, and its result), as PyPy itself does when
    Python code calls a debug-mode function: that floor is twice the debug -> debug call."""
    own_ns, own_ir = pypy_own_debug_call(timing, cg)
    out = []
    for into, goal in ((False, "PyPy: a crossing out of debug mode within 2x of PyPy's own debug -> debug call "
                                "(ident, instructions per call; times for reference)"),
                       (True, "PyPy: a crossing into debug mode within 1% of PyPy's floor there, twice its debug -> "
                              "debug call (ident, instructions per call; times for reference)")):
        checks, details = [], []
        for key in PYPY_CALLGRIND:
            if (key[1] == "debug") != into:
                continue
            ir = ((cg.get(key) or {}).get("ir") or {}).get("ident")
            ns = ((timing.get(key) or {}).get("ns") or {}).get("path/ident")
            floor = own_ir and (2 if into else 1) * own_ir
            checks.append(None if ir is None or not own_ir else ir["path"] <= (1.01 * floor if into else 2.0 * own_ir))
            if ir is not None and own_ir:
                time_note = "time not measured" if not (ns and own_ns) else \
                    "time %.0f ns, %.2fx of debug -> debug's %.0f ns" % (ns, ns / own_ns, own_ns)
                details.append("%s -> %s [%s] ident: %.0f Ir/call, %.3fx PyPy's debug -> debug (%.0f), %+.0f (%+.2f%%) "
                               "over PyPy's floor (%dx); %s" % (
                                   key[0], key[1], key[2], ir["path"], ir["path"] / own_ir, own_ir, ir["path"] - floor,
                                   100.0 * (ir["path"] - floor) / floor, floor / own_ir, time_note))
        out.append((goal, verdict(checks), details))
    return out


METHOD = """\
## Method

`benchmarks/run.py` builds `benchprov` (the provider of the bench API, `benchmarks/bench.toml`) and
`benchcons` (its consumer) as universal binaries, and measures every path in a fresh process (an
API registers once per process) that loads the provider and the consumer in the path's modes.
The functions: `HPy ident(HPyContext *, HPy)` returns `HPy_Dup` of its argument (the loop closes
each result: a handle crosses each way on every call) and `double inc(HPyContext *, double)`
returns x + 1 (no handle). The loops (`benchmarks/benchloop.h`) are the same C in both modules
and compile to the same machine code: an indirect call through a table entry loaded from memory,
then (ident) an HPy_Close of the result through a small non-inlined function.

- **baseline**: the provider's loop calls its own functions through a table of its own, read
  through a `volatile` pointer (no inlining), in the provider's mode. Every process measures it
  next to its path; ratios are against the baseline of the same process.
- **same family** (`m -> m`): consumer and provider in the same mode; the consumer's table holds
  the provider's functions themselves ("Table holds" above says whether it does, comparing the
  table's entries with the provider's function addresses).
- **universal <-> trace**: the table holds a context-swap stub (trace handles are universal
  handles): it replaces the context argument with the provider's and jumps.
- **universal <-> debug, debug <-> trace**: translating trampolines: they enter the provider's
  mode properly (on CPython a debug-mode provider is entered through its context's
  `ctx_CallRealFunctionFromTrampoline`), give it a context and handles of its own and turn its
  handle result into one of the consumer's context.
- Each cross path with both backends: machine code emitted with dynasm, or libffi closures
  (`HPYBRIDGE_TRAMPOLINES=dynasm|libffi`).

**Time**: nanoseconds per call of the whole loop, measured with `clock_gettime` around it in C;
the calls per repetition are calibrated to take at least 25 ms; best of %(reps)d repetitions,
baseline and path interleaved. On a shared 2-core machine timings move by several percent from
run to run; instruction counts do not. The inc loop is about 4 cycles per call, and there the
time also depends on where the loader happened to map the code: the same machine code, in the
same process, runs at ~1.0 or ~1.5 ns per call (ratios of 0.7 to 1.4 between identical loops);
read inc's time ratios with that in mind, and its instruction counts as the measure. Trace mode's
context functions read the clock (`clock_gettime`) on entry and exit: a clock read is a handful of
instructions but takes far longer than they suggest, so in trace mode time and instructions tell
different stories. Ratios are against the provider-mode baseline, so where the consumer's mode
closes handles more cheaply than the provider's (universal -> trace) a path can beat it.

**Instructions** (Ir): the same process again under `valgrind --tool=callgrind
--collect-atstart=no`, %(calls)s calls per loop after an uncounted warm-up: the `time_*` methods
switch collection on just around their loop and dump the profile right after it (callgrind client
requests), so each dump holds exactly one loop. "Ir/call" is everything the loop executed per call
(the loop itself, the call path, the provider's function, the HPy_Close); "added" is its excess
over the baseline's. For ident that excess also holds the difference between closing the handle
in the consumer's mode (the path) and in the provider's (the baseline): "bridge" takes each
loop's HPy_Close out (its inclusive cost in the profile) before subtracting, so it is what the
call path itself adds over a direct call, whatever the modes. The provider's function does the
same work in both loops and cancels out. (Client requests rather than `--toggle-collect`, and no
per-function split of the provider's function: behind libffi's `ffi_call` callgrind does not
recognise the call into the provider, and books its instructions to libffi; counts stay right,
attribution does not.)
"""


PYPY_METHOD = """\
**PyPy's debug mode.** PyPy 7.3.19 compiles HPy's debug-mode C code with its assertions on, so
every debug handle opened or closed checks debug mode's whole queues of open handles and of recently
closed ones (kept to catch use after close, up to 1,024 of them): once the queue is full, about
19,400 instructions and several microseconds per operation, three orders of magnitude more than a
universal handle. The debug -> debug ident call does two (HPy_Dup, the loop's HPy_Close), so its
cost per call grows over the first thousand or so calls of a process and stays flat after; the
warm-up runs 2,000 calls first, and callgrind then counts %(calls)s per loop (the count per call is
the same with 20,000). A crossing from debug mode into universal or trace mode needs no debug
handle but its result's (PyPy's exported `pypy_hpy_debug_*` functions unwrap the arguments):
the same two operations. Into debug mode it needs two more, opening and closing the argument's debug
handle, as PyPy itself does when Python calls a debug-mode function: PyPy's floor there is twice the
debug -> debug call. docs/trampolines.md has the breakdown.
"""

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pypy", action="store_true",
                        help="also time the paths on PyPy, and count instructions of those with debug mode on one side")
    parser.add_argument("--pypy-reps", type=int, default=5)
    parser.add_argument("--no-callgrind", action="store_true", help="timings only")
    parser.add_argument("--only", help="only the paths whose label contains this")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--keep", help="keep callgrind's files in this folder")
    parser.add_argument("--output", default=os.path.join(HERE, "results.md"))
    args = parser.parse_args()

    started = time.time()
    mods = build()
    paths = [p for p in all_paths() if not args.only or args.only in p.label]
    cpaths = [p for p in capi_paths() if not args.only or args.only in p.label]
    python = sys.executable
    prov = mods[0]
    capi = {}  # interpreter -> benchcapi built for it, or the error building it
    if cpaths:
        try:
            capi[python] = build_capi(python)
        except (RuntimeError, devel.BuildError) as e:
            capi[python] = e

    print("hpybridge call paths: %d paths, timing (best of %d) then callgrind (%s calls)" % (
        len(paths), args.reps, format(CALLGRIND_CALLS, ",")), flush=True)
    timing = {}
    for p in paths:
        r = run_child(p, mods, "time", python, reps=args.reps)
        timing[p.key()] = r
        if "error" in r:
            print("  time      %-32s %s" % (p.label, r["error"][:200]), flush=True)
        else:
            print("  time      %-32s ident %7.1f ns (base %6.1f)   inc %7.1f ns (base %6.1f)" % (
                p.label, r["ns"]["path/ident"], r["ns"]["baseline/ident"], r["ns"]["path/inc"],
                r["ns"]["baseline/inc"]), flush=True)

    def time_capi(py, reps, into, what):
        for p in cpaths:
            built = capi[py]
            r = {"error": str(built)} if isinstance(built, Exception) else \
                run_capi_child(p, prov, built, "time", py, reps=reps)
            into[p.key()] = r
            times = "   ".join("%s %.1f ns (base %.1f)" % (fn, r["ns"]["stub/" + fn], r["ns"]["base/" + fn])
                               for fn in CAPI_FUNCTIONS) if "ns" in r else ""
            print("  %-9s %-32s %s" % (what, p.label, r.get("error", "")[:200] or times), flush=True)

    capi_timing, capi_pypy = {}, {}
    time_capi(python, args.reps, capi_timing, "time")

    def report_rust(results, what):
        for mode, r in results.items():
            times = "   ".join("%s %.1f/%.1f ns (C %.1f)" % (fn, r["ns"]["safe/" + fn], r["ns"]["raw/" + fn],
                                                             r["ns"]["c/" + fn]) for fn in CAPI_FUNCTIONS) \
                if "ns" in r else r.get("error", "")[:200]
            print("  %-9s %-32s %s" % (what, "Rust -> %s" % mode, times), flush=True)

    rust_timing, rust_pypy = {}, {}
    if cpaths:
        rust_timing = time_rust(python, prov, capi.get(python), args.reps, [p.prov for p in cpaths])
        report_rust(rust_timing, "time")

    foreign_pypy = {}
    foreign_timing = time_foreign(python, args.reps, args.only)

    # The __cdict__ section (cdictbench.py): its timings, then its callgrind run, one process each.
    cdict, cdict_pypy = None, None
    if not args.only or args.only in "__cdict__":
        cdict = cdictbench.measure(python, child_env(None), args.reps, not args.no_callgrind
                                   and shutil.which("valgrind") is not None)
        print("\n".join(cdictbench.report(cdict, "time")), flush=True)
    lookup = {}
    if not args.only or args.only in "lookup":
        lookup = time_lookup(args.reps, callgrind=not args.no_callgrind, workdir=args.keep)
        print("  %-9s %-32s %s" % ("time", "cdict lookup", "  ".join(lookup_rows(lookup)[2:5])), flush=True)

    # The interop section (interopbench.py): issue 10's peer table, timings only.
    interop, interop_pypy = None, None
    if not args.only or args.only in "interop":
        interop = interopbench.measure(python, child_env(None), args.reps)
        print("\n".join(interopbench.report(interop, "time")), flush=True)

    pypy = {}
    have_pypy = args.pypy and os.path.exists(PYPY)
    if args.pypy and not have_pypy:
        print("no PyPy at %s (make test-pypy provisions it): skipping --pypy" % PYPY)
    if have_pypy and cpaths:
        try:
            capi[PYPY] = build_capi(PYPY)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            capi[PYPY] = e
        time_capi(PYPY, args.pypy_reps, capi_pypy, "pypy")
        rust_pypy = time_rust(PYPY, prov, capi.get(PYPY), args.pypy_reps, [p.prov for p in cpaths])
        report_rust(rust_pypy, "pypy")
    if have_pypy and foreign_timing:
        foreign_pypy = time_foreign(PYPY, args.pypy_reps, args.only)
    if have_pypy and cdict is not None:
        cdict_pypy = cdictbench.measure(PYPY, child_env(None, True), args.pypy_reps, False)
        print("\n".join(cdictbench.report(cdict_pypy, "pypy")), flush=True)
    if have_pypy and interop is not None:
        interop_pypy = interopbench.measure(PYPY, child_env(None, True), args.pypy_reps)
        print("\n".join(interopbench.report(interop_pypy, "pypy")), flush=True)
    if have_pypy:
        for p in paths:
            r = run_child(p, mods, "time", PYPY, reps=args.pypy_reps)
            pypy[p.key()] = r
            times = "ident %.1f ns (base %.1f)   inc %.1f ns (base %.1f)" % (
                r["ns"]["path/ident"], r["ns"]["baseline/ident"], r["ns"]["path/inc"], r["ns"]["baseline/inc"]
            ) if "ns" in r else ""
            print("  pypy      %-32s %s" % (p.label, r.get("error", "")[:200] or times), flush=True)

    # Instruction counts after all the timings (two valgrind processes at once would disturb them).
    cg, pypy_cg, capi_cg = {}, {}, {}
    if not args.no_callgrind:
        if shutil.which("valgrind") is None:
            print("valgrind not found: no instruction counts")
        else:
            jobs = [(p, python, CALLGRIND_CALLS, cg, "callgrind") for p in paths]
            if have_pypy:
                jobs += [(p, PYPY, PYPY_CALLGRIND_CALLS, pypy_cg, "pypy cg")
                         for p in paths if p.key() in PYPY_CALLGRIND]
            if not isinstance(capi.get(python), (str, type(None))):
                capi_cg.update((p.key(), {"error": str(capi[python])}) for p in cpaths)
            else:
                jobs += [(p, python, CALLGRIND_CALLS, capi_cg, "callgrind") for p in cpaths]

            def measure(p, py, calls):
                if isinstance(p, CapiPath):
                    return measure_capi_callgrind(p, prov, capi[py], py, workdir, calls)
                return measure_callgrind(p, mods, py, workdir, calls)

            def counts(r):
                if "ident" in r["ir"] and "path" in r["ir"]["ident"]:
                    return "ident %6.1f Ir (base %6.1f)   inc %6.1f Ir (base %6.1f)" % (
                        r["ir"]["ident"]["path"], r["ir"]["ident"]["baseline"], r["ir"]["inc"]["path"],
                        r["ir"]["inc"]["baseline"])
                return "   ".join("%s %.1f Ir (base %.1f, stub %.1f)" % (
                    fn, r["ir"][fn]["stub"], r["ir"][fn]["base"], stub_of(r["ir"][fn])) for fn in CAPI_FUNCTIONS)
            workdir = args.keep or tempfile.mkdtemp(prefix="hpybridge-bench-")
            os.makedirs(workdir, exist_ok=True)
            try:
                with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
                    # The slow PyPy processes first, so that the CPython ones fill the gaps.
                    futures = {pool.submit(measure, p, py, calls): (p, into, what)
                               for p, py, calls, into, what in sorted(jobs, key=lambda j: j[1] != PYPY)}
                    for future in concurrent.futures.as_completed(futures):
                        p, into, what = futures[future]
                        r = future.result()
                        into[p.key()] = r
                        if "error" in r:
                            print("  %-9s %-32s %s" % (what, p.label, r["error"][:200]), flush=True)
                        else:
                            print("  %-9s %-32s %s" % (what, p.label, counts(r)), flush=True)
            finally:
                if not args.keep:
                    shutil.rmtree(workdir, ignore_errors=True)

    info = machine()
    if have_pypy:
        info["pypy"] = subprocess.run([PYPY, "-c", "import sys; print(sys.version.replace(chr(10), ' '))"],
                                      capture_output=True, text=True).stdout.strip()
    elapsed = time.time() - started
    table = rows(paths, timing, cg)
    goals = targets(timing, cg) if not args.only else []
    pypy_goals = pypy_targets(pypy, pypy_cg) if pypy else []
    capi_table = capi_rows(cpaths, capi_timing, capi_cg)
    capi_goals = capi_targets(capi_timing, capi_cg) if any(p.prov == "universal" for p in cpaths) else []
    capi_holds = ["%s: %s" % (p.label, "the provider's functions" if all(r["raw"]) else "stubs" if not any(r["raw"])
                              else "mixed: %s" % r["raw"])
                  for p in cpaths for r in [capi_timing.get(p.key()) or {}] if r.get("raw") is not None]

    holds = []
    for p in paths:
        raw = (timing.get(p.key()) or {}).get("raw")
        backend = (timing.get(p.key()) or {}).get("backend")
        if raw is not None:
            holds.append("%s: %s%s" % (p.label, "the provider's functions" if all(raw) else
                                       "other code (stub or trampoline)" if not any(raw) else "mixed: %s" % raw,
                                       "" if p.same or backend in (None, p.backend) else
                                       " (runtime reports backend %r!)" % backend))

    problems = errors(paths, ("time", timing), ("callgrind", cg))
    if paths:
        print()
        print("\n".join(table))
    if pypy:
        print("\nPyPy:\n" + "\n".join(pypy_rows(paths, pypy, pypy_cg)))
    if cpaths:
        print("\nCPython-API fallback stubs:\n" + "\n".join(capi_table))
        if capi_pypy:
            print("\nCPython-API fallback stubs, PyPy:\n" + "\n".join(capi_pypy_rows(cpaths, capi_pypy)))
    problems += errors(cpaths, ("time", capi_timing), ("callgrind", capi_cg), ("PyPy", capi_pypy))
    if problems:
        print("\nnot measured:\n" + "\n".join(problems))
    if goals or pypy_goals or capi_goals:
        print()
        for goal, verdict, detail in goals + pypy_goals + capi_goals:
            print("target: %s: %s" % (goal, verdict.upper()))
            print("".join("    %s\n" % d for d in detail), end="")
    cdict_goals = cdictbench.targets(cdict) + cdictbench.adopt_target(cdict) if cdict is not None else []
    if cdict is not None:
        print("\n__cdict__ entries, CPython:\n" + "\n".join(cdictbench.rows(cdict)))
        if cdict_pypy is not None:
            print("\n__cdict__ entries, PyPy:\n" + "\n".join(cdictbench.rows(cdict_pypy)))
        for goal, verdict, detail in cdict_goals:
            print("target: %s: %s" % (goal, verdict.upper()))
            print("".join("    %s\n" % d for d in detail), end="")
    interop_goals = interopbench.targets(interop) if interop is not None else []
    if interop is not None:
        print("\ninterop, CPython:\n" + "\n".join(interopbench.rows(interop)))
        if interop_pypy is not None:
            print("\ninterop, PyPy:\n" + "\n".join(interopbench.rows(interop_pypy)))
        for goal, verdict, detail in interop_goals:
            print("target: %s: %s" % (goal, verdict.upper()))
            print("".join("    %s\n" % d for d in detail), end="")
    print("\n%d paths and %d fallback-stub providers in %.0f s" % (len(paths), len(cpaths), elapsed))

    now = datetime.datetime.now(datetime.timezone.utc)
    md = ["# hpybridge call-path benchmarks", "",
          "Written by `make bench` (`benchmarks/run.py`) on %s." % now.strftime("%Y-%m-%d %H:%M UTC"), "",
          "## Machine", ""]
    md += ["- %s: %s" % (k, v) for k, v in info.items()]
    md += ["", "## Results (CPython)", "",
           "ns/call: best of %d; Ir/call: callgrind, %s calls; baseline: the provider calling itself in the same "
           "process (its mode: the path's provider mode); added = Ir/call - baseline Ir/call; bridge = the same "
           "difference with each loop's HPy_Close left out (see Method)." % (
               args.reps, format(CALLGRIND_CALLS, ",")), ""]
    md += table
    problems = errors(paths, ("time", timing), ("callgrind", cg))
    if problems:
        md += ["", "Not measured:", ""] + problems
    if goals:
        md += ["", "## Targets", ""]
        for g, v, d in goals:
            md += ["- **%s**: %s." % (g, v)] + ["  - %s" % x for x in d]
    if holds:
        md += ["", "## Table holds", ""] + ["- " + h for h in holds]
    if pypy:
        md += ["", "## PyPy", "",
               "The same binaries and the same timing method on PyPy (%s), best of %d; instructions (callgrind, %s "
               "calls after the warm-up) for the paths with debug mode on one side. \"x debug -> debug\": ident's cost "
               "divided by that of PyPy's own debug-mode call (the debug -> debug row's time, in another process; its "
               "instructions, the baseline of the paths into debug mode). See \"PyPy's debug mode\" below." % (
                   info.get("pypy", "?"), args.pypy_reps, format(PYPY_CALLGRIND_CALLS, ",")), ""]
        md += pypy_rows(paths, pypy, pypy_cg)
        pypy_problems = errors(paths, ("PyPy", pypy), ("PyPy callgrind", pypy_cg))
        if pypy_problems:
            md += ["", "Not measured:", ""] + pypy_problems
        if pypy_goals:
            md += [""]
        for g, v, d in pypy_goals:
            md += ["- **%s**: %s." % (g, v)] + ["  - %s" % x for x in d]
    if cpaths:
        md += ["", "## CPython-API fallback stubs", "",
               "A plain C-API extension (`benchcapi`) calls the bench API's functions through the table of "
               "CPython-API stubs `import_bench_capi()` gives it, with the HPy provider `benchprov` in each mode, "
               "against the same functions written against the C-API in the same file, called by the same loop "
               "(see Method below). CPython: ns/call best of %d; Ir/call: callgrind, %s calls; added = Ir/call - "
               "baseline Ir/call; stub = added less the provider's HPy function's own excess over the C-API "
               "function (its HPy_Dup through the context against Py_INCREF)." % (
                   args.reps, format(CALLGRIND_CALLS, ",")), ""]
        md += capi_table
        if capi_pypy:
            md += ["", "PyPy (%s), times only, best of %d; the same C source built by PyPy against its cpyext "
                       "headers:" % (info.get("pypy", "?"), args.pypy_reps), ""]
            md += capi_pypy_rows(cpaths, capi_pypy)
        capi_problems = errors(cpaths, ("time", capi_timing), ("callgrind", capi_cg), ("PyPy", capi_pypy))
        if capi_problems:
            md += ["", "Not measured:", ""] + capi_problems
        if capi_goals:
            md += [""]
        for g, v, d in capi_goals:
            md += ["- **%s**: %s." % (g, v)] + ["  - %s" % x for x in d]
        if capi_holds:
            md += ["", "Stub table holds (CPython): " + "; ".join(capi_holds) + "."]
        md += ["", CAPI_METHOD % {"reps": args.reps, "pypy_reps": args.pypy_reps,
                                  "calls": format(CALLGRIND_CALLS, ",")}]
        md += ["## Rust (PyO3) consumers", "",
               "`benchrs` calls the same stubs from Rust through the module `gen --rust` writes: its safe methods, "
               "and its raw table, against benchcapi's C loop in the same process (see below). Times only (there "
               "are no callgrind client requests in Rust): CPython best of %d." % args.reps, ""]
        md += rust_rows(rust_timing)
        if rust_pypy:
            md += ["", "PyPy (%s), best of %d, benchrs built by maturin for PyPy (cpyext):" % (
                info.get("pypy", "?"), args.pypy_reps), ""]
            md += rust_rows(rust_pypy)
        rust_problems = ["- Rust -> %s (%s): %s" % (m, what, r["error"]) for what, res in (("CPython", rust_timing),
                                                                                          ("PyPy", rust_pypy))
                         for m, r in res.items() if "error" in r]
        if rust_problems:
            md += ["", "Not measured:", ""] + rust_problems
        md += ["", RUST_METHOD % {"reps": args.reps, "pypy_reps": args.pypy_reps, "pyo3": pyo3_version()}]
    if foreign_timing:
        md += ["", "## Foreign C-API tables", "",
               "An HPy consumer calls a foreign module's C-API functions (a plain Cython module's table capsule) "
               "through the table hpybridge gives it, against a C-API loop calling them directly in the same "
               "process. CPython, best of %d:" % args.reps, ""]
        md += foreign_rows(foreign_timing)
        if foreign_pypy:
            md += ["", "PyPy (%s), best of %d, benchforeign built by PyPy (cpyext):" % (
                info.get("pypy", "?"), args.pypy_reps), ""]
            md += foreign_rows(foreign_pypy)
        md += ["", FOREIGN_METHOD % {"reps": args.reps, "pypy_reps": args.pypy_reps}]
    if cdict is not None:
        md += ["", "## `__cdict__` entries called from Python", "",
               "Python-level calls of a provider's `__cdict__` entries (`hpybridge.CFunction`, the runtime's native "
               "type) against a builtin, a C-API method, ctypes and cffi calling the same C function, in one "
               "process (see Method below). CPython, ns/call best of %d, Ir/call: callgrind, %s calls per loop, "
               "loop included:" % (args.reps, format(cdictbench.CALLGRIND_CALLS, ",")), ""]
        md += cdictbench.rows(cdict)
        if cdict_pypy is not None:
            md += ["", "PyPy (%s), times only, best of %d, benchcdcapi built by PyPy (cpyext), cffi built in:" % (
                info.get("pypy", "?"), args.pypy_reps), ""]
            md += cdictbench.rows(cdict_pypy)
        if cdict_goals:
            md += ["", "Issue 9's targets (CPython):", ""]
        for g, v, d in cdict_goals:
            md += ["- **%s**: %s." % (g, v)] + ["  - %s" % x for x in d]
        md += ["", cdictbench.METHOD % {"reps": args.reps, "pypy_reps": args.pypy_reps,
                                        "calls": format(cdictbench.CALLGRIND_CALLS, ",")}]
    if interop is not None:
        md += ["", "## Interop: SciPy, numba, ctypes, cffi", "",
               "Issue 10's peer table: `__cdict__` entries of an HPy extension inside SciPy and numba against their "
               "own native callables and a Python function, and a foreign C function adopted with "
               "`hpybridge.cfunction` against ctypes and cffi calling the same address, in one process (see Method "
               "below). CPython, best of %d:" % args.reps, ""]
        md += interopbench.rows(interop)
        if interop_pypy is not None:
            md += ["", "PyPy (%s), best of %d (no SciPy or numba there):" % (info.get("pypy", "?"), args.pypy_reps),
                   ""]
            md += interopbench.rows(interop_pypy)
        if interop_goals:
            md += ["", "Issue 10's targets (CPython):", ""]
        for g, v, d in interop_goals:
            md += ["- **%s**: %s." % (g, v)] + ["  - %s" % x for x in d]
        md += ["", interopbench.METHOD % {"reps": args.reps, "pypy_reps": args.pypy_reps, "mode": "universal"}]
    if lookup:
        md += ["", "## Cached `__cdict__` lookup", "",
               "A C consumer in universal mode looks an entry of an object's type up by name and signature before "
               "every call, against a plain indirect call of the same function, in the same process (CPython):", ""]
        md += lookup_rows(lookup)
        md += ["", LOOKUP_METHOD % {"reps": args.reps, "calls": format(CALLGRIND_CALLS, ",")}]
    md += ["", METHOD % {"reps": args.reps, "calls": format(CALLGRIND_CALLS, ",")}]
    if pypy:
        md += [PYPY_METHOD % {"calls": format(PYPY_CALLGRIND_CALLS, ",")}]
    md += [
           "The whole run took %.0f s." % elapsed, ""]
    with open(args.output, "w") as f:
        f.write("\n".join(md))
    print("wrote %s" % os.path.relpath(args.output))
    measured = any("ns" in r for r in [*timing.values(), *capi_timing.values()]) or \
        any("ir" in r for r in [*cg.values(), *capi_cg.values()])
    return 0 if measured else 1


if __name__ == "__main__":
    sys.exit(main())
