"""The runnable examples of the interop pages (docs/interop*.md) run, so the pages stay true.

Every ```python block of those pages runs in a process of its own, with `signals` (the example
provider, examples/signals) loaded in each HPy mode before it, as each page says. A block that
names SciPy, NumPy or numba, or uses `ctypes.pythonapi`, is skipped on PyPy, which has none of
them; every other block runs there too.
"""

import glob
import importlib.util
import os
import re
import subprocess
import sys

import pytest

import hpybridge
from conftest import IS_PYPY
from hpybridge import devel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = sorted(glob.glob(os.path.join(ROOT, "docs", "interop*.md")))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

PRELUDE = """
import hpybridge
signals = hpybridge.load_extension("signals", %r, mode=%r, register=True)
"""


def blocks():
    for page in PAGES:
        with open(page) as f:
            text = f.read()
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start()) + 2
            yield pytest.param(m.group(1), id="%s:%d" % (os.path.basename(page), line))


@pytest.fixture(scope="module")
def signals():
    spec = importlib.util.spec_from_file_location("signals_build", os.path.join(ROOT, "examples", "signals",
                                                                                "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_example()


def test_there_are_pages():
    names = {os.path.basename(p) for p in PAGES}
    assert {"interop.md", "interop-scipy.md", "interop-numba.md", "interop-ctypes.md", "interop-cffi.md",
            "interop-cython.md", "interop-capsules.md"} <= names, names


@pytest.mark.parametrize("mode", hpybridge.MODES)
@pytest.mark.parametrize("code", list(blocks()))
def test_example_runs(signals, mode, code):
    if IS_PYPY and re.search(r"\b(scipy|numba|numpy)\b", code):
        pytest.skip("SciPy, numba and NumPy have no PyPy 7.3.19 builds here")
    if IS_PYPY and "ctypes.pythonapi" in code:
        pytest.skip("PyPy's ctypes has no pythonapi")
    program = PRELUDE % (devel.copy_for_mode(signals, mode), mode) + code
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, "the example failed in %s mode:\n%s\n%s" % (mode, proc.stdout, proc.stderr[-3000:])
