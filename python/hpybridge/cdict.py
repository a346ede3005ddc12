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


#: The implementation is a CPython-API stub: `PyObject *` where the HPy one has `HPy`, no context.
FLAG_CAPI = 1
#: The implementation may be called without the GIL (the provider's `nogil`, HPYBRIDGE_ENTRY_NOGIL):
#: Python calls of one that takes a pointer release the GIL around the C call.
FLAG_NOGIL = 2
#: The implementation is a foreign C function adopted by `hpybridge.cfunction` (no context, no family).
FLAG_FOREIGN = 4


class Implementation(NamedTuple):
    """One C function of an entry: its canonical signature, the context family it runs in (its
    provider's; None for a CPython-API stub, which takes no context), its provider module, its
    flags (`FLAG_*`), and why Python cannot call it (None if it can)."""

    signature: str
    family: str | None
    provider: str
    flags: int
    refused: str | None


def __getattr__(name: str) -> Any:
    # `CFunction` is the runtime's native type (hpybridge._runtime.CFunction, defined in
    # src/module/cfunction.c): its call slot marshals the arguments with no Python frame.
    if name == "CFunction":
        return _runtime().CFunction
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def _doc(provider_doc: str | None, about: str) -> str:
    """A `CFunction`'s `doc`: the provider's text for the entry (its spec's `doc`), then what it is."""
    return "%s\n\n%s" % (provider_doc, about) if provider_doc else about


class ModuleCDict(Mapping):
    """A module's `__cdict__`: read-only, entry name -> CFunction, over every API the module
    exports. Entries are made on first use; an entry name exported by two of the module's APIs
    belongs to the first."""

    __slots__ = ("_apis", "_entries")

    def __init__(self) -> None:
        self._apis: list[str] = []
        self._entries: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            entries: dict[str, Any] = {}
            for api in self._apis:
                for name, raw, spec_doc in _runtime().cdict_entries(api):
                    if name in entries:
                        continue
                    provider = raw[0][3]
                    doc = _doc(spec_doc, "%s.%s: function %r of the %s API, %s" % (
                        provider, name, name, api, "; ".join(sig for sig, *_ in raw)))
                    entries[name] = _runtime().cdict_function(
                        "%s.%s" % (provider, name), tuple(index for _, index, *_ in raw), doc)
            self._entries = entries
        return self._entries

    def __getitem__(self, name: str) -> Any:
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


class ObjectCDict(Mapping):
    """A type's or a single object's `__cdict__` (entries set by `HPyBridge_CDictSet` or a
    generated `register_<type>_cdict`): read-only, entry name -> CFunction. Never changed once
    made: adding an entry makes a new mapping, with a new lookup table in the runtime (`_table`,
    what `HPyBridge_CDictLookup` reads)."""

    __slots__ = ("_table", "_owner", "_raw", "_docs", "_entries")

    def __init__(self, owner: str, table: int, raw: dict[str, list[tuple[Implementation, int]]],
                 docs: dict[str, str] | None = None) -> None:
        self._owner = owner
        self._table = table
        self._raw = raw
        self._docs = docs or {}
        self._entries: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        entry = self._entries.get(name)
        if entry is None:
            implementations = self._raw[name]
            doc = _doc(self._docs.get(name), "%s.%s: %s" % (
                self._owner, name, "; ".join(i.signature for i, _ in implementations)))
            entry = self._entries[name] = _runtime().cdict_function(
                "%s.%s" % (self._owner, name), tuple(index for _, index in implementations), doc)
        return entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return "<hpybridge __cdict__ of %s: %s>" % (self._owner, ", ".join(self._raw))


def _own_cdict(obj: Any) -> Any:
    namespace = getattr(obj, "__dict__", None)
    if namespace is None or not hasattr(namespace, "get"):
        return None
    return namespace.get("__cdict__")


def _own_table(obj: Any) -> int | None:
    """The runtime's lookup table of `obj`'s own `__cdict__` (not inherited), if it has one."""
    cdict = _own_cdict(obj)
    return cdict._table if isinstance(cdict, ObjectCDict) else None


def _same_for_instances(t: type) -> bool:
    """Whether `obj.__cdict__` is the same for every instance `obj` of `t`, given that they have no
    `__dict__` (the runtime's lookup cache asks once per type before it answers for the type,
    docs/cdict.md §7): attribute lookup is object's own (`__getattribute__`, no `__getattr__`), and
    what the MRO has as `__cdict__`, if anything, is no descriptor that could answer per instance (a
    `__slots__` member, a property). Pure Python: it runs inside a consumer's lookup."""
    if getattr(t, "__getattribute__", None) is not object.__getattribute__ or hasattr(t, "__getattr__"):
        return False
    for klass in t.__mro__:
        namespace = klass.__dict__
        if "__cdict__" in namespace:
            return not hasattr(type(namespace["__cdict__"]), "__get__")
    return True


def _set_entry(obj: Any, table: int, name: str, signature: str, index: int, family: str, provider: str,
               flags: int, refused: str | None, doc: str | None = None) -> None:
    """Called by the runtime (`HPyBridge_CDictSet`): `obj.__cdict__` becomes a new mapping, its own
    entries and this one (replacing an implementation of the same signature), over lookup table
    `table`; `doc`, if given, becomes the entry's doc. Pure Python on purpose, like `_exported`."""
    owner = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    if isinstance(obj, type):
        what = "type %r" % owner
    elif isinstance(obj, type(sys)):
        what = "module %r" % obj.__name__
    else:
        what = "an object of type %r" % owner
    old = _own_cdict(obj)
    if old is not None and not isinstance(old, ObjectCDict):
        raise TypeError("HPyBridge_CDictSet(): %s already has a __cdict__ of another kind (%s)" % (
            what, type(old).__name__))
    raw = {k: list(v) for k, v in old._raw.items()} if old is not None else {}
    docs = dict(old._docs) if old is not None else {}
    if doc:
        docs[name] = doc
    implementations = [(i, n) for i, n in raw.get(name, []) if i.signature != signature]
    implementations.append((Implementation(signature, family, provider, flags, refused), index))
    raw[name] = implementations
    try:
        if isinstance(obj, type):
            type.__setattr__(obj, "__cdict__", ObjectCDict(owner, table, raw, docs))
        else:
            object.__setattr__(obj, "__cdict__", ObjectCDict(owner, table, raw, docs))
    except (AttributeError, TypeError) as e:
        raise TypeError("HPyBridge_CDictSet(): cannot set the __cdict__ of %s: %s" % (what, e)) from None


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
