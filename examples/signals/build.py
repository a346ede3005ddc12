"""Builds the signals example: `signals`, an HPy universal extension exporting the signals API
(signals.toml), whose entries SciPy, numba, ctypes and cffi call through its `__cdict__`.

`build_example(out_dir=None)` generates signals_export.h into the build directory and compiles
signals.c with `hpybridge.devel.compile_extension`; it returns the `.hpy0.so` path.

`python examples/signals/build.py` builds it, then integrates `damped` with SciPy once per HPy mode.
"""

import os
import subprocess
import sys

import hpybridge
from hpybridge import devel, gen

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "signals.toml")


def build_example(out_dir=None):
    out_dir = os.path.abspath(out_dir or devel.default_build_dir())
    include = os.path.join(out_dir, "examples", "signals-include")
    gen.generate(gen.load_spec(SPEC), include)
    return devel.compile_extension("signals", [os.path.join(HERE, "signals.c")],
                                   include_dirs=[include, hpybridge.get_include()], libraries=["m"],
                                   build_dir=out_dir)


RUN = """
import hpybridge
from scipy.integrate import quad
signals = hpybridge.load_extension("signals", %r, mode=%r, register=True)
damped = signals.__cdict__["damped"]
print("%%-9s quad(damped, 0, 50) = %%.12f" %% (%r, quad(damped.lowlevelcallable(), 0, 50)[0]))
"""

if __name__ == "__main__":
    built = build_example()
    for mode in hpybridge.MODES:
        path = devel.copy_for_mode(built, mode)
        subprocess.run([sys.executable, "-c", RUN % (path, mode, mode)], check=True)
