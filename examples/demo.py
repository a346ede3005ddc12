"""`make demo`: builds the examples and shows what loads where, then the geometry API at work: its
HPy consumer in every pairing of modes, and its C-API and Cython consumers with the provider in
each mode (through the CPython-API stubs); last, an HPy extension calling NumPy's C API through its
capsule in each mode (CPython); last, the signals extension's `__cdict__` entries in SciPy's `quad`
and `generic_filter`, in a numba `@njit` loop, and through ctypes and cffi, with the provider in each
mode, timed against a Python function, SciPy's and numba's own native callables, ctypes and cffi.

Run by the Makefile on CPython and then on PyPy: both load the very same `.hpy0.so` files (compare
the sha256 columns). The runtime loads once per process, and an API is registered once per
process, so each mode (and each provider/consumer pairing) gets a process of its own.
"""

import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys

import hpybridge
from hpybridge import devel

HERE = os.path.dirname(os.path.abspath(__file__))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def row(what, name, info_mode, context, path):
    print("  %-8s %-20s %-10s %-38s %s  %s" % (what, name, info_mode, context, sha(path), os.path.relpath(path)))


def main():
    print("hpybridge %s on %s %s (%s)" % (hpybridge.__version__, platform.python_implementation(),
                                         platform.python_version(), sys.executable))
    print("  %-8s %-20s %-10s %-38s %-12s  %s" % ("what", "module", "mode", "context", "sha256", "file"))
    code = "import json, hpybridge; print(json.dumps(hpybridge.abi_info()))"
    for mode in hpybridge.MODES:
        out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, HPY=mode),
                             capture_output=True, text=True, check=True).stdout
        info = json.loads(out)
        row("runtime", "hpybridge._runtime", info["mode"], info["context_name"], hpybridge._runtime_path)

    built = devel.compile_extension("hello", [os.path.join(HERE, "hello", "hello.c")])
    for mode in hpybridge.MODES:
        path = devel.copy_for_mode(built, mode)
        hello = hpybridge.load_extension("hello", path, mode=mode)
        assert hello.greet("HPy") == "hello, HPy"
        row("example", "hello", mode, hello.context(), path)


GEOMETRY = """
import hpybridge
geometry = hpybridge.load_extension("geometry", %(geometry)r, mode=%(provider)r, register=True)
shapes = hpybridge.load_extension("shapes", %(shapes)r, mode=%(consumer)r)
hpybridge.count_calls(True)
square = [(0, 0), (2, 0), (2, 2), (0, 2)]
result = shapes.perimeter(square), shapes.centroid(square)
calls = sum(e["calls"] for e in hpybridge.call_counts())
path = "raw pointers" if %(provider)r == %(consumer)r else hpybridge.trampoline_info()["backend"]
print("  %%-9s -> %%-9s  perimeter %%s, centroid %%s: %%d calls through the table (%%s)" %% (
    %(consumer)r, %(provider)r, result[0], result[1], calls, path))
"""


CAPI = """
import hpybridge
from hpybridge import devel
hpybridge.load_extension("geometry", %(geometry)r, mode=%(provider)r, register=True)
square = [(0, 0), (2, 0), (2, 2), (0, 2)]
for name in ("shapes_capi", "shapes_cy", "shapes_rs"):
    m = devel.load_capi_extension(name, %(consumers)r[name])
    print("  %%-11s -> %%-9s  perimeter %%s, centroid %%s" %% (name, %(provider)r, m.perimeter(square),
                                                            m.centroid(square)))
"""


def geometry():
    spec = importlib.util.spec_from_file_location("geometry_build", os.path.join(HERE, "geometry", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    built = build.build_examples()
    print("geometry API (examples/geometry): consumer 'shapes' -> provider 'geometry', every pairing of modes")
    for provider in hpybridge.MODES:
        for consumer in hpybridge.MODES:
            paths = {"geometry": devel.copy_for_mode(built["geometry"], provider),
                     "shapes": devel.copy_for_mode(built["shapes"], consumer)}
            subprocess.run([sys.executable, "-c", GEOMETRY % dict(paths, provider=provider, consumer=consumer)],
                           check=True)
    consumers = build.build_capi_consumers()
    print("C-API consumers (plain C, Cython, Rust/PyO3; built for %s) -> provider 'geometry' through its CPython-API "
          "stubs, in each of its modes" % platform.python_implementation())
    for provider in hpybridge.MODES:
        code = CAPI % dict(geometry=devel.copy_for_mode(built["geometry"], provider), provider=provider,
                           consumers=consumers)
        subprocess.run([sys.executable, "-c", code], check=True)


def numpy_shapes():
    """NumPy's C API from an HPy universal extension, through its _ARRAY_API capsule (CPython only:
    NumPy has no PyPy 3.11 wheels here)."""
    if platform.python_implementation() != "CPython":
        print("numpy_shapes (examples/numpy_shapes): skipped, NumPy is not installed for %s"
              % platform.python_implementation())
        return
    spec = importlib.util.spec_from_file_location("numpy_shapes_build", os.path.join(HERE, "numpy_shapes", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    print("numpy_shapes (examples/numpy_shapes): HPy extension 'npshapes' -> NumPy's C API through _ARRAY_API")
    built = build.build_example()
    for mode in hpybridge.MODES:
        subprocess.run([sys.executable, "-c", build.RUN % (devel.copy_for_mode(built, mode), mode, "  %-9s" % mode)],
                       check=True)


INTEROP = """
import math, sys, time
import hpybridge
signals = hpybridge.load_extension("signals", %(signals)r, mode=%(mode)r, register=True)
bump, damped, window_mean = (signals.__cdict__[k] for k in ("bump", "damped", "window_mean"))

def per_call(f, calls, reps=5):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter_ns(); f(); best = min(best, (time.perf_counter_ns() - t) / calls)
    return best

def show(what, value, ns=None, base=None):
    print("    %%-66s %%-18.12g %%s%%s" %% (what, value, "%%7.1f ns" %% ns if ns is not None else "",
                                          "  (%%.3gx)" %% (ns / base) if base else ""))

print("  provider in %%s mode" %% %(mode)r)
if sys.implementation.name == "pypy":
    print("    SciPy and numba: not on PyPy 7.3.19 (no builds for it); ctypes and cffi below")
else:
    import numpy as np
    from scipy import LowLevelCallable, ndimage
    from scipy.integrate import quad
    f = lambda t: math.exp(-t / 10.0) * math.cos(t)
    for what, g in (("quad(lambda t: exp(-t/10) cos t, 0, 60)", f),
                    ("quad(damped.lowlevelcallable(), 0, 60)", damped.lowlevelcallable()),
                    ("quad(LowLevelCallable(damped.as_ctypes()), 0, 60)", LowLevelCallable(damped.as_ctypes()))):
        value, _, info = quad(g, 0, 60, limit=200, full_output=1)[:3]
        ns = per_call(lambda: quad(g, 0, 60, limit=200), info["neval"])
        base = base if "lambda" not in what else ns
        show(what + ", per evaluation", value, ns, base)
    image = np.arange(10000.0).reshape(100, 100) %% 7
    base = None
    for what, g in (("generic_filter(image, np.mean, size=3), per pixel", np.mean),
                    ("generic_filter(image, window_mean.lowlevelcallable(), size=3)", window_mean.lowlevelcallable())):
        filtered = ndimage.generic_filter(image, g, size=3)
        assert np.allclose(filtered, ndimage.uniform_filter(image, size=3))
        ns = per_call(lambda: ndimage.generic_filter(image, g, size=3), image.size, reps=3)
        base = base or ns
        show(what, filtered.mean(), ns, base)

    import numba.experimental.function_type  # noqa: F401
    from numba import cfunc, njit
    @njit
    def total(g, n):
        s = 0.0
        for i in range(n):
            s += g(i * 1e-5)
        return s
    @cfunc("float64(float64)")
    def nb_bump(x):
        return math.exp(-x * x)
    n = 1_000_000
    base = None
    for what, g in (("@njit loop over a numba @cfunc bump", nb_bump), ("@njit loop over the bump entry", bump)):
        value = total(g, n)
        ns = per_call(lambda: total(g, n), n)
        base = base or ns
        show(what + ", per call", value, ns, base)

import ctypes, ctypes.util, cffi
libm = ctypes.CDLL(ctypes.util.find_library("m"))
libm.cos.restype, libm.cos.argtypes = ctypes.c_double, [ctypes.c_double]
ffi = cffi.FFI()
ffi.cdef("double cos(double);")
cos = hpybridge.cfunction(libm.cos)  # adopted: a CFunction at libm's cos
if sys.implementation.name != "pypy":
    from scipy import LowLevelCallable
    from scipy.integrate import quad
    show("quad(hpybridge.cfunction(libm.cos).lowlevelcallable(), 0, pi/2)",
         quad(cos.lowlevelcallable(), 0, math.pi / 2)[0])
base = None
for what, g in (("hpybridge.cfunction(libm.cos)(0.5), adopted from ctypes", cos), ("ctypes libm.cos(0.5)", libm.cos),
                ("cffi lib.cos(0.5)", ffi.dlopen(ctypes.util.find_library("m")).cos)):
    ns = per_call(lambda: [g(0.5) for _ in range(100_000)], 100_000)
    base = base or ns
    show(what, g(0.5), ns, base)
base = None
for what, g in (("bump(0.5), the entry from Python", bump), ("bump.as_ctypes()(0.5)", bump.as_ctypes()),
                ("bump.as_cffi(ffi)(0.5)", bump.as_cffi(ffi))):
    ns = per_call(lambda: [g(0.5) for _ in range(100_000)], 100_000)
    base = base or ns
    show(what, g(0.5), ns, base)
"""


def interop():
    """The signals extension's entries in SciPy, numba, ctypes and cffi, the provider in each mode."""
    spec = importlib.util.spec_from_file_location("signals_build", os.path.join(HERE, "signals", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    built = build.build_example()
    print("interop (examples/signals, docs/interop.md): __cdict__ entries of an HPy extension in SciPy, numba, "
          "ctypes and cffi; value, then time with the ratio to the first row of each group")
    for mode in hpybridge.MODES:
        subprocess.run([sys.executable, "-c", INTEROP % dict(signals=devel.copy_for_mode(built, mode), mode=mode)],
                       check=True)


if __name__ == "__main__":
    main()
    geometry()
    numpy_shapes()
    interop()
