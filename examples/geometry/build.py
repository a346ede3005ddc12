"""Builds the geometry example: the provider `geometry` and its consumer `shapes`.

`build_examples(out_dir=None)` runs the generator on geometry.toml into the build directory (the
headers are build products: nothing is written into the source tree), compiles both modules with
`hpybridge.devel.compile_extension` and returns {"geometry": path, "shapes": path} (`.hpy0.so`).
`build_capi_consumers(out_dir=None)` builds the C-API, Cython and PyO3 consumers (shapes_capi.c,
shapes_cy.pyx, rust/) for the running interpreter and returns {"shapes_capi": path, ...}.
Nothing is regenerated or recompiled when the spec, the sources and the headers are unchanged.
(`pip install` builds them all through hpybridge.extension instead: see setup.py.)

Load the provider first, then the consumer, in the same HPy mode (its exec slot imports `geometry`):

    mods = build_examples()
    hpybridge.load_extension("geometry", devel.copy_for_mode(mods["geometry"], "debug"), mode="debug",
                             register=True)
    shapes = hpybridge.load_extension("shapes", devel.copy_for_mode(mods["shapes"], "debug"), mode="debug")

From another directory, load this file by path rather than as `build` (a name other packages use):

    spec = importlib.util.spec_from_file_location("geometry_build", ".../examples/geometry/build.py")
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)

`python examples/geometry/build.py` builds, then runs the example once per HPy mode.
"""

import os
import subprocess
import sys

import hpybridge
from hpybridge import devel, gen

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "geometry.toml")


def generate_headers(out_dir=None):
    """Writes geometry_api.h and geometry_export.h into `<out_dir>/examples/geometry-include` (out_dir
    defaults to hpybridge's build directory) and returns that folder."""
    include = os.path.join(out_dir or devel.default_build_dir(), "examples", "geometry-include")
    gen.generate(gen.load_spec(SPEC), include)
    return include


def build_examples(out_dir=None):
    """Generates the headers and compiles both modules under `out_dir` (default: hpybridge's build
    directory, `HPYBRIDGE_BUILD_DIR` or ./build/hpybridge); returns {"geometry": path, "shapes": path}."""
    out_dir = os.path.abspath(out_dir or devel.default_build_dir())
    include_dirs = [generate_headers(out_dir), hpybridge.get_include()]
    return {
        name: devel.compile_extension(name, [os.path.join(HERE, name + ".c")], include_dirs=include_dirs,
                                      libraries=["m"], build_dir=out_dir)
        for name in ("geometry", "shapes")
    }


def build_capi_consumers(out_dir=None):
    """Builds shapes_capi (plain C-API), shapes_cy (Cython) and shapes_rs (PyO3, with maturin: its
    build.rs runs `hpybridge gen --rust`) for the running interpreter (on PyPy through cpyext) and
    returns {"shapes_capi": path, "shapes_cy": path, "shapes_rs": path}; load them with
    `devel.load_capi_extension` once `geometry` is importable (shapes_capi and shapes_cy import it
    when they initialise, shapes_rs at its first call)."""
    out_dir = os.path.abspath(out_dir or devel.default_build_dir())
    include = generate_headers(out_dir)
    return {
        "shapes_capi": devel.compile_capi_extension("shapes_capi", [os.path.join(HERE, "shapes_capi.c")],
                                                    include_dirs=[include], build_dir=out_dir),
        "shapes_cy": devel.compile_cython_extension("shapes_cy", os.path.join(HERE, "shapes_cy.pyx"),
                                                    include_dirs=[include], build_dir=out_dir),
        "shapes_rs": devel.compile_pyo3_extension("shapes_rs", os.path.join(HERE, "rust"), inputs=[SPEC],
                                                  build_dir=out_dir),
    }


_RUN = """
import hpybridge
geometry = hpybridge.load_extension("geometry", %(geometry)r, mode=%(mode)r, register=True)
shapes = hpybridge.load_extension("shapes", %(shapes)r, mode=%(mode)r)
square = [(0, 0), (2, 0), (2, 2), (0, 2)]
print("  %%-9s perimeter=%%s centroid=%%s path_length=%%s  (shapes runs in %%s)" %% (
    %(mode)r, shapes.perimeter(square), shapes.centroid(square), shapes.path_length(square), shapes.context()))
"""


def main():
    modules = build_examples()
    for name, path in modules.items():
        print("built %s: %s" % (name, path))
    for mode in hpybridge.MODES:
        # One process per mode: an API is registered once per process.
        paths = {name: devel.copy_for_mode(path, mode) for name, path in modules.items()}
        subprocess.run([sys.executable, "-c", _RUN % dict(paths, mode=mode)], check=True)


if __name__ == "__main__":
    main()
