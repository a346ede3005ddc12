"""`pip install --no-build-isolation examples/geometry` (in an environment with hpybridge and
hpy==0.9.0): the provider `geometry` and its consumer `shapes`, importable by name on CPython and
PyPy, in the HPy mode `HPY` selects. See hpybridge.extension."""

from setuptools import setup

from hpybridge.extension import HPyExtension, build_ext

setup(
    name="hpybridge-geometry-example",
    version="0.1.0",
    description="hpybridge example: an HPy provider of the geometry API and an HPy consumer of it",
    ext_modules=[
        HPyExtension("geometry", ["geometry.c"], api_specs=["geometry.toml"], libraries=["m"]),
        HPyExtension("shapes", ["shapes.c"], api_specs=["geometry.toml"]),
    ],
    cmdclass={"build_ext": build_ext},
)
