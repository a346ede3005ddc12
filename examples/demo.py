"""`make demo`: builds the examples and shows what loads where, then the geometry API at work.

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
try:
    shapes = hpybridge.load_extension("shapes", %(shapes)r, mode=%(consumer)r)
except ImportError as e:
    print("  geometry in %%-9s shapes in %%-9s -> %%s: %%s" %% (%(provider)r, %(consumer)r, type(e).__name__, e))
else:
    square = [(0, 0), (2, 0), (2, 2), (0, 2)]
    print("  geometry in %%-9s shapes in %%-9s -> perimeter %%s, centroid %%s, path_length %%s" %% (
        %(provider)r, %(consumer)r, shapes.perimeter(square), shapes.centroid(square), shapes.path_length(square)))
    if %(provider)r == "universal":
        api, = hpybridge.apis("geometry")
        c, = api["consumers"]
        print("  registry: %%s %%s from %%s (%%s), %%d slots; consumer %%s (%%s) needs %%s" %% (
            api["name"], api["version"], api["module"], api["family"], len(api["slots"]), c["module"],
            c["family"], c["version"]))
"""


def geometry():
    spec = importlib.util.spec_from_file_location("geometry_build", os.path.join(HERE, "geometry", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    built = build.build_examples()
    print("geometry API (examples/geometry): provider 'geometry', consumer 'shapes'")
    pairs = [(m, m) for m in hpybridge.MODES] + [("universal", "debug")]
    for provider, consumer in pairs:
        paths = {"geometry": devel.copy_for_mode(built["geometry"], provider),
                 "shapes": devel.copy_for_mode(built["shapes"], consumer)}
        subprocess.run([sys.executable, "-c", GEOMETRY % dict(paths, provider=provider, consumer=consumer)],
                       check=True)


if __name__ == "__main__":
    main()
    geometry()
