"""Loads HPy universal extensions (`<name>.hpy0.so`) in a chosen HPy mode, on CPython or PyPy.

A `.hpy0.so` is not importable by itself: something has to hand it to the interpreter's HPy loader
(`hpy.universal` on CPython, `_hpy_universal` on PyPy and GraalPy) together with a mode. This module is that
something, for hpybridge's own runtime and for any extension (see `write_stub` in `devel`).

Before loading, the file is checked so that a wrong file gives a `LoadError` saying what was
expected and what was found, instead of a dlopen message or a crash.

Mode selection follows HPy's `HPY` environment variable, with one deliberate difference:
- unset: universal; `HPY=universal|debug|trace`: that mode for every module;
  `HPY=` (empty): debug, as on CPython's own loader;
- `HPY=name:mode,...`: per module; `name` matches the module's full name or a package it is in
  (the longest match wins); an entry without `name:` is the default for unlisted modules.
  HPy's own loader rejects any module not listed; we load it in the default (universal) mode,
  so that naming one module does not break every other HPy extension in the process.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import types
from collections.abc import Mapping
from typing import Any

from . import elf, failed_init

MODES = ("universal", "debug", "trace")
_MODE_NUMBERS = {"universal": 0, "debug": 1, "trace": 2}  # hpy.universal.MODE_*


class LoadError(ImportError):
    """A file could not be loaded as the HPy extension module it was asked to be."""


def _backend():
    # PyPy (and, by its sources, GraalPy: docs/graalpy.md) build HPy in, as `_hpy_universal`;
    # CPython's loader comes from the `hpy` package.
    if sys.implementation.name != "cpython":
        try:
            import _hpy_universal

            return _hpy_universal
        except ImportError:
            pass
    try:
        import hpy.universal
    except ImportError as e:
        raise LoadError(
            "hpybridge needs HPy's loader: built into PyPy and GraalPy as _hpy_universal, on CPython the 'hpy' "
            "package (pip install hpy==0.9.0); %s" % e
        ) from e
    return hpy.universal


def mode_from_env(module_name: str, env: Mapping[str, str] | None = None) -> str:
    """The mode `HPY` selects for `module_name` (see the module docstring)."""
    value = (os.environ if env is None else env).get("HPY")
    if value is None:
        return "universal"
    if value == "":
        return "debug"
    default, best, best_len = "universal", None, -1
    for entry in value.split(","):
        name, colon, mode = entry.strip().rpartition(":")
        mode = mode.strip()
        if mode not in MODES:
            raise ValueError(
                "HPY=%r: expected a mode among %s, found %r" % (value, ", ".join(MODES), mode)
            )
        if not colon:
            default = mode
        elif (module_name == name or module_name.startswith(name + ".")) and len(name) > best_len:
            best, best_len = mode, len(name)
    return best or default


def _check_file(name, path):
    base = os.path.basename(path)
    short = name.rpartition(".")[2].replace("-", "_")
    what = "cannot load HPy extension module %r from %s: " % (name, path)
    if not os.path.isfile(path):
        raise LoadError(what + "no such file", name=name, path=path)
    if not base.endswith(".hpy0.so"):
        raise LoadError(
            what + "expected a file name ending in '.hpy0.so' (the HPy universal ABI tag), found %r" % base,
            name=name, path=path,
        )
    try:
        symbols = elf.exported_symbols(path)
    except (elf.NotELFError, OSError) as e:
        raise LoadError(what + "expected an ELF shared object, found %s" % e, name=name, path=path) from None
    defined = sorted(s[len("HPyInit_"):] for s in symbols if s.startswith("HPyInit_"))
    if not defined:
        raise LoadError(what + "the file defines no HPy module (no HPyInit_<name> symbol)", name=name, path=path)
    if short not in defined:
        raise LoadError(
            what + "expected the HPy module %r (symbol HPyInit_%s), the file defines %s"
            % (short, short, ", ".join(repr(d) for d in defined)),
            name=name, path=path,
        )
    for sym in ("get_required_hpy_major_version_", "get_required_hpy_minor_version_"):
        if sym + short not in symbols:
            raise LoadError(what + "symbol %s%s is missing: not built with HPy_MODINIT" % (sym, short),
                            name=name, path=path)


def load_extension(name: str, path: str | os.PathLike[str], mode: str | None = None,
                   register: bool = False) -> types.ModuleType:
    """Loads the HPy module `name` from `path` in `mode` (default: what `HPY` selects) and returns it.

    With `register`, the module is also put in `sys.modules[name]`, so that other extensions can
    import it (`HPyImport_ImportModule`).
    """
    path = os.path.abspath(path)
    if mode is None:
        mode = mode_from_env(name)
    if mode not in _MODE_NUMBERS:
        raise ValueError("mode: expected one of %s, found %r" % (", ".join(MODES), mode))
    _check_file(name, path)
    backend = _backend()
    # The spec's name is an object of this load's own: it identifies the module if the load fails.
    spec = importlib.machinery.ModuleSpec(failed_init.fresh_name(name), None, origin=path)
    try:
        module = failed_init.load_guarded(
            lambda: backend.load(name, path, spec, debug=False, mode=_MODE_NUMBERS[mode]), spec.name)
    except BaseException as e:
        # dlopen failures: RuntimeError on CPython, ImportError on PyPy. Anything more specific was
        # raised by the module's own initialisation (an exec slot) and is passed on as it is.
        if type(e) not in (RuntimeError, ImportError):
            raise
        raise LoadError("cannot load HPy extension module %r from %s: %s" % (name, path, e),
                        name=name, path=path) from e
    if getattr(module, "__file__", None) is None:
        module.__file__ = path
    if register:
        sys.modules[name] = module
    return module


def bootstrap(module_name: str, path: str, namespace: dict[str, Any]) -> types.ModuleType:
    """Body of a generated `.py` stub: loads the extension next to it and takes the stub's place."""
    module = load_extension(module_name, path)
    module.__loader__ = namespace.get("__loader__")
    sys.modules[module_name] = module
    return module
