//! The *foreign form* of a `CFunction` (docs/export.md): a plain C function pointer that ctypes,
//! cffi, SciPy, numba or any C code can call, with no `HPyContext *` and `PyObject *` where the entry
//! has `HPy`.
//!
//! Which implementation serves, first that applies:
//! - one whose signature has no context and no handle: the function itself (its signature's
//!   CPython-API spelling: `HPy_ssize_t` is `Py_ssize_t`), or for an adopted function whose
//!   trailing arguments the runtime fills in, a binding stub of its visible signature. A module entry taking a context has one:
//!   its CPython-API stub (docs/fallback-stubs.md), which enters the provider's context itself;
//! - otherwise the first that takes a context (a type's or an object's entry, which has no stub of
//!   its own): a CPython-API stub made here on demand by `FallbackStubs` over a one-slot API, once
//!   per implementation, kept for the life of the process;
//! - none: the entry cannot be exported (`NoFallbackError` naming why).
//!
//! A form that enters a provider (a stub) or passes objects runs Python's C API, which needs the
//! GIL, but foreign callers do not all hold it (cffi and ctypes' `CFUNCTYPE` release it around the
//! call; C code may run on any thread): the address given out is then a wrapper that takes the GIL
//! (`PyGILState_Ensure`, which is cheap and re-entrant for a thread that already holds it) around
//! the call. A plain C function without a context is given out as it is.
//!
//! Everything given out lives as long as the process: implementations are never freed
//! (`entries::IMPLEMENTATIONS`), nor are the stubs and wrappers made here.

use crate::cdict::function::CFunction;
use crate::cdict::implementation::{Implementation, FLAG_CAPI};
use crate::crossing::fallback::FallbackStubs;
use crate::crossing::plan::trampolines;
use crate::hpy::error::{Error, Exception, PyError, Result};
use crate::hpy::host::{self, Gil};
use capsules::fallback::fallback;
use capsules::signature::{CType, Pointee, Signature};
use capsules::wire::{ApiDecl, SlotDecl};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use trampolines::Call;

/// What a foreign caller calls.
#[derive(Clone)]
pub struct Foreign {
    /// Its C signature (canonical spelling): no context, `PyObject *` for objects.
    pub signature: Signature,
    pub address: *const c_void,
    /// It runs Python's C API (enters a provider, or passes objects): callers that can should hold
    /// the GIL and check for an exception (ctypes' `PYFUNCTYPE`); `address` takes it if they do not.
    pub uses_python: bool,
}

// SAFETY: process-lifetime code; nothing here is tied to a thread.
unsafe impl Send for Foreign {}

/// Per implementation index: its foreign form, once made (stubs and wrappers are made once).
static MADE: Mutex<Option<HashMap<usize, Foreign>>> = Mutex::new(None);
/// Stubs made on demand, kept for the life of the process (their plans are the stubs' data).
static STUBS: Mutex<Vec<FallbackStubs>> = Mutex::new(Vec::new());

/// The foreign form of `f`: see the module docs.
pub fn foreign_form(f: &CFunction) -> Result<Foreign> {
    let direct = f.implementations.iter().find_map(|(index, imp)| direct_form(imp).map(|sig| (*index, imp, sig)));
    let mut why = Vec::new();
    let (index, made) = match direct {
        Some((index, imp, signature)) => {
            if let Some(made) = made(index) {
                return Ok(made);
            }
            // A CPython-API implementation may be a stub that enters a provider (it is when its HPy
            // sibling takes a context, which `select` may have left out): treated as one.
            let entered = imp.flags & FLAG_CAPI != 0;
            (index, with_gil_if_needed(unbound(imp)?, signature, entered)?)
        }
        None => {
            let Some((index, imp)) =
                f.implementations.iter().find(|(_, imp)| imp.signature.takes_context() && imp.family.is_some())
            else {
                for (_, imp) in f.implementations.iter() {
                    why.push(match fallback(&imp.signature) {
                        Err(e) => e.to_string(),
                        Ok(_) => format!("\"{}\" has no context family to enter", imp.signature),
                    });
                }
                return Err(refused(f, &why));
            };
            if let Some(made) = made(*index) {
                return Ok(made);
            }
            let (signature, stub) = on_demand_stub(f, imp)?;
            (*index, with_gil_if_needed(stub, signature, true)?)
        }
    };
    // Two threads may both have made one: the first kept is everyone's answer (the other stays
    // unused, alive like every stub).
    Ok(MADE.lock().get_or_insert_with(HashMap::new).entry(index).or_insert(made).clone())
}

/// The foreign form made earlier for implementation `index`.
fn made(index: usize) -> Option<Foreign> {
    MADE.lock().as_ref().and_then(|m| m.get(&index).cloned())
}

fn refused(f: &CFunction, why: &[String]) -> Error {
    Error::new(
        PyError::NoFallbackError,
        format!(
            "{} cannot be exported to foreign callers: none of its implementations has a form without \
             HPyContext * and HPy ({})",
            f.name,
            why.join("; ")
        ),
    )
}

/// The signature foreign callers call `imp` with as it is, if they can: no context, no handle.
fn direct_form(imp: &Implementation) -> Option<Signature> {
    if imp.signature.takes_context() {
        return None;
    }
    fallback(&imp.signature).ok()
}

/// `imp`'s function, or for an adopted one whose runtime fills in trailing arguments (a Cython
/// cpdef's `__pyx_skip_dispatch`, a LowLevelCallable's `user_data`), a binding stub of its visible
/// signature that passes them (`Trampolines::bind_last`).
fn unbound(imp: &Implementation) -> Result<*const c_void> {
    if imp.bound().is_empty() {
        return Ok(imp.function);
    }
    trampolines()?.bind_last(&imp.full_signature, imp.function, imp.bound()).map_err(|e| {
        Error::new(Exception::RuntimeError, format!("cannot make a binding stub for \"{}\": {e}", imp.full_signature))
    })
}

/// A CPython-API stub of `imp`, which takes a context, made over a one-slot API.
fn on_demand_stub(f: &CFunction, imp: &Implementation) -> Result<(Signature, *const c_void)> {
    let family = imp.family.as_ref().expect("chosen for having a family");
    let slot = SlotDecl { name: f.name.clone(), signature: imp.signature.clone(), function: imp.function.cast_mut() };
    let decl = ApiDecl { name: f.name.clone(), major: 1, minor: 0, slots: vec![slot] };
    // SAFETY: `home()` is the provider's home context, live for the process and valid for calls
    // unless the provider runs in CPython's debug mode, which `FallbackStubs` enters on each call.
    let stubs = unsafe { FallbackStubs::new(&decl, family, imp.home())? };
    if let Some(why) = &stubs.missing[0] {
        return Err(refused(f, std::slice::from_ref(why)));
    }
    let made = (stubs.decl.slots[0].signature.clone(), stubs.functions[0]);
    STUBS.lock().push(stubs);
    Ok(made)
}

/// `function` of `signature` for foreign callers: wrapped to take the GIL when it runs Python's C
/// API (`entered`: it enters a provider; or it passes objects).
fn with_gil_if_needed(function: *const c_void, signature: Signature, entered: bool) -> Result<Foreign> {
    let object = |t: &CType| matches!(t, CType::Pointer { target: Pointee::PyObject, .. });
    let objects = object(&signature.ret) || signature.args.iter().any(object);
    let uses_python = entered || objects;
    let address = if uses_python {
        gil()?;
        trampolines()?.intercept(&signature, on_call_with_gil, function).map_err(|e| {
            Error::new(Exception::RuntimeError, format!("cannot make a GIL-taking stub for \"{signature}\": {e}"))
        })?
    } else {
        function
    };
    Ok(Foreign { signature, address, uses_python })
}

fn gil() -> Result<&'static Gil> {
    host::gil().ok_or_else(|| {
        Error::new(Exception::RuntimeError, "this interpreter has no PyGILState_Ensure: entries cannot be exported")
    })
}

/// The handler of a GIL-taking wrapper; `data` is the function it wraps, of the call's signature.
///
/// # Safety
/// Called by the wrapper only, on any thread, with or without the GIL.
unsafe fn on_call_with_gil(call: &mut dyn Call, data: *const c_void) {
    let gil = host::gil().expect("found before the wrapper was made");
    let done = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the interpreter is initialised (the runtime is loaded in it); `data` has this
        // call's signature.
        unsafe { gil.with(|| call.invoke(data)) }
    }));
    if done.is_err() {
        eprintln!("hpybridge: internal error in an exported entry's call; aborting");
        std::process::abort();
    }
}
