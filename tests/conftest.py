"""Shared test harness: builds C HPy extensions, loads them in a chosen mode, and records the exact
binaries loaded, so the PyPy run can prove it loads the files the CPython run loaded.

The Makefile runs this suite on CPython first, then on PyPy with the same HPYBRIDGE_BUILD_DIR.
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest

import hpybridge
from hpybridge import devel

HERE = os.path.dirname(os.path.abspath(__file__))
EXT = os.path.join(HERE, "ext")
IS_PYPY = sys.implementation.name == "pypy"
INTERPRETER = "PyPy" if IS_PYPY else "CPython"
MANIFEST = os.path.join(devel.default_build_dir(), "loaded-on-cpython.json")

# The context names of HPy 0.9 per interpreter and mode (see docs/hpy-contexts.md).
CONTEXT_NAMES = {
    "CPython": {
        "universal": "HPy Universal ABI (CPython backend)",
        "debug": "HPy Debug Mode ABI",
        "trace": "HPy Trace Mode ABI",
    },
    "PyPy": {
        "universal": "HPy Universal ABI (PyPy backend)",
        "debug": "HPy Debug Mode ABI (PyPy backend)",
        "trace": "HPy Trace Mode ABI (PyPy backend)",
    },
}

if IS_PYPY:
    # Packaging tests drive pip, which this PyPy does not have; they run on CPython.
    collect_ignore = ["test_packaging.py"]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


_loaded = {}


def _record(path):
    _loaded[os.path.relpath(path, devel.default_build_dir())] = sha256(path)


def pytest_sessionfinish(session):
    if not IS_PYPY and _loaded:
        _record(hpybridge._runtime_path)
        previous = {}
        if os.path.exists(MANIFEST):
            with open(MANIFEST) as f:
                previous = json.load(f)
        previous.update(_loaded)
        os.makedirs(os.path.dirname(MANIFEST), exist_ok=True)
        with open(MANIFEST, "w") as f:
            json.dump(previous, f, indent=1, sort_keys=True)


def build(name, *sources, **kw):
    """Builds `sources` (file names under tests/ext) into `<name>.hpy0.so`."""
    kw.setdefault("include_dirs", [hpybridge.get_include()])
    return devel.compile_extension(name, [os.path.join(EXT, s) for s in sources], **kw)


def load(name, path, mode):
    """Loads this mode's own copy of `path` (see devel.copy_for_mode) and records what was loaded."""
    copy = devel.copy_for_mode(path, mode)
    module = hpybridge.load_extension(name, copy, mode=mode)
    if IS_PYPY:
        check_same_binary_as_cpython(copy)
    else:
        _record(copy)
    return module


def check_same_binary_as_cpython(path):
    assert os.path.exists(MANIFEST), "%s is missing: the CPython tests run first and write it" % MANIFEST
    with open(MANIFEST) as f:
        manifest = json.load(f)
    key = os.path.relpath(path, devel.default_build_dir())
    assert key in manifest, "%s was never loaded by the CPython run" % path
    assert manifest[key] == sha256(path), "%s differs from the file the CPython run loaded" % path


def leak_detector():
    from hpy.debug import LeakDetector

    return LeakDetector()


def run_python(code, env_extra=None):
    """Runs `code` in a fresh interpreter of the same kind; returns stdout (fails on non-zero exit)."""
    env = dict(os.environ)
    env.pop("HPY", None)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope="session")
def probe_path():
    return build("probe", "probe.c")
