"""The `__cdict__` protocol from Python (docs/cdict.md).

Every module that exports an API through hpybridge has a read-only mapping `__cdict__` from entry
name to `CFunction`: the API's C functions, callable from Python, with their HPy signature and,
where one exists, their CPython-API (`PyObject *`) one. `box` and `unbox` convert between Python
values and the bytes of C values by the same rules calls marshal with.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple


def _runtime() -> Any:
    # Not imported at module level: the runtime's own initialisation imports this module.
    return sys.modules["hpybridge._runtime"]


def _call(key: int | tuple[int, ...], *args: Any) -> Any:
    global _call
    _call = _runtime().cdict_call  # from now on, straight to the runtime
    return _call(key, *args)


#: The implementation is a CPython-API stub: `PyObject *` where the HPy one has `HPy`, no context.
FLAG_CAPI = 1
#: The implementation may be called without the GIL (reserved: nothing sets it yet).
FLAG_NOGIL = 2


class Implementation(NamedTuple):
    """One C function of an entry: its canonical signature, the context family it runs in (its
    provider's; None for a CPython-API stub, which takes no context), its provider module, its
    flags (`FLAG_*`), and why Python cannot call it (None if it can)."""

    signature: str
    family: str | None
    provider: str
    flags: int
    refused: str | None


class CFunction:
    """A C entry point: one or more implementations keyed by canonical signature.

    Calling it from Python marshals the arguments by the C types of the implementation it picks:
    the first, in order, whose parameters all accept the arguments (an entry's HPy implementation
    comes before its CPython-API one); if none does, the first implementation's error is raised.
    Equality is identity. Made by the runtime (`__cdict__`), not by hand.
    """

    __slots__ = ("_name", "_implementations", "_indices", "_key", "doc", "__weakref__")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("CFunction objects come from a __cdict__; they cannot be made by hand")

    @classmethod
    def _make(cls, name: str, implementations: list[tuple[Implementation, int]], doc: str) -> CFunction:
        self = object.__new__(cls)
        self._name = name
        self._implementations = tuple(i for i, _ in implementations)
        self._indices = tuple(n for _, n in implementations)
        # What the runtime's cdict_call takes: the one index, or all of them.
        self._key = self._indices[0] if len(self._indices) == 1 else self._indices
        self.doc = doc
        return self

    @property
    def name(self) -> str:
        """`<module>.<entry>`."""
        return self._name

    @property
    def signatures(self) -> tuple[str, ...]:
        """The canonical signatures of the implementations, in the order calls try them."""
        return tuple(i.signature for i in self._implementations)

    @property
    def implementations(self) -> tuple[Implementation, ...]:
        return self._implementations

    def select(self, signature: str) -> CFunction:
        """A CFunction of this entry's implementation of `signature` alone (any spelling the
        parser accepts); KeyError if it has none."""
        canonical = _runtime().parse_signature(signature)
        for imp, index in zip(self._implementations, self._indices):
            if imp.signature == canonical:
                return CFunction._make(self._name, [(imp, index)], self.doc)
        raise KeyError("%s has no implementation %r (it has %s)" % (self._name, canonical, ", ".join(
            repr(s) for s in self.signatures)))

    def __call__(self, *args: Any) -> Any:
        return _call(self._key, *args)

    def __repr__(self) -> str:
        parts = ["%s [%s]" % (i.signature, i.family or "C-API") for i in self._implementations]
        return "<hpybridge.CFunction %s: %s>" % (self._name, "; ".join(parts))

    def __reduce__(self) -> Any:
        raise TypeError("CFunction objects cannot be pickled: they hold C function pointers")


class ModuleCDict(Mapping):
    """A module's `__cdict__`: read-only, entry name -> CFunction, over every API the module
    exports. Entries are made on first use; an entry name exported by two of the module's APIs
    belongs to the first."""

    __slots__ = ("_apis", "_entries")

    def __init__(self) -> None:
        self._apis: list[str] = []
        self._entries: dict[str, CFunction] | None = None

    def _load(self) -> dict[str, CFunction]:
        if self._entries is None:
            entries: dict[str, CFunction] = {}
            for api in self._apis:
                for name, raw in _runtime().cdict_entries(api):
                    if name in entries:
                        continue
                    implementations = [(Implementation(sig, family, provider, flags, refused), index)
                                       for sig, index, family, provider, flags, refused in raw]
                    provider = implementations[0][0].provider
                    doc = "%s.%s: function %r of the %s API, %s" % (
                        provider, name, name, api, "; ".join(i.signature for i, _ in implementations))
                    entries[name] = CFunction._make("%s.%s" % (provider, name), implementations, doc)
            self._entries = entries
        return self._entries

    def __getitem__(self, name: str) -> CFunction:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return "<hpybridge __cdict__ of the %s API%s: %s>" % (
            ", ".join(self._apis), "s" if len(self._apis) > 1 else "", ", ".join(self._load()))


def _exported(module: Any, api: str) -> None:
    """Called by the runtime when `module` exports `api`: adds it to `module.__cdict__`. Pure
    Python on purpose: it runs inside the provider's initialisation, maybe in debug mode, where
    PyPy must not re-enter a debug-mode module."""
    cdict = module.__dict__.get("__cdict__")
    if not isinstance(cdict, ModuleCDict):
        cdict = ModuleCDict()
        module.__cdict__ = cdict
    if api not in cdict._apis:
        cdict._apis.append(api)
        cdict._entries = None


def _foreign_address(obj: Any) -> int | None:
    """The address a ctypes or cffi pointer holds (0 for NULL), or None if `obj` is neither.
    Looks only at modules already imported: an object of theirs cannot exist otherwise."""
    ctypes = sys.modules.get("ctypes")
    if ctypes is not None and isinstance(obj, (ctypes._Pointer, ctypes.c_void_p, ctypes.c_char_p)):
        return ctypes.cast(obj, ctypes.c_void_p).value or 0
    backend = sys.modules.get("_cffi_backend")
    if backend is not None and isinstance(obj, backend._CDataBase):
        if backend.typeof(obj).kind in ("pointer", "array"):
            return int(backend.cast(backend.new_primitive_type("uintptr_t"), obj))
    return None


def box(ctype: str, value: Any) -> bytes:
    """`value` as the bytes of a C `ctype` (native byte order), by the rules calls marshal with:
    integers (range-checked), bool, float, double, and pointers from an int address or None."""
    return _runtime().box(ctype, value)


def unbox(ctype: str, data: bytes) -> Any:
    """The Python value of the C `ctype` whose bytes are `data` (pointers: their address)."""
    return _runtime().unbox(ctype, data)
