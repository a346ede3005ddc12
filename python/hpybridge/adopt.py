"""Adopting foreign C callables as `hpybridge.CFunction`s (docs/cdict.md §10).

`cfunction(obj)` recognises what `obj` is (a ctypes or cffi function pointer, a numba `@cfunc`, a
Cython `__pyx_capi__` capsule, a SciPy `LowLevelCallable`, any capsule named by a C signature, an
address with a signature), finds its address and translates its own type description into
signature text; the runtime parses that (refusing what it cannot express: `long double`, complex,
structs, unresolved typedefs such as Cython's mangled `__pyx_t_...`, never guessing) and makes an
implementation with `FLAG_FOREIGN`, no context family, called directly. Trailing parameters the
callee's convention fills in (a Cython `cpdef`'s `int __pyx_skip_dispatch`, 0; a
`LowLevelCallable`'s `void *user_data`) are bound by the runtime and not part of the signature
Python sees.

The foreign object owns the code (a numba cfunc's compiled library, a ctypes library handle, a
Cython module): it is kept alive here, in `_KEEP`, as long as the implementation, which is as long
as the process lives (implementations are never freed).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, NamedTuple

from .cdict import FLAG_FOREIGN, FLAG_NOGIL  # noqa: F401  (FLAG_FOREIGN: re-exported for readers)
from .errors import SignatureSyntaxError

#: What keeps each adopted implementation's code alive, by implementation index.
_KEEP: dict[int, list[Any]] = {}
_KEEP_LOCK = threading.Lock()

#: Cython's trailing parameter of `cpdef` functions in `__pyx_capi__`: 0 means "do not look for a
#: Python override", which is what a C caller wants.
_SKIP_DISPATCH = "int __pyx_skip_dispatch"


def _runtime() -> Any:
    return sys.modules["hpybridge._runtime"]


def _parse(text: str) -> str:
    return _runtime().parse_signature(text)


def cfunction(obj: Any, signature: str | None = None, *, name: str | None = None, nogil: bool = False) -> Any:
    """`obj`, a foreign C callable, as a `hpybridge.CFunction` of one implementation (its
    `provider` says where it came from: "ctypes", "cffi", "numba", "cython:<module>", "scipy",
    "capsule", "address"). `signature` is required for an int address and a capsule whose name is
    not a signature; for anything else it must agree with what `obj` describes. `name` names the
    entry (default: the callable's own name where it has one). `nogil=True` says the function may
    run without the GIL (`FLAG_NOGIL`, refused for a `PyObject *` signature): Python calls of it that
    pass a buffer or a pointer release the GIL around the call. A `CFunction` is returned as it is,
    or `.select(signature)`."""
    if signature is not None and not isinstance(signature, str):
        raise TypeError("cfunction() signature: expected a str, got %s" % type(signature).__name__)
    if name is not None and not isinstance(name, str):
        raise TypeError("cfunction() name: expected a str, got %s" % type(name).__name__)
    flags = _flags(nogil, "cfunction()")
    if isinstance(obj, _runtime().CFunction):
        if nogil:
            raise TypeError("cfunction(): nogil= applies to a foreign C callable being adopted; got a CFunction, "
                            "whose implementations have their flags already")
        return obj if signature is None else obj.select(signature)
    kind = _recognise(obj)
    if kind is None:
        raise TypeError(
            "cfunction(): expected a C callable (a ctypes or cffi function pointer, a numba @cfunc, a Cython "
            "__pyx_capi__ capsule, a scipy.LowLevelCallable, a PyCapsule named by its C signature, or an int "
            "address with a signature), got %s" % _describe(obj))
    return _make(kind(obj, signature, name), flags)


def cfunction_from_cython(module: Any, name: str, *, nogil: bool = False) -> Any:
    """The `cdef api` or `cpdef api` function `name` of the Cython module `module` (a module or
    its name), from its `__pyx_capi__`, as a `CFunction` (provider "cython:<module>"); a `cpdef`'s
    `__pyx_skip_dispatch` is bound to 0. `nogil` as for `cfunction` (a Cython `nogil` function)."""
    flags = _flags(nogil, "cfunction_from_cython()")
    if isinstance(module, str):
        import importlib

        module = importlib.import_module(module)
    module_name = getattr(module, "__name__", "?")
    capi = getattr(module, "__pyx_capi__", None)
    if not isinstance(capi, dict):
        raise TypeError("cfunction_from_cython(): expected a Cython module with a __pyx_capi__ dict (it has "
                        "`cdef api` functions), got %s, whose __pyx_capi__ is %s"
                        % (_describe(module), type(capi).__name__ if capi is not None else "missing"))
    if name not in capi:
        raise KeyError("cfunction_from_cython(): module %r has no function %r in its __pyx_capi__ (it has %s)"
                       % (module_name, name, ", ".join(sorted(capi)[:20]) + (", ..." if len(capi) > 20 else "")))
    return _make(_from_capsule(capi[name], None, "%s.%s" % (module_name, name), provider="cython:%s" % module_name,
                               keep=module), flags)


def _flags(nogil: Any, what: str) -> int:
    if not isinstance(nogil, bool):
        raise TypeError("%s nogil: expected a bool, got %s" % (what, type(nogil).__name__))
    return FLAG_NOGIL if nogil else 0


# -- what an object is ----------------------------------------------------------------------------


def _recognise(obj: Any) -> Any:
    """The adopter for `obj`, or None. Looks at modules already imported only: an object of theirs
    cannot exist otherwise."""
    if isinstance(obj, bool):
        return None
    if isinstance(obj, int):
        return _from_address
    ctypes = sys.modules.get("ctypes")
    if ctypes is not None and isinstance(obj, ctypes._CFuncPtr):
        return _from_ctypes
    backend = sys.modules.get("_cffi_backend")
    if backend is not None and isinstance(obj, backend._CDataBase):
        return _from_cffi
    if type(obj).__name__ == "PyCapsule":
        return lambda o, s, n: _from_capsule(o, s, n)
    scipy_callback = sys.modules.get("scipy._lib._ccallback")
    if scipy_callback is not None and isinstance(obj, scipy_callback.LowLevelCallable):
        return _from_lowlevelcallable
    ccallback = sys.modules.get("numba.core.ccallback")
    if ccallback is not None and isinstance(obj, ccallback.CFunc):
        return _from_numba
    return None


def _describe(obj: Any) -> str:
    t = type(obj)
    return "%s.%s" % (t.__module__, t.__qualname__) if t.__module__ != "builtins" else t.__qualname__


class _Adoption(NamedTuple):
    """What a recogniser found: the foreign function at `address` of the full signature `text` (its
    last `len(bound)` parameters bound), what keeps its code alive, its doc, and the visible
    signature the caller asked for (None: any)."""

    entry: str
    provider: str
    address: int
    text: str
    bound: tuple[int, ...]
    keep: Any
    doc: str
    wanted: str | None


def _make(adoption: _Adoption, flags: int) -> Any:
    """The CFunction of `adoption`'s function, its implementation with `flags`."""
    entry, provider, address, text, bound, keep, doc, wanted = adoption
    rt = _runtime()
    index = rt.cdict_adopt(entry, provider, address, text, bound, flags)
    function = rt.cdict_function(entry, (index,), doc)
    if wanted is not None and _parse(wanted) != function.signatures[0]:
        raise ValueError("%s: signature %r given, but the %s function is %r" % (
            entry, wanted, provider, function.signatures[0]))
    if keep is not None:
        with _KEEP_LOCK:
            kept = _KEEP.setdefault(index, [])
            if not any(k is keep for k in kept):
                kept.append(keep)
    return function


def _doc(entry: str, provider: str, what: str, full: str, bound: str | None) -> str:
    doc = "%s: %s adopted from %s, C signature %s" % (entry, what, provider, full)
    return doc + ("; the runtime binds %s" % bound if bound else "")


# -- ctypes ---------------------------------------------------------------------------------------

# ctypes' simple types by their `_type_` code (the struct-module letter each one is), as C names.
_CTYPES_CODES = {
    "b": "signed char", "B": "unsigned char", "h": "short", "H": "unsigned short", "i": "int",
    "I": "unsigned int", "l": "long", "L": "unsigned long", "q": "long long", "Q": "unsigned long long",
    "?": "bool", "c": "char", "f": "float", "d": "double", "z": "char *", "P": "void *", "O": "PyObject *",
}
_CTYPES_REFUSED = {"g": "long double", "u": "wchar_t", "Z": "wchar_t *", "v": "VARIANT_BOOL"}


def _ctypes_name(t: Any, where: str) -> str:
    """The C name of the ctypes type `t` (`where` says which parameter, for errors)."""
    import ctypes

    if t is None:
        return "void"
    if isinstance(t, type) and issubclass(t, ctypes._Pointer):
        target = t._type_
        if isinstance(target, type) and issubclass(target, ctypes._SimpleCData) and target._type_ == "c":
            return "char *"
        return _ctypes_name(target, where) + " *"
    if isinstance(t, type) and issubclass(t, ctypes._SimpleCData):
        code = t._type_
        if code in _CTYPES_CODES:
            return _CTYPES_CODES[code]
        raise TypeError("%s: ctypes type %s is C %s, which hpybridge's signatures cannot express" % (
            where, t.__name__, _CTYPES_REFUSED.get(code, "type code %r" % code)))
    what = getattr(t, "__name__", repr(t))
    raise TypeError("%s: ctypes type %s (%s) has no C scalar or pointer-to-scalar name hpybridge's signatures can "
                    "express (structures, unions, arrays and function pointers by value are not supported)"
                    % (where, what, _describe(t) if not isinstance(t, type) else "a %s" % t.__mro__[1].__name__))


def _from_ctypes(obj: Any, signature: str | None, name: str | None) -> Any:
    import ctypes

    label = getattr(obj, "__name__", None) or "function"
    entry = name or "ctypes.%s" % label
    if obj.argtypes is None:
        raise TypeError("cfunction(): ctypes function %s has no argtypes: set .argtypes (and .restype) to its C "
                        "parameter types, so that its signature is known rather than guessed" % label)
    if getattr(obj, "errcheck", None) is not None:
        raise TypeError("cfunction(): ctypes function %s has an errcheck, which calls through hpybridge would skip: "
                        "adopt a function without one" % label)
    flags = obj._flags_
    if flags & ~(ctypes._FUNCFLAG_CDECL | ctypes._FUNCFLAG_PYTHONAPI):
        raise TypeError("cfunction(): ctypes function %s uses errno or LastError (flags %#x), which calls through "
                        "hpybridge would not save" % (label, flags))
    args = [_ctypes_name(t, "%s argument %d" % (entry, i + 1)) for i, t in enumerate(obj.argtypes)]
    ret = _ctypes_name(obj.restype, "%s result" % entry)
    text = "%s (%s)" % (ret, ", ".join(args) or "void")
    address = ctypes.cast(obj, ctypes.c_void_p).value or 0
    if not address:
        raise ValueError("cfunction(): ctypes function %s is a NULL function pointer" % label)
    doc = _doc(entry, "ctypes", "a ctypes function pointer", text, None)
    return _Adoption(entry, "ctypes", address, text, (), obj, doc, signature)


# -- cffi -----------------------------------------------------------------------------------------


def _cffi_name(t: Any, where: str) -> str:
    kind = t.kind
    if kind == "void":
        return "void"
    if kind == "primitive":
        name = t.cname
        if name == "_Bool":
            return "bool"
        return name
    if kind == "pointer":
        item = t.item
        if item.kind == "function":
            raise TypeError("%s: cffi type %s is a function pointer, which hpybridge's signatures cannot express"
                            % (where, t.cname))
        return _cffi_name(item, where) + " *"
    raise TypeError("%s: cffi type %s is a %s, which hpybridge's signatures cannot express (scalars and pointers "
                    "to them only)" % (where, t.cname, kind))


def _from_cffi(obj: Any, signature: str | None, name: str | None) -> Any:
    backend = sys.modules["_cffi_backend"]
    t = backend.typeof(obj)
    if t.kind != "function":
        raise TypeError("cfunction(): expected a cffi function pointer, got a cffi %s (%s)" % (t.kind, t.cname))
    entry = name or "cffi.function"  # a cffi function pointer does not know its C name
    if t.ellipsis:
        raise TypeError("cfunction(): cffi function %s %s is variadic, which hpybridge's signatures cannot express"
                        % (entry, t.cname))
    args = [_cffi_name(a, "%s argument %d" % (entry, i + 1)) for i, a in enumerate(t.args)]
    text = "%s (%s)" % (_cffi_name(t.result, "%s result" % entry), ", ".join(args) or "void")
    address = int(backend.cast(backend.new_primitive_type("uintptr_t"), obj))
    if not address:
        raise ValueError("cfunction(): cffi function %s is a NULL function pointer" % entry)
    doc = _doc(entry, "cffi", "a cffi function pointer", text, None)
    return _Adoption(entry, "cffi", address, text, (), obj, doc, signature)


# -- numba ----------------------------------------------------------------------------------------


def _from_numba(obj: Any, signature: str | None, name: str | None) -> Any:
    entry = name or "numba.%s" % getattr(getattr(obj, "_pyfunc", None), "__name__", "cfunc")
    try:
        proto = obj.ctypes  # numba's own translation of the cfunc's signature to C types
    except Exception as e:  # numba raises TypeError or NotImplementedError for types C lacks
        raise TypeError("cfunction(): numba cfunc %s has signature %s, which has no C form: %s" % (
            entry, obj._sig, e)) from None
    args = [_ctypes_name(t, "%s argument %d" % (entry, i + 1)) for i, t in enumerate(proto.argtypes)]
    text = "%s (%s)" % (_ctypes_name(proto.restype, "%s result" % entry), ", ".join(args) or "void")
    doc = _doc(entry, "numba", "numba @cfunc %s" % obj._sig, text, None)
    return _Adoption(entry, "numba", obj.address, text, (), obj, doc, signature)


# -- capsules: Cython, SciPy, any capsule named by a signature ------------------------------------


def _from_capsule(obj: Any, signature: str | None, name: str | None, provider: str = "capsule",
                  keep: Any = None) -> Any:
    own, address, _ = _runtime().capsule_contents(obj, None)
    entry = name or "%s.function" % provider.split(":")[-1]
    wanted = None
    if own is not None and "(" in own:
        # Named by a signature: that is the function's, and `signature` may only agree with it.
        text, wanted = own, signature
    elif signature is not None:
        text = signature
    elif own is None:
        raise ValueError("cfunction(): the capsule has no name; pass signature= to say what C function it holds")
    else:
        raise SignatureSyntaxError("cfunction(): expected a capsule named by a C signature, got one named %r (pass "
                                   "signature= to say what C function it holds)" % own)
    try:
        full = _parse(text)
    except ValueError as e:
        if text is not own:
            raise
        what = "Cython function %s" % entry if provider.startswith("cython:") else "the capsule's function"
        raise type(e)("cfunction(): %s has the C signature %r, which hpybridge's signatures cannot express "
                      "(long double, complex and typedefs they do not know are refused, not guessed): %s"
                      % (what, own, e)) from None
    bound: tuple[int, ...] = ()
    binds = None
    if text.replace(" ", "").endswith(_SKIP_DISPATCH.replace(" ", "") + ")"):
        # Cython's cpdef convention: a C caller passes 0 (no lookup of a Python override).
        bound, binds = (0,), "%s = 0" % _SKIP_DISPATCH
    what = "a Cython __pyx_capi__ function" if provider.startswith("cython:") else "a PyCapsule's function"
    doc = _doc(entry, provider, what, full, binds)
    return _Adoption(entry, provider, address, text, bound, keep if keep is not None else obj, doc, wanted)


def _from_lowlevelcallable(obj: Any, signature: str | None, name: str | None) -> Any:
    capsule, function, user_data = tuple.__getitem__(obj, 0), obj.function, obj.user_data
    rt = _runtime()
    own, address, context = rt.capsule_contents(capsule, None)
    entry = name or "scipy.%s" % (getattr(function, "__name__", None) or "lowlevelcallable")
    try:
        full = _parse(own)
    except ValueError as e:
        raise type(e)("cfunction(): the LowLevelCallable's signature %r is not one hpybridge can express: %s"
                      % (own, e)) from None
    params = full[full.index("(") + 1:-1]
    bound: tuple[int, ...] = ()
    binds = None
    if params.endswith("void *"):
        # SciPy's convention: a trailing `void *` is the user_data, which the capsule's context holds.
        bound, binds = (context,), "void *user_data = %#x" % context
    elif user_data is not None:
        raise ValueError("cfunction(): the LowLevelCallable has user_data but its signature %r has no trailing "
                         "void * to pass it in" % own)
    doc = _doc(entry, "scipy", "a scipy.LowLevelCallable", full, binds)
    return _Adoption(entry, "scipy", address, own, bound, (obj, capsule, function, user_data), doc, signature)


# -- an address -----------------------------------------------------------------------------------


def _from_address(obj: int, signature: str | None, name: str | None) -> Any:
    if signature is None:
        raise TypeError("cfunction(): an int address needs signature= (the C signature of the function there)")
    if not 0 < obj < 2 ** 64:
        raise ValueError("cfunction(): address %#x is not a function address (1 to 2**64-1)" % obj)
    entry = name or "address.0x%x" % obj
    doc = _doc(entry, "address", "the C function at %#x" % obj, signature, None)
    return _Adoption(entry, "address", obj, signature, (), None, doc, None)


def cdict_set(obj: Any, name: str, function: Any) -> None:
    """Adds the implementations of `function` (a `CFunction`: adopted by `cfunction`, or any other
    entry) as entry `name` of `obj`'s own `__cdict__`, as `HPyBridge_CDictSet` does from C:
    `HPyBridge_CDictLookup` then finds them (an adopted function takes no context, so every consumer
    family gets the function itself; one with bound arguments a binding stub that passes them)."""
    _runtime().cdict_set(obj, name, function)
