"""Builds the runtime with cargo and puts it, with the C headers, into python/hpybridge/.

One step shared by `make build` and setup.py (pip install), so both produce the same package:
`python/hpybridge/_runtime.hpy0.so` (the cdylib, renamed as HPy's loader requires) and
`python/hpybridge/include/` (what `hpybridge.get_include()` returns).
"""

import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "python", "hpybridge")


def _install(src, dst):
    """Copies src to dst unless identical; atomic, so a running interpreter never maps half a file."""
    if os.path.exists(dst):
        with open(src, "rb") as a, open(dst, "rb") as b:
            if a.read() == b.read():
                return
    tmp = dst + ".tmp"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def build(python=sys.executable, profile="release"):
    env = dict(os.environ)
    env.setdefault("HPY_PYTHON", python)  # hpy-sys asks it where the hpy headers are
    cmd = ["cargo", "build", "--lib", "--profile", profile, "--manifest-path", os.path.join(REPO, "Cargo.toml")]
    subprocess.run(cmd, check=True, env=env)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    _install(os.path.join(target, profile, "libhpybridge.so"), os.path.join(PACKAGE, "_runtime.hpy0.so"))
    headers = os.path.join(REPO, "capsules", "include")
    for root, _, files in os.walk(headers):
        dest = os.path.join(PACKAGE, "include", os.path.relpath(root, headers))
        os.makedirs(dest, exist_ok=True)
        for name in files:
            _install(os.path.join(root, name), os.path.join(dest, name))


if __name__ == "__main__":
    build()
