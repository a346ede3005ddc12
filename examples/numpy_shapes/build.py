"""Builds the numpy_shapes example: `npshapes`, an HPy universal extension that calls NumPy's C API
through the `_ARRAY_API` capsule (numpy_api.toml, docs/foreign-capsules.md).

`build_example(out_dir=None)` generates numpy_api_foreign.h into the build directory and compiles
npshapes.c with `hpybridge.devel.compile_extension`; it returns the `.hpy0.so` path. No NumPy header
or library is needed to build it; NumPy must be importable where it loads.

`python examples/numpy_shapes/build.py` builds it, then runs it once per HPy mode.
"""

import os
import subprocess
import sys

import hpybridge
from hpybridge import devel, gen

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "numpy_api.toml")


def build_example(out_dir=None):
    out_dir = os.path.abspath(out_dir or devel.default_build_dir())
    include = os.path.join(out_dir, "examples", "numpy_shapes-include")
    gen.generate(gen.load_spec(SPEC), include)
    return devel.compile_extension("npshapes", [os.path.join(HERE, "npshapes.c")],
                                   include_dirs=[include, hpybridge.get_include()], build_dir=out_dir)


RUN = """
import array, hpybridge
npshapes = hpybridge.load_extension("npshapes", %r, mode=%r)
a = npshapes.from_buffer(array.array("d", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
print("%%-9s %%s, shape %%s, reshaped %%s, total %%s" %% (
    %r, type(a).__name__, npshapes.shape(a), npshapes.shape(npshapes.reshape(a, 2, 3))[1], npshapes.total(a)))
"""

if __name__ == "__main__":
    built = build_example()
    for mode in hpybridge.MODES:
        path = devel.copy_for_mode(built, mode)
        subprocess.run([sys.executable, "-c", RUN % (path, mode, mode)], check=True)
