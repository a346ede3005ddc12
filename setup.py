"""Runs cargo before packaging: the runtime is a Rust cdylib that setuptools cannot build itself."""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
import build_runtime  # noqa: E402


class BuildRuntimeFirst(build_py):
    def run(self):
        build_runtime.build(python=os.environ.get("HPY_PYTHON", sys.executable))
        super().run()


class BinaryDistribution(Distribution):
    """The wheel carries a native library, so it must be tagged for a platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildRuntimeFirst}, distclass=BinaryDistribution)
