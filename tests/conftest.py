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
INTERPRETER = {"pypy": "PyPy", "graalpy": "GraalPy"}.get(sys.implementation.name, "CPython")
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
    # From GraalPy's sources, never run here (docs/graalpy.md): for a first run on a machine with it.
    "GraalPy": {
        "universal": "HPy Universal ABI (GraalVM backend, JNI)",
        "debug": "HPy Debug Mode ABI",
        "trace": "HPy Trace Mode ABI",
    },
}

if IS_PYPY:
    # Packaging tests drive pip, which this PyPy does not have; they run on CPython.
    collect_ignore = ["test_packaging.py"]


def read_text(path):
    with open(path) as f:
        return f.read()


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
    return hpybridge.load_extension(name, mode_copy(path, mode), mode=mode)


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


def generate_headers(spec_text, name="calc"):
    """Runs the generator on `spec_text` into a build folder named by the text's hash (so CPython
    and PyPy runs build the same files) and returns that folder."""
    from hpybridge import gen

    digest = hashlib.sha256(spec_text.encode()).hexdigest()[:12]
    folder = os.path.join(devel.default_build_dir(), "gen", "%s-%s" % (name, digest))
    os.makedirs(folder, exist_ok=True)
    spec_file = os.path.join(folder, name + ".toml")
    if not os.path.exists(spec_file):
        with open(spec_file, "w") as f:
            f.write(spec_text)
    gen.generate(gen.load_spec(spec_file), folder)
    return folder


def build_with_headers(name, source, headers, define_macros=(), libraries=()):
    return build(name, source, include_dirs=[headers, hpybridge.get_include()], define_macros=define_macros,
                 libraries=libraries)


_SCENARIO = """
import json, sys, traceback
import hpybridge

def outcome(f, *args):
    try:
        return ["ok", f(*args)]
    except Exception as e:
        return [type(e).__name__, str(e)]

for name, path, mode, alias in %(modules)r:
    module = hpybridge.load_extension(name, path, mode=mode)
    sys.modules[alias] = module
    globals()[name] = globals()[alias] = module
result = None
%(body)s
print("RESULT " + json.dumps(result))
"""


def mode_copy(path, mode):
    """This mode's own copy of `path`, for a fresh interpreter to load; recorded on CPython and
    checked against that record on PyPy, like everything `load` loads."""
    copy = devel.copy_for_mode(path, mode)
    if IS_PYPY:
        check_same_binary_as_cpython(copy)
    else:
        _record(copy)
    return copy


def run_modules(modules, body, env_extra=None):
    """Loads `modules` — (name, path, mode[, alias]) — into a fresh interpreter, in order, each
    registered in sys.modules under its alias, then runs `body` there and returns what it stored
    in `result` (JSON). `outcome(f, *args)` gives ["ok", value] or [exception type, message]."""
    loaded = []
    for m in modules:
        name, path, mode = m[:3]
        alias = m[3] if len(m) > 3 else name
        loaded.append((name, mode_copy(path, mode), mode, alias))
    out = run_python(_SCENARIO % {"modules": loaded, "body": body}, env_extra)
    line = [line for line in out.splitlines() if line.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])
