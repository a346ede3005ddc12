"""`make bench`'s `__cdict__` section (run.py calls it): Python-level calls of `__cdict__` entries
against a builtin, a C-API method, ctypes and cffi calling the same C function, in one process.

`benchcdprov` (benchcdprov.c, API benchcd.toml) provides `double cosine(double)` and `double
ctx_cosine(HPyContext *, double)` (both libm's `cos`), `HPy same(HPyContext *, HPy)` (a new
handle to its argument), `long negate(long)` and `int add(int, int)`; the runtime and the provider
load in universal mode. `benchcdcapi` (benchcdcapi.c, built for the interpreter with
`devel.compile_capi_extension`) has METH_O methods `cosine` (libm's `cos`) and `same`, and callgrind
client requests. See METHOD.
"""

import json
import os
import subprocess
import sys
import tempfile

import hpybridge
from hpybridge import devel, gen

HERE = os.path.dirname(os.path.abspath(__file__))
CALLGRIND_CALLS = 20_000

# (key, label, argument kind): what one Python-level call is, in table order.
CALLS = [
    ("math.cos", "`math.cos(0.5)` (builtin, METH_O)", "float"),
    ("capi.cosine", "C-API method (METH_O) calling `cos`", "float"),
    ("ctypes.cosine", "ctypes `CFUNCTYPE(c_double, c_double)`, cosine's address", "float"),
    ("cffi.cosine", "cffi ABI mode `ffi.cast(\"double (*)(double)\", ...)`, cosine's address", "float"),
    ("adopted.cosine", "`hpybridge.cfunction(that ctypes function)`, adopted: the same address", "float"),
    ("cdict.cosine", "`cd[\"cosine\"](0.5)`, `double (double)`", "float"),
    ("cdict.ctx_cosine", "`cd[\"ctx_cosine\"](0.5)`, `double (HPyContext *, double)`", "float"),
    ("capi.same", "C-API method (METH_O) returning its argument", "object"),
    ("ctypes.same", "ctypes `PYFUNCTYPE(py_object, py_object)`, a C `same`", "object"),
    ("cdict.same", "`cd[\"same\"](obj)`, `HPy (HPyContext *, HPy)`", "object"),
    ("cdict.negate", "`cd[\"negate\"](12345)`, `long (long)`", "int"),
    ("cdict.add", "`cd[\"add\"](12345, 12345)`, `int (int, int)`", "int2"),
]

_BUILD = r"""
import json, sys
from hpybridge import devel
print("RESULT " + json.dumps(devel.compile_capi_extension("benchcdcapi", [sys.argv[1]], include_dirs=[sys.argv[2]])))
"""


def build(python, env):
    """(benchcdprov, benchcdcapi built for `python`); raises RuntimeError or BuildError."""
    include = os.path.join(devel.default_build_dir(), "bench", "cdict-include")
    gen.generate(gen.load_spec(os.path.join(HERE, "benchcd.toml")), include)
    prov = devel.compile_extension("benchcdprov", [os.path.join(HERE, "benchcdprov.c")],
                                   include_dirs=[include, hpybridge.get_include()], libraries=["m"])
    source = os.path.join(HERE, "benchcdcapi.c")
    if python == sys.executable:
        return prov, devel.compile_capi_extension("benchcdcapi", [source], include_dirs=[HERE])
    proc = subprocess.run([python, "-c", _BUILD, source, HERE], capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError("building benchcdcapi failed: %s" % " | ".join(proc.stderr.strip().splitlines()[-6:]))
    return prov, json.loads(lines[-1][len("RESULT "):])


_CHILD = r"""
import json, math, sys, time
cfg = json.loads(sys.argv[1])
out = {"ns": {}, "errors": {}}
import hpybridge
from hpybridge import devel
prov = hpybridge.load_extension("benchcdprov", cfg["prov"], mode="universal")
capi = devel.load_capi_extension("benchcdcapi", cfg["capi"])
cd = prov.__cdict__
(cosine_address,) = prov.addresses()
same_address, _ = capi.addresses()
OBJ = object()

def make(key):
    if key == "math.cos": return math.cos
    if key == "capi.cosine": return capi.cosine
    if key == "capi.same": return capi.same
    if key.startswith("cdict."): return cd[key[len("cdict."):]]
    if key == "ctypes.cosine":
        import ctypes
        return ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(cosine_address)
    if key == "ctypes.same":
        if sys.implementation.name == "pypy":
            raise RuntimeError("PyPy 7.3.19's ctypes crashes (SIGSEGV) calling a PYFUNCTYPE with a py_object")
        import ctypes
        return ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object)(same_address)
    if key == "adopted.cosine":
        import ctypes
        return hpybridge.cfunction(ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(cosine_address))
    if key == "cffi.cosine":
        import cffi
        return cffi.FFI().cast("double (*)(double)", cosine_address)
    raise KeyError(key)

def loop(f, a, n):
    for _ in range(n):
        f(a)

def loop2(f, a, n):
    for _ in range(n):
        f(a, a)

A = {"float": 0.5, "object": OBJ, "int": 12345, "int2": 12345}
WANT = {"float": math.cos(0.5), "int": -12345, "int2": 24690}

calls = {}
for key, kind in cfg["calls"]:
    try:
        f, a = make(key), A[kind]
        run = loop2 if kind == "int2" else loop
        assert f(a) is OBJ if kind == "object" else (f(a, a) if kind == "int2" else f(a)) == WANT[kind], "wrong"
        run(f, a, 2000)
        calls[key] = (f, a, run)
    except Exception as e:
        out["errors"][key] = "%s: %s" % (type(e).__name__, e)

if cfg["kind"] == "time":
    n = {}
    for key, (f, a, run) in calls.items():
        k = 1000
        while True:
            t = time.perf_counter_ns(); run(f, a, k); t = time.perf_counter_ns() - t
            if t >= cfg["target_ns"]: break
            k *= 2
        n[key] = k
    best = {key: float("inf") for key in calls}
    for _ in range(cfg["reps"]):
        for key, (f, a, run) in calls.items():  # interleaved
            t = time.perf_counter_ns(); run(f, a, n[key]); t = time.perf_counter_ns() - t
            best[key] = min(best[key], t / n[key])
    out["ns"] = best
else:
    for key, (f, a, run) in calls.items():
        capi.toggle(); run(f, a, cfg["calls_per_loop"]); capi.toggle()
        capi.dump("cdictbench " + key)
print("RESULT " + json.dumps(out))
"""


def run_child(python, env, cfg, out_file=None):
    argv = [python, "-c", _CHILD, json.dumps(cfg)]
    if out_file:
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file, "--collect-atstart=no",
                "--dump-instr=no"] + argv
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": "exit status %d: %s" % (proc.returncode, " | ".join(proc.stderr.strip().splitlines()[-8:]))}
    return json.loads(lines[-1][len("RESULT "):])


def read_dumps(out_file, calls):
    """{key: instructions per call} from the dumps named after each loop."""
    import glob

    ir = {}
    for dump in glob.glob(out_file + ".*"):
        trigger, total = "", None
        with open(dump) as f:
            for line in f:
                if line.startswith("desc: Trigger:"):
                    trigger = line
                elif line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
        name = trigger.rsplit("cdictbench ", 1)[-1].strip() if "cdictbench " in trigger else None
        if name and total is not None:
            ir[name] = total / calls
    return ir


def measure(python, env, reps, callgrind, pypy=False):
    """{"ns": {...}, "ir": {...}, "errors": {...}} for `python` (or {"error": ...})."""
    try:
        prov, capi = build(python, env)
    except (RuntimeError, devel.BuildError, subprocess.TimeoutExpired) as e:
        return {"error": str(e)}
    cfg = {"prov": prov, "capi": capi, "calls": [(k, kind) for k, _, kind in CALLS], "reps": reps,
           "target_ns": 25e6, "kind": "time", "calls_per_loop": CALLGRIND_CALLS}
    r = run_child(python, env, cfg)
    if "error" in r:
        return r
    r["ir"] = {}
    if callgrind:
        workdir = tempfile.mkdtemp(prefix="hpybridge-cdict-")
        out_file = os.path.join(workdir, "cdict.out")
        c = run_child(python, env, dict(cfg, kind="callgrind"), out_file)
        if "error" in c:
            r["errors"]["callgrind"] = c["error"]
        else:
            r["ir"] = read_dumps(out_file, CALLGRIND_CALLS)
        for f in os.listdir(workdir):
            os.unlink(os.path.join(workdir, f))
        os.rmdir(workdir)
    return r


def report(r, what):
    """Console lines for a result."""
    if "error" in r:
        return ["  %-9s %-32s %s" % (what, "__cdict__", r["error"][:200])]
    lines = []
    for key, _, _ in CALLS:
        ns, ir = r["ns"].get(key), r["ir"].get(key)
        text = ("%.1f ns" % ns if ns is not None else r["errors"].get(key, "not measured")[:150]) + (
            "   %.0f Ir" % ir if ir is not None else "")
        lines.append("  %-9s %-32s %s" % (what, "__cdict__ " + key, text))
    return lines


def rows(r):
    if "error" in r:
        return ["Not measured: %s" % r["error"][:300]]
    base_ns, base_ir = r["ns"].get("math.cos"), r["ir"].get("math.cos")
    lines = ["| call | ns | x `math.cos` | Ir/call | Ir x `math.cos` |", "|---|---:|---:|---:|---:|"]
    for key, label, _ in CALLS:
        ns, ir = r["ns"].get(key), r["ir"].get(key)
        if ns is None:
            lines.append("| %s | not measured: %s |  |  |  |" % (label, r["errors"].get(key, "?")[:150]))
            continue
        lines.append("| %s | %.1f | %.2f | %s | %s |" % (
            label, ns, ns / base_ns, "%.0f" % ir if ir is not None else "", "%.2f" % (ir / base_ir)
            if ir is not None and base_ir else ""))
    return lines


def targets(r):
    """Issue 9's targets for a `double (double)` entry on CPython: (goal, verdict, details)."""
    if "error" in r or "cdict.cosine" not in r["ns"]:
        return []
    ns = r["ns"]
    entry = ns["cdict.cosine"]
    out = []
    for goal, key, want, compare in [("within 1.5x of math.cos", "math.cos", 1.5, lambda e, b: e / b),
                                     ("at least 5x faster than cffi's ABI mode", "cffi.cosine", 5.0,
                                      lambda e, b: b / e),
                                     ("at least 8x faster than ctypes", "ctypes.cosine", 8.0, lambda e, b: b / e)]:
        if key not in ns:
            out.append(("`double (double)` entry " + goal, "not measured", [r["errors"].get(key, "?")]))
            continue
        x = compare(entry, ns[key])
        met = x <= want if key == "math.cos" else x >= want
        out.append(("`double (double)` entry " + goal, "met" if met else "NOT met",
                    ["%.1f ns against %.1f ns: %.2fx" % (entry, ns[key], x)]))
    return out


def adopt_target(r):
    """Issue 10's target for an adopted function, here with instructions too: (goal, verdict, details)."""
    goal = "an adopted function called from Python at least 5x faster than ctypes calling the same address"
    ns, ir = r.get("ns", {}), r.get("ir", {})
    if "adopted.cosine" not in ns or "ctypes.cosine" not in ns:
        return [(goal, "not measured", [r.get("error") or r["errors"].get("adopted.cosine", "?")])]
    x = ns["ctypes.cosine"] / ns["adopted.cosine"]
    detail = ["time: %.1f ns against %.1f ns: %.2fx" % (ns["adopted.cosine"], ns["ctypes.cosine"], x)]
    if "adopted.cosine" in ir and "ctypes.cosine" in ir:
        detail.append("instructions: %.0f against %.0f per call: %.2fx" % (
            ir["adopted.cosine"], ir["ctypes.cosine"], ir["ctypes.cosine"] / ir["adopted.cosine"]))
    return [(goal, "met" if x >= 5.0 else "NOT met", detail)]


METHOD = """\
Method: `benchcdprov` (benchmarks/benchcdprov.c, API benchmarks/benchcd.toml) exports `double
cosine(double)` and `double ctx_cosine(HPyContext *, double)`, both returning libm's `cos(x)`, and
`HPy same(HPyContext *, HPy)` (`HPy_Dup` of its argument), `long negate(long)` and `int add(int,
int)` (integer signatures: no comparison of their own); the runtime and the provider run in
universal mode. One process per interpreter calls each of them from Python through its `__cdict__`
entry, `cd[name](arg)`, against: `math.cos`; `benchcdcapi` (benchmarks/benchcdcapi.c, a plain C-API
extension built for the interpreter with `devel.compile_capi_extension`), whose METH_O `cosine` calls
`cos` and whose `same` returns its argument; ctypes' `CFUNCTYPE(c_double, c_double)` (argtypes and
restype set, a `CDLL`-style function that releases the GIL) at `cosine`'s own address; cffi's ABI mode
(`ffi.cast("double (*)(double)", address)`) at the same address; and for `same` ctypes'
`PYFUNCTYPE(py_object, py_object)` at a C `PyObject *same(PyObject *)` of benchcdcapi (cffi's ABI
mode has no way to pass a Python object as a `PyObject *`); and the ctypes function at `cosine`'s
address adopted with `hpybridge.cfunction` (issue 10: the same address as a `CFunction`). The
argument is 0.5 (a float), an `object()` or the int 12345 (`add`: twice, `f(a, a)`).

**Time**: a Python `for` loop in a function, `f(a)` per iteration (the loop's own cost included,
about 10 ns on CPython), timed with `time.perf_counter_ns`; iterations calibrated to >= 25 ms per
repetition, best of %(reps)d repetitions (PyPy: %(pypy_reps)d, JIT warm), the calls interleaved.
Ratios are against `math.cos` in the same process.
**Instructions** (CPython): the same process under `valgrind --tool=callgrind --collect-atstart=no`:
benchcdcapi's `toggle()` (a callgrind client request) switches collection on before and off after
a loop of %(calls)s calls, and `dump(name)` writes that loop's profile: everything the loop
executed divided by its calls (the loop and the two `toggle` calls included: a few instructions per
call at %(calls)s calls).
"""
