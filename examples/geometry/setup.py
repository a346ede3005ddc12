"""`pip install --no-build-isolation examples/geometry` (in an environment with hpybridge,
hpy==0.9.0 and Cython): the provider `geometry` and its consumers, importable by name: `shapes`
(HPy, in the mode `HPY` selects, on CPython and PyPy), `shapes_capi` (plain C-API) and `shapes_cy`
(Cython), which call the provider through its CPython-API stubs. See hpybridge.extension."""

from setuptools import setup

from hpybridge.extension import CAPIExtension, HPyExtension, build_ext

setup(
    name="hpybridge-geometry-example",
    version="0.1.0",
    description="hpybridge example: an HPy provider of the geometry API and HPy, C-API and Cython consumers",
    ext_modules=[
        HPyExtension("geometry", ["geometry.c"], api_specs=["geometry.toml"], libraries=["m"]),
        HPyExtension("shapes", ["shapes.c"], api_specs=["geometry.toml"]),
        CAPIExtension("shapes_capi", ["shapes_capi.c"], api_specs=["geometry.toml"]),
        CAPIExtension("shapes_cy", ["shapes_cy.pyx"], api_specs=["geometry.toml"]),
    ],
    cmdclass={"build_ext": build_ext},
)
