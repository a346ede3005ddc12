"""Builds HPy universal extensions (`<name>.hpy0.so`) from C sources, without setuptools, and the
C-API, Cython and PyO3 consumers of their APIs for the running interpreter.

Used by hpybridge's tests, examples and benchmarks, and usable by extension authors. Builds are
cached by the content of what goes into them, so the CPython and the PyPy test runs load the very
same files. `copy_for_mode` gives each HPy mode its own copy of a file: dlopen returns the same
handle for one file loaded twice (even through a hard link), and the second load would overwrite
the first one's `_ctx_for_trampolines`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

HPY_VERSION = "0.9.0"
_RUNTIME_HELPERS = ("argparse.c", "buildvalue.c", "format.c", "helpers.c", "structseq.c")
# What makes a build target HPy's universal ABI (with `-I forbid_python_h` first: see universal_abi).
UNIVERSAL_MACROS = (("HPY", None), ("HPY_ABI_UNIVERSAL", None))
_CFLAGS = ("-shared", "-fPIC", "-O2", "-g0", "-Wall", "-Werror=implicit-function-declaration",
           *("-D" + name for name, _ in UNIVERSAL_MACROS))


class BuildError(RuntimeError):
    """A C compiler is missing or an extension failed to compile (the message has its output)."""


def default_build_dir() -> str:
    return os.environ.get("HPYBRIDGE_BUILD_DIR") or os.path.join(os.getcwd(), "build", "hpybridge")


def hpy_include_dir() -> str:
    """HPy 0.9.0's `devel/include`: `HPY_INCLUDE_DIR`, this interpreter's `hpy.devel` if it is 0.9.0,
    else the `hpy.devel` of the Python named by `HPY_PYTHON` (PyPy ships other HPy headers)."""
    if os.environ.get("HPY_INCLUDE_DIR"):
        return os.environ["HPY_INCLUDE_DIR"]
    try:
        import hpy.devel
        import hpy.devel.version

        if hpy.devel.version.__version__ == HPY_VERSION:
            return str(hpy.devel.HPyDevel().include_dir)
    except ImportError:
        pass
    python = os.environ.get("HPY_PYTHON")
    if not python:
        raise BuildError(
            "no HPy %s headers: install hpy==%s, or set HPY_INCLUDE_DIR, or HPY_PYTHON to a Python that has it"
            % (HPY_VERSION, HPY_VERSION)
        )
    out = subprocess.run(
        [python, "-c",
         "import hpy.devel, hpy.devel.version as v; print(hpy.devel.HPyDevel().include_dir); print(v.__version__)"],
        capture_output=True, text=True,
    )
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2 or lines[1] != HPY_VERSION:
        raise BuildError("HPY_PYTHON=%s has no hpy %s: %s" % (python, HPY_VERSION, out.stderr or out.stdout))
    return lines[0]


def universal_abi() -> tuple[list[str], list[str]]:
    """What every HPy universal extension compiles with, besides `UNIVERSAL_MACROS`: the include
    directories (HPy's `forbid_python_h` first, which makes `#include <Python.h>` an error) and
    the sources of HPy's runtime helpers (argument parsing, `HPy_BuildValue`, ...)."""
    hpy_include = hpy_include_dir()
    includes = [os.path.join(hpy_include, "hpy", "forbid_python_h"), hpy_include]
    helpers = [os.path.normpath(os.path.join(hpy_include, os.pardir, "src", "runtime", f)) for f in _RUNTIME_HELPERS]
    return includes, helpers


def _digest(parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _header_bytes(dirs):
    """Contents of every header (and Cython `.pxd`) in `dirs`, so that editing one rebuilds what
    includes it."""
    for d in sorted(dirs):
        for root, _, files in sorted(os.walk(d)):
            for f in sorted(files):
                if f.endswith((".h", ".pxd")):
                    with open(os.path.join(root, f), "rb") as fh:
                        yield f.encode() + fh.read()


def compile_extension(name: str, sources: Sequence[str], include_dirs: Sequence[str] = (),
                      define_macros: Sequence[tuple[str, str | None]] = (), extra_cflags: Sequence[str] = (),
                      libraries: Sequence[str] = (), build_dir: str | None = None) -> str:
    """Compiles `sources` (C files) into `<build_dir>/<name>-<key>/<name>.hpy0.so` and returns its path.

    `name` is the module's short name: the one its `HPy_MODINIT(name, ...)` uses. `libraries` are
    linked after the sources (`-lm` for libm: with --as-needed, order matters). Nothing is rebuilt
    when sources, headers, flags and compiler are unchanged.
    """
    includes, helpers = universal_abi()
    return _compile(name, "HPy", name + ".hpy0.so", [*sources, *helpers], [*includes, *include_dirs], define_macros,
                    [*_CFLAGS, *extra_cflags], libraries, build_dir, key_extra=[HPY_VERSION])


def compile_capi_extension(name: str, sources: Sequence[str], include_dirs: Sequence[str] = (),
                           define_macros: Sequence[tuple[str, str | None]] = (), extra_cflags: Sequence[str] = (),
                           libraries: Sequence[str] = (), build_dir: str | None = None) -> str:
    """Compiles a plain C-API extension (`#include <Python.h>`) for the running interpreter into
    `<build_dir>/<name>-<key>/<name><EXT_SUFFIX>` and returns its path. Unlike HPy universal
    binaries, it is for this interpreter only: on PyPy it builds against PyPy's own headers (cpyext)
    and gets PyPy's suffix. Import it with `load_capi_extension`. Cached like `compile_extension`."""
    import sysconfig

    paths = sysconfig.get_paths()
    python_includes = sorted({paths["include"], paths["platinclude"]})
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    flags = ["-shared", "-fPIC", "-O2", "-g0", "-Wall", "-Werror=implicit-function-declaration", *extra_cflags]
    return _compile(name, "C-API", name + suffix, sources, [*include_dirs, *python_includes], define_macros, flags,
                    libraries, build_dir, key_extra=[sys.implementation.cache_tag, suffix])


def compile_cython_extension(name: str, pyx: str, include_dirs: Sequence[str] = (),
                             define_macros: Sequence[tuple[str, str | None]] = (), build_dir: str | None = None) -> str:
    """Translates the Cython module `pyx` to C with `cythonize` (`cimport`s found in `include_dirs`,
    which also go on the C include path), cached by content, and compiles that with
    `compile_capi_extension` for the running interpreter. Returns the extension's path."""
    with open(pyx, "rb") as f:
        key = _digest([name, f.read(), *include_dirs, *_header_bytes(include_dirs)])
    c_file = os.path.join(build_dir or default_build_dir(), "%s-cython-%s" % (name, key), name + ".c")
    if not os.path.exists(c_file):
        cythonize(pyx, c_file, include_dirs)
    return compile_capi_extension(name, [c_file], include_dirs=include_dirs, define_macros=define_macros,
                                  build_dir=build_dir)


def cythonize(pyx: str, c_file: str, include_dirs: Sequence[str] = ()) -> None:
    """Translates the Cython module `pyx` into `c_file` (`cimport`s found in `include_dirs`). Cython
    runs in this interpreter if it has Cython, else in the Python named by `HPY_PYTHON` (the C it
    writes builds on PyPy too, through cpyext). Raises BuildError with Cython's messages."""
    try:
        import Cython  # noqa: F401

        python = sys.executable
    except ImportError:
        python = os.environ.get("HPY_PYTHON") or sys.executable
    os.makedirs(os.path.dirname(os.path.abspath(c_file)), exist_ok=True)
    tmp = c_file + ".tmp.c"
    argv = [python, "-m", "cython", "-3", *("-I" + d for d in include_dirs), pyx, "-o", tmp]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError("cythonizing %s failed:\n$ %s\n%s%s" % (pyx, " ".join(argv), result.stdout, result.stderr))
    os.replace(tmp, c_file)  # atomic: concurrent builders never see half a file


def compile_pyo3_extension(name: str, crate: str, env: dict[str, str] | None = None, inputs: Sequence[str] = (),
                           build_dir: str | None = None) -> str:
    """Builds the PyO3 extension crate in the folder `crate` with maturin (`maturin build --release
    --locked`, so the crate's Cargo.lock holds) for the running interpreter (on PyPy through cpyext)
    and returns the path of `<build_dir>/<name>-rust-<key>/<name><EXT_SUFFIX>`; import it with
    `load_capi_extension`. `env` goes to the build (a build script reads it), `inputs` are files
    the build reads besides the crate's own (a spec), and the key covers both, the crate's files,
    hpybridge's generator and the interpreter, so nothing is rebuilt when they are unchanged. Cargo
    builds into `<build_dir>/cargo-<interpreter>`: one target folder per interpreter, because
    PyO3's build configuration differs between them. maturin runs from this interpreter if it has
    it, else from the Python named by `HPY_PYTHON` (it is a program: it builds for PyPy just as well)."""
    import sysconfig
    import zipfile

    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    here = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.join(here, "gen.py"), os.path.join(here, "gen_rust.py"), *inputs]
    for root, dirs, names in os.walk(crate):
        dirs[:] = sorted(d for d in dirs if d != "target")
        files += [os.path.join(root, n) for n in sorted(names)]
    contents = []
    for path in files:
        with open(path, "rb") as f:
            contents.append(path.encode() + b"\0" + f.read())
    env = dict(env or {})
    key = _digest([name, sys.implementation.cache_tag, suffix, *sorted(env.items()), *contents])
    build_dir = os.path.abspath(build_dir or default_build_dir())
    out_dir = os.path.join(build_dir, "%s-rust-%s" % (name, key))
    target = os.path.join(out_dir, name + suffix)
    if os.path.exists(target):
        return target
    try:
        import maturin  # noqa: F401

        python = sys.executable
    except ImportError:
        python = os.environ.get("HPY_PYTHON") or sys.executable
    os.makedirs(out_dir, exist_ok=True)
    wheels = tempfile.mkdtemp(dir=out_dir)
    try:
        argv = [python, "-m", "maturin", "build", "--release", "--locked", "--quiet",
                "--manifest-path", os.path.join(crate, "Cargo.toml"), "-i", sys.executable, "--out", wheels]
        build_env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(build_dir, "cargo-" + sys.implementation.cache_tag),
                         **env)
        result = subprocess.run(argv, capture_output=True, text=True, env=build_env)
        if result.returncode != 0:
            raise BuildError("building PyO3 extension %r failed:\n$ %s\n%s%s"
                             % (name, " ".join(argv), result.stdout[-4000:], result.stderr[-8000:]))
        [wheel] = [os.path.join(wheels, w) for w in os.listdir(wheels) if w.endswith(".whl")]
        with zipfile.ZipFile(wheel) as z:
            [member] = [m for m in z.namelist() if os.path.basename(m) == name + suffix]
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(z.read(member))
        os.replace(tmp, target)  # atomic: concurrent builders never see half a file
    finally:
        shutil.rmtree(wheels, ignore_errors=True)
    return target


def load_capi_extension(name: str, path: str) -> Any:
    """Imports the C-API extension module `name` from `path` (not put in sys.modules)."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _compile(name, kind, filename, sources, include_dirs, define_macros, flags, libraries, build_dir, key_extra):
    cc = os.environ.get("CC", "gcc")
    defines = ["-D%s=%s" % (k, v) if v is not None else "-D%s" % k for k, v in define_macros]
    flags = [*flags, *defines, *("-I" + i for i in include_dirs)]
    try:
        compiler = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    except OSError as e:
        raise BuildError("no C compiler %r: %s" % (cc, e)) from e
    contents = []
    for src in sources:
        with open(src, "rb") as f:
            contents.append(f.read())
    libs = ["-l" + lib for lib in libraries]
    key = _digest([*key_extra, compiler, name, *flags, *libs, *contents, *_header_bytes(include_dirs)])
    out_dir = os.path.join(build_dir or default_build_dir(), "%s-%s" % (name, key))
    target = os.path.join(out_dir, filename)
    if os.path.exists(target):
        return target
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
    os.close(fd)
    try:
        argv = [cc, *flags, *sources, *libs, "-o", tmp]
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError("building %s extension %r failed:\n$ %s\n%s" % (kind, name, " ".join(argv), result.stderr))
        os.replace(tmp, target)  # atomic: concurrent builders never see half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def copy_for_mode(path: str, mode: str) -> str:
    """A copy of `path` in a folder of its own for `mode` (same file name: the loader needs it)."""
    target = os.path.join(os.path.dirname(path), mode, os.path.basename(path))
    if not (os.path.exists(target) and os.path.getsize(target) == os.path.getsize(path)
            and os.path.getmtime(target) >= os.path.getmtime(path)):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target))
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return target


_STUB = '''\
# Generated by hpybridge.devel.write_stub: makes {so!r} importable as {module!r}.
def __bootstrap__():
    import os
    from hpybridge.loader import bootstrap
    bootstrap(__name__, os.path.join(os.path.dirname(os.path.abspath(__file__)), {so!r}), globals())


__bootstrap__()
'''


def write_stub(path: str, module_name: str | None = None) -> str:
    """Writes `<name>.py` next to `<name>.hpy0.so`, so that `import <name>` loads the extension in the
    mode `HPY` selects. Returns the stub's path."""
    base = os.path.basename(path)
    short = base[: -len(".hpy0.so")]
    stub = os.path.join(os.path.dirname(path), short + ".py")
    text = _STUB.format(so=base, module=module_name or short)
    if os.path.exists(stub):
        with open(stub) as f:
            if f.read() == text:
                return stub
    with open(stub, "w") as f:
        f.write(text)
    return stub


if __name__ == "__main__":
    # python -m hpybridge.devel NAME SOURCE... : build and print the path.
    print(compile_extension(sys.argv[1], sys.argv[2:]))
