"""hpybridge: HPy extensions exporting C APIs to each other, across HPy modes and interpreters.

Importing the package loads its runtime, `hpybridge._runtime`, an HPy universal extension, in the
mode the `HPY` environment variable selects (see `hpybridge.loader`).
"""

from __future__ import annotations

import os
from typing import Any

from . import errors
from .loader import MODES, LoadError, load_extension, mode_from_env

__version__ = "0.1.0"
__all__ = ["MODES", "CFunction", "LoadError", "abi_info", "apis", "box", "call_counts", "cdict_set", "cfunction",
           "cfunction_from_cython", "count_calls", "errors", "fallback_signature", "foreign_signature", "get_include",
           "import_capi", "load_extension", "mode_from_env", "parse_signature", "trampoline_info", "unbox"]

_here = os.path.dirname(os.path.abspath(__file__))
_runtime_path = os.path.join(_here, "_runtime.hpy0.so")
if not os.path.exists(_runtime_path):
    raise ImportError(
        "hpybridge's runtime %s is not built: run `make build` in the source tree, or `pip install .`"
        % _runtime_path
    )
_runtime = load_extension("hpybridge._runtime", _runtime_path, register=True)

from .adopt import cdict_set, cfunction, cfunction_from_cython  # noqa: E402
from .cdict import CFunction, box, unbox  # noqa: E402  (needs the runtime loaded above)
from .export import numba_support  # noqa: E402

numba_support()  # if numba is already imported: CFunction is a WrapperAddressProtocol (docs/export.md)


def abi_info() -> dict[str, str]:
    """The runtime's version, the HPy ABI it was built for and the context it runs in."""
    return _runtime.abi_info()


def get_include() -> str:
    """The directory holding hpybridge's C headers, for extensions that use it."""
    return os.path.join(_here, "include")


def apis(module: str | None = None) -> list[dict[str, Any]]:
    """The APIs registered with the runtime (optionally only those `module` provides), each a dict:
    name, version, module, family, mode, file, slots (name, signature) and consumers (module, file,
    family, mode, version they need, slots they use, how often they imported)."""
    return [a for a in _runtime.apis() if module is None or a["module"] == module]


def parse_signature(text: str, keep_const: bool = False) -> str:
    """The canonical spelling of a C signature; `hpybridge.errors.SignatureSyntaxError` if malformed.
    With `keep_const`, pointer targets declared `const` keep it (`const double *`): the spelling the
    generator writes into a provider's table, so that `__cdict__` calls know what is read-only."""
    return _runtime.qualified_signature(text) if keep_const else _runtime.parse_signature(text)


def fallback_signature(text: str) -> str:
    """The CPython-API form of an HPy signature (docs/fallback-stubs.md), e.g.
    'PyObject * (PyObject *)' for 'HPy (HPyContext *, HPy)'; `hpybridge.errors.NoFallbackError`
    saying why if it has none, `SignatureSyntaxError` if it is malformed."""
    return _runtime.fallback_signature(text)


def foreign_signature(text: str) -> str:
    """The HPy form of a foreign C-API signature (docs/foreign-capsules.md), e.g.
    'HPy (HPyContext *, HPy, double)' for 'PyObject * (PyObject *, double)'; ValueError saying why
    if it has none, `SignatureSyntaxError` if it is malformed."""
    return _runtime.foreign_signature(text)


def import_capi(module: str, api: str, major: int, minor: int, slots: Any, at: int) -> int:
    """What `import_<api>_capi()` of a generated `<api>_capi.h` calls: imports `module`, checks
    its API `api` against the consumer's declaration (version `major.minor`, `slots` a sequence of
    (name, CPython-API signature) pairs in slot order, `at` an address inside the consumer's shared
    object, for `apis()`) and returns the address of the table of CPython-API stubs. Raises the
    `hpybridge.errors.APIImportError` subclass that names both sides."""
    return _runtime.import_capi(module, api, major, minor, tuple(tuple(s) for s in slots), at)


def count_calls(on: bool = True) -> bool:
    """Switches call accounting on (every API table's calls then go through counting stubs, from
    zero) or off (tables point straight at their functions again: no cost). Returns the old state."""
    return _runtime.count_calls(on)


def call_counts() -> list[dict[str, Any]]:
    """Calls counted per edge since `count_calls(True)`: dicts with api, provider, provider_family,
    function, consumer, consumer_file, consumer_family ("C-API" for consumers of the CPython-API
    stubs: C, Cython, PyO3) and calls."""
    return _runtime.call_counts()


def trampoline_info() -> dict[str, Any]:
    """The trampoline backend in use ('dynasm' or 'libffi', chosen by HPYBRIDGE_TRAMPOLINES) and the
    bytes of executable memory its trampolines take."""
    return _runtime.trampoline_info()
