"""`make bench`'s interop section (run.py calls it): issue 10's peer table. `__cdict__` entries of an
HPy extension (examples/signals) exported to SciPy and numba, against their own native callables and
a Python function; a foreign C function adopted with `hpybridge.cfunction` and called from Python,
against ctypes and cffi calling the same address. One process per interpreter; see METHOD.
"""

import importlib.util
import json
import os
import subprocess

from hpybridge import devel

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNALS_BUILD = os.path.join(os.path.dirname(HERE), "examples", "signals", "build.py")

# (key, group, label): table order. A group's first row is its baseline.
ROWS = [
    ("quad.lambda", "quad", "`quad` of a Python function (`lambda x: math.exp(-x * x)`)"),
    ("quad.ctypes", "quad", "`quad` of `LowLevelCallable(bump.as_ctypes())` (SciPy's ctypes path)"),
    ("quad.entry", "quad", "`quad` of `bump.lowlevelcallable()`, `double (double)`"),
    ("quad.entry_ctx", "quad", "`quad` of `damped.lowlevelcallable()`, `double (HPyContext *, double)` through "
                               "its CPython-API stub"),
    ("quad.adopted", "quad", "`quad` of `hpybridge.cfunction(ctypes bump).lowlevelcallable()`"),
    ("numba.inline", "numba", "`@njit` loop computing `math.exp(-x * x)` itself"),
    ("numba.cfunc", "numba", "`@njit` loop calling a `@cfunc` of the same function, passed as an argument"),
    ("numba.entry", "numba", "`@njit` loop calling the `bump` entry, passed as an argument (Wrapper Address "
                             "Protocol)"),
    ("numba.adopted", "numba", "`@njit` loop calling `hpybridge.cfunction(the @cfunc)`"),
    ("call.ctypes", "call", "ctypes `CDLL` libm `cos`, `argtypes`/`restype` set"),
    ("call.cffi", "call", "cffi ABI mode, libm `cos` (`ffi.dlopen`)"),
    ("call.adopted", "call", "`hpybridge.cfunction(libm.cos)` (adopted from ctypes), same address"),
    ("call.adopted_cffi", "call", "`hpybridge.cfunction(lib.cos)` (adopted from cffi), same address"),
    ("call.math", "call", "`math.cos` (a builtin; for scale)"),
]
UNIT = {"quad": "ns per evaluation", "numba": "ns per call in the loop", "call": "ns per call"}

_CHILD = r"""
import json, math, sys, time
cfg = json.loads(sys.argv[1])
out = {"ns": {}, "errors": {}, "results": {}}
ON_PYPY = sys.implementation.name == "pypy"
import hpybridge
signals = hpybridge.load_extension("signals", cfg["signals"], mode=cfg["mode"], register=True)
cd = signals.__cdict__
bump, damped = cd["bump"], cd["damped"]

def best(run, reps):
    b = float("inf")
    for _ in range(reps):
        t = time.perf_counter_ns(); n = run(); t = time.perf_counter_ns() - t
        b = min(b, t / n)
    return b

def quad_rows():
    if ON_PYPY:
        raise RuntimeError("SciPy has no PyPy 7.3.19 build here")
    import ctypes
    from scipy import LowLevelCallable
    from scipy.integrate import quad
    ctypes_bump = bump.as_ctypes()
    funcs = {
        "quad.lambda": (lambda x: math.exp(-x * x), -8.0, 8.0),
        "quad.ctypes": (LowLevelCallable(ctypes_bump), -8.0, 8.0),
        "quad.entry": (bump.lowlevelcallable(), -8.0, 8.0),
        "quad.entry_ctx": (damped.lowlevelcallable(), 0.0, 60.0),
        "quad.adopted": (hpybridge.cfunction(ctypes_bump).lowlevelcallable(), -8.0, 8.0),
    }
    rows = {}
    for key, (f, a, b) in funcs.items():
        value, _, info = quad(f, a, b, epsabs=1e-13, epsrel=1e-13, limit=200, full_output=1)[:3]
        neval = info["neval"]
        def run(f=f, a=a, b=b, neval=neval):
            for _ in range(20):
                quad(f, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)
            return 20 * neval
        rows[key] = (run, value)
    return rows

def numba_rows():
    if ON_PYPY:
        raise RuntimeError("numba has no PyPy build (it needs llvmlite's CPython-only JIT)")
    import numba
    from numba import cfunc, njit
    import numba.experimental.function_type  # noqa: F401  (see docs/interop-numba.md)
    N = 1_000_000
    @njit
    def inline(n):
        s = 0.0
        for i in range(n):
            x = i * 1e-6
            s += math.exp(-x * x)
        return s
    @njit
    def through(f, n):
        s = 0.0
        for i in range(n):
            s += f(i * 1e-6)
        return s
    @cfunc("float64(float64)")
    def nb_bump(x):
        return math.exp(-x * x)
    adopted = hpybridge.cfunction(nb_bump)
    rows = {
        "numba.inline": (lambda: inline(N), lambda: inline(N)),
        "numba.cfunc": (lambda: through(nb_bump, N), None),
        "numba.entry": (lambda: through(bump, N), None),
        "numba.adopted": (lambda: through(adopted, N), None),
    }
    made = {}
    for key, (f, _) in rows.items():
        value = f()
        made[key] = ((lambda f=f: (f(), N)[1]), value)
    return made

def call_rows():
    import ctypes, ctypes.util
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    c_cos = libm.cos
    c_cos.restype, c_cos.argtypes = ctypes.c_double, [ctypes.c_double]
    import cffi
    ffi = cffi.FFI()
    ffi.cdef("double cos(double);")
    lib = ffi.dlopen(ctypes.util.find_library("m"))
    funcs = {"call.ctypes": c_cos, "call.cffi": lib.cos, "call.adopted": hpybridge.cfunction(c_cos),
             "call.adopted_cffi": hpybridge.cfunction(ffi.addressof(lib, "cos")), "call.math": math.cos}
    rows = {}
    for key, f in funcs.items():
        def loop(f=f, n=cfg["calls"]):
            for _ in range(n):
                f(0.5)
            return n
        rows[key] = (loop, f(0.5))
    return rows

runs = {}
for group in (quad_rows, numba_rows, call_rows):
    keys = [k for k, g in cfg["rows"] if g == group.__name__[:-5]]
    try:
        made = group()
    except Exception as e:
        for k in keys:
            out["errors"][k] = "%s: %s" % (type(e).__name__, e)
        continue
    for k, (run, value) in made.items():
        run()  # warm (JIT, caches)
        runs[k] = run
        out["results"][k] = value
for _ in range(cfg["reps"]):
    for k, run in runs.items():  # interleaved
        out["ns"][k] = min(out["ns"].get(k, float("inf")), best(run, 1))
print("RESULT " + json.dumps(out))
"""


def build():
    spec = importlib.util.spec_from_file_location("signals_build", SIGNALS_BUILD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_example()


def measure(python, env, reps, mode="universal"):
    """{"ns": {...}, "results": {...}, "errors": {...}} for `python` (or {"error": ...})."""
    try:
        signals = build()
    except (RuntimeError, devel.BuildError) as e:
        return {"error": str(e)}
    cfg = {"signals": devel.copy_for_mode(signals, mode), "mode": mode, "reps": reps,
           "rows": [(k, g) for k, g, _ in ROWS], "calls": 200_000}
    proc = subprocess.run([python, "-c", _CHILD, json.dumps(cfg)], capture_output=True, text=True, env=env,
                          timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": "exit status %d: %s" % (proc.returncode, " | ".join(proc.stderr.strip().splitlines()[-8:]))}
    return json.loads(lines[-1][len("RESULT "):])


def report(r, what):
    if "error" in r:
        return ["  %-9s %-32s %s" % (what, "interop", r["error"][:200])]
    return ["  %-9s %-32s %s" % (what, "interop " + key, "%.1f ns" % r["ns"][key] if key in r["ns"]
                                 else r["errors"].get(key, "not measured")[:150]) for key, _, _ in ROWS]


def rows(r):
    if "error" in r:
        return ["Not measured: %s" % r["error"][:300]]
    lines = ["| what | ns | x the group's first row | result |", "|---|---:|---:|---:|"]
    base = None
    for key, group, label in ROWS:
        if base is None or base[0] != group:
            lines.append("| **%s** (%s) | | | |" % (group, UNIT[group]))
            base = (group, r["ns"].get(key))
        ns = r["ns"].get(key)
        if ns is None:
            lines.append("| %s | not measured: %s | | |" % (label, r["errors"].get(key, "?")[:150]))
            continue
        lines.append("| %s | %.1f | %s | %.12g |" % (label, ns, "%.2f" % (ns / base[1]) if base[1] else "",
                                                      r["results"][key]))
    return lines


def targets(r):
    """Issue 10's targets: (goal, verdict, details)."""
    if "error" in r:
        return []
    ns, out = r["ns"], []

    def ratio(goal, key, base, want, faster):
        if key not in ns or base not in ns:
            out.append((goal, "not measured", [r["errors"].get(key) or r["errors"].get(base) or "?"]))
            return
        x = ns[base] / ns[key] if faster else ns[key] / ns[base]
        met = x >= want if faster else x <= want
        out.append((goal, "met" if met else "NOT met", ["%.1f ns against %.1f ns: %.2fx" % (ns[key], ns[base], x)]))

    ratio("an adopted function called from Python at least 5x faster than ctypes calling the same address",
          "call.adopted", "call.ctypes", 5.0, True)
    # "No slower" within the noise of one run on a shared machine: 10%.
    ratio("inside SciPy (`quad`), an entry no slower than SciPy's own ctypes LowLevelCallable (within 10%)",
          "quad.entry", "quad.ctypes", 1.10, False)
    ratio("inside numba, an entry no slower than a `@cfunc` passed the same way (within 10%)",
          "numba.entry", "numba.cfunc", 1.10, False)
    return out


METHOD = """\
Method: `signals` (examples/signals, API signals.toml), an HPy universal extension loaded in
%(mode)s mode, exports `double bump(double)` (`exp(-x * x)`) and `double damped(HPyContext *,
double)` (`exp(-t / 10) cos(t)`). **quad**: `scipy.integrate.quad` over [-8, 8] (damped: [0, 60]) with
`epsabs = epsrel = 1e-13`, timed over 20 integrations and divided by the evaluations `full_output`
reports (the same for every row of a function), against a Python lambda and SciPy's own ctypes path
(`LowLevelCallable` of a ctypes function pointer at the same C function). **numba**: an `@njit` loop
of 1,000,000 calls with the callable passed as an argument (numba's first-class function types: a
`@cfunc` and an entry both arrive as a function pointer), against the same loop computing the
expression inline. **call**: a Python `for` loop of 200,000 calls of `cos(0.5)` through ctypes
(`CDLL`, argtypes and restype set), cffi's ABI mode (`ffi.dlopen` of libm), and the same address
adopted with `hpybridge.cfunction` from each (a `CFunction`: the runtime's native type). Best of
%(reps)d repetitions (PyPy: %(pypy_reps)d, JIT warm), interleaved; the result column shows every row
of a group computes the same number.
"""
