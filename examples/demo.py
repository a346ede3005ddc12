"""`make demo`: builds the examples and shows what loads where, then the geometry API at work: its
HPy consumer in every pairing of modes, and its C-API and Cython consumers with the provider in
each mode (through the CPython-API stubs); last, an HPy extension calling NumPy's C API through its
capsule in each mode (CPython).

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


if __name__ == "__main__":
    main()
    geometry()
    numpy_shapes()
