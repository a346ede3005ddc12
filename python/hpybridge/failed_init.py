"""Keeping CPython healthy when an HPy module's initialisation fails.

The hazard (hpy.universal 0.9, `do_load` in `hpy/universal/src/hpymodule.c`): when a module's exec
slot fails, the loader's error path runs `Py_XDECREF(py_mod); PyMem_Free(pydef);`. The module
usually survives the decref, because its functions' `__self__` point back at it (a reference
cycle), so from then on a live module's `md_def` points at freed memory. CPython reads `md_def` in
`module_traverse` (every garbage collection that reaches the module), `module_clear` and
`module_dealloc`. Whether that crashes depends on what the allocator did with the block: it passed
by luck on one machine and segfaulted every time on another, and always under
`PYTHONMALLOC=debug`, which fills freed memory with a pattern.

The remedy, in two steps that together leave no moment at which freed memory is read:
1. Automatic garbage collection is off while the loader runs (`gc.disable()`, restored after), so
   no collection can reach the module between the `PyMem_Free` and step 2. (An explicit
   `gc.collect()` from another thread in those few microseconds is the one thing it cannot stop.)
2. Right after a failed load, the half-built module is found and its `md_def` set to NULL. HPy
   builds that `PyModuleDef` with no `m_traverse`, `m_clear` or `m_free` (`hpy/devel/src/runtime/
   ctx_module.c`, `_HPyModuleDef_CreatePyModuleDef`) and no module state (HPy 0.9 refuses a size
   above 0), so a NULL definition loses nothing: CPython then skips the definition, and the cycle
   is collected like any other garbage.

Finding the module exactly: the loader is handed a `ModuleSpec` whose `name` is a string object
made for this load alone; `PyModule_FromDefAndSpec` stores that very object as the module's
`md_name`. The failed module is the one module object whose `md_name` is that object.
`gc.get_objects()` lists objects without traversing them, so the search itself reads no `md_def`.

PyPy's loader keeps no such definition: nothing to do there.
"""

import gc
import sys
import types

_IS_CPYTHON = sys.implementation.name == "cpython"


class _OwnName(str):
    """A str that is an object of its own even where CPython shares one (one-character strings)."""


def fresh_name(name):
    """A str equal to `name` that no other code holds (a new object, never a shared one)."""
    return name.encode("utf-8").decode("utf-8") if len(name) > 1 else _OwnName(name)


def load_guarded(load, spec_name):
    """`load()` with automatic garbage collection off; if it raises, the module it left half built
    (the one whose `md_name` is `spec_name`) no longer points at its freed definition."""
    if not _IS_CPYTHON:
        return load()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return load()
    except BaseException:
        _forget_definition(spec_name)
        raise
    finally:
        if was_enabled:
            gc.enable()


class _ModuleLayout:
    """Byte offsets of `PyModuleObject`'s fields (CPython 3.9 to 3.13: `md_dict`, `md_def`,
    `md_state`, `md_weaklist`, `md_name` after the object header), checked on a live module
    before anything is written."""

    def __init__(self):
        import ctypes

        self.ctypes = ctypes
        word = ctypes.sizeof(ctypes.c_void_p)
        header = object.__basicsize__
        self.md_dict, self.md_def, self.md_name = header, header + word, header + 4 * word
        probe_name = fresh_name("hpybridge_layout_probe")
        probe = types.ModuleType(probe_name)
        self.valid = (
            types.ModuleType.__basicsize__ == header + 5 * word
            and self.read(probe, self.md_dict) == id(probe.__dict__)
            and self.read(probe, self.md_name) == id(probe_name)
            and self.read(probe, self.md_def) is None  # a module made in Python has no definition
        )

    def read(self, module, offset):
        return self.ctypes.c_void_p.from_address(id(module) + offset).value


_layout = None


def _forget_definition(spec_name):
    global _layout
    if _layout is None:
        _layout = _ModuleLayout()
    if not _layout.valid:
        import warnings

        warnings.warn("hpybridge: this CPython's module layout is not the one expected; a failed HPy module "
                      "keeps a dangling definition pointer", RuntimeWarning, stacklevel=3)
        return
    for obj in gc.get_objects():
        if isinstance(obj, types.ModuleType) and _layout.read(obj, _layout.md_name) == id(spec_name):
            _layout.ctypes.c_void_p.from_address(id(obj) + _layout.md_def).value = None
