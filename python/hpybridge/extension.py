"""setuptools integration: pip-installable HPy extensions that provide or consume hpybridge APIs.

In a `setup.py`:

    from setuptools import setup
    from hpybridge.extension import HPyExtension, build_ext

    setup(
        name="geometry-example",
        ext_modules=[
            HPyExtension("geometry", ["geometry.c"], api_specs=["geometry.toml"]),
            HPyExtension("shapes", ["shapes.c"], api_specs=["geometry.toml"]),
            CAPIExtension("shapes_capi", ["shapes_capi.c"], api_specs=["geometry.toml"]),
            CAPIExtension("shapes_cy", ["shapes_cy.pyx"], api_specs=["geometry.toml"]),
        ],
        cmdclass={"build_ext": build_ext},
    )

For each `HPyExtension`, `build_ext`:
- runs the generator (`hpybridge.gen`) on each API spec into the build folder, so the sources
  include `<api>_api.h` (consumers) and `<api>_export.h` (providers), and puts that folder and
  hpybridge's own headers on the include path;
- compiles for HPy's universal ABI (HPy's `forbid_python_h` first on the include path, its runtime
  helper sources, `-DHPY -DHPY_ABI_UNIVERSAL`) into `<name>.hpy0.so`: one binary for CPython and
  PyPy, and for every HPy mode;
- writes `<name>.py` beside it, a stub that loads it through `hpybridge.loader`, so `import <name>`
  works on both interpreters, in the mode `HPY` selects (`HPY=geometry:debug`, ...), with
  hpybridge's protection of failed initialisations (docs/failed-module-init.md).

For each `CAPIExtension` (a plain C-API or Cython consumer, built for the interpreter that builds
it), `build_ext` generates the same files into the build folder and puts it on the include path, so
C sources include `<api>_capi.h` and Cython sources `cimport <api>_capi` (docs/fallback-stubs.md);
`.pyx` sources are translated by Cython first, with that folder on its include path.

Other extensions in the same `setup()` build as usual. The build needs hpybridge and hpy==0.9.0
importable (on CPython): `pip install --no-build-isolation .` in an environment that has them, or
list both in `[build-system] requires`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from setuptools import Extension
from setuptools.command.build_ext import build_ext as _build_ext

from . import devel

__all__ = ["CAPIExtension", "HPyExtension", "build_ext"]


class HPyExtension(Extension):
    """An HPy universal extension module; `api_specs` are the hpybridge API specs (TOML files,
    relative to the setup script) whose headers its sources include."""

    def __init__(self, name: str, sources: list[str], *args: Any, api_specs: Sequence[str] = (),
                 **kw: Any) -> None:
        super().__init__(name, sources, *args, **kw)
        self.api_specs = list(api_specs)


class CAPIExtension(Extension):
    """A C-API or Cython extension module that consumes hpybridge APIs through their CPython-API
    stubs; `api_specs` as for `HPyExtension`. `.pyx` sources are cythonized against the generated
    `<api>_capi.pxd`."""

    def __init__(self, name: str, sources: list[str], *args: Any, api_specs: Sequence[str] = (),
                 **kw: Any) -> None:
        super().__init__(name, sources, *args, **kw)
        self.api_specs = list(api_specs)


class build_ext(_build_ext):
    """setuptools' build_ext, which also builds `HPyExtension`s (see the module docstring)."""

    def get_ext_filename(self, fullname: str) -> str:
        if isinstance(self.ext_map.get(fullname), HPyExtension):
            # HPy's loaders accept only this tag: no interpreter or platform in the name.
            return os.path.join(*fullname.split(".")) + ".hpy0.so"
        return super().get_ext_filename(fullname)

    def build_extension(self, ext: Extension) -> None:
        if isinstance(ext, CAPIExtension):
            self._configure_capi(ext)
        if not isinstance(ext, HPyExtension):
            super().build_extension(ext)
            return
        self._configure_universal(ext)
        super().build_extension(ext)
        devel.write_stub(self.get_ext_fullpath(ext.name))

    def _generate(self, ext: HPyExtension | CAPIExtension) -> str:
        """Runs the generator on `ext`'s API specs into the build folder, which it returns."""
        from . import gen

        generated = os.path.join(os.path.abspath(self.build_temp), "hpybridge-gen")
        for spec in ext.api_specs:
            gen.generate(gen.load_spec(spec), generated)
        return generated

    def _configure_capi(self, ext: CAPIExtension) -> None:
        generated = self._generate(ext)
        ext.include_dirs = [generated, *ext.include_dirs]
        sources = []
        for source in ext.sources:
            if source.endswith(".pyx"):
                out = os.path.join(os.path.abspath(self.build_temp), os.path.basename(source)[:-4] + ".c")
                devel.cythonize(source, out, [generated])
                source = out
            sources.append(source)
        ext.sources = sources

    def _configure_universal(self, ext: HPyExtension) -> None:
        generated = self._generate(ext)
        from . import get_include

        includes, helpers = devel.universal_abi()
        # Ours first: forbid_python_h must come before the Python include directory setuptools adds.
        ext.include_dirs = [*includes, generated, get_include(), *ext.include_dirs]
        ext.sources = [*ext.sources, *(h for h in helpers if h not in ext.sources)]
        ext.define_macros = [*ext.define_macros, *(m for m in devel.UNIVERSAL_MACROS if m not in ext.define_macros)]
