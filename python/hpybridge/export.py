"""Exporting `CFunction`s to foreign callers: ctypes, cffi, SciPy's `LowLevelCallable`, numba
(docs/export.md).

Every entry has a *foreign form*, made by the runtime (`src/cdict/export.rs`): a plain C function
with no `HPyContext *` and `PyObject *` where the entry has `HPy`. The methods of
`hpybridge.CFunction` (`as_ctypes`, `as_cffi`, `lowlevelcallable`, `foreign_form`, numba's
`__wrapper_address__`, `signature` and `_numba_type_`) get that form from the runtime as a tuple
`(name, signature, address, uses_python)` and call the function of the same name here, which turns
it into what each caller takes. These functions never call the runtime back (PyPy's debug mode must
not re-enter a module from Python code it called).

`uses_python`: the form enters a provider or passes objects, so it runs Python's C API. Its address
then takes the GIL itself (any thread may call it); ctypes gets a `PYFUNCTYPE` pointer, which keeps
the GIL and raises the exception the provider set.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

Foreign = tuple  # (name, signature, address, uses_python), as the runtime gives it


class _Parsed(NamedTuple):
    name: str
    signature: str
    address: int
    uses_python: bool
    ret: str
    args: tuple[str, ...]


def _parse(foreign: Foreign) -> _Parsed:
    name, signature, address, uses_python = foreign
    # A canonical spelling: "<result> (<type>, <type>, ...)", "void" alone for no parameters.
    open_at = signature.index("(")
    ret = signature[:open_at].strip()
    inner = signature[open_at + 1:signature.rindex(")")].strip()
    args = () if inner == "void" else tuple(a.strip() for a in inner.split(","))
    return _Parsed(name, signature, address, bool(uses_python), ret, args)


def _is_object(ctype: str) -> bool:
    return ctype.replace(" ", "").startswith("PyObject*")


def _split_pointer(ctype: str) -> tuple[str, int]:
    """`double **` -> ("double", 2)."""
    depth = ctype.count("*")
    return ctype.replace("*", "").strip(), depth


#: The scalar C types of canonical signatures (docs/signatures.md §2): (kind, bytes), kind "i" a
#: signed integer, "u" unsigned, "b" bool, "f" floating point. x86_64 Linux (LP64).
_SCALARS: dict[str, tuple[str, int]] = {
    "char": ("i", 1), "signed char": ("i", 1), "int8_t": ("i", 1),
    "unsigned char": ("u", 1), "uint8_t": ("u", 1),
    "short": ("i", 2), "int16_t": ("i", 2), "unsigned short": ("u", 2), "uint16_t": ("u", 2),
    "int": ("i", 4), "int32_t": ("i", 4), "unsigned int": ("u", 4), "uint32_t": ("u", 4),
    "HPy_UCS4": ("u", 4),
    "long": ("i", 8), "long long": ("i", 8), "int64_t": ("i", 8), "ssize_t": ("i", 8),
    "Py_ssize_t": ("i", 8), "HPy_ssize_t": ("i", 8), "intptr_t": ("i", 8),
    "unsigned long": ("u", 8), "unsigned long long": ("u", 8), "uint64_t": ("u", 8),
    "size_t": ("u", 8), "uintptr_t": ("u", 8),
    "bool": ("b", 1), "float": ("f", 4), "double": ("f", 8),
}


def _abi_key(ctype: str) -> str:
    """What a C type is to the machine: `long`, `intptr_t` and `npy_intp` are all "i8"."""
    base, depth = _split_pointer(ctype)
    if base in ("npy_intp",):
        base = "intptr_t"
    if base == "void":
        return "void" + "*" * depth
    if base == "PyObject":
        return "PyObject" + "*" * depth
    kind, size = _SCALARS[base]
    return "%s%d%s" % (kind, size, "*" * depth)


# ---------------------------------------------------------------------------------------------
# ctypes

def _ctypes_type(ctype: str) -> Any:
    import ctypes

    base, depth = _split_pointer(ctype)
    if depth and base == "void":
        t: Any = ctypes.c_void_p
        depth -= 1
    elif depth and base == "PyObject":
        t = ctypes.py_object
        depth -= 1
    elif depth and base == "char":
        t = ctypes.c_char_p
        depth -= 1
    elif base == "void":
        return None
    else:
        kind, size = _SCALARS[base]
        if kind == "f":
            t = ctypes.c_double if size == 8 else ctypes.c_float
        elif kind == "b":
            t = ctypes.c_bool
        else:
            t = {("i", 1): ctypes.c_int8, ("u", 1): ctypes.c_uint8, ("i", 2): ctypes.c_int16,
                 ("u", 2): ctypes.c_uint16, ("i", 4): ctypes.c_int32, ("u", 4): ctypes.c_uint32,
                 ("i", 8): ctypes.c_int64, ("u", 8): ctypes.c_uint64}[kind, size]
    for _ in range(depth):
        t = ctypes.POINTER(t)
    return t


def as_ctypes(foreign: Foreign) -> Any:
    """`entry.as_ctypes()`: a ctypes function pointer of the foreign form: `PYFUNCTYPE` when it
    runs Python's C API (it keeps the GIL and raises the provider's exception), else `CFUNCTYPE`.
    Its `restype` and `argtypes` are the form's C types (`py_object` for `PyObject *`)."""
    import ctypes

    p = _parse(foreign)
    restype = _ctypes_type(p.ret)
    argtypes = [_ctypes_type(a) for a in p.args]
    prototype = ctypes.PYFUNCTYPE if p.uses_python else ctypes.CFUNCTYPE
    return prototype(restype, *argtypes)(p.address)


# ---------------------------------------------------------------------------------------------
# cffi

#: Canonical names cffi does not know, and its spelling of them.
_CFFI_NAMES = {"Py_ssize_t": "ssize_t", "HPy_ssize_t": "ssize_t", "HPy_UCS4": "uint32_t", "bool": "_Bool"}


def _cffi_type(ctype: str) -> str:
    base, depth = _split_pointer(ctype)
    return (_CFFI_NAMES.get(base, base) + " " + "*" * depth).strip()


def cffi_type(foreign: Foreign) -> str:
    """The cffi type text of the foreign form's function pointer: `double(*)(double)`."""
    p = _parse(foreign)
    objects = [t for t in (p.ret, *p.args) if _is_object(t)]
    if objects:
        raise TypeError("%s \"%s\" cannot be exported to cffi: its ABI mode cannot pass Python objects as "
                        "PyObject * (use entry.as_ctypes(), whose py_object can)" % (p.name, p.signature))
    return "%s(*)(%s)" % (_cffi_type(p.ret), ", ".join(_cffi_type(a) for a in p.args) or "void")


def as_cffi(foreign: Foreign, ffi: Any) -> Any:
    """`entry.as_cffi(ffi)`: a cffi function pointer of `ffi` at the foreign form's address."""
    if not hasattr(ffi, "cast") or not hasattr(ffi, "typeof"):
        raise TypeError("as_cffi(ffi): expected a cffi.FFI instance, got %s" % type(ffi).__name__)
    return ffi.cast(cffi_type(foreign), _parse(foreign).address)


# ---------------------------------------------------------------------------------------------
# SciPy

#: The signatures SciPy's routines accept (the capsule name is compared with `strcmp`), as SciPy
#: spells them, in the order they are tried here: for types of one ABI (intptr_t, npy_intp, long,
#: long long on x86_64) the first spelling serves, since SciPy accepts each.
SCIPY_SIGNATURES: dict[str, tuple[str, ...]] = {
    "scipy.integrate.quad": (
        "double (double)",
        "double (double, void *)",
        "double (int, double *)",
        "double (int, double *, void *)",
    ),
    "scipy.ndimage.generic_filter": ("int (double *, intptr_t, double *, void *)",),
    "scipy.ndimage.generic_filter1d": ("int (double *, intptr_t, double *, intptr_t, void *)",),
    "scipy.ndimage.geometric_transform": ("int (intptr_t *, double *, int, int, void *)",),
}


def _key(signature: str) -> tuple[str, ...]:
    p = _parse(("", signature, 0, False))
    return (_abi_key(p.ret), *(_abi_key(a) for a in p.args))


def scipy_signature(foreign: Foreign) -> str:
    """SciPy's exact spelling of the foreign form's signature, or a `ValueError` listing what
    SciPy's routines accept."""
    p = _parse(foreign)
    if not any(_is_object(t) for t in (p.ret, *p.args)):
        key = _key(p.signature)
        for spellings in SCIPY_SIGNATURES.values():
            for spelling in spellings:
                if _key(spelling) == key:
                    return spelling
    accepted = "; ".join("%s: %s" % (routine, ", ".join('"%s"' % s for s in spellings))
                         for routine, spellings in SCIPY_SIGNATURES.items())
    raise ValueError("%s \"%s\" is not a signature SciPy accepts for a LowLevelCallable (SciPy's routines "
                     "take: %s)" % (p.name, p.signature, accepted))


def lowlevelcallable(foreign: Foreign, user_data: Any = None) -> Any:
    """`entry.lowlevelcallable(user_data=None)`: a `scipy.LowLevelCallable` of the foreign form,
    named with SciPy's spelling of its signature; `user_data` (a ctypes `c_void_p`, a cffi pointer
    or a PyCapsule) is what SciPy passes as its `void *`."""
    spelling = scipy_signature(foreign)
    if user_data is not None and not spelling.endswith("void *)"):
        raise ValueError("%s \"%s\" takes no void * user data: user_data must be None"
                         % (foreign[0], foreign[1]))
    try:
        import scipy
    except ImportError as e:
        raise ImportError("lowlevelcallable() needs SciPy, which this interpreter cannot import (%s)" % e) from e
    # SciPy takes a ctypes pointer with an explicit signature: the name it compares is ours.
    return scipy.LowLevelCallable(as_ctypes(foreign), user_data, signature=spelling)


# ---------------------------------------------------------------------------------------------
# numba

def _numba_type(ctype: str) -> Any:
    from numba.core import types

    base, depth = _split_pointer(ctype)
    if base == "void":
        if depth == 0:
            return types.void
        t: Any = types.voidptr
        depth -= 1
    else:
        kind, size = _SCALARS[base]
        if kind == "f":
            t = types.float64 if size == 8 else types.float32
        elif kind == "b":
            t = types.boolean
        else:
            t = getattr(types, "%sint%d" % ("u" if kind == "u" else "", size * 8))
    for _ in range(depth):
        t = types.CPointer(t)
    return t


def numba_signature(foreign: Foreign) -> Any:
    """`entry.signature()` (numba's Wrapper Address Protocol): the numba signature of the foreign
    form, `float64(float64)`; a `TypeError` for one that passes objects."""
    p = _parse(foreign)
    if any(_is_object(t) for t in (p.ret, *p.args)):
        raise TypeError("%s \"%s\" cannot be called from numba's nopython code: it passes Python objects as "
                        "PyObject * (use entry.as_ctypes())" % (p.name, p.signature))
    return _numba_type(p.ret)(*(_numba_type(a) for a in p.args))


def wrapper_address(foreign: Foreign) -> int:
    """`entry.__wrapper_address__()` (numba's Wrapper Address Protocol): the foreign form's address."""
    numba_signature(foreign)  # the same refusal
    return _parse(foreign).address


def numba_type(foreign: Foreign) -> Any:  # None while numba is not imported
    """`entry._numba_type_`, which numba's `typeof` asks every object for first: the entry's
    first-class function type. Importing numba's function types here registers how numba unboxes
    it (through `__wrapper_address__`), so an `@njit` function can take an entry with no other
    step; CFunction is also registered as a `WrapperAddressProtocol` then."""
    if "numba" not in sys.modules:
        # Only numba asks, once it is imported; anyone else (inspect, say) gets None, numba's "not
        # given", rather than an import of numba. (On PyPy, which has no numba, the getter always
        # gives None: its HPy turns a getter's error into None with the exception left set.)
        return None
    import numba.experimental.function_type  # noqa: F401  (unboxing of FunctionType)
    from numba.core import types

    numba_support()
    return types.FunctionType(numba_signature(foreign))


def numba_support() -> None:
    """Registers `hpybridge.CFunction` with numba's `WrapperAddressProtocol` (so that
    `isinstance(entry, WrapperAddressProtocol)` holds). Not needed to pass entries to `@njit`
    functions (`_numba_type_` does that); done when `hpybridge` is imported after numba, and on
    the first entry numba types. Idempotent; a no-op without numba."""
    if "numba" not in sys.modules:
        return
    from numba.core.types import WrapperAddressProtocol

    cfunction = sys.modules["hpybridge._runtime"].CFunction
    if not issubclass(cfunction, WrapperAddressProtocol):
        WrapperAddressProtocol.register(cfunction)


def foreign_form(foreign: Foreign) -> tuple[str, int]:
    """`entry.foreign_form()`: (signature, address) of the foreign form."""
    p = _parse(foreign)
    return p.signature, p.address


# ---------------------------------------------------------------------------------------------
# C-API consumers: HPyBridge_CDictLookup_CAPI (include/hpybridge_capi.h)

def cdict_lookup_capi(obj: Any, name: str, signature: str) -> int | None:
    """What `HPyBridge_CDictLookup_CAPI(obj, name, signature)` calls: the address of the foreign
    form of `obj`'s entry `name` whose CPython-API form is `signature` (a module's API entries
    too), or None if `obj` has none (no `__cdict__`, no such name or form). `SignatureSyntaxError`
    for a malformed signature, `TypeError` for an HPy one. Lookup order as `HPyBridge_CDictLookup`: the object's
    own `__cdict__`, then its type's (Python's attribute lookup)."""
    import hpybridge
    from hpybridge.cdict import ModuleCDict, ObjectCDict
    from hpybridge.errors import NoFallbackError

    wanted = hpybridge.parse_signature(signature)
    try:
        form = hpybridge.fallback_signature(wanted)
    except NoFallbackError as e:
        form = None
        why = str(e)
    if form != wanted:
        raise TypeError("HPyBridge_CDictLookup_CAPI(): \"%s\" is not a CPython-API signature (%s)"
                        % (wanted, "its CPython-API form is \"%s\"" % form if form else why))
    try:
        cdict = obj.__cdict__
    except AttributeError:
        return None
    if not isinstance(cdict, (ObjectCDict, ModuleCDict)) or name not in cdict:
        return None
    entry = cdict[name]
    # The entry's own foreign form first: a module entry's is the CPython-API stub made when its API
    # was exported (docs/fallback-stubs.md), the one `import_<api>_capi()` hands out.
    try:
        form, address = entry.foreign_form()
        if hpybridge.parse_signature(form) == wanted:
            return address
    except NoFallbackError:
        pass
    for implementation in entry.signatures:
        try:
            if hpybridge.fallback_signature(implementation) != wanted:
                continue
        except NoFallbackError:
            continue
        return entry.select(implementation).foreign_form()[1]
    return None
