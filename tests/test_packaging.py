"""`pip install .` and `pip install -e .` give a working package (CPython: PyPy here has no pip)."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_venv(where, *packages, editable=False):
    """A fresh venv at `where` with `packages` pip-installed (the repository itself if none);
    returns its python and an environment without this run's PYTHONPATH, HPY and allocator hooks."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    py = str(where / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HPY", "PYTHONMALLOC", "PYTHONDEVMODE")}
    cmd = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    cmd += (["-e", REPO] if editable else [REPO]) if not packages else list(packages)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return py, env


@pytest.mark.parametrize("editable", [False, True], ids=["install", "editable"])
def test_pip_install(tmp_path, editable):
    py, env = make_venv(tmp_path / "venv", editable=editable)
    code = ("import json, hpybridge, os; "
            "print(json.dumps([hpybridge.__file__, hpybridge.abi_info(), os.listdir(hpybridge.get_include())]))")
    for mode in ("universal", "debug"):
        out = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=str(tmp_path),
                             env=dict(env, HPY=mode))
        assert out.returncode == 0, out.stderr
        where, info, headers = json.loads(out.stdout)
        assert info["mode"] == mode
        assert "hpybridge.h" in headers
        if editable:
            assert where.startswith(os.path.join(REPO, "python")), where
        else:
            assert where.startswith(str(tmp_path / "venv")), where


GEOMETRY = """
import json, hpybridge, geometry, shapes, shapes_capi, shapes_cy, shapes_rs
square = [(0, 0), (2, 0), (2, 2), (0, 2)]
capi = (shapes_capi, shapes_cy, shapes_rs)
perimeters, centroids = [m.perimeter(square) for m in capi], [m.centroid(square) for m in capi]
api = hpybridge.apis("geometry")[0]
print(json.dumps([shapes.perimeter(square), shapes.centroid(square), geometry.__file__, api["mode"],
                  api["consumers"][0]["mode"], perimeters, centroids,
                  sorted(c["module"] for c in api["capi_consumers"])]))
"""


def test_example_installs_by_name(tmp_path):
    """The geometry example, pip-installed with hpybridge.extension: `import geometry, shapes` works
    in every pairing of modes HPY selects, and the C-API, Cython and PyO3 consumers (`shapes_capi`,
    `shapes_cy`, and `shapes_rs`, pip-installed through maturin from examples/geometry/rust) with
    the provider in each mode; `python -m hpybridge inspect` finds them all."""
    import shutil

    py, env = make_venv(tmp_path / "venv")
    source = tmp_path / "geometry-src"  # pip builds in the source folder: not in the repository
    shutil.copytree(os.path.join(REPO, "examples", "geometry"), source, ignore=shutil.ignore_patterns("target"))
    # maturin as requirements-dev.txt pins it; cargo builds into the build folder, so that PyO3 is
    # compiled once, not in every run.
    with open(os.path.join(REPO, "requirements-dev.txt")) as f:
        maturin = [line.strip() for line in f if line.startswith("maturin==")]
    # (maturin's build backend runs the `maturin` program: the venv's bin folder goes first on PATH,
    # as if it were activated.)
    cargo = dict(env, CARGO_TARGET_DIR=os.path.join(os.environ.get("HPYBRIDGE_BUILD_DIR") or
                                                    os.path.join(REPO, "build", "hpybridge"), "cargo-pip"),
                 PATH=os.path.dirname(py) + os.pathsep + env.get("PATH", ""))
    for packages in (["setuptools>=68", "wheel", "cython==3.3.1", *maturin], ["--no-build-isolation", str(source)],
                     ["--no-build-isolation", str(source / "rust")]):
        proc = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
                              capture_output=True, text=True, env=cargo, cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    for prov, cons in [("universal", "universal"), ("debug", "debug"), ("trace", "trace"), ("debug", "universal"),
                       ("universal", "trace")]:
        out = subprocess.run([py, "-c", GEOMETRY], capture_output=True, text=True, cwd=str(tmp_path),
                             env=dict(env, HPY="geometry:%s,shapes:%s" % (prov, cons)))
        assert out.returncode == 0, out.stderr
        perimeter, centroid, where, prov_mode, cons_mode, perimeters, centroids, capi = json.loads(out.stdout)
        assert (perimeter, centroid) == (8.0, [1.0, 1.0])
        assert perimeters == [8.0, 8.0, 8.0] and centroids == [[1.0, 1.0]] * 3
        assert capi == ["shapes_capi", "shapes_cy", "shapes_rs"]
        assert where.startswith(str(tmp_path / "venv")) and where.endswith("geometry.hpy0.so")
        assert (prov_mode, cons_mode) == (prov, cons)
    out = subprocess.run([py, "-m", "hpybridge", "inspect", "geometry", "shapes", "shapes_capi", "shapes_cy",
                          "shapes_rs"],
                         capture_output=True, text=True, cwd=str(tmp_path), env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("geometry 1.1  provided by geometry in universal/CPython")
    assert "consumer shapes in universal/CPython: needs 1.1, uses 7 slots" in out.stdout
    assert "    6  distance    double (PyObject *, PyObject *)" in out.stdout
    assert "C-API consumer shapes_capi: needs 1.1, uses 7 slots" in out.stdout
    assert "C-API consumer shapes_cy: needs 1.1, uses 7 slots" in out.stdout
    assert "C-API consumer shapes_rs: needs 1.1, uses 7 slots" not in out.stdout, "imports at its first call"


def _floor_python():
    """An interpreter of the oldest Python pyproject.toml admits (3.9), if this machine has one."""
    import glob
    import shutil

    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9.*/bin/python3.9"))) + [shutil.which("python3.9")]
    # pyenv's shims only forward to the selected version: a real interpreter or nothing.
    return next((p for p in found if p and "/shims/" not in p), None)


def test_oldest_supported_python(tmp_path):
    """pyproject.toml says Python >= 3.9: there (no tomllib; tomli instead), the package imports,
    `gen` writes headers and `inspect` runs, with the very runtime binary CPython 3.11 loads."""
    floor = _floor_python()
    if floor is None:
        pytest.skip("no Python 3.9 on this machine")
    venv = tmp_path / "venv39"
    subprocess.run([floor, "-m", "venv", str(venv)], check=True)  # not make_venv: another Python
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HPY", "PYTHONMALLOC", "PYTHONDEVMODE")}
    # The package's dependencies on this Python (pyproject.toml).
    proc = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "hpy==0.9.0", "tomli>=1.1"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env["PYTHONPATH"] = os.path.join(REPO, "python")
    spec = os.path.join(REPO, "examples", "geometry", "geometry.toml")
    gen = subprocess.run([py, "-m", "hpybridge", "gen", spec, "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env)
    assert gen.returncode == 0, gen.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["geometry_api.h", "geometry_capi.h", "geometry_capi.pxd",
                                                   "geometry_export.h"]
    inspect = subprocess.run([py, "-m", "hpybridge", "inspect", "hpybridge._runtime"], capture_output=True, text=True,
                             env=env)
    assert inspect.returncode == 0, inspect.stderr
    assert inspect.stdout.startswith("hpybridge 1.4  provided by hpybridge._runtime in universal/CPython")
