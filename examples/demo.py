"""`make demo`: builds the runtime's sample extension and shows what loads where.

Run by the Makefile on CPython and then on PyPy: both load the very same `.hpy0.so` files (compare
the sha256 columns). The runtime loads once per process, so each of its modes gets a process.
"""

import hashlib
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


if __name__ == "__main__":
    main()
